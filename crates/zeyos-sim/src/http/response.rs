//! Building responses, and the one mapping from [`ApiError`] to a response.

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::StatusCode;
use http_body_util::Full;
use serde_json::Value;

use crate::error::ApiError;

/// A response with a full body.
pub type Resp = hyper::Response<Full<Bytes>>;

/// A JSON response.
pub fn json(status: StatusCode, v: &Value) -> Resp {
    let body = serde_json::to_vec(v).unwrap_or_else(|_| b"null".to_vec());
    let mut r = hyper::Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    r
}

/// A plain-text response.
pub fn text(status: StatusCode, msg: &str) -> Resp {
    let mut r = hyper::Response::new(Full::new(Bytes::from(msg.to_string())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

/// A response without a body (204, 304).
pub fn empty(status: StatusCode) -> Resp {
    let mut r = hyper::Response::new(Full::new(Bytes::new()));
    *r.status_mut() = status;
    r
}

/// Adds an `ETag` header.
pub fn with_etag(mut r: Resp, etag: &str) -> Resp {
    if let Ok(v) = HeaderValue::from_str(etag) {
        r.headers_mut().insert(header::ETAG, v);
    }
    r
}

/// Status, text body, and the headers some statuses require
/// (`WWW-Authenticate` on 401, `Allow` on 405).
pub fn error(e: &ApiError) -> Resp {
    let mut r = text(e.status(), &e.message());
    match e {
        ApiError::Unauthorized(_) => {
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"ZeyOS\""),
            );
        }
        ApiError::MethodNotAllowed { allow, .. } => {
            if let Ok(v) = HeaderValue::from_str(&allow.join(", ")) {
                r.headers_mut().insert(header::ALLOW, v);
            }
        }
        _ => {}
    }
    r
}
