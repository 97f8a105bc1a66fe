//! Plans for reading a collection: what to ask ZeyOS, what to check in the
//! gateway, and in which order rows arrive.

use serde_json::{json, Value as Json};

use super::pushdown::{FilterCapabilities, Pushdown, Translator};
use crate::bind::expr::{BoundExpr, CmpOp, Func, PathRoot};
use crate::bind::query::{OrderItem, QueryShape};
use crate::edm::{Conversion, EntitySetId, ServiceModel};
use crate::upstream::{Filter, Op, SortKey};

/// The most nullable sort columns split into segments: only the first sort
/// key can be split (see `Planner::order`); otherwise the gateway sorts.
pub const MAX_NULLABLE_SORT_COLUMNS: usize = 1;

/// One sort column in ZeyOS terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SortColumn {
    /// The field path, e.g. `lastname` or `contact.city`.
    pub field: String,
    /// Descending order.
    pub descending: bool,
}

/// A contiguous stretch of the OData order that ZeyOS can sort by itself:
/// the rows where each nullable sort column is null or not, as fixed here.
///
/// OData sorts nulls first (ascending), PostgreSQL last; within a segment
/// no sort column holds a null, so ZeyOS's order is OData's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    /// (field, whether it is null in this segment).
    pub nulls: Vec<(String, bool)>,
    /// The columns to sort by (non-null ones, then the key).
    pub sort: Vec<SortColumn>,
}

impl Segment {
    /// The filter that selects this segment's rows.
    pub fn filter(&self) -> Filter {
        Filter::and(
            self.nulls
                .iter()
                .map(|(f, is_null)| {
                    if *is_null {
                        Filter::is_null(f.clone())
                    } else {
                        Filter::is_not_null(f.clone())
                    }
                })
                .collect(),
        )
    }

    /// ZeyOS sort keys.
    pub fn sort_keys(&self) -> Vec<SortKey> {
        self.sort
            .iter()
            .map(|c| SortKey {
                field: c.field.clone(),
                descending: c.descending,
            })
            .collect()
    }

    /// The filter for rows strictly after `last` (the sort columns' values
    /// of the last row delivered) in this segment's order: key-set paging.
    pub fn after(&self, last: &[Json]) -> Option<Filter> {
        if last.len() != self.sort.len() {
            return None;
        }
        let mut alternatives = Vec::new();
        for (i, col) in self.sort.iter().enumerate() {
            let mut parts: Vec<Filter> = self.sort[..i]
                .iter()
                .zip(last)
                .map(|(c, v)| Filter::cond(c.field.clone(), Op::Eq, v.clone()))
                .collect();
            let op = if col.descending { Op::Lt } else { Op::Gt };
            parts.push(Filter::cond(col.field.clone(), op, last[i].clone()));
            alternatives.push(Filter::and(parts));
        }
        Some(Filter::or(alternatives))
    }
}

/// The order in which rows are produced.
#[derive(Debug, Clone, PartialEq)]
pub enum OrderPlan {
    /// ZeyOS sorts, segment by segment.
    Upstream(Vec<Segment>),
    /// The gateway sorts (expressions ZeyOS cannot sort by, or too many
    /// nullable columns): it reads every matching row first.
    Gateway(Vec<OrderItem>),
}

/// How a collection read is executed.
#[derive(Debug, Clone, PartialEq)]
pub struct CollectionPlan {
    /// The entity set.
    pub set: EntitySetId,
    /// The ZeyOS entity.
    pub entity: String,
    /// Fields to fetch (each fetched under its own path as alias).
    pub fields: Vec<String>,
    /// Composite fields ZeyOS must expand.
    pub expand: Vec<String>,
    /// Everything ZeyOS filters: base filter, parent scope, pushed conjuncts.
    pub filter: Filter,
    /// ZeyOS `query` (from `$search`).
    pub query: Option<String>,
    /// What the gateway must still check.
    pub residual: Option<BoundExpr>,
    /// Row order.
    pub order: OrderPlan,
    /// `$top`.
    pub top: Option<u64>,
    /// `$skip`.
    pub skip: Option<u64>,
    /// `$count=true`.
    pub count: bool,
    /// To-one navigation properties whose expanded entity comes from join
    /// fields of the same request (`contact.city`) instead of a request
    /// of its own.
    pub joined: Vec<String>,
    /// What went where, for `X-Explain` and tests.
    pub explain: Explain,
}

/// A record of the planner's decisions.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Explain {
    /// Conjuncts ZeyOS evaluates exactly.
    pub exact: Vec<String>,
    /// Conjuncts narrowed by ZeyOS and re-checked by the gateway.
    pub inexact: Vec<String>,
    /// Conjuncts only the gateway evaluates.
    pub residual: Vec<String>,
    /// Notes on ordering and paging.
    pub notes: Vec<String>,
}

impl CollectionPlan {
    /// Whether ZeyOS alone decides which rows belong to the result, so that
    /// `$top`, `$skip` and `$count` can be pushed down.
    pub fn fully_pushed(&self) -> bool {
        self.residual.is_none() && matches!(&self.order, OrderPlan::Upstream(s) if s.len() == 1)
    }

    /// The plan as JSON for `X-Explain`.
    pub fn to_json(&self) -> Json {
        let order = match &self.order {
            OrderPlan::Upstream(segments) => json!({
                "by": "upstream",
                "segments": segments.iter().map(|s| json!({
                    "filter": s.filter().to_json(),
                    "sort": s.sort_keys().iter().map(|k| format!("{}{}", if k.descending {'-'} else {'+'}, k.field)).collect::<Vec<_>>(),
                })).collect::<Vec<_>>(),
            }),
            OrderPlan::Gateway(items) => json!({
                "by": "gateway",
                "keys": items.iter().map(|i| format!("{}{}", i.expr, if i.descending {" desc"} else {""})).collect::<Vec<_>>(),
            }),
        };
        json!({
            "entity": self.entity,
            "fields": self.fields,
            "expand": self.expand,
            "filter": self.filter.to_json(),
            "query": self.query,
            "exact": self.explain.exact,
            "inexact": self.explain.inexact,
            "residual": self.explain.residual,
            "order": order,
            "top": self.top,
            "skip": self.skip,
            "count": self.count,
            "fully_pushed": self.fully_pushed(),
            "notes": self.explain.notes,
        })
    }
}

/// Plans collection reads for one service.
pub struct Planner<'m> {
    model: &'m ServiceModel,
    caps: FilterCapabilities,
}

impl<'m> Planner<'m> {
    /// A planner for a model.
    pub fn new(model: &'m ServiceModel, caps: FilterCapabilities) -> Self {
        Planner { model, caps }
    }

    /// Plans reading `set`, narrowed by `scope` (e.g. the parent of a
    /// navigation), shaped by the query options.
    pub fn collection(
        &self,
        set: EntitySetId,
        scope: Vec<Filter>,
        shape: &QueryShape,
    ) -> CollectionPlan {
        let es = self.model.set(set);
        let ty = self.model.entity_type(es.entity_type);
        let translator = Translator::new(self.model, self.caps);
        let mut explain = Explain::default();

        // Filter: base filter, scope, then each conjunct as far as it goes.
        let mut filters = base_filters(es);
        filters.extend(scope);
        let mut residual_parts = Vec::new();
        let mut not_null: Vec<String> = Vec::new();
        if let Some(filter) = &shape.filter {
            for conjunct in filter.conjuncts() {
                match translator.classify(conjunct) {
                    Pushdown::Exact(f) => {
                        explain.exact.push(conjunct.to_string());
                        not_null.extend(implied_not_null(conjunct));
                        filters.push(f);
                    }
                    Pushdown::Inexact(f) => {
                        explain.inexact.push(conjunct.to_string());
                        filters.push(f);
                        residual_parts.push(conjunct.clone());
                    }
                    Pushdown::Unsupported => {
                        explain.residual.push(conjunct.to_string());
                        residual_parts.push(conjunct.clone());
                    }
                }
            }
        }
        let residual = BoundExpr::conjunction(residual_parts);

        // Fields: key, ETag source, selection, and whatever the residual
        // and the order read.
        let mut fields: Vec<String> = Vec::new();
        let mut expand: Vec<String> = Vec::new();
        let add = |f: &str, fields: &mut Vec<String>| {
            if !fields.iter().any(|x| x == f) {
                fields.push(f.to_string());
            }
        };
        add(&ty.key_property().upstream, &mut fields);
        if let Some(p) = ty.property_for_upstream("lastmodified") {
            add(&p.upstream, &mut fields);
        }
        let selected: Vec<usize> = match &shape.select {
            Some(list) => list.clone(),
            None => (0..ty.properties.len()).collect(),
        };
        for i in selected {
            if let Some(p) = ty.properties.get(i) {
                add(&p.upstream, &mut fields);
                if p.conversion == Conversion::Json && !expand.contains(&p.upstream) {
                    expand.push(p.upstream.clone());
                }
            }
        }
        let mut joined = Vec::new();
        for d in &shape.dynamic {
            add(&format!("extdata.{d}"), &mut fields);
        }
        for item in &shape.expand {
            if item.collection {
                continue;
            }
            add(&item.field, &mut fields);
            if let Some(join_fields) = self.join_fields(item) {
                for f in join_fields {
                    add(&f, &mut fields);
                }
                joined.push(item.navigation.clone());
                explain.notes.push(format!(
                    "$expand of `{}` is read through a ZeyOS join",
                    item.navigation
                ));
            }
        }
        if let Some(r) = &residual {
            for f in r.dynamic_fields() {
                add(f, &mut fields);
            }
            for p in r.properties() {
                if p.root == PathRoot::It {
                    add(&p.upstream, &mut fields);
                    let prop = &self.model.entity_type(p.owner).properties[p.property];
                    if prop.conversion == Conversion::Json
                        && p.navigation.is_empty()
                        && !expand.contains(&p.upstream)
                    {
                        expand.push(p.upstream.clone());
                    }
                }
            }
        }

        let order = self.order(shape, &not_null, &mut explain);
        match &order {
            OrderPlan::Upstream(segments) => {
                for s in segments {
                    for c in &s.sort {
                        add(&c.field, &mut fields);
                    }
                }
            }
            OrderPlan::Gateway(items) => {
                for item in items {
                    for f in item.expr.dynamic_fields() {
                        add(f, &mut fields);
                    }
                    // Not the properties of related rows a count or
                    // lambda reads: those are fetched with them.
                    for p in item.expr.properties() {
                        if p.root == PathRoot::It {
                            add(&p.upstream, &mut fields);
                        }
                    }
                }
            }
        }

        CollectionPlan {
            set,
            entity: es.upstream.clone(),
            fields,
            expand,
            filter: Filter::and(filters),
            query: shape.search.clone(),
            residual,
            order,
            top: shape.top,
            skip: shape.skip,
            count: shape.count,
            joined,
            explain,
        }
    }

    /// The join fields (`contact.ID`, `contact.city`, ...) that read a to-one
    /// expansion in the parent's request, when ZeyOS's first-degree joins
    /// can: the target set has no base filter to check, the expansion has
    /// no filter of its own, and every selected property is a plain value.
    fn join_fields(&self, item: &crate::bind::query::ExpandItem) -> Option<Vec<String>> {
        let target = self.model.set(item.set);
        if !target.base_filter.is_empty()
            || item.options.filter.is_some()
            || item.options.search.is_some()
        {
            return None;
        }
        let ty = self.model.entity_type(target.entity_type);
        let mut indexes: Vec<usize> = match &item.options.select {
            Some(list) => list.clone(),
            None => (0..ty.properties.len()).collect(),
        };
        indexes.push(ty.key);
        if let Some(i) = ty
            .properties
            .iter()
            .position(|p| p.upstream == "lastmodified")
        {
            indexes.push(i);
        }
        for nested in &item.options.expand {
            if !nested.collection {
                if let Some(i) = ty
                    .properties
                    .iter()
                    .position(|p| p.upstream == nested.field)
                {
                    indexes.push(i);
                }
            }
        }
        let mut out = Vec::new();
        for i in indexes {
            let p = ty.properties.get(i)?;
            if p.conversion == Conversion::Json {
                return None;
            }
            let f = format!("{}.{}", item.field, p.upstream);
            if !out.contains(&f) {
                out.push(f);
            }
        }
        Some(out)
    }

    fn order(&self, shape: &QueryShape, not_null: &[String], explain: &mut Explain) -> OrderPlan {
        let mut columns: Vec<(SortColumn, bool)> = Vec::new();
        for item in &shape.orderby {
            let BoundExpr::Property(p) = &item.expr else {
                explain.notes.push(format!(
                    "order by `{}` is computed in the gateway",
                    item.expr
                ));
                return OrderPlan::Gateway(self.total_order(shape));
            };
            let prop = &self.model.entity_type(p.owner).properties[p.property];
            if p.root != PathRoot::It
                || p.navigation.len() > 1
                || !prop.filterable
                || prop.conversion == Conversion::Json
            {
                explain
                    .notes
                    .push(format!("order by `{}` is computed in the gateway", p.text));
                return OrderPlan::Gateway(self.total_order(shape));
            }
            if prop.conversion == Conversion::UnixDate && !midnight_field(self.model, p) {
                // ZeyOS sorts the time stamp, so rows of one day would come
                // in time-of-day order instead of by the next sort key.
                explain.notes.push(format!(
                    "order by `{}` is computed in the gateway: the date is read from a time stamp",
                    p.text
                ));
                return OrderPlan::Gateway(self.total_order(shape));
            }
            if prop.ty == crate::edm::EdmType::String && !self.caps.binary_string_order {
                // ZeyOS collates strings by a locale; OData orders them by
                // code point, as the evaluator does.
                explain.notes.push(format!(
                    "order by `{}` is computed in the gateway: ZeyOS collates strings",
                    p.text
                ));
                return OrderPlan::Gateway(self.total_order(shape));
            }
            let nullable = (prop.nullable || !p.navigation.is_empty())
                && !not_null.iter().any(|f| f == &p.upstream);
            if columns.iter().any(|(c, _)| c.field == p.upstream) {
                continue;
            }
            if nullable && !columns.is_empty() {
                // Segments put one column's nulls first by splitting the
                // whole collection, which is right only for the first sort
                // key; ZeyOS would put a later key's nulls last within each
                // group of equal earlier keys.
                explain.notes.push(format!(
                    "order by `{}` is computed in the gateway: a nullable sort key after the first",
                    p.text
                ));
                return OrderPlan::Gateway(self.total_order(shape));
            }
            columns.push((
                SortColumn {
                    field: p.upstream.clone(),
                    descending: item.descending,
                },
                nullable,
            ));
        }
        let key = "ID".to_string();
        if !columns.iter().any(|(c, _)| c.field == key) {
            columns.push((
                SortColumn {
                    field: key,
                    descending: false,
                },
                false,
            ));
        }
        let nullable = columns.iter().filter(|(_, n)| *n).count();
        if nullable > MAX_NULLABLE_SORT_COLUMNS {
            explain.notes.push(format!(
                "{nullable} nullable sort columns: the gateway sorts instead of splitting into {} segments",
                1 << nullable
            ));
            return OrderPlan::Gateway(self.total_order(shape));
        }
        let mut segments = vec![Segment {
            nulls: Vec::new(),
            sort: Vec::new(),
        }];
        for (col, nullable) in columns {
            if !nullable {
                for s in &mut segments {
                    s.sort.push(col.clone());
                }
                continue;
            }
            // Nulls first when ascending, last when descending (OData).
            let mut next = Vec::new();
            for s in segments {
                let mut with_null = s.clone();
                with_null.nulls.push((col.field.clone(), true));
                let mut without = s;
                without.nulls.push((col.field.clone(), false));
                without.sort.push(col.clone());
                if col.descending {
                    next.push(without);
                    next.push(with_null);
                } else {
                    next.push(with_null);
                    next.push(without);
                }
            }
            segments = next;
        }
        if segments.len() > 1 {
            explain.notes.push(format!(
                "nullable sort columns: {} upstream segments keep OData's nulls-first order",
                segments.len()
            ));
        }
        OrderPlan::Upstream(segments)
    }

    /// The requested order made total by the key.
    fn total_order(&self, shape: &QueryShape) -> Vec<OrderItem> {
        shape.orderby.clone()
    }
}

/// Whether a date property's ZeyOS field holds midnights (a ZeyOS date),
/// so that sorting its time stamps sorts the dates; a time stamp exposed
/// as `Edm.Date` (HQ's `InvoiceDate`) carries a time of day.
fn midnight_field(model: &ServiceModel, p: &crate::bind::expr::PropertyPath) -> bool {
    let owner = model.entity_type(p.owner);
    let Some(prop) = owner.properties.get(p.property) else {
        return false;
    };
    zeyos_schema::schema()
        .entity(&owner.upstream)
        .and_then(|e| e.field(&prop.upstream))
        .is_some_and(|f| f.semantic == zeyos_schema::Semantic::Date)
}

/// An entity set's base filter as ZeyOS conditions: every read of the set,
/// whether for its own rows, a semi-join or related rows, carries it.
pub fn base_filters(es: &crate::edm::EntitySet) -> Vec<Filter> {
    es.base_filter
        .iter()
        .map(|c| match c.values.as_slice() {
            [one] => Filter::cond(c.field.clone(), Op::Eq, one.clone()),
            many => Filter::cond(c.field.clone(), Op::In, Json::Array(many.to_vec())),
        })
        .collect()
}

/// Fields a true conjunct proves non-null (comparisons with non-null
/// literals, `in` without null, string predicates).
fn implied_not_null(conjunct: &BoundExpr) -> Vec<String> {
    let literal_not_null = |e: &BoundExpr| matches!(e, BoundExpr::Literal(v, _) if !v.is_null());
    match conjunct {
        BoundExpr::Compare(op, a, b) if *op != CmpOp::Ne => match (a.as_ref(), b.as_ref()) {
            (BoundExpr::Property(p), l) | (l, BoundExpr::Property(p))
                if literal_not_null(l) && p.root == PathRoot::It =>
            {
                vec![p.upstream.clone()]
            }
            _ => Vec::new(),
        },
        // `P ne null`.
        BoundExpr::Compare(CmpOp::Ne, a, b) => match (a.as_ref(), b.as_ref()) {
            (BoundExpr::Property(p), BoundExpr::Literal(v, _))
            | (BoundExpr::Literal(v, _), BoundExpr::Property(p))
                if v.is_null() && p.root == PathRoot::It =>
            {
                vec![p.upstream.clone()]
            }
            _ => Vec::new(),
        },
        BoundExpr::In(a, list) => match a.as_ref() {
            BoundExpr::Property(p) if list.iter().all(literal_not_null) => vec![p.upstream.clone()],
            _ => Vec::new(),
        },
        BoundExpr::Call(Func::Contains | Func::StartsWith | Func::EndsWith, args) => {
            match args.first() {
                Some(BoundExpr::Property(p)) => vec![p.upstream.clone()],
                _ => Vec::new(),
            }
        }
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bind::binder::{Binder, ExpandLimits};

    fn plan(target: &str, caps: FilterCapabilities) -> CollectionPlan {
        let config = crate::config::Config::default_for_demo("http://127.0.0.1:1").unwrap();
        let models = config.service_models().unwrap();
        let model = models.iter().find(|m| m.name == "odata").unwrap();
        let uri = odata_syntax::parse_uri(target, &odata_syntax::Limits::default()).unwrap();
        let bound = Binder::new(model, &uri.query.aliases, ExpandLimits::default())
            .bind(&uri)
            .unwrap();
        let crate::bind::query::Resource::Collection(c) = bound.resource else {
            panic!("collection");
        };
        Planner::new(model, caps).collection(c.set, Vec::new(), &bound.shape)
    }

    #[test]
    fn a_nullable_first_sort_key_splits_into_null_and_non_null_segments() {
        let p = plan("Accounts?$orderby=LastName", FilterCapabilities::default());
        let OrderPlan::Upstream(segments) = &p.order else {
            panic!("upstream order expected");
        };
        assert_eq!(segments.len(), 2);
        assert_eq!(segments[0].nulls, vec![("lastname".to_string(), true)]);
        // Descending puts the nulls last.
        let p = plan(
            "Accounts?$orderby=LastName desc",
            FilterCapabilities::default(),
        );
        let OrderPlan::Upstream(segments) = &p.order else {
            panic!("upstream order expected");
        };
        assert_eq!(segments[1].nulls, vec![("lastname".to_string(), true)]);
    }

    #[test]
    fn collated_strings_are_sorted_in_the_gateway() {
        let collated = FilterCapabilities {
            binary_string_order: false,
        };
        assert!(matches!(
            plan("Accounts?$orderby=LastName", collated).order,
            OrderPlan::Gateway(_)
        ));
        assert!(matches!(
            plan("Accounts?$orderby=CreatedOn", collated).order,
            OrderPlan::Upstream(_)
        ));
        // And string range filters stay in the gateway.
        let p = plan("Accounts?$filter=LastName gt 'M'", collated);
        assert_eq!(p.explain.residual.len(), 1);
        let p = plan("Accounts?$filter=LastName eq 'M'", collated);
        assert_eq!(p.explain.exact.len(), 1);
    }
}
