//! Online backups of the embedded database. PostgreSQL has its own tools (`pg_dump`), which the
//! operator documentation (`docs/operating.md`) describes.

use crate::{Backend, Conflict, Result, Store, StoreError};
use std::path::Path;

impl Store {
    /// Writes a consistent copy of the whole SQLite database to `dest` (which must not exist)
    /// while the server keeps serving: `VACUUM INTO` reads one snapshot and writes a compact,
    /// self-contained file.
    pub async fn backup_sqlite(&self, dest: &Path) -> Result<()> {
        if self.backend() != Backend::Sqlite {
            return Err(StoreError::Conflict {
                kind: Conflict::Unsupported,
                message: "souk backup is for the embedded SQLite database; back PostgreSQL up with pg_dump".into(),
            });
        }
        if dest.exists() {
            return Err(StoreError::Conflict {
                kind: Conflict::Exists,
                message: format!("{} exists; choose a new file", dest.display()),
            });
        }
        let dest = dest.to_str().ok_or_else(|| StoreError::Conflict {
            kind: Conflict::Path,
            message: "the backup path must be valid UTF-8".into(),
        })?;
        sqlx::query("VACUUM INTO $1").bind(dest).execute(&mut *self.reader().await?).await?;
        Ok(())
    }

    /// `PRAGMA integrity_check` on SQLite (`ok` when sound); PostgreSQL checks itself.
    pub async fn integrity_check(&self) -> Result<String> {
        match self.backend() {
            Backend::Sqlite => {
                let (verdict,): (String,) =
                    sqlx::query_as("PRAGMA integrity_check").fetch_one(&mut *self.reader().await?).await?;
                Ok(verdict)
            }
            Backend::Postgres => Ok("ok".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::{Store, SystemClock};
    use std::sync::Arc;

    #[tokio::test]
    async fn a_backup_is_a_whole_database() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_sqlite(&dir.path().join("live"), Arc::new(SystemClock)).await.unwrap();
        let mut tx = store.begin().await.unwrap();
        tx.create_user("a@example.com", "a@example.com", "x", "A").await.unwrap();
        tx.commit().await.unwrap();
        let copy = dir.path().join("copy");
        std::fs::create_dir_all(&copy).unwrap();
        store.backup_sqlite(&copy.join("souk.db")).await.unwrap();
        assert!(store.backup_sqlite(&copy.join("souk.db")).await.is_err(), "never over an existing file");
        let restored = Store::open_sqlite(&copy, Arc::new(SystemClock)).await.unwrap();
        assert_eq!(restored.integrity_check().await.unwrap(), "ok");
        assert!(restored.user_by_email("a@example.com").await.is_ok());
    }
}
