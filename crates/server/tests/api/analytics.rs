//! Sellers' analytics over HTTP: what counts as sold, views per day, rates, and who may look.

use crate::orders::{checkout, market, order_action};
use crate::{on_both_backends, Srv};
use reqwest::StatusCode;

on_both_backends!(analytics_count_what_was_sold);

async fn analytics_count_what_was_sold(srv: Srv) {
    let (seller, buyer, sku) = market(&srv, 20).await;
    let kept = checkout(&srv, &buyer, &sku, 3, "an-1").await.body["orders"][0]["id"].as_str().unwrap().to_string();
    order_action(&srv, &buyer, &kept, "pay").await;
    let cancelled = checkout(&srv, &buyer, &sku, 1, "an-2").await.body["orders"][0]["id"].as_str().unwrap().to_string();
    order_action(&srv, &buyer, &cancelled, "pay").await;
    order_action(&srv, &buyer, &cancelled, "cancel").await;
    checkout(&srv, &buyer, &sku, 1, "an-3").await; // never paid
    let product =
        srv.get("/api/v1/stores/market/products", None).await.body["items"][0]["id"].as_str().unwrap().to_string();
    for _ in 0..6 {
        srv.get(&format!("/api/v1/products/{product}"), None).await;
    }
    srv.app.flush_traffic().await.unwrap();

    let a = srv.get("/api/v1/stores/market/analytics?days=7", Some(&seller)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let t = &a.body["totals"];
    assert_eq!(
        (t["orders"].as_i64(), t["units"].as_i64(), t["gmv"].as_i64()),
        (Some(1), Some(3), Some(3 * 1999)),
        "{t}"
    );
    assert_eq!(t["views"], 6);
    assert_eq!(t["conversion_rate"].as_f64().unwrap(), 1.0 / 6.0);
    assert_eq!(t["average_order_value"], 3 * 1999);
    assert_eq!(a.body["series"].as_array().unwrap().len(), 7);
    assert_eq!(a.body["series"][6]["orders"], 1, "today is last");
    assert_eq!(a.body["top_products"][0]["units"], 3);
    assert_eq!(a.body["currency"], "CNY");

    // A sale in another currency counts as an order, with its own GMV; the store's average
    // order value stays in the store's currency.
    let mut euro = crate::product_body("Tea cups");
    euro["skus"][0]["sku"] = serde_json::json!("CUPS-1");
    euro["skus"][0]["price"] = serde_json::json!({"amount": 2500, "currency": "EUR"});
    euro["skus"][0]["price_tiers"] = serde_json::json!([]);
    let cups = srv.post("/api/v1/products", Some(&seller), euro).await;
    assert_eq!(cups.status, StatusCode::CREATED, "{}", cups.body);
    let cups_sku = cups.body["skus"][0]["id"].as_str().unwrap().to_string();
    let body = serde_json::json!({"amount": {"amount": 10_000, "currency": "EUR"}, "card_number": "4242424242424242"});
    assert_eq!(srv.post("/api/v1/wallet/top-ups", Some(&buyer), body).await.status, StatusCode::ACCEPTED);
    srv.clock.advance_ms(1_000);
    srv.app.deliver_sandbox_confirmations().await.unwrap();
    let euro_order =
        checkout(&srv, &buyer, &cups_sku, 1, "an-4").await.body["orders"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(order_action(&srv, &buyer, &euro_order, "pay").await.status, StatusCode::OK);
    let a = srv.get("/api/v1/stores/market/analytics?days=7", Some(&seller)).await;
    let t = &a.body["totals"];
    assert_eq!((t["orders"].as_i64(), t["gmv"].as_i64()), (Some(2), Some(3 * 1999)), "{t}");
    assert_eq!(t["average_order_value"], 3 * 1999, "of the CNY orders only");
    let by: Vec<(String, i64, i64)> = a.body["by_currency"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (c["currency"].as_str().unwrap().to_string(), c["orders"].as_i64().unwrap(), c["gmv"].as_i64().unwrap())
        })
        .collect();
    assert_eq!(by, vec![("CNY".to_string(), 1, 3 * 1999), ("EUR".to_string(), 1, 2500)]);
    let page = crate::pages::Visitor::new(&srv, &seller).get("/seller/analytics?days=7").await.text;
    assert!(page.contains("€25.00") || page.contains("25.00"), "the EUR sales show beside the CNY ones");
    assert!(page.contains("<text") && page.contains("Show as a table"), "charts have axes and a table");

    let bad = srv.get("/api/v1/stores/market/analytics?days=8", Some(&seller)).await;
    assert_eq!((bad.status, bad.field()), (StatusCode::UNPROCESSABLE_ENTITY, "days"));
    let nosy = srv.get("/api/v1/stores/market/analytics", Some(&buyer)).await;
    assert_eq!(nosy.status, StatusCode::FORBIDDEN);
    assert_eq!(srv.get("/api/v1/stores/market/analytics", None).await.status, StatusCode::UNAUTHORIZED);
}
