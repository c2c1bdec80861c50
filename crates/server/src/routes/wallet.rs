//! Wallets: balances, history, top-ups through the payment provider, provider callbacks,
//! payouts; and the ledger check for admins.

use crate::error::{AppError, AppResult, OrNotFound};
use crate::extract::{ApiJson, ApiQuery, Authed, PageQuery};
use crate::idempotency::Idem;
use crate::App;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Json;
use souk_app::payments::SIGNATURE_HEADER;
use souk_app::views::Page;
use souk_app::views::{Payout, TopUp};
use souk_app::wallet::ProviderCallback;
use souk_app::wallet::{self, PayoutInput, TopUpInput};
use souk_domain::account::Role;
use souk_domain::ledger::{LedgerReport, WalletBalance, WalletTransaction};

/// Available, held and incoming money per currency.
#[utoipa::path(get, path = "/api/v1/wallet", tag = "wallet", security(("bearer" = [])),
    responses((status = 200, body = Vec<WalletBalance>), (status = 401, body = crate::error::ErrorBody)))]
pub async fn wallet(State(app): State<App>, Authed(user): Authed) -> AppResult<Json<Vec<WalletBalance>>> {
    Ok(Json(app.wallet(&user.id).await?))
}

/// Every movement of the user's money, newest first.
#[utoipa::path(get, path = "/api/v1/wallet/transactions", tag = "wallet", security(("bearer" = [])), params(PageQuery),
    responses((status = 200, body = Page<WalletTransaction>), (status = 401, body = crate::error::ErrorBody)))]
pub async fn transactions(
    State(app): State<App>,
    Authed(user): Authed,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> AppResult<Json<Page<WalletTransaction>>> {
    Ok(Json(app.wallet_transactions(&user.id, page.cursor(), page.limit()?).await?))
}

/// Adds money to the wallet through the payment provider (`sandbox`). An accepted card answers
/// 202 with the top-up `pending`; the provider's signed confirmation then credits the wallet.
/// A declined card is 402 and changes no balance.
#[utoipa::path(post, path = "/api/v1/wallet/top-ups", tag = "wallet", security(("bearer" = [])), request_body = TopUpInput,
    params(crate::openapi::IdempotencyKey),
    responses((status = 202, body = TopUp), (status = 402, description = "declined", body = crate::error::ErrorBody),
              (status = 422, body = crate::error::ErrorBody)))]
pub async fn top_up(
    State(app): State<App>,
    Authed(user): Authed,
    idem: Idem,
    ApiJson(input): ApiJson<TopUpInput>,
) -> AppResult<Response> {
    let tx = app.begin().await?;
    let (tx, t) = wallet::top_up(&app, tx, &user.id, input.amount, &input.card_number).await?;
    idem.finish(tx, StatusCode::ACCEPTED, &t).await
}

/// One of the user's top-ups, to follow it from `pending` to `succeeded` or `failed`.
#[utoipa::path(get, path = "/api/v1/wallet/top-ups/{id}", tag = "wallet", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = TopUp), (status = 404, body = crate::error::ErrorBody)))]
pub async fn get_top_up(
    State(app): State<App>,
    Authed(user): Authed,
    Path(id): Path<String>,
) -> AppResult<Json<TopUp>> {
    let t = app.top_up(&id).await.or_not_found("top-up")?;
    if t.user_id != user.id {
        return Err(AppError::not_found("top-up"));
    }
    Ok(Json(t))
}

/// The payment provider's confirmation of a top-up, signed with HMAC-SHA256 in the
/// `Souk-Signature` header. Confirming twice changes nothing.
#[utoipa::path(post, path = "/api/v1/payments/sandbox/callback", tag = "wallet", request_body = ProviderCallback,
    responses((status = 200, body = TopUp), (status = 401, description = "bad signature", body = crate::error::ErrorBody)))]
pub async fn provider_callback(
    State(app): State<App>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> AppResult<Json<TopUp>> {
    let body = crate::extract::read_body(body, crate::JSON_BODY_LIMIT_BYTES).await?;
    let signature = headers.get(SIGNATURE_HEADER).and_then(|v| v.to_str().ok()).unwrap_or("");
    Ok(Json(souk_app::wallet::provider_callback(&app, signature, &body).await?))
}

/// Pays money out of the wallet. A short wallet is 409 `insufficient_funds`.
#[utoipa::path(post, path = "/api/v1/wallet/payouts", tag = "wallet", security(("bearer" = [])), request_body = PayoutInput,
    params(crate::openapi::IdempotencyKey),
    responses((status = 201, body = Payout), (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
pub async fn payout(
    State(app): State<App>,
    Authed(user): Authed,
    idem: Idem,
    ApiJson(input): ApiJson<PayoutInput>,
) -> AppResult<Response> {
    let mut tx = app.begin().await?;
    let p = wallet::payout(&app, &mut tx, &user.id, input).await?;
    idem.finish(tx, StatusCode::CREATED, &p).await
}

/// Verifies the books (admins): per currency the balances net to zero and equal their
/// transfers, escrow holds exactly what open orders hold, and no wallet is negative.
#[utoipa::path(get, path = "/api/v1/admin/ledger-check", tag = "admin", security(("bearer" = [])),
    responses((status = 200, body = LedgerReport), (status = 403, body = crate::error::ErrorBody)))]
pub async fn ledger_check(State(app): State<App>, user: Authed) -> AppResult<Json<LedgerReport>> {
    user.require(Role::Admin)?;
    Ok(Json(app.ledger_check().await?))
}
