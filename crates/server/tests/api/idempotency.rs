use crate::{on_both_backends, product_body, Srv};
use reqwest::{Method, StatusCode};
use serde_json::json;

on_both_backends!(
    replays_return_the_first_answer,
    concurrent_replays_have_one_effect,
    failures_are_not_remembered,
    keys_are_forgotten_after_their_retention,
);

async fn replays_return_the_first_answer(srv: Srv) {
    let (token, _) = srv.seller("i@example.com", "idem").await;
    let first =
        srv.call(Method::POST, "/api/v1/products", Some(&token), Some(product_body("Once")), Some("key-1")).await;
    assert_eq!(first.status, StatusCode::CREATED);
    assert!(first.headers.get("idempotent-replayed").is_none());
    let again =
        srv.call(Method::POST, "/api/v1/products", Some(&token), Some(product_body("Once")), Some("key-1")).await;
    assert_eq!(again.status, StatusCode::CREATED);
    assert_eq!(again.body["id"], first.body["id"]);
    assert_eq!(again.headers["idempotent-replayed"], "true");
    assert_eq!(srv.count("products").await, 1);
    let other_body =
        srv.call(Method::POST, "/api/v1/products", Some(&token), Some(product_body("Twice")), Some("key-1")).await;
    assert_eq!((other_body.status, other_body.code()), (StatusCode::UNPROCESSABLE_ENTITY, "idempotency_mismatch"));
    assert_eq!(srv.count("products").await, 1);
    // Keys belong to a user: another user's same key is a new request.
    let (token2, _) = srv.seller("j@example.com", "idem-two").await;
    let theirs =
        srv.call(Method::POST, "/api/v1/products", Some(&token2), Some(product_body("Once")), Some("key-1")).await;
    assert_eq!(theirs.status, StatusCode::CREATED);
    assert_ne!(theirs.body["id"], first.body["id"]);
    // Anonymous requests (registration) honour keys too.
    let body = json!({"email": "new@example.com", "password": "correct horse battery"});
    let r1 = srv.call(Method::POST, "/api/v1/auth/register", None, Some(body.clone()), Some("reg-1")).await;
    let r2 = srv.call(Method::POST, "/api/v1/auth/register", None, Some(body), Some("reg-1")).await;
    assert_eq!((r1.status, r2.status), (StatusCode::CREATED, StatusCode::CREATED));
    assert_eq!(r1.body["user"]["id"], r2.body["user"]["id"]);
    let path = format!("/api/v1/products/{}", first.body["id"].as_str().unwrap());
    let deleted = srv.call(Method::DELETE, &path, Some(&token), None, Some("del-1")).await;
    let deleted_again = srv.call(Method::DELETE, &path, Some(&token), None, Some("del-1")).await;
    assert_eq!((deleted.status, deleted_again.status), (StatusCode::NO_CONTENT, StatusCode::NO_CONTENT));
    let bad_key = srv.call(Method::POST, "/api/v1/products", Some(&token), Some(product_body("K")), Some("ключ")).await;
    assert_eq!(bad_key.code(), "invalid_idempotency_key");
}

async fn concurrent_replays_have_one_effect(srv: Srv) {
    let (token, _) = srv.seller("c@example.com", "concurrent").await;
    let srv = std::sync::Arc::new(srv);
    let tasks: Vec<_> = (0..12)
        .map(|_| {
            let srv = srv.clone();
            let token = token.clone();
            tokio::spawn(async move {
                srv.call(Method::POST, "/api/v1/products", Some(&token), Some(product_body("Race")), Some("race-key"))
                    .await
            })
        })
        .collect();
    let mut ids = std::collections::HashSet::new();
    for t in tasks {
        let r = t.await.unwrap();
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        ids.insert(r.body["id"].as_str().unwrap().to_string());
    }
    assert_eq!(ids.len(), 1, "every duplicate got the first answer");
    assert_eq!(srv.count("products").await, 1);
}

async fn failures_are_not_remembered(srv: Srv) {
    let (token, _) = srv.seller("f@example.com", "fails").await;
    let mut bad = product_body("Fix me");
    bad["skus"][0]["stock"] = json!(-1);
    let r = srv.call(Method::POST, "/api/v1/products", Some(&token), Some(bad), Some("fix-key")).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let fixed =
        srv.call(Method::POST, "/api/v1/products", Some(&token), Some(product_body("Fix me")), Some("fix-key")).await;
    assert_eq!(fixed.status, StatusCode::CREATED, "a corrected retry runs: {}", fixed.body);
    assert_eq!(srv.count("products").await, 1);
}

async fn keys_are_forgotten_after_their_retention(srv: Srv) {
    let (token, _) = srv.seller("r@example.com", "retained").await;
    let post = |key: &'static str, title: &'static str| {
        let mut body = product_body(title);
        body["skus"][0]["sku"] = json!(title);
        srv.call(Method::POST, "/api/v1/products", Some(&token), Some(body), Some(key))
    };
    let first = post("old-key", "Kept").await;
    assert_eq!(first.status, StatusCode::CREATED);
    let retention = srv.app.config.idempotency_retention_ms;
    srv.clock.advance_ms(retention - 1);
    let newer = post("new-key", "Newer").await;
    assert_eq!(newer.status, StatusCode::CREATED);
    assert_eq!(srv.app.prune_idempotency_keys().await.unwrap(), 0, "nothing is past its retention yet");
    let replay = post("old-key", "Kept").await;
    assert_eq!(
        (replay.headers["idempotent-replayed"].to_str().unwrap(), &replay.body["id"]),
        ("true", &first.body["id"])
    );

    srv.clock.advance_ms(2);
    assert_eq!(srv.app.prune_idempotency_keys().await.unwrap(), 1, "only the key claimed a retention ago");
    let after = post("old-key", "Other").await;
    assert_eq!(after.status, StatusCode::CREATED, "a forgotten key is a new request: {}", after.body);
    assert!(after.headers.get("idempotent-replayed").is_none());
    assert_ne!(after.body["id"], first.body["id"]);
    let still = post("new-key", "Newer").await;
    assert_eq!(still.body["id"], newer.body["id"], "the younger key still replays");
    assert_eq!(srv.count("products").await, 3);
}
