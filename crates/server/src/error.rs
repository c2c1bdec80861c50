//! The one error type of the API. Every handler returns `AppResult`; this module alone decides
//! the HTTP status (from the application error's kind) and the JSON body
//! `{"error": {"code", "message", "field"?}}`.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
pub use souk_app::error::OrNotFound;
use souk_app::error::{Error, ErrorKind};
use souk_domain::Invalid;

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
        Error::not_found(what).into()
    }

    pub fn unauthenticated() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthenticated", "log in first: send Authorization: Bearer <token>")
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Error::forbidden(message).into()
    }

    pub fn bad_request(code: &str, message: impl Into<String>) -> Self {
        Error::bad_request(code, message).into()
    }

    pub fn unprocessable(code: &str, message: impl Into<String>) -> Self {
        Error::invalid(code, message).into()
    }

    pub fn conflict(code: &str, message: impl Into<String>) -> Self {
        Error::conflict(code, message).into()
    }

    pub fn too_large(limit_bytes: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!("the request body is over {limit_bytes} bytes"),
        )
    }

    pub fn rate_limited(retry_after_s: u64) -> Self {
        Error::rate_limited(retry_after_s).into()
    }

    /// A failure that is ours, not the client's: logged in full, shown in brief.
    pub fn internal(context: &str, e: impl std::fmt::Display) -> Self {
        Error::internal(context, e).into()
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

/// The one place an application error gets its HTTP status.
impl From<Error> for AppError {
    fn from(e: Error) -> Self {
        let status = match e.kind {
            ErrorKind::BadRequest => StatusCode::BAD_REQUEST,
            ErrorKind::Unauthenticated => StatusCode::UNAUTHORIZED,
            ErrorKind::PaymentDeclined => StatusCode::PAYMENT_REQUIRED,
            ErrorKind::Forbidden => StatusCode::FORBIDDEN,
            ErrorKind::NotFound => StatusCode::NOT_FOUND,
            ErrorKind::Conflict => StatusCode::CONFLICT,
            ErrorKind::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorKind::Invalid => StatusCode::UNPROCESSABLE_ENTITY,
            ErrorKind::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorKind::Misdirected => StatusCode::MISDIRECTED_REQUEST,
            ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        };
        AppError { status, code: e.code, message: e.message, field: e.field, retry_after_s: e.retry_after_s }
    }
}

impl From<Invalid> for AppError {
    fn from(e: Invalid) -> Self {
        Error::from(e).into()
    }
}

impl From<souk_domain::review::NotReviewable> for AppError {
    fn from(why: souk_domain::review::NotReviewable) -> Self {
        Error::from(why).into()
    }
}
