//! API keys for integrations: created by a logged-in user (never by another key), shown once,
//! stored hashed, scoped (`domain::apikey`), revocable.

use crate::error::AppResult;
use crate::extract::{ApiJson, Authed};
use crate::idempotency::Idem;
use crate::App;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use serde::{Deserialize, Serialize};
use souk_app::views::ApiKeyView;

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
    let mut tx = app.begin().await?;
    let (api_key, key) = souk_app::api_keys::create(&app, &mut tx, &user, &input.name, &input.scopes).await?;
    idem.finish(tx, StatusCode::CREATED, &CreatedApiKey { api_key, key }).await
}

/// The caller's keys, newest first, revoked ones included; never the keys themselves.
#[utoipa::path(get, path = "/api/v1/api-keys", tag = "accounts", security(("bearer" = [])),
    responses((status = 200, body = Vec<ApiKeyView>)))]
pub async fn api_keys(State(app): State<App>, Authed(user): Authed) -> AppResult<Json<Vec<ApiKeyView>>> {
    Ok(Json(app.api_keys(&user.id).await?))
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
    let mut tx = app.begin().await?;
    let revoked = souk_app::api_keys::revoke(&mut tx, &user, &key_id).await?;
    idem.finish(tx, StatusCode::OK, &revoked).await
}
