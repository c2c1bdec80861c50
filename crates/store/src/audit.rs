//! The audit log: one row per privileged action, written in the action's own transaction (so
//! an action and its record commit together) and never changed afterwards (triggers refuse
//! `UPDATE` and `DELETE`).

use crate::{Page, Result, Store, Tx};
use serde_json::Value;
use souk_domain::id::Kind;
use souk_domain::time::Timestamp;
use sqlx::Row;

/// Who acts when no user does: the `souk` command line, and the demo's seeding.
pub const CLI_ACTOR: &str = "cli";
pub const SYSTEM_ACTOR: &str = "system";

#[derive(Debug, Clone, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditEntry {
    pub id: String,
    /// A user id, `cli` or `system`.
    pub actor_id: String,
    /// role.granted, verification.approved, verification.rejected, dispute.decided or
    /// payout.made.
    pub action: String,
    /// The id of what it acted on.
    pub subject: String,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub detail: Value,
    pub created_at: Timestamp,
}

impl Tx {
    pub async fn audit(&mut self, actor_id: &str, action: &str, subject: &str, detail: Value) -> Result<()> {
        let id = self.store().new_id(Kind::Audit);
        sqlx::query(
            "INSERT INTO audit_log (id, actor_id, action, subject, detail, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&id)
        .bind(actor_id)
        .bind(action)
        .bind(subject)
        .bind(detail.to_string())
        .bind(self.store().now_ms())
        .execute(self.conn())
        .await?;
        Ok(())
    }
}

impl Store {
    /// Entries newest first, optionally of one action.
    pub async fn audit_log(
        &self,
        action: Option<&str>,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Page<AuditEntry>> {
        let rows = sqlx::query(
            "SELECT id, actor_id, action, subject, detail, created_at FROM audit_log \
             WHERE ($1 = '' OR action = $1) AND ($2 = '' OR id < $2) ORDER BY id DESC LIMIT $3",
        )
        .bind(action.unwrap_or(""))
        .bind(cursor.unwrap_or(""))
        .bind(limit as i64 + 1)
        .fetch_all(&mut *self.reader().await?)
        .await?;
        let mut items = Vec::with_capacity(rows.len());
        for row in rows {
            let detail: String = row.try_get(4)?;
            items.push(AuditEntry {
                id: row.try_get(0)?,
                actor_id: row.try_get(1)?,
                action: row.try_get(2)?,
                subject: row.try_get(3)?,
                detail: serde_json::from_str(&detail).unwrap_or(Value::Null),
                created_at: Timestamp(row.try_get(5)?),
            });
        }
        Ok(Page::from_rows(items, limit, |e| e.id.clone()))
    }
}
