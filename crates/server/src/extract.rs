//! Request extractors that answer bad input with the API's JSON errors: bodies, the current
//! user, pagination.

use crate::error::{AppError, AppResult};
use crate::App;
use axum::extract::{FromRequest, FromRequestParts, Request};

use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use souk_app::views::User;
use souk_domain::account::Role;

/// A JSON body. Unlike `axum::Json`, every rejection is a JSON error naming the field at fault.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> AppResult<Self> {
        let is_json =
            req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|ct| {
                ct.split(';').next().is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
            });
        if !is_json {
            return Err(AppError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the body as JSON with Content-Type: application/json",
            ));
        }
        let _ = state;
        let bytes = read_body(req.into_body(), crate::JSON_BODY_LIMIT_BYTES).await?;
        Ok(ApiJson(souk_app::error::parse_json(&bytes)?))
    }
}

/// Most a refused body is read and discarded before the 413 goes out. Answering while the
/// client is still sending makes many clients see a broken pipe instead of the answer, so, like
/// a web server's lingering close, the rest is drained first, within bounds.
const DRAIN_LIMIT_BYTES: usize = 64 * 1024 * 1024;
const DRAIN_TIME: std::time::Duration = std::time::Duration::from_secs(5);

/// Reads a body of at most `limit` bytes; a larger one is a 413.
pub async fn read_body(body: axum::body::Body, limit: usize) -> AppResult<bytes::Bytes> {
    use http_body_util::BodyExt;
    let mut body = body;
    let mut buf = bytes::BytesMut::new();
    while let Some(frame) = body.frame().await {
        let frame =
            frame.map_err(|e| AppError::bad_request("invalid_body", format!("could not read the body: {e}")))?;
        let Ok(data) = frame.into_data() else { continue };
        if buf.len() + data.len() > limit {
            let mut drained = buf.len() + data.len();
            let _ = tokio::time::timeout(DRAIN_TIME, async {
                while drained < DRAIN_LIMIT_BYTES {
                    match body.frame().await {
                        Some(Ok(f)) => drained += f.data_ref().map_or(0, |d| d.len()),
                        _ => break,
                    }
                }
            })
            .await;
            return Err(AppError::too_large(limit));
        }
        buf.extend_from_slice(&data);
    }
    Ok(buf.freeze())
}

/// The bearer token of a request, if any.
pub fn bearer_token(parts: &Parts) -> Option<&str> {
    bearer_token_of(&parts.headers)
}

pub fn bearer_token_of(headers: &axum::http::HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim)
        .filter(|t| !t.is_empty() && t.len() <= 256)
}

/// The logged-in user; 401 when the request has no valid session.
pub struct Authed(pub User);

impl Authed {
    pub fn require(&self, role: Role) -> AppResult<()> {
        if self.0.has(role) {
            Ok(())
        } else {
            Err(AppError::forbidden(format!("this needs the {} role", role.as_str())))
        }
    }
}

impl FromRequestParts<App> for Authed {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> AppResult<Self> {
        MaybeAuthed::from_request_parts(parts, app).await?.0.map(Authed).ok_or_else(AppError::unauthenticated)
    }
}

/// The logged-in user if there is one. A token that is present but wrong is still a 401:
/// silently treating it as anonymous would hide the client's bug.
pub struct MaybeAuthed(pub Option<User>);

impl FromRequestParts<App> for MaybeAuthed {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> AppResult<Self> {
        authenticate(parts, app).await.map(MaybeAuthed)
    }
}

/// Refuses an API request whose bearer token is present but wrong, on every route alike (a
/// route open to anyone included): treating it as anonymous would hide the client's bug. The
/// user found is kept for the handler, so this costs no second look-up.
pub async fn refuse_bad_tokens(
    axum::extract::State(app): axum::extract::State<App>,
    req: Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    if !req.uri().path().starts_with("/api/") || bearer_token_of(req.headers()).is_none() {
        return next.run(req).await;
    }
    let (mut parts, body) = req.into_parts();
    match authenticate(&mut parts, &app).await {
        Ok(_) => next.run(Request::from_parts(parts, body)).await,
        Err(e) => e.into_response(),
    }
}

/// Who the bearer token says the caller is: a session's user, or an API key's owner when the
/// key's scopes cover this method and path (403 `insufficient_scope` when they do not). The
/// user is kept in the request's extensions, so the look-up happens once per request.
pub async fn authenticate(parts: &mut Parts, app: &App) -> AppResult<Option<User>> {
    if let Some(user) = parts.extensions.get::<User>() {
        return Ok(Some(user.clone()));
    }
    let Some(token) = bearer_token(parts) else { return Ok(None) };
    let user = if token.starts_with(souk_app::api_keys::API_KEY_PREFIX) {
        souk_app::accounts::api_key_user(app, token, parts.method.as_str(), parts.uri.path()).await?
    } else {
        souk_app::accounts::session_user(app, token).await?
    };
    parts.extensions.insert(user.clone());
    Ok(Some(user))
}

pub const DEFAULT_PAGE_SIZE: usize = 20;
pub const MAX_PAGE_SIZE: usize = 100;

/// `?cursor=&limit=`; `limit` defaults to 20 and is capped at 100.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Opaque cursor from the previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// Items per page, 1 to 100.
    pub limit: Option<usize>,
}

impl PageQuery {
    pub fn limit(&self) -> AppResult<usize> {
        match self.limit {
            None => Ok(DEFAULT_PAGE_SIZE),
            Some(0) => Err(AppError::unprocessable("out_of_range", "limit must be at least 1").with_field("limit")),
            Some(n) => Ok(n.min(MAX_PAGE_SIZE)),
        }
    }

    pub fn cursor(&self) -> Option<&str> {
        self.cursor.as_deref().filter(|c| !c.is_empty() && c.len() <= 64)
    }
}

/// A query string whose bad values are JSON errors too.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> AppResult<Self> {
        axum::extract::Query::<T>::try_from_uri(&parts.uri)
            .map(|q| ApiQuery(q.0))
            .map_err(|e| AppError::unprocessable("invalid_query", e.body_text()))
    }
}
