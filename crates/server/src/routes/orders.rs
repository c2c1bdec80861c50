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
use serde::{Deserialize, Serialize};
use souk_app::access::{owned_store, side, Side};
use souk_domain::checkout::Item;
use souk_domain::geo::parse_country;
use souk_domain::order::{Action, OrderView};
use souk_store::accounts::User;
use souk_store::orders::{CartLine, EventView, OrderScope};
use souk_store::Page;

/// The caller's cart with current prices (tier prices applied) and availability.
#[utoipa::path(get, path = "/api/v1/cart", tag = "orders", security(("bearer" = [])),
    responses((status = 200, body = Vec<CartLine>), (status = 401, body = crate::error::ErrorBody)))]
pub async fn cart(State(app): State<App>, Authed(user): Authed) -> AppResult<Json<Vec<CartLine>>> {
    Ok(Json(app.store.cart(&user.id).await?))
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
    let mut tx = app.store.begin().await?;
    tx.set_cart_item(&user.id, &sku_id, input.quantity).await?;
    let cart = tx.cart(&user.id).await?;
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

#[derive(Serialize, utoipa::ToSchema)]
pub struct CheckoutResult {
    pub checkout_id: String,
    /// One order per store, each `pending_payment` with its stock reserved.
    pub orders: Vec<OrderView>,
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
    let country = parse_country(&input.ship_to, "ship_to")?;
    let mut tx = app.store.begin().await?;
    let items = match input.items {
        Some(items) => items,
        None => tx.cart_items(&user.id).await?,
    };
    let (checkout_id, orders) = tx.checkout(&user.id, &country, &items, &app.config.policy).await?;
    idem.finish(tx, StatusCode::CREATED, &CheckoutResult { checkout_id, orders }).await
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
    let page = app.store.list_orders(OrderScope::Checkout(&id), None, 100).await?;
    if page.items.is_empty() || page.items.iter().any(|o| o.buyer_id != user.id) {
        return Err(AppError::not_found("checkout"));
    }
    let unpaid: Vec<&OrderView> =
        page.items.iter().filter(|o| o.state == souk_domain::order::OrderState::PendingPayment).collect();
    if unpaid.is_empty() {
        return Err(AppError::conflict("invalid_state", "every order of this checkout is already paid or cancelled"));
    }
    let mut tx = app.store.begin().await?;
    let mut orders = Vec::new();
    for o in unpaid {
        orders.push(tx.act(&o.id, Action::Pay, &app.config.policy).await?);
    }
    idem.finish(tx, StatusCode::OK, &CheckoutResult { checkout_id: id, orders }).await
}

/// The caller's purchases, newest first.
#[utoipa::path(get, path = "/api/v1/orders", tag = "orders", security(("bearer" = [])), params(PageQuery),
    responses((status = 200, body = Page<OrderView>)))]
pub async fn my_orders(
    State(app): State<App>,
    Authed(user): Authed,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> AppResult<Json<Page<OrderView>>> {
    Ok(Json(app.store.list_orders(OrderScope::Buyer(&user.id), page.cursor(), page.limit()?).await?))
}

/// A store's orders, newest first (its owner).
#[utoipa::path(get, path = "/api/v1/stores/{store}/orders", tag = "orders", security(("bearer" = [])),
    params(("store" = String, Path, description = "id or slug"), PageQuery),
    responses((status = 200, body = Page<OrderView>), (status = 403, body = crate::error::ErrorBody)))]
pub async fn store_orders(
    State(app): State<App>,
    Authed(user): Authed,
    Path(store_ref): Path<String>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> AppResult<Json<Page<OrderView>>> {
    let store = owned_store(&app, &user, &store_ref).await?;
    Ok(Json(app.store.list_orders(OrderScope::Store(&store.id), page.cursor(), page.limit()?).await?))
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
    Ok(Json(app.store.order(&id).await.or_not_found("order")?))
}

async fn act(app: &App, user: &User, id: &str, idem: Idem, allowed: Side, action: Action) -> AppResult<Response> {
    if side(app, user, id).await? != allowed {
        let who = if allowed == Side::Buyer { "buyer" } else { "seller" };
        return Err(AppError::forbidden(format!("only the order's {who} may do this")));
    }
    let mut tx = app.store.begin().await?;
    let order = tx.act(id, action, &app.config.policy).await?;
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
    act(&app, &user, &id, idem, Side::Buyer, Action::Pay).await
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
    act(&app, &user, &id, idem, Side::Buyer, Action::Confirm).await
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
    act(&app, &user, &id, idem, Side::Buyer, Action::ExtendConfirmation).await
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
    match side(&app, &user, &id).await? {
        Side::Buyer => act(&app, &user, &id, idem, Side::Buyer, Action::BuyerCancel).await,
        Side::Seller => act(&app, &user, &id, idem, Side::Seller, Action::SellerCancel).await,
        Side::Staff => Err(AppError::forbidden("only the buyer or the seller may cancel; disputes go to mediation")),
    }
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
    let carrier = souk_domain::shipping::normalize_carrier(&input.carrier)?;
    let tracking = souk_domain::shipping::tracking_number(&carrier, &input.tracking_number)?;
    let (carrier, tracking) = (carrier.as_str(), tracking.as_str());
    if side(&app, &user, &id).await? != Side::Seller {
        return Err(AppError::forbidden("only the order's seller may ship it"));
    }
    let mut tx = app.store.begin().await?;
    tx.act(&id, Action::Ship, &app.config.policy).await?;
    tx.set_tracking(&id, carrier, tracking).await?;
    let order = tx.order(&id).await?;
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
    Ok(Json(app.store.events(&user.id, cursor, limit).await?))
}
