//! Writing flash orders out in full. The order engine's commit leaves each paid order as a
//! journal row (`flash_orders`), which records its payment's posting: the buyer's wallet into
//! the promotion's escrow. Here each becomes an order like any other (order, line, the payment's
//! transfer, its move on into the order's own escrow, ship-by deadline, `order.paid` events for
//! both parties and so their emails and webhooks) and leaves the journal, a chunk per
//! transaction. Keeping this off the buy path is what lets a batch's
//! commit stay a few rows per order.

use crate::bulk::{field, Filler};
use crate::ledger::{Entry, Record};
use crate::{Backend, Conflict, Result, Store, StoreError, Tx};
use serde_json::{json, Value};
use souk_domain::id::Kind;
use souk_domain::ledger::Posting;
use souk_domain::order::{Line, Policy};
use souk_domain::{Invalid, Money};
use sqlx::Row;
use std::collections::BTreeMap;

/// Which journal rows to write out.
#[derive(Debug, Clone, Copy)]
pub enum Pending<'a> {
    /// Up to this many, oldest first.
    Oldest(usize),
    /// This order, if it is still in the journal.
    Order(&'a str),
}

/// A journal row: order, promotion, buyer, quantity, unit price, currency, country, time,
/// payment transfer.
type JournalRow = (String, String, String, i64, i64, String, String, i64, String);

impl Store {
    /// Writes out pending flash orders in one transaction; how many it wrote. Two writers
    /// never write the same order: on PostgreSQL each skips rows another has locked, and on
    /// SQLite the write lock serialises them.
    pub async fn write_out_flash(&self, which: Pending<'_>, policy: &Policy) -> Result<usize> {
        let mut tx = self.begin().await?;
        let n = tx.write_out_flash(which, policy).await?;
        tx.commit().await?;
        Ok(n)
    }

    /// Writes out every pending flash order, a chunk at a time, and returns once none is left
    /// (waiting for those another writer holds); how many it wrote itself.
    pub async fn write_out_all_flash(&self, policy: &Policy) -> Result<usize> {
        let mut total = 0;
        loop {
            // A drain runs while no engine decides (at start, after a bench): larger chunks
            // spread each commit over more orders.
            match self.write_out_flash(Pending::Oldest(WRITE_OUT_CHUNK * 8), policy).await? {
                0 if self.flash_pending().await? == 0 => return Ok(total),
                0 => tokio::time::sleep(std::time::Duration::from_millis(10)).await,
                n => total += n,
            }
        }
    }

    /// Flash orders committed but not yet written out.
    pub async fn flash_pending(&self) -> Result<i64> {
        let row = sqlx::query("SELECT COUNT(*) FROM flash_orders").fetch_one(&mut *self.reader().await?).await?;
        Ok(row.try_get(0)?)
    }

    /// Whether `order_id` is a flash order still waiting to be written out.
    pub async fn flash_order_pending(&self, order_id: &str) -> Result<bool> {
        let row = sqlx::query("SELECT 1 FROM flash_orders WHERE order_id = $1")
            .bind(order_id)
            .fetch_optional(&mut *self.reader().await?)
            .await?;
        Ok(row.is_some())
    }
}

/// Orders per write-out transaction: small enough that the engine, which shares SQLite's one
/// writer, never waits long behind one.
pub const WRITE_OUT_CHUNK: usize = 256;

impl Tx {
    async fn write_out_flash(&mut self, which: Pending<'_>, policy: &Policy) -> Result<usize> {
        // Both by the key: the oldest after '' (every id), or the one asked for.
        let (condition, arg, limit) = match which {
            Pending::Oldest(n) => ("order_id > $1", "", n.max(1)),
            Pending::Order(id) => ("order_id = $1", id, 1),
        };
        let lock = match self.store().backend() {
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let sql = format!(
            "SELECT {} FROM (SELECT order_id, promotion_id, buyer_id, quantity, unit_price, currency, ship_country, \
             created_at, transfer_id FROM flash_orders WHERE {condition} ORDER BY order_id LIMIT {limit}{lock}) f",
            self.json_agg(&[
                "f.order_id",
                "f.promotion_id",
                "f.buyer_id",
                "f.quantity",
                "f.unit_price",
                "f.currency",
                "f.ship_country",
                "f.created_at",
                "f.transfer_id"
            ])
        );
        let rows: Vec<JournalRow> = self.fetch_json(&sql, arg).await?;
        if rows.is_empty() {
            return Ok(0);
        }
        let ids: Vec<Value> = rows.iter().map(|r| json!([r.0])).collect();
        let sql = |v: &str| format!("DELETE FROM flash_orders WHERE order_id IN (SELECT {} FROM {v})", field(0));
        if self.execute_rows(sql, &ids, Filler::MatchesNothing).await? != rows.len() as u64 {
            return Err(StoreError::Conflict {
                kind: Conflict::FlashMoved,
                message: "another process wrote these flash orders out".into(),
            });
        }
        let mut promos: Vec<&str> = rows.iter().map(|r| r.1.as_str()).collect();
        promos.sort_unstable();
        promos.dedup();
        let (_, meta) = self.promotion_rows(&promos, false).await?;
        let now = self.store().now_ms();
        let (mut orders, mut lines, mut payments, mut allocations, mut jobs, mut events) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let mut purchases: BTreeMap<&str, i64> = BTreeMap::new();
        let mut counts: BTreeMap<(&str, &str), i64> = BTreeMap::new();
        let mut woken = Vec::new();
        for (order_id, promotion_id, buyer_id, quantity, unit_price, code, country, created_at, transfer_id) in &rows {
            let m = meta
                .get(promotion_id)
                .ok_or_else(|| StoreError::broken(format!("flash order {order_id}: no promotion {promotion_id}")))?;
            let currency = crate::currency(code)?;
            let line = Line {
                sku_id: m.sku_id.clone(),
                quantity: *quantity,
                unit_price: Money::new(*unit_price, currency),
                commission_bps: policy.commission_bps_for(m.category.as_deref()),
            };
            let total = line.total().ok_or_else(|| Invalid::new("out_of_range", "quantity", "too large"))?;
            let commission = line.commission().unwrap_or(0);
            orders.push(json!([
                order_id,
                self.store().new_id(Kind::Checkout),
                buyer_id,
                m.store_id,
                m.seller_id,
                code,
                total,
                commission,
                country,
                created_at,
                promotion_id
            ]));
            lines.push(json!([order_id, m.sku_id, m.product_id, m.title, quantity, unit_price, line.commission_bps]));
            // The journal row recorded the payment into the promotion's escrow: it becomes that
            // transfer, and the money moves on into the order's own escrow.
            let paid = Money::new(total, currency);
            let posting = Posting::flash_payment(buyer_id, promotion_id, paid);
            let at = Some(*created_at);
            payments.push(Entry {
                posting,
                id: Some(transfer_id.as_str()),
                order_id: Some(order_id),
                reference: None,
                at,
            });
            let posting = Posting::flash_allocation(promotion_id, order_id, paid);
            allocations.push(Entry { posting, id: None, order_id: Some(order_id), reference: None, at: None });
            jobs.push(json!([self.store().new_id(Kind::Job), order_id, created_at + policy.ship_by_ms]));
            let payload = json!({"order_id": order_id, "state": "paid", "total": Money::new(total, currency),
                                 "promotion_id": promotion_id})
            .to_string();
            let event_id = self.store().new_id(Kind::Event);
            for user in [buyer_id, &m.seller_id] {
                events.push(json!([event_id, user, order_id, payload, now]));
                woken.push(user.clone());
            }
            *purchases.entry(&m.product_id).or_default() += 1;
            *counts.entry((promotion_id, buyer_id)).or_default() += quantity;
        }
        let orders_cols = [
            "id",
            "checkout_id",
            "buyer_id",
            "store_id",
            "seller_id",
            "currency",
            "total",
            "commission",
            "ship_country",
            "created_at",
            "promotion_id",
        ];
        let paid = [("state", "'paid'"), ("updated_at", "created_at"), ("paid_at", "created_at")];
        self.insert_rows("orders", &orders_cols, &paid, &orders).await?;
        let line_cols = ["order_id", "sku_id", "product_id", "title", "quantity", "unit_price", "commission_bps"];
        self.insert_rows("order_lines", &line_cols, &[("position", "0")], &lines).await?;
        self.post(&payments, Record::FromJournal).await?;
        self.post(&allocations, Record::Transfers).await.map_err(|e| match e {
            StoreError::Conflict { kind: Conflict::InsufficientFunds, message } => {
                StoreError::broken(format!("a promotion's escrow holds less than its orders: {message}"))
            }
            e => e,
        })?;
        let job_cols = ["id", "order_id", "due_at"];
        self.insert_rows("jobs", &job_cols, &[("kind", "'ship_by'"), ("state", "'pending'")], &jobs).await?;
        let event_cols = ["id", "user_id", "order_id", "payload", "created_at"];
        self.insert_rows("events", &event_cols, &[("type", "'order.paid'")], &events).await?;
        self.woken.extend(woken);
        let stats: Vec<Value> = purchases.iter().map(|(p, n)| json!([p, n])).collect();
        let sql = |v: &str| {
            format!(
                "INSERT INTO product_stats (product_id, purchases) SELECT {}, {} FROM {v} WHERE true \
                 ON CONFLICT (product_id) DO UPDATE SET purchases = product_stats.purchases + excluded.purchases",
                field(0),
                field(1)
            )
        };
        self.execute_rows(sql, &stats, Filler::LeftOut).await?;
        // The buyers' counts move from the journal to `promotion_buyers`; their sum stays.
        let counts: Vec<Value> = counts.iter().map(|((p, b), n)| json!([p, b, n])).collect();
        // `WHERE true` lets SQLite read the ON CONFLICT after a SELECT.
        let sql = |v: &str| {
            format!(
                "INSERT INTO promotion_buyers (promotion_id, buyer_id, quantity) SELECT {}, {}, {} FROM {v} WHERE true \
                 ON CONFLICT (promotion_id, buyer_id) DO UPDATE SET quantity = promotion_buyers.quantity + excluded.quantity",
                field(0),
                field(1),
                field(2)
            )
        };
        self.execute_rows(sql, &counts, Filler::LeftOut).await?;
        Ok(rows.len())
    }
}
