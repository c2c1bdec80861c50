//! Outgoing email through a pluggable sender: SMTP (`--smtp-url`) in production, or by default
//! a file per message under the data directory (and a log line), which is what development and
//! tests need. Notification email is owed in the database (`store::email`, filled by a trigger
//! on the outbox) and sent here, at least once, retried on the webhooks' schedule.

use crate::App;
use lettre::message::{header::ContentType, Mailbox};
use lettre::{Message, SmtpTransport, Transport};
use souk_store::email::DueEmail;
use souk_store::StoreError;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;

pub trait Mailer: Send + Sync {
    /// Sends one plain-text message. Blocking: call it off the async runtime.
    fn send(&self, to: &str, subject: &str, body: &str) -> io::Result<()>;
}

pub struct FileMailer {
    dir: PathBuf,
}

impl FileMailer {
    pub fn new(dir: PathBuf) -> Self {
        Self { dir }
    }
}

impl Mailer for FileMailer {
    fn send(&self, to: &str, subject: &str, body: &str) -> io::Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        let safe_to: String =
            to.chars().map(|c| if c.is_ascii_alphanumeric() || c == '@' || c == '.' { c } else { '_' }).collect();
        let name = format!(
            "{}-{}.eml",
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos(),
            safe_to
        );
        std::fs::write(self.dir.join(&name), format!("To: {to}\nSubject: {subject}\n\n{body}\n"))?;
        tracing::info!(to, subject, file = %name, "mail written");
        Ok(())
    }
}

/// Sends through an SMTP relay: `smtps://user:pass@host` (TLS), `smtp://host?tls=required`
/// (STARTTLS) or `smtp://host` (plain, for a relay on the same machine).
pub struct SmtpMailer {
    transport: SmtpTransport,
    from: Mailbox,
}

impl SmtpMailer {
    pub fn new(url: &str, from: &str) -> Result<SmtpMailer, String> {
        let transport = SmtpTransport::from_url(url).map_err(|e| format!("smtp_url: {e}"))?.build();
        let from = from.parse().map_err(|e| format!("mail_from '{from}': {e}"))?;
        Ok(SmtpMailer { transport, from })
    }
}

impl Mailer for SmtpMailer {
    fn send(&self, to: &str, subject: &str, body: &str) -> io::Result<()> {
        let to: Mailbox = to.parse().map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, format!("{e}")))?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .header(ContentType::TEXT_PLAIN)
            .body(body.to_string())
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?;
        self.transport.send(&message).map(|_| ()).map_err(|e| io::Error::other(e.to_string()))
    }
}

/// The sender the configuration asks for.
pub fn mailer(config: &crate::Config) -> Result<Arc<dyn Mailer>, String> {
    Ok(match &config.smtp_url {
        Some(url) => Arc::new(SmtpMailer::new(url, &config.mail_from)?),
        None => Arc::new(FileMailer::new(config.data_dir.join("mail"))),
    })
}

/// Emails taken per round.
const BATCH: usize = 50;
/// How long a claimed email is left to its sender before another round may send it.
const LEASE_MS: i64 = 120_000;

pub async fn deliver_forever(app: App) {
    app.send_forever("notification email", |app| async move { app.send_notification_emails().await }).await
}

impl App {
    /// Sends `message` off the async runtime (SMTP blocks).
    pub async fn send_mail(&self, to: &str, subject: &str, body: &str) -> io::Result<()> {
        let (mailer, to, subject, body) = (self.mailer.clone(), to.to_string(), subject.to_string(), body.to_string());
        tokio::task::spawn_blocking(move || mailer.send(&to, &subject, &body))
            .await
            .unwrap_or_else(|e| Err(io::Error::other(e.to_string())))
    }

    /// Sends every notification email that is due; returns how many went out.
    pub async fn send_notification_emails(&self) -> Result<usize, StoreError> {
        let mut sent = 0;
        loop {
            let now = self.store.now_ms();
            let due = self.store.due_emails(now, BATCH).await?;
            // Nothing due, no write: a stale email is pending and falls due at the latest
            // at its next attempt, and is dropped then.
            if due.is_empty() {
                return Ok(sent);
            }
            let mut tx = self.store.begin().await?;
            // Dropped rows are no longer pending, so their claims below fail.
            tx.drop_stale_emails(now).await?;
            let ids = tx.claim_emails(&due, now + LEASE_MS).await?;
            tx.commit().await?;
            let claimed: Vec<&DueEmail> = due.iter().filter(|d| ids.contains(&d.id)).collect();
            if claimed.is_empty() {
                return Ok(sent);
            }
            let mut outcomes = Vec::with_capacity(claimed.len());
            for d in &claimed {
                let (subject, body) = compose(d, &self.config.policy);
                outcomes.push(self.send_mail(&d.to, &subject, &body).await.err().map(|e| e.to_string()));
            }
            // One statement records the whole batch: a commit each would hold the database's
            // one writer (SQLite) once per email, in front of the buyers.
            let sends: Vec<(&DueEmail, Option<&str>)> =
                claimed.iter().zip(&outcomes).map(|(d, e)| (*d, e.as_deref())).collect();
            let mut tx = self.store.begin().await?;
            let recorded = tx.record_emails(&sends).await?;
            tx.commit().await?;
            for (id, state) in recorded {
                if state == "sent" {
                    sent += 1;
                } else if let Some((d, error)) = sends.iter().find(|(d, _)| d.id == id) {
                    tracing::warn!(email = d.id, state, error = error.unwrap_or(""), "notification email not sent");
                }
            }
            // A batch a round while flash-sale buys come in (see `App::yield_to_flash`).
            if due.len() < BATCH || self.flash_busy() {
                return Ok(sent);
            }
        }
    }
}

/// The subject and body of a notification email, in the recipient's language: the
/// notification's sentence, and what it is about.
pub fn compose(d: &DueEmail, policy: &souk_domain::order::Policy) -> (String, String) {
    let zh = d.locale.as_deref() == Some("zh");
    let sentence = souk_domain::notify::template(&d.kind, d.side, policy)
        .map(|(t, n)| souk_domain::notify::in_language(t, zh).replace("{n}", &n.to_string()))
        .unwrap_or_else(|| d.kind.clone());
    let subject = match &d.order_id {
        Some(order) => format!("{sentence} ({order})"),
        None => sentence.clone(),
    };
    let body = if zh {
        let about = d.order_id.as_deref().map(|o| format!("\n订单：{o}\n")).unwrap_or_default();
        format!(
            "{}，您好：\n\n{sentence}。\n{about}\n请在 Souk 的通知中查看详情。\n\n-- \n您收到此邮件，是因为您的 Souk 账户有新动态。\n",
            d.name
        )
    } else {
        let about = d.order_id.as_deref().map(|o| format!("\nOrder: {o}\n")).unwrap_or_default();
        format!(
            "Hello {},\n\n{sentence}.\n{about}\nSee it in your notifications on Souk.\n\n-- \nYou receive this email because of \
             activity on your Souk account.\n",
            d.name
        )
    };
    (subject, body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use souk_domain::notify::Side;

    /// Notification email speaks the language its recipient chose.
    #[test]
    fn email_is_written_in_the_recipients_language() {
        let policy = souk_domain::order::Policy::default();
        let mut due = DueEmail {
            id: 1,
            to: "lin@example.com".into(),
            name: "Lin Mei".into(),
            kind: "order.paid".into(),
            order_id: Some("ord_1".into()),
            side: Side::Seller,
            attempts: 0,
            window_start: 0,
            next_attempt_at: 0,
            locale: None,
        };
        let (subject, body) = compose(&due, &policy);
        assert_eq!(subject, "Payment secured: ship within 72 hours (ord_1)");
        assert!(body.starts_with("Hello Lin Mei,") && body.contains("Order: ord_1"), "{body}");
        due.locale = Some("zh".into());
        let (subject, body) = compose(&due, &policy);
        assert_eq!(subject, "货款已托管：请在 72 小时内发货 (ord_1)");
        assert!(body.starts_with("Lin Mei，您好") && body.contains("订单：ord_1"), "{body}");
    }
}
