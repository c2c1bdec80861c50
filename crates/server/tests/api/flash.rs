//! Flash sales over HTTP: promotions with their countdown, and the batched order engine under
//! concurrent buyers: nothing oversold, limits held, every acknowledged order paid and present.

use crate::orders::{assert_ledger_sound, fund, market};
use crate::{on_both_backends, Srv};
use reqwest::StatusCode;
use serde_json::{json, Value};
use souk_domain::flash::{self, BuyRequest, Shard};
use souk_domain::id::Kind;
use souk_domain::time::rfc3339;
use souk_store::flash::{FlashBook, FlashOrder};

on_both_backends!(
    promotions_count_down_and_check_their_terms,
    concurrent_buyers_never_oversell_a_flash_sale,
    a_flash_order_is_whole_when_read_before_it_is_written_out,
    shards_split_promotions_and_the_database_guards_the_rest
);

fn promotion(srv: &Srv, sku: &str, starts_in_ms: i64, price: i64, stock: i64, limit: i64) -> Value {
    let now = srv.store.now_ms();
    json!({"sku_id": sku, "starts_at": rfc3339(now + starts_in_ms), "ends_at": rfc3339(now + starts_in_ms + 3_600_000),
           "price": {"amount": price, "currency": "CNY"}, "stock": stock, "per_buyer_limit": limit})
}

async fn buy(srv: &Srv, token: &str, promo: &str, quantity: i64, key: &str) -> crate::Res {
    buy_at(srv, &srv.base, token, promo, quantity, key).await
}

/// Buys through the server at `base` (this one's or a peer's).
async fn buy_at(srv: &Srv, base: &str, token: &str, promo: &str, quantity: i64, key: &str) -> crate::Res {
    let req = srv.http.post(format!("{base}/api/v1/promotions/{promo}/buy")).bearer_auth(token);
    let req = req.header("Idempotency-Key", key).json(&json!({"quantity": quantity, "ship_to": "DE"}));
    Srv::read(req.send().await.expect("request")).await
}

async fn promotions_count_down_and_check_their_terms(srv: Srv) {
    let (seller, buyer, sku) = market(&srv, 20).await;
    let create = |body: Value| srv.post("/api/v1/stores/market/promotions", Some(&seller), body);
    let bad = create(promotion(&srv, &sku, 60_000, 1999, 5, 2)).await;
    assert_eq!((bad.status, bad.field()), (StatusCode::UNPROCESSABLE_ENTITY, "price.amount"), "not below the price");
    let bad = create(promotion(&srv, &sku, 60_000, 999, 21, 2)).await;
    assert_eq!(bad.field(), "stock", "more than the stock");
    let stranger =
        srv.post("/api/v1/stores/market/promotions", Some(&buyer), promotion(&srv, &sku, 0, 999, 5, 2)).await;
    assert_eq!(stranger.status, StatusCode::FORBIDDEN);
    let p = create(promotion(&srv, &sku, 60_000, 999, 5, 2)).await;
    assert_eq!(p.status, StatusCode::CREATED, "{}", p.body);
    assert_eq!((p.body["phase"].clone(), p.body["seconds_left"].clone()), (json!("scheduled"), json!(60)));
    let overlap = create(promotion(&srv, &sku, 120_000, 999, 5, 2)).await;
    assert_eq!((overlap.status, overlap.code()), (StatusCode::CONFLICT, "promotion_overlaps"));
    let id = p.body["id"].as_str().unwrap().to_string();

    let early = buy(&srv, &buyer, &id, 1, "early").await;
    assert_eq!((early.status, early.code()), (StatusCode::CONFLICT, "promotion_not_started"));
    srv.clock.advance_ms(61_000);
    let live = srv.get(&format!("/api/v1/promotions/{id}"), None).await.body;
    assert_eq!((live["phase"].clone(), live["left"].clone()), (json!("live"), json!(5)));
    assert_eq!(live["seconds_left"], 3599);
    let listed = srv.get(&format!("/api/v1/promotions?product={}", p.body["product_id"].as_str().unwrap()), None).await;
    assert_eq!(listed.body["items"][0]["id"], id.as_str());

    let first = buy(&srv, &buyer, &id, 2, "buy-1").await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    assert_eq!((first.body["total"]["amount"].clone(), first.body["state"].clone()), (json!(1998), json!("paid")));
    let again = buy(&srv, &buyer, &id, 2, "buy-1").await;
    assert_eq!(again.body["order_id"], first.body["order_id"], "a retry answers the first time");
    assert_eq!(again.headers["idempotent-replayed"], "true");
    let changed = buy(&srv, &buyer, &id, 1, "buy-1").await;
    assert_eq!((changed.status, changed.code()), (StatusCode::UNPROCESSABLE_ENTITY, "idempotency_mismatch"));
    let over = buy(&srv, &buyer, &id, 1, "buy-2").await;
    assert_eq!((over.status, over.code()), (StatusCode::CONFLICT, "limit_reached"));
    let own = buy(&srv, &seller, &id, 1, "own").await;
    assert_eq!(own.status, StatusCode::FORBIDDEN);
    let none = buy(&srv, &buyer, "prm_01ARZ3NDEKTSV4RRFFQ69G5FAV", 1, "none").await;
    assert_eq!(none.status, StatusCode::NOT_FOUND);
    let order = srv.get(&format!("/api/v1/orders/{}", first.body["order_id"].as_str().unwrap()), Some(&buyer)).await;
    assert_eq!(
        (order.body["state"].clone(), order.body["lines"][0]["unit_price"]["amount"].clone()),
        (json!("paid"), json!(999))
    );
    // The paid order ships like any other.
    let shipped =
        crate::orders::ship(&srv, &seller, first.body["order_id"].as_str().unwrap(), "other", "FLASH-1").await;
    assert_eq!(shipped.status, StatusCode::OK, "{}", shipped.body);
    let sku_left = srv.get("/api/v1/stores/market/products", None).await.body["items"][0]["skus"][0]["stock"].clone();
    assert_eq!(sku_left, 18, "the sale's units came out of the SKU's stock");
    srv.clock.advance_ms(3_600_000);
    assert_eq!(srv.get(&format!("/api/v1/promotions/{id}"), None).await.body["phase"], "ended");
    let late = buy(&srv, &buyer, &id, 1, "late").await;
    assert_eq!(late.code(), "promotion_ended");
    assert_ledger_sound(&srv).await;
}

async fn concurrent_buyers_never_oversell_a_flash_sale(srv: Srv) {
    let (seller, rich, sku) = market(&srv, 100).await;
    let p = srv.post("/api/v1/stores/market/promotions", Some(&seller), promotion(&srv, &sku, 0, 500, 25, 2)).await;
    assert_eq!(p.status, StatusCode::CREATED, "{}", p.body);
    let id = p.body["id"].as_str().unwrap().to_string();
    // Twenty buyers, one of them able to afford a single unit, each asking three times at once
    // and repeating its first request (same key) at the same moment.
    let mut buyers = vec![rich];
    for i in 1..20 {
        let (token, _) = srv.register(&format!("fan{i}@example.com")).await;
        fund(&srv, &token, if i == 1 { 700 } else { 10_000 }).await;
        buyers.push(token);
    }
    let mut tasks = Vec::new();
    for (b, token) in buyers.iter().enumerate() {
        for attempt in [0, 1, 2, 0] {
            let (srv, token, id) = (&srv, token.clone(), id.clone());
            tasks.push(async move { (b, buy(srv, &token, &id, 1, &format!("fan-{b}-{attempt}")).await) });
        }
    }
    let results = futures_util::future::join_all(tasks).await;
    let mut per_buyer = vec![0; buyers.len()];
    for pair in results.chunks(4) {
        // An order is answered again, never made twice; a refusal records nothing, so its
        // repeat is decided afresh (and refused too, this sale being over for that buyer).
        let (first, repeated) = (&pair[0].1, &pair[3].1);
        if first.status == StatusCode::CREATED || repeated.status == StatusCode::CREATED {
            assert_eq!((first.status, &first.body), (repeated.status, &repeated.body), "a repeated key, one order");
        }
    }
    for (b, r) in results.iter().enumerate().filter(|(i, _)| i % 4 != 3).map(|(_, r)| r) {
        match r.status {
            StatusCode::CREATED => per_buyer[*b] += 1,
            StatusCode::CONFLICT => {
                assert!(["sold_out", "limit_reached", "insufficient_funds"].contains(&r.code()), "{}", r.body)
            }
            s => panic!("unexpected {s}: {}", r.body),
        }
    }
    let sold: i64 = per_buyer.iter().sum();
    assert_eq!(sold, 25, "every promotion unit sold, none twice: {per_buyer:?}");
    assert!(per_buyer.iter().all(|n| *n <= 2), "the limit held: {per_buyer:?}");
    assert!(per_buyer[1] <= 1, "the short wallet paid for one at most");
    let promo = srv.get(&format!("/api/v1/promotions/{id}"), None).await.body;
    assert_eq!((promo["sold"].clone(), promo["phase"].clone()), (json!(25), json!("sold_out")));
    // Paid orders are written out in full off the buy path; whatever is left, now.
    srv.store.write_out_all_flash(&srv.app.config.policy).await.unwrap();
    assert_eq!(srv.store.flash_pending().await.unwrap(), 0);
    assert_eq!(srv.count("orders").await, 25, "one order per acknowledged purchase");
    assert_eq!(srv.count("jobs WHERE kind = 'ship_by'").await, 25, "each with its ship-by deadline");
    assert_eq!(srv.count("events WHERE type = 'order.paid'").await, 50, "and an order.paid event for each party");
    let stock = srv.get("/api/v1/stores/market/products", None).await.body["items"][0]["skus"][0]["stock"].clone();
    assert_eq!(stock, 75);
    let more = buy(&srv, &buyers[5], &id, 1, "after").await;
    assert_eq!(more.code(), "sold_out");
    assert_ledger_sound(&srv).await;
}

/// Two processes each deciding half the promotions, and a third (unsharded, as behind a stale
/// router) deciding everything: each shard refuses the other's promotions, and the third
/// competing with an owner for one promotion still sells exactly its stock.
async fn shards_split_promotions_and_the_database_guards_the_rest(srv: Srv) {
    let (seller, rich, sku) = market(&srv, 1000).await;
    let shards = [
        srv.peer_with("shard0", |c| c.flash_shard = Some(Shard { index: 0, count: 2 })).await,
        srv.peer_with("shard1", |c| c.flash_shard = Some(Shard { index: 1, count: 2 })).await,
    ];
    // Promotions on SKUs of their own until each shard owns one.
    let mut owned: [Option<String>; 2] = [None, None];
    let mut sku = Some(sku);
    for n in 0..16 {
        if owned.iter().all(Option::is_some) {
            break;
        }
        let sku_id = match sku.take() {
            Some(s) => s,
            None => {
                let product = json!({"title": format!("Hot {n}"), "ships_to": ["*"],
                    "skus": [{"price": {"amount": 2000, "currency": "CNY"}, "stock": 1000}]});
                let p = srv.post("/api/v1/products", Some(&seller), product).await;
                p.body["skus"][0]["id"].as_str().unwrap().to_string()
            }
        };
        let p =
            srv.post("/api/v1/stores/market/promotions", Some(&seller), promotion(&srv, &sku_id, 0, 500, 30, 3)).await;
        assert_eq!(p.status, StatusCode::CREATED, "{}", p.body);
        let id = p.body["id"].as_str().unwrap().to_string();
        owned[Shard::owner(&id, 2) as usize].get_or_insert(id);
    }
    let [Some(p0), Some(p1)] = owned else { panic!("no promotion for each shard") };
    let wrong = buy_at(&srv, &shards[1].srv_base, &rich, &p0, 1, "wrong").await;
    assert_eq!((wrong.status, wrong.code()), (StatusCode::MISDIRECTED_REQUEST, "wrong_shard"));
    assert!(wrong.body["error"]["message"].as_str().unwrap().contains("0/2"), "{}", wrong.body);
    // The product page's buy form on the wrong shard is refused the same way, not decided there.
    let csrf = "shard-page-csrf-token-0123456789";
    let page = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(format!("{}/promotions/{p0}/buy", shards[1].srv_base))
        .header("cookie", format!("souk_session={rich}; souk_csrf={csrf}"))
        .form(&[("_csrf", csrf), ("_key", "page-wrong-shard-0123456"), ("quantity", "1"), ("ship_to", "DE")])
        .send()
        .await
        .unwrap();
    assert_ne!(page.status(), StatusCode::SEE_OTHER, "no order from the wrong shard");
    let text = page.text().await.unwrap();
    assert!(text.contains("decides this promotion"), "{text}");
    let right = buy_at(&srv, &shards[1].srv_base, &rich, &p1, 1, "right").await;
    assert_eq!(right.status, StatusCode::CREATED, "{}", right.body);

    // Shard 0 and the unsharded process sell p0 at once to twelve buyers, six tries each.
    let mut buyers = Vec::new();
    for i in 0..12 {
        let (token, _) = srv.register(&format!("shardfan{i}@example.com")).await;
        fund(&srv, &token, 10_000).await;
        buyers.push(token);
    }
    let mut tasks = Vec::new();
    for (b, token) in buyers.iter().enumerate() {
        for attempt in 0..6 {
            let base = if attempt % 2 == 0 { shards[0].srv_base.clone() } else { srv.base.clone() };
            let (srv, token, p0) = (&srv, token.clone(), p0.clone());
            tasks.push(async move { (b, buy_at(srv, &base, &token, &p0, 1, &format!("s-{b}-{attempt}")).await) });
        }
    }
    let mut per_buyer = vec![0; buyers.len()];
    for (b, r) in futures_util::future::join_all(tasks).await {
        match r.status {
            StatusCode::CREATED => per_buyer[b] += 1,
            _ => assert!(["sold_out", "limit_reached"].contains(&r.code()), "{}", r.body),
        }
    }
    assert_eq!(per_buyer.iter().sum::<i64>(), 30, "the stock sold exactly once: {per_buyer:?}");
    assert!(per_buyer.iter().all(|n| *n <= 3), "limits held across processes: {per_buyer:?}");
    let promo = srv.get(&format!("/api/v1/promotions/{p0}"), None).await.body;
    assert_eq!((promo["sold"].clone(), promo["phase"].clone()), (json!(30), json!("sold_out")));
    assert_ledger_sound(&srv).await;
}

/// An order the engine committed (its journal row and payment, as a batch writes them) but has
/// not written out yet is whole the moment its buyer reads it, and the books balance both ways.
async fn a_flash_order_is_whole_when_read_before_it_is_written_out(srv: Srv) {
    let (seller, buyer, sku) = market(&srv, 20).await;
    let p = srv.post("/api/v1/stores/market/promotions", Some(&seller), promotion(&srv, &sku, 0, 500, 5, 5)).await;
    let promo = p.body["id"].as_str().unwrap().to_string();
    let me = srv.get("/api/v1/me", Some(&buyer)).await.body["id"].as_str().unwrap().to_string();
    let before = srv.get("/api/v1/wallet", Some(&buyer)).await.body;
    let order_id = srv.store.new_id(Kind::Order);
    let mut tx = srv.store.begin().await.unwrap();
    let mut book = FlashBook::default();
    tx.fill_flash_book(&mut book, &[(&promo, &me)]).await.unwrap();
    let price = book.book.promotions[&promo].price;
    let ask = BuyRequest { buyer_id: me.clone(), promotion_id: promo.clone(), quantity: 2, country: "DE".into() };
    flash::decide(&mut book.book, &ask, srv.store.now_ms()).unwrap();
    let order = FlashOrder {
        order_id: order_id.clone(),
        buyer_id: me.clone(),
        promotion_id: promo.clone(),
        country: "DE".into(),
        quantity: 2,
        unit_price: price,
        idempotency: None,
    };
    let terms = book.terms(std::slice::from_ref(&order));
    tx.write_flash(&[order], &terms).await.unwrap();
    tx.commit().await.unwrap();
    assert!(srv.store.flash_order_pending(&order_id).await.unwrap());
    let bought = |srv: &Srv, promo: String, me: String| {
        let store = srv.store.clone();
        async move {
            let mut tx = store.begin().await.unwrap();
            let mut fresh = FlashBook::default();
            tx.fill_flash_book(&mut fresh, &[(&promo, &me)]).await.unwrap();
            fresh.book.promotions[&promo].bought.get(&me).copied()
        }
    };
    assert_eq!(bought(&srv, promo.clone(), me.clone()).await, Some(2), "a fresh book counts the journal's order");
    assert_eq!(srv.count("orders").await, 0, "not written out yet");
    assert_ledger_sound(&srv).await;
    let after = srv.get("/api/v1/wallet", Some(&buyer)).await.body;
    assert_eq!(
        crate::orders::available(&before, "available") - crate::orders::available(&after, "available"),
        1000,
        "paid at once"
    );
    assert_eq!(crate::orders::available(&after, "held"), 1000, "held for the buyer while in the journal");
    let statement = srv.get("/api/v1/wallet/transactions", Some(&buyer)).await.body;
    let payment = statement["items"][0].clone();
    assert_eq!((payment["kind"].as_str(), payment["amount"]["amount"].as_i64()), (Some("payment"), Some(-1000)));
    assert_eq!(payment["order_id"].as_str(), Some(order_id.as_str()));

    // Someone else is told it does not exist, and asking writes nothing.
    let (stranger, _) = srv.register("stranger@example.com").await;
    let o = srv.get(&format!("/api/v1/orders/{order_id}"), Some(&stranger)).await;
    assert_eq!(o.status, StatusCode::NOT_FOUND, "{}", o.body);
    assert!(srv.store.flash_order_pending(&order_id).await.unwrap(), "authorization never writes");
    let o = srv.get(&format!("/api/v1/orders/{order_id}"), Some(&buyer)).await;
    assert_eq!((o.status, o.body["state"].as_str()), (StatusCode::OK, Some("paid")), "{}", o.body);
    assert_eq!(o.body["total"]["amount"], 1000);
    assert!(!srv.store.flash_order_pending(&order_id).await.unwrap(), "written out by the read");
    assert_eq!(bought(&srv, promo.clone(), me.clone()).await, Some(2), "and the written-out order, once");
    let written = srv.get("/api/v1/wallet/transactions", Some(&buyer)).await.body;
    assert_eq!(written["items"][0], payment, "the same entry, now a transfer");
    let after = srv.get("/api/v1/wallet", Some(&buyer)).await.body;
    assert_eq!(crate::orders::available(&after, "held"), 1000, "held in the order's own escrow");
    let seller_view = srv.get(&format!("/api/v1/orders/{order_id}"), Some(&seller)).await;
    assert_eq!(seller_view.status, StatusCode::OK);
    assert_eq!(srv.count("jobs WHERE kind = 'ship_by'").await, 1);
    assert_ledger_sound(&srv).await;
    let promo = srv.get(&format!("/api/v1/promotions/{promo}"), None).await.body;
    assert_eq!(promo["sold"], 2);
}
