use super::*;
use crate::seed::flash::{flash_sale, Sale, SaleSpec};
use proptest::prelude::*;
use souk_store::SystemClock;
use std::collections::HashMap;
use std::sync::Arc;

#[test]
fn the_engine_counts_as_busy_for_a_while_after_a_batch() {
    let fresh = Activity { last_batch_ms: Arc::new(AtomicU64::new(0)), started: std::time::Instant::now() };
    assert!(!fresh.busy(), "no batch yet");
    fresh.settled();
    assert!(fresh.busy());
    let past = std::time::Instant::now() - Duration::from_secs(10);
    let quiet = Activity { last_batch_ms: Arc::new(AtomicU64::new(1)), started: past };
    assert!(!quiet.busy(), "the last batch was 10 s ago");
}

/// A fresh SQLite store with one promotion (at 100 a unit) of `stock` units, one buyer for each
/// of `funds`, and an engine on it; the directory lives as long as the store is used.
async fn sale(
    stock: i64,
    limit: i64,
    funds: Vec<i64>,
    config: EngineConfig,
) -> (tempfile::TempDir, Store, Sale, Engine) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_sqlite(dir.path(), Arc::new(SystemClock)).await.unwrap();
    let spec = SaleSpec { tag: "t".into(), skus: 1, stock, per_buyer_limit: limit, price: 100, funds };
    let sale = flash_sale(&store, &spec).await.unwrap();
    let engine = Engine::start(store.clone(), Policy::default(), config);
    (dir, store, sale, engine)
}

/// A burst: (buyer, quantity) requests sent all at once.
async fn burst(stock: i64, limit: i64, funds: Vec<i64>, requests: Vec<(usize, i64)>, max_batch: usize) {
    let config = EngineConfig { max_batch, linger: Duration::from_micros(200), ..EngineConfig::default() };
    let (_dir, store, sale, engine) = sale(stock, limit, funds.clone(), config).await;
    let promo = sale.promotions[0].clone();
    let calls = requests.iter().map(|&(b, quantity)| {
        let b = b % funds.len();
        let buyer_id = sale.buyers[b].clone();
        let buy = FlashBuy { buyer_id, promotion_id: promo.clone(), quantity, country: "DE".into(), idempotency: None };
        let engine = engine.clone();
        async move { (b, quantity, engine.buy(buy).await) }
    });
    let (mut bought, mut accepted) = (vec![0; funds.len()], 0);
    for (b, quantity, answer) in futures_util::future::join_all(calls).await {
        match answer {
            Ok(Bought::Order(r)) => {
                assert_eq!((r.quantity, r.total.amount), (quantity, quantity * 100));
                bought[b] += quantity;
                accepted += 1;
            }
            Ok(Bought::Replay { .. }) => panic!("no keys were sent"),
            Err(e) => {
                assert!(["sold_out", "limit_reached", "insufficient_funds"].contains(&e.code.as_str()), "{e:?}")
            }
        }
    }
    let sold: i64 = bought.iter().sum();
    assert!(sold <= stock, "oversold: {sold} of {stock}");
    for (b, n) in bought.iter().enumerate() {
        assert!(*n <= limit, "buyer {b} bought {n}, limit {limit}");
        assert!(n * 100 <= funds[b], "buyer {b} spent {} of {}", n * 100, funds[b]);
    }
    let view = store.promotion(&promo).await.unwrap();
    assert_eq!(view.sold, sold, "the counter is the acknowledged units");
    assert_eq!(store.flash_oversold().await.unwrap(), 0);
    let books = store.ledger_check().await.unwrap();
    assert!(books.sound, "sound while orders wait in the journal: {:?}", books.problems);
    store.write_out_all_flash(&Policy::default()).await.unwrap();
    assert_eq!(store.flash_pending().await.unwrap(), 0);
    let mut conn = store.reader().await.unwrap();
    let sql = "SELECT COUNT(*), CAST(COALESCE(SUM(l.quantity), 0) AS BIGINT) FROM orders o \
               JOIN order_lines l ON l.order_id = o.id";
    let written: (i64, i64) = sqlx::query_as(sql).fetch_one(&mut *conn).await.unwrap();
    assert_eq!(written, (accepted, sold), "every acknowledged order written out once");
    // Each order's payment is a transfer into the promotion's escrow, and the escrow passed
    // every one on into its order's own: the promotion's escrow is empty.
    let sql = "SELECT kind, COUNT(*), CAST(SUM(amount) AS BIGINT) FROM ledger_transfers \
               WHERE kind IN ('payment', 'allocation') GROUP BY kind ORDER BY kind";
    let moved: Vec<(String, i64, i64)> = sqlx::query_as(sql).fetch_all(&mut *conn).await.unwrap();
    let paid = sold * 100;
    let expected = match accepted {
        0 => vec![],
        n => vec![("allocation".into(), n, paid), ("payment".into(), n, paid)],
    };
    assert_eq!(moved, expected);
    let sql = "SELECT CAST(COALESCE(SUM(balance), 0) AS BIGINT) FROM ledger_accounts WHERE owner = $1";
    let pool: i64 = sqlx::query_scalar(sql).bind(&promo).fetch_one(&mut *conn).await.unwrap();
    assert_eq!(pool, 0, "the promotion's escrow passed every payment on");
    drop(conn);
    assert_eq!(store.flash_oversold().await.unwrap(), 0);
    let books = store.ledger_check().await.unwrap();
    assert!(books.sound, "sound once written out: {:?}", books.problems);
    store.close().await;
}

/// Keyed buys sent while earlier batches are still being written, many of them repeating a
/// key of a batch in flight or already committed: one order per key, every repeat answered
/// with it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_keys_buy_once_while_batches_are_decided_ahead() {
    let config = EngineConfig { max_batch: 16, linger: Duration::from_micros(100), ..EngineConfig::default() };
    let (_dir, store, sale, engine) = sale(10_000, 10_000, vec![1_000_000; 8], config).await;
    let buy = |n: usize| {
        let buyer_id = sale.buyers[n % 8].clone();
        let idempotency = Some((buyer_id.clone(), format!("key-{n}"), format!("hash-{n}")));
        let buy = FlashBuy {
            buyer_id,
            promotion_id: sale.promotions[0].clone(),
            quantity: 1,
            country: "DE".into(),
            idempotency,
        };
        let engine = engine.clone();
        async move { (n, engine.buy(buy).await) }
    };
    let mut orders: HashMap<usize, String> = HashMap::new();
    let mut pending = Vec::new();
    for wave in 0..40usize {
        // New keys, and again those of the last two waves.
        let keys = (wave * 8..wave * 8 + 8).chain(wave.saturating_sub(2) * 8..wave * 8);
        pending.extend(keys.map(|n| tokio::spawn(buy(n))));
        tokio::time::sleep(Duration::from_micros(300)).await;
    }
    for task in pending {
        let (n, answer) = task.await.unwrap();
        let order_id = match answer.unwrap() {
            Bought::Order(r) => r.order_id,
            Bought::Replay { status, body } => {
                assert_eq!(status, 201);
                serde_json::from_str::<serde_json::Value>(&body).unwrap()["order_id"].as_str().unwrap().to_string()
            }
        };
        let first = orders.entry(n).or_insert_with(|| order_id.clone());
        assert_eq!(*first, order_id, "key-{n} answered with two orders");
    }
    assert_eq!(orders.len(), 320);
    assert_eq!(store.promotion(&sale.promotions[0]).await.unwrap().sold, 320, "one unit per key");
    store.write_out_all_flash(&Policy::default()).await.unwrap();
    let mut conn = store.reader().await.unwrap();
    let written: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM orders").fetch_one(&mut *conn).await.unwrap();
    assert_eq!(written, 320);
    drop(conn);
    store.close().await;
}

/// Once buys stop, the engine writes its committed orders out by itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quiet_engine_writes_its_orders_out() {
    let (_dir, store, sale, engine) = sale(10, 10, vec![5000], EngineConfig::default()).await;
    for _ in 0..3 {
        let buy = FlashBuy {
            buyer_id: sale.buyers[0].clone(),
            promotion_id: sale.promotions[0].clone(),
            quantity: 1,
            country: "DE".into(),
            idempotency: None,
        };
        assert!(matches!(engine.buy(buy).await, Ok(Bought::Order(_))));
    }
    let mut pending = store.flash_pending().await.unwrap();
    for _ in 0..200 {
        if pending == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
        pending = store.flash_pending().await.unwrap();
    }
    assert_eq!(pending, 0, "written out within 2 s of the last buy");
    let mut conn = store.reader().await.unwrap();
    let orders: (i64,) = sqlx::query_as("SELECT COUNT(*) FROM orders").fetch_one(&mut *conn).await.unwrap();
    assert_eq!(orders.0, 3);
    drop(conn);
    store.close().await;
}

/// The engine keeps its book from batch to batch, yet sees what moved elsewhere meanwhile:
/// a top-up (before refusing), a payout (the wallet's guard), a product taken off sale.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kept_book_sees_what_moved_elsewhere() {
    let (_dir, store, sale, engine) = sale(10, 10, vec![300, 2000], EngineConfig::default()).await;
    let buy = |b: usize, quantity: i64| {
        let buyer_id = sale.buyers[b].clone();
        let promotion_id = sale.promotions[0].clone();
        let engine = engine.clone();
        async move {
            let buy = FlashBuy { buyer_id, promotion_id, quantity, country: "DE".into(), idempotency: None };
            engine.buy(buy).await.map(|_| ()).map_err(|e| e.code)
        }
    };
    let cny = souk_domain::Currency::from_code("CNY").unwrap();
    let top_up = |b: usize, amount: i64| {
        let (store, user) = (store.clone(), sale.buyers[b].clone());
        async move {
            let mut tx = store.begin().await.unwrap();
            let t = tx.create_top_up(&user, Money::new(amount, cny), "sandbox", "4242").await.unwrap();
            tx.settle_top_up(&t.id, true, None).await.unwrap();
            tx.commit().await.unwrap();
        }
    };
    assert_eq!(buy(0, 3).await, Ok(()));
    assert_eq!(buy(0, 1).await, Err("insufficient_funds".to_string()));
    top_up(0, 200).await;
    assert_eq!(buy(0, 2).await, Ok(()), "the top-up is seen before refusing");

    assert_eq!(buy(1, 1).await, Ok(()));
    let mut tx = store.begin().await.unwrap();
    tx.payout(&sale.buyers[1], Money::new(1_850, cny), "sandbox", "bank").await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(buy(1, 1).await, Err("insufficient_funds".to_string()), "the payout is seen");
    assert_eq!(store.wallet(&sale.buyers[1]).await.unwrap()[0].available.amount, 50);

    top_up(1, 1_000).await;
    let product = store.promotion(&sale.promotions[0]).await.unwrap().product_id;
    let mut tx = store.begin().await.unwrap();
    let off_sale = souk_domain::catalog::ProductPatch {
        status: Some(souk_domain::catalog::ProductStatus::Archived),
        ..Default::default()
    };
    tx.update_product(&product, &off_sale).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(buy(1, 1).await, Err("not_found".to_string()), "off sale");

    assert_eq!(store.promotion(&sale.promotions[0]).await.unwrap().sold, 6);
    let books = store.ledger_check().await.unwrap();
    assert!(books.sound, "{:?}", books.problems);
    store.close().await;
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]
    /// Random concurrent bursts against random stock, limits and wallets, decided in
    /// random batch sizes: never oversold, never past a limit or a wallet, books sound.
    #[test]
    fn random_bursts_never_oversell(
        stock in 1i64..30,
        limit in 1i64..6,
        funds in prop::collection::vec(0i64..1_200, 1..7),
        requests in prop::collection::vec((0usize..7, 1i64..4), 1..60),
        max_batch in 1usize..48,
    ) {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        // A limit above the promotion's stock is refused when scheduling.
        rt.block_on(burst(stock, limit.min(stock), funds, requests, max_batch));
    }
}
