//! In-app notifications: each party's events as sentences that fit their side of the order,
//! newest first, with an unread count that only goes down when marked read.

use crate::orders::{checkout, market, order_action};
use crate::{on_both_backends, Srv};
use reqwest::StatusCode;
use serde_json::json;

on_both_backends!(each_party_is_told_what_to_do_next);

async fn each_party_is_told_what_to_do_next(srv: Srv) {
    let (seller, buyer, sku) = market(&srv, 10).await;
    let order = checkout(&srv, &buyer, &sku, 1, "notify-checkout").await;
    let id = order.body["orders"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(order_action(&srv, &buyer, &id, "pay").await.status, StatusCode::OK);

    let seen = srv.get("/api/v1/notifications", Some(&seller)).await.body;
    let newest = &seen["items"][0];
    assert_eq!(newest["text"], "Payment secured: ship within 72 hours", "{seen}");
    assert_eq!(
        (newest["type"].as_str(), newest["order_id"].as_str(), newest["read"].as_bool()),
        (Some("order.paid"), Some(id.as_str()), Some(false))
    );
    let unread = seen["unread"].as_i64().unwrap();
    assert!(unread >= 2, "{seen}");
    let buyers = srv.get("/api/v1/notifications", Some(&buyer)).await.body;
    let paid = buyers["items"].as_array().unwrap().iter().find(|n| n["type"] == "order.paid").unwrap();
    assert!(paid["text"].as_str().unwrap().contains("escrow"), "the buyer's side: {paid}");

    let zh = srv.http.get(format!("{}/api/v1/notifications", srv.base)).bearer_auth(&seller);
    let zh: serde_json::Value =
        zh.header("accept-language", "zh-CN,zh;q=0.9,en;q=0.5").send().await.unwrap().json().await.unwrap();
    assert_eq!(zh["items"][0]["text"], "货款已托管：请在 72 小时内发货", "{zh}");
    // Without the header, the language the account chose.
    srv.patch("/api/v1/me", Some(&seller), json!({"locale": "zh"})).await;
    let chosen = srv.get("/api/v1/notifications", Some(&seller)).await.body;
    assert_eq!(chosen["items"][0]["text"], "货款已托管：请在 72 小时内发货", "{chosen}");
    srv.patch("/api/v1/me", Some(&seller), json!({"locale": ""})).await;

    let page = srv.get("/api/v1/notifications?limit=1", Some(&seller)).await.body;
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    let cursor = page["next_cursor"].as_i64().unwrap();
    let older = srv.get(&format!("/api/v1/notifications?limit=1&cursor={cursor}"), Some(&seller)).await.body;
    assert!(older["items"][0]["seq"].as_i64().unwrap() < cursor);

    let first_seq = newest["seq"].as_i64().unwrap();
    let older_seq = older["items"][0]["seq"].as_i64().unwrap();
    let read = srv.post("/api/v1/notifications/read", Some(&seller), json!({"up_to": older_seq})).await;
    assert!(older_seq < first_seq);
    assert_eq!(read.body["unread"], 1, "only the newest is left unread");
    let all = srv.post("/api/v1/notifications/read", Some(&seller), json!({})).await;
    assert_eq!(all.body["unread"], 0);
    let back = srv.post("/api/v1/notifications/read", Some(&seller), json!({"up_to": 1})).await;
    assert_eq!(back.body["unread"], 0, "marking never un-reads");
    assert_eq!(srv.get("/api/v1/notifications", Some(&seller)).await.body["items"][0]["read"], true);

    // The live socket carries the same sentence with each event.
    let mut socket = crate::chat::connect(&srv.base, &seller, None).await;
    let pushed = loop {
        let f = crate::chat::frame(&mut socket).await;
        if f["type"] == "event" && f["event"]["type"] == "order.paid" {
            break f;
        }
    };
    assert_eq!(pushed["notification"], "Payment secured: ship within 72 hours");

    // The pages: a count in the header, the list, and a form that reads them all.
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let cookies = format!("souk_session={buyer}; souk_csrf=notify-csrf-token-0123456789abcd");
    let page = |path: &str| client.get(format!("{}{path}", srv.base)).header("cookie", &cookies).send();
    let html = page("/notifications").await.unwrap().text().await.unwrap();
    assert!(html.contains("held in escrow") && html.contains(r#"class="badge-count""#), "{html}");
    let form = [("_csrf", "notify-csrf-token-0123456789abcd"), ("_key", "notify-read-form-key-01234")];
    let read = client.post(format!("{}/notifications/read", srv.base)).header("cookie", &cookies).form(&form);
    assert_eq!(read.send().await.unwrap().status(), StatusCode::SEE_OTHER);
    let html = page("/notifications").await.unwrap().text().await.unwrap();
    assert!(!html.contains(r#"class="badge-count""#) && html.contains(r#"class="read""#), "{html}");
    let zh = client.get(format!("{}/notifications", srv.base)).header("cookie", format!("{cookies}; souk_lang=zh"));
    let zh = zh.send().await.unwrap().text().await.unwrap();
    assert!(zh.contains("货款已托管：确认收货前由平台保管"), "in Chinese too: {zh}");

    // A day before each deadline, whoever must act is reminded; reminders are not deadlines.
    const DAY: i64 = 86_400_000;
    let texts = |body: &serde_json::Value| -> Vec<String> {
        body["items"].as_array().unwrap().iter().map(|n| n["text"].as_str().unwrap().to_string()).collect()
    };
    srv.clock.advance_ms(2 * DAY + 1_000);
    srv.app.run_due_jobs().await.unwrap();
    let seller_texts = texts(&srv.get("/api/v1/notifications", Some(&seller)).await.body);
    assert!(seller_texts[0].starts_with("Reminder: ship within 24 hours"), "{seller_texts:?}");
    let view = srv.get(&format!("/api/v1/orders/{id}"), Some(&buyer)).await.body;
    assert_eq!(view["deadlines"].as_array().unwrap().len(), 1, "only the ship-by deadline: {view}");
    let shipped = crate::orders::ship(&srv, &seller, &id, "other", "REMIND-1").await;
    assert_eq!(shipped.status, StatusCode::OK, "{}", shipped.body);
    srv.clock.advance_ms(9 * DAY + 1_000);
    srv.app.run_due_jobs().await.unwrap();
    let buyer_texts = texts(&srv.get("/api/v1/notifications", Some(&buyer)).await.body);
    assert!(buyer_texts[0].starts_with("Reminder: confirm receipt"), "{buyer_texts:?}");
    let seller_texts = texts(&srv.get("/api/v1/notifications", Some(&seller)).await.body);
    assert_eq!(seller_texts.iter().filter(|t| t.starts_with("Reminder")).count(), 1, "one reminder each");

    let (stranger, _) = srv.register("nosy@example.com").await;
    let theirs = srv.get("/api/v1/notifications", Some(&stranger)).await.body;
    assert_eq!((theirs["items"].as_array().unwrap().len(), theirs["unread"].as_i64()), (0, Some(0)));
    assert_eq!(srv.get("/api/v1/notifications", None).await.status, StatusCode::UNAUTHORIZED);
}
