//! API keys for integrations: created by a logged-in user (never by another key), shown once,
//! stored hashed, scoped (`domain::apikey`), revocable.

use crate::accounts::{random_token, token_hash};
use crate::error::{Error, OrNotFound, Result};
use crate::App;
use souk_domain::apikey::parse_scopes;
use souk_domain::id::{self, Kind};
use souk_domain::Invalid;
use souk_store::accounts::User;
use souk_store::api_keys::ApiKeyView;
use souk_store::Tx;

/// API keys start with this; session tokens are random base64url and never carry it.
pub const API_KEY_PREFIX: &str = "souk_key_";

/// Most live keys one user may hold.
const MAX_KEYS: usize = 20;

/// Creates a key named `name` with `scopes`: the key as stored, and the key itself (shown once).
pub async fn create(
    app: &App,
    tx: &mut Tx,
    user: &User,
    name: &str,
    scopes: &[String],
) -> Result<(ApiKeyView, String)> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(Invalid::new("invalid", "name", "1 to 100 characters").into());
    }
    let scopes = parse_scopes(scopes)?;
    if app.store.api_keys(&user.id).await?.iter().filter(|k| k.revoked_at.is_none()).count() >= MAX_KEYS {
        return Err(Error::conflict("too_many_keys", format!("at most {MAX_KEYS} live keys; revoke one first")));
    }
    let key = format!("{API_KEY_PREFIX}{}", random_token());
    let prefix: String = key.chars().take(API_KEY_PREFIX.len() + 4).collect();
    let api_key = tx.create_api_key(&user.id, name, &prefix, &token_hash(&key), &scopes).await?;
    Ok((api_key, key))
}

/// Revokes one of the user's keys at once: its next request is refused.
pub async fn revoke(tx: &mut Tx, user: &User, key_id: &str) -> Result<ApiKeyView> {
    if !id::is_valid(Kind::ApiKey, key_id) {
        return Err(Error::not_found("API key"));
    }
    tx.revoke_api_key(&user.id, key_id).await.or_not_found("API key")
}
