//! Fixed-window attempt counters (log-in per account and per address, password resets, chat
//! messages), kept in the database so that every server process counts the same attempts.

use crate::error::Result;
use crate::App;

/// Windows older than this are forgotten (the longest window is a quarter hour).
pub const FORGET_AFTER_MS: i64 = 24 * 3_600_000;

/// Seconds until `key` may try again, if it has used `limit` attempts in its window.
pub async fn blocked_for(app: &App, key: &str, limit: u32, window_ms: i64, now_ms: i64) -> Result<Option<u64>> {
    Ok(match app.store.rate_window(key).await? {
        Some((start, count)) if now_ms - start < window_ms && count >= i64::from(limit) => {
            Some(((start + window_ms - now_ms) as u64).div_ceil(1000).max(1))
        }
        _ => None,
    })
}

/// Counts one attempt for `key`.
pub async fn hit(app: &App, key: &str, window_ms: i64, now_ms: i64) -> Result<()> {
    Ok(app.store.rate_hit(key, window_ms, now_ms).await?)
}

/// Counts one attempt for `key` in `tx`, the transaction of what is attempted (one that holds the
/// database's writer must not wait for another).
pub async fn hit_in(tx: &mut crate::Tx, key: &str, window_ms: i64, now_ms: i64) -> Result<()> {
    Ok(tx.rate_hit(key, window_ms, now_ms).await?)
}

/// Forgets `key`'s attempts (a right password clears the wrong ones before it).
pub async fn reset(app: &App, key: &str) -> Result<()> {
    Ok(app.store.rate_reset(key).await?)
}
