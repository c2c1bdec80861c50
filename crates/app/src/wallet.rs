//! Wallet use-cases that do not come from the wallet's owner: the payment provider's
//! confirmations of top-ups.

use crate::error::{Error, ErrorKind, OrNotFound, Result};
use crate::App;
use serde::Deserialize;
use souk_domain::Invalid;
use souk_store::payments::TopUp;

#[derive(Deserialize, utoipa::ToSchema)]
pub struct ProviderCallback {
    pub top_up_id: String,
    /// `succeeded` or `failed`.
    pub status: String,
    #[serde(default)]
    pub reason: Option<String>,
}

/// Verifies and applies a provider's confirmation. Shared by the HTTP endpoint and the
/// sandbox, so both go through the same signature check.
pub async fn provider_callback(app: &App, signature: &str, body: &[u8]) -> Result<TopUp> {
    let now_s = app.store.now_ms() / 1000;
    if !app.provider.verify_callback(signature, body, now_s) {
        return Err(Error::new(
            ErrorKind::Unauthenticated,
            "invalid_signature",
            "the callback signature is missing, wrong or stale",
        ));
    }
    let cb: ProviderCallback = crate::error::parse_json(body)?;
    let succeeded = match cb.status.as_str() {
        "succeeded" => true,
        "failed" => false,
        _ => return Err(Invalid::new("invalid", "status", "must be succeeded or failed").into()),
    };
    let mut tx = app.store.begin().await?;
    let t = tx.settle_top_up(&cb.top_up_id, succeeded, cb.reason.as_deref()).await.or_not_found("top-up")?;
    tx.commit().await?;
    Ok(t)
}
