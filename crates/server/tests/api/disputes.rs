//! Disputes, returns and mediation: every path with the clock moved, the books checked after
//! each outcome, who may do what, and concurrent decisions producing one outcome.

use crate::orders::{assert_ledger_sound, checkout, market, order_action, ship};
use crate::{on_both_backends, Res, Srv};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use souk_app::payments::sign;
use souk_domain::clock::Clock;
use souk_store::testing::TestBackend;

on_both_backends!(sellers_answer_within_their_window, mediators_decide_exactly_once);

const DAY: i64 = 86_400_000;
/// One tea set: 1999 CNY minor units, 2% commission (39).
const TOTAL: i64 = 1999;

async fn post(srv: &Srv, token: &str, path: &str, body: Option<Value>) -> Res {
    srv.call(Method::POST, path, Some(token), body, None).await
}

/// A paid order of one unit, shipped when `shipped`.
async fn order(srv: &Srv, seller: &str, buyer: &str, sku: &str, key: &str, shipped: bool) -> String {
    let co = checkout(srv, buyer, sku, 1, key).await;
    let order = co.body["orders"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(order_action(srv, buyer, &order, "pay").await.status, StatusCode::OK);
    if shipped {
        let r = ship(srv, seller, &order, "other", &format!("PARCEL-{key}")).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    }
    order
}

async fn open(srv: &Srv, buyer: &str, order: &str, reason: &str) -> Res {
    let body = json!({"reason": reason, "description": "The lid is cracked",
                      "evidence": {"text": "photo attached", "images": ["https://img.example/lid.jpg"]}});
    post(srv, buyer, &format!("/api/v1/orders/{order}/disputes"), Some(body)).await
}

fn id(r: &Res) -> String {
    r.body["id"].as_str().unwrap_or_else(|| panic!("{}", r.body)).to_string()
}

async fn answer(srv: &Srv, seller: &str, dispute: &str, body: Value) -> Res {
    post(srv, seller, &format!("/api/v1/disputes/{dispute}/answer"), Some(body)).await
}

async fn state_of(srv: &Srv, token: &str, order: &str) -> String {
    srv.get(&format!("/api/v1/orders/{order}"), Some(token)).await.body["state"].as_str().unwrap().to_string()
}

async fn cny(srv: &Srv, token: &str) -> i64 {
    let w = srv.get("/api/v1/wallet", Some(token)).await.body;
    w.as_array()
        .unwrap()
        .iter()
        .find(|b| b["currency"] == "CNY")
        .map_or(0, |b| b["available"]["amount"].as_i64().unwrap())
}

/// A mediator whose session outlives the test's moves of the clock.
async fn mediator(srv: &Srv, email: &str) -> String {
    let token = format!("mediator-token-{email}");
    let mut tx = srv.store.begin().await.unwrap();
    let user = tx.create_user(email, email, "no password", "Mediator").await.unwrap();
    tx.create_session(&user.id, &souk_app::accounts::token_hash(&token), 90 * DAY, "test").await.unwrap();
    tx.grant_role(&user.id, souk_domain::account::Role::Mediator, "system").await.unwrap();
    tx.commit().await.unwrap();
    token
}

async fn sellers_answer_within_their_window(srv: Srv) {
    let (seller, buyer, sku) = market(&srv, 50).await;
    let seller_start = cny(&srv, &seller).await;

    // Only paid, shipped or delivered orders; only their buyer; clear errors for bad input.
    let done = order(&srv, &seller, &buyer, &sku, "done", true).await;
    order_action(&srv, &buyer, &done, "confirm").await;
    assert_eq!(open(&srv, &buyer, &done, "damaged").await.code(), "invalid_state", "completed");
    let unpaid = checkout(&srv, &buyer, &sku, 1, "unpaid").await.body["orders"][0]["id"].as_str().unwrap().to_string();
    order_action(&srv, &buyer, &unpaid, "cancel").await;
    assert_eq!(open(&srv, &buyer, &unpaid, "damaged").await.code(), "invalid_state", "cancelled");
    let a = order(&srv, &seller, &buyer, &sku, "a", true).await;
    assert_eq!(open(&srv, &seller, &a, "damaged").await.status, StatusCode::FORBIDDEN);
    let (stranger, _) = srv.quick_user("stranger@example.com").await;
    assert_eq!(open(&srv, &stranger, &a, "damaged").await.status, StatusCode::NOT_FOUND);
    assert_eq!(open(&srv, &buyer, &a, "meh").await.field(), "reason");
    let blank = post(
        &srv,
        &buyer,
        &format!("/api/v1/orders/{a}/disputes"),
        Some(json!({"reason": "damaged", "description": " "})),
    )
    .await;
    assert_eq!((blank.status, blank.field()), (StatusCode::UNPROCESSABLE_ENTITY, "description"));
    assert_eq!(srv.count("disputes").await, 0, "refused disputes write nothing");

    // A full refund by the seller; the order's deadlines stopped while it was disputed.
    let opened = open(&srv, &buyer, &a, "damaged").await;
    assert_eq!(
        (opened.status, opened.body["state"].as_str()),
        (StatusCode::CREATED, Some("awaiting_seller")),
        "{}",
        opened.body
    );
    let dispute_a = id(&opened);
    let view = srv.get(&format!("/api/v1/orders/{a}"), Some(&buyer)).await.body;
    assert_eq!(view["state"], "disputed");
    let kinds: Vec<&str> = view["deadlines"].as_array().unwrap().iter().map(|d| d["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["dispute_response", "dispute_escalation"], "confirm_by is paused: {view}");
    assert_eq!(open(&srv, &buyer, &a, "damaged").await.code(), "invalid_state", "one dispute per order");
    assert_eq!(order_action(&srv, &buyer, &a, "confirm").await.status, StatusCode::CONFLICT);
    assert_eq!(answer(&srv, &buyer, &dispute_a, json!({"action": "refund"})).await.status, StatusCode::FORBIDDEN);
    let before = cny(&srv, &buyer).await;
    let refunded = answer(&srv, &seller, &dispute_a, json!({"action": "refund"})).await;
    assert_eq!(
        (refunded.body["state"].as_str(), refunded.body["outcome"].as_str()),
        (Some("resolved"), Some("refund"))
    );
    assert_eq!(cny(&srv, &buyer).await, before + TOTAL);
    assert_eq!(state_of(&srv, &buyer, &a).await, "refunded");
    let again = answer(&srv, &seller, &dispute_a, json!({"action": "reject", "evidence": {"text": "no"}})).await;
    assert_eq!((again.status, again.code()), (StatusCode::CONFLICT, "invalid_state"), "no second resolution");
    assert_ledger_sound(&srv).await;

    // A partial refund the buyer accepts: commission only on what the seller keeps.
    let b = order(&srv, &seller, &buyer, &sku, "b", true).await;
    let dispute_b = id(&open(&srv, &buyer, &b, "not_as_described").await);
    let too_much = answer(&srv, &seller, &dispute_b, json!({"action": "partial_refund", "amount": TOTAL})).await;
    assert_eq!((too_much.status, too_much.field()), (StatusCode::UNPROCESSABLE_ENTITY, "amount"));
    let reject_bare = answer(&srv, &seller, &dispute_b, json!({"action": "reject"})).await;
    assert_eq!(reject_bare.field(), "evidence", "a rejection needs evidence");
    let offered = answer(&srv, &seller, &dispute_b, json!({"action": "partial_refund", "amount": 999})).await;
    assert_eq!((offered.body["state"].as_str(), offered.body["offered"].as_i64()), (Some("refund_offered"), Some(999)));
    let early = post(&srv, &buyer, &format!("/api/v1/disputes/{dispute_b}/escalate"), None).await;
    assert_eq!((early.status, early.code()), (StatusCode::CONFLICT, "too_early"), "mediation from day 4");
    let (buyer_before, seller_before) = (cny(&srv, &buyer).await, cny(&srv, &seller).await);
    let accepted = post(&srv, &buyer, &format!("/api/v1/disputes/{dispute_b}/accept"), None).await;
    assert_eq!(
        (accepted.body["outcome"].as_str(), accepted.body["refund"].as_i64()),
        (Some("partial_refund"), Some(999))
    );
    assert_eq!(cny(&srv, &buyer).await, buyer_before + 999);
    // The seller keeps 1000 less commission of 39 × 1000 / 1999 = 19 (rounded down).
    assert_eq!(cny(&srv, &seller).await, seller_before + 1000 - 19);
    assert_eq!(state_of(&srv, &buyer, &b).await, "completed");
    assert_ledger_sound(&srv).await;

    // A return: refunded once the seller has the goods back.
    let c = order(&srv, &seller, &buyer, &sku, "c", true).await;
    let dispute_c = id(&open(&srv, &buyer, &c, "wrong_item").await);
    answer(&srv, &seller, &dispute_c, json!({"action": "return"})).await;
    let early_receipt = post(&srv, &seller, &format!("/api/v1/disputes/{dispute_c}/return-received"), None).await;
    assert_eq!(early_receipt.code(), "invalid_state", "nothing was sent back yet");
    let bad = post(
        &srv,
        &buyer,
        &format!("/api/v1/disputes/{dispute_c}/return"),
        Some(json!({"carrier": "ups", "tracking_number": "12"})),
    )
    .await;
    assert_eq!(bad.field(), "tracking_number");
    let sent = post(
        &srv,
        &buyer,
        &format!("/api/v1/disputes/{dispute_c}/return"),
        Some(json!({"carrier": "other", "tracking_number": "RET-1"})),
    )
    .await;
    assert_eq!(
        (sent.body["state"].as_str(), sent.body["return_tracking"].as_str()),
        (Some("return_shipped"), Some("RET-1"))
    );
    let received = post(&srv, &seller, &format!("/api/v1/disputes/{dispute_c}/return-received"), None).await;
    assert_eq!(received.body["outcome"], "refund", "{}", received.body);

    // Silence: no answer within 3 days refunds the buyer.
    let d = order(&srv, &seller, &buyer, &sku, "d", false).await;
    let dispute_d = id(&open(&srv, &buyer, &d, "other").await);
    srv.clock.advance_ms(3 * DAY - 1);
    srv.app.run_due_jobs().await.unwrap();
    assert_eq!(
        srv.get(&format!("/api/v1/disputes/{dispute_d}"), Some(&buyer)).await.body["dispute"]["state"],
        "awaiting_seller"
    );
    srv.clock.advance_ms(1);
    srv.app.run_due_jobs().await.unwrap();
    let detail = srv.get(&format!("/api/v1/disputes/{dispute_d}"), Some(&seller)).await.body;
    assert_eq!(
        (detail["dispute"]["outcome"].as_str(), detail["dispute"]["decided_by"].as_str()),
        (Some("refund"), Some("system"))
    );
    assert_eq!(detail["order"]["state"], "refunded");
    let (stranger, _) = srv.quick_user("later-stranger@example.com").await;
    assert_eq!(srv.get(&format!("/api/v1/disputes/{dispute_d}"), Some(&stranger)).await.status, StatusCode::NOT_FOUND);

    // Outcomes feed trust: three lost (refund, partial, return, silence), counted once each.
    let trust = srv.get("/api/v1/stores/market/trust", None).await.body;
    assert_eq!(
        (trust["inputs"]["disputes_lost"].as_i64(), trust["inputs"]["refunds"].as_i64()),
        (Some(4), Some(4)),
        "{trust}"
    );
    assert_eq!(trust["inputs"]["completed_orders"], 2, "the confirmed order and the partial refund");
    let mine = srv.get("/api/v1/disputes", Some(&seller)).await.body;
    assert_eq!(mine["items"].as_array().unwrap().len(), 4);
    assert!(cny(&srv, &seller).await > seller_start);
    assert_ledger_sound(&srv).await;
}

async fn mediators_decide_exactly_once(srv: Srv) {
    let (seller, buyer, sku) = market(&srv, 50).await;
    let judge = mediator(&srv, "judge@example.com").await;
    let other_judge = mediator(&srv, "judge2@example.com").await;
    let conversation = post(&srv, &buyer, "/api/v1/conversations", Some(json!({"store": "market"}))).await;
    let conversation = id(&conversation);
    post(
        &srv,
        &buyer,
        &format!("/api/v1/conversations/{conversation}/messages"),
        Some(json!({"text": "It arrived broken"})),
    )
    .await;
    assert_eq!(
        srv.get(&format!("/api/v1/conversations/{conversation}"), Some(&judge)).await.status,
        StatusCode::NOT_FOUND,
        "no dispute yet"
    );

    // Rejected, then escalated by the buyer on day 4.
    let e = order(&srv, &seller, &buyer, &sku, "e", true).await;
    let dispute_e = id(&open(&srv, &buyer, &e, "damaged").await);
    let rejected = answer(&srv, &seller, &dispute_e, json!({"action": "reject", "evidence": {"text": "It left intact", "images": ["https://img.example/packed.jpg"]}})).await;
    assert_eq!(rejected.body["state"], "rejected");
    srv.clock.advance_ms(3 * DAY);
    let escalated = post(&srv, &buyer, &format!("/api/v1/disputes/{dispute_e}/escalate"), None).await;
    assert_eq!(escalated.body["state"], "mediation", "{}", escalated.body);
    assert_eq!(srv.get("/api/v1/mediation/disputes", Some(&seller)).await.status, StatusCode::FORBIDDEN);
    let queue = srv.get("/api/v1/mediation/disputes", Some(&judge)).await.body;
    assert_eq!(queue["items"][0]["id"], dispute_e.as_str());

    // The mediator's view: the order, its tracking, the evidence and the chat.
    let view = srv.get(&format!("/api/v1/disputes/{dispute_e}"), Some(&judge)).await.body;
    assert_eq!(view["order"]["id"], e.as_str());
    let kinds: Vec<&str> = view["evidence"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["opened", "answer"]);
    assert_eq!(view["chat"][0]["text"], "It arrived broken");
    assert_eq!(
        srv.get(&format!("/api/v1/conversations/{conversation}/messages"), Some(&judge)).await.status,
        StatusCode::OK
    );
    let note = post(
        &srv,
        &judge,
        &format!("/api/v1/disputes/{dispute_e}/evidence"),
        Some(json!({"text": "Asked both for photos"})),
    )
    .await;
    assert_eq!(note.status, StatusCode::OK, "{}", note.body);

    let decide = |token: String, body: Value, key: String| {
        let srv = &srv;
        let path = format!("/api/v1/disputes/{dispute_e}/decide");
        async move { srv.call(Method::POST, &path, Some(&token), Some(body), Some(&key)).await }
    };
    let by_seller = decide(seller.clone(), json!({"outcome": "release", "reason": "mine"}), "s".into()).await;
    assert_eq!(by_seller.status, StatusCode::FORBIDDEN);
    let no_reason = decide(judge.clone(), json!({"outcome": "release", "reason": " "}), "n".into()).await;
    assert_eq!(no_reason.field(), "reason");
    let over =
        decide(judge.clone(), json!({"outcome": "partial_refund", "amount": TOTAL + 1, "reason": "x"}), "o".into())
            .await;
    assert_eq!(over.field(), "amount");

    // Two mediators decide at once: one outcome.
    let (buyer_before, seller_before) = (cny(&srv, &buyer).await, cny(&srv, &seller).await);
    let attempts = (0..6).map(|i| {
        let (token, outcome) = if i % 2 == 0 { (judge.clone(), "release") } else { (other_judge.clone(), "refund") };
        decide(token, json!({"outcome": outcome, "reason": "photos show transit damage"}), format!("race-{i}"))
    });
    let results = futures_util::future::join_all(attempts).await;
    let won: Vec<&Res> = results.iter().filter(|r| r.status == StatusCode::OK).collect();
    assert_eq!(won.len(), 1, "{:?}", results.iter().map(|r| r.body.to_string()).collect::<Vec<_>>());
    assert!(results.iter().filter(|r| r.status != StatusCode::OK).all(|r| r.code() == "invalid_state"));
    let moved = (cny(&srv, &buyer).await - buyer_before) + (cny(&srv, &seller).await - seller_before);
    match won[0].body["outcome"].as_str().unwrap() {
        "refund" => assert_eq!(moved, TOTAL),
        _ => assert_eq!(moved, TOTAL - 39, "the seller's share less commission"),
    }
    assert_eq!(won[0].body["decision_reason"], "photos show transit damage");
    assert_ledger_sound(&srv).await;
    // The decision is in the audit log, once, for admins only.
    let path = "/api/v1/admin/audit?action=dispute.decided";
    assert_eq!(srv.get(path, Some(&judge)).await.status, StatusCode::FORBIDDEN);
    let (admin, admin_id) = srv.register("auditor@example.com").await;
    srv.make_admin(&admin_id).await;
    let log = srv.get(path, Some(&admin)).await.body;
    assert_eq!(log["items"].as_array().unwrap().len(), 1, "{log}");
    let entry = &log["items"][0];
    assert_eq!(
        (entry["subject"].as_str(), entry["detail"]["decision"]["outcome"].clone()),
        (Some(dispute_e.as_str()), won[0].body["outcome"].clone())
    );
    assert_eq!(entry["detail"]["reason"], "photos show transit damage");

    // Still open on day 8: mediation by itself.
    let f = order(&srv, &seller, &buyer, &sku, "f", true).await;
    let dispute_f = id(&open(&srv, &buyer, &f, "other").await);
    answer(&srv, &seller, &dispute_f, json!({"action": "reject", "evidence": {"text": "as described"}})).await;
    srv.clock.advance_ms(7 * DAY);
    srv.app.run_due_jobs().await.unwrap();
    let f_now = srv.get(&format!("/api/v1/disputes/{dispute_f}"), Some(&buyer)).await.body;
    assert_eq!(f_now["dispute"]["state"], "mediation", "{f_now}");
    assert!(f_now["dispute"]["escalated_at"].is_string());
    let body = json!({"outcome": "partial_refund", "amount": 500, "reason": "half fault"});
    let partial = post(&srv, &judge, &format!("/api/v1/disputes/{dispute_f}/decide"), Some(body)).await;
    assert_eq!(
        (partial.body["outcome"].as_str(), partial.body["refund"].as_i64()),
        (Some("partial_refund"), Some(500))
    );
    assert_eq!(state_of(&srv, &buyer, &f).await, "completed");
    assert_ledger_sound(&srv).await;
}

const UPS_SECRET: &str = "ups-test-secret-0123456789";

async fn carrier_event(srv: &Srv, tracking: &str, event_id: &str, kind: &str) -> Res {
    let body = json!({"event_id": event_id, "tracking_number": tracking, "type": kind,
                      "occurred_at": souk_domain::time::rfc3339(srv.clock.now_ms())})
    .to_string();
    let res = srv
        .http
        .post(format!("{}/api/v1/carriers/ups/events", srv.base))
        .header("content-type", "application/json")
        .header("Souk-Signature", sign(UPS_SECRET.as_bytes(), srv.clock.now_ms() / 1000, body.as_bytes()))
        .body(body)
        .send()
        .await
        .unwrap();
    let status = res.status();
    Res { status, headers: res.headers().clone(), body: res.json().await.unwrap_or(Value::Null) }
}

mod automatic_rules_and_returns_by_carrier {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        super::run(super::TestBackend::Sqlite).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        super::run(super::TestBackend::Postgres).await
    }
}

async fn run(backend: TestBackend) {
    let Some(srv) = Srv::start_with(backend, |c| {
        c.carriers.insert("ups".into(), UPS_SECRET.as_bytes().to_vec());
    })
    .await
    else {
        return;
    };
    let (seller, buyer, sku) = market(&srv, 50).await;
    let shipped_ups = |key: &'static str, tracking: &'static str| {
        let (srv, seller, buyer, sku) = (&srv, &seller, &buyer, &sku);
        async move {
            let co = checkout(srv, buyer, sku, 1, key).await;
            let order = co.body["orders"][0]["id"].as_str().unwrap().to_string();
            order_action(srv, buyer, &order, "pay").await;
            assert_eq!(ship(srv, seller, &order, "ups", tracking).await.status, StatusCode::OK);
            order
        }
    };

    // not_received, and nothing from the carrier 7 days after shipping: refunded at once.
    let g = shipped_ups("g", "1Z999AA10123456784").await;
    srv.clock.advance_ms(7 * DAY);
    let g_dispute = open(&srv, &buyer, &g, "not_received").await;
    assert_eq!(
        (g_dispute.body["outcome"].as_str(), g_dispute.body["decided_by"].as_str()),
        (Some("refund"), Some("system")),
        "{}",
        g_dispute.body
    );
    assert_eq!(state_of(&srv, &buyer, &g).await, "refunded");

    // not_received opened a day after shipping: the 7-day rule runs as a deadline.
    let h = shipped_ups("h", "1Z999AA10123456785").await;
    srv.clock.advance_ms(DAY);
    let h_dispute = id(&open(&srv, &buyer, &h, "not_received").await);
    srv.clock.advance_ms(6 * DAY);
    srv.app.run_due_jobs().await.unwrap();
    let h_now = srv.get(&format!("/api/v1/disputes/{h_dispute}"), Some(&buyer)).await.body;
    assert_eq!(h_now["dispute"]["outcome"], "refund", "{h_now}");

    // Delivered per tracking but claimed not received: a person decides.
    let i = shipped_ups("i", "1Z999AA10123456786").await;
    assert_eq!(carrier_event(&srv, "1Z999AA10123456786", "ev-i", "delivered").await.status, StatusCode::OK);
    let i_dispute = open(&srv, &buyer, &i, "not_received").await;
    assert_eq!(i_dispute.body["state"], "mediation", "{}", i_dispute.body);

    // A return the carrier delivers back to the seller refunds the buyer.
    let j = shipped_ups("j", "1Z999AA10123456787").await;
    let j_dispute = id(&open(&srv, &buyer, &j, "wrong_item").await);
    answer(&srv, &seller, &j_dispute, json!({"action": "return"})).await;
    post(
        &srv,
        &buyer,
        &format!("/api/v1/disputes/{j_dispute}/return"),
        Some(json!({"carrier": "UPS", "tracking_number": "1Z999AA10123456799"})),
    )
    .await;
    let back = carrier_event(&srv, "1Z999AA10123456799", "ev-ret", "delivered").await;
    assert_eq!((back.status, back.body["orders"][0].as_str()), (StatusCode::OK, Some(j.as_str())), "{}", back.body);
    let j_now = srv.get(&format!("/api/v1/disputes/{j_dispute}"), Some(&seller)).await.body;
    assert_eq!(j_now["dispute"]["outcome"], "refund", "{j_now}");
    let replay = carrier_event(&srv, "1Z999AA10123456799", "ev-ret", "delivered").await;
    assert_eq!(replay.status, StatusCode::OK, "a repeated return event changes nothing");
    assert_eq!(state_of(&srv, &buyer, &j).await, "refunded");
    assert_ledger_sound(&srv).await;
}
