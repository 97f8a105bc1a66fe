//! The response cache: upstream responses kept in memory per principal, so
//! that dashboards refreshing the same queries do not cost a ZeyOS request
//! each time.
//!
//! What is cached is the parsed answer of one upstream request (the rows of
//! a list request, a count, a single record with its entity tag), keyed by
//! the principal's keyed hash, the instance, the service and the canonical
//! request text ([`key`]). Every upstream read of a client request goes
//! through [`CacheScope`] (from `ExecContext`), so a request is answered
//! from memory exactly when every upstream response it needs is.
//!
//! * Single records are served from memory for `entity_fresh_secs`; after
//!   that the next read asks ZeyOS with `If-None-Match` and the old entity
//!   tag (304: the entry is confirmed and kept; 200: replaced), and they
//!   are dropped `entity_ttl_secs` after their last confirmation.
//! * Lists and counts carry no entity tag: they live `collection_ttl_secs`.
//! * A client's `Cache-Control: no-cache` (or `max-age=0`, or `Pragma:
//!   no-cache`) makes every read of its request go to ZeyOS (records with
//!   `If-None-Match`) and refreshes the entries.
//! * Writes call [`ResponseCache::invalidate_entity`] ([`invalidation`]).
//! * Concurrent identical reads share one upstream request ([`flight`]).
//! * Entries are weighed by their estimated memory; moka evicts by size
//!   within `max_bytes`.
//!
//! `docs/cache.md` explains the design and the staleness bound.

pub mod entry;
pub mod flight;
pub mod invalidation;
pub mod key;
pub mod metrics;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use http::StatusCode;
use moka::notification::RemovalCause;
use moka::ops::compute::Op;

use crate::config::CacheConfig;
use crate::error::GatewayError;
use crate::upstream::{GetResponse, ListRequest, Principal, Row, UpstreamClient, UpstreamError};

pub use entry::{Entry, Payload};
pub use flight::Role;
pub use key::{CacheKey, Deps, KeyScope};
pub use metrics::{CacheMetrics, MetricsSnapshot};

use flight::{Flights, Ticket};
use invalidation::InvalidationLog;

/// Why a cached read failed. Failures are never stored.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CacheError {
    /// ZeyOS answered with an error or not at all.
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
    /// The task reading from ZeyOS ended without an answer (a bug).
    #[error("{0}")]
    Internal(String),
}

impl From<CacheError> for GatewayError {
    fn from(e: CacheError) -> Self {
        match e {
            CacheError::Upstream(u) => GatewayError::Upstream(u),
            CacheError::Internal(m) => GatewayError::Internal(m),
        }
    }
}

/// The upstream side of a read: whose token, which client, and the counter
/// of upstream requests of the client request.
#[derive(Clone, Copy)]
pub struct Upstream<'a> {
    /// The ZeyOS client.
    pub client: &'a Arc<UpstreamClient>,
    /// The principal whose token is used and whose key scopes the entry.
    pub principal: &'a Principal,
    /// Incremented for every upstream request actually sent.
    pub calls: &'a Arc<AtomicU64>,
}

/// The shared response cache of a gateway.
#[derive(Clone)]
pub struct ResponseCache {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for ResponseCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseCache")
            .field("entries", &self.inner.entries.entry_count())
            .field("bytes", &self.inner.entries.weighted_size())
            .finish_non_exhaustive()
    }
}

struct Inner {
    entries: moka::future::Cache<CacheKey, Arc<Entry>>,
    log: InvalidationLog,
    flights: Flights,
    metrics: Arc<CacheMetrics>,
    instance: Arc<str>,
    entity_fresh: Duration,
    max_bytes: u64,
    /// Larger responses are passed on but not stored: one full-table read
    /// must not flush everybody else's entries.
    max_entry_weight: u32,
    sweep_running: AtomicBool,
    sweep_requested: AtomicBool,
}

/// Per-entry time to live: records and collections have their own.
struct Ttl {
    entity: Duration,
    collection: Duration,
}

impl Ttl {
    fn of(&self, e: &Entry) -> Duration {
        if e.is_record() {
            self.entity
        } else {
            // Counted from when the upstream request was sent, not from
            // when its answer was stored, so that the staleness bound is
            // the configured TTL however slow ZeyOS was.
            self.collection.saturating_sub(e.validated.elapsed())
        }
    }
}

impl moka::Expiry<CacheKey, Arc<Entry>> for Ttl {
    fn expire_after_create(
        &self,
        _key: &CacheKey,
        value: &Arc<Entry>,
        _created_at: Instant,
    ) -> Option<Duration> {
        Some(self.of(value))
    }

    fn expire_after_update(
        &self,
        _key: &CacheKey,
        value: &Arc<Entry>,
        _updated_at: Instant,
        _duration_until_expiry: Option<Duration>,
    ) -> Option<Duration> {
        // A replaced or revalidated entry starts a new life.
        Some(self.of(value))
    }
}

impl ResponseCache {
    /// A cache as configured, for `instance`. `upstream_timeout` bounds how
    /// long an upstream read may take, which bounds how long writes must be
    /// remembered for reads that were in flight.
    pub fn new(config: &CacheConfig, instance: &str, upstream_timeout: Duration) -> Self {
        let metrics = Arc::new(CacheMetrics::default());
        let ttl = Ttl {
            entity: Duration::from_secs(config.entity_ttl_secs),
            collection: Duration::from_secs(config.collection_ttl_secs),
        };
        let retention = ttl.entity.max(ttl.collection) + upstream_timeout + Duration::from_secs(1);
        let listener_metrics = metrics.clone();
        let entries = moka::future::Cache::builder()
            .max_capacity(config.max_bytes)
            .weigher(|_k: &CacheKey, e: &Arc<Entry>| e.weight)
            .expire_after(ttl)
            .eviction_listener(move |_k, _v, cause| match cause {
                RemovalCause::Size => CacheMetrics::inc(&listener_metrics.evictions),
                RemovalCause::Expired => CacheMetrics::inc(&listener_metrics.expirations),
                RemovalCause::Explicit | RemovalCause::Replaced => {}
            })
            .build();
        ResponseCache {
            inner: Arc::new(Inner {
                entries,
                log: InvalidationLog::new(retention),
                flights: Flights::default(),
                metrics,
                instance: instance.into(),
                entity_fresh: Duration::from_secs(config.entity_fresh_secs),
                max_bytes: config.max_bytes,
                max_entry_weight: u32::try_from(config.max_bytes / 8).unwrap_or(u32::MAX),
                sweep_running: AtomicBool::new(false),
                sweep_requested: AtomicBool::new(false),
            }),
        }
    }

    /// The reads of one client request to one service. With `refresh` (the
    /// client sent `Cache-Control: no-cache`), every read goes to ZeyOS.
    pub fn scope(&self, service: &str, refresh: bool) -> CacheScope {
        CacheScope {
            cache: self.clone(),
            service: service.into(),
            refresh,
        }
    }

    /// Drops every cached response a write of `entity` record `id` could
    /// have changed, for every principal: the record's own entries, and
    /// every list and count of `entity` or of an entity whose request
    /// reaches `entity` through a join (`contact.city` in an accounts list
    /// depends on contacts). Reads already on their way to ZeyOS when this
    /// is called cannot store their (possibly old) answer for later reads.
    ///
    /// Call it after the write succeeded upstream. When it returns, no read
    /// that starts afterwards is answered with data read before the call;
    /// the memory is freed at once unless another invalidation's sweep is
    /// running, which then frees it.
    pub async fn invalidate_entity(&self, entity: &str, id: i64) {
        self.inner.log.record_write(entity, id);
        CacheMetrics::inc(&self.inner.metrics.invalidations);
        self.sweep().await;
    }

    /// Drops every entry (for every principal).
    pub async fn invalidate_all(&self) {
        self.inner.log.record_clear();
        CacheMetrics::inc(&self.inner.metrics.invalidations);
        self.inner.entries.invalidate_all();
        self.inner.entries.run_pending_tasks().await;
    }

    /// Removes the entries the invalidation log makes unusable. Writes
    /// arriving during a sweep are handled by one more pass of the running
    /// sweep rather than by sweeps of their own, so a burst of writes costs
    /// a few passes, not one per write.
    async fn sweep(&self) {
        let inner = &self.inner;
        inner.sweep_requested.store(true, Ordering::Release);
        loop {
            if inner.sweep_running.swap(true, Ordering::AcqRel) {
                return;
            }
            let _running = SweepGuard(&inner.sweep_running);
            while inner.sweep_requested.swap(false, Ordering::AcqRel) {
                self.sweep_once().await;
            }
            drop(_running);
            // A request may have arrived after the last pass but before the
            // flag was released.
            if !inner.sweep_requested.load(Ordering::Acquire) {
                return;
            }
        }
    }

    async fn sweep_once(&self) {
        let inner = &self.inner;
        let stale: Vec<Arc<CacheKey>> = inner
            .entries
            .iter()
            .filter(|(_, e)| !inner.log.is_current(&e.deps, e.epoch))
            .map(|(k, _)| k)
            .collect();
        for key in stale {
            // Re-checked under the key's lock: a fresh read may have
            // replaced the entry since the scan.
            inner
                .entries
                .entry_by_ref(&*key)
                .and_compute_with(|current| {
                    let op = match current {
                        Some(e) if !inner.log.is_current(&e.value().deps, e.value().epoch) => {
                            Op::Remove
                        }
                        _ => Op::Nop,
                    };
                    std::future::ready(op)
                })
                .await;
        }
        inner.entries.run_pending_tasks().await;
    }

    /// The counters and sizes now.
    pub fn metrics(&self) -> MetricsSnapshot {
        let e = &self.inner.entries;
        MetricsSnapshot::of(
            &self.inner.metrics,
            e.weighted_size(),
            self.inner.max_bytes,
            e.entry_count(),
        )
    }

    /// The estimated bytes held (exact after [`Self::run_pending_tasks`]).
    pub fn weighted_size(&self) -> u64 {
        self.inner.entries.weighted_size()
    }

    /// Entries held (exact after [`Self::run_pending_tasks`]).
    pub fn entry_count(&self) -> u64 {
        self.inner.entries.entry_count()
    }

    /// Applies pending evictions and expirations now (moka does this
    /// lazily).
    pub async fn run_pending_tasks(&self) {
        self.inner.entries.run_pending_tasks().await;
    }

    /// Upstream reads in flight (for tests).
    pub fn flights_in_progress(&self) -> usize {
        self.inner.flights.len()
    }
}

struct SweepGuard<'a>(&'a AtomicBool);

impl Drop for SweepGuard<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

/// The reads of one client request: the cache, the service whose model the
/// request uses, and whether the client asked for fresh data.
#[derive(Clone)]
pub struct CacheScope {
    cache: ResponseCache,
    service: Arc<str>,
    refresh: bool,
}

/// What to ask ZeyOS for; owned, because the read may run in its own task.
enum Fetch {
    List(ListRequest),
    Count(ListRequest),
    Get {
        entity: String,
        id: i64,
        expand: Vec<String>,
    },
}

impl CacheScope {
    fn key(&self, up: Upstream<'_>, canonical: &str) -> CacheKey {
        KeyScope {
            principal: &up.principal.key,
            instance: &self.cache.inner.instance,
            service: &self.service,
        }
        .key(canonical)
    }

    /// The rows of a list request.
    pub async fn list(
        &self,
        up: Upstream<'_>,
        req: &ListRequest,
    ) -> Result<Arc<Vec<Row>>, CacheError> {
        let (canonical, body) = key::list_canonical(req);
        let key = self.key(up, &canonical);
        let entry = self
            .read(
                up,
                key,
                || Deps::of_list(&req.entity, &body),
                || Fetch::List(req.clone()),
            )
            .await?;
        match &entry.payload {
            Payload::Rows(rows) => Ok(rows.clone()),
            _ => Err(mismatch()),
        }
    }

    /// The count of a list request.
    pub async fn count(&self, up: Upstream<'_>, req: &ListRequest) -> Result<u64, CacheError> {
        let mut req = req.clone();
        req.count = true;
        let (canonical, body) = key::list_canonical(&req);
        let key = self.key(up, &canonical);
        let entity = req.entity.clone();
        let entry = self
            .read(
                up,
                key,
                || Deps::of_list(&entity, &body),
                move || Fetch::Count(req),
            )
            .await?;
        match &entry.payload {
            Payload::Count(n) => Ok(*n),
            _ => Err(mismatch()),
        }
    }

    /// A single record and ZeyOS's entity tag for it.
    pub async fn get(
        &self,
        up: Upstream<'_>,
        entity: &str,
        id: i64,
        expand: &[String],
    ) -> Result<(Row, Option<Arc<str>>), CacheError> {
        let key = self.key(up, &key::get_canonical(entity, id, expand));
        let entry = self
            .read(
                up,
                key,
                || Deps::Record {
                    entity: entity.into(),
                    id,
                },
                || Fetch::Get {
                    entity: entity.to_string(),
                    id,
                    expand: expand.to_vec(),
                },
            )
            .await?;
        match &entry.payload {
            Payload::Record { row, etag } => Ok((row.clone(), etag.clone())),
            _ => Err(mismatch()),
        }
    }

    async fn read(
        &self,
        up: Upstream<'_>,
        key: CacheKey,
        deps: impl FnOnce() -> Deps,
        fetch: impl FnOnce() -> Fetch,
    ) -> Result<Arc<Entry>, CacheError> {
        let inner = &self.cache.inner;
        if !self.refresh {
            if let Some(e) = inner.entries.get(&key).await {
                if inner.usable(&e) {
                    CacheMetrics::inc(&inner.metrics.hits);
                    return Ok(e);
                }
            }
        }
        let deps = deps();
        let load = Load {
            inner: self.cache.inner.clone(),
            key,
            fetch: fetch(),
            client: up.client.clone(),
            token: up.principal.token.clone(),
            calls: up.calls.clone(),
            forced: self.refresh,
        };
        if self.refresh {
            // The client asked for ZeyOS's answer now: no sharing of a read
            // that may have begun before the request.
            let epoch = inner.log.current();
            return load.run(deps, epoch).await;
        }
        let epoch = inner.log.current();
        let task_deps = deps.clone();
        let (result, role) = inner
            .flights
            .run(
                key,
                epoch,
                |began| inner.log.is_current(&deps, began),
                move |ticket: Ticket| async move {
                    let epoch = ticket.epoch;
                    let r = load.run(task_deps, epoch).await;
                    // The flight leaves the table only after its entry is in
                    // place, so a reader finds one or the other.
                    drop(ticket);
                    r
                },
            )
            .await;
        if role == Role::Joined {
            CacheMetrics::inc(&inner.metrics.coalesced);
        }
        result
    }
}

fn mismatch() -> CacheError {
    CacheError::Internal("cache entry of another kind under this key".into())
}

impl Inner {
    /// Whether an entry may answer a read without asking ZeyOS.
    fn usable(&self, e: &Entry) -> bool {
        self.log.is_current(&e.deps, e.epoch)
            && (!e.is_record() || e.validated.elapsed() < self.entity_fresh)
    }
}

/// One upstream read and the storing of its answer.
struct Load {
    inner: Arc<Inner>,
    key: CacheKey,
    fetch: Fetch,
    client: Arc<UpstreamClient>,
    token: Arc<str>,
    calls: Arc<AtomicU64>,
    forced: bool,
}

impl Load {
    async fn run(self, deps: Deps, epoch: u64) -> Result<Arc<Entry>, CacheError> {
        let inner = &self.inner;
        let current = inner.entries.get(&self.key).await;
        if !self.forced {
            // A flight that ended between this reader's miss and the start
            // of its own flight has stored what this one would fetch.
            if let Some(e) = current.as_ref().filter(|e| inner.usable(e)) {
                CacheMetrics::inc(&inner.metrics.hits);
                return Ok(e.clone());
            }
        }
        let began = Instant::now();
        self.calls.fetch_add(1, Ordering::Relaxed);
        let token = &*self.token;
        let payload = match &self.fetch {
            Fetch::List(req) => Payload::Rows(Arc::new(self.client.list(token, req).await?)),
            Fetch::Count(req) => Payload::Count(self.client.count(token, req).await?),
            Fetch::Get { entity, id, expand } => {
                // A record still in memory is revalidated rather than read
                // again: a 304 costs ZeyOS no serialization and no body.
                let known = current.as_ref().filter(|e| e.etag().is_some());
                let tag = known.and_then(|e| e.etag());
                match self.client.get(token, entity, *id, expand, tag).await {
                    Ok(GetResponse::NotModified) => {
                        let Some(old) = known else {
                            return Err(UpstreamError::InvalidResponse(format!(
                                "{entity}/{id}: 304 Not Modified to an unconditional request"
                            ))
                            .into());
                        };
                        CacheMetrics::inc(&inner.metrics.revalidations);
                        let entry = Arc::new(old.revalidated(epoch, began));
                        inner.entries.insert(self.key, entry.clone()).await;
                        return Ok(entry);
                    }
                    Ok(GetResponse::Found { row, etag }) => Payload::Record {
                        row,
                        etag: etag.map(Arc::from),
                    },
                    Err(e) => {
                        if matches!(&e, UpstreamError::Status { status, .. }
                            if [StatusCode::NOT_FOUND, StatusCode::GONE, StatusCode::FORBIDDEN]
                                .contains(status))
                        {
                            // Gone, or no longer this principal's to read:
                            // the old answer must not outlive the news. (A
                            // 401 only says the token expired; the gateway
                            // logs in again and retries.)
                            inner.entries.invalidate(&self.key).await;
                        }
                        return Err(e.into());
                    }
                }
            }
        };
        CacheMetrics::inc(&inner.metrics.misses);
        let entry = Arc::new(Entry::new(payload, deps, epoch, began));
        if entry.weight <= inner.max_entry_weight {
            inner.entries.insert(self.key, entry.clone()).await;
        } else {
            CacheMetrics::inc(&inner.metrics.oversized);
            inner.entries.invalidate(&self.key).await;
        }
        Ok(entry)
    }
}
