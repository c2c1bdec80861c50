use crate::{on_both_backends, product_body, Srv};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

on_both_backends!(
    search_follows_the_catalog,
    every_parameter_filters_sorts_and_pages,
    bad_search_input_is_a_clear_error,
    suggestions_views_and_impressions,
    a_second_process_follows_the_feed,
);

fn total(body: &Value) -> u64 {
    body["total"].as_u64().unwrap()
}

fn ids(body: &Value) -> Vec<String> {
    body["hits"].as_array().unwrap().iter().map(|h| h["id"].as_str().unwrap().to_string()).collect()
}

async fn create(srv: &Srv, token: &str, body: Value) -> Value {
    let r = srv.post("/api/v1/products", Some(token), body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    r.body
}

async fn search_follows_the_catalog(srv: Srv) {
    let (token, _) = srv.seller("search@example.com", "searchable").await;
    let mut body = product_body("Bamboo cutting board");
    body["skus"][0]["sku"] = json!("B-1");
    let board = create(&srv, &token, body).await;
    let id = board["id"].as_str().unwrap().to_string();
    let mut body = product_body("Steel knife");
    body["description"] = json!("Pairs with a bamboo board");
    body["skus"][0]["sku"] = json!("K-1");
    create(&srv, &token, body).await;

    let found = srv.eventually("/api/v1/search?q=bamboo", |b| total(b) == 2).await;
    let hit = &found["hits"][0];
    assert_eq!(hit["id"], id.as_str(), "title matches rank first");
    assert_eq!(hit["title"], "Bamboo cutting board");
    assert_eq!(hit["price"], json!({"amount": 1999, "currency": "CNY"}));
    assert_eq!(hit["store"]["slug"], "searchable");
    assert_eq!(hit["store"]["trust_score"], 50.0, "a new, unverified seller starts at the neutral prior");
    assert!(hit["score"].as_f64().unwrap() > 0.0);
    assert!(found["hits"][1]["snippet"].as_str().unwrap().contains("<b>bamboo</b>"), "{}", found["hits"][1]);
    srv.eventually("/api/v1/search?q=silicone", |b| total(b) == 2).await;

    srv.patch(&format!("/api/v1/products/{id}"), Some(&token), json!({"title": "Oak cutting board"})).await;
    srv.eventually("/api/v1/search?q=oak", |b| total(b) == 1).await;
    let sku = board["skus"][0]["id"].as_str().unwrap();
    let path = format!("/api/v1/products/{id}/skus/{sku}");
    let r = srv
        .patch(&path, Some(&token), json!({"price": {"amount": 500, "currency": "CNY"}, "price_tiers": [], "stock": 0}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let cheap = srv.eventually("/api/v1/search?q=oak", |b| b["hits"][0]["price"]["amount"] == 500).await;
    assert_eq!(cheap["hits"][0]["in_stock"], false, "stock changes reach search");
    srv.eventually("/api/v1/search?q=oak&in_stock=true", |b| total(b) == 0).await;
    srv.patch(&format!("/api/v1/products/{id}"), Some(&token), json!({"status": "draft"})).await;
    srv.eventually("/api/v1/search?q=oak", |b| total(b) == 0).await;
    srv.patch(&format!("/api/v1/products/{id}"), Some(&token), json!({"status": "active"})).await;
    srv.eventually("/api/v1/search?q=oak", |b| total(b) == 1).await;
    srv.call(Method::DELETE, &format!("/api/v1/products/{id}"), Some(&token), None, None).await;
    srv.eventually("/api/v1/search?q=oak", |b| total(b) == 0).await;

    let csv = "title,description,category,price,currency,stock,ships_to\nWalnut tray,,,12,CNY,1,*\n";
    srv.raw(Method::POST, "/api/v1/stores/searchable/imports", Some(&token), "text/csv", csv.as_bytes().to_vec()).await;
    srv.eventually("/api/v1/search?q=walnut", |b| total(b) == 1).await;
    // A store's details reach its hits without re-indexing them.
    srv.patch("/api/v1/stores/searchable", Some(&token), json!({"name": "Renamed Shop"})).await;
    srv.eventually("/api/v1/search?q=walnut", |b| b["hits"][0]["store"]["name"] == "Renamed Shop").await;

    // A restart resumes from the recorded feed position without losing what changed meanwhile.
    let mut body = product_body("Teak tray");
    body["skus"][0]["sku"] = json!("T-1");
    let srv = srv.restart().await;
    create(&srv, &token, body).await;
    srv.eventually("/api/v1/search?q=tray", |b| total(b) == 2).await;
}

/// Three stores, seven products: enough to see each filter, sort and facet do its work.
async fn catalog(srv: &Srv) -> (String, String) {
    let (cn, cn_store) = srv.seller("cn@example.com", "cn-shop").await;
    let (de, _) = srv.register("de@example.com").await;
    let r = srv
        .post(
            "/api/v1/stores",
            Some(&de),
            json!({"name": "Berlin", "slug": "berlin", "country": "DE", "currency": "EUR"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let item = |title: &str, category: &str, amount: i64, currency: &str, stock: i64, ships: Value| {
        let mut b = product_body(title);
        b["category"] = json!(category);
        b["skus"][0]["sku"] = json!(format!("S-{amount}-{stock}"));
        b["skus"][0]["price"] = json!({"amount": amount, "currency": currency});
        b["skus"][0]["price_tiers"] = json!([]);
        b["skus"][0]["stock"] = json!(stock);
        b["ships_to"] = ships;
        b
    };
    for body in [
        item("Wireless earbuds", "electronics/audio", 5000, "CNY", 5, json!(["*"])),
        item("Wireless speaker", "electronics/audio", 9000, "CNY", 0, json!(["CN"])),
        item("2024新款夏季碎花连衣裙女", "fashion/womens-clothing", 12900, "CNY", 3, json!(["CN", "HK"])),
        item("Phone case", "electronics/phone-accessories", 1500, "CNY", 9, json!(["US", "DE"])),
    ] {
        create(srv, &cn, body).await;
        srv.clock.advance_ms(1000);
    }
    for body in [
        item("Wireless headphones", "electronics/audio", 4500, "EUR", 2, json!(["DE", "FR"])),
        item("Ceramic mug", "home/kitchen", 1200, "EUR", 7, json!(["*"])),
        item("Oak chair", "home/furniture", 8000, "EUR", 1, json!(["DE"])),
    ] {
        create(srv, &de, body).await;
        srv.clock.advance_ms(1000);
    }
    srv.eventually("/api/v1/search", |b| total(b) == 7).await;
    (cn, cn_store)
}

async fn every_parameter_filters_sorts_and_pages(srv: Srv) {
    let (_, cn_store) = catalog(&srv).await;
    let get = |path: &str| {
        let srv = &srv;
        let path = path.to_string();
        async move {
            let r = srv.get(&path, None).await;
            assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.body);
            r.body
        }
    };
    let all = get("/api/v1/search?q=").await;
    assert_eq!(total(&all), 7, "an empty query lists everything");
    let cats = &all["facets"]["categories"];
    assert_eq!(cats[0], json!({"id": "electronics", "name": "Electronics", "name_zh": "电子产品", "count": 4}));
    let countries: Vec<(String, u64)> = all["facets"]["seller_country"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["value"].as_str().unwrap().to_string(), c["count"].as_u64().unwrap()))
        .collect();
    assert_eq!(countries, vec![("CN".to_string(), 4), ("DE".to_string(), 3)]);
    assert_eq!(all["facets"]["verification"][0], json!({"value": "none", "count": 7}));
    assert!(all["facets"]["price"]
        .as_array()
        .unwrap()
        .iter()
        .any(|b| b == &json!({"currency": "CNY", "from": 5000, "to": 10000, "count": 2})));

    assert_eq!(total(&get("/api/v1/search?q=wireless").await), 3);
    assert_eq!(ids(&get("/api/v1/search?q=连衣裙").await).len(), 1);
    assert_eq!(total(&get("/api/v1/search?q=wireles%20earbud").await), 1, "typo and plural");
    assert_eq!(total(&get("/api/v1/search?category=electronics").await), 4);
    assert_eq!(total(&get("/api/v1/search?category=electronics/audio&q=wireless").await), 3);
    let de = get("/api/v1/search?ships_to=de").await;
    assert_eq!(total(&de), 5, "everywhere plus DE; lower case accepted");
    assert!(!ids(&de).is_empty());
    let stocked = get("/api/v1/search?q=wireless&in_stock=true").await;
    assert_eq!(total(&stocked), 2);
    assert!(stocked["hits"].as_array().unwrap().iter().all(|h| h["in_stock"] == true));
    assert_eq!(total(&get("/api/v1/search?currency=EUR").await), 3);
    assert_eq!(total(&get("/api/v1/search?currency=CNY&price_min=5000&price_max=9000").await), 2);
    assert_eq!(total(&get("/api/v1/search?currency=EUR&price_max=1200").await), 1);
    assert_eq!(total(&get(&format!("/api/v1/search?store={cn_store}")).await), 4);
    assert_eq!(total(&get("/api/v1/search?store=berlin").await), 3, "a slug works too");
    assert_eq!(total(&get("/api/v1/search?min_seller_rating=50").await), 7, "unscored sellers are neutral");
    assert_eq!(total(&get("/api/v1/search?min_seller_rating=51").await), 0);

    let asc = get("/api/v1/search?currency=CNY&sort=price_asc").await;
    let prices: Vec<i64> =
        asc["hits"].as_array().unwrap().iter().map(|h| h["price"]["amount"].as_i64().unwrap()).collect();
    assert_eq!(prices, vec![1500, 5000, 9000, 12900]);
    let desc = get("/api/v1/search?currency=CNY&sort=price_desc").await;
    assert_eq!(desc["hits"][0]["price"]["amount"], 12900);
    let newest = get("/api/v1/search?sort=newest").await;
    assert_eq!(newest["hits"][0]["title"], "Oak chair");
    let rated = get("/api/v1/search?q=wireless&sort=rating").await;
    assert_eq!(total(&rated), 3);
    let ranked = get("/api/v1/search?q=wireless&explain=true").await;
    let e = &ranked["hits"][0]["explain"];
    for f in ["text", "trust", "conversion", "delivery", "price", "stock"] {
        assert!(e["features"][f].is_number() && e["contributions"][f].is_number(), "{e}");
    }
    assert_eq!(e["features"]["trust"], 0.5, "the neutral prior, not a made-up value");
    assert!(get("/api/v1/search?q=wireless").await["hits"][0].get("explain").is_none());

    let mut seen = Vec::new();
    let mut path = "/api/v1/search?limit=3".to_string();
    loop {
        let page = get(&path).await;
        assert!(page["hits"].as_array().unwrap().len() <= 3);
        seen.extend(ids(&page));
        match page["next_cursor"].as_str() {
            Some(c) => path = format!("/api/v1/search?limit=3&cursor={c}"),
            None => break,
        }
    }
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 7, "pages cover every product once");
    assert_eq!(get("/api/v1/search?limit=100000").await["hits"].as_array().unwrap().len(), 7, "limit is capped");
    let syntax = get("/api/v1/search?q=%22%2B(title%3A%20AND%20*").await;
    assert_eq!(total(&syntax), 0, "query syntax is plain text");
}

async fn bad_search_input_is_a_clear_error(srv: Srv) {
    for (query, code, field) in [
        ("category=nowhere", "unknown_category", "category"),
        ("ships_to=XX", "unknown_country", "ships_to"),
        ("currency=ABC", "unknown_currency", "currency"),
        ("store=no-such-store", "unknown_store", "store"),
        ("store=sto_0000", "unknown_store", "store"),
        ("sort=cheapest", "unknown_sort", "sort"),
        ("cursor=abc", "invalid_cursor", "cursor"),
        ("min_seller_rating=101", "out_of_range", "min_seller_rating"),
        ("price_min=100", "required", "currency"),
        ("currency=USD&price_min=-1", "out_of_range", "price_min"),
        ("currency=USD&price_min=10&price_max=5", "out_of_range", "price_max"),
        ("limit=0", "out_of_range", "limit"),
    ] {
        let r = srv.get(&format!("/api/v1/search?{query}"), None).await;
        assert_eq!(
            (r.status, r.code(), r.field()),
            (StatusCode::UNPROCESSABLE_ENTITY, code, field),
            "{query}: {}",
            r.body
        );
    }
    for query in ["in_stock=maybe", "price_max=lots", "explain=2"] {
        let r = srv.get(&format!("/api/v1/search?{query}"), None).await;
        assert_eq!((r.status, r.code()), (StatusCode::UNPROCESSABLE_ENTITY, "invalid_query"), "{query}");
    }
    let long = "q".repeat(201);
    let r = srv.get(&format!("/api/v1/search?q={long}"), None).await;
    assert_eq!((r.status, r.field()), (StatusCode::UNPROCESSABLE_ENTITY, "q"));
    let r = srv.get(&format!("/api/v1/search/suggest?q={long}"), None).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
}

async fn suggestions_views_and_impressions(srv: Srv) {
    let (seller, _) = catalog(&srv).await;
    let s = srv.get("/api/v1/search/suggest?q=wire", None).await.body;
    let texts: Vec<&str> = s["suggestions"].as_array().unwrap().iter().map(|s| s["text"].as_str().unwrap()).collect();
    assert!(texts.contains(&"Wireless earbuds") && texts.contains(&"Wireless headphones"), "{s}");
    let s = srv.get("/api/v1/search/suggest?q=Furn", None).await.body;
    assert_eq!(
        s["suggestions"][0],
        json!({"kind": "category", "text": "Home & Garden > Furniture", "id": "home/furniture", "text_zh": "家居园艺 > 家具"})
    );
    let s = srv.get("/api/v1/search/suggest?q=连衣", None).await.body;
    assert_eq!(s["suggestions"].as_array().unwrap().len(), 1, "{s}");
    assert!(srv.get("/api/v1/search/suggest?q=", None).await.body["suggestions"].as_array().unwrap().is_empty());

    let found = srv.get("/api/v1/search?q=earbuds", None).await.body;
    let id = found["hits"][0]["id"].as_str().unwrap().to_string();
    let (buyer, _) = srv.quick_user("looker@example.com").await;
    srv.get(&format!("/api/v1/products/{id}"), Some(&buyer)).await;
    srv.get(&format!("/api/v1/products/{id}"), None).await;
    srv.get(&format!("/api/v1/products/{id}"), Some(&seller)).await;
    srv.app.flush_traffic().await.unwrap();
    let stats = srv.count(&format!("product_stats WHERE product_id = '{id}' AND views = 2 AND impressions >= 1")).await;
    assert_eq!(stats, 1, "two visitors viewed it (its seller does not count) after it was shown");
}

async fn a_second_process_follows_the_feed(srv: Srv) {
    let (token, _) = srv.seller("multi@example.com", "multi").await;
    let peer = srv.peer().await;
    let mut body = product_body("Lacquer box");
    body["skus"][0]["sku"] = json!("LB-1");
    let p = create(&srv, &token, body).await;
    srv.eventually_on(&peer.srv_base, "/api/v1/search?q=lacquer", |b| total(b) == 1).await;
    let id = p["id"].as_str().unwrap();
    srv.patch(&format!("/api/v1/products/{id}"), Some(&token), json!({"title": "Enamel box"})).await;
    srv.eventually_on(&peer.srv_base, "/api/v1/search?q=enamel", |b| total(b) == 1).await;
    srv.eventually_on(&peer.srv_base, "/api/v1/search?q=lacquer", |b| total(b) == 0).await;
}
