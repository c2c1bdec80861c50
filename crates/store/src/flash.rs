//! Flash sales in SQL: promotions, the book a batch of buy requests is decided against, and the
//! batch's writes. A batch writes each table with a few multi-row statements (group commit), and
//! every shared counter it moves (stock, promotion stock, per-buyer counts, wallets) is changed
//! by a guarded statement whose affected-row count is checked: if anything moved since the book
//! was read (another process, another path), the batch fails whole and nothing is written.

use crate::orders::sku_for_sale;
use crate::{Backend, Page, Result, Store, StoreError, Tx};
use serde_json::{json, Value};
use souk_domain::catalog::ProductStatus;
use souk_domain::flash::{self, Book, PromoBook, PromotionDraft};
use souk_domain::geo::ShipsTo;
use souk_domain::id::Kind;
use souk_domain::ledger::Account;
use souk_domain::order::{Line, Policy};
use souk_domain::time::rfc3339;
use souk_domain::{Currency, Invalid, Money};
use sqlx::any::AnyRow;
use sqlx::Row;
use std::collections::{BTreeMap, HashMap};

#[derive(Debug, Clone, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PromotionView {
    pub id: String,
    pub store_id: String,
    pub product_id: String,
    pub sku_id: String,
    pub title: String,
    pub starts_at: String,
    pub ends_at: String,
    /// The promotion price, per unit.
    pub price: Money,
    pub stock: i64,
    pub sold: i64,
    pub left: i64,
    pub per_buyer_limit: i64,
    /// scheduled, live, sold_out or ended.
    pub phase: String,
    /// Seconds until it starts (scheduled) or ends (live): the countdown.
    pub seconds_left: Option<i64>,
    pub created_at: String,
}

const COLUMNS: &str = "pr.id, pr.store_id, pr.product_id, pr.sku_id, p.title, pr.starts_at, pr.ends_at, pr.price, \
     pr.currency, pr.stock, pr.sold, pr.per_buyer_limit, pr.created_at";

fn currency(code: &str) -> Result<Currency> {
    Currency::from_code(code).ok_or_else(|| StoreError::Db(sqlx::Error::Protocol(format!("unknown currency {code}"))))
}

fn view(row: &AnyRow, now_ms: i64) -> Result<PromotionView> {
    let (starts, ends, stock, sold): (i64, i64, i64, i64) =
        (row.try_get(5)?, row.try_get(6)?, row.try_get(9)?, row.try_get(10)?);
    let (phase, left_ms) = flash::phase(starts, ends, stock, sold, now_ms);
    Ok(PromotionView {
        id: row.try_get(0)?,
        store_id: row.try_get(1)?,
        product_id: row.try_get(2)?,
        sku_id: row.try_get(3)?,
        title: row.try_get(4)?,
        starts_at: rfc3339(starts),
        ends_at: rfc3339(ends),
        price: Money::new(row.try_get(7)?, currency(&row.try_get::<String, _>(8)?)?),
        stock,
        sold,
        left: stock - sold,
        per_buyer_limit: row.try_get(11)?,
        phase: phase.as_str().to_string(),
        seconds_left: left_ms.map(|ms| (ms + 999) / 1000),
        created_at: rfc3339(row.try_get(12)?),
    })
}

/// Which promotions a listing shows.
pub struct PromotionFilter<'a> {
    pub store_id: Option<&'a str>,
    pub product_id: Option<&'a str>,
    /// Only those not yet ended.
    pub current: bool,
}

impl Store {
    pub async fn promotion(&self, id: &str) -> Result<PromotionView> {
        let sql =
            format!("SELECT {COLUMNS} FROM promotions pr JOIN products p ON p.id = pr.product_id WHERE pr.id = $1");
        let row =
            sqlx::query(&sql).bind(id).fetch_optional(&mut *self.reader().await?).await?.ok_or(StoreError::NotFound)?;
        view(&row, self.now_ms())
    }

    /// Units sold past promotions' stock, counted from the orders themselves: must be 0.
    pub async fn flash_oversold(&self) -> Result<i64> {
        let row = sqlx::query(
            "SELECT CAST(COALESCE(SUM(CASE WHEN t.q > t.stock THEN t.q - t.stock ELSE 0 END), 0) AS BIGINT) FROM \
             (SELECT pr.stock AS stock, (SELECT COALESCE(SUM(l.quantity), 0) FROM orders o \
              JOIN order_lines l ON l.order_id = o.id WHERE o.promotion_id = pr.id) AS q FROM promotions pr) t",
        )
        .fetch_one(&mut *self.reader().await?)
        .await?;
        Ok(row.try_get(0)?)
    }

    /// Promotions, newest first.
    pub async fn promotions(
        &self,
        f: &PromotionFilter<'_>,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Page<PromotionView>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM promotions pr JOIN products p ON p.id = pr.product_id \
             WHERE ($1 = '' OR pr.store_id = $1) AND ($2 = '' OR pr.product_id = $2) AND ($3 = 0 OR pr.ends_at > $4) \
             AND ($5 = '' OR pr.id < $5) ORDER BY pr.id DESC LIMIT {}",
            limit + 1
        );
        let now = self.now_ms();
        let rows = sqlx::query(&sql)
            .bind(f.store_id.unwrap_or(""))
            .bind(f.product_id.unwrap_or(""))
            .bind(i64::from(f.current))
            .bind(now)
            .bind(cursor.unwrap_or(""))
            .fetch_all(&mut *self.reader().await?)
            .await?;
        let items = rows.iter().map(|r| view(r, now)).collect::<Result<Vec<_>>>()?;
        Ok(Page::from_rows(items, limit, |p| p.id.clone()))
    }
}

/// What a batch's writes need to know of a promotion besides its book.
#[derive(Debug, Clone)]
pub struct PromoMeta {
    pub sku_id: String,
    pub product_id: String,
    pub store_id: String,
    pub seller_id: String,
    pub title: String,
    pub category: Option<String>,
}

/// A batch's book with the promotions' details.
pub struct FlashBook {
    pub book: Book,
    pub meta: HashMap<String, PromoMeta>,
}

/// One accepted buy request, as the batch writes it: a paid order.
#[derive(Debug, Clone)]
pub struct FlashOrder {
    pub order_id: String,
    pub buyer_id: String,
    pub promotion_id: String,
    pub country: String,
    pub quantity: i64,
    pub unit_price: Money,
    /// The request's `Idempotency-Key`, recorded as done with the response.
    pub idempotency: Option<KeyAnswer>,
}

/// An `Idempotency-Key` claimed and completed inside a batch: per-request claims would cost
/// a durable write each, which is what batching avoids.
#[derive(Debug, Clone)]
pub struct KeyAnswer {
    pub scope: String,
    pub key: String,
    pub request_hash: String,
    /// The 201 response's body.
    pub body: String,
}

/// What an earlier request left under an `Idempotency-Key`.
#[derive(Debug, Clone)]
pub struct KeyRecord {
    pub request_hash: String,
    /// Its response, once it finished.
    pub answer: Option<(u16, String)>,
}

/// Buyers per query of a batch's book.
const ROWS_PER_STATEMENT: usize = 500;

fn guard_failed(what: &str) -> StoreError {
    StoreError::Conflict { code: "flash_moved", message: format!("{what} changed since the batch was decided") }
}

impl Tx {
    /// Schedules a flash sale on one of the store's SKUs. Promotions of one SKU never overlap.
    pub async fn create_promotion(&mut self, store_id: &str, d: &PromotionDraft) -> Result<PromotionView> {
        let sku_id = d.sku_id.as_str();
        let sku = match sku_for_sale(self.conn(), sku_id).await {
            Ok(s) if s.store_id == store_id => s,
            Ok(_) | Err(StoreError::NotFound) => {
                return Err(Invalid::new("unknown_sku", "sku_id", "one of the store's SKUs").into())
            }
            Err(e) => return Err(e),
        };
        if sku.status != ProductStatus::Active {
            return Err(Invalid::new("inactive", "sku_id", "the product is not on sale").into());
        }
        let row = sqlx::query("SELECT on_hand - reserved FROM stock WHERE sku_id = $1")
            .bind(sku_id)
            .fetch_one(self.conn())
            .await?;
        let available: i64 = row.try_get(0)?;
        let now = self.store().now_ms();
        flash::check(d, sku.price, available, now)?;
        let overlapping =
            sqlx::query("SELECT id FROM promotions WHERE sku_id = $1 AND starts_at < $2 AND ends_at > $3")
                .bind(sku_id)
                .bind(d.ends_ms)
                .bind(d.starts_ms)
                .fetch_optional(self.conn())
                .await?;
        if overlapping.is_some() {
            return Err(StoreError::Conflict {
                code: "promotion_overlaps",
                message: "this SKU has another promotion in that window".into(),
            });
        }
        let id = self.store().new_id(Kind::Promotion);
        sqlx::query(
            "INSERT INTO promotions (id, store_id, product_id, sku_id, starts_at, ends_at, price, currency, stock, sold, \
             per_buyer_limit, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 0, $10, $11)",
        )
        .bind(&id)
        .bind(store_id)
        .bind(&sku.product_id)
        .bind(sku_id)
        .bind(d.starts_ms)
        .bind(d.ends_ms)
        .bind(d.price.amount)
        .bind(d.price.currency.code())
        .bind(d.stock)
        .bind(d.per_buyer_limit)
        .bind(now)
        .execute(self.conn())
        .await?;
        let sql =
            format!("SELECT {COLUMNS} FROM promotions pr JOIN products p ON p.id = pr.product_id WHERE pr.id = $1");
        let row = sqlx::query(&sql).bind(&id).fetch_one(self.conn()).await?;
        view(&row, now)
    }

    /// Reads what a batch is decided against, inside the batch's own transaction: the
    /// promotions (locked, with their SKUs' stock), what each of `buyers` bought in them, and
    /// the buyers' wallets. Promotions of products no longer on sale are left out.
    pub async fn flash_book(&mut self, promotions: &[String], buyers: &[String]) -> Result<FlashBook> {
        let mut out = FlashBook { book: Book::default(), meta: HashMap::new() };
        if promotions.is_empty() {
            return Ok(out);
        }
        let sql = format!(
            "SELECT pr.id, pr.sku_id, pr.product_id, pr.store_id, st.owner_id, p.title, p.category, p.ships_to, \
                    pr.starts_at, pr.ends_at, pr.price, pr.currency, pr.stock - pr.sold, pr.per_buyer_limit, \
                    k.on_hand - k.reserved \
             FROM promotions pr JOIN products p ON p.id = pr.product_id JOIN stores st ON st.id = pr.store_id \
             JOIN stock k ON k.sku_id = pr.sku_id WHERE p.status = 'active' AND pr.id IN ({}) ORDER BY pr.id{}",
            crate::placeholders(0, promotions.len()),
            // PostgreSQL: processes deciding the same promotion take turns, in id order so two
            // batches cannot deadlock (SQLite's whole-database write lock already serialises).
            match self.store().backend() {
                Backend::Postgres => " FOR UPDATE OF pr",
                Backend::Sqlite => "",
            }
        );
        let mut q = sqlx::query(&sql);
        for p in promotions {
            q = q.bind(p);
        }
        for row in q.fetch_all(self.conn()).await? {
            let id: String = row.try_get(0)?;
            let ships_to: String = row.try_get(7)?;
            let promo = PromoBook {
                sku_id: row.try_get(1)?,
                price: Money::new(row.try_get(10)?, currency(&row.try_get::<String, _>(11)?)?),
                starts_ms: row.try_get(8)?,
                ends_ms: row.try_get(9)?,
                left: row.try_get(12)?,
                available: row.try_get(14)?,
                per_buyer_limit: row.try_get(13)?,
                ships_to: ShipsTo::parse(&ships_to, "ships_to").unwrap_or(ShipsTo::Countries(Vec::new())),
                bought: HashMap::new(),
            };
            let meta = PromoMeta {
                sku_id: row.try_get(1)?,
                product_id: row.try_get(2)?,
                store_id: row.try_get(3)?,
                seller_id: row.try_get(4)?,
                title: row.try_get(5)?,
                category: row.try_get(6)?,
            };
            out.book.promotions.insert(id.clone(), promo);
            out.meta.insert(id, meta);
        }
        for chunk in buyers.chunks(ROWS_PER_STATEMENT) {
            let sql = format!(
                "SELECT promotion_id, buyer_id, quantity FROM promotion_buyers WHERE promotion_id IN ({}) AND buyer_id IN ({})",
                crate::placeholders(0, promotions.len()),
                crate::placeholders(promotions.len(), chunk.len())
            );
            let mut q = sqlx::query(&sql);
            for p in promotions {
                q = q.bind(p);
            }
            for b in chunk {
                q = q.bind(b);
            }
            for row in q.fetch_all(self.conn()).await? {
                let (promo, buyer, n): (String, String, i64) = (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
                if let Some(p) = out.book.promotions.get_mut(&promo) {
                    p.bought.insert(buyer, n);
                }
            }
            let sql = format!(
                "SELECT owner, currency, balance FROM ledger_accounts WHERE kind = 'wallet' AND owner IN ({})",
                crate::placeholders(0, chunk.len())
            );
            let mut q = sqlx::query(&sql);
            for b in chunk {
                q = q.bind(b);
            }
            for row in q.fetch_all(self.conn()).await? {
                let c = currency(&row.try_get::<String, _>(1)?)?;
                out.book.wallets.insert((row.try_get(0)?, c.code()), row.try_get(2)?);
            }
        }
        Ok(out)
    }

    /// Writes a batch of accepted requests as paid orders: orders, lines, escrow accounts,
    /// payment transfers, ship-by deadlines and outbox events in multi-row statements; then the
    /// guarded counters. Fails whole (the caller drops the transaction) if a guard finds that
    /// stock, a promotion, a buyer's count or a wallet moved since the book was read.
    pub async fn write_flash(
        &mut self,
        orders: &[FlashOrder],
        meta: &HashMap<String, PromoMeta>,
        policy: &Policy,
    ) -> Result<()> {
        if orders.is_empty() {
            return Ok(());
        }
        let now = self.store().now_ms();
        let meta_of = |o: &FlashOrder| {
            meta.get(&o.promotion_id).ok_or_else(|| guard_failed(&format!("promotion {}", o.promotion_id)))
        };
        let mut order_rows = Vec::new();
        let mut line_rows = Vec::new();
        let mut escrow_rows = Vec::new();
        let mut transfer_rows = Vec::new();
        let mut job_rows = Vec::new();
        let mut event_rows = Vec::new();
        let mut wallets: BTreeMap<String, i64> = BTreeMap::new();
        let mut stock: BTreeMap<String, i64> = BTreeMap::new();
        let mut sold: BTreeMap<String, i64> = BTreeMap::new();
        let mut counts: BTreeMap<(String, String), i64> = BTreeMap::new();
        let mut purchases: BTreeMap<String, i64> = BTreeMap::new();
        let mut woken = Vec::new();
        for o in orders {
            let m = meta_of(o)?;
            let line = Line {
                sku_id: m.sku_id.clone(),
                quantity: o.quantity,
                unit_price: o.unit_price,
                commission_bps: policy.commission_bps_for(m.category.as_deref()),
            };
            let total = line.total().ok_or_else(|| Invalid::new("out_of_range", "quantity", "too large"))?;
            let commission = line.commission().unwrap_or(0);
            let cur = o.unit_price.currency.code();
            let wallet = Account::Wallet { user_id: o.buyer_id.clone(), currency: o.unit_price.currency }.key();
            let escrow = Account::Escrow { order_id: o.order_id.clone(), currency: o.unit_price.currency }.key();
            let checkout = self.store().new_id(Kind::Checkout);
            order_rows.push(json!([
                o.order_id,
                checkout,
                o.buyer_id,
                m.store_id,
                m.seller_id,
                cur,
                total,
                commission,
                o.country,
                now,
                o.promotion_id
            ]));
            line_rows.push(json!([
                o.order_id,
                m.sku_id,
                m.product_id,
                m.title,
                o.quantity,
                o.unit_price.amount,
                line.commission_bps
            ]));
            escrow_rows.push(json!([escrow, o.order_id, cur, total]));
            let transfer = self.store().new_id(Kind::Transfer);
            transfer_rows.push(json!([transfer, wallet, escrow, total, cur, o.order_id, now]));
            job_rows.push(json!([self.store().new_id(Kind::Job), o.order_id, now + policy.ship_by_ms]));
            let payload =
                json!({"order_id": o.order_id, "state": "paid", "total": Money::new(total, o.unit_price.currency),
                                 "promotion_id": o.promotion_id})
                .to_string();
            let event_id = self.store().new_id(Kind::Event);
            for user in [&o.buyer_id, &m.seller_id] {
                event_rows.push(json!([event_id, user, o.order_id, payload, now]));
                woken.push(user.clone());
            }
            *wallets.entry(wallet).or_default() += total;
            *stock.entry(m.sku_id.clone()).or_default() += o.quantity;
            *sold.entry(o.promotion_id.clone()).or_default() += o.quantity;
            *counts.entry((o.promotion_id.clone(), o.buyer_id.clone())).or_default() += o.quantity;
            *purchases.entry(m.product_id.clone()).or_default() += 1;
        }
        use Col::{Int, Text};
        let orders_cols = [
            ("id", Text),
            ("checkout_id", Text),
            ("buyer_id", Text),
            ("store_id", Text),
            ("seller_id", Text),
            ("currency", Text),
            ("total", Int),
            ("commission", Int),
            ("ship_country", Text),
            ("created_at", Int),
            ("promotion_id", Text),
        ];
        let paid = [("state", "'paid'"), ("updated_at", "created_at"), ("paid_at", "created_at")];
        self.insert_json("orders", &orders_cols, &paid, order_rows).await?;
        let line_cols = [
            ("order_id", Text),
            ("sku_id", Text),
            ("product_id", Text),
            ("title", Text),
            ("quantity", Int),
            ("unit_price", Int),
            ("commission_bps", Int),
        ];
        self.insert_json("order_lines", &line_cols, &[("position", "0")], line_rows).await?;
        let escrow_cols = [("key", Text), ("owner", Text), ("currency", Text), ("balance", Int)];
        self.insert_json("ledger_accounts", &escrow_cols, &[("kind", "'escrow'")], escrow_rows).await?;
        let transfer_cols = [
            ("id", Text),
            ("debit_account", Text),
            ("credit_account", Text),
            ("amount", Int),
            ("currency", Text),
            ("order_id", Text),
            ("created_at", Int),
        ];
        self.insert_json("ledger_transfers", &transfer_cols, &[("kind", "'payment'")], transfer_rows).await?;
        let job_cols = [("id", Text), ("order_id", Text), ("due_at", Int)];
        self.insert_json("jobs", &job_cols, &[("kind", "'ship_by'"), ("state", "'pending'")], job_rows).await?;
        let event_cols = [("id", Text), ("user_id", Text), ("order_id", Text), ("payload", Text), ("created_at", Int)];
        self.insert_json("events", &event_cols, &[("type", "'order.paid'")], event_rows).await?;
        self.woken.extend(woken);
        // The guarded counters.
        let rows: Vec<Value> = wallets.iter().map(|(k, v)| json!([k, v])).collect();
        let n = rows.len() as u64;
        let sql = format!(
            "WITH v (key, amount) AS (SELECT {}, CAST({} AS BIGINT) FROM {}) \
             UPDATE ledger_accounts SET balance = balance - v.amount FROM v \
             WHERE ledger_accounts.key = v.key AND ledger_accounts.balance >= v.amount",
            json_field(0),
            json_field(1),
            self.json_rows()
        );
        if sqlx::query(&sql).bind(Value::Array(rows).to_string()).execute(self.conn()).await?.rows_affected() != n {
            return Err(guard_failed("a wallet"));
        }
        for (sku_id, n) in &stock {
            let res =
                sqlx::query("UPDATE stock SET on_hand = on_hand - $1 WHERE sku_id = $2 AND on_hand - reserved >= $1")
                    .bind(*n)
                    .bind(sku_id)
                    .execute(self.conn())
                    .await?;
            if res.rows_affected() != 1 {
                return Err(guard_failed("stock"));
            }
        }
        for (promo, n) in &sold {
            let res = sqlx::query("UPDATE promotions SET sold = sold + $1 WHERE id = $2 AND sold + $1 <= stock")
                .bind(*n)
                .bind(promo)
                .execute(self.conn())
                .await?;
            if res.rows_affected() != 1 {
                return Err(guard_failed("a promotion's stock"));
            }
        }
        let rows: Vec<Value> = counts.iter().map(|((p, b), n)| json!([p, b, n])).collect();
        let n = rows.len() as u64;
        // `WHERE true` lets SQLite read the ON CONFLICT after a SELECT.
        let sql = format!(
            "INSERT INTO promotion_buyers (promotion_id, buyer_id, quantity) SELECT {}, {}, CAST({} AS BIGINT) FROM {} \
             WHERE true ON CONFLICT (promotion_id, buyer_id) DO UPDATE SET quantity = promotion_buyers.quantity + excluded.quantity \
             WHERE promotion_buyers.quantity + excluded.quantity <= \
                   (SELECT per_buyer_limit FROM promotions WHERE id = excluded.promotion_id)",
            json_field(0),
            json_field(1),
            json_field(2),
            self.json_rows()
        );
        if sqlx::query(&sql).bind(Value::Array(rows).to_string()).execute(self.conn()).await?.rows_affected() != n {
            return Err(guard_failed("a buyer's purchases"));
        }
        for (product, n) in &purchases {
            sqlx::query(
                "INSERT INTO product_stats (product_id, purchases) VALUES ($1, $2) \
                 ON CONFLICT (product_id) DO UPDATE SET purchases = product_stats.purchases + excluded.purchases",
            )
            .bind(product)
            .bind(*n)
            .execute(self.conn())
            .await?;
        }
        // A key some other request took meanwhile fails the insert, and so the batch.
        let keys: Vec<Value> = orders
            .iter()
            .filter_map(|o| o.idempotency.as_ref())
            .map(|k| json!([k.scope, k.key, k.request_hash, k.body, now]))
            .collect();
        let key_cols = [("scope", Text), ("key", Text), ("request_hash", Text), ("body", Text), ("created_at", Int)];
        self.insert_json("idempotency", &key_cols, &[("state", "'done'"), ("status", "201")], keys).await
    }

    /// The records already under `keys` (scope, key).
    pub async fn idempotency_records(
        &mut self,
        keys: &[(String, String)],
    ) -> Result<HashMap<(String, String), KeyRecord>> {
        let mut out = HashMap::new();
        if keys.is_empty() {
            return Ok(out);
        }
        let rows: Vec<Value> = keys.iter().map(|(s, k)| json!([s, k])).collect();
        let sql = format!(
            "SELECT i.scope, i.key, i.request_hash, i.state, i.status, i.body FROM idempotency i              JOIN (SELECT {} AS scope, {} AS key FROM {}) v ON i.scope = v.scope AND i.key = v.key",
            json_field(0),
            json_field(1),
            self.json_rows()
        );
        for row in sqlx::query(&sql).bind(Value::Array(rows).to_string()).fetch_all(self.conn()).await? {
            let state: String = row.try_get(3)?;
            let status: Option<i64> = row.try_get(4)?;
            let body: Option<String> = row.try_get(5)?;
            let record = KeyRecord {
                request_hash: row.try_get(2)?,
                answer: (state == "done").then(|| (status.unwrap_or(200) as u16, body.unwrap_or_default())),
            };
            out.insert((row.try_get(0)?, row.try_get(1)?), record);
        }
        Ok(out)
    }

    /// The rows of a JSON array bound as `$1`, one per row, each as `value`.
    fn json_rows(&self) -> &'static str {
        match self.store().backend() {
            Backend::Sqlite => "json_each($1)",
            Backend::Postgres => "json_array_elements(CAST($1 AS JSON)) AS j(value)",
        }
    }

    /// Inserts `rows` (JSON arrays of the `columns`' values) with one statement and one bound
    /// parameter, so a batch of any size costs the same few statements; `constants` are
    /// expressions every row shares, or the name of one of `columns` to repeat its value.
    async fn insert_json(
        &mut self,
        table: &str,
        columns: &[(&str, Col)],
        constants: &[(&str, &str)],
        rows: Vec<Value>,
    ) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let names: Vec<&str> = columns.iter().map(|(n, _)| *n).chain(constants.iter().map(|(n, _)| *n)).collect();
        let mut exprs: Vec<String> = columns
            .iter()
            .enumerate()
            .map(|(i, (_, ty))| match ty {
                Col::Text => json_field(i),
                Col::Int => format!("CAST({} AS BIGINT)", json_field(i)),
            })
            .collect();
        for (_, e) in constants {
            let same = columns.iter().position(|(n, _)| n == e);
            exprs.push(same.map_or(e.to_string(), |i| exprs[i].clone()));
        }
        let sql =
            format!("INSERT INTO {table} ({}) SELECT {} FROM {}", names.join(", "), exprs.join(", "), self.json_rows());
        sqlx::query(&sql).bind(Value::Array(rows).to_string()).execute(self.conn()).await?;
        Ok(())
    }
}

/// The `i`th element of a row of `Tx::json_rows`: text (PostgreSQL) or its JSON type (SQLite).
fn json_field(i: usize) -> String {
    format!("value->>{i}")
}

/// How a JSON field is read into its column.
#[derive(Clone, Copy)]
enum Col {
    Text,
    Int,
}
