//! `Idempotency-Key` on every mutating request. The request is routed and its caller
//! authenticated first; then the key is claimed before the handler runs, and handlers that write
//! call [`Idem::finish`], which stores the response in the same transaction as the write. A
//! retry with the same key and body gets the first response back; the same key with another
//! body is 422 `idempotency_mismatch`; a concurrent duplicate waits for the first, for a bounded
//! time, then gets 409 `idempotency_in_progress`. A claim whose process died is taken over at
//! once.
//!
//! Which answers are the key's for good follows Stripe's rule: once a request has begun
//! executing, its answer, success or refusal, is the key's answer. Requests refused before they
//! ran (malformed, invalid, unauthenticated, rate-limited) and failures on our side (5xx, rolled
//! back) leave the key free, so a corrected retry runs.
//!
//! Flash-sale buys claim their keys inside the order engine's batch instead (one write for a
//! thousand requests, not one each): the layer only hands them the key and the request's hash.

use crate::error::{AppError, AppResult};
use crate::App;
use axum::body::Body;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use sha2::{Digest, Sha256};
use souk_app::error::{idempotency_in_progress, idempotency_mismatch};
use souk_app::idempotency::{Claimed, KeyClaim};
use souk_app::Tx;
use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::OnceLock;
use std::time::Duration;

pub const HEADER: &str = "idempotency-key";
pub const REPLAYED_HEADER: &str = "idempotent-replayed";
const MAX_KEY_LEN: usize = 255;
/// Longest a request waits for a twin with the same key that is still running.
const TWIN_WAIT_MAX: Duration = Duration::from_secs(10);

/// The claimed key of the current request, if it has one.
#[derive(Clone, Debug)]
pub struct IdemCtx {
    scope: String,
    key: String,
    hash: String,
    /// The claim's token (empty for keys claimed inside the flash-sale engine's batch).
    token: String,
}

/// Requests whose handler claims its key in its own transaction: `POST
/// /api/v1/promotions/{id}/buy`, decided in the flash-sale engine's batches.
fn claims_in_batch(parts: &Parts) -> bool {
    let path = parts.uri.path();
    parts.method == Method::POST && path.starts_with("/api/v1/promotions/") && path.ends_with("/buy")
}

/// Marks a response whose idempotency record was written with the handler's transaction.
#[derive(Clone, Copy)]
struct Recorded;

/// Handler side of idempotency: commits the transaction together with the response.
pub struct Idem(Option<IdemCtx>);

impl<S: Send + Sync> FromRequestParts<S> for Idem {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Infallible> {
        Ok(Idem(parts.extensions.get::<IdemCtx>().cloned()))
    }
}

impl Idem {
    /// True when the request carried an `Idempotency-Key`.
    pub fn has_key(&self) -> bool {
        self.0.is_some()
    }

    /// The key as (scope, key, request hash), for writers that claim and complete it in their
    /// own transaction (the flash-sale engine's batches); their answer then goes out through
    /// [`Idem::recorded`] or [`Idem::replayed`].
    pub fn claim(&self) -> Option<(String, String, String)> {
        self.0.as_ref().map(|c| (c.scope.clone(), c.key.clone(), c.hash.clone()))
    }

    /// The first answer to an earlier request with the same key.
    pub fn replayed(status: u16, body: String) -> Response {
        let mut res = stored_response(status, body);
        res.headers_mut().insert(REPLAYED_HEADER, HeaderValue::from_static("true"));
        res
    }

    /// A response whose idempotency record its writer already committed.
    pub fn recorded<T: Serialize>(status: StatusCode, value: &T) -> AppResult<Response> {
        let body = serde_json::to_string(value).map_err(|e| AppError::internal("serialising a response", e))?;
        let mut res = stored_response(status.as_u16(), body);
        res.extensions_mut().insert(Recorded);
        Ok(res)
    }

    /// Records `value` as the response (if the request has a key) and commits `tx`.
    pub async fn finish<T: Serialize>(self, tx: Tx, status: StatusCode, value: &T) -> AppResult<Response> {
        let body = serde_json::to_string(value).map_err(|e| AppError::internal("serialising a response", e))?;
        self.commit(tx, status, body).await
    }

    /// As [`Idem::finish`], for responses without a body (204).
    pub async fn finish_empty(self, tx: Tx) -> AppResult<Response> {
        self.commit(tx, StatusCode::NO_CONTENT, String::new()).await
    }

    async fn commit(self, tx: Tx, status: StatusCode, body: String) -> AppResult<Response> {
        match &self.0 {
            Some(c) => souk_app::idempotency::finish(tx, &c.scope, &c.key, &c.token, status.as_u16(), &body).await?,
            None => souk_app::commit(tx).await?,
        }
        let mut res = stored_response(status.as_u16(), body);
        res.extensions_mut().insert(Recorded);
        Ok(res)
    }
}

fn stored_response(status: u16, body: String) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    if body.is_empty() {
        return status.into_response();
    }
    let mut res = (status, body).into_response();
    res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    res
}

/// The middleware. Requests without the header, and reads, pass straight through.
pub async fn layer(State(app): State<App>, req: Request, next: Next) -> Response {
    match run(app, req, next).await {
        Ok(res) | Err(res) => res,
    }
}

async fn run(app: App, req: Request, next: Next) -> Result<Response, Response> {
    if !matches!(*req.method(), Method::POST | Method::PUT | Method::PATCH | Method::DELETE) {
        return Ok(next.run(req).await);
    }
    let Some(key) = req.headers().get(HEADER).cloned() else { return Ok(next.run(req).await) };
    let (mut parts, body) = req.into_parts();
    // A method the route does not serve is its 405, whatever the key.
    let Some(secured) = route_security(&parts) else { return Ok(next.run(Request::from_parts(parts, body)).await) };
    // Who asks comes first: keys are per user, and a caller who is not who they say, or who
    // must log in, is told so whatever the key. (`authenticate` keeps the user for the
    // handler's `Authed`: one look-up per request.)
    let scope = match crate::extract::authenticate(&mut parts, &app).await {
        Ok(Some(user)) => user.id,
        Ok(None) if secured => return Err(AppError::unauthenticated().into_response()),
        Ok(None) => "anonymous".to_string(),
        Err(e) => return Err(e.into_response()),
    };
    let key = key
        .to_str()
        .ok()
        .filter(|k| !k.is_empty() && k.len() <= MAX_KEY_LEN && k.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_string)
        .ok_or_else(|| {
            AppError::bad_request(
                "invalid_idempotency_key",
                "Idempotency-Key must be 1 to 255 visible ASCII characters",
            )
            .into_response()
        })?;
    let bytes =
        crate::extract::read_body(body, crate::IMPORT_BODY_LIMIT_BYTES).await.map_err(IntoResponse::into_response)?;
    let hash = request_hash(&parts, &bytes);
    if claims_in_batch(&parts) {
        let mut req = Request::from_parts(parts, Body::from(bytes));
        req.extensions_mut().insert(IdemCtx { scope, key, hash, token: String::new() });
        return Ok(next.run(req).await);
    }

    let claim = claim(&app, &scope, &key, &hash).await?;
    let mut req = Request::from_parts(parts, Body::from(bytes));
    req.extensions_mut().insert(IdemCtx { scope, key, hash, token: claim.token.clone() });
    let res = next.run(req).await;
    if res.extensions().get::<Recorded>().is_some() {
        claim.settle();
        return Ok(res);
    }
    if !answers_for_good(res.status()) {
        // Nothing of it happened (its transaction rolled back): a corrected retry may run.
        if let Err(e) = claim.release().await {
            tracing::warn!(error = %e, "could not release an idempotency key");
        }
        return Ok(res);
    }
    // A success that wrote nothing of its own, or a refusal after the request began: the
    // key's answer from now on.
    let (parts, body) = res.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .map_err(|e| AppError::internal("buffering a response", e).into_response())?;
    let text = String::from_utf8_lossy(&bytes).into_owned();
    if let Err(e) = claim.complete(parts.status.as_u16(), &text).await {
        tracing::warn!(error = %e, "could not record an idempotent response");
    }
    Ok(Response::from_parts(parts, Body::from(bytes)))
}

/// Claims the key, replaying a finished request's answer, taking over a claim whose request
/// is gone (its process died, or it was cancelled), and waiting a bounded time for a twin that
/// still runs.
async fn claim(app: &App, scope: &str, key: &str, hash: &str) -> Result<KeyClaim, Response> {
    let wait = TWIN_WAIT_MAX.min(app.config.request_timeout / 2);
    let waited_since = std::time::Instant::now();
    loop {
        match souk_app::idempotency::claim(app, scope, key, hash)
            .await
            .map_err(|e| AppError::from(e).into_response())?
        {
            Claimed::Run(claim) => return Ok(claim),
            Claimed::Replay { status, body } => return Err(Idem::replayed(status, body)),
            Claimed::Mismatch => return Err(AppError::from(idempotency_mismatch()).into_response()),
            Claimed::Busy if waited_since.elapsed() >= wait => {
                return Err(AppError::from(idempotency_in_progress()).into_response())
            }
            Claimed::Busy => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}

/// Whether an answer is the key's for good: a success, or a refusal of a request that had begun
/// executing (it was let in and its input was valid, but what it asked for could not be done:
/// 402, 403, 404, 409, 410). Everything else leaves the key free: refusals before the request
/// ran (400, 401, 405, 413, 415, 422, 429) and failures on our side (5xx).
fn answers_for_good(status: StatusCode) -> bool {
    status.is_success() || matches!(status.as_u16(), 402 | 403 | 404 | 409 | 410)
}

/// Whether the route needs a logged-in caller, as its OpenAPI operation says; `None` when the
/// API path has no operation for this method (the router answers 405). Pages are not in the
/// document: they say themselves whom they serve.
fn route_security(parts: &Parts) -> Option<bool> {
    type Operations = HashMap<String, HashMap<&'static str, bool>>;
    static OPERATIONS: OnceLock<Operations> = OnceLock::new();
    let Some(path) = parts.extensions.get::<axum::extract::MatchedPath>() else { return Some(false) };
    let operations = OPERATIONS.get_or_init(|| {
        let mut all = Operations::new();
        for (path, item) in &crate::openapi::document().paths.paths {
            for (method, op) in crate::openapi::operations(item) {
                let secured = op.security.as_ref().is_some_and(|s| !s.is_empty());
                all.entry(path.clone()).or_default().insert(method, secured);
            }
        }
        all
    });
    match operations.get(path.as_str()) {
        Some(methods) => methods.get(parts.method.as_str()).copied(),
        None => Some(false),
    }
}

fn request_hash(parts: &Parts, body: &[u8]) -> String {
    hash_request(parts.method.as_str(), parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or(""), body)
}

/// What makes two requests the same request: method, path with query, and body.
pub fn hash_request(method: &str, path_and_query: &str, body: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(method.as_bytes());
    h.update(b" ");
    h.update(path_and_query.as_bytes());
    h.update(b"\n");
    h.update(body);
    souk_app::accounts::hex(&h.finalize())
}
