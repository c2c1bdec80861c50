//! Money entering (top-ups through a payment provider) and leaving (payouts).

use crate::{Result, Store, StoreError, Tx};
use souk_domain::id::Kind;
use souk_domain::ledger::{Account, Posting, TransferKind};
use souk_domain::time::rfc3339;
use souk_domain::time::Timestamp;
use souk_domain::Money;
use sqlx::any::AnyRow;
use sqlx::Row;

#[derive(Debug, Clone, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TopUp {
    pub id: String,
    pub user_id: String,
    pub amount: Money,
    pub provider: String,
    /// pending, succeeded or failed.
    pub state: String,
    pub card_last4: String,
    pub failure_reason: Option<String>,
    pub created_at: Timestamp,
    pub completed_at: Option<String>,
}

#[derive(Debug, Clone, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Payout {
    pub id: String,
    pub amount: Money,
    pub provider: String,
    pub destination: String,
    pub created_at: Timestamp,
}

fn top_up_from_row(r: &AnyRow) -> Result<TopUp> {
    let code: String = r.try_get("currency")?;
    let c = crate::currency(&code)?;
    Ok(TopUp {
        id: r.try_get("id")?,
        user_id: r.try_get("user_id")?,
        amount: Money::new(r.try_get("amount")?, c),
        provider: r.try_get("provider")?,
        state: r.try_get("state")?,
        card_last4: r.try_get("card_last4")?,
        failure_reason: r.try_get("failure_reason")?,
        created_at: Timestamp(r.try_get("created_at")?),
        completed_at: r.try_get::<Option<i64>, _>("completed_at")?.map(rfc3339),
    })
}

const TOP_UP_COLUMNS: &str =
    "id, user_id, amount, currency, provider, state, card_last4, failure_reason, created_at, completed_at";

impl Store {
    /// Ids of a provider's top-ups still pending that were created at or before `created_before`.
    pub async fn pending_top_ups(&self, provider: &str, created_before: i64, limit: usize) -> Result<Vec<String>> {
        let rows = sqlx::query(
            "SELECT id FROM top_ups WHERE provider = $1 AND state = 'pending' AND created_at <= $2 ORDER BY created_at LIMIT $3",
        )
        .bind(provider)
        .bind(created_before)
        .bind(limit as i64)
        .fetch_all(&mut *self.reader().await?)
        .await?;
        rows.iter().map(|r| Ok(r.try_get("id")?)).collect()
    }

    /// The user's top-ups still waiting for the provider, newest first.
    pub async fn pending_top_ups_of(&self, user_id: &str) -> Result<Vec<TopUp>> {
        let sql = format!(
            "SELECT {TOP_UP_COLUMNS} FROM top_ups WHERE user_id = $1 AND state = 'pending' ORDER BY id DESC LIMIT 20"
        );
        let rows = sqlx::query(&sql).bind(user_id).fetch_all(&mut *self.reader().await?).await?;
        rows.iter().map(top_up_from_row).collect()
    }

    pub async fn top_up(&self, id: &str) -> Result<TopUp> {
        let sql = format!("SELECT {TOP_UP_COLUMNS} FROM top_ups WHERE id = $1");
        let row =
            sqlx::query(&sql).bind(id).fetch_optional(&mut *self.reader().await?).await?.ok_or(StoreError::NotFound)?;
        top_up_from_row(&row)
    }
}

impl Tx {
    /// Records a top-up the provider accepted for processing.
    pub async fn create_top_up(
        &mut self,
        user_id: &str,
        amount: Money,
        provider: &str,
        card_last4: &str,
    ) -> Result<TopUp> {
        let id = self.store().new_id(Kind::TopUp);
        sqlx::query(
            "INSERT INTO top_ups (id, user_id, amount, currency, provider, state, card_last4, created_at) \
             VALUES ($1, $2, $3, $4, $5, 'pending', $6, $7)",
        )
        .bind(&id)
        .bind(user_id)
        .bind(amount.amount)
        .bind(amount.currency.code())
        .bind(provider)
        .bind(card_last4)
        .bind(self.store().now_ms())
        .execute(self.conn())
        .await?;
        self.top_up(&id).await
    }

    pub async fn top_up(&mut self, id: &str) -> Result<TopUp> {
        let sql = format!("SELECT {TOP_UP_COLUMNS} FROM top_ups WHERE id = $1");
        let row = sqlx::query(&sql).bind(id).fetch_optional(self.conn()).await?.ok_or(StoreError::NotFound)?;
        top_up_from_row(&row)
    }

    /// Settles a pending top-up once: success credits the wallet from the provider's account.
    /// A second confirmation of the same top-up changes nothing and returns it as it is.
    pub async fn settle_top_up(&mut self, id: &str, succeeded: bool, failure_reason: Option<&str>) -> Result<TopUp> {
        let now = self.store().now_ms();
        let state = if succeeded { "succeeded" } else { "failed" };
        let row = sqlx::query(
            "UPDATE top_ups SET state = $1, failure_reason = $2, completed_at = $3 WHERE id = $4 AND state = 'pending' \
             RETURNING user_id, amount, currency, provider",
        )
        .bind(state)
        .bind(failure_reason)
        .bind(now)
        .bind(id)
        .fetch_optional(self.conn())
        .await?;
        if let (Some(row), true) = (row, succeeded) {
            let code: String = row.try_get("currency")?;
            let currency = crate::currency(&code)?;
            let posting = Posting {
                from: Account::Provider { provider: row.try_get("provider")?, currency },
                to: Account::Wallet { user_id: row.try_get("user_id")?, currency },
                amount: Money::new(row.try_get("amount")?, currency),
                kind: TransferKind::TopUp,
            };
            self.apply_postings(&[posting], None, Some(id)).await?;
        }
        self.top_up(id).await
    }

    /// Pays money out of the user's wallet to the outside world.
    pub async fn payout(&mut self, user_id: &str, amount: Money, provider: &str, destination: &str) -> Result<Payout> {
        let id = self.store().new_id(Kind::Payout);
        let now = self.store().now_ms();
        let posting = Posting {
            from: Account::Wallet { user_id: user_id.to_string(), currency: amount.currency },
            to: Account::Provider { provider: provider.to_string(), currency: amount.currency },
            amount,
            kind: TransferKind::Payout,
        };
        self.apply_postings(&[posting], None, Some(&id)).await?;
        sqlx::query(
            "INSERT INTO payouts (id, user_id, amount, currency, provider, destination, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&id)
        .bind(user_id)
        .bind(amount.amount)
        .bind(amount.currency.code())
        .bind(provider)
        .bind(destination)
        .bind(now)
        .execute(self.conn())
        .await?;
        let detail = serde_json::json!({"amount": amount, "provider": provider, "destination": destination});
        self.audit(user_id, "payout.made", &id, detail).await?;
        Ok(Payout {
            id,
            amount,
            provider: provider.to_string(),
            destination: destination.to_string(),
            created_at: Timestamp(now),
        })
    }
}
