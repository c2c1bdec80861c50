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

    let bad = srv.get("/api/v1/stores/market/analytics?days=8", Some(&seller)).await;
    assert_eq!((bad.status, bad.field()), (StatusCode::UNPROCESSABLE_ENTITY, "days"));
    let nosy = srv.get("/api/v1/stores/market/analytics", Some(&buyer)).await;
    assert_eq!(nosy.status, StatusCode::FORBIDDEN);
    assert_eq!(srv.get("/api/v1/stores/market/analytics", None).await.status, StatusCode::UNAUTHORIZED);
}
