//! Lambda operators (`any`/`all` over to-many navigation) without one
//! request per parent.
//!
//! `Transactions/any(t: t/NetAmount gt 1000)` holds for exactly the parents
//! whose ID appears as `account` in some transaction with `netamount >
//! 1000`. When the predicate translates exactly, the gateway asks ZeyOS for
//! those parent keys once (a distinct list of the child's foreign key) and
//! rewrites the lambda into `Id in (...)`, which then pushes down like any
//! other filter. `all(t: P)` becomes `not (Id in (...))` over the parents
//! having a child where `P` is not true, so parents without children pass,
//! as OData requires. Where that is not possible (a predicate ZeyOS cannot
//! evaluate, one that refers to the parent, or too many keys) the lambda
//! stays in the residual and [`attach_children`] fetches the children of
//! each batch of parents (one request per batch) for the evaluator.

use std::collections::BTreeSet;

use serde_json::Value as Json;

use super::collection::ExecContext;
use super::eval::children_key;
use crate::bind::expr::{BoundExpr, Lambda, PathRoot, PropertyPath, Quantifier};
use crate::edm::{EntitySetId, EntityTypeId};
use crate::error::GatewayError;
use crate::plan::pushdown::{FilterCapabilities, Translator};
use crate::upstream::{Filter, ListRequest, Op, Record, RecordList, Row, SortKey};
use crate::values::{field_i64, Value};

/// The most parent keys a semi-join may turn into an `in` list.
pub const MAX_SEMIJOIN_KEYS: usize = 10_000;

/// The entity set whose rows have this entity type (every set has its own
/// type).
pub fn set_of_type(ctx: &ExecContext, ty: EntityTypeId) -> Option<EntitySetId> {
    ctx.model
        .entity_sets
        .iter()
        .position(|s| s.entity_type == ty)
        .map(EntitySetId)
}

/// Rewrites every lambda over `$it` that a semi-join can answer into an
/// `in` over the key; the rest stay as they are.
pub async fn rewrite_lambdas(
    ctx: &ExecContext,
    caps: FilterCapabilities,
    owner: EntityTypeId,
    expr: BoundExpr,
) -> Result<BoundExpr, GatewayError> {
    Box::pin(rewrite(ctx, caps, owner, expr)).await
}

async fn rewrite(
    ctx: &ExecContext,
    caps: FilterCapabilities,
    owner: EntityTypeId,
    expr: BoundExpr,
) -> Result<BoundExpr, GatewayError> {
    Ok(match expr {
        // A count is a number per parent, not a set of parents: it stays
        // for the evaluator.
        BoundExpr::Lambda(l)
            if l.root == PathRoot::It && l.depth == 0 && l.quantifier != Quantifier::Count =>
        {
            match semijoin(ctx, caps, owner, &l).await? {
                Some(e) => e,
                None => BoundExpr::Lambda(l),
            }
        }
        BoundExpr::Not(a) => {
            BoundExpr::Not(Box::new(Box::pin(rewrite(ctx, caps, owner, *a)).await?))
        }
        BoundExpr::And(a, b) => BoundExpr::And(
            Box::new(Box::pin(rewrite(ctx, caps, owner, *a)).await?),
            Box::new(Box::pin(rewrite(ctx, caps, owner, *b)).await?),
        ),
        BoundExpr::Or(a, b) => BoundExpr::Or(
            Box::new(Box::pin(rewrite(ctx, caps, owner, *a)).await?),
            Box::new(Box::pin(rewrite(ctx, caps, owner, *b)).await?),
        ),
        other => other,
    })
}

/// The semi-join replacement of one lambda, or `None` to keep it.
async fn semijoin(
    ctx: &ExecContext,
    caps: FilterCapabilities,
    owner: EntityTypeId,
    l: &Lambda,
) -> Result<Option<BoundExpr>, GatewayError> {
    let Some(child_set) = set_of_type(ctx, l.target) else {
        return Ok(None);
    };
    // The predicate as a filter on the child entity itself.
    let predicate = match &l.predicate {
        Some(p) => match reroot(p, l.depth) {
            Some(p) => Some(Box::pin(rewrite(ctx, caps, l.target, p)).await?),
            None => return Ok(None),
        },
        None => None,
    };
    let translator = Translator::new(&ctx.model, caps);
    let any = l.quantifier == Quantifier::Any;
    let child_filter = match (&predicate, any) {
        (None, _) => Filter::And(Vec::new()),
        (Some(p), true) => match translator.t(p) {
            Some(f) => f,
            None => return Ok(None),
        },
        (Some(p), false) => match translator.not_true(p) {
            Some(f) => f,
            None => return Ok(None),
        },
    };
    let es = ctx.model.set(child_set);
    let mut parts = crate::plan::collection::base_filters(es);
    parts.push(Filter::is_not_null(l.child_field.clone()));
    parts.push(child_filter);
    let Some(keys) = parent_keys(ctx, &es.upstream, &l.child_field, Filter::and(parts)).await?
    else {
        return Ok(None);
    };
    let ty = ctx.model.entity_type(owner);
    let key = ty.key_property();
    let id = BoundExpr::Property(PropertyPath {
        root: PathRoot::It,
        navigation: Vec::new(),
        owner,
        property: ty.key,
        text: key.name.clone(),
        upstream: key.upstream.clone(),
    });
    let list: Vec<BoundExpr> = keys
        .into_iter()
        .map(|k| BoundExpr::Literal(Value::Int(k), Some(key.ty.clone())))
        .collect();
    let member = if list.is_empty() {
        BoundExpr::Literal(Value::Bool(false), Some(crate::edm::EdmType::Boolean))
    } else {
        BoundExpr::In(Box::new(id), list)
    };
    Ok(Some(if any {
        member
    } else {
        BoundExpr::Not(Box::new(member))
    }))
}

/// The distinct values of `field` over the rows matching `filter`, or
/// `None` when there are more than [`MAX_SEMIJOIN_KEYS`].
async fn parent_keys(
    ctx: &ExecContext,
    entity: &str,
    field: &str,
    filter: Filter,
) -> Result<Option<BTreeSet<i64>>, GatewayError> {
    let limit = u64::from(ctx.upstream.settings().max_limit.max(1));
    let mut keys = BTreeSet::new();
    let mut after: Option<i64> = None;
    loop {
        let mut parts = vec![filter.clone()];
        if let Some(a) = after {
            parts.push(Filter::cond(field.to_string(), Op::Gt, a));
        }
        let req = ListRequest {
            entity: entity.to_string(),
            fields: vec![(field.to_string(), field.to_string())],
            filter: Some(Filter::and(parts)),
            sort: vec![SortKey {
                field: field.to_string(),
                descending: false,
            }],
            limit: Some(limit as u32),
            distinct: true,
            ..Default::default()
        };
        let rows = ctx.list(req).await?;
        let n = rows.len() as u64;
        for r in &rows {
            if let Some(k) = r.get(field).and_then(field_i64) {
                keys.insert(k);
                after = Some(after.map_or(k, |a: i64| a.max(k)));
            }
        }
        if keys.len() > MAX_SEMIJOIN_KEYS {
            return Ok(None);
        }
        if n < limit {
            return Ok(Some(keys));
        }
    }
}

/// The lambda predicate with its range variable as `$it` (and inner
/// variables shifted); `None` when it refers to outer variables or the
/// parent (a correlated predicate).
fn reroot(e: &BoundExpr, depth: usize) -> Option<BoundExpr> {
    let root = |r: PathRoot| -> Option<PathRoot> {
        match r {
            PathRoot::It => None,
            PathRoot::Var(d) if d == depth => Some(PathRoot::It),
            PathRoot::Var(d) if d > depth => Some(PathRoot::Var(d - depth - 1)),
            PathRoot::Var(_) => None,
        }
    };
    Some(match e {
        BoundExpr::Literal(..) => e.clone(),
        BoundExpr::Property(p) => {
            let mut p = p.clone();
            p.root = root(p.root)?;
            BoundExpr::Property(p)
        }
        BoundExpr::Not(a) => BoundExpr::Not(Box::new(reroot(a, depth)?)),
        BoundExpr::Neg(a) => BoundExpr::Neg(Box::new(reroot(a, depth)?)),
        BoundExpr::And(a, b) => {
            BoundExpr::And(Box::new(reroot(a, depth)?), Box::new(reroot(b, depth)?))
        }
        BoundExpr::Or(a, b) => {
            BoundExpr::Or(Box::new(reroot(a, depth)?), Box::new(reroot(b, depth)?))
        }
        BoundExpr::Compare(op, a, b) => BoundExpr::Compare(
            *op,
            Box::new(reroot(a, depth)?),
            Box::new(reroot(b, depth)?),
        ),
        BoundExpr::Arith(op, a, b) => BoundExpr::Arith(
            *op,
            Box::new(reroot(a, depth)?),
            Box::new(reroot(b, depth)?),
        ),
        BoundExpr::Has(a, b) => {
            BoundExpr::Has(Box::new(reroot(a, depth)?), Box::new(reroot(b, depth)?))
        }
        BoundExpr::In(a, list) => BoundExpr::In(
            Box::new(reroot(a, depth)?),
            list.iter()
                .map(|x| reroot(x, depth))
                .collect::<Option<Vec<_>>>()?,
        ),
        BoundExpr::Call(f, args) => BoundExpr::Call(
            *f,
            args.iter()
                .map(|x| reroot(x, depth))
                .collect::<Option<Vec<_>>>()?,
        ),
        // Composite-field lambdas and extdata inside a lambda stay in the
        // gateway (the children are fetched for the residual instead).
        BoundExpr::ItemsLambda(_) | BoundExpr::ItemProperty(_) | BoundExpr::Dynamic(_) => {
            return None
        }
        BoundExpr::Lambda(inner) => {
            let mut inner = inner.clone();
            inner.root = root(inner.root)?;
            inner.depth = inner.depth.checked_sub(depth + 1)?;
            inner.predicate = match &inner.predicate {
                Some(p) => Some(Box::new(reroot(p, depth)?)),
                None => None,
            };
            BoundExpr::Lambda(inner)
        }
    })
}

/// The lambdas of an expression whose collection hangs off `root`,
/// grouped by navigation property: one fetch of the children serves every
/// lambda of the group, so it must read the fields all of them need.
fn lambdas_at<'e>(
    exprs: impl IntoIterator<Item = &'e BoundExpr>,
    root: PathRoot,
) -> Vec<Vec<Lambda>> {
    let mut groups: Vec<Vec<Lambda>> = Vec::new();
    for expr in exprs {
        expr.visit(&mut |e| {
            if let BoundExpr::Lambda(l) = e {
                if l.root == root {
                    add_to_group(&mut groups, l.clone());
                }
            }
        });
    }
    groups
}

/// Adds `l` to the group of its navigation property, or starts one.
fn add_to_group(groups: &mut Vec<Vec<Lambda>>, l: Lambda) {
    match groups.iter_mut().find(|g| g[0].navigation == l.navigation) {
        Some(group) => group.push(l),
        None => groups.push(vec![l]),
    }
}

/// Fetches the children the residual's lambdas need for a batch of rows
/// (one request per navigation property and batch, recursively for nested
/// lambdas) and keeps them on the rows under [`children_key`].
pub async fn attach_children(
    ctx: &ExecContext,
    residual: &BoundExpr,
    rows: &mut [Row],
) -> Result<(), GatewayError> {
    attach_children_of(ctx, [residual], rows).await
}

/// Fetches the children that the lambdas and counts of several
/// expressions need (the `$orderby` items, `Transactions/$count desc`):
/// one fetch per navigation property with the fields of all of them, so
/// that one expression's fetch does not replace another's.
pub async fn attach_children_of<'e>(
    ctx: &ExecContext,
    exprs: impl IntoIterator<Item = &'e BoundExpr>,
    rows: &mut [Row],
) -> Result<(), GatewayError> {
    for group in lambdas_at(exprs, PathRoot::It) {
        Box::pin(attach_group(ctx, &group, rows)).await?;
    }
    Ok(())
}

/// Attaches, per batch of `rows`, the children that the lambdas and
/// counts among `$orderby` items need before the rows can be sorted.
pub async fn attach_order_children(
    ctx: &ExecContext,
    items: &[crate::bind::query::OrderItem],
    rows: &mut [Row],
) -> Result<(), GatewayError> {
    if !items.iter().any(|i| i.expr.has_lambda()) {
        return Ok(());
    }
    for chunk in rows.chunks_mut(super::collection::LAMBDA_BATCH) {
        attach_children_of(ctx, items.iter().map(|i| &i.expr), chunk).await?;
    }
    Ok(())
}

/// Fetches the children of one navigation property for a batch of rows,
/// with every field the group's lambdas read on them (and the children's
/// own children for lambdas nested in those).
async fn attach_group(
    ctx: &ExecContext,
    group: &[Lambda],
    rows: &mut [Row],
) -> Result<(), GatewayError> {
    let Some(l) = group.first() else {
        return Ok(());
    };
    let ids: BTreeSet<i64> = rows
        .iter()
        .filter_map(|r| r.get("ID").and_then(field_i64))
        .collect();
    let key = children_key(&l.navigation);
    if ids.is_empty() {
        for r in rows.iter_mut() {
            Row::make_mut(r).insert_list(key.clone(), RecordList::new(Vec::new()));
        }
        return Ok(());
    }
    let Some(child_set) = set_of_type(ctx, l.target) else {
        return Err(GatewayError::Internal(format!(
            "no entity set for the target of {}",
            l.navigation
        )));
    };
    let es = ctx.model.set(child_set);
    // Fields the predicates read on their range variables, and the
    // lambdas nested in them, grouped again by navigation property.
    let mut fields: Vec<String> = vec!["ID".into(), l.child_field.clone()];
    let mut nested: Vec<Vec<Lambda>> = Vec::new();
    for member in group {
        let Some(p) = &member.predicate else {
            continue;
        };
        for prop in p.properties() {
            if prop.root == PathRoot::Var(member.depth) && !fields.contains(&prop.upstream) {
                fields.push(prop.upstream.clone());
            }
        }
        for inner in lambdas_at([&**p], PathRoot::Var(member.depth)) {
            // Nested lambdas range over the children: rooted at them.
            for mut rerooted in inner {
                rerooted.root = PathRoot::It;
                add_to_group(&mut nested, rerooted);
            }
        }
    }
    let mut parts = crate::plan::collection::base_filters(es);
    parts.push(Filter::cond(
        l.child_field.clone(),
        Op::In,
        Json::Array(ids.iter().map(|i| Json::from(*i)).collect()),
    ));
    let limit = u64::from(ctx.upstream.settings().max_limit.max(1));
    let mut children: Vec<Row> = Vec::new();
    let mut after: Option<i64> = None;
    loop {
        let mut f = parts.clone();
        if let Some(a) = after {
            f.push(Filter::cond("ID", Op::Gt, a));
        }
        let req = ListRequest {
            entity: es.upstream.clone(),
            fields: fields.iter().map(|x| (x.clone(), x.clone())).collect(),
            filter: Some(Filter::and(f)),
            sort: vec![SortKey {
                field: "ID".into(),
                descending: false,
            }],
            limit: Some(limit as u32),
            ..Default::default()
        };
        let got = ctx.list(req).await?;
        let n = got.len() as u64;
        after = got
            .last()
            .and_then(|r| r.get("ID"))
            .and_then(field_i64)
            .or(after);
        children.extend(got);
        if children.len() as u64 > ctx.max_residual_scan {
            return Err(GatewayError::bad_request(
                "QueryTooExpensive",
                format!(
                    "evaluating `{}` in the gateway needs more than {} related rows; narrow the query",
                    l.text, ctx.max_residual_scan
                ),
                Some("$filter"),
            ));
        }
        if n < limit {
            break;
        }
    }
    for inner in &nested {
        Box::pin(attach_group(ctx, inner, &mut children)).await?;
    }
    let mut by_parent: std::collections::HashMap<i64, Vec<Record>> =
        std::collections::HashMap::new();
    for c in children {
        if let Some(p) = c.get(&l.child_field).and_then(field_i64) {
            by_parent
                .entry(p)
                .or_default()
                .push(Row::unwrap_or_clone(c));
        }
    }
    for r in rows.iter_mut() {
        let list = r
            .get("ID")
            .and_then(field_i64)
            .and_then(|id| by_parent.remove(&id))
            .unwrap_or_default();
        Row::make_mut(r).insert_list(key.clone(), RecordList::new(list));
    }
    Ok(())
}
