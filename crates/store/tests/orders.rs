//! Orders with escrow at the store level, on SQLite and (with `SOUK_TEST_DATABASE_URL`)
//! PostgreSQL: money moves, stock holds, deadlines fire once, and concurrency cannot oversell.

use souk_domain::account::StoreInput;
use souk_domain::catalog::ProductInput;
use souk_domain::checkout::Item;
use souk_domain::clock::{Clock, ManualClock};
use souk_domain::ledger::{Account, Posting, TransferKind};
use souk_domain::order::{Action, Policy};
use souk_domain::shipping::EventType;
use souk_domain::time::{DAY_MS, HOUR_MS};
use souk_domain::{Currency, Money};
use souk_store::ledger::{Entry, Record};
use souk_store::testing::TestDb;
use souk_store::trust::{CarrierEvent, ReviewDraft, ReviewScope};
use souk_store::Conflict;
use souk_store::{Store, StoreError};
use std::sync::Arc;

const T0: i64 = 1_790_000_000_000;

macro_rules! on_both {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                if let Some(db) = souk_store::testing::TestDb::new(souk_store::testing::TestBackend::Sqlite).await {
                    super::$name(db).await
                }
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(db) = souk_store::testing::TestDb::new(souk_store::testing::TestBackend::Postgres).await {
                    super::$name(db).await
                }
            }
        }
    )*};
}

on_both!(
    the_happy_path_moves_every_cent,
    a_short_wallet_says_what_is_missing,
    deadlines_fire_once,
    the_last_units_go_to_exactly_as_many_buyers,
    concurrent_payments_charge_once,
    two_processes_run_each_deadline_once,
    carrier_events_deliver_at_the_scan_time_and_count_once,
    reviews_move_ratings_and_trust_totals,
    the_ledger_posts_a_batch_by_its_net_movement,
);

fn usd() -> Currency {
    Currency::from_code("USD").unwrap()
}

struct World {
    store: Store,
    clock: Arc<ManualClock>,
    seller: String,
    sku: String,
}

async fn user(store: &Store, email: &str) -> String {
    let mut tx = store.begin().await.unwrap();
    let u = tx.create_user(email, email, "hash", "n").await.unwrap();
    tx.commit().await.unwrap();
    u.id
}

async fn world(db: &TestDb, stock: i64) -> World {
    let clock = Arc::new(ManualClock::new(T0));
    let store = db.open(clock.clone()).await.unwrap();
    let seller = user(&store, "seller@x.com").await;
    let draft = StoreInput {
        name: "S".into(),
        slug: "seller".into(),
        country: "US".into(),
        currency: "USD".into(),
        description: String::new(),
    }
    .validate()
    .unwrap();
    let mut tx = store.begin().await.unwrap();
    let shop = tx.create_store(&seller, &draft).await.unwrap();
    let input: ProductInput = serde_json::from_value(serde_json::json!({
        "title": "Lamp", "ships_to": ["US"],
        "skus": [{"price": {"amount": 1000, "currency": "USD"}, "stock": stock,
                  "price_tiers": [{"min_qty": 5, "price": {"amount": 900, "currency": "USD"}}]}]
    }))
    .unwrap();
    let product = tx.create_product(&shop.id, &input.validate().unwrap()).await.unwrap();
    tx.commit().await.unwrap();
    World { store, clock, seller, sku: product.skus[0].id.clone() }
}

async fn fund(store: &Store, user_id: &str, amount: i64) {
    let mut tx = store.begin().await.unwrap();
    let t = tx.create_top_up(user_id, Money::new(amount, usd()), "sandbox", "4242").await.unwrap();
    let done = tx.settle_top_up(&t.id, true, None).await.unwrap();
    assert_eq!(done.state, "succeeded");
    tx.commit().await.unwrap();
}

async fn balance(store: &Store, account: Account) -> i64 {
    let mut tx = store.begin().await.unwrap();
    let key = account.key();
    let row: Option<(i64,)> = sqlx::query_as("SELECT balance FROM ledger_accounts WHERE key = $1")
        .bind(key)
        .fetch_optional(tx.conn())
        .await
        .unwrap();
    row.map(|r| r.0).unwrap_or(0)
}

async fn stock(store: &Store, sku: &str) -> (i64, i64) {
    let mut tx = store.begin().await.unwrap();
    sqlx::query_as("SELECT on_hand, reserved FROM stock WHERE sku_id = $1")
        .bind(sku)
        .fetch_one(tx.conn())
        .await
        .unwrap()
}

async fn checkout(w: &World, buyer: &str, qty: i64) -> Result<String, StoreError> {
    let mut tx = w.store.begin().await?;
    let (_, orders) =
        tx.checkout(buyer, "US", &[Item { sku_id: w.sku.clone(), quantity: qty }], &Policy::default()).await?;
    tx.commit().await?;
    Ok(orders[0].id.clone())
}

async fn act(w: &World, order: &str, action: Action) -> Result<String, StoreError> {
    let mut tx = w.store.begin().await?;
    let view = tx.act(order, action, &Policy::default()).await?;
    tx.commit().await?;
    Ok(view.state.as_str().to_string())
}

fn wallet(user: &str) -> Account {
    Account::Wallet { user_id: user.into(), currency: usd() }
}

async fn assert_sound(store: &Store) {
    let report = store.ledger_check().await.unwrap();
    assert!(report.sound, "{:?}", report.problems);
}

async fn the_happy_path_moves_every_cent(db: TestDb) {
    let w = world(&db, 10).await;
    let buyer = user(&w.store, "b@x.com").await;
    fund(&w.store, &buyer, 10_000).await;
    let order = checkout(&w, &buyer, 5).await.unwrap();
    assert_eq!(stock(&w.store, &w.sku).await, (10, 5));
    let view = w.store.order(&order).await.unwrap();
    assert_eq!(view.total.amount, 4500, "the tier price applies at 5 units");
    assert_eq!(view.deadlines[0].kind, "payment_due");
    assert_eq!(act(&w, &order, Action::Pay).await.unwrap(), "paid");
    assert_eq!(balance(&w.store, wallet(&buyer)).await, 5_500);
    assert_eq!(balance(&w.store, Account::Escrow { order_id: order.clone(), currency: usd() }).await, 4_500);
    assert_eq!(stock(&w.store, &w.sku).await, (5, 0), "paid units are sold");
    assert_sound(&w.store).await;
    assert_eq!(act(&w, &order, Action::Ship).await.unwrap(), "shipped");
    assert_eq!(act(&w, &order, Action::ExtendConfirmation).await.unwrap(), "shipped");
    assert!(matches!(
        act(&w, &order, Action::ExtendConfirmation).await,
        Err(StoreError::Conflict { kind: Conflict::InvalidState, .. })
    ));
    assert_eq!(act(&w, &order, Action::Confirm).await.unwrap(), "completed");
    assert_eq!(balance(&w.store, wallet(&w.seller)).await, 4_410, "total minus 2% commission");
    assert_eq!(balance(&w.store, Account::Revenue { currency: usd() }).await, 90);
    assert_eq!(balance(&w.store, Account::Escrow { order_id: order.clone(), currency: usd() }).await, 0);
    assert!(matches!(
        act(&w, &order, Action::BuyerCancel).await,
        Err(StoreError::Conflict { kind: Conflict::InvalidState, .. })
    ));
    assert_sound(&w.store).await;
    let events = w.store.events(&buyer, None, 50).await.unwrap();
    let kinds: Vec<&str> = events.items.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds,
        vec!["order.created", "order.paid", "order.shipped", "order.confirmation_extended", "order.completed"]
    );
    assert_eq!(w.store.events(&w.seller, None, 50).await.unwrap().items.len(), 5, "the seller hears the same story");
    let history = w.store.wallet_transactions(&w.seller, None, 10).await.unwrap();
    assert_eq!(history.items[0].amount.amount, 4_410);
    let seller_wallet = w.store.wallet(&w.seller).await.unwrap();
    assert_eq!((seller_wallet[0].available.amount, seller_wallet[0].incoming.amount), (4_410, 0));
}

async fn a_short_wallet_says_what_is_missing(db: TestDb) {
    let w = world(&db, 10).await;
    let buyer = user(&w.store, "b@x.com").await;
    fund(&w.store, &buyer, 1_234).await;
    let order = checkout(&w, &buyer, 2).await.unwrap();
    match act(&w, &order, Action::Pay).await {
        Err(StoreError::Conflict { kind: Conflict::InsufficientFunds, message }) => {
            assert!(message.contains("7.66 USD"), "{message}")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(w.store.order(&order).await.unwrap().state.as_str(), "pending_payment");
    assert_eq!(balance(&w.store, wallet(&buyer)).await, 1_234);
    assert_eq!(stock(&w.store, &w.sku).await, (10, 2), "still reserved for the unpaid order");
    assert_sound(&w.store).await;
}

fn entry(from: Account, to: Account, amount: i64) -> Entry<'static> {
    let posting = Posting { from, to, amount: Money::new(amount, usd()), kind: TransferKind::Payment };
    Entry { posting, id: None, order_id: None, reference: Some("test"), at: None }
}

async fn post(store: &Store, entries: &[Entry<'_>]) -> Result<(), StoreError> {
    let mut tx = store.begin().await?;
    tx.post(entries, Record::Transfers).await?;
    tx.commit().await
}

async fn the_ledger_posts_a_batch_by_its_net_movement(db: TestDb) {
    let store = db.open(Arc::new(ManualClock::new(T0))).await.unwrap();
    let (a, b, c) = (user(&store, "a@x.com").await, user(&store, "b@x.com").await, user(&store, "c@x.com").await);
    fund(&store, &a, 100).await;
    fund(&store, &b, 100).await;
    // `a` pays 150 holding 100, as `b`'s 50 comes in the same batch: the net stands.
    post(&store, &[entry(wallet(&a), wallet(&c), 150), entry(wallet(&b), wallet(&a), 50)]).await.unwrap();
    let balances = (balance(&store, wallet(&a)).await, balance(&store, wallet(&b)).await);
    assert_eq!((balances, balance(&store, wallet(&c)).await), ((0, 50), 150));
    // Short, and then a wallet that never held money: refused whole, nothing moved.
    for from in [&b, "usr_nobody"] {
        match post(&store, &[entry(wallet(&c), wallet(&a), 10), entry(wallet(from), wallet(&c), 60)]).await {
            Err(StoreError::Conflict { kind: Conflict::InsufficientFunds, message }) => {
                assert!(message.contains("short by"), "{message}")
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!((balance(&store, wallet(&a)).await, balance(&store, wallet(&c)).await), (0, 150));
    // A provider's account may go below zero; each posting is its own transfer.
    let provider = Account::Provider { provider: "bank".into(), currency: usd() };
    post(&store, &[entry(provider.clone(), wallet(&a), 5), entry(provider.clone(), wallet(&a), 7)]).await.unwrap();
    assert_eq!((balance(&store, provider).await, balance(&store, wallet(&a)).await), (-12, 12));
    let history = store.wallet_transactions(&a, None, 10).await.unwrap();
    let amounts: Vec<i64> = history.items.iter().map(|t| t.amount.amount).collect();
    assert_eq!(amounts.len(), 5, "the top-up, 150 out, 50 in, then 5 and 7: {amounts:?}");
    assert_sound(&store).await;
}

async fn run_due(w: &World) -> usize {
    let mut ran = 0;
    for job in w.store.due_jobs(100).await.unwrap() {
        let mut tx = w.store.begin().await.unwrap();
        if tx.run_job(&job, &Policy::default()).await.unwrap() {
            ran += 1;
        }
        tx.commit().await.unwrap();
    }
    ran
}

async fn deadlines_fire_once(db: TestDb) {
    let w = world(&db, 10).await;
    let buyer = user(&w.store, "b@x.com").await;
    fund(&w.store, &buyer, 100_000).await;
    let unpaid = checkout(&w, &buyer, 1).await.unwrap();
    let unshipped = checkout(&w, &buyer, 2).await.unwrap();
    act(&w, &unshipped, Action::Pay).await.unwrap();
    let unconfirmed = checkout(&w, &buyer, 3).await.unwrap();
    act(&w, &unconfirmed, Action::Pay).await.unwrap();
    act(&w, &unconfirmed, Action::Ship).await.unwrap();
    assert_eq!(run_due(&w).await, 0, "nothing is due yet");

    w.clock.advance_ms(Policy::default().payment_window_ms + 1);
    assert_eq!(run_due(&w).await, 1);
    assert_eq!(w.store.order(&unpaid).await.unwrap().state.as_str(), "cancelled");
    assert_eq!(stock(&w.store, &w.sku).await, (5, 0), "the unpaid unit is released");
    assert_eq!(run_due(&w).await, 0, "a deadline runs once");

    w.clock.advance_ms(Policy::default().ship_by_ms);
    assert_eq!(run_due(&w).await, 1);
    let refunded = w.store.order(&unshipped).await.unwrap();
    assert_eq!(
        (refunded.state.as_str(), refunded.cancel_reason.as_deref()),
        ("cancelled", Some("not shipped by the ship-by deadline"))
    );
    assert_eq!(stock(&w.store, &w.sku).await, (7, 0), "refunded units are back on the shelf");
    assert_eq!(balance(&w.store, wallet(&buyer)).await, 100_000 - 3_000);

    w.clock.advance_ms(Policy::default().confirm_window_ms);
    assert_eq!(run_due(&w).await, 1);
    assert_eq!(w.store.order(&unconfirmed).await.unwrap().state.as_str(), "completed");
    assert_eq!(balance(&w.store, wallet(&w.seller)).await, 2_940);
    assert_sound(&w.store).await;
}

async fn the_last_units_go_to_exactly_as_many_buyers(db: TestDb) {
    let w = Arc::new(world(&db, 10).await);
    let mut buyers = Vec::new();
    for i in 0..200 {
        buyers.push(user(&w.store, &format!("b{i}@x.com")).await);
    }
    let tasks: Vec<_> = buyers
        .into_iter()
        .map(|b| {
            let w = w.clone();
            tokio::spawn(async move { checkout(&w, &b, 1).await })
        })
        .collect();
    let (mut sold, mut refused) = (0, 0);
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => sold += 1,
            Err(StoreError::Conflict { kind: Conflict::OutOfStock, .. }) => refused += 1,
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!((sold, refused), (10, 190));
    assert_eq!(stock(&w.store, &w.sku).await, (10, 10));
    let mut tx = w.store.begin().await.unwrap();
    let (orders,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM orders").fetch_one(tx.conn()).await.unwrap();
    assert_eq!(orders, 10);
}

async fn concurrent_payments_charge_once(db: TestDb) {
    let w = Arc::new(world(&db, 10).await);
    let buyer = user(&w.store, "b@x.com").await;
    fund(&w.store, &buyer, 10_000).await;
    let order = checkout(&w, &buyer, 1).await.unwrap();
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let (w, order) = (w.clone(), order.clone());
            tokio::spawn(async move { act(&w, &order, Action::Pay).await.is_ok() })
        })
        .collect();
    let mut paid = 0;
    for t in tasks {
        paid += usize::from(t.await.unwrap());
    }
    assert_eq!(paid, 1);
    assert_eq!(balance(&w.store, wallet(&buyer)).await, 9_000);
    assert_sound(&w.store).await;
}

/// Two stores over one database stand for two server processes: each due deadline takes effect
/// once, whichever runs it.
async fn two_processes_run_each_deadline_once(db: TestDb) {
    let w = world(&db, 50).await;
    let second = db.open(w.clock.clone()).await.unwrap();
    let buyer = user(&w.store, "b@x.com").await;
    let mut orders = Vec::new();
    for _ in 0..20 {
        orders.push(checkout(&w, &buyer, 1).await.unwrap());
    }
    w.clock.advance_ms(Policy::default().payment_window_ms + 1);
    let runner = |store: Store| {
        tokio::spawn(async move {
            let mut ran = 0;
            for job in store.due_jobs(100).await.unwrap() {
                let mut tx = store.begin().await.unwrap();
                if tx.run_job(&job, &Policy::default()).await.unwrap() {
                    ran += 1;
                }
                tx.commit().await.unwrap();
            }
            ran
        })
    };
    let (a, b) = (runner(w.store.clone()), runner(second.clone()));
    let total = a.await.unwrap() + b.await.unwrap();
    assert_eq!(total, 20, "every deadline ran, none twice");
    assert_eq!(stock(&w.store, &w.sku).await, (50, 0));
    let mut tx = w.store.begin().await.unwrap();
    let (cancelled,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM events WHERE type = 'order.cancelled' AND user_id = $1")
            .bind(&buyer)
            .fetch_one(tx.conn())
            .await
            .unwrap();
    assert_eq!(cancelled, 20);
}

/// A paid order shipped with the sandbox carrier under `tracking`, an hour after payment.
async fn shipped(w: &World, buyer: &str, tracking: &str) -> String {
    let order = checkout(w, buyer, 1).await.unwrap();
    act(w, &order, Action::Pay).await.unwrap();
    w.clock.advance_ms(HOUR_MS);
    let mut tx = w.store.begin().await.unwrap();
    tx.set_tracking(&order, "sandbox", tracking).await.unwrap();
    tx.act(&order, Action::Ship, &Policy::default()).await.unwrap();
    tx.commit().await.unwrap();
    order
}

fn scan(id: &str, tracking: &str, kind: EventType, at_ms: i64) -> CarrierEvent {
    CarrierEvent {
        carrier: "sandbox".into(),
        event_id: id.into(),
        tracking_number: tracking.into(),
        kind,
        occurred_at_ms: at_ms,
        location: None,
        description: None,
    }
}

async fn deliver_at(w: &World, order: &str, at_ms: i64) -> String {
    let mut tx = w.store.begin().await.unwrap();
    let view = tx.act_at(order, Action::Deliver, Some(at_ms), &Policy::default()).await.unwrap();
    tx.commit().await.unwrap();
    view.delivered_at.unwrap().to_string()
}

async fn carrier_events_deliver_at_the_scan_time_and_count_once(db: TestDb) {
    let w = world(&db, 10).await;
    let buyer = user(&w.store, "b@x.com").await;
    fund(&w.store, &buyer, 10_000).await;
    let order = shipped(&w, &buyer, "SBX-1").await;
    let shipped_at = w.clock.now_ms();

    let mut tx = w.store.begin().await.unwrap();
    let first = tx.record_carrier_event(&scan("e1", "SBX-1", EventType::PickedUp, shipped_at)).await.unwrap();
    assert_eq!(first, Some(vec![order.clone()]));
    let again = tx.record_carrier_event(&scan("e1", "SBX-1", EventType::PickedUp, shipped_at)).await.unwrap();
    assert_eq!(again, None, "the carrier's event id makes a repeat a no-op");
    let unknown = tx.record_carrier_event(&scan("e2", "SBX-404", EventType::InTransit, shipped_at)).await;
    assert!(matches!(unknown, Err(StoreError::NotFound)));
    tx.commit().await.unwrap();
    assert_eq!(w.store.tracking(&order).await.unwrap().len(), 1);

    // A scan dated before shipping (a carrier's clock off) counts as delivered at shipping.
    w.clock.advance_ms(2 * DAY_MS);
    let delivered = deliver_at(&w, &order, shipped_at - DAY_MS).await;
    assert_eq!(delivered, souk_domain::time::rfc3339(shipped_at));
    assert_sound(&w.store).await;
    // One dated in the future counts as now.
    let other = shipped(&w, &buyer, "SBX-2").await;
    assert_eq!(deliver_at(&w, &other, w.clock.now_ms() + DAY_MS).await, souk_domain::time::rfc3339(w.clock.now_ms()));
    let store_id = w.store.store_by_slug("seller").await.unwrap().id;
    let inputs = w.store.trust_inputs(std::slice::from_ref(&store_id)).await.unwrap().remove(&store_id).unwrap();
    assert_eq!((inputs.shipped_orders, inputs.shipped_on_time, inputs.delivered_orders), (2, 2, 2));
    assert_eq!(inputs.delivery_ms_sum, 0, "both clamped to their shipping time");
}

async fn reviews_move_ratings_and_trust_totals(db: TestDb) {
    let w = world(&db, 10).await;
    let buyer = user(&w.store, "b@x.com").await;
    fund(&w.store, &buyer, 10_000).await;
    let order = shipped(&w, &buyer, "SBX-9").await;
    act(&w, &order, Action::Confirm).await.unwrap();
    let draft = |position: i64, stars: i64| ReviewDraft {
        order_id: order.clone(),
        position,
        stars,
        described: 5,
        communication: 4,
        shipping: 3,
        text: "good".into(),
        images: vec![format!("/media/{}.png", "0f".repeat(32))],
    };
    let mut tx = w.store.begin().await.unwrap();
    let review = tx.create_review(&buyer, &draft(0, 4)).await.unwrap();
    assert_eq!(review.images, draft(0, 4).images, "the photos are kept with the review");
    assert!(matches!(
        tx.create_review(&buyer, &draft(0, 1)).await,
        Err(StoreError::Conflict { kind: Conflict::AlreadyReviewed, .. })
    ));
    assert!(matches!(tx.create_review(&buyer, &draft(7, 1)).await, Err(StoreError::Invalid(_))));
    tx.reply_to_review(&review.id, "thanks").await.unwrap();
    assert!(matches!(
        tx.reply_to_review(&review.id, "again").await,
        Err(StoreError::Conflict { kind: Conflict::AlreadyReplied, .. })
    ));
    tx.commit().await.unwrap();

    let store_id = w.store.store_by_slug("seller").await.unwrap().id;
    let summary = w.store.rating_summary(ReviewScope::Store(&store_id)).await.unwrap();
    assert_eq!((summary.count, summary.average, summary.histogram), (1, Some(4.0), [0, 0, 0, 1, 0]));
    let page = w.store.reviews(ReviewScope::Product(&review.product_id), None, 10).await.unwrap();
    assert_eq!(page.items[0].reply.as_deref(), Some("thanks"));
    let inputs = w.store.trust_inputs(std::slice::from_ref(&store_id)).await.unwrap().remove(&store_id).unwrap();
    assert_eq!((inputs.completed_orders, inputs.reviews, inputs.stars_sum), (1, 1, 4));
    assert_eq!((inputs.described_sum, inputs.communication_sum, inputs.shipping_sum), (5, 4, 3));
}
