//! Fresh databases for tests: a temporary SQLite file, or a new PostgreSQL schema when
//! `SOUK_TEST_DATABASE_URL` names a server. Each test gets its own, so tests run in parallel.

use crate::{Result, Store};
use souk_domain::clock::Clock;
use sqlx::{Connection, Executor};
use std::path::PathBuf;
use std::sync::Arc;

pub const POSTGRES_ENV: &str = "SOUK_TEST_DATABASE_URL";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestBackend {
    Sqlite,
    Postgres,
}

/// A database that exists for one test. SQLite files are removed on drop; PostgreSQL schemas
/// are left for inspection and carry a random name.
pub struct TestDb {
    pub url: String,
    dir: Option<PathBuf>,
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

impl TestDb {
    /// A new empty database, or `None` (after saying so) when PostgreSQL is asked for but
    /// `SOUK_TEST_DATABASE_URL` is not set.
    pub async fn new(backend: TestBackend) -> Option<TestDb> {
        let suffix = format!("{:016x}", rand::random::<u64>());
        match backend {
            TestBackend::Sqlite => {
                let dir = std::env::temp_dir().join(format!("souk-test-{suffix}"));
                std::fs::create_dir_all(&dir).expect("temp dir");
                let url = format!("sqlite://{}?mode=rwc", dir.join("souk.db").display());
                Some(TestDb { url, dir: Some(dir) })
            }
            TestBackend::Postgres => {
                let Ok(base) = std::env::var(POSTGRES_ENV) else {
                    eprintln!("skipped: {POSTGRES_ENV} is not set, so this PostgreSQL test does not run");
                    return None;
                };
                let schema = format!("souk_t_{suffix}");
                sqlx::any::install_default_drivers();
                let mut conn =
                    sqlx::AnyConnection::connect(&base).await.expect("connect to the PostgreSQL test server");
                conn.execute(format!("CREATE SCHEMA {schema}").as_str()).await.expect("create schema");
                conn.close().await.ok();
                let sep = if base.contains('?') { '&' } else { '?' };
                Some(TestDb { url: format!("{base}{sep}options=-c%20search_path%3D{schema}"), dir: None })
            }
        }
    }

    /// Moves the database out of `db` (which then cleans nothing up), to hand it to a new owner.
    pub fn take(db: &mut TestDb) -> TestDb {
        TestDb { url: db.url.clone(), dir: db.dir.take() }
    }

    pub async fn open(&self, clock: Arc<dyn Clock>) -> Result<Store> {
        Store::connect(&self.url, clock).await
    }

    /// The data directory to use beside this database (mail, index).
    pub fn data_dir(&self) -> PathBuf {
        self.dir
            .clone()
            .unwrap_or_else(|| std::env::temp_dir().join(format!("souk-test-data-{:016x}", rand::random::<u64>())))
    }
}
