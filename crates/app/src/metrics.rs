//! This process's counters, and the Prometheus text of them and of the marketplace's state:
//! request counts and latency per route, search latency, and, read from the database at each
//! scrape, orders by state, escrow held, pending deadlines and the job runner's lag.

use crate::error::Result;
use crate::App;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 12] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];

#[derive(Default, Clone)]
struct Histogram {
    /// Observations at or below each bound (not yet cumulative).
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl Histogram {
    fn observe(&mut self, d: Duration) {
        let s = d.as_secs_f64();
        if let Some(i) = BUCKETS.iter().position(|b| s <= *b) {
            self.counts[i] += 1;
        }
        self.count += 1;
        self.sum += s;
    }

    fn write(&self, out: &mut String, name: &str, labels: &str) {
        let sep = if labels.is_empty() { "" } else { "," };
        let mut seen = 0;
        for (bound, n) in BUCKETS.iter().zip(self.counts) {
            seen += n;
            let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{bound}\"}} {seen}");
        }
        let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {}", self.count);
        let braces = if labels.is_empty() { String::new() } else { format!("{{{labels}}}") };
        let _ = writeln!(out, "{name}_sum{braces} {}", self.sum);
        let _ = writeln!(out, "{name}_count{braces} {}", self.count);
    }
}

/// This process's counters.
#[derive(Default)]
pub struct Metrics {
    /// (method, route, status) → requests.
    requests: Mutex<BTreeMap<(String, String, u16), u64>>,
    /// (method, route) → latency.
    latency: Mutex<BTreeMap<(String, String), Histogram>>,
    search: Mutex<Histogram>,
}

impl Metrics {
    /// One answered request: `route` is the matched pattern, never a raw path.
    pub fn observe_request(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        if let Ok(mut m) = self.requests.lock() {
            *m.entry((method.to_string(), route.to_string(), status)).or_default() += 1;
        }
        if let Ok(mut m) = self.latency.lock() {
            m.entry((method.to_string(), route.to_string())).or_default().observe(elapsed);
        }
    }

    pub fn observe_search(&self, d: Duration) {
        if let Ok(mut h) = self.search.lock() {
            h.observe(d);
        }
    }
}

/// A label value, escaped as the text format requires.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// The text of every metric, in the Prometheus text format (version 0.0.4).
pub async fn text(app: &App) -> Result<String> {
    let ops = app.store.ops_snapshot().await?;
    let mut out = String::new();
    out.push_str("# HELP souk_http_requests_total HTTP requests by method, route and status.\n");
    out.push_str("# TYPE souk_http_requests_total counter\n");
    if let Ok(m) = app.metrics.requests.lock() {
        for ((method, route, status), n) in m.iter() {
            let _ = writeln!(
                out,
                "souk_http_requests_total{{method=\"{method}\",route=\"{}\",status=\"{status}\"}} {n}",
                label(route)
            );
        }
    }
    out.push_str("# HELP souk_http_request_duration_seconds Time to answer, by method and route.\n");
    out.push_str("# TYPE souk_http_request_duration_seconds histogram\n");
    if let Ok(m) = app.metrics.latency.lock() {
        for ((method, route), h) in m.iter() {
            h.write(
                &mut out,
                "souk_http_request_duration_seconds",
                &format!("method=\"{method}\",route=\"{}\"", label(route)),
            );
        }
    }
    out.push_str("# HELP souk_search_duration_seconds Time to run a product search in the index.\n");
    out.push_str("# TYPE souk_search_duration_seconds histogram\n");
    if let Ok(h) = app.metrics.search.lock() {
        h.write(&mut out, "souk_search_duration_seconds", "");
    }
    out.push_str("# HELP souk_orders Orders by state.\n# TYPE souk_orders gauge\n");
    for (state, n) in &ops.orders_by_state {
        let _ = writeln!(out, "souk_orders{{state=\"{}\"}} {n}", label(state));
    }
    out.push_str("# HELP souk_escrow_held Money held in escrow, in minor units of its currency.\n");
    out.push_str("# TYPE souk_escrow_held gauge\n");
    for (currency, n) in &ops.escrow_held {
        let _ = writeln!(out, "souk_escrow_held{{currency=\"{}\"}} {n}", label(currency));
    }
    out.push_str("# HELP souk_jobs_pending Deadlines waiting to run.\n# TYPE souk_jobs_pending gauge\n");
    let _ = writeln!(out, "souk_jobs_pending {}", ops.jobs_pending);
    out.push_str("# HELP souk_job_lag_seconds How long the most overdue deadline has waited.\n");
    out.push_str("# TYPE souk_job_lag_seconds gauge\n");
    let _ = writeln!(out, "souk_job_lag_seconds {}", ops.job_lag_ms as f64 / 1000.0);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_are_cumulative_with_an_infinite_bucket() {
        let mut h = Histogram::default();
        for ms in [0, 3, 3, 40, 20_000] {
            h.observe(Duration::from_millis(ms));
        }
        let mut out = String::new();
        h.write(&mut out, "t", "");
        assert!(out.contains("t_bucket{le=\"0.001\"} 1\n"), "{out}");
        assert!(out.contains("t_bucket{le=\"0.005\"} 3\n"), "{out}");
        assert!(out.contains("t_bucket{le=\"10\"} 4\n"), "{out}");
        assert!(out.contains("t_bucket{le=\"+Inf\"} 5\n") && out.contains("t_count 5\n"), "{out}");
        assert_eq!(label("a\"b\\c"), "a\\\"b\\\\c");
    }
}
