//! API keys for integrations: created by a logged-in user (never by another key), shown once,
//! stored hashed, scoped (`domain::apikey`), revocable.

use crate::error::{AppError, AppResult, OrNotFound};
use crate::extract::{ApiJson, Authed, API_KEY_PREFIX};
use crate::idempotency::Idem;
use crate::App;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use serde::{Deserialize, Serialize};
use souk_app::accounts::token_hash;
use souk_domain::apikey::parse_scopes;
use souk_domain::id::{self, Kind};
use souk_domain::Invalid;
use souk_store::api_keys::ApiKeyView;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewApiKey {
    /// What the key is for, e.g. "ERP sync".
    pub name: String,
    /// `catalog`, `orders`, `chat` or `wallet`, each `:read` or `:write` (which includes read).
    pub scopes: Vec<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct CreatedApiKey {
    pub api_key: ApiKeyView,
    /// The key, shown this once: send it as `Authorization: Bearer <key>`.
    pub key: String,
}

/// Most live keys one user may hold.
const MAX_KEYS: usize = 20;

/// Creates a key with the given scopes.
#[utoipa::path(post, path = "/api/v1/api-keys", tag = "accounts", security(("bearer" = [])), request_body = NewApiKey,
    params(crate::openapi::IdempotencyKey),
    responses((status = 201, body = CreatedApiKey), (status = 403, body = crate::error::ErrorBody),
              (status = 422, body = crate::error::ErrorBody)))]
pub async fn create_api_key(
    State(app): State<App>,
    Authed(user): Authed,
    idem: Idem,
    ApiJson(input): ApiJson<NewApiKey>,
) -> AppResult<Response> {
    let name = input.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(Invalid::new("invalid", "name", "1 to 100 characters").into());
    }
    let scopes = parse_scopes(&input.scopes)?;
    if app.store.api_keys(&user.id).await?.iter().filter(|k| k.revoked_at.is_none()).count() >= MAX_KEYS {
        return Err(AppError::conflict("too_many_keys", format!("at most {MAX_KEYS} live keys; revoke one first")));
    }
    let key = format!("{API_KEY_PREFIX}{}", souk_app::accounts::random_token());
    let prefix: String = key.chars().take(API_KEY_PREFIX.len() + 4).collect();
    let mut tx = app.store.begin().await?;
    let api_key = tx.create_api_key(&user.id, name, &prefix, &token_hash(&key), &scopes).await?;
    idem.finish(tx, StatusCode::CREATED, &CreatedApiKey { api_key, key }).await
}

/// The caller's keys, newest first, revoked ones included; never the keys themselves.
#[utoipa::path(get, path = "/api/v1/api-keys", tag = "accounts", security(("bearer" = [])),
    responses((status = 200, body = Vec<ApiKeyView>)))]
pub async fn api_keys(State(app): State<App>, Authed(user): Authed) -> AppResult<Json<Vec<ApiKeyView>>> {
    Ok(Json(app.store.api_keys(&user.id).await?))
}

/// Revokes a key at once: its next request is 401.
#[utoipa::path(delete, path = "/api/v1/api-keys/{id}", tag = "accounts", security(("bearer" = [])),
    params(("id" = String, Path), crate::openapi::IdempotencyKey),
    responses((status = 200, body = ApiKeyView), (status = 404, body = crate::error::ErrorBody)))]
pub async fn revoke_api_key(
    State(app): State<App>,
    Authed(user): Authed,
    Path(key_id): Path<String>,
    idem: Idem,
) -> AppResult<Response> {
    if !id::is_valid(Kind::ApiKey, &key_id) {
        return Err(AppError::not_found("API key"));
    }
    let mut tx = app.store.begin().await?;
    let revoked = tx.revoke_api_key(&user.id, &key_id).await.or_not_found("API key")?;
    idem.finish(tx, StatusCode::OK, &revoked).await
}
