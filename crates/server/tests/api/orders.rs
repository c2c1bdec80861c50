use crate::{on_both_backends, product_body, Srv};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

on_both_backends!(
    buy_ship_confirm_over_http,
    deadlines_move_the_money,
    deadlines_due_while_down_run_once_after_start,
    top_ups_and_payouts,
    last_units_under_concurrency,
    order_input_is_validated,
    concurrent_retries_pay_once
);

/// A seller with one product (price 19.99 CNY, stock as given) and a funded buyer.
pub(crate) async fn market(srv: &Srv, stock: i64) -> (String, String, String) {
    let (seller, _) = srv.seller("seller@example.com", "market").await;
    let mut body = product_body("Tea set");
    body["ships_to"] = json!(["*"]);
    body["skus"][0]["stock"] = json!(stock);
    let p = srv.post("/api/v1/products", Some(&seller), body).await;
    assert_eq!(p.status, StatusCode::CREATED, "{}", p.body);
    let sku = p.body["skus"][0]["id"].as_str().unwrap().to_string();
    let (buyer, _) = srv.register("buyer@example.com").await;
    fund(srv, &buyer, 100_000).await;
    (seller, buyer, sku)
}

async fn top_up(srv: &Srv, token: &str, amount: i64, card: &str) -> crate::Res {
    let body = json!({"amount": {"amount": amount, "currency": "CNY"}, "card_number": card});
    srv.post("/api/v1/wallet/top-ups", Some(token), body).await
}

/// Tops up through the sandbox and lets its signed confirmation arrive.
pub(crate) async fn fund(srv: &Srv, token: &str, amount: i64) {
    let r = top_up(srv, token, amount, "4242 4242 4242 4242").await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    assert_eq!(r.body["state"], "pending");
    srv.clock.advance_ms(1_000);
    srv.app.deliver_sandbox_confirmations().await.unwrap();
    let t = srv.get(&format!("/api/v1/wallet/top-ups/{}", r.body["id"].as_str().unwrap()), Some(token)).await;
    assert_eq!(t.body["state"], "succeeded", "{}", t.body);
}

pub(crate) async fn checkout(srv: &Srv, token: &str, sku: &str, qty: i64, key: &str) -> crate::Res {
    let body = json!({"ship_to": "DE", "items": [{"sku_id": sku, "quantity": qty}]});
    srv.call(Method::POST, "/api/v1/checkout", Some(token), Some(body), Some(key)).await
}

/// A paid order of one unit.
pub(crate) async fn paid_order(srv: &Srv, buyer: &str, sku: &str, key: &str) -> String {
    let order = checkout(srv, buyer, sku, 1, key).await;
    let id = order.body["orders"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(order_action(srv, buyer, &id, "pay").await.status, StatusCode::OK);
    id
}

pub(crate) async fn order_action(srv: &Srv, token: &str, order: &str, action: &str) -> crate::Res {
    srv.call(
        Method::POST,
        &format!("/api/v1/orders/{order}/{action}"),
        Some(token),
        None,
        Some(&format!("{action}-{order}")),
    )
    .await
}

pub(crate) async fn ship(srv: &Srv, token: &str, order: &str, carrier: &str, tracking: &str) -> crate::Res {
    let body = json!({"carrier": carrier, "tracking_number": tracking});
    srv.call(Method::POST, &format!("/api/v1/orders/{order}/ship"), Some(token), Some(body), None).await
}

pub fn available(wallet: &Value, field: &str) -> i64 {
    wallet
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["currency"] == "CNY")
        .map(|w| w[field]["amount"].as_i64().unwrap())
        .unwrap_or(0)
}

pub(crate) async fn assert_ledger_sound(srv: &Srv) {
    static AUDITS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = AUDITS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let (admin, admin_id) = srv.quick_user(&format!("auditor-{n}@example.com")).await;
    srv.make_admin(&admin_id).await;
    let report = srv.get("/api/v1/admin/ledger-check", Some(&admin)).await;
    assert_eq!(report.body["sound"], true, "{}", report.body);
}

async fn buy_ship_confirm_over_http(srv: Srv) {
    let (seller, buyer, sku) = market(&srv, 5).await;
    // Cart, then checkout from it.
    let cart = srv
        .call(Method::PUT, &format!("/api/v1/cart/items/{sku}"), Some(&buyer), Some(json!({"quantity": 2})), None)
        .await;
    assert_eq!(cart.body[0]["unit_price"]["amount"], 1999, "{}", cart.body);
    let no_key = srv.post("/api/v1/checkout", Some(&buyer), json!({"ship_to": "DE"})).await;
    assert_eq!((no_key.status, no_key.code()), (StatusCode::BAD_REQUEST, "idempotency_key_required"));
    let co =
        srv.call(Method::POST, "/api/v1/checkout", Some(&buyer), Some(json!({"ship_to": "DE"})), Some("co-1")).await;
    assert_eq!(co.status, StatusCode::CREATED, "{}", co.body);
    let replay =
        srv.call(Method::POST, "/api/v1/checkout", Some(&buyer), Some(json!({"ship_to": "DE"})), Some("co-1")).await;
    assert_eq!(replay.body["checkout_id"], co.body["checkout_id"], "a retried checkout buys nothing twice");
    assert_eq!(srv.count("orders").await, 1);
    assert!(
        srv.get("/api/v1/cart", Some(&buyer)).await.body.as_array().unwrap().is_empty(),
        "bought items leave the cart"
    );
    let order = co.body["orders"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(co.body["orders"][0]["state"], "pending_payment");
    assert_eq!(co.body["orders"][0]["total"], json!({"amount": 3998, "currency": "CNY"}));

    let (stranger, _) = srv.quick_user("stranger@example.com").await;
    assert_eq!(srv.get(&format!("/api/v1/orders/{order}"), Some(&stranger)).await.status, StatusCode::NOT_FOUND);
    assert_eq!(order_action(&srv, &seller, &order, "pay").await.status, StatusCode::FORBIDDEN, "only the buyer pays");
    let early_ship = ship(&srv, &seller, &order, "SF Express", "SF1234567890123").await;
    assert_eq!((early_ship.status, early_ship.code()), (StatusCode::CONFLICT, "invalid_state"));
    assert!(early_ship.body["error"]["message"].as_str().unwrap().contains("pending_payment"));

    let paid = srv
        .call(
            Method::POST,
            &format!("/api/v1/checkouts/{}/pay", co.body["checkout_id"].as_str().unwrap()),
            Some(&buyer),
            None,
            Some("pay-co-1"),
        )
        .await;
    assert_eq!(paid.status, StatusCode::OK, "{}", paid.body);
    assert_eq!(paid.body["orders"][0]["state"], "paid");
    assert_eq!(srv.count("product_stats WHERE purchases = 1").await, 1, "a paid order is a purchase, for conversion");
    let wallet = srv.get("/api/v1/wallet", Some(&buyer)).await.body;
    assert_eq!((available(&wallet, "available"), available(&wallet, "held")), (100_000 - 3998, 3998));
    assert_eq!(available(&srv.get("/api/v1/wallet", Some(&seller)).await.body, "incoming"), 3998);

    let bad_tracking = ship(&srv, &seller, &order, "SF Express", "<script>").await;
    assert_eq!((bad_tracking.status, bad_tracking.field()), (StatusCode::UNPROCESSABLE_ENTITY, "tracking_number"));
    let by_buyer = ship(&srv, &buyer, &order, "SF Express", "SF1234567890123").await;
    assert_eq!(by_buyer.status, StatusCode::FORBIDDEN);
    let shipped = ship(&srv, &seller, &order, "SF Express", "SF1234567890123").await;
    assert_eq!(shipped.body["state"], "shipped", "{}", shipped.body);
    assert_eq!(shipped.body["tracking_number"], "SF1234567890123");
    assert_eq!(shipped.body["deadlines"][0]["kind"], "confirm_by");

    assert_eq!(order_action(&srv, &seller, &order, "confirm").await.status, StatusCode::FORBIDDEN);
    let done = order_action(&srv, &buyer, &order, "confirm").await;
    assert_eq!(done.body["state"], "completed", "{}", done.body);
    let again = order_action(&srv, &buyer, &order, "confirm").await;
    assert_eq!(again.body["state"], "completed", "a replayed confirm answers as the first did");
    let seller_wallet = srv.get("/api/v1/wallet", Some(&seller)).await.body;
    assert_eq!(available(&seller_wallet, "available"), 3998 - 79, "2% commission, rounded down per line");
    let history = srv.get("/api/v1/wallet/transactions", Some(&buyer)).await.body;
    let kinds: Vec<&str> = history["items"].as_array().unwrap().iter().map(|t| t["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, vec!["payment", "top_up"]);
    let events = srv.get("/api/v1/events", Some(&seller)).await.body;
    let kinds: Vec<&str> = events["items"].as_array().unwrap().iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, vec!["order.created", "order.paid", "order.shipped", "order.completed"]);
    let after = events["items"][1]["cursor"].as_str().unwrap();
    assert_eq!(
        srv.get(&format!("/api/v1/events?cursor={after}"), Some(&seller)).await.body["items"].as_array().unwrap().len(),
        2
    );
    assert_eq!(srv.get("/api/v1/stores/market/orders", Some(&seller)).await.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(srv.get("/api/v1/stores/market/orders", Some(&buyer)).await.status, StatusCode::FORBIDDEN);
    assert_ledger_sound(&srv).await;
}

async fn deadlines_move_the_money(srv: Srv) {
    let (seller, buyer, sku) = market(&srv, 10).await;
    let policy = souk_domain::order::Policy::default();
    let unpaid = checkout(&srv, &buyer, &sku, 1, "a").await.body["orders"][0]["id"].as_str().unwrap().to_string();
    let unshipped = checkout(&srv, &buyer, &sku, 2, "b").await.body["orders"][0]["id"].as_str().unwrap().to_string();
    order_action(&srv, &buyer, &unshipped, "pay").await;
    let unconfirmed = checkout(&srv, &buyer, &sku, 3, "c").await.body["orders"][0]["id"].as_str().unwrap().to_string();
    order_action(&srv, &buyer, &unconfirmed, "pay").await;
    ship(&srv, &seller, &unconfirmed, "DHL", "1234567890").await;
    let extended = order_action(&srv, &buyer, &unconfirmed, "extend").await;
    assert_eq!(extended.body["confirmation_extended"], true);
    let again = srv
        .call(Method::POST, &format!("/api/v1/orders/{unconfirmed}/extend"), Some(&buyer), None, Some("extend-again"))
        .await;
    assert_eq!(again.code(), "invalid_state", "once only");

    srv.clock.advance_ms(policy.payment_window_ms + 1);
    assert_eq!(srv.app.run_due_jobs().await.unwrap(), 1);
    let o = srv.get(&format!("/api/v1/orders/{unpaid}"), Some(&buyer)).await.body;
    assert_eq!(
        (o["state"].as_str(), o["cancel_reason"].as_str()),
        (Some("cancelled"), Some("not paid within the payment window"))
    );

    srv.clock.advance_ms(policy.ship_by_ms);
    assert_eq!(srv.app.run_due_jobs().await.unwrap(), 1);
    assert_eq!(srv.get(&format!("/api/v1/orders/{unshipped}"), Some(&buyer)).await.body["state"], "cancelled");
    assert_eq!(
        available(&srv.get("/api/v1/wallet", Some(&buyer)).await.body, "available"),
        100_000 - 3 * 1999,
        "refunded in full"
    );

    srv.clock.advance_ms(policy.confirm_window_ms);
    assert_eq!(srv.app.run_due_jobs().await.unwrap(), 0, "the extension moved the confirm-by deadline");
    srv.clock.advance_ms(policy.extension_ms);
    assert_eq!(srv.app.run_due_jobs().await.unwrap(), 1);
    assert_eq!(srv.get(&format!("/api/v1/orders/{unconfirmed}"), Some(&buyer)).await.body["state"], "completed");
    assert_eq!(available(&srv.get("/api/v1/wallet", Some(&seller)).await.body, "available"), 3 * 1999 - 119);
    let product = srv
        .get(
            &format!(
                "/api/v1/products/{}",
                srv.get("/api/v1/products", None).await.body["items"][0]["id"].as_str().unwrap()
            ),
            None,
        )
        .await;
    assert_eq!(product.body["skus"][0]["stock"], 7, "only the completed order's units are gone");
    assert_ledger_sound(&srv).await;
}

async fn deadlines_due_while_down_run_once_after_start(srv: Srv) {
    let (_, buyer, sku) = market(&srv, 10).await;
    let order = checkout(&srv, &buyer, &sku, 4, "x").await.body["orders"][0]["id"].as_str().unwrap().to_string();
    let srv = srv.restart().await;
    srv.clock.advance_ms(souk_domain::order::Policy::default().payment_window_ms + 1);
    let srv = srv.restart().await;
    // The new server's runner finds the deadline that fell due while it was down.
    let mut state = String::new();
    for _ in 0..100 {
        state =
            srv.get(&format!("/api/v1/orders/{order}"), Some(&buyer)).await.body["state"].as_str().unwrap().to_string();
        if state == "cancelled" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(state, "cancelled");
    assert_eq!(srv.app.run_due_jobs().await.unwrap(), 0, "and only once");
    let events = srv.get("/api/v1/events", Some(&buyer)).await.body;
    let cancelled = events["items"].as_array().unwrap().iter().filter(|e| e["type"] == "order.cancelled").count();
    assert_eq!(cancelled, 1);
}

async fn top_ups_and_payouts(srv: Srv) {
    let (token, _) = srv.register("wallet@example.com").await;
    let declined = top_up(&srv, &token, 500, "4000000000000002").await;
    assert_eq!((declined.status, declined.code()), (StatusCode::PAYMENT_REQUIRED, "payment_declined"));
    let invalid = top_up(&srv, &token, 500, "1234").await;
    assert_eq!((invalid.status, invalid.field()), (StatusCode::UNPROCESSABLE_ENTITY, "card_number"));
    let negative = top_up(&srv, &token, -5, "4242424242424242").await;
    assert_eq!((negative.status, negative.field()), (StatusCode::UNPROCESSABLE_ENTITY, "amount.amount"));
    let pending = top_up(&srv, &token, 5000, "4242424242424242").await;
    let id = pending.body["id"].as_str().unwrap().to_string();
    assert!(
        srv.get("/api/v1/wallet", Some(&token)).await.body.as_array().unwrap().is_empty(),
        "nothing until the provider confirms"
    );

    // The provider's callback must be signed.
    let body = json!({"top_up_id": id, "status": "succeeded"}).to_string();
    let forged = srv
        .http
        .post(format!("{}/api/v1/payments/sandbox/callback", srv.base))
        .header("souk-signature", "t=1,v1=00")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::UNAUTHORIZED);
    let now_s = souk_domain::clock::Clock::now_ms(&*srv.clock) / 1000;
    let signature = souk_app::payments::sign(b"souk-sandbox-development-secret", now_s, body.as_bytes());
    for _ in 0..2 {
        let ok = srv
            .http
            .post(format!("{}/api/v1/payments/sandbox/callback", srv.base))
            .header("souk-signature", &signature)
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(ok.status(), StatusCode::OK);
    }
    let wallet = srv.get("/api/v1/wallet", Some(&token)).await.body;
    assert_eq!(available(&wallet, "available"), 5000, "confirmed twice, credited once");

    let short = srv
        .post(
            "/api/v1/wallet/payouts",
            Some(&token),
            json!({"amount": {"amount": 6000, "currency": "CNY"}, "destination": "IBAN DE00 1234"}),
        )
        .await;
    assert_eq!((short.status, short.code()), (StatusCode::CONFLICT, "insufficient_funds"));
    assert!(short.body["error"]["message"].as_str().unwrap().contains("10.00 CNY"), "{}", short.body);
    let paid_out = srv
        .post(
            "/api/v1/wallet/payouts",
            Some(&token),
            json!({"amount": {"amount": 1500, "currency": "CNY"}, "destination": "IBAN DE00 1234"}),
        )
        .await;
    assert_eq!(paid_out.status, StatusCode::CREATED, "{}", paid_out.body);
    assert_eq!(available(&srv.get("/api/v1/wallet", Some(&token)).await.body, "available"), 3500);
    assert_ledger_sound(&srv).await;
}

async fn last_units_under_concurrency(srv: Srv) {
    let (_, _, sku) = market(&srv, 10).await;
    let mut tokens = Vec::new();
    for i in 0..200 {
        tokens.push(srv.quick_user(&format!("crowd{i}@example.com")).await.0);
    }
    let srv = std::sync::Arc::new(srv);
    let tasks: Vec<_> = tokens
        .into_iter()
        .enumerate()
        .map(|(i, token)| {
            let (srv, sku) = (srv.clone(), sku.clone());
            tokio::spawn(async move { checkout(&srv, &token, &sku, 1, &format!("crowd-{i}")).await })
        })
        .collect();
    let (mut ok, mut out) = (0, 0);
    for t in tasks {
        let r = t.await.unwrap();
        match (r.status, r.code()) {
            (StatusCode::CREATED, _) => ok += 1,
            (StatusCode::CONFLICT, "out_of_stock") => out += 1,
            other => panic!("{other:?}: {}", r.body),
        }
    }
    assert_eq!((ok, out), (10, 190));
    assert_eq!(srv.count("orders").await, 10);
    let product = srv.get("/api/v1/products", None).await.body;
    assert_eq!(product["items"][0]["skus"][0]["stock"], 0, "nothing left to sell, nothing oversold");
}

async fn order_input_is_validated(srv: Srv) {
    let (seller, buyer, sku) = market(&srv, 10).await;
    let cases = [
        (json!({"ship_to": "Mars", "items": [{"sku_id": sku, "quantity": 1}]}), "unknown_country", "ship_to"),
        (json!({"ship_to": "DE", "items": [{"sku_id": sku, "quantity": 0}]}), "out_of_range", "items[0].quantity"),
        (json!({"ship_to": "DE", "items": [{"sku_id": sku, "quantity": -4}]}), "out_of_range", "items[0].quantity"),
        (json!({"ship_to": "DE", "items": [{"sku_id": "sku_nope", "quantity": 1}]}), "unknown_sku", "items[0].sku_id"),
        (
            json!({"ship_to": "DE", "items": [{"sku_id": sku, "quantity": 1}, {"sku_id": sku, "quantity": 1}]}),
            "duplicate_item",
            "items[1].sku_id",
        ),
        (json!({"ship_to": "DE", "items": []}), "required", "items"),
        (json!({"ship_to": "DE", "items": [{"sku_id": sku, "quantity": "many"}]}), "invalid_body", "items[0].quantity"),
    ];
    for (i, (body, code, field)) in cases.into_iter().enumerate() {
        let r = srv
            .call(Method::POST, "/api/v1/checkout", Some(&buyer), Some(body.clone()), Some(&format!("bad-{i}")))
            .await;
        assert_eq!(
            (r.status, r.code(), r.field()),
            (StatusCode::UNPROCESSABLE_ENTITY, code, field),
            "{body}: {}",
            r.body
        );
    }
    let too_many = checkout(&srv, &buyer, &sku, 11, "eleven").await;
    assert_eq!((too_many.status, too_many.code()), (StatusCode::CONFLICT, "out_of_stock"));
    let own = checkout(&srv, &seller, &sku, 1, "own").await;
    assert_eq!(own.code(), "own_product");
    let mut moq_body = product_body("Bulk bolts");
    moq_body["moq"] = json!(50);
    moq_body["skus"][0]["sku"] = json!("BOLT");
    moq_body["skus"][0]["stock"] = json!(1000);
    let bolts =
        srv.post("/api/v1/products", Some(&seller), moq_body).await.body["skus"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(checkout(&srv, &buyer, &bolts, 10, "moq").await.code(), "below_moq");
    let cn_only = srv
        .call(
            Method::POST,
            "/api/v1/checkout",
            Some(&buyer),
            Some(json!({"ship_to": "CN", "items": [{"sku_id": bolts, "quantity": 50}]})),
            Some("cn"),
        )
        .await;
    assert_eq!(cn_only.code(), "not_shipped_there", "the bolts ship to US and DE only");
    assert_eq!(srv.count("orders").await, 0, "no bad checkout wrote an order");
    let stock = srv.get("/api/v1/products?limit=5", None).await.body;
    assert!(
        stock["items"].as_array().unwrap().iter().all(|p| p["skus"][0]["stock"] == 10 || p["skus"][0]["stock"] == 1000),
        "nothing reserved"
    );
    let bogus = srv.get("/api/v1/orders/ord_doesnotexist", Some(&buyer)).await;
    assert_eq!(bogus.status, StatusCode::NOT_FOUND);
    assert_eq!(srv.get("/api/v1/events?cursor=abc", Some(&buyer)).await.code(), "invalid_cursor");
}

/// A client that retries a payment many times at once, with one key, pays once.
async fn concurrent_retries_pay_once(srv: Srv) {
    let (_, buyer, sku) = market(&srv, 10).await;
    let order = checkout(&srv, &buyer, &sku, 2, "retry-co").await.body["orders"][0]["id"].as_str().unwrap().to_string();
    let srv = std::sync::Arc::new(srv);
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let (srv, buyer, order) = (srv.clone(), buyer.clone(), order.clone());
            tokio::spawn(async move {
                srv.call(Method::POST, &format!("/api/v1/orders/{order}/pay"), Some(&buyer), None, Some("pay-once"))
                    .await
            })
        })
        .collect();
    for t in tasks {
        let r = t.await.unwrap();
        assert_eq!((r.status, r.body["state"].as_str()), (StatusCode::OK, Some("paid")), "{}", r.body);
    }
    let wallet = srv.get("/api/v1/wallet", Some(&buyer)).await.body;
    assert_eq!(available(&wallet, "available"), 100_000 - 2 * 1999, "charged once");
    assert_ledger_sound(&srv).await;
}
