//! Every request on the everyday paths costs O(log n) in the marketplace's size. The paths
//! (browse, search, product page, cart, checkout, pay, ship, confirm, order lists, wallet,
//! chat, notifications) are walked over HTTP while every statement the server sends is
//! recorded; then each statement's plan is asked for, and one that reads a growing table whole
//! fails the test: `SCAN t` in SQLite's `EXPLAIN QUERY PLAN`, a `Seq Scan` in PostgreSQL's
//! generic plan with sequential scans priced out (so the plan shows whether an index *can*
//! serve the statement, whatever the table's size now), or an index used only by a column with
//! a handful of values (`state`, `kind`, `status`), which walks a share of the table.
//!
//! Its own test binary: statements are recorded by a process-wide tracing subscriber.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use souk_app::{App, Config};
use souk_domain::clock::ManualClock;
use souk_store::testing::{TestBackend, TestDb};
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// Tables that stay small whatever the marketplace's size: reading them whole is fine.
const SMALL_TABLES: &[&str] = &["auth_epoch", "_sqlx_migrations"];

/// Columns with a handful of values: an index that only they select walks a share of the table,
/// unless the statement stops after a page (`LIMIT`) of rows in the index's order.
const COARSE_COLUMNS: &[&str] = &["state", "status", "kind", "type"];

/// Tables that a statement may read whole, each named by a part of the statement's text, with
/// why that stays cheap.
const ALLOWED: &[(&str, &str, &str)] = &[(
    "flash_orders f",
    "flash_orders",
    "the flash journal holds only paid orders not yet written out: emptied within milliseconds while \
     the engine idles, and during a burst no longer than the write-out lags; an index by buyer would \
     cost every flash order a random index page, which the engine avoids",
)];

/// One test for both backends, one after the other: the statements are recorded process-wide.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn everyday_statements_use_indexes() {
    let _ = tracing::subscriber::set_global_default(Statements);
    check(TestBackend::Sqlite).await;
    check(TestBackend::Postgres).await;
}

async fn check(backend: TestBackend) {
    let Some(db) = TestDb::new(backend).await else { return };
    let clock = Arc::new(ManualClock::new(1_790_000_000_000));
    let store = db.open(clock.clone()).await.expect("open store");
    let mut config = Config::new(db.data_dir());
    config.job_interval = std::time::Duration::from_secs(3600);
    let app = App::open(store.clone(), config).await.expect("open app");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(souk_server::serve(app.clone(), listener, async move {
        let _ = stopped.await;
    }));

    RECORDING.store(true, Ordering::SeqCst);
    walk_the_everyday_paths(&Client { base, http: reqwest::Client::new() }, &app, &clock).await;
    RECORDING.store(false, Ordering::SeqCst);
    let _ = stop.send(());

    let statements = std::mem::take(&mut *STATEMENTS.lock().unwrap());
    assert!(statements.len() > 40, "the walk recorded the statements it sent ({})", statements.len());
    let tables = growing_tables(&store).await;
    let mut conn = store.reader().await.unwrap();
    let (mut found, mut unplanned) = (Vec::new(), Vec::new());
    for sql in &statements {
        if !is_planned(sql) {
            continue;
        }
        let plan = match backend {
            TestBackend::Sqlite => sqlite_plan(&mut conn, sql).await,
            TestBackend::Postgres => postgres_plan(&mut conn, sql).await,
        };
        let Some(plan) = plan else {
            unplanned.push(sql.as_str());
            continue;
        };
        let mut growing = tables.clone();
        for (_, table, _) in ALLOWED.iter().filter(|(part, _, _)| sql.contains(part)) {
            growing.remove(*table);
        }
        let paged = sql.contains(" LIMIT ");
        if let Some(why) = walks_a_growing_table(&plan, &with_aliases(sql, &growing), paged) {
            found.push(format!("{why}\n  statement: {sql}\n  plan: {}", plan.replace('\n', "\n        ")));
        }
    }
    assert!(found.is_empty(), "{} statements read a growing table whole:\n\n{}", found.len(), found.join("\n\n"));
    // A few statements cannot be planned without their values (PostgreSQL cannot tell the type
    // of a parameter that only meets another parameter); they are few, and named here.
    eprintln!("{backend:?}: {} statements planned; not planned: {unplanned:#?}", statements.len() - unplanned.len());
    assert!(unplanned.len() * 10 <= statements.len(), "too many statements could not be planned: {unplanned:#?}");
}

struct Client {
    base: String,
    http: reqwest::Client,
}

impl Client {
    async fn call(&self, method: Method, path: &str, token: Option<&str>, body: Option<Value>) -> (StatusCode, Value) {
        let mut req = self.http.request(method.clone(), format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if method != Method::GET {
            req = req.header("Idempotency-Key", format!("k-{}", rand::random::<u64>()));
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.unwrap();
        let status = res.status();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    async fn ok(&self, method: Method, path: &str, token: Option<&str>, body: Option<Value>) -> Value {
        let (status, body) = self.call(method, path, token, body).await;
        assert!(status.is_success(), "{path}: {status} {body}");
        body
    }
}

async fn walk_the_everyday_paths(c: &Client, app: &App, clock: &ManualClock) {
    let register = |email: &'static str| async move {
        let body = json!({"email": email, "password": "correct horse battery"});
        c.ok(Method::POST, "/api/v1/auth/register", None, Some(body)).await["token"].as_str().unwrap().to_string()
    };
    let seller = register("seller@example.com").await;
    let buyer = register("buyer@example.com").await;
    let shop = json!({"name": "Shop", "slug": "shop", "country": "CN", "currency": "CNY"});
    c.ok(Method::POST, "/api/v1/stores", Some(&seller), Some(shop)).await;
    let product = json!({"title": "Tea set", "description": "Porcelain", "category": "home/kitchen",
        "ships_to": ["*"], "skus": [{"price": {"amount": 1999, "currency": "CNY"}, "stock": 100}]});
    let product = c.ok(Method::POST, "/api/v1/products", Some(&seller), Some(product)).await;
    let (id, sku) = (product["id"].as_str().unwrap(), product["skus"][0]["id"].as_str().unwrap());
    let top_up = json!({"amount": {"amount": 100_000, "currency": "CNY"}, "card_number": "4242 4242 4242 4242"});
    c.ok(Method::POST, "/api/v1/wallet/top-ups", Some(&buyer), Some(top_up)).await;
    clock.advance_ms(1_000);
    app.deliver_sandbox_confirmations().await.unwrap();

    for _ in 0..2 {
        // Browse and look.
        c.ok(Method::GET, "/api/v1/search?q=tea", None, None).await;
        c.ok(Method::GET, "/api/v1/products?limit=20", None, None).await;
        c.ok(Method::GET, &format!("/api/v1/products/{id}"), Some(&buyer), None).await;
        c.ok(Method::GET, &format!("/api/v1/products/{id}/reviews"), None, None).await;
        c.ok(Method::GET, "/api/v1/stores/shop", None, None).await;
        c.ok(Method::GET, "/api/v1/stores/shop/products", None, None).await;
        // Buy: cart, checkout, pay.
        c.ok(Method::PUT, &format!("/api/v1/cart/items/{sku}"), Some(&buyer), Some(json!({"quantity": 1}))).await;
        c.ok(Method::GET, "/api/v1/cart", Some(&buyer), None).await;
        let co = c.ok(Method::POST, "/api/v1/checkout", Some(&buyer), Some(json!({"ship_to": "DE"}))).await;
        let checkout = co["checkout_id"].as_str().unwrap();
        let order = co["orders"][0]["id"].as_str().unwrap().to_string();
        c.ok(Method::POST, &format!("/api/v1/checkouts/{checkout}/pay"), Some(&buyer), None).await;
        // Ship, confirm.
        let ship = json!({"carrier": "other", "tracking_number": format!("PARCEL-{}", rand::random::<u32>())});
        c.ok(Method::POST, &format!("/api/v1/orders/{order}/ship"), Some(&seller), Some(ship)).await;
        c.ok(Method::POST, &format!("/api/v1/orders/{order}/confirm"), Some(&buyer), Some(json!({}))).await;
        c.ok(Method::GET, &format!("/api/v1/orders/{order}"), Some(&buyer), None).await;
        // Lists, wallet, notifications.
        c.ok(Method::GET, "/api/v1/orders", Some(&buyer), None).await;
        c.ok(Method::GET, "/api/v1/stores/shop/orders", Some(&seller), None).await;
        c.ok(Method::GET, "/api/v1/wallet", Some(&buyer), None).await;
        c.ok(Method::GET, "/api/v1/wallet/transactions", Some(&seller), None).await;
        c.ok(Method::GET, "/api/v1/notifications", Some(&buyer), None).await;
        c.ok(Method::GET, "/api/v1/events", Some(&buyer), None).await;
        // Chat.
        let conversation =
            c.ok(Method::POST, "/api/v1/conversations", Some(&buyer), Some(json!({"store": "shop"}))).await;
        let conversation = conversation["id"].as_str().unwrap();
        let messages = format!("/api/v1/conversations/{conversation}/messages");
        c.ok(Method::POST, &messages, Some(&buyer), Some(json!({"text": "Is it in stock?"}))).await;
        c.ok(Method::POST, &messages, Some(&seller), Some(json!({"text": "Yes."}))).await;
        c.ok(Method::GET, &messages, Some(&buyer), None).await;
        c.ok(Method::GET, "/api/v1/conversations", Some(&seller), None).await;
    }
    // The pages a buyer sees most.
    for page in ["/", "/search?q=tea", &format!("/products/{id}")] {
        let res = c.http.get(format!("{}{page}", c.base)).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{page}");
    }
}

/// Statements whose plan says something: reads and writes with conditions, not transaction
/// control or settings.
fn is_planned(sql: &str) -> bool {
    let head = sql.split_whitespace().next().unwrap_or("").to_ascii_uppercase();
    matches!(head.as_str(), "SELECT" | "UPDATE" | "DELETE" | "INSERT" | "WITH")
}

async fn sqlite_plan(conn: &mut sqlx::AnyConnection, sql: &str) -> Option<String> {
    use sqlx::Row;
    let rows = sqlx::query(&format!("EXPLAIN QUERY PLAN {sql}")).fetch_all(&mut *conn).await.ok()?;
    Some(rows.iter().filter_map(|r| r.try_get::<String, _>(3).ok()).collect::<Vec<_>>().join("\n"))
}

/// PostgreSQL's generic plan (what a prepared statement runs with any values) with sequential
/// scans priced out: a `Seq Scan` left in it means no index can serve the statement.
async fn postgres_plan(conn: &mut sqlx::AnyConnection, sql: &str) -> Option<String> {
    use sqlx::{Connection, Executor, Row};
    let params = (1..=64).take_while(|n| sql.contains(&format!("${n}"))).count();
    let mut tx = conn.begin().await.ok()?;
    tx.execute("SET LOCAL enable_seqscan = off").await.ok()?;
    tx.execute("SET LOCAL plan_cache_mode = force_generic_plan").await.ok()?;
    if tx.execute(format!("PREPARE plan_check AS {sql}").as_str()).await.is_err() {
        return None;
    }
    let args = vec!["NULL"; params].join(", ");
    let execute = if params == 0 { "EXECUTE plan_check".to_string() } else { format!("EXECUTE plan_check({args})") };
    let rows = sqlx::query(&format!("EXPLAIN {execute}")).fetch_all(&mut *tx).await.ok();
    let _ = tx.execute("DEALLOCATE plan_check").await;
    let _ = tx.rollback().await;
    Some(rows?.iter().filter_map(|r| r.try_get::<String, _>(0).ok()).collect::<Vec<_>>().join("\n"))
}

/// Why the plan reads a growing table whole, if it does.
fn walks_a_growing_table(plan: &str, tables: &BTreeSet<String>, paged: bool) -> Option<String> {
    for line in plan.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        // SQLite: `SCAN orders`, `SCAN o USING INDEX ...` (aliases are resolved by the table list
        // below only when they are the table's name, so aliases are checked through the schema).
        if let Some(i) = words.iter().position(|w| *w == "SCAN") {
            let table = words.get(i + 1).copied().unwrap_or("");
            if tables.contains(table) && !line.contains("USING INTEGER PRIMARY KEY") {
                return Some(format!("reads `{table}` whole"));
            }
        }
        // PostgreSQL: `Seq Scan on orders o`.
        if let Some(rest) = line.split("Seq Scan on ").nth(1) {
            let table = rest.split_whitespace().next().unwrap_or("");
            if tables.contains(table) {
                return Some(format!("reads `{table}` whole"));
            }
        }
        // SQLite: `SEARCH jobs USING INDEX jobs_due (state=?)`: an index chosen for a column
        // with a few values walks every row that has one of them.
        if let (Some(i), Some(cond)) = (words.iter().position(|w| *w == "SEARCH"), line.split(" (").nth(1)) {
            let table = words.get(i + 1).copied().unwrap_or("");
            let columns: Vec<&str> = cond
                .trim_end_matches(')')
                .split(" AND ")
                .map(|c| c.split(['=', '>', '<']).next().unwrap_or(""))
                .collect();
            if !paged && tables.contains(table) && columns.iter().all(|c| COARSE_COLUMNS.contains(c)) {
                return Some(format!("walks `{table}` by {} alone", columns.join(", ")));
            }
        }
    }
    None
}

/// The growing tables and the aliases `sql` gives them (`FROM orders o`): plans name a table by
/// its alias.
fn with_aliases(sql: &str, tables: &BTreeSet<String>) -> BTreeSet<String> {
    const NOT_ALIASES: &[&str] = &[
        "WHERE", "JOIN", "ON", "LEFT", "INNER", "CROSS", "GROUP", "ORDER", "LIMIT", "USING", "SET", "UNION", "FOR",
        "AS",
    ];
    let words: Vec<&str> =
        sql.split(|c: char| c.is_whitespace() || c == ',' || c == '(' || c == ')').filter(|w| !w.is_empty()).collect();
    let mut named = tables.clone();
    for (i, w) in words.iter().enumerate() {
        if !(w.eq_ignore_ascii_case("FROM") || w.eq_ignore_ascii_case("JOIN")) {
            continue;
        }
        let (Some(table), Some(mut alias)) = (words.get(i + 1), words.get(i + 2)) else { continue };
        if alias.eq_ignore_ascii_case("AS") {
            let Some(next) = words.get(i + 3) else { continue };
            alias = next;
        }
        if tables.contains(*table) && !NOT_ALIASES.iter().any(|k| alias.eq_ignore_ascii_case(k)) {
            named.insert(alias.to_string());
        }
    }
    named
}

async fn growing_tables(store: &souk_store::Store) -> BTreeSet<String> {
    let mut conn = store.reader().await.unwrap();
    let sql = match store.backend() {
        souk_store::Backend::Sqlite => "SELECT name FROM sqlite_master WHERE type = 'table'",
        souk_store::Backend::Postgres => "SELECT tablename::text FROM pg_tables WHERE schemaname = current_schema()",
    };
    let names: Vec<(String,)> = sqlx::query_as(sql).fetch_all(&mut *conn).await.unwrap();
    names
        .into_iter()
        .map(|(n,)| n)
        .filter(|n| !SMALL_TABLES.contains(&n.as_str()) && !n.starts_with("sqlite_"))
        .collect()
}

/// The text of every statement sqlx logged while recording.
static STATEMENTS: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());
static RECORDING: AtomicBool = AtomicBool::new(false);

/// A tracing subscriber that keeps the text of every statement sqlx logs.
struct Statements;

impl tracing::Subscriber for Statements {
    fn enabled(&self, metadata: &tracing::Metadata<'_>) -> bool {
        metadata.target() == "sqlx::query"
    }

    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }

    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}

    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}

    fn event(&self, event: &tracing::Event<'_>) {
        if !RECORDING.load(Ordering::SeqCst) {
            return;
        }
        struct Sql(Option<String>);
        impl tracing::field::Visit for Sql {
            fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
                if field.name() == "db.statement" {
                    self.0 = Some(value.to_string());
                }
            }
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                if field.name() == "db.statement" {
                    self.0 = Some(format!("{value:?}"));
                }
            }
        }
        let mut sql = Sql(None);
        event.record(&mut sql);
        if let Some(sql) = sql.0 {
            STATEMENTS.lock().unwrap().insert(sql);
        }
    }

    fn enter(&self, _: &tracing::span::Id) {}

    fn exit(&self, _: &tracing::span::Id) {}
}
