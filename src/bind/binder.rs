//! The binder: resolves a parsed URL against one service's model.
//!
//! Every name becomes a property, navigation property, entity set or enum
//! member of the model, every literal a typed
//! [`Value`](crate::values::Value), and every operator is checked for
//! operand types. What the model lacks is a 400 naming the unknown name;
//! what the model knows but the gateway cannot serve is a 501 naming what
//! is missing.
//!
//! The work is split by job across sibling modules, each adding an
//! `impl Binder` block: `path` binds the resource path, `options` the
//! query options (`$select`, `$expand`, ...), `expression` the `$filter`
//! and `$orderby` expressions and `literal` the literals in them. This
//! file holds what they share: the [`Binder`] itself, its limits, the
//! scope of an expression and the top-level [`Binder::bind`].

use std::collections::HashMap;

use odata_syntax as ast;

use super::query::{BoundRequest, PropertyForm, QueryShape, Resource};
use crate::edm::{EdmType, EntityTypeId, ServiceModel};
use crate::error::GatewayError;

/// Limits on the shape of `$expand`.
#[derive(Debug, Clone, Copy)]
pub struct ExpandLimits {
    /// Deepest nesting.
    pub max_depth: usize,
    /// Most items at one level.
    pub max_breadth: usize,
}

impl Default for ExpandLimits {
    fn default() -> Self {
        ExpandLimits {
            max_depth: 3,
            max_breadth: 16,
        }
    }
}

/// Binds parsed URLs against a model.
pub struct Binder<'m> {
    pub(super) model: &'m ServiceModel,
    pub(super) aliases: HashMap<String, ast::Expr>,
    pub(super) expand_limits: ExpandLimits,
    /// The limits the request's URL was parsed with, for URLs found inside
    /// it (`$entity?$id=...`), so that an id is held to the same bounds.
    pub(super) syntax_limits: odata_syntax::Limits,
}

/// What a lambda's range variable stands for.
#[derive(Clone, Copy)]
pub(super) enum VarKind {
    /// A related entity (`Transactions/any(t: ...)`).
    Entity(EntityTypeId),
    /// A complex value of a composite field (`Items/any(i: ...)`).
    Complex(crate::edm::ComplexTypeId),
}

/// Names in scope while binding an expression: `$it` and lambda variables.
#[derive(Clone)]
pub(super) struct Scope {
    pub(super) it: EntityTypeId,
    /// When set, `$it` is an item of a collection of complex values (the
    /// options of `Transactions(1)/Items`), held as range variable 0.
    pub(super) item: Option<crate::edm::ComplexTypeId>,
    pub(super) vars: Vec<(String, VarKind)>,
    /// Inside `$count($filter=...)`: the range variable (its depth and
    /// kind: the collection's member) that bare names and `$this` refer
    /// to; `$it` stays the resource the whole expression is about.
    pub(super) implicit: Option<(usize, VarKind)>,
    /// Inside the options of a nested `$expand`, `$it` is the resource
    /// the URL addresses (URL Conventions, "$it"), not the related rows
    /// being filtered or ordered; those are `$this`. Evaluating it would
    /// need the outer row beside each related one, which the expansion's
    /// batched requests do not carry, so it is refused (501) rather than
    /// read as the related row.
    pub(super) it_is_outer: bool,
}

pub(super) fn bad(code: &'static str, message: impl Into<String>, target: &str) -> GatewayError {
    GatewayError::bad_request(code, message, Some(target))
}

impl<'m> Binder<'m> {
    /// A binder for one request (parameter aliases are per request).
    pub fn new(
        model: &'m ServiceModel,
        aliases: &[ast::AliasValue],
        expand_limits: ExpandLimits,
    ) -> Self {
        Binder {
            model,
            aliases: aliases
                .iter()
                .map(|a| (a.name.clone(), a.value.clone()))
                .collect(),
            expand_limits,
            syntax_limits: odata_syntax::Limits::default(),
        }
    }

    /// Parses URLs found inside the request with `limits` (the configured
    /// ones) instead of the parser's defaults.
    pub fn with_syntax_limits(mut self, limits: odata_syntax::Limits) -> Self {
        self.syntax_limits = limits;
        self
    }

    /// Binds a whole parsed URL.
    pub fn bind(&self, uri: &ast::ODataUri) -> Result<BoundRequest, GatewayError> {
        let q = &uri.query;
        let resource = match uri.path.segments.first().map(|s| &s.kind) {
            Some(ast::SegmentKind::Entity) => self.entity_by_id(&uri.path, q.id.as_deref())?,
            _ => self.resource(&uri.path)?,
        };
        if q.compute.is_some() {
            return Err(GatewayError::not_implemented(
                "$compute is not supported by this service",
                Some("$compute"),
            ));
        }
        if q.apply.is_some() {
            return Err(GatewayError::not_implemented(
                "$apply (data aggregation) is not supported by this service",
                Some("$apply"),
            ));
        }
        if q.deltatoken.is_some() {
            return Err(GatewayError::not_implemented(
                "change tracking ($deltatoken) is not supported by this service",
                Some("$deltatoken"),
            ));
        }
        if q.index.is_some() {
            // Only meaningful for a positional insert (OData 4.01 Protocol,
            // 11.4.11); ignoring it on a read would hide a client's mistake.
            return Err(bad(
                "InvalidQuery",
                "$index positions an insert into an ordered collection; it does not apply to reads",
                "$index",
            ));
        }
        if q.levels.is_some() {
            return Err(bad(
                "InvalidQuery",
                "$levels is allowed only inside $expand",
                "$levels",
            ));
        }
        // `$id` names the entity of `$entity` (or a reference to delete);
        // elsewhere a read would ignore it and answer something else.
        if q.id.is_some()
            && !matches!(
                uri.path.segments.first().map(|s| &s.kind),
                Some(ast::SegmentKind::Entity)
            )
        {
            let example = self
                .model
                .entity_sets
                .first()
                .map(|set| format!(" (`$entity?$id={}(5)`)", set.name))
                .unwrap_or_default();
            return Err(bad(
                "InvalidQuery",
                format!("$id applies to $entity{example}, not to this resource"),
                "$id",
            ));
        }
        if matches!(
            resource,
            Resource::CollectionReferences(_) | Resource::EntityReference(_)
        ) {
            for (opt, present) in [
                ("$select", q.select.is_some()),
                ("$expand", q.expand.is_some()),
            ] {
                if present {
                    return Err(bad(
                        "InvalidQuery",
                        format!("{opt} does not apply to entity references ($ref)"),
                        opt,
                    ));
                }
            }
        }
        let shape = match &resource {
            Resource::Collection(c) | Resource::Count(c) => self.shape(c.set, q, 0)?,
            // A reference needs the key alone, which is always read.
            Resource::CollectionReferences(c) => QueryShape {
                select: Some(Vec::new()),
                ..self.shape(c.set, q, 0)?
            },
            Resource::Entity(e) | Resource::EntityReference(e) => {
                let mut shape = self.shape(e.set(), q, 0)?;
                if matches!(resource, Resource::EntityReference(_)) {
                    shape.select = Some(Vec::new());
                }
                for (opt, present) in [
                    ("$filter", q.filter.is_some()),
                    ("$orderby", q.orderby.is_some()),
                    ("$top", q.top.is_some()),
                    ("$skip", q.skip.is_some()),
                    ("$count", q.count.is_some()),
                    ("$search", q.search.is_some()),
                ] {
                    if present {
                        return Err(bad(
                            "InvalidQuery",
                            format!("{opt} applies to collections, not to a single entity"),
                            opt,
                        ));
                    }
                }
                shape
            }
            Resource::Property {
                entity,
                property,
                form,
            } => self.property_options(entity.set(), *property, *form, q)?,
            _ => {
                if q.filter.is_some()
                    || q.select.is_some()
                    || q.expand.is_some()
                    || q.orderby.is_some()
                {
                    return Err(bad(
                        "InvalidQuery",
                        "query options other than $format do not apply to this resource",
                        "query",
                    ));
                }
                QueryShape::default()
            }
        };
        Ok(BoundRequest {
            resource,
            shape,
            skiptoken: q.skiptoken.clone(),
            format: q.format.as_ref().map(|f| match f {
                ast::Format::Json => "json".to_string(),
                ast::Format::Xml => "xml".to_string(),
                ast::Format::Atom => "atom".to_string(),
                ast::Format::MediaType(m) => m.clone(),
            }),
        })
    }

    /// The query options of a property read. A collection-valued property
    /// is a collection like any other (URL Conventions 5.1): `$filter` and
    /// `$orderby` over its items' properties, `$top`, `$skip` and `$count`
    /// apply to its items, evaluated in the gateway (the items are part of
    /// one record). `$search`, `$select` and `$expand` are refused as not
    /// implemented rather than ignored. A single value takes no query
    /// options but `$format`.
    fn property_options(
        &self,
        set: crate::edm::EntitySetId,
        property: usize,
        form: PropertyForm,
        q: &ast::QueryOptions,
    ) -> Result<QueryShape, GatewayError> {
        let ty = self.model.entity_type(self.model.set(set).entity_type);
        let prop = &ty.properties[property];
        let collection = matches!(prop.ty, EdmType::Collection(_));
        let expressions = [
            ("$filter", q.filter.is_some()),
            ("$orderby", q.orderby.is_some()),
            ("$search", q.search.is_some()),
            ("$select", q.select.is_some()),
            ("$expand", q.expand.is_some()),
        ];
        let paging = [
            ("$top", q.top.is_some()),
            ("$skip", q.skip.is_some()),
            ("$count", q.count.is_some()),
        ];
        if !collection {
            if let Some((opt, _)) = expressions.iter().chain(&paging).find(|(_, on)| *on) {
                return Err(bad(
                    "InvalidQuery",
                    format!("{opt} does not apply to `{}`, a single value", prop.name),
                    opt,
                ));
            }
            return Ok(QueryShape::default());
        }
        // $filter and $orderby apply to items of a complex type, whose
        // properties are what the expressions name.
        let item = prop.ty.complex_items();
        let supported =
            |opt: &str| item.is_some() && matches!(opt, "$filter" | "$orderby" | "$select");
        if let Some((opt, _)) = expressions.iter().find(|(o, on)| *on && !supported(o)) {
            return Err(GatewayError::not_implemented(
                format!(
                    "{opt} on the collection-valued property `{}` is not supported by this service; \
                     {} are, and `{}/any(...)` filters the entities by their items",
                    prop.name,
                    if item.is_some() {
                        "$filter, $orderby, $select, $top, $skip and $count"
                    } else {
                        "$top, $skip and $count"
                    },
                    prop.name
                ),
                Some(*opt),
            ));
        }
        let select = match (item, q.select.as_deref()) {
            (Some(cid), Some(items)) => self.item_select(cid, items)?,
            _ => None,
        };
        let (filter, orderby) = match item {
            Some(cid) => self.filter_and_orderby(
                &Scope {
                    it: self.model.set(set).entity_type,
                    item: Some(cid),
                    vars: vec![("$it".to_string(), VarKind::Complex(cid))],
                    implicit: None,
                    it_is_outer: false,
                },
                q,
                false,
            )?,
            None => (None, Vec::new()),
        };
        if form == PropertyForm::Count {
            // As for an entity set's /$count: $filter narrows the count,
            // ordering and paging do not change it.
            return Ok(QueryShape {
                filter,
                ..QueryShape::default()
            });
        }
        Ok(QueryShape {
            filter,
            orderby,
            select,
            top: q.top,
            skip: q.skip,
            count: q.count.unwrap_or(false),
            ..QueryShape::default()
        })
    }

    /// `$select` over the items of a collection of complex values: the
    /// item type's properties by index, in the type's order; `*` (or
    /// naming them all) selects all, as no `$select` does.
    fn item_select(
        &self,
        cid: crate::edm::ComplexTypeId,
        items: &[ast::SelectItem],
    ) -> Result<Option<Vec<usize>>, GatewayError> {
        let ct = self.model.complex_type(cid);
        let mut selected = Vec::new();
        let mut star = false;
        for item in items {
            if item.options.is_some() || item.params.is_some() {
                return Err(GatewayError::not_implemented(
                    "nested options in $select are not supported on line items",
                    Some("$select".to_string()),
                ));
            }
            match item.path.as_slice() {
                [ast::SelectSegment::Star] => star = true,
                [ast::SelectSegment::Name(n)] if !n.is_qualified() => {
                    let Some(i) = ct.properties.iter().position(|p| p.name == n.name) else {
                        return Err(bad(
                            "UnknownProperty",
                            format!("{} has no property `{}`", ct.name, n.name),
                            "$select",
                        ));
                    };
                    selected.push(i);
                }
                _ => {
                    return Err(GatewayError::not_implemented(
                        format!(
                            "$select on line items takes property names of {}, not paths",
                            ct.name
                        ),
                        Some("$select".to_string()),
                    ))
                }
            }
        }
        selected.sort_unstable();
        selected.dedup();
        Ok((!star && selected.len() < ct.properties.len()).then_some(selected))
    }
}
