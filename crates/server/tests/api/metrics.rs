//! `/metrics`: Prometheus text that counts and times requests per route pattern, times
//! searches, and reports orders by state, escrow held and pending deadlines from the database.

use crate::orders::{checkout, market, order_action};
use crate::{on_both_backends, Srv};
use reqwest::StatusCode;

on_both_backends!(metrics_show_traffic_orders_and_escrow);

/// The value of the sample line that starts with `series ` (exactly that series).
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

async fn metrics_show_traffic_orders_and_escrow(srv: Srv) {
    let (_, buyer, sku) = market(&srv, 10).await;
    let order = checkout(&srv, &buyer, &sku, 2, "metrics-checkout").await;
    assert_eq!(order.status, StatusCode::CREATED, "{}", order.body);
    let id = order.body["orders"][0]["id"].as_str().unwrap().to_string();
    let total = order.body["orders"][0]["total"]["amount"].as_i64().unwrap();
    assert_eq!(order_action(&srv, &buyer, &id, "pay").await.status, StatusCode::OK);
    for q in ["tea", "set"] {
        assert_eq!(srv.get(&format!("/api/v1/search?q={q}"), None).await.status, StatusCode::OK);
    }
    srv.get(&format!("/api/v1/orders/{id}"), Some(&buyer)).await;

    let anonymous = srv.http.get(format!("{}/metrics", srv.base)).send().await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    let plain = srv.http.get(format!("{}/metrics", srv.base)).bearer_auth(&buyer).send().await.unwrap();
    assert_eq!(plain.status(), StatusCode::UNAUTHORIZED, "not for everyone");
    let (admin, admin_id) = srv.register("ops@example.com").await;
    srv.make_admin(&admin_id).await;
    let r = srv.http.get(format!("{}/metrics", srv.base)).bearer_auth(&admin).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/plain; version=0.0.4"));
    let text = r.text().await.unwrap();

    let searches = r#"souk_http_requests_total{method="GET",route="/api/v1/search",status="200"}"#;
    assert_eq!(sample(&text, searches), Some(2.0), "{text}");
    let order_reads = r#"souk_http_requests_total{method="GET",route="/api/v1/orders/{id}",status="200"}"#;
    assert_eq!(sample(&text, order_reads), Some(1.0), "routes are patterns, not paths: {text}");
    let unauthorized = r#"souk_http_requests_total{method="GET",route="/metrics",status="401"}"#;
    assert_eq!(sample(&text, unauthorized), Some(2.0));
    let all = r#"souk_http_request_duration_seconds_bucket{method="GET",route="/api/v1/search",le="+Inf"}"#;
    let fast = r#"souk_http_request_duration_seconds_bucket{method="GET",route="/api/v1/search",le="10"}"#;
    assert_eq!((sample(&text, all), sample(&text, fast)), (Some(2.0), Some(2.0)), "cumulative buckets");
    assert_eq!(sample(&text, "souk_search_duration_seconds_count"), Some(2.0));
    assert_eq!(sample(&text, r#"souk_orders{state="paid"}"#), Some(1.0), "{text}");
    assert_eq!(sample(&text, r#"souk_escrow_held{currency="CNY"}"#), Some(total as f64), "{text}");
    assert!(sample(&text, "souk_jobs_pending").unwrap() >= 1.0, "the ship-by deadline waits");
    assert_eq!(sample(&text, "souk_job_lag_seconds"), Some(0.0), "nothing overdue yet");
}

/// A scraper reads with the configured token and nothing else.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scrapers_read_metrics_with_their_token() {
    let token = "scrape-token-0123456789";
    let srv = Srv::start_with(souk_store::testing::TestBackend::Sqlite, |c| c.metrics_token = Some(token.into()))
        .await
        .unwrap();
    let read = |bearer: &'static str| srv.http.get(format!("{}/metrics", srv.base)).bearer_auth(bearer).send();
    assert_eq!(read(token).await.unwrap().status(), StatusCode::OK);
    assert_eq!(read("scrape-token-0123456780").await.unwrap().status(), StatusCode::UNAUTHORIZED);
}
