//! The gateway: configuration turned into running services, and the
//! handling of one request from URL to response.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use serde_json::Value as Json;

use super::body::{self, Body};
use super::conditional;
use super::negotiate::{negotiate, JsonFormat, MetadataLevel, Representation, ResourceKind};
use super::skiptoken::TokenSigner;
use crate::bind::binder::{Binder, ExpandLimits};
use crate::bind::query::{BoundRequest, CollectionRef, EntityRef, Resource};
use crate::cache::ResponseCache;
use crate::config::{Config, StringOrdering};
use crate::edm::{Conversion, EdmType, MetadataDocuments, ServiceModel};
use crate::error::GatewayError;
use crate::exec::collection::{self, start_page, Continuation, ExecContext};
use crate::exec::expand::{expand_rows, ExpandSettings};
use crate::plan::collection::Planner;
use crate::plan::pushdown::FilterCapabilities;
use crate::serialize::entity::{write_structured, EntityWriter};
use crate::serialize::value::{write_key, write_property_value, write_str};
use crate::upstream::{
    Authenticator, Credential, Filter, Op, Principal, Row, UpstreamClient, UpstreamError,
    UpstreamSettings,
};
use crate::values::json_i64;

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
    cache: Option<ResponseCache>,
    auth: Authenticator,
    tokens: TokenSigner,
    limits: odata_syntax::Limits,
    expand_limits: ExpandLimits,
    caps: FilterCapabilities,
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
        }))
    }

    /// The response cache, unless caching is off. The write path calls its
    /// [`ResponseCache::invalidate_entity`].
    pub fn cache(&self) -> Option<&ResponseCache> {
        self.cache.as_ref()
    }

    /// Answers one request. Never fails: every error becomes an OData
    /// error response.
    pub async fn handle<B>(&self, req: Request<B>) -> (Response<Body>, RequestStats) {
        let calls = Arc::new(AtomicU64::new(0));
        let (parts, _body) = req.into_parts();
        let head = parts.method == Method::HEAD;
        let result = self.route(&parts, calls.clone()).await;
        let mut response = match result {
            Ok(r) => r,
            Err(e) => error_response(&e),
        };
        if head {
            *response.body_mut() = body::empty();
        }
        conditional::mark_private(response.headers_mut());
        set_odata_version(response.headers_mut());
        let stats = RequestStats {
            upstream_calls: calls.load(Ordering::Relaxed),
        };
        (response, stats)
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
        match parts.method {
            Method::GET | Method::HEAD => {}
            Method::POST | Method::PUT | Method::PATCH | Method::DELETE => {
                return Err(GatewayError::not_implemented(
                    "this gateway serves reads; creating, changing and deleting through it is not supported yet",
                    None::<String>,
                ))
            }
            _ => {
                return Err(GatewayError::MethodNotAllowed {
                    message: format!("{} is not supported", parts.method),
                    allow: "GET, HEAD",
                })
            }
        }
        let rel = &path[service.model.root.len()..];
        let raw_query = parts.uri.query();
        let target = match raw_query {
            Some(q) => format!("{rel}?{q}"),
            None => rel.to_string(),
        };
        let uri = odata_syntax::parse_uri(&target, &self.limits).map_err(parse_error)?;
        let bound =
            Binder::new(&service.model, &uri.query.aliases, self.expand_limits).bind(&uri)?;

        let credential = Credential::from_header(parts.headers.get(header::AUTHORIZATION))
            .map_err(|e| GatewayError::Unauthorized(format!("{e}: send your ZeyOS user name and password (HTTP Basic) or a ZeyOS token (Bearer)")))?;
        let principal = self
            .auth
            .authenticate(credential)
            .await
            .map_err(login_error)?;

        let req = RequestCtx {
            gateway: self,
            service,
            parts,
            rel,
            raw_query,
            service_root: self.service_root(parts, &service.model),
            calls,
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
        crate::cache::metrics::render(&mut text, snapshot.as_ref(), self.upstream.calls());
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
                let host = parts
                    .headers
                    .get(header::HOST)
                    .and_then(|h| h.to_str().ok())
                    .filter(|h| {
                        !h.is_empty()
                            && h.chars()
                                .all(|c| c.is_ascii_alphanumeric() || "-.:[]".contains(c))
                    })
                    .map(str::to_string)
                    .or_else(|| parts.uri.authority().map(|a| a.to_string()))
                    .unwrap_or_else(|| self.config.listen.to_string());
                format!("http://{host}")
            }
        };
        format!("{base}{}", model.root)
    }
}

/// One request being answered.
struct RequestCtx<'g> {
    gateway: &'g Gateway,
    service: &'g Service,
    parts: &'g http::request::Parts,
    rel: &'g str,
    raw_query: Option<&'g str>,
    service_root: String,
    calls: Arc<AtomicU64>,
}

impl RequestCtx<'_> {
    fn model(&self) -> &ServiceModel {
        &self.service.model
    }

    fn header(&self, name: header::HeaderName) -> Option<&str> {
        self.parts.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn max_version_4_0(&self) -> bool {
        self.header(header::HeaderName::from_static("odata-maxversion"))
            .is_some_and(|v| v.trim().starts_with("4.0"))
    }

    fn exec(&self, principal: Principal) -> ExecContext {
        ExecContext {
            upstream: self.gateway.upstream.clone(),
            principal,
            model: self.service.model.clone(),
            max_residual_scan: self.gateway.config.paging.max_residual_scan,
            calls: self.calls.clone(),
            cache: self.gateway.cache.as_ref().map(|c| {
                c.scope(
                    &self.service.model.name,
                    conditional::wants_fresh(&self.parts.headers),
                )
            }),
        }
    }

    fn planner(&self) -> Planner<'_> {
        Planner::new(self.model(), self.gateway.caps)
    }

    fn expand_settings(&self) -> ExpandSettings {
        ExpandSettings {
            batch_size: self.gateway.config.limits.expand_batch_size.max(1) as usize,
            caps: self.gateway.caps,
        }
    }

    async fn dispatch(
        &self,
        bound: &BoundRequest,
        principal: Principal,
    ) -> Result<Response<Body>, GatewayError> {
        let kind = match &bound.resource {
            Resource::Metadata => ResourceKind::Metadata,
            Resource::Count(_) | Resource::Property { raw: true, .. } => ResourceKind::RawValue,
            _ => ResourceKind::Data,
        };
        let accept = self.header(header::ACCEPT);
        let rep = negotiate(
            kind,
            bound.format.as_deref(),
            accept,
            self.max_version_4_0(),
        )?;
        match &bound.resource {
            Resource::ServiceDocument => Ok(json_response(
                StatusCode::OK,
                crate::edm::service_document::to_string(self.model(), &self.service_root),
                &json_format(rep).content_type(),
            )),
            Resource::Metadata => Ok(self.metadata(rep)),
            Resource::Collection(c) => self.collection(c, bound, json_format(rep), principal).await,
            Resource::Count(c) => self.count(c, bound, principal).await,
            Resource::Entity(e) => self.entity(e, bound, json_format(rep), principal).await,
            Resource::Property {
                entity,
                property,
                raw,
            } => {
                self.property(entity, *property, *raw, json_format(rep), principal)
                    .await
            }
        }
    }

    fn metadata(&self, rep: Representation) -> Response<Body> {
        let docs = &self.service.metadata;
        let (text, etag, ctype) = match rep {
            Representation::CsdlJson => (&docs.json, &docs.json_etag, "application/json"),
            _ => (&docs.xml, &docs.xml_etag, "application/xml"),
        };
        let mut r = if self
            .header(header::IF_NONE_MATCH)
            .is_some_and(|h| crate::edm::metadata::if_none_match(h, etag))
        {
            let mut r = Response::new(body::empty());
            *r.status_mut() = StatusCode::NOT_MODIFIED;
            r
        } else {
            json_response(StatusCode::OK, text.clone(), ctype)
        };
        if let Ok(v) = HeaderValue::from_str(etag) {
            r.headers_mut().insert(header::ETAG, v);
        }
        r
    }

    /// The ID of an entity reference, checking that it exists (and, for
    /// contained entities, that it belongs to its parent).
    async fn resolve(
        &self,
        ctx: &ExecContext,
        e: &EntityRef,
        expand: &[String],
    ) -> Result<Option<(Row, Option<String>)>, GatewayError> {
        let (set, key) = match e {
            EntityRef::Key { set, key } => (*set, *key),
            EntityRef::Contained {
                parent,
                field,
                set,
                key,
            } => {
                let Some((p, _)) = Box::pin(self.resolve(ctx, parent, &[])).await? else {
                    return Ok(None);
                };
                let pid = p.get("ID").and_then(json_i64);
                let Some(found) = self.get_member(ctx, *set, *key, expand).await? else {
                    return Ok(None);
                };
                if found.0.get(field).and_then(json_i64) != pid {
                    return Ok(None);
                }
                return Ok(Some(found));
            }
            EntityRef::Navigation {
                parent, field, set, ..
            } => {
                let Some((p, _)) = Box::pin(self.resolve(ctx, parent, &[])).await? else {
                    return Err(GatewayError::not_found(
                        "the entity does not exist",
                        None::<String>,
                    ));
                };
                match p.get(field).and_then(json_i64) {
                    Some(k) => (*set, k),
                    None => return Ok(None),
                }
            }
        };
        self.get_member(ctx, set, key, expand).await
    }

    /// A record of an entity set by key, if it exists and belongs to the set.
    async fn get_member(
        &self,
        ctx: &ExecContext,
        set: crate::edm::EntitySetId,
        key: i64,
        expand: &[String],
    ) -> Result<Option<(Row, Option<String>)>, GatewayError> {
        let es = self.model().set(set);
        let Some((row, etag)) = ctx.get(&es.upstream, key, expand).await? else {
            return Ok(None);
        };
        let in_set = es.base_filter.iter().all(|c| {
            let v = row.get(&c.field).cloned().unwrap_or(Json::Null);
            c.values
                .iter()
                .any(|x| x == &v || (json_i64(x).is_some() && json_i64(x) == json_i64(&v)))
        });
        Ok(in_set.then_some((row, etag)))
    }

    fn entity_not_found(&self, e: &EntityRef) -> GatewayError {
        let name = &self.model().set(e.set()).name;
        match e {
            EntityRef::Key { key, .. } | EntityRef::Contained { key, .. } => {
                GatewayError::not_found(
                    format!("{name}({key}) does not exist"),
                    Some(format!("{name}({key})")),
                )
            }
            EntityRef::Navigation { name: nav, .. } => {
                GatewayError::not_found(format!("the entity has no {nav}"), Some(nav.clone()))
            }
        }
    }

    fn json_fields(&self, set: crate::edm::EntitySetId, select: Option<&[usize]>) -> Vec<String> {
        let ty = self.model().entity_type(self.model().set(set).entity_type);
        ty.properties
            .iter()
            .enumerate()
            .filter(|(i, p)| {
                p.conversion == Conversion::Json && select.is_none_or(|s| s.contains(i))
            })
            .map(|(_, p)| p.upstream.clone())
            .collect()
    }

    async fn entity(
        &self,
        e: &EntityRef,
        bound: &BoundRequest,
        format: JsonFormat,
        principal: Principal,
    ) -> Result<Response<Body>, GatewayError> {
        let ctx = self.exec(principal);
        let set = e.set();
        let expand_fields = self.json_fields(set, bound.shape.select.as_deref());
        let Some((row, _)) = self.resolve(&ctx, e, &expand_fields).await? else {
            if matches!(e, EntityRef::Navigation { .. }) {
                let mut r = Response::new(body::empty());
                *r.status_mut() = StatusCode::NO_CONTENT;
                return Ok(r);
            }
            return Err(self.entity_not_found(e));
        };
        let mut row = row;
        if !bound.shape.dynamic.is_empty() {
            // A single-record read returns extdata only as a whole object;
            // read the named fields as a list does.
            let id = row.get("ID").and_then(json_i64).unwrap_or(0);
            let req = crate::upstream::ListRequest {
                entity: self.model().set(set).upstream.clone(),
                fields: bound
                    .shape
                    .dynamic
                    .iter()
                    .map(|d| (format!("extdata.{d}"), format!("extdata.{d}")))
                    .collect(),
                filter: Some(Filter::cond("ID", Op::Eq, id)),
                limit: Some(1),
                ..Default::default()
            };
            if let Some(extra) = ctx.list(req).await?.into_iter().next() {
                row.extend(extra);
            }
        }
        let mut rows = vec![row];
        if !bound.shape.expand.is_empty() {
            expand_rows(
                &ctx,
                self.expand_settings(),
                &bound.shape.expand,
                &mut rows,
                &[],
            )
            .await?;
        }
        let row = &rows[0];
        let writer = EntityWriter::new(
            self.model(),
            set,
            bound.shape.select.as_deref(),
            &bound.shape.expand,
            format,
            &self.service_root,
        )
        .with_dynamic(&bound.shape.dynamic);
        // The entity's own tag (from its modification time) validates the
        // entity alone; with $expand (or dynamic properties read by a list
        // request of their own) the response holds more, so its tag is a
        // hash of the whole body.
        let entity_tag = if bound.shape.expand.is_empty() && bound.shape.dynamic.is_empty() {
            writer.etag(row)
        } else {
            None
        };
        if let Some(tag) = &entity_tag {
            if conditional::none_match(&self.parts.headers, tag) {
                return Ok(not_modified(tag));
            }
        }
        let mut entity = Vec::with_capacity(512);
        writer.write(&mut entity, row);
        let mut out = Vec::with_capacity(entity.len() + 128);
        if format.metadata != MetadataLevel::None {
            out.extend_from_slice(b"{\"@odata.context\":");
            write_str(
                &mut out,
                &format!(
                    "{}$metadata#{}{}/$entity",
                    self.service_root,
                    self.model().set(set).name,
                    select_suffix(self.model(), set, bound.shape.select.as_deref())
                ),
            );
            if entity.len() > 2 {
                out.push(b',');
            }
            out.extend_from_slice(&entity[1..]);
        } else {
            out = entity;
        }
        let etag = entity_tag.unwrap_or_else(|| conditional::strong_etag(&out));
        if conditional::none_match(&self.parts.headers, &etag) {
            return Ok(not_modified(&etag));
        }
        let mut r = json_response(StatusCode::OK, out, &format.content_type());
        if let Ok(tag) = HeaderValue::from_str(&etag) {
            r.headers_mut().insert(header::ETAG, tag);
        }
        Ok(r)
    }

    async fn property(
        &self,
        e: &EntityRef,
        property: usize,
        raw: bool,
        format: JsonFormat,
        principal: Principal,
    ) -> Result<Response<Body>, GatewayError> {
        let ctx = self.exec(principal);
        let set = e.set();
        let ty = self.model().entity_type(self.model().set(set).entity_type);
        let prop = &ty.properties[property];
        let expand: Vec<String> = if prop.conversion == Conversion::Json {
            vec![prop.upstream.clone()]
        } else {
            Vec::new()
        };
        let Some((row, _)) = self.resolve(&ctx, e, &expand).await? else {
            return Err(self.entity_not_found(e));
        };
        let value = row.get(&prop.upstream).filter(|v| !v.is_null());
        if value.is_none() {
            let mut r = Response::new(body::empty());
            *r.status_mut() = StatusCode::NO_CONTENT;
            return Ok(r);
        }
        if raw {
            if matches!(prop.ty, EdmType::Complex(_) | EdmType::Collection(_)) {
                return Err(GatewayError::bad_request(
                    "InvalidPath",
                    format!(
                        "`{}` is structured; $value applies to primitive properties",
                        prop.name
                    ),
                    Some("$value"),
                ));
            }
            let mut buf = Vec::new();
            write_property_value(&mut buf, self.model(), prop, value, false);
            let text = match serde_json::from_slice::<Json>(&buf) {
                Ok(Json::String(s)) => s,
                Ok(other) => other.to_string(),
                Err(_) => String::from_utf8_lossy(&buf).into_owned(),
            };
            return Ok(json_response(
                StatusCode::OK,
                text,
                "text/plain;charset=utf-8",
            ));
        }
        let mut out = Vec::new();
        out.push(b'{');
        if format.metadata != MetadataLevel::None {
            let key = row.get("ID").and_then(json_i64).unwrap_or(0);
            write_key(&mut out, "@odata.context");
            write_str(
                &mut out,
                &format!(
                    "{}$metadata#{}({key})/{}",
                    self.service_root,
                    self.model().set(set).name,
                    prop.name
                ),
            );
            out.push(b',');
        }
        write_key(&mut out, "value");
        match (&prop.ty, prop.conversion) {
            (EdmType::Complex(_) | EdmType::Collection(_), Conversion::Json) => write_structured(
                &mut out,
                self.model(),
                &prop.ty,
                value,
                format.ieee754_compatible,
            ),
            _ => write_property_value(
                &mut out,
                self.model(),
                prop,
                value,
                format.ieee754_compatible,
            ),
        }
        out.push(b'}');
        Ok(json_response(StatusCode::OK, out, &format.content_type()))
    }

    /// The filter restricting a collection to its parent's members, after
    /// checking that the parent exists.
    async fn scope(
        &self,
        ctx: &ExecContext,
        c: &CollectionRef,
    ) -> Result<Vec<Filter>, GatewayError> {
        let Some((parent, field)) = &c.parent else {
            return Ok(Vec::new());
        };
        let Some((row, _)) = self.resolve(ctx, parent, &[]).await? else {
            return Err(self.entity_not_found(parent));
        };
        let id = row
            .get("ID")
            .and_then(json_i64)
            .ok_or_else(|| GatewayError::Internal("parent without ID".into()))?;
        Ok(vec![Filter::cond(field.clone(), Op::Eq, id)])
    }

    /// The query shape with lambdas answered by semi-joins where possible.
    async fn with_semijoins(
        &self,
        ctx: &ExecContext,
        set: crate::edm::EntitySetId,
        shape: &crate::bind::query::QueryShape,
    ) -> Result<crate::bind::query::QueryShape, GatewayError> {
        let mut shape = shape.clone();
        if let Some(f) = shape.filter.take() {
            shape.filter = Some(if f.has_lambda() {
                let ty = self.model().set(set).entity_type;
                crate::exec::semijoin::rewrite_lambdas(ctx, self.gateway.caps, ty, f).await?
            } else {
                f
            });
        }
        Ok(shape)
    }

    async fn count(
        &self,
        c: &CollectionRef,
        bound: &BoundRequest,
        principal: Principal,
    ) -> Result<Response<Body>, GatewayError> {
        let ctx = self.exec(principal);
        let scope = self.scope(&ctx, c).await?;
        let mut shape = self.with_semijoins(&ctx, c.set, &bound.shape).await?;
        shape.top = None;
        shape.skip = None;
        shape.orderby.clear();
        shape.expand.clear();
        shape.select = Some(Vec::new());
        shape.count = true;
        let plan = Arc::new(self.planner().collection(c.set, scope, &shape));
        let n = if plan.residual.is_none() {
            collection::upstream_count(&ctx, &plan).await?
        } else {
            let start = start_page(ctx, plan, None, 0).await?;
            start.count.unwrap_or(0)
        };
        Ok(json_response(
            StatusCode::OK,
            n.to_string(),
            "text/plain;charset=utf-8",
        ))
    }

    fn page_size(&self) -> (u64, Option<u64>) {
        let paging = &self.gateway.config.paging;
        let max = u64::from(paging.max_page_size.max(1));
        let default = u64::from(paging.default_page_size.max(1)).min(max);
        let preferred = self
            .parts
            .headers
            .get_all(header::HeaderName::from_static("prefer"))
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter_map(|v| odata_syntax::parse_prefer(v).ok())
            .flatten()
            .find_map(|p| match p {
                odata_syntax::Preference::MaxPageSize(n) => Some(n),
                _ => None,
            });
        match preferred {
            Some(n) if n > 0 => {
                let applied = n.min(max);
                (applied, Some(applied))
            }
            _ => (default, None),
        }
    }

    /// The request the skiptoken is bound to: absolute URL without it.
    fn binding(&self) -> String {
        format!(
            "{}{}?{}",
            self.service_root,
            self.rel,
            query_without_skiptoken(self.raw_query)
        )
    }

    async fn collection(
        &self,
        c: &CollectionRef,
        bound: &BoundRequest,
        format: JsonFormat,
        principal: Principal,
    ) -> Result<Response<Body>, GatewayError> {
        let ctx = self.exec(principal);
        let scope = self.scope(&ctx, c).await?;
        let shape = self.with_semijoins(&ctx, c.set, &bound.shape).await?;
        let plan = Arc::new(self.planner().collection(c.set, scope, &shape));
        if self
            .header(header::HeaderName::from_static("x-explain"))
            .is_some_and(|v| v != "0")
        {
            return Ok(json_response(
                StatusCode::OK,
                plan.to_json().to_string(),
                "application/json",
            ));
        }
        let cont: Option<Continuation> = match &bound.skiptoken {
            Some(t) => Some(self.gateway.tokens.verify(&self.binding(), t)?),
            None => None,
        };
        let (page_size, applied) = self.page_size();
        let start = start_page(ctx.clone(), plan.clone(), cont, page_size).await?;

        let set = c.set;
        let model = self.service.model.clone();
        let service_root = self.service_root.clone();
        let context = format!(
            "{}$metadata#{}{}",
            service_root,
            model.set(set).name,
            select_suffix(&model, set, bound.shape.select.as_deref())
        );
        let next_base = format!("{}{}", service_root, self.rel);
        let query_rest = query_without_skiptoken(self.raw_query);
        let binding = self.binding();
        let tokens = self.gateway.tokens.clone();
        let settings = self.expand_settings();
        let batch = if shape.expand.is_empty() {
            500
        } else {
            settings.batch_size.max(1)
        };

        let joined = plan.joined.clone();
        let (tx, body) = body::channel(4);
        // Pages up to ETAG_BUFFER_LIMIT are written whole before the
        // response starts, so that they get an entity tag over their bytes
        // (and errors get their status); larger pages stream without one.
        // The writer runs in this task until it says which; only a
        // streaming page moves on to a task of its own.
        let (head_tx, mut head_rx) = tokio::sync::oneshot::channel::<PageHead>();
        let mut head_tx = Some(head_tx);
        let mut rows = start.rows;
        let count = start.count;
        let mut page_writer = Box::pin(async move {
            let writer = EntityWriter::new(
                &model,
                set,
                shape.select.as_deref(),
                &shape.expand,
                format,
                &service_root,
            )
            .with_dynamic(&shape.dynamic);
            let mut out: Vec<u8> = Vec::with_capacity(64 * 1024);
            out.push(b'{');
            let mut need_comma = false;
            if format.metadata != MetadataLevel::None {
                write_key(&mut out, "@odata.context");
                write_str(&mut out, &context);
                need_comma = true;
            }
            if let Some(n) = count {
                if need_comma {
                    out.push(b',');
                }
                write_key(&mut out, "@odata.count");
                out.extend_from_slice(n.to_string().as_bytes());
                need_comma = true;
            }
            if need_comma {
                out.push(b',');
            }
            out.extend_from_slice(b"\"value\":[");
            let mut first = true;
            let result: Result<(), GatewayError> = async {
                loop {
                    let mut batch_rows = Vec::with_capacity(batch);
                    while batch_rows.len() < batch {
                        match rows.next().await? {
                            Some(r) => batch_rows.push(r),
                            None => break,
                        }
                    }
                    if batch_rows.is_empty() {
                        break;
                    }
                    if !shape.expand.is_empty() {
                        expand_rows(&ctx, settings, &shape.expand, &mut batch_rows, &joined)
                            .await?;
                    }
                    for r in &batch_rows {
                        if !first {
                            out.push(b',');
                        }
                        first = false;
                        writer.write(&mut out, r);
                    }
                    if out.len() >= 32 * 1024 {
                        let streaming = match head_tx.take() {
                            None => true,
                            Some(h) if out.len() >= ETAG_BUFFER_LIMIT => {
                                let _ = h.send(PageHead::Streaming);
                                true
                            }
                            Some(h) => {
                                head_tx = Some(h);
                                false
                            }
                        };
                        if streaming {
                            let chunk = Bytes::from(std::mem::take(&mut out));
                            if tx.send(Ok(chunk)).await.is_err() {
                                return Ok(());
                            }
                            out.reserve(64 * 1024);
                        }
                    }
                }
                out.push(b']');
                if let Some(next) = rows.continuation().await? {
                    let token = tokens.sign(&binding, &next);
                    let sep = if query_rest.is_empty() { "" } else { "&" };
                    let link = format!("{next_base}?{query_rest}{sep}$skiptoken={token}");
                    out.push(b',');
                    write_key(&mut out, "@odata.nextLink");
                    write_str(&mut out, &link);
                }
                out.push(b'}');
                Ok(())
            }
            .await;
            match (result, head_tx.take()) {
                (Ok(()), Some(h)) => {
                    let _ = h.send(PageHead::Complete(Bytes::from(out)));
                }
                (Ok(()), None) => {
                    let _ = tx.send(Ok(Bytes::from(out))).await;
                }
                (Err(e), Some(h)) => {
                    let _ = h.send(PageHead::Failed(e));
                }
                (Err(e), None) => {
                    tracing::warn!(error = %e, "response cut off after it had started");
                    let _ = tx.send(Err(std::io::Error::other(e.to_string()))).await;
                }
            }
        });
        let head = tokio::select! {
            biased;
            head = &mut head_rx => head,
            () = &mut page_writer => head_rx.await,
        };
        if matches!(head, Ok(PageHead::Streaming)) {
            tokio::spawn(page_writer);
        }
        let mut r = match head {
            Ok(PageHead::Complete(page)) => {
                let etag = conditional::strong_etag(&page);
                if conditional::none_match(&self.parts.headers, &etag) {
                    return Ok(not_modified(&etag));
                }
                let mut r = Response::new(body::full(page));
                if let Ok(v) = HeaderValue::from_str(&etag) {
                    r.headers_mut().insert(header::ETAG, v);
                }
                r
            }
            Ok(PageHead::Streaming) => Response::new(body),
            Ok(PageHead::Failed(e)) => return Err(e),
            Err(_) => return Err(GatewayError::Internal("the page writer stopped".into())),
        };
        if let Ok(v) = HeaderValue::from_str(&format.content_type()) {
            r.headers_mut().insert(header::CONTENT_TYPE, v);
        }
        if let Some(n) = applied {
            if let Ok(v) = HeaderValue::from_str(&format!("odata.maxpagesize={n}")) {
                r.headers_mut()
                    .insert(header::HeaderName::from_static("preference-applied"), v);
            }
        }
        Ok(r)
    }
}

/// Where `/metrics` is served, before any service.
const METRICS_PATH: &str = "/metrics";

/// Largest collection page kept whole to compute its entity tag; larger
/// pages are streamed as they are written and carry no `ETag`.
const ETAG_BUFFER_LIMIT: usize = 1 << 20;

/// How a collection page begins, as its writer reports it.
enum PageHead {
    /// The whole page: it ended before reaching [`ETAG_BUFFER_LIMIT`]
    /// (checked after each batch of rows).
    Complete(Bytes),
    /// The page is larger and follows through the body channel.
    Streaming,
    /// The page failed before anything was sent.
    Failed(GatewayError),
}

/// A 304 for a request whose `If-None-Match` matched `etag`.
fn not_modified(etag: &str) -> Response<Body> {
    let mut r = Response::new(body::empty());
    *r.status_mut() = StatusCode::NOT_MODIFIED;
    if let Ok(v) = HeaderValue::from_str(etag) {
        r.headers_mut().insert(header::ETAG, v);
    }
    r
}

/// The `(p1,p2)` part of a context URL for a `$select`.
fn select_suffix(
    model: &ServiceModel,
    set: crate::edm::EntitySetId,
    select: Option<&[usize]>,
) -> String {
    let Some(select) = select else {
        return String::new();
    };
    let ty = model.entity_type(model.set(set).entity_type);
    let names: Vec<&str> = select
        .iter()
        .filter_map(|i| ty.properties.get(*i))
        .map(|p| p.name.as_str())
        .collect();
    format!("({})", names.join(","))
}

/// The raw query string without `$skiptoken` (in any spelling).
fn query_without_skiptoken(raw: Option<&str>) -> String {
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

fn json_format(rep: Representation) -> JsonFormat {
    match rep {
        Representation::Json(f) => f,
        _ => JsonFormat::default(),
    }
}

fn json_response(
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

fn set_odata_version(headers: &mut HeaderMap) {
    headers.insert(
        header::HeaderName::from_static("odata-version"),
        HeaderValue::from_static("4.0"),
    );
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
    r
}

fn parse_error(e: odata_syntax::ParseError) -> GatewayError {
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

fn login_error(e: UpstreamError) -> GatewayError {
    match &e {
        // 401/403 at login: wrong credentials. Other client errors mean the
        // gateway's login request itself is wrong (e.g. a missing appsecret
        // in config.toml): the upstream side's fault, not the client's.
        UpstreamError::Status { status, .. }
            if *status == StatusCode::UNAUTHORIZED || *status == StatusCode::FORBIDDEN =>
        {
            GatewayError::Unauthorized("ZeyOS did not accept the user name and password".into())
        }
        _ => GatewayError::Upstream(e),
    }
}

/// Time of a request, for the log.
pub fn elapsed_ms(start: Instant) -> f64 {
    start.elapsed().as_secs_f64() * 1000.0
}
