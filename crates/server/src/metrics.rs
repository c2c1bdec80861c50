//! `/metrics` in the Prometheus text format (`souk_app::metrics` writes it), readable by admins
//! and by scrapers holding `--metrics-token`; and the route layer that counts requests, labelled
//! by the route's pattern, never a raw path.

use crate::error::{AppError, AppResult};
use crate::App;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderMap};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use souk_app::accounts::token_hash;
use souk_domain::account::Role;
use std::time::Instant;

/// Route layer: counts and times every request that matched a route.
pub async fn track(State(app): State<App>, req: Request, next: Next) -> Response {
    let route = req.extensions().get::<MatchedPath>().map_or("unmatched", MatchedPath::as_str).to_string();
    let method = req.method().as_str().to_string();
    let started = Instant::now();
    let res = next.run(req).await;
    let elapsed = started.elapsed();
    app.metrics.observe_request(&method, &route, res.status().as_u16(), elapsed);
    res
}

/// Admins, and scrapers holding the metrics token. Compares digests, not the secrets, so the
/// time taken says nothing about the token.
async fn allowed(app: &App, headers: &HeaderMap) -> bool {
    let Some(given) =
        headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "))
    else {
        return false;
    };
    let given = given.trim();
    if app.config.metrics_token.as_deref().is_some_and(|t| token_hash(t) == token_hash(given)) {
        return true;
    }
    souk_app::accounts::session_user(app, given).await.is_ok_and(|u| u.roles.contains(&Role::Admin))
}

pub async fn render(State(app): State<App>, headers: HeaderMap) -> AppResult<Response> {
    if !allowed(&app, &headers).await {
        return Err(AppError::unauthenticated());
    }
    let out = souk_app::metrics::text(&app).await?;
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], out).into_response())
}
