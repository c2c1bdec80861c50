//! API keys: shown once, listed without the secret, limited to their scopes (never accounts,
//! keys or administration), revoked at once.

use crate::{on_both_backends, Srv};
use reqwest::{Method, StatusCode};
use serde_json::json;

on_both_backends!(api_keys_act_within_their_scopes_until_revoked);

async fn api_keys_act_within_their_scopes_until_revoked(srv: Srv) {
    let (seller, _) = srv.seller("integrator@example.com", "erp-shop").await;
    let bad = srv.post("/api/v1/api-keys", Some(&seller), json!({"name": "ERP", "scopes": ["orders:delete"]})).await;
    assert_eq!((bad.status, bad.field()), (StatusCode::UNPROCESSABLE_ENTITY, "scopes"));
    let created = srv
        .post("/api/v1/api-keys", Some(&seller), json!({"name": "ERP", "scopes": ["catalog:write", "orders:read"]}))
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let key = created.body["key"].as_str().unwrap().to_string();
    let key_id = created.body["api_key"]["id"].as_str().unwrap().to_string();
    assert!(key.starts_with("souk_key_") && key.len() > 40, "{key}");
    assert!(key.starts_with(created.body["api_key"]["prefix"].as_str().unwrap()));
    let listed = srv.get("/api/v1/api-keys", Some(&seller)).await;
    assert_eq!(listed.body[0]["scopes"], json!(["catalog:write", "orders:read"]));
    assert!(!listed.body.to_string().contains(&key), "the key is shown once only");

    let mut product = crate::product_body("Keyed kettle");
    product["ships_to"] = json!(["*"]);
    assert_eq!(srv.post("/api/v1/products", Some(&key), product).await.status, StatusCode::CREATED, "catalog:write");
    assert_eq!(srv.get("/api/v1/stores/erp-shop/orders", Some(&key)).await.status, StatusCode::OK, "orders:read");
    for (method, path) in [
        (Method::POST, "/api/v1/checkout"),
        (Method::GET, "/api/v1/wallet"),
        (Method::GET, "/api/v1/me"),
        (Method::GET, "/api/v1/api-keys"),
        (Method::POST, "/api/v1/api-keys"),
    ] {
        let body = (method == Method::POST).then(|| json!({"name": "more", "scopes": ["wallet:write"]}));
        let r = srv.call(method.clone(), path, Some(&key), body, Some(&format!("k-{path}"))).await;
        assert_eq!((r.status, r.code()), (StatusCode::FORBIDDEN, "insufficient_scope"), "{method} {path}: {}", r.body);
    }

    let (stranger, _) = srv.register("stranger@example.com").await;
    let theirs =
        srv.call(Method::DELETE, &format!("/api/v1/api-keys/{key_id}"), Some(&stranger), None, Some("x")).await;
    assert_eq!(theirs.status, StatusCode::NOT_FOUND);
    let revoked = srv.call(Method::DELETE, &format!("/api/v1/api-keys/{key_id}"), Some(&seller), None, Some("r")).await;
    assert_eq!(revoked.status, StatusCode::OK, "{}", revoked.body);
    assert!(revoked.body["revoked_at"].is_string());
    let after = srv.get("/api/v1/stores/erp-shop/orders", Some(&key)).await;
    assert_eq!((after.status, after.code()), (StatusCode::UNAUTHORIZED, "invalid_token"));
}
