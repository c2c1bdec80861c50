//! Requests for quotation: buyers post what they need, matching sellers quote, and the buyer
//! turns one quote into an escrowed order. An RFQ is visible to its buyer and to the sellers
//! whose stores match it; to anyone else it does not exist.

use crate::error::{AppError, AppResult};
use crate::extract::{ApiJson, ApiQuery, Authed, PageQuery};
use crate::idempotency::Idem;
use crate::App;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use serde::Serialize;
use souk_app::rfq::{
    accept_quote_in, cancel_rfq_in, create_quote_in, create_rfq_in, my_store, quote_draft, visible_rfq, QuoteAccepted,
    QuoteInput, RfqInput, Viewer,
};
use souk_app::views::Page;
use souk_app::views::{QuoteView, RfqView};

/// Posts a request for quotation.
#[utoipa::path(post, path = "/api/v1/rfqs", tag = "rfq", security(("bearer" = [])), request_body = RfqInput,
    params(crate::openapi::IdempotencyKey),
    responses((status = 201, body = RfqView), (status = 422, body = crate::error::ErrorBody)))]
pub async fn create_rfq(
    State(app): State<App>,
    Authed(user): Authed,
    idem: Idem,
    ApiJson(input): ApiJson<RfqInput>,
) -> AppResult<Response> {
    let mut tx = app.begin().await?;
    let created = create_rfq_in(&app, &mut tx, &user, &input).await?;
    idem.finish(tx, StatusCode::CREATED, &created).await
}

/// The caller's own RFQs, newest first.
#[utoipa::path(get, path = "/api/v1/rfqs", tag = "rfq", security(("bearer" = [])), params(PageQuery),
    responses((status = 200, body = Page<RfqView>)))]
pub async fn my_rfqs(
    State(app): State<App>,
    Authed(user): Authed,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> AppResult<Json<Page<RfqView>>> {
    Ok(Json(app.rfqs_of(&user.id, page.cursor(), page.limit()?).await?))
}

/// Open RFQs the caller's store can quote: it has an active product in the RFQ's category (or
/// below it) that ships to the RFQ's country. Newest first.
#[utoipa::path(get, path = "/api/v1/rfqs/open", tag = "rfq", security(("bearer" = [])), params(PageQuery),
    responses((status = 200, body = Page<RfqView>), (status = 403, body = crate::error::ErrorBody)))]
pub async fn open_rfqs(
    State(app): State<App>,
    Authed(user): Authed,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> AppResult<Json<Page<RfqView>>> {
    let store = my_store(&app, &user).await?.ok_or_else(|| AppError::forbidden("open a store to see RFQs"))?;
    Ok(Json(app.rfqs_for_store(&store.id, &user.id, page.cursor(), page.limit()?).await?))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct RfqDetail {
    pub rfq: RfqView,
    /// Every quote, to the buyer; a seller sees only their own.
    pub quotes: Vec<QuoteView>,
}

/// One RFQ with its quotes (a seller sees only their own quote).
#[utoipa::path(get, path = "/api/v1/rfqs/{id}", tag = "rfq", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = RfqDetail), (status = 404, body = crate::error::ErrorBody)))]
pub async fn get_rfq(
    State(app): State<App>,
    Authed(user): Authed,
    Path(id): Path<String>,
) -> AppResult<Json<RfqDetail>> {
    let (r, viewer) = visible_rfq(&app, &user, &id).await?;
    let quotes = match viewer {
        Viewer::Buyer => app.quotes(&id, None).await?,
        Viewer::Seller(store_id) => app.quotes(&id, Some(&store_id)).await?,
    };
    Ok(Json(RfqDetail { rfq: r.view, quotes }))
}

/// A matching seller's one quote. 409 `rfq_closed` once the deadline passed or ten quotes
/// came; 409 `already_quoted` for a second quote (revise the first instead).
#[utoipa::path(post, path = "/api/v1/rfqs/{id}/quotes", tag = "rfq", security(("bearer" = [])), request_body = QuoteInput,
    params(("id" = String, Path), crate::openapi::IdempotencyKey),
    responses((status = 201, body = QuoteView), (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody),
              (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
pub async fn create_quote(
    State(app): State<App>,
    Authed(user): Authed,
    Path(id): Path<String>,
    idem: Idem,
    ApiJson(input): ApiJson<QuoteInput>,
) -> AppResult<Response> {
    let draft = quote_draft(input)?;
    let mut tx = app.begin().await?;
    let quote = create_quote_in(&app, &mut tx, &user, &id, &draft).await?;
    idem.finish(tx, StatusCode::CREATED, &quote).await
}

/// The quote's seller revises it, once, while the RFQ is open.
#[utoipa::path(patch, path = "/api/v1/quotes/{id}", tag = "rfq", security(("bearer" = [])), request_body = QuoteInput,
    params(("id" = String, Path), crate::openapi::IdempotencyKey),
    responses((status = 200, body = QuoteView), (status = 404, body = crate::error::ErrorBody),
              (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
pub async fn revise_quote(
    State(app): State<App>,
    Authed(user): Authed,
    Path(id): Path<String>,
    idem: Idem,
    ApiJson(input): ApiJson<QuoteInput>,
) -> AppResult<Response> {
    let draft = quote_draft(input)?;
    let mut tx = app.begin().await?;
    let revised = souk_app::rfq::revise_quote(&app, &mut tx, &user, &id, &draft).await?;
    idem.finish(tx, StatusCode::OK, &revised).await
}

/// The buyer accepts one quote: an order for the RFQ's quantity (or the quote's minimum, if
/// more) at the quoted unit price, shipped to the RFQ's country, through the escrow flow. The
/// RFQ is then awarded; other quotes are not selected.
#[utoipa::path(post, path = "/api/v1/quotes/{id}/accept", tag = "rfq", security(("bearer" = [])),
    params(("id" = String, Path), crate::openapi::IdempotencyKey),
    responses((status = 201, body = QuoteAccepted), (status = 404, body = crate::error::ErrorBody),
              (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
pub async fn accept_quote(
    State(app): State<App>,
    Authed(user): Authed,
    Path(id): Path<String>,
    idem: Idem,
) -> AppResult<Response> {
    let mut tx = app.begin().await?;
    let accepted = accept_quote_in(&app, &mut tx, &user, &id).await?;
    idem.finish(tx, StatusCode::CREATED, &accepted).await
}

/// The buyer withdraws an open RFQ.
#[utoipa::path(post, path = "/api/v1/rfqs/{id}/cancel", tag = "rfq", security(("bearer" = [])),
    params(("id" = String, Path), crate::openapi::IdempotencyKey),
    responses((status = 200, body = RfqView), (status = 404, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody)))]
pub async fn cancel_rfq(
    State(app): State<App>,
    Authed(user): Authed,
    Path(id): Path<String>,
    idem: Idem,
) -> AppResult<Response> {
    let mut tx = app.begin().await?;
    let cancelled = cancel_rfq_in(&app, &mut tx, &user, &id).await?;
    idem.finish(tx, StatusCode::OK, &cancelled).await
}
