//! Flash sales: sellers schedule promotions on SKUs; buyers buy at the promotion price through
//! the batched order engine (`crate::flash`), checkout and payment in one step.

use crate::error::{AppError, AppResult, OrNotFound};
use crate::extract::{ApiJson, ApiQuery, Authed, PageQuery};
use crate::idempotency::Idem;
use crate::App;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use serde::Deserialize;
use souk_app::access::owned_store;
use souk_app::flash::{Bought, FlashReceipt};
use souk_app::views::Page;
use souk_app::views::{PromotionFilter, PromotionView};
use souk_domain::id::{self, Kind};
use souk_domain::Money;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PromotionInput {
    pub sku_id: String,
    /// RFC 3339; now or later.
    pub starts_at: String,
    /// RFC 3339; after the start, at most 7 days later.
    pub ends_at: String,
    /// Per unit, below the SKU's price, in its currency.
    pub price: Money,
    /// Units sold at this price; at most the SKU's units available now.
    pub stock: i64,
    /// The most units one buyer may buy in this sale.
    pub per_buyer_limit: i64,
}

/// Schedules a flash sale on one of the store's SKUs. Promotions of one SKU never overlap.
#[utoipa::path(post, path = "/api/v1/stores/{store}/promotions", tag = "flash", request_body = PromotionInput,
    security(("bearer" = [])), params(("store" = String, Path, description = "id or slug"), crate::openapi::IdempotencyKey),
    responses((status = 201, body = PromotionView), (status = 403, body = crate::error::ErrorBody),
              (status = 409, description = "overlaps another", body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
pub async fn create_promotion(
    State(app): State<App>,
    Authed(user): Authed,
    Path(store_ref): Path<String>,
    idem: Idem,
    ApiJson(input): ApiJson<PromotionInput>,
) -> AppResult<Response> {
    let store = owned_store(&app, &user, &store_ref).await?;
    let i = &input;
    let terms = souk_app::flash::terms(&i.sku_id, &i.starts_at, &i.ends_at, i.price, i.stock, i.per_buyer_limit)?;
    let mut tx = app.begin().await?;
    let p = souk_app::flash::create_promotion(&mut tx, &store, &terms).await?;
    idem.finish(tx, StatusCode::CREATED, &p).await
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PromotionsQuery {
    pub cursor: Option<String>,
    pub limit: Option<usize>,
    /// A store id.
    pub store: Option<String>,
    /// A product id.
    pub product: Option<String>,
    /// `true` (the default): only promotions that have not ended.
    pub current: Option<bool>,
}

/// Flash sales, newest first, with their countdown and what is left.
#[utoipa::path(get, path = "/api/v1/promotions", tag = "flash", params(PromotionsQuery),
    responses((status = 200, body = Page<PromotionView>)))]
pub async fn promotions(
    State(app): State<App>,
    ApiQuery(q): ApiQuery<PromotionsQuery>,
) -> AppResult<Json<Page<PromotionView>>> {
    let page = PageQuery { cursor: q.cursor, limit: q.limit };
    let f = PromotionFilter {
        store_id: q.store.as_deref().filter(|s| !s.is_empty()),
        product_id: q.product.as_deref().filter(|s| !s.is_empty()),
        current: q.current.unwrap_or(true),
    };
    Ok(Json(app.promotions(&f, page.cursor(), page.limit()?).await?))
}

/// One flash sale: its phase (scheduled, live, sold_out, ended), seconds to its next change,
/// and units left.
#[utoipa::path(get, path = "/api/v1/promotions/{id}", tag = "flash", params(("id" = String, Path)),
    responses((status = 200, body = PromotionView), (status = 404, body = crate::error::ErrorBody)))]
pub async fn promotion(State(app): State<App>, Path(id): Path<String>) -> AppResult<Json<PromotionView>> {
    if !id::is_valid(Kind::Promotion, &id) {
        return Err(AppError::not_found("promotion"));
    }
    Ok(Json(app.promotion(&id).await.or_not_found("promotion")?))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FlashBuyInput {
    pub quantity: i64,
    /// ISO country the order ships to.
    pub ship_to: String,
}

/// Buys at the promotion price: checkout and payment from the wallet in one step, decided
/// together with concurrent requests and committed before the answer. Refusals are 409
/// (`sold_out`, `limit_reached`, `insufficient_funds`, `promotion_not_started`,
/// `promotion_ended`) or 422. A server running one flash shard of several answers 421
/// `wrong_shard` for promotions another shard decides (see ARCHITECTURE.md).
#[utoipa::path(post, path = "/api/v1/promotions/{id}/buy", tag = "flash", request_body = FlashBuyInput,
    security(("bearer" = [])), params(("id" = String, Path), crate::openapi::IdempotencyKey),
    responses((status = 201, body = FlashReceipt), (status = 404, body = crate::error::ErrorBody),
              (status = 409, body = crate::error::ErrorBody), (status = 421, body = crate::error::ErrorBody),
              (status = 422, body = crate::error::ErrorBody)))]
pub async fn buy(
    State(app): State<App>,
    Authed(user): Authed,
    Path(id): Path<String>,
    idem: Idem,
    ApiJson(input): ApiJson<FlashBuyInput>,
) -> AppResult<Response> {
    if !idem.has_key() {
        return Err(AppError::bad_request(
            "idempotency_key_required",
            "buying needs an Idempotency-Key header, so a retry cannot buy twice",
        ));
    }
    match souk_app::flash::buy(&app, &user.id, &id, input.quantity, &input.ship_to, idem.claim()).await? {
        Bought::Order(receipt) => Idem::recorded(StatusCode::CREATED, &receipt),
        Bought::Replay { status, body } => Ok(Idem::replayed(status, body)),
    }
}
