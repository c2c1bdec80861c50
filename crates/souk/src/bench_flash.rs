//! `souk bench flash-sale`: B funded buyers, S hot SKUs on flash sale, C clients buying at
//! once. Measured twice in the same run on fresh promotions: through the batched engine (group
//! commit) and with one transaction per order (the engine with batches of one), then checked:
//! nothing oversold, the ledger sound. The baseline runs first, so the batched run's write-out
//! never competes with it. With `--url`, the batched run goes through the API of a running
//! server instead; the baseline stays in-process.

use crate::http::{http_addr, Conn};
use serde::Serialize;
use souk_app::accounts::token_hash;
use souk_app::flash::{Engine, EngineConfig, FlashBuy};
use souk_app::seed::flash::{flash_sale, Sale, SaleSpec};
use souk_domain::order::Policy;
use souk_store::Store;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy)]
pub struct FlashParams {
    pub buyers: usize,
    pub skus: usize,
    pub stock: i64,
    pub clients: usize,
    pub requests: usize,
    /// Requests of the baseline run, one transaction each.
    pub baseline_requests: usize,
    /// The in-process engine's batch size.
    pub max_batch: usize,
}

#[derive(Debug, Serialize)]
pub struct FlashReport {
    pub backend: String,
    /// `in-process` (the engine called directly) or `http` (through the API at `--url`).
    pub mode: String,
    pub buyers: usize,
    pub skus: usize,
    pub clients: usize,
    pub requests: usize,
    pub orders_per_sec: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub sold: i64,
    pub rejected: usize,
    /// Units sold past a promotion's stock: must be 0.
    pub oversold: i64,
    pub ledger_balanced: bool,
    /// Orders still in the journal (paid, not yet written out in full) when the run ended, and
    /// how long writing them out took after it.
    pub unwritten_at_end: i64,
    pub write_out_ms: f64,
    /// Paid orders a second counted until the last one was written out in full.
    pub written_out_orders_per_sec: f64,
    /// One transaction per order, same requests, same machine, same run.
    pub plain_orders_per_sec: f64,
    pub plain_p50_ms: f64,
    pub plain_p99_ms: f64,
    pub speedup: f64,
}

impl std::fmt::Display for FlashReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {:.0} paid orders/s (p50 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms), one transaction per order \
             {:.0}/s: {:.1}x; sold {}, rejected {}, oversold {}, ledger balanced: {}",
            self.backend,
            self.mode,
            self.orders_per_sec,
            self.p50_ms,
            self.p99_ms,
            self.p999_ms,
            self.plain_orders_per_sec,
            self.speedup,
            self.sold,
            self.rejected,
            self.oversold,
            self.ledger_balanced
        )
    }
}

async fn seed(store: &Store, p: &FlashParams, tag: &str) -> Result<Sale, String> {
    let spec = SaleSpec {
        tag: tag.into(),
        skus: p.skus,
        stock: p.stock,
        per_buyer_limit: p.stock,
        price: 9_900,
        funds: vec![100_000_000; p.buyers],
    };
    flash_sale(store, &spec).await.map_err(|e| e.to_string())
}

/// Latencies in ms (sorted) and the wall time of sending `requests` requests from `clients`
/// tasks, each a random buyer and promotion; `call` sends one (request number, client number)
/// and says whether it sold.
async fn drive<F, Fut>(market: &Sale, clients: usize, requests: usize, call: F) -> (Vec<f64>, Duration, usize)
where
    F: Fn(String, String, usize, usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let next = Arc::new(AtomicUsize::new(0));
    let sold = Arc::new(AtomicUsize::new(0));
    let call = Arc::new(call);
    let (promotions, buyers) = (Arc::new(market.promotions.clone()), Arc::new(market.buyers.clone()));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..clients {
        let (next, sold, call) = (next.clone(), sold.clone(), call.clone());
        let (promotions, buyers) = (promotions.clone(), buyers.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut x = (c as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= requests {
                    break;
                }
                // xorshift: cheap, reproducible picks.
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let buyer = buyers[(x % buyers.len() as u64) as usize].clone();
                let promo = promotions[((x >> 32) % promotions.len() as u64) as usize].clone();
                let t = Instant::now();
                if call(buyer, promo, n, c).await {
                    sold.fetch_add(1, Ordering::Relaxed);
                }
                latencies.push(t.elapsed().as_secs_f64() * 1000.0);
            }
            latencies
        }));
    }
    let mut all = Vec::with_capacity(requests);
    for t in tasks {
        all.extend(t.await.unwrap_or_default());
    }
    let elapsed = started.elapsed();
    all.sort_by(|a, b| a.total_cmp(b));
    (all, elapsed, sold.load(Ordering::Relaxed))
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1]
}

type Call = std::pin::Pin<Box<dyn std::future::Future<Output = bool> + Send>>;

fn engine_call(engine: Engine) -> impl Fn(String, String, usize, usize) -> Call + Send + Sync {
    move |buyer_id, promotion_id, _, _| {
        let engine = engine.clone();
        Box::pin(async move {
            let buy = FlashBuy { buyer_id, promotion_id, quantity: 1, country: "DE".into(), idempotency: None };
            engine.buy(buy).await.is_ok()
        })
    }
}

/// Runs the benchmark in this process against `store`.
pub async fn run(store: &Store, policy: &Policy, p: FlashParams) -> Result<FlashReport, String> {
    let tag = format!("{:x}", store.now_ms());
    let plain = baseline(store, policy, &p, &tag).await?;
    let market = seed(store, &p, &format!("{tag}A")).await?;
    let config = EngineConfig { max_batch: p.max_batch, ..EngineConfig::default() };
    let engine = Engine::start(store.clone(), policy.clone(), config);
    let measured = drive(&market, p.clients, p.requests, engine_call(engine.clone())).await;
    let unwritten_at_end = store.flash_pending().await.map_err(|e| format!("counting the journal: {e}"))?;
    let t = Instant::now();
    let written = store.write_out_all_flash(policy).await.map_err(|e| format!("writing out: {e}"));
    let r = match written {
        Ok(_) => report(store, p, "in-process", measured, plain, unwritten_at_end, t.elapsed()).await,
        Err(e) => Err(e),
    };
    // Only now: on PostgreSQL a connection the engine's runtime opened for the shared pool
    // works only while that runtime runs, which is as long as the engine has a handle.
    drop(engine);
    r
}

/// Runs the benchmark through the API of the server at `url`, which must use the same
/// database as `store`: buyers, promotions and sessions are seeded there directly, before the
/// batched run. After it this process only reads: the server writes its orders out itself,
/// and on SQLite a second process writing beside a busy server could wait for the file's
/// one write lock longer than any timeout.
pub async fn run_http(store: &Store, policy: &Policy, url: &str, p: FlashParams) -> Result<FlashReport, String> {
    let tag = format!("{:x}", store.now_ms());
    let plain = baseline(store, policy, &p, &tag).await?;
    let market = seed(store, &p, &format!("{tag}A")).await?;
    let mut tokens = HashMap::new();
    let mut tx = store.begin().await.map_err(|e| e.to_string())?;
    for buyer in &market.buyers {
        let token = souk_app::accounts::random_token();
        tx.create_session(buyer, &token_hash(&token), 3_600_000, "souk bench").await.map_err(|e| e.to_string())?;
        tokens.insert(buyer.clone(), format!("Bearer {token}"));
    }
    tx.commit().await.map_err(|e| e.to_string())?;
    let addr = http_addr(url)?;
    let conns: Arc<Vec<tokio::sync::Mutex<Option<Conn>>>> =
        Arc::new((0..p.clients).map(|_| tokio::sync::Mutex::new(None)).collect());
    let (host, tokens, run_key) = (Arc::new(addr.clone()), Arc::new(tokens), Arc::new(tag.clone()));
    let call = move |buyer: String, promotion: String, n: usize, client: usize| {
        let (conns, host, tokens, run_key) = (conns.clone(), host.clone(), tokens.clone(), run_key.clone());
        Box::pin(async move {
            let body = r#"{"quantity":1,"ship_to":"DE"}"#;
            let request = format!(
                "POST /api/v1/promotions/{promotion}/buy HTTP/1.1\r\nhost: {host}\r\nauthorization: {}\r\n\
                 idempotency-key: flash-{run_key}-{n}\r\ncontent-type: application/json\r\n\
                 content-length: {}\r\n\r\n{body}",
                tokens.get(&buyer).map_or("", String::as_str),
                body.len()
            );
            let mut slot = conns[client].lock().await;
            let status = match slot.take() {
                Some(c) => c.send(request.as_bytes()).await,
                None => Err(std::io::ErrorKind::NotConnected.into()),
            };
            // A connection the server closed (or none yet): once more on a new one.
            let status = match status {
                Ok(ok) => Ok(ok),
                Err(_) => match Conn::open(&host).await {
                    Ok(c) => c.send(request.as_bytes()).await,
                    Err(e) => Err(e),
                },
            };
            match status {
                Ok((c, status)) => {
                    *slot = c;
                    status == 201
                }
                Err(_) => false,
            }
        }) as Call
    };
    let measured = drive(&market, p.clients, p.requests, call).await;
    let count = || async { store.flash_pending().await.map_err(|e| format!("counting the journal: {e}")) };
    let unwritten_at_end = count().await?;
    let t = Instant::now();
    let (mut left, mut moved) = (unwritten_at_end, Instant::now());
    while left > 0 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let now_left = count().await?;
        if now_left < left {
            moved = Instant::now();
        } else if moved.elapsed() > STALLED {
            return Err(format!("the server wrote out none of its {now_left} journal orders in {STALLED:?}"));
        }
        left = now_left;
    }
    report(store, p, "http", measured, plain, unwritten_at_end, t.elapsed()).await
}

/// How long the server may write out nothing before an HTTP run gives up waiting for it.
const STALLED: Duration = Duration::from_secs(60);

/// The baseline: one transaction per order (the engine with batches of one), in this
/// process, on promotions of its own, its orders written out after.
struct Baseline {
    latencies: Vec<f64>,
    orders_per_sec: f64,
    /// Kept to the end of the report: on PostgreSQL a connection its runtime opened for the
    /// shared pool works only while that runtime runs.
    _engine: Engine,
}

async fn baseline(store: &Store, policy: &Policy, p: &FlashParams, tag: &str) -> Result<Baseline, String> {
    let market = seed(store, p, &format!("{tag}B")).await?;
    let single = Engine::start(
        store.clone(),
        policy.clone(),
        EngineConfig { max_batch: 1, linger: Duration::ZERO, ..EngineConfig::default() },
    );
    let (latencies, elapsed, sold) =
        drive(&market, p.clients, p.baseline_requests.max(1), engine_call(single.clone())).await;
    store.write_out_all_flash(policy).await.map_err(|e| format!("writing out the baseline: {e}"))?;
    Ok(Baseline { latencies, orders_per_sec: sold as f64 / elapsed.as_secs_f64(), _engine: single })
}

/// Checks the books and reports both runs; `write_out` is how long writing out the orders
/// still in the journal at the end took.
async fn report(
    store: &Store,
    p: FlashParams,
    mode: &str,
    (lat, elapsed, sold): (Vec<f64>, Duration, usize),
    plain: Baseline,
    unwritten_at_end: i64,
    write_out: Duration,
) -> Result<FlashReport, String> {
    let orders_per_sec = sold as f64 / elapsed.as_secs_f64();
    let books = store.ledger_check().await.map_err(|e| format!("checking the ledger: {e}"))?;
    Ok(FlashReport {
        backend: format!("{:?}", store.backend()).to_lowercase(),
        mode: mode.into(),
        buyers: p.buyers,
        skus: p.skus,
        clients: p.clients,
        requests: p.requests,
        orders_per_sec,
        p50_ms: pct(&lat, 0.50),
        p99_ms: pct(&lat, 0.99),
        p999_ms: pct(&lat, 0.999),
        sold: sold as i64,
        rejected: p.requests - sold,
        oversold: store.flash_oversold().await.map_err(|e| format!("counting oversold units: {e}"))?,
        ledger_balanced: books.sound,
        unwritten_at_end,
        write_out_ms: write_out.as_secs_f64() * 1000.0,
        written_out_orders_per_sec: sold as f64 / (elapsed + write_out).as_secs_f64(),
        plain_orders_per_sec: plain.orders_per_sec,
        plain_p50_ms: pct(&plain.latencies, 0.50),
        plain_p99_ms: pct(&plain.latencies, 0.99),
        speedup: if plain.orders_per_sec > 0.0 { orders_per_sec / plain.orders_per_sec } else { 0.0 },
    })
}
