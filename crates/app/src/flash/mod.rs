//! The flash-sale order engine. Buy requests (checkout and pay in one step, at a promotion's
//! price) queue on a channel; one task, on a thread of its own, takes whatever has queued (up
//! to `max_batch`, waiting at most `linger` for more once the first arrives), decides every
//! request in memory (`domain::flash::decide`) against the book it keeps from batch to batch
//! (reading, in the batch's write transaction, only the promotions, buyers and wallets new to
//! it), commits the accepted orders (a journal row each, which is also its payment's ledger
//! posting, and the counters) with a few multi-row statements, and only then answers each
//! request. So no request is acknowledged before its order is durable, and a crash loses only
//! requests that were never answered. The writes and the commit run on a task of their own,
//! which answers the batch once it commits, while the engine decides the next batch from the
//! book alone when it needs nothing read; that batch is written only once the one before has
//! committed, and is decided again if that one failed.
//!
//! The same task writes the committed orders out in full (`Store::write_out_flash`) whenever
//! no request has come for a moment, or once the oldest has waited `write_out_lag` even if
//! requests keep coming; reading an order that is still in the journal writes it out first.
//!
//! The database guards every shared counter (see `souk_store::flash`): should anything the book
//! holds have moved since it was read (another process, another path), the batch fails whole,
//! the book is dropped, and the batch's requests are decided again one at a time, each in its
//! own transaction against a fresh read (retried a few times if it moves again). A refusal for
//! want of money or stock looks at the store again first, in case a top-up or a restock came
//! after the book read it. On PostgreSQL a batch locks its promotions' rows, so processes that
//! share a promotion take turns rather than keep failing each other.

mod decide;
mod inflight;
#[cfg(test)]
mod tests;

use crate::error::{Error, ErrorKind, Result};
use decide::prepare;
use inflight::{decide_ahead, decide_each, in_book, land, Ahead, InFlight};
use serde::Serialize;
use souk_domain::flash::Shard;
use souk_domain::geo::parse_country;
use souk_domain::id::{self, Kind};
use souk_domain::order::Policy;
use souk_domain::Money;
use souk_store::flash::FlashBook;
use souk_store::flash_out;
use souk_store::Store;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// A flash sale's terms as a seller gives them, its times in RFC 3339; the store checks the rest
/// (a price below the SKU's, units it has, no overlap, at most seven days).
pub fn terms(
    sku_id: &str,
    starts_at: &str,
    ends_at: &str,
    price: Money,
    stock: i64,
    per_buyer_limit: i64,
) -> Result<souk_domain::flash::PromotionDraft> {
    let time = |text: &str, field: &str| {
        souk_domain::time::parse_rfc3339(text.trim())
            .ok_or_else(|| Error::from(souk_domain::Invalid::new("invalid_time", field, "an RFC 3339 time")))
    };
    Ok(souk_domain::flash::PromotionDraft {
        starts_ms: time(starts_at, "starts_at")?,
        ends_ms: time(ends_at, "ends_at")?,
        sku_id: sku_id.to_string(),
        price,
        stock,
        per_buyer_limit,
    })
}

/// Schedules a flash sale on one of the store's SKUs (its owner checked beforehand).
/// Promotions of one SKU never overlap.
pub async fn create_promotion(
    tx: &mut souk_store::Tx,
    store: &souk_domain::account::StoreProfile,
    terms: &souk_domain::flash::PromotionDraft,
) -> Result<souk_store::flash::PromotionView> {
    Ok(tx.create_promotion(&store.id, terms).await?)
}

/// One buy request.
#[derive(Debug, Clone)]
pub struct FlashBuy {
    pub buyer_id: String,
    pub promotion_id: String,
    pub quantity: i64,
    pub country: String,
    /// The request's `Idempotency-Key` (scope, key, request hash): claimed and completed in the
    /// batch's commit.
    pub idempotency: Option<(String, String, String)>,
}

/// Takes a buy from a person, through the API or a page: the promotion must be one this
/// process decides (`--flash-shard`) and the country a country; then the engine decides it.
pub async fn buy(
    app: &crate::App,
    buyer_id: &str,
    promotion_id: &str,
    quantity: i64,
    ship_to: &str,
    idempotency: Option<(String, String, String)>,
) -> Result<Bought> {
    if !id::is_valid(Kind::Promotion, promotion_id) {
        return Err(Error::not_found("promotion"));
    }
    if let Some(shard) = app.config.flash_shard.filter(|s| !s.owns(promotion_id)) {
        let owner = Shard::owner(promotion_id, shard.count);
        return Err(Error::new(
            ErrorKind::Misdirected,
            "wrong_shard",
            format!(
                "flash shard {owner}/{} decides this promotion; this is {}/{}",
                shard.count, shard.index, shard.count
            ),
        ));
    }
    let country = parse_country(ship_to.trim().to_ascii_uppercase().as_str(), "ship_to")?;
    let buy = FlashBuy {
        buyer_id: buyer_id.to_string(),
        promotion_id: promotion_id.to_string(),
        quantity,
        country,
        idempotency,
    };
    app.flash().buy(buy).await
}

/// The engine's answer to an accepted request.
#[derive(Debug, Clone)]
pub enum Bought {
    /// A new paid order.
    Order(FlashReceipt),
    /// An earlier request with the same `Idempotency-Key` finished with this response.
    Replay { status: u16, body: String },
}

/// What an accepted request bought: a paid order, its money in escrow.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FlashReceipt {
    pub order_id: String,
    pub promotion_id: String,
    pub quantity: i64,
    pub unit_price: Money,
    pub total: Money,
    /// Always `paid`: the order and its payment commit together.
    pub state: &'static str,
}

#[derive(Debug, Clone, Copy)]
pub struct EngineConfig {
    /// The most requests decided in one transaction.
    pub max_batch: usize,
    /// How long the first request of a batch waits for company.
    pub linger: Duration,
    /// How long committed orders may wait to be written out while requests keep coming.
    pub write_out_lag: Duration,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig { max_batch: 8192, linger: Duration::from_millis(1), write_out_lag: Duration::from_secs(2) }
    }
}

/// A lagging write-out (requests still coming) goes in chunks this many times smaller than an
/// idle one's, this many times as often: a full chunk held the writer, and with it every
/// buyer waiting, about 35 ms over HTTP at 400 clients.
const LAGGING_STEPS: usize = 8;

/// How long the queue stays empty before the engine counts as idle and writes orders out.
const IDLE_AFTER: Duration = Duration::from_millis(20);

/// The pause between the chunks of an idle write-out: idleness is known by then, and the
/// pause is only to let other writers (another process sharing SQLite's file) have the lock.
const IDLE_PAUSE: Duration = Duration::from_millis(5);
/// How many times the smallest write-out chunk an idle engine's chunks grow to.
const IDLE_CHUNK_GROWTH: usize = 8;

/// Wallets the engine's book may hold before it starts afresh, to bound its memory.
const BOOK_CAPACITY: usize = 1 << 20;

struct Pending {
    buy: FlashBuy,
    reply: oneshot::Sender<Result<Bought>>,
}

/// A handle on the engine's task; cheap to clone.
#[derive(Clone)]
pub struct Engine {
    queue: mpsc::Sender<Pending>,
    activity: Activity,
}

/// When the engine last settled a batch, for [`Engine::busy`].
#[derive(Clone)]
struct Activity {
    /// Milliseconds after `started`; 0 before the first batch.
    last_batch_ms: Arc<AtomicU64>,
    started: std::time::Instant,
}

/// How long after its last batch the engine counts as busy.
const BUSY_FOR: Duration = Duration::from_millis(500);

impl Activity {
    fn settled(&self) {
        let ms = self.started.elapsed().as_millis().max(1) as u64;
        self.last_batch_ms.store(ms, Ordering::Relaxed);
    }

    fn busy(&self) -> bool {
        let last = self.last_batch_ms.load(Ordering::Relaxed);
        last > 0 && self.started.elapsed() < Duration::from_millis(last) + BUSY_FOR
    }
}

impl Engine {
    /// Starts the engine on a thread of its own. On the server's runtime its task would queue
    /// behind the HTTP tasks its own answers wake, once for every statement a batch sends to
    /// the database: about 3 ms of a 17 ms batch at 400 clients (over HTTP 11.3k orders/s with
    /// a thread of its own against 10.0k, measured).
    pub fn start(store: Store, policy: Policy, config: EngineConfig) -> Engine {
        let (queue, rx) = mpsc::channel(config.max_batch.max(1) * 4);
        let activity = Activity { last_batch_ms: Arc::new(AtomicU64::new(0)), started: std::time::Instant::now() };
        let engine_activity = activity.clone();
        std::thread::Builder::new()
            .name("flash-engine".into())
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
                rt.block_on(run(store, policy, config, rx, engine_activity));
            })
            .expect("a thread");
        Engine { queue, activity }
    }

    /// Whether buys are coming in: background writers that share SQLite's one writer leave
    /// it to the engine meanwhile (the engine writes its own orders out when idle, or every
    /// `write_out_lag`).
    pub fn busy(&self) -> bool {
        self.activity.busy()
    }

    /// Checks out and pays `buy`; answers once its order is committed, or with why not.
    pub async fn buy(&self, buy: FlashBuy) -> Result<Bought> {
        let (reply, answer) = oneshot::channel();
        let stopped = || Error::unavailable("unavailable", "the order engine stopped");
        self.queue.send(Pending { buy, reply }).await.map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

async fn run(store: Store, policy: Policy, config: EngineConfig, mut rx: mpsc::Receiver<Pending>, activity: Activity) {
    // When the oldest committed order not yet written out was committed, if any may be.
    let mut unwritten: Option<tokio::time::Instant> = None;
    // The book as of the last batch decided (committed, or being written), so a batch reads
    // only what is new to it.
    let mut book = FlashBook::default();
    // The batch being written and committed while the next one is decided.
    let mut in_flight: Option<InFlight> = None;
    // Requests a batch decided ahead could not settle from the book alone.
    let mut carried: Vec<Pending> = Vec::new();
    // Whether the last thing done was an idle write-out chunk.
    let mut idle = false;
    // The next idle chunk's size: it doubles while no buy comes (a commit spread over more
    // orders), and is back to the smallest as soon as one does, so a buy waits behind at most
    // one large chunk.
    let mut idle_chunk = flash_out::WRITE_OUT_CHUNK;
    loop {
        let mut batch = std::mem::take(&mut carried);
        // Carried requests were refused from a book that may not have seen a top-up or a
        // restock: they are decided in a transaction that can look again.
        let may_go_ahead = batch.is_empty();
        if batch.is_empty() {
            let lagging = unwritten.is_some_and(|t| t.elapsed() >= config.write_out_lag);
            let first = match rx.try_recv() {
                Ok(p) if !lagging => p,
                Err(mpsc::error::TryRecvError::Empty) if unwritten.is_none() => {
                    land(&store, &mut book, &mut in_flight).await;
                    match rx.recv().await {
                        Some(p) => p,
                        None => break,
                    }
                }
                Err(mpsc::error::TryRecvError::Disconnected) if unwritten.is_none() => break,
                // Answered clients send again within a few milliseconds: an empty queue right
                // after a batch is not idleness, and a write-out there would hold up the next.
                // The batch in flight goes on meanwhile: the next may still be decided ahead.
                Err(mpsc::error::TryRecvError::Empty) if !lagging => {
                    let wait = if idle { IDLE_PAUSE } else { IDLE_AFTER };
                    match tokio::time::timeout(wait, rx.recv()).await {
                        Ok(Some(p)) => p,
                        Ok(None) | Err(_) => {
                            land(&store, &mut book, &mut in_flight).await;
                            unwritten =
                                write_out_chunk(&store, &policy, idle_chunk).await.then(tokio::time::Instant::now);
                            idle_chunk = (idle_chunk * 2).min(flash_out::WRITE_OUT_CHUNK * IDLE_CHUNK_GROWTH);
                            idle = true;
                            continue;
                        }
                    }
                }
                waiting => {
                    // Idle, closing, or lagging: write out a chunk, then take what waits.
                    land(&store, &mut book, &mut in_flight).await;
                    // Lagging: a small chunk, and the next one due in an eighth of the lag: as
                    // many orders written out as a full chunk per lag, without holding every
                    // waiting buyer up behind the writer for as long.
                    let (size, sooner) = match lagging {
                        true => (
                            flash_out::WRITE_OUT_CHUNK / LAGGING_STEPS,
                            config.write_out_lag - config.write_out_lag / LAGGING_STEPS as u32,
                        ),
                        false => (flash_out::WRITE_OUT_CHUNK, Duration::ZERO),
                    };
                    unwritten = write_out_chunk(&store, &policy, size).await.then(|| {
                        let now = tokio::time::Instant::now();
                        now.checked_sub(sooner).unwrap_or(now)
                    });
                    match waiting {
                        Ok(p) => p,
                        Err(_) => continue,
                    }
                }
            };
            batch.push(first);
            idle = false;
            idle_chunk = flash_out::WRITE_OUT_CHUNK;
        }
        let until = tokio::time::Instant::now() + config.linger;
        while batch.len() < config.max_batch {
            match rx.try_recv() {
                Ok(p) => batch.push(p),
                Err(mpsc::error::TryRecvError::Disconnected) => break,
                Err(mpsc::error::TryRecvError::Empty) => match tokio::time::timeout_at(until, rx.recv()).await {
                    Ok(Some(p)) => batch.push(p),
                    _ => break,
                },
            }
        }
        activity.settled();
        let ahead = may_go_ahead && in_flight.as_ref().is_some_and(|f| !f.shares_key(&batch)) && in_book(&book, &batch);
        let (batch, decided) = if ahead {
            match decide_ahead(&store, &mut book, batch, &mut in_flight).await {
                Ahead::Decided(batch, d) => (batch, Ok((None, d))),
                // The batch before failed: what this one was decided against is gone.
                Ahead::Void(batch) => {
                    carried = batch;
                    continue;
                }
            }
        } else {
            land(&store, &mut book, &mut in_flight).await;
            if book.book.wallets.len() > BOOK_CAPACITY {
                book = FlashBook::default();
            }
            let buys: Vec<&FlashBuy> = batch.iter().map(|p| &p.buy).collect();
            let prepared = prepare(&store, &mut book, &buys).await.map(|(tx, d)| (Some(tx), d));
            drop(buys);
            (batch, prepared)
        };
        match decided {
            Ok((tx, d)) => {
                if !d.orders.is_empty() && unwritten.is_none() {
                    unwritten = Some(tokio::time::Instant::now());
                }
                let terms = book.terms(&d.orders);
                let mut answers = Vec::with_capacity(batch.len());
                for (p, r) in batch.into_iter().zip(d.results) {
                    match r {
                        Some(r) => answers.push((p, r)),
                        None => carried.push(p),
                    }
                }
                in_flight = Some(InFlight::start(store.clone(), tx, d.orders, terms, answers));
            }
            Err(e) => {
                book = FlashBook::default();
                tracing::debug!(error = %e, size = batch.len(), "a flash batch failed; deciding its requests one by one");
                decide_each(&store, &mut book, batch).await;
            }
        }
    }
    land(&store, &mut book, &mut in_flight).await;
}

/// Writes out one chunk of at most `size` committed orders; whether some may be left.
async fn write_out_chunk(store: &Store, policy: &Policy, size: usize) -> bool {
    match store.write_out_flash(flash_out::Pending::Oldest(size), policy).await {
        Ok(n) => n == size,
        Err(e) => {
            tracing::warn!(error = %e, "writing out flash orders failed; the jobs runner retries");
            false
        }
    }
}
