//! Webhook endpoints and their deliveries. Deliveries are written by a trigger on the outbox
//! (migration `0013_webhooks`) in the event's own transaction; this module registers endpoints,
//! hands due deliveries to the sender, records each attempt and keeps the delivery log.
//!
//! A delivery is sent by whoever claims it: the claim moves `next_attempt_at` to a lease, guarded
//! on the value read, so two rounds (or two processes) never send it at once, and a sender that
//! dies mid-attempt leaves a delivery that falls due again when the lease ends: at least once.
//! Of one endpoint's deliveries about one order, only the earliest pending one is ever due, so
//! they arrive in the order their events were written.

use crate::{Page, Result, Store, StoreError, Tx};
use souk_domain::id::Kind;
use souk_domain::time::rfc3339;
use souk_domain::time::Timestamp;
use souk_domain::webhook;
use sqlx::any::AnyRow;
use sqlx::Row;

#[derive(Debug, Clone, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WebhookView {
    pub id: String,
    pub url: String,
    pub description: String,
    /// Subscriptions: event types, families (`order.*`) or `*`.
    pub events: Vec<String>,
    /// Every event of the marketplace (operators), rather than those addressed to the owner.
    pub marketplace: bool,
    pub created_at: Timestamp,
    /// Set when the endpoint was deleted: nothing more is sent to it.
    pub disabled_at: Option<String>,
}

#[derive(Debug, Clone, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AttemptView {
    pub attempt: i64,
    pub at: Timestamp,
    /// The receiver's HTTP status; absent when it never answered.
    pub status: Option<i64>,
    pub error: Option<String>,
    /// The start of the receiver's answer.
    pub response: Option<String>,
    pub duration_ms: i64,
}

#[derive(Debug, Clone, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeliveryView {
    pub id: i64,
    /// The event's id: the same in every retry and replay, for the receiver to deduplicate by.
    pub event_id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub order_id: Option<String>,
    /// `pending`, `delivered` or `failed` (retries ran out; a replay starts them again).
    pub state: String,
    pub attempts: i64,
    /// When a pending delivery is tried next.
    pub next_attempt_at: Option<Timestamp>,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    pub created_at: Timestamp,
    pub delivered_at: Option<String>,
    /// Every attempt, oldest first (in the single-delivery view only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempt_log: Option<Vec<AttemptView>>,
}

/// A delivery that is due, with what sending it needs.
#[derive(Debug, Clone)]
pub struct DueDelivery {
    pub id: i64,
    pub url: String,
    pub secret: String,
    pub event_id: String,
    pub kind: String,
    pub order_id: Option<String>,
    pub attempts: i64,
    pub window_start: i64,
    /// The value the claim is guarded on.
    pub next_attempt_at: i64,
    pub payload: String,
    pub event_created_at: i64,
}

impl DueDelivery {
    /// The request body: the event with its id, type and time, and its data.
    pub fn body(&self) -> String {
        let data: serde_json::Value = serde_json::from_str(&self.payload).unwrap_or(serde_json::Value::Null);
        serde_json::json!({
            "id": self.event_id,
            "type": self.kind,
            "created_at": rfc3339(self.event_created_at),
            "order_id": self.order_id,
            "data": data,
        })
        .to_string()
    }
}

/// What one attempt came to.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub status: Option<u16>,
    pub error: Option<String>,
    pub response: Option<String>,
    pub duration_ms: i64,
}

const ENDPOINT_COLUMNS: &str = "id, url, description, events, marketplace, created_at, disabled_at";
const DELIVERY_COLUMNS: &str = "id, event_id, type, order_id, state, attempts, next_attempt_at, last_status, \
                                last_error, created_at, delivered_at";

fn endpoint_view(row: &AnyRow) -> Result<WebhookView> {
    let events: String = row.try_get(3)?;
    let disabled: Option<i64> = row.try_get(6)?;
    Ok(WebhookView {
        id: row.try_get(0)?,
        url: row.try_get(1)?,
        description: row.try_get(2)?,
        events: events.split(' ').filter(|s| !s.is_empty()).map(str::to_string).collect(),
        marketplace: row.try_get::<i64, _>(4)? == 1,
        created_at: Timestamp(row.try_get(5)?),
        disabled_at: disabled.map(rfc3339),
    })
}

fn delivery_view(row: &AnyRow) -> Result<DeliveryView> {
    let state: String = row.try_get(4)?;
    let next: i64 = row.try_get(6)?;
    let delivered: Option<i64> = row.try_get(10)?;
    Ok(DeliveryView {
        id: row.try_get(0)?,
        event_id: row.try_get(1)?,
        kind: row.try_get(2)?,
        order_id: row.try_get(3)?,
        next_attempt_at: (state == "pending").then_some(Timestamp(next)),
        state,
        attempts: row.try_get(5)?,
        last_status: row.try_get(7)?,
        last_error: row.try_get(8)?,
        created_at: Timestamp(row.try_get(9)?),
        delivered_at: delivered.map(rfc3339),
        attempt_log: None,
    })
}

impl Tx {
    pub async fn create_webhook(
        &mut self,
        owner_id: &str,
        url: &str,
        description: &str,
        events: &[String],
        marketplace: bool,
        secret: &str,
    ) -> Result<WebhookView> {
        let id = self.store().new_id(Kind::Webhook);
        let sql = format!(
            "INSERT INTO webhook_endpoints (id, owner_id, url, description, events, marketplace, secret, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING {ENDPOINT_COLUMNS}"
        );
        let row = sqlx::query(&sql)
            .bind(&id)
            .bind(owner_id)
            .bind(url)
            .bind(description)
            .bind(events.join(" "))
            .bind(i64::from(marketplace))
            .bind(secret)
            .bind(self.store().now_ms())
            .fetch_one(self.conn())
            .await?;
        endpoint_view(&row)
    }

    /// Deletes one of `owner_id`'s endpoints: it stops receiving (again is harmless); its log
    /// stays, with what was still pending marked failed.
    pub async fn disable_webhook(&mut self, owner_id: &str, id: &str) -> Result<WebhookView> {
        let sql = format!(
            "UPDATE webhook_endpoints SET disabled_at = COALESCE(disabled_at, $1) WHERE id = $2 AND owner_id = $3 \
             RETURNING {ENDPOINT_COLUMNS}"
        );
        let row = sqlx::query(&sql)
            .bind(self.store().now_ms())
            .bind(id)
            .bind(owner_id)
            .fetch_optional(self.conn())
            .await?
            .ok_or(StoreError::NotFound)?;
        // What was still owed to it will not be sent: the log says so rather than "pending".
        sqlx::query(
            "UPDATE webhook_deliveries SET state = 'failed', last_error = 'endpoint deleted' \
             WHERE endpoint_id = $1 AND state = 'pending'",
        )
        .bind(id)
        .execute(self.conn())
        .await?;
        endpoint_view(&row)
    }

    /// Sends a delivery again, whatever became of it: pending now, with a fresh retry window.
    /// Later events about the same order wait for it, as they would for the first attempt.
    pub async fn replay_webhook_delivery(&mut self, endpoint_id: &str, delivery_id: i64) -> Result<DeliveryView> {
        let now = self.store().now_ms();
        let sql = format!(
            "UPDATE webhook_deliveries SET state = 'pending', next_attempt_at = $1, window_start = $1 \
             WHERE id = $2 AND endpoint_id = $3 RETURNING {DELIVERY_COLUMNS}"
        );
        let row = sqlx::query(&sql)
            .bind(now)
            .bind(delivery_id)
            .bind(endpoint_id)
            .fetch_optional(self.conn())
            .await?
            .ok_or(StoreError::NotFound)?;
        delivery_view(&row)
    }

    /// Claims a due delivery for one attempt until `lease_until`; false when another round
    /// claimed or finished it first.
    pub async fn claim_webhook_delivery(&mut self, due: &DueDelivery, lease_until: i64) -> Result<bool> {
        self.claim_retry("webhook_deliveries", due.id, due.next_attempt_at, due.attempts, lease_until).await
    }

    /// Records an attempt of a claimed delivery and what follows from it: delivered, tried
    /// again later, or failed for good once the retry window is spent. Returns the new state,
    /// or `None` when the delivery moved meanwhile (a replay, or another sender after the
    /// lease ran out), in which case nothing is written.
    pub async fn record_webhook_attempt(
        &mut self,
        due: &DueDelivery,
        attempt: &Attempt,
    ) -> Result<Option<&'static str>> {
        let now = self.store().now_ms();
        let number = due.attempts + 1;
        let ok = attempt.status.is_some_and(webhook::acknowledged);
        let (state, next) = match (ok, webhook::next_attempt(number, due.window_start, now)) {
            (true, _) => ("delivered", now),
            (false, Some(at)) => ("pending", at),
            (false, None) => ("failed", now),
        };
        let error = attempt.error.clone().or_else(|| attempt.status.filter(|_| !ok).map(|s| format!("HTTP {s}")));
        let moved = sqlx::query(
            "UPDATE webhook_deliveries SET state = $1, attempts = $2, next_attempt_at = $3, last_status = $4, \
                    last_error = $5, delivered_at = CASE WHEN $1 = 'delivered' THEN $6 ELSE delivered_at END \
             WHERE id = $7 AND state = 'pending' AND attempts = $8",
        )
        .bind(state)
        .bind(number)
        .bind(next)
        .bind(attempt.status.map(i64::from))
        .bind(&error)
        .bind(now)
        .bind(due.id)
        .bind(due.attempts)
        .execute(self.conn())
        .await?;
        if moved.rows_affected() != 1 {
            return Ok(None);
        }
        sqlx::query(
            "INSERT INTO webhook_attempts (delivery_id, attempt, at, status, error, response, duration_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(due.id)
        .bind(number)
        .bind(now)
        .bind(attempt.status.map(i64::from))
        .bind(&error)
        .bind(&attempt.response)
        .bind(attempt.duration_ms)
        .execute(self.conn())
        .await?;
        Ok(Some(state))
    }
}

impl Store {
    /// `owner_id`'s endpoints, newest first, deleted ones included.
    pub async fn webhooks(&self, owner_id: &str) -> Result<Vec<WebhookView>> {
        let sql = format!("SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE owner_id = $1 ORDER BY id DESC");
        let rows = sqlx::query(&sql).bind(owner_id).fetch_all(&mut *self.reader().await?).await?;
        rows.iter().map(endpoint_view).collect()
    }

    /// One of `owner_id`'s endpoints; anyone else's is not found.
    pub async fn webhook(&self, owner_id: &str, id: &str) -> Result<Option<WebhookView>> {
        let sql = format!("SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE id = $1 AND owner_id = $2");
        let row = sqlx::query(&sql).bind(id).bind(owner_id).fetch_optional(&mut *self.reader().await?).await?;
        row.as_ref().map(endpoint_view).transpose()
    }

    /// An endpoint's deliveries, newest first; `state` filters.
    pub async fn webhook_deliveries(
        &self,
        endpoint_id: &str,
        state: Option<&str>,
        cursor: Option<i64>,
        limit: usize,
    ) -> Result<Page<DeliveryView>> {
        let sql = format!(
            "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE endpoint_id = $1 AND ($2 = '' OR state = $2) \
             AND ($3 = 0 OR id < $3) ORDER BY id DESC LIMIT $4"
        );
        let rows = sqlx::query(&sql)
            .bind(endpoint_id)
            .bind(state.unwrap_or(""))
            .bind(cursor.unwrap_or(0))
            .bind(limit as i64 + 1)
            .fetch_all(&mut *self.reader().await?)
            .await?;
        let items = rows.iter().map(delivery_view).collect::<Result<Vec<_>>>()?;
        Ok(Page::from_rows(items, limit, |d| d.id.to_string()))
    }

    /// One delivery of an endpoint with every attempt.
    pub async fn webhook_delivery(&self, endpoint_id: &str, delivery_id: i64) -> Result<Option<DeliveryView>> {
        let mut conn = self.reader().await?;
        let sql = format!("SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE id = $1 AND endpoint_id = $2");
        let Some(row) = sqlx::query(&sql).bind(delivery_id).bind(endpoint_id).fetch_optional(&mut *conn).await? else {
            return Ok(None);
        };
        let mut view = delivery_view(&row)?;
        let attempts = sqlx::query(
            "SELECT attempt, at, status, error, response, duration_ms FROM webhook_attempts \
             WHERE delivery_id = $1 ORDER BY attempt",
        )
        .bind(delivery_id)
        .fetch_all(&mut *conn)
        .await?;
        let mut log = Vec::with_capacity(attempts.len());
        for a in attempts {
            log.push(AttemptView {
                attempt: a.try_get(0)?,
                at: Timestamp(a.try_get(1)?),
                status: a.try_get(2)?,
                error: a.try_get(3)?,
                response: a.try_get(4)?,
                duration_ms: a.try_get(5)?,
            });
        }
        view.attempt_log = Some(log);
        Ok(Some(view))
    }

    /// Up to `limit` deliveries due at `now` to live endpoints, each the earliest pending one
    /// of its endpoint and order, soonest first.
    pub async fn due_webhook_deliveries(&self, now: i64, limit: usize) -> Result<Vec<DueDelivery>> {
        let rows = sqlx::query(
            "SELECT d.id, w.url, w.secret, d.event_id, d.type, d.order_id, d.attempts, d.window_start, \
                    d.next_attempt_at, e.payload, e.created_at \
             FROM webhook_deliveries d \
             JOIN webhook_endpoints w ON w.id = d.endpoint_id AND w.disabled_at IS NULL \
             JOIN events e ON e.seq = d.event_seq \
             WHERE d.state = 'pending' AND d.next_attempt_at <= $1 \
               AND NOT EXISTS (SELECT 1 FROM webhook_deliveries p WHERE p.endpoint_id = d.endpoint_id \
                               AND p.order_id = d.order_id AND p.state = 'pending' AND p.event_seq < d.event_seq) \
             ORDER BY d.next_attempt_at, d.id LIMIT $2",
        )
        .bind(now)
        .bind(limit as i64)
        .fetch_all(&mut *self.reader().await?)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            out.push(DueDelivery {
                id: r.try_get(0)?,
                url: r.try_get(1)?,
                secret: r.try_get(2)?,
                event_id: r.try_get(3)?,
                kind: r.try_get(4)?,
                order_id: r.try_get(5)?,
                attempts: r.try_get(6)?,
                window_start: r.try_get(7)?,
                next_attempt_at: r.try_get(8)?,
                payload: r.try_get(9)?,
                event_created_at: r.try_get(10)?,
            });
        }
        Ok(out)
    }
}
