//! Registration, log-in, log-out, the current user and email verification.

use crate::error::{AppError, AppResult};
use crate::extract::{bearer_token, ApiJson, Authed};
use crate::idempotency::Idem;
use crate::App;
use axum::extract::{ConnectInfo, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use souk_app::accounts::{self, NewAccount};
use souk_app::views::User;
use souk_domain::account::Role;
use souk_domain::time::Timestamp;
use std::net::SocketAddr;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterInput {
    pub email: String,
    /// At least 10 characters.
    pub password: String,
    #[serde(default)]
    pub display_name: Option<String>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginInput {
    pub email: String,
    pub password: String,
}

/// The current user as they see themselves.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Me {
    pub id: String,
    pub email: String,
    pub display_name: String,
    /// Always includes `buyer`; `seller` once a store is open.
    pub roles: Vec<Role>,
    pub email_verified: bool,
    pub store_id: Option<String>,
    pub created_at: Timestamp,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Session {
    /// Send as `Authorization: Bearer <token>`. Shown once.
    pub token: String,
    pub expires_at: Timestamp,
    pub user: Me,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailTokenInput {
    pub token: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct EmailSent {
    pub sent_to: String,
}

pub async fn me_of(app: &App, user: &User) -> AppResult<Me> {
    Ok(me_from(user, accounts::own_store_id(app, user).await?))
}

fn me_from(user: &User, store_id: Option<String>) -> Me {
    let mut roles = vec![Role::Buyer];
    roles.extend(user.roles.iter().copied());
    Me {
        id: user.id.clone(),
        email: user.email.clone(),
        display_name: user.display_name.clone(),
        roles,
        email_verified: user.email_verified,
        store_id,
        created_at: Timestamp(user.created_at),
    }
}

/// Registers an account (everyone is a buyer) and logs it in.
#[utoipa::path(post, path = "/api/v1/auth/register", tag = "accounts", request_body = RegisterInput,
    params(crate::openapi::IdempotencyKey),
    responses((status = 201, body = Session), (status = 409, description = "email taken", body = crate::error::ErrorBody),
              (status = 422, body = crate::error::ErrorBody)))]
pub async fn register(
    State(app): State<App>,
    idem: Idem,
    ApiJson(input): ApiJson<RegisterInput>,
) -> AppResult<Response> {
    let account = NewAccount::check(&input.email, input.password, input.display_name.as_deref()).await?;
    let mut tx = app.begin().await?;
    let user = account.open(&mut tx).await?;
    let (token, expires_at) = accounts::start_session(&mut tx, &user.id).await?;
    let me = me_from(&user, None);
    idem.finish(tx, StatusCode::CREATED, &Session { token, expires_at: Timestamp(expires_at), user: me }).await
}

/// Logs in with email and password. Throttled per account (5 failures in 15 minutes) and per IP
/// address (30 attempts in 5 minutes); over the limit the answer is 429 with `Retry-After`.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "accounts", request_body = LoginInput,
    params(crate::openapi::IdempotencyKey),
    responses((status = 200, body = Session), (status = 401, body = crate::error::ErrorBody),
              (status = 429, body = crate::error::ErrorBody)))]
pub async fn login(
    State(app): State<App>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    idem: Idem,
    ApiJson(input): ApiJson<LoginInput>,
) -> AppResult<Response> {
    let user = accounts::authenticate(&app, &input.email, input.password, peer.ip()).await?;
    let me = me_of(&app, &user).await?;
    let mut tx = app.begin().await?;
    let (token, expires_at) = accounts::start_session(&mut tx, &user.id).await?;
    idem.finish(tx, StatusCode::OK, &Session { token, expires_at: Timestamp(expires_at), user: me }).await
}

/// Ends the session whose token the request carries.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "accounts", security(("bearer" = [])),
    responses((status = 204), (status = 401, body = crate::error::ErrorBody)))]
pub async fn logout(State(app): State<App>, _user: Authed, idem: Idem, parts: Parts) -> AppResult<Response> {
    let token = bearer_token(&parts).ok_or_else(AppError::unauthenticated)?;
    let mut tx = app.begin().await?;
    accounts::end_session(&mut tx, token).await?;
    idem.finish_empty(tx).await
}

/// The current user.
#[utoipa::path(get, path = "/api/v1/me", tag = "accounts", security(("bearer" = [])),
    responses((status = 200, body = Me), (status = 401, body = crate::error::ErrorBody)))]
pub async fn me(State(app): State<App>, Authed(user): Authed) -> AppResult<axum::Json<Me>> {
    Ok(axum::Json(me_of(&app, &user).await?))
}

/// Emails the current user a one-time token that proves they own the address.
#[utoipa::path(post, path = "/api/v1/me/email-verification", tag = "accounts", security(("bearer" = [])),
    params(crate::openapi::IdempotencyKey),
    responses((status = 202, body = EmailSent), (status = 409, body = crate::error::ErrorBody)))]
pub async fn request_email_verification(
    State(app): State<App>,
    Authed(user): Authed,
    idem: Idem,
) -> AppResult<Response> {
    let mut tx = app.begin().await?;
    accounts::send_email_token(&app, &mut tx, &user).await?;
    idem.finish(tx, StatusCode::ACCEPTED, &EmailSent { sent_to: user.email.clone() }).await
}

/// Confirms an email address with the emailed token. A store whose owner verifies their email
/// rises to `email` verification.
#[utoipa::path(post, path = "/api/v1/email-verification", tag = "accounts", request_body = EmailTokenInput,
    params(crate::openapi::IdempotencyKey),
    responses((status = 200, body = Me), (status = 404, description = "unknown, used or expired token", body = crate::error::ErrorBody)))]
pub async fn confirm_email(
    State(app): State<App>,
    idem: Idem,
    ApiJson(input): ApiJson<EmailTokenInput>,
) -> AppResult<Response> {
    let mut tx = app.begin().await?;
    let (user, store_id) = accounts::confirm_email(&mut tx, &input.token).await?;
    idem.finish(tx, StatusCode::OK, &me_from(&user, store_id)).await
}
