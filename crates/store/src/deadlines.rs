//! Deadlines as durable jobs: one row per order and kind, scheduled and cancelled in the same
//! transaction as the transition that sets them, run once each when due (`run_job` claims the
//! row in the transaction that performs its action), with a reminder a day before the ship-by,
//! confirm-by and dispute-response deadlines.

use crate::{Conflict, Result, Store, StoreError, Tx};
use souk_domain::id::Kind;
use souk_domain::order::{DeadlineKind, Policy, REMINDER_LEAD_MS};
use souk_domain::time::rfc3339;
use sqlx::Row;

/// A due deadline.
#[derive(Debug, Clone)]
pub struct DueJob {
    pub id: String,
    pub order_id: String,
    pub kind: DeadlineKind,
}

impl Store {
    /// Deadlines due at `now`, oldest first.
    pub async fn due_jobs(&self, limit: usize) -> Result<Vec<DueJob>> {
        let rows = sqlx::query(
            "SELECT id, order_id, kind FROM jobs WHERE state = 'pending' AND due_at <= $1 ORDER BY due_at LIMIT $2",
        )
        .bind(self.now_ms())
        .bind(limit as i64)
        .fetch_all(&mut *self.reader().await?)
        .await?;
        rows.iter()
            .map(|r| {
                let kind: String = r.try_get("kind")?;
                Ok(DueJob {
                    id: r.try_get("id")?,
                    order_id: r.try_get("order_id")?,
                    kind: DeadlineKind::parse(&kind)
                        .ok_or_else(|| StoreError::broken(format!("unknown deadline {kind}")))?,
                })
            })
            .collect()
    }
}

impl Tx {
    /// Schedules (or moves) the order's deadline of `kind`: one job per order and kind.
    /// Its reminder moves with it, a day earlier (none when that is already past).
    pub(crate) async fn schedule(&mut self, order_id: &str, kind: DeadlineKind, due_at: i64) -> Result<()> {
        let mut jobs = vec![(kind, due_at)];
        if let Some(reminder) = kind.reminder() {
            let at = due_at - REMINDER_LEAD_MS;
            if at > self.store().now_ms() {
                jobs.push((reminder, at));
            } else {
                self.cancel_jobs(order_id, &[reminder]).await?;
            }
        }
        // A deadline and its reminder in one statement.
        let rows: Vec<String> = (0..jobs.len())
            .map(|i| format!("(${}, ${}, $1, ${}, 'pending')", 3 * i + 2, 3 * i + 3, 3 * i + 4))
            .collect();
        let sql = format!(
            "INSERT INTO jobs (id, kind, order_id, due_at, state) VALUES {} \
             ON CONFLICT (order_id, kind) DO UPDATE SET due_at = excluded.due_at, state = 'pending'",
            rows.join(", ")
        );
        let mut q = sqlx::query(&sql).bind(order_id);
        for (kind, due_at) in jobs {
            q = q.bind(self.store().new_id(Kind::Job)).bind(kind.as_str()).bind(due_at);
        }
        q.execute(self.conn()).await?;
        Ok(())
    }

    /// Cancels the order's pending deadlines of these kinds.
    pub(crate) async fn cancel_jobs(&mut self, order_id: &str, kinds: &[DeadlineKind]) -> Result<()> {
        if kinds.is_empty() {
            return Ok(());
        }
        let sql = format!(
            "UPDATE jobs SET state = 'cancelled' WHERE order_id = $1 AND kind IN ({}) AND state = 'pending'",
            crate::placeholders(1, kinds.len())
        );
        let mut q = sqlx::query(&sql).bind(order_id);
        for kind in kinds {
            q = q.bind(kind.as_str());
        }
        q.execute(self.conn()).await?;
        Ok(())
    }

    /// Runs one due deadline, exactly once: the job is marked done in this same transaction,
    /// and only if it is still pending and due. Returns false when there was nothing to do.
    pub async fn run_job(&mut self, job: &DueJob, policy: &Policy) -> Result<bool> {
        let now = self.store().now_ms();
        let claimed =
            sqlx::query("UPDATE jobs SET state = 'done' WHERE id = $1 AND state = 'pending' AND due_at <= $2")
                .bind(&job.id)
                .bind(now)
                .execute(self.conn())
                .await?;
        if claimed.rows_affected() != 1 {
            return Ok(false);
        }
        if let Some((deadline, event)) = job.kind.reminds() {
            return self.remind(&job.order_id, deadline, event).await;
        }
        let Some(action) = job.kind.action() else {
            return self.run_dispute_deadline(&job.order_id, job.kind, policy).await;
        };
        match self.act(&job.order_id, action, policy).await {
            Ok(_) => Ok(true),
            // The order moved on before its deadline fired; the job is simply spent.
            Err(StoreError::Conflict { kind: Conflict::InvalidState, .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Tells the party who must act that `deadline` is a day away, if it is still pending and
    /// not yet due (an order shipped, confirmed or disputed meanwhile needs no reminder).
    async fn remind(&mut self, order_id: &str, deadline: DeadlineKind, event: &str) -> Result<bool> {
        let due = sqlx::query("SELECT due_at FROM jobs WHERE order_id = $1 AND kind = $2 AND state = 'pending'")
            .bind(order_id)
            .bind(deadline.as_str())
            .fetch_optional(self.conn())
            .await?;
        let Some(due) = due else { return Ok(false) };
        let due_at: i64 = due.try_get(0)?;
        // Run late (the server was down past the deadline itself): the deadline speaks instead.
        if due_at <= self.store().now_ms() {
            return Ok(false);
        }
        // A dispute's jobs are not cancelled as it moves on: the seller answered if it left
        // `awaiting_seller`.
        if deadline == DeadlineKind::DisputeResponse {
            let state = sqlx::query("SELECT state FROM disputes WHERE order_id = $1")
                .bind(order_id)
                .fetch_optional(self.conn())
                .await?;
            if state.map(|r| r.try_get::<String, _>(0)).transpose()?.as_deref() != Some("awaiting_seller") {
                return Ok(false);
            }
        }
        let row = sqlx::query("SELECT buyer_id, seller_id FROM orders WHERE id = $1")
            .bind(order_id)
            .fetch_one(self.conn())
            .await?;
        let seller_acts = matches!(deadline, DeadlineKind::ShipBy | DeadlineKind::DisputeResponse);
        let who: String = row.try_get(if seller_acts { 1 } else { 0 })?;
        let payload =
            serde_json::json!({"order_id": order_id, "deadline": deadline.as_str(), "due_at": rfc3339(due_at)});
        self.emit(&[&who], event, Some(order_id), &payload).await?;
        Ok(true)
    }
}
