//! Figures an operator watches, read at scrape time (`/metrics`).

use crate::{Result, Store};
use sqlx::Row;

#[derive(Debug, Default)]
pub struct OpsSnapshot {
    /// (state, orders in it).
    pub orders_by_state: Vec<(String, i64)>,
    /// (currency, minor units held in escrow).
    pub escrow_held: Vec<(String, i64)>,
    pub jobs_pending: i64,
    /// How long the most overdue pending deadline has waited past its due time, in ms (0 when
    /// none is due): the job runner's lag.
    pub job_lag_ms: i64,
}

impl Store {
    pub async fn ops_snapshot(&self) -> Result<OpsSnapshot> {
        let mut conn = self.reader().await?;
        let mut out = OpsSnapshot::default();
        for row in sqlx::query("SELECT state, COUNT(*) FROM orders GROUP BY state ORDER BY state")
            .fetch_all(&mut *conn)
            .await?
        {
            out.orders_by_state.push((row.try_get(0)?, row.try_get(1)?));
        }
        for row in sqlx::query(
            "SELECT currency, CAST(SUM(balance) AS BIGINT) FROM ledger_accounts WHERE kind = 'escrow' \
             GROUP BY currency ORDER BY currency",
        )
        .fetch_all(&mut *conn)
        .await?
        {
            out.escrow_held.push((row.try_get(0)?, row.try_get(1)?));
        }
        let row =
            sqlx::query("SELECT COUNT(*), CAST(COALESCE(MIN(due_at), 0) AS BIGINT) FROM jobs WHERE state = 'pending'")
                .fetch_one(&mut *conn)
                .await?;
        out.jobs_pending = row.try_get(0)?;
        let oldest: i64 = row.try_get(1)?;
        out.job_lag_ms = if out.jobs_pending > 0 { (self.now_ms() - oldest).max(0) } else { 0 };
        Ok(out)
    }
}
