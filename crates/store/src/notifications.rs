//! In-app notifications: the recipient's rows of the outbox (`events`), newest first, with
//! how far the user has read. Reading the outbox itself means a notification exists exactly
//! when its event committed, in the same transaction as the change it tells of.

use crate::{Result, Store, Tx};
use souk_domain::notify::Side;
use souk_domain::time::Timestamp;
use sqlx::Row;

#[derive(Debug, Clone)]
pub struct NotificationRow {
    pub seq: i64,
    pub kind: String,
    pub order_id: Option<String>,
    /// The recipient's side of the order the event is about.
    pub side: Side,
    pub created_at: Timestamp,
    pub read: bool,
}

/// Events that tell nobody anything new.
const QUIET: &str = "'conversation.read'";

fn unread_sql() -> String {
    format!(
        "SELECT COUNT(*) FROM events e WHERE e.user_id = $1 AND e.type NOT IN ({QUIET}) AND e.seq > \
         COALESCE((SELECT read_seq FROM notification_reads WHERE user_id = $1), 0)"
    )
}

impl Store {
    /// Up to `limit` notifications older than `before` (a seq), newest first.
    pub async fn notifications(
        &self,
        user_id: &str,
        before: Option<i64>,
        limit: usize,
    ) -> Result<Vec<NotificationRow>> {
        let sql = format!(
            "SELECT e.seq, e.type, e.order_id, e.created_at, o.buyer_id, o.seller_id, \
                    CAST(COALESCE(r.read_seq, 0) AS BIGINT) \
             FROM events e LEFT JOIN orders o ON o.id = e.order_id \
             LEFT JOIN notification_reads r ON r.user_id = e.user_id \
             WHERE e.user_id = $1 AND ($2 = 0 OR e.seq < $2) AND e.type NOT IN ({QUIET}) \
             ORDER BY e.seq DESC LIMIT $3"
        );
        let rows = sqlx::query(&sql)
            .bind(user_id)
            .bind(before.unwrap_or(0))
            .bind(limit as i64)
            .fetch_all(&mut *self.reader().await?)
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let (buyer, seller): (Option<String>, Option<String>) = (row.try_get(4)?, row.try_get(5)?);
            let side = Side::of(user_id, buyer.as_deref(), seller.as_deref());
            let seq: i64 = row.try_get(0)?;
            let read_seq: i64 = row.try_get(6)?;
            out.push(NotificationRow {
                seq,
                kind: row.try_get(1)?,
                order_id: row.try_get(2)?,
                side,
                created_at: Timestamp(row.try_get(3)?),
                read: seq <= read_seq,
            });
        }
        Ok(out)
    }

    /// `user_id`'s side of an order (`Other` when the order is not theirs or does not exist).
    pub async fn order_side(&self, order_id: &str, user_id: &str) -> Result<Side> {
        let row = sqlx::query("SELECT buyer_id, seller_id FROM orders WHERE id = $1")
            .bind(order_id)
            .fetch_optional(&mut *self.reader().await?)
            .await?;
        Ok(match row {
            Some(r) if r.try_get::<String, _>(0)? == user_id => Side::Buyer,
            Some(r) if r.try_get::<String, _>(1)? == user_id => Side::Seller,
            _ => Side::Other,
        })
    }

    /// Notifications after the last one the user marked read.
    pub async fn unread_notifications(&self, user_id: &str) -> Result<i64> {
        Ok(sqlx::query(&unread_sql()).bind(user_id).fetch_one(&mut *self.reader().await?).await?.try_get(0)?)
    }
}

impl Tx {
    /// Marks everything up to `up_to` (a seq; `None`: all) read, never moving backwards, and
    /// answers how many are left unread.
    pub async fn mark_notifications_read(&mut self, user_id: &str, up_to: Option<i64>) -> Result<i64> {
        let latest: i64 = sqlx::query("SELECT CAST(COALESCE(MAX(seq), 0) AS BIGINT) FROM events WHERE user_id = $1")
            .bind(user_id)
            .fetch_one(self.conn())
            .await?
            .try_get(0)?;
        let seq = up_to.map_or(latest, |s| s.min(latest));
        sqlx::query(
            "INSERT INTO notification_reads (user_id, read_seq) VALUES ($1, $2) ON CONFLICT (user_id) DO UPDATE \
             SET read_seq = CASE WHEN excluded.read_seq > notification_reads.read_seq \
                                 THEN excluded.read_seq ELSE notification_reads.read_seq END",
        )
        .bind(user_id)
        .bind(seq)
        .execute(self.conn())
        .await?;
        Ok(sqlx::query(&unread_sql()).bind(user_id).fetch_one(self.conn()).await?.try_get(0)?)
    }
}
