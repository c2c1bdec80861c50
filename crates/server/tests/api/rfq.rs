//! Requests for quotation: who sees them, one quote per seller, closing at the deadline or at
//! ten quotes, and an accepted quote becoming a paid order.

use crate::orders::{assert_ledger_sound, market, order_action};
use crate::{on_both_backends, product_body, Res, Srv};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use souk_domain::clock::Clock;

on_both_backends!(rfqs_reach_matching_sellers_and_become_orders, rfqs_close_at_ten_quotes_or_the_deadline);

fn rfq_body(srv: &Srv, hours: i64) -> Value {
    json!({"title": "Silicone phone cases, 20 units", "details": "Black, retail packaging", "category": "electronics",
           "quantity": 20, "target_unit_price": {"amount": 1500, "currency": "CNY"}, "ship_to": "DE",
           "deadline": souk_domain::time::rfc3339(srv.clock.now_ms() + hours * 3_600_000)})
}

/// A seller with one product in electronics that ships where `ships_to` says; returns (token, sku).
async fn seller_with(srv: &Srv, email: &str, slug: &str, ships_to: Value) -> (String, String) {
    let (token, _) = srv.seller(email, slug).await;
    let mut body = product_body("Phone case");
    body["ships_to"] = ships_to;
    let p = srv.post("/api/v1/products", Some(&token), body).await;
    assert_eq!(p.status, StatusCode::CREATED, "{}", p.body);
    (token, p.body["skus"][0]["id"].as_str().unwrap().to_string())
}

fn quote_body(sku: &str, price: i64) -> Value {
    json!({"sku_id": sku, "unit_price": {"amount": price, "currency": "CNY"}, "moq": 10, "lead_time_days": 7,
           "note": "FOB Shenzhen"})
}

async fn quote(srv: &Srv, token: &str, rfq: &str, body: Value) -> Res {
    srv.call(Method::POST, &format!("/api/v1/rfqs/{rfq}/quotes"), Some(token), Some(body), None).await
}

async fn rfqs_reach_matching_sellers_and_become_orders(srv: Srv) {
    let (seller, buyer, sku) = market(&srv, 50).await;
    // market's product is a tea set in electronics/phone-accessories shipping everywhere.
    for (body, field) in [
        (json!({"title": "x"}), "category"),
        (
            {
                let mut b = rfq_body(&srv, 48);
                b["title"] = json!("ab");
                b
            },
            "title",
        ),
        (
            {
                let mut b = rfq_body(&srv, 48);
                b["category"] = json!("weapons");
                b
            },
            "category",
        ),
        (
            {
                let mut b = rfq_body(&srv, 48);
                b["quantity"] = json!(0);
                b
            },
            "quantity",
        ),
        (
            {
                let mut b = rfq_body(&srv, 48);
                b["ship_to"] = json!("XX");
                b
            },
            "ship_to",
        ),
        (
            {
                let mut b = rfq_body(&srv, 48);
                b["deadline"] = json!("tomorrow");
                b
            },
            "deadline",
        ),
        (rfq_body(&srv, 24 * 61), "deadline"),
    ] {
        let r = srv.post("/api/v1/rfqs", Some(&buyer), body).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
        assert!(r.field() == field || r.body["error"]["message"].as_str().unwrap().contains(field), "{}", r.body);
    }
    assert_eq!(srv.count("rfqs").await, 0, "refused RFQs write nothing");

    let created = srv.post("/api/v1/rfqs", Some(&buyer), rfq_body(&srv, 48)).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(created.body["status"], "open");
    let rfq = created.body["id"].as_str().unwrap().to_string();
    assert_eq!(srv.get("/api/v1/rfqs", Some(&buyer)).await.body["items"][0]["id"], rfq.as_str());

    // Who sees it: sellers with a product in the category that ships to DE.
    let feed = srv.get("/api/v1/rfqs/open", Some(&seller)).await.body;
    assert_eq!(feed["items"][0]["id"], rfq.as_str(), "{feed}");
    let (us_only, us_sku) = seller_with(&srv, "us@example.com", "us-only", json!(["US"])).await;
    assert_eq!(srv.get("/api/v1/rfqs/open", Some(&us_only)).await.body["items"], json!([]));
    assert_eq!(srv.get(&format!("/api/v1/rfqs/{rfq}"), Some(&us_only)).await.status, StatusCode::NOT_FOUND);
    assert_eq!(quote(&srv, &us_only, &rfq, quote_body(&us_sku, 1400)).await.status, StatusCode::NOT_FOUND);
    let (nobody, _) = srv.quick_user("nobody@example.com").await;
    assert_eq!(srv.get("/api/v1/rfqs/open", Some(&nobody)).await.status, StatusCode::FORBIDDEN);
    assert_eq!(srv.get(&format!("/api/v1/rfqs/{rfq}"), Some(&nobody)).await.status, StatusCode::NOT_FOUND);

    // One quote per seller, revisable once.
    let foreign = quote(&srv, &seller, &rfq, quote_body(&us_sku, 1400)).await;
    assert_eq!((foreign.status, foreign.field()), (StatusCode::UNPROCESSABLE_ENTITY, "sku_id"));
    let mut usd = quote_body(&sku, 1400);
    usd["unit_price"]["currency"] = json!("USD");
    assert_eq!(quote(&srv, &seller, &rfq, usd).await.field(), "unit_price.currency");
    let q = quote(&srv, &seller, &rfq, quote_body(&sku, 1600)).await;
    assert_eq!(q.status, StatusCode::CREATED, "{}", q.body);
    let second = quote(&srv, &seller, &rfq, quote_body(&sku, 1550)).await;
    assert_eq!((second.status, second.code()), (StatusCode::CONFLICT, "already_quoted"));
    let quote_id = q.body["id"].as_str().unwrap().to_string();
    let path = format!("/api/v1/quotes/{quote_id}");
    let revise = |price: i64| srv.call(Method::PATCH, &path, Some(&seller), Some(quote_body(&sku, price)), None);
    let revised = revise(1450).await;
    assert_eq!((revised.status, revised.body["edits"].as_i64()), (StatusCode::OK, Some(1)), "{}", revised.body);
    let twice = revise(1400).await;
    assert_eq!((twice.status, twice.code()), (StatusCode::CONFLICT, "already_revised"));
    let by_buyer = quote(&srv, &buyer, &rfq, quote_body(&sku, 1)).await;
    assert_eq!(by_buyer.status, StatusCode::FORBIDDEN);

    let (rival, rival_sku) = seller_with(&srv, "rival@example.com", "rival", json!(["DE"])).await;
    assert_eq!(quote(&srv, &rival, &rfq, quote_body(&rival_sku, 1500)).await.status, StatusCode::CREATED);
    let as_buyer = srv.get(&format!("/api/v1/rfqs/{rfq}"), Some(&buyer)).await.body;
    assert_eq!(as_buyer["quotes"].as_array().unwrap().len(), 2, "the buyer sees every quote");
    let as_rival = srv.get(&format!("/api/v1/rfqs/{rfq}"), Some(&rival)).await.body;
    assert_eq!(as_rival["quotes"].as_array().unwrap().len(), 1, "a seller sees only their own");
    assert_eq!(as_rival["quotes"][0]["store_name"], "Shop");

    // Accepting: an order at the quoted price, once.
    let by_seller =
        srv.call(Method::POST, &format!("/api/v1/quotes/{quote_id}/accept"), Some(&seller), None, None).await;
    assert_eq!(by_seller.status, StatusCode::NOT_FOUND);
    let accepted =
        srv.call(Method::POST, &format!("/api/v1/quotes/{quote_id}/accept"), Some(&buyer), None, Some("acc")).await;
    assert_eq!(accepted.status, StatusCode::CREATED, "{}", accepted.body);
    assert_eq!(accepted.body["order"]["total"], json!({"amount": 29_000, "currency": "CNY"}), "20 × 14.50");
    assert_eq!(accepted.body["order"]["ship_country"], "DE");
    assert_eq!(
        (accepted.body["rfq"]["status"].as_str(), accepted.body["quote"]["state"].as_str()),
        (Some("awarded"), Some("accepted"))
    );
    let replay =
        srv.call(Method::POST, &format!("/api/v1/quotes/{quote_id}/accept"), Some(&buyer), None, Some("acc")).await;
    assert_eq!(replay.body["order"]["id"], accepted.body["order"]["id"], "a retry answers the first response");
    let rival_quote = as_rival["quotes"][0]["id"].as_str().unwrap();
    let late = srv.call(Method::POST, &format!("/api/v1/quotes/{rival_quote}/accept"), Some(&buyer), None, None).await;
    assert_eq!((late.status, late.code()), (StatusCode::CONFLICT, "rfq_awarded"));
    let after = srv.get(&format!("/api/v1/rfqs/{rfq}"), Some(&buyer)).await.body;
    let states: Vec<&str> = after["quotes"].as_array().unwrap().iter().map(|q| q["state"].as_str().unwrap()).collect();
    assert_eq!(states, ["accepted", "not_selected"]);
    let order = accepted.body["order"]["id"].as_str().unwrap();
    assert_eq!(order_action(&srv, &buyer, order, "pay").await.status, StatusCode::OK);
    assert_ledger_sound(&srv).await;
}

async fn rfqs_close_at_ten_quotes_or_the_deadline(srv: Srv) {
    let (buyer, _) = srv.register("buyer@example.com").await;
    let rfq = srv.post("/api/v1/rfqs", Some(&buyer), rfq_body(&srv, 48)).await.body["id"].as_str().unwrap().to_string();
    let soon = srv.post("/api/v1/rfqs", Some(&buyer), rfq_body(&srv, 2)).await.body["id"].as_str().unwrap().to_string();
    let mut sellers = Vec::new();
    for i in 0..11 {
        sellers.push(seller_with(&srv, &format!("s{i}@example.com"), &format!("shop-{i}"), json!(["*"])).await);
    }
    for (i, (token, sku)) in sellers.iter().take(10).enumerate() {
        let r = quote(&srv, token, &rfq, quote_body(sku, 1000 + i as i64)).await;
        assert_eq!(r.status, StatusCode::CREATED, "quote {i}: {}", r.body);
    }
    let (token, sku) = &sellers[10];
    let eleventh = quote(&srv, token, &rfq, quote_body(sku, 900)).await;
    assert_eq!((eleventh.status, eleventh.code()), (StatusCode::CONFLICT, "rfq_closed"));
    assert_eq!(srv.get(&format!("/api/v1/rfqs/{rfq}"), Some(&buyer)).await.body["rfq"]["status"], "closed");
    let feed = srv.get("/api/v1/rfqs/open", Some(token)).await.body;
    assert_eq!(feed["items"].as_array().unwrap().len(), 1, "only the RFQ still open: {feed}");
    assert_eq!(feed["items"][0]["id"], soon.as_str());

    // Eleven sellers racing for the last places of a fresh RFQ: exactly ten get in.
    let raced =
        srv.post("/api/v1/rfqs", Some(&buyer), rfq_body(&srv, 48)).await.body["id"].as_str().unwrap().to_string();
    let attempts = sellers.iter().map(|(token, sku)| quote(&srv, token, &raced, quote_body(sku, 1000)));
    let results = futures_util::future::join_all(attempts).await;
    let statuses: Vec<u16> = results.iter().map(|r| r.status.as_u16()).collect();
    assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 10, "{statuses:?}");
    assert!(results.iter().filter(|r| r.status != StatusCode::CREATED).all(|r| r.code() == "rfq_closed"));
    assert_eq!(srv.get(&format!("/api/v1/rfqs/{raced}"), Some(&buyer)).await.body["rfq"]["quotes"], 10);

    srv.clock.advance_ms(3 * 3_600_000);
    let late = quote(&srv, token, &soon, quote_body(sku, 900)).await;
    assert_eq!((late.status, late.code()), (StatusCode::CONFLICT, "rfq_closed"), "past its deadline");
    let cancelled = srv.call(Method::POST, &format!("/api/v1/rfqs/{soon}/cancel"), Some(&buyer), None, None).await;
    assert_eq!(cancelled.body["status"], "cancelled", "{}", cancelled.body);
    assert_eq!(srv.count("quotes").await, 20);
}
