//! Carts, checkout and the order lifecycle: pay, ship, confirm, extend, cancel; and the outbox
//! of events. Every action checks the actor: only the buyer pays, confirms and extends; only
//! the order's seller ships.

use crate::error::{AppError, AppResult, OrNotFound};
use crate::extract::{ApiJson, ApiQuery, Authed, PageQuery};
use crate::idempotency::Idem;
use crate::App;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use serde::Deserialize;
use souk_app::access::{owned_store, side};
use souk_app::orders::{self, CheckoutResult, Shipment};
use souk_app::views::Page;
use souk_app::views::User;
use souk_app::views::{CartLine, EventView, OrderScope};
use souk_domain::checkout::Item;
use souk_domain::order::{Action, OrderView};

/// The caller's cart with current prices (tier prices applied) and availability.
#[utoipa::path(get, path = "/api/v1/cart", tag = "orders", security(("bearer" = [])),
    responses((status = 200, body = Vec<CartLine>), (status = 401, body = crate::error::ErrorBody)))]
pub async fn cart(State(app): State<App>, Authed(user): Authed) -> AppResult<Json<Vec<CartLine>>> {
    Ok(Json(app.cart(&user.id).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CartItemInput {
    /// 0 removes the item.
    pub quantity: i64,
}

/// Sets how many of a SKU the cart holds.
#[utoipa::path(put, path = "/api/v1/cart/items/{sku_id}", tag = "orders", security(("bearer" = [])), request_body = CartItemInput,
    params(("sku_id" = String, Path), crate::openapi::IdempotencyKey),
    responses((status = 200, body = Vec<CartLine>), (status = 422, body = crate::error::ErrorBody)))]
pub async fn set_cart_item(
    State(app): State<App>,
    Authed(user): Authed,
    Path(sku_id): Path<String>,
    idem: Idem,
    ApiJson(input): ApiJson<CartItemInput>,
) -> AppResult<Response> {
    let mut tx = app.begin().await?;
    let cart = orders::set_cart_item(&mut tx, &user.id, &sku_id, input.quantity).await?;
    idem.finish(tx, StatusCode::OK, &cart).await
}

/// Takes a SKU out of the cart.
#[utoipa::path(delete, path = "/api/v1/cart/items/{sku_id}", tag = "orders", security(("bearer" = [])),
    params(("sku_id" = String, Path), crate::openapi::IdempotencyKey),
    responses((status = 200, body = Vec<CartLine>), (status = 401, body = crate::error::ErrorBody)))]
pub async fn remove_cart_item(
    State(app): State<App>,
    Authed(user): Authed,
    Path(sku_id): Path<String>,
    idem: Idem,
) -> AppResult<Response> {
    let mut tx = app.begin().await?;
    let cart = orders::set_cart_item(&mut tx, &user.id, &sku_id, 0).await?;
    idem.finish(tx, StatusCode::OK, &cart).await
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckoutInput {
    /// The buyer's shipping country (ISO-3166-1 alpha-2).
    pub ship_to: String,
    /// What to buy; the cart when absent.
    #[serde(default)]
    pub items: Option<Vec<Item>>,
}

/// Checks out: validates quantities (MOQ, stock), shipping and prices (tiers), reserves stock and
/// creates one order per store, all or nothing. Requires an `Idempotency-Key`.
#[utoipa::path(post, path = "/api/v1/checkout", tag = "orders", security(("bearer" = [])), request_body = CheckoutInput,
    params(crate::openapi::IdempotencyKey),
    responses((status = 201, body = CheckoutResult), (status = 400, description = "no Idempotency-Key", body = crate::error::ErrorBody),
              (status = 409, description = "out of stock", body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
pub async fn checkout(
    State(app): State<App>,
    Authed(user): Authed,
    idem: Idem,
    ApiJson(input): ApiJson<CheckoutInput>,
) -> AppResult<Response> {
    if !idem.has_key() {
        return Err(AppError::bad_request(
            "idempotency_key_required",
            "checkout needs an Idempotency-Key header, so a retry cannot buy twice",
        ));
    }
    let mut tx = app.begin().await?;
    let result = orders::checkout(&app, &mut tx, &user.id, &input.ship_to, input.items).await?;
    idem.finish(tx, StatusCode::CREATED, &result).await
}

/// Pays every unpaid order of a checkout from the wallet, all or nothing.
#[utoipa::path(post, path = "/api/v1/checkouts/{id}/pay", tag = "orders", security(("bearer" = [])),
    params(("id" = String, Path), crate::openapi::IdempotencyKey),
    responses((status = 200, body = CheckoutResult), (status = 404, body = crate::error::ErrorBody),
              (status = 409, description = "short wallet or nothing to pay", body = crate::error::ErrorBody)))]
pub async fn pay_checkout(
    State(app): State<App>,
    Authed(user): Authed,
    Path(id): Path<String>,
    idem: Idem,
) -> AppResult<Response> {
    let unpaid = orders::unpaid_in_checkout(&app, &user.id, &id).await?;
    let mut tx = app.begin().await?;
    let result = orders::pay_checkout(&app, &mut tx, &id, &unpaid).await?;
    idem.finish(tx, StatusCode::OK, &result).await
}

/// The caller's purchases, newest first.
#[utoipa::path(get, path = "/api/v1/orders", tag = "orders", security(("bearer" = [])), params(PageQuery),
    responses((status = 200, body = Page<OrderView>)))]
pub async fn my_orders(
    State(app): State<App>,
    Authed(user): Authed,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> AppResult<Json<Page<OrderView>>> {
    Ok(Json(app.list_orders(OrderScope::Buyer(&user.id), page.cursor(), page.limit()?).await?))
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct StoreOrderQuery {
    /// Only orders in this state: pending_payment, paid, shipped, delivered, completed,
    /// disputed, cancelled or refunded.
    pub state: Option<String>,
    /// Opaque cursor from the previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// Items per page, 1 to 100.
    pub limit: Option<usize>,
}

/// A store's orders, newest first, optionally in one state (its owner).
#[utoipa::path(get, path = "/api/v1/stores/{store}/orders", tag = "orders", security(("bearer" = [])),
    params(("store" = String, Path, description = "id or slug"), StoreOrderQuery),
    responses((status = 200, body = Page<OrderView>), (status = 403, body = crate::error::ErrorBody),
        (status = 422, body = crate::error::ErrorBody)))]
pub async fn store_orders(
    State(app): State<App>,
    Authed(user): Authed,
    Path(store_ref): Path<String>,
    ApiQuery(q): ApiQuery<StoreOrderQuery>,
) -> AppResult<Json<Page<OrderView>>> {
    let store = owned_store(&app, &user, &store_ref).await?;
    let scope = orders::store_scope(&store.id, q.state.as_deref())?;
    let page = PageQuery { cursor: q.cursor, limit: q.limit };
    Ok(Json(app.list_orders(scope, page.cursor(), page.limit()?).await?))
}

/// One order, to its buyer, its seller, mediators and admins.
#[utoipa::path(get, path = "/api/v1/orders/{id}", tag = "orders", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = OrderView), (status = 404, body = crate::error::ErrorBody)))]
pub async fn get_order(
    State(app): State<App>,
    Authed(user): Authed,
    Path(id): Path<String>,
) -> AppResult<Json<OrderView>> {
    side(&app, &user, &id).await?;
    Ok(Json(app.order(&id).await.or_not_found("order")?))
}

async fn act(app: &App, user: &User, id: &str, idem: Idem, action: Action) -> AppResult<Response> {
    let side = side(app, user, id).await?;
    let mut tx = app.begin().await?;
    let order = orders::act(app, &mut tx, side, id, action).await?;
    idem.finish(tx, StatusCode::OK, &order).await
}

/// Pays the order from the buyer's wallet into escrow. A short wallet is 409
/// `insufficient_funds`, saying how much is missing.
#[utoipa::path(post, path = "/api/v1/orders/{id}/pay", tag = "orders", security(("bearer" = [])),
    params(("id" = String, Path), crate::openapi::IdempotencyKey),
    responses((status = 200, body = OrderView), (status = 403, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody)))]
pub async fn pay(
    State(app): State<App>,
    Authed(user): Authed,
    Path(id): Path<String>,
    idem: Idem,
) -> AppResult<Response> {
    act(&app, &user, &id, idem, Action::Pay).await
}

/// The buyer confirms receipt: escrow goes to the seller, less commission.
#[utoipa::path(post, path = "/api/v1/orders/{id}/confirm", tag = "orders", security(("bearer" = [])),
    params(("id" = String, Path), crate::openapi::IdempotencyKey),
    responses((status = 200, body = OrderView), (status = 403, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody)))]
pub async fn confirm(
    State(app): State<App>,
    Authed(user): Authed,
    Path(id): Path<String>,
    idem: Idem,
) -> AppResult<Response> {
    act(&app, &user, &id, idem, Action::Confirm).await
}

/// The buyer extends the confirmation window, once.
#[utoipa::path(post, path = "/api/v1/orders/{id}/extend", tag = "orders", security(("bearer" = [])),
    params(("id" = String, Path), crate::openapi::IdempotencyKey),
    responses((status = 200, body = OrderView), (status = 403, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody)))]
pub async fn extend(
    State(app): State<App>,
    Authed(user): Authed,
    Path(id): Path<String>,
    idem: Idem,
) -> AppResult<Response> {
    act(&app, &user, &id, idem, Action::ExtendConfirmation).await
}

/// Cancels before shipping, by the buyer or the seller. A paid order is refunded in full and
/// its units go back on the shelf.
#[utoipa::path(post, path = "/api/v1/orders/{id}/cancel", tag = "orders", security(("bearer" = [])),
    params(("id" = String, Path), crate::openapi::IdempotencyKey),
    responses((status = 200, body = OrderView), (status = 404, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody)))]
pub async fn cancel(
    State(app): State<App>,
    Authed(user): Authed,
    Path(id): Path<String>,
    idem: Idem,
) -> AppResult<Response> {
    let side = side(&app, &user, &id).await?;
    let mut tx = app.begin().await?;
    let order = orders::cancel(&app, &mut tx, side, &id).await?;
    idem.finish(tx, StatusCode::OK, &order).await
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShipInput {
    pub carrier: String,
    pub tracking_number: String,
}

/// The order's seller ships it with a carrier and tracking number; the buyer's confirmation
/// window starts.
#[utoipa::path(post, path = "/api/v1/orders/{id}/ship", tag = "orders", security(("bearer" = [])), request_body = ShipInput,
    params(("id" = String, Path), crate::openapi::IdempotencyKey),
    responses((status = 200, body = OrderView), (status = 403, body = crate::error::ErrorBody),
              (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
pub async fn ship(
    State(app): State<App>,
    Authed(user): Authed,
    Path(id): Path<String>,
    idem: Idem,
    ApiJson(input): ApiJson<ShipInput>,
) -> AppResult<Response> {
    let shipment = Shipment::check(&input.carrier, &input.tracking_number)?;
    let side = side(&app, &user, &id).await?;
    let mut tx = app.begin().await?;
    let order = orders::ship(&app, &mut tx, side, &id, &shipment).await?;
    idem.finish(tx, StatusCode::OK, &order).await
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventQuery {
    /// The `cursor` of the last event seen.
    pub cursor: Option<String>,
    pub limit: Option<usize>,
}

/// The caller's events (`order.paid`, `order.shipped`, ...) in commit order.
#[utoipa::path(get, path = "/api/v1/events", tag = "orders", security(("bearer" = [])), params(EventQuery),
    responses((status = 200, body = Page<EventView>), (status = 422, body = crate::error::ErrorBody)))]
pub async fn events(
    State(app): State<App>,
    Authed(user): Authed,
    ApiQuery(q): ApiQuery<EventQuery>,
) -> AppResult<Json<Page<EventView>>> {
    let cursor = match q.cursor.as_deref().filter(|c| !c.is_empty()) {
        Some(c) => Some(c.parse::<i64>().map_err(|_| {
            AppError::unprocessable("invalid_cursor", "not a cursor from this list").with_field("cursor")
        })?),
        None => None,
    };
    let limit = PageQuery { cursor: None, limit: q.limit }.limit()?;
    Ok(Json(app.events(&user.id, cursor, limit).await?))
}
