//! Reading collections: upstream pages in OData order, the residual
//! filter, `$skip`/`$top`, counts and continuation.
//!
//! Rows come from ZeyOS in chunks of at most its `limit`, segment after
//! segment (see `plan::collection::Segment`). A chunk's rows are passed on
//! in batches while its body arrives (`exec::feed`); the next chunk is
//! asked for as soon as the current one is in, while its last rows are
//! written, and nothing holds more than two chunks, whatever the
//! collection's size. Continuation is by key set: the
//! next page asks ZeyOS for the rows after the last row's sort values, so
//! page 1,000 costs what page 1 costs.

use std::cmp::Ordering;
use std::collections::VecDeque;
use std::sync::Arc;

use serde_json::Value as Json;
use tokio::task::JoinHandle;

use crate::bind::expr::BoundExpr;
use crate::bind::query::OrderItem;
use crate::edm::ServiceModel;
use crate::error::GatewayError;
use crate::exec::eval::Evaluator;
use crate::exec::feed::RowFeed;
use crate::plan::collection::{CollectionPlan, OrderPlan, Segment};
use crate::upstream::{Filter, ListRequest, Principal, Row, UpstreamClient};
use crate::values::Value;

/// Where a page ends, so the next one can start there.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Continuation {
    /// Index of the segment the next row comes from.
    pub segment: usize,
    /// Sort values of the last row delivered in that segment.
    pub after: Option<Vec<Json>>,
    /// Rows delivered so far (for `$top`).
    pub emitted: u64,
    /// For gateway-sorted results: rows of the sorted result already
    /// delivered, `$skip` included.
    pub offset: u64,
}

/// A row with the segment it came from: its scan position, from which the
/// next page continues (the sort values are read off the row only for the
/// last row of a page).
type Positioned = (Row, usize);

/// Parents whose lambda children are fetched together (for a filter, and
/// for sorting by counts of them).
pub(super) const LAMBDA_BATCH: usize = 100;

/// What every upstream read of a request needs.
#[derive(Clone)]
pub struct ExecContext {
    /// The ZeyOS client.
    pub upstream: Arc<UpstreamClient>,
    /// Whose token to use.
    pub principal: Principal,
    /// The service model.
    pub model: Arc<ServiceModel>,
    /// Rows the gateway may scan for a residual filter or sort.
    pub max_residual_scan: u64,
    /// Upstream requests made for this client request (for the log).
    pub calls: Arc<std::sync::atomic::AtomicU64>,
    /// The response cache for this request's reads; `None` when caching
    /// is off.
    pub cache: Option<crate::cache::CacheScope>,
    /// The request's start time: what `now()` means for all its rows.
    pub now: crate::values::DateTime,
    /// Who may read what the gateway's joins reach.
    pub join_access: Arc<crate::exec::join_access::JoinAccess>,
}

impl ExecContext {
    /// Rows of a list request.
    pub async fn list(&self, req: ListRequest) -> Result<Vec<Row>, GatewayError> {
        self.check_joins(&req).await?;
        if let Some(cache) = &self.cache {
            let rows = cache.list(self.cached(), &req).await?;
            return Ok(Arc::unwrap_or_clone(rows));
        }
        self.calls
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(self.upstream.list(&self.principal.token, &req).await?)
    }

    /// The count of a list request.
    pub async fn count(&self, req: &ListRequest) -> Result<u64, GatewayError> {
        self.check_joins(req).await?;
        if let Some(cache) = &self.cache {
            return Ok(cache.count(self.cached(), req).await?);
        }
        self.calls
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(self.upstream.count(&self.principal.token, req).await?)
    }

    /// A single record by ID.
    pub async fn get(
        &self,
        entity: &str,
        id: i64,
        expand: &[String],
    ) -> Result<Option<(Row, Option<String>)>, GatewayError> {
        if let Some(cache) = &self.cache {
            return match cache.get(self.cached(), entity, id, expand).await {
                Ok((row, etag)) => Ok(Some((row, etag.map(|t| t.to_string())))),
                Err(crate::cache::CacheError::Upstream(
                    crate::upstream::UpstreamError::Status { status, .. },
                )) if status == http::StatusCode::NOT_FOUND => Ok(None),
                Err(e) => Err(e.into()),
            };
        }
        self.calls
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        match self
            .upstream
            .get(&self.principal.token, entity, id, expand, None)
            .await
        {
            Ok(crate::upstream::GetResponse::Found { row, etag }) => Ok(Some((row, etag))),
            Ok(crate::upstream::GetResponse::NotModified) => Ok(None),
            Err(crate::upstream::UpstreamError::Status { status, .. })
                if status == http::StatusCode::NOT_FOUND =>
            {
                Ok(None)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Refuses a request that joins an entity the principal may not read
    /// (see [`crate::exec::join_access`]).
    pub async fn check_joins(&self, req: &ListRequest) -> Result<(), GatewayError> {
        self.join_access
            .check(&self.upstream, &self.principal, req, &self.calls)
            .await
    }

    /// The upstream side of a cached read.
    fn cached(&self) -> crate::cache::Upstream<'_> {
        crate::cache::Upstream {
            client: &self.upstream,
            principal: &self.principal,
            calls: &self.calls,
        }
    }

    fn max_limit(&self) -> u64 {
        u64::from(self.upstream.settings().max_limit.max(1))
    }
}

/// A request for the rows matching `filter` of a plan, fields and query
/// included.
fn base_request(plan: &CollectionPlan, filter: Filter) -> ListRequest {
    ListRequest {
        entity: plan.entity.clone(),
        fields: plan.fields.iter().map(|f| (f.clone(), f.clone())).collect(),
        filter: Some(filter),
        query: plan.query.clone(),
        expand: plan.expand.clone(),
        ..Default::default()
    }
}

/// The number of rows matching the plan's upstream filter.
pub async fn upstream_count(ctx: &ExecContext, plan: &CollectionPlan) -> Result<u64, GatewayError> {
    let mut req = base_request(plan, plan.filter.clone());
    req.fields.clear();
    req.expand.clear();
    ctx.count(&req).await
}

/// Rows in OData order from ZeyOS, segment by segment, fetched in chunks.
struct Scan {
    ctx: ExecContext,
    plan: Arc<CollectionPlan>,
    segments: Vec<Segment>,
    /// The segment being fetched.
    segment: usize,
    /// Sort values of the last row fetched in that segment.
    fetch_after: Option<Vec<Json>>,
    /// Offset for the first request of the current segment.
    offset: u64,
    /// Rows still wanted when ZeyOS alone decides membership, so chunks
    /// need not be larger than that (plus one to learn whether more exist).
    wanted: Option<u64>,
    /// Rows received so far.
    received: u64,
    /// Rows received of the fetch in flight, and the limit it asked for.
    fetch_received: u64,
    fetch_limit: u64,
    /// Chunk size when the gateway filters (grows while rows are needed).
    residual_chunk: u64,
    /// Fetched rows with the segment they came from.
    buffer: VecDeque<(usize, Row)>,
    /// The current segment has no rows beyond those fetched.
    drained: bool,
    prefetch: Option<RowFeed>,
    /// The segment of the last row returned.
    last_segment: usize,
}

impl Scan {
    fn new(
        ctx: ExecContext,
        plan: Arc<CollectionPlan>,
        segments: Vec<Segment>,
        start: &Continuation,
    ) -> Self {
        Scan {
            ctx,
            plan,
            segments,
            segment: start.segment,
            fetch_after: start.after.clone(),
            offset: 0,
            wanted: None,
            received: 0,
            fetch_received: 0,
            fetch_limit: 0,
            residual_chunk: 0,
            buffer: VecDeque::new(),
            drained: false,
            prefetch: None,
            last_segment: start.segment,
        }
    }

    fn chunk_size(&self) -> u64 {
        match self.wanted {
            Some(w) => (w.saturating_sub(self.received) + 1).min(self.ctx.max_limit()),
            None if self.residual_chunk > 0 => self.residual_chunk.min(self.ctx.max_limit()),
            None => self.ctx.max_limit(),
        }
    }

    fn start_fetch(&mut self) {
        let Some(seg) = self.segments.get(self.segment) else {
            return;
        };
        let mut parts = vec![self.plan.filter.clone(), seg.filter()];
        if let Some(after) = &self.fetch_after {
            match seg.after(after) {
                Some(f) => parts.push(f),
                None => return,
            }
        }
        let mut req = base_request(&self.plan, Filter::and(parts));
        req.sort = seg.sort_keys();
        self.fetch_limit = self.chunk_size().clamp(1, self.ctx.max_limit());
        self.fetch_received = 0;
        req.limit = Some(self.fetch_limit as u32);
        req.offset = Some(std::mem::take(&mut self.offset));
        self.prefetch = Some(RowFeed::start(&self.ctx, req));
    }

    fn sort_values(&self, segment: usize, row: &Row) -> Vec<Json> {
        self.segments[segment]
            .sort
            .iter()
            .map(|c| {
                row.get(&c.field)
                    .map_or(Json::Null, crate::upstream::FieldRef::to_json)
            })
            .collect()
    }

    /// Waits for the next batch of the fetch in flight and buffers its
    /// rows; at the fetch's end, starts the next fetch at once when more
    /// rows are expected, so ZeyOS works while the caller writes the rows
    /// still buffered.
    async fn receive(&mut self) -> Result<(), GatewayError> {
        let Some(feed) = self.prefetch.as_mut() else {
            return Ok(());
        };
        if let Some(rows) = feed.next().await? {
            self.fetch_received += rows.len() as u64;
            self.received += rows.len() as u64;
            if let Some(last) = rows.last() {
                self.fetch_after = Some(self.sort_values(self.segment, last));
            }
            let segment = self.segment;
            self.buffer.extend(rows.into_iter().map(|r| (segment, r)));
            return Ok(());
        }
        self.prefetch = None;
        self.drained = self.fetch_received < self.fetch_limit;
        if self.residual_chunk > 0 {
            // The residual may reject many rows: ask for more each time.
            self.residual_chunk = self.residual_chunk.saturating_mul(4);
        }
        let more_wanted = self.wanted.is_none_or(|w| self.received <= w);
        if !self.drained && more_wanted {
            self.start_fetch();
        }
        Ok(())
    }

    /// Whether rows have arrived that [`Scan::next`] has not returned.
    fn has_arrived(&self) -> bool {
        !self.buffer.is_empty() || self.prefetch.as_ref().is_some_and(RowFeed::ready)
    }

    /// The next row, or `None` at the end of the last segment.
    async fn next(&mut self) -> Result<Option<Row>, GatewayError> {
        loop {
            // Take in what has arrived, so that the end of a fetch is seen
            // (and the next one started) as soon as it comes.
            while self.prefetch.as_ref().is_some_and(RowFeed::ready) {
                self.receive().await?;
            }
            if let Some((segment, row)) = self.buffer.pop_front() {
                self.last_segment = segment;
                return Ok(Some(row));
            }
            if self.prefetch.is_some() {
                self.receive().await?;
                continue;
            }
            if self.segment >= self.segments.len() {
                return Ok(None);
            }
            if self.drained {
                self.segment += 1;
                self.fetch_after = None;
                self.drained = false;
                continue;
            }
            if self.wanted.is_some_and(|w| self.received > w) {
                return Ok(None);
            }
            self.start_fetch();
            if self.prefetch.is_none() {
                return Ok(None);
            }
        }
    }
}

/// The error for residual work beyond the configured scan budget.
pub fn too_expensive(plan: &CollectionPlan, rows: u64, limit: u64) -> GatewayError {
    let parts: Vec<String> = plan
        .explain
        .residual
        .iter()
        .chain(plan.explain.inexact.iter())
        .map(|s| format!("`{s}`"))
        .collect();
    let what = if parts.is_empty() {
        "the requested order".to_string()
    } else {
        parts.join(" and ")
    };
    GatewayError::bad_request(
        "QueryTooExpensive",
        format!(
            "ZeyOS cannot evaluate {what}; the gateway would have to scan {rows} rows to do it, more than its limit of {limit}. Narrow the query with conditions ZeyOS can evaluate (comparisons of properties with literals, contains/startswith/endswith, in)."
        ),
        Some("$filter"),
    )
}

/// A page of results being produced.
pub struct PageStream {
    inner: PageInner,
    /// Rows delivered on this page so far.
    pub delivered: u64,
    page_limit: u64,
    emitted_before: u64,
    top: Option<u64>,
    residual: Option<crate::bind::expr::BoundExpr>,
    skip_left: u64,
    done: bool,
    /// A row read ahead to learn whether more exist.
    lookahead: Option<Positioned>,
    /// Rows that passed the residual, with their scan positions.
    ready: VecDeque<Positioned>,
    /// Scan position of the last row delivered.
    last_delivered: Option<(usize, Row)>,
    /// For fetching the children lambdas in the residual need.
    ctx: ExecContext,
}

enum PageInner {
    Scan(Box<Scan>),
    Sorted {
        rows: std::vec::IntoIter<Row>,
        offset: u64,
    },
}

/// Everything known before the first row is written.
pub struct PageStart {
    /// The rows of the page, in order.
    pub rows: PageStream,
    /// `@odata.count`, when asked for.
    pub count: Option<u64>,
}

/// Starts a page of a collection read.
pub async fn start_page(
    ctx: ExecContext,
    plan: Arc<CollectionPlan>,
    cont: Option<Continuation>,
    page_size: u64,
) -> Result<PageStart, GatewayError> {
    let cont = cont.unwrap_or_default();
    let first_page = cont == Continuation::default();
    let remaining_top = plan.top.map(|t| t.saturating_sub(cont.emitted));
    let page_limit = remaining_top.map_or(page_size, |r| r.min(page_size));

    // Counting and the residual scan budget both need the upstream count;
    // ask for it alongside the first chunk, not before it.
    let needs_count =
        plan.count || plan.residual.is_some() || matches!(plan.order, OrderPlan::Gateway(_));
    let count_task = needs_count.then(|| {
        let ctx = ctx.clone();
        let plan = plan.clone();
        tokio::spawn(async move { upstream_count(&ctx, &plan).await })
    });
    let await_count = |task: Option<JoinHandle<Result<u64, GatewayError>>>| async move {
        match task {
            Some(t) => t
                .await
                .map_err(|e| GatewayError::Internal(format!("count task failed: {e}")))?
                .map(Some),
            None => Ok(None),
        }
    };

    match &plan.order {
        OrderPlan::Gateway(items) => {
            let upstream_rows = await_count(count_task).await?.unwrap_or(0);
            if upstream_rows > ctx.max_residual_scan {
                return Err(too_expensive(&plan, upstream_rows, ctx.max_residual_scan));
            }
            let items = items.clone();
            let mut rows = read_all(&ctx, &plan).await?;
            crate::exec::semijoin::attach_order_children(&ctx, &items, &mut rows).await?;
            let eval = Evaluator::new(&ctx.model, ctx.now);
            sort_rows(&eval, &items, &mut rows)?;
            let count = plan.count.then_some(rows.len() as u64);
            let start = if first_page {
                plan.skip.unwrap_or(0)
            } else {
                cont.offset
            };
            let end = start.saturating_add(page_limit).min(rows.len() as u64);
            let total = rows.len() as u64;
            let page: Vec<Row> = rows
                .into_iter()
                .skip(start as usize)
                .take(end.saturating_sub(start) as usize)
                .collect();
            let more = end < total && remaining_top.is_none_or(|r| page_limit < r);
            let mut stream = PageStream {
                inner: PageInner::Sorted {
                    rows: page.into_iter(),
                    offset: start,
                },
                delivered: 0,
                page_limit,
                emitted_before: cont.emitted,
                top: plan.top,
                residual: None,
                skip_left: 0,
                done: false,
                lookahead: None,
                ready: VecDeque::new(),
                last_delivered: None,
                ctx: ctx.clone(),
            };
            if !more {
                stream.done_after_page();
            }
            Ok(PageStart {
                rows: stream,
                count,
            })
        }
        OrderPlan::Upstream(segments) => {
            let mut scan = Scan::new(ctx.clone(), plan.clone(), segments.clone(), &cont);
            let mut skip_left = 0;
            if first_page {
                let skip = plan.skip.unwrap_or(0);
                if plan.residual.is_none() {
                    // Whole segments are skipped by counting them; the rest
                    // of the offset goes to ZeyOS.
                    let mut left = skip;
                    if segments.len() > 1 && left > 0 {
                        while scan.segment < segments.len() {
                            let seg = &segments[scan.segment];
                            let mut req = base_request(
                                &plan,
                                Filter::and(vec![plan.filter.clone(), seg.filter()]),
                            );
                            req.fields.clear();
                            req.expand.clear();
                            let n = ctx.count(&req).await?;
                            if n > left {
                                break;
                            }
                            left -= n;
                            scan.segment += 1;
                        }
                    }
                    scan.offset = left;
                } else {
                    skip_left = skip;
                }
            }
            if plan.residual.is_none() {
                scan.wanted = Some(page_limit);
            } else {
                scan.residual_chunk = page_limit
                    .saturating_add(skip_left)
                    .saturating_mul(2)
                    .max(100);
            }
            // The first data request goes out now, alongside the count.
            if page_limit > 0 {
                scan.start_fetch();
            }
            let upstream_count = await_count(count_task).await?;
            let mut count = if plan.residual.is_none() {
                upstream_count
            } else {
                None
            };
            if plan.residual.is_some() {
                let n = upstream_count.unwrap_or(0);
                if n > ctx.max_residual_scan {
                    return Err(too_expensive(&plan, n, ctx.max_residual_scan));
                }
            }
            let mut stream = PageStream {
                inner: PageInner::Scan(Box::new(scan)),
                delivered: 0,
                page_limit,
                emitted_before: cont.emitted,
                top: plan.top,
                residual: plan.residual.clone(),
                skip_left,
                done: false,
                lookahead: None,
                ready: VecDeque::new(),
                last_delivered: None,
                ctx: ctx.clone(),
            };
            if plan.count && plan.residual.is_some() {
                // The count needs every row checked: count in a separate
                // scan from the start (the page itself streams as usual).
                count = Some(count_residual(&ctx, &plan).await?);
            }
            // Read the first row now, so that upstream failures become a
            // proper error status instead of a cut-off response.
            stream.prime().await?;
            Ok(PageStart {
                rows: stream,
                count,
            })
        }
    }
}

/// Counts the rows passing the residual by reading them all.
async fn count_residual(
    ctx: &ExecContext,
    plan: &Arc<CollectionPlan>,
) -> Result<u64, GatewayError> {
    let mut scan = key_order_scan(ctx, plan);
    let mut n = 0;
    while let Some(batch) = next_passing_batch(ctx, &mut scan, plan.residual.as_ref()).await? {
        n += batch.len() as u64;
    }
    Ok(n)
}

/// Every row of a plan passing its residual (for gateway sorting).
async fn read_all(ctx: &ExecContext, plan: &Arc<CollectionPlan>) -> Result<Vec<Row>, GatewayError> {
    let mut scan = key_order_scan(ctx, plan);
    let mut out = Vec::new();
    while let Some(batch) = next_passing_batch(ctx, &mut scan, plan.residual.as_ref()).await? {
        out.extend(batch);
    }
    Ok(out)
}

/// A scan of all of a plan's rows in key order.
fn key_order_scan(ctx: &ExecContext, plan: &Arc<CollectionPlan>) -> Scan {
    let segments = vec![Segment {
        nulls: Vec::new(),
        sort: vec![crate::plan::collection::SortColumn {
            field: "ID".into(),
            descending: false,
        }],
    }];
    Scan::new(
        ctx.clone(),
        plan.clone(),
        segments,
        &Continuation::default(),
    )
}

/// The next batch of scanned rows that pass the residual (children for
/// its lambdas fetched per batch); `None` at the end of the scan.
async fn next_passing_batch(
    ctx: &ExecContext,
    scan: &mut Scan,
    residual: Option<&BoundExpr>,
) -> Result<Option<Vec<Row>>, GatewayError> {
    let mut batch = Vec::with_capacity(LAMBDA_BATCH);
    while batch.len() < LAMBDA_BATCH {
        match scan.next().await? {
            Some(r) => batch.push(r),
            None => break,
        }
    }
    if batch.is_empty() {
        return Ok(None);
    }
    let Some(residual) = residual else {
        return Ok(Some(batch));
    };
    if residual.has_lambda() {
        crate::exec::semijoin::attach_children(ctx, residual, &mut batch).await?;
    }
    let eval = Evaluator::new(&ctx.model, ctx.now);
    let mut out = Vec::with_capacity(batch.len());
    for row in batch {
        if eval.matches(residual, &row).map_err(eval_error)? {
            out.push(row);
        }
    }
    Ok(Some(out))
}

/// Sorts rows by OData rules: nulls first ascending, last descending; the
/// key breaks ties.
pub fn sort_rows(
    eval: &Evaluator,
    items: &[OrderItem],
    rows: &mut [Row],
) -> Result<(), GatewayError> {
    let mut keyed: Vec<(Vec<Value>, i64, usize)> = Vec::with_capacity(rows.len());
    for (i, row) in rows.iter().enumerate() {
        let mut values = Vec::with_capacity(items.len());
        for item in items {
            values.push(eval.value(&item.expr, row).map_err(eval_error)?);
        }
        let id = row
            .get("ID")
            .and_then(crate::values::field_i64)
            .unwrap_or(0);
        keyed.push((values, id, i));
    }
    keyed.sort_by(|a, b| order_by_keys(items, &a.0, &b.0).then(a.1.cmp(&b.1)));
    let order: Vec<usize> = keyed.into_iter().map(|(_, _, i)| i).collect();
    let mut taken: Vec<Option<Row>> = rows.iter_mut().map(|r| Some(std::mem::take(r))).collect();
    for (slot, i) in rows.iter_mut().zip(order) {
        if let Some(r) = taken[i].take() {
            *slot = r;
        }
    }
    Ok(())
}

/// The `$orderby` order of two rows (or items) by their evaluated sort
/// keys, one per item of `items`; `Equal` leaves the tie to the caller.
pub fn order_by_keys(items: &[OrderItem], a: &[Value], b: &[Value]) -> Ordering {
    for ((item, a), b) in items.iter().zip(a).zip(b) {
        let ord = odata_order(a, b);
        let ord = if item.descending { ord.reverse() } else { ord };
        if ord != Ordering::Equal {
            return ord;
        }
    }
    Ordering::Equal
}

/// Ascending OData order of two values: null first.
pub fn odata_order(a: &Value, b: &Value) -> Ordering {
    match (a.is_null(), b.is_null()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        _ => a.compare(b).unwrap_or(Ordering::Equal),
    }
}

/// A residual evaluation failure as a client error: the data and the
/// expression do not fit (division by zero, invalid pattern).
pub fn eval_error(e: crate::exec::eval::EvalError) -> GatewayError {
    GatewayError::bad_request("InvalidFilter", e.to_string(), Some("$filter"))
}

impl PageStream {
    fn done_after_page(&mut self) {
        self.done = true;
    }

    /// Reads ahead one passing row (so errors surface before output).
    async fn prime(&mut self) -> Result<(), GatewayError> {
        if self.page_limit == 0 {
            return Ok(());
        }
        self.lookahead = self.pull().await?;
        Ok(())
    }

    /// The next row that passes the residual and `$skip`, with its scan
    /// position.
    async fn pull(&mut self) -> Result<Option<Positioned>, GatewayError> {
        let PageInner::Scan(scan) = &mut self.inner else {
            return Ok(None);
        };
        let lambdas = self.residual.as_ref().is_some_and(BoundExpr::has_lambda);
        let eval = Evaluator::new(&self.ctx.model, self.ctx.now);
        loop {
            while let Some(item) = self.ready.pop_front() {
                if self.skip_left > 0 {
                    self.skip_left -= 1;
                    continue;
                }
                return Ok(Some(item));
            }
            if !lambdas {
                // One row at a time, without a batch to gather it in.
                let Some(row) = scan.next().await? else {
                    return Ok(None);
                };
                let passes = match &self.residual {
                    None => true,
                    Some(residual) => eval.matches(residual, &row).map_err(eval_error)?,
                };
                if passes {
                    self.ready.push_back((row, scan.last_segment));
                }
                continue;
            }
            // The residual has lambdas: their children are fetched for a
            // batch of rows at once.
            let Some(residual) = &self.residual else {
                return Ok(None);
            };
            let mut batch = Vec::with_capacity(LAMBDA_BATCH);
            while batch.len() < LAMBDA_BATCH {
                match scan.next().await? {
                    Some(row) => batch.push((row, scan.last_segment)),
                    None => break,
                }
            }
            if batch.is_empty() {
                return Ok(None);
            }
            let mut rows: Vec<Row> = batch.iter_mut().map(|(r, _)| std::mem::take(r)).collect();
            crate::exec::semijoin::attach_children(&self.ctx, residual, &mut rows).await?;
            for ((slot, _), row) in batch.iter_mut().zip(rows) {
                *slot = row;
            }
            for (row, pos) in batch {
                if eval.matches(residual, &row).map_err(eval_error)? {
                    self.ready.push_back((row, pos));
                }
            }
        }
    }

    /// Whether the next row (or the page's end) can be had without
    /// waiting for ZeyOS: a hint for writers, which write the rows that
    /// have arrived rather than wait for a batch to fill. (A row that has
    /// arrived may still fail the residual filter, so `next` may wait
    /// anyway.)
    pub fn has_arrived(&self) -> bool {
        if self.delivered >= self.page_limit {
            return true;
        }
        match &self.inner {
            PageInner::Sorted { .. } => true,
            PageInner::Scan(scan) => {
                self.lookahead.is_some() || !self.ready.is_empty() || scan.has_arrived()
            }
        }
    }

    /// The next row of the page.
    pub async fn next(&mut self) -> Result<Option<Row>, GatewayError> {
        if self.delivered >= self.page_limit {
            return Ok(None);
        }
        let row = match &mut self.inner {
            PageInner::Sorted { rows, .. } => rows.next(),
            PageInner::Scan(_) => {
                let item = match self.lookahead.take() {
                    Some(r) => Some(r),
                    None => self.pull().await?,
                };
                item.map(|(row, segment)| {
                    self.last_delivered = Some((segment, row.clone()));
                    row
                })
            }
        };
        if row.is_some() {
            self.delivered += 1;
        }
        Ok(row)
    }

    /// After the page: where the next page starts, or `None` when the
    /// collection (or `$top`) is exhausted.
    pub async fn continuation(&mut self) -> Result<Option<Continuation>, GatewayError> {
        let emitted = self.emitted_before + self.delivered;
        if self.top.is_some_and(|t| emitted >= t) {
            return Ok(None);
        }
        match &mut self.inner {
            PageInner::Sorted { offset, .. } => {
                if self.done || self.delivered < self.page_limit {
                    return Ok(None);
                }
                Ok(Some(Continuation {
                    segment: 0,
                    after: None,
                    emitted,
                    offset: offset.saturating_add(self.delivered),
                }))
            }
            PageInner::Scan(scan) => {
                if self.delivered < self.page_limit {
                    return Ok(None);
                }
                // Position after the last delivered row, before looking ahead.
                let position = self
                    .last_delivered
                    .as_ref()
                    .map(|(segment, row)| (*segment, scan.sort_values(*segment, row)));
                if self.lookahead.is_none() {
                    self.lookahead = self.pull().await?;
                }
                if self.lookahead.is_none() {
                    return Ok(None);
                }
                let Some((segment, after)) = position else {
                    return Ok(None);
                };
                Ok(Some(Continuation {
                    segment,
                    after: Some(after),
                    emitted,
                    offset: 0,
                }))
            }
        }
    }
}
