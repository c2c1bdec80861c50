//! Fixed-window attempt counters, for log-in throttling per account and per IP address.

use std::collections::HashMap;
use std::sync::Mutex;

/// Bounds memory under a flood of distinct keys: past this, expired windows are swept.
const MAX_KEYS: usize = 100_000;

#[derive(Default)]
pub struct Limiter {
    windows: Mutex<HashMap<String, (i64, u32)>>,
}

impl Limiter {
    /// Seconds until `key` may try again, if it has used `limit` attempts in the window.
    pub fn blocked_for(&self, key: &str, limit: u32, window_ms: i64, now_ms: i64) -> Option<u64> {
        let windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        match windows.get(key) {
            Some(&(start, count)) if now_ms - start < window_ms && count >= limit => {
                Some(((start + window_ms - now_ms) as u64).div_ceil(1000).max(1))
            }
            _ => None,
        }
    }

    /// Counts one attempt for `key`.
    pub fn hit(&self, key: &str, window_ms: i64, now_ms: i64) {
        let mut windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        if windows.len() >= MAX_KEYS {
            windows.retain(|_, (start, _)| now_ms - *start < window_ms);
        }
        let entry = windows.entry(key.to_string()).or_insert((now_ms, 0));
        if now_ms - entry.0 >= window_ms {
            *entry = (now_ms, 0);
        }
        entry.1 += 1;
    }

    pub fn reset(&self, key: &str) {
        self.windows.lock().unwrap_or_else(|p| p.into_inner()).remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_after_the_limit_until_the_window_ends() {
        let l = Limiter::default();
        for _ in 0..3 {
            assert_eq!(l.blocked_for("a", 3, 60_000, 0), None);
            l.hit("a", 60_000, 0);
        }
        assert_eq!(l.blocked_for("a", 3, 60_000, 1_000), Some(59));
        assert_eq!(l.blocked_for("b", 3, 60_000, 1_000), None);
        assert_eq!(l.blocked_for("a", 3, 60_000, 60_000), None);
        l.reset("a");
        assert_eq!(l.blocked_for("a", 3, 60_000, 1_000), None);
    }
}
