//! Error types, and the one place where API errors become HTTP statuses.
//!
//! ZeyOS answers every failure with a status >= 400 and a plain-text body
//! such as `Forbidden: Lacking access permission`; [`ApiError::status`] and
//! [`ApiError::message`] produce exactly that shape.

use http::StatusCode;

/// Failures while starting the simulator (before any request is served).
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The database could not be opened, created or seeded.
    #[error("database error: {0}")]
    Db(#[from] rusqlite::Error),
    /// Binding the listener or creating the temporary database failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// An existing database file was created for another instance or schema.
    #[error("invalid database: {0}")]
    InvalidDatabase(String),
    /// A blocking task panicked or was cancelled.
    #[error("background task failed: {0}")]
    Task(String),
}

/// A failed API request; each variant maps to exactly one status.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the request is malformed or names unknown things.
    #[error("Bad Request: {0}")]
    BadRequest(String),
    /// 401: missing or invalid credentials.
    #[error("Unauthorized: {0}")]
    Unauthorized(String),
    /// 403: the user lacks the permission.
    #[error("Forbidden: Lacking access permission")]
    Forbidden,
    /// 404: unknown instance, entity or record.
    #[error("Not Found: {0}")]
    NotFound(String),
    /// 405: the entity does not offer this method.
    #[error("Method Not Allowed: {method} is not supported on {path}")]
    MethodNotAllowed {
        /// The rejected method.
        method: String,
        /// The path it was sent to.
        path: String,
        /// The methods that are supported (for the `Allow` header).
        allow: Vec<&'static str>,
    },
    /// 409: ID present on create, non-matching ID on update, bad reference.
    #[error("Conflict: {0}")]
    Conflict(String),
    /// 412: `If-Match` does not match the record's entity tag.
    #[error("Precondition Failed: Non-matching ETag")]
    PreconditionFailed,
    /// 413: the body exceeds the size limit.
    #[error("Payload Too Large: request body exceeds {0} bytes")]
    PayloadTooLarge(usize),
    /// 500: a defect or database failure; details go to the log only.
    #[error("Internal Server Error: I am afraid I can't do that Dave!")]
    Internal(String),
    /// 500 or 503 chosen by fault injection.
    #[error("{}: injected fault", .0.canonical_reason().unwrap_or("Error"))]
    Injected(StatusCode),
}

impl ApiError {
    /// The HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::Injected(s) => *s,
        }
    }

    /// The text body sent to the client.
    pub fn message(&self) -> String {
        self.to_string()
    }

    /// Shorthand for a 400 with a formatted message.
    pub fn bad(msg: impl Into<String>) -> Self {
        ApiError::BadRequest(msg.into())
    }
}

impl From<rusqlite::Error> for ApiError {
    fn from(e: rusqlite::Error) -> Self {
        ApiError::Internal(format!("database: {e}"))
    }
}

impl From<tokio::task::JoinError> for ApiError {
    fn from(e: tokio::task::JoinError) -> Self {
        ApiError::Internal(format!("blocking task: {e}"))
    }
}

/// Result of an API operation.
pub type ApiResult<T> = Result<T, ApiError>;
