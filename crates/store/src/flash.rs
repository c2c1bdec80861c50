//! Flash sales in SQL: promotions, the book a batch of buy requests is decided against, and the
//! batch's writes. A batch appends one journal row per order (`flash_orders`: the order, its
//! payment's ledger posting and its buyer's count all at once) and moves each shared balance
//! (stock, promotion stock, wallets) with a few multi-row statements (group commit), each
//! guarded and its affected-row count checked: if anything moved since the book was read
//! (another process, another path), the batch fails whole and nothing is written. What a buyer
//! bought in a promotion is `promotion_buyers` (orders written out) plus their journal rows.

use crate::bulk::{self, field, BulkRow, Column, Filler, Q};
use crate::ledger::{Entry, Record};
use crate::orders::sku_for_sale;
use crate::{currency, Backend, Conflict, Page, Result, Store, StoreError, Tx};
use serde_json::{json, Value};
use souk_domain::catalog::ProductStatus;
use souk_domain::flash::{self, Book, PromoBook, PromotionDraft};
use souk_domain::geo::ShipsTo;
use souk_domain::id::Kind;
use souk_domain::ledger::{Account, Posting};
use souk_domain::time::Timestamp;
use souk_domain::{Invalid, Money};
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
    pub starts_at: Timestamp,
    pub ends_at: Timestamp,
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
    pub created_at: Timestamp,
}

const COLUMNS: &str = "pr.id, pr.store_id, pr.product_id, pr.sku_id, p.title, pr.starts_at, pr.ends_at, pr.price, \
     pr.currency, pr.stock, pr.sold, pr.per_buyer_limit, pr.created_at";

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
        starts_at: Timestamp(starts),
        ends_at: Timestamp(ends),
        price: Money::new(row.try_get(7)?, currency(&row.try_get::<String, _>(8)?)?),
        stock,
        sold,
        left: stock - sold,
        per_buyer_limit: row.try_get(11)?,
        phase: phase.as_str().to_string(),
        seconds_left: left_ms.map(|ms| (ms + 999) / 1000),
        created_at: Timestamp(row.try_get(12)?),
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

    /// Units sold past promotions' stock, counted from the orders themselves (written out or
    /// still in the journal): must be 0.
    pub async fn flash_oversold(&self) -> Result<i64> {
        let row = sqlx::query(
            "SELECT CAST(COALESCE(SUM(CASE WHEN t.q + t.j > t.stock THEN t.q + t.j - t.stock ELSE 0 END), 0) AS BIGINT) \
             FROM (SELECT pr.stock AS stock, (SELECT COALESCE(SUM(l.quantity), 0) FROM orders o \
              JOIN order_lines l ON l.order_id = o.id WHERE o.promotion_id = pr.id) AS q, \
              (SELECT COALESCE(SUM(f.quantity), 0) FROM flash_orders f WHERE f.promotion_id = pr.id) AS j \
              FROM promotions pr) t",
        )
        .fetch_one(&mut *self.reader().await?)
        .await?;
        Ok(row.try_get(0)?)
    }

    /// The marketplace's promotions running now (started, not ended, units left), ending
    /// soonest first: read through their end time, so only current promotions are looked at.
    pub async fn live_promotions(&self, limit: usize) -> Result<Vec<PromotionView>> {
        let now = self.now_ms();
        let sql = format!(
            "SELECT {COLUMNS} FROM promotions pr JOIN products p ON p.id = pr.product_id \
             WHERE pr.ends_at > $1 AND pr.starts_at <= $1 AND pr.sold < pr.stock ORDER BY pr.ends_at LIMIT {limit}"
        );
        let rows = sqlx::query(&sql).bind(now).fetch_all(&mut *self.reader().await?).await?;
        rows.iter().map(|r| view(r, now)).collect()
    }

    /// Promotions, newest first.
    pub async fn promotions(
        &self,
        f: &PromotionFilter<'_>,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Page<PromotionView>> {
        // Only the filters given, so that the store's or the product's index serves them.
        let now = self.now_ms();
        let mut conditions = vec!["pr.ends_at > $1".to_string()];
        let mut values = Vec::new();
        for (column, value) in [("pr.store_id", f.store_id), ("pr.product_id", f.product_id), ("pr.id <", cursor)] {
            if let Some(v) = value {
                values.push(v);
                let op = if column.ends_with('<') { "" } else { " =" };
                conditions.push(format!("{column}{op} ${}", values.len() + 1));
            }
        }
        let sql = format!(
            "SELECT {COLUMNS} FROM promotions pr JOIN products p ON p.id = pr.product_id WHERE {} \
             ORDER BY pr.id DESC LIMIT {}",
            conditions.join(" AND "),
            limit + 1
        );
        // Every promotion ends after the beginning of time: without `current`, none is left out.
        let mut q = sqlx::query(&sql).bind(if f.current { now } else { i64::MIN });
        for v in values {
            q = q.bind(v);
        }
        let rows = q.fetch_all(&mut *self.reader().await?).await?;
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
    /// The product's `ships_to` as stored: a batch checks it has not changed since it was read.
    pub ships_to: String,
}

/// A book with the promotions' details.
#[derive(Debug, Default)]
pub struct FlashBook {
    pub book: Book,
    pub meta: HashMap<String, PromoMeta>,
}

impl FlashBook {
    /// What writing `orders` checks of their promotions, as this book holds them after
    /// deciding those orders: owned, so the book may go on to decide the next batch while
    /// this one is written.
    pub fn terms(&self, orders: &[FlashOrder]) -> BatchTerms {
        let mut promotions = HashMap::new();
        for o in orders {
            if promotions.contains_key(&o.promotion_id) {
                continue;
            }
            if let (Some(p), Some(m)) = (self.book.promotions.get(&o.promotion_id), self.meta.get(&o.promotion_id)) {
                promotions.insert(o.promotion_id.clone(), (p.left, m.clone()));
            }
        }
        BatchTerms { promotions }
    }
}

/// A batch's promotions as its writes check them: units left once it is written, and details.
#[derive(Debug, Default)]
pub struct BatchTerms {
    promotions: HashMap<String, (i64, PromoMeta)>,
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

impl FlashOrder {
    /// What the order costs, unless it overflows.
    pub fn total(&self) -> Option<i64> {
        self.unit_price.amount.checked_mul(self.quantity)
    }
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

/// A journal row as a batch inserts it (the columns of `flash_orders` in `write_flash`'s order).
struct JournalRow<'a> {
    order: &'a FlashOrder,
    created_at: i64,
    transfer_id: String,
}

impl BulkRow for JournalRow<'_> {
    fn columns(&self) -> &'static [Column] {
        use Column::{Int, Text};
        &[Text, Text, Text, Int, Int, Text, Text, Int, Text]
    }

    fn bind<'q>(&'q self, q: Q<'q>) -> Result<Q<'q>> {
        let o = self.order;
        Ok(q.bind(o.order_id.as_str())
            .bind(o.promotion_id.as_str())
            .bind(o.buyer_id.as_str())
            .bind(o.quantity)
            .bind(o.unit_price.amount)
            .bind(o.unit_price.currency.code())
            .bind(o.country.as_str())
            .bind(self.created_at)
            .bind(self.transfer_id.as_str()))
    }
}

/// A completed `Idempotency-Key` as a batch inserts it: scope, key, request hash, body, time.
struct KeyRow<'a> {
    answer: &'a KeyAnswer,
    created_at: i64,
}

impl BulkRow for KeyRow<'_> {
    fn columns(&self) -> &'static [Column] {
        use Column::{Int, Text};
        &[Text, Text, Text, Text, Int]
    }

    fn bind<'q>(&'q self, q: Q<'q>) -> Result<Q<'q>> {
        let k = self.answer;
        Ok(q.bind(k.scope.as_str())
            .bind(k.key.as_str())
            .bind(k.request_hash.as_str())
            .bind(k.body.as_str())
            .bind(self.created_at))
    }
}

fn guard_failed(what: &str) -> StoreError {
    StoreError::Conflict { kind: Conflict::FlashMoved, message: format!("{what} changed since the batch was decided") }
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
                kind: Conflict::PromotionOverlaps,
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

    /// Loads into `fb` what deciding `asks`, (promotion, buyer) pairs, needs and it does not
    /// hold yet: the promotions (locked on PostgreSQL, with their SKUs' stock) with what every
    /// buyer already bought in each, and the buyers' wallets in their currencies. A wallet read
    /// is held even when there is none (as 0), so that what the book holds is exactly what it
    /// has read. The order engine keeps one book from batch to batch and so
    /// reads only what is new to it; the guards in `write_flash` catch whatever moved since.
    /// Promotions of products no longer on sale are left out.
    pub async fn fill_flash_book(&mut self, fb: &mut FlashBook, asks: &[(&str, &str)]) -> Result<()> {
        let mut promotions: Vec<&str> =
            asks.iter().map(|(p, _)| *p).filter(|p| !fb.book.promotions.contains_key(*p)).collect();
        promotions.sort_unstable();
        promotions.dedup();
        let (mut promos, meta) = self.promotion_rows(&promotions, true).await?;
        if !promos.is_empty() {
            // What every buyer bought in each promotion: written-out orders plus the journal's.
            let ids: Vec<Value> = promos.keys().map(|p| json!([p])).collect();
            let agg = self.json_agg(&["c.promotion_id", "c.buyer_id", "c.quantity"]);
            for table in ["promotion_buyers", "flash_orders"] {
                let sql = |v: &str| {
                    format!("SELECT {agg} FROM {table} c WHERE c.promotion_id IN (SELECT {} FROM {v})", field(0))
                };
                for (promo, buyer, n) in self.fetch_rows::<(String, String, i64), _>(sql, &ids).await? {
                    if let Some(p) = promos.get_mut(&promo) {
                        *p.bought.entry(buyer).or_default() += n;
                    }
                }
            }
        }
        fb.book.promotions.extend(promos);
        fb.meta.extend(meta);
        let mut wallets: HashMap<String, (String, &'static str)> = HashMap::new();
        for (promo, buyer) in asks {
            let Some(currency) = fb.book.promotions.get(*promo).map(|p| p.price.currency) else { continue };
            if !fb.book.wallets.contains_key(&(buyer.to_string(), currency.code())) {
                let key = Account::Wallet { user_id: buyer.to_string(), currency }.key();
                wallets.insert(key, (buyer.to_string(), currency.code()));
            }
        }
        if wallets.is_empty() {
            return Ok(());
        }
        let keys: Vec<Value> = wallets.keys().map(|k| json!([k])).collect();
        let agg =
            self.json_agg(&[&field(0), &format!("(SELECT balance FROM ledger_accounts a WHERE a.key = {})", field(0))]);
        let sql = |v: &str| format!("SELECT {agg} FROM {v}");
        for (key, balance) in self.fetch_rows::<(String, Option<i64>), _>(sql, &keys).await? {
            if let Some(owner) = wallets.remove(&key) {
                fb.book.wallets.insert(owner, balance.unwrap_or(0));
            }
        }
        Ok(())
    }

    /// Reads again, into `fb`, the wallet and the SKU's stock behind a refusal for want of
    /// money or stock, less what `accepted` (this batch's orders so far) takes of them: a book
    /// kept between batches may hold figures that have since grown (a top-up, a restock).
    pub async fn refresh_flash_book(
        &mut self,
        fb: &mut FlashBook,
        promotion_id: &str,
        buyer_id: &str,
        accepted: &[FlashOrder],
    ) -> Result<()> {
        let (Some(promo), Some(meta)) = (fb.book.promotions.get(promotion_id), fb.meta.get(promotion_id)) else {
            return Ok(());
        };
        let currency = promo.price.currency;
        let balance = self.wallet_available(buyer_id, currency).await?;
        let row = sqlx::query("SELECT on_hand - reserved FROM stock WHERE sku_id = $1")
            .bind(&meta.sku_id)
            .fetch_one(self.conn())
            .await?;
        let available: i64 = row.try_get(0)?;
        let (mut spent, mut taken) = (0, 0);
        for o in accepted {
            if o.buyer_id == buyer_id && o.unit_price.currency == currency {
                spent += o.total().unwrap_or(0);
            }
            if fb.meta.get(&o.promotion_id).is_some_and(|m| m.sku_id == meta.sku_id) {
                taken += o.quantity;
            }
        }
        fb.book.wallets.insert((buyer_id.to_string(), currency.code()), balance - spent);
        if let Some(promo) = fb.book.promotions.get_mut(promotion_id) {
            promo.available = available - taken;
        }
        Ok(())
    }

    /// The book and details of `promotions` (sorted); with `for_sale`, only those whose product
    /// is on sale, locked for the batch on PostgreSQL.
    pub(crate) async fn promotion_rows(
        &mut self,
        promotions: &[&str],
        for_sale: bool,
    ) -> Result<(HashMap<String, PromoBook>, HashMap<String, PromoMeta>)> {
        let (mut books, mut meta) = (HashMap::new(), HashMap::new());
        if promotions.is_empty() {
            return Ok((books, meta));
        }
        let sql = format!(
            "SELECT pr.id, pr.sku_id, pr.product_id, pr.store_id, st.owner_id, p.title, p.category, p.ships_to, \
                    pr.starts_at, pr.ends_at, pr.price, pr.currency, pr.stock - pr.sold, pr.per_buyer_limit, \
                    k.on_hand - k.reserved \
             FROM promotions pr JOIN products p ON p.id = pr.product_id JOIN stores st ON st.id = pr.store_id \
             JOIN stock k ON k.sku_id = pr.sku_id WHERE pr.id IN ({}){} ORDER BY pr.id{}",
            crate::placeholders(0, promotions.len()),
            if for_sale { " AND p.status = 'active'" } else { "" },
            // PostgreSQL: processes deciding the same promotion take turns, in id order so two
            // batches cannot deadlock (SQLite's whole-database write lock already serialises).
            match self.store().backend() {
                Backend::Postgres if for_sale => " FOR UPDATE OF pr",
                _ => "",
            }
        );
        let mut q = sqlx::query(&sql);
        for p in promotions {
            q = q.bind(*p);
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
                bought: Default::default(),
            };
            let m = PromoMeta {
                sku_id: row.try_get(1)?,
                product_id: row.try_get(2)?,
                store_id: row.try_get(3)?,
                seller_id: row.try_get(4)?,
                title: row.try_get(5)?,
                category: row.try_get(6)?,
                ships_to,
            };
            books.insert(id.clone(), promo);
            meta.insert(id, m);
        }
        Ok((books, meta))
    }

    /// Commits a batch of accepted requests as paid flash orders: one journal row per order,
    /// which records its payment (the buyer's wallet into the promotion's escrow, posted through
    /// [`Tx::post`]; `Store::ledger_check` counts it) until the order is written out. The orders are
    /// written out in full later (`Store::write_out_flash`). `terms` are their promotions as the
    /// book they were decided against held them after deciding them ([`FlashBook::terms`]).
    /// Fails whole (the caller
    /// drops the transaction) if a guard finds that stock, a promotion, its product or a wallet
    /// moved since the book was read.
    pub async fn write_flash(&mut self, orders: &[FlashOrder], terms: &BatchTerms) -> Result<()> {
        if orders.is_empty() {
            return Ok(());
        }
        let terms = &terms.promotions;
        let now = self.store().now_ms();
        let mut journal = Vec::with_capacity(orders.len());
        let mut payments = Vec::with_capacity(orders.len());
        let mut stock: BTreeMap<&str, i64> = BTreeMap::new();
        let mut sold: BTreeMap<&str, i64> = BTreeMap::new();
        for o in orders {
            let (_, m) =
                terms.get(&o.promotion_id).ok_or_else(|| guard_failed(&format!("promotion {}", o.promotion_id)))?;
            let total = o.total().ok_or_else(|| Invalid::new("out_of_range", "quantity", "too large"))?;
            journal.push(JournalRow { order: o, created_at: now, transfer_id: self.store().new_id(Kind::Transfer) });
            let posting =
                Posting::flash_payment(&o.buyer_id, &o.promotion_id, Money::new(total, o.unit_price.currency));
            payments.push(Entry { posting, id: None, order_id: None, reference: None, at: None });
            *stock.entry(&m.sku_id).or_default() += o.quantity;
            *sold.entry(&o.promotion_id).or_default() += o.quantity;
        }
        // Promotions first: on PostgreSQL their row locks make processes that share one take
        // turns. Every buy moves `sold`, so finding it where the book left it (less this batch)
        // means no one else bought since, and the book's per-buyer counts still hold.
        let mut promos = Vec::with_capacity(sold.len());
        for (promo, n) in &sold {
            let (left, m) = terms.get(*promo).ok_or_else(|| guard_failed(&format!("promotion {promo}")))?;
            promos.push(json!([promo, n, left, m.ships_to]));
        }
        let sql = |v: &str| {
            format!(
                "UPDATE promotions SET sold = sold + {n} FROM {v} WHERE promotions.id = {id} \
                 AND promotions.stock - promotions.sold = {left} + {n} AND EXISTS (SELECT 1 FROM products p \
                 WHERE p.id = promotions.product_id AND p.status = 'active' AND p.ships_to = {ships_to})",
                id = field(0),
                n = field(1),
                left = field(2),
                ships_to = field(3),
            )
        };
        if self.execute_rows_in_order(sql, &promos, Filler::MatchesNothing).await? != promos.len() as u64 {
            return Err(guard_failed("a promotion"));
        }
        let journal_cols = [
            "order_id",
            "promotion_id",
            "buyer_id",
            "quantity",
            "unit_price",
            "currency",
            "ship_country",
            "created_at",
            "transfer_id",
        ];
        self.insert_rows("flash_orders", &journal_cols, &[], &journal).await?;
        // The payments, into the promotions' escrow; the journal rows are their transfers.
        self.post(&payments, Record::Journal).await.map_err(|e| match e {
            StoreError::Conflict { kind: Conflict::InsufficientFunds, .. } | StoreError::Contention(_) => {
                guard_failed("a wallet")
            }
            e => e,
        })?;
        let skus: Vec<(&str, i64)> = stock.iter().map(|(sku, n)| (*sku, *n)).collect();
        let sql = |v: &str| {
            format!(
                "UPDATE stock SET on_hand = on_hand - {n} FROM {v} \
                 WHERE stock.sku_id = {sku} AND stock.on_hand - stock.reserved >= {n}",
                sku = field(0),
                n = field(1),
            )
        };
        if self.execute_rows_in_order(sql, &skus, Filler::MatchesNothing).await? != skus.len() as u64 {
            return Err(guard_failed("stock"));
        }
        // A key some other request took meanwhile fails the insert, and so the batch.
        let keys: Vec<KeyRow> = orders
            .iter()
            .filter_map(|o| o.idempotency.as_ref())
            .map(|answer| KeyRow { answer, created_at: now })
            .collect();
        let key_cols = ["scope", "key", "request_hash", "body", "created_at"];
        self.insert_rows("idempotency", &key_cols, &[("state", "'done'"), ("status", "201")], &keys).await
    }

    /// The records already under `keys` (scope, key).
    pub async fn idempotency_records(&mut self, keys: &[(&str, &str)]) -> Result<HashMap<(String, String), KeyRecord>> {
        let backend = self.store().backend();
        key_records(self.conn(), backend, keys).await
    }
}

impl Store {
    /// [`Tx::idempotency_records`] as committed, read beside the writer (for a batch decided
    /// while the one before is still being written, whose own keys its caller knows).
    pub async fn idempotency_records(&self, keys: &[(&str, &str)]) -> Result<HashMap<(String, String), KeyRecord>> {
        if keys.is_empty() {
            return Ok(HashMap::new());
        }
        let mut conn = self.reader().await?;
        key_records(&mut conn, self.backend(), keys).await
    }
}

async fn key_records(
    conn: &mut sqlx::AnyConnection,
    backend: Backend,
    keys: &[(&str, &str)],
) -> Result<HashMap<(String, String), KeyRecord>> {
    let mut out = HashMap::new();
    if keys.is_empty() {
        return Ok(out);
    }
    let agg = bulk::json_agg(backend, &["i.scope", "i.key", "i.request_hash", "i.state", "i.status", "i.body"]);
    // CROSS JOIN keeps SQLite probing the key's index for each asked key.
    let sql = |v: &str| {
        format!("SELECT {agg} FROM {v} CROSS JOIN idempotency i WHERE i.scope = {} AND i.key = {}", field(0), field(1))
    };
    type Found = (String, String, String, String, Option<i64>, Option<String>);
    for (scope, key, request_hash, state, status, body) in
        bulk::fetch_rows::<Found, _>(conn, backend, sql, keys).await?
    {
        let answer = (state == "done").then(|| (status.unwrap_or(200) as u16, body.unwrap_or_default()));
        out.insert((scope, key), KeyRecord { request_hash, answer });
    }
    Ok(out)
}
