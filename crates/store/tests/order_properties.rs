//! Random sequences of checkouts, payments, cancels, shipments, confirmations, extensions,
//! clock moves, deadline runs and retried actions, on a real database. After every step the
//! books are sound (balanced per currency, no negative wallet, escrow = what orders hold) and
//! stock = initial − sold − reserved. Proptest prints the failing sequence.

use proptest::prelude::*;
use souk_domain::account::StoreInput;
use souk_domain::catalog::ProductInput;
use souk_domain::checkout::Item;
use souk_domain::clock::ManualClock;
use souk_domain::dispute::{Outcome, Reason, Step};
use souk_domain::order::{Action, Policy};
use souk_domain::time::HOUR_MS;
use souk_domain::Money;
use souk_store::disputes::{Actor, Evidence};
use souk_store::testing::{TestBackend, TestDb};
use souk_store::Store;
use std::sync::Arc;

const STOCK: i64 = 5;

#[derive(Debug, Clone)]
enum Op {
    Checkout {
        buyer: usize,
        sku: usize,
        qty: i64,
    },
    Act {
        order: usize,
        action: usize,
    },
    Advance {
        hours: i64,
    },
    RunJobs,
    /// The buyer disputes an order.
    Dispute {
        order: usize,
        reason: usize,
    },
    /// A step of an order's dispute; `permille` sizes a partial refund.
    DisputeStep {
        order: usize,
        step: usize,
        permille: i64,
    },
    /// The previous step again, as a client retry would send it.
    Retry,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0usize..3, 0usize..2, 1i64..4).prop_map(|(buyer, sku, qty)| Op::Checkout { buyer, sku, qty }),
        5 => (0usize..12, 0usize..7).prop_map(|(order, action)| Op::Act { order, action }),
        1 => (1i64..300).prop_map(|hours| Op::Advance { hours }),
        1 => Just(Op::RunJobs),
        2 => (0usize..12, 0usize..5).prop_map(|(order, reason)| Op::Dispute { order, reason }),
        4 => (0usize..12, 0usize..8, 1i64..1000).prop_map(|(order, step, permille)| Op::DisputeStep { order, step, permille }),
        1 => Just(Op::Retry),
    ]
}

const ACTIONS: [Action; 7] = [
    Action::Pay,
    Action::BuyerCancel,
    Action::SellerCancel,
    Action::Ship,
    Action::Confirm,
    Action::ExtendConfirmation,
    Action::Pay,
];

struct World {
    store: Store,
    clock: Arc<ManualClock>,
    buyers: Vec<String>,
    skus: Vec<String>,
    orders: Vec<String>,
    /// Orders disputed so far: dispute steps pick among them.
    disputed: Vec<String>,
}

async fn world(db: &TestDb) -> World {
    let clock = Arc::new(ManualClock::new(1_790_000_000_000));
    let store = db.open(clock.clone()).await.unwrap();
    let mut tx = store.begin().await.unwrap();
    let seller = tx.create_user("s@x.com", "s@x.com", "h", "s").await.unwrap();
    let draft = StoreInput {
        name: "S".into(),
        slug: "shop".into(),
        country: "US".into(),
        currency: "USD".into(),
        description: String::new(),
    };
    let shop = tx.create_store(&seller.id, &draft.validate().unwrap()).await.unwrap();
    let mut skus = Vec::new();
    for price in [999, 1_499] {
        let input: ProductInput = serde_json::from_value(serde_json::json!({
            "title": format!("Item {price}"), "ships_to": ["*"],
            "skus": [{"price": {"amount": price, "currency": "USD"}, "stock": STOCK}]
        }))
        .unwrap();
        skus.push(tx.create_product(&shop.id, &input.validate().unwrap()).await.unwrap().skus[0].id.clone());
    }
    let mut buyers = Vec::new();
    for (i, funds) in [2_000i64, 6_000, 50_000].into_iter().enumerate() {
        let b = tx.create_user(&format!("b{i}@x.com"), &format!("b{i}@x.com"), "h", "b").await.unwrap();
        let usd = souk_domain::Currency::from_code("USD").unwrap();
        let t = tx.create_top_up(&b.id, Money::new(funds, usd), "sandbox", "4242").await.unwrap();
        tx.settle_top_up(&t.id, true, None).await.unwrap();
        buyers.push(b.id);
    }
    tx.commit().await.unwrap();
    World { store, clock, buyers, skus, orders: Vec::new(), disputed: Vec::new() }
}

async fn step(w: &mut World, op: &Op) {
    let policy = Policy::default();
    match op {
        Op::Checkout { buyer, sku, qty } => {
            let mut tx = w.store.begin().await.unwrap();
            let items = [Item { sku_id: w.skus[*sku].clone(), quantity: *qty }];
            if let Ok((_, orders)) = tx.checkout(&w.buyers[*buyer], "US", &items, &policy).await {
                tx.commit().await.unwrap();
                w.orders.push(orders[0].id.clone());
            }
        }
        Op::Act { order, action } => {
            if w.orders.is_empty() {
                return;
            }
            let id = w.orders[order % w.orders.len()].clone();
            let mut tx = w.store.begin().await.unwrap();
            if tx.act(&id, ACTIONS[*action], &policy).await.is_ok() {
                tx.commit().await.unwrap();
            }
        }
        Op::Advance { hours } => w.clock.advance_ms(hours * HOUR_MS),
        Op::RunJobs => {
            for job in w.store.due_jobs(100).await.unwrap() {
                let mut tx = w.store.begin().await.unwrap();
                tx.run_job(&job, &policy).await.unwrap();
                tx.commit().await.unwrap();
            }
        }
        Op::Dispute { order, reason } => {
            if w.orders.is_empty() {
                return;
            }
            let id = w.orders[order % w.orders.len()].clone();
            // Pay first if need be, as a buyer who then disputes would.
            let mut tx = w.store.begin().await.unwrap();
            if tx.act(&id, Action::Pay, &policy).await.is_ok() {
                tx.commit().await.unwrap();
            } else {
                drop(tx);
            }
            let mut tx = w.store.begin().await.unwrap();
            let evidence = Evidence::default();
            if tx.open_dispute(&id, Reason::ALL[*reason], "broken", &evidence, &policy).await.is_ok() {
                tx.commit().await.unwrap();
                w.disputed.push(id);
            }
        }
        Op::DisputeStep { order, step, permille } => {
            if w.disputed.is_empty() {
                return;
            }
            let id = w.disputed[order % w.disputed.len()].clone();
            let Ok(d) = w.store.dispute_of_order(&id).await else { return };
            let partial = (d.rules.total * permille / 1000).max(1);
            let step = [
                Step::SellerRefunds,
                Step::SellerOffersPartial(partial),
                Step::BuyerAccepts,
                Step::SellerRejects,
                Step::BuyerEscalates,
                Step::Decide(Outcome::Release),
                Step::Decide(Outcome::Refund),
                Step::Decide(Outcome::PartialRefund(partial)),
            ][*step];
            let mut tx = w.store.begin().await.unwrap();
            let note = Evidence { text: "step".into(), images: Vec::new() };
            if tx.dispute_step(&d.view.id, step, &Actor::System, &note, None, &policy).await.is_ok() {
                tx.commit().await.unwrap();
            }
        }
        Op::Retry => {}
    }
}

/// Units of `sku` on order lines of orders in the given states (an SQL list of literals).
async fn units_in(tx: &mut souk_store::Tx, sku: &str, states: &str) -> i64 {
    let sql = format!(
        "SELECT CAST(COALESCE(SUM(l.quantity), 0) AS BIGINT) FROM order_lines l JOIN orders o ON o.id = l.order_id \
         WHERE l.sku_id = $1 AND o.state IN ({states})"
    );
    let (units,): (i64,) = sqlx::query_as(&sql).bind(sku).fetch_one(tx.conn()).await.unwrap();
    units
}

async fn check(w: &World) -> Result<(), TestCaseError> {
    let report = w.store.ledger_check().await.unwrap();
    prop_assert!(report.sound, "{:?}", report.problems);
    let mut tx = w.store.begin().await.unwrap();
    for sku in &w.skus {
        let (on_hand, reserved): (i64, i64) = sqlx::query_as("SELECT on_hand, reserved FROM stock WHERE sku_id = $1")
            .bind(sku)
            .fetch_one(tx.conn())
            .await
            .unwrap();
        let pending = units_in(&mut tx, sku, "'pending_payment'").await;
        let sold = units_in(&mut tx, sku, "'paid', 'shipped', 'delivered', 'disputed', 'completed', 'refunded'").await;
        prop_assert_eq!(reserved, pending, "reserved = units of unpaid orders");
        prop_assert_eq!(on_hand, STOCK - sold, "on hand = initial − sold");
        prop_assert!(reserved <= on_hand);
    }
    Ok(())
}

fn run(backend: TestBackend, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async {
        let Some(db) = TestDb::new(backend).await else { return Ok(()) };
        let mut w = world(&db).await;
        let mut last: Option<Op> = None;
        for op in &ops {
            let effective = match op {
                Op::Retry => last.clone().unwrap_or(Op::RunJobs),
                other => other.clone(),
            };
            step(&mut w, &effective).await;
            check(&w).await?;
            last = Some(effective);
        }
        w.store.close().await;
        Ok(())
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn sqlite_orders_keep_the_books(ops in proptest::collection::vec(op(), 1..60)) {
        run(TestBackend::Sqlite, ops)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn postgres_orders_keep_the_books(ops in proptest::collection::vec(op(), 1..60)) {
        run(TestBackend::Postgres, ops)?;
    }
}
