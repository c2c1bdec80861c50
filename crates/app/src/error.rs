//! The one error of the application layer: what went wrong and a stable code for it. It knows
//! nothing of HTTP; the server maps each [`ErrorKind`] to a status in one place.

use serde::de::DeserializeOwned;
use souk_domain::Invalid;
use souk_store::StoreError;

/// What went wrong, as a caller has to react to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The request is malformed before any rule is checked (a missing key, unreadable text).
    BadRequest,
    /// The caller is not known: no credential, or a wrong or stale signature.
    Unauthenticated,
    /// A card or the payment provider refused to pay.
    PaymentDeclined,
    /// The caller is known but may not do this.
    Forbidden,
    NotFound,
    /// The request is well formed, but the state of things refuses it (sold out, already paid).
    Conflict,
    /// More than a limit allows in one request.
    TooLarge,
    /// Input that breaks a rule; `field` names the part at fault.
    Invalid,
    /// Too many attempts; `retry_after_s` says when to try again.
    RateLimited,
    /// Busy or lost a race; the same request may simply be sent again.
    Unavailable,
    /// Another process decides this (a flash sale of another shard); send it there.
    Misdirected,
    /// Ours, not the caller's: logged in full, shown in brief.
    Internal,
}

impl ErrorKind {
    /// Whether the failure is the server's (or its database's), not the caller's doing.
    pub fn is_ours(self) -> bool {
        matches!(self, ErrorKind::Internal | ErrorKind::Unavailable)
    }
}

#[derive(Debug, Clone)]
pub struct Error {
    pub kind: ErrorKind,
    /// Stable, machine-readable: `not_found`, `invalid_body`, `sold_out`, ...
    pub code: String,
    /// For people.
    pub message: String,
    /// The input field at fault, as a dotted path (`skus[0].price.amount`).
    pub field: Option<String>,
    pub retry_after_s: Option<u64>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(kind: ErrorKind, code: impl Into<String>, message: impl Into<String>) -> Self {
        Self { kind, code: code.into(), message: message.into(), field: None, retry_after_s: None }
    }

    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    pub fn retry_after(mut self, seconds: u64) -> Self {
        self.retry_after_s = Some(seconds);
        self
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(ErrorKind::NotFound, "not_found", format!("{what} not found"))
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Forbidden, "forbidden", message)
    }

    pub fn bad_request(code: &str, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::BadRequest, code, message)
    }

    pub fn invalid(code: &str, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Invalid, code, message)
    }

    pub fn conflict(code: &str, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Conflict, code, message)
    }

    pub fn unavailable(code: &str, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unavailable, code, message).retry_after(1)
    }

    pub fn rate_limited(retry_after_s: u64) -> Self {
        Self::new(ErrorKind::RateLimited, "rate_limited", format!("too many attempts; retry in {retry_after_s} s"))
            .retry_after(retry_after_s)
    }

    pub fn too_many(what: &str, limit: usize) -> Self {
        Self::new(ErrorKind::TooLarge, "too_large", format!("at most {limit} {what} at once"))
    }

    /// A failure that is ours, not the caller's: logged in full, shown in brief.
    pub fn internal(context: &str, e: impl std::fmt::Display) -> Self {
        tracing::error!(error = %e, "{context}");
        Self::new(ErrorKind::Internal, "internal", "something went wrong on our side; it has been logged")
    }
}

/// An `Idempotency-Key` used before with a different request.
pub fn idempotency_mismatch() -> Error {
    Error::invalid("idempotency_mismatch", "this Idempotency-Key was already used with a different request")
}

/// A request with the key has not finished.
pub fn idempotency_in_progress() -> Error {
    Error::conflict("idempotency_in_progress", "a request with this Idempotency-Key is still running; retry later")
        .retry_after(1)
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for Error {}

impl From<Invalid> for Error {
    fn from(e: Invalid) -> Self {
        Self { field: e.field, ..Error::invalid(e.code, e.message) }
    }
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => Error::not_found("resource"),
            StoreError::Conflict { kind, message } => Error::conflict(kind.code(), message),
            StoreError::Invalid(i) => i.into(),
            StoreError::Unavailable(why) => {
                tracing::warn!(why, "the database is unavailable");
                Error::unavailable("unavailable", "the server is busy; retry shortly")
            }
            // Deadlocks and serialization failures (PostgreSQL) and a busy database (SQLite)
            // roll the transaction back whole; the same request can simply be sent again.
            StoreError::Contention(why) => {
                tracing::warn!(why, "transaction lost a race; the client may retry");
                Error::unavailable("contention", "the server was busy with a conflicting request; retry")
            }
            StoreError::Broken(what) => Error::internal("a rule Souk must keep does not hold", what),
            StoreError::Db(db) => Error::internal("database error", db),
        }
    }
}

impl From<souk_domain::review::NotReviewable> for Error {
    fn from(why: souk_domain::review::NotReviewable) -> Self {
        Error::conflict(why.code(), why.message())
    }
}

/// Maps a store lookup's `NotFound` to one that names the thing.
pub trait OrNotFound<T> {
    fn or_not_found(self, what: &str) -> Result<T>;
}

impl<T> OrNotFound<T> for std::result::Result<T, StoreError> {
    fn or_not_found(self, what: &str) -> Result<T> {
        self.map_err(|e| match e {
            StoreError::NotFound => Error::not_found(what),
            e => e.into(),
        })
    }
}
impl<T> OrNotFound<T> for Result<T> {
    fn or_not_found(self, what: &str) -> Result<T> {
        self.map_err(|e| if e.kind == ErrorKind::NotFound { Error::not_found(what) } else { e })
    }
}

/// Parses JSON, reporting the path of the field that failed: syntax errors are 400, values of
/// the wrong type or missing fields are 422.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let message = inner.to_string();
        if inner.is_syntax() || inner.is_eof() {
            return Error::bad_request("invalid_json", format!("the body is not valid JSON: {message}"));
        }
        // serde names a missing field in its message, not its path.
        let field = match message.split('`').nth(1) {
            Some(name) if message.starts_with("missing field") => {
                if path == "." {
                    name.to_string()
                } else {
                    format!("{path}.{name}")
                }
            }
            _ => path,
        };
        let mut err = Error::invalid("invalid_body", message);
        if field != "." {
            err.field = Some(field);
        }
        err
    })
}
