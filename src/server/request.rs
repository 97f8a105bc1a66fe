//! One request being answered: the per-request context every handler
//! shares (its service, principal-bound upstream access, planner and
//! negotiation helpers), and the resolution of entity references.

use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use http::header::{self, HeaderValue};
use http::{Response, StatusCode};
use odata_syntax::decode::PlusMode;
use serde_json::Value as Json;

use super::gateway::{Gateway, Service};

use super::body::{self, Body};
use super::conditional;
use super::negotiate::{negotiate, Representation, ResourceKind};
use super::response::{canonical_query, json_format, json_response};
use super::version::ODataVersion;
use crate::bind::query::{BoundRequest, CollectionRef, EntityRef, PropertyForm, Resource};
use crate::edm::{Conversion, ServiceModel};
use crate::error::GatewayError;
use crate::exec::collection::ExecContext;
use crate::exec::expand::ExpandSettings;
use crate::plan::collection::Planner;
use crate::upstream::{Filter, Op, Principal, Row};
use crate::values::{field_i64, json_i64, DateTime};

/// One request being answered.
pub(super) struct RequestCtx<'g> {
    pub(super) gateway: &'g Gateway,
    pub(super) service: &'g Service,
    pub(super) parts: &'g http::request::Parts,
    pub(super) rel: &'g str,
    pub(super) raw_query: Option<&'g str>,
    pub(super) service_root: String,
    pub(super) calls: Arc<AtomicU64>,
    /// When the request arrived: `now()` in its expressions.
    pub(super) now: DateTime,
}

impl RequestCtx<'_> {
    pub(super) fn model(&self) -> &ServiceModel {
        &self.service.model
    }

    pub(super) fn header(&self, name: header::HeaderName) -> Option<&str> {
        self.parts.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Whether the client reads nothing newer than 4.0 (so no CSDL JSON).
    pub(super) fn max_version_4_0(&self) -> bool {
        self.header(header::HeaderName::from_static("odata-maxversion"))
            .and_then(ODataVersion::parse)
            .is_some_and(|v| v < ODataVersion::V4_01)
    }

    pub(super) fn exec(&self, principal: Principal) -> ExecContext {
        ExecContext {
            upstream: self.gateway.upstream.clone(),
            principal,
            model: self.service.model.clone(),
            max_residual_scan: self.gateway.config.paging.max_residual_scan,
            calls: self.calls.clone(),
            now: self.now,
            join_access: self.gateway.join_access.clone(),
            cache: self.gateway.cache.as_ref().map(|c| {
                c.scope(
                    &self.service.model.name,
                    conditional::wants_fresh(&self.parts.headers),
                )
            }),
        }
    }

    pub(super) fn planner(&self) -> Planner<'_> {
        Planner::new(self.model(), self.gateway.caps)
    }

    pub(super) fn expand_settings(&self) -> ExpandSettings {
        ExpandSettings {
            batch_size: self.gateway.config.limits.expand_batch_size.max(1) as usize,
            caps: self.gateway.caps,
        }
    }

    pub(super) async fn dispatch(
        &self,
        bound: &BoundRequest,
        principal: Principal,
    ) -> Result<Response<Body>, GatewayError> {
        let kind = match &bound.resource {
            Resource::Metadata => ResourceKind::Metadata,
            Resource::Count(_)
            | Resource::Property {
                form: PropertyForm::Raw | PropertyForm::Count,
                ..
            } => ResourceKind::RawValue,
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
            Resource::Collection(c) | Resource::CollectionReferences(c) => {
                self.collection(c, bound, json_format(rep), principal).await
            }
            Resource::Count(c) => self.count(c, bound, principal).await,
            Resource::Entity(e) | Resource::EntityReference(e) => {
                self.entity(e, bound, json_format(rep), principal).await
            }
            Resource::Property {
                entity,
                property,
                form,
            } => {
                self.property(entity, *property, *form, bound, json_format(rep), principal)
                    .await
            }
        }
    }

    pub(super) fn metadata(&self, rep: Representation) -> Response<Body> {
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
        if rep == Representation::CsdlJson {
            // CSDL JSON exists only in OData 4.01 (it is chosen only for
            // clients that read 4.01), so this answer is a 4.01 one.
            r.headers_mut().insert(
                header::HeaderName::from_static("odata-version"),
                HeaderValue::from_static("4.01"),
            );
        }
        r
    }

    /// The ID of an entity reference, checking that it exists (and, for
    /// contained entities, that it belongs to its parent).
    pub(super) async fn resolve(
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
                let pid = p.get("ID").and_then(field_i64);
                let Some(found) = self.get_member(ctx, *set, *key, expand).await? else {
                    return Ok(None);
                };
                if found.0.get(field).and_then(field_i64) != pid {
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
                match p.get(field).and_then(field_i64) {
                    Some(k) => (*set, k),
                    None => return Ok(None),
                }
            }
        };
        self.get_member(ctx, set, key, expand).await
    }

    /// A record of an entity set by key, if it exists and belongs to the set.
    pub(super) async fn get_member(
        &self,
        ctx: &ExecContext,
        set: crate::edm::EntitySetId,
        key: i64,
        expand: &[String],
    ) -> Result<Option<(Row, Option<String>)>, GatewayError> {
        let es = self.model().set(set);
        let found = if es.capabilities.readable_by_key {
            ctx.get(&es.upstream, key, expand).await?
        } else {
            // ZeyOS has no `GET /{entity}/{ID}` for this entity (links): a
            // list request for that ID reads the same record.
            let mut req = crate::upstream::ListRequest::new(es.upstream.clone());
            req.filter = Some(Filter::cond("ID", Op::Eq, key));
            req.expand = expand.to_vec();
            req.limit = Some(1);
            ctx.list(req)
                .await?
                .into_iter()
                .next()
                .map(|row| (row, None))
        };
        let Some((row, etag)) = found else {
            return Ok(None);
        };
        let in_set = es.base_filter.iter().all(|c| {
            let v = row
                .get(&c.field)
                .map_or(Json::Null, crate::upstream::FieldRef::to_json);
            c.values
                .iter()
                .any(|x| x == &v || (json_i64(x).is_some() && json_i64(x) == json_i64(&v)))
        });
        Ok(in_set.then_some((row, etag)))
    }

    pub(super) fn entity_not_found(&self, e: &EntityRef) -> GatewayError {
        let name = &self.model().set(e.set()).name;
        match e {
            EntityRef::Key { key, .. } => GatewayError::not_found(
                format!("{name}({key}) does not exist"),
                Some(format!("{name}({key})")),
            ),
            EntityRef::Contained { key, .. } => GatewayError::not_found(
                format!("{name}({key}) does not exist or is not related to the entity before it in the path"),
                Some(format!("{name}({key})")),
            ),
            EntityRef::Navigation { name: nav, .. } => {
                GatewayError::not_found(format!("the entity has no {nav}"), Some(nav.clone()))
            }
        }
    }

    pub(super) fn json_fields(
        &self,
        set: crate::edm::EntitySetId,
        select: Option<&[usize]>,
    ) -> Vec<String> {
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

    /// The filter restricting a collection to its parent's members, after
    /// checking that the parent exists.
    pub(super) async fn scope(
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
            .and_then(field_i64)
            .ok_or_else(|| GatewayError::Internal("parent without ID".into()))?;
        Ok(vec![Filter::cond(field.clone(), Op::Eq, id)])
    }

    /// The query shape with lambdas answered by semi-joins where possible.
    pub(super) async fn with_semijoins(
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

    pub(super) fn page_size(&self) -> (u64, Option<u64>) {
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

    /// The request the skiptoken is bound to: the service root, the
    /// resource path and the query options without the token, each as the
    /// parser reads them (see [`canonical_query`]).
    pub(super) fn binding(&self) -> String {
        let path = odata_syntax::decode::percent_decode(self.rel, PlusMode::Literal)
            .unwrap_or(std::borrow::Cow::Borrowed(self.rel));
        format!(
            "{}{}?{}",
            self.service_root,
            path,
            canonical_query(self.raw_query)
        )
    }
}
