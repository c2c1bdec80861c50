//! Input meant to break things: control characters anywhere text goes, deleting what others
//! refer to, drafts reached through side doors, out-of-range numbers.

use crate::orders::market;
use crate::{on_both_backends, product_body, Srv};
use reqwest::{Method, StatusCode};
use serde_json::json;

on_both_backends!(
    control_characters_are_refused_everywhere,
    products_with_a_history_are_archived_not_deleted,
    drafts_stay_invisible_through_carts_and_reviews,
    read_marks_are_sequence_numbers,
);

async fn control_characters_are_refused_everywhere(srv: Srv) {
    let login = json!({"email": "a\u{0}b@x.test", "password": "whatever-123"});
    let r = srv.post("/api/v1/auth/login", None, login).await;
    assert_eq!(
        (r.status, r.code(), r.field()),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_text", "email"),
        "{}",
        r.body
    );
    let r = srv.get("/api/v1/stores/some%00slug", None).await;
    assert_eq!((r.status, r.code()), (StatusCode::UNPROCESSABLE_ENTITY, "invalid_text"), "{}", r.body);
    let r = srv.get("/api/v1/search?q=tea%1B", None).await;
    assert_eq!((r.status, r.field()), (StatusCode::UNPROCESSABLE_ENTITY, "q"), "{}", r.body);

    let (seller, _) = srv.seller("nul@example.com", "nul").await;
    let r = srv.post("/api/v1/products", Some(&seller), product_body("Tea\u{0}pot")).await;
    assert_eq!((r.status, r.field()), (StatusCode::UNPROCESSABLE_ENTITY, "title"), "{}", r.body);
    let mut body = product_body("Teapot");
    body["skus"][0]["options"] = json!({"colour": "red\u{7}"});
    let r = srv.post("/api/v1/products", Some(&seller), body).await;
    assert_eq!((r.status, r.field()), (StatusCode::UNPROCESSABLE_ENTITY, "skus[0].options.colour"), "{}", r.body);
    let mut body = product_body("Teapot");
    body["skus"][0]["options"] = json!({"colour": "red\u{85}"});
    let r = srv.post("/api/v1/products", Some(&seller), body).await;
    assert_eq!((r.status, r.field()), (StatusCode::UNPROCESSABLE_ENTITY, "skus[0].options.colour"), "{}", r.body);
    assert_eq!(srv.count("products").await, 0, "nothing written");
    let csv = "title,description,category,price,currency,stock,ships_to\nPot\u{0},d,home,10.00,CNY,1,*\n";
    let r = srv.raw(Method::POST, "/api/v1/stores/nul/imports", Some(&seller), "text/csv", csv.into()).await;
    assert_eq!((r.status, r.code()), (StatusCode::UNPROCESSABLE_ENTITY, "invalid_text"), "{}", r.body);
    assert!(r.body["error"]["message"].as_str().unwrap().starts_with("line 2:"), "{}", r.body);

    // Tabs and line breaks are text.
    let mut body = product_body("Teapot");
    body["description"] = json!("Line one\r\nline two\twith a tab");
    let r = srv.post("/api/v1/products", Some(&seller), body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);

    // The pages answer with a page, in the reader's language.
    let page = srv
        .http
        .post(format!("{}/login", srv.base))
        .header("accept-language", "zh-CN")
        .form(&[("email", "a\u{0}b@x.test"), ("password", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    assert!(page.text().await.unwrap().contains("控制字符"));
}

async fn products_with_a_history_are_archived_not_deleted(srv: Srv) {
    let (seller, buyer, sku) = market(&srv, 10).await;
    let product = product_of(&srv, &sku).await;
    // An open offer names the product's SKU.
    let c = srv.post("/api/v1/conversations", Some(&buyer), json!({"store": "market"})).await;
    let conversation = c.body["id"].as_str().unwrap();
    let until = souk_domain::time::rfc3339(souk_domain::clock::Clock::now_ms(&*srv.clock) + 3_600_000);
    let offer =
        json!({"sku_id": sku, "quantity": 2, "unit_price": {"amount": 1500, "currency": "CNY"}, "valid_until": until});
    let o = srv.post(&format!("/api/v1/conversations/{conversation}/offers"), Some(&seller), offer).await;
    assert_eq!(o.status, StatusCode::CREATED, "{}", o.body);
    assert_eq!(
        srv.call(Method::PUT, &format!("/api/v1/cart/items/{sku}"), Some(&buyer), Some(json!({"quantity": 1})), None)
            .await
            .status,
        StatusCode::OK
    );

    let path = format!("/api/v1/products/{product}");
    let deleted = srv.call(Method::DELETE, &path, Some(&seller), None, Some("del")).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.body);
    let own = srv.get(&path, Some(&seller)).await;
    assert_eq!((own.status, &own.body["status"]), (StatusCode::OK, &json!("archived")), "kept, archived: {}", own.body);
    assert_eq!(srv.get(&path, Some(&buyer)).await.status, StatusCode::NOT_FOUND, "gone for everyone else");
    assert_eq!(srv.get("/api/v1/cart", Some(&buyer)).await.body, json!([]), "and from carts");

    // A product nothing refers to is deleted.
    let mut body = product_body("Fresh");
    body["skus"][0]["sku"] = json!("FRESH-1");
    let fresh = srv.post("/api/v1/products", Some(&seller), body).await;
    assert_eq!(fresh.status, StatusCode::CREATED, "{}", fresh.body);
    let fresh = format!("/api/v1/products/{}", fresh.body["id"].as_str().unwrap());
    assert_eq!(
        srv.call(Method::DELETE, &fresh, Some(&seller), None, Some("del-2")).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(srv.get(&fresh, Some(&seller)).await.status, StatusCode::NOT_FOUND);
}

async fn drafts_stay_invisible_through_carts_and_reviews(srv: Srv) {
    let (seller, _) = srv.seller("drafts@example.com", "drafts").await;
    let mut body = product_body("Secret");
    body["status"] = json!("draft");
    let p = srv.post("/api/v1/products", Some(&seller), body).await;
    assert_eq!((p.status, &p.body["status"]), (StatusCode::CREATED, &json!("draft")), "{}", p.body);
    let (id, sku) = (p.body["id"].as_str().unwrap(), p.body["skus"][0]["id"].as_str().unwrap());
    let (buyer, _) = srv.register("peek@example.com").await;
    let put = srv
        .call(Method::PUT, &format!("/api/v1/cart/items/{sku}"), Some(&buyer), Some(json!({"quantity": 1})), None)
        .await;
    assert_eq!((put.status, put.code()), (StatusCode::UNPROCESSABLE_ENTITY, "unknown_sku"), "{}", put.body);
    assert_eq!(srv.get("/api/v1/cart", Some(&buyer)).await.body, json!([]));
    let reviews = format!("/api/v1/products/{id}/reviews");
    assert_eq!(srv.get(&reviews, None).await.status, StatusCode::NOT_FOUND);
    assert_eq!(srv.get(&reviews, Some(&buyer)).await.status, StatusCode::NOT_FOUND);
    assert_eq!(srv.get(&reviews, Some(&seller)).await.status, StatusCode::OK, "its store sees it");
}

async fn read_marks_are_sequence_numbers(srv: Srv) {
    let (token, _) = srv.register("marks@example.com").await;
    let r = srv.post("/api/v1/notifications/read", Some(&token), json!({"up_to": -1})).await;
    assert_eq!((r.status, r.field()), (StatusCode::UNPROCESSABLE_ENTITY, "up_to"), "{}", r.body);
    let r = srv.post("/api/v1/notifications/read", Some(&token), json!({"up_to": 0})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}

async fn product_of(srv: &Srv, sku: &str) -> String {
    let mut conn = srv.store.reader().await.unwrap();
    let (product,): (String,) =
        sqlx::query_as("SELECT product_id FROM skus WHERE id = $1").bind(sku).fetch_one(&mut *conn).await.unwrap();
    product
}
