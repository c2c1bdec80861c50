//! Souk's application layer: the `App` context, the use-cases every entry point shares (the
//! JSON API, the pages, the command line), and the background workers. It knows nothing of
//! HTTP: its errors say what went wrong ([`error::ErrorKind`]), and the server alone chooses a
//! status for each.

pub mod access;
pub mod accounts;
pub mod admin;
pub mod analytics;
pub mod api_keys;
pub mod catalog;
pub mod chat;
pub mod disputes;
pub mod error;
pub mod flash;
pub mod idempotency;
pub mod import;
pub mod jobs;
pub mod limiter;
pub mod live;
pub mod mail;
pub mod media;
pub mod metrics;
pub mod moderation;
pub mod notifications;
pub mod orders;
pub mod payments;
pub mod reviews;
pub mod rfq;
pub mod search;
pub mod search_sync;
pub mod seed;
pub mod tracking;
pub mod trust;
pub mod two_factor;
pub mod views;
pub mod wallet;
pub mod webhooks;

use souk_store::Store;
pub use souk_store::{Backend, Tx};
/// Commits a use-case's transaction that has no request key to record with it.
pub async fn commit(tx: Tx) -> error::Result<()> {
    Ok(tx.commit().await?)
}

/// Runs a request's work for at most a limit: on running out it is dropped, and its clean-up
/// (rollback, key release) is waited for, up to a second limit, before `None` is returned.
pub use souk_store::cancel::bounded;
use std::ops::Deref;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// How often email and webhook senders run while flash-sale buys come in.
pub const BUSY_ROUND: Duration = Duration::from_secs(5);

#[derive(Debug, Clone)]
pub struct LoginLimits {
    /// Failed log-ins per account per 15 minutes.
    pub per_account: u32,
    /// Log-in attempts per IP address per 5 minutes.
    pub per_ip: u32,
}

impl Default for LoginLimits {
    fn default() -> Self {
        Self { per_account: 5, per_ip: 30 }
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    pub request_timeout: Duration,
    /// Imports run longer than ordinary requests.
    pub import_timeout: Duration,
    pub login: LoginLimits,
    pub data_dir: PathBuf,
    /// Order deadlines and commission.
    pub policy: souk_domain::order::Policy,
    /// How often due deadlines and provider confirmations are looked for.
    pub job_interval: Duration,
    /// How long an `Idempotency-Key` is remembered after it was claimed.
    pub idempotency_retention_ms: i64,
    /// Key of the sandbox provider's callback signatures.
    pub sandbox_secret: Vec<u8>,
    /// How long the sandbox takes to confirm an accepted card.
    pub sandbox_delay_ms: i64,
    /// Weights of the search ranking's composite.
    pub ranking: souk_domain::ranking::Weights,
    pub trust: souk_domain::trust::TrustWeights,
    /// Carrier → key of its tracking events' signatures.
    pub carriers: std::collections::BTreeMap<String, Vec<u8>>,
    /// Accept the sandbox carrier (signing with `sandbox_secret`) and simulate its parcels.
    pub carrier_sandbox: bool,
    /// Time between the sandbox carrier's steps (picked up, in transit, ...).
    pub carrier_sandbox_step_ms: i64,
    /// Serving the demo marketplace: the pages show its log-ins.
    pub demo: bool,
    /// The promotions whose buys this process decides; `None`: all of them.
    pub flash_shard: Option<souk_domain::flash::Shard>,
    /// A bearer token that may read `/metrics` (admins always may).
    pub metrics_token: Option<String>,
    /// Accept webhook endpoints on loopback and private addresses (development, tests).
    pub webhooks_allow_private: bool,
    /// Send email through this SMTP relay (`smtps://user:pass@host`); `None`: write files
    /// under `<data_dir>/mail`.
    pub smtp_url: Option<String>,
    /// The sender of outgoing email.
    pub mail_from: String,
    /// Keep uploaded images in this bucket; `None`: under `<data_dir>/media`.
    pub media_s3: Option<media::S3Media>,
    /// Where people reach this marketplace (`https://souk.example`): the links in email start
    /// with it, never with what a request claims its host is.
    pub public_url: String,
    /// Mediators and admins act as such only with two-step sign-in on.
    pub staff_two_factor: bool,
}

impl Config {
    pub fn new(data_dir: PathBuf) -> Self {
        Self {
            request_timeout: Duration::from_secs(30),
            import_timeout: Duration::from_secs(300),
            login: LoginLimits::default(),
            data_dir,
            policy: souk_domain::order::Policy::default(),
            job_interval: Duration::from_millis(500),
            idempotency_retention_ms: 24 * 3_600_000,
            sandbox_secret: b"souk-sandbox-development-secret".to_vec(),
            sandbox_delay_ms: 200,
            ranking: souk_domain::ranking::Weights::default(),
            trust: souk_domain::trust::TrustWeights::default(),
            carriers: Default::default(),
            carrier_sandbox: false,
            carrier_sandbox_step_ms: 20_000,
            demo: false,
            flash_shard: None,
            metrics_token: None,
            webhooks_allow_private: false,
            smtp_url: None,
            mail_from: "Souk <no-reply@localhost>".to_string(),
            media_s3: None,
            public_url: "http://localhost:8080".to_string(),
            staff_two_factor: true,
        }
    }
}

pub struct AppInner {
    pub(crate) store: Store,
    pub config: Config,
    /// This process's live sockets.
    pub hub: live::Hub,
    pub mailer: Arc<dyn mail::Mailer>,
    pub search: Arc<souk_search::SearchIndex>,
    pub provider: Arc<dyn payments::PaymentProvider>,
    /// Wakes the change-feed follower after a local catalog write.
    pub feed_wakeup: tokio::sync::Notify,
    pub traffic: search_sync::TrafficBuffer,
    /// Catalog imports started from the seller center, with their progress.
    pub imports: import::ImportJobs,
    /// The flash-sale order engine, started on first use.
    flash: std::sync::OnceLock<flash::Engine>,
    pub metrics: metrics::Metrics,
    /// Sends webhook deliveries.
    pub webhook_client: reqwest::Client,
    /// Uploaded images.
    pub(crate) media: media::MediaStore,
}

/// Shared state of every handler.
#[derive(Clone)]
pub struct App(Arc<AppInner>);

impl Deref for App {
    type Target = AppInner;
    fn deref(&self) -> &AppInner {
        &self.0
    }
}

impl App {
    pub fn new(store: Store, config: Config, search: Arc<souk_search::SearchIndex>) -> App {
        // The command line checks the mail settings before it gets here.
        let mailer = mail::mailer(&config).unwrap_or_else(|e| panic!("{e}"));
        let provider = Arc::new(payments::Sandbox { secret: config.sandbox_secret.clone() });
        let webhook_client = webhooks::client(config.webhooks_allow_private);
        // The command line checks where uploads go before it gets here.
        let media = media::MediaStore::open(&config).unwrap_or_else(|e| panic!("{e}"));
        App(Arc::new(AppInner {
            store,
            config,
            hub: live::Hub::default(),
            mailer,
            search,
            provider,
            feed_wakeup: tokio::sync::Notify::new(),
            traffic: search_sync::TrafficBuffer::default(),
            imports: import::ImportJobs::default(),
            flash: std::sync::OnceLock::new(),
            metrics: metrics::Metrics::default(),
            webhook_client,
            media,
        }))
    }

    /// The flash-sale order engine (its task starts on the first call, on the current runtime).
    pub fn flash(&self) -> &flash::Engine {
        self.flash.get_or_init(|| {
            flash::Engine::start(self.store.clone(), self.config.policy.clone(), flash::EngineConfig::default())
        })
    }

    /// Whether this process's flash-sale engine is taking buys right now.
    pub fn flash_busy(&self) -> bool {
        self.flash.get().is_some_and(flash::Engine::busy)
    }

    /// Whether a background sender (email, webhooks) should skip this round: while the
    /// flash-sale engine is busy it runs once per [`BUSY_ROUND`] (`last` is when it last ran),
    /// since each of its transactions takes SQLite's one writer in front of the buyers.
    pub fn yield_to_flash(&self, last: &mut Option<std::time::Instant>) -> bool {
        if self.flash_busy() && last.is_some_and(|t| t.elapsed() < BUSY_ROUND) {
            return true;
        }
        *last = Some(std::time::Instant::now());
        false
    }

    /// Runs a background sender (email, webhooks) round after round until the process stops,
    /// yielding to the flash-sale engine while it is busy; a failed round is retried the next.
    pub async fn send_forever<F, Fut, T, E>(self, what: &str, round: F)
    where
        F: Fn(App) -> Fut,
        Fut: std::future::Future<Output = Result<T, E>>,
        E: std::fmt::Display,
    {
        let mut last = None;
        loop {
            if !self.yield_to_flash(&mut last) {
                if let Err(e) = round(self.clone()).await {
                    tracing::warn!(error = %e, "{what} failed; retrying next round");
                }
            }
            tokio::time::sleep(self.config.job_interval).await;
        }
    }

    /// A transaction for a use-case's writes. The entry point commits it, with its request's
    /// idempotent answer ([`idempotency::finish`]).
    pub async fn begin(&self) -> error::Result<Tx> {
        Ok(self.store.begin().await?)
    }

    /// Now, on the store's clock (injectable in tests).
    pub fn now_ms(&self) -> i64 {
        self.store.now_ms()
    }

    pub fn backend(&self) -> Backend {
        self.store.backend()
    }

    /// Whether the database answers reads, and takes a write within `limit`.
    pub async fn health(&self, limit: Duration) -> (bool, bool) {
        tokio::join!(self.store.ping(), self.store.probe_writes(limit))
    }

    /// Writes out every flash order a stopped process committed to its journal but had not
    /// written out yet; answers how many.
    pub async fn write_out_all_flash(&self) -> error::Result<usize> {
        Ok(self.store.write_out_all_flash(&self.config.policy).await?)
    }

    /// Makes an order whole for one of its parties about to use it: a flash order still in
    /// the journal (committed, not yet written out) is written out now. Called only once the
    /// caller is known to be a party: authorization itself never writes.
    pub async fn whole_order(&self, order_id: &str) -> Result<(), souk_store::StoreError> {
        if self.store.flash_order_pending(order_id).await? {
            let which = souk_store::flash_out::Pending::Order(order_id);
            self.store.write_out_flash(which, &self.config.policy).await?;
        }
        Ok(())
    }

    /// Opens the search index under the data directory, makes it current (rebuilding it when
    /// it is missing, of an older schema or far behind), and builds the application.
    pub async fn open(store: Store, config: Config) -> Result<App, String> {
        let (index, fresh) =
            souk_search::SearchIndex::open(&config.data_dir.join("index")).map_err(|e| e.to_string())?;
        let index = Arc::new(index);
        search_sync::prepare(&store, &index, &config.trust, fresh).await.map_err(|e| e.message)?;
        media::MediaStore::open(&config)?;
        Ok(App::new(store, config, index))
    }
}
