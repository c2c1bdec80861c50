//! `souk bench ...`: measured performance, printed as one JSON object. Targets live here and in
//! the README, never in tests.

use crate::config::Config;
use serde::Serialize;
use souk_search::query::Request;
use souk_search::{SearchIndex, Sort};
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
        souk_server::seed::seed_synthetic(store, products - have, |_| {}).await.map_err(|e| e.message)?;
    }
    let (index, _) = SearchIndex::open(&config.data_dir.join("index"))
        .map_err(|e| format!("{e}; stop the server to benchmark its data directory"))?;
    let index = Arc::new(index);
    eprintln!("indexing...");
    let started = Instant::now();
    let indexed = souk_server::search_sync::rebuild(store, &index, |_| {}).await.map_err(|e| e.message)?;
    let index_s = started.elapsed().as_secs_f64();
    let mix = query_mix();
    let weights = config.ranking;
    let mix: Vec<Request> = mix.into_iter().map(|r| Request { weights, ..r }).collect();
    // Warm the caches the way a running server's would be.
    for r in &mix {
        index.search(r).map_err(|e| e.to_string())?;
    }
    eprintln!("querying...");
    let clients = clients.max(1);
    let started = Instant::now();
    let mut latencies: Vec<Duration> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..clients)
            .map(|c| {
                let (index, mix) = (&index, &mix);
                s.spawn(move || {
                    let mut out = Vec::with_capacity(queries / clients + 1);
                    for i in (c..queries).step_by(clients) {
                        let t = Instant::now();
                        let _ = index.search(&mix[i % mix.len()]);
                        out.push(t.elapsed());
                    }
                    out
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap_or_default()).collect()
    });
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort();
    Ok(SearchReport {
        products: indexed,
        index_s,
        index_bytes: index.size_bytes(),
        rss_bytes: rss_bytes(),
        queries: latencies.len(),
        clients,
        p50_ms: percentile(&latencies, 0.50),
        p95_ms: percentile(&latencies, 0.95),
        p99_ms: percentile(&latencies, 0.99),
        qps: latencies.len() as f64 / elapsed.max(1e-9),
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
