//! Fixed-window attempt counters shared by every process using the database.

use crate::{Result, Store, Tx};
use sqlx::Row;

impl Store {
    /// The window `key` counts in now: when it started and how many attempts it holds.
    pub async fn rate_window(&self, key: &str) -> Result<Option<(i64, i64)>> {
        let row = sqlx::query("SELECT window_start, count FROM rate_limits WHERE key = $1")
            .bind(key)
            .fetch_optional(&mut *self.reader().await?)
            .await?;
        row.map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).transpose()
    }

    /// Counts one attempt for `key` in a commit of its own (see [`Tx::rate_hit`]).
    pub async fn rate_hit(&self, key: &str, window_ms: i64, now_ms: i64) -> Result<()> {
        let mut tx = self.begin().await?;
        tx.rate_hit(key, window_ms, now_ms).await?;
        tx.commit().await
    }

    pub async fn rate_reset(&self, key: &str) -> Result<()> {
        let mut tx = self.begin().await?;
        sqlx::query("DELETE FROM rate_limits WHERE key = $1").bind(key).execute(tx.conn()).await?;
        tx.commit().await
    }

    /// Forgets windows that started before `before_ms`; how many.
    pub async fn prune_rate_limits(&self, before_ms: i64) -> Result<u64> {
        let mut tx = self.begin().await?;
        let done =
            sqlx::query("DELETE FROM rate_limits WHERE window_start < $1").bind(before_ms).execute(tx.conn()).await?;
        tx.commit().await?;
        Ok(done.rows_affected())
    }
}

impl Tx {
    /// Counts one attempt for `key`, in a window that starts anew once `window_ms` has passed.
    pub async fn rate_hit(&mut self, key: &str, window_ms: i64, now_ms: i64) -> Result<()> {
        sqlx::query(
            "INSERT INTO rate_limits (key, window_start, count) VALUES ($1, $2, 1) \
             ON CONFLICT (key) DO UPDATE SET \
               count = CASE WHEN $2 - rate_limits.window_start >= $3 THEN 1 ELSE rate_limits.count + 1 END, \
               window_start = CASE WHEN $2 - rate_limits.window_start >= $3 THEN $2 ELSE rate_limits.window_start END",
        )
        .bind(key)
        .bind(now_ms)
        .bind(window_ms)
        .execute(self.conn())
        .await?;
        Ok(())
    }
}
