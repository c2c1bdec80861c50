//! Trust and safety: reports reach the operators' queue; a listing taken down, a store suspended
//! or a user banned is gone where it must be, notified, audited, and back when reversed.

use crate::orders::{checkout, market, order_action, paid_order, ship};
use crate::{on_both_backends, Srv};
use reqwest::StatusCode;
use serde_json::json;

on_both_backends!(
    a_report_reaches_the_queue_and_a_take_down_is_reversible,
    a_suspended_stores_listings_vanish_while_its_paid_orders_complete,
    a_banned_user_is_signed_out_and_refused,
    a_hidden_review_counts_nowhere_until_shown_again,
    an_appeal_is_answered_or_granted,
    new_listings_of_unverified_stores_wait_for_review
);

async fn admin(srv: &Srv) -> String {
    let (token, id) = srv.register("ops@example.com").await;
    srv.make_admin(&id).await;
    token
}

/// The market's one listing.
async fn listing(srv: &Srv, seller: &str) -> String {
    let products = srv.get("/api/v1/stores/market/products", Some(seller)).await.body;
    products["items"][0]["id"].as_str().unwrap().to_string()
}

async fn a_report_reaches_the_queue_and_a_take_down_is_reversible(srv: Srv) {
    let (seller, buyer, sku) = market(&srv, 5).await;
    let product = listing(&srv, &seller).await;
    let report = |target: &str, id: &str| json!({"target": target, "target_id": id, "reason": "counterfeit", "details": "Sold as original; it is a copy."});
    let filed = srv.post("/api/v1/reports", Some(&buyer), report("product", &product)).await;
    assert_eq!(filed.status, StatusCode::CREATED, "{}", filed.body);
    assert_eq!(filed.body["state"], "open");
    let missing = srv.post("/api/v1/reports", Some(&buyer), report("product", "prd_nothing")).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let bad = srv
        .post("/api/v1/reports", Some(&buyer), json!({"target": "product", "target_id": product, "reason": "boring"}))
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(srv.get("/api/v1/moderation/reports?state=open", Some(&buyer)).await.status, StatusCode::FORBIDDEN);

    let ops = admin(&srv).await;
    let queue = srv.get("/api/v1/moderation/reports?state=open", Some(&ops)).await.body;
    assert_eq!(queue["items"].as_array().unwrap().len(), 1, "{queue}");
    let id = queue["items"][0]["id"].as_str().unwrap();
    let detail = srv.get(&format!("/api/v1/moderation/reports/{id}"), Some(&ops)).await.body;
    assert_eq!(detail["target"]["text"], "Tea set");
    assert_eq!(detail["target"]["link"], format!("/products/{product}"));
    assert_eq!(detail["reporter_reports"].as_array().unwrap().len(), 1);

    let act = |reason: &str| json!({"action": "take_down", "target_id": product, "reason": reason, "report_id": id});
    let terse = srv.post("/api/v1/moderation/actions", Some(&ops), act("no")).await;
    assert_eq!(
        (terse.status, terse.body["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("reason"))
    );
    let down = srv.post("/api/v1/moderation/actions", Some(&ops), act("Counterfeit of a registered brand")).await;
    assert_eq!(down.status, StatusCode::CREATED, "{}", down.body);
    let again = srv.post("/api/v1/moderation/actions", Some(&ops), act("Counterfeit of a registered brand")).await;
    assert_eq!(again.status, StatusCode::CONFLICT, "in force once");
    assert_eq!(
        srv.get(&format!("/api/v1/moderation/reports/{id}"), Some(&ops)).await.body["report"]["state"],
        "actioned"
    );

    // Gone from the shop, search and checkout; its seller cannot put it back, and is told.
    assert_eq!(srv.get(&format!("/api/v1/products/{product}"), Some(&buyer)).await.status, StatusCode::NOT_FOUND);
    srv.eventually("/api/v1/search?q=tea", |b| b["total"] == 0).await;
    let refused = checkout(&srv, &buyer, &sku, 1, "after-take-down").await;
    assert!(refused.status.is_client_error(), "{}", refused.body);
    let back = srv.patch(&format!("/api/v1/products/{product}"), Some(&seller), json!({"status": "active"})).await;
    assert_eq!((back.status, back.code()), (StatusCode::CONFLICT, "taken_down"));
    assert!(back.body["error"]["message"].as_str().unwrap().contains("Counterfeit of a registered brand"));
    let told = srv.get("/api/v1/notifications", Some(&seller)).await.body;
    assert_eq!(told["items"][0]["type"], "moderation.taken_down", "{told}");
    let audit = srv.get("/api/v1/admin/audit?action=moderation.take_down", Some(&ops)).await.body;
    assert_eq!(audit["items"].as_array().unwrap().len(), 1, "{audit}");

    // Reversed with a reason: on sale as it was.
    let action = down.body["id"].as_str().unwrap();
    let undo = srv
        .post(
            &format!("/api/v1/moderation/actions/{action}/reverse"),
            Some(&ops),
            json!({"reason": "The seller showed the brand's licence"}),
        )
        .await;
    assert_eq!(undo.status, StatusCode::OK, "{}", undo.body);
    assert!(undo.body["reversed_at"].is_string());
    assert_eq!(srv.get(&format!("/api/v1/products/{product}"), Some(&buyer)).await.status, StatusCode::OK);
    srv.eventually("/api/v1/search?q=tea", |b| b["total"] == 1).await;
    let twice = srv
        .post(
            &format!("/api/v1/moderation/actions/{action}/reverse"),
            Some(&ops),
            json!({"reason": "Again, to be sure"}),
        )
        .await;
    assert_eq!(twice.status, StatusCode::CONFLICT);
}

async fn a_suspended_stores_listings_vanish_while_its_paid_orders_complete(srv: Srv) {
    let (seller, buyer, sku) = market(&srv, 5).await;
    let product = listing(&srv, &seller).await;
    let order = paid_order(&srv, &buyer, &sku, "before-suspension").await;
    let store = srv.get("/api/v1/me", Some(&seller)).await.body["store_id"].as_str().unwrap().to_string();
    let ops = admin(&srv).await;
    let suspend =
        json!({"action": "suspend_store", "target_id": store, "reason": "Many buyers report items never sent"});
    let done = srv.post("/api/v1/moderation/actions", Some(&ops), suspend).await;
    assert_eq!(done.status, StatusCode::CREATED, "{}", done.body);

    assert_eq!(srv.get(&format!("/api/v1/products/{product}"), Some(&buyer)).await.status, StatusCode::NOT_FOUND);
    srv.eventually("/api/v1/search?q=tea", |b| b["total"] == 0).await;
    assert!(checkout(&srv, &buyer, &sku, 1, "during-suspension").await.status.is_client_error());
    let new = srv.post("/api/v1/products", Some(&seller), crate::product_body("Another")).await;
    assert_eq!((new.status, new.code()), (StatusCode::CONFLICT, "store_suspended"));

    // The paid order keeps its escrow protection: it ships, is confirmed and pays the seller,
    // whose payout waits.
    assert_eq!(ship(&srv, &seller, &order, "other", "MAIL-1").await.status, StatusCode::OK);
    assert_eq!(order_action(&srv, &buyer, &order, "confirm").await.status, StatusCode::OK);
    let payout = json!({"amount": {"amount": 100, "currency": "CNY"}, "destination": "IBAN DE00 1234"});
    let held = srv.post("/api/v1/wallet/payouts", Some(&seller), payout.clone()).await;
    assert_eq!((held.status, held.code()), (StatusCode::CONFLICT, "payouts_held"));

    let action = done.body["id"].as_str().unwrap();
    let undo = srv
        .post(
            &format!("/api/v1/moderation/actions/{action}/reverse"),
            Some(&ops),
            json!({"reason": "The seller shipped every order"}),
        )
        .await;
    assert_eq!(undo.status, StatusCode::OK);
    assert_eq!(srv.get(&format!("/api/v1/products/{product}"), Some(&buyer)).await.status, StatusCode::OK);
    assert_eq!(srv.post("/api/v1/wallet/payouts", Some(&seller), payout).await.status, StatusCode::CREATED);
    crate::orders::assert_ledger_sound(&srv).await;
}

async fn a_banned_user_is_signed_out_and_refused(srv: Srv) {
    let (token, id) = srv.register("troll@example.com").await;
    let (mediator, mediator_id) = srv.register("mediator@example.com").await;
    {
        let mut tx = srv.store.begin().await.unwrap();
        tx.grant_role(&mediator_id, souk_domain::account::Role::Mediator, "system").await.unwrap();
        tx.commit().await.unwrap();
    }
    let ban = json!({"action": "ban_user", "target_id": id, "reason": "Threatens sellers in messages"});
    let refused = srv.post("/api/v1/moderation/actions", Some(&mediator), ban.clone()).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "only admins ban");
    let ops = admin(&srv).await;
    let banned = srv.post("/api/v1/moderation/actions", Some(&ops), ban).await;
    assert_eq!(banned.status, StatusCode::CREATED, "{}", banned.body);
    assert_eq!(srv.get("/api/v1/me", Some(&token)).await.status, StatusCode::UNAUTHORIZED, "signed out");
    let login = json!({"email": "troll@example.com", "password": "correct horse battery"});
    let again = srv.post("/api/v1/auth/login", None, login.clone()).await;
    assert_eq!((again.status, again.code()), (StatusCode::FORBIDDEN, "account_banned"));
    let mail = &crate::account_care::mails_to(&srv, "troll@example.com", 1).await[0];
    assert!(mail.contains("suspended") && mail.contains("Threatens sellers in messages"), "told by email: {mail}");
    let action = banned.body["id"].as_str().unwrap();
    let lifted = srv
        .post(
            &format!("/api/v1/moderation/actions/{action}/reverse"),
            Some(&ops),
            json!({"reason": "Apologised; first warning"}),
        )
        .await;
    assert_eq!(lifted.status, StatusCode::OK);
    assert_eq!(srv.post("/api/v1/auth/login", None, login).await.status, StatusCode::OK);
    assert!(crate::account_care::mails_to(&srv, "troll@example.com", 2).await[1].contains("open again"));
}

async fn a_hidden_review_counts_nowhere_until_shown_again(srv: Srv) {
    let (seller, buyer, sku) = market(&srv, 5).await;
    let product = listing(&srv, &seller).await;
    let order = paid_order(&srv, &buyer, &sku, "reviewed").await;
    ship(&srv, &seller, &order, "other", "MAIL-1").await;
    order_action(&srv, &buyer, &order, "confirm").await;
    let body = json!({"line": 0, "stars": 1, "item_as_described": 1, "communication": 1, "shipping_speed": 1, "text": "Terrible, buy from my shop instead"});
    let review = srv.post(&format!("/api/v1/orders/{order}/reviews"), Some(&buyer), body).await;
    assert_eq!(review.status, StatusCode::CREATED, "{}", review.body);
    let review_id = review.body["id"].as_str().unwrap().to_string();
    let reviews_path = format!("/api/v1/products/{product}/reviews");
    let summary = || srv.get(&reviews_path, None);
    assert_eq!(summary().await.body["summary"]["count"], 1);
    let trust_before = srv.get("/api/v1/stores/market", None).await.body["trust_score"].clone();

    let (reporter, _) = srv.register("rival@example.com").await;
    let filed = srv
        .post(
            "/api/v1/reports",
            Some(&reporter),
            json!({"target": "review", "target_id": review_id, "reason": "fake_review"}),
        )
        .await;
    assert_eq!(filed.status, StatusCode::CREATED);
    let ops = admin(&srv).await;
    let hide = json!({"action": "hide_review", "target_id": review_id, "reason": "Written to steer buyers to another shop", "report_id": filed.body["id"]});
    let hidden = srv.post("/api/v1/moderation/actions", Some(&ops), hide).await;
    assert_eq!(hidden.status, StatusCode::CREATED, "{}", hidden.body);
    let listed = summary().await.body;
    assert_eq!((listed["summary"]["count"].as_i64(), listed["items"].as_array().map(Vec::len)), (Some(0), Some(0)));
    assert_eq!(
        srv.get("/api/v1/stores/market", None).await.body["rating"]["count"],
        0,
        "out of the store's rating too"
    );
    let breakdown = srv.get("/api/v1/stores/market/trust", None).await.body;
    assert!(!breakdown.to_string().contains("\"reviews\":1"), "and out of its trust score: {breakdown}");
    let told = srv.get("/api/v1/notifications", Some(&buyer)).await.body;
    assert_eq!(told["items"][0]["type"], "moderation.review_hidden", "{told}");
    let action = hidden.body["id"].as_str().unwrap();
    // Its author reads why on the order's page, and appeals.
    let page = srv
        .http
        .get(format!("{}/orders/{order}", srv.base))
        .header("cookie", format!("souk_session={buyer}"))
        .send()
        .await
        .unwrap();
    let html = page.text().await.unwrap();
    assert!(
        html.contains("Written to steer buyers to another shop") && html.contains("form class=\"appeal\""),
        "{html}"
    );
    let appeal = json!({"text": "I really bought it and it broke in a day"});
    let appealed = srv.post(&format!("/api/v1/moderation/actions/{action}/appeal"), Some(&buyer), appeal).await;
    assert_eq!(appealed.status, StatusCode::OK, "the review's author appeals: {}", appealed.body);

    let shown = srv
        .post(
            &format!("/api/v1/moderation/actions/{action}/reverse"),
            Some(&ops),
            json!({"reason": "The buyer showed the order's photos"}),
        )
        .await;
    assert_eq!(shown.status, StatusCode::OK);
    assert_eq!(summary().await.body["summary"]["count"], 1);
    assert_eq!(
        srv.get("/api/v1/stores/market", None).await.body["trust_score"],
        trust_before,
        "the totals come back exactly"
    );
}

async fn an_appeal_is_answered_or_granted(srv: Srv) {
    let (seller, buyer, _) = market(&srv, 5).await;
    let product = listing(&srv, &seller).await;
    let ops = admin(&srv).await;
    let down = json!({"action": "take_down", "target_id": product, "reason": "Looks like a prohibited item"});
    let action =
        srv.post("/api/v1/moderation/actions", Some(&ops), down).await.body["id"].as_str().unwrap().to_string();
    let path = format!("/api/v1/moderation/actions/{action}/appeal");
    let text = json!({"text": "It is a ceramic tea set, allowed everywhere"});
    assert_eq!(
        srv.post(&path, Some(&buyer), text.clone()).await.status,
        StatusCode::NOT_FOUND,
        "only the seller appeals"
    );
    let appealed = srv.post(&path, Some(&seller), text.clone()).await;
    assert_eq!(appealed.status, StatusCode::OK, "{}", appealed.body);
    assert_eq!(srv.post(&path, Some(&seller), text).await.status, StatusCode::CONFLICT, "once");
    let pending = srv.get("/api/v1/moderation/pending", Some(&ops)).await.body;
    assert_eq!(pending["appeals"][0]["appeal"], "It is a ceramic tea set, allowed everywhere");
    let kept = srv
        .post(
            &format!("/api/v1/moderation/actions/{action}/uphold"),
            Some(&ops),
            json!({"reason": "The photos show a blade"}),
        )
        .await;
    assert_eq!(kept.status, StatusCode::OK);
    assert_eq!(srv.get("/api/v1/moderation/pending", Some(&ops)).await.body["appeals"], json!([]));
    let told = srv.get("/api/v1/notifications", Some(&seller)).await.body;
    assert_eq!(told["items"][0]["type"], "moderation.appeal_answered", "{told}");
    assert_eq!(srv.get(&format!("/api/v1/products/{product}"), Some(&buyer)).await.status, StatusCode::NOT_FOUND);
}

async fn new_listings_of_unverified_stores_wait_for_review(srv: Srv) {
    let (seller, buyer, _) = market(&srv, 5).await;
    let ops = admin(&srv).await;
    assert_eq!(srv.get("/api/v1/moderation/settings", Some(&ops)).await.body, json!({"listing_review": false}));
    let refused = srv
        .call(
            reqwest::Method::PUT,
            "/api/v1/moderation/settings",
            Some(&seller),
            Some(json!({"listing_review": true})),
            None,
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let on = srv
        .call(
            reqwest::Method::PUT,
            "/api/v1/moderation/settings",
            Some(&ops),
            Some(json!({"listing_review": true})),
            None,
        )
        .await;
    assert_eq!(on.status, StatusCode::OK, "{}", on.body);

    let mut body = crate::product_body("Jade bracelet");
    body["ships_to"] = json!(["*"]);
    body["skus"][0]["sku"] = json!("JADE-1");
    let created = srv.post("/api/v1/products", Some(&seller), body).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let id = created.body["id"].as_str().unwrap();
    assert_eq!(
        srv.get(&format!("/api/v1/products/{id}"), Some(&buyer)).await.status,
        StatusCode::NOT_FOUND,
        "not public yet"
    );
    let early = srv.patch(&format!("/api/v1/products/{id}"), Some(&seller), json!({"status": "active"})).await;
    assert_eq!((early.status, early.code()), (StatusCode::CONFLICT, "awaiting_review"));
    let pending = srv.get("/api/v1/moderation/pending", Some(&ops)).await.body;
    let held = pending["awaiting_review"].as_array().unwrap();
    assert_eq!((held.len(), held[0]["target_id"].as_str()), (1, Some(id)));
    let action = held[0]["id"].as_str().unwrap();
    let approved = srv
        .post(
            &format!("/api/v1/moderation/actions/{action}/reverse"),
            Some(&ops),
            json!({"reason": "Approved after review"}),
        )
        .await;
    assert_eq!(approved.status, StatusCode::OK);
    assert_eq!(
        srv.get(&format!("/api/v1/products/{id}"), Some(&buyer)).await.status,
        StatusCode::OK,
        "on sale as it was made"
    );
}
