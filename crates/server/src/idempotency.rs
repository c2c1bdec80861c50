//! `Idempotency-Key` on every mutating request. The key is claimed before the handler runs;
//! handlers that write call [`Idem::finish`], which stores the response in the same transaction
//! as the write. A retry with the same key and body gets the first response back; the same key
//! with another body is 422 `idempotency_mismatch`; a concurrent duplicate waits for the first.
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
use souk_store::idempotency::Claim;
use souk_store::Tx;
use std::convert::Infallible;
use std::time::Duration;

pub const HEADER: &str = "idempotency-key";
pub const REPLAYED_HEADER: &str = "idempotent-replayed";
const MAX_KEY_LEN: usize = 255;

/// The claimed key of the current request, if it has one.
#[derive(Clone, Debug)]
pub struct IdemCtx {
    scope: String,
    key: String,
    hash: String,
}

/// Requests whose handler claims its key in its own transaction: `POST
/// /api/v1/promotions/{id}/buy`, decided in the flash-sale engine's batches.
fn claims_in_batch(parts: &Parts) -> bool {
    let path = parts.uri.path();
    parts.method == Method::POST && path.starts_with("/api/v1/promotions/") && path.ends_with("/buy")
}

/// 422: the key was used with another request.
pub fn mismatch() -> AppError {
    AppError::unprocessable("idempotency_mismatch", "this Idempotency-Key was already used with a different request")
}

/// 409: a request with the key has not finished.
pub fn in_progress() -> AppError {
    AppError::conflict("idempotency_in_progress", "a request with this Idempotency-Key is still running; retry later")
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

    async fn commit(self, mut tx: Tx, status: StatusCode, body: String) -> AppResult<Response> {
        if let Some(ctx) = &self.0 {
            tx.complete_idempotency_key(&ctx.scope, &ctx.key, status.as_u16(), &body).await?;
        }
        tx.commit().await?;
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
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return Ok(next.run(req).await);
    }
    let Some(key) = req.headers().get(HEADER) else { return Ok(next.run(req).await) };
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
    let (mut parts, body) = req.into_parts();
    // Keys are per user; a request whose token is bad will be refused by its handler anyway.
    // (`authenticate` keeps the user for the handler's `Authed`: one look-up per request.)
    let scope = match crate::extract::authenticate(&mut parts, &app).await {
        Ok(Some(user)) => user.id,
        Ok(None) => "anonymous".to_string(),
        Err(_) => return Ok(next.run(Request::from_parts(parts, body)).await),
    };
    let bytes =
        crate::extract::read_body(body, crate::IMPORT_BODY_LIMIT_BYTES).await.map_err(IntoResponse::into_response)?;
    let hash = request_hash(&parts, &bytes);
    if claims_in_batch(&parts) {
        let mut req = Request::from_parts(parts, Body::from(bytes));
        req.extensions_mut().insert(IdemCtx { scope, key, hash });
        return Ok(next.run(req).await);
    }

    let waited_since = std::time::Instant::now();
    loop {
        let claim = app
            .store
            .claim_idempotency_key(&scope, &key, &hash)
            .await
            .map_err(|e| AppError::from(e).into_response())?;
        match claim {
            Claim::Started => break,
            Claim::Replay { status, body } => return Ok(Idem::replayed(status, body)),
            Claim::Mismatch => return Err(mismatch().into_response()),
            Claim::InFlight { started_at } => {
                // A claim older than the request timeout belongs to a request that died without
                // committing (a committed one would be done), so it is safe to run again.
                let stale = app.store.now_ms() - started_at > app.config.request_timeout.as_millis() as i64 + 1000;
                if stale && app.store.take_over_idempotency_key(&scope, &key, started_at).await.unwrap_or(false) {
                    break;
                }
                if waited_since.elapsed() > app.config.request_timeout {
                    return Err(in_progress().into_response());
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }

    let mut req = Request::from_parts(parts, Body::from(bytes));
    req.extensions_mut().insert(IdemCtx { scope: scope.clone(), key: key.clone(), hash });
    let res = next.run(req).await;
    if res.extensions().get::<Recorded>().is_some() {
        return Ok(res);
    }
    if !res.status().is_success() {
        // Errors roll back their transaction; forgetting the key lets a corrected retry run.
        if let Err(e) = app.store.release_idempotency_key(&scope, &key).await {
            tracing::warn!(error = %e, "could not release an idempotency key");
        }
        return Ok(res);
    }
    // A success that wrote nothing of its own: record it now.
    let (parts, body) = res.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .map_err(|e| AppError::internal("buffering a response", e).into_response())?;
    let text = String::from_utf8_lossy(&bytes).into_owned();
    if let Err(e) = app.store.complete_idempotency_key(&scope, &key, parts.status.as_u16(), &text).await {
        tracing::warn!(error = %e, "could not record an idempotent response");
    }
    Ok(Response::from_parts(parts, Body::from(bytes)))
}

fn request_hash(parts: &Parts, body: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(parts.method.as_str().as_bytes());
    h.update(b" ");
    h.update(parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("").as_bytes());
    h.update(b"\n");
    h.update(body);
    crate::extract::hex(&h.finalize())
}
