//! Webhooks' rules: which event types exist and which an endpoint subscribes to, and when a
//! failed delivery is tried again. Delivery itself (HTTP, signatures, the log) lives in the
//! server and the store.

use crate::Invalid;

/// Every event type the outbox carries, as a webhook sees it.
pub const EVENT_TYPES: [&str; 36] = [
    "order.created",
    "order.paid",
    "order.shipped",
    "order.delivered",
    "order.ship_reminder",
    "order.confirm_reminder",
    "order.confirmation_extended",
    "order.completed",
    "order.cancelled",
    "order.refunded",
    "order.partially_refunded",
    "order.disputed",
    "dispute.opened",
    "dispute.awaiting_seller",
    "dispute.refund_offered",
    "dispute.return_requested",
    "dispute.return_shipped",
    "dispute.rejected",
    "dispute.mediation",
    "dispute.resolved",
    "dispute.response_reminder",
    "message.created",
    "conversation.read",
    "offer.created",
    "offer.accepted",
    "offer.declined",
    "offer.countered",
    "rfq.quoted",
    "rfq.quote_revised",
    "rfq.awarded",
    "moderation.taken_down",
    "moderation.store_suspended",
    "moderation.reversed",
    "moderation.review_hidden",
    "moderation.held_for_review",
    "moderation.appeal_answered",
];

/// Most subscriptions one endpoint may list.
pub const MAX_PATTERNS: usize = 40;

/// Checks and normalises an endpoint's subscriptions: each is an event type, a family
/// (`order.*`) or everything (`*`); sorted, without repeats. A family or `*` also takes event
/// types added later.
pub fn parse_patterns(requested: &[String]) -> Result<Vec<String>, Invalid> {
    let mut out: Vec<String> = Vec::new();
    for p in requested {
        let p = p.trim().to_ascii_lowercase();
        let known = p == "*"
            || EVENT_TYPES.contains(&p.as_str())
            || p.strip_suffix(".*")
                .is_some_and(|family| EVENT_TYPES.iter().any(|t| t.split('.').next() == Some(family)));
        if !known {
            return Err(Invalid::new(
                "invalid",
                "events",
                format!(
                    "'{p}' is not an event type: use one of {}, a family such as order.*, or *",
                    EVENT_TYPES.join(", ")
                ),
            ));
        }
        if !out.contains(&p) {
            out.push(p);
        }
    }
    if out.is_empty() {
        return Err(Invalid::new("required", "events", "at least one event type"));
    }
    if out.len() > MAX_PATTERNS {
        return Err(Invalid::new("invalid", "events", format!("at most {MAX_PATTERNS} subscriptions")));
    }
    out.sort();
    Ok(out)
}

/// Whether an endpoint subscribed to `patterns` receives events of type `kind`. The database
/// trigger that fans events out to deliveries applies the same rule.
pub fn matches(patterns: &[String], kind: &str) -> bool {
    let family = kind.split_once('.').map(|(f, _)| format!("{f}.*"));
    patterns.iter().any(|p| p == "*" || p == kind || Some(p) == family.as_ref())
}

/// Retries stop this long after the first attempt (or a manual replay).
pub const RETRY_WINDOW_MS: i64 = 3 * 86_400_000;
/// The first retry waits this long; each further one twice as long as the one before ...
pub const FIRST_RETRY_MS: i64 = 60_000;
/// ... up to this.
pub const MAX_RETRY_MS: i64 = 6 * 3_600_000;

/// When to try a delivery again after its `attempts`-th failed attempt at `now_ms`, or `None`
/// when that would be past the retry window begun at `window_start_ms` and the delivery has
/// failed for good.
pub fn next_attempt(attempts: i64, window_start_ms: i64, now_ms: i64) -> Option<i64> {
    let doublings = attempts.clamp(1, 20) - 1;
    let wait = FIRST_RETRY_MS.saturating_mul(1 << doublings).min(MAX_RETRY_MS);
    let at = now_ms + wait;
    (at <= window_start_ms + RETRY_WINDOW_MS).then_some(at)
}

/// Whether a receiver's HTTP status acknowledges the delivery.
pub fn acknowledged(status: u16) -> bool {
    (200..300).contains(&status)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn patterns_are_types_families_or_everything() {
        assert_eq!(
            parse_patterns(&strings(&["order.paid", " ORDER.*", "order.paid"])).unwrap(),
            ["order.*", "order.paid"]
        );
        assert_eq!(parse_patterns(&strings(&["*"])).unwrap(), ["*"]);
        for bad in ["order.eaten", "orders.*", "", "order", "*.*"] {
            let e = parse_patterns(&strings(&[bad])).unwrap_err();
            assert_eq!(e.field.as_deref(), Some("events"), "{bad}");
        }
        assert_eq!(parse_patterns(&[]).unwrap_err().code, "required");
    }

    #[test]
    fn matching_follows_the_pattern() {
        let p = strings(&["dispute.*", "order.paid"]);
        assert!(matches(&p, "order.paid"));
        assert!(matches(&p, "dispute.mediation"));
        assert!(!matches(&p, "order.shipped"));
        assert!(!matches(&p, "message.created"));
        assert!(matches(&strings(&["*"]), "rfq.awarded"));
    }

    #[test]
    fn retries_double_from_a_minute_and_stop_after_three_days() {
        let start = 1_000_000;
        assert_eq!(next_attempt(1, start, start), Some(start + 60_000));
        assert_eq!(next_attempt(2, start, start + 60_000), Some(start + 180_000));
        assert_eq!(next_attempt(30, start, start), Some(start + MAX_RETRY_MS));
        assert_eq!(next_attempt(5, start, start + RETRY_WINDOW_MS - 1_000), None);
    }

    proptest! {
        /// Retrying as told from any failure: waits never shrink, never exceed the cap, and
        /// the last attempt falls inside the window; the window always ends the retries.
        #[test]
        fn retries_end_inside_the_window(start in 0i64..1_000_000_000, late in 0i64..1_000_000) {
            let mut now = start + late;
            let mut attempts = 1;
            let mut last_wait = 0;
            while let Some(at) = next_attempt(attempts, start, now) {
                let wait = at - now;
                prop_assert!(wait >= last_wait && (FIRST_RETRY_MS..=MAX_RETRY_MS).contains(&wait));
                prop_assert!(at <= start + RETRY_WINDOW_MS);
                last_wait = wait;
                now = at;
                attempts += 1;
                prop_assert!(attempts < 100);
            }
            // Retries stop only when the next wait would overrun the window.
            prop_assert!(now > start + RETRY_WINDOW_MS - MAX_RETRY_MS);
        }
    }
}
