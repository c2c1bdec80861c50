//! A synthetic order history written in bulk, for measuring the marketplace as it will be
//! after years of trade (`souk bench orders --past-orders`): set-based statements that write
//! 20,000 orders with their lines, transfers, deadlines and events a transaction, the books
//! sound throughout.

use crate::ledger::{Entry, Record};
use crate::{Store, StoreError, Tx};
use souk_domain::ledger::{Account, Posting, TransferKind};
use souk_domain::order::Policy;
use souk_domain::Money;
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
    // Stock moves by the units sold.
    let mut sold = HashMap::<&str, i64>::new();
    for i in start..end {
        *sold.entry(listed[(i % products) as usize].sku_id.as_str()).or_default() += 1;
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
    post_money(&mut tx, (buyer_ids, listed), (start, end), (past, total), now, bps).await?;
    let conn = tx.conn();
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

/// The money of orders `start..end`, through the ledger's one writer: each payment from the
/// buyer's wallet into the order's escrow and, for past orders, the seller's share and the
/// commission out of it, at the times the orders' rows say.
async fn post_money(
    tx: &mut Tx,
    (buyer_ids, listed): (&[String], &[Listed]),
    (start, end): (u64, u64),
    (past, total): (u64, u64),
    now: i64,
    bps: i64,
) -> Result<(), StoreError> {
    let cny = crate::currency("CNY")?;
    let open_spacing = (DAY / (total - past).max(1) as i64).max(1);
    let mut ids = Vec::with_capacity(((end - start) * 4) as usize);
    for i in start..end {
        ids.push([0, 1, 2, 3].map(|v| format!("{}_00{v}{i:023}", if v == 0 { "ord" } else { "trf" })));
    }
    let mut entries = Vec::with_capacity(ids.len() * 3);
    for (n, i) in (start..end).enumerate() {
        let [order, payment, release, commission_id] = &ids[n];
        let buyer = &buyer_ids[(i % buyer_ids.len() as u64) as usize];
        let item = &listed[(i % listed.len() as u64) as usize];
        let (price, commission) = (item.price, item.price * bps / 10_000);
        let done = i < past;
        let t = match done {
            true => now - 2 * DAY - (past - i) as i64 * 30_000,
            false => now - (total - i) as i64 * open_spacing,
        };
        let escrow = Account::Escrow { order_id: order.clone(), currency: cny };
        let wallet = |user_id: &str| Account::Wallet { user_id: user_id.to_string(), currency: cny };
        let money = |amount: i64| Money::new(amount, cny);
        let posting =
            Posting { from: wallet(buyer), to: escrow.clone(), amount: money(price), kind: TransferKind::Payment };
        entries.push(Entry { posting, id: Some(payment), order_id: Some(order), reference: None, at: Some(t) });
        if done {
            let at = Some(t + 2 * DAY);
            let (to, amount, kind) = (wallet(&item.seller_id), money(price - commission), TransferKind::Release);
            let posting = Posting { from: escrow.clone(), to, amount, kind };
            entries.push(Entry { posting, id: Some(release), order_id: Some(order), reference: None, at });
            if commission > 0 {
                let (to, amount, kind) =
                    (Account::Revenue { currency: cny }, money(commission), TransferKind::Commission);
                let posting = Posting { from: escrow, to, amount, kind };
                entries.push(Entry { posting, id: Some(commission_id), order_id: Some(order), reference: None, at });
            }
        }
    }
    tx.post(&entries, Record::Transfers).await
}
