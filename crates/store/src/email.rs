//! Notification email owed to users (`email_outbox`, filled by a trigger on the outbox in the
//! event's transaction): which are due, claiming one for a send, and recording how it went.
//! The claim and retry rules are the webhooks' (`claim_retry`, `domain::webhook::next_attempt`).

use crate::{Result, Store, Tx};
use souk_domain::notify::Side;
use souk_domain::webhook;
use sqlx::Row;

/// An email that is due, with what writing it needs.
#[derive(Debug, Clone)]
pub struct DueEmail {
    pub id: i64,
    pub to: String,
    pub name: String,
    pub kind: String,
    pub order_id: Option<String>,
    /// The recipient's side of the order the event is about.
    pub side: Side,
    pub attempts: i64,
    pub window_start: i64,
    /// The value the claim is guarded on.
    pub next_attempt_at: i64,
    /// The language the recipient chose (`zh`), if any.
    pub locale: Option<String>,
}

impl Store {
    /// Up to `limit` emails due at `now`, oldest first.
    pub async fn due_emails(&self, now: i64, limit: usize) -> Result<Vec<DueEmail>> {
        let rows = sqlx::query(
            "SELECT m.id, u.email, u.display_name, e.type, e.order_id, o.buyer_id, o.seller_id, m.user_id, \
                    m.attempts, m.window_start, m.next_attempt_at, u.locale \
             FROM email_outbox m JOIN events e ON e.seq = m.event_seq JOIN users u ON u.id = m.user_id \
             LEFT JOIN orders o ON o.id = e.order_id \
             WHERE m.state = 'pending' AND m.next_attempt_at <= $1 ORDER BY m.next_attempt_at, m.id LIMIT $2",
        )
        .bind(now)
        .bind(limit as i64)
        .fetch_all(&mut *self.reader().await?)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let (buyer, seller, user): (Option<String>, Option<String>, String) =
                (r.try_get(5)?, r.try_get(6)?, r.try_get(7)?);
            out.push(DueEmail {
                id: r.try_get(0)?,
                to: r.try_get(1)?,
                name: r.try_get(2)?,
                kind: r.try_get(3)?,
                order_id: r.try_get(4)?,
                side: Side::of(&user, buyer.as_deref(), seller.as_deref()),
                attempts: r.try_get(8)?,
                window_start: r.try_get(9)?,
                next_attempt_at: r.try_get(10)?,
                locale: r.try_get(11)?,
            });
        }
        Ok(out)
    }
}

impl Tx {
    /// Gives up on email about events older than the retry window (a seeded past, a sender down
    /// for days): news that old is no longer worth an email; the notification stays in the app.
    pub async fn drop_stale_emails(&mut self, now: i64) -> Result<u64> {
        let dropped = sqlx::query(
            "UPDATE email_outbox SET state = 'failed', last_error = 'too old to send' \
             WHERE state = 'pending' AND created_at < $1",
        )
        .bind(now - webhook::RETRY_WINDOW_MS)
        .execute(self.conn())
        .await?;
        Ok(dropped.rows_affected())
    }

    /// Claims due emails for one send until `lease_until`, each guarded on what was read, in
    /// one statement: the ids claimed (another round holds the rest).
    pub async fn claim_emails(&mut self, due: &[DueEmail], lease_until: i64) -> Result<Vec<i64>> {
        if due.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "UPDATE email_outbox SET next_attempt_at = $1 FROM (VALUES {}) AS v \
             WHERE email_outbox.id = v.column1 AND email_outbox.state = 'pending' \
             AND email_outbox.next_attempt_at = v.column2 AND email_outbox.attempts = v.column3 \
             RETURNING email_outbox.id",
            value_rows(due.len(), 3)
        );
        let mut q = sqlx::query(&sql).bind(lease_until);
        for d in due {
            q = q.bind(d.id).bind(d.next_attempt_at).bind(d.attempts);
        }
        let rows = q.fetch_all(self.conn()).await?;
        rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
    }

    /// Records claimed emails' sends, each with its error if it failed: sent, or tried again
    /// later, or failed for good. One statement for the batch; returns each recorded email's id
    /// and new state (a row that moved meanwhile is left out).
    pub async fn record_emails(&mut self, sends: &[(&DueEmail, Option<&str>)]) -> Result<Vec<(i64, String)>> {
        if sends.is_empty() {
            return Ok(Vec::new());
        }
        let now = self.store().now_ms();
        let sql = format!(
            "UPDATE email_outbox SET state = v.column2, attempts = v.column3, next_attempt_at = v.column4, \
                    last_error = v.column5, sent_at = CASE WHEN v.column2 = 'sent' THEN $1 ELSE email_outbox.sent_at END \
             FROM (VALUES {}) AS v \
             WHERE email_outbox.id = v.column1 AND email_outbox.state = 'pending' AND email_outbox.attempts = v.column6 \
             RETURNING email_outbox.id, email_outbox.state",
            value_rows(sends.len(), 6)
        );
        let mut q = sqlx::query(&sql).bind(now);
        for (due, error) in sends {
            let number = due.attempts + 1;
            let (state, next) = match (error, webhook::next_attempt(number, due.window_start, now)) {
                (None, _) => ("sent", now),
                (Some(_), Some(at)) => ("pending", at),
                (Some(_), None) => ("failed", now),
            };
            q = q.bind(due.id).bind(state).bind(number).bind(next).bind(*error).bind(due.attempts);
        }
        let rows = q.fetch_all(self.conn()).await?;
        rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).collect()
    }

    /// Moves a due row's `next_attempt_at` to a lease, guarded on what was read: of several
    /// senders that read the same due row, one claims it.
    pub(crate) async fn claim_retry(
        &mut self,
        table: &str,
        id: i64,
        seen_next_attempt: i64,
        seen_attempts: i64,
        lease_until: i64,
    ) -> Result<bool> {
        let sql = format!(
            "UPDATE {table} SET next_attempt_at = $1 \
             WHERE id = $2 AND state = 'pending' AND next_attempt_at = $3 AND attempts = $4"
        );
        let claimed = sqlx::query(&sql)
            .bind(lease_until)
            .bind(id)
            .bind(seen_next_attempt)
            .bind(seen_attempts)
            .execute(self.conn())
            .await?;
        Ok(claimed.rows_affected() == 1)
    }
}

/// `($2, $3, ...), (...)`: `rows` rows of `width` parameters, after `$1`.
fn value_rows(rows: usize, width: usize) -> String {
    (0..rows).map(|r| format!("({})", crate::placeholders(1 + r * width, width))).collect::<Vec<_>>().join(", ")
}
