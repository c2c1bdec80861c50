use crate::{on_both_backends, product_body, Srv};
use reqwest::{Method, StatusCode};
use serde_json::json;
use souk_store::idempotency::Claim;

on_both_backends!(
    replays_return_the_first_answer,
    concurrent_replays_have_one_effect,
    failures_are_not_remembered,
    keys_are_forgotten_after_their_retention,
    refusals_after_execution_are_the_keys_answer,
    a_dead_processes_claim_is_taken_over_at_once,
    a_live_twin_is_waited_for_a_bounded_time,
    keys_are_checked_after_routing_and_log_in,
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

/// Stripe's rule: a request that began executing and was refused (409 out of stock) gives the
/// key its answer, for every copy, concurrent or later, even once the refusal no longer holds.
async fn refusals_after_execution_are_the_keys_answer(srv: Srv) {
    let (seller, buyer, sku) = crate::orders::market(&srv, 0).await;
    let srv = std::sync::Arc::new(srv);
    let copies: Vec<_> = (0..8)
        .map(|_| {
            let (srv, buyer, sku) = (srv.clone(), buyer.clone(), sku.clone());
            tokio::spawn(async move { crate::orders::checkout(&srv, &buyer, &sku, 1, "sold-out").await })
        })
        .collect();
    let mut fresh = 0;
    for copy in copies {
        let r = copy.await.unwrap();
        assert_eq!((r.status, r.code()), (StatusCode::CONFLICT, "out_of_stock"), "{}", r.body);
        if r.headers.get("idempotent-replayed").is_none() {
            fresh += 1;
        }
    }
    assert_eq!(fresh, 1, "one copy ran; the others got its answer");
    let mut conn = srv.store.reader().await.unwrap();
    let (product,): (String,) =
        sqlx::query_as("SELECT product_id FROM skus WHERE id = $1").bind(&sku).fetch_one(&mut *conn).await.unwrap();
    drop(conn);
    let restock =
        srv.patch(&format!("/api/v1/products/{product}/skus/{sku}"), Some(&seller), json!({"stock": 5})).await;
    assert_eq!(restock.status, StatusCode::OK, "{}", restock.body);
    let later = crate::orders::checkout(&srv, &buyer, &sku, 1, "sold-out").await;
    assert_eq!((later.status, later.code()), (StatusCode::CONFLICT, "out_of_stock"));
    assert_eq!(later.headers["idempotent-replayed"], "true");
    let new_key = crate::orders::checkout(&srv, &buyer, &sku, 1, "in-stock").await;
    assert_eq!(new_key.status, StatusCode::CREATED, "{}", new_key.body);
}

/// The claim a crashed process left (its request never answered) is taken over by the
/// retry at once, and the retry's effect happens once.
async fn a_dead_processes_claim_is_taken_over_at_once(srv: Srv) {
    let (_, buyer, sku) = crate::orders::market(&srv, 5).await;
    let me = srv.get("/api/v1/me", Some(&buyer)).await.body["id"].as_str().unwrap().to_string();
    let body = json!({"ship_to": "DE", "items": [{"sku_id": sku, "quantity": 1}]});
    let hash = souk_server::idempotency::hash_request("POST", "/api/v1/checkout", body.to_string().as_bytes());
    let dead = srv.db.open(srv.clock.clone()).await.unwrap();
    let Claim::Started(claim) = dead.claim_idempotency_key(&me, "crash-key", &hash).await.unwrap() else { panic!() };
    std::mem::forget(claim);
    dead.close().await;
    let started = std::time::Instant::now();
    let retry = srv.call(Method::POST, "/api/v1/checkout", Some(&buyer), Some(body.clone()), Some("crash-key")).await;
    assert_eq!(retry.status, StatusCode::CREATED, "{}", retry.body);
    assert!(started.elapsed() < std::time::Duration::from_secs(5), "waited {:?}", started.elapsed());
    let again = srv.call(Method::POST, "/api/v1/checkout", Some(&buyer), Some(body), Some("crash-key")).await;
    assert_eq!(again.body["checkout_id"], retry.body["checkout_id"]);
    assert_eq!(srv.count("orders").await, 1);
}

/// A twin still running in a live process is waited for a bounded time, then 409 with
/// Retry-After, never a 503.
async fn a_live_twin_is_waited_for_a_bounded_time(srv: Srv) {
    let (buyer, me) = srv.register("twin@example.com").await;
    let body = json!({"ship_to": "DE"});
    let hash = souk_server::idempotency::hash_request("POST", "/api/v1/checkout", body.to_string().as_bytes());
    let live = srv.db.open(srv.clock.clone()).await.unwrap();
    let Claim::Started(claim) = live.claim_idempotency_key(&me, "twin-key", &hash).await.unwrap() else { panic!() };
    let started = std::time::Instant::now();
    let twin = srv.call(Method::POST, "/api/v1/checkout", Some(&buyer), Some(body.clone()), Some("twin-key")).await;
    assert_eq!((twin.status, twin.code()), (StatusCode::CONFLICT, "idempotency_in_progress"), "{}", twin.body);
    assert_eq!(twin.headers["retry-after"], "1");
    assert!(started.elapsed() < srv.app.config.request_timeout, "bounded by less than the request timeout");
    claim.release().await.unwrap();
    live.close().await;
    let after = srv.call(Method::POST, "/api/v1/checkout", Some(&buyer), Some(body), Some("twin-key")).await;
    assert_ne!(after.code(), "idempotency_in_progress", "{}", after.body);
}

/// Routing and logging in come before the key: a method a route does not serve is 405 and an
/// anonymous call to a route that needs a log-in is 401, whatever the key.
async fn keys_are_checked_after_routing_and_log_in(srv: Srv) {
    let (token, _) = srv.register("order@example.com").await;
    let anonymous = srv.call(Method::POST, "/api/v1/checkout", None, Some(json!({})), Some("ключ")).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED, "{}", anonymous.body);
    let bad_token = srv.call(Method::POST, "/api/v1/checkout", Some("nope"), Some(json!({})), Some("ключ")).await;
    assert_eq!(bad_token.status, StatusCode::UNAUTHORIZED, "{}", bad_token.body);
    let trace = srv.call(Method::TRACE, "/api/v1/checkout", Some(&token), None, Some("ключ")).await;
    assert_eq!(trace.status, StatusCode::METHOD_NOT_ALLOWED, "{}", trace.body);
    let wrong = srv.call(Method::DELETE, "/api/v1/checkout", Some(&token), None, Some("ключ")).await;
    assert_eq!(wrong.status, StatusCode::METHOD_NOT_ALLOWED, "{}", wrong.body);
    let signed_in = srv.call(Method::POST, "/api/v1/checkout", Some(&token), Some(json!({})), Some("ключ")).await;
    assert_eq!((signed_in.status, signed_in.code()), (StatusCode::BAD_REQUEST, "invalid_idempotency_key"));
    let public = srv.call(Method::POST, "/api/v1/auth/login", None, Some(json!({})), Some("ключ")).await;
    assert_eq!(public.code(), "invalid_idempotency_key", "anyone may log in, so the key is looked at");
}
