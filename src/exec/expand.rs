//! `$expand` without N+1 requests: the related rows of a whole batch of
//! parents come from one upstream request per batch of keys, and are
//! stitched onto their parents.
//!
//! To-one: the parents' foreign key values, deduplicated, as `ID IN (...)`.
//! To-many: the parents' IDs as `field IN (...)` on the child entity, the
//! nested `$filter` pushed down as far as it goes, the nested `$orderby`
//! as the child order, and `$top`/`$skip` applied per parent. Nested
//! expands run on each level's rows the same way, so the cost is
//! `ceil(rows / batch)` requests per navigation property per level.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde_json::Value as Json;

use super::collection::{eval_error, sort_rows, ExecContext};
use super::eval::{children_key, Evaluator};
use crate::bind::query::{ExpandForm, ExpandItem, QueryShape};
use crate::error::GatewayError;
use crate::plan::collection::{OrderPlan, Planner};
use crate::plan::pushdown::FilterCapabilities;
use crate::upstream::{Filter, ListRequest, Op, Record, RecordList, Row, SortKey};
use crate::values::field_i64;

/// How expands are executed.
#[derive(Debug, Clone, Copy)]
pub struct ExpandSettings {
    /// Keys per upstream request.
    pub batch_size: usize,
    /// Filter translation capabilities.
    pub caps: FilterCapabilities,
}

/// Fetches and attaches the expanded navigation properties of `rows`.
///
/// `joined` names the to-one navigation properties whose entities the
/// parents' own request already read through ZeyOS joins.
pub async fn expand_rows(
    ctx: &ExecContext,
    settings: ExpandSettings,
    items: &[ExpandItem],
    rows: &mut [Row],
    joined: &[String],
) -> Result<(), GatewayError> {
    for item in items {
        if item.collection {
            expand_many(ctx, settings, item, rows).await?;
        } else if joined.contains(&item.navigation) {
            expand_joined(ctx, settings, item, rows).await?;
        } else {
            expand_one(ctx, settings, item, rows).await?;
        }
    }
    Ok(())
}

/// Builds to-one expansions from the join fields (`contact.city`) of the
/// parents' rows: no upstream request for this level.
async fn expand_joined(
    ctx: &ExecContext,
    settings: ExpandSettings,
    item: &ExpandItem,
    rows: &mut [Row],
) -> Result<(), GatewayError> {
    let prefix = format!("{}.", item.field);
    let key = children_key(&item.navigation);
    let mut children: Vec<Option<Row>> = rows
        .iter()
        .map(|row| {
            let mut child = Record::new();
            for (k, v) in row.iter() {
                if let Some(field) = k.strip_prefix(&prefix) {
                    child.insert(field.to_string(), v.to_json());
                }
            }
            // No related row: the join yields nulls, the key included.
            child.get("ID").and_then(field_i64).map(|_| Row::new(child))
        })
        .collect();
    if !item.options.expand.is_empty() {
        let mut present: Vec<Row> = children.iter_mut().filter_map(Option::take).collect();
        Box::pin(expand_rows(
            ctx,
            settings,
            &item.options.expand,
            &mut present,
            &[],
        ))
        .await?;
        let mut it = present.into_iter();
        for (row, slot) in rows.iter().zip(children.iter_mut()) {
            if row
                .get(&format!("{prefix}ID"))
                .and_then(field_i64)
                .is_some()
            {
                *slot = it.next();
            }
        }
    }
    for (row, child) in rows.iter_mut().zip(children) {
        let child = child.map(|c| Json::Object(Row::unwrap_or_clone(c).into_map()));
        Row::make_mut(row).insert(key.clone(), child.unwrap_or(Json::Null));
    }
    Ok(())
}

/// The rows for `ids` of a navigation target, fetched in batches.
async fn fetch_by(
    ctx: &ExecContext,
    settings: ExpandSettings,
    item: &ExpandItem,
    field: &str,
    ids: Vec<i64>,
) -> Result<Vec<Row>, GatewayError> {
    let planner = Planner::new(&ctx.model, settings.caps);
    let filter = match item.options.filter.clone() {
        Some(f) if f.has_lambda() => {
            let ty = ctx.model.set(item.set).entity_type;
            Some(super::semijoin::rewrite_lambdas(ctx, settings.caps, ty, f).await?)
        }
        other => other,
    };
    let shape = QueryShape {
        filter,
        search: item.options.search.clone(),
        orderby: item.options.orderby.clone(),
        select: item.options.select.clone(),
        expand: item.options.expand.clone(),
        ..Default::default()
    };
    let mut out = Vec::new();
    let batch = settings.batch_size.max(1);
    let mut tasks = Vec::new();
    for chunk in ids.chunks(batch) {
        let scope = vec![Filter::cond(
            field.to_string(),
            Op::In,
            Json::Array(chunk.iter().map(|i| Json::from(*i)).collect()),
        )];
        let plan = planner.collection(item.set, scope, &shape);
        let mut fields: Vec<String> = plan.fields.clone();
        if !fields.iter().any(|f| f == field) {
            fields.push(field.to_string());
        }
        let sort = match &plan.order {
            OrderPlan::Upstream(segments) if segments.len() == 1 => segments[0].sort_keys(),
            _ => vec![SortKey {
                field: "ID".into(),
                descending: false,
            }],
        };
        let plan = Arc::new(plan);
        let ctx = ctx.clone();
        let fields = fields.clone();
        tasks.push(tokio::spawn(async move {
            let mut rows = Vec::new();
            let mut offset = 0u64;
            let limit = u64::from(ctx.upstream.settings().max_limit.max(1));
            loop {
                let req = ListRequest {
                    entity: plan.entity.clone(),
                    fields: fields.iter().map(|f| (f.clone(), f.clone())).collect(),
                    filter: Some(plan.filter.clone()),
                    query: plan.query.clone(),
                    sort: sort.clone(),
                    limit: Some(limit as u32),
                    offset: Some(offset),
                    expand: plan.expand.clone(),
                    count: false,
                    distinct: false,
                };
                let mut got = ctx.list(req).await?;
                let n = got.len() as u64;
                if let Some(e) = plan.residual.as_ref().filter(|e| e.has_lambda()) {
                    for chunk in got.chunks_mut(100) {
                        super::semijoin::attach_children(&ctx, e, chunk).await?;
                    }
                }
                let eval = Evaluator::new(&ctx.model, ctx.now);
                for r in got {
                    let keep = match &plan.residual {
                        Some(e) => eval.matches(e, &r).map_err(eval_error)?,
                        None => true,
                    };
                    if keep {
                        rows.push(r);
                    }
                }
                if n < limit {
                    break;
                }
                offset += n;
            }
            Ok::<_, GatewayError>(rows)
        }));
    }
    for t in tasks {
        out.extend(
            t.await
                .map_err(|e| GatewayError::Internal(format!("expand task failed: {e}")))??,
        );
    }
    if !item.options.expand.is_empty() {
        let joined = planner.collection(item.set, Vec::new(), &shape).joined;
        Box::pin(expand_rows(
            ctx,
            settings,
            &item.options.expand,
            &mut out,
            &joined,
        ))
        .await?;
    }
    Ok(out)
}

/// The distinct integer values of `field` in `rows`, sorted: the keys one
/// batched request asks for.
fn distinct_ids(rows: &[Row], field: &str) -> Vec<i64> {
    let mut ids: Vec<i64> = rows
        .iter()
        .filter_map(|r| r.get(field).and_then(field_i64))
        .collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

async fn expand_one(
    ctx: &ExecContext,
    settings: ExpandSettings,
    item: &ExpandItem,
    rows: &mut [Row],
) -> Result<(), GatewayError> {
    let ids = distinct_ids(rows, &item.field);
    let targets = if ids.is_empty() {
        Vec::new()
    } else {
        fetch_by(ctx, settings, item, "ID", ids).await?
    };
    let by_id: HashMap<i64, Row> = targets
        .into_iter()
        .filter_map(|r| r.get("ID").and_then(field_i64).map(|id| (id, r)))
        .collect();
    let key = children_key(&item.navigation);
    for row in rows.iter_mut() {
        let child = row
            .get(&item.field)
            .and_then(field_i64)
            .and_then(|id| by_id.get(&id))
            .map(|r| Json::Object(r.to_map()))
            .unwrap_or(Json::Null);
        Row::make_mut(row).insert(key.clone(), child);
    }
    Ok(())
}

async fn expand_many(
    ctx: &ExecContext,
    settings: ExpandSettings,
    item: &ExpandItem,
    rows: &mut [Row],
) -> Result<(), GatewayError> {
    let ids = distinct_ids(rows, "ID");
    let children = if ids.is_empty() {
        Vec::new()
    } else {
        fetch_by(ctx, settings, item, &item.field, ids).await?
    };
    let mut by_parent: BTreeMap<i64, Vec<Row>> = BTreeMap::new();
    for c in children {
        if let Some(p) = c.get(&item.field).and_then(field_i64) {
            by_parent.entry(p).or_default().push(c);
        }
    }
    let opts = &item.options;
    let eval = Evaluator::new(&ctx.model, ctx.now);
    let key = children_key(&item.navigation);
    for row in rows.iter_mut() {
        let id = row.get("ID").and_then(field_i64);
        let mut list = id.and_then(|i| by_parent.remove(&i)).unwrap_or_default();
        if !opts.orderby.is_empty() {
            sort_rows(&eval, &opts.orderby, &mut list)?;
        }
        let total = list.len();
        let skip = opts.skip.unwrap_or(0) as usize;
        let top = opts.top.map_or(usize::MAX, |t| t as usize);
        let page: Vec<Record> = list
            .into_iter()
            .skip(skip)
            .take(top)
            .map(Row::unwrap_or_clone)
            .collect();
        let row = Row::make_mut(row);
        if opts.count {
            row.insert(format!("{key}@count"), Json::from(total));
        }
        if item.form != ExpandForm::Count {
            row.insert_list(key.clone(), RecordList::new(page));
        }
    }
    Ok(())
}
