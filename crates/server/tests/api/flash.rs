//! Flash sales over HTTP: promotions with their countdown, and the batched order engine under
//! concurrent buyers: nothing oversold, limits held, every acknowledged order paid and present.

use crate::orders::{assert_ledger_sound, fund, market};
use crate::{on_both_backends, Srv};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use souk_domain::time::rfc3339;

on_both_backends!(promotions_count_down_and_check_their_terms, concurrent_buyers_never_oversell_a_flash_sale);

fn promotion(srv: &Srv, sku: &str, starts_in_ms: i64, price: i64, stock: i64, limit: i64) -> Value {
    let now = srv.store.now_ms();
    json!({"sku_id": sku, "starts_at": rfc3339(now + starts_in_ms), "ends_at": rfc3339(now + starts_in_ms + 3_600_000),
           "price": {"amount": price, "currency": "CNY"}, "stock": stock, "per_buyer_limit": limit})
}

async fn buy(srv: &Srv, token: &str, promo: &str, quantity: i64, key: &str) -> crate::Res {
    let body = json!({"quantity": quantity, "ship_to": "DE"});
    srv.call(Method::POST, &format!("/api/v1/promotions/{promo}/buy"), Some(token), Some(body), Some(key)).await
}

async fn promotions_count_down_and_check_their_terms(srv: Srv) {
    let (seller, buyer, sku) = market(&srv, 20).await;
    let create = |body: Value| srv.post("/api/v1/stores/market/promotions", Some(&seller), body);
    let bad = create(promotion(&srv, &sku, 60_000, 1999, 5, 2)).await;
    assert_eq!((bad.status, bad.field()), (StatusCode::UNPROCESSABLE_ENTITY, "price.amount"), "not below the price");
    let bad = create(promotion(&srv, &sku, 60_000, 999, 21, 2)).await;
    assert_eq!(bad.field(), "stock", "more than the stock");
    let stranger =
        srv.post("/api/v1/stores/market/promotions", Some(&buyer), promotion(&srv, &sku, 0, 999, 5, 2)).await;
    assert_eq!(stranger.status, StatusCode::FORBIDDEN);
    let p = create(promotion(&srv, &sku, 60_000, 999, 5, 2)).await;
    assert_eq!(p.status, StatusCode::CREATED, "{}", p.body);
    assert_eq!((p.body["phase"].clone(), p.body["seconds_left"].clone()), (json!("scheduled"), json!(60)));
    let overlap = create(promotion(&srv, &sku, 120_000, 999, 5, 2)).await;
    assert_eq!((overlap.status, overlap.code()), (StatusCode::CONFLICT, "promotion_overlaps"));
    let id = p.body["id"].as_str().unwrap().to_string();

    let early = buy(&srv, &buyer, &id, 1, "early").await;
    assert_eq!((early.status, early.code()), (StatusCode::CONFLICT, "promotion_not_started"));
    srv.clock.advance_ms(61_000);
    let live = srv.get(&format!("/api/v1/promotions/{id}"), None).await.body;
    assert_eq!((live["phase"].clone(), live["left"].clone()), (json!("live"), json!(5)));
    assert_eq!(live["seconds_left"], 3599);
    let listed = srv.get(&format!("/api/v1/promotions?product={}", p.body["product_id"].as_str().unwrap()), None).await;
    assert_eq!(listed.body["items"][0]["id"], id.as_str());

    let first = buy(&srv, &buyer, &id, 2, "buy-1").await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    assert_eq!((first.body["total"]["amount"].clone(), first.body["state"].clone()), (json!(1998), json!("paid")));
    let again = buy(&srv, &buyer, &id, 2, "buy-1").await;
    assert_eq!(again.body["order_id"], first.body["order_id"], "a retry answers the first time");
    assert_eq!(again.headers["idempotent-replayed"], "true");
    let changed = buy(&srv, &buyer, &id, 1, "buy-1").await;
    assert_eq!((changed.status, changed.code()), (StatusCode::UNPROCESSABLE_ENTITY, "idempotency_mismatch"));
    let over = buy(&srv, &buyer, &id, 1, "buy-2").await;
    assert_eq!((over.status, over.code()), (StatusCode::CONFLICT, "limit_reached"));
    let own = buy(&srv, &seller, &id, 1, "own").await;
    assert_eq!(own.status, StatusCode::FORBIDDEN);
    let none = buy(&srv, &buyer, "prm_01ARZ3NDEKTSV4RRFFQ69G5FAV", 1, "none").await;
    assert_eq!(none.status, StatusCode::NOT_FOUND);
    let order = srv.get(&format!("/api/v1/orders/{}", first.body["order_id"].as_str().unwrap()), Some(&buyer)).await;
    assert_eq!(
        (order.body["state"].clone(), order.body["lines"][0]["unit_price"]["amount"].clone()),
        (json!("paid"), json!(999))
    );
    // The paid order ships like any other.
    let shipped =
        crate::orders::ship(&srv, &seller, first.body["order_id"].as_str().unwrap(), "other", "FLASH-1").await;
    assert_eq!(shipped.status, StatusCode::OK, "{}", shipped.body);
    let sku_left = srv.get("/api/v1/stores/market/products", None).await.body["items"][0]["skus"][0]["stock"].clone();
    assert_eq!(sku_left, 18, "the sale's units came out of the SKU's stock");
    srv.clock.advance_ms(3_600_000);
    assert_eq!(srv.get(&format!("/api/v1/promotions/{id}"), None).await.body["phase"], "ended");
    let late = buy(&srv, &buyer, &id, 1, "late").await;
    assert_eq!(late.code(), "promotion_ended");
    assert_ledger_sound(&srv).await;
}

async fn concurrent_buyers_never_oversell_a_flash_sale(srv: Srv) {
    let (seller, rich, sku) = market(&srv, 100).await;
    let p = srv.post("/api/v1/stores/market/promotions", Some(&seller), promotion(&srv, &sku, 0, 500, 25, 2)).await;
    assert_eq!(p.status, StatusCode::CREATED, "{}", p.body);
    let id = p.body["id"].as_str().unwrap().to_string();
    // Twenty buyers, one of them able to afford a single unit, each asking three times at once
    // and repeating its first request (same key) at the same moment.
    let mut buyers = vec![rich];
    for i in 1..20 {
        let (token, _) = srv.register(&format!("fan{i}@example.com")).await;
        fund(&srv, &token, if i == 1 { 700 } else { 10_000 }).await;
        buyers.push(token);
    }
    let mut tasks = Vec::new();
    for (b, token) in buyers.iter().enumerate() {
        for attempt in [0, 1, 2, 0] {
            let (srv, token, id) = (&srv, token.clone(), id.clone());
            tasks.push(async move { (b, buy(srv, &token, &id, 1, &format!("fan-{b}-{attempt}")).await) });
        }
    }
    let results = futures_util::future::join_all(tasks).await;
    let mut per_buyer = vec![0; buyers.len()];
    for pair in results.chunks(4) {
        let (first, repeated) = (&pair[0].1, &pair[3].1);
        assert_eq!((first.status, &first.body), (repeated.status, &repeated.body), "a repeated key, one answer");
    }
    for (b, r) in results.iter().enumerate().filter(|(i, _)| i % 4 != 3).map(|(_, r)| r) {
        match r.status {
            StatusCode::CREATED => per_buyer[*b] += 1,
            StatusCode::CONFLICT => {
                assert!(["sold_out", "limit_reached", "insufficient_funds"].contains(&r.code()), "{}", r.body)
            }
            s => panic!("unexpected {s}: {}", r.body),
        }
    }
    let sold: i64 = per_buyer.iter().sum();
    assert_eq!(sold, 25, "every promotion unit sold, none twice: {per_buyer:?}");
    assert!(per_buyer.iter().all(|n| *n <= 2), "the limit held: {per_buyer:?}");
    assert!(per_buyer[1] <= 1, "the short wallet paid for one at most");
    let promo = srv.get(&format!("/api/v1/promotions/{id}"), None).await.body;
    assert_eq!((promo["sold"].clone(), promo["phase"].clone()), (json!(25), json!("sold_out")));
    assert_eq!(srv.count("orders").await, 25, "one order per acknowledged purchase");
    let stock = srv.get("/api/v1/stores/market/products", None).await.body["items"][0]["skus"][0]["stock"].clone();
    assert_eq!(stock, 75);
    let more = buy(&srv, &buyers[5], &id, 1, "after").await;
    assert_eq!(more.code(), "sold_out");
    assert_ledger_sound(&srv).await;
}
