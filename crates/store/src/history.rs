//! A synthetic order history written in bulk, for measuring the marketplace as it will be
//! after years of trade (`souk bench orders --past-orders`): set-based statements that write
//! 20,000 orders with their lines, transfers, deadlines and events a transaction, the books
//! sound throughout.

use crate::{Store, StoreError};
use souk_domain::order::Policy;
use std::collections::HashMap;

/// A product the history sells: one SKU, priced in CNY minor units.
pub struct Listed {
    pub product_id: String,
    pub sku_id: String,
    pub store_id: String,
    pub seller_id: String,
    pub title: String,
    pub price: i64,
}

/// Orders a history transaction writes.
const FILL_CHUNK: u64 = 20_000;
/// A day, in ms: past orders are spread over the days before now.
const DAY: i64 = 86_400_000;

/// Writes a marketplace's history in bulk: `past` completed orders (paid, shipped, delivered,
/// confirmed: their payment, release and commission transfers, their done deadlines, their
/// events with the emails marked sent) and then `open` paid orders awaiting shipment (their
/// payment in escrow, their ship-by deadline and its reminder pending), spread over the market's
/// buyers and products, 20,000 orders a transaction. The books stay sound: wallets, revenue and
/// stock move by exactly what the transfers and lines say. Ids are made to sort before every id
/// the running marketplace makes (`<kind>_00…`), so that the history is the past. `from` is the
/// number of history orders already written (a fill resumed or extended).
pub async fn fill_history(
    store: &Store,
    buyers: &[String],
    products: &[Listed],
    (from, past, open): (u64, u64, u64),
    policy: &Policy,
    mut progress: impl FnMut(u64),
) -> Result<(), StoreError> {
    let now = store.now_ms();
    let mut start = from;
    while start < past + open {
        let end = (start + FILL_CHUNK).min(past + open);
        fill_chunk(store, (buyers, products), (start, end), (past, past + open), now, policy).await?;
        progress(end);
        start = end;
    }
    Ok(())
}

/// How many history orders the database holds (their ids sort before every other order's).
pub async fn history_len(store: &Store) -> Result<u64, StoreError> {
    let mut conn = store.reader().await?;
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM orders WHERE id < 'ord_01'").fetch_one(&mut *conn).await?;
    Ok(n.max(0) as u64)
}

/// `<digits>` zero-padded to `width`, in SQL both backends read.
fn padded(expr: &str, width: usize) -> String {
    let zeros = "0".repeat(width);
    format!("substr('{zeros}' || CAST({expr} AS TEXT), length(CAST({expr} AS TEXT)) + 1)")
}

/// A history id of `kind` (its prefix) and `variant` (one digit) for order `i`.
fn history_id(prefix: &str, variant: u8) -> String {
    format!("'{prefix}_00{variant}' || {}", padded("n.i", 23))
}

/// Orders `start..end` of a history of `past` completed orders among `total`.
async fn fill_chunk(
    store: &Store,
    (buyer_ids, listed): (&[String], &[Listed]),
    (start, end): (u64, u64),
    (past, total): (u64, u64),
    now: i64,
    policy: &Policy,
) -> Result<(), StoreError> {
    let (buyers, products) = (buyer_ids.len() as u64, listed.len() as u64);
    let bps = policy.commission_bps_for(Some("home/kitchen"));
    let mut tx = store.begin().await?;
    let conn = tx.conn();
    for ddl in [
        "CREATE TEMP TABLE fill_buyers (n BIGINT PRIMARY KEY, user_id TEXT NOT NULL)",
        "CREATE TEMP TABLE fill_items (n BIGINT PRIMARY KEY, sku_id TEXT NOT NULL, product_id TEXT NOT NULL, \
         store_id TEXT NOT NULL, seller_id TEXT NOT NULL, title TEXT NOT NULL, price BIGINT NOT NULL, \
         commission BIGINT NOT NULL)",
    ] {
        sqlx::query(ddl).execute(&mut *conn).await?;
    }
    for (n, b) in buyer_ids.iter().enumerate() {
        sqlx::query("INSERT INTO fill_buyers (n, user_id) VALUES ($1, $2)")
            .bind(n as i64)
            .bind(b)
            .execute(&mut *conn)
            .await?;
    }
    for (n, p) in listed.iter().enumerate() {
        sqlx::query(
            "INSERT INTO fill_items (n, sku_id, product_id, store_id, seller_id, title, price, commission) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(n as i64)
        .bind(&p.sku_id)
        .bind(&p.product_id)
        .bind(&p.store_id)
        .bind(&p.seller_id)
        .bind(&p.title)
        .bind(p.price)
        .bind(p.price * bps / 10_000)
        .execute(&mut *conn)
        .await?;
    }
    // The chunk's orders, numbered `i`: past ones completed, 30 s apart, up to two days ago;
    // the open ones paid within the last day, so that none of their deadlines is due yet.
    let open_spacing = (DAY / (total - past).max(1) as i64).max(1);
    let rows = format!(
        "WITH RECURSIVE n(i) AS (SELECT CAST($1 AS BIGINT) UNION ALL SELECT i + 1 FROM n WHERE i + 1 < $2) \
         SELECT n.i, b.user_id AS buyer, s.*, \
                CASE WHEN n.i < {past} THEN {now} - 2 * {DAY} - ({past} - n.i) * 30000 \
                     ELSE {now} - ({total} - n.i) * {open_spacing} END AS t, \
                CASE WHEN n.i < {past} THEN 1 ELSE 0 END AS done \
         FROM n JOIN fill_buyers b ON b.n = n.i % {buyers} JOIN fill_items s ON s.n = n.i % {products}"
    );
    let order = history_id("ord", 0);
    let statements = [
        format!(
            "INSERT INTO orders (id, checkout_id, buyer_id, store_id, seller_id, currency, total, commission, state, \
             ship_country, carrier, tracking_number, created_at, updated_at, paid_at, shipped_at, delivered_at, completed_at) \
             SELECT {order}, {}, buyer, store_id, seller_id, 'CNY', price, commission, \
                    CASE WHEN done = 1 THEN 'completed' ELSE 'paid' END, 'DE', \
                    CASE WHEN done = 1 THEN 'other' END, CASE WHEN done = 1 THEN 'HIST-' || CAST(i AS TEXT) END, \
                    t, t, t, CASE WHEN done = 1 THEN t + 3600000 END, CASE WHEN done = 1 THEN t + {DAY} END, \
                    CASE WHEN done = 1 THEN t + 2 * {DAY} END \
             FROM ({rows}) n",
            history_id("chk", 0)
        ),
        format!(
            "INSERT INTO order_lines (order_id, position, sku_id, product_id, title, quantity, unit_price, commission_bps) \
             SELECT {order}, 0, sku_id, product_id, title, 1, price, {bps} FROM ({rows}) n"
        ),
        format!(
            "INSERT INTO ledger_accounts (key, kind, owner, currency, balance) \
             SELECT 'escrow:' || {order} || ':CNY', 'escrow', {order}, 'CNY', CASE WHEN done = 1 THEN 0 ELSE price END \
             FROM ({rows}) n"
        ),
        // The payment, then (for past orders) the seller's share and the commission.
        format!(
            "INSERT INTO ledger_transfers (id, debit_account, credit_account, amount, currency, kind, order_id, created_at) \
             SELECT {}, 'wallet:' || buyer || ':CNY', 'escrow:' || {order} || ':CNY', price, 'CNY', 'payment', {order}, t \
             FROM ({rows}) n",
            history_id("trf", 1)
        ),
        format!(
            "INSERT INTO ledger_transfers (id, debit_account, credit_account, amount, currency, kind, order_id, created_at) \
             SELECT {}, 'escrow:' || {order} || ':CNY', 'wallet:' || seller_id || ':CNY', price - commission, 'CNY', \
                    'release', {order}, t + 2 * {DAY} FROM ({rows}) n WHERE done = 1",
            history_id("trf", 2)
        ),
        format!(
            "INSERT INTO ledger_transfers (id, debit_account, credit_account, amount, currency, kind, order_id, created_at) \
             SELECT {}, 'escrow:' || {order} || ':CNY', 'revenue:CNY', commission, 'CNY', 'commission', {order}, \
                    t + 2 * {DAY} FROM ({rows}) n WHERE done = 1 AND commission > 0",
            history_id("trf", 3)
        ),
        // Deadlines: done for past orders, ship-by and its reminder pending for open ones.
        format!(
            "INSERT INTO jobs (id, kind, order_id, due_at, state) \
             SELECT {}, 'ship_by', {order}, t + {}, CASE WHEN done = 1 THEN 'done' ELSE 'pending' END FROM ({rows}) n",
            history_id("job", 1),
            policy.ship_by_ms
        ),
        format!(
            "INSERT INTO jobs (id, kind, order_id, due_at, state) \
             SELECT {}, 'ship_by_reminder', {order}, t + {} - {DAY}, CASE WHEN done = 1 THEN 'done' ELSE 'pending' END \
             FROM ({rows}) n",
            history_id("job", 2),
            policy.ship_by_ms
        ),
        format!(
            "INSERT INTO jobs (id, kind, order_id, due_at, state) \
             SELECT {}, 'confirm_by', {order}, t + 3600000 + {}, 'done' FROM ({rows}) n WHERE done = 1",
            history_id("job", 3),
            policy.confirm_window_ms
        ),
        // Events to buyer and seller: paid, and completed for past orders.
        format!(
            "INSERT INTO events (id, user_id, type, order_id, payload, created_at) \
             SELECT {}, buyer, 'order.paid', {order}, '{{}}', t FROM ({rows}) n",
            history_id("evt", 1)
        ),
        format!(
            "INSERT INTO events (id, user_id, type, order_id, payload, created_at) \
             SELECT {}, seller_id, 'order.paid', {order}, '{{}}', t FROM ({rows}) n",
            history_id("evt", 1)
        ),
        format!(
            "INSERT INTO events (id, user_id, type, order_id, payload, created_at) \
             SELECT {}, buyer, 'order.completed', {order}, '{{}}', t + 2 * {DAY} FROM ({rows}) n WHERE done = 1",
            history_id("evt", 2)
        ),
        format!(
            "INSERT INTO events (id, user_id, type, order_id, payload, created_at) \
             SELECT {}, seller_id, 'order.completed', {order}, '{{}}', t + 2 * {DAY} FROM ({rows}) n WHERE done = 1",
            history_id("evt", 2)
        ),
    ];
    // Balances move by exactly what the transfers say (their accounts made first, as the
    // transfers name them); stock by the units sold.
    let mut wallets: HashMap<String, i64> = HashMap::new();
    let (mut revenue, mut sold) = (0i64, HashMap::<&str, i64>::new());
    for i in start..end {
        let item = &listed[(i % products) as usize];
        let commission = item.price * bps / 10_000;
        *wallets.entry(format!("wallet:{}:CNY", buyer_ids[(i % buyers) as usize])).or_default() -= item.price;
        if i < past {
            *wallets.entry(format!("wallet:{}:CNY", item.seller_id)).or_default() += item.price - commission;
            revenue += commission;
        }
        *sold.entry(item.sku_id.as_str()).or_default() += 1;
    }
    for key in wallets.keys().chain(std::iter::once(&"revenue:CNY".to_string())) {
        let (kind, owner) = match key.split(':').collect::<Vec<_>>()[..] {
            ["revenue", _] => ("revenue", "platform".to_string()),
            [_, owner, _] => ("wallet", owner.to_string()),
            _ => continue,
        };
        sqlx::query(
            "INSERT INTO ledger_accounts (key, kind, owner, currency, balance) VALUES ($1, $2, $3, 'CNY', 0) \
             ON CONFLICT (key) DO NOTHING",
        )
        .bind(key)
        .bind(kind)
        .bind(owner)
        .execute(&mut *conn)
        .await?;
    }
    let email_before: i64 = sqlx::query_scalar("SELECT CAST(COALESCE(MAX(id), 0) AS BIGINT) FROM email_outbox")
        .fetch_one(&mut *conn)
        .await?;
    for sql in &statements {
        sqlx::query(sql).bind(start as i64).bind(end as i64).execute(&mut *conn).await?;
    }
    // The history's emails went out when it happened.
    sqlx::query("UPDATE email_outbox SET state = 'sent', sent_at = created_at WHERE id > $1")
        .bind(email_before)
        .execute(&mut *conn)
        .await?;
    for (key, delta) in wallets.iter().chain(std::iter::once((&"revenue:CNY".to_string(), &revenue))) {
        sqlx::query("UPDATE ledger_accounts SET balance = balance + $1 WHERE key = $2")
            .bind(*delta)
            .bind(key)
            .execute(&mut *conn)
            .await?;
    }
    for (sku, units) in sold {
        sqlx::query("UPDATE stock SET on_hand = on_hand - $1 WHERE sku_id = $2")
            .bind(units)
            .bind(sku)
            .execute(&mut *conn)
            .await?;
    }
    sqlx::query("DROP TABLE fill_buyers").execute(&mut *conn).await?;
    sqlx::query("DROP TABLE fill_items").execute(&mut *conn).await?;
    tx.commit().await
}
