//! Notification email: owed in the event's transaction, sent through SMTP to a local relay that
//! refuses on purpose (retried), or written as files by default; and the dispute reminder.

use crate::orders::{market, order_action, ship};
use crate::{on_both_backends, Srv};
use reqwest::{Method, StatusCode};
use serde_json::json;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

const DAY: i64 = 86_400_000;

/// A minimal SMTP relay: accepts every message but the first `refuse` (451 at MAIL FROM), and
/// keeps each accepted one as its raw text.
struct Relay {
    refuse: AtomicUsize,
    messages: Mutex<Vec<String>>,
}

impl Relay {
    async fn start(refuse: usize) -> (Arc<Relay>, u16) {
        let relay = Arc::new(Relay { refuse: AtomicUsize::new(refuse), messages: Mutex::new(Vec::new()) });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let shared = relay.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                tokio::spawn(session(shared.clone(), socket));
            }
        });
        (relay, port)
    }

    fn to(&self, address: &str) -> Vec<String> {
        let header = format!("To: {address}");
        self.messages.lock().unwrap().iter().filter(|m| m.contains(&header)).cloned().collect()
    }
}

async fn session(relay: Arc<Relay>, socket: tokio::net::TcpStream) {
    let (read, mut write) = socket.into_split();
    let mut lines = BufReader::new(read).lines();
    write.write_all(b"220 relay.test ESMTP\r\n").await.unwrap();
    while let Ok(Some(line)) = lines.next_line().await {
        let verb = line.split_whitespace().next().unwrap_or("").to_ascii_uppercase();
        let reply: &[u8] = match verb.as_str() {
            "EHLO" | "HELO" => b"250 relay.test\r\n",
            "MAIL" if relay.refuse.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok() => {
                b"451 4.3.0 try again later\r\n"
            }
            "DATA" => {
                write.write_all(b"354 go ahead\r\n").await.unwrap();
                let mut message = String::new();
                while let Ok(Some(l)) = lines.next_line().await {
                    if l == "." {
                        break;
                    }
                    message.push_str(&l);
                    message.push('\n');
                }
                relay.messages.lock().unwrap().push(message);
                b"250 2.0.0 queued\r\n"
            }
            "QUIT" => {
                let _ = write.write_all(b"221 bye\r\n").await;
                return;
            }
            _ => b"250 OK\r\n",
        };
        write.write_all(reply).await.unwrap();
    }
}

mod through_smtp {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        super::through_smtp(souk_store::testing::TestBackend::Sqlite).await
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        super::through_smtp(souk_store::testing::TestBackend::Postgres).await
    }
}

async fn through_smtp(backend: souk_store::testing::TestBackend) {
    let (relay, port) = Relay::start(1).await;
    let Some(srv) = Srv::start_with(backend, |c| {
        c.smtp_url = Some(format!("smtp://127.0.0.1:{port}"));
        c.mail_from = "Souk <no-reply@souk.test>".into();
    })
    .await
    else {
        return;
    };
    let (seller, buyer, sku) = market(&srv, 10).await;
    let co = crate::orders::checkout(&srv, &buyer, &sku, 1, "mail-a").await;
    let a = co.body["orders"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(srv.app.send_notification_emails().await.unwrap(), 0, "a new order is no email");
    assert_eq!(order_action(&srv, &buyer, &a, "pay").await.status, StatusCode::OK);

    // Two owed (buyer and seller); the relay refuses the first, which is tried again later.
    assert_eq!(srv.app.send_notification_emails().await.unwrap(), 1);
    assert_eq!(srv.app.send_notification_emails().await.unwrap(), 0, "not due yet");
    srv.clock.advance_ms(61_000);
    assert_eq!(srv.app.send_notification_emails().await.unwrap(), 1);
    let to_seller = relay.to("seller@example.com");
    assert_eq!(to_seller.len(), 1, "{:?}", relay.messages.lock().unwrap());
    assert!(to_seller[0].contains("Subject: Payment secured: ship within 72 hours"), "{}", to_seller[0]);
    assert!(to_seller[0].contains("From: Souk <no-reply@souk.test>") && to_seller[0].contains(&a));
    assert!(relay.to("buyer@example.com")[0].contains("held in escrow"));

    // A dispute: the seller is told, and reminded a day before their time to answer is up,
    // unless they answered.
    assert_eq!(ship(&srv, &seller, &a, "other", "MAIL-1").await.status, StatusCode::OK);
    let b = crate::orders::paid_order(&srv, &buyer, &sku, "mail-b").await;
    assert_eq!(ship(&srv, &seller, &b, "other", "MAIL-2").await.status, StatusCode::OK);
    let mut disputes = Vec::new();
    for order in [&a, &b] {
        let body = json!({"reason": "damaged", "description": "The lid is cracked"});
        let r =
            srv.call(Method::POST, &format!("/api/v1/orders/{order}/disputes"), Some(&buyer), Some(body), None).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        disputes.push(r.body["id"].as_str().unwrap().to_string());
    }
    let offer = json!({"action": "partial_refund", "amount": 100});
    let answered = srv
        .call(Method::POST, &format!("/api/v1/disputes/{}/answer", disputes[1]), Some(&seller), Some(offer), None)
        .await;
    assert_eq!(answered.status, StatusCode::OK, "{}", answered.body);
    srv.clock.advance_ms(2 * DAY + 1_000);
    srv.app.run_due_jobs().await.unwrap();
    let seen = srv.get("/api/v1/notifications", Some(&seller)).await.body;
    let reminders: Vec<&serde_json::Value> =
        seen["items"].as_array().unwrap().iter().filter(|n| n["type"] == "dispute.response_reminder").collect();
    assert_eq!(reminders.len(), 1, "only the unanswered dispute: {seen}");
    assert_eq!(reminders[0]["order_id"], a.as_str());
    assert_eq!(reminders[0]["text"], "Reminder: answer the dispute within 24 hours, or the buyer is refunded");
    srv.app.send_notification_emails().await.unwrap();
    let mails = relay.to("seller@example.com");
    assert!(mails.iter().any(|m| m.contains("A dispute was opened: answer within 3 days")), "{mails:?}");
    assert!(mails.iter().any(|m| m.contains("Reminder: answer the dispute")), "{mails:?}");
    assert_eq!(srv.app.send_notification_emails().await.unwrap(), 0, "each is sent once");
}

on_both_backends!(without_smtp_mail_is_written_to_files);

async fn without_smtp_mail_is_written_to_files(srv: Srv) {
    let (_, buyer, sku) = market(&srv, 10).await;
    crate::orders::paid_order(&srv, &buyer, &sku, "file-mail").await;
    assert_eq!(srv.app.send_notification_emails().await.unwrap(), 2);
    let mut texts = Vec::new();
    for entry in std::fs::read_dir(srv.data_dir.join("mail")).unwrap() {
        texts.push(std::fs::read_to_string(entry.unwrap().path()).unwrap());
    }
    assert!(texts.iter().any(|t| t.starts_with("To: seller@example.com\nSubject: Payment secured")), "{texts:?}");
    assert_eq!(texts.len(), 2);

    // Email about old news (a seeded past, a sender down for days) is dropped, not sent late.
    let old = crate::orders::paid_order(&srv, &buyer, &sku, "old-mail").await;
    srv.clock.advance_ms(3 * 86_400_000 + 1_000);
    assert_eq!(srv.app.send_notification_emails().await.unwrap(), 0, "{old}");
    assert_eq!(std::fs::read_dir(srv.data_dir.join("mail")).unwrap().count(), 2);
}
