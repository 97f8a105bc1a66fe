//! Query-option binding: `$filter`, `$orderby`, `$search`, `$select`,
//! `$top`/`$skip`/`$count` and `$expand` (with `$levels` and nested
//! options) combined into the [`QueryShape`] of a query on one entity set.
//!
//! Separate from path binding, which decides the entity set the options
//! apply to, and from expression binding, which this module calls for
//! `$filter` and `$orderby`: it owns the shape of a query, the `$expand`
//! limits and the recursion into nested expansions.

use odata_syntax as ast;
use odata_syntax::SelectSegment;

use super::binder::{bad, Binder, Scope};
use super::expr::{BoundExpr, ExprType};
use super::expression::{expect_boolean, is_extdata_name};
use super::query::{ExpandForm, ExpandItem, OrderItem, QueryShape};
use crate::edm::{Conversion, EdmType, EntitySetId, Join};
use crate::error::GatewayError;

impl Binder<'_> {
    pub(super) fn shape(
        &self,
        set: EntitySetId,
        q: &ast::QueryOptions,
        depth: usize,
    ) -> Result<QueryShape, GatewayError> {
        let type_id = self.model.set(set).entity_type;
        let scope = Scope {
            it: type_id,
            item: None,
            vars: Vec::new(),
            implicit: None,
            it_is_outer: depth > 0,
        };
        // Related rows are fetched for sorting a page's rows; the rows of
        // an expansion are sorted after their own expansions replaced them.
        let (filter, orderby) = self.filter_and_orderby(&scope, q, depth == 0)?;
        let search = match &q.search {
            Some(s) => Some(search_text(s)?),
            None => None,
        };
        let Selection {
            properties: mut select,
            dynamic,
            navigation: selected_navigation,
        } = self.select(set, q.select.as_deref())?;
        let expand = self.expand(set, q.expand.as_deref(), depth, &mut select)?;
        Ok(QueryShape {
            filter,
            search,
            orderby,
            select,
            dynamic,
            selected_navigation,
            expand,
            top: q.top,
            skip: q.skip,
            count: q.count.unwrap_or(false),
        })
    }

    /// `$filter` and `$orderby` over the members of `scope`'s collection;
    /// `related_order` allows ordering by related entities
    /// (`Transactions/$count desc`).
    pub(super) fn filter_and_orderby(
        &self,
        scope: &Scope,
        q: &ast::QueryOptions,
        related_order: bool,
    ) -> Result<(Option<BoundExpr>, Vec<OrderItem>), GatewayError> {
        let filter = match &q.filter {
            Some(f) => {
                let (e, t) = self.expr(f, scope, "$filter")?;
                expect_boolean(&t, f, "$filter")?;
                Some(e)
            }
            None => None,
        };
        let mut orderby = Vec::new();
        for item in q.orderby.iter().flatten() {
            let (e, t) = self.expr(&item.expr, scope, "$orderby")?;
            if e.has_lambda() && !related_order {
                return Err(GatewayError::not_implemented(
                    format!(
                        "cannot order by `{}`: ordering expanded entities or line items by related entities (any, all, $count) is not supported",
                        item.expr
                    ),
                    Some("$orderby"),
                ));
            }
            let dynamic = matches!(e, BoundExpr::Dynamic(_));
            if let (
                false,
                ExprType::Edm(EdmType::Complex(_) | EdmType::Collection(_) | EdmType::Untyped),
            ) = (dynamic, &t)
            {
                return Err(bad(
                    "InvalidOrderBy",
                    format!(
                        "cannot order by `{}`: it is not a primitive value",
                        item.expr
                    ),
                    "$orderby",
                ));
            }
            orderby.push(OrderItem {
                expr: e,
                descending: item.descending,
            });
        }
        Ok((filter, orderby))
    }

    /// What `$select` names, sorted by kind.
    fn select(
        &self,
        set: EntitySetId,
        items: Option<&[ast::SelectItem]>,
    ) -> Result<Selection, GatewayError> {
        let Some(items) = items else {
            return Ok(Selection::default());
        };
        let ty = self.model.entity_type(self.model.set(set).entity_type);
        let mut out: Vec<usize> = Vec::new();
        let mut dynamic: Vec<String> = Vec::new();
        let mut navigation: Vec<String> = Vec::new();
        let mut all = false;
        for item in items {
            if item.options.is_some() {
                return Err(GatewayError::not_implemented(
                    "nested options in $select are not supported by this service",
                    Some("$select"),
                ));
            }
            match item.path.as_slice() {
                [SelectSegment::Star] => all = true,
                [SelectSegment::Name(n)] if !n.is_qualified() => {
                    if let Some(i) = ty.property_index.get(&n.name) {
                        if !out.contains(i) {
                            out.push(*i);
                        }
                    } else if ty.navigation_index.contains_key(&n.name) {
                        // Selecting a navigation property asks for its link,
                        // which minimal metadata omits.
                        if !navigation.contains(&n.name) {
                            navigation.push(n.name.clone());
                        }
                    } else if let Some(u) = ty.unsupported_feature(&n.name) {
                        return Err(GatewayError::not_implemented(u.message.clone(), Some(n.name.clone())));
                    } else if ty.open && is_extdata_name(&n.name) {
                        // A dynamic property of an open type: ZeyOS extdata.
                        if !dynamic.contains(&n.name) {
                            dynamic.push(n.name.clone());
                        }
                    } else {
                        return Err(unknown_selected(ty, &n.name));
                    }
                }
                [SelectSegment::Annotation { .. }] | [SelectSegment::AllOperations(_)] => {}
                [SelectSegment::Name(n), _, ..]
                    if !n.is_qualified() && ty.navigation_index.contains_key(&n.name) =>
                {
                    // A path through a navigation property is not a select
                    // item (OData 4.01 URL Conventions, 5.1.3); say how to
                    // get what was meant.
                    return Err(bad(
                        "InvalidSelect",
                        format!(
                            "`{}` is a navigation property: select its properties with $expand={}($select=...)",
                            n.name, n.name
                        ),
                        "$select",
                    ));
                }
                // A path whose first name is no property at all.
                [SelectSegment::Name(n), _, ..]
                    if !(n.is_qualified()
                        || ty.property_index.contains_key(&n.name)
                        || ty.unsupported_feature(&n.name).is_some()
                        || (ty.open && is_extdata_name(&n.name))) =>
                {
                    return Err(unknown_selected(ty, &n.name));
                }
                _ => {
                    return Err(GatewayError::not_implemented(
                        format!("$select of `{}` (paths into complex values, casts, operations) is not supported by this service", item),
                        Some("$select"),
                    ))
                }
            }
        }
        Ok(Selection {
            properties: if all { None } else { Some(out) },
            dynamic,
            navigation,
        })
    }

    fn expand(
        &self,
        set: EntitySetId,
        items: Option<&[ast::ExpandItem]>,
        depth: usize,
        select: &mut Option<Vec<usize>>,
    ) -> Result<Vec<ExpandItem>, GatewayError> {
        let Some(items) = items else {
            return Ok(Vec::new());
        };
        if depth + 1 > self.expand_limits.max_depth {
            return Err(bad(
                "ExpandTooDeep",
                format!(
                    "$expand is nested deeper than the limit of {}",
                    self.expand_limits.max_depth
                ),
                "$expand",
            ));
        }
        if items.len() > self.expand_limits.max_breadth {
            return Err(bad(
                "ExpandTooBroad",
                format!(
                    "$expand lists {} items, more than the limit of {}",
                    items.len(),
                    self.expand_limits.max_breadth
                ),
                "$expand",
            ));
        }
        let type_id = self.model.set(set).entity_type;
        let ty = self.model.entity_type(type_id);
        let mut out: Vec<ExpandItem> = Vec::new();
        for item in items {
            let form = match item.suffix {
                ast::ExpandSuffix::None => ExpandForm::Entities,
                ast::ExpandSuffix::Count => ExpandForm::Count,
                ast::ExpandSuffix::Ref => ExpandForm::References,
                ast::ExpandSuffix::Value => {
                    return Err(GatewayError::not_implemented(
                        format!("$expand of `{item}`: this service has no media streams"),
                        Some("$expand"),
                    ))
                }
            };
            let names: Vec<String> = match item.path.as_slice() {
                [SelectSegment::Star]
                    if item.options.as_ref().is_some_and(|o| {
                        matches!(o.levels, Some(ast::Levels::Max))
                            || matches!(o.levels, Some(ast::Levels::N(n)) if n > 1)
                    }) =>
                {
                    // URL Conventions ("System Query Option $expand"):
                    // every navigation property of every related entity
                    // again, a fan-out of dozens of ZeyOS requests per
                    // page; not done rather than done for some navigation
                    // properties only.
                    return Err(GatewayError::not_implemented(
                        "$levels above 1 with `*` is not supported by this service; name the navigation properties to expand at each level",
                        Some("$levels"),
                    ));
                }
                [SelectSegment::Star] => ty.navigation.iter().map(|n| n.name.clone()).collect(),
                [SelectSegment::Name(n)] if !n.is_qualified() => vec![n.name.clone()],
                _ => {
                    return Err(GatewayError::not_implemented(
                        format!("$expand of `{item}` is not supported by this service"),
                        Some("$expand"),
                    ))
                }
            };
            for name in names {
                if let Some(u) = ty.unsupported_feature(&name) {
                    return Err(GatewayError::not_implemented(u.message.clone(), Some(name)));
                }
                if let Some(i) = ty.property_index.get(&name) {
                    match form {
                        ExpandForm::Entities => {}
                        ExpandForm::Count => {
                            return Err(GatewayError::not_implemented(
                                format!("`{name}` holds line items, not related entities: $expand of `{name}/$count` is not supported"),
                                Some("$expand"),
                            ));
                        }
                        // Line items have no identity to refer to.
                        ExpandForm::References => {
                            return Err(bad(
                                "InvalidExpand",
                                format!("`{name}` holds line items, not related entities: they have no references"),
                                "$expand",
                            ));
                        }
                    }
                    // HQ-style `$expand=Positions(...)` of a composite
                    // property: it is selected (ZeyOS expands it).
                    let prop = &ty.properties[*i];
                    if prop.conversion != Conversion::Json {
                        return Err(bad(
                            "InvalidExpand",
                            format!("`{name}` is a property, not a navigation property"),
                            "$expand",
                        ));
                    }
                    if let Some(opts) = &item.options {
                        for nested in opts.expand.iter().flatten() {
                            let path = format!(
                                "{name}/{}",
                                nested
                                    .path
                                    .iter()
                                    .map(|s| s.to_string())
                                    .collect::<Vec<_>>()
                                    .join("/")
                            );
                            if let Some(u) = ty.unsupported_feature(&path) {
                                return Err(GatewayError::not_implemented(
                                    u.message.clone(),
                                    Some(path),
                                ));
                            }
                        }
                        if **opts != ast::QueryOptions::default() {
                            return Err(GatewayError::not_implemented(
                                format!("options inside $expand of the complex property `{name}` are not supported"),
                                Some("$expand"),
                            ));
                        }
                    }
                    if let Some(sel) = select.as_mut() {
                        if !sel.contains(i) {
                            sel.push(*i);
                        }
                    }
                    continue;
                }
                let Some(nav) = ty.navigation_property(&name) else {
                    return Err(bad(
                        "InvalidExpand",
                        format!("{} has no navigation property `{name}`", ty.name),
                        "$expand",
                    ));
                };
                let target = self.model.navigation_target(set, &name).ok_or_else(|| {
                    bad(
                        "InvalidExpand",
                        format!("`{name}` leads to no entity set of this service"),
                        "$expand",
                    )
                })?;
                if out.iter().any(|e| e.navigation == name) {
                    return Err(bad(
                        "InvalidExpand",
                        format!("`{name}` is expanded twice"),
                        "$expand",
                    ));
                }
                let default_options = ast::QueryOptions::default();
                let options = item.options.as_deref().unwrap_or(&default_options);
                let mut nested = self.shape(target, options, depth + 1)?;
                if let Some(levels) = options.levels {
                    // `$levels=n` repeats the expansion of this navigation
                    // property on its targets n times (`max`: as deep as
                    // the limit allows), where the target type has it.
                    let remaining = self.expand_limits.max_depth.saturating_sub(depth + 1);
                    let n = match levels {
                        ast::Levels::N(n) => n as usize,
                        ast::Levels::Max => remaining + 1,
                    };
                    if n > remaining + 1 {
                        return Err(bad(
                            "ExpandTooDeep",
                            format!(
                                "$levels={n} goes deeper than the limit of {}",
                                self.expand_limits.max_depth
                            ),
                            "$levels",
                        ));
                    }
                    let target_type = self.model.entity_type(self.model.set(target).entity_type);
                    if n > 1 && target_type.navigation_property(&name).is_some() {
                        let mut again = item.clone();
                        let mut opts = options.clone();
                        opts.levels = Some(ast::Levels::N((n - 1) as u32));
                        again.options = Some(Box::new(opts));
                        again.path = vec![SelectSegment::Name(ast::QualifiedName::simple(
                            name.clone(),
                        ))];
                        let more = self.expand(
                            target,
                            Some(std::slice::from_ref(&again)),
                            depth + 1,
                            &mut nested.select,
                        )?;
                        nested.expand.extend(more);
                    }
                }
                let (collection, field) = match &nav.join {
                    Join::ForeignKey { field, .. } => (false, field.clone()),
                    Join::Reverse { field, .. } => (true, field.clone()),
                };
                if !collection
                    && (nested.top.is_some()
                        || nested.skip.is_some()
                        || nested.count
                        || !nested.orderby.is_empty())
                {
                    return Err(bad(
                        "InvalidExpand",
                        format!("`{name}` is a single entity: $top, $skip, $count and $orderby do not apply"),
                        "$expand",
                    ));
                }
                match form {
                    ExpandForm::Entities => {}
                    ExpandForm::Count => {
                        if !collection {
                            return Err(bad(
                                "InvalidExpand",
                                format!(
                                    "`{name}` is a single entity: /$count applies to collections"
                                ),
                                "$expand",
                            ));
                        }
                        // The parser allows only $filter and $search here;
                        // the entities are counted, none is written.
                        nested.count = true;
                        nested.select = Some(Vec::new());
                    }
                    // The parser allows no $select or $expand here; a
                    // reference needs the key alone, which is always read.
                    ExpandForm::References => nested.select = Some(Vec::new()),
                }
                out.push(ExpandItem {
                    navigation: name,
                    set: target,
                    collection,
                    field,
                    form,
                    options: Box::new(nested),
                });
            }
        }
        Ok(out)
    }
}

/// The error for a `$select` item naming no property of `ty`, with the
/// closest name when it looks like a typo.
fn unknown_selected(ty: &crate::edm::EntityType, name: &str) -> GatewayError {
    let names = ty
        .properties
        .iter()
        .map(|p| p.name.as_str())
        .chain(ty.navigation.iter().map(|p| p.name.as_str()));
    bad(
        "InvalidSelect",
        format!(
            "{} has no property `{name}`{}",
            ty.name,
            crate::config::error::Hint::closest(name, names)
        ),
        "$select",
    )
}

/// `$search` as ZeyOS `query` text: ZeyOS matches rows containing every
/// term, so only terms combined with AND (or by juxtaposition) translate.
fn search_text(s: &ast::SearchExpr) -> Result<String, GatewayError> {
    use ast::SearchKind as K;
    fn walk(s: &ast::SearchExpr, out: &mut Vec<String>) -> Result<(), GatewayError> {
        match &s.kind {
            // ZeyOS splits its query on whitespace and matches each word
            // anywhere: a phrase of several words cannot be asked for.
            K::Phrase(w) | K::Quoted(w) if w.split_whitespace().nth(1).is_some() => {
                Err(GatewayError::not_implemented(
                    format!("ZeyOS search matches single words, not the phrase \"{w}\"; search for the words instead"),
                    Some("$search".to_string()),
                ))
            }
            K::Word(w) | K::Phrase(w) | K::Quoted(w) => {
                out.push(w.clone());
                Ok(())
            }
            K::And(a, b) => {
                walk(a, out)?;
                walk(b, out)
            }
            K::Or(..) | K::Not(..) => Err(GatewayError::not_implemented(
                "ZeyOS search matches all given terms; OR and NOT are not supported in $search",
                Some("$search".to_string()),
            )),
        }
    }
    let mut terms = Vec::new();
    walk(s, &mut terms)?;
    Ok(terms.join(" "))
}

/// What one `$select` names.
#[derive(Default)]
struct Selection {
    /// Property indexes; `None` selects all.
    properties: Option<Vec<usize>>,
    /// Dynamic (extdata) properties of an open type.
    dynamic: Vec<String>,
    /// Navigation properties (their links).
    navigation: Vec<String>,
}
