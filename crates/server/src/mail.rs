//! Outgoing email. The default sender writes each message as a file under the data directory
//! (and logs it), which is what development and tests need; an SMTP sender can implement the
//! same trait.

use std::io;
use std::path::PathBuf;

pub trait Mailer: Send + Sync {
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
