//! Webhook endpoints: a user registers URLs for the events addressed to them (a seller: their
//! orders, disputes, messages, quotes); an admin may register a marketplace endpoint that gets
//! every event once. The signing secret is shown once, at creation. Each endpoint has a
//! delivery log with every attempt, and any delivery can be replayed.

use crate::error::{AppError, AppResult};
use crate::extract::{ApiJson, ApiQuery, Authed};
use crate::idempotency::Idem;
use crate::App;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use serde::{Deserialize, Serialize};
use souk_app::views::Page;
use souk_app::views::{DeliveryView, WebhookView};
use souk_app::webhooks;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewWebhook {
    /// Where deliveries are POSTed: http or https.
    pub url: String,
    /// Event types (`order.paid`), families (`order.*`) or `*`.
    pub events: Vec<String>,
    #[serde(default)]
    pub description: String,
    /// Every event of the marketplace, once each (admins only); otherwise the events addressed
    /// to the caller.
    #[serde(default)]
    pub marketplace: bool,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct CreatedWebhook {
    pub webhook: WebhookView,
    /// The signing secret, shown this once: check `Souk-Signature` with it.
    pub secret: String,
}

/// Registers an endpoint.
#[utoipa::path(post, path = "/api/v1/webhooks", tag = "webhooks", security(("bearer" = [])), request_body = NewWebhook,
    params(crate::openapi::IdempotencyKey),
    responses((status = 201, body = CreatedWebhook), (status = 403, body = crate::error::ErrorBody),
              (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
pub async fn create_webhook(
    State(app): State<App>,
    user: Authed,
    idem: Idem,
    ApiJson(input): ApiJson<NewWebhook>,
) -> AppResult<Response> {
    let new = webhooks::NewEndpoint {
        url: &input.url,
        events: &input.events,
        description: &input.description,
        marketplace: input.marketplace,
    };
    let mut tx = app.begin().await?;
    let (webhook, secret) = webhooks::create(&app, &mut tx, &user.0, &new).await?;
    idem.finish(tx, StatusCode::CREATED, &CreatedWebhook { webhook, secret }).await
}

/// The caller's endpoints, newest first, deleted ones included.
#[utoipa::path(get, path = "/api/v1/webhooks", tag = "webhooks", security(("bearer" = [])),
    responses((status = 200, body = Vec<WebhookView>)))]
pub async fn webhooks(State(app): State<App>, user: Authed) -> AppResult<Json<Vec<WebhookView>>> {
    Ok(Json(app.webhooks(&user.0.id).await?))
}

/// One of the caller's endpoints.
#[utoipa::path(get, path = "/api/v1/webhooks/{id}", tag = "webhooks", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = WebhookView), (status = 404, body = crate::error::ErrorBody)))]
pub async fn webhook(State(app): State<App>, user: Authed, Path(id): Path<String>) -> AppResult<Json<WebhookView>> {
    Ok(Json(webhooks::own(&app, &user.0, &id).await?))
}

/// Deletes an endpoint: nothing more is sent to it; its delivery log stays readable.
#[utoipa::path(delete, path = "/api/v1/webhooks/{id}", tag = "webhooks", security(("bearer" = [])),
    params(("id" = String, Path), crate::openapi::IdempotencyKey),
    responses((status = 200, body = WebhookView), (status = 404, body = crate::error::ErrorBody)))]
pub async fn delete_webhook(
    State(app): State<App>,
    user: Authed,
    Path(id): Path<String>,
    idem: Idem,
) -> AppResult<Response> {
    let mut tx = app.begin().await?;
    let disabled = webhooks::disable(&app, &mut tx, &user.0, &id).await?;
    idem.finish(tx, StatusCode::OK, &disabled).await
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DeliveryQuery {
    /// Only `pending`, `delivered` or `failed` deliveries.
    pub state: Option<String>,
    pub cursor: Option<String>,
    pub limit: Option<usize>,
}

/// An endpoint's delivery log, newest first.
#[utoipa::path(get, path = "/api/v1/webhooks/{id}/deliveries", tag = "webhooks", security(("bearer" = [])),
    params(("id" = String, Path), DeliveryQuery),
    responses((status = 200, body = Page<DeliveryView>), (status = 404, body = crate::error::ErrorBody),
              (status = 422, body = crate::error::ErrorBody)))]
pub async fn deliveries(
    State(app): State<App>,
    user: Authed,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<DeliveryQuery>,
) -> AppResult<Json<Page<DeliveryView>>> {
    webhooks::own(&app, &user.0, &id).await?;
    let state = q.state.as_deref().filter(|s| !s.is_empty());
    if state.is_some_and(|s| !["pending", "delivered", "failed"].contains(&s)) {
        return Err(AppError::unprocessable("invalid", "state is pending, delivered or failed").with_field("state"));
    }
    let cursor = match q.cursor.as_deref().filter(|c| !c.is_empty()) {
        None => None,
        Some(c) => Some(
            c.parse::<i64>()
                .map_err(|_| AppError::unprocessable("invalid", "not a cursor from this list").with_field("cursor"))?,
        ),
    };
    let page = crate::extract::PageQuery { cursor: None, limit: q.limit };
    Ok(Json(app.webhook_deliveries(&id, state, cursor, page.limit()?).await?))
}

/// One delivery with every attempt: when, the receiver's status and the start of its answer.
#[utoipa::path(get, path = "/api/v1/webhooks/{id}/deliveries/{delivery}", tag = "webhooks", security(("bearer" = [])),
    params(("id" = String, Path), ("delivery" = i64, Path)),
    responses((status = 200, body = DeliveryView), (status = 404, body = crate::error::ErrorBody)))]
pub async fn delivery(
    State(app): State<App>,
    user: Authed,
    Path((id, delivery)): Path<(String, String)>,
) -> AppResult<Json<DeliveryView>> {
    webhooks::own(&app, &user.0, &id).await?;
    let delivery = delivery.parse::<i64>().map_err(|_| AppError::not_found("delivery"))?;
    Ok(Json(app.webhook_delivery(&id, delivery).await?.ok_or_else(|| AppError::not_found("delivery"))?))
}

/// Sends a delivery again, with the same event id, and a fresh three days of retries; later
/// events about the same order wait for it.
#[utoipa::path(post, path = "/api/v1/webhooks/{id}/deliveries/{delivery}/replay", tag = "webhooks",
    security(("bearer" = [])), params(("id" = String, Path), ("delivery" = i64, Path), crate::openapi::IdempotencyKey),
    responses((status = 200, body = DeliveryView), (status = 404, body = crate::error::ErrorBody),
              (status = 409, body = crate::error::ErrorBody)))]
pub async fn replay(
    State(app): State<App>,
    user: Authed,
    Path((id, delivery)): Path<(String, String)>,
    idem: Idem,
) -> AppResult<Response> {
    let mut tx = app.begin().await?;
    let replayed = webhooks::replay(&app, &mut tx, &user.0, &id, &delivery).await?;
    idem.finish(tx, StatusCode::OK, &replayed).await
}
