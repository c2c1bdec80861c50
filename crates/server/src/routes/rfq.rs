//! Requests for quotation: buyers post what they need, matching sellers quote, and the buyer
//! turns one quote into an escrowed order. An RFQ is visible to its buyer and to the sellers
//! whose stores match it; to anyone else it does not exist.

use crate::error::{AppError, AppResult, OrNotFound};
use crate::extract::{ApiJson, ApiQuery, Authed, PageQuery};
use crate::idempotency::Idem;
use crate::App;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use serde::{Deserialize, Serialize};
use souk_domain::account::StoreProfile;
use souk_domain::checkout::Item;
use souk_domain::id::{self, Kind};
use souk_domain::order::OrderView;
use souk_domain::rfq::{self, Status};
use souk_domain::time::parse_rfc3339;
use souk_domain::{Invalid, Money};
use souk_store::accounts::User;
use souk_store::rfq::{QuoteView, Rfq, RfqView};
use souk_store::{Page, StoreError, Tx};

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RfqInput {
    /// What is needed, 3 to 200 characters.
    pub title: String,
    /// Specifications, packaging, certificates...: up to 4,000 characters.
    #[serde(default)]
    pub details: String,
    /// A category id (`home/kitchen`); sellers with products in it or below it see the RFQ.
    pub category: String,
    pub quantity: i64,
    pub target_unit_price: Option<Money>,
    /// ISO country the goods ship to.
    pub ship_to: String,
    /// RFC 3339, one hour to 60 days ahead: quotes are taken until then.
    pub deadline: String,
}

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
    let mut tx = app.store.begin().await?;
    let created = create_rfq_in(&app, &mut tx, &user, &input).await?;
    idem.finish(tx, StatusCode::CREATED, &created).await
}

/// Validates and posts `input` for `user` in `tx`; the API and the pages share it.
pub(crate) async fn create_rfq_in(app: &App, tx: &mut Tx, user: &User, input: &RfqInput) -> AppResult<RfqView> {
    let deadline =
        parse_rfc3339(&input.deadline).ok_or_else(|| Invalid::new("invalid_time", "deadline", "an RFC 3339 time"))?;
    let draft = rfq::draft(
        &input.title,
        &input.details,
        &input.category,
        input.quantity,
        input.target_unit_price,
        &input.ship_to,
        deadline,
        app.store.now_ms(),
    )?;
    Ok(tx.create_rfq(&user.id, &draft).await?)
}

/// The caller's own RFQs, newest first.
#[utoipa::path(get, path = "/api/v1/rfqs", tag = "rfq", security(("bearer" = [])), params(PageQuery),
    responses((status = 200, body = Page<RfqView>)))]
pub async fn my_rfqs(
    State(app): State<App>,
    Authed(user): Authed,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> AppResult<Json<Page<RfqView>>> {
    Ok(Json(app.store.rfqs_of(&user.id, page.cursor(), page.limit()?).await?))
}

pub(crate) async fn my_store(app: &App, user: &User) -> AppResult<Option<StoreProfile>> {
    match app.store.store_by_owner(&user.id).await {
        Ok(s) => Ok(Some(s)),
        Err(StoreError::NotFound) => Ok(None),
        Err(e) => Err(e.into()),
    }
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
    Ok(Json(app.store.rfqs_for_store(&store.id, &user.id, page.cursor(), page.limit()?).await?))
}

/// How the caller stands to an RFQ.
pub(crate) enum Viewer {
    Buyer,
    /// The seller's store id.
    Seller(String),
}

/// The RFQ and the caller's standing; 404 for those who may not see it.
pub(crate) async fn visible_rfq(app: &App, user: &User, id: &str) -> AppResult<(Rfq, Viewer)> {
    if !id::is_valid(Kind::Rfq, id) {
        return Err(AppError::not_found("rfq"));
    }
    let r = app.store.rfq(id).await.or_not_found("rfq")?;
    if r.view.buyer_id == user.id {
        return Ok((r, Viewer::Buyer));
    }
    if let Some(store) = my_store(app, user).await? {
        let quoted = !app.store.quotes(id, Some(&store.id)).await?.is_empty();
        if quoted || app.store.store_matches_rfq(id, &store.id).await? {
            return Ok((r, Viewer::Seller(store.id)));
        }
    }
    Err(AppError::not_found("rfq"))
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
        Viewer::Buyer => app.store.quotes(&id, None).await?,
        Viewer::Seller(store_id) => app.store.quotes(&id, Some(&store_id)).await?,
    };
    Ok(Json(RfqDetail { rfq: r.view, quotes }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuoteInput {
    /// The store's SKU quoted: in the RFQ's category and shipping to its country.
    pub sku_id: String,
    /// In the SKU's currency.
    pub unit_price: Money,
    /// The fewest units sold at this price.
    pub moq: i64,
    pub lead_time_days: i64,
    #[serde(default)]
    pub note: String,
}

pub(crate) fn quote_draft(input: QuoteInput) -> AppResult<rfq::QuoteDraft> {
    Ok(rfq::quote(&input.sku_id, input.unit_price, input.moq, input.lead_time_days, &input.note)?)
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
    let mut tx = app.store.begin().await?;
    let quote = create_quote_in(&app, &mut tx, &user, &id, &draft).await?;
    idem.finish(tx, StatusCode::CREATED, &quote).await
}

/// A matching seller's quote on the RFQ `id`, in `tx`; the API and the pages share it.
pub(crate) async fn create_quote_in(
    app: &App,
    tx: &mut Tx,
    user: &User,
    id: &str,
    draft: &rfq::QuoteDraft,
) -> AppResult<QuoteView> {
    let (_, viewer) = visible_rfq(app, user, id).await?;
    let Viewer::Seller(store_id) = viewer else {
        return Err(AppError::forbidden("sellers quote; the buyer accepts"));
    };
    Ok(tx.create_quote(id, &store_id, draft).await?)
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
    if !id::is_valid(Kind::Quote, &id) {
        return Err(AppError::not_found("quote"));
    }
    let quote = app.store.quote(&id).await.or_not_found("quote")?;
    let store = my_store(&app, &user).await?;
    if store.map(|s| s.id) != Some(quote.store_id) {
        return Err(AppError::not_found("quote"));
    }
    let mut tx = app.store.begin().await?;
    let revised = tx.revise_quote(&id, &draft).await?;
    idem.finish(tx, StatusCode::OK, &revised).await
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct QuoteAccepted {
    pub rfq: RfqView,
    pub quote: QuoteView,
    /// The order at the quoted price, awaiting the buyer's payment (`POST /orders/{id}/pay`).
    pub order: OrderView,
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
    let mut tx = app.store.begin().await?;
    let accepted = accept_quote_in(&app, &mut tx, &user, &id).await?;
    idem.finish(tx, StatusCode::CREATED, &accepted).await
}

/// The buyer's acceptance of the quote `id`, in `tx`; the API and the pages share it.
pub(crate) async fn accept_quote_in(app: &App, tx: &mut Tx, user: &User, id: &str) -> AppResult<QuoteAccepted> {
    if !id::is_valid(Kind::Quote, id) {
        return Err(AppError::not_found("quote"));
    }
    let quote = app.store.quote(id).await.or_not_found("quote")?;
    let r = app.store.rfq(&quote.rfq_id).await.or_not_found("quote")?;
    if r.view.buyer_id != user.id {
        return Err(AppError::not_found("quote"));
    }
    rfq::acceptable(r.status, r.deadline_ms, app.store.now_ms()).map_err(|code| {
        AppError::conflict(code, format!("the RFQ is {}; this quote cannot be accepted", r.status.as_str()))
    })?;
    let quantity = rfq::order_quantity(r.view.quantity, quote.moq);
    let item = Item { sku_id: quote.sku_id.clone(), quantity };
    let order = tx.checkout_agreed(&user.id, &r.view.ship_to, &item, quote.unit_price, &app.config.policy).await?;
    tx.award(&r, &quote, &order.id).await?;
    Ok(QuoteAccepted { rfq: tx.rfq(&r.view.id).await?.view, quote: tx.quote(id).await?, order })
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
    let mut tx = app.store.begin().await?;
    let cancelled = cancel_rfq_in(&app, &mut tx, &user, &id).await?;
    idem.finish(tx, StatusCode::OK, &cancelled).await
}

/// The buyer withdraws the RFQ `id`, in `tx`; the API and the pages share it.
pub(crate) async fn cancel_rfq_in(app: &App, tx: &mut Tx, user: &User, id: &str) -> AppResult<RfqView> {
    let (r, viewer) = visible_rfq(app, user, id).await?;
    if !matches!(viewer, Viewer::Buyer) {
        return Err(AppError::forbidden("only the buyer withdraws an RFQ"));
    }
    if r.status == Status::Awarded {
        return Err(AppError::conflict("rfq_awarded", "a quote was accepted already"));
    }
    Ok(tx.cancel_rfq(&r).await?)
}
