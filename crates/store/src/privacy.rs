//! What Souk holds about a person, for them to take away, and the erasure of it when they leave:
//! personal data is removed or anonymised, while orders, the ledger and the audit log keep what
//! the books need.

use crate::{Result, Store, Tx};
use serde_json::{Map, Value};
use sqlx::{Column, Row};

/// The parts of an export: a name, and the statement that selects the user's rows (`$1` is the
/// user's id). Secrets are left out: password, token and key hashes, the authenticator's secret,
/// webhook signing secrets.
const EXPORT: &[(&str, &str)] = &[
    (
        "account",
        "SELECT id, email, display_name, email_verified_at, created_at, locale, currency, time_zone, totp_enabled_at \
         FROM users WHERE id = $1",
    ),
    ("roles", "SELECT role, granted_at FROM user_roles WHERE user_id = $1"),
    ("sessions", "SELECT device, created_at, last_used_at, expires_at FROM sessions WHERE user_id = $1"),
    ("store", "SELECT * FROM stores WHERE owner_id = $1"),
    (
        "store_verifications",
        "SELECT id, status, legal_name, document_type, document_number, document_urls, reason, submitted_at, decided_at \
         FROM verifications WHERE store_id IN (SELECT id FROM stores WHERE owner_id = $1)",
    ),
    ("products", "SELECT * FROM products WHERE store_id IN (SELECT id FROM stores WHERE owner_id = $1)"),
    ("wallet", "SELECT currency, balance FROM ledger_accounts WHERE kind = 'wallet' AND owner = $1"),
    ("top_ups", "SELECT * FROM top_ups WHERE user_id = $1"),
    ("payouts", "SELECT * FROM payouts WHERE user_id = $1"),
    ("cart", "SELECT * FROM cart_items WHERE user_id = $1"),
    ("orders", "SELECT * FROM orders WHERE buyer_id = $1 OR seller_id = $1"),
    (
        "order_lines",
        "SELECT l.* FROM order_lines l JOIN orders o ON o.id = l.order_id WHERE o.buyer_id = $1 OR o.seller_id = $1",
    ),
    ("reviews_written", "SELECT * FROM reviews WHERE buyer_id = $1"),
    (
        "conversations",
        "SELECT * FROM conversations WHERE buyer_id = $1 OR store_id IN (SELECT id FROM stores WHERE owner_id = $1)",
    ),
    (
        "messages",
        "SELECT m.* FROM messages m JOIN conversations c ON c.id = m.conversation_id \
         WHERE c.buyer_id = $1 OR c.store_id IN (SELECT id FROM stores WHERE owner_id = $1)",
    ),
    (
        "offers",
        "SELECT f.* FROM offers f JOIN conversations c ON c.id = f.conversation_id \
         WHERE c.buyer_id = $1 OR c.store_id IN (SELECT id FROM stores WHERE owner_id = $1)",
    ),
    ("blocks", "SELECT * FROM blocks WHERE blocker_id = $1"),
    ("rfqs", "SELECT * FROM rfqs WHERE buyer_id = $1"),
    ("quotes", "SELECT * FROM quotes WHERE store_id IN (SELECT id FROM stores WHERE owner_id = $1)"),
    (
        "disputes",
        "SELECT d.* FROM disputes d JOIN orders o ON o.id = d.order_id WHERE o.buyer_id = $1 OR o.seller_id = $1",
    ),
    ("dispute_evidence_written", "SELECT * FROM dispute_evidence WHERE author_id = $1"),
    ("notifications", "SELECT type, order_id, payload, created_at FROM events WHERE user_id = $1"),
    ("api_keys", "SELECT id, name, prefix, scopes, created_at, revoked_at FROM api_keys WHERE user_id = $1"),
    (
        "webhook_endpoints",
        "SELECT id, url, description, events, marketplace, created_at FROM webhook_endpoints WHERE owner_id = $1",
    ),
    ("actions_audited", "SELECT * FROM audit_log WHERE actor_id = $1"),
];

/// A row as JSON: each column as an integer, a number, a text or a truth value, whichever it is.
fn row_json(row: &sqlx::any::AnyRow) -> Value {
    let mut out = Map::new();
    for (i, column) in row.columns().iter().enumerate() {
        let value = if let Ok(v) = row.try_get::<Option<i64>, _>(i) {
            v.map_or(Value::Null, Value::from)
        } else if let Ok(v) = row.try_get::<Option<String>, _>(i) {
            v.map_or(Value::Null, Value::from)
        } else if let Ok(v) = row.try_get::<Option<f64>, _>(i) {
            v.map_or(Value::Null, Value::from)
        } else if let Ok(v) = row.try_get::<Option<bool>, _>(i) {
            v.map_or(Value::Null, Value::from)
        } else {
            Value::Null
        };
        out.insert(column.name().to_string(), value);
    }
    Value::Object(out)
}

/// What keeps an account from being deleted.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Obligations {
    /// Orders, bought or sold, not yet completed, cancelled or refunded.
    pub open_orders: i64,
    /// Wallet money (minor units by currency) not yet paid out.
    pub balances: Vec<(String, i64)>,
    /// Card top-ups the provider has not answered yet.
    pub pending_top_ups: i64,
}

impl Obligations {
    pub fn none(&self) -> bool {
        self.open_orders == 0 && self.balances.is_empty() && self.pending_top_ups == 0
    }
}

impl Store {
    /// Everything held about the user, by part (see [`EXPORT`]).
    pub async fn export_user(&self, user_id: &str) -> Result<Value> {
        let mut conn = self.reader().await?;
        let mut out = Map::new();
        for (part, sql) in EXPORT {
            let rows = sqlx::query(sql).bind(user_id).fetch_all(&mut *conn).await?;
            out.insert((*part).to_string(), Value::Array(rows.iter().map(row_json).collect()));
        }
        Ok(Value::Object(out))
    }
}

impl Tx {
    /// What the user still owes or is owed, read in the transaction that would erase them.
    pub async fn obligations(&mut self, user_id: &str) -> Result<Obligations> {
        let open = sqlx::query(
            "SELECT COUNT(*) FROM orders WHERE (buyer_id = $1 OR seller_id = $1) \
             AND state NOT IN ('completed', 'cancelled', 'refunded')",
        )
        .bind(user_id)
        .fetch_one(self.conn())
        .await?;
        let balances = sqlx::query(
            "SELECT currency, balance FROM ledger_accounts WHERE kind = 'wallet' AND owner = $1 AND balance <> 0 ORDER BY currency",
        )
        .bind(user_id)
        .fetch_all(self.conn())
        .await?;
        let pending = sqlx::query("SELECT COUNT(*) FROM top_ups WHERE user_id = $1 AND state = 'pending'")
            .bind(user_id)
            .fetch_one(self.conn())
            .await?;
        Ok(Obligations {
            open_orders: open.try_get(0)?,
            balances: balances.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).collect::<Result<_>>()?,
            pending_top_ups: pending.try_get(0)?,
        })
    }

    /// Erases the user: no way in (sessions, tokens, keys, password and second step gone), their
    /// name and address replaced, what they wrote to reach them (bank accounts, cards, cart,
    /// blocks) removed, their store's listings archived. Orders, transfers, reviews and messages
    /// stay, under the anonymised account.
    pub async fn erase_user(&mut self, user_id: &str) -> Result<()> {
        let now = self.store().now_ms();
        let gone = format!("deleted-{user_id}@deleted.invalid");
        sqlx::query(
            "UPDATE users SET email = $1, email_norm = $1, display_name = 'Deleted user', password_hash = '', \
             email_verified_at = NULL, locale = NULL, currency = NULL, time_zone = NULL, totp_secret = NULL, \
             totp_enabled_at = NULL, totp_last_step = NULL, deleted_at = $2 WHERE id = $3",
        )
        .bind(&gone)
        .bind(now)
        .bind(user_id)
        .execute(self.conn())
        .await?;
        for sql in [
            "DELETE FROM sessions WHERE user_id = $1",
            "DELETE FROM email_tokens WHERE user_id = $1",
            "DELETE FROM recovery_codes WHERE user_id = $1",
            "DELETE FROM user_roles WHERE user_id = $1",
            "DELETE FROM cart_items WHERE user_id = $1",
            "DELETE FROM blocks WHERE blocker_id = $1",
            "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $2) WHERE user_id = $1",
            "UPDATE webhook_endpoints SET disabled_at = COALESCE(disabled_at, $2) WHERE owner_id = $1",
            "UPDATE payouts SET destination = '(removed)' WHERE user_id = $1",
            "UPDATE top_ups SET card_last4 = NULL WHERE user_id = $1",
            "UPDATE products SET status = 'archived', updated_at = $2 \
             WHERE store_id IN (SELECT id FROM stores WHERE owner_id = $1) AND status <> 'archived'",
        ] {
            let q = sqlx::query(sql).bind(user_id);
            let q = if sql.contains("$2") { q.bind(now) } else { q };
            q.execute(self.conn()).await?;
        }
        self.users_changed = true;
        self.audit(user_id, "account.deleted", user_id, serde_json::json!({})).await?;
        Ok(())
    }
}
