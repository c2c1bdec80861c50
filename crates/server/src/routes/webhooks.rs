//! Webhook endpoints: a user registers URLs for the events addressed to them (a seller: their
//! orders, disputes, messages, quotes); an admin may register a marketplace endpoint that gets
//! every event once. The signing secret is shown once, at creation. Each endpoint has a
//! delivery log with every attempt, and any delivery can be replayed.

use crate::error::{AppError, AppResult, OrNotFound};
use crate::extract::{ApiJson, ApiQuery, Authed};
use crate::idempotency::Idem;
use crate::App;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use serde::{Deserialize, Serialize};
use souk_domain::account::Role;
use souk_domain::id::{self, Kind};
use souk_domain::webhook::parse_patterns;
use souk_domain::Invalid;
use souk_store::webhooks::{DeliveryView, WebhookView};
use souk_store::Page;

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

/// Most live endpoints one user may have.
const MAX_ENDPOINTS: usize = 10;

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
    let url = crate::webhooks::check_url(&input.url, app.config.webhooks_allow_private)?;
    let events = parse_patterns(&input.events)?;
    let description = input.description.trim();
    if description.chars().count() > 200 {
        return Err(Invalid::new("invalid", "description", "at most 200 characters").into());
    }
    if input.marketplace {
        user.require(Role::Admin)?;
    }
    let live = app.store.webhooks(&user.0.id).await?.iter().filter(|w| w.disabled_at.is_none()).count();
    if live >= MAX_ENDPOINTS {
        return Err(AppError::conflict(
            "too_many_webhooks",
            format!("at most {MAX_ENDPOINTS} endpoints; delete one first"),
        ));
    }
    let secret = format!("whsec_{}", souk_app::accounts::random_token());
    let mut tx = app.store.begin().await?;
    let webhook = tx.create_webhook(&user.0.id, &url, description, &events, input.marketplace, &secret).await?;
    idem.finish(tx, StatusCode::CREATED, &CreatedWebhook { webhook, secret }).await
}

/// The caller's endpoints, newest first, deleted ones included.
#[utoipa::path(get, path = "/api/v1/webhooks", tag = "webhooks", security(("bearer" = [])),
    responses((status = 200, body = Vec<WebhookView>)))]
pub async fn webhooks(State(app): State<App>, user: Authed) -> AppResult<Json<Vec<WebhookView>>> {
    Ok(Json(app.store.webhooks(&user.0.id).await?))
}

/// One of the caller's endpoints.
#[utoipa::path(get, path = "/api/v1/webhooks/{id}", tag = "webhooks", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = WebhookView), (status = 404, body = crate::error::ErrorBody)))]
pub async fn webhook(State(app): State<App>, user: Authed, Path(id): Path<String>) -> AppResult<Json<WebhookView>> {
    Ok(Json(own(&app, &user, &id).await?))
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
    own(&app, &user, &id).await?;
    let mut tx = app.store.begin().await?;
    let disabled = tx.disable_webhook(&user.0.id, &id).await.or_not_found("webhook")?;
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
    own(&app, &user, &id).await?;
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
    Ok(Json(app.store.webhook_deliveries(&id, state, cursor, page.limit()?).await?))
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
    own(&app, &user, &id).await?;
    let delivery = delivery.parse::<i64>().map_err(|_| AppError::not_found("delivery"))?;
    Ok(Json(app.store.webhook_delivery(&id, delivery).await?.ok_or_else(|| AppError::not_found("delivery"))?))
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
    let endpoint = own(&app, &user, &id).await?;
    if endpoint.disabled_at.is_some() {
        return Err(AppError::conflict("webhook_deleted", "this endpoint was deleted; nothing is sent to it"));
    }
    let delivery = delivery.parse::<i64>().map_err(|_| AppError::not_found("delivery"))?;
    let mut tx = app.store.begin().await?;
    let replayed = tx.replay_webhook_delivery(&id, delivery).await.or_not_found("delivery")?;
    idem.finish(tx, StatusCode::OK, &replayed).await
}

/// The caller's endpoint `id`; anyone else's is not found.
async fn own(app: &App, user: &Authed, id: &str) -> AppResult<WebhookView> {
    if !id::is_valid(Kind::Webhook, id) {
        return Err(AppError::not_found("webhook"));
    }
    app.store.webhook(&user.0.id, id).await?.ok_or_else(|| AppError::not_found("webhook"))
}
