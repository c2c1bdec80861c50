//! Shipping records, tracking events, reviews, and the running totals each store's trust score
//! is computed from. Totals move in the same transaction as the change that moves them.

use crate::{Conflict, Page, Result, Store, StoreError, Tx};
use souk_domain::dispute::Outcome;
use souk_domain::order::{Action, Order, OrderState, Policy};
use souk_domain::shipping::EventType;
use souk_domain::time::rfc3339;
use souk_domain::time::Timestamp;
use souk_domain::trust::TrustInputs;
use sqlx::any::AnyRow;
use sqlx::Row;
use std::collections::HashMap;

/// A carrier's report about a parcel.
#[derive(Debug, Clone)]
pub struct CarrierEvent {
    pub carrier: String,
    pub event_id: String,
    pub tracking_number: String,
    pub kind: EventType,
    pub occurred_at_ms: i64,
    pub location: Option<String>,
    pub description: Option<String>,
}

#[derive(Debug, Clone, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TrackingEventView {
    pub event_id: String,
    /// picked_up, in_transit, out_for_delivery, delivered or exception.
    #[serde(rename = "type")]
    pub kind: String,
    pub occurred_at: Timestamp,
    pub location: Option<String>,
    pub description: Option<String>,
}

/// A shipped order the sandbox carrier moves along.
#[derive(Debug, Clone)]
pub struct Parcel {
    pub carrier: String,
    pub tracking_number: String,
    pub shipped_at_ms: i64,
    /// Event types already reported.
    pub reported: Vec<String>,
}

/// A review as everyone sees it: which order it reviews stays between buyer and seller.
#[derive(Debug, Clone, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReviewView {
    pub id: String,
    pub product_id: String,
    pub store_id: String,
    /// The buyer's display name: reviews are public.
    pub buyer_name: String,
    pub stars: i64,
    pub item_as_described: i64,
    pub communication: i64,
    pub shipping_speed: i64,
    pub text: String,
    /// Photos of what arrived.
    pub images: Vec<String>,
    pub reply: Option<String>,
    pub replied_at: Option<String>,
    pub created_at: Timestamp,
}

/// The ratings of a product or store: how many reviews gave each number of stars.
#[derive(Debug, Clone, Default, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RatingSummary {
    pub count: i64,
    /// Mean stars, absent without reviews.
    pub average: Option<f64>,
    /// Reviews with 1, 2, 3, 4 and 5 stars.
    pub histogram: [i64; 5],
}

/// A review to write; each rating 1 to 5.
#[derive(Debug, Clone)]
pub struct ReviewDraft {
    pub order_id: String,
    pub position: i64,
    pub stars: i64,
    pub described: i64,
    pub communication: i64,
    pub shipping: i64,
    pub text: String,
    pub images: Vec<String>,
}

impl ReviewDraft {
    /// A checked review of the order's line at `position`.
    pub fn of(order_id: &str, position: i64, r: souk_domain::review::Review) -> ReviewDraft {
        ReviewDraft {
            order_id: order_id.to_string(),
            position,
            stars: r.stars,
            described: r.described,
            communication: r.communication,
            shipping: r.shipping,
            text: r.text,
            images: r.images,
        }
    }
}

/// Which reviews a listing shows.
#[derive(Debug, Clone, Copy)]
pub enum ReviewScope<'a> {
    Product(&'a str),
    Store(&'a str),
}

impl ReviewScope<'_> {
    fn column_and_id(&self) -> (&'static str, &str) {
        match self {
            ReviewScope::Product(id) => ("product_id", id),
            ReviewScope::Store(id) => ("store_id", id),
        }
    }
}

const REVIEW_COLUMNS: &str = "r.id, r.product_id, r.store_id, u.display_name, r.stars, r.described, \
     r.communication, r.shipping, r.body, r.reply, r.replied_at, r.created_at, r.images";

fn review_from_row(row: &AnyRow) -> Result<ReviewView> {
    Ok(ReviewView {
        id: row.try_get(0)?,
        product_id: row.try_get(1)?,
        store_id: row.try_get(2)?,
        buyer_name: row.try_get(3)?,
        stars: row.try_get(4)?,
        item_as_described: row.try_get(5)?,
        communication: row.try_get(6)?,
        shipping_speed: row.try_get(7)?,
        text: row.try_get(8)?,
        reply: row.try_get(9)?,
        replied_at: row.try_get::<Option<i64>, _>(10)?.map(rfc3339),
        created_at: Timestamp(row.try_get(11)?),
        images: crate::bulk::decode(&row.try_get::<String, _>(12)?)?,
    })
}

const STATS_COLUMNS: &str = "s.id, s.verification, s.created_at, t.completed_orders, t.reviews, t.stars_sum, \
     t.described_sum, t.communication_sum, t.shipping_sum, t.shipped_orders, t.shipped_on_time, \
     t.delivered_orders, t.delivery_ms_sum, t.disputes_lost, t.refunds";

fn count(row: &AnyRow, i: usize) -> Result<u64> {
    Ok(row.try_get::<Option<i64>, _>(i)?.unwrap_or(0).max(0) as u64)
}

impl Store {
    /// What the trust scores of these stores are computed from, by store id.
    pub async fn trust_inputs(&self, store_ids: &[String]) -> Result<HashMap<String, TrustInputs>> {
        let mut out = HashMap::new();
        if store_ids.is_empty() {
            return Ok(out);
        }
        let sql = format!(
            "SELECT {STATS_COLUMNS} FROM stores s LEFT JOIN store_stats t ON t.store_id = s.id WHERE s.id IN ({})",
            crate::placeholders(0, store_ids.len())
        );
        let mut q = sqlx::query(&sql);
        for id in store_ids {
            q = q.bind(id);
        }
        let now = self.now_ms();
        let medians = self.response_medians(store_ids).await?;
        for row in q.fetch_all(&mut *self.reader().await?).await? {
            let created_at: i64 = row.try_get(2)?;
            let id: String = row.try_get(0)?;
            out.insert(
                id.clone(),
                TrustInputs {
                    completed_orders: count(&row, 3)?,
                    reviews: count(&row, 4)?,
                    stars_sum: count(&row, 5)?,
                    described_sum: count(&row, 6)?,
                    communication_sum: count(&row, 7)?,
                    shipping_sum: count(&row, 8)?,
                    shipped_orders: count(&row, 9)?,
                    shipped_on_time: count(&row, 10)?,
                    delivered_orders: count(&row, 11)?,
                    delivery_ms_sum: count(&row, 12)?,
                    disputes_lost: count(&row, 13)?,
                    refunds: count(&row, 14)?,
                    response_ms_median: medians.get(&id).copied(),
                    verification: row.try_get(1)?,
                    tenure_ms: now - created_at,
                },
            );
        }
        Ok(out)
    }

    /// An order's tracking events, oldest first.
    pub async fn tracking(&self, order_id: &str) -> Result<Vec<TrackingEventView>> {
        let rows = sqlx::query(
            "SELECT event_id, type, occurred_at, location, description FROM tracking_events \
             WHERE order_id = $1 ORDER BY occurred_at, received_at",
        )
        .bind(order_id)
        .fetch_all(&mut *self.reader().await?)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(TrackingEventView {
                    event_id: r.try_get(0)?,
                    kind: r.try_get(1)?,
                    occurred_at: Timestamp(r.try_get(2)?),
                    location: r.try_get(3)?,
                    description: r.try_get(4)?,
                })
            })
            .collect()
    }

    /// Orders in transit with one of these carriers, with what was reported of them so far.
    pub async fn parcels_in_transit(&self, carriers: &[&str], limit: usize) -> Result<Vec<Parcel>> {
        if carriers.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT o.id, o.carrier, o.tracking_number, o.shipped_at FROM orders o WHERE o.state = 'shipped' \
             AND o.carrier IN ({}) AND o.tracking_number IS NOT NULL AND o.shipped_at IS NOT NULL \
             ORDER BY o.shipped_at LIMIT {limit}",
            crate::placeholders(0, carriers.len())
        );
        let mut q = sqlx::query(&sql);
        for c in carriers {
            q = q.bind(*c);
        }
        let mut conn = self.reader().await?;
        let rows = q.fetch_all(&mut *conn).await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let order_id: String = r.try_get(0)?;
            let reported = sqlx::query("SELECT type FROM tracking_events WHERE order_id = $1")
                .bind(&order_id)
                .fetch_all(&mut *conn)
                .await?
                .iter()
                .map(|e| e.try_get(0))
                .collect::<Result<Vec<String>, _>>()?;
            out.push(Parcel {
                carrier: r.try_get(1)?,
                tracking_number: r.try_get(2)?,
                shipped_at_ms: r.try_get(3)?,
                reported,
            });
        }
        Ok(out)
    }

    pub async fn reviews(
        &self,
        scope: ReviewScope<'_>,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Page<ReviewView>> {
        let (column, id) = scope.column_and_id();
        let sql = format!(
            "SELECT {REVIEW_COLUMNS} FROM reviews r JOIN users u ON u.id = r.buyer_id \
             WHERE r.{column} = $1 AND r.hidden_at IS NULL AND ($2 = '' OR r.id < $2) ORDER BY r.id DESC LIMIT {}",
            limit + 1
        );
        let rows = sqlx::query(&sql).bind(id).bind(cursor.unwrap_or("")).fetch_all(&mut *self.reader().await?).await?;
        let items = rows.iter().map(review_from_row).collect::<Result<Vec<_>>>()?;
        Ok(Page::from_rows(items, limit, |r| r.id.clone()))
    }

    pub async fn rating_summary(&self, scope: ReviewScope<'_>) -> Result<RatingSummary> {
        let (column, id) = scope.column_and_id();
        let sql =
            format!("SELECT stars, COUNT(*) FROM reviews WHERE {column} = $1 AND hidden_at IS NULL GROUP BY stars");
        let rows = sqlx::query(&sql).bind(id).fetch_all(&mut *self.reader().await?).await?;
        let mut s = RatingSummary::default();
        let mut sum = 0;
        for r in rows {
            let stars: i64 = r.try_get(0)?;
            let n: i64 = r.try_get(1)?;
            if (1..=5).contains(&stars) {
                s.histogram[(stars - 1) as usize] = n;
                s.count += n;
                sum += stars * n;
            }
        }
        s.average = (s.count > 0).then(|| ((sum as f64 / s.count as f64) * 100.0).round() / 100.0);
        Ok(s)
    }
}

/// Adds to a store's running totals, creating its row on first use.
pub(crate) async fn add_stats(tx: &mut Tx, order_id: &str, columns: &[(&str, i64)]) -> Result<()> {
    let names: Vec<&str> = columns.iter().map(|(c, _)| *c).collect();
    let values: Vec<String> = (0..columns.len()).map(|i| format!("${}", i + 2)).collect();
    let updates: Vec<String> = names.iter().map(|c| format!("{c} = store_stats.{c} + excluded.{c}")).collect();
    let sql = format!(
        "INSERT INTO store_stats (store_id, {}) SELECT store_id, {} FROM orders WHERE id = $1 \
         ON CONFLICT (store_id) DO UPDATE SET {}",
        names.join(", "),
        values.join(", "),
        updates.join(", ")
    );
    let mut q = sqlx::query(&sql).bind(order_id);
    for (_, v) in columns {
        q = q.bind(*v);
    }
    q.execute(tx.conn()).await?;
    Ok(())
}

impl Tx {
    /// Stamps the order's milestones and moves its store's totals for a transition from
    /// `order.state` to `to` by `action`, which happened at `now`.
    /// Counts an order's move in its store's trust totals (the move's time is stamped with
    /// the state change itself, see [`milestone_column`]).
    pub(crate) async fn record_milestones(
        &mut self,
        order: &Order,
        action: Action,
        to: OrderState,
        now: i64,
        policy: &Policy,
    ) -> Result<()> {
        match (order.state, action, to) {
            (OrderState::Paid, Action::Ship, _) => {
                let on_time = self.milestone(&order.id, "paid_at").await?.is_none_or(|p| now - p <= policy.ship_by_ms);
                add_stats(self, &order.id, &[("shipped_orders", 1), ("shipped_on_time", i64::from(on_time))]).await
            }
            // A paid order the seller never shipped counts as shipped late.
            (OrderState::Paid, Action::ShipByExpired | Action::SellerCancel, _) => {
                add_stats(self, &order.id, &[("shipped_orders", 1), ("shipped_on_time", 0)]).await
            }
            (OrderState::Shipped, Action::Deliver, _) => {
                let took = (now - self.milestone(&order.id, "shipped_at").await?.unwrap_or(now)).max(0);
                add_stats(self, &order.id, &[("delivered_orders", 1), ("delivery_ms_sum", took)]).await
            }
            (_, _, OrderState::Completed) if order.state != OrderState::Completed => {
                add_stats(self, &order.id, &[("completed_orders", 1)]).await
            }
            _ => Ok(()),
        }
    }

    /// Counts a dispute's outcome in the store's totals: a completed order when the seller
    /// keeps anything, a refund and a lost dispute when the buyer gets anything back.
    pub(crate) async fn record_settlement(&mut self, order: &Order, outcome: Outcome, to: OrderState) -> Result<()> {
        let now = self.store().now_ms();
        let column = if to == OrderState::Completed { "completed_at" } else { "updated_at" };
        sqlx::query(&format!("UPDATE orders SET {column} = $1 WHERE id = $2"))
            .bind(now)
            .bind(&order.id)
            .execute(self.conn())
            .await?;
        let lost = i64::from(outcome.seller_lost());
        let completed = i64::from(to == OrderState::Completed);
        add_stats(self, &order.id, &[("completed_orders", completed), ("refunds", lost), ("disputes_lost", lost)]).await
    }

    /// When an order reached a milestone (`paid_at`, `shipped_at`, ...), if it has.
    async fn milestone(&mut self, order_id: &str, column: &str) -> Result<Option<i64>> {
        let row = sqlx::query(&format!("SELECT {column} FROM orders WHERE id = $1"))
            .bind(order_id)
            .fetch_one(self.conn())
            .await?;
        Ok(row.try_get(0)?)
    }

    /// Records a carrier event for every order shipped under its tracking number. Returns the
    /// orders it concerns, or `None` when the carrier sent this event before.
    pub async fn record_carrier_event(&mut self, e: &CarrierEvent) -> Result<Option<Vec<String>>> {
        let seen = sqlx::query("SELECT 1 FROM tracking_events WHERE carrier = $1 AND event_id = $2")
            .bind(&e.carrier)
            .bind(&e.event_id)
            .fetch_optional(self.conn())
            .await?;
        if seen.is_some() {
            return Ok(None);
        }
        let orders: Vec<String> = sqlx::query(
            "SELECT id FROM orders WHERE carrier = $1 AND tracking_number = $2 AND shipped_at IS NOT NULL ORDER BY id",
        )
        .bind(&e.carrier)
        .bind(&e.tracking_number)
        .fetch_all(self.conn())
        .await?
        .iter()
        .map(|r| r.try_get(0))
        .collect::<Result<_, _>>()?;
        if orders.is_empty() {
            return Err(StoreError::NotFound);
        }
        let now = self.store().now_ms();
        for order_id in &orders {
            sqlx::query(
                "INSERT INTO tracking_events (carrier, event_id, order_id, type, occurred_at, location, description, received_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(&e.carrier)
            .bind(&e.event_id)
            .bind(order_id)
            .bind(e.kind.as_str())
            .bind(e.occurred_at_ms)
            .bind(&e.location)
            .bind(&e.description)
            .bind(now)
            .execute(self.conn())
            .await?;
        }
        Ok(Some(orders))
    }

    /// Writes a review of one order line; the caller has checked who may. Returns the store
    /// reviewed.
    pub async fn create_review(&mut self, buyer_id: &str, d: &ReviewDraft) -> Result<ReviewView> {
        let line = sqlx::query(
            "SELECT l.product_id, o.store_id FROM order_lines l JOIN orders o ON o.id = l.order_id \
             WHERE l.order_id = $1 AND l.position = $2",
        )
        .bind(&d.order_id)
        .bind(d.position)
        .fetch_optional(self.conn())
        .await?
        .ok_or_else(|| {
            StoreError::Invalid(souk_domain::Invalid::new("unknown_line", "line", "the order has no such line"))
        })?;
        let product_id: String = line.try_get(0)?;
        let store_id: String = line.try_get(1)?;
        let id = self.store().new_id(souk_domain::id::Kind::Review);
        let now = self.store().now_ms();
        let inserted = sqlx::query(
            "INSERT INTO reviews (id, order_id, position, product_id, store_id, buyer_id, stars, described, communication, \
             shipping, body, created_at, images) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
             ON CONFLICT (order_id, position) DO NOTHING",
        )
        .bind(&id)
        .bind(&d.order_id)
        .bind(d.position)
        .bind(&product_id)
        .bind(&store_id)
        .bind(buyer_id)
        .bind(d.stars)
        .bind(d.described)
        .bind(d.communication)
        .bind(d.shipping)
        .bind(&d.text)
        .bind(now)
        .bind(serde_json::Value::from(d.images.clone()).to_string())
        .execute(self.conn())
        .await?;
        if inserted.rows_affected() != 1 {
            return Err(StoreError::Conflict {
                kind: Conflict::AlreadyReviewed,
                message: "this order line has a review already".into(),
            });
        }
        add_stats(
            self,
            &d.order_id,
            &[
                ("reviews", 1),
                ("stars_sum", d.stars),
                ("described_sum", d.described),
                ("communication_sum", d.communication),
                ("shipping_sum", d.shipping),
            ],
        )
        .await?;
        self.review(&id).await
    }

    pub async fn review(&mut self, id: &str) -> Result<ReviewView> {
        let sql = format!("SELECT {REVIEW_COLUMNS} FROM reviews r JOIN users u ON u.id = r.buyer_id WHERE r.id = $1");
        let row = sqlx::query(&sql).bind(id).fetch_optional(self.conn()).await?.ok_or(StoreError::NotFound)?;
        review_from_row(&row)
    }

    /// The seller's one reply to a review.
    pub async fn reply_to_review(&mut self, id: &str, text: &str) -> Result<ReviewView> {
        let now = self.store().now_ms();
        let done = sqlx::query("UPDATE reviews SET reply = $1, replied_at = $2 WHERE id = $3 AND reply IS NULL")
            .bind(text)
            .bind(now)
            .bind(id)
            .execute(self.conn())
            .await?;
        if done.rows_affected() != 1 {
            self.review(id).await?;
            return Err(StoreError::Conflict {
                kind: Conflict::AlreadyReplied,
                message: "the seller replied already".into(),
            });
        }
        self.review(id).await
    }
}

/// The column that keeps when an order reached `to`, if that state is a milestone.
pub(crate) fn milestone_column(to: OrderState) -> Option<&'static str> {
    match to {
        OrderState::Paid => Some("paid_at"),
        OrderState::Shipped => Some("shipped_at"),
        OrderState::Delivered => Some("delivered_at"),
        OrderState::Completed => Some("completed_at"),
        _ => None,
    }
}
