use crate::{on_both_backends, product_body, Srv};
use reqwest::{Method, StatusCode};
use serde_json::json;

on_both_backends!(
    product_lifecycle,
    products_belong_to_their_store,
    product_input_is_validated,
    listing_pages_and_filters,
);

async fn product_lifecycle(srv: Srv) {
    let (token, store_id) = srv.seller("s@example.com", "cases").await;
    let created = srv.post("/api/v1/products", Some(&token), product_body("Phone case 手机壳")).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let p = created.body;
    let id = p["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("prd_"));
    assert_eq!(p["store_id"], store_id.as_str());
    assert_eq!(p["title"], "Phone case 手机壳");
    assert_eq!(p["category"]["path"], "Electronics > Phone Accessories");
    assert_eq!(p["ships_to"], json!(["DE", "US"]));
    assert_eq!(p["status"], "active");
    assert_eq!(p["skus"][0]["price"], json!({"amount": 1999, "currency": "CNY"}));
    assert!(p["skus"][0]["id"].as_str().unwrap().starts_with("sku_"));
    assert_eq!(p["skus"][0]["stock"], 10);

    let public = srv.get(&format!("/api/v1/products/{id}"), None).await;
    assert_eq!(public.body["title"], "Phone case 手机壳");

    let patched = srv
        .patch(
            &format!("/api/v1/products/{id}"),
            Some(&token),
            json!({"title": "Better case", "ships_to": ["*"], "moq": 2}),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.body);
    assert_eq!((patched.body["title"].as_str(), patched.body["moq"].as_i64()), (Some("Better case"), Some(2)));
    assert_eq!(patched.body["description"], "A sturdy case.", "absent fields keep their values");

    let variant =
        json!({"sku": "CASE-2", "options": {"color": "red"}, "price": {"amount": 2099, "currency": "CNY"}, "stock": 4});
    let added = srv.post(&format!("/api/v1/products/{id}/skus"), Some(&token), variant).await;
    assert_eq!(added.status, StatusCode::CREATED, "{}", added.body);
    assert_eq!(added.body["skus"].as_array().unwrap().len(), 2);
    let sku2 = added.body["skus"][1]["id"].as_str().unwrap().to_string();
    let wrong_currency = srv
        .post(
            &format!("/api/v1/products/{id}/skus"),
            Some(&token),
            json!({"price": {"amount": 100, "currency": "USD"}, "stock": 1}),
        )
        .await;
    assert_eq!((wrong_currency.status, wrong_currency.code()), (StatusCode::UNPROCESSABLE_ENTITY, "currency_mismatch"));
    let dup_code = srv
        .post(
            &format!("/api/v1/products/{id}/skus"),
            Some(&token),
            json!({"sku": "CASE-1", "price": {"amount": 100, "currency": "CNY"}, "stock": 1}),
        )
        .await;
    assert_eq!((dup_code.status, dup_code.code()), (StatusCode::CONFLICT, "duplicate_sku"));

    let restock = srv
        .patch(
            &format!("/api/v1/products/{id}/skus/{sku2}"),
            Some(&token),
            json!({"stock": 40, "price": {"amount": 1899, "currency": "CNY"}}),
        )
        .await;
    assert_eq!(restock.status, StatusCode::OK, "{}", restock.body);
    assert_eq!(restock.body["skus"][1]["stock"], 40);
    assert_eq!(restock.body["skus"][1]["price"]["amount"], 1899);
    let tier_above_base = srv
        .patch(
            &format!("/api/v1/products/{id}/skus/{sku2}"),
            Some(&token),
            json!({"price_tiers": [{"min_qty": 5, "price": {"amount": 5000, "currency": "CNY"}}]}),
        )
        .await;
    assert_eq!(tier_above_base.code(), "invalid_tier");
    assert_eq!(
        srv.patch(&format!("/api/v1/products/{id}/skus/sku_nope"), Some(&token), json!({"stock": 1})).await.status,
        StatusCode::NOT_FOUND
    );

    let drafted = srv.patch(&format!("/api/v1/products/{id}"), Some(&token), json!({"status": "draft"})).await;
    assert_eq!(drafted.body["status"], "draft");
    assert_eq!(
        srv.get(&format!("/api/v1/products/{id}"), None).await.status,
        StatusCode::NOT_FOUND,
        "drafts are private"
    );
    assert_eq!(
        srv.get(&format!("/api/v1/products/{id}"), Some(&token)).await.status,
        StatusCode::OK,
        "but not to their store"
    );
    assert!(srv.get("/api/v1/products", None).await.body["items"].as_array().unwrap().is_empty());
    let own_drafts = srv.get("/api/v1/stores/cases/products?status=draft", Some(&token)).await;
    assert_eq!(own_drafts.body["items"].as_array().unwrap().len(), 1);

    let deleted = srv.call(Method::DELETE, &format!("/api/v1/products/{id}"), Some(&token), None, None).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    assert_eq!(srv.get(&format!("/api/v1/products/{id}"), Some(&token)).await.status, StatusCode::NOT_FOUND);
    assert_eq!((srv.count("products").await, srv.count("skus").await, srv.count("stock").await), (0, 0, 0));
}

async fn products_belong_to_their_store(srv: Srv) {
    let (mine, _) = srv.seller("mine@example.com", "mine").await;
    let (theirs, _) = srv.seller("theirs@example.com", "theirs").await;
    let (buyer, _) = srv.register("buyer@example.com").await;
    let p = srv.post("/api/v1/products", Some(&mine), product_body("Mine")).await.body;
    let id = p["id"].as_str().unwrap();
    let sku = p["skus"][0]["id"].as_str().unwrap();

    let anon = srv.post("/api/v1/products", None, product_body("Anon")).await;
    assert_eq!(anon.status, StatusCode::UNAUTHORIZED);
    let no_store = srv.post("/api/v1/products", Some(&buyer), product_body("Buyer")).await;
    assert_eq!(no_store.status, StatusCode::FORBIDDEN);
    let r = srv.patch(&format!("/api/v1/products/{id}"), Some(&theirs), json!({"title": "Stolen"})).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = srv.call(Method::DELETE, &format!("/api/v1/products/{id}"), Some(&theirs), None, None).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = srv.patch(&format!("/api/v1/products/{id}/skus/{sku}"), Some(&theirs), json!({"stock": 0})).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = srv
        .post(
            &format!("/api/v1/products/{id}/skus"),
            Some(&buyer),
            json!({"price": {"amount": 1, "currency": "CNY"}, "stock": 1}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = srv.patch(&format!("/api/v1/products/{id}"), None, json!({"title": "Anon"})).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let still = srv.get(&format!("/api/v1/products/{id}"), None).await.body;
    assert_eq!((still["title"].as_str(), still["skus"][0]["stock"].as_i64()), (Some("Mine"), Some(10)));
    // The same SKU code may exist in another store.
    assert_eq!(srv.post("/api/v1/products", Some(&theirs), product_body("Theirs")).await.status, StatusCode::CREATED);
}

async fn product_input_is_validated(srv: Srv) {
    let (token, _) = srv.seller("v@example.com", "validate").await;
    let check = |path: &'static str, value: serde_json::Value, code: &'static str, field: &'static str| {
        (path, value, code, field)
    };
    let cases = [
        check("/title", json!(""), "required", "title"),
        check("/title", json!("t".repeat(100_000)), "too_long", "title"),
        check("/title", json!(42), "invalid_body", "title"),
        check("/skus/0/price/amount", json!(-5), "out_of_range", "skus[0].price.amount"),
        check("/skus/0/price/amount", json!(0), "out_of_range", "skus[0].price.amount"),
        check("/skus/0/price/amount", json!(9_300_000_000_000_000_000u64), "invalid_body", "skus[0].price.amount"),
        check("/skus/0/price/amount", json!(12.5), "invalid_body", "skus[0].price.amount"),
        check("/skus/0/price/amount", json!("1999"), "invalid_body", "skus[0].price.amount"),
        check("/skus/0/price/currency", json!("XYZ"), "invalid_body", "skus[0].price"),
        check("/skus/0/stock", json!(-1), "out_of_range", "skus[0].stock"),
        check("/ships_to", json!(["US", "Narnia"]), "unknown_country", "ships_to[1]"),
        check("/ships_to", json!([]), "required", "ships_to"),
        check("/moq", json!(0), "out_of_range", "moq"),
        check("/category", json!("Nowhere > Nothing"), "unknown_category", "category"),
        check("/images", json!(["javascript:alert(1)"]), "invalid_url", "images[0]"),
        check("/skus", json!([]), "required", "skus"),
    ];
    for (pointer, value, code, field) in cases {
        let mut body = product_body("Valid");
        *body.pointer_mut(pointer).unwrap() = value.clone();
        let r = srv.post("/api/v1/products", Some(&token), body).await;
        assert_eq!(
            (r.status, r.code(), r.field()),
            (StatusCode::UNPROCESSABLE_ENTITY, code, field),
            "{pointer}={value}: {}",
            r.body
        );
    }
    let mut missing = product_body("Valid");
    missing.as_object_mut().unwrap().remove("ships_to");
    let r = srv.post("/api/v1/products", Some(&token), missing).await;
    assert_eq!((r.code(), r.field()), ("invalid_body", "ships_to"));
    assert_eq!(srv.count("products").await, 0, "nothing was written");
    assert_eq!(srv.count("skus").await, 0);

    // Text that looks like SQL or markup is stored and returned exactly.
    for title in
        ["Robert'); DROP TABLE products;--", "<script>alert(1)</script>", "2024新款夏季碎花连衣裙女 👗", "Ünïcödé ñ"]
    {
        let mut body = product_body(title);
        body["skus"][0]["sku"] = json!(null);
        let r = srv.post("/api/v1/products", Some(&token), body).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        let back = srv.get(&format!("/api/v1/products/{}", r.body["id"].as_str().unwrap()), None).await;
        assert_eq!(back.body["title"], title);
    }
    assert_eq!(srv.count("products").await, 4);
    let bad_patch = srv.patch("/api/v1/products/prd_missing", Some(&token), json!({"title": "x"})).await;
    assert_eq!(bad_patch.status, StatusCode::NOT_FOUND);
}

async fn listing_pages_and_filters(srv: Srv) {
    let (token, store_id) = srv.seller("l@example.com", "lister").await;
    for i in 0..5 {
        srv.clock.advance_ms(1);
        let mut body = product_body(&format!("Item {i}"));
        body["skus"][0]["sku"] = json!(format!("I-{i}"));
        if i == 4 {
            body["category"] = json!("Fashion > Shoes");
        }
        assert_eq!(srv.post("/api/v1/products", Some(&token), body).await.status, StatusCode::CREATED);
    }
    let page1 = srv.get("/api/v1/products?limit=2", None).await.body;
    let titles: Vec<&str> = page1["items"].as_array().unwrap().iter().map(|p| p["title"].as_str().unwrap()).collect();
    assert_eq!(titles, vec!["Item 4", "Item 3"], "newest first");
    let cursor = page1["next_cursor"].as_str().unwrap();
    let page2 = srv.get(&format!("/api/v1/products?limit=2&cursor={cursor}"), None).await.body;
    assert_eq!(page2["items"][0]["title"], "Item 2");
    let page3 = srv
        .get(&format!("/api/v1/products?limit=2&cursor={}", page2["next_cursor"].as_str().unwrap()), None)
        .await
        .body;
    assert_eq!(page3["items"].as_array().unwrap().len(), 1);
    assert!(page3["next_cursor"].is_null());
    let capped = srv.get("/api/v1/products?limit=100000", None).await;
    assert_eq!(capped.body["items"].as_array().unwrap().len(), 5);
    assert_eq!(srv.get("/api/v1/products?limit=0", None).await.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(srv.get("/api/v1/products?limit=-3", None).await.status, StatusCode::UNPROCESSABLE_ENTITY);
    let shoes = srv.get("/api/v1/products?category=fashion", None).await.body;
    assert_eq!(shoes["items"].as_array().unwrap().len(), 1);
    assert_eq!(srv.get("/api/v1/products?category=bogus", None).await.code(), "unknown_category");
    let by_store = srv.get(&format!("/api/v1/products?store={store_id}"), None).await.body;
    assert_eq!(by_store["items"].as_array().unwrap().len(), 5);
    let cats = srv.get("/api/v1/categories", None).await.body;
    assert!(cats.as_array().unwrap().iter().any(|c| c["id"] == "electronics" && c["name_zh"] == "电子产品"));
}
