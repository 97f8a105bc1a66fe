//! Building responses, and the one mapping from [`ApiError`] to a response.

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::StatusCode;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use serde_json::Value;

use crate::error::ApiError;

/// Why a streamed body ended early (the client sees a cut-off response).
pub type BodyError = Box<dyn std::error::Error + Send + Sync>;

/// A response body: whole, or streamed as it is produced (list answers).
pub type Body = BoxBody<Bytes, BodyError>;

/// A response.
pub type Resp = hyper::Response<Body>;

/// A body of bytes already at hand.
pub fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed()
}

/// A JSON response.
pub fn json(status: StatusCode, v: &Value) -> Resp {
    let body = serde_json::to_vec(v).unwrap_or_else(|_| b"null".to_vec());
    let mut r = hyper::Response::new(full(body));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    r
}

/// A plain-text response.
pub fn text(status: StatusCode, msg: &str) -> Resp {
    let mut r = hyper::Response::new(full(msg.to_string()));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

/// The response with its body gathered whole (sent with a
/// `Content-Length`, in one piece); a body that breaks off is an internal
/// error.
pub async fn gathered(resp: Resp) -> Result<Resp, ApiError> {
    let (parts, body) = resp.into_parts();
    let bytes = body
        .collect()
        .await
        .map_err(|e| ApiError::Internal(format!("gathering the answer: {e}")))?
        .to_bytes();
    Ok(hyper::Response::from_parts(parts, full(bytes)))
}

/// Whether a request's `Accept-Encoding` names gzip (with a q-value above 0).
pub fn accepts_gzip(headers: &http::HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|coding| {
            let mut parts = coding.split(';');
            let name = parts.next().unwrap_or("").trim();
            let refused = parts.any(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            (name.eq_ignore_ascii_case("gzip") || name == "*") && !refused
        })
}

/// The response with its body gzipped (bodies of a few bytes and empty
/// ones stay as they are, as web servers leave them). A streamed body is
/// gathered first; if it breaks off, so does the response.
pub async fn gzip(resp: Resp) -> Result<Resp, BodyError> {
    use std::io::Write;
    let (mut parts, body) = resp.into_parts();
    let bytes = body.collect().await?.to_bytes();
    if bytes.len() < 64 {
        return Ok(hyper::Response::from_parts(parts, full(bytes)));
    }
    let mut enc = flate2::write::GzEncoder::new(
        Vec::with_capacity(bytes.len() / 4),
        flate2::Compression::fast(),
    );
    let gzipped = enc.write_all(&bytes).and_then(|()| enc.finish());
    match gzipped {
        Ok(gz) => {
            parts
                .headers
                .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            parts.headers.remove(header::CONTENT_LENGTH);
            Ok(hyper::Response::from_parts(parts, full(gz)))
        }
        Err(_) => Ok(hyper::Response::from_parts(parts, full(bytes))),
    }
}

/// A response without a body (204, 304).
pub fn empty(status: StatusCode) -> Resp {
    let mut r = hyper::Response::new(full(Bytes::new()));
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

#[cfg(test)]
mod gzip_tests {
    use super::*;

    #[test]
    fn accept_encoding_is_read_with_q_values() {
        let accepts = |values: &[&'static str]| {
            let mut h = http::HeaderMap::new();
            for v in values {
                h.append(header::ACCEPT_ENCODING, HeaderValue::from_static(v));
            }
            accepts_gzip(&h)
        };
        assert!(accepts(&["gzip"]));
        assert!(accepts(&["gzip, deflate"]));
        assert!(accepts(&["br;q=1.0, GZip;q=0.5"]));
        assert!(accepts(&["identity", "gzip"]));
        assert!(accepts(&["*"]));
        assert!(!accepts(&[]));
        assert!(!accepts(&["deflate, br"]));
        assert!(!accepts(&["gzip;q=0"]));
        assert!(!accepts(&["gzip; q=0.0, identity"]));
    }

    #[tokio::test]
    async fn gzip_keeps_small_bodies_and_compresses_the_rest() {
        let small = gzip(text(StatusCode::OK, "ok")).await.unwrap();
        assert!(small.headers().get(header::CONTENT_ENCODING).is_none());
        let big = serde_json::json!(vec!["row"; 1000]);
        let plain = serde_json::to_vec(&big).unwrap();
        let r = gzip(json(StatusCode::OK, &big)).await.unwrap();
        assert_eq!(r.headers()[header::CONTENT_ENCODING], "gzip");
        let body = r.into_body().collect().await.unwrap().to_bytes();
        assert!(body.len() < plain.len() / 4);
        let mut inflated = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&body[..]), &mut inflated)
            .unwrap();
        assert_eq!(inflated, plain);
    }
}
