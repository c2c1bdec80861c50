//! Flash sales in SQL: promotions, the book a batch of buy requests is decided against, and the
//! batch's writes. A batch writes each table with a few multi-row statements (group commit), and
//! every shared counter it moves (stock, promotion stock, per-buyer counts, wallets) is changed
//! by a guarded statement whose affected-row count is checked: if anything moved since the book
//! was read (another process, another path), the batch fails whole and nothing is written.

use crate::orders::sku_for_sale;
use crate::{Page, Result, Store, StoreError, Tx};
use souk_domain::catalog::ProductStatus;
use souk_domain::flash::{self, Book, PromoBook, PromotionDraft};
use souk_domain::geo::ShipsTo;
use souk_domain::id::Kind;
use souk_domain::ledger::{Account, TransferKind};
use souk_domain::order::{DeadlineKind, Line, Policy};
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
    /// The request's idempotency claim (scope, key) and the response recorded for it.
    pub idempotency: Option<(String, String, String)>,
}

/// The most rows one multi-row statement carries: well under both backends' parameter limits.
const ROWS_PER_STATEMENT: usize = 500;

fn values(rows: usize, columns: usize) -> String {
    (0..rows)
        .map(|r| format!("({})", (1..=columns).map(|c| format!("${}", r * columns + c)).collect::<Vec<_>>().join(", ")))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A value bound into a multi-row statement.
enum Arg<'a> {
    Text(&'a str),
    Owned(String),
    Int(i64),
}

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
    /// promotions (with their SKUs' stock), what each of `buyers` bought in them, and the
    /// buyers' wallets. Promotions of products no longer on sale are left out.
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
             JOIN stock k ON k.sku_id = pr.sku_id WHERE p.status = 'active' AND pr.id IN ({})",
            crate::placeholders(0, promotions.len())
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
        for o in orders {
            let m = meta_of(o)?;
            let sku_id = m.sku_id.clone();
            let line = Line {
                sku_id: sku_id.clone(),
                quantity: o.quantity,
                unit_price: o.unit_price,
                commission_bps: policy.commission_bps_for(m.category.as_deref()),
            };
            let total = line.total().ok_or_else(|| Invalid::new("out_of_range", "quantity", "too large"))?;
            let commission = line.commission().unwrap_or(0);
            let cur = o.unit_price.currency;
            let wallet = Account::Wallet { user_id: o.buyer_id.clone(), currency: cur }.key();
            let escrow = Account::Escrow { order_id: o.order_id.clone(), currency: cur }.key();
            order_rows.extend([
                Arg::Text(&o.order_id),
                Arg::Owned(self.store().new_id(Kind::Checkout)),
                Arg::Text(&o.buyer_id),
                Arg::Text(&m.store_id),
                Arg::Text(&m.seller_id),
                Arg::Text(cur.code()),
                Arg::Int(total),
                Arg::Int(commission),
                Arg::Text(&o.country),
                Arg::Int(now),
                Arg::Text(&o.promotion_id),
            ]);
            line_rows.extend([
                Arg::Text(&o.order_id),
                Arg::Owned(sku_id.clone()),
                Arg::Text(&m.product_id),
                Arg::Text(&m.title),
                Arg::Int(o.quantity),
                Arg::Int(o.unit_price.amount),
                Arg::Int(line.commission_bps),
            ]);
            escrow_rows.extend([
                Arg::Owned(escrow.clone()),
                Arg::Text(&o.order_id),
                Arg::Text(cur.code()),
                Arg::Int(total),
            ]);
            transfer_rows.extend([
                Arg::Owned(self.store().new_id(Kind::Transfer)),
                Arg::Owned(wallet.clone()),
                Arg::Owned(escrow),
                Arg::Int(total),
                Arg::Text(cur.code()),
                Arg::Text(TransferKind::Payment.as_str()),
                Arg::Text(&o.order_id),
                Arg::Int(now),
            ]);
            job_rows.extend([
                Arg::Owned(self.store().new_id(Kind::Job)),
                Arg::Text(DeadlineKind::ShipBy.as_str()),
                Arg::Text(&o.order_id),
                Arg::Int(now + policy.ship_by_ms),
            ]);
            let payload = serde_json::json!({"order_id": o.order_id, "state": "paid", "total": Money::new(total, cur),
                                             "promotion_id": o.promotion_id})
            .to_string();
            let event_id = self.store().new_id(Kind::Event);
            for user in [&o.buyer_id, &m.seller_id] {
                event_rows.extend([
                    Arg::Owned(event_id.clone()),
                    Arg::Text(user),
                    Arg::Text(&o.order_id),
                    Arg::Owned(payload.clone()),
                    Arg::Int(now),
                ]);
            }
            *wallets.entry(wallet).or_default() += total;
            *stock.entry(sku_id).or_default() += o.quantity;
            *sold.entry(o.promotion_id.clone()).or_default() += o.quantity;
            *counts.entry((o.promotion_id.clone(), o.buyer_id.clone())).or_default() += o.quantity;
            *purchases.entry(m.product_id.clone()).or_default() += 1;
        }
        self.insert_rows(
            "INSERT INTO orders (id, checkout_id, buyer_id, store_id, seller_id, currency, total, commission, ship_country, \
             created_at, promotion_id, state, updated_at, paid_at) VALUES ",
            11, ", 'paid', $c, $c", &order_rows,
        )
        .await?;
        self.insert_rows(
            "INSERT INTO order_lines (order_id, sku_id, product_id, title, quantity, unit_price, commission_bps, position) VALUES ",
            7, ", 0", &line_rows,
        )
        .await?;
        self.insert_rows(
            "INSERT INTO ledger_accounts (key, owner, currency, balance, kind) VALUES ",
            4,
            ", 'escrow'",
            &escrow_rows,
        )
        .await?;
        self.insert_rows(
            "INSERT INTO ledger_transfers (id, debit_account, credit_account, amount, currency, kind, order_id, created_at) VALUES ",
            8, "", &transfer_rows,
        )
        .await?;
        self.insert_rows("INSERT INTO jobs (id, kind, order_id, due_at, state) VALUES ", 4, ", 'pending'", &job_rows)
            .await?;
        self.insert_rows(
            "INSERT INTO events (id, user_id, order_id, payload, created_at, type) VALUES ",
            5,
            ", 'order.paid'",
            &event_rows,
        )
        .await?;
        for (o, m) in orders.iter().filter_map(|o| meta.get(&o.promotion_id).map(|m| (o, m))) {
            self.woken.extend([o.buyer_id.clone(), m.seller_id.clone()]);
        }
        // The guarded counters.
        let pairs: Vec<Arg> = wallets.iter().flat_map(|(k, v)| [Arg::Text(k), Arg::Int(*v)]).collect();
        for chunk in pairs.chunks(2 * ROWS_PER_STATEMENT) {
            let n = chunk.len() / 2;
            let sql = format!(
                "WITH v (key, amount) AS (VALUES {}) UPDATE ledger_accounts SET balance = balance - v.amount FROM v \
                 WHERE ledger_accounts.key = v.key AND ledger_accounts.balance >= v.amount",
                typed_values(n)
            );
            if self.execute_args(&sql, chunk).await? != n as u64 {
                return Err(guard_failed("a wallet"));
            }
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
        let rows: Vec<Arg> = counts.iter().flat_map(|((p, b), n)| [Arg::Text(p), Arg::Text(b), Arg::Int(*n)]).collect();
        for chunk in rows.chunks(3 * ROWS_PER_STATEMENT) {
            let sql = format!(
                "INSERT INTO promotion_buyers (promotion_id, buyer_id, quantity) VALUES {} \
                 ON CONFLICT (promotion_id, buyer_id) DO UPDATE SET quantity = promotion_buyers.quantity + excluded.quantity \
                 WHERE promotion_buyers.quantity + excluded.quantity <= \
                       (SELECT per_buyer_limit FROM promotions WHERE id = excluded.promotion_id)",
                values(chunk.len() / 3, 3)
            );
            if self.execute_args(&sql, chunk).await? != (chunk.len() / 3) as u64 {
                return Err(guard_failed("a buyer's purchases"));
            }
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
        for (scope, key, body) in orders.iter().filter_map(|o| o.idempotency.as_ref()) {
            self.complete_idempotency_key(scope, key, 201, body).await?;
        }
        Ok(())
    }

    /// Inserts `args` as rows of `columns` values each, in statements of at most
    /// [`ROWS_PER_STATEMENT`] rows. `constants` ends each row (values all rows share); in it,
    /// `$c` stands for the row's own `created_at`, its 10th value.
    async fn insert_rows(&mut self, head: &str, columns: usize, constants: &str, args: &[Arg<'_>]) -> Result<()> {
        for chunk in args.chunks(columns * ROWS_PER_STATEMENT) {
            let rows = chunk.len() / columns;
            let mut sql = String::from(head);
            for r in 0..rows {
                if r > 0 {
                    sql.push_str(", ");
                }
                let bound: Vec<String> = (1..=columns).map(|c| format!("${}", r * columns + c)).collect();
                let extra = constants.replace("$c", &format!("${}", r * columns + 10));
                sql.push_str(&format!("({}{extra})", bound.join(", ")));
            }
            self.execute_args(&sql, chunk).await?;
        }
        Ok(())
    }

    async fn execute_args(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<u64> {
        let mut q = sqlx::query(sql);
        for a in args {
            q = match a {
                Arg::Text(t) => q.bind(*t),
                Arg::Owned(t) => q.bind(t.as_str()),
                Arg::Int(i) => q.bind(*i),
            };
        }
        Ok(q.execute(self.conn()).await?.rows_affected())
    }
}

/// `($1, CAST($2 AS BIGINT)), ...`: typed so PostgreSQL knows the VALUES' column types.
fn typed_values(rows: usize) -> String {
    (0..rows).map(|r| format!("(${}, CAST(${} AS BIGINT))", 2 * r + 1, 2 * r + 2)).collect::<Vec<_>>().join(", ")
}
