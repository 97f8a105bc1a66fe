//! The gateway: configuration turned into running services, and the
//! handling of one request from URL to response.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use serde_json::Value as Json;

use super::admission::{self, Admission};
use super::body::{self, Body};
use super::conditional;
use super::query_in_body;
use super::request::RequestCtx;
use super::request_metrics::RequestMetrics;
use super::response::{json_response, login_error, parse_error, set_odata_version, METRICS_PATH};
use super::skiptoken::TokenSigner;
use super::version;
use crate::bind::binder::{Binder, ExpandLimits};
use crate::bind::query::{BoundRequest, PropertyForm, Resource};
use crate::cache::ResponseCache;
use crate::config::{Config, StringOrdering};
use crate::edm::{EdmType, MetadataDocuments, ServiceModel};
use crate::error::GatewayError;
use crate::exec::join_access::JoinAccess;
use crate::plan::pushdown::FilterCapabilities;
use crate::upstream::{
    Authenticator, Credential, Principal, UpstreamClient, UpstreamError, UpstreamSettings,
};

/// One OData service with its prepared metadata documents.
pub struct Service {
    /// The model.
    pub model: Arc<ServiceModel>,
    /// `$metadata` in both formats with their ETags.
    pub metadata: MetadataDocuments,
}

/// Everything requests share, built once from the configuration.
pub struct Gateway {
    /// The validated configuration.
    pub config: Config,
    /// The services, in configuration order.
    pub services: Vec<Service>,
    /// The ZeyOS client.
    pub upstream: Arc<UpstreamClient>,
    /// The response cache; `None` when `cache.enabled = false`.
    pub(super) cache: Option<ResponseCache>,
    pub(super) auth: Authenticator,
    pub(super) tokens: TokenSigner,
    pub(super) limits: odata_syntax::Limits,
    pub(super) expand_limits: ExpandLimits,
    pub(super) caps: FilterCapabilities,
    /// Answered requests by status and time, for `/metrics`.
    pub(super) requests: Arc<RequestMetrics>,
    /// Who may read what joins reach (`exec::join_access`).
    pub(super) join_access: Arc<JoinAccess>,
    /// Places for client requests (`max_requests_in_progress`).
    pub(super) admission: Admission,
}

/// Why the gateway could not be built.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The configuration does not describe valid services.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
}

/// What the request log records about a request.
#[derive(Debug, Clone, Default)]
pub struct RequestStats {
    /// Upstream requests made.
    pub upstream_calls: u64,
}

impl Gateway {
    /// Builds the services of a configuration.
    pub fn new(config: Config) -> Result<Arc<Gateway>, StartError> {
        let models = config.service_models()?;
        let services = models
            .into_iter()
            .map(|m| {
                let metadata = MetadataDocuments::new(&m);
                Service {
                    model: Arc::new(m),
                    metadata,
                }
            })
            .collect();
        let up = &config.upstream;
        let upstream = Arc::new(UpstreamClient::new(UpstreamSettings {
            base_url: up.base_url.clone(),
            instance: up.instance.clone(),
            appsecret: up
                .appsecret
                .as_ref()
                .map(|s| s.expose().to_string())
                .unwrap_or_default(),
            identifier: up.identifier.clone(),
            connect_timeout: Duration::from_millis(up.connect_timeout_ms),
            read_timeout: Duration::from_millis(up.read_timeout_ms),
            max_limit: up.max_limit,
            accept_gzip: up.accept_gzip,
            max_concurrent_requests: up.max_concurrent_requests as usize,
            queue_timeout: Duration::from_millis(up.queue_timeout_ms),
        }));
        let auth = Authenticator::new(
            upstream.clone(),
            Duration::from_secs(up.auth.token_ttl_secs.max(1)),
        );
        let tokens = TokenSigner::new(config.paging.skiptoken_secret.as_ref().map(|s| s.expose()));
        let l = &config.limits;
        let limits = odata_syntax::Limits {
            max_url_length: l.max_url_length,
            max_depth: l.max_expression_depth as usize,
            max_nodes: l.max_expression_nodes as usize,
        };
        let expand_limits = ExpandLimits {
            max_depth: l.max_expand_depth as usize,
            max_breadth: l.max_expand_breadth as usize,
        };
        let caps = FilterCapabilities {
            binary_string_order: up.string_ordering == StringOrdering::Binary,
        };
        let cache = config.cache.enabled.then(|| {
            ResponseCache::new(
                &config.cache,
                &up.instance,
                Duration::from_millis(up.read_timeout_ms),
            )
        });
        let admission = Admission::new(config.max_requests_in_progress);
        Ok(Arc::new(Gateway {
            config,
            services,
            upstream,
            cache,
            auth,
            tokens,
            limits,
            expand_limits,
            caps,
            requests: Arc::default(),
            join_access: Arc::default(),
            admission,
        }))
    }

    /// The response cache, unless caching is off. The write path calls its
    /// [`ResponseCache::invalidate_entity`].
    pub fn cache(&self) -> Option<&ResponseCache> {
        self.cache.as_ref()
    }

    /// Answers one request. Never fails: every error becomes an OData
    /// error response. Only a `$batch` and a `POST .../$query` (a read
    /// with its query options in the body) have their bodies read; every
    /// other request is a read, answered from its head.
    ///
    /// Requests beyond `max_requests_in_progress` are refused here, before
    /// anything of theirs is read; `/metrics` always answers.
    pub async fn handle<B>(&self, req: Request<B>) -> (Response<Body>, RequestStats)
    where
        B: http_body::Body<Data = Bytes>,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        if let Err(e) = host_is_usable(&req) {
            return finish(Err(e), req.method() == Method::HEAD, 0);
        }
        if req.uri().path() == METRICS_PATH {
            return self.handle_admitted(req).await;
        }
        let Some(place) = self.admission.try_admit() else {
            let limit = self.admission.limit();
            return finish(
                Err(GatewayError::Overloaded { limit }),
                req.method() == Method::HEAD,
                0,
            );
        };
        let (response, stats) = self.handle_admitted(req).await;
        (response.map(|b| admission::holding(b, place)), stats)
    }

    async fn handle_admitted<B>(&self, req: Request<B>) -> (Response<Body>, RequestStats)
    where
        B: http_body::Body<Data = Bytes>,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let (parts, body) = req.into_parts();
        if parts.method == Method::POST {
            if let Some(service) = self.batch_service(parts.uri.path()) {
                let limit = self.batch_body_limit();
                let (result, calls) = match Limited::new(body, limit).collect().await {
                    Ok(collected) => self.batch(&parts, service, collected.to_bytes()).await,
                    Err(e) => (Err(body_error(e.as_ref(), limit)), 0),
                };
                return finish(result, false, calls);
            }
            if let Some(resource) = query_in_body::resource_of(parts.uri.path()) {
                // The body is a URL's query: it may be as long as a URL.
                let limit = self.config.limits.max_url_length;
                let get = match Limited::new(body, limit).collect().await {
                    Ok(collected) => query_in_body::as_get(&parts, resource, &collected.to_bytes()),
                    Err(e) if e.is::<LengthLimitError>() => Err(GatewayError::PayloadTooLarge(
                        format!("the query options are longer than {limit} bytes (limits.max_url_length)"),
                    )),
                    Err(e) => Err(GatewayError::bad_request(
                        "InvalidQueryBody",
                        format!("the body could not be read: {e}"),
                        Some("$query"),
                    )),
                };
                return match get {
                    Ok(get) => self.handle_parts(&get).await,
                    Err(e) => {
                        // Credentials first, as for every request: no
                        // 415 or 413 to a caller who would get 401.
                        let e = match self.principal(&parts).await {
                            Err(refused) => refused,
                            Ok(_) => e,
                        };
                        let (mut response, stats) = finish(Err(e), false, 0);
                        challenge_bearer(&parts, &mut response);
                        (response, stats)
                    }
                };
            }
        }
        self.handle_parts(&parts).await
    }

    /// Answers a request from its head: every request but a batch, and
    /// each request inside one.
    pub(super) async fn handle_parts(
        &self,
        parts: &http::request::Parts,
    ) -> (Response<Body>, RequestStats) {
        let calls = Arc::new(AtomicU64::new(0));
        let result = self.route(parts, calls.clone()).await;
        let (mut response, stats) = finish(
            result,
            parts.method == Method::HEAD,
            calls.load(Ordering::Relaxed),
        );
        challenge_bearer(parts, &mut response);
        (response, stats)
    }

    /// The service whose `$batch` resource `path` is.
    fn batch_service(&self, path: &str) -> Option<&Service> {
        self.services.iter().find(|s| {
            path.strip_prefix(s.model.root.as_str())
                .is_some_and(is_batch)
        })
    }

    /// The largest batch body read: room for the most requests a batch
    /// may hold, each with a URL of the longest length and some headers.
    fn batch_body_limit(&self) -> usize {
        let l = &self.config.limits;
        (l.max_batch_requests as usize).saturating_mul(l.max_url_length.saturating_add(4096))
    }

    /// The principal a request's credentials stand for.
    pub(super) async fn principal(
        &self,
        parts: &http::request::Parts,
    ) -> Result<Principal, GatewayError> {
        // Two credentials: which one a proxy in between saw is anyone's
        // guess, so neither is used.
        if parts
            .headers
            .get_all(header::AUTHORIZATION)
            .iter()
            .nth(1)
            .is_some()
        {
            return Err(GatewayError::bad_request(
                "InvalidCredentials",
                "the request has more than one Authorization header; send one",
                Some("Authorization"),
            ));
        }
        let credential = Credential::from_header(parts.headers.get(header::AUTHORIZATION))
            .map_err(|e| GatewayError::Unauthorized(format!("{e}: send your ZeyOS user name and password (HTTP Basic) or a ZeyOS token (Bearer)")))?;
        let bearer = matches!(credential, Credential::Bearer(_));
        self.auth
            .authenticate(credential)
            .await
            .map_err(|e| match e {
                UpstreamError::Status { status, .. }
                    if bearer
                        && (status == StatusCode::UNAUTHORIZED
                            || status == StatusCode::FORBIDDEN) =>
                {
                    GatewayError::Unauthorized("ZeyOS did not accept the bearer token".into())
                }
                e => login_error(e),
            })
    }

    async fn route(
        &self,
        parts: &http::request::Parts,
        calls: Arc<AtomicU64>,
    ) -> Result<Response<Body>, GatewayError> {
        let path = parts.uri.path();
        if path == METRICS_PATH {
            return self.metrics(parts).await;
        }
        let Some(service) = self.services.iter().find(|s| {
            path.starts_with(s.model.root.as_str()) || path == s.model.root.trim_end_matches('/')
        }) else {
            if path == "/" {
                if parts.method != Method::GET && parts.method != Method::HEAD {
                    return Err(GatewayError::MethodNotAllowed {
                        message: format!(
                            "{} is not supported on the list of services",
                            parts.method
                        ),
                        allow: "GET, HEAD",
                    });
                }
                return Ok(self.index());
            }
            return Err(GatewayError::not_found(
                format!(
                    "no OData service at {path}; services: {}",
                    self.roots().join(", ")
                ),
                None::<String>,
            ));
        };
        if path == service.model.root.trim_end_matches('/') {
            // `/odata` without the slash: relative URLs need the slash.
            let mut r = Response::new(body::empty());
            *r.status_mut() = StatusCode::MOVED_PERMANENTLY;
            if let Ok(v) = HeaderValue::from_str(&service.model.root) {
                r.headers_mut().insert(header::LOCATION, v);
            }
            return Ok(r);
        }
        let modifies = match parts.method {
            Method::GET | Method::HEAD => false,
            Method::POST | Method::PUT | Method::PATCH | Method::DELETE => true,
            _ => {
                let rel = &path[service.model.root.len()..];
                let allow = if is_batch(rel) || query_in_body::resource_of(path).is_some() {
                    "POST"
                } else {
                    "GET, HEAD"
                };
                return Err(GatewayError::MethodNotAllowed {
                    message: format!("{} is not supported", parts.method),
                    allow,
                });
            }
        };
        let version_header = |name: &'static str| {
            parts
                .headers
                .get(name)
                .map(|v| v.to_str().unwrap_or("(not ASCII)"))
        };
        version::check(
            version_header("odata-version"),
            version_header("odata-maxversion"),
        )?;
        // Who asks comes first: without credentials every request is 401
        // (the challenge Excel and Power BI need), and the model's names
        // are not given away in the errors of unauthenticated requests.
        let principal = self.principal(parts).await?;
        if let Some(resource) = query_in_body::resource_of(path) {
            // A POST to `/$query` was answered before routing; any other
            // method is 405, once the resource it names exists.
            let rel = resource.get(service.model.root.len()..).unwrap_or_default();
            self.bind(service, rel)?;
            return Err(GatewayError::MethodNotAllowed {
                message: format!(
                    "{} is not defined on $query; POST the query options in the body",
                    parts.method
                ),
                allow: "POST",
            });
        }
        let rel = &path[service.model.root.len()..];
        let raw_query = parts.uri.query();
        let target = match raw_query {
            Some(q) => format!("{rel}?{q}"),
            None => rel.to_string(),
        };
        let bound = self.bind(service, &target)?;
        if modifies {
            // Addressed like a read first, so that a misspelt set is 404
            // and `$metadata` is 405, whatever the method.
            return Err(modification_refused(
                &service.model,
                &bound.resource,
                &parts.method,
            ));
        }

        let req = RequestCtx {
            gateway: self,
            service,
            parts,
            rel,
            raw_query,
            service_root: self.service_root(parts, &service.model),
            calls,
            now: crate::values::DateTime::now_utc(),
        };
        match req.dispatch(&bound, principal.clone()).await {
            // A cached token ZeyOS no longer accepts: log in again once.
            Err(GatewayError::Upstream(UpstreamError::Status { status, .. }))
                if status == StatusCode::UNAUTHORIZED =>
            {
                match self.auth.refresh(&principal).await {
                    Some(Ok(p)) => req.dispatch(&bound, p).await,
                    Some(Err(e)) => Err(login_error(e)),
                    None => Err(GatewayError::Unauthorized(
                        "ZeyOS rejected the bearer token".into(),
                    )),
                }
            }
            other => other,
        }
    }

    /// Parses a URL relative to a service root and binds it to the model.
    fn bind(&self, service: &Service, target: &str) -> Result<BoundRequest, GatewayError> {
        let uri = odata_syntax::parse_uri(target, &self.limits).map_err(parse_error)?;
        Binder::new(&service.model, &uri.query.aliases, self.expand_limits)
            .with_syntax_limits(self.limits)
            .bind(&uri)
    }

    /// `/metrics`: Prometheus text, without authentication (it holds
    /// counts and sizes only).
    async fn metrics(&self, parts: &http::request::Parts) -> Result<Response<Body>, GatewayError> {
        if parts.method != Method::GET && parts.method != Method::HEAD {
            return Err(GatewayError::MethodNotAllowed {
                message: format!("{} is not supported on {METRICS_PATH}", parts.method),
                allow: "GET, HEAD",
            });
        }
        let snapshot = match &self.cache {
            Some(c) => {
                // Sizes are settled by moka's housekeeping; settle them now.
                c.run_pending_tasks().await;
                Some(c.metrics())
            }
            None => None,
        };
        let mut text = String::with_capacity(2048);
        crate::cache::metrics::render(
            &mut text,
            snapshot.as_ref(),
            self.upstream.calls(),
            self.upstream.gate_stats(),
        );
        self.requests.render(&mut text);
        self.admission.render(&mut text);
        let mut r = json_response(
            StatusCode::OK,
            text,
            "text/plain; version=0.0.4; charset=utf-8",
        );
        r.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        Ok(r)
    }

    fn roots(&self) -> Vec<String> {
        self.services.iter().map(|s| s.model.root.clone()).collect()
    }

    fn index(&self) -> Response<Body> {
        let services: Vec<Json> = self
            .services
            .iter()
            .map(|s| serde_json::json!({"name": s.model.name, "url": s.model.root, "title": s.model.title}))
            .collect();
        json_response(
            StatusCode::OK,
            serde_json::json!({ "services": services }).to_string(),
            "application/json",
        )
    }

    fn service_root(&self, parts: &http::request::Parts, model: &ServiceModel) -> String {
        let base = match &self.config.public_url {
            Some(u) => u.trim_end_matches('/').to_string(),
            None => {
                // An absolute request target names the host; Host is then
                // ignored (RFC 9112 3.2.2). `host_is_usable` has checked it.
                let host = parts
                    .uri
                    .authority()
                    .map(|a| a.to_string())
                    .or_else(|| {
                        parts
                            .headers
                            .get(header::HOST)
                            .and_then(|h| h.to_str().ok())
                            .filter(|h| {
                                !h.is_empty()
                                    && h.chars()
                                        .all(|c| c.is_ascii_alphanumeric() || "-.:[]".contains(c))
                            })
                            .map(str::to_string)
                    })
                    .or_else(|| {
                        parts
                            .extensions
                            .get::<super::serve::LocalAddr>()
                            .map(|a| a.0.to_string())
                    })
                    .unwrap_or_else(|| self.config.listen.to_string());
                format!("http://{host}")
            }
        };
        format!("{base}{}", model.root)
    }
}

pub use super::response::{elapsed_ms, error_response};

/// The answer to a data modification, alone or in a batch's change set.
pub(super) const WRITES_NOT_SUPPORTED: &str =
    "this gateway serves reads; creating, changing and deleting through it is not supported yet";

/// The answer to a POST, PUT, PATCH or DELETE of a resource that exists:
/// 501 where the protocol defines that modification (Protocol 11.4:
/// creating in a collection, updating or deleting an entity, a property,
/// a raw value or a reference), which the gateway does not do yet; 405
/// where it does not (the service document, `$metadata` and counts change
/// by no method; no entity is created by a POST to an entity, nor a
/// collection replaced by a PUT or deleted without `/$each`; a PATCH of a
/// collection property or of a primitive, a POST to a single value), since
/// no later version of the gateway will accept those either.
fn modification_refused(
    model: &ServiceModel,
    resource: &Resource,
    method: &Method,
) -> GatewayError {
    let is = |m: Method| *method == m;
    let (defined, what) = match resource {
        Resource::ServiceDocument => (false, "the service document"),
        Resource::Metadata => (false, "$metadata"),
        Resource::Count(_) => (false, "/$count"),
        Resource::Property {
            form: PropertyForm::Count,
            ..
        } => (false, "/$count"),
        // POST creates (11.4.2), PATCH applies a delta (11.4.12).
        Resource::Collection(_) => (
            is(Method::POST) || is(Method::PATCH),
            "a collection of entities",
        ),
        Resource::Entity(_) => (!is(Method::POST), "an entity"),
        // PUT replaces a raw value, DELETE sets it to null (11.4.9.1-2).
        Resource::Property {
            form: PropertyForm::Raw,
            ..
        } => (is(Method::PUT) || is(Method::DELETE), "a raw value"),
        Resource::Property {
            entity, property, ..
        } => {
            let ty = &model
                .entity_type(model.set(entity.set()).entity_type)
                .properties
                .get(*property)
                .map(|p| p.ty.clone());
            match ty {
                // PUT replaces, POST adds, DELETE empties (11.4.9.4).
                Some(EdmType::Collection(_)) => (!is(Method::PATCH), "a collection property"),
                // PATCH merges into a complex value (11.4.9.3).
                Some(EdmType::Complex(_)) => (!is(Method::POST), "a complex property"),
                _ => (
                    is(Method::PUT) || is(Method::DELETE),
                    "a primitive property",
                ),
            }
        }
        Resource::CollectionReferences(_) => (is(Method::POST) || is(Method::DELETE), "references"),
        Resource::EntityReference(_) => (is(Method::PUT) || is(Method::DELETE), "a reference"),
    };
    if defined {
        GatewayError::not_implemented(WRITES_NOT_SUPPORTED, None::<String>)
    } else {
        GatewayError::MethodNotAllowed {
            message: format!("{method} is not defined on {what}"),
            allow: "GET, HEAD",
        }
    }
}

/// The response for a route's result, with the headers every response
/// carries.
fn finish(
    result: Result<Response<Body>, GatewayError>,
    head: bool,
    upstream_calls: u64,
) -> (Response<Body>, RequestStats) {
    let mut response = match result {
        Ok(r) => r,
        Err(e) => error_response(&e),
    };
    if head {
        *response.body_mut() = body::empty();
    }
    conditional::mark_private(response.headers_mut());
    set_odata_version(response.headers_mut());
    (response, RequestStats { upstream_calls })
}

/// A rejected bearer token is told so in its own scheme (RFC 6750 3.1),
/// beside the Basic challenge every 401 carries (which Excel and Power BI
/// need to ask for a user name and password).
fn challenge_bearer(parts: &http::request::Parts, response: &mut Response<Body>) {
    let bearer = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim_start().get(..7))
        .is_some_and(|scheme| scheme.eq_ignore_ascii_case("bearer "));
    if bearer && response.status() == StatusCode::UNAUTHORIZED {
        response.headers_mut().append(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"ZeyOS OData\", error=\"invalid_token\""),
        );
    }
}

/// The `Host` rules of RFC 9112 3.2: an HTTP/1.1 request needs one (unless
/// its target is in absolute form), and no request may have two. The host
/// names the URLs the gateway writes (`@odata.context`, nextLinks), and two
/// of them are how a proxy and the gateway are made to disagree about
/// which host a response, and its links, belong to.
fn host_is_usable<B>(req: &Request<B>) -> Result<(), GatewayError> {
    let invalid = |why: &str| {
        Err(GatewayError::bad_request(
            "InvalidHost",
            format!("{why} (RFC 9112 3.2)"),
            Some("Host"),
        ))
    };
    let mut hosts = req.headers().get_all(header::HOST).iter();
    let first = hosts.next();
    if hosts.next().is_some() {
        return invalid("the request has more than one Host header");
    }
    match first {
        None if req.version() == http::Version::HTTP_11 => {
            invalid("an HTTP/1.1 request needs a Host header")
        }
        None => Ok(()),
        Some(value) => {
            // host [ ":" port ]: no user, path, spaces or list.
            let usable = value
                .to_str()
                .ok()
                .filter(|h| !h.is_empty() && !h.contains('@'))
                .and_then(|h| h.parse::<http::uri::Authority>().ok())
                .is_some_and(|a| {
                    // What follows the host (an IPv6 literal's `]`, else
                    // the last `:`) must be nothing or `:` and a port.
                    let text = a.as_str();
                    let after = match text.strip_prefix('[') {
                        Some(_) => text.rfind(']').map(|i| &text[i + 1..]),
                        None => text.rfind(':').map(|i| &text[i..]),
                    };
                    match after {
                        None | Some("") => true,
                        Some(port) => port
                            .strip_prefix(':')
                            .is_some_and(|p| p.parse::<u16>().is_ok()),
                    }
                });
            if usable {
                Ok(())
            } else {
                invalid("the Host header is not a host with an optional port")
            }
        }
    }
}

/// Why a batch body could not be read.
fn body_error(e: &(dyn std::error::Error + Send + Sync + 'static), limit: usize) -> GatewayError {
    if e.is::<LengthLimitError>() {
        GatewayError::PayloadTooLarge(format!(
            "the batch is larger than {limit} bytes; split it into smaller batches"
        ))
    } else {
        GatewayError::bad_request(
            "InvalidBatch",
            format!("the batch body could not be read: {e}"),
            Some("$batch"),
        )
    }
}

/// Whether the resource path (after the service root) is `$batch`,
/// possibly with its `$` percent-encoded.
pub(super) fn is_batch(resource: &str) -> bool {
    let encoded = resource
        .get(..3)
        .is_some_and(|p| p.eq_ignore_ascii_case("%24"))
        && resource.get(3..) == Some("batch");
    resource == "$batch" || encoded
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_host_is_a_host_with_an_optional_port() {
        let with_host = |host: &str| {
            Request::get("/odata/")
                .header(header::HOST, host)
                .body(())
                .map(|r| host_is_usable(&r).is_ok())
                .unwrap_or(false)
        };
        for good in [
            "example.com",
            "example.com:8080",
            "127.0.0.1",
            "[::1]:80",
            "[::1]",
        ] {
            assert!(with_host(good), "{good}");
        }
        for bad in [
            "",
            "a b",
            "a\"b",
            "a, b",
            "evil.com/x?y=",
            "user@evil.com",
            "a:xyz",
            "a:99999",
        ] {
            assert!(!with_host(bad), "{bad:?}");
        }
        let absolute = Request::get("http://abs.example/odata/").body(()).ok();
        assert!(absolute.is_some_and(|r| host_is_usable(&r).is_err()));
        let old = Request::get("/odata/")
            .version(http::Version::HTTP_10)
            .body(())
            .ok();
        assert!(old.is_some_and(|r| host_is_usable(&r).is_ok()));
    }
}
