//! `souk bench orders`: the everyday order path as clients use it, over real HTTP against a
//! `souk serve` child process on the same database. Each client is a buyer who puts an item
//! in the cart, checks out and pays (the three calls of a purchase), now and then reads a
//! product page, their orders and their wallet, and confirms an order once it has shipped;
//! sellers meanwhile ship what is paid. It reports purchases a second, the latency of each kind
//! of request, the server's CPU time per purchase, and the rate in the first and the last tenth
//! of the run (whether it stays flat as orders pile up).

use crate::http::Conn;
use serde::Serialize;
use souk_app::seed::market::{everyday_market, fill_history, history_len, Market, MarketSpec};
use souk_domain::order::Policy;
use souk_store::Store;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy)]
pub struct OrdersParams {
    pub clients: usize,
    pub duration: Duration,
    pub sellers: usize,
    pub products_per_seller: usize,
    /// Buyers in the marketplace (each client takes turns among its share).
    pub buyers: usize,
    /// History written before the run: completed orders, and paid ones awaiting shipment.
    pub past_orders: u64,
    pub open_orders: u64,
}

#[derive(Debug, Serialize)]
pub struct Latency {
    pub count: usize,
    pub errors: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
}

#[derive(Debug, Serialize)]
pub struct OrdersReport {
    pub backend: String,
    /// History orders in the database during the run, and the seconds it took to write them.
    pub history_orders: u64,
    pub history_fill_s: f64,
    pub clients: usize,
    pub duration_s: f64,
    /// Purchases (cart, checkout, pay) completed a second.
    pub checkouts_per_sec: f64,
    pub checkouts: usize,
    /// In the first and the last tenth of the run.
    pub first_tenth_per_sec: f64,
    pub last_tenth_per_sec: f64,
    /// The server process's CPU time (user and system) per purchase, every other request of
    /// the run included.
    pub server_cpu_ms_per_checkout: f64,
    pub requests: BTreeMap<String, Latency>,
}

impl std::fmt::Display for OrdersReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} over HTTP, {} clients, {:.0} s, {} history orders (written in {:.0} s): {:.0} purchases/s ({} in \
             all; first tenth {:.0}/s, last tenth {:.0}/s), server CPU {:.2} ms per purchase",
            self.backend,
            self.clients,
            self.duration_s,
            self.history_orders,
            self.history_fill_s,
            self.checkouts_per_sec,
            self.checkouts,
            self.first_tenth_per_sec,
            self.last_tenth_per_sec,
            self.server_cpu_ms_per_checkout
        )?;
        for (kind, l) in &self.requests {
            write!(
                f,
                "\n  {kind:<13} {:>7} requests, {:>5} errors, p50 {:>7.2} ms, p99 {:>7.2} ms, p99.9 {:>7.2} ms",
                l.count, l.errors, l.p50_ms, l.p99_ms, l.p999_ms
            )?;
        }
        Ok(())
    }
}

/// What each client records: per request kind, latencies in ms and errors; purchase times.
#[derive(Default)]
struct Tally {
    latencies: BTreeMap<&'static str, Vec<f64>>,
    errors: BTreeMap<&'static str, usize>,
    purchases: Vec<Duration>,
}

/// Seeds the market, then its history up to `past_orders + open_orders` (a database that holds
/// some already is extended, not filled again); how many history orders there are now and how
/// long writing them took.
pub async fn prepare(store: &Store, p: &OrdersParams, policy: &Policy) -> Result<(Market, u64, f64), String> {
    let spec = MarketSpec {
        tag: format!("{:x}", store.now_ms()),
        sellers: p.sellers.max(1),
        products_per_seller: p.products_per_seller.max(1),
        buyers: p.buyers.max(p.clients),
        funds: 1_000_000_000,
    };
    let market = everyday_market(store, &spec).await.map_err(|e| e.to_string())?;
    let had = history_len(store).await.map_err(|e| e.to_string())?;
    let started = Instant::now();
    let total = p.past_orders + p.open_orders;
    if had < total {
        let past = p.past_orders.max(had);
        let bar = crate::Progress::new(total - had, "orders");
        fill_history(store, &market, had, past, total - past, policy, |done| bar.set(done - had))
            .await
            .map_err(|e| format!("writing the history: {e}"))?;
        bar.finish();
    }
    Ok((market, history_len(store).await.map_err(|e| e.to_string())?, started.elapsed().as_secs_f64()))
}

/// Starts `souk serve` over the prepared market's database, drives it, and stops it.
pub async fn run_on_server(
    (market, history, fill_s): (Market, u64, f64),
    data_dir: &Path,
    database_url: Option<&str>,
    p: &OrdersParams,
    backend: &str,
) -> Result<OrdersReport, String> {
    let (mut child, addr) = start_server(data_dir, database_url)?;
    let report = run(market, &addr, Some(child.id()), p, backend, (history, fill_s)).await;
    let _ = child.kill();
    let _ = child.wait();
    report
}

/// Drives the market against the server at `addr` (`host:port`) whose process is `server_pid`.
pub async fn run(
    market: Market,
    addr: &str,
    server_pid: Option<u32>,
    p: &OrdersParams,
    backend: &str,
    (history_orders, history_fill_s): (u64, f64),
) -> Result<OrdersReport, String> {
    let market = Arc::new(market);
    let tally = Arc::new(Mutex::new(Tally::default()));
    let cpu_before = server_pid.and_then(cpu_ms);
    let started = Instant::now();
    let deadline = started + p.duration;
    let mut clients = Vec::new();
    for c in 0..p.clients {
        let (market, tally, addr) = (market.clone(), tally.clone(), addr.to_string());
        clients.push(tokio::spawn(async move { buyer(c, &market, &addr, started, deadline, &tally).await }));
    }
    for s in 0..market.sellers.len().min(4) {
        let (market, tally, addr) = (market.clone(), tally.clone(), addr.to_string());
        clients.push(tokio::spawn(async move { seller(s, &market, &addr, deadline, &tally).await }));
    }
    for c in clients {
        c.await.map_err(|e| e.to_string())?;
    }
    let elapsed = started.elapsed();
    let cpu_ms = match (cpu_before, server_pid.and_then(cpu_ms)) {
        (Some(a), Some(b)) => b - a,
        _ => 0.0,
    };
    let mut t = std::mem::take(&mut *tally.lock().unwrap_or_else(|e| e.into_inner()));
    let checkouts = t.purchases.len();
    let tenth = p.duration.as_secs_f64() / 10.0;
    let in_window = |from: f64| t.purchases.iter().filter(|d| (from..from + tenth).contains(&d.as_secs_f64())).count();
    let (first, last) = (in_window(0.0), in_window(p.duration.as_secs_f64() - tenth));
    let mut requests = BTreeMap::new();
    for (kind, lat) in t.latencies.iter_mut() {
        lat.sort_by(f64::total_cmp);
        let pct = |q: f64| lat.get(((lat.len() as f64 * q) as usize).min(lat.len().saturating_sub(1))).copied();
        requests.insert(
            kind.to_string(),
            Latency {
                count: lat.len(),
                errors: t.errors.get(kind).copied().unwrap_or(0),
                p50_ms: pct(0.50).unwrap_or(0.0),
                p99_ms: pct(0.99).unwrap_or(0.0),
                p999_ms: pct(0.999).unwrap_or(0.0),
            },
        );
    }
    let report = OrdersReport {
        backend: backend.to_string(),
        history_orders,
        history_fill_s,
        clients: p.clients,
        duration_s: elapsed.as_secs_f64(),
        checkouts_per_sec: checkouts as f64 / elapsed.as_secs_f64(),
        checkouts,
        first_tenth_per_sec: first as f64 / tenth,
        last_tenth_per_sec: last as f64 / tenth,
        server_cpu_ms_per_checkout: if checkouts > 0 { cpu_ms / checkouts as f64 } else { 0.0 },
        requests,
    };
    Ok(report)
}

/// One client: a buyer's purchases, reads now and then, and confirmations of what shipped.
async fn buyer(c: usize, market: &Market, addr: &str, started: Instant, deadline: Instant, tally: &Mutex<Tally>) {
    let mut http = Client::new(addr);
    let mut mine = Tally::default();
    let mut bought: Vec<String> = Vec::new();
    let buyers = market.buyers.len();
    for n in 0usize.. {
        if Instant::now() >= deadline {
            break;
        }
        // Clients take turns among the buyers, so that each buyer's history grows.
        let who = &market.buyers[(c + n * 64) % buyers];
        let item = &market.products[(c * 31 + n * 7) % market.products.len()];
        let key = format!("b{c}-{n}-{}", who.user_id);
        let cart = format!("/api/v1/cart/items/{}", item.sku_id);
        if !http.call(&mut mine, "cart", "PUT", &cart, &who.token, Some(r#"{"quantity":1}"#), &key).await.0 {
            continue;
        }
        let (ok, body) = http
            .call(&mut mine, "checkout", "POST", "/api/v1/checkout", &who.token, Some(r#"{"ship_to":"DE"}"#), &key)
            .await;
        let answer: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        let (Some(checkout), true) = (answer["checkout_id"].as_str(), ok) else { continue };
        let pay = format!("/api/v1/checkouts/{checkout}/pay");
        if http.call(&mut mine, "pay", "POST", &pay, &who.token, None, &key).await.0 {
            mine.purchases.push(started.elapsed());
            if let Some(order) = answer["orders"][0]["id"].as_str() {
                bought.push(format!("{order} {}", who.token));
            }
        }
        if n % 4 == 3 {
            let product = format!("/api/v1/products/{}", item.product_id);
            http.call(&mut mine, "product_page", "GET", &product, "", None, "").await;
            http.call(&mut mine, "order_list", "GET", "/api/v1/orders?limit=20", &who.token, None, "").await;
            http.call(&mut mine, "wallet", "GET", "/api/v1/wallet", &who.token, None, "").await;
            // The oldest order bought: confirmed once a seller shipped it.
            if let Some((order, token)) = bought.first().and_then(|b| b.split_once(' ')) {
                let (order, token) = (order.to_string(), token.to_string());
                let (_, body) =
                    http.call(&mut mine, "order", "GET", &format!("/api/v1/orders/{order}"), &token, None, "").await;
                let state: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
                if state["state"] == "shipped" {
                    let path = format!("/api/v1/orders/{order}/confirm");
                    http.call(&mut mine, "confirm", "POST", &path, &token, Some("{}"), &format!("c-{order}")).await;
                    bought.remove(0);
                } else if state["state"] != "paid" {
                    bought.remove(0);
                }
            }
        }
    }
    merge(tally, mine);
}

/// A seller's staff: ships the newest paid orders of their store, again and again.
async fn seller(s: usize, market: &Market, addr: &str, deadline: Instant, tally: &Mutex<Tally>) {
    let mut http = Client::new(addr);
    let mut mine = Tally::default();
    let mut round = 0usize;
    while Instant::now() < deadline {
        round += 1;
        let who = &market.sellers[(s + round * 4) % market.sellers.len()];
        let Some(store) = &who.store else { continue };
        let list = format!("/api/v1/stores/{store}/orders?limit=20");
        let (_, body) = http.call(&mut mine, "store_orders", "GET", &list, &who.token, None, "").await;
        let page: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        let paid: Vec<String> = page["items"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|o| o["state"] == "paid")
            .filter_map(|o| o["id"].as_str().map(str::to_string))
            .collect();
        if paid.is_empty() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        for order in paid {
            let parcel = order.trim_start_matches("ord_");
            let body = format!(r#"{{"carrier":"other","tracking_number":"BENCH-{parcel}"}}"#);
            let path = format!("/api/v1/orders/{order}/ship");
            http.call(&mut mine, "ship", "POST", &path, &who.token, Some(&body), &format!("s-{order}")).await;
        }
    }
    merge(tally, mine);
}

fn merge(tally: &Mutex<Tally>, mine: Tally) {
    let mut t = tally.lock().unwrap_or_else(|e| e.into_inner());
    for (kind, lat) in mine.latencies {
        t.latencies.entry(kind).or_default().extend(lat);
    }
    for (kind, n) in mine.errors {
        *t.errors.entry(kind).or_default() += n;
    }
    t.purchases.extend(mine.purchases);
}

/// A client's keep-alive connection, opened again when the server closes it.
struct Client {
    addr: String,
    conn: Option<Conn>,
}

impl Client {
    fn new(addr: &str) -> Client {
        Client { addr: addr.to_string(), conn: None }
    }

    /// Sends one request (with `key` as its Idempotency-Key when not empty) and records its
    /// latency under `kind`; whether it succeeded, and the answer's body.
    #[allow(clippy::too_many_arguments)]
    async fn call(
        &mut self,
        tally: &mut Tally,
        kind: &'static str,
        method: &str,
        path: &str,
        token: &str,
        body: Option<&str>,
        key: &str,
    ) -> (bool, Vec<u8>) {
        let body = body.unwrap_or("");
        let mut head = format!("{method} {path} HTTP/1.1\r\nhost: {}\r\n", self.addr);
        if !token.is_empty() {
            head.push_str(&format!("authorization: Bearer {token}\r\n"));
        }
        if !key.is_empty() {
            head.push_str(&format!("idempotency-key: {kind}-{key}\r\n"));
        }
        if method != "GET" {
            head.push_str(&format!("content-type: application/json\r\ncontent-length: {}\r\n", body.len()));
        }
        let request = format!("{head}\r\n{body}");
        let started = Instant::now();
        let mut answer = None;
        for _ in 0..2 {
            let conn = match self.conn.take() {
                Some(c) => Ok(c),
                None => Conn::open(&self.addr).await,
            };
            let Ok(conn) = conn else { continue };
            if let Ok((conn, status)) = conn.send(request.as_bytes()).await {
                let body = conn.as_ref().map(|c| c.body().to_vec()).unwrap_or_default();
                self.conn = conn;
                answer = Some((status, body));
                break;
            }
        }
        tally.latencies.entry(kind).or_default().push(started.elapsed().as_secs_f64() * 1e3);
        match answer {
            Some((status, body)) if (200..300).contains(&status) => (true, body),
            Some((_, body)) => {
                *tally.errors.entry(kind).or_default() += 1;
                (false, body)
            }
            None => {
                *tally.errors.entry(kind).or_default() += 1;
                (false, Vec::new())
            }
        }
    }
}

/// The process's CPU time so far (user and system), in ms, from `/proc`.
fn cpu_ms(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command (in parentheses, which may hold spaces): utime is the 14th
    // field of the line, stime the 15th, in clock ticks of 10 ms.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks * 10.0)
}

/// Starts `souk serve` on a free port of this machine over `data_dir` (and `database_url`);
/// the child and its address.
pub fn start_server(data_dir: &Path, database_url: Option<&str>) -> Result<(std::process::Child, String), String> {
    use std::io::BufRead;
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut cmd = std::process::Command::new(exe);
    // `SOUK_BENCH_SERVER_LOG` (a log filter) shows the server's log on this one's stderr, for
    // looking into a run: `sqlx::query=debug` lists every statement with its time.
    let shown = std::env::var("SOUK_BENCH_SERVER_LOG").ok();
    let log = shown.clone().unwrap_or_else(|| "warn,souk=info".into());
    cmd.arg("--data-dir").arg(data_dir).args(["--log", &log]);
    if let Some(url) = database_url {
        cmd.args(["--database-url", url]);
    }
    let mut child = cmd
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("starting souk serve: {e}"))?;
    let mut stderr = std::io::BufReader::new(child.stderr.take().ok_or("no stderr")?);
    let mut printed = String::new();
    loop {
        let mut line = String::new();
        if stderr.read_line(&mut line).unwrap_or(0) == 0 {
            let _ = child.wait();
            return Err(format!("souk serve stopped before serving: {printed}"));
        }
        printed.push_str(&line);
        if let Some(addr) = line.split("serving http://").nth(1).and_then(|r| r.split_whitespace().next()) {
            // Drained, so that the server never blocks on a full pipe.
            std::thread::spawn(move || match shown {
                Some(_) => std::io::copy(&mut stderr, &mut std::io::stderr()),
                None => std::io::copy(&mut stderr, &mut std::io::sink()),
            });
            return Ok((child, addr.to_string()));
        }
    }
}
