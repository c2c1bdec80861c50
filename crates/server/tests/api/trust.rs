//! Shipping with tracking, carriers' signed events, reviews, and the trust score moving search.

use crate::orders::{assert_ledger_sound, checkout, market, order_action, ship};
use crate::{on_both_backends, product_body, Res, Srv};
use reqwest::StatusCode;
use serde_json::{json, Value};
use souk_app::payments::sign;
use souk_domain::clock::Clock;
use souk_store::testing::TestBackend;

on_both_backends!(reviews_follow_the_rules_and_trust_moves_search);

/// In sandbox mode the sandbox carrier moves parcels shipped with it, step by step.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sandbox_carrier_delivers() {
    let Some(srv) = Srv::start_with(TestBackend::Sqlite, |c| {
        c.carrier_sandbox = true;
        c.carrier_sandbox_step_ms = 60_000;
    })
    .await
    else {
        return;
    };
    let (seller, buyer, sku) = market(&srv, 5).await;
    let co = checkout(&srv, &buyer, &sku, 1, "co-sbx").await;
    let order = co.body["orders"][0]["id"].as_str().unwrap().to_string();
    order_action(&srv, &buyer, &order, "pay").await;
    assert_eq!(ship(&srv, &seller, &order, "sandbox", "SBX-0001").await.status, StatusCode::OK);
    assert_eq!(srv.app.simulate_sandbox_carrier().await.unwrap(), 0, "nothing is due at once");
    srv.clock.advance_ms(150_000);
    assert_eq!(srv.app.simulate_sandbox_carrier().await.unwrap(), 2, "picked up, in transit");
    assert_eq!(srv.app.simulate_sandbox_carrier().await.unwrap(), 0, "each event once");
    srv.clock.advance_ms(120_000);
    assert_eq!(srv.app.simulate_sandbox_carrier().await.unwrap(), 2);
    let t = srv.get(&format!("/api/v1/orders/{order}/tracking"), Some(&buyer)).await.body;
    assert_eq!(t["state"], "delivered", "{t}");
    assert_eq!(t["events"].as_array().unwrap().len(), 4);
    assert_eq!(t["time_to_deliver_s"], 240, "from shipping to the carrier's delivery scan, not to when Souk heard");
}

/// Servers that accept UPS's events.
mod carrier_events_are_signed_idempotent_and_deliver {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        if let Some(srv) = start(TestBackend::Sqlite).await {
            super::carrier_events_are_signed_idempotent_and_deliver(srv).await
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        if let Some(srv) = start(TestBackend::Postgres).await {
            super::carrier_events_are_signed_idempotent_and_deliver(srv).await
        }
    }
}

const UPS_SECRET: &str = "ups-test-secret-0123456789";
const TRACKING: &str = "1Z999AA10123456784";

async fn start(backend: TestBackend) -> Option<Srv> {
    Srv::start_with(backend, |c| {
        c.carriers.insert("ups".into(), UPS_SECRET.as_bytes().to_vec());
    })
    .await
}

async fn post_event(srv: &Srv, carrier: &str, secret: &str, at_s: i64, body: &Value) -> Res {
    let body = body.to_string();
    let res = srv
        .http
        .post(format!("{}/api/v1/carriers/{carrier}/events", srv.base))
        .header("content-type", "application/json")
        .header("Souk-Signature", sign(secret.as_bytes(), at_s, body.as_bytes()))
        .body(body)
        .send()
        .await
        .unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let body = res.json::<Value>().await.unwrap_or(Value::Null);
    Res { status, body, headers }
}

fn event(id: &str, kind: &str) -> Value {
    json!({"event_id": id, "tracking_number": TRACKING, "type": kind, "occurred_at": "2026-09-22T08:00:00Z",
           "location": "Shenzhen"})
}

/// A paid order, shipped with UPS.
async fn shipped_order(srv: &Srv, seller: &str, buyer: &str, sku: &str, key: &str) -> String {
    let co = checkout(srv, buyer, sku, 1, key).await;
    let order = co.body["orders"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(order_action(srv, buyer, &order, "pay").await.status, StatusCode::OK);
    srv.clock.advance_ms(3_600_000);
    let r = ship(srv, seller, &order, "UPS", &TRACKING.to_lowercase()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["tracking_number"], TRACKING, "stored upper-cased");
    order
}

async fn carrier_events_are_signed_idempotent_and_deliver(srv: Srv) {
    let (seller, buyer, sku) = market(&srv, 5).await;
    let bad_format = ship(&srv, &seller, "ord_x", "UPS", "12345").await;
    assert_eq!((bad_format.status, bad_format.code()), (StatusCode::UNPROCESSABLE_ENTITY, "invalid_tracking"));
    let order = shipped_order(&srv, &seller, &buyer, &sku, "co-track").await;
    let now_s = || srv.clock.now_ms() / 1000;

    let picked = post_event(&srv, "ups", UPS_SECRET, now_s(), &event("ev-1", "picked_up")).await;
    assert_eq!(picked.status, StatusCode::OK, "{}", picked.body);
    assert_eq!(picked.body, json!({"orders": [order], "duplicate": false}));
    let replay = post_event(&srv, "ups", UPS_SECRET, now_s(), &event("ev-1", "picked_up")).await;
    assert_eq!(replay.body["duplicate"], true, "a replayed event changes nothing");
    for (secret, at, why) in [("wrong-secret-0123456789", now_s(), "bad"), (UPS_SECRET, now_s() - 3600, "stale")] {
        let r = post_event(&srv, "ups", secret, at, &event("ev-2", "in_transit")).await;
        assert_eq!((r.status, r.code()), (StatusCode::UNAUTHORIZED, "bad_signature"), "{why}");
    }
    assert_eq!(srv.count("tracking_events").await, 1, "nothing written for bad signatures or replays");
    let unknown_carrier = post_event(&srv, "fedex", UPS_SECRET, now_s(), &event("ev-3", "in_transit")).await;
    assert_eq!(unknown_carrier.status, StatusCode::NOT_FOUND, "no secret configured: not accepted");
    let sandbox =
        post_event(&srv, "sandbox", "souk-sandbox-development-secret", now_s(), &event("e", "in_transit")).await;
    assert_eq!(sandbox.status, StatusCode::NOT_FOUND, "the sandbox carrier is off outside sandbox mode");
    let mut other = event("ev-4", "in_transit");
    other["tracking_number"] = json!("1Z999AA10123456785");
    let r = post_event(&srv, "ups", UPS_SECRET, now_s(), &other).await;
    assert_eq!((r.status, r.code()), (StatusCode::NOT_FOUND, "unknown_tracking"));
    let r = post_event(&srv, "ups", UPS_SECRET, now_s(), &event("ev-5", "lost")).await;
    assert_eq!((r.status, r.field()), (StatusCode::UNPROCESSABLE_ENTITY, "type"));

    srv.clock.advance_ms(2 * 86_400_000);
    // The scan happened six hours before it reached Souk: delivery counts from the scan.
    let mut delivered = event("ev-6", "delivered");
    let scanned_ms = srv.clock.now_ms() - 6 * 3_600_000;
    delivered["occurred_at"] = json!(souk_domain::time::rfc3339(scanned_ms));
    let delivered = post_event(&srv, "ups", UPS_SECRET, now_s(), &delivered).await;
    assert_eq!(delivered.status, StatusCode::OK, "{}", delivered.body);
    let o = srv.get(&format!("/api/v1/orders/{order}"), Some(&buyer)).await.body;
    assert_eq!(o["state"], "delivered");
    assert_eq!(o["delivered_at"], souk_domain::time::rfc3339(scanned_ms));
    let confirm_by = o["deadlines"].as_array().unwrap().iter().find(|d| d["kind"] == "confirm_by").unwrap();
    let due = souk_domain::time::parse_rfc3339(confirm_by["due_at"].as_str().unwrap()).unwrap();
    assert_eq!(due, scanned_ms + 3 * 86_400_000, "three days after delivery, sooner than ten after shipping");
    assert_ledger_sound(&srv).await; // a delivered order still holds its escrow

    let t = srv.get(&format!("/api/v1/orders/{order}/tracking"), Some(&seller)).await;
    assert_eq!(t.status, StatusCode::OK, "{}", t.body);
    let kinds: Vec<&str> = t.body["events"].as_array().unwrap().iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, vec!["picked_up", "delivered"]);
    assert_eq!(t.body["time_to_ship_s"], 3600);
    assert_eq!(t.body["time_to_deliver_s"], 2 * 86_400 - 6 * 3600);
    let (stranger, _) = srv.quick_user("stranger@example.com").await;
    let hidden = srv.get(&format!("/api/v1/orders/{order}/tracking"), Some(&stranger)).await;
    assert_eq!(hidden.status, StatusCode::NOT_FOUND);

    srv.clock.advance_ms(3 * 86_400_000 - 6 * 3_600_000 + 1);
    srv.app.run_due_jobs().await.unwrap();
    let o = srv.get(&format!("/api/v1/orders/{order}"), Some(&buyer)).await.body;
    assert_eq!(o["state"], "completed", "the shortened window released the escrow");
    let trust = srv.get("/api/v1/stores/market/trust", None).await.body;
    assert_eq!(trust["inputs"]["delivered_orders"], 1);
    assert_eq!(trust["inputs"]["shipped_on_time"], 1);
    assert_eq!(trust["inputs"]["completed_orders"], 1);
    assert_ledger_sound(&srv).await;
}

async fn review(srv: &Srv, token: &str, order: &str, body: Value, key: &str) -> Res {
    srv.call(reqwest::Method::POST, &format!("/api/v1/orders/{order}/reviews"), Some(token), Some(body), Some(key))
        .await
}

fn stars(n: i64) -> Value {
    json!({"line": 0, "stars": n, "item_as_described": n, "communication": n, "shipping_speed": n, "text": "Lovely tea set"})
}

async fn reviews_follow_the_rules_and_trust_moves_search(srv: Srv) {
    let (seller, buyer, sku) = market(&srv, 50).await;
    // A rival store with the same product, created first.
    let (rival, _) = srv.seller("rival@example.com", "rival").await;
    let mut body = product_body("Tea set");
    body["ships_to"] = json!(["*"]);
    assert_eq!(srv.post("/api/v1/products", Some(&rival), body).await.status, StatusCode::CREATED);

    let co = checkout(&srv, &buyer, &sku, 1, "co-r1").await;
    let order = co.body["orders"][0]["id"].as_str().unwrap().to_string();
    order_action(&srv, &buyer, &order, "pay").await;
    let early = review(&srv, &buyer, &order, stars(5), "rv-early").await;
    assert_eq!((early.status, early.code()), (StatusCode::CONFLICT, "order_not_completed"));
    ship(&srv, &seller, &order, "other", "PARCEL-1").await;
    assert_eq!(order_action(&srv, &buyer, &order, "confirm").await.status, StatusCode::OK);

    let by_seller = review(&srv, &seller, &order, stars(5), "rv-seller").await;
    assert_eq!(by_seller.status, StatusCode::FORBIDDEN, "only the buyer reviews");
    let bad = review(
        &srv,
        &buyer,
        &order,
        json!({"line": 0, "stars": 6, "item_as_described": 5,
        "communication": 5, "shipping_speed": 5}),
        "rv-bad",
    )
    .await;
    assert_eq!((bad.status, bad.field()), (StatusCode::UNPROCESSABLE_ENTITY, "stars"));
    let long = review(
        &srv,
        &buyer,
        &order,
        json!({"line": 0, "stars": 5, "item_as_described": 5,
        "communication": 5, "shipping_speed": 5, "text": "x".repeat(2001)}),
        "rv-long",
    )
    .await;
    assert_eq!((long.status, long.field()), (StatusCode::UNPROCESSABLE_ENTITY, "text"));
    let no_line = review(
        &srv,
        &buyer,
        &order,
        json!({"line": 3, "stars": 5, "item_as_described": 5,
        "communication": 5, "shipping_speed": 5}),
        "rv-line",
    )
    .await;
    assert_eq!((no_line.status, no_line.field()), (StatusCode::UNPROCESSABLE_ENTITY, "line"));
    let mut bad_photo = stars(5);
    bad_photo["images"] = json!(["file:///etc/passwd"]);
    let refused = review(&srv, &buyer, &order, bad_photo, "rv-0").await;
    assert_eq!((refused.status, refused.field()), (StatusCode::UNPROCESSABLE_ENTITY, "images[0]"));
    // A photo of what arrived, uploaded first.
    let photo = srv
        .http
        .post(format!("{}/api/v1/uploads", srv.base))
        .bearer_auth(&buyer)
        .header("content-type", "image/jpeg")
        .header("idempotency-key", "rv-photo")
        .body(crate::media::phone_photo(60))
        .send()
        .await
        .unwrap();
    let photo = photo.json::<Value>().await.unwrap()["url"].as_str().unwrap().to_string();
    let mut with_photo = stars(5);
    with_photo["images"] = json!([photo]);
    let ok = review(&srv, &buyer, &order, with_photo.clone(), "rv-1").await;
    assert_eq!(ok.status, StatusCode::CREATED, "{}", ok.body);
    assert_eq!(ok.body["images"], json!([photo]));
    let product_page = srv.http.get(format!("{}/products/{}", srv.base, ok.body["product_id"].as_str().unwrap()));
    let product_page = product_page.send().await.unwrap().text().await.unwrap();
    let thumb = souk_domain::media::thumbnail_of(&photo).unwrap();
    assert!(product_page.contains(&format!("src=\"{thumb}\"")), "the review shows its photo");
    let retried = review(&srv, &buyer, &order, with_photo, "rv-1").await;
    assert_eq!(retried.body["id"], ok.body["id"], "a retry answers the first response");
    let second = review(&srv, &buyer, &order, stars(1), "rv-2").await;
    assert_eq!((second.status, second.code()), (StatusCode::CONFLICT, "already_reviewed"));

    let review_id = ok.body["id"].as_str().unwrap();
    let path = format!("/api/v1/reviews/{review_id}/reply");
    let by_buyer =
        srv.call(reqwest::Method::POST, &path, Some(&buyer), Some(json!({"text": "hi"})), Some("rp-0")).await;
    assert_eq!(by_buyer.status, StatusCode::FORBIDDEN);
    let reply =
        srv.call(reqwest::Method::POST, &path, Some(&seller), Some(json!({"text": "Thank you!"})), Some("rp-1")).await;
    assert_eq!(reply.body["reply"], "Thank you!", "{}", reply.body);
    let again =
        srv.call(reqwest::Method::POST, &path, Some(&seller), Some(json!({"text": "Again"})), Some("rp-2")).await;
    assert_eq!((again.status, again.code()), (StatusCode::CONFLICT, "already_replied"));

    let product = co.body["orders"][0]["lines"][0]["product_id"].as_str().unwrap();
    let listed = srv.get(&format!("/api/v1/products/{product}/reviews"), None).await.body;
    assert_eq!(listed["summary"], json!({"count": 1, "average": 5.0, "histogram": [0, 0, 0, 0, 1]}));
    assert_eq!(listed["items"][0]["text"], "Lovely tea set");
    assert!(listed["items"][0].get("order_id").is_none(), "which order a review is of is not public");
    let by_store = srv.get("/api/v1/stores/market/reviews", None).await.body;
    assert_eq!(by_store["summary"]["count"], 1);
    assert!(by_store["items"][0].get("order_id").is_none());
    let shown = srv.get(&format!("/api/v1/products/{product}"), None).await.body;
    assert_eq!(shown["rating"], listed["summary"], "the product page shows its rating");
    assert_eq!(shown["title"], "Tea set");
    let store_page = srv.get("/api/v1/stores/market", None).await.body;
    assert_eq!(store_page["rating"]["count"], 1, "{store_page}");
    let trust_now = srv.get("/api/v1/stores/market/trust", None).await.body;
    assert_eq!(store_page["trust_score"], trust_now["score"], "the store page shows its trust score");

    // Too late: completed more than 30 days ago.
    let co = checkout(&srv, &buyer, &sku, 1, "co-r2").await;
    let late_order = co.body["orders"][0]["id"].as_str().unwrap().to_string();
    order_action(&srv, &buyer, &late_order, "pay").await;
    ship(&srv, &seller, &late_order, "other", "PARCEL-2").await;
    order_action(&srv, &buyer, &late_order, "confirm").await;
    srv.clock.advance_ms(31 * 86_400_000);
    let login = json!({"email": "buyer@example.com", "password": "correct horse battery"});
    let buyer = srv.post("/api/v1/auth/login", None, login).await.body["token"].as_str().unwrap().to_string();
    let late = review(&srv, &buyer, &late_order, stars(5), "rv-late").await;
    assert_eq!((late.status, late.code()), (StatusCode::CONFLICT, "review_window_closed"));

    let trust = srv.get("/api/v1/stores/market/trust", None).await.body;
    let score = trust["score"].as_f64().unwrap();
    assert!(score > 50.0, "{trust}");
    let rival_trust = srv.get("/api/v1/stores/rival/trust", None).await.body["score"].as_f64().unwrap();
    assert!(score > rival_trust);
    let found = srv
        .eventually("/api/v1/search?q=tea%20set", |b| b["hits"][0]["store"]["trust_score"].as_f64() == Some(score))
        .await;
    assert_eq!(found["hits"][0]["store"]["slug"], "market", "the trusted seller ranks first");
    let filtered = srv.get(&format!("/api/v1/search?q=tea%20set&min_seller_rating={}", rival_trust + 1.0), None).await;
    let stores: Vec<&str> =
        filtered.body["hits"].as_array().unwrap().iter().map(|h| h["store"]["slug"].as_str().unwrap()).collect();
    assert_eq!(stores, vec!["market"]);
}
