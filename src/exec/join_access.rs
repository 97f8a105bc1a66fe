//! Reading through a join needs the right to read what is joined.
//!
//! ZeyOS authorises a list request by its own entity alone: an accounts
//! list that selects `assigneduser.email`, filters on `creator.name` or
//! sorts by `contact.city` is answered to anyone who may list accounts. The
//! gateway joins whenever it can (a to-one `$expand`, a `$filter` or
//! `$orderby` through a to-one navigation property), so without a check
//! of its own a user who gets 403 on `Users` could still read users as
//! `Accounts?$expand=AssignedUser`, or find their e-mail addresses one
//! prefix at a time with `$filter`. OData grants no more through a
//! navigation property than through the entity set it leads to.
//!
//! So before a list request that reaches another entity through a join is
//! sent, the principal's right to list that entity is established the way
//! ZeyOS decides it: by asking ZeyOS for one ID of it. The answer is kept
//! per principal and entity for [`DECISION_TTL`], so a user's requests
//! pay for the question once a minute at most, and a withdrawn permission
//! takes effect within that time.

use std::sync::Arc;
use std::time::Duration;

use http::StatusCode;

use crate::cache::key::Deps;
use crate::error::GatewayError;
use crate::upstream::{ListRequest, Principal, UpstreamClient, UpstreamError};

/// How long a decision about a principal and an entity is kept.
pub const DECISION_TTL: Duration = Duration::from_secs(60);

/// The principals' rights to the entities their requests join, as ZeyOS
/// last answered them.
pub struct JoinAccess {
    /// (principal key, entity) → whether the principal may list it.
    decisions: moka::future::Cache<(Arc<str>, Arc<str>), bool>,
}

impl Default for JoinAccess {
    fn default() -> Self {
        JoinAccess {
            decisions: moka::future::Cache::builder()
                .max_capacity(100_000)
                .time_to_live(DECISION_TTL)
                .build(),
        }
    }
}

impl JoinAccess {
    /// Refuses `req` with 403 when it joins an entity `principal` may not
    /// list; asks ZeyOS (once per [`DECISION_TTL`]) where that is not
    /// known. `calls` counts the questions asked.
    pub async fn check(
        &self,
        upstream: &UpstreamClient,
        principal: &Principal,
        req: &ListRequest,
        calls: &std::sync::atomic::AtomicU64,
    ) -> Result<(), GatewayError> {
        for entity in joined_entities(req) {
            let key = (principal.key.clone(), Arc::<str>::from(entity.as_str()));
            let allowed = self
                .decisions
                .try_get_with(key, may_list(upstream, principal, &entity, calls))
                .await
                .map_err(|e| GatewayError::Upstream((*e).clone()))?;
            if !allowed {
                return Err(GatewayError::Forbidden(format!(
                    "this request reads {entity} through a join from {}, and ZeyOS denies you access to {entity}",
                    req.entity
                )));
            }
        }
        Ok(())
    }
}

/// The entities other than its own that `req` reaches through ZeyOS's
/// joins, read off the body ZeyOS gets (as the cache reads its
/// dependencies), so that no path the planner builds is missed.
fn joined_entities(req: &ListRequest) -> Vec<String> {
    let joins = |s: &str| s.contains('.');
    let may_join = req.fields.iter().any(|(_, f)| joins(f))
        || req.sort.iter().any(|k| joins(&k.field))
        || req.filter.as_ref().is_some_and(|f| f.mentions(&joins));
    if !may_join {
        return Vec::new();
    }
    match Deps::of_list(&req.entity, &req.to_json()) {
        Deps::Entities { entities, .. } => entities
            .iter()
            .filter(|e| e.as_ref() != req.entity.as_str() && e.as_ref() != "binfiles")
            .map(|e| e.to_string())
            .collect(),
        Deps::Record { .. } => Vec::new(),
    }
}

/// Whether ZeyOS lets `principal` list `entity`: a list request for one
/// ID, answered or refused with 403.
async fn may_list(
    upstream: &UpstreamClient,
    principal: &Principal,
    entity: &str,
    calls: &std::sync::atomic::AtomicU64,
) -> Result<bool, UpstreamError> {
    let mut probe = ListRequest::new(entity);
    probe.fields = vec![("ID".into(), "ID".into())];
    probe.limit = Some(1);
    calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    match upstream.list(&principal.token, &probe).await {
        Ok(_) => Ok(true),
        Err(UpstreamError::Status { status, .. }) if status == StatusCode::FORBIDDEN => Ok(false),
        Err(e) => Err(e),
    }
}
