//! HTTP integration tests: a real server on an ephemeral port over a real database. Each test
//! runs on SQLite and, when `SOUK_TEST_DATABASE_URL` is set, on PostgreSQL.

mod account_care;
mod accounts;
mod analytics;
mod api_keys;
mod browser;
mod browser_account;
mod browser_selling;
mod browser_work;
mod cancel;
mod catalog;
mod cdp;
mod chat;
mod disputes;
mod email;
mod flash;
mod hostile;
mod idempotency;
mod import;
mod media;
mod metrics;
mod moderation;
mod notifications;
mod openapi;
mod orders;
mod pages;
mod rfq;
mod schemathesis;
mod search;
mod stores;
mod trust;
mod webhooks;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use souk_app::{App, Config};
use souk_domain::clock::ManualClock;
use souk_store::testing::{TestBackend, TestDb};
use souk_store::Store;
use std::sync::Arc;
use tokio::sync::oneshot;

/// Defines `mod name { sqlite, postgres }` tests from `async fn name(srv: Srv)`.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                if let Some(srv) = $crate::Srv::start(souk_store::testing::TestBackend::Sqlite).await {
                    super::$name(srv).await
                }
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(srv) = $crate::Srv::start(souk_store::testing::TestBackend::Postgres).await {
                    super::$name(srv).await
                }
            }
        }
    )*};
}

/// As [`on_both_backends`], with the server's configuration adjusted by `tune`.
#[macro_export]
macro_rules! on_both_backends_with {
    ($name:ident, $tune:expr) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                if let Some(srv) = $crate::Srv::start_with(souk_store::testing::TestBackend::Sqlite, $tune).await {
                    super::$name(srv).await
                }
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(srv) = $crate::Srv::start_with(souk_store::testing::TestBackend::Postgres, $tune).await {
                    super::$name(srv).await
                }
            }
        }
    };
}

pub struct Srv {
    pub base: String,
    pub http: reqwest::Client,
    pub store: Store,
    pub clock: Arc<ManualClock>,
    pub data_dir: std::path::PathBuf,
    pub app: App,
    shutdown: Option<oneshot::Sender<()>>,
    db: TestDb,
}

impl Drop for Srv {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

pub struct Peer {
    pub srv_base: String,
    _shutdown: oneshot::Sender<()>,
}

/// A response: status, JSON body (Null when empty) and headers.
pub struct Res {
    pub status: StatusCode,
    pub body: Value,
    pub headers: reqwest::header::HeaderMap,
}

impl Res {
    /// The error code of a JSON error body.
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }

    pub fn field(&self) -> &str {
        self.body["error"]["field"].as_str().unwrap_or("")
    }
}

impl Srv {
    pub async fn start(backend: TestBackend) -> Option<Srv> {
        Self::start_with(backend, |_| {}).await
    }

    /// Starts a server whose configuration `tune` adjusts first.
    pub async fn start_with(backend: TestBackend, tune: impl FnOnce(&mut Config)) -> Option<Srv> {
        let db = TestDb::new(backend).await?;
        let clock = Arc::new(ManualClock::new(1_790_000_000_000));
        let store = db.open(clock.clone()).await.expect("open store");
        let data_dir = db.data_dir();
        let mut config = Config::new(data_dir.clone());
        // Tests run deadlines and sandbox confirmations themselves, at the moments they choose:
        // the background runner would race them for the same due jobs.
        config.job_interval = std::time::Duration::from_secs(3600);
        // Staff act without a second step unless a test asks for it (`account_care`).
        config.staff_two_factor = false;
        tune(&mut config);
        Some(Self::serve_on(db, store, clock, data_dir, config).await)
    }

    async fn serve_on(
        db: TestDb,
        store: Store,
        clock: Arc<ManualClock>,
        data_dir: std::path::PathBuf,
        config: Config,
    ) -> Srv {
        let app = App::open(store.clone(), config).await.expect("open app");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        tokio::spawn(souk_server::serve(app.clone(), listener, async move {
            let _ = rx.await;
        }));
        Srv {
            base: format!("http://{addr}"),
            http: reqwest::Client::new(),
            store,
            clock,
            data_dir,
            app,
            shutdown: Some(tx),
            db,
        }
    }

    /// Stops this server and starts a new one over the same database and clock, as after a
    /// crash or a deploy.
    pub async fn restart(mut self) -> Srv {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.store.close().await;
        let db = TestDb::take(&mut self.db);
        let store = db.open(self.clock.clone()).await.expect("reopen store");
        let data_dir = self.data_dir.join("restarted");
        // Default settings (background jobs running), but the network the test's receivers need.
        let mut config = Config::new(data_dir.clone());
        config.webhooks_allow_private = self.app.config.webhooks_allow_private;
        config.staff_two_factor = self.app.config.staff_two_factor;
        Self::serve_on(db, store, self.clock.clone(), data_dir, config).await
    }

    /// Another server process over the same database, with its own data directory and search
    /// index, as when several processes share one PostgreSQL database.
    pub async fn peer(&self) -> Peer {
        self.peer_with("peer", |_| {}).await
    }

    /// As [`Srv::peer`], configured by `tune`; `name` is its data directory's.
    pub async fn peer_with(&self, name: &str, tune: impl FnOnce(&mut Config)) -> Peer {
        let store = self.db.open(self.clock.clone()).await.expect("open store");
        let mut config = Config::new(self.data_dir.join(name));
        tune(&mut config);
        let app = App::open(store, config).await.expect("open peer");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = oneshot::channel::<()>();
        tokio::spawn(souk_server::serve(app, listener, async move {
            let _ = rx.await;
        }));
        Peer { srv_base: base, _shutdown: tx }
    }

    /// A user with a session, made through the store: for tests that need many users fast.
    pub async fn quick_user(&self, email: &str) -> (String, String) {
        let token = format!("test-token-{email}");
        let mut tx = self.store.begin().await.unwrap();
        let user = tx.create_user(email, email, "no password", "quick").await.unwrap();
        tx.create_session(&user.id, &souk_app::accounts::token_hash(&token), 86_400_000, "test").await.unwrap();
        tx.commit().await.unwrap();
        (token, user.id)
    }

    /// Sends a request; `body` as JSON when given.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        idem: Option<&str>,
    ) -> Res {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(k) = idem {
            req = req.header("Idempotency-Key", k);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.expect("request");
        Self::read(res).await
    }

    pub async fn raw(&self, method: Method, path: &str, token: Option<&str>, content_type: &str, body: Vec<u8>) -> Res {
        let mut req =
            self.http.request(method, format!("{}{path}", self.base)).header("content-type", content_type).body(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        Self::read(req.send().await.expect("request")).await
    }

    pub async fn read(res: reqwest::Response) -> Res {
        let status = res.status();
        let headers = res.headers().clone();
        let text = res.text().await.unwrap_or_default();
        let body =
            if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) };
        Res { status, body, headers }
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Res {
        self.call(Method::GET, path, token, None, None).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Res {
        self.call(Method::POST, path, token, Some(body), None).await
    }

    pub async fn patch(&self, path: &str, token: Option<&str>, body: Value) -> Res {
        self.call(Method::PATCH, path, token, Some(body), None).await
    }

    /// Registers a user; returns (token, user id).
    pub async fn register(&self, email: &str) -> (String, String) {
        let r = self
            .post("/api/v1/auth/register", None, json!({"email": email, "password": "correct horse battery"}))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        (r.body["token"].as_str().unwrap().to_string(), r.body["user"]["id"].as_str().unwrap().to_string())
    }

    /// Registers a user and opens a store; returns (token, store id).
    pub async fn seller(&self, email: &str, slug: &str) -> (String, String) {
        let (token, _) = self.register(email).await;
        let r = self
            .post(
                "/api/v1/stores",
                Some(&token),
                json!({"name": "Shop", "slug": slug, "country": "CN", "currency": "CNY"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        (token, r.body["id"].as_str().unwrap().to_string())
    }

    /// Makes the user an admin the way an operator does: through the store.
    pub async fn make_admin(&self, user_id: &str) {
        let mut tx = self.store.begin().await.unwrap();
        tx.grant_role(user_id, souk_domain::account::Role::Admin, "system").await.unwrap();
        tx.commit().await.unwrap();
    }

    /// GETs `path` until `ready` holds for the body: for what follows asynchronously (search
    /// follows the catalog's change feed). Fails after 10 s.
    pub async fn eventually(&self, path: &str, ready: impl Fn(&Value) -> bool) -> Value {
        self.eventually_on(&self.base, path, ready).await
    }

    /// `eventually` against another server (a peer).
    pub async fn eventually_on(&self, base: &str, path: &str, ready: impl Fn(&Value) -> bool) -> Value {
        let started = std::time::Instant::now();
        loop {
            let r = Self::read(self.http.get(format!("{base}{path}")).send().await.expect("request")).await;
            if r.status == StatusCode::OK && ready(&r.body) {
                return r.body;
            }
            assert!(started.elapsed() < std::time::Duration::from_secs(10), "{path} never got there: {}", r.body);
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    pub async fn count(&self, table: &str) -> i64 {
        let mut conn = self.store.reader().await.unwrap();
        let row: (i64,) = sqlx::query_as(&format!("SELECT COUNT(*) FROM {table}")).fetch_one(&mut *conn).await.unwrap();
        row.0
    }
}

/// A valid product body; tests change what they test.
pub fn product_body(title: &str) -> Value {
    json!({
        "title": title,
        "description": "A sturdy case.",
        "category": "electronics/phone-accessories",
        "attributes": {"material": "silicone"},
        "images": ["https://img.example.com/case.jpg"],
        "ships_to": ["US", "DE"],
        "moq": 1,
        "skus": [{
            "sku": "CASE-1",
            "options": {"color": "black"},
            "price": {"amount": 1999, "currency": "CNY"},
            "stock": 10,
            "price_tiers": [{"min_qty": 10, "price": {"amount": 1799, "currency": "CNY"}}]
        }]
    })
}
