//! Souk's one persistence layer. The same portable SQL runs on SQLite and PostgreSQL through
//! sqlx's `Any` driver; the backend is chosen once, from the URL scheme. Every integer column is
//! BIGINT and every time is Unix milliseconds, so both backends decode to the same Rust types.

pub mod accounts;
pub mod analytics;
pub mod api_keys;
pub mod audit;
mod backup;
mod boot;
mod bulk;
pub mod cancel;
pub mod catalog;
pub mod chat;
pub mod deadlines;
pub mod disputes;
pub mod email;
pub mod flash;
pub mod flash_out;
mod group;
pub mod history;
pub mod idempotency;
pub mod ledger;
mod limits;
pub mod moderation;
pub mod notifications;
pub mod operations;
pub mod orders;
pub mod payments;
pub mod privacy;
pub mod rfq;
pub mod search;
mod sqlite_alloc;
pub mod stores;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod trust;
pub mod webhooks;

use souk_domain::clock::Clock;
use souk_domain::id::{self, Kind};
use souk_domain::{Currency, Invalid};
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{Any, AnyConnection, AnyPool, Executor, Transaction};
use std::fmt;
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

pub use sqlx::any::AnyRow;

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Which rule a refused write ran into: its code in API errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conflict {
    AlreadyQuoted,
    AlreadyReplied,
    AlreadyReviewed,
    AlreadyRevised,
    DuplicateSku,
    EmailTaken,
    Exists,
    FlashMoved,
    IdempotencyConflict,
    InsufficientFunds,
    InvalidState,
    OfferExpired,
    OfferNotOpen,
    OutOfStock,
    Path,
    PromotionOverlaps,
    RfqAwarded,
    RfqClosed,
    SlugTaken,
    StoreExists,
    TooEarly,
    Unsupported,
    VerificationPending,
}

impl Conflict {
    pub fn code(self) -> &'static str {
        match self {
            Conflict::AlreadyQuoted => "already_quoted",
            Conflict::AlreadyReplied => "already_replied",
            Conflict::AlreadyReviewed => "already_reviewed",
            Conflict::AlreadyRevised => "already_revised",
            Conflict::DuplicateSku => "duplicate_sku",
            Conflict::EmailTaken => "email_taken",
            Conflict::Exists => "exists",
            Conflict::FlashMoved => "flash_moved",
            Conflict::IdempotencyConflict => "idempotency_conflict",
            Conflict::InsufficientFunds => "insufficient_funds",
            Conflict::InvalidState => "invalid_state",
            Conflict::OfferExpired => "offer_expired",
            Conflict::OfferNotOpen => "offer_not_open",
            Conflict::OutOfStock => "out_of_stock",
            Conflict::Path => "path",
            Conflict::PromotionOverlaps => "promotion_overlaps",
            Conflict::RfqAwarded => "rfq_awarded",
            Conflict::RfqClosed => "rfq_closed",
            Conflict::SlugTaken => "slug_taken",
            Conflict::StoreExists => "store_exists",
            Conflict::TooEarly => "too_early",
            Conflict::Unsupported => "unsupported",
            Conflict::VerificationPending => "verification_pending",
        }
    }
}

/// What can go wrong in the store, small on purpose: callers decide HTTP statuses from it.
#[derive(Debug)]
pub enum StoreError {
    NotFound,
    /// A uniqueness or state rule held by the database, e.g. a taken slug.
    Conflict {
        kind: Conflict,
        message: String,
    },
    Invalid(Invalid),
    /// The database cannot be reached or used right now (the runtime is ending, a lock cannot
    /// be taken, every connection is busy); the same work may succeed later.
    Unavailable(String),
    /// The transaction lost a race (a deadlock or serialization failure on PostgreSQL, a busy
    /// database on SQLite) and was rolled back whole: the same work can simply run again.
    Contention(String),
    /// A rule Souk itself must keep does not hold (a stored row naming an unknown currency or
    /// state, a pool holding less than its orders, a posting that does not balance, a statement
    /// built wrong): a bug or a damaged database, never the caller's doing. Made by
    /// [`StoreError::broken`].
    Broken(String),
    /// Any other failure of the database or the files beside it.
    Db(sqlx::Error),
}

impl StoreError {
    /// Whether the same work can simply run again: see [`StoreError::Contention`].
    pub fn lost_race(&self) -> bool {
        matches!(self, StoreError::Contention(_))
    }

    /// A broken rule, said loudly where it is found: a debug build stops there.
    #[track_caller]
    pub fn broken(what: impl Into<String>) -> StoreError {
        let what = what.into();
        let at = std::panic::Location::caller();
        tracing::error!(what, %at, "a rule Souk must keep does not hold");
        debug_assert!(false, "a rule Souk must keep does not hold: {what} ({at})");
        StoreError::Broken(what)
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::NotFound => f.write_str("not found"),
            StoreError::Conflict { message, .. } => f.write_str(message),
            StoreError::Invalid(e) => e.fmt(f),
            StoreError::Unavailable(why) => write!(f, "unavailable: {why}"),
            StoreError::Contention(why) => write!(f, "lost a race: {why}"),
            StoreError::Broken(what) => write!(f, "broken data: {what}"),
            StoreError::Db(e) => write!(f, "database: {e}"),
        }
    }
}

impl std::error::Error for StoreError {}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::RowNotFound => StoreError::NotFound,
            sqlx::Error::PoolTimedOut => StoreError::Unavailable("every database connection is busy".into()),
            sqlx::Error::Database(d) if matches!(d.code().as_deref(), Some("40P01" | "40001" | "5" | "517")) => {
                StoreError::Contention(d.message().to_string())
            }
            e => StoreError::Db(e),
        }
    }
}

impl From<Invalid> for StoreError {
    fn from(e: Invalid) -> Self {
        StoreError::Invalid(e)
    }
}

/// JSON the store wrote and cannot read back (or a value of its own it cannot write).
impl From<serde_json::Error> for StoreError {
    #[track_caller]
    fn from(e: serde_json::Error) -> Self {
        StoreError::broken(format!("JSON: {e}"))
    }
}

impl From<std::io::Error> for StoreError {
    fn from(e: std::io::Error) -> Self {
        StoreError::Db(sqlx::Error::Io(e))
    }
}

/// The currency of a stored code: Souk stores only codes it knows.
pub(crate) fn currency(code: &str) -> Result<Currency> {
    Currency::from_code(code).ok_or_else(|| StoreError::broken(format!("unknown currency {code}")))
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// True when `e` is a unique-constraint violation (on either backend).
pub(crate) fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

/// The clock of the real world.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
    }
}

/// The store: a write pool and a read pool. On SQLite the write pool has one connection, so
/// writers queue in the process instead of failing with SQLITE_BUSY; readers run beside it (WAL).
/// Code holding a write transaction may read through the read pool, never the reverse.
#[derive(Clone)]
pub struct Store {
    write: AnyPool,
    read: AnyPool,
    backend: Backend,
    clock: Arc<dyn Clock>,
    last_id: Arc<std::sync::Mutex<(i64, u128)>>,
    /// Users whose outbox grew, sent after each commit that wrote events for them.
    outbox: tokio::sync::broadcast::Sender<Arc<[String]>>,
    /// Where to LISTEN on PostgreSQL, for outbox rows other processes write.
    url: Arc<str>,
    sessions: Arc<accounts::SessionCache>,
    /// This process's boot: its id and the lock that says it is alive.
    boot: Arc<boot::Boot>,
    /// SQLite's one writer, whose transactions commit in groups (`group`).
    writer: Option<Arc<group::Writer>>,
}

/// How many commits' worth of outbox wake-ups a slow listener may fall behind before it is told
/// it lagged (and then re-reads everything).
const OUTBOX_WAKES: usize = 4096;

/// Removes the password from a database URL for printing.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_string() };
    let Some((creds, host)) = rest.rsplit_once('@') else { return url.to_string() };
    match creds.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_string(),
    }
}

impl Store {
    /// Opens (creating if needed) the embedded SQLite database `souk.db` in `data_dir`.
    pub async fn open_sqlite(data_dir: &Path, clock: Arc<dyn Clock>) -> Result<Store> {
        std::fs::create_dir_all(data_dir)?;
        let url = format!("sqlite://{}?mode=rwc", data_dir.join("souk.db").display());
        Store::connect(&url, clock).await
    }

    /// Connects by URL: `sqlite://...` or `postgres://...`, then runs pending migrations.
    pub async fn connect(url: &str, clock: Arc<dyn Clock>) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            return Err(StoreError::Invalid(Invalid::new(
                "invalid_database_url",
                "database_url",
                "must start with sqlite: or postgres://",
            )));
        };
        let options = AnyConnectOptions::from_str(url)?;
        let store = match backend {
            Backend::Sqlite => {
                sqlite_alloc::install();
                let write = sqlite_pool(1).connect_with(options.clone()).await?;
                let read = sqlite_pool(8).connect_with(options).await?;
                checkpoint_in_background(read.clone());
                Store::new(write, read, backend, clock, url).await?
            }
            Backend::Postgres => {
                // Separate pools for the same reason as on SQLite: a handler that holds a write
                // transaction and then reads must never wait for a connection that only another
                // such handler could free.
                let write = postgres_pool(8).connect_with(options.clone()).await?;
                let read = postgres_pool(8).connect_with(options).await?;
                Store::new(write, read, backend, clock, url).await?
            }
        };
        store.migrate().await?;
        Ok(store)
    }

    async fn new(write: AnyPool, read: AnyPool, backend: Backend, clock: Arc<dyn Clock>, url: &str) -> Result<Store> {
        let outbox = tokio::sync::broadcast::channel(OUTBOX_WAKES).0;
        let sessions = Default::default();
        let boot = boot::Boot::start(backend, url).await?;
        let writer = (backend == Backend::Sqlite).then(group::Writer::new);
        Ok(Store {
            write,
            read,
            backend,
            clock,
            last_id: Default::default(),
            outbox,
            url: url.into(),
            sessions,
            boot,
            writer,
        })
    }

    /// Wake-ups for this process's writes: the users each committed transaction wrote outbox
    /// events for. Other processes' writes arrive through [`Store::listen_outbox`].
    pub fn outbox_wakes(&self) -> tokio::sync::broadcast::Receiver<Arc<[String]>> {
        self.outbox.subscribe()
    }

    /// On PostgreSQL, a listener that hears every process's outbox rows (the user id as the
    /// payload, sent at commit) and the `souk_live` channel of ephemeral signals such as typing.
    /// `None` on SQLite, where the processes sharing a file poll instead.
    pub async fn listen_outbox(&self) -> Result<Option<sqlx::postgres::PgListener>> {
        if self.backend != Backend::Postgres {
            return Ok(None);
        }
        // Channels are database-wide: processes on other schemas of the database (tests) wake
        // each other needlessly but harmlessly, since a woken socket only re-reads its own outbox.
        let mut listener = sqlx::postgres::PgListener::connect(&self.url).await?;
        listener.listen_all(["souk_events", "souk_live"]).await?;
        Ok(Some(listener))
    }

    /// Sends an ephemeral signal to every process (PostgreSQL) or only this one (SQLite, where
    /// the caller delivers it locally).
    pub async fn notify_live(&self, payload: &str) -> Result<()> {
        if self.backend == Backend::Postgres {
            sqlx::query("SELECT pg_notify('souk_live', $1)").bind(payload).execute(&self.write).await?;
        }
        Ok(())
    }

    pub async fn migrate(&self) -> Result<()> {
        let migrator = match self.backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        migrator.run(&self.write).await.map_err(|e| StoreError::Db(e.into()))
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    /// The same database seen through another clock: for writing history (the demo's past
    /// orders) at the times it happened. Ids it makes follow that clock's time.
    pub fn with_clock(&self, clock: Arc<dyn Clock>) -> Store {
        Store { clock, last_id: Default::default(), ..self.clone() }
    }

    /// A new id of `kind`, ordered by creation time. Within one millisecond the random part
    /// counts up (as monotonic ULIDs do), so ids made by one process sort in the order made.
    pub fn new_id(&self, kind: Kind) -> String {
        let now = self.now_ms();
        let mut last = self.last_id.lock().unwrap_or_else(|p| p.into_inner());
        let (ts, random) = if now <= last.0 {
            (last.0, last.1.wrapping_add(1) & ((1u128 << 80) - 1))
        } else {
            // Leave headroom below 2^80 so the count-up within one millisecond cannot wrap.
            (now, rand::random::<u128>() & ((1u128 << 79) - 1))
        };
        *last = (ts, random);
        id::make(kind, ts, random)
    }

    /// True when the database answers.
    pub async fn ping(&self) -> bool {
        sqlx::query("SELECT 1").execute(&self.read).await.is_ok()
    }

    /// Whether a write transaction can begin and end within `limit`: on SQLite it takes the
    /// write lock, so a writer wedged or a lock held elsewhere shows here, not only at the next
    /// write. Nothing is written.
    pub async fn probe_writes(&self, limit: Duration) -> bool {
        let probe = async {
            let mut tx = self.begin().await?;
            sqlx::query("SELECT 1").execute(tx.conn()).await?;
            tx.rollback().await
        };
        matches!(tokio::time::timeout(limit, probe).await, Ok(Ok(())))
    }

    /// Starts a write transaction. Everything a request changes goes through one. On SQLite it
    /// is a member of the writer's group transaction (`group`), which takes the write lock up
    /// front (`BEGIN IMMEDIATE`), so a second process sharing the file waits for it
    /// (busy_timeout) instead of failing when a read would upgrade to a write.
    pub async fn begin(&self) -> Result<Tx> {
        let held = match &self.writer {
            Some(writer) => Held::Member(group::Member::join(self, writer, &self.write).await?),
            None => Held::Alone(begin_on(&self.write, None).await?),
        };
        Ok(Tx { held: Some(held), store: self.clone(), woken: Vec::new(), users_changed: false })
    }

    fn writer(&self) -> Option<&Arc<group::Writer>> {
        self.writer.as_ref()
    }

    /// A pooled connection for reads.
    pub async fn reader(&self) -> Result<sqlx::pool::PoolConnection<Any>> {
        Ok(self.read.acquire().await?)
    }

    /// A read transaction whose statements all see one snapshot, for reads that must agree
    /// with each other while writers go on (SQLite's WAL gives a deferred transaction one
    /// snapshot from its first read; PostgreSQL needs repeatable read for it).
    pub async fn snapshot(&self) -> Result<Transaction<'static, Any>> {
        let statement = match self.backend {
            Backend::Sqlite => None,
            Backend::Postgres => Some("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"),
        };
        begin_on(&self.read, statement).await
    }

    pub async fn close(&self) {
        self.write.close().await;
        self.read.close().await;
        self.boot.end();
    }
}

/// Begins a transaction on a task of its own, so that it is whole or absent whenever the caller
/// stops waiting. Between sending `BEGIN` and handing back the guard that owns the transaction
/// sqlx awaits more (SQLite: a check that the custom `BEGIN` took; PostgreSQL: the server's
/// answer, before it counts the transaction); a caller dropped there returned the connection to
/// the pool inside a transaction nobody owned, and on SQLite's one writer every later `BEGIN`
/// failed until a restart. A task finishes the `BEGIN` whatever the caller does, and a
/// transaction nobody takes rolls back as it drops.
async fn begin_on(pool: &AnyPool, statement: Option<&'static str>) -> Result<Transaction<'static, Any>> {
    let pool = pool.clone();
    let begun = tokio::spawn(async move {
        match statement {
            Some(s) => pool.begin_with(s).await,
            None => pool.begin().await,
        }
    });
    match begun.await {
        Ok(tx) => Ok(tx?),
        Err(e) => Err(StoreError::Unavailable(format!("beginning a transaction: {e}"))),
    }
}

/// How often the WAL is copied into the main file off the writer's path while commits come,
/// how often it is looked at otherwise, and for how long after the last commit seen the first.
const CHECKPOINT_BUSY: Duration = Duration::from_millis(100);
const CHECKPOINT_IDLE: Duration = Duration::from_secs(1);
const BUSY_AFTER_COMMIT: Duration = Duration::from_secs(2);

/// Copies SQLite's WAL into the main file from a reader's thread (a passive checkpoint waits
/// for no one), so that commits rarely stop to do it themselves: the writer's own
/// `wal_autocheckpoint` copies only what this has not yet. While commits come the WAL is copied
/// every [`CHECKPOINT_BUSY`]: at once a second the writer still copied about four fifths of the
/// WAL itself in a flash sale, now about half, the rest on the other core. Ends when the pool
/// is closed.
fn checkpoint_in_background(read: AnyPool) {
    tokio::spawn(async move {
        let (mut last_log, mut last_commit) = (-1, None::<tokio::time::Instant>);
        loop {
            let busy = last_commit.is_some_and(|t| t.elapsed() < BUSY_AFTER_COMMIT);
            tokio::time::sleep(if busy { CHECKPOINT_BUSY } else { CHECKPOINT_IDLE }).await;
            if read.is_closed() {
                break;
            }
            // busy (the writer's own checkpoint holds the lock), frames in the WAL, copied.
            match sqlx::query_as::<_, (i64, i64, i64)>("PRAGMA wal_checkpoint(PASSIVE)").fetch_one(&read).await {
                Ok((busy, log, copied)) => {
                    tracing::trace!(busy, log, copied, "background checkpoint");
                    // A WAL that changed, or a writer busy checkpointing: commits are coming.
                    if busy != 0 || log != last_log {
                        last_commit = Some(tokio::time::Instant::now());
                    }
                    last_log = log;
                }
                Err(_) if read.is_closed() => break,
                Err(e) => tracing::debug!(error = %e, "a background checkpoint failed; the writer's own follows"),
            }
        }
    });
}

fn postgres_pool(max: u32) -> AnyPoolOptions {
    AnyPoolOptions::new().max_connections(max).acquire_timeout(Duration::from_secs(10))
}

fn sqlite_pool(max: u32) -> AnyPoolOptions {
    // No ping before each acquire: a connection to a local file does not drop, and the ping is
    // a round trip to the connection's thread in front of every transaction.
    let options = AnyPoolOptions::new().max_connections(max).acquire_timeout(Duration::from_secs(30));
    options.test_before_acquire(false).after_connect(|conn, _meta| {
        Box::pin(async move {
            // WAL lets readers run beside the writer; FULL makes each commit durable against
            // power loss, not only against a killed process.
            conn.execute("PRAGMA journal_mode = WAL").await?;
            conn.execute("PRAGMA synchronous = FULL").await?;
            conn.execute("PRAGMA foreign_keys = ON").await?;
            conn.execute("PRAGMA busy_timeout = 10000").await?;
            // Checkpoint every 64 MiB of WAL rather than 4: fewer, larger copies into the main
            // file (35% more flash-sale orders a second, measured); commits stay as durable.
            conn.execute("PRAGMA wal_autocheckpoint = 16384").await?;
            // A larger page cache, and reads of the main file through a memory map: the default
            // 2 MiB cache sent a busy writer to the kernel for a page at almost every step.
            conn.execute("PRAGMA cache_size = -65536").await?;
            conn.execute("PRAGMA mmap_size = 1073741824").await?;
            // Statement journals (the pages a multi-row statement first changes, kept in case
            // it fails halfway) in memory, not in a temporary file: a batch of a few hundred
            // flash orders changes a page per order.
            conn.execute("PRAGMA temp_store = MEMORY").await?;
            Ok(())
        })
    })
}

/// A write transaction. Dropping it without [`Tx::commit`] rolls everything back (on a task of
/// its own: see [`cancel`]).
pub struct Tx {
    /// Always `Some` until the transaction commits, rolls back or drops.
    held: Option<Held>,
    store: Store,
    /// Users this transaction wrote outbox events for: woken once it commits.
    woken: Vec<String>,
    /// Whether it ended a session or changed a user's roles or email: cached sessions go
    /// once it commits.
    users_changed: bool,
}

/// A transaction of its own (PostgreSQL), or a member of SQLite's group transaction.
enum Held {
    Alone(Transaction<'static, Any>),
    Member(group::Member),
}

impl Drop for Tx {
    fn drop(&mut self) {
        // A member rolls itself back as it drops.
        if let Some(Held::Alone(tx)) = self.held.take() {
            cancel::spawn_cleanup(async move {
                if let Err(e) = tx.rollback().await {
                    tracing::warn!(error = %e, "rolling back a dropped transaction failed");
                }
            });
        }
    }
}

impl Tx {
    pub fn conn(&mut self) -> &mut AnyConnection {
        match self.held.as_mut().expect("a Tx holds its transaction until it ends") {
            Held::Alone(tx) => tx,
            Held::Member(member) => member.conn(),
        }
    }

    /// Ends the transaction, keeping nothing of it.
    pub async fn rollback(mut self) -> Result<()> {
        match self.held.take() {
            Some(Held::Alone(tx)) => Ok(tx.rollback().await?),
            Some(Held::Member(member)) => member.rollback().await,
            None => Ok(()),
        }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub async fn commit(mut self) -> Result<()> {
        if self.users_changed {
            // Tells other processes' session caches (see `accounts::SessionCache`).
            sqlx::query("UPDATE auth_epoch SET n = n + 1 WHERE id = 1").execute(self.conn()).await?;
        }
        match self.held.take() {
            // The group does what follows a commit once it has committed.
            Some(Held::Member(member)) => {
                return member.commit(std::mem::take(&mut self.woken), self.users_changed).await
            }
            Some(Held::Alone(tx)) => tx.commit().await?,
            None => {}
        }
        if self.users_changed {
            self.store.sessions.invalidate();
        }
        if !self.woken.is_empty() {
            let mut users = std::mem::take(&mut self.woken);
            users.sort_unstable();
            users.dedup();
            // No receiver (no live connections in this process) is not an error.
            let _ = self.store.outbox.send(users.into());
        }
        Ok(())
    }

    /// Commits, on SQLite without waiting for the group's durable commit (see
    /// `group::Member::commit_soon`): for a write whose loss in a crash is harmless because the
    /// crash ends what it was for, such as an idempotency claim (a request that dies with its
    /// process has no claim to keep). It may not wake anyone or change users.
    pub async fn commit_soon(mut self) -> Result<()> {
        debug_assert!(self.woken.is_empty() && !self.users_changed, "commit_soon is for claims only");
        match self.held.take() {
            Some(Held::Member(member)) => member.commit_soon().await,
            Some(Held::Alone(tx)) => Ok(tx.commit().await?),
            None => Ok(()),
        }
    }

    /// Appends an event to each user's outbox (`GET /events`, the live socket), in this
    /// transaction: the event exists exactly when the change that caused it does.
    pub async fn emit(
        &mut self,
        users: &[&str],
        kind: &str,
        order_id: Option<&str>,
        payload: &serde_json::Value,
    ) -> Result<()> {
        let event_id = self.store.new_id(Kind::Event);
        let now = self.store.now_ms();
        let payload = payload.to_string();
        if users.is_empty() {
            return Ok(());
        }
        // One row per user, in one statement.
        let rows: Vec<String> = (0..users.len()).map(|i| format!("($1, $2, $3, $4, $5, ${})", i + 6)).collect();
        let sql =
            format!("INSERT INTO events (id, type, order_id, payload, created_at, user_id) VALUES {}", rows.join(", "));
        let mut q = sqlx::query(&sql).bind(&event_id).bind(kind).bind(order_id).bind(&payload).bind(now);
        for user in users {
            q = q.bind(*user);
        }
        q.execute(self.conn()).await?;
        self.woken.extend(users.iter().map(|u| u.to_string()));
        Ok(())
    }
}

/// Appends `$n, $n+1, ...` placeholders for `count` values, starting after `start` binds.
pub(crate) fn placeholders(start: usize, count: usize) -> String {
    (start + 1..=start + count).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}

/// A page of results and the cursor for the next one.
#[derive(Debug, Clone, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// Builds a page from `limit + 1` fetched rows: the extra row only says there is more.
    pub fn from_rows(mut rows: Vec<T>, limit: usize, cursor_of: impl Fn(&T) -> String) -> Page<T> {
        let more = rows.len() > limit;
        rows.truncate(limit);
        let next_cursor = if more { rows.last().map(cursor_of) } else { None };
        Page { items: rows, next_cursor }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlx_errors_become_what_happened() {
        assert!(matches!(StoreError::from(sqlx::Error::RowNotFound), StoreError::NotFound));
        assert!(matches!(StoreError::from(sqlx::Error::PoolTimedOut), StoreError::Unavailable(_)));
        assert!(matches!(StoreError::from(sqlx::Error::PoolClosed), StoreError::Db(_)));
        assert!(!StoreError::Db(sqlx::Error::PoolClosed).lost_race());
        assert!(StoreError::Contention("deadlock".into()).lost_race());
    }

    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "does not hold: unknown currency XXX")]
    fn broken_data_stops_a_test_build_where_it_is_found() {
        let _ = currency("XXX");
    }
}
