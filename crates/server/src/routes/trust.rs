//! Tracking, carriers' signed events, reviews and the seller trust score.

use crate::error::{AppResult, OrNotFound};
use crate::extract::{ApiJson, ApiQuery, Authed, MaybeAuthed, PageQuery};
use crate::idempotency::Idem;
use crate::App;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Json;
use serde::{Deserialize, Serialize};
use souk_app::access::find_store;
use souk_app::access::side;
use souk_app::reviews;
use souk_app::tracking::{self, CarrierEventInput, CarrierEventReceipt, CARRIER_SIGNATURE_HEADER};
use souk_app::trust::{trust_of, Trust};
use souk_app::views::{RatingSummary, ReviewScope, ReviewView, TrackingEventView};
use souk_domain::order::OrderState;
use souk_domain::review;
use souk_domain::time::Timestamp;

#[derive(Serialize, utoipa::ToSchema)]
pub struct Tracking {
    pub order_id: String,
    pub state: OrderState,
    pub carrier: Option<String>,
    pub tracking_number: Option<String>,
    pub shipped_at: Option<Timestamp>,
    pub delivered_at: Option<Timestamp>,
    /// Seconds from payment to shipping, once shipped.
    pub time_to_ship_s: Option<i64>,
    /// Seconds from shipping to delivery, once delivered.
    pub time_to_deliver_s: Option<i64>,
    pub events: Vec<TrackingEventView>,
}

fn seconds_between(from: Option<Timestamp>, to: Option<Timestamp>) -> Option<i64> {
    Some((to?.ms() - from?.ms()) / 1000)
}

/// An order's shipment and the carrier's events, to its buyer, its seller and staff.
#[utoipa::path(get, path = "/api/v1/orders/{id}/tracking", tag = "shipping", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = Tracking), (status = 404, body = crate::error::ErrorBody)))]
pub async fn tracking(
    State(app): State<App>,
    Authed(user): Authed,
    Path(id): Path<String>,
) -> AppResult<Json<Tracking>> {
    side(&app, &user, &id).await?;
    let order = app.order(&id).await.or_not_found("order")?;
    Ok(Json(Tracking {
        time_to_ship_s: seconds_between(order.paid_at, order.shipped_at),
        time_to_deliver_s: seconds_between(order.shipped_at, order.delivered_at),
        events: app.tracking(&id).await?,
        order_id: order.id,
        state: order.state,
        carrier: order.carrier,
        tracking_number: order.tracking_number,
        shipped_at: order.shipped_at,
        delivered_at: order.delivered_at,
    }))
}

/// A tracking event from a carrier, signed with HMAC-SHA256 under the carrier's secret in the
/// `Souk-Signature` header. A bad or stale signature is 401 and writes nothing; an event id
/// seen before is acknowledged without effect. `delivered` marks the orders delivered, which
/// shortens the buyer's confirmation window.
#[utoipa::path(post, path = "/api/v1/carriers/{carrier}/events", tag = "shipping", request_body = CarrierEventInput,
    params(("carrier" = String, Path)),
    responses((status = 200, body = CarrierEventReceipt), (status = 401, description = "bad signature", body = crate::error::ErrorBody),
              (status = 404, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
pub async fn carrier_event(
    State(app): State<App>,
    Path(carrier): Path<String>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> AppResult<Json<CarrierEventReceipt>> {
    let body = crate::extract::read_body(body, crate::JSON_BODY_LIMIT_BYTES).await?;
    let signature = headers.get(CARRIER_SIGNATURE_HEADER).and_then(|v| v.to_str().ok()).unwrap_or("");
    Ok(Json(tracking::carrier_event(&app, &carrier, signature, &body).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewInput {
    /// The order line reviewed, counted from 0.
    pub line: i64,
    /// Overall, 1 to 5.
    pub stars: i64,
    pub item_as_described: i64,
    pub communication: i64,
    pub shipping_speed: i64,
    #[serde(default)]
    pub text: Option<String>,
    /// Photos of what arrived (at most 6): links from `POST /api/v1/uploads`, or http(s) URLs.
    #[serde(default)]
    pub images: Vec<String>,
}

/// The buyer reviews one line of a completed order, once, within 30 days of completion.
#[utoipa::path(post, path = "/api/v1/orders/{id}/reviews", tag = "reviews", security(("bearer" = [])), request_body = ReviewInput,
    params(("id" = String, Path), crate::openapi::IdempotencyKey),
    responses((status = 201, body = ReviewView), (status = 403, body = crate::error::ErrorBody),
              (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
pub async fn create_review(
    State(app): State<App>,
    Authed(user): Authed,
    Path(id): Path<String>,
    idem: Idem,
    ApiJson(input): ApiJson<ReviewInput>,
) -> AppResult<Response> {
    let review = review::ReviewInput {
        stars: input.stars,
        item_as_described: input.item_as_described,
        communication: input.communication,
        shipping_speed: input.shipping_speed,
        text: input.text,
        images: input.images,
    }
    .check()?;
    let side = side(&app, &user, &id).await?;
    let order = app.order(&id).await.or_not_found("order")?;
    reviews::may_review(&app, side, &order)?;
    let mut tx = app.begin().await?;
    let review = reviews::review_line(&mut tx, &user.id, &id, input.line, review).await?;
    idem.finish(tx, StatusCode::CREATED, &review).await
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplyInput {
    pub text: String,
}

/// The store's owner replies to a review of the store, once.
#[utoipa::path(post, path = "/api/v1/reviews/{id}/reply", tag = "reviews", security(("bearer" = [])), request_body = ReplyInput,
    params(("id" = String, Path), crate::openapi::IdempotencyKey),
    responses((status = 200, body = ReviewView), (status = 403, body = crate::error::ErrorBody),
              (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
pub async fn reply(
    State(app): State<App>,
    Authed(user): Authed,
    Path(id): Path<String>,
    idem: Idem,
    ApiJson(input): ApiJson<ReplyInput>,
) -> AppResult<Response> {
    let mut tx = app.begin().await?;
    let review = reviews::reply(&app, &mut tx, &user.id, &id, &input.text).await?;
    idem.finish(tx, StatusCode::OK, &review).await
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Reviews {
    pub summary: RatingSummary,
    pub items: Vec<ReviewView>,
    pub next_cursor: Option<String>,
}

async fn reviews_of(app: &App, scope: ReviewScope<'_>, page: &PageQuery) -> AppResult<Reviews> {
    let found = app.reviews(scope, page.cursor(), page.limit()?).await?;
    Ok(Reviews { summary: app.rating_summary(scope).await?, items: found.items, next_cursor: found.next_cursor })
}

/// A product's reviews, newest first, with its rating histogram.
#[utoipa::path(get, path = "/api/v1/products/{id}/reviews", tag = "reviews", params(("id" = String, Path), PageQuery),
    responses((status = 200, body = Reviews), (status = 404, body = crate::error::ErrorBody)))]
pub async fn product_reviews(
    State(app): State<App>,
    MaybeAuthed(user): MaybeAuthed,
    Path(id): Path<String>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> AppResult<Json<Reviews>> {
    // A draft's reviews are as invisible as the draft.
    let product = souk_app::access::visible_product(&app, user.as_ref(), &id).await?;
    Ok(Json(reviews_of(&app, ReviewScope::Product(&product.id), &page).await?))
}

/// A store's reviews across its products, newest first, with the rating histogram.
#[utoipa::path(get, path = "/api/v1/stores/{store}/reviews", tag = "reviews",
    params(("store" = String, Path, description = "id or slug"), PageQuery),
    responses((status = 200, body = Reviews), (status = 404, body = crate::error::ErrorBody)))]
pub async fn store_reviews(
    State(app): State<App>,
    Path(store_ref): Path<String>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> AppResult<Json<Reviews>> {
    let store = find_store(&app, &store_ref).await?;
    Ok(Json(reviews_of(&app, ReviewScope::Store(&store.id), &page).await?))
}

/// A store's trust score and what it is made of (see the formula in `souk_domain::trust`).
#[utoipa::path(get, path = "/api/v1/stores/{store}/trust", tag = "stores",
    params(("store" = String, Path, description = "id or slug")),
    responses((status = 200, body = Trust), (status = 404, body = crate::error::ErrorBody)))]
pub async fn store_trust(State(app): State<App>, Path(store_ref): Path<String>) -> AppResult<Json<Trust>> {
    let store = find_store(&app, &store_ref).await?;
    Ok(Json(trust_of(&app, &store.id).await?))
}
