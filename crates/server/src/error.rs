//! The one error type of the API. Every handler returns `AppResult`; this module alone decides
//! the HTTP status and the JSON body `{"error": {"code", "message", "field"?}}`.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use souk_domain::Invalid;
use souk_store::StoreError;

#[derive(Debug, Clone)]
pub struct AppError {
    pub status: StatusCode,
    pub code: String,
    pub message: String,
    pub field: Option<String>,
    pub retry_after_s: Option<u64>,
}

pub type AppResult<T> = Result<T, AppError>;

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Stable, machine-readable: `not_found`, `invalid_body`, `out_of_range`, ...
    pub code: String,
    /// For people.
    pub message: String,
    /// The request field at fault, as a dotted path (`skus[0].price.amount`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl AppError {
    pub fn new(status: StatusCode, code: impl Into<String>, message: impl Into<String>) -> Self {
        Self { status, code: code.into(), message: message.into(), field: None, retry_after_s: None }
    }

    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", format!("{what} not found"))
    }

    pub fn unauthenticated() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthenticated", "log in first: send Authorization: Bearer <token>")
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    pub fn bad_request(code: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn unprocessable(code: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
    }

    pub fn conflict(code: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }

    pub fn too_large(limit_bytes: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!("the request body is over {limit_bytes} bytes"),
        )
    }

    pub fn rate_limited(retry_after_s: u64) -> Self {
        let mut e = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!("too many attempts; retry in {retry_after_s} s"),
        );
        e.retry_after_s = Some(retry_after_s);
        e
    }

    /// A failure that is ours, not the client's: logged in full, shown in brief.
    pub fn internal(context: &str, e: impl std::fmt::Display) -> Self {
        tracing::error!(error = %e, "{context}");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "something went wrong on our side; it has been logged")
    }

    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: ErrorDetail { code: self.code.clone(), message: self.message.clone(), field: self.field.clone() },
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let mut res = (self.status, axum::Json(self.body())).into_response();
        if let Some(s) = self.retry_after_s {
            res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        res
    }
}

impl From<Invalid> for AppError {
    fn from(e: Invalid) -> Self {
        let mut err = AppError::unprocessable(e.code, e.message);
        err.field = e.field;
        err
    }
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => AppError::not_found("resource"),
            StoreError::Conflict { kind, message } => AppError::conflict(kind.code(), message),
            StoreError::Invalid(i) => i.into(),
            StoreError::Unavailable(why) => {
                tracing::warn!(why, "the database is unavailable");
                let mut e =
                    AppError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "the server is busy; retry shortly");
                e.retry_after_s = Some(1);
                e
            }
            // Deadlocks and serialization failures (PostgreSQL) and a busy database (SQLite)
            // roll the transaction back whole; the same request can simply be sent again.
            StoreError::Contention(why) => {
                tracing::warn!(why, "transaction lost a race; the client may retry");
                let mut e = AppError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "contention",
                    "the server was busy with a conflicting request; retry",
                );
                e.retry_after_s = Some(1);
                e
            }
            StoreError::Broken(what) => AppError::internal("a rule Souk must keep does not hold", what),
            StoreError::Db(db) => AppError::internal("database error", db),
        }
    }
}

impl From<souk_domain::review::NotReviewable> for AppError {
    fn from(why: souk_domain::review::NotReviewable) -> Self {
        AppError::conflict(why.code(), why.message())
    }
}

/// Maps a store lookup's `NotFound` to a 404 that names the thing.
pub trait OrNotFound<T> {
    fn or_not_found(self, what: &str) -> AppResult<T>;
}

impl<T> OrNotFound<T> for Result<T, StoreError> {
    fn or_not_found(self, what: &str) -> AppResult<T> {
        self.map_err(|e| match e {
            StoreError::NotFound => AppError::not_found(what),
            e => e.into(),
        })
    }
}
