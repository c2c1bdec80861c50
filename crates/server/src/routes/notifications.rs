//! In-app notifications: the caller's events as sentences (`domain::notify`), newest first,
//! with an unread count and a read marker. The live socket (`/api/v1/ws`) delivers the same
//! events as they happen.

use crate::error::AppResult;
use crate::extract::{ApiJson, ApiQuery, Authed};
use crate::idempotency::Idem;
use crate::web::i18n::Lang;
use crate::App;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use serde::{Deserialize, Serialize};
use souk_domain::time::Timestamp;

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct NotificationQuery {
    /// The `next_cursor` of the previous page.
    pub cursor: Option<i64>,
    /// 1 to 100, default 20.
    pub limit: Option<usize>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Notification {
    /// The event's position in the caller's feed (`/api/v1/events` uses the same).
    pub seq: i64,
    /// The event's type, e.g. `order.paid`.
    #[serde(rename = "type")]
    pub kind: String,
    pub text: String,
    pub order_id: Option<String>,
    pub created_at: Timestamp,
    pub read: bool,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Notifications {
    pub items: Vec<Notification>,
    pub next_cursor: Option<i64>,
    pub unread: i64,
}

/// The caller's notifications, newest first, with the unread count; in Chinese when
/// `Accept-Language` prefers it, or without that header, when the account chose Chinese.
#[utoipa::path(get, path = "/api/v1/notifications", tag = "accounts", security(("bearer" = [])),
    params(NotificationQuery), responses((status = 200, body = Notifications)))]
pub async fn notifications(
    State(app): State<App>,
    Authed(user): Authed,
    headers: axum::http::HeaderMap,
    ApiQuery(q): ApiQuery<NotificationQuery>,
) -> AppResult<Json<Notifications>> {
    let chosen = user.locale.as_deref().and_then(Lang::parse).unwrap_or(Lang::En);
    let lang = headers
        .get(axum::http::header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .map_or(chosen, Lang::from_accept_language);
    let limit = crate::extract::PageQuery { cursor: None, limit: q.limit }.limit()?;
    let rows = app.notifications(&user.id, q.cursor.filter(|c| *c > 0), limit).await?;
    let next_cursor = if rows.len() == limit { rows.last().map(|r| r.seq) } else { None };
    let items = rows
        .into_iter()
        .filter_map(|r| {
            let text = lang.notification(&r.kind, r.side, &app.config.policy)?;
            Some(Notification {
                seq: r.seq,
                kind: r.kind,
                text,
                order_id: r.order_id,
                created_at: r.created_at,
                read: r.read,
            })
        })
        .collect();
    let unread = app.unread_notifications(&user.id).await?;
    Ok(Json(Notifications { items, next_cursor, unread }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MarkRead {
    /// Everything up to this `seq` is read; omitted: everything.
    #[schema(minimum = 0)]
    pub up_to: Option<i64>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Unread {
    pub unread: i64,
}

/// Marks notifications read (never un-reads), and answers the new unread count.
#[utoipa::path(post, path = "/api/v1/notifications/read", tag = "accounts", security(("bearer" = [])),
    request_body = MarkRead, params(crate::openapi::IdempotencyKey), responses((status = 200, body = Unread)))]
pub async fn mark_read(
    State(app): State<App>,
    Authed(user): Authed,
    idem: Idem,
    ApiJson(input): ApiJson<MarkRead>,
) -> AppResult<Response> {
    let mut tx = app.begin().await?;
    let unread = souk_app::notifications::mark_read(&mut tx, &user.id, input.up_to).await?;
    idem.finish(tx, StatusCode::OK, &Unread { unread }).await
}
