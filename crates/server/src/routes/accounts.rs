//! Registration, log-in, log-out, the current user and email verification.

use crate::error::{AppError, AppResult};
use crate::extract::{bearer_token, ApiJson, Authed};
use crate::idempotency::Idem;
use crate::App;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
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
    /// For an account with two-step sign-in: the authenticator's current code, or a recovery
    /// code. Without it such an account is answered 401 `two_factor_required`.
    #[serde(default)]
    pub two_factor_code: Option<String>,
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
    /// Signs in with a second step.
    pub two_factor: bool,
    /// Mediator or admin roles granted but not in force until two-step sign-in is on.
    pub roles_awaiting_two_factor: Vec<Role>,
    /// `en` or `zh`; none: the browser's language.
    pub locale: Option<String>,
    /// Preselected where an amount is typed.
    pub currency: Option<String>,
    /// An IANA time-zone name; none: the browser's zone.
    pub time_zone: Option<String>,
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
        two_factor: user.two_factor,
        roles_awaiting_two_factor: user.held_back.clone(),
        locale: user.locale.clone(),
        currency: user.currency.clone(),
        time_zone: user.time_zone.clone(),
    }
}

/// The client's device as its owner will recognise it in their list of sessions.
pub fn device(headers: &HeaderMap) -> String {
    let agent = headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or("");
    souk_domain::account::device_label(agent)
}

/// Registers an account (everyone is a buyer) and logs it in.
#[utoipa::path(post, path = "/api/v1/auth/register", tag = "accounts", request_body = RegisterInput,
    params(crate::openapi::IdempotencyKey),
    responses((status = 201, body = Session), (status = 409, description = "email taken", body = crate::error::ErrorBody),
              (status = 422, body = crate::error::ErrorBody)))]
pub async fn register(
    State(app): State<App>,
    headers: HeaderMap,
    idem: Idem,
    ApiJson(input): ApiJson<RegisterInput>,
) -> AppResult<Response> {
    let account = NewAccount::check(&input.email, input.password, input.display_name.as_deref()).await?;
    let mut tx = app.begin().await?;
    let user = account.open(&mut tx).await?;
    let (token, expires_at) = accounts::start_session(&mut tx, &user.id, &device(&headers)).await?;
    let me = me_from(&user, None);
    idem.finish(tx, StatusCode::CREATED, &Session { token, expires_at: Timestamp(expires_at), user: me }).await
}

/// Logs in with email and password, and the second step if the account has one. Throttled per account (5 failures in 15 minutes) and per IP
/// address (30 attempts in 5 minutes); over the limit the answer is 429 with `Retry-After`.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "accounts", request_body = LoginInput,
    params(crate::openapi::IdempotencyKey),
    responses((status = 200, body = Session), (status = 401, body = crate::error::ErrorBody),
              (status = 429, body = crate::error::ErrorBody)))]
pub async fn login(
    State(app): State<App>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    idem: Idem,
    ApiJson(input): ApiJson<LoginInput>,
) -> AppResult<Response> {
    let code = input.two_factor_code.as_deref();
    let user = accounts::sign_in(&app, &input.email, input.password, code, peer.ip()).await?;
    let me = me_of(&app, &user).await?;
    let mut tx = app.begin().await?;
    let (token, expires_at) = accounts::start_session(&mut tx, &user.id, &device(&headers)).await?;
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

/// Changes the current user's name and choices: language, currency and time zone. A field left
/// out stays as it is; an empty one is cleared.
#[utoipa::path(patch, path = "/api/v1/me", tag = "accounts", security(("bearer" = [])), request_body = accounts::ProfileInput,
    params(crate::openapi::IdempotencyKey),
    responses((status = 200, body = Me), (status = 422, body = crate::error::ErrorBody)))]
pub async fn update_me(
    State(app): State<App>,
    Authed(user): Authed,
    idem: Idem,
    ApiJson(input): ApiJson<accounts::ProfileInput>,
) -> AppResult<Response> {
    let mut tx = app.begin().await?;
    let user = accounts::update_profile(&mut tx, &user, &input).await?;
    let store_id = accounts::own_store_id(&app, &user).await?;
    idem.finish(tx, StatusCode::OK, &me_from(&user, store_id)).await
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    pub current_password: String,
    /// At least 10 characters.
    pub new_password: String,
}

/// Changes the current user's password, the current one required. Every other session ends.
#[utoipa::path(post, path = "/api/v1/me/password", tag = "accounts", security(("bearer" = [])), request_body = PasswordChange,
    params(crate::openapi::IdempotencyKey),
    responses((status = 204), (status = 422, description = "wrong current password, or a weak new one", body = crate::error::ErrorBody)))]
pub async fn change_password(
    State(app): State<App>,
    Authed(user): Authed,
    headers: HeaderMap,
    idem: Idem,
    ApiJson(input): ApiJson<PasswordChange>,
) -> AppResult<Response> {
    let keep = crate::extract::bearer_token_of(&headers);
    let mut tx = app.begin().await?;
    accounts::change_password(&mut tx, &user, input.current_password, input.new_password, keep).await?;
    idem.finish_empty(tx).await
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailChange {
    pub new_email: String,
    /// The current password.
    pub password: String,
}

/// Starts changing the current user's email address: a link goes to the new address, and the
/// account keeps the old one until it is confirmed (`POST /api/v1/email-verification`).
#[utoipa::path(post, path = "/api/v1/me/email", tag = "accounts", security(("bearer" = [])), request_body = EmailChange,
    params(crate::openapi::IdempotencyKey),
    responses((status = 202, body = EmailSent), (status = 422, body = crate::error::ErrorBody)))]
pub async fn change_email(
    State(app): State<App>,
    Authed(user): Authed,
    idem: Idem,
    ApiJson(input): ApiJson<EmailChange>,
) -> AppResult<Response> {
    let mut tx = app.begin().await?;
    let sent_to = accounts::request_email_change(&app, &mut tx, &user, &input.new_email, input.password).await?;
    idem.finish(tx, StatusCode::ACCEPTED, &EmailSent { sent_to }).await
}

/// A signed-in device.
#[derive(Serialize, utoipa::ToSchema)]
pub struct SessionView {
    /// Names the session to end it; not its token.
    pub id: String,
    /// "Chrome on Android", "curl", or empty when the client said nothing.
    pub device: String,
    pub created_at: Timestamp,
    /// To within five minutes.
    pub last_used_at: Option<Timestamp>,
    pub expires_at: Timestamp,
    /// The session this request came with.
    pub current: bool,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct SessionList {
    pub items: Vec<SessionView>,
}

/// The sessions of `user`, marking the one with `token` as current.
pub async fn session_views(app: &App, user: &User, token: Option<&str>) -> AppResult<Vec<SessionView>> {
    let current = token.map(accounts::session_id);
    Ok(accounts::sessions_of(app, &user.id)
        .await?
        .into_iter()
        .map(|s| SessionView {
            current: current.as_deref() == Some(s.id.as_str()),
            id: s.id,
            device: s.device,
            created_at: Timestamp(s.created_at),
            last_used_at: s.last_used_at.map(Timestamp),
            expires_at: Timestamp(s.expires_at),
        })
        .collect())
}

/// The current user's signed-in sessions, the most recently used first.
#[utoipa::path(get, path = "/api/v1/me/sessions", tag = "accounts", security(("bearer" = [])),
    responses((status = 200, body = SessionList), (status = 401, body = crate::error::ErrorBody)))]
pub async fn sessions(
    State(app): State<App>,
    Authed(user): Authed,
    headers: HeaderMap,
) -> AppResult<axum::Json<SessionList>> {
    let items = session_views(&app, &user, crate::extract::bearer_token_of(&headers)).await?;
    Ok(axum::Json(SessionList { items }))
}

/// Ends one of the current user's sessions (signs that device out).
#[utoipa::path(delete, path = "/api/v1/me/sessions/{id}", tag = "accounts", security(("bearer" = [])),
    params(("id" = String, Path), crate::openapi::IdempotencyKey),
    responses((status = 204), (status = 404, body = crate::error::ErrorBody)))]
pub async fn end_session(
    State(app): State<App>,
    Authed(user): Authed,
    Path(id): Path<String>,
    idem: Idem,
) -> AppResult<Response> {
    let mut tx = app.begin().await?;
    accounts::end_session_of(&mut tx, &user, &id).await?;
    idem.finish_empty(tx).await
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct SessionsEnded {
    pub ended: u64,
}

/// Ends every session of the current user but the one this request came with.
#[utoipa::path(delete, path = "/api/v1/me/sessions", tag = "accounts", security(("bearer" = [])),
    params(crate::openapi::IdempotencyKey),
    responses((status = 200, body = SessionsEnded), (status = 401, body = crate::error::ErrorBody)))]
pub async fn end_other_sessions(
    State(app): State<App>,
    Authed(user): Authed,
    headers: HeaderMap,
    idem: Idem,
) -> AppResult<Response> {
    let mut tx = app.begin().await?;
    let ended = accounts::end_other_sessions(&mut tx, &user, crate::extract::bearer_token_of(&headers)).await?;
    idem.finish(tx, StatusCode::OK, &SessionsEnded { ended }).await
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetRequest {
    pub email: String,
}

/// Asks for a password-reset link. The answer is the same, and as quick, whether or not an
/// account uses the address; if one does, a link that works once for 30 minutes is emailed.
#[utoipa::path(post, path = "/api/v1/auth/password-reset", tag = "accounts", request_body = ResetRequest,
    params(crate::openapi::IdempotencyKey),
    responses((status = 202, body = EmailSent), (status = 422, body = crate::error::ErrorBody), (status = 429, body = crate::error::ErrorBody)))]
pub async fn request_password_reset(
    State(app): State<App>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    idem: Idem,
    ApiJson(input): ApiJson<ResetRequest>,
) -> AppResult<Response> {
    let sent_to = accounts::request_password_reset(&app, &input.email, peer.ip()).await?;
    idem.finish(app.begin().await?, StatusCode::ACCEPTED, &EmailSent { sent_to }).await
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetConfirm {
    /// From the emailed link.
    pub token: String,
    /// At least 10 characters.
    pub password: String,
}

/// Sets a new password with the emailed link's token. Every session of the account ends.
#[utoipa::path(post, path = "/api/v1/auth/password-reset/confirm", tag = "accounts", request_body = ResetConfirm,
    params(crate::openapi::IdempotencyKey),
    responses((status = 204), (status = 422, description = "a weak password, or a used, expired or unknown link", body = crate::error::ErrorBody)))]
pub async fn confirm_password_reset(
    State(app): State<App>,
    idem: Idem,
    ApiJson(input): ApiJson<ResetConfirm>,
) -> AppResult<Response> {
    let mut tx = app.begin().await?;
    accounts::reset_password(&mut tx, &input.token, input.password).await?;
    idem.finish_empty(tx).await
}

/// An authenticator app's setup: the secret, as typed and as a QR code.
#[derive(Serialize, utoipa::ToSchema)]
pub struct TwoFactorEnrolment {
    /// Base32, to type into the app by hand.
    pub secret: String,
    /// `otpauth://totp/...`: what the QR code holds.
    pub otpauth_uri: String,
    /// The QR code, an SVG drawing.
    pub qr_svg: String,
}

/// Starts turning on two-step sign-in: a new authenticator secret, in force once a code from it
/// is confirmed (`POST /api/v1/me/two-factor/confirm`).
#[utoipa::path(post, path = "/api/v1/me/two-factor", tag = "accounts", security(("bearer" = [])),
    params(crate::openapi::IdempotencyKey),
    responses((status = 201, body = TwoFactorEnrolment), (status = 409, description = "already on", body = crate::error::ErrorBody)))]
pub async fn start_two_factor(State(app): State<App>, Authed(user): Authed, idem: Idem) -> AppResult<Response> {
    let mut tx = app.begin().await?;
    let e = souk_app::two_factor::start(&mut tx, &user).await?;
    let body = TwoFactorEnrolment { secret: e.secret, otpauth_uri: e.uri, qr_svg: e.qr_svg };
    idem.finish(tx, StatusCode::CREATED, &body).await
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeInput {
    /// The six digits the authenticator shows now.
    pub code: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct RecoveryCodes {
    /// Each stands in once for the authenticator. Shown this once: keep them safe.
    pub recovery_codes: Vec<String>,
}

/// Turns two-step sign-in on with a code from the enrolled authenticator; answers the recovery
/// codes, shown only here.
#[utoipa::path(post, path = "/api/v1/me/two-factor/confirm", tag = "accounts", security(("bearer" = [])), request_body = CodeInput,
    params(crate::openapi::IdempotencyKey),
    responses((status = 200, body = RecoveryCodes), (status = 409, body = crate::error::ErrorBody), (status = 422, description = "wrong code", body = crate::error::ErrorBody)))]
pub async fn confirm_two_factor(
    State(app): State<App>,
    Authed(user): Authed,
    idem: Idem,
    ApiJson(input): ApiJson<CodeInput>,
) -> AppResult<Response> {
    let mut tx = app.begin().await?;
    let recovery_codes = souk_app::two_factor::confirm(&app, &mut tx, &user, &input.code).await?;
    idem.finish(tx, StatusCode::OK, &RecoveryCodes { recovery_codes }).await
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordInput {
    pub password: String,
}

/// Turns two-step sign-in off, the password required. Mediators and admins keep it on.
#[utoipa::path(post, path = "/api/v1/me/two-factor/disable", tag = "accounts", security(("bearer" = [])), request_body = PasswordInput,
    params(crate::openapi::IdempotencyKey),
    responses((status = 204), (status = 403, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
pub async fn disable_two_factor(
    State(app): State<App>,
    Authed(user): Authed,
    idem: Idem,
    ApiJson(input): ApiJson<PasswordInput>,
) -> AppResult<Response> {
    let mut tx = app.begin().await?;
    souk_app::two_factor::disable(&app, &mut tx, &user, input.password).await?;
    idem.finish_empty(tx).await
}

/// Everything Souk holds about the current user, as JSON by part: the account, sessions, store
/// and listings, wallet, top-ups and payouts, orders, messages and offers, reviews, disputes,
/// requests for quotation, notifications, API keys and webhooks. Secrets are left out.
#[utoipa::path(get, path = "/api/v1/me/export", tag = "accounts", security(("bearer" = [])),
    responses((status = 200, body = Object), (status = 401, body = crate::error::ErrorBody)))]
pub async fn export(State(app): State<App>, Authed(user): Authed) -> AppResult<axum::Json<serde_json::Value>> {
    Ok(axum::Json(accounts::export(&app, &user).await?))
}

/// Deletes the current user's account, the password required. Refused (409) while an order is
/// open (`orders_open`), the wallet holds money (`wallet_not_empty`) or a top-up is pending;
/// otherwise personal data is erased or anonymised while orders and the ledger keep what the
/// books need, and every session ends.
#[utoipa::path(post, path = "/api/v1/me/deletion", tag = "accounts", security(("bearer" = [])), request_body = PasswordInput,
    params(crate::openapi::IdempotencyKey),
    responses((status = 204), (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
pub async fn delete_account(
    State(app): State<App>,
    Authed(user): Authed,
    idem: Idem,
    ApiJson(input): ApiJson<PasswordInput>,
) -> AppResult<Response> {
    let mut tx = app.begin().await?;
    accounts::delete_account(&mut tx, &user, input.password).await?;
    idem.finish_empty(tx).await
}
