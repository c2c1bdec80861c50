use crate::{on_both_backends, Srv};
use reqwest::StatusCode;
use serde_json::json;

on_both_backends!(open_and_edit_a_store, store_input_is_validated, identity_verification);

async fn open_and_edit_a_store(srv: Srv) {
    let (token, store_id) = srv.seller("owner@example.com", "tea-house").await;
    assert!(store_id.starts_with("sto_"));
    let me = srv.get("/api/v1/me", Some(&token)).await;
    assert_eq!(me.body["roles"], json!(["buyer", "seller"]));
    assert_eq!(me.body["store_id"], store_id.as_str());
    let by_slug = srv.get("/api/v1/stores/tea-house", None).await;
    assert_eq!(by_slug.body["id"], store_id.as_str());
    assert_eq!(by_slug.body["verification"], "none");
    assert_eq!(by_slug.body["tenure_days"], 0);
    srv.clock.advance_ms(3 * 86_400_000);
    assert_eq!(srv.get(&format!("/api/v1/stores/{store_id}"), None).await.body["tenure_days"], 3);

    let again = srv
        .post(
            "/api/v1/stores",
            Some(&token),
            json!({"name": "Two", "slug": "second", "country": "CN", "currency": "CNY"}),
        )
        .await;
    assert_eq!((again.status, again.code()), (StatusCode::CONFLICT, "store_exists"));
    let (other, _) = srv.register("other@example.com").await;
    let taken = srv
        .post(
            "/api/v1/stores",
            Some(&other),
            json!({"name": "X", "slug": "tea-house", "country": "CN", "currency": "CNY"}),
        )
        .await;
    assert_eq!((taken.status, taken.code()), (StatusCode::CONFLICT, "slug_taken"));
    let anon = srv
        .post("/api/v1/stores", None, json!({"name": "X", "slug": "anon-shop", "country": "CN", "currency": "CNY"}))
        .await;
    assert_eq!(anon.status, StatusCode::UNAUTHORIZED);

    let not_mine = srv.patch("/api/v1/stores/tea-house", Some(&other), json!({"name": "Hijacked"})).await;
    assert_eq!(not_mine.status, StatusCode::FORBIDDEN);
    let edited =
        srv.patch("/api/v1/stores/tea-house", Some(&token), json!({"name": "Tea House 茶馆", "currency": "USD"})).await;
    assert_eq!(edited.status, StatusCode::OK, "{}", edited.body);
    assert_eq!(edited.body["name"], "Tea House 茶馆");
    assert_eq!(edited.body["currency"], "USD");
    let list = srv.get("/api/v1/stores", None).await;
    assert_eq!(list.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(srv.get("/api/v1/stores/no-such-store", None).await.status, StatusCode::NOT_FOUND);
    assert_eq!(srv.get("/api/v1/stores/sto_bogus", None).await.status, StatusCode::NOT_FOUND);
}

async fn store_input_is_validated(srv: Srv) {
    let (token, _) = srv.register("v@example.com").await;
    let base = json!({"name": "Shop", "slug": "good-slug", "country": "CN", "currency": "CNY"});
    let cases = [
        ("country", json!("XX"), "unknown_country"),
        ("country", json!("china"), "unknown_country"),
        ("currency", json!("ABC"), "unknown_currency"),
        ("currency", json!("usd"), "unknown_currency"),
        ("slug", json!("Bad Slug!"), "invalid_slug"),
        ("slug", json!("'; DROP TABLE stores; --"), "invalid_slug"),
        ("name", json!(""), "required"),
        ("name", json!("x".repeat(100_000)), "invalid"),
        ("description", json!("d".repeat(5_001)), "too_long"),
    ];
    for (field, value, code) in cases {
        let mut body = base.clone();
        body[field] = value;
        let r = srv.post("/api/v1/stores", Some(&token), body).await;
        assert_eq!((r.status, r.code(), r.field()), (StatusCode::UNPROCESSABLE_ENTITY, code, field), "{}", r.body);
    }
    assert_eq!(srv.count("stores").await, 0);
    let me = srv.get("/api/v1/me", Some(&token)).await;
    assert_eq!(me.body["roles"], json!(["buyer"]), "no role without a store");
}

async fn identity_verification(srv: Srv) {
    let (seller, store_id) = srv.seller("kyc@example.com", "kyc-shop").await;
    let (admin, admin_id) = srv.register("admin@example.com").await;
    srv.make_admin(&admin_id).await;
    let docs = json!({"legal_name": "Li Wei", "document_type": "business_license", "document_number": "9144-0300", "document_urls": ["https://docs.example.com/lic.png"]});
    let bad = srv
        .post(
            "/api/v1/stores/kyc-shop/verification",
            Some(&seller),
            json!({"legal_name": "", "document_type": "passport", "document_number": "1"}),
        )
        .await;
    assert_eq!((bad.status, bad.field()), (StatusCode::UNPROCESSABLE_ENTITY, "legal_name"));
    let bad_type = srv
        .post(
            "/api/v1/stores/kyc-shop/verification",
            Some(&seller),
            json!({"legal_name": "A", "document_type": "library_card", "document_number": "1"}),
        )
        .await;
    assert_eq!((bad_type.status, bad_type.field()), (StatusCode::UNPROCESSABLE_ENTITY, "document_type"));
    let not_owner = srv.post("/api/v1/stores/kyc-shop/verification", Some(&admin), docs.clone()).await;
    assert_eq!(not_owner.status, StatusCode::FORBIDDEN);
    let first = srv.post("/api/v1/stores/kyc-shop/verification", Some(&seller), docs.clone()).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    let id = first.body["id"].as_str().unwrap().to_string();
    let second = srv.post("/api/v1/stores/kyc-shop/verification", Some(&seller), docs.clone()).await;
    assert_eq!((second.status, second.code()), (StatusCode::CONFLICT, "verification_pending"));

    assert_eq!(
        srv.get("/api/v1/admin/verifications?status=pending", Some(&seller)).await.status,
        StatusCode::FORBIDDEN
    );
    let queue = srv.get("/api/v1/admin/verifications?status=pending", Some(&admin)).await;
    assert_eq!(queue.body["items"][0]["id"], id.as_str());
    assert_eq!(
        srv.get("/api/v1/admin/verifications?status=bogus", Some(&admin)).await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let by_seller = srv.post(&format!("/api/v1/admin/verifications/{id}/approve"), Some(&seller), json!({})).await;
    assert_eq!(by_seller.status, StatusCode::FORBIDDEN);
    let no_reason = srv.post(&format!("/api/v1/admin/verifications/{id}/reject"), Some(&admin), json!({})).await;
    assert_eq!((no_reason.status, no_reason.field()), (StatusCode::UNPROCESSABLE_ENTITY, "reason"));
    let rejected = srv
        .post(
            &format!("/api/v1/admin/verifications/{id}/reject"),
            Some(&admin),
            json!({"reason": "The licence photo is blurred."}),
        )
        .await;
    assert_eq!(rejected.body["status"], "rejected", "{}", rejected.body);
    let late = srv.post(&format!("/api/v1/admin/verifications/{id}/approve"), Some(&admin), json!({})).await;
    assert_eq!((late.status, late.code()), (StatusCode::CONFLICT, "invalid_state"));
    assert_eq!(srv.get(&format!("/api/v1/stores/{store_id}"), None).await.body["verification"], "none");

    let resubmitted = srv.post("/api/v1/stores/kyc-shop/verification", Some(&seller), docs).await;
    let id2 = resubmitted.body["id"].as_str().unwrap().to_string();
    let approved = srv.post(&format!("/api/v1/admin/verifications/{id2}/approve"), Some(&admin), json!({})).await;
    assert_eq!(approved.body["status"], "approved");
    assert_eq!(srv.get(&format!("/api/v1/stores/{store_id}"), None).await.body["verification"], "identity");
    let history = srv.get("/api/v1/stores/kyc-shop/verification", Some(&seller)).await;
    assert_eq!(history.body["items"].as_array().unwrap().len(), 2);
    assert_eq!(
        srv.post("/api/v1/admin/verifications/kyc_nope/approve", Some(&admin), json!({})).await.status,
        StatusCode::NOT_FOUND
    );

    let (_, target) = srv.register("mediator@example.com").await;
    let grant =
        srv.post(&format!("/api/v1/admin/users/{target}/roles"), Some(&admin), json!({"role": "mediator"})).await;
    assert_eq!(grant.body["roles"], json!(["buyer", "mediator"]), "{}", grant.body);
    assert_eq!(
        srv.post(&format!("/api/v1/admin/users/{target}/roles"), Some(&seller), json!({"role": "admin"})).await.status,
        StatusCode::FORBIDDEN
    );
}
