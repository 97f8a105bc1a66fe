//! The HTTP client for one ZeyOS instance.
//!
//! Wire mechanics only: building requests, timeouts, reading bodies and
//! turning ZeyOS's text errors into [`UpstreamError`]s that say which side
//! failed. What to ask for is the planner's business; whose token to use is
//! the authenticator's.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::{header, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::Value as Json;

use super::gate::{GateStats, UpstreamGate};
use super::list_body::ListBody;
use super::record::Record;
use super::request::ListRequest;

/// One row of a list or record read, shared: the cache keeps the rows it
/// holds, and a request reads them without copying; the few places that
/// change a row (attaching expanded children) copy it first if it is
/// shared ([`Arc::make_mut`]).
pub type Row = std::sync::Arc<Record>;

/// Where and how to reach ZeyOS.
#[derive(Debug, Clone)]
pub struct UpstreamSettings {
    /// Base URL without the instance, e.g. `http://127.0.0.1:8091`.
    pub base_url: String,
    /// The ZeyOS instance, e.g. `demo`.
    pub instance: String,
    /// Application secret sent with logins.
    pub appsecret: String,
    /// Device/application identifier sent with logins.
    pub identifier: String,
    /// TCP connect timeout.
    pub connect_timeout: Duration,
    /// Time allowed for a whole request, body included.
    pub read_timeout: Duration,
    /// ZeyOS's maximum `limit` per list request.
    pub max_limit: u32,
    /// Send `Accept-Encoding: gzip` and inflate what comes back gzipped.
    pub accept_gzip: bool,
    /// Most requests at ZeyOS at once ([`UpstreamGate`]).
    pub max_concurrent_requests: usize,
    /// Longest wait for a place at ZeyOS before a request is refused.
    pub queue_timeout: Duration,
}

/// Why an upstream call failed. Each variant says which side is at fault,
/// so the server can map it to exactly one status. `Clone`, because one
/// upstream read may answer several coalesced client requests.
#[derive(Debug, Clone, thiserror::Error)]
pub enum UpstreamError {
    /// ZeyOS answered with an error status; `message` is its text body.
    #[error("ZeyOS answered {status}: {message}")]
    Status {
        /// The status ZeyOS sent.
        status: StatusCode,
        /// ZeyOS's error text (never contains credentials).
        message: String,
    },
    /// No answer within the configured time.
    #[error("ZeyOS did not answer within {0:?}")]
    Timeout(Duration),
    /// The connection could not be made or broke.
    #[error("cannot reach ZeyOS: {0}")]
    Connect(String),
    /// ZeyOS answered something that is not what the API promises.
    #[error("ZeyOS sent an invalid response: {0}")]
    InvalidResponse(String),
    /// ZeyOS answered 404 to a list or login request: the configured base
    /// URL or instance names no ZeyOS API, which is the gateway's
    /// configuration's fault, not a missing record.
    #[error("ZeyOS has no such endpoint: {0}")]
    NoEndpoint(String),
    /// The gateway already had its limit of requests at ZeyOS, and none
    /// finished within the queue timeout: ZeyOS was not asked.
    #[error("{limit} requests to ZeyOS were in flight for {waited:?}")]
    Busy {
        /// The configured number of requests at ZeyOS at once.
        limit: usize,
        /// How long the request waited for a place.
        waited: Duration,
    },
}

impl UpstreamError {
    /// Whether a read that failed so may succeed when sent again at once:
    /// a connection that broke or was refused, or a proxy or ZeyOS saying
    /// it is briefly unavailable (502, 503, 504). Not a timeout (it has
    /// already cost the whole read timeout; another would double the
    /// client's wait), not a 500 (ZeyOS failing on this request would fail
    /// again), and not `Busy` (it waited its turn already).
    pub fn is_retryable(&self) -> bool {
        match self {
            UpstreamError::Connect(_) => true,
            UpstreamError::Status { status, .. } => matches!(status.as_u16(), 502..=504),
            UpstreamError::Timeout(_)
            | UpstreamError::InvalidResponse(_)
            | UpstreamError::Busy { .. }
            | UpstreamError::NoEndpoint(_) => false,
        }
    }
}

/// Pauses before the second and third attempt of a read that failed
/// transiently ([`UpstreamError::is_retryable`]): a dropped keep-alive
/// connection or a restarting ZeyOS behind its proxy is a blip, and a
/// Power BI refresh of a thousand pages should not fail on one. Short,
/// because the client is waiting.
const RETRY_PAUSES: [Duration; 2] = [Duration::from_millis(100), Duration::from_millis(400)];

/// The answer to a single-record read.
#[derive(Debug, Clone)]
pub enum GetResponse {
    /// The record and its ETag.
    Found {
        /// The record.
        row: Row,
        /// ZeyOS's entity tag, if sent.
        etag: Option<String>,
    },
    /// `If-None-Match` matched.
    NotModified,
}

/// What a login returns.
#[derive(Debug, Clone)]
pub struct Login {
    /// The bearer token.
    pub token: String,
    /// Expiry as Unix seconds, if ZeyOS gives one.
    pub expires: Option<i64>,
    /// The user's ID.
    pub user: Option<i64>,
}

/// A pooled client to one ZeyOS instance.
#[derive(Debug)]
pub struct UpstreamClient {
    http: Client<HttpConnector, Full<Bytes>>,
    settings: UpstreamSettings,
    api_base: String,
    auth_base: String,
    calls: AtomicU64,
    gate: UpstreamGate,
}

impl UpstreamClient {
    /// A client with a keep-alive connection pool.
    pub fn new(settings: UpstreamSettings) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(settings.connect_timeout));
        connector.set_nodelay(true);
        connector.enforce_http(true);
        let http = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(64)
            .build(connector);
        let base = settings.base_url.trim_end_matches('/');
        let api_base = format!("{base}/{}/api/v1", settings.instance);
        let auth_base = format!("{base}/{}/auth/v1", settings.instance);
        let gate = UpstreamGate::new(settings.max_concurrent_requests, settings.queue_timeout);
        UpstreamClient {
            http,
            settings,
            api_base,
            auth_base,
            calls: AtomicU64::new(0),
            gate,
        }
    }

    /// The settings this client was made with.
    pub fn settings(&self) -> &UpstreamSettings {
        &self.settings
    }

    /// How many HTTP requests this client has sent (for logs and metrics).
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }

    /// How full the gate to ZeyOS is (for metrics).
    pub fn gate_stats(&self) -> GateStats {
        self.gate.stats()
    }

    /// `POST /{entity}`: the rows of a list request.
    pub async fn list(&self, token: &str, req: &ListRequest) -> Result<Vec<Row>, UpstreamError> {
        let mut all = Vec::new();
        self.list_batches(token, req, |rows| all.extend(rows))
            .await?;
        Ok(all)
    }

    /// `POST /{entity}`: the rows of a list request, handed to `each` in
    /// batches as they arrive. The body is inflated and decoded while it
    /// arrives ([`ListBody`]), so that a caller can pass on the first rows
    /// of a large page while ZeyOS is still sending the rest. On an error
    /// the batches already handed over are all there is: the page is
    /// incomplete.
    pub async fn list_batches(
        &self,
        token: &str,
        req: &ListRequest,
        mut each: impl FnMut(Vec<Row>),
    ) -> Result<(), UpstreamError> {
        let mut pauses = RETRY_PAUSES.iter();
        loop {
            // Sent again only while no row has been handed over: after
            // that, a retry would hand over rows twice.
            let mut delivered = false;
            let result = self
                .list_batches_once(token, req, &mut |rows| {
                    delivered = true;
                    each(rows);
                })
                .await;
            match (result, pauses.next()) {
                (Err(e), Some(pause)) if e.is_retryable() && !delivered => {
                    tracing::debug!(error = %e, entity = %req.entity, "list request sent again");
                    tokio::time::sleep(*pause).await;
                }
                (result, _) => return result,
            }
        }
    }

    /// One attempt of [`UpstreamClient::list_batches`].
    async fn list_batches_once(
        &self,
        token: &str,
        req: &ListRequest,
        each: &mut impl FnMut(Vec<Row>),
    ) -> Result<(), UpstreamError> {
        let request = self.list_request(token, req)?;
        self.timed(async {
            let response = self.dispatch(request).await?;
            let (parts, mut body) = response.into_parts();
            if !parts.status.is_success() {
                let body = read_body(body, MAX_BODY_BYTES).await?;
                let body = decode_content(&parts.headers, body)?;
                return Err(list_error(&req.entity, parts.status, &body));
            }
            let encoding = ContentEncoding::of(&parts.headers)?;
            let mut rows = ListBody::new(&req.entity, encoding, MAX_BODY_BYTES);
            while let Some(frame) = body.frame().await {
                let frame = frame
                    .map_err(|e| UpstreamError::Connect(format!("reading the response: {e}")))?;
                if let Ok(data) = frame.into_data() {
                    rows.push(&data)?;
                    let batch = rows.take_rows();
                    if !batch.is_empty() {
                        each(batch);
                    }
                }
            }
            let rest = rows.finish()?;
            if !rest.is_empty() {
                each(rest);
            }
            Ok(())
        })
        .await
    }

    /// Runs a read until it succeeds, fails for good, or has been tried
    /// after each of [`RETRY_PAUSES`].
    async fn retrying<T, F>(&self, mut attempt: impl FnMut() -> F) -> Result<T, UpstreamError>
    where
        F: std::future::Future<Output = Result<T, UpstreamError>>,
    {
        let mut pauses = RETRY_PAUSES.iter();
        loop {
            match (attempt().await, pauses.next()) {
                (Err(e), Some(pause)) if e.is_retryable() => {
                    tracing::debug!(error = %e, "read sent again");
                    tokio::time::sleep(*pause).await;
                }
                (result, _) => return result,
            }
        }
    }

    /// `POST /{entity}` with `count`: the number of matching rows.
    pub async fn count(&self, token: &str, req: &ListRequest) -> Result<u64, UpstreamError> {
        let mut req = req.clone();
        req.count = true;
        let body = self.retrying(|| self.list_body(token, &req)).await?;
        let v: Json = serde_json::from_slice(&body)
            .map_err(|e| UpstreamError::InvalidResponse(format!("count of {}: {e}", req.entity)))?;
        v.get("count")
            .and_then(crate::values::json_i64)
            .and_then(|n| u64::try_from(n).ok())
            .ok_or_else(|| UpstreamError::InvalidResponse(format!("count of {}: {v}", req.entity)))
    }

    async fn list_body(&self, token: &str, req: &ListRequest) -> Result<Bytes, UpstreamError> {
        let request = self.list_request(token, req)?;
        let (status, _headers, body) = self.send(request).await?;
        if !status.is_success() {
            return Err(list_error(&req.entity, status, &body));
        }
        Ok(body)
    }

    fn list_request(
        &self,
        token: &str,
        req: &ListRequest,
    ) -> Result<Request<Full<Bytes>>, UpstreamError> {
        let uri = format!("{}/{}", self.api_base, req.entity);
        // Serialized straight into bytes: `to_string` goes through the
        // formatting machinery, a percent of a small request's CPU.
        let body = serde_json::to_vec(&req.to_json())
            .map_err(|e| UpstreamError::InvalidResponse(format!("cannot build request: {e}")))?;
        let body = Bytes::from(body);
        Request::builder()
            .method(Method::POST)
            .uri(uri)
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::ACCEPT, "application/json")
            .body(Full::new(body))
            .map_err(|e| UpstreamError::InvalidResponse(format!("cannot build request: {e}")))
    }

    /// `GET /{entity}/{ID}`, conditional on `if_none_match`.
    pub async fn get(
        &self,
        token: &str,
        entity: &str,
        id: i64,
        expand: &[String],
        if_none_match: Option<&str>,
    ) -> Result<GetResponse, UpstreamError> {
        self.retrying(|| self.get_once(token, entity, id, expand, if_none_match))
            .await
    }

    /// One attempt of [`UpstreamClient::get`].
    async fn get_once(
        &self,
        token: &str,
        entity: &str,
        id: i64,
        expand: &[String],
        if_none_match: Option<&str>,
    ) -> Result<GetResponse, UpstreamError> {
        let mut uri = format!("{}/{entity}/{id}", self.api_base);
        if !expand.is_empty() {
            let mut ser = form_urlencoded::Serializer::new(String::new());
            for e in expand {
                ser.append_pair("expand[]", e);
            }
            uri.push('?');
            uri.push_str(&ser.finish());
        }
        let (status, headers, body) = self.send(get_request(uri, token, if_none_match)?).await?;
        if status == StatusCode::NOT_MODIFIED {
            return Ok(GetResponse::NotModified);
        }
        if !status.is_success() {
            return Err(status_error(status, &body));
        }
        let row: Record = serde_json::from_slice(&body)
            .map_err(|e| UpstreamError::InvalidResponse(format!("{entity}/{id}: {e}")))?;
        let row = Row::new(row);
        let etag = headers
            .get(header::ETAG)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        Ok(GetResponse::Found { row, etag })
    }

    /// Whether ZeyOS accepts a bearer token: `GET /config`, which every
    /// user may read and which answers 401 for a token it does not know.
    /// Asked once per token (the answer is cached), so that a made-up token
    /// is refused on requests that never reach ZeyOS (`$metadata`, the
    /// service document) as a wrong password is.
    pub async fn verify_token(&self, token: &str) -> Result<(), UpstreamError> {
        self.retrying(|| async {
            let request = get_request(format!("{}/config", self.api_base), token, None)?;
            let (status, _headers, body) = self.send(request).await?;
            if status.is_success() {
                Ok(())
            } else {
                Err(status_error(status, &body))
            }
        })
        .await
    }

    /// `POST /auth/v1/login`: exchanges a user name and password for a token.
    pub async fn login(&self, name: &str, password: &str) -> Result<Login, UpstreamError> {
        let form = form_urlencoded::Serializer::new(String::new())
            .append_pair("name", name)
            .append_pair("password", password)
            .append_pair("identifier", &self.settings.identifier)
            .append_pair("appsecret", &self.settings.appsecret)
            .finish();
        let request = Request::builder()
            .method(Method::POST)
            .uri(format!("{}/login", self.auth_base))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::ACCEPT, "application/json")
            .body(Full::new(Bytes::from(form)))
            .map_err(|e| UpstreamError::InvalidResponse(format!("cannot build request: {e}")))?;
        let (status, _headers, body) = self.send(request).await?;
        if !status.is_success() {
            return Err(list_error("login", status, &body));
        }
        let v: Json = serde_json::from_slice(&body)
            .map_err(|e| UpstreamError::InvalidResponse(format!("login: {e}")))?;
        let token = v
            .get("token")
            .and_then(Json::as_str)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| UpstreamError::InvalidResponse("login answer has no token".into()))?
            .to_string();
        Ok(Login {
            token,
            expires: v.get("expdate").and_then(crate::values::json_i64),
            user: v.get("user").and_then(crate::values::json_i64),
        })
    }

    /// Sends a request and reads its whole body, within the read timeout.
    async fn send(
        &self,
        request: Request<Full<Bytes>>,
    ) -> Result<(StatusCode, http::HeaderMap, Bytes), UpstreamError> {
        self.timed(async {
            let response = self.dispatch(request).await?;
            let (parts, body) = response.into_parts();
            let body = read_body(body, MAX_BODY_BYTES).await?;
            let body = decode_content(&parts.headers, body)?;
            Ok((parts.status, parts.headers, body))
        })
        .await
    }

    /// Sends a request; the answer's head is in, its body still to read.
    async fn dispatch(
        &self,
        mut request: Request<Full<Bytes>>,
    ) -> Result<http::Response<hyper::body::Incoming>, UpstreamError> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        if self.settings.accept_gzip {
            request.headers_mut().insert(
                header::ACCEPT_ENCODING,
                http::HeaderValue::from_static("gzip"),
            );
        }
        self.http
            .request(request)
            .await
            .map_err(|e| UpstreamError::Connect(describe_client_error(&e)))
    }

    /// Runs a whole exchange, body included, within the read timeout,
    /// once the gate has a place for it; the place is held to the end.
    /// (The read timeout starts with the place: waiting for one has its
    /// own limit.)
    async fn timed<T>(
        &self,
        exchange: impl std::future::Future<Output = Result<T, UpstreamError>>,
    ) -> Result<T, UpstreamError> {
        let _place = self.gate.enter().await?;
        let timeout = self.settings.read_timeout;
        tokio::time::timeout(timeout, exchange)
            .await
            .map_err(|_| UpstreamError::Timeout(timeout))?
    }
}

/// The most an upstream response may be, as sent and inflated. A page of
/// 10,000 wide transactions is about 12 MB; this bounds what a broken or
/// hostile answer (an endless body, or a "zip bomb" of a few kilobytes)
/// can make the gateway allocate.
const MAX_BODY_BYTES: u64 = 256 << 20;
const MAX_INFLATED_BYTES: u64 = MAX_BODY_BYTES;

/// Reads a whole response body of at most `limit` bytes; a longer one is
/// an invalid response, not an allocation without bound.
async fn read_body<B>(body: B, limit: u64) -> Result<Bytes, UpstreamError>
where
    B: hyper::body::Body<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    match http_body_util::Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(too_long(limit as u64)),
        Err(e) => Err(UpstreamError::Connect(format!("reading the response: {e}"))),
    }
}

fn too_long(limit: u64) -> UpstreamError {
    UpstreamError::InvalidResponse(format!("the body is longer than {limit} bytes"))
}

/// The body as sent, after undoing its `Content-Encoding` (gzip, the only
/// one the gateway asks for; none or `identity` pass through).
fn decode_content(headers: &http::HeaderMap, body: Bytes) -> Result<Bytes, UpstreamError> {
    match ContentEncoding::of(headers)? {
        ContentEncoding::Identity => Ok(body),
        // A 304 or HEAD answer may name the encoding its body would have had.
        ContentEncoding::Gzip if body.is_empty() => Ok(body),
        ContentEncoding::Gzip => gunzip(&body, MAX_INFLATED_BYTES).map(Bytes::from),
    }
}

/// How an answer's body is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentEncoding {
    /// As is (no `Content-Encoding`, or `identity`).
    Identity,
    /// gzip, the only encoding the gateway asks for.
    Gzip,
}

impl ContentEncoding {
    /// The encoding an answer names; any other than those asked for is an
    /// invalid answer.
    pub fn of(headers: &http::HeaderMap) -> Result<Self, UpstreamError> {
        let Some(value) = headers.get(header::CONTENT_ENCODING) else {
            return Ok(ContentEncoding::Identity);
        };
        let name = value.to_str().unwrap_or("(not text)").trim();
        if name.is_empty() || name.eq_ignore_ascii_case("identity") {
            Ok(ContentEncoding::Identity)
        } else if name.eq_ignore_ascii_case("gzip") {
            Ok(ContentEncoding::Gzip)
        } else {
            Err(UpstreamError::InvalidResponse(format!(
                "unrequested content encoding `{name}`"
            )))
        }
    }
}

/// Inflates a gzip body of at most `limit` bytes inflated.
fn gunzip(body: &[u8], limit: u64) -> Result<Vec<u8>, UpstreamError> {
    use std::io::Read;
    let mut inflated = Vec::with_capacity(body.len().saturating_mul(8).min(64 << 20));
    flate2::read::GzDecoder::new(body)
        .take(limit.saturating_add(1))
        .read_to_end(&mut inflated)
        .map_err(|e| UpstreamError::InvalidResponse(format!("gzip body: {e}")))?;
    if inflated.len() as u64 > limit {
        return Err(UpstreamError::InvalidResponse(format!(
            "gzip body inflates beyond {limit} bytes"
        )));
    }
    Ok(inflated)
}

/// A client error without the request (which carries the token).
fn describe_client_error(e: &hyper_util::client::legacy::Error) -> String {
    use std::error::Error;
    let mut text = if e.is_connect() {
        "connection failed".to_string()
    } else {
        "request failed".to_string()
    };
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// A `GET` of `uri` as the holder of `token`, conditional on
/// `if_none_match`.
fn get_request(
    uri: String,
    token: &str,
    if_none_match: Option<&str>,
) -> Result<Request<Full<Bytes>>, UpstreamError> {
    let mut builder = Request::builder()
        .method(Method::GET)
        .uri(uri)
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(header::ACCEPT, "application/json");
    if let Some(tag) = if_none_match {
        builder = builder.header(header::IF_NONE_MATCH, tag);
    }
    builder
        .body(Full::new(Bytes::new()))
        .map_err(|e| UpstreamError::InvalidResponse(format!("cannot build request: {e}")))
}

fn status_error(status: StatusCode, body: &Bytes) -> UpstreamError {
    UpstreamError::Status {
        status,
        message: summary(body),
    }
}

/// The error of a list or login request: a 404 there means no such API
/// (a wrong base URL or instance), not a missing record.
fn list_error(what: &str, status: StatusCode, body: &Bytes) -> UpstreamError {
    if status == StatusCode::NOT_FOUND {
        return UpstreamError::NoEndpoint(format!("{what}: {}", summary(body)));
    }
    status_error(status, body)
}

/// ZeyOS's error text as clients and the log may see it. ZeyOS sends
/// short messages (`Missing parameter: password`), as text or a JSON
/// string; whatever else a server or proxy in between may answer (an HTML
/// page, a stack trace, a request echoed with its token) is not passed
/// on: only the first line, at most 200 characters, nothing from an HTML
/// page, and every long unbroken run of letters and digits (a token, a
/// key) replaced.
fn summary(body: &Bytes) -> String {
    let text = String::from_utf8_lossy(body);
    let message = serde_json::from_str::<String>(&text).unwrap_or_else(|_| text.trim().to_string());
    let line = message.lines().next().unwrap_or_default().trim();
    if line.starts_with('<') || line.contains("<html") || line.contains("<pre") {
        return String::new();
    }
    let line: String = line.chars().take(200).collect();
    line.split(' ')
        .map(|word| {
            let secretish = word.len() >= 24
                && word.chars().all(|c| {
                    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/' | '+' | '=')
                });
            if secretish {
                "[…]"
            } else {
                word
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::upstream::gzip_for_tests as gzip;

    fn headers(encoding: Option<&'static str>) -> http::HeaderMap {
        let mut h = http::HeaderMap::new();
        if let Some(e) = encoding {
            h.insert(header::CONTENT_ENCODING, http::HeaderValue::from_static(e));
        }
        h
    }

    #[test]
    fn upstream_messages_are_passed_on_short_and_without_secrets() {
        let text = |s: &str| summary(&Bytes::copy_from_slice(s.as_bytes()));
        assert_eq!(
            text("Bad Request: Missing parameter: password"),
            "Bad Request: Missing parameter: password"
        );
        assert_eq!(
            text("\"Not Found: Unknown instance 'x'\""),
            "Not Found: Unknown instance 'x'"
        );
        assert_eq!(
            text("Error: Bearer 121e96b5cfcffd9e539a507921257a0476c0efec rejected\nTraceback"),
            "Error: Bearer […] rejected"
        );
        assert_eq!(text("<html><body>502 Bad Gateway</body></html>"), "");
        assert_eq!(text("Error <pre>Traceback (most recent call last)"), "");
        assert_eq!(text(&"x ".repeat(300)).chars().count(), 200);
    }

    #[test]
    fn gzipped_bodies_are_inflated_and_others_pass() {
        let page = br#"[{"ID":1,"name":"K\u00f6ln"}]"#.repeat(100);
        let gz = Bytes::from(gzip(&page));
        for encoding in ["gzip", "GZIP", " gzip "] {
            let out = decode_content(&headers(Some(encoding)), gz.clone()).unwrap();
            assert_eq!(&out[..], &page[..]);
        }
        let plain = Bytes::from(page.clone());
        for h in [headers(None), headers(Some("identity"))] {
            assert_eq!(decode_content(&h, plain.clone()).unwrap(), plain);
        }
        // A 304 naming the encoding its body would have had.
        assert!(decode_content(&headers(Some("gzip")), Bytes::new())
            .unwrap()
            .is_empty());
    }

    #[test]
    fn broken_unrequested_and_oversized_encodings_are_invalid_responses() {
        fn invalid<T: std::fmt::Debug>(r: Result<T, UpstreamError>) {
            assert!(matches!(r, Err(UpstreamError::InvalidResponse(_))), "{r:?}");
        }
        invalid(decode_content(
            &headers(Some("br")),
            Bytes::from_static(b"x"),
        ));
        invalid(decode_content(
            &headers(Some("gzip")),
            Bytes::from_static(b"not gzip"),
        ));
        let gz = gzip(&[b'a'; 10_000]);
        invalid(decode_content(
            &headers(Some("gzip")),
            Bytes::from(gz[..gz.len() / 2].to_vec()),
        ));
        // A small body that inflates past the limit (a "zip bomb").
        assert_eq!(gunzip(&gz, 10_000).unwrap().len(), 10_000);
        invalid(gunzip(&gz, 9_999));
    }

    #[tokio::test]
    async fn bodies_longer_than_the_limit_are_invalid_responses() {
        let body = || Full::new(Bytes::from(vec![b' '; 1_000]));
        assert_eq!(read_body(body(), 1_000).await.unwrap().len(), 1_000);
        let r = read_body(body(), 999).await;
        assert!(matches!(r, Err(UpstreamError::InvalidResponse(_))), "{r:?}");
    }
}

#[cfg(test)]
mod streaming_tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A one-shot server on loopback that answers the first request with
    /// `head` and the `chunks` of a chunked body, then closes.
    async fn answer_once(head: &'static str, chunks: Vec<Vec<u8>>, end: bool) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = vec![0u8; 64 * 1024];
            let _ = s.read(&mut buf).await;
            s.write_all(head.as_bytes()).await.unwrap();
            for c in chunks {
                s.write_all(format!("{:x}\r\n", c.len()).as_bytes())
                    .await
                    .unwrap();
                s.write_all(&c).await.unwrap();
                s.write_all(b"\r\n").await.unwrap();
                s.flush().await.unwrap();
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            if end {
                s.write_all(b"0\r\n\r\n").await.unwrap();
            }
        });
        format!("http://{addr}")
    }

    fn client(base_url: String) -> UpstreamClient {
        UpstreamClient::new(UpstreamSettings {
            base_url,
            instance: "demo".into(),
            appsecret: "x".into(),
            identifier: "test".into(),
            connect_timeout: Duration::from_secs(5),
            read_timeout: Duration::from_secs(5),
            max_limit: 10_000,
            accept_gzip: false,
            max_concurrent_requests: 8,
            queue_timeout: Duration::from_secs(5),
        })
    }

    const CHUNKED: &str =
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n";

    fn records(from: usize, to: usize) -> Vec<u8> {
        let rows: Vec<String> = (from..to)
            .map(|i| format!(r#"{{"ID":{i},"name":"{}"}}"#, "x".repeat(100)))
            .collect();
        rows.join(",").into_bytes()
    }

    #[tokio::test]
    async fn batches_come_as_the_body_arrives_and_a_broken_end_is_an_error() {
        let req = ListRequest::new("accounts");
        // Whole: two batches (the second chunk comes 20 ms after the first).
        let mut first = b"[".to_vec();
        first.extend(records(0, 300));
        let mut second = b",".to_vec();
        second.extend(records(300, 600));
        second.push(b']');
        let up = client(answer_once(CHUNKED, vec![first.clone(), second], true).await);
        let mut batches = Vec::new();
        up.list_batches("t", &req, |rows| batches.push(rows.len()))
            .await
            .unwrap();
        assert!(batches.len() >= 2, "{batches:?}");
        assert_eq!(batches.iter().sum::<usize>(), 600);

        // Broken off after the first chunk: its rows were handed over, and
        // the call still fails, so no caller takes them for the whole page.
        let up = client(answer_once(CHUNKED, vec![first.clone()], false).await);
        let mut got = 0;
        let r = up.list_batches("t", &req, |rows| got += rows.len()).await;
        assert!(r.is_err(), "{r:?}");
        assert!(got > 0);

        // Ended properly but the JSON is cut: invalid, not short.
        let up = client(answer_once(CHUNKED, vec![first], true).await);
        let r = up.list("t", &req).await;
        assert!(matches!(r, Err(UpstreamError::InvalidResponse(_))), "{r:?}");
    }
}
