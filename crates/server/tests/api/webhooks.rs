//! Webhooks against a local receiver that checks every signature with its own HMAC code and
//! fails on purpose: retries, order per order, the delivery log, replay, the three-day limit,
//! marketplace endpoints, and no event lost or reordered across a restart.

use crate::orders::{market, order_action, paid_order, ship};
use crate::{on_both_backends, Srv};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode as Status};
use hmac::{Hmac, Mac};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use sha2::Sha256;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// A webhook receiver, as an integrator would write one.
#[derive(Default)]
struct Receiver {
    secret: Mutex<String>,
    /// Answer 500 to this many more requests.
    fail_next: AtomicUsize,
    /// Answer 503 to every n-th request (0: never).
    fail_every: AtomicUsize,
    requests: AtomicUsize,
    bad_signatures: AtomicUsize,
    /// Acknowledged events, in arrival order: (event id, type, order id).
    acknowledged: Mutex<Vec<(String, String, Option<String>)>>,
}

impl Receiver {
    async fn start() -> (Arc<Receiver>, String) {
        let receiver = Arc::new(Receiver::default());
        let app = axum::Router::new().route("/hook", axum::routing::post(receive)).with_state(receiver.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        (receiver, url)
    }

    fn events(&self) -> Vec<(String, String, Option<String>)> {
        self.acknowledged.lock().unwrap().clone()
    }

    /// The distinct events acknowledged about `order`, in first-arrival order.
    fn types_of(&self, order: &str) -> Vec<String> {
        let mut seen: Vec<(String, String)> = Vec::new();
        for (id, kind, o) in self.events() {
            if o.as_deref() == Some(order) && !seen.iter().any(|(i, _)| *i == id) {
                seen.push((id, kind));
            }
        }
        seen.into_iter().map(|(_, k)| k).collect()
    }
}

/// Checks `t=...,v1=...`: HMAC-SHA256 under the secret over "t.body", in constant time.
fn signature_valid(secret: &str, header: &str, body: &[u8]) -> bool {
    let mut t = None;
    let mut v1 = None;
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", v)) => t = Some(v.to_string()),
            Some(("v1", v)) => v1 = Some(v.to_string()),
            _ => {}
        }
    }
    let (Some(t), Some(v1)) = (t, v1) else { return false };
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.").as_bytes());
    mac.update(body);
    let Ok(given) =
        (0..v1.len() / 2).map(|i| u8::from_str_radix(&v1[2 * i..2 * i + 2], 16)).collect::<Result<Vec<u8>, _>>()
    else {
        return false;
    };
    mac.verify_slice(&given).is_ok()
}

async fn receive(State(r): State<Arc<Receiver>>, headers: HeaderMap, body: Bytes) -> Status {
    let header = headers.get("souk-signature").and_then(|v| v.to_str().ok()).unwrap_or("");
    let secret = r.secret.lock().unwrap().clone();
    if !signature_valid(&secret, header, &body) {
        r.bad_signatures.fetch_add(1, Ordering::SeqCst);
        return Status::BAD_REQUEST;
    }
    let n = r.requests.fetch_add(1, Ordering::SeqCst) + 1;
    if r.fail_next.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |f| f.checked_sub(1)).is_ok() {
        return Status::INTERNAL_SERVER_ERROR;
    }
    let every = r.fail_every.load(Ordering::SeqCst);
    if every > 0 && n % every == 0 {
        return Status::SERVICE_UNAVAILABLE;
    }
    let event: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(headers["souk-event-id"].to_str().unwrap(), event["id"].as_str().unwrap());
    r.acknowledged.lock().unwrap().push((
        event["id"].as_str().unwrap().to_string(),
        event["type"].as_str().unwrap().to_string(),
        event["order_id"].as_str().map(str::to_string),
    ));
    Status::OK
}

async fn start(backend: souk_store::testing::TestBackend) -> Option<Srv> {
    Srv::start_with(backend, |c| c.webhooks_allow_private = true).await
}

/// Registers an endpoint for `token` and tells the receiver its secret.
async fn register(srv: &Srv, token: &str, receiver: &Receiver, url: &str, events: Value) -> String {
    let r = srv.post("/api/v1/webhooks", Some(token), json!({"url": url, "events": events})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let secret = r.body["secret"].as_str().unwrap();
    assert!(secret.starts_with("whsec_") && secret.len() > 30);
    *receiver.secret.lock().unwrap() = secret.to_string();
    r.body["webhook"]["id"].as_str().unwrap().to_string()
}

/// As `on_both_backends!`, on servers that accept the receiver's local address.
macro_rules! with_receiver {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                if let Some(srv) = super::start(souk_store::testing::TestBackend::Sqlite).await {
                    super::$name(srv).await
                }
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(srv) = super::start(souk_store::testing::TestBackend::Postgres).await {
                    super::$name(srv).await
                }
            }
        }
    )*};
}

with_receiver!(
    signed_deliveries_retry_and_keep_order,
    retries_end_after_three_days_and_replay_sends_again,
    no_event_is_lost_or_reordered_across_a_restart
);
on_both_backends!(endpoints_are_checked_and_private_to_their_owner);

async fn endpoints_are_checked_and_private_to_their_owner(srv: Srv) {
    let (seller, _) = srv.seller("hooks@example.com", "hooks").await;
    let (other, other_id) = srv.register("other@example.com").await;
    let bad = srv
        .post("/api/v1/webhooks", Some(&seller), json!({"url": "https://h.example.com/", "events": ["order.eaten"]}))
        .await;
    assert_eq!((bad.status, bad.field()), (StatusCode::UNPROCESSABLE_ENTITY, "events"), "{}", bad.body);
    let private =
        srv.post("/api/v1/webhooks", Some(&seller), json!({"url": "http://127.0.0.1:9/", "events": ["*"]})).await;
    assert_eq!((private.status, private.code()), (StatusCode::UNPROCESSABLE_ENTITY, "private_address"));
    let whole = json!({"url": "https://h.example.com/", "events": ["*"], "marketplace": true});
    assert_eq!(srv.post("/api/v1/webhooks", Some(&seller), whole.clone()).await.status, StatusCode::FORBIDDEN);
    assert_eq!(srv.get("/api/v1/webhooks", None).await.status, StatusCode::UNAUTHORIZED);

    let ok = srv
        .post(
            "/api/v1/webhooks",
            Some(&seller),
            json!({"url": "https://h.example.com/x", "events": ["order.*", "dispute.opened"]}),
        )
        .await;
    assert_eq!(ok.status, StatusCode::CREATED, "{}", ok.body);
    let id = ok.body["webhook"]["id"].as_str().unwrap().to_string();
    assert_eq!(ok.body["webhook"]["events"], json!(["dispute.opened", "order.*"]));
    let listed = srv.get("/api/v1/webhooks", Some(&seller)).await.body;
    assert_eq!(listed[0]["id"], id.as_str());
    assert!(listed[0].get("secret").is_none(), "the secret is shown once: {listed}");
    for path in [format!("/api/v1/webhooks/{id}"), format!("/api/v1/webhooks/{id}/deliveries")] {
        assert_eq!(srv.get(&path, Some(&other)).await.status, StatusCode::NOT_FOUND, "{path}");
    }
    let replay = format!("/api/v1/webhooks/{id}/deliveries/1/replay");
    assert_eq!(srv.post(&replay, Some(&other), json!({})).await.status, StatusCode::NOT_FOUND);
    let bad_state = srv.get(&format!("/api/v1/webhooks/{id}/deliveries?state=lost"), Some(&seller)).await;
    assert_eq!((bad_state.status, bad_state.field()), (StatusCode::UNPROCESSABLE_ENTITY, "state"));

    // An admin may take every event of the marketplace.
    srv.make_admin(&other_id).await;
    let market_hook = srv.post("/api/v1/webhooks", Some(&other), whole).await;
    assert_eq!(market_hook.status, StatusCode::CREATED);
    let market_hook = market_hook.body["webhook"]["id"].as_str().unwrap().to_string();
    // Another store's order: the marketplace endpoint gets each event once (the outbox has a
    // row for the buyer and one for the seller); this seller's endpoint gets none of it.
    let (_, buyer, sku) = market(&srv, 5).await;
    let order = paid_order(&srv, &buyer, &sku, "market-hook").await;
    let seen = srv.get(&format!("/api/v1/webhooks/{market_hook}/deliveries"), Some(&other)).await.body;
    let kinds: Vec<&str> = seen["items"].as_array().unwrap().iter().map(|d| d["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["order.paid", "order.created"], "{seen}");
    assert!(seen["items"].as_array().unwrap().iter().all(|d| d["order_id"] == order.as_str()));
    let mine = srv.get(&format!("/api/v1/webhooks/{id}/deliveries"), Some(&seller)).await.body;
    assert_eq!(mine["items"], json!([]));

    let deleted = srv.call(Method::DELETE, &format!("/api/v1/webhooks/{id}"), Some(&seller), None, None).await;
    assert_eq!(deleted.status, StatusCode::OK);
    assert!(deleted.body["disabled_at"].is_string());
    assert_eq!(srv.post(&replay, Some(&seller), json!({})).await.code(), "webhook_deleted");
    // What a deleted endpoint was still owed is marked failed, not left pending.
    let gone = srv.call(Method::DELETE, &format!("/api/v1/webhooks/{market_hook}"), Some(&other), None, None).await;
    assert_eq!(gone.status, StatusCode::OK);
    let log = srv.get(&format!("/api/v1/webhooks/{market_hook}/deliveries"), Some(&other)).await.body;
    assert!(
        log["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["state"] == "failed" && d["last_error"] == "endpoint deleted"),
        "{log}"
    );
}

async fn signed_deliveries_retry_and_keep_order(srv: Srv) {
    let (receiver, url) = Receiver::start().await;
    let (seller, buyer, sku) = market(&srv, 10).await;
    let hook = register(&srv, &seller, &receiver, &url, json!(["order.*"])).await;
    receiver.fail_next.store(2, Ordering::SeqCst);

    let a = paid_order(&srv, &buyer, &sku, "hook-a").await;
    let b = paid_order(&srv, &buyer, &sku, "hook-b").await;
    assert_eq!(ship(&srv, &seller, &a, "other", "HOOK-1").await.status, StatusCode::OK);

    // The first event of each order fails; nothing later about those orders may overtake it.
    assert_eq!(srv.app.deliver_webhooks().await.unwrap(), 0);
    assert_eq!(receiver.requests.load(Ordering::SeqCst), 2);
    let pending = srv.get(&format!("/api/v1/webhooks/{hook}/deliveries?state=pending"), Some(&seller)).await.body;
    let failed_once: Vec<&Value> = pending["items"].as_array().unwrap().iter().filter(|d| d["attempts"] == 1).collect();
    assert_eq!(failed_once.len(), 2, "{pending}");
    assert!(failed_once
        .iter()
        .all(|d| d["type"] == "order.created" && d["last_status"] == 500 && d["last_error"] == "HTTP 500"));

    srv.clock.advance_ms(61_000);
    assert_eq!(srv.app.deliver_webhooks().await.unwrap(), 5);
    assert_eq!(receiver.types_of(&a), ["order.created", "order.paid", "order.shipped"]);
    assert_eq!(receiver.types_of(&b), ["order.created", "order.paid"]);
    assert_eq!(receiver.bad_signatures.load(Ordering::SeqCst), 0);
    assert!(receiver.events().iter().all(|(_, kind, _)| kind.starts_with("order.")));
    // Each event id is the outbox's, the same one `GET /events` shows.
    let outbox = srv.get("/api/v1/events", Some(&seller)).await.body;
    let ids: Vec<&str> = outbox["items"].as_array().unwrap().iter().filter_map(|e| e["id"].as_str()).collect();
    assert!(receiver.events().iter().all(|(id, _, _)| ids.contains(&id.as_str())), "{outbox}");

    // The log keeps both attempts of the retried one.
    let log = srv.get(&format!("/api/v1/webhooks/{hook}/deliveries?state=delivered"), Some(&seller)).await.body;
    let retried = log["items"].as_array().unwrap().iter().find(|d| d["attempts"] == 2).unwrap().clone();
    let one = srv.get(&format!("/api/v1/webhooks/{hook}/deliveries/{}", retried["id"]), Some(&seller)).await.body;
    let attempts = one["attempt_log"].as_array().unwrap();
    assert_eq!((attempts[0]["status"].as_i64(), attempts[1]["status"].as_i64()), (Some(500), Some(200)), "{one}");
    assert_eq!(one["state"], "delivered");

    // A replay sends the same event again: the receiver sees its id twice and can deduplicate.
    let replay = srv
        .post(&format!("/api/v1/webhooks/{hook}/deliveries/{}/replay", retried["id"]), Some(&seller), json!({}))
        .await;
    assert_eq!((replay.status, replay.body["state"].as_str()), (StatusCode::OK, Some("pending")), "{}", replay.body);
    assert_eq!(srv.app.deliver_webhooks().await.unwrap(), 1);
    let replayed = retried["event_id"].as_str().unwrap();
    assert_eq!(receiver.events().iter().filter(|(id, _, _)| id == replayed).count(), 2);

    // The receiver's check is a real one: another secret, or another body, fails it.
    let body = br#"{"id":"evt_1"}"#;
    let header = souk_app::payments::sign(b"whsec_right", 1_790_000_000, body);
    assert!(signature_valid("whsec_right", &header, body));
    assert!(!signature_valid("whsec_wrong", &header, body));
    assert!(!signature_valid("whsec_right", &header, br#"{"id":"evt_2"}"#));
}

async fn retries_end_after_three_days_and_replay_sends_again(srv: Srv) {
    let (receiver, url) = Receiver::start().await;
    let (seller, buyer, sku) = market(&srv, 10).await;
    let hook = register(&srv, &seller, &receiver, &url, json!(["order.created", "order.paid"])).await;
    receiver.fail_next.store(usize::MAX, Ordering::SeqCst);
    let order = paid_order(&srv, &buyer, &sku, "hook-3d").await;

    const HOUR: i64 = 3_600_000;
    let mut rounds = 0;
    loop {
        srv.app.deliver_webhooks().await.unwrap();
        let page = srv.get(&format!("/api/v1/webhooks/{hook}/deliveries"), Some(&seller)).await.body;
        let created = page["items"].as_array().unwrap().iter().find(|d| d["type"] == "order.created").unwrap().clone();
        let paid = page["items"].as_array().unwrap().iter().find(|d| d["type"] == "order.paid").unwrap().clone();
        if created["state"] == "pending" {
            assert_eq!(paid["attempts"], 0, "order.paid waits for order.created: {page}");
        } else {
            assert_eq!(created["state"], "failed");
            let log =
                srv.get(&format!("/api/v1/webhooks/{hook}/deliveries/{}", created["id"]), Some(&seller)).await.body;
            let at: Vec<i64> = log["attempt_log"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| souk_domain::time::parse_rfc3339(a["at"].as_str().unwrap()).unwrap())
                .collect();
            assert!(at.len() > 10, "retried for three days: {log}");
            assert!(at.last().unwrap() - at[0] <= 3 * 24 * HOUR && at.last().unwrap() - at[0] > 2 * 24 * HOUR);
            let gaps: Vec<i64> = at.windows(2).map(|w| w[1] - w[0]).collect();
            assert!(gaps.windows(2).all(|g| g[1] >= g[0]), "backoff never shrinks: {gaps:?}");
            assert_eq!(&gaps[..4], [60_000, 120_000, 240_000, 480_000], "doubling from a minute");
            assert!(gaps.iter().all(|g| *g <= 6 * HOUR), "{gaps:?}");
            break;
        }
        rounds += 1;
        assert!(rounds < 100, "never gave up: {page}");
        // On to the moment the log says the next attempt is due.
        let next = souk_domain::time::parse_rfc3339(created["next_attempt_at"].as_str().unwrap()).unwrap();
        srv.clock.advance_ms(next - srv.store.now_ms());
    }

    // Once the first has failed for good, the next event about the order goes out.
    receiver.fail_next.store(0, Ordering::SeqCst);
    srv.clock.advance_ms(61_000);
    assert_eq!(srv.app.deliver_webhooks().await.unwrap(), 1);
    assert_eq!(receiver.types_of(&order), ["order.paid"]);
    let failed = srv.get(&format!("/api/v1/webhooks/{hook}/deliveries?state=failed"), Some(&seller)).await.body;
    let id = failed["items"][0]["id"].clone();
    let r = srv.post(&format!("/api/v1/webhooks/{hook}/deliveries/{id}/replay"), Some(&seller), json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(srv.app.deliver_webhooks().await.unwrap(), 1);
    assert_eq!(receiver.types_of(&order), ["order.paid", "order.created"]);
}

async fn no_event_is_lost_or_reordered_across_a_restart(srv: Srv) {
    let (receiver, url) = Receiver::start().await;
    let (seller, buyer, sku) = market(&srv, 50).await;
    register(&srv, &seller, &receiver, &url, json!(["*"])).await;
    receiver.fail_every.store(3, Ordering::SeqCst);
    let mut orders = Vec::new();
    for i in 0..4 {
        orders.push(paid_order(&srv, &buyer, &sku, &format!("restart-{i}")).await);
    }
    srv.app.deliver_webhooks().await.unwrap();
    // A sender dies holding claims: these deliveries are leased but never answered.
    let due = srv.store.due_webhook_deliveries(srv.store.now_ms(), 100).await.unwrap();
    let mut tx = srv.store.begin().await.unwrap();
    for d in &due {
        tx.claim_webhook_delivery(d, srv.store.now_ms() + 60_000).await.unwrap();
    }
    tx.commit().await.unwrap();

    let srv = srv.restart().await;
    for (i, order) in orders.iter().enumerate() {
        let shipped = ship(&srv, &seller, order, "other", &format!("RESTART-{i}")).await;
        assert_eq!(shipped.status, StatusCode::OK, "{}", shipped.body);
    }
    order_action(&srv, &buyer, &orders[0], "confirm").await;

    // Every event the outbox holds for the seller arrives, each order's in outbox order.
    let mut expected: Vec<(String, String, Option<String>)> = Vec::new();
    let mut cursor = String::new();
    loop {
        let page = srv.get(&format!("/api/v1/events?cursor={cursor}"), Some(&seller)).await.body;
        let items = page["items"].as_array().unwrap();
        if items.is_empty() {
            break;
        }
        for e in items {
            expected.push((
                e["id"].as_str().unwrap().to_string(),
                e["type"].as_str().unwrap().to_string(),
                e["order_id"].as_str().map(str::to_string),
            ));
        }
        cursor = items.last().unwrap()["cursor"].as_str().unwrap().to_string();
    }
    assert!(expected.len() >= 13, "{expected:?}");
    let started = std::time::Instant::now();
    loop {
        let got = receiver.events();
        if expected.iter().all(|e| got.iter().any(|g| g.0 == e.0)) {
            break;
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(20), "missing: {expected:?} vs {got:?}");
        // Retries and expired leases fall due as time passes.
        srv.clock.advance_ms(5 * 60_000);
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    for order in &orders {
        let want: Vec<String> =
            expected.iter().filter(|e| e.2.as_deref() == Some(order)).map(|e| e.1.clone()).collect();
        assert_eq!(receiver.types_of(order), want, "order {order}");
    }
    assert_eq!(receiver.bad_signatures.load(Ordering::SeqCst), 0);
}
