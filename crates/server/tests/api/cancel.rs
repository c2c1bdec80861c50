//! Requests cut off part-way, as a short request timeout cuts them, under concurrency: writes,
//! the jobs runner, another process and the health check all work afterwards, without a restart.

use crate::{product_body, Srv};
use reqwest::{Method, StatusCode};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

crate::on_both_backends_with!(cancelled_requests_leave_writes_working, |c| {
    c.request_timeout = std::time::Duration::from_millis(40)
});

async fn cancelled_requests_leave_writes_working(srv: Srv) {
    // Set up under the same short limit: a timed-out call frees its key, so it is sent again.
    let until_done = |path: &'static str, token: String, body: serde_json::Value| {
        let srv = &srv;
        async move {
            loop {
                let r = srv.call(Method::POST, path, Some(&token), Some(body.clone()), Some(path)).await;
                if r.code() != "timeout" {
                    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
                    return r;
                }
            }
        }
    };
    let (seller, _) = srv.quick_user("cut@example.com").await;
    let shop = json!({"name": "Shop", "slug": "cut", "country": "CN", "currency": "CNY"});
    until_done("/api/v1/stores", seller.clone(), shop).await;
    let mut body = product_body("Kettle");
    body["ships_to"] = json!(["*"]);
    body["skus"][0]["stock"] = json!(100_000);
    let p = until_done("/api/v1/products", seller.clone(), body).await;
    let sku = p.body["skus"][0]["id"].as_str().unwrap().to_string();
    let mut buyers = Vec::new();
    for i in 0..48 {
        buyers.push(srv.quick_user(&format!("b{i}@example.com")).await.0);
    }

    let srv = Arc::new(srv);
    let (mut timed_out, mut done) = (0, 0);
    // Rounds until some requests were cut off at the server's limit (at least six, at most 40:
    // how many are depends on the machine).
    for round in 0..40 {
        if round >= 6 && timed_out > 0 {
            break;
        }
        let calls: Vec<_> = buyers
            .iter()
            .enumerate()
            .map(|(i, buyer)| {
                let (srv, buyer, sku) = (srv.clone(), buyer.clone(), sku.clone());
                tokio::spawn(async move {
                    let body = json!({"ship_to": "DE", "items": [{"sku_id": sku, "quantity": 1}]});
                    let key = format!("cut-{round}-{i}");
                    srv.call(Method::POST, "/api/v1/checkout", Some(&buyer), Some(body), Some(&key)).await
                })
            })
            .collect();
        for call in calls {
            let r = call.await.unwrap();
            match (r.status, r.code()) {
                (StatusCode::SERVICE_UNAVAILABLE, "timeout") => timed_out += 1,
                (StatusCode::CREATED, _) => done += 1,
                (status, code) => assert!(status.is_client_error(), "{status} {code}: {}", r.body),
            }
        }
    }
    assert!(timed_out > 0, "some requests were cut off ({done} finished)");

    // Each timeout was answered after its request's rollback and the release of its key (a
    // claim whose request was cut off while claiming is released as soon as the claim lands):
    // no claim is left running, so a retry from any process runs at once.
    let started = std::time::Instant::now();
    loop {
        let mut conn = srv.store.reader().await.unwrap();
        let (running,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM idempotency WHERE state = 'started'")
            .fetch_one(&mut *conn)
            .await
            .unwrap();
        if running == 0 {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(2), "{running} claims left running after their timeouts");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // This process writes, through the store and its jobs runner.
    let limit = Duration::from_secs(10);
    let mut tx = tokio::time::timeout(limit, srv.store.begin()).await.expect("writes wedged").unwrap();
    tx.create_user("after@example.com", "after@example.com", "hash", "after").await.unwrap();
    tx.commit().await.unwrap();
    tokio::time::timeout(limit, srv.app.run_due_jobs()).await.expect("jobs wedged").unwrap();
    // Another process (as `souk admin` is) writes too: no lock was left behind.
    let other = srv.db.open(srv.clock.clone()).await.unwrap();
    let mut tx = tokio::time::timeout(limit, other.begin()).await.expect("another process cannot write").unwrap();
    let user = tx.create_user("admin@example.com", "admin@example.com", "hash", "admin").await.unwrap();
    tx.grant_role(&user.id, souk_domain::account::Role::Admin, "system").await.unwrap();
    tx.commit().await.unwrap();
    other.close().await;
    // And the health check, which probes writes, says so (this server abandons requests after
    // 40 ms, which a loaded machine can exceed once: a probe answers ok within a few tries).
    let mut health = srv.get("/healthz", None).await;
    for _ in 0..20 {
        if health.status == StatusCode::OK || health.code() != "timeout" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        health = srv.get("/healthz", None).await;
    }
    assert_eq!((health.status, &health.body["writes"]), (StatusCode::OK, &json!("ok")), "{}", health.body);
}
