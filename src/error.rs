//! The gateway's error type and its one mapping to HTTP responses.
//!
//! Every failure a request can meet ends as a [`GatewayError`]; each variant
//! owns exactly one status and an OData error body
//! (`{"error":{"code","message","target","details"}}`). Internal details go
//! to the log, never to the client.

use http::StatusCode;
use serde_json::json;

use crate::upstream::UpstreamError;

/// One entry of an OData error's `details`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorDetail {
    /// A machine-readable code.
    pub code: String,
    /// A sentence for humans.
    pub message: String,
    /// What it refers to (a query option, a property).
    pub target: Option<String>,
}

/// Everything that can go wrong while answering a request.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// The request is malformed or asks for something the model does not
    /// have (syntax errors, unknown properties, type mismatches).
    #[error("{message}")]
    BadRequest {
        /// Machine-readable code, e.g. `InvalidFilter`.
        code: &'static str,
        /// What is wrong, for humans.
        message: String,
        /// The query option or property concerned.
        target: Option<String>,
        /// Further findings.
        details: Vec<ErrorDetail>,
    },
    /// No such resource.
    #[error("{message}")]
    NotFound {
        /// What was not found.
        message: String,
        /// The path segment concerned.
        target: Option<String>,
    },
    /// The method is not supported on this resource.
    #[error("{message}")]
    MethodNotAllowed {
        /// Explanation.
        message: String,
        /// Methods that are supported, for the `Allow` header.
        allow: &'static str,
    },
    /// No representation the client accepts.
    #[error("{0}")]
    NotAcceptable(String),
    /// A request body in a format the gateway does not read.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// Valid OData the gateway does not (or ZeyOS cannot) support.
    #[error("{message}")]
    NotImplemented {
        /// What is missing.
        message: String,
        /// The path segment or option concerned.
        target: Option<String>,
    },
    /// No or unusable credentials; answered with `WWW-Authenticate: Basic`
    /// so that Excel and Power BI prompt for them.
    #[error("{0}")]
    Unauthorized(String),
    /// ZeyOS refused the principal access.
    #[error("{0}")]
    Forbidden(String),
    /// An `If-Match` precondition did not hold.
    #[error("{0}")]
    PreconditionFailed(String),
    /// The request conflicts with the resource's state.
    #[error("{0}")]
    Conflict(String),
    /// The URL is longer than the configured maximum.
    #[error("{0}")]
    UriTooLong(String),
    /// The body is larger than allowed.
    #[error("{0}")]
    PayloadTooLarge(String),
    /// A request of a batch was not run because one it depends on failed.
    #[error("{0}")]
    FailedDependency(String),
    /// The gateway is answering as many requests as it may at once
    /// (`max_requests_in_progress`); answered 503 with `Retry-After`.
    #[error("the gateway is answering its limit of {limit} requests at once; retry shortly")]
    Overloaded {
        /// The configured limit.
        limit: u32,
    },
    /// ZeyOS failed or could not be reached.
    #[error("{0}")]
    Upstream(#[from] UpstreamError),
    /// A defect in the gateway; the message is logged, not sent.
    #[error("internal error: {0}")]
    Internal(String),
}

/// Shorthand for results in request handling.
pub type Result<T, E = GatewayError> = std::result::Result<T, E>;

impl GatewayError {
    /// A 400 with a code, message and target.
    pub fn bad_request(
        code: &'static str,
        message: impl Into<String>,
        target: Option<impl Into<String>>,
    ) -> Self {
        GatewayError::BadRequest {
            code,
            message: message.into(),
            target: target.map(Into::into),
            details: Vec::new(),
        }
    }

    /// A 404 for a path segment.
    pub fn not_found(message: impl Into<String>, target: Option<impl Into<String>>) -> Self {
        GatewayError::NotFound {
            message: message.into(),
            target: target.map(Into::into),
        }
    }

    /// A 501 for a feature.
    pub fn not_implemented(message: impl Into<String>, target: Option<impl Into<String>>) -> Self {
        GatewayError::NotImplemented {
            message: message.into(),
            target: target.map(Into::into),
        }
    }

    /// The HTTP status this error is answered with.
    pub fn status(&self) -> StatusCode {
        match self {
            GatewayError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            GatewayError::NotFound { .. } => StatusCode::NOT_FOUND,
            GatewayError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            GatewayError::NotAcceptable(_) => StatusCode::NOT_ACCEPTABLE,
            GatewayError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            GatewayError::NotImplemented { .. } => StatusCode::NOT_IMPLEMENTED,
            GatewayError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            GatewayError::Forbidden(_) => StatusCode::FORBIDDEN,
            GatewayError::PreconditionFailed(_) => StatusCode::PRECONDITION_FAILED,
            GatewayError::Conflict(_) => StatusCode::CONFLICT,
            GatewayError::UriTooLong(_) => StatusCode::URI_TOO_LONG,
            GatewayError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            GatewayError::FailedDependency(_) => StatusCode::FAILED_DEPENDENCY,
            GatewayError::Overloaded { .. } => StatusCode::SERVICE_UNAVAILABLE,
            GatewayError::Upstream(e) => upstream_status(e),
            GatewayError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The machine-readable OData error code.
    pub fn code(&self) -> &str {
        match self {
            GatewayError::BadRequest { code, .. } => code,
            GatewayError::NotFound { .. } => "NotFound",
            GatewayError::MethodNotAllowed { .. } => "MethodNotAllowed",
            GatewayError::NotAcceptable(_) => "NotAcceptable",
            GatewayError::UnsupportedMediaType(_) => "UnsupportedMediaType",
            GatewayError::NotImplemented { .. } => "NotImplemented",
            GatewayError::Unauthorized(_) => "Unauthorized",
            GatewayError::Forbidden(_) => "Forbidden",
            GatewayError::PreconditionFailed(_) => "PreconditionFailed",
            GatewayError::Conflict(_) => "Conflict",
            GatewayError::UriTooLong(_) => "UriTooLong",
            GatewayError::PayloadTooLarge(_) => "PayloadTooLarge",
            GatewayError::FailedDependency(_) => "FailedDependency",
            GatewayError::Overloaded { .. } => "ServerBusy",
            GatewayError::Upstream(UpstreamError::Timeout(_)) => "UpstreamTimeout",
            GatewayError::Upstream(UpstreamError::Busy { .. }) => "UpstreamBusy",
            GatewayError::Upstream(UpstreamError::NoEndpoint(_)) => "UpstreamMisconfigured",
            GatewayError::Upstream(UpstreamError::Status { status, .. })
                if status.as_u16() == 503 =>
            {
                "UpstreamUnavailable"
            }
            GatewayError::Upstream(UpstreamError::Status { status, .. })
                if status.as_u16() == 429 =>
            {
                "UpstreamRateLimited"
            }
            GatewayError::Upstream(UpstreamError::Status { status, .. })
                if matches!(status.as_u16(), 401 | 403 | 404 | 409 | 412) =>
            {
                match status.as_u16() {
                    401 => "Unauthorized",
                    403 => "Forbidden",
                    404 => "NotFound",
                    409 => "Conflict",
                    _ => "PreconditionFailed",
                }
            }
            GatewayError::Upstream(UpstreamError::Status { status, .. })
                if status.is_client_error() =>
            {
                "UpstreamRejected"
            }
            GatewayError::Upstream(_) => "UpstreamFailure",
            GatewayError::Internal(_) => "InternalError",
        }
    }

    /// The message the client sees. Upstream and internal failures are
    /// described, not dumped.
    pub fn client_message(&self) -> String {
        match self {
            GatewayError::Upstream(e) => match e {
                UpstreamError::Status { status, message } => match status.as_u16() {
                    401 => format!("ZeyOS rejected the credentials: {message}"),
                    403 => format!("ZeyOS denied access: {message}"),
                    404 => format!("ZeyOS has no such record: {message}"),
                    429 => "ZeyOS is limiting the rate of requests; retry shortly".to_string(),
                    503 => "ZeyOS is unavailable; retry shortly".to_string(),
                    s if s >= 500 => format!("ZeyOS failed with status {s}"),
                    s => format!("ZeyOS rejected the request with status {s}: {message}"),
                },
                UpstreamError::Timeout(d) => {
                    format!("ZeyOS did not answer within {} ms", d.as_millis())
                }
                UpstreamError::Connect(_) => {
                    "The connection to ZeyOS failed (refused or broken off)".to_string()
                }
                UpstreamError::NoEndpoint(_) => {
                    "ZeyOS answered that its API is not at the configured address; \
                     the gateway's upstream.base_url or upstream.instance is wrong"
                        .to_string()
                }
                UpstreamError::InvalidResponse(_) => {
                    "ZeyOS sent a response the gateway could not read".to_string()
                }
                UpstreamError::Busy { limit, waited } => format!(
                    "The gateway already has {limit} requests at ZeyOS and none finished \
                     within {} ms; retry shortly",
                    waited.as_millis()
                ),
            },
            GatewayError::Internal(_) => {
                "The gateway failed to answer; the failure has been logged".to_string()
            }
            other => other.to_string(),
        }
    }

    /// The target, if any.
    pub fn target(&self) -> Option<&str> {
        match self {
            GatewayError::BadRequest { target, .. }
            | GatewayError::NotFound { target, .. }
            | GatewayError::NotImplemented { target, .. } => target.as_deref(),
            _ => None,
        }
    }

    /// The OData JSON error body.
    pub fn to_json(&self) -> serde_json::Value {
        let mut error = serde_json::Map::new();
        error.insert("code".into(), json!(self.code()));
        error.insert("message".into(), json!(self.client_message()));
        error.insert("target".into(), json!(self.target()));
        let details: Vec<_> = match self {
            GatewayError::BadRequest { details, .. } => details
                .iter()
                .map(|d| json!({"code": d.code, "message": d.message, "target": d.target}))
                .collect(),
            _ => Vec::new(),
        };
        error.insert("details".into(), json!(details));
        json!({ "error": error })
    }
}

fn upstream_status(e: &UpstreamError) -> StatusCode {
    match e {
        UpstreamError::Status { status, .. } => match status.as_u16() {
            401 => StatusCode::UNAUTHORIZED,
            403 => StatusCode::FORBIDDEN,
            404 => StatusCode::NOT_FOUND,
            409 => StatusCode::CONFLICT,
            412 => StatusCode::PRECONDITION_FAILED,
            // Passed on, so that clients back off and retry (Power Query
            // does for both, after `Retry-After`) instead of failing.
            429 => StatusCode::TOO_MANY_REQUESTS,
            503 => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::BAD_GATEWAY,
        },
        UpstreamError::NoEndpoint(_) => StatusCode::BAD_GATEWAY,
        UpstreamError::Timeout(_) => StatusCode::GATEWAY_TIMEOUT,
        UpstreamError::Connect(_) | UpstreamError::InvalidResponse(_) => StatusCode::BAD_GATEWAY,
        UpstreamError::Busy { .. } => StatusCode::SERVICE_UNAVAILABLE,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_failures_name_the_side_that_failed() {
        let e = GatewayError::from(UpstreamError::Status {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: "I am afraid I can't do that Dave!".into(),
        });
        assert_eq!(e.status(), StatusCode::BAD_GATEWAY);
        assert!(!e.client_message().contains("Dave"));
        let e = GatewayError::from(UpstreamError::Timeout(std::time::Duration::from_secs(3)));
        assert_eq!(e.status(), StatusCode::GATEWAY_TIMEOUT);
        let e = GatewayError::from(UpstreamError::Status {
            status: StatusCode::FORBIDDEN,
            message: "Forbidden: Lacking access permission".into(),
        });
        assert_eq!(e.status(), StatusCode::FORBIDDEN);
        let e = GatewayError::from(UpstreamError::Busy {
            limit: 32,
            waited: std::time::Duration::from_secs(10),
        });
        assert_eq!(e.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(e.code(), "UpstreamBusy");
        assert!(
            e.client_message().contains("32 requests"),
            "{}",
            e.client_message()
        );
    }

    #[test]
    fn bodies_have_the_odata_shape() {
        let e = GatewayError::bad_request("InvalidFilter", "bad", Some("$filter"));
        let j = e.to_json();
        assert_eq!(j["error"]["code"], "InvalidFilter");
        assert_eq!(j["error"]["target"], "$filter");
        let e = GatewayError::Internal("secret detail".into());
        assert!(!e.to_json().to_string().contains("secret"));
    }
}
