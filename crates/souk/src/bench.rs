//! `souk bench ...`: measured performance, printed as one JSON object. Targets live here and in
//! docs/performance.md, never in tests.

use crate::config::Config;
use serde::Serialize;
use souk_domain::catalog::ProductStatus;
use souk_search::query::Request;
use souk_search::{IndexDoc, SearchIndex, Sort};
use souk_store::catalog::ProductFilter;
use souk_store::Store;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Debug, Serialize)]
pub struct SearchReport {
    pub products: u64,
    pub index_s: f64,
    pub index_bytes: u64,
    pub rss_bytes: u64,
    pub queries: usize,
    pub clients: usize,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub qps: f64,
    /// The same mix with the ranking cache off: every query does its full work, as after each
    /// change to the catalog.
    pub uncached_p50_ms: f64,
    pub uncached_p95_ms: f64,
    pub uncached_p99_ms: f64,
    pub uncached_qps: f64,
    /// The mix again, with the caches on, while the catalog changes: `churn_updates` products
    /// re-indexed per commit, a commit every 200 ms as the feed follower does under steady
    /// writes. Each commit makes the whole-result cache miss; per-segment results survive.
    pub churn_updates: usize,
    pub churn_commits: usize,
    pub churn_p50_ms: f64,
    pub churn_p95_ms: f64,
    pub churn_p99_ms: f64,
    pub churn_qps: f64,
    /// Mean milliseconds of each query of the mix, to see which kind costs what.
    pub mix: Vec<MixEntry>,
}

impl std::fmt::Display for SearchReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} products indexed in {:.1} s ({} MB on disk); {} queries from {} clients: \
             p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms, {:.0} queries/s; RSS {} MB",
            self.products,
            self.index_s,
            self.index_bytes / 1_000_000,
            self.queries,
            self.clients,
            self.p50_ms,
            self.p95_ms,
            self.p99_ms,
            self.qps,
            self.rss_bytes / 1_000_000
        )
    }
}

#[derive(Debug, Serialize)]
pub struct MixEntry {
    pub query: String,
    pub mean_ms: f64,
}

fn label(r: &Request) -> String {
    let mut parts = vec![format!("q={:?}", r.q)];
    let mut add = |name: &str, v: Option<String>| parts.extend(v.map(|v| format!("{name}={v}")));
    add("category", r.category.clone());
    add("ships_to", r.ships_to.clone());
    add("in_stock", r.in_stock.then(|| "true".to_string()));
    add("currency", r.currency.clone());
    add("price_min", r.price_min.map(|p| p.to_string()));
    add("price_max", r.price_max.map(|p| p.to_string()));
    add("min_seller_rating", r.min_seller_rating.map(|p| p.to_string()));
    add("sort", (r.sort != Sort::Relevance).then(|| format!("{:?}", r.sort)));
    add("offset", (r.offset > 0).then(|| r.offset.to_string()));
    add("explain", r.explain.then(|| "true".to_string()));
    parts.join(" ")
}

/// The fixed mix: words alone, with filters, Chinese, a typo, empty queries that rank the whole
/// catalog by the signals, and every sort.
fn query_mix() -> Vec<Request> {
    let r = |q: &str| Request { q: q.into(), limit: 20, ..Default::default() };
    vec![
        r("wireless earbuds"),
        Request { category: Some("home".into()), in_stock: true, ..r("bamboo") },
        r("连衣裙"),
        Request { ships_to: Some("DE".into()), sort: Sort::PriceAsc, ..r("cotton shirt") },
        Request { category: Some("electronics/audio".into()), ..r("") },
        Request {
            currency: Some("USD".into()),
            price_min: Some(1_000),
            price_max: Some(10_000),
            ..r("leather handbag")
        },
        r("smartwach"),
        Request { min_seller_rating: Some(40.0), explain: true, ..r("steel") },
        r(""),
        Request { sort: Sort::Newest, ..r("black") },
        Request { ships_to: Some("JP".into()), in_stock: true, ..r("green tea") },
        Request { sort: Sort::Rating, ..r("yoga mat") },
        r("蓝牙耳机 portable"),
        Request { offset: 40, ..r("premium") },
    ]
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i].as_secs_f64() * 1000.0
}

/// Resident memory of this process, from /proc (0 where there is none).
fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

struct Run {
    /// (query of the mix, latency), in completion order per client.
    timed: Vec<(usize, Duration)>,
    sorted: Vec<Duration>,
    elapsed: Duration,
}

impl Run {
    fn qps(&self) -> f64 {
        self.sorted.len() as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    fn mean_ms(&self, query: usize) -> f64 {
        let times: Vec<f64> =
            self.timed.iter().filter(|(q, _)| *q == query).map(|(_, d)| d.as_secs_f64() * 1000.0).collect();
        times.iter().sum::<f64>() / times.len().max(1) as f64
    }
}

/// Products re-indexed per commit in the churn run.
const CHURN_UPDATES: usize = 20;
const CHURN_INTERVAL: Duration = Duration::from_millis(200);
/// Commits the churn run waits for: 10 seconds of steady writes.
const CHURN_COMMITS: usize = 50;

/// Runs `queries` queries of the mix, round robin, from `clients` threads; with `churn`, a
/// writer meanwhile re-indexes those products in turns, `CHURN_UPDATES` per commit, and the
/// queries go on until `CHURN_COMMITS` commits. Returns the run and the number of commits.
fn run_mix(index: &SearchIndex, mix: &[Request], queries: usize, clients: usize, churn: &[IndexDoc]) -> (Run, usize) {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};
    let started = Instant::now();
    let done = AtomicBool::new(false);
    let commits = AtomicUsize::new(0);
    // Under churn, queries go on until the writer has committed enough times to matter.
    let enough = |i: usize| i >= queries && (churn.is_empty() || commits.load(Relaxed) >= CHURN_COMMITS);
    let timed: Vec<(usize, Duration)> = std::thread::scope(|s| {
        if !churn.is_empty() {
            s.spawn(|| {
                for (n, batch) in churn.chunks(CHURN_UPDATES).cycle().enumerate() {
                    if done.load(Relaxed) {
                        break;
                    }
                    let changed: Vec<IndexDoc> =
                        batch.iter().map(|d| IndexDoc { views: d.views + n as u64 + 1, ..d.clone() }).collect();
                    if index.apply(&changed, &[], None).is_err() {
                        break;
                    }
                    commits.fetch_add(1, Relaxed);
                    std::thread::sleep(CHURN_INTERVAL);
                }
            });
        }
        let handles: Vec<_> = (0..clients)
            .map(|c| {
                let enough = &enough;
                s.spawn(move || {
                    let mut out = Vec::with_capacity(queries / clients + 1);
                    let mut i = c;
                    while !enough(i) {
                        let t = Instant::now();
                        let _ = index.search(&mix[i % mix.len()]);
                        out.push((i % mix.len(), t.elapsed()));
                        i += clients;
                    }
                    out
                })
            })
            .collect();
        let timed = handles.into_iter().flat_map(|h| h.join().unwrap_or_default()).collect();
        done.store(true, Relaxed);
        timed
    });
    let elapsed = started.elapsed();
    let mut sorted: Vec<Duration> = timed.iter().map(|(_, d)| *d).collect();
    sorted.sort();
    (Run { timed, sorted, elapsed }, commits.into_inner())
}

/// Tops the synthetic store up to `products`, rebuilds the index (timed), then runs the query
/// mix `queries` times from `clients` threads.
pub async fn search(
    store: &Store,
    config: &Config,
    products: u64,
    queries: usize,
    clients: usize,
) -> Result<SearchReport, String> {
    let have = store.count_products().await.map_err(|e| e.to_string())?.max(0) as u64;
    if have < products {
        eprintln!("seeding {} synthetic products...", products - have);
        souk_app::seed::seed_synthetic(store, products - have, |_| {}).await.map_err(|e| e.message)?;
    }
    let (index, _) = SearchIndex::open(&config.data_dir.join("index"))
        .map_err(|e| format!("{e}; stop the server to benchmark its data directory"))?;
    let index = Arc::new(index);
    eprintln!("indexing...");
    let started = Instant::now();
    let indexed = souk_app::search_sync::rebuild(store, &index, &config.trust, |_| {}).await.map_err(|e| e.message)?;
    let index_s = started.elapsed().as_secs_f64();
    let mix = query_mix();
    let weights = config.ranking;
    let mix: Vec<Request> = mix.into_iter().map(|r| Request { weights, ..r }).collect();
    // Warm the page cache and the ranking cache the way a running server's would be; this also
    // surfaces any error before timing starts.
    for r in &mix {
        index.search(r).map_err(|e| e.to_string())?;
    }
    eprintln!("querying...");
    let clients = clients.max(1);
    let (cached, _) = run_mix(&index, &mix, queries, clients, &[]);
    let uncached_mix: Vec<Request> = mix.iter().map(|r| Request { no_cache: true, ..r.clone() }).collect();
    let (uncached, _) = run_mix(&index, &uncached_mix, queries, clients, &[]);
    let filter = ProductFilter { status: Some(ProductStatus::Active), ..Default::default() };
    let sample = store.list_products(&filter, None, 1000).await.map_err(|e| e.to_string())?.items;
    let churn = souk_app::search_sync::index_docs(store, sample).await.map_err(|e| e.message)?;
    let (churned, commits) = run_mix(&index, &mix, queries, clients, &churn);
    let mix_report =
        mix.iter().enumerate().map(|(i, r)| MixEntry { query: label(r), mean_ms: uncached.mean_ms(i) }).collect();
    Ok(SearchReport {
        products: indexed,
        index_s,
        index_bytes: index.size_bytes(),
        rss_bytes: rss_bytes(),
        queries: cached.sorted.len(),
        clients,
        p50_ms: percentile(&cached.sorted, 0.50),
        p95_ms: percentile(&cached.sorted, 0.95),
        p99_ms: percentile(&cached.sorted, 0.99),
        qps: cached.qps(),
        uncached_p50_ms: percentile(&uncached.sorted, 0.50),
        uncached_p95_ms: percentile(&uncached.sorted, 0.95),
        uncached_p99_ms: percentile(&uncached.sorted, 0.99),
        uncached_qps: uncached.qps(),
        churn_updates: CHURN_UPDATES,
        churn_commits: commits,
        churn_p50_ms: percentile(&churned.sorted, 0.50),
        churn_p95_ms: percentile(&churned.sorted, 0.95),
        churn_p99_ms: percentile(&churned.sorted, 0.99),
        churn_qps: churned.qps(),
        mix: mix_report,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_pick_the_right_rank() {
        let d: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&d, 0.5), 50.0);
        assert_eq!(percentile(&d, 0.99), 99.0);
        assert_eq!(percentile(&[], 0.5), 0.0);
    }
}
