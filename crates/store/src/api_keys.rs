//! API keys for integrations: stored as a SHA-256 hash with a short visible prefix, scoped,
//! revocable. The key itself exists only in the answer that created it.

use crate::accounts::User;
use crate::{Result, Store, StoreError, Tx};
use souk_domain::id::Kind;
use souk_domain::time::rfc3339;
use souk_domain::time::Timestamp;
use sqlx::any::AnyRow;
use sqlx::Row;

#[derive(Debug, Clone, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ApiKeyView {
    pub id: String,
    pub name: String,
    /// The key's first characters, to tell keys apart; never enough to use it.
    pub prefix: String,
    pub scopes: Vec<String>,
    pub created_at: Timestamp,
    pub revoked_at: Option<String>,
}

const COLUMNS: &str = "id, name, prefix, scopes, created_at, revoked_at";

fn split_scopes(stored: &str) -> Vec<String> {
    stored.split(' ').filter(|s| !s.is_empty()).map(str::to_string).collect()
}

fn view(row: &AnyRow) -> Result<ApiKeyView> {
    let scopes: String = row.try_get(3)?;
    let revoked: Option<i64> = row.try_get(5)?;
    Ok(ApiKeyView {
        id: row.try_get(0)?,
        name: row.try_get(1)?,
        prefix: row.try_get(2)?,
        scopes: split_scopes(&scopes),
        created_at: Timestamp(row.try_get(4)?),
        revoked_at: revoked.map(rfc3339),
    })
}

impl Tx {
    pub async fn create_api_key(
        &mut self,
        user_id: &str,
        name: &str,
        prefix: &str,
        key_hash: &str,
        scopes: &[String],
    ) -> Result<ApiKeyView> {
        let id = self.store().new_id(Kind::ApiKey);
        let sql = format!(
            "INSERT INTO api_keys (id, user_id, name, prefix, key_hash, scopes, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {COLUMNS}"
        );
        let row = sqlx::query(&sql)
            .bind(&id)
            .bind(user_id)
            .bind(name)
            .bind(prefix)
            .bind(key_hash)
            .bind(scopes.join(" "))
            .bind(self.store().now_ms())
            .fetch_one(self.conn())
            .await?;
        view(&row)
    }

    /// Revokes one of `user_id`'s keys (again is harmless); another user's key is not found.
    pub async fn revoke_api_key(&mut self, user_id: &str, id: &str) -> Result<ApiKeyView> {
        let sql = format!(
            "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $1) WHERE id = $2 AND user_id = $3 RETURNING {COLUMNS}"
        );
        let row = sqlx::query(&sql)
            .bind(self.store().now_ms())
            .bind(id)
            .bind(user_id)
            .fetch_optional(self.conn())
            .await?
            .ok_or(StoreError::NotFound)?;
        view(&row)
    }
}

impl Store {
    /// A user's keys, newest first, revoked ones included.
    pub async fn api_keys(&self, user_id: &str) -> Result<Vec<ApiKeyView>> {
        let sql = format!("SELECT {COLUMNS} FROM api_keys WHERE user_id = $1 ORDER BY id DESC");
        let rows = sqlx::query(&sql).bind(user_id).fetch_all(&mut *self.reader().await?).await?;
        rows.iter().map(view).collect()
    }

    /// The owner of a live key, with the key's scopes.
    pub async fn user_by_api_key(&self, key_hash: &str) -> Result<(User, Vec<String>)> {
        let row = sqlx::query("SELECT user_id, scopes FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL")
            .bind(key_hash)
            .fetch_optional(&mut *self.reader().await?)
            .await?
            .ok_or(StoreError::NotFound)?;
        let scopes: String = row.try_get(1)?;
        let user = self.user_by_id(&row.try_get::<String, _>(0)?).await?;
        Ok((user, split_scopes(&scopes)))
    }
}
