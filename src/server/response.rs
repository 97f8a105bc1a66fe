//! Building responses: JSON bodies, OData headers, context URL parts, and
//! the one place where errors become responses.

use std::time::Instant;

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderValue};
use http::{Response, StatusCode};

use super::body::{self, Body};
use super::negotiate::{JsonFormat, Representation};
use crate::bind::query::{ExpandForm, QueryShape};
use crate::edm::{EntitySetId, ServiceModel};
use crate::error::GatewayError;
use crate::upstream::UpstreamError;

/// Where `/metrics` is served, before any service.
pub(super) const METRICS_PATH: &str = "/metrics";

/// Largest collection page kept whole to compute its entity tag; larger
/// pages are streamed as they are written and carry no `ETag`.
pub(super) const ETAG_BUFFER_LIMIT: usize = 1 << 20;

/// How a collection page begins, as its writer reports it.
pub(super) enum PageHead {
    /// The whole page: it ended before reaching [`ETAG_BUFFER_LIMIT`]
    /// (checked after each batch of rows), in the chunks it was written in,
    /// and its entity tag.
    Complete(Vec<Bytes>, String),
    /// The page is larger and follows through the body channel.
    Streaming,
    /// The page failed before anything was sent.
    Failed(GatewayError),
}

/// A 304 for a request whose `If-None-Match` matched `etag`.
pub(super) fn not_modified(etag: &str) -> Response<Body> {
    let mut r = Response::new(body::empty());
    *r.status_mut() = StatusCode::NOT_MODIFIED;
    if let Ok(v) = HeaderValue::from_str(etag) {
        r.headers_mut().insert(header::ETAG, v);
    }
    r
}

/// The answer a read's preconditions give instead of the one tagged
/// `etag`, in RFC 9110 13.2.2's order: `If-Match` naming none of it is 412,
/// then `If-None-Match` naming it is 304; `None` to answer in full.
pub(super) fn precondition_answer(
    headers: &HeaderMap,
    etag: &str,
) -> Result<Option<Response<Body>>, GatewayError> {
    if super::conditional::match_fails(headers, Some(etag)) {
        return Err(GatewayError::PreconditionFailed(format!(
            "If-Match names no tag of the current answer, whose tag is {etag}"
        )));
    }
    if super::conditional::none_match(headers, etag) {
        return Ok(Some(not_modified(etag)));
    }
    Ok(None)
}

/// The context URL's select list (Protocol 10.9, as a 4.0 response writes
/// it): the selected properties and navigation properties, then every
/// expanded navigation property that has a nested `$select` or `$expand`,
/// with its own list in parentheses. Empty when everything is selected and
/// no expansion is shaped.
pub(super) fn select_suffix(model: &ServiceModel, set: EntitySetId, shape: &QueryShape) -> String {
    let items = select_items(model, set, shape);
    if items.is_empty() {
        String::new()
    } else {
        format!("({})", items.join(","))
    }
}

fn select_items(model: &ServiceModel, set: EntitySetId, shape: &QueryShape) -> Vec<String> {
    let ty = model.entity_type(model.set(set).entity_type);
    let mut items: Vec<String> = shape
        .select
        .iter()
        .flatten()
        .filter_map(|i| ty.properties.get(*i))
        .map(|p| p.name.clone())
        .collect();
    items.extend(shape.dynamic.iter().cloned());
    items.extend(shape.selected_navigation.iter().cloned());
    // Counts (`Nav/$count`) and references (`Nav/$ref`) are not expanded
    // entities and take no place (Protocol 10.9).
    for item in shape
        .expand
        .iter()
        .filter(|i| i.form == ExpandForm::Entities)
    {
        let nested = &item.options;
        if nested.select.is_some() || !nested.expand.is_empty() {
            let inner = select_items(model, item.set, nested);
            // Selected and expanded, it is named once, with its list.
            items.retain(|i| *i != item.navigation);
            items.push(format!("{}({})", item.navigation, inner.join(",")));
        }
    }
    items
}

/// The query options of `raw` as the parser reads them, for binding a
/// skip token: names and values percent-decoded (`+` a space), system
/// option names in lower case, `$skiptoken` left out, sorted by name (the
/// parser refuses repeated system options, so the order never matters).
/// A client library that re-encodes a nextLink, or rebuilds it with its
/// options in another order, asks for the same request and gets its page.
/// A JSON array of pairs, so that a decoded `&` or `=` cannot make two
/// different queries read the same.
pub(super) fn canonical_query(raw: Option<&str>) -> String {
    use odata_syntax::decode::{percent_decode, PlusMode};
    let decode = |s: &str| match percent_decode(s, PlusMode::Space) {
        Ok(d) => d.into_owned(),
        // The parser refuses such a request before any token is read.
        Err(_) => s.to_string(),
    };
    let mut pairs: Vec<(String, String)> = raw
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (name, value) = p.split_once('=').unwrap_or((p, ""));
            let mut name = decode(name);
            if name.starts_with('$') {
                name.make_ascii_lowercase();
            }
            (name, decode(value))
        })
        .filter(|(name, _)| {
            !name.eq_ignore_ascii_case("$skiptoken") && !name.eq_ignore_ascii_case("skiptoken")
        })
        .collect();
    pairs.sort_by(|a, b| a.0.cmp(&b.0));
    serde_json::to_string(&pairs).unwrap_or_default()
}

/// The raw query string without `$skiptoken` (in any spelling).
pub(super) fn query_without_skiptoken(raw: Option<&str>) -> String {
    raw.unwrap_or("")
        .split('&')
        .filter(|p| {
            let name = p.split('=').next().unwrap_or("");
            let decoded = percent_encoding::percent_decode_str(name)
                .decode_utf8_lossy()
                .to_ascii_lowercase();
            !p.is_empty() && decoded != "$skiptoken" && decoded != "skiptoken"
        })
        .collect::<Vec<_>>()
        .join("&")
}

pub(super) fn json_format(rep: Representation) -> JsonFormat {
    match rep {
        Representation::Json(f) => f,
        _ => JsonFormat::default(),
    }
}

pub(super) fn json_response(
    status: StatusCode,
    body_bytes: impl Into<Bytes>,
    content_type: &str,
) -> Response<Body> {
    let mut r = Response::new(body::full(body_bytes));
    *r.status_mut() = status;
    if let Ok(v) = HeaderValue::from_str(content_type) {
        r.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    r
}

/// `OData-Version: 4.0`, unless the response stated its version itself
/// (a JSON batch answer, whose format is OData 4.01's).
pub(super) fn set_odata_version(headers: &mut HeaderMap) {
    headers
        .entry(header::HeaderName::from_static("odata-version"))
        .or_insert(HeaderValue::from_static("4.0"));
}

/// The one place where errors become responses.
pub fn error_response(e: &GatewayError) -> Response<Body> {
    let status = e.status();
    match e {
        GatewayError::Internal(detail) => tracing::error!(%detail, "internal error"),
        GatewayError::Upstream(u) => tracing::warn!(error = %u, "upstream failure"),
        _ => {}
    }
    let mut r = json_response(
        status,
        e.to_json().to_string(),
        "application/json;odata.metadata=minimal",
    );
    // Every message is written in English (OData JSON Format 21.1: the
    // header names the language of `message`).
    r.headers_mut()
        .insert(header::CONTENT_LANGUAGE, HeaderValue::from_static("en"));
    if status == StatusCode::UNAUTHORIZED {
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"ZeyOS OData\", charset=\"UTF-8\""),
        );
    }
    if let GatewayError::MethodNotAllowed { allow, .. } = e {
        if let Ok(v) = HeaderValue::from_str(allow) {
            r.headers_mut().insert(header::ALLOW, v);
        }
    }
    match e {
        GatewayError::Upstream(UpstreamError::Busy { .. }) | GatewayError::Overloaded { .. } => {
            // Power Query retries a 503 (up to three times) after this
            // many seconds.
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        // ZeyOS itself unavailable or limiting, after the gateway's own
        // retries: a longer pause.
        GatewayError::Upstream(UpstreamError::Status { status, .. })
            if matches!(status.as_u16(), 429 | 503) =>
        {
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        }
        _ => {}
    }
    r
}

pub(super) fn parse_error(e: odata_syntax::ParseError) -> GatewayError {
    use odata_syntax::ParseError as P;
    match &e {
        P::UrlTooLong { .. } => GatewayError::UriTooLong(e.to_string()),
        _ => {
            let code = match &e {
                P::TooDeep { .. } | P::TooManyNodes { .. } => "QueryTooComplex",
                P::DuplicateOption { .. } => "DuplicateOption",
                P::InvalidValue { .. } => "InvalidValue",
                P::Encoding { .. } => "InvalidEncoding",
                _ => "InvalidSyntax",
            };
            let target = e.option().map(str::to_string);
            GatewayError::BadRequest {
                code,
                message: e.to_string(),
                target,
                details: Vec::new(),
            }
        }
    }
}

pub(super) fn login_error(e: UpstreamError) -> GatewayError {
    match &e {
        // 401/403 at login: wrong credentials, as far as the client can
        // tell. ZeyOS's reason goes to the log, where an operator finds
        // what no password fixes (`Invalid application secret`: a wrong
        // upstream.appsecret). Other client errors mean the gateway's
        // login request itself is wrong: the upstream side's fault.
        UpstreamError::Status { status, message }
            if *status == StatusCode::UNAUTHORIZED || *status == StatusCode::FORBIDDEN =>
        {
            tracing::info!(status = status.as_u16(), reason = %message, "ZeyOS refused a login");
            GatewayError::Unauthorized("ZeyOS did not accept the user name and password".into())
        }
        // Any other refusal of the login request itself (`Missing
        // parameter: appsecret`) is the gateway's configuration: say so,
        // for the operator who reads the Power BI user's error.
        UpstreamError::Status { status, message } if status.is_client_error() => {
            tracing::warn!(status = status.as_u16(), reason = %message, "ZeyOS refused the gateway's login request");
            GatewayError::Upstream(UpstreamError::Status {
                status: *status,
                message: format!(
                    "{message} (the gateway's login request was refused: check upstream.appsecret and upstream.identifier in its configuration)"
                ),
            })
        }
        _ => GatewayError::Upstream(e),
    }
}

/// Time of a request, for the log.
pub fn elapsed_ms(start: Instant) -> f64 {
    start.elapsed().as_secs_f64() * 1000.0
}
