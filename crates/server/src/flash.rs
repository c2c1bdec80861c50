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
//! no request has come for a moment, or once the oldest has waited `write_out_lag` even if requests keep
//! coming; reading an order that is still in the journal writes it out first.
//!
//! The database guards every shared counter (see `souk_store::flash`): should anything the book
//! holds have moved since it was read (another process, another path), the batch fails whole,
//! the book is dropped, and the batch's requests are decided again one at a time, each in its
//! own transaction against a fresh read (retried a few times if it moves again). A refusal for
//! want of money or stock looks at the store again first, in case a top-up or a restock came
//! after the book read it. On PostgreSQL a batch locks its promotions' rows, so processes that
//! share a promotion take turns rather than keep failing each other.

use crate::error::{AppError, AppResult};
use crate::idempotency::{in_progress, mismatch};
use axum::http::StatusCode;
use serde::Serialize;
use souk_domain::flash::{self, BuyRequest, Rejection};
use souk_domain::id::Kind;
use souk_domain::order::Policy;
use souk_domain::Money;
use souk_store::flash::{BatchTerms, FlashBook, FlashOrder, KeyAnswer};
use souk_store::flash_out;
use souk_store::{Store, StoreError};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

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

/// Wallets the engine's book may hold before it starts afresh, to bound its memory.
const BOOK_CAPACITY: usize = 1 << 20;

struct Pending {
    buy: FlashBuy,
    reply: oneshot::Sender<AppResult<Bought>>,
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
    pub async fn buy(&self, buy: FlashBuy) -> AppResult<Bought> {
        let (reply, answer) = oneshot::channel();
        let stopped = || AppError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "the order engine stopped");
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
                            unwritten = write_out_chunk(&store, &policy, flash_out::WRITE_OUT_CHUNK)
                                .await
                                .then(tokio::time::Instant::now);
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

/// Whether every request of `batch` can be decided from `fb` alone: its promotion and wallet
/// held.
fn in_book(fb: &FlashBook, batch: &[Pending]) -> bool {
    batch.iter().all(|p| {
        let b = &p.buy;
        fb.meta.contains_key(&b.promotion_id)
            && fb
                .book
                .promotions
                .get(&b.promotion_id)
                .is_some_and(|promo| fb.book.wallets.contains_key(&(b.buyer_id.clone(), promo.price.currency.code())))
    })
}

enum Ahead {
    /// Decided against the book the batch before left, which committed.
    Decided(Vec<Pending>, Decided),
    /// The batch before failed after all; this one must be decided again.
    Void(Vec<Pending>),
}

/// Decides `batch` from the book while the batch before is written (yielding to it now and
/// then, as both run on this thread), then waits for that one to commit. Its keys are looked
/// up as committed, on a reader's connection: the caller made sure none is the batch in
/// flight's, and a key committed meanwhile by anyone else fails this batch's insert.
async fn decide_ahead(
    store: &Store,
    fb: &mut FlashBook,
    batch: Vec<Pending>,
    in_flight: &mut Option<InFlight>,
) -> Ahead {
    let buys: Vec<&FlashBuy> = batch.iter().map(|p| &p.buy).collect();
    let keys: Vec<(&str, &str)> =
        buys.iter().filter_map(|b| b.idempotency.as_ref()).map(|(s, k, _)| (s.as_str(), k.as_str())).collect();
    let records = match store.idempotency_records(&keys).await {
        Ok(records) => records,
        Err(e) => {
            tracing::debug!(error = %e, "reading a flash batch's keys failed; it is decided in its transaction");
            drop((keys, buys));
            land(store, fb, in_flight).await;
            return Ahead::Void(batch);
        }
    };
    drop(keys);
    let decided = decide(store, fb, &buys, &records, None).await;
    drop(buys);
    let landed = land(store, fb, in_flight).await;
    match decided {
        Ok(d) if landed => Ahead::Decided(batch, d),
        Ok(_) => Ahead::Void(batch),
        Err(_) => {
            // Half decided: the book is ahead of everything written.
            *fb = FlashBook::default();
            Ahead::Void(batch)
        }
    }
}

/// A batch being written and committed on a task of its own, which answers its requests once
/// it commits; if it fails, it hands them back.
struct InFlight {
    task: tokio::task::JoinHandle<Option<Vec<Pending>>>,
    /// Its requests' `Idempotency-Key`s: a batch with one of them (whoever's) waits for it.
    keys: std::collections::HashSet<String>,
}

impl InFlight {
    /// Writes `orders` in `tx` (begun now if none) and commits, then answers.
    fn start(
        store: Store,
        tx: Option<souk_store::Tx>,
        orders: Vec<FlashOrder>,
        terms: BatchTerms,
        answers: Vec<(Pending, AppResult<Bought>)>,
    ) -> InFlight {
        let keys = answers.iter().filter_map(|(p, _)| p.buy.idempotency.as_ref()).map(|(_, k, _)| k.clone()).collect();
        let task = tokio::spawn(async move {
            let started = std::time::Instant::now();
            let outcome = async {
                let mut tx = match tx {
                    Some(tx) => tx,
                    None => store.begin().await?,
                };
                tx.write_flash(&orders, &terms).await?;
                let written = started.elapsed();
                tx.commit().await?;
                Ok::<_, StoreError>(written)
            }
            .await;
            match outcome {
                Ok(written) => {
                    tracing::debug!(
                        orders = orders.len(),
                        write_us = written.as_micros() as u64,
                        commit_us = (started.elapsed() - written).as_micros() as u64,
                        "flash batch written"
                    );
                    for (p, r) in answers {
                        let _ = p.reply.send(r);
                    }
                    None
                }
                Err(e) => {
                    tracing::debug!(error = %e, size = answers.len(), "a flash batch failed; deciding its requests one by one");
                    Some(answers.into_iter().map(|(p, _)| p).collect())
                }
            }
        });
        InFlight { task, keys }
    }

    /// Whether a request of `batch` carries a key of this one (a retry, or a client reusing it).
    fn shares_key(&self, batch: &[Pending]) -> bool {
        !self.keys.is_empty()
            && batch.iter().filter_map(|p| p.buy.idempotency.as_ref()).any(|(_, k, _)| self.keys.contains(k.as_str()))
    }
}

/// Waits for the batch in flight, if any; whether it committed (or there was none). One that
/// failed leaves the book empty and its requests decided again one at a time.
async fn land(store: &Store, fb: &mut FlashBook, in_flight: &mut Option<InFlight>) -> bool {
    let Some(InFlight { task, .. }) = in_flight.take() else { return true };
    match task.await {
        Ok(None) => true,
        Ok(Some(batch)) => {
            *fb = FlashBook::default();
            decide_each(store, fb, batch).await;
            false
        }
        // The task panicked: its requests' senders are gone, so they were answered 503.
        Err(_) => {
            *fb = FlashBook::default();
            false
        }
    }
}

/// Decides and answers each request of a failed batch alone.
async fn decide_each(store: &Store, fb: &mut FlashBook, batch: Vec<Pending>) {
    for p in batch {
        let r = decide_alone(store, fb, &p.buy).await;
        let _ = p.reply.send(r);
    }
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

/// One request in its own transaction, tried again (up to three times, each against a fresh
/// read) when what it was decided against moved before its commit or its transaction lost a
/// race. `book` is left as the store is after it, or empty.
async fn decide_alone(store: &Store, book: &mut FlashBook, buy: &FlashBuy) -> AppResult<Bought> {
    let mut tries = 0;
    loop {
        tries += 1;
        let outcome = async {
            let (mut tx, d) = prepare(store, book, &[buy]).await?;
            tx.write_flash(&d.orders, &book.terms(&d.orders)).await?;
            tx.commit().await?;
            Ok::<_, StoreError>(d)
        }
        .await;
        match outcome {
            Ok(mut d) => return d.results.remove(0).unwrap_or_else(|| Err(in_progress())),
            Err(e) => {
                *book = FlashBook::default();
                if !(tries < 3 && (e.lost_race() || matches!(e, StoreError::Conflict { code: "flash_moved", .. }))) {
                    return Err(e.into());
                }
                tokio::time::sleep(Duration::from_millis(5 * tries)).await;
            }
        }
    }
}

/// A batch decided: the orders to write, and each request's answer (none: carried into the
/// next batch, to be decided where the store can be looked at again).
struct Decided {
    orders: Vec<FlashOrder>,
    results: Vec<Option<AppResult<Bought>>>,
}

/// Begins a batch's transaction, completes the book in it and decides every request, leaving
/// the writes to the caller. `fb` may be ahead of the store after an error: the caller drops it.
async fn prepare(
    store: &Store,
    fb: &mut FlashBook,
    buys: &[&FlashBuy],
) -> Result<(souk_store::Tx, Decided), StoreError> {
    let asks: Vec<(&str, &str)> = buys.iter().map(|b| (b.promotion_id.as_str(), b.buyer_id.as_str())).collect();
    let keys: Vec<(&str, &str)> =
        buys.iter().filter_map(|b| b.idempotency.as_ref()).map(|(s, k, _)| (s.as_str(), k.as_str())).collect();
    let started = std::time::Instant::now();
    let mut tx = store.begin().await?;
    let begun = started.elapsed();
    tx.fill_flash_book(fb, &asks).await?;
    let filled = started.elapsed();
    let records = tx.idempotency_records(&keys).await?;
    let read = started.elapsed();
    let decided = decide(store, fb, buys, &records, Some(&mut tx)).await?;
    tracing::debug!(
        requests = buys.len(),
        orders = decided.orders.len(),
        begin_us = begun.as_micros() as u64,
        fill_us = (filled - begun).as_micros() as u64,
        read_us = read.as_micros() as u64,
        decide_us = (started.elapsed() - read).as_micros() as u64,
        "flash batch decided"
    );
    Ok((tx, decided))
}

/// Decides `buys` against `fb`, given the records already under their keys. With `tx`, a
/// refusal for want of money or stock looks at the store again first; without (a batch
/// decided ahead, from the book alone), such a request is carried into the next batch, and
/// the task yields now and then to the batch being written on the same thread.
async fn decide(
    store: &Store,
    fb: &mut FlashBook,
    buys: &[&FlashBuy],
    records: &HashMap<(String, String), souk_store::flash::KeyRecord>,
    mut tx: Option<&mut souk_store::Tx>,
) -> Result<Decided, StoreError> {
    let now = store.now_ms();
    let mut orders = Vec::with_capacity(buys.len());
    let mut results: Vec<Option<AppResult<Bought>>> = Vec::with_capacity(buys.len());
    // Which request of this batch first carried each key, for duplicates within it.
    let mut first: HashMap<(&str, &str), (usize, &str)> = HashMap::new();
    let mut refreshed = std::collections::HashSet::new();
    for (i, b) in buys.iter().enumerate() {
        if tx.is_none() && i % 64 == 63 {
            tokio::task::yield_now().await;
        }
        if let Some((scope, key, hash)) = &b.idempotency {
            // Usually none of a batch's keys was seen before: then no look-up key is built.
            let earlier = if records.is_empty() { None } else { records.get(&(scope.clone(), key.clone())) };
            if let Some(r) = earlier {
                results.push(Some(match &r.answer {
                    _ if r.request_hash != *hash => Err(mismatch()),
                    Some((status, body)) => Ok(Bought::Replay { status: *status, body: body.clone() }),
                    None => Err(in_progress()),
                }));
                continue;
            }
            if let Some((j, first_hash)) = first.get(&(scope.as_str(), key.as_str())) {
                results.push(Some(match &results[*j] {
                    _ if first_hash != hash => Err(mismatch()),
                    Some(Ok(Bought::Order(receipt))) => {
                        Ok(Bought::Replay { status: 201, body: receipt_body(receipt)? })
                    }
                    Some(same) => same.clone(),
                    None => Err(in_progress()),
                }));
                continue;
            }
            first.insert((scope, key), (i, hash));
        }
        if fb.meta.get(&b.promotion_id).is_some_and(|m| m.seller_id == b.buyer_id) {
            results.push(Some(Err(AppError::forbidden("sellers cannot buy from their own store"))));
            continue;
        }
        let req = BuyRequest {
            buyer_id: b.buyer_id.clone(),
            promotion_id: b.promotion_id.clone(),
            quantity: b.quantity,
            country: b.country.clone(),
        };
        let mut decided = flash::decide(&mut fb.book, &req, now);
        // The book may be older than a top-up or a restock: look again before refusing for want
        // of money or of the SKU's stock (the promotion's own count is exact, see `write_flash`).
        let doubtful = match decided {
            Err(Rejection::InsufficientFunds { .. }) => true,
            Err(Rejection::SoldOut) => fb.book.promotions.get(&b.promotion_id).is_some_and(|p| p.left >= b.quantity),
            _ => false,
        };
        if doubtful {
            match tx.as_deref_mut() {
                None => {
                    results.push(None);
                    continue;
                }
                Some(tx) if refreshed.insert((b.promotion_id.as_str(), b.buyer_id.as_str())) => {
                    tx.refresh_flash_book(fb, &b.promotion_id, &b.buyer_id, &orders).await?;
                    decided = flash::decide(&mut fb.book, &req, now);
                }
                Some(_) => {}
            }
        }
        match decided {
            Ok(accepted) => {
                let receipt = FlashReceipt {
                    order_id: store.new_id(Kind::Order),
                    promotion_id: b.promotion_id.clone(),
                    quantity: b.quantity,
                    unit_price: accepted.unit_price,
                    total: accepted.total,
                    state: "paid",
                };
                let idempotency = match &b.idempotency {
                    Some((scope, key, hash)) => Some(KeyAnswer {
                        scope: scope.clone(),
                        key: key.clone(),
                        request_hash: hash.clone(),
                        body: receipt_body(&receipt)?,
                    }),
                    None => None,
                };
                orders.push(FlashOrder {
                    order_id: receipt.order_id.clone(),
                    buyer_id: b.buyer_id.clone(),
                    promotion_id: b.promotion_id.clone(),
                    country: b.country.clone(),
                    quantity: b.quantity,
                    unit_price: accepted.unit_price,
                    idempotency,
                });
                results.push(Some(Ok(Bought::Order(receipt))));
            }
            Err(r) => results.push(Some(Err(refused(r)))),
        }
    }
    Ok(Decided { orders, results })
}

fn receipt_body(receipt: &FlashReceipt) -> Result<String, StoreError> {
    serde_json::to_string(receipt).map_err(|e| StoreError::Db(sqlx::Error::Protocol(e.to_string())))
}

/// The API's answer to a refused request.
fn refused(r: Rejection) -> AppError {
    match r {
        Rejection::UnknownPromotion => AppError::not_found("promotion"),
        Rejection::InvalidQuantity => {
            AppError::unprocessable("invalid", format!("1 to {} units", flash::MAX_QUANTITY)).with_field("quantity")
        }
        Rejection::DoesNotShip => {
            AppError::unprocessable("does_not_ship", "the product does not ship there").with_field("ship_to")
        }
        Rejection::NotStarted => AppError::conflict(r.code(), "the flash sale has not started"),
        Rejection::Ended => AppError::conflict(r.code(), "the flash sale has ended"),
        Rejection::SoldOut => AppError::conflict(r.code(), "sold out"),
        Rejection::LimitReached { left } => {
            AppError::conflict(r.code(), format!("the limit per buyer allows {left} more"))
        }
        Rejection::InsufficientFunds { missing } => {
            AppError::conflict(r.code(), format!("the wallet is short by {missing} minor units"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seed::flash::{flash_sale, SaleSpec};
    use proptest::prelude::*;
    use souk_store::SystemClock;
    use std::sync::Arc;

    #[test]
    fn the_engine_counts_as_busy_for_a_while_after_a_batch() {
        let fresh = Activity { last_batch_ms: Arc::new(AtomicU64::new(0)), started: std::time::Instant::now() };
        assert!(!fresh.busy(), "no batch yet");
        fresh.settled();
        assert!(fresh.busy());
        let past = std::time::Instant::now() - Duration::from_secs(10);
        let quiet = Activity { last_batch_ms: Arc::new(AtomicU64::new(1)), started: past };
        assert!(!quiet.busy(), "the last batch was 10 s ago");
    }

    /// A burst: (buyer, quantity) requests sent all at once.
    async fn burst(stock: i64, limit: i64, funds: Vec<i64>, requests: Vec<(usize, i64)>, max_batch: usize) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_sqlite(dir.path(), Arc::new(SystemClock)).await.unwrap();
        let spec =
            SaleSpec { tag: "p".into(), skus: 1, stock, per_buyer_limit: limit, price: 100, funds: funds.clone() };
        let sale = flash_sale(&store, &spec).await.unwrap();
        let promo = sale.promotions[0].clone();
        let config = EngineConfig { max_batch, linger: Duration::from_micros(200), ..EngineConfig::default() };
        let engine = Engine::start(store.clone(), Policy::default(), config);
        let calls = requests.iter().map(|&(b, quantity)| {
            let b = b % funds.len();
            let buyer_id = sale.buyers[b].clone();
            let buy =
                FlashBuy { buyer_id, promotion_id: promo.clone(), quantity, country: "DE".into(), idempotency: None };
            let engine = engine.clone();
            async move { (b, quantity, engine.buy(buy).await) }
        });
        let (mut bought, mut accepted) = (vec![0; funds.len()], 0);
        for (b, quantity, answer) in futures_util::future::join_all(calls).await {
            match answer {
                Ok(Bought::Order(r)) => {
                    assert_eq!((r.quantity, r.total.amount), (quantity, quantity * 100));
                    bought[b] += quantity;
                    accepted += 1;
                }
                Ok(Bought::Replay { .. }) => panic!("no keys were sent"),
                Err(e) => {
                    assert!(["sold_out", "limit_reached", "insufficient_funds"].contains(&e.code.as_str()), "{e:?}")
                }
            }
        }
        let sold: i64 = bought.iter().sum();
        assert!(sold <= stock, "oversold: {sold} of {stock}");
        for (b, n) in bought.iter().enumerate() {
            assert!(*n <= limit, "buyer {b} bought {n}, limit {limit}");
            assert!(n * 100 <= funds[b], "buyer {b} spent {} of {}", n * 100, funds[b]);
        }
        let view = store.promotion(&promo).await.unwrap();
        assert_eq!(view.sold, sold, "the counter is the acknowledged units");
        assert_eq!(store.flash_oversold().await.unwrap(), 0);
        let books = store.ledger_check().await.unwrap();
        assert!(books.sound, "sound while orders wait in the journal: {:?}", books.problems);
        store.write_out_all_flash(&Policy::default()).await.unwrap();
        assert_eq!(store.flash_pending().await.unwrap(), 0);
        let mut conn = store.reader().await.unwrap();
        let sql = "SELECT COUNT(*), CAST(COALESCE(SUM(l.quantity), 0) AS BIGINT) FROM orders o \
                   JOIN order_lines l ON l.order_id = o.id";
        let written: (i64, i64) = sqlx::query_as(sql).fetch_one(&mut *conn).await.unwrap();
        assert_eq!(written, (accepted, sold), "every acknowledged order written out once");
        drop(conn);
        assert_eq!(store.flash_oversold().await.unwrap(), 0);
        let books = store.ledger_check().await.unwrap();
        assert!(books.sound, "sound once written out: {:?}", books.problems);
        store.close().await;
    }

    /// Keyed buys sent while earlier batches are still being written, many of them repeating a
    /// key of a batch in flight or already committed: one order per key, every repeat answered
    /// with it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn repeated_keys_buy_once_while_batches_are_decided_ahead() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_sqlite(dir.path(), Arc::new(SystemClock)).await.unwrap();
        let spec = SaleSpec {
            tag: "k".into(),
            skus: 1,
            stock: 10_000,
            per_buyer_limit: 10_000,
            price: 100,
            funds: vec![1_000_000; 8],
        };
        let sale = flash_sale(&store, &spec).await.unwrap();
        let config = EngineConfig { max_batch: 16, linger: Duration::from_micros(100), ..EngineConfig::default() };
        let engine = Engine::start(store.clone(), Policy::default(), config);
        let buy = |n: usize| {
            let buyer_id = sale.buyers[n % 8].clone();
            let idempotency = Some((buyer_id.clone(), format!("key-{n}"), format!("hash-{n}")));
            let buy = FlashBuy {
                buyer_id,
                promotion_id: sale.promotions[0].clone(),
                quantity: 1,
                country: "DE".into(),
                idempotency,
            };
            let engine = engine.clone();
            async move { (n, engine.buy(buy).await) }
        };
        let mut orders: HashMap<usize, String> = HashMap::new();
        let mut pending = Vec::new();
        for wave in 0..40usize {
            // New keys, and again those of the last two waves.
            let keys = (wave * 8..wave * 8 + 8).chain(wave.saturating_sub(2) * 8..wave * 8);
            pending.extend(keys.map(|n| tokio::spawn(buy(n))));
            tokio::time::sleep(Duration::from_micros(300)).await;
        }
        for task in pending {
            let (n, answer) = task.await.unwrap();
            let order_id = match answer.unwrap() {
                Bought::Order(r) => r.order_id,
                Bought::Replay { status, body } => {
                    assert_eq!(status, 201);
                    serde_json::from_str::<serde_json::Value>(&body).unwrap()["order_id"].as_str().unwrap().to_string()
                }
            };
            let first = orders.entry(n).or_insert_with(|| order_id.clone());
            assert_eq!(*first, order_id, "key-{n} answered with two orders");
        }
        assert_eq!(orders.len(), 320);
        assert_eq!(store.promotion(&sale.promotions[0]).await.unwrap().sold, 320, "one unit per key");
        store.write_out_all_flash(&Policy::default()).await.unwrap();
        let mut conn = store.reader().await.unwrap();
        let written: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM orders").fetch_one(&mut *conn).await.unwrap();
        assert_eq!(written, 320);
        drop(conn);
        store.close().await;
    }

    /// Once buys stop, the engine writes its committed orders out by itself.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_quiet_engine_writes_its_orders_out() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_sqlite(dir.path(), Arc::new(SystemClock)).await.unwrap();
        let spec = SaleSpec { tag: "q".into(), skus: 1, stock: 10, per_buyer_limit: 10, price: 100, funds: vec![5000] };
        let sale = flash_sale(&store, &spec).await.unwrap();
        let engine = Engine::start(store.clone(), Policy::default(), EngineConfig::default());
        for _ in 0..3 {
            let buy = FlashBuy {
                buyer_id: sale.buyers[0].clone(),
                promotion_id: sale.promotions[0].clone(),
                quantity: 1,
                country: "DE".into(),
                idempotency: None,
            };
            assert!(matches!(engine.buy(buy).await, Ok(Bought::Order(_))));
        }
        let mut pending = store.flash_pending().await.unwrap();
        for _ in 0..200 {
            if pending == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
            pending = store.flash_pending().await.unwrap();
        }
        assert_eq!(pending, 0, "written out within 2 s of the last buy");
        let mut conn = store.reader().await.unwrap();
        let orders: (i64,) = sqlx::query_as("SELECT COUNT(*) FROM orders").fetch_one(&mut *conn).await.unwrap();
        assert_eq!(orders.0, 3);
        drop(conn);
        store.close().await;
    }

    /// The engine keeps its book from batch to batch, yet sees what moved elsewhere meanwhile:
    /// a top-up (before refusing), a payout (the wallet's guard), a product taken off sale.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_kept_book_sees_what_moved_elsewhere() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_sqlite(dir.path(), Arc::new(SystemClock)).await.unwrap();
        let spec =
            SaleSpec { tag: "k".into(), skus: 1, stock: 10, per_buyer_limit: 10, price: 100, funds: vec![300, 2000] };
        let sale = flash_sale(&store, &spec).await.unwrap();
        let engine = Engine::start(store.clone(), Policy::default(), EngineConfig::default());
        let buy = |b: usize, quantity: i64| {
            let buyer_id = sale.buyers[b].clone();
            let promotion_id = sale.promotions[0].clone();
            let engine = engine.clone();
            async move {
                let buy = FlashBuy { buyer_id, promotion_id, quantity, country: "DE".into(), idempotency: None };
                engine.buy(buy).await.map(|_| ()).map_err(|e| e.code)
            }
        };
        let cny = souk_domain::Currency::from_code("CNY").unwrap();
        let top_up = |b: usize, amount: i64| {
            let (store, user) = (store.clone(), sale.buyers[b].clone());
            async move {
                let mut tx = store.begin().await.unwrap();
                let t = tx.create_top_up(&user, Money::new(amount, cny), "sandbox", "4242").await.unwrap();
                tx.settle_top_up(&t.id, true, None).await.unwrap();
                tx.commit().await.unwrap();
            }
        };
        assert_eq!(buy(0, 3).await, Ok(()));
        assert_eq!(buy(0, 1).await, Err("insufficient_funds".to_string()));
        top_up(0, 200).await;
        assert_eq!(buy(0, 2).await, Ok(()), "the top-up is seen before refusing");

        assert_eq!(buy(1, 1).await, Ok(()));
        let mut tx = store.begin().await.unwrap();
        tx.payout(&sale.buyers[1], Money::new(1_850, cny), "sandbox", "bank").await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(buy(1, 1).await, Err("insufficient_funds".to_string()), "the payout is seen");
        assert_eq!(store.wallet(&sale.buyers[1]).await.unwrap()[0].available.amount, 50);

        top_up(1, 1_000).await;
        let product = store.promotion(&sale.promotions[0]).await.unwrap().product_id;
        let mut tx = store.begin().await.unwrap();
        let off_sale = souk_domain::catalog::ProductPatch {
            status: Some(souk_domain::catalog::ProductStatus::Archived),
            ..Default::default()
        };
        tx.update_product(&product, &off_sale).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(buy(1, 1).await, Err("not_found".to_string()), "off sale");

        assert_eq!(store.promotion(&sale.promotions[0]).await.unwrap().sold, 6);
        let books = store.ledger_check().await.unwrap();
        assert!(books.sound, "{:?}", books.problems);
        store.close().await;
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]
        /// Random concurrent bursts against random stock, limits and wallets, decided in
        /// random batch sizes: never oversold, never past a limit or a wallet, books sound.
        #[test]
        fn random_bursts_never_oversell(
            stock in 1i64..30,
            limit in 1i64..6,
            funds in prop::collection::vec(0i64..1_200, 1..7),
            requests in prop::collection::vec((0usize..7, 1i64..4), 1..60),
            max_batch in 1usize..48,
        ) {
            let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
            // A limit above the promotion's stock is refused when scheduling.
            rt.block_on(burst(stock, limit.min(stock), funds, requests, max_batch));
        }
    }
}
