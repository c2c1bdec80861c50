//! The binary as an operator uses it: configuration, admin commands, import, seed, and `serve
//! --demo` with a graceful stop.

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn souk(data_dir: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_souk"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env_remove("SOUK_DATABASE_URL")
        .env_remove("SOUK_LISTEN")
        .output()
        .expect("run souk")
}

fn stdout_json(out: &Output) -> serde_json::Value {
    assert!(out.status.success(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    // One JSON document: either all of stdout, or its last line after other output.
    serde_json::from_str(&text)
        .or_else(|_| serde_json::from_str(text.lines().last().unwrap_or("")))
        .unwrap_or_else(|e| panic!("{e}: {text}"))
}

#[test]
fn config_merges_sources_and_hides_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("souk.toml");
    std::fs::write(&file, "listen = \"127.0.0.1:9999\"\nrequest_timeout_s = 12\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_souk"))
        .args(["--config", file.to_str().unwrap(), "config"])
        .env("SOUK_DATABASE_URL", "postgres://souk:hunter2@db.internal/souk")
        .env("SOUK_REQUEST_TIMEOUT_S", "7")
        .output()
        .unwrap();
    let c = stdout_json(&out);
    assert_eq!(c["listen"], "127.0.0.1:9999", "from the file");
    assert_eq!(c["request_timeout_s"], 7, "the environment wins over the file");
    assert_eq!(c["database_url"], "postgres://souk:***@db.internal/souk");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("hunter2"));
    let bad =
        Command::new(env!("CARGO_BIN_EXE_souk")).args(["--database-url", "mysql://x", "config"]).output().unwrap();
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn operator_commands_and_import() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let pw = dir.path().join("pw");
    std::fs::write(&pw, "a long enough password\n").unwrap();
    assert!(souk(&data, &["migrate"]).status.success());
    let user = stdout_json(&souk(
        &data,
        &["admin", "create-user", "--email", "Op@Example.com", "--password-file", pw.to_str().unwrap()],
    ));
    assert!(user["id"].as_str().unwrap().starts_with("usr_"));
    let dup =
        souk(&data, &["admin", "create-user", "--email", "op@example.com", "--password-file", pw.to_str().unwrap()]);
    assert!(!dup.status.success());
    assert_eq!(stdout_json(&souk(&data, &["admin", "grant", "op@example.com", "admin"]))["granted"], "admin");
    assert!(!souk(&data, &["admin", "grant", "op@example.com", "emperor"]).status.success());
    let create_store = |slug: &str, country: &str| {
        let args = ["admin", "create-store", "--owner", "op@example.com", "--name", "Op Shop", "--slug", slug];
        souk(&data, &[&args[..], &["--country", country, "--currency", "EUR"]].concat())
    };
    let store = stdout_json(&create_store("op-shop", "DE"));
    assert_eq!(store["slug"], "op-shop");
    let bad_store = create_store("x-shop", "ZZ");
    assert!(String::from_utf8_lossy(&bad_store.stderr).contains("country"));

    let csv = dir.path().join("products.csv");
    std::fs::write(&csv, "title,description,category,price,currency,stock,ships_to,sku\nLamp,Warm light,home/decor,24.50,EUR,3,*,L-1\nBad,,,-1,EUR,1,DE,B-1\n").unwrap();
    let out = souk(&data, &["import", "products", "--store", "op-shop", csv.to_str().unwrap()]);
    let report = stdout_json(&out);
    assert_eq!((report["created"].as_u64(), report["failed"].as_u64()), (Some(1), Some(1)));
    assert!(String::from_utf8_lossy(&out.stderr).contains("line 3"));
    let rerun = stdout_json(&souk(&data, &["import", "products", "--store", "op-shop", csv.to_str().unwrap()]));
    assert_eq!((rerun["created"].as_u64(), rerun["updated"].as_u64()), (Some(0), Some(1)));
    assert!(!souk(&data, &["import", "products", "--store", "nope", csv.to_str().unwrap()]).status.success());

    let books = souk(&data, &["admin", "ledger-check"]);
    assert_eq!(stdout_json(&books)["sound"], true);

    let seeded = souk(&data, &["seed", "--products", "1500"]);
    assert!(seeded.status.success(), "{}", String::from_utf8_lossy(&seeded.stderr));
    let said = String::from_utf8_lossy(&seeded.stderr);
    assert!(said.contains("seeded 1500 products"), "{said}");
    assert!(said.contains("indexed 1501 active products"), "seeded and imported products are searchable: {said}");
}

#[test]
fn serve_demo_answers_and_stops_gracefully() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, addr, printed) = start_server(dir.path(), &[], &["--demo"]);
    assert!(printed.contains("buyer@demo.souk") && printed.contains("admin@demo.souk"), "{printed}");

    let get = |path: &str| -> String {
        use std::io::Write;
        let mut s = std::net::TcpStream::connect(&addr).unwrap();
        write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    };
    assert!(get("/healthz").starts_with("HTTP/1.1 200"));
    let stores = get("/api/v1/stores?limit=100");
    assert!(stores.contains("demo-seller") && stores.contains("\"country\":\"JP\""), "{stores}");
    let products = get("/api/v1/stores/demo-seller/products?limit=100");
    assert!(products.contains("\"currency\":\"CNY\""));
    assert!(products.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)), "some titles are Chinese");

    let found = get("/api/v1/search?q=tea&limit=5");
    assert!(found.contains("\"total\":") && !found.contains("\"total\":0"), "the demo is searchable: {found}");

    // The demo has a past: stores with tenure, reviewed orders, and trust that differs.
    let body = |text: String| -> serde_json::Value {
        serde_json::from_str(text.split("\r\n\r\n").nth(1).unwrap_or("")).unwrap_or_default()
    };
    let demo = body(get("/api/v1/stores/demo-seller"));
    assert!(demo["tenure_days"].as_i64().unwrap() >= 100, "{demo}");
    assert!(demo["rating"]["count"].as_i64().unwrap() > 0, "{demo}");
    let scores: std::collections::BTreeSet<String> = body(get("/api/v1/stores?limit=100"))["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| body(get(&format!("/api/v1/stores/{}", s["slug"].as_str().unwrap())))["trust_score"].to_string())
        .collect();
    assert!(scores.len() > 10, "trust differs between demo stores: {scores:?}");

    // An online backup while the server serves.
    let backups = tempfile::tempdir().unwrap();
    let file = backups.path().join("demo.db");
    let backup = stdout_json(&souk(dir.path(), &["backup", file.to_str().unwrap()]));
    assert!(backup["bytes"].as_u64().unwrap() > 100_000, "{backup}");
    assert!(!souk(dir.path(), &["backup", file.to_str().unwrap()]).status.success(), "never over a file");

    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    let code = loop {
        if let Some(code) = child.try_wait().unwrap() {
            break code;
        }
        assert!(Instant::now() < deadline, "did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(code.success(), "graceful stop exits 0");
    assert_eq!(stdout_json(&souk(dir.path(), &["admin", "ledger-check"]))["sound"], true, "the demo's books balance");

    // The backup restores into an empty data directory, checked and searchable; an existing
    // database is replaced only with --force.
    let refused = souk(dir.path(), &["restore", file.to_str().unwrap()]);
    assert!(!refused.status.success() && String::from_utf8_lossy(&refused.stderr).contains("--force"));
    let fresh = tempfile::tempdir().unwrap();
    let restored = souk(fresh.path(), &["restore", file.to_str().unwrap()]);
    assert_eq!(stdout_json(&restored)["ledger_sound"], true);
    assert!(String::from_utf8_lossy(&restored.stderr).contains("indexed"), "the search index is rebuilt");
    assert_eq!(stdout_json(&souk(fresh.path(), &["admin", "ledger-check"]))["sound"], true);
    let export = |d: &std::path::Path| souk(d, &["export", "orders", "--store", "demo-seller"]);
    let (before, after) = (export(dir.path()), export(fresh.path()));
    assert!(before.status.success(), "{}", String::from_utf8_lossy(&before.stderr));
    let csv = String::from_utf8(before.stdout).unwrap();
    assert!(csv.starts_with("order_id,created_at,state,buyer_id,ship_country,currency,total,commission,lines"));
    assert!(csv.lines().count() > 5 && csv.contains(",CNY,"), "{csv}");
    assert_eq!(String::from_utf8(after.stdout).unwrap(), csv, "the restored orders are the same orders");

    // Serving the demo again serves it as it is, with its log-ins.
    let (mut again, _, printed) = start_server(dir.path(), &[], &["--demo"]);
    let _ = again.kill();
    let _ = again.wait();
    assert!(printed.contains("already holds the demo marketplace") && printed.contains("buyer@demo.souk"), "{printed}");
}

/// Starts `souk serve` with extra arguments and returns the child and its address.
// The child is returned to the caller, which stops and waits for it.
#[allow(clippy::zombie_processes)]
fn start_server(dir: &std::path::Path, extra: &[&str], serve_args: &[&str]) -> (std::process::Child, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_souk"))
        .arg("--data-dir")
        .arg(dir)
        .arg("serve")
        .args(["--listen", "127.0.0.1:0"])
        .args(extra)
        .args(serve_args)
        .env_remove("SOUK_DATABASE_URL")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut printed = String::new();
    loop {
        let mut line = String::new();
        if stderr.read_line(&mut line).unwrap_or(0) == 0 {
            let _ = child.wait();
            panic!("the server exited before serving: {printed}");
        }
        printed.push_str(&line);
        if let Some(addr) = line.split("serving http://").nth(1).and_then(|r| r.split_whitespace().next()) {
            // Keep draining stderr so the server never blocks on a full pipe.
            std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
            return (child, addr.to_string(), printed);
        }
    }
}

/// A minimal HTTP/1.1 client: enough for black-box calls without another dependency.
fn http(
    addr: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<serde_json::Value>,
) -> (u16, serde_json::Value) {
    static NEXT_KEY: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let key = format!("k{}", NEXT_KEY.fetch_add(1, std::sync::atomic::Ordering::SeqCst));
    http_keyed(addr, method, path, token, body, &key)
}

/// [`http`] with the request's `Idempotency-Key`.
fn http_keyed(
    addr: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<serde_json::Value>,
    key: &str,
) -> (u16, serde_json::Value) {
    use std::io::Write;
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    let key = format!("Idempotency-Key: {key}\r\n");
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\n{auth}{key}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let status = out[9..12].parse().unwrap();
    let json =
        out.split("\r\n\r\n").nth(1).and_then(|b| serde_json::from_str(b).ok()).unwrap_or(serde_json::Value::Null);
    (status, json)
}

#[test]
fn short_policy_deadlines_run_in_a_black_box() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, addr, _) = start_server(dir.path(), &["--payment-window-s", "1", "--job-interval-ms", "50"], &[]);
    let seller = register(&addr, "s@example.com");
    let (status, _) = http(
        &addr,
        "POST",
        "/api/v1/stores",
        Some(&seller),
        Some(serde_json::json!({"name": "S", "slug": "s-shop", "country": "US", "currency": "USD"})),
    );
    assert_eq!(status, 201);
    let (_, product) = http(
        &addr,
        "POST",
        "/api/v1/products",
        Some(&seller),
        Some(serde_json::json!({
        "title": "Kettle", "ships_to": ["*"], "skus": [{"price": {"amount": 2500, "currency": "USD"}, "stock": 3}]})),
    );
    let sku = product["skus"][0]["id"].as_str().unwrap().to_string();
    let buyer = register(&addr, "b@example.com");
    let (status, co) = http(
        &addr,
        "POST",
        "/api/v1/checkout",
        Some(&buyer),
        Some(serde_json::json!({"ship_to": "FR", "items": [{"sku_id": sku, "quantity": 2}]})),
    );
    assert_eq!(status, 201, "{co}");
    let order = co["orders"][0]["id"].as_str().unwrap().to_string();
    let deadline = Instant::now() + Duration::from_secs(20);
    let state = loop {
        let (_, o) = http(&addr, "GET", &format!("/api/v1/orders/{order}"), Some(&buyer), None);
        if o["state"] == "cancelled" || Instant::now() > deadline {
            break o["state"].clone();
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(state, "cancelled", "the one-second payment window closed by itself");
    let (_, p) = http(&addr, "GET", &format!("/api/v1/products/{}", product["id"].as_str().unwrap()), None, None);
    assert_eq!(p["skus"][0]["stock"], 3, "the reserved units came back");
    child.kill().unwrap();
    child.wait().unwrap();
}

/// Polls `f` every 100 ms for up to 20 s until it returns `Some`.
fn wait_for<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn carrier_simulate_delivers_shipped_parcels_through_the_api() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("souk.toml");
    std::fs::write(&config, "[carriers]\nups = \"ups-secret-0123456789abcdef\"\n").unwrap();
    let config = config.to_str().unwrap();
    let (mut child, addr, _) = start_server(dir.path(), &["--config", config, "--job-interval-ms", "50"], &[]);
    let seller = register(&addr, "s@example.com");
    let shop = serde_json::json!({"name": "S", "slug": "s-shop", "country": "US", "currency": "USD"});
    assert_eq!(http(&addr, "POST", "/api/v1/stores", Some(&seller), Some(shop)).0, 201);
    let product = serde_json::json!({
        "title": "Kettle", "ships_to": ["*"], "skus": [{"price": {"amount": 2500, "currency": "USD"}, "stock": 3}]});
    let (_, product) = http(&addr, "POST", "/api/v1/products", Some(&seller), Some(product));
    let sku = product["skus"][0]["id"].as_str().unwrap().to_string();
    let buyer = register(&addr, "b@example.com");
    let card = serde_json::json!({"amount": {"amount": 10_000, "currency": "USD"}, "card_number": "4242424242424242"});
    assert_eq!(http(&addr, "POST", "/api/v1/wallet/top-ups", Some(&buyer), Some(card)).0, 202);
    wait_for("the sandbox top-up", || {
        let (_, w) = http(&addr, "GET", "/api/v1/wallet", Some(&buyer), None);
        (w.to_string().contains("10000")).then_some(())
    });
    let items = serde_json::json!({"ship_to": "FR", "items": [{"sku_id": sku, "quantity": 1}]});
    let (status, co) = http(&addr, "POST", "/api/v1/checkout", Some(&buyer), Some(items));
    assert_eq!(status, 201, "{co}");
    let order = co["orders"][0]["id"].as_str().unwrap().to_string();
    let (status, paid) = http(&addr, "POST", &format!("/api/v1/orders/{order}/pay"), Some(&buyer), None);
    assert_eq!(status, 200, "{paid}");
    let parcel = serde_json::json!({"carrier": "ups", "tracking_number": "1Z999AA10123456784"});
    assert_eq!(http(&addr, "POST", &format!("/api/v1/orders/{order}/ship"), Some(&seller), Some(parcel)).0, 200);

    let base = format!("http://{addr}");
    let simulate = |carrier: &str| {
        let args = ["--config", config, "carrier", "simulate", "--url", &base, "--carrier", carrier];
        souk(dir.path(), &[&args[..], &["--step-s", "0.001", "--once"]].concat())
    };
    let first = stdout_json(&simulate("ups"));
    assert_eq!((first["posted"].as_u64(), first["failed"].as_u64()), (Some(4), Some(0)), "{first}");
    let (_, tracking) = http(&addr, "GET", &format!("/api/v1/orders/{order}/tracking"), Some(&buyer), None);
    assert_eq!(tracking["state"], "delivered", "{tracking}");
    assert_eq!(tracking["events"].as_array().unwrap().len(), 4);
    let again = stdout_json(&simulate("ups"));
    assert_eq!(again["posted"], 0, "a delivered parcel is no longer in transit");
    let no_secret = simulate("fedex");
    assert!(!no_secret.status.success());
    assert!(String::from_utf8_lossy(&no_secret.stderr).contains("no secret for carrier 'fedex'"));
    child.kill().unwrap();
    child.wait().unwrap();
}

/// Once the clients' `count` of answers reaches `n`, kills the server (SIGKILL) under their load,
/// lets the clients see it die, and starts it again on the same data.
fn kill_and_restart(
    dir: &std::path::Path,
    mut child: std::process::Child,
    clients: Vec<std::thread::JoinHandle<()>>,
    count: &std::sync::atomic::AtomicUsize,
    n: usize,
) -> (std::process::Child, String) {
    wait_for("answers to flow", || (count.load(std::sync::atomic::Ordering::SeqCst) >= n).then_some(()));
    child.kill().unwrap();
    child.wait().unwrap();
    for client in clients {
        client.join().unwrap();
    }
    let (child, addr, _) = start_server(dir, &[], &[]);
    (child, addr)
}

/// A seller with the store `slug` and one product (20.00 CNY, shipped anywhere, `stock` units):
/// the seller's token and the product.
fn shop_with_product(addr: &str, slug: &str, stock: i64) -> (String, serde_json::Value) {
    let seller = register(addr, &format!("{slug}-seller@example.com"));
    let shop = serde_json::json!({"name": "Shop", "slug": slug, "country": "CN", "currency": "CNY"});
    assert_eq!(http(addr, "POST", "/api/v1/stores", Some(&seller), Some(shop)).0, 201);
    let product = serde_json::json!({"title": "Hot phone", "ships_to": ["*"],
        "skus": [{"price": {"amount": 2000, "currency": "CNY"}, "stock": stock}]});
    let (status, product) = http(addr, "POST", "/api/v1/products", Some(&seller), Some(product));
    assert_eq!(status, 201, "{product}");
    (seller, product)
}

/// How many orders the store has, read page by page as its seller.
fn store_orders(addr: &str, seller: &str, slug: &str) -> usize {
    let (mut orders, mut cursor) = (0, String::new());
    loop {
        let path = format!("/api/v1/stores/{slug}/orders?limit=100&cursor={cursor}");
        let (_, page) = http(addr, "GET", &path, Some(seller), None);
        orders += page["items"].as_array().unwrap().len();
        match page["next_cursor"].as_str() {
            Some(c) => cursor = c.to_string(),
            None => return orders,
        }
    }
}

/// Registers a user over the API and returns their token.
fn register(addr: &str, email: &str) -> String {
    let body = serde_json::json!({"email": email, "password": "correct horse battery"});
    let (status, body) = http(addr, "POST", "/api/v1/auth/register", None, Some(body));
    assert_eq!(status, 201, "{body}");
    body["token"].as_str().unwrap().to_string()
}

/// A flash sale under load from eight buyers; the server is killed (SIGKILL) while batches are
/// in flight, then restarted on the same data: every order it acknowledged is there and paid,
/// the counters agree with the orders, and the books balance.
#[test]
fn a_server_killed_mid_flash_sale_keeps_every_acknowledged_order() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};
    let dir = tempfile::tempdir().unwrap();
    let (child, addr, _) = start_server(dir.path(), &["--job-interval-ms", "50"], &[]);
    let (seller, product) = shop_with_product(&addr, "flash", 100_000);
    let sku = product["skus"][0]["id"].as_str().unwrap().to_string();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    let terms = serde_json::json!({"sku_id": sku, "starts_at": souk_domain::time::rfc3339(now + 2_000),
        "ends_at": souk_domain::time::rfc3339(now + 3_600_000), "price": {"amount": 1000, "currency": "CNY"},
        "stock": 50000, "per_buyer_limit": 50000});
    let (status, promo) = http(&addr, "POST", "/api/v1/stores/flash/promotions", Some(&seller), Some(terms));
    assert_eq!(status, 201, "{promo}");
    let promo = promo["id"].as_str().unwrap().to_string();
    let buyers: Vec<String> = (0..8).map(|i| register(&addr, &format!("fan{i}@example.com"))).collect();
    for token in &buyers {
        let top_up = serde_json::json!({"amount": {"amount": 100_000_000, "currency": "CNY"},
            "card_number": "4242 4242 4242 4242"});
        let (status, t) = http(&addr, "POST", "/api/v1/wallet/top-ups", Some(token), Some(top_up));
        assert_eq!(status, 202, "{t}");
        let path = format!("/api/v1/wallet/top-ups/{}", t["id"].as_str().unwrap());
        wait_for("a top-up", || (http(&addr, "GET", &path, Some(token), None).1["state"] == "succeeded").then_some(()));
    }
    wait_for("the sale to start", || {
        (http(&addr, "GET", &format!("/api/v1/promotions/{promo}"), None, None).1["phase"] == "live").then_some(())
    });

    // Buyers buy one unit at a time, as fast as answers come, until the server dies.
    let acked = Arc::new(Mutex::new(Vec::new()));
    let count = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = buyers
        .iter()
        .map(|token| {
            let (addr, token, promo, acked, count) =
                (addr.clone(), token.clone(), promo.clone(), acked.clone(), count.clone());
            std::thread::spawn(move || loop {
                let body = serde_json::json!({"quantity": 1, "ship_to": "DE"});
                let path = format!("/api/v1/promotions/{promo}/buy");
                let Ok((status, r)) = std::panic::catch_unwind(|| http(&addr, "POST", &path, Some(&token), Some(body)))
                else {
                    break;
                };
                assert_eq!(status, 201, "{r}");
                acked.lock().unwrap().push((token.clone(), r["order_id"].as_str().unwrap().to_string()));
                count.fetch_add(1, Ordering::SeqCst);
            })
        })
        .collect();
    let (mut child, addr) = kill_and_restart(dir.path(), child, threads, &count, 300);
    let acked = acked.lock().unwrap().clone();
    for (token, order) in &acked {
        let (status, o) = http(&addr, "GET", &format!("/api/v1/orders/{order}"), Some(token), None);
        assert_eq!((status, o["state"].as_str()), (200, Some("paid")), "acknowledged {order} survived");
    }
    let orders = store_orders(&addr, &seller, "flash");
    let (_, p) = http(&addr, "GET", &format!("/api/v1/promotions/{promo}"), None, None);
    assert!(orders >= acked.len(), "{orders} orders, {} acknowledged", acked.len());
    assert_eq!(p["sold"], orders, "the sale's counter agrees with its orders");
    let (_, product) = http(&addr, "GET", &format!("/api/v1/products/{}", product["id"].as_str().unwrap()), None, None);
    assert_eq!(product["skus"][0]["stock"], 100_000 - orders as i64, "the SKU's stock too");
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(stdout_json(&souk(dir.path(), &["admin", "ledger-check"]))["sound"], true, "the books balance");
}

/// Checkouts from sixteen clients, each request with a fresh key; the server is killed
/// (SIGKILL) mid-write and restarted, and every request it left unanswered is sent again with
/// its key at once. Each retry runs at once (a claim of the dead process is taken over, not
/// waited out), no key takes effect twice, and writes, `souk admin` and the health check work.
#[test]
fn a_server_killed_mid_checkout_takes_the_retries_at_once() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};
    let dir = tempfile::tempdir().unwrap();
    let (child, addr, _) = start_server(dir.path(), &[], &[]);
    let (seller, product) = shop_with_product(&addr, "co-shop", 1_000_000);
    let sku = product["skus"][0]["id"].as_str().unwrap().to_string();
    let body = serde_json::json!({"ship_to": "DE", "items": [{"sku_id": sku, "quantity": 1}]});
    let buyers: Vec<String> = (0..16).map(|i| register(&addr, &format!("co{i}@example.com"))).collect();

    // Each client's answered keys, and the key it was waiting on when the server died.
    let answered = Arc::new(Mutex::new(Vec::new()));
    type Waiting = Vec<Option<(String, String)>>;
    let waiting: Arc<Mutex<Waiting>> = Arc::new(Mutex::new(vec![None; buyers.len()]));
    let count = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = buyers
        .iter()
        .enumerate()
        .map(|(i, token)| {
            let (addr, token, body) = (addr.clone(), token.clone(), body.clone());
            let (answered, waiting, count) = (answered.clone(), waiting.clone(), count.clone());
            std::thread::spawn(move || {
                for n in 0.. {
                    let key = format!("co-{i}-{n}");
                    waiting.lock().unwrap()[i] = Some((token.clone(), key.clone()));
                    let call = || http_keyed(&addr, "POST", "/api/v1/checkout", Some(&token), Some(body.clone()), &key);
                    let Ok((status, r)) = std::panic::catch_unwind(call) else { break };
                    assert_eq!(status, 201, "{r}");
                    answered.lock().unwrap().push((token.clone(), key, r["checkout_id"].clone()));
                    waiting.lock().unwrap()[i] = None;
                    count.fetch_add(1, Ordering::SeqCst);
                }
            })
        })
        .collect();
    let (mut child, addr) = kill_and_restart(dir.path(), child, threads, &count, 100);
    let unanswered: Vec<(String, String)> = waiting.lock().unwrap().iter().flatten().cloned().collect();
    assert!(!unanswered.is_empty(), "the server died with requests in flight");
    let mut keys = answered.lock().unwrap().len();
    for (token, key) in &unanswered {
        let started = Instant::now();
        let (status, r) = http_keyed(&addr, "POST", "/api/v1/checkout", Some(token), Some(body.clone()), key);
        assert_eq!(status, 201, "the retry of {key} runs: {r}");
        assert!(started.elapsed() < Duration::from_secs(5), "the retry of {key} took {:?}", started.elapsed());
        keys += 1;
    }
    for (token, key, checkout) in answered.lock().unwrap().iter().take(5) {
        let (status, r) = http_keyed(&addr, "POST", "/api/v1/checkout", Some(token), Some(body.clone()), key);
        assert_eq!((status, &r["checkout_id"]), (201, checkout), "an answered key replays");
    }
    let orders = store_orders(&addr, &seller, "co-shop");
    assert_eq!(orders, keys, "one order for each key that was answered 201, none twice");
    let (status, health) = http(&addr, "GET", "/healthz", None, None);
    assert_eq!((status, &health["writes"]), (200, &serde_json::json!("ok")), "{health}");
    assert_eq!(
        stdout_json(&souk(dir.path(), &["admin", "grant", "co0@example.com", "mediator"]))["granted"],
        "mediator"
    );
    child.kill().unwrap();
    child.wait().unwrap();
}

/// The flash-sale benchmark's books, in process and through a server sharing the database: a
/// sale smaller than the demand sells out exactly, and the report says so.
#[test]
fn flash_sale_bench_sells_out_exactly_in_process_and_over_http() {
    let small = ["--buyers", "40", "--skus", "2", "--stock", "60", "--clients", "8", "--requests", "200"];
    let check = |r: &serde_json::Value, mode: &str| {
        assert_eq!(r["mode"], mode);
        assert_eq!((r["sold"].as_i64(), r["rejected"].as_i64()), (Some(120), Some(80)), "{r}");
        assert_eq!((r["oversold"].as_i64(), r["ledger_balanced"].as_bool()), (Some(0), Some(true)), "{r}");
        assert!(r["orders_per_sec"].as_f64().unwrap() > 0.0 && r["plain_orders_per_sec"].as_f64().unwrap() > 0.0);
        assert!(r["p50_ms"].as_f64().unwrap() <= r["p99_ms"].as_f64().unwrap(), "{r}");
    };
    let dir = tempfile::tempdir().unwrap();
    let args = [&["bench", "flash-sale", "--json", "--baseline-requests", "30"][..], &small[..]].concat();
    check(&stdout_json(&souk(dir.path(), &args)), "in-process");

    let dir = tempfile::tempdir().unwrap();
    let (mut child, addr, _) = start_server(dir.path(), &[], &[]);
    let url = format!("http://{addr}");
    let r = stdout_json(&souk(dir.path(), &[&args[..], &["--url", &url]].concat()));
    check(&r, "http");
    child.kill().unwrap();
    child.wait().unwrap();
    let books = stdout_json(&souk(dir.path(), &["admin", "ledger-check"]));
    assert_eq!(books["sound"], true, "the books balance once the server has written its orders out: {books}");
}

/// The everyday-order benchmark writes its history in bulk and drives a server it starts
/// itself: every kind of request is made and answered, purchases complete, the books stay
/// sound, and a second run reuses the history (how fast is for the report, not for this test).
#[test]
fn orders_bench_runs_every_kind_of_request_without_errors() {
    let dir = tempfile::tempdir().unwrap();
    let args = ["bench", "orders", "--json", "--keep", "--clients", "4", "--duration-s", "3", "--sellers", "2"];
    let more = ["--products-per-seller", "2", "--buyers", "8", "--past-orders", "300", "--open-orders", "30"];
    let r = stdout_json(&souk(dir.path(), &[&args[..], &more[..]].concat()));
    assert_eq!(r["history_orders"], 330, "{r}");
    assert!(r["checkouts"].as_u64().unwrap() > 0, "{r}");
    let books = stdout_json(&souk(dir.path(), &["admin", "ledger-check"]));
    assert_eq!(books["sound"], true, "the history keeps the books sound: {books}");
    let again = stdout_json(&souk(dir.path(), &[&args[..], &more[..]].concat()));
    assert_eq!(again["history_orders"], 330, "reused, not written again: {again}");
    for kind in ["cart", "checkout", "pay", "product_page", "order_list", "wallet", "store_orders"] {
        let k = &r["requests"][kind];
        assert!(k["count"].as_u64().unwrap_or(0) > 0, "{kind} was requested: {r}");
        assert_eq!(k["errors"], 0, "{kind} answered without errors: {r}");
        assert!(k["p50_ms"].as_f64().unwrap() <= k["p99_ms"].as_f64().unwrap(), "{r}");
    }
    assert!(r["server_cpu_ms_per_checkout"].as_f64().unwrap() > 0.0, "{r}");
}

#[test]
fn json_logs_are_one_object_per_line() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, _, printed) = start_server(dir.path(), &["--log-format", "json"], &[]);
    child.kill().unwrap();
    child.wait().unwrap();
    let lines: Vec<&str> = printed.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(!lines.is_empty());
    for line in lines {
        let v: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(v["level"].is_string() && v["timestamp"].is_string(), "{line}");
    }
    let refused = souk(dir.path(), &["--log-format", "xml", "config"]);
    assert!(!refused.status.success() && String::from_utf8_lossy(&refused.stderr).contains("log_format"));
}

/// Each command's help lists the flags it takes, every one described; server settings belong to
/// `serve` (and `config`) alone.
#[test]
fn each_command_lists_and_describes_only_its_flags() {
    let help = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_souk")).args(args).output().unwrap();
        assert!(out.status.success(), "{args:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    let migrate = help(&["migrate", "--help"]);
    assert!(migrate.contains("--data-dir") && !migrate.contains("--listen") && !migrate.contains("--ship-by-s"));
    let serve = help(&["serve", "--help"]);
    assert!(serve.contains("--listen") && serve.contains("--ship-by-s") && serve.contains("--demo"));
    let commands: &[&[&str]] = &[
        &["serve"],
        &["config"],
        &["seed"],
        &["reindex"],
        &["import", "products"],
        &["export", "orders"],
        &["bench", "search"],
        &["bench", "orders"],
        &["bench", "flash-sale"],
        &["admin", "create-user"],
        &["admin", "create-store"],
        &["admin", "grant"],
        &["carrier", "simulate"],
        &["backup"],
        &["restore"],
    ];
    for command in commands {
        let text = help(&[command, &["-h"][..]].concat());
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            let item = line.trim_start();
            let is_item =
                line.starts_with("  ") && (item.starts_with('-') || item.starts_with('<') || item.starts_with('['));
            if !is_item || item.starts_with("-h, --help") {
                continue;
            }
            // The words follow on the same line after a gap, or on the next, further indented.
            let same_line = item.split_once("  ").is_some_and(|(_, words)| !words.trim().is_empty());
            let next_line = lines.get(i + 1).is_some_and(|next| {
                let words = next.trim_start();
                next.len() - words.len() > line.len() - item.len() && !words.is_empty() && !words.starts_with('-')
            });
            assert!(same_line || next_line, "souk {} -h: `{item}` is not described", command.join(" "));
        }
    }
}

/// `serve --demo` on a data directory that holds a marketplace of its own says it will not seed
/// the demo, and prints no log-ins that would fail; logs piped to a file carry no colour codes.
#[test]
fn the_demo_is_seeded_only_into_an_empty_marketplace() {
    let dir = tempfile::tempdir().unwrap();
    let pw = dir.path().join("pw");
    std::fs::write(&pw, "a long enough password\n").unwrap();
    let data = dir.path().join("data");
    let made =
        souk(&data, &["admin", "create-user", "--email", "owner@example.com", "--password-file", pw.to_str().unwrap()]);
    assert!(made.status.success());
    let (mut child, _, printed) = start_server(&data, &[], &["--demo"]);
    let _ = child.kill();
    let _ = child.wait();
    assert!(printed.contains("not seeding the demo") && printed.contains(data.to_str().unwrap()), "{printed}");
    assert!(!printed.contains("buyer@demo.souk"), "no log-ins that do not exist: {printed}");
    assert!(!printed.contains('\u{1b}'), "no colour codes when not at a terminal: {printed:?}");
    let broken = souk(std::path::Path::new("/proc/souk-cannot-be-here"), &["migrate"]);
    let said = String::from_utf8_lossy(&broken.stderr);
    assert!(
        !broken.status.success() && said.contains("/proc/souk-cannot-be-here") && said.contains("--data-dir"),
        "{said}"
    );
}
