//! Requests for quotation and quotes. Which sellers see an RFQ is decided here, in SQL: a store
//! matches when it has an active product in the RFQ's category (or below it) that ships to the
//! RFQ's country.

use crate::bulk::Q;
use crate::{currency, Conflict, Page, Result, Store, StoreError, Tx};
use souk_domain::catalog::ProductStatus;
use souk_domain::id::Kind;
use souk_domain::rfq::{self, QuoteDraft, RfqDraft, Status};
use souk_domain::time::Timestamp;
use souk_domain::{Invalid, Money};
use sqlx::any::AnyRow;
use sqlx::Row;

#[derive(Debug, Clone, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RfqView {
    pub id: String,
    pub buyer_id: String,
    pub title: String,
    pub details: String,
    pub category: String,
    pub quantity: i64,
    pub target_unit_price: Option<Money>,
    pub ship_to: String,
    pub deadline: Timestamp,
    /// Quotes received (at most 10).
    pub quotes: i64,
    /// open, closed (deadline passed or ten quotes), awarded or cancelled.
    pub status: String,
    /// The order made from the accepted quote.
    pub order_id: Option<String>,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct QuoteView {
    pub id: String,
    pub rfq_id: String,
    pub store_id: String,
    pub store_name: String,
    pub sku_id: String,
    pub product_id: String,
    pub title: String,
    pub unit_price: Money,
    pub moq: i64,
    pub lead_time_days: i64,
    pub note: String,
    /// Revisions made (at most one).
    pub edits: i64,
    /// submitted, accepted or not_selected.
    pub state: String,
    pub order_id: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// An RFQ with what rules need.
#[derive(Debug, Clone)]
pub struct Rfq {
    pub view: RfqView,
    pub status: Status,
    pub deadline_ms: i64,
}

const RFQ_COLUMNS: &str = "r.id, r.buyer_id, r.title, r.details, r.category, r.quantity, r.target_price, \
     r.target_currency, r.ship_to, r.deadline, r.quotes, r.state, r.order_id, r.created_at";

fn rfq_from_row(row: &AnyRow, now_ms: i64) -> Result<Rfq> {
    let target = match (row.try_get::<Option<i64>, _>(6)?, row.try_get::<Option<String>, _>(7)?) {
        (Some(amount), Some(code)) => Some(Money::new(amount, currency(&code)?)),
        _ => None,
    };
    let deadline_ms: i64 = row.try_get(9)?;
    let quotes: i64 = row.try_get(10)?;
    let status = Status::of(&row.try_get::<String, _>(11)?, quotes, deadline_ms, now_ms);
    Ok(Rfq {
        view: RfqView {
            id: row.try_get(0)?,
            buyer_id: row.try_get(1)?,
            title: row.try_get(2)?,
            details: row.try_get(3)?,
            category: row.try_get(4)?,
            quantity: row.try_get(5)?,
            target_unit_price: target,
            ship_to: row.try_get(8)?,
            deadline: Timestamp(deadline_ms),
            quotes,
            status: status.as_str().to_string(),
            order_id: row.try_get(12)?,
            created_at: Timestamp(row.try_get(13)?),
        },
        status,
        deadline_ms,
    })
}

const QUOTE_COLUMNS: &str = "q.id, q.rfq_id, q.store_id, s.name, q.sku_id, k.product_id, p.title, q.unit_price, \
     q.currency, q.moq, q.lead_time_days, q.note, q.edits, q.state, q.order_id, q.created_at, q.updated_at";

const QUOTE_JOINS: &str =
    "quotes q JOIN stores s ON s.id = q.store_id JOIN skus k ON k.id = q.sku_id JOIN products p ON p.id = k.product_id";

fn quote_from_row(row: &AnyRow) -> Result<QuoteView> {
    Ok(QuoteView {
        id: row.try_get(0)?,
        rfq_id: row.try_get(1)?,
        store_id: row.try_get(2)?,
        store_name: row.try_get(3)?,
        sku_id: row.try_get(4)?,
        product_id: row.try_get(5)?,
        title: row.try_get(6)?,
        unit_price: Money::new(row.try_get(7)?, currency(&row.try_get::<String, _>(8)?)?),
        moq: row.try_get(9)?,
        lead_time_days: row.try_get(10)?,
        note: row.try_get(11)?,
        edits: row.try_get(12)?,
        state: row.try_get(13)?,
        order_id: row.try_get(14)?,
        created_at: Timestamp(row.try_get(15)?),
        updated_at: Timestamp(row.try_get(16)?),
    })
}

/// True when store `$2` has an active product in RFQ `r`'s category that ships to its country.
const STORE_MATCHES: &str = "EXISTS (SELECT 1 FROM products p WHERE p.store_id = $2 AND p.status = 'active' \
     AND (p.category = r.category OR p.category LIKE r.category || '/%') \
     AND (p.ships_to = '*' OR (';' || p.ships_to || ';') LIKE ('%;' || r.ship_to || ';%')))";

impl Store {
    pub async fn rfq(&self, id: &str) -> Result<Rfq> {
        let sql = format!("SELECT {RFQ_COLUMNS} FROM rfqs r WHERE r.id = $1");
        let row =
            sqlx::query(&sql).bind(id).fetch_optional(&mut *self.reader().await?).await?.ok_or(StoreError::NotFound)?;
        rfq_from_row(&row, self.now_ms())
    }

    /// The buyer's RFQs, newest first.
    pub async fn rfqs_of(&self, buyer_id: &str, cursor: Option<&str>, limit: usize) -> Result<Page<RfqView>> {
        let sql = format!(
            "SELECT {RFQ_COLUMNS} FROM rfqs r WHERE r.buyer_id = $1 AND ($2 = '' OR r.id < $2) ORDER BY r.id DESC LIMIT {}",
            limit + 1
        );
        let rows =
            sqlx::query(&sql).bind(buyer_id).bind(cursor.unwrap_or("")).fetch_all(&mut *self.reader().await?).await?;
        let now = self.now_ms();
        let items = rows.iter().map(|r| Ok(rfq_from_row(r, now)?.view)).collect::<Result<Vec<_>>>()?;
        Ok(Page::from_rows(items, limit, |r| r.id.clone()))
    }

    /// Open RFQs the store matches (not its owner's own), newest first.
    pub async fn rfqs_for_store(
        &self,
        store_id: &str,
        owner_id: &str,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Page<RfqView>> {
        let sql = format!(
            "SELECT {RFQ_COLUMNS} FROM rfqs r WHERE r.state = 'open' AND r.deadline > $1 AND r.quotes < {} \
             AND r.buyer_id <> $3 AND ($4 = '' OR r.id < $4) AND {STORE_MATCHES} ORDER BY r.id DESC LIMIT {}",
            rfq::MAX_QUOTES,
            limit + 1
        );
        let now = self.now_ms();
        let rows = sqlx::query(&sql)
            .bind(now)
            .bind(store_id)
            .bind(owner_id)
            .bind(cursor.unwrap_or(""))
            .fetch_all(&mut *self.reader().await?)
            .await?;
        let items = rows.iter().map(|r| Ok(rfq_from_row(r, now)?.view)).collect::<Result<Vec<_>>>()?;
        Ok(Page::from_rows(items, limit, |r| r.id.clone()))
    }

    /// Whether the store may see and quote the RFQ.
    pub async fn store_matches_rfq(&self, rfq_id: &str, store_id: &str) -> Result<bool> {
        let sql = format!("SELECT 1 FROM rfqs r WHERE r.id = $1 AND {STORE_MATCHES}");
        let row = sqlx::query(&sql).bind(rfq_id).bind(store_id).fetch_optional(&mut *self.reader().await?).await?;
        Ok(row.is_some())
    }

    /// An RFQ's quotes, oldest first; only `store_id`'s when given.
    pub async fn quotes(&self, rfq_id: &str, store_id: Option<&str>) -> Result<Vec<QuoteView>> {
        let sql = format!(
            "SELECT {QUOTE_COLUMNS} FROM {QUOTE_JOINS} WHERE q.rfq_id = $1 AND ($2 = '' OR q.store_id = $2) ORDER BY q.id"
        );
        let rows =
            sqlx::query(&sql).bind(rfq_id).bind(store_id.unwrap_or("")).fetch_all(&mut *self.reader().await?).await?;
        rows.iter().map(quote_from_row).collect()
    }

    pub async fn quote(&self, id: &str) -> Result<QuoteView> {
        let sql = format!("SELECT {QUOTE_COLUMNS} FROM {QUOTE_JOINS} WHERE q.id = $1");
        let row =
            sqlx::query(&sql).bind(id).fetch_optional(&mut *self.reader().await?).await?.ok_or(StoreError::NotFound)?;
        quote_from_row(&row)
    }
}

fn closed(status: Status) -> StoreError {
    StoreError::Conflict {
        kind: Conflict::RfqClosed,
        message: format!("the RFQ is {} and takes no more quotes", status.as_str()),
    }
}

impl Tx {
    pub async fn create_rfq(&mut self, buyer_id: &str, d: &RfqDraft) -> Result<RfqView> {
        let id = self.store().new_id(Kind::Rfq);
        let now = self.store().now_ms();
        sqlx::query(
            "INSERT INTO rfqs (id, buyer_id, title, details, category, quantity, target_price, target_currency, ship_to, \
             deadline, state, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'open', $11)",
        )
        .bind(&id)
        .bind(buyer_id)
        .bind(&d.title)
        .bind(&d.details)
        .bind(&d.category)
        .bind(d.quantity)
        .bind(d.target_unit_price.map(|p| p.amount))
        .bind(d.target_unit_price.map(|p| p.currency.code()))
        .bind(&d.ship_to)
        .bind(d.deadline_ms)
        .bind(now)
        .execute(self.conn())
        .await?;
        Ok(self.rfq(&id).await?.view)
    }

    pub async fn rfq(&mut self, id: &str) -> Result<Rfq> {
        let now = self.store().now_ms();
        let sql = format!("SELECT {RFQ_COLUMNS} FROM rfqs r WHERE r.id = $1");
        let row = sqlx::query(&sql).bind(id).fetch_optional(self.conn()).await?.ok_or(StoreError::NotFound)?;
        rfq_from_row(&row, now)
    }

    pub async fn quote(&mut self, id: &str) -> Result<QuoteView> {
        let sql = format!("SELECT {QUOTE_COLUMNS} FROM {QUOTE_JOINS} WHERE q.id = $1");
        let row = sqlx::query(&sql).bind(id).fetch_optional(self.conn()).await?.ok_or(StoreError::NotFound)?;
        quote_from_row(&row)
    }

    /// Checks a quote against its RFQ: the RFQ still takes quotes, and the SKU is the store's,
    /// for sale, in the RFQ's category, shipping to its country and priced in the quote's
    /// currency. Returns the RFQ.
    async fn check_quote(&mut self, rfq_id: &str, store_id: &str, d: &QuoteDraft) -> Result<Rfq> {
        let r = self.rfq(rfq_id).await?;
        if r.status != Status::Open {
            return Err(closed(r.status));
        }
        let sku = crate::orders::sku_for_sale(self.conn(), &d.sku_id).await.map_err(|e| match e {
            StoreError::NotFound => Invalid::new("unknown_sku", "sku_id", "no such SKU").into(),
            e => e,
        })?;
        if sku.store_id != store_id || sku.status != ProductStatus::Active {
            return Err(Invalid::new("unknown_sku", "sku_id", "not a SKU your store has for sale").into());
        }
        let category = &r.view.category;
        if !sku.category.as_deref().is_some_and(|c| c == category || c.starts_with(&format!("{category}/"))) {
            return Err(Invalid::new("wrong_category", "sku_id", format!("the SKU is not in {category}")).into());
        }
        if !sku.ships_to.ships_to(&r.view.ship_to) {
            let message = format!("the SKU does not ship to {}", r.view.ship_to);
            return Err(Invalid::new("not_shipped", "sku_id", message).into());
        }
        if sku.price.currency != d.unit_price.currency {
            let message = format!("the SKU is priced in {}", sku.price.currency.code());
            return Err(Invalid::new("currency_mismatch", "unit_price.currency", message).into());
        }
        Ok(r)
    }

    /// The store's one quote on an open RFQ. The quote count is taken first, guarded on the RFQ
    /// being open with room left, so the eleventh quote (or one after the deadline) is refused
    /// however many sellers race.
    pub async fn create_quote(&mut self, rfq_id: &str, store_id: &str, d: &QuoteDraft) -> Result<QuoteView> {
        let now = self.store().now_ms();
        let r = self.check_quote(rfq_id, store_id, d).await?;
        let exists = sqlx::query("SELECT 1 FROM quotes WHERE rfq_id = $1 AND store_id = $2")
            .bind(rfq_id)
            .bind(store_id)
            .fetch_optional(self.conn())
            .await?;
        if exists.is_some() {
            return Err(StoreError::Conflict {
                kind: Conflict::AlreadyQuoted,
                message: "your store has quoted this RFQ; revise that quote".into(),
            });
        }
        let counted = sqlx::query(&format!(
            "UPDATE rfqs SET quotes = quotes + 1 WHERE id = $1 AND state = 'open' AND deadline > $2 AND quotes < {}",
            rfq::MAX_QUOTES
        ))
        .bind(rfq_id)
        .bind(now)
        .execute(self.conn())
        .await?;
        if counted.rows_affected() != 1 {
            let r = self.rfq(rfq_id).await?;
            return Err(closed(if r.status == Status::Open { Status::Closed } else { r.status }));
        }
        let id = self.store().new_id(Kind::Quote);
        let inserted = sqlx::query(
            "INSERT INTO quotes (id, rfq_id, store_id, sku_id, unit_price, currency, moq, lead_time_days, note, state, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'submitted', $10, $10) \
             ON CONFLICT (rfq_id, store_id) DO NOTHING",
        )
        .bind(&id)
        .bind(rfq_id)
        .bind(store_id);
        let inserted = bind_terms(inserted, d).bind(now).execute(self.conn()).await?;
        if inserted.rows_affected() != 1 {
            return Err(StoreError::Conflict {
                kind: Conflict::AlreadyQuoted,
                message: "your store has quoted this RFQ; revise that quote".into(),
            });
        }
        let quote = self.quote(&id).await?;
        self.emit(&[&r.view.buyer_id], "rfq.quoted", None, &serde_json::to_value(&quote)?).await?;
        Ok(quote)
    }

    /// Revises a quote, once, while its RFQ is open.
    pub async fn revise_quote(&mut self, quote_id: &str, d: &QuoteDraft) -> Result<QuoteView> {
        let now = self.store().now_ms();
        let before = self.quote(quote_id).await?;
        let r = self.check_quote(&before.rfq_id, &before.store_id, d).await?;
        let revised = sqlx::query(
            "UPDATE quotes SET sku_id = $1, unit_price = $2, currency = $3, moq = $4, lead_time_days = $5, note = $6, \
             edits = edits + 1, updated_at = $7 WHERE id = $8 AND edits = 0 AND state = 'submitted'",
        );
        let revised = bind_terms(revised, d).bind(now).bind(quote_id).execute(self.conn()).await?;
        if revised.rows_affected() != 1 {
            return Err(StoreError::Conflict {
                kind: Conflict::AlreadyRevised,
                message: "a quote can be revised once".into(),
            });
        }
        let quote = self.quote(quote_id).await?;
        self.emit(&[&r.view.buyer_id], "rfq.quote_revised", None, &serde_json::to_value(&quote)?).await?;
        Ok(quote)
    }

    /// Marks the quote accepted, the others not selected, and the RFQ awarded with `order_id`;
    /// the RFQ's guarded change comes first, so of two racing acceptances one finds it awarded.
    pub async fn award(&mut self, r: &Rfq, quote: &QuoteView, order_id: &str) -> Result<()> {
        let awarded = sqlx::query("UPDATE rfqs SET state = 'awarded', order_id = $1 WHERE id = $2 AND state = 'open'")
            .bind(order_id)
            .bind(&r.view.id)
            .execute(self.conn())
            .await?;
        if awarded.rows_affected() != 1 {
            let now = self.rfq(&r.view.id).await?;
            return Err(StoreError::Conflict {
                kind: Conflict::RfqAwarded,
                message: format!("the RFQ is {}; no quote can be accepted", now.status.as_str()),
            });
        }
        sqlx::query("UPDATE quotes SET state = 'not_selected' WHERE rfq_id = $1 AND id <> $2")
            .bind(&r.view.id)
            .bind(&quote.id)
            .execute(self.conn())
            .await?;
        sqlx::query("UPDATE quotes SET state = 'accepted', order_id = $1 WHERE id = $2")
            .bind(order_id)
            .bind(&quote.id)
            .execute(self.conn())
            .await?;
        let owner: String = sqlx::query("SELECT owner_id FROM stores WHERE id = $1")
            .bind(&quote.store_id)
            .fetch_one(self.conn())
            .await?
            .try_get(0)?;
        let payload = serde_json::json!({"rfq_id": r.view.id, "quote_id": quote.id, "order_id": order_id});
        self.emit(&[&r.view.buyer_id, &owner], "rfq.awarded", Some(order_id), &payload).await
    }

    /// The buyer withdraws an RFQ nobody's quote was accepted for.
    pub async fn cancel_rfq(&mut self, r: &Rfq) -> Result<RfqView> {
        let done = sqlx::query("UPDATE rfqs SET state = 'cancelled' WHERE id = $1 AND state = 'open'")
            .bind(&r.view.id)
            .execute(self.conn())
            .await?;
        if done.rows_affected() != 1 {
            let now = self.rfq(&r.view.id).await?;
            return Err(StoreError::Conflict {
                kind: Conflict::InvalidState,
                message: format!("the RFQ is {}", now.status.as_str()),
            });
        }
        Ok(self.rfq(&r.view.id).await?.view)
    }
}

/// Binds a quote's terms: SKU, unit price and its currency, MOQ, lead time, note.
fn bind_terms<'q>(q: Q<'q>, d: &'q QuoteDraft) -> Q<'q> {
    q.bind(&d.sku_id)
        .bind(d.unit_price.amount)
        .bind(d.unit_price.currency.code())
        .bind(d.moq)
        .bind(d.lead_time_days)
        .bind(&d.note)
}
