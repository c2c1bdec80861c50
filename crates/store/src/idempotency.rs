//! Idempotency keys. A key is claimed (`started`) before a request runs, and marked `done` with
//! the response in the same transaction as the request's effects, so a retry either replays the
//! first answer or finds that nothing happened.

use crate::{Result, Store, StoreError, Tx};
use sqlx::Row;

/// What a claim found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The key is ours: run the request.
    Started,
    /// A previous request with this key finished; answer with its response.
    Replay { status: u16, body: String },
    /// The key was used with a different request.
    Mismatch,
    /// Another request with this key is running (or died while running).
    InFlight { started_at: i64 },
}

impl Store {
    /// Claims `(scope, key)` for a request whose canonical hash is `request_hash`.
    pub async fn claim_idempotency_key(&self, scope: &str, key: &str, request_hash: &str) -> Result<Claim> {
        let mut tx = self.begin().await?;
        let res = sqlx::query(
            "INSERT INTO idempotency (scope, key, request_hash, state, created_at) VALUES ($1, $2, $3, 'started', $4) \
             ON CONFLICT (scope, key) DO NOTHING",
        )
        .bind(scope)
        .bind(key)
        .bind(request_hash)
        .bind(self.now_ms())
        .execute(tx.conn())
        .await?;
        if res.rows_affected() == 1 {
            tx.commit().await?;
            return Ok(Claim::Started);
        }
        let row = sqlx::query(
            "SELECT request_hash, state, status, body, created_at FROM idempotency WHERE scope = $1 AND key = $2",
        )
        .bind(scope)
        .bind(key)
        .fetch_one(tx.conn())
        .await?;
        tx.commit().await?;
        let hash: String = row.try_get("request_hash")?;
        if hash != request_hash {
            return Ok(Claim::Mismatch);
        }
        let state: String = row.try_get("state")?;
        if state == "done" {
            let status: Option<i64> = row.try_get("status")?;
            let body: Option<String> = row.try_get("body")?;
            return Ok(Claim::Replay { status: status.unwrap_or(200) as u16, body: body.unwrap_or_default() });
        }
        Ok(Claim::InFlight { started_at: row.try_get("created_at")? })
    }

    /// Takes over a claim left `started` by a request that died (its transaction never
    /// committed, or the key would be `done`). Only one contender wins.
    pub async fn take_over_idempotency_key(&self, scope: &str, key: &str, started_at: i64) -> Result<bool> {
        let mut tx = self.begin().await?;
        let res = sqlx::query(
            "UPDATE idempotency SET created_at = $1 WHERE scope = $2 AND key = $3 AND state = 'started' AND created_at = $4",
        )
        .bind(self.now_ms())
        .bind(scope)
        .bind(key)
        .bind(started_at)
        .execute(tx.conn())
        .await?;
        tx.commit().await?;
        Ok(res.rows_affected() == 1)
    }

    /// Forgets a claim whose request failed without effects, so a retry runs it again.
    pub async fn release_idempotency_key(&self, scope: &str, key: &str) -> Result<()> {
        let mut tx = self.begin().await?;
        sqlx::query("DELETE FROM idempotency WHERE scope = $1 AND key = $2 AND state = 'started'")
            .bind(scope)
            .bind(key)
            .execute(tx.conn())
            .await?;
        tx.commit().await
    }

    /// Forgets up to `limit` keys claimed before `before_ms`, oldest first; how many. A retry
    /// with a forgotten key runs as a new request, so `before_ms` must lie further back than
    /// any client retries (and than any request runs: a claim still `started` goes too).
    pub async fn prune_idempotency_keys(&self, before_ms: i64, limit: usize) -> Result<u64> {
        let mut tx = self.begin().await?;
        let res = sqlx::query(
            "DELETE FROM idempotency WHERE (key, scope) IN \
             (SELECT key, scope FROM idempotency WHERE created_at < $1 ORDER BY created_at LIMIT $2)",
        )
        .bind(before_ms)
        .bind(limit as i64)
        .execute(tx.conn())
        .await?;
        tx.commit().await?;
        Ok(res.rows_affected())
    }

    /// Records the response of a request that wrote nothing else.
    pub async fn complete_idempotency_key(&self, scope: &str, key: &str, status: u16, body: &str) -> Result<()> {
        let mut tx = self.begin().await?;
        tx.complete_idempotency_key(scope, key, status, body).await?;
        tx.commit().await
    }
}

impl Tx {
    /// Marks the claim done with its response, inside the request's own transaction.
    pub async fn complete_idempotency_key(&mut self, scope: &str, key: &str, status: u16, body: &str) -> Result<()> {
        let res = sqlx::query(
            "UPDATE idempotency SET state = 'done', status = $1, body = $2 WHERE scope = $3 AND key = $4 AND state = 'started'",
        )
        .bind(i64::from(status))
        .bind(body)
        .bind(scope)
        .bind(key)
        .execute(self.conn())
        .await?;
        if res.rows_affected() != 1 {
            return Err(StoreError::Conflict {
                code: "idempotency_conflict",
                message: "this idempotency key was completed by another request".into(),
            });
        }
        Ok(())
    }
}
