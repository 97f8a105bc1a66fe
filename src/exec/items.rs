//! `$filter`, `$orderby`, `$skip` and `$top` over the items of a
//! collection-valued property (`Transactions(1)/Items`).
//!
//! The items are part of one upstream record, so there is nothing to push
//! down: they are evaluated here with the same evaluator and ordering as
//! residual rows, so that `Items?$filter=Amount gt 5` keeps exactly the
//! items that `Items/any(i: i/Amount gt 5)` would find.

use serde_json::Value as Json;

use super::collection::{eval_error, order_by_keys};
use super::eval::Evaluator;
use crate::bind::query::QueryShape;
use crate::error::GatewayError;
use crate::values::Value;

/// The items after `$filter` and `$orderby`, and how many there are
/// before `$skip`/`$top` (what `$count` reports).
pub struct ShapedItems {
    /// The items of the requested page.
    pub page: Vec<Json>,
    /// The items that pass `$filter`.
    pub total: usize,
}

/// Applies the shape's filter, ordering, skip and top to `items`, in that
/// order (URL Conventions 5.1). Ties keep the upstream order, which is the
/// order of the items in the record.
pub fn shape_items(
    eval: &Evaluator,
    shape: &QueryShape,
    items: Vec<Json>,
) -> Result<ShapedItems, GatewayError> {
    let mut kept: Vec<(Vec<Value>, Json)> = Vec::with_capacity(items.len());
    for item in items {
        // Every well-formed item is an object; anything else (which the
        // writer shows as null) has only null properties: it fails any
        // filter and sorts as nulls do.
        let Json::Object(map) = &item else {
            if shape.filter.is_none() {
                kept.push((vec![Value::Null; shape.orderby.len()], item));
            }
            continue;
        };
        if let Some(filter) = &shape.filter {
            if !eval.item_matches(filter, map).map_err(eval_error)? {
                continue;
            }
        }
        let mut keys = Vec::with_capacity(shape.orderby.len());
        for o in &shape.orderby {
            keys.push(eval.item_value(&o.expr, map).map_err(|e| {
                GatewayError::bad_request("InvalidOrderBy", e.to_string(), Some("$orderby"))
            })?);
        }
        kept.push((keys, item));
    }
    if !shape.orderby.is_empty() {
        // A stable sort: equal keys keep the record's order.
        kept.sort_by(|a, b| order_by_keys(&shape.orderby, &a.0, &b.0));
    }
    let total = kept.len();
    let skip = usize::try_from(shape.skip.unwrap_or(0)).unwrap_or(usize::MAX);
    let top = shape
        .top
        .map_or(usize::MAX, |t| usize::try_from(t).unwrap_or(usize::MAX));
    let page = kept
        .into_iter()
        .skip(skip)
        .take(top)
        .map(|(_, item)| item)
        .collect();
    Ok(ShapedItems { page, total })
}
