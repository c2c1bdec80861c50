//! This process's boot: an id, and a lock held for as long as the process lives that the
//! operating system or the database releases when it dies, `kill -9` included (SQLite: an
//! exclusive lock on a file beside the database; PostgreSQL: a session advisory lock). Another
//! process sharing the database asks whether a boot is alive before it takes over what that boot
//! claimed. Within this process, which claims a request is still working on is known exactly.

use crate::{Backend, Result, Store, StoreError};
use sqlx::Connection;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How often the connection holding the advisory lock is checked (and re-made when it broke).
const PG_LOCK_CHECK: Duration = Duration::from_secs(5);
/// Most boot files looked at when a process starts (each one of a process that is gone is removed).
const SWEEP_LIMIT: usize = 1000;

pub(crate) struct Boot {
    pub(crate) id: String,
    held: Held,
    /// Tokens of the idempotency claims that requests of this process are working on.
    claims: Mutex<HashSet<String>>,
}

enum Held {
    /// The directory of boot files and this boot's own, locked while the process lives.
    Files { dir: PathBuf, _file: std::fs::File },
    /// The task whose connection holds the advisory lock.
    Postgres(tokio::task::JoinHandle<()>),
    /// An in-memory SQLite database, which no other process can see.
    Alone,
}

impl Boot {
    /// Takes this boot's lock before anything can be claimed in its name.
    pub(crate) async fn start(backend: Backend, url: &str) -> Result<Arc<Boot>> {
        let n = rand::random::<u64>();
        let id = format!("{n:016x}");
        let held = match backend {
            Backend::Sqlite => match sqlite_path(url) {
                Some(db) => {
                    let dir = PathBuf::from(format!("{}-boots", db.display()));
                    std::fs::create_dir_all(&dir)?;
                    sweep(&dir);
                    // Locked under a name no sweep looks at, then renamed into place: a process
                    // sweeping at the same moment never finds it unlocked.
                    let pending = dir.join(format!(".{id}"));
                    let file = std::fs::File::create(&pending)?;
                    file.try_lock()
                        .map_err(|e| StoreError::Unavailable(format!("locking this process's boot file: {e}")))?;
                    std::fs::rename(&pending, dir.join(&id))?;
                    Held::Files { dir, _file: file }
                }
                None => Held::Alone,
            },
            Backend::Postgres => Held::Postgres(hold_advisory_lock(url.to_string(), n as i64).await?),
        };
        Ok(Arc::new(Boot { id, held, claims: Mutex::default() }))
    }

    pub(crate) fn hold_claim(&self, token: &str) {
        self.claims.lock().unwrap_or_else(|p| p.into_inner()).insert(token.to_string());
    }

    pub(crate) fn drop_claim(&self, token: &str) {
        self.claims.lock().unwrap_or_else(|p| p.into_inner()).remove(token);
    }

    fn holds_claim(&self, token: &str) -> bool {
        self.claims.lock().unwrap_or_else(|p| p.into_inner()).contains(token)
    }

    /// Lets the lock go (a process that stops cleanly).
    pub(crate) fn end(&self) {
        match &self.held {
            Held::Files { dir, .. } => {
                let _ = std::fs::remove_file(dir.join(&self.id));
            }
            Held::Postgres(task) => task.abort(),
            Held::Alone => {}
        }
    }
}

impl Drop for Boot {
    fn drop(&mut self) {
        self.end();
    }
}

impl Store {
    /// This process's boot id, which its idempotency claims carry.
    pub fn boot_id(&self) -> &str {
        &self.boot.id
    }

    /// Whether the claim `token` of `boot` still belongs to a request that runs: in this process,
    /// one that holds it now; in another, one whose process is alive (the claim may outlive its
    /// request there only until that process's own release, which is prompt).
    pub async fn claim_alive(&self, boot: &str, token: &str) -> Result<bool> {
        if boot == self.boot.id {
            return Ok(self.boot.holds_claim(token));
        }
        match &self.boot.held {
            Held::Alone => Ok(false),
            Held::Files { dir, .. } => {
                // Ids are ours (16 hex digits); anything else names no file of a live process.
                if boot.len() != 16 || !boot.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Ok(false);
                }
                Ok(locked_by_another(&dir.join(boot)))
            }
            Held::Postgres(_) => {
                let Ok(n) = u64::from_str_radix(boot, 16) else { return Ok(false) };
                let (high, low) = ((n >> 32) as i64, (n & 0xffff_ffff) as i64);
                let mut conn = self.reader().await?;
                let held: (i64,) = sqlx::query_as(
                    "SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1 \
                     AND classid::bigint = $1 AND objid::bigint = $2 \
                     AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
                )
                .bind(high)
                .bind(low)
                .fetch_one(&mut *conn)
                .await?;
                Ok(held.0 > 0)
            }
        }
    }
}

/// The file of an `sqlite:` URL, unless the database lives in memory.
fn sqlite_path(url: &str) -> Option<PathBuf> {
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    if path.is_empty() || path == ":memory:" || query.contains("mode=memory") {
        return None;
    }
    Some(PathBuf::from(path))
}

/// True while another process holds `path`'s lock. The file of a process that is gone is
/// removed; a file that cannot be looked at counts as held (never take over on a guess).
fn locked_by_another(path: &Path) -> bool {
    let file = match std::fs::OpenOptions::new().read(true).write(true).open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return false,
        Err(_) => return true,
    };
    match file.try_lock() {
        Ok(()) => {
            let _ = std::fs::remove_file(path);
            false
        }
        Err(std::fs::TryLockError::WouldBlock) => true,
        Err(std::fs::TryLockError::Error(_)) => true,
    }
}

/// Removes the boot files of processes that are gone.
fn sweep(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten().take(SWEEP_LIMIT) {
        // Only boot files (a file being locked has a dot before its name).
        let name = entry.file_name();
        if name.len() == 16 && name.to_string_lossy().bytes().all(|b| b.is_ascii_hexdigit()) {
            locked_by_another(&entry.path());
        }
    }
}

/// Holds the advisory lock `key` on a connection of its own for as long as the task runs,
/// making the connection again if it breaks. Answers once the lock is first held.
async fn hold_advisory_lock(url: String, key: i64) -> Result<tokio::task::JoinHandle<()>> {
    let mut conn = lock_connection(&url, key).await?;
    Ok(tokio::spawn(async move {
        loop {
            tokio::time::sleep(PG_LOCK_CHECK).await;
            if conn.ping().await.is_ok() {
                continue;
            }
            tracing::warn!("the connection holding this process's boot lock broke; making it again");
            // Meanwhile another process may take this one for dead and take over its claims;
            // finishing a claim is guarded on its token, so that costs a retry, never a double.
            loop {
                match lock_connection(&url, key).await {
                    Ok(c) => {
                        conn = c;
                        break;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "could not take the boot lock again; retrying");
                        tokio::time::sleep(PG_LOCK_CHECK).await;
                    }
                }
            }
        }
    }))
}

async fn lock_connection(url: &str, key: i64) -> Result<sqlx::PgConnection> {
    let mut conn = sqlx::PgConnection::connect(url).await?;
    sqlx::query("SELECT pg_advisory_lock($1)").bind(key).execute(&mut conn).await?;
    Ok(conn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls_name_their_file() {
        assert_eq!(sqlite_path("sqlite:///tmp/x/souk.db?mode=rwc"), Some(PathBuf::from("/tmp/x/souk.db")));
        assert_eq!(sqlite_path("sqlite:data/souk.db"), Some(PathBuf::from("data/souk.db")));
        assert_eq!(sqlite_path("sqlite::memory:"), None);
        assert_eq!(sqlite_path("sqlite://shared?mode=memory&cache=shared"), None);
        assert_eq!(sqlite_path("postgres://x"), None);
    }

    #[test]
    fn a_boot_file_is_locked_while_its_holder_lives() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("0123456789abcdef");
        let file = std::fs::File::create(&path).unwrap();
        file.try_lock().unwrap();
        assert!(locked_by_another(&path));
        drop(file);
        assert!(!locked_by_another(&path));
        assert!(!path.exists(), "the file of a process that is gone is removed");
        assert!(!locked_by_another(&path));
    }
}
