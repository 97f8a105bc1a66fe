//! The binder: resolves a parsed URL against one service's model.
//!
//! Every name becomes a property, navigation property, entity set or enum
//! member of the model, every literal a typed [`Value`], and every
//! operator is checked for operand types. What the model lacks is a 400
//! naming the unknown name; what the model knows but the gateway cannot
//! serve is a 501 naming what is missing.

use std::collections::HashMap;

use odata_syntax as ast;
use odata_syntax::{ExprKind, Literal, PathStart, SegmentKind, SelectSegment};

use super::expr::{
    ArithOp, BoundExpr, CmpOp, DynamicProperty, ExprType, Func, ItemProperty, ItemsLambda, Lambda,
    NavStep, PathRoot, PropertyPath,
};
use super::query::{
    BoundRequest, CollectionRef, EntityRef, ExpandItem, OrderItem, QueryShape, Resource,
};
use crate::edm::{Conversion, EdmType, EntitySetId, EntityTypeId, Join, ServiceModel};
use crate::error::GatewayError;
use crate::values::{civil, DateTime, Value};

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
    model: &'m ServiceModel,
    aliases: HashMap<String, ast::Expr>,
    expand_limits: ExpandLimits,
}

/// What a lambda's range variable stands for.
#[derive(Clone, Copy)]
enum VarKind {
    /// A related entity (`Transactions/any(t: ...)`).
    Entity(EntityTypeId),
    /// A complex value of a composite field (`Items/any(i: ...)`).
    Complex(crate::edm::ComplexTypeId),
}

/// Names in scope while binding an expression: `$it` and lambda variables.
#[derive(Clone)]
struct Scope {
    it: EntityTypeId,
    vars: Vec<(String, VarKind)>,
}

fn bad(code: &'static str, message: impl Into<String>, target: &str) -> GatewayError {
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
        }
    }

    /// Binds a whole parsed URL.
    pub fn bind(&self, uri: &ast::ODataUri) -> Result<BoundRequest, GatewayError> {
        let resource = self.resource(&uri.path)?;
        let q = &uri.query;
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
        if q.levels.is_some() {
            return Err(bad(
                "InvalidQuery",
                "$levels is allowed only inside $expand",
                "$levels",
            ));
        }
        let shape = match &resource {
            Resource::Collection(c) | Resource::Count(c) => self.shape(c.set, q, 0)?,
            Resource::Entity(e) => {
                let shape = self.shape(e.set(), q, 0)?;
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
        if let Resource::Count(_) = resource {
            if !shape.orderby.is_empty() || shape.top.is_some() || shape.skip.is_some() {
                // Allowed by OData but without effect on a count.
            }
        }
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

    // ------------------------------------------------------------ paths

    fn resource(&self, path: &ast::ResourcePath) -> Result<Resource, GatewayError> {
        let segs = &path.segments;
        let Some(first) = segs.first() else {
            return Ok(Resource::ServiceDocument);
        };
        match &first.kind {
            SegmentKind::Metadata => {
                if segs.len() > 1 {
                    return Err(GatewayError::not_found(
                        "$metadata has no sub-resources",
                        Some("$metadata"),
                    ));
                }
                return Ok(Resource::Metadata);
            }
            SegmentKind::Batch => {
                return Err(GatewayError::not_implemented(
                    "$batch is not supported by this service; send the requests one by one",
                    Some("$batch"),
                ))
            }
            SegmentKind::Entity | SegmentKind::All | SegmentKind::Crossjoin(_) => {
                return Err(GatewayError::not_implemented(
                    format!("{} is not supported by this service", first),
                    Some(first.to_string()),
                ))
            }
            _ => {}
        }
        let SegmentKind::Name(name) = &first.kind else {
            return Err(GatewayError::not_found(
                format!("`{first}` is not an entity set of this service"),
                Some(first.to_string()),
            ));
        };
        let (set, _) = self
            .model
            .entity_set(&name.name)
            .filter(|_| !name.is_qualified())
            .ok_or_else(|| {
                GatewayError::not_found(
                    format!("`{name}` is not an entity set of this service"),
                    Some(name.to_string()),
                )
            })?;
        let mut state = PathState::Collection(CollectionRef { set, parent: None });
        let mut args = first.args.as_slice();
        let mut rest = &segs[1..];
        loop {
            // Key predicates written in parentheses.
            if let Some((a, more)) = args.split_first() {
                let PathState::Collection(c) = &state else {
                    return Err(bad(
                        "InvalidKey",
                        "parentheses after a single entity or property",
                        &a.to_string(),
                    ));
                };
                let key = self.key_value(c.set, a)?;
                state = PathState::Entity(member(c, key));
                args = more;
                continue;
            }
            let Some((seg, more)) = rest.split_first() else {
                break;
            };
            rest = more;
            args = seg.args.as_slice();
            state = match (state, &seg.kind) {
                (PathState::Collection(c), SegmentKind::KeyValue(text)) => {
                    let key = parse_key_text(text)?;
                    PathState::Entity(member(&c, key))
                }
                (PathState::Collection(c), SegmentKind::Count(None)) => {
                    if !rest.is_empty() {
                        return Err(bad("InvalidPath", "nothing may follow $count", "$count"));
                    }
                    return Ok(Resource::Count(c));
                }
                (PathState::Collection(c), SegmentKind::Name(n)) if n.is_qualified() => {
                    // A cast to the set's own type changes nothing.
                    self.check_cast(c.set, n)?;
                    PathState::Collection(c)
                }
                (PathState::Collection(c), SegmentKind::Name(n)) => {
                    // Key as segment whose value looks like a name is not an
                    // integer key: ZeyOS keys are numbers.
                    return Err(GatewayError::not_found(
                        format!(
                            "`{n}` is not a key of {} (keys are integers, e.g. {}(1))",
                            self.model.set(c.set).name,
                            self.model.set(c.set).name
                        ),
                        Some(n.to_string()),
                    ));
                }
                (PathState::Entity(e), SegmentKind::Name(n)) if n.is_qualified() => {
                    self.check_cast(e.set(), n)?;
                    PathState::Entity(e)
                }
                (PathState::Entity(e), SegmentKind::Name(n)) => self.entity_member(e, &n.name)?,
                (PathState::Property { entity, property }, SegmentKind::Value) => {
                    if !rest.is_empty() {
                        return Err(bad("InvalidPath", "nothing may follow $value", "$value"));
                    }
                    return Ok(Resource::Property {
                        entity,
                        property,
                        raw: true,
                    });
                }
                (_, SegmentKind::Ref) => {
                    return Err(GatewayError::not_implemented(
                        "entity references ($ref) are not supported by this service",
                        Some("$ref"),
                    ))
                }
                (_, SegmentKind::Filter(_) | SegmentKind::Each | SegmentKind::Query) => {
                    return Err(GatewayError::not_implemented(
                        format!("the path segment {seg} is not supported by this service"),
                        Some(seg.to_string()),
                    ))
                }
                (_, _) => {
                    return Err(GatewayError::not_found(
                        format!("the path segment `{seg}` does not address anything here"),
                        Some(seg.to_string()),
                    ))
                }
            };
        }
        Ok(match state {
            PathState::Collection(c) => Resource::Collection(c),
            PathState::Entity(e) => Resource::Entity(e),
            PathState::Property { entity, property } => Resource::Property {
                entity,
                property,
                raw: false,
            },
        })
    }

    fn check_cast(&self, set: EntitySetId, name: &ast::QualifiedName) -> Result<(), GatewayError> {
        let ty = self.model.entity_type(self.model.set(set).entity_type);
        if name.namespace == self.model.namespace && name.name == ty.name {
            Ok(())
        } else {
            Err(GatewayError::not_found(
                format!(
                    "`{name}` is not {}.{} or a type derived from it",
                    self.model.namespace, ty.name
                ),
                Some(name.to_string()),
            ))
        }
    }

    fn entity_member(&self, entity: EntityRef, name: &str) -> Result<PathState, GatewayError> {
        let set = entity.set();
        let ty = self.model.entity_type(self.model.set(set).entity_type);
        if let Some(i) = ty.property_index.get(name) {
            return Ok(PathState::Property {
                entity,
                property: *i,
            });
        }
        if let Some(nav) = ty.navigation_property(name) {
            let target = self.model.navigation_target(set, name).ok_or_else(|| {
                GatewayError::not_found(
                    format!("`{name}` leads to no entity set of this service"),
                    Some(name.to_string()),
                )
            })?;
            return Ok(match &nav.join {
                Join::ForeignKey { field, .. } => PathState::Entity(EntityRef::Navigation {
                    parent: Box::new(entity),
                    field: field.clone(),
                    name: name.to_string(),
                    set: target,
                }),
                Join::Reverse { field, .. } => PathState::Collection(CollectionRef {
                    set: target,
                    parent: Some((entity, field.clone())),
                }),
            });
        }
        if let Some(u) = ty.unsupported_feature(name) {
            return Err(GatewayError::not_implemented(
                u.message.clone(),
                Some(name.to_string()),
            ));
        }
        Err(GatewayError::not_found(
            format!(
                "{} has no property or navigation property `{name}`",
                ty.name
            ),
            Some(name.to_string()),
        ))
    }

    fn key_value(&self, set: EntitySetId, args: &ast::Args) -> Result<i64, GatewayError> {
        let ty = self.model.entity_type(self.model.set(set).entity_type);
        let key_name = &ty.key_property().name;
        let [arg] = args.items.as_slice() else {
            return Err(bad(
                "InvalidKey",
                format!("{} has a single key property `{key_name}`", ty.name),
                &args.to_string(),
            ));
        };
        if let Some(n) = &arg.name {
            if n != key_name {
                return Err(bad(
                    "InvalidKey",
                    format!(
                        "`{n}` is not the key of {}; its key is `{key_name}`",
                        ty.name
                    ),
                    n,
                ));
            }
        }
        let value = match &arg.value.kind {
            ExprKind::Alias(a) => self.aliases.get(a).map(|e| e.kind.clone()).ok_or_else(|| {
                bad(
                    "InvalidKey",
                    format!("parameter alias @{a} is not defined"),
                    &args.to_string(),
                )
            })?,
            other => other.clone(),
        };
        match value {
            ExprKind::Literal(Literal::Int(i)) => Ok(i),
            _ => Err(bad(
                "InvalidKey",
                format!("the key of {} is an integer, not `{}`", ty.name, arg.value),
                &args.to_string(),
            )),
        }
    }

    // ------------------------------------------------------------ options

    fn shape(
        &self,
        set: EntitySetId,
        q: &ast::QueryOptions,
        depth: usize,
    ) -> Result<QueryShape, GatewayError> {
        let type_id = self.model.set(set).entity_type;
        let scope = Scope {
            it: type_id,
            vars: Vec::new(),
        };
        let filter = match &q.filter {
            Some(f) => {
                let (e, t) = self.expr(f, &scope, "$filter")?;
                expect_boolean(&t, f, "$filter")?;
                Some(e)
            }
            None => None,
        };
        let mut orderby = Vec::new();
        for item in q.orderby.iter().flatten() {
            let (e, t) = self.expr(&item.expr, &scope, "$orderby")?;
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
        let search = match &q.search {
            Some(s) => Some(search_text(s)?),
            None => None,
        };
        let (mut select, dynamic) = self.select(set, q.select.as_deref())?;
        let expand = self.expand(set, q.expand.as_deref(), depth, &mut select)?;
        Ok(QueryShape {
            filter,
            search,
            orderby,
            select,
            dynamic,
            expand,
            top: q.top,
            skip: q.skip,
            count: q.count.unwrap_or(false),
        })
    }

    /// Property indexes of `$select` (`None`: all) and the dynamic
    /// (extdata) properties it names on an open type.
    #[allow(clippy::type_complexity)]
    fn select(
        &self,
        set: EntitySetId,
        items: Option<&[ast::SelectItem]>,
    ) -> Result<(Option<Vec<usize>>, Vec<String>), GatewayError> {
        let Some(items) = items else {
            return Ok((None, Vec::new()));
        };
        let ty = self.model.entity_type(self.model.set(set).entity_type);
        let mut out: Vec<usize> = Vec::new();
        let mut dynamic: Vec<String> = Vec::new();
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
                    } else if let Some(u) = ty.unsupported_feature(&n.name) {
                        return Err(GatewayError::not_implemented(u.message.clone(), Some(n.name.clone())));
                    } else if ty.open && is_extdata_name(&n.name) {
                        // A dynamic property of an open type: ZeyOS extdata.
                        if !dynamic.contains(&n.name) {
                            dynamic.push(n.name.clone());
                        }
                    } else {
                        return Err(bad(
                            "InvalidSelect",
                            format!("{} has no property `{}`", ty.name, n.name),
                            "$select",
                        ));
                    }
                }
                [SelectSegment::Annotation { .. }] | [SelectSegment::AllOperations(_)] => {}
                _ => {
                    return Err(GatewayError::not_implemented(
                        format!("$select of `{}` (paths into complex values, casts, operations) is not supported by this service", item),
                        Some("$select"),
                    ))
                }
            }
        }
        Ok((if all { None } else { Some(out) }, dynamic))
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
            if item.suffix != ast::ExpandSuffix::None {
                return Err(GatewayError::not_implemented(
                    format!("$expand of `{item}` ($ref, $count, $value) is not supported by this service"),
                    Some("$expand"),
                ));
            }
            let names: Vec<String> = match item.path.as_slice() {
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
                out.push(ExpandItem {
                    navigation: name,
                    set: target,
                    collection,
                    field,
                    options: Box::new(nested),
                });
            }
        }
        Ok(out)
    }

    // ------------------------------------------------------------ expressions

    fn expr(
        &self,
        e: &ast::Expr,
        scope: &Scope,
        target: &str,
    ) -> Result<(BoundExpr, ExprType), GatewayError> {
        self.expr_depth(e, scope, target, 0)
    }

    fn expr_depth(
        &self,
        e: &ast::Expr,
        scope: &Scope,
        target: &str,
        alias_depth: usize,
    ) -> Result<(BoundExpr, ExprType), GatewayError> {
        match &e.kind {
            ExprKind::Literal(l) => literal(self.model, l, target),
            ExprKind::Alias(name) => {
                if alias_depth > 8 {
                    return Err(bad(
                        "InvalidAlias",
                        "parameter aliases refer to each other in a cycle",
                        target,
                    ));
                }
                match self.aliases.get(name) {
                    Some(v) => self.expr_depth(v, scope, target, alias_depth + 1),
                    // An undefined alias is null (OData Part 2, 5.1.1.4).
                    None => Ok((BoundExpr::Literal(Value::Null, None), ExprType::Null)),
                }
            }
            ExprKind::Path(p) => self.member_path(p, scope, target, e),
            ExprKind::Unary { op, operand } => {
                let (inner, t) = self.expr_depth(operand, scope, target, alias_depth)?;
                match op {
                    ast::UnaryOp::Not => {
                        expect_boolean(&t, operand, target)?;
                        Ok((BoundExpr::Not(Box::new(inner)), ExprType::Boolean))
                    }
                    ast::UnaryOp::Neg => {
                        if !is_numeric(&t)
                            && !matches!(t, ExprType::Edm(EdmType::Duration) | ExprType::Null)
                        {
                            return Err(type_error(e, "a number", target));
                        }
                        Ok((BoundExpr::Neg(Box::new(inner)), t))
                    }
                }
            }
            ExprKind::Binary(b) => {
                let (op, left, right) = (&b.op, &b.left, &b.right);
                self.binary(*op, left, right, scope, target, e, alias_depth)
            }
            ExprKind::Call { function, args } => self.call(*function, args, scope, target, e),
            ExprKind::TypeCheck { .. } => Err(GatewayError::not_implemented(
                "cast and isof are not supported by this service",
                Some(target.to_string()),
            )),
            ExprKind::Case(_) => Err(GatewayError::not_implemented(
                "case() is not supported by this service",
                Some(target.to_string()),
            )),
            ExprKind::List(_) => Err(bad(
                "InvalidExpression",
                format!("a list `{e}` may only follow `in`"),
                target,
            )),
            ExprKind::JsonString(_) | ExprKind::Array(_) | ExprKind::Object(_) => Err(bad(
                "InvalidExpression",
                format!("JSON `{e}` is not a value here"),
                target,
            )),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn binary(
        &self,
        op: ast::BinaryOp,
        left: &ast::Expr,
        right: &ast::Expr,
        scope: &Scope,
        target: &str,
        whole: &ast::Expr,
        alias_depth: usize,
    ) -> Result<(BoundExpr, ExprType), GatewayError> {
        use ast::BinaryOp as B;
        if op == B::In {
            return self.in_list(left, right, scope, target, alias_depth);
        }
        let (l, lt) = self.expr_depth(left, scope, target, alias_depth)?;
        let (r, rt) = self.expr_depth(right, scope, target, alias_depth)?;
        match op {
            B::And | B::Or => {
                expect_boolean(&lt, left, target)?;
                expect_boolean(&rt, right, target)?;
                let e = if op == B::And {
                    BoundExpr::And(Box::new(l), Box::new(r))
                } else {
                    BoundExpr::Or(Box::new(l), Box::new(r))
                };
                Ok((e, ExprType::Boolean))
            }
            B::Eq | B::Ne | B::Lt | B::Le | B::Gt | B::Ge => {
                let cmp = match op {
                    B::Eq => CmpOp::Eq,
                    B::Ne => CmpOp::Ne,
                    B::Lt => CmpOp::Lt,
                    B::Le => CmpOp::Le,
                    B::Gt => CmpOp::Gt,
                    _ => CmpOp::Ge,
                };
                let (l, r) = self.coerce_pair(l, &lt, r, &rt, whole, target)?;
                if !matches!(cmp, CmpOp::Eq | CmpOp::Ne) {
                    for (t, e) in [(&lt, &l), (&rt, &r)] {
                        if !matches!(e, BoundExpr::Dynamic(_))
                            && matches!(
                                t,
                                ExprType::Edm(
                                    EdmType::Complex(_) | EdmType::Collection(_) | EdmType::Untyped
                                )
                            )
                        {
                            return Err(type_error(whole, "comparable primitive values", target));
                        }
                    }
                }
                Ok((
                    BoundExpr::Compare(cmp, Box::new(l), Box::new(r)),
                    ExprType::Boolean,
                ))
            }
            B::Has => {
                let ExprType::Edm(EdmType::Enum(id)) = lt else {
                    return Err(type_error(
                        whole,
                        "an enum value on the left of `has`",
                        target,
                    ));
                };
                let r = coerce_enum(self.model, id, r, target)?;
                Ok((BoundExpr::Has(Box::new(l), Box::new(r)), ExprType::Boolean))
            }
            B::Add | B::Sub | B::Mul | B::Div | B::DivBy | B::Mod => {
                let aop = match op {
                    B::Add => ArithOp::Add,
                    B::Sub => ArithOp::Sub,
                    B::Mul => ArithOp::Mul,
                    B::Div => ArithOp::Div,
                    B::DivBy => ArithOp::DivBy,
                    _ => ArithOp::Mod,
                };
                // A dynamic (extdata) number is read as a decimal.
                let as_number = |e: &BoundExpr, t: &ExprType| match e {
                    BoundExpr::Dynamic(_) => ExprType::Edm(EdmType::Decimal),
                    _ => t.clone(),
                };
                let result = arith_type(aop, &as_number(&l, &lt), &as_number(&r, &rt))
                    .ok_or_else(|| type_error(whole, "numbers (or dates and durations)", target))?;
                Ok((BoundExpr::Arith(aop, Box::new(l), Box::new(r)), result))
            }
            B::In => unreachable!("handled above"),
        }
    }

    /// Makes two comparison operands comparable: enum members from strings
    /// and numbers, and a type check.
    fn coerce_pair(
        &self,
        l: BoundExpr,
        lt: &ExprType,
        r: BoundExpr,
        rt: &ExprType,
        whole: &ast::Expr,
        target: &str,
    ) -> Result<(BoundExpr, BoundExpr), GatewayError> {
        let (l, r) = match (lt, rt) {
            (ExprType::Edm(EdmType::Enum(id)), _) => (l, coerce_enum(self.model, *id, r, target)?),
            (_, ExprType::Edm(EdmType::Enum(id))) => (coerce_enum(self.model, *id, l, target)?, r),
            _ => (l, r),
        };
        if !comparable(lt, rt) {
            return Err(GatewayError::bad_request(
                "TypeMismatch",
                format!(
                    "cannot compare {} with {} in `{whole}`",
                    describe(self.model, lt),
                    describe(self.model, rt)
                ),
                Some(target),
            ));
        }
        Ok((l, r))
    }

    fn in_list(
        &self,
        left: &ast::Expr,
        right: &ast::Expr,
        scope: &Scope,
        target: &str,
        alias_depth: usize,
    ) -> Result<(BoundExpr, ExprType), GatewayError> {
        let (l, lt) = self.expr_depth(left, scope, target, alias_depth)?;
        let resolved;
        let right = match &right.kind {
            ExprKind::Alias(a) => match self.aliases.get(a) {
                Some(v) => {
                    resolved = v.clone();
                    &resolved
                }
                None => right,
            },
            _ => right,
        };
        let items: &[ast::Expr] = match &right.kind {
            ExprKind::List(items) | ExprKind::Array(items) => items,
            _ => {
                return Err(GatewayError::not_implemented(
                    format!("`in` over `{right}` (a collection-valued expression) is not supported; use a list such as (1,2,3)"),
                    Some(target.to_string()),
                ))
            }
        };
        let mut list = Vec::with_capacity(items.len());
        for item in items {
            let (mut v, vt) = match &item.kind {
                ExprKind::JsonString(s) => (
                    BoundExpr::Literal(Value::String(s.clone()), Some(EdmType::String)),
                    ExprType::Edm(EdmType::String),
                ),
                _ => self.expr_depth(item, scope, target, alias_depth)?,
            };
            if let ExprType::Edm(EdmType::Enum(id)) = &lt {
                v = coerce_enum(self.model, *id, v, target)?;
            } else if !comparable(&lt, &vt) {
                return Err(GatewayError::bad_request(
                    "TypeMismatch",
                    format!("`{item}` in the list cannot be compared with `{left}`"),
                    Some(target),
                ));
            }
            list.push(v);
        }
        Ok((BoundExpr::In(Box::new(l), list), ExprType::Boolean))
    }

    fn call(
        &self,
        function: ast::Function,
        args: &[ast::Expr],
        scope: &Scope,
        target: &str,
        whole: &ast::Expr,
    ) -> Result<(BoundExpr, ExprType), GatewayError> {
        use ast::Function as F;
        let func = match function {
            F::Contains => Func::Contains,
            F::StartsWith => Func::StartsWith,
            F::EndsWith => Func::EndsWith,
            F::Length => Func::Length,
            F::IndexOf => Func::IndexOf,
            F::Substring => Func::Substring,
            F::ToLower => Func::ToLower,
            F::ToUpper => Func::ToUpper,
            F::Trim => Func::Trim,
            F::Concat => Func::Concat,
            F::MatchesPattern => Func::MatchesPattern,
            F::Year => Func::Year,
            F::Month => Func::Month,
            F::Day => Func::Day,
            F::Hour => Func::Hour,
            F::Minute => Func::Minute,
            F::Second => Func::Second,
            F::FractionalSeconds => Func::FractionalSeconds,
            F::Date => Func::Date,
            F::Time => Func::Time,
            F::TotalOffsetMinutes => Func::TotalOffsetMinutes,
            F::TotalSeconds => Func::TotalSeconds,
            F::Now => Func::Now,
            F::MinDateTime => Func::MinDateTime,
            F::MaxDateTime => Func::MaxDateTime,
            F::Round => Func::Round,
            F::Floor => Func::Floor,
            F::Ceiling => Func::Ceiling,
            other => {
                return Err(GatewayError::not_implemented(
                    format!(
                        "the function {}() is not supported by this service",
                        other.name()
                    ),
                    Some(target.to_string()),
                ))
            }
        };
        let mut bound = Vec::with_capacity(args.len());
        let mut types = Vec::with_capacity(args.len());
        for a in args {
            let (b, t) = self.expr(a, scope, target)?;
            bound.push(b);
            types.push(t);
        }
        // A dynamic (extdata) property's type is known only per row: the
        // evaluator checks it there.
        let is = |i: usize, ok: &dyn Fn(&ExprType) -> bool| {
            matches!(bound.get(i), Some(BoundExpr::Dynamic(_)))
                || types
                    .get(i)
                    .is_some_and(|t| matches!(t, ExprType::Null) || ok(t))
        };
        let string = |t: &ExprType| matches!(t, ExprType::Edm(EdmType::String));
        let integer = |t: &ExprType| matches!(t, ExprType::Edm(EdmType::Int32 | EdmType::Int64));
        let datetime = |t: &ExprType| matches!(t, ExprType::Edm(EdmType::DateTimeOffset));
        let date_or_dt =
            |t: &ExprType| matches!(t, ExprType::Edm(EdmType::DateTimeOffset | EdmType::Date));
        let numeric = |t: &ExprType| is_numeric(t);
        let (ok, result) = match func {
            Func::Contains | Func::StartsWith | Func::EndsWith | Func::MatchesPattern => {
                (is(0, &string) && is(1, &string), ExprType::Boolean)
            }
            Func::Length => (is(0, &string), ExprType::Edm(EdmType::Int32)),
            Func::IndexOf => (
                is(0, &string) && is(1, &string),
                ExprType::Edm(EdmType::Int32),
            ),
            Func::Substring => (
                is(0, &string) && is(1, &integer) && (args.len() < 3 || is(2, &integer)),
                ExprType::Edm(EdmType::String),
            ),
            Func::ToLower | Func::ToUpper | Func::Trim => {
                (is(0, &string), ExprType::Edm(EdmType::String))
            }
            Func::Concat => (
                is(0, &string) && is(1, &string),
                ExprType::Edm(EdmType::String),
            ),
            Func::Year | Func::Month | Func::Day => {
                (is(0, &date_or_dt), ExprType::Edm(EdmType::Int32))
            }
            Func::Hour | Func::Minute | Func::Second => (
                is(0, &|t: &ExprType| {
                    datetime(t) || matches!(t, ExprType::Edm(EdmType::Duration))
                }),
                ExprType::Edm(EdmType::Int32),
            ),
            Func::FractionalSeconds => (is(0, &datetime), ExprType::Edm(EdmType::Decimal)),
            Func::Date => (is(0, &date_or_dt), ExprType::Edm(EdmType::Date)),
            Func::Time => (is(0, &datetime), ExprType::Edm(EdmType::TimeOfDay)),
            Func::TotalOffsetMinutes => (is(0, &datetime), ExprType::Edm(EdmType::Int32)),
            Func::TotalSeconds => (
                is(0, &|t: &ExprType| {
                    matches!(t, ExprType::Edm(EdmType::Duration))
                }),
                ExprType::Edm(EdmType::Decimal),
            ),
            Func::Now | Func::MinDateTime | Func::MaxDateTime => {
                (true, ExprType::Edm(EdmType::DateTimeOffset))
            }
            Func::Round | Func::Floor | Func::Ceiling => {
                let t = types.first().cloned().unwrap_or(ExprType::Null);
                (is(0, &numeric), t)
            }
        };
        if !ok {
            return Err(GatewayError::bad_request(
                "TypeMismatch",
                format!("wrong argument types in `{whole}`"),
                Some(target),
            ));
        }
        if let (Func::Substring, Some(BoundExpr::Literal(Value::Int(n), _))) = (func, bound.get(2))
        {
            if *n < 0 {
                return Err(bad(
                    "InvalidValue",
                    format!("`{whole}`: the length of a substring must not be negative"),
                    target,
                ));
            }
        }
        Ok((BoundExpr::Call(func, bound), result))
    }

    /// A lambda's predicate, bound with its range variable in scope; `all`
    /// needs one.
    fn lambda_predicate(
        &self,
        l: &ast::Lambda,
        scope: &Scope,
        var_kind: VarKind,
        target: &str,
    ) -> Result<Option<Box<BoundExpr>>, GatewayError> {
        match &l.body {
            Some((var, body)) => {
                let mut inner = scope.clone();
                inner.vars.push((var.clone(), var_kind));
                let (b, t) = self.expr(body, &inner, target)?;
                expect_boolean(&t, body, target)?;
                Ok(Some(Box::new(b)))
            }
            None if l.kind == ast::LambdaKind::All => {
                Err(bad("InvalidExpression", "all() needs a predicate", target))
            }
            None => Ok(None),
        }
    }

    /// `i/Amount` for a range variable over complex values.
    fn item_property(
        &self,
        complex: crate::edm::ComplexTypeId,
        depth: usize,
        rest: &[ast::Segment],
        var: &str,
        target: &str,
        whole: &ast::Expr,
    ) -> Result<(BoundExpr, ExprType), GatewayError> {
        let ct = self.model.complex_type(complex);
        let [ast::Segment {
            kind: SegmentKind::Name(n),
            args,
            ..
        }] = rest
        else {
            return Err(GatewayError::not_implemented(
                format!("`{whole}`: only a property of `{var}` can be used here"),
                Some(target.to_string()),
            ));
        };
        if n.is_qualified() || !args.is_empty() {
            return Err(GatewayError::not_implemented(
                format!("`{whole}`: casts and functions in paths are not supported"),
                Some(target.to_string()),
            ));
        }
        let Some(idx) = ct.properties.iter().position(|p| p.name == n.name) else {
            return Err(GatewayError::bad_request(
                "UnknownProperty",
                format!("{} has no property `{}`", ct.name, n.name),
                Some(target),
            ));
        };
        let prop = &ct.properties[idx];
        if matches!(prop.ty, EdmType::Complex(_) | EdmType::Collection(_)) {
            return Err(GatewayError::not_implemented(
                format!("`{whole}`: paths into nested structured values are not supported"),
                Some(target.to_string()),
            ));
        }
        Ok((
            BoundExpr::ItemProperty(ItemProperty {
                depth,
                complex,
                property: idx,
                text: format!("{var}/{}", n.name),
            }),
            ExprType::Edm(prop.ty.clone()),
        ))
    }

    fn member_path(
        &self,
        p: &ast::MemberPath,
        scope: &Scope,
        target: &str,
        whole: &ast::Expr,
    ) -> Result<(BoundExpr, ExprType), GatewayError> {
        let mut segs = p.segments.as_slice();
        let (root, mut ty_id) = match &p.start {
            PathStart::It | PathStart::This => (PathRoot::It, scope.it),
            PathStart::Root => {
                return Err(GatewayError::not_implemented(
                    "$root paths are not supported by this service",
                    Some(target.to_string()),
                ))
            }
            PathStart::Alias(a) => {
                return Err(bad(
                    "InvalidExpression",
                    format!("@{a} is not a path"),
                    target,
                ))
            }
            PathStart::Relative => {
                // A lambda variable?
                match segs.first() {
                    Some(ast::Segment {
                        kind: SegmentKind::Name(n),
                        args,
                        ..
                    }) if !n.is_qualified() && args.is_empty() => {
                        match scope.vars.iter().rposition(|(v, _)| *v == n.name) {
                            Some(depth) => match scope.vars[depth].1 {
                                VarKind::Entity(ty) => {
                                    segs = &segs[1..];
                                    (PathRoot::Var(depth), ty)
                                }
                                VarKind::Complex(cid) => {
                                    return self.item_property(
                                        cid,
                                        depth,
                                        &segs[1..],
                                        &n.name,
                                        target,
                                        whole,
                                    )
                                }
                            },
                            None => (PathRoot::It, scope.it),
                        }
                    }
                    _ => (PathRoot::It, scope.it),
                }
            }
        };
        if segs.is_empty() {
            return Err(GatewayError::not_implemented(
                format!("`{whole}` (an entity as a value) is not supported here"),
                Some(target.to_string()),
            ));
        }
        let mut navigation: Vec<NavStep> = Vec::new();
        let mut text = Vec::new();
        let mut upstream_prefix: Vec<String> = Vec::new();
        let mut i = 0;
        while i < segs.len() {
            let seg = &segs[i];
            let SegmentKind::Name(n) = &seg.kind else {
                return Err(GatewayError::not_implemented(
                    format!("the path segment `{seg}` in `{whole}` is not supported"),
                    Some(target.to_string()),
                ));
            };
            if n.is_qualified() || !seg.args.is_empty() {
                return Err(GatewayError::not_implemented(
                    format!("`{seg}` (casts and functions in paths) is not supported"),
                    Some(target.to_string()),
                ));
            }
            let ty = self.model.entity_type(ty_id);
            text.push(n.name.clone());
            if let Some(idx) = ty.property_index.get(&n.name) {
                if let (Some(next), EdmType::Collection(inner)) =
                    (segs.get(i + 1), &ty.properties[*idx].ty)
                {
                    if let (SegmentKind::Lambda(l), EdmType::Complex(cid)) =
                        (&next.kind, inner.as_ref())
                    {
                        if i + 2 != segs.len() || navigation.len() > 1 {
                            return Err(GatewayError::not_implemented(
                                format!("`{whole}`: nothing may follow a lambda"),
                                Some(target.to_string()),
                            ));
                        }
                        let prop = &ty.properties[*idx];
                        let mut upstream = upstream_prefix.clone();
                        upstream.push(prop.upstream.clone());
                        let collection = PropertyPath {
                            root,
                            navigation: navigation.clone(),
                            owner: ty_id,
                            property: *idx,
                            text: text.join("/"),
                            upstream: upstream.join("."),
                        };
                        let depth = scope.vars.len();
                        let predicate =
                            self.lambda_predicate(l, scope, VarKind::Complex(*cid), target)?;
                        return Ok((
                            BoundExpr::ItemsLambda(ItemsLambda {
                                any: l.kind == ast::LambdaKind::Any,
                                collection,
                                complex: *cid,
                                predicate,
                                depth,
                                text: whole.to_string(),
                            }),
                            ExprType::Boolean,
                        ));
                    }
                }
                if i + 1 != segs.len() {
                    let prop = &ty.properties[*idx];
                    return Err(GatewayError::not_implemented(
                        format!(
                            "paths into the {} value `{}` are not supported",
                            if matches!(prop.ty, EdmType::Complex(_) | EdmType::Collection(_)) {
                                "structured"
                            } else {
                                "primitive"
                            },
                            text.join("/")
                        ),
                        Some(target.to_string()),
                    ));
                }
                let prop = &ty.properties[*idx];
                if navigation.len() > 1 {
                    return Err(GatewayError::not_implemented(
                        format!(
                            "`{}` follows more than one navigation property; ZeyOS joins only direct relations",
                            text.join("/")
                        ),
                        Some(target.to_string()),
                    ));
                }
                let mut upstream = upstream_prefix.clone();
                upstream.push(prop.upstream.clone());
                let path = PropertyPath {
                    root,
                    navigation: navigation.clone(),
                    owner: ty_id,
                    property: *idx,
                    text: text.join("/"),
                    upstream: upstream.join("."),
                };
                return Ok((BoundExpr::Property(path), ExprType::Edm(prop.ty.clone())));
            }
            if let Some(nav) = ty.navigation_property(&n.name) {
                match &nav.join {
                    Join::ForeignKey { field, .. } => {
                        navigation.push(NavStep {
                            name: n.name.clone(),
                            field: field.clone(),
                            target: nav.target,
                        });
                        upstream_prefix.push(field.clone());
                        ty_id = nav.target;
                        i += 1;
                        continue;
                    }
                    Join::Reverse { field, .. } => {
                        let Some(next) = segs.get(i + 1) else {
                            return Err(GatewayError::not_implemented(
                                format!("`{}` is a collection; use any() or all()", text.join("/")),
                                Some(target.to_string()),
                            ));
                        };
                        if !navigation.is_empty() || i + 2 != segs.len() {
                            return Err(GatewayError::not_implemented(
                                format!("`{whole}`: lambdas are supported directly on a navigation property of the entity or range variable"),
                                Some(target.to_string()),
                            ));
                        }
                        let SegmentKind::Lambda(l) = &next.kind else {
                            return Err(GatewayError::not_implemented(
                                format!(
                                    "`{}/{next}` is not supported; use any() or all()",
                                    text.join("/")
                                ),
                                Some(target.to_string()),
                            ));
                        };
                        let depth = scope.vars.len();
                        let predicate =
                            self.lambda_predicate(l, scope, VarKind::Entity(nav.target), target)?;
                        return Ok((
                            BoundExpr::Lambda(Lambda {
                                any: l.kind == ast::LambdaKind::Any,
                                root,
                                navigation: n.name.clone(),
                                target: nav.target,
                                child_field: field.clone(),
                                predicate,
                                depth,
                                text: whole.to_string(),
                            }),
                            ExprType::Boolean,
                        ));
                    }
                }
            }
            let path_so_far = text.join("/");
            if let Some(u) = ty
                .unsupported_feature(&path_so_far)
                .or_else(|| ty.unsupported_feature(&n.name))
            {
                return Err(GatewayError::not_implemented(
                    u.message.clone(),
                    Some(path_so_far),
                ));
            }
            if ty.open
                && root == PathRoot::It
                && navigation.is_empty()
                && segs.len() == 1
                && is_extdata_name(&n.name)
            {
                // An open type's unknown property is dynamic: ZeyOS extdata.
                return Ok((
                    BoundExpr::Dynamic(DynamicProperty {
                        name: n.name.clone(),
                        upstream: format!("extdata.{}", n.name),
                    }),
                    ExprType::Edm(EdmType::Untyped),
                ));
            }
            return Err(GatewayError::bad_request(
                "UnknownProperty",
                format!("{} has no property `{}`", ty.name, n.name),
                Some(target),
            ));
        }
        // The path ended on a navigation property.
        Err(GatewayError::not_implemented(
            format!(
                "`{whole}` (an entity as a value) is not supported; compare its properties instead"
            ),
            Some(target.to_string()),
        ))
    }
}

/// Whether a name can be a ZeyOS extdata field. ZeyOS names them in lower
/// case (`nickname`, `region_code`) while declared properties are
/// PascalCase, so an unknown capitalised name is reported as a typo (400)
/// rather than read as an always-null dynamic property.
fn is_extdata_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Where resource path binding stands.
enum PathState {
    Collection(CollectionRef),
    Entity(EntityRef),
    Property { entity: EntityRef, property: usize },
}

/// The entity with `key` in a collection (through its parent, if any).
fn member(c: &CollectionRef, key: i64) -> EntityRef {
    match &c.parent {
        None => EntityRef::Key { set: c.set, key },
        Some((parent, field)) => EntityRef::Contained {
            parent: Box::new(parent.clone()),
            field: field.clone(),
            set: c.set,
            key,
        },
    }
}

fn parse_key_text(text: &str) -> Result<i64, GatewayError> {
    text.parse::<i64>().map_err(|_| {
        GatewayError::not_found(
            format!("`{text}` is not a key: keys are integers"),
            Some(text.to_string()),
        )
    })
}

fn expect_boolean(t: &ExprType, e: &ast::Expr, target: &str) -> Result<(), GatewayError> {
    match t {
        ExprType::Boolean | ExprType::Null | ExprType::Edm(EdmType::Boolean) => Ok(()),
        _ => Err(type_error(e, "a Boolean expression", target)),
    }
}

fn type_error(e: &ast::Expr, wanted: &str, target: &str) -> GatewayError {
    GatewayError::bad_request(
        "TypeMismatch",
        format!("`{e}` is not {wanted}"),
        Some(target),
    )
}

fn is_numeric(t: &ExprType) -> bool {
    matches!(
        t,
        ExprType::Edm(EdmType::Int32 | EdmType::Int64 | EdmType::Decimal | EdmType::Double)
    )
}

fn arith_type(op: ArithOp, l: &ExprType, r: &ExprType) -> Option<ExprType> {
    use EdmType as E;
    let rank = |t: &ExprType| match t {
        ExprType::Edm(E::Int32) => Some(0),
        ExprType::Edm(E::Int64) => Some(1),
        ExprType::Edm(E::Decimal) => Some(2),
        ExprType::Edm(E::Double) => Some(3),
        ExprType::Null => Some(-1),
        _ => None,
    };
    match (l, r) {
        (ExprType::Edm(E::DateTimeOffset), ExprType::Edm(E::Duration))
            if matches!(op, ArithOp::Add | ArithOp::Sub) =>
        {
            return Some(l.clone())
        }
        (ExprType::Edm(E::Date), ExprType::Edm(E::Duration))
            if matches!(op, ArithOp::Add | ArithOp::Sub) =>
        {
            return Some(l.clone())
        }
        (ExprType::Edm(E::DateTimeOffset), ExprType::Edm(E::DateTimeOffset))
        | (ExprType::Edm(E::Date), ExprType::Edm(E::Date))
            if op == ArithOp::Sub =>
        {
            return Some(ExprType::Edm(E::Duration))
        }
        (ExprType::Edm(E::Duration), ExprType::Edm(E::Duration))
            if matches!(op, ArithOp::Add | ArithOp::Sub) =>
        {
            return Some(l.clone())
        }
        _ => {}
    }
    let (a, b) = (rank(l)?, rank(r)?);
    let top = a.max(b);
    if op == ArithOp::DivBy {
        return Some(ExprType::Edm(if top == 3 { E::Double } else { E::Decimal }));
    }
    Some(match top {
        -1 => ExprType::Null,
        0 => ExprType::Edm(E::Int32),
        1 => ExprType::Edm(E::Int64),
        2 => ExprType::Edm(E::Decimal),
        _ => ExprType::Edm(E::Double),
    })
}

/// Whether values of two types can be compared with `eq`/`lt`...
fn comparable(a: &ExprType, b: &ExprType) -> bool {
    use EdmType as E;
    let group = |t: &ExprType| -> Option<u8> {
        Some(match t {
            ExprType::Null => 0,
            ExprType::Boolean | ExprType::Edm(E::Boolean) => 1,
            t if is_numeric(t) => 2,
            ExprType::Edm(E::String) => 3,
            ExprType::Edm(E::Date | E::DateTimeOffset) => 4,
            ExprType::Edm(E::TimeOfDay) => 5,
            ExprType::Edm(E::Duration) => 6,
            ExprType::Edm(E::Guid) => 7,
            ExprType::Edm(E::Binary) => 8,
            ExprType::Edm(E::Enum(_)) => 9,
            _ => return None,
        })
    };
    if matches!(a, ExprType::Edm(E::Untyped)) || matches!(b, ExprType::Edm(E::Untyped)) {
        return true;
    }
    match (group(a), group(b)) {
        (Some(0), _) | (_, Some(0)) => true,
        (Some(9), Some(x)) | (Some(x), Some(9)) => matches!(x, 9 | 2 | 3),
        (Some(x), Some(y)) => x == y,
        _ => false,
    }
}

fn describe(model: &ServiceModel, t: &ExprType) -> String {
    match t {
        ExprType::Boolean => "Edm.Boolean".into(),
        ExprType::Null => "null".into(),
        ExprType::Edm(e) => model.qualified_type_name(e),
    }
}

/// Turns a string or integer literal into a member of an enum type.
fn coerce_enum(
    model: &ServiceModel,
    id: crate::edm::EnumTypeId,
    e: BoundExpr,
    target: &str,
) -> Result<BoundExpr, GatewayError> {
    let en = model.enum_type(id);
    match e {
        BoundExpr::Literal(Value::String(s), _) => {
            let mut total = 0i64;
            for part in s.split(',') {
                let part = part.trim();
                let member = en.members.iter().find(|(n, _)| n == part);
                match member {
                    Some((_, v)) => total |= v,
                    None => match part.parse::<i64>() {
                        Ok(v) => total |= v,
                        Err(_) => {
                            return Err(GatewayError::bad_request(
                                "InvalidEnumValue",
                                format!(
                                    "'{part}' is not a member of {}.{}; members: {}",
                                    model.namespace,
                                    en.name,
                                    en.members
                                        .iter()
                                        .map(|(n, _)| n.as_str())
                                        .collect::<Vec<_>>()
                                        .join(", ")
                                ),
                                Some(target),
                            ))
                        }
                    },
                }
            }
            Ok(BoundExpr::Literal(
                Value::Enum(id, total),
                Some(EdmType::Enum(id)),
            ))
        }
        BoundExpr::Literal(Value::Int(v), _) => Ok(BoundExpr::Literal(
            Value::Enum(id, v),
            Some(EdmType::Enum(id)),
        )),
        BoundExpr::Literal(Value::Enum(other, v), t) => {
            if other != id {
                return Err(GatewayError::bad_request(
                    "TypeMismatch",
                    format!(
                        "{}.{} is not {}.{}",
                        model.namespace,
                        model.enum_type(other).name,
                        model.namespace,
                        en.name
                    ),
                    Some(target),
                ));
            }
            Ok(BoundExpr::Literal(Value::Enum(id, v), t))
        }
        other => Ok(other),
    }
}

/// A parsed literal as a typed value.
fn literal(
    model: &ServiceModel,
    l: &Literal,
    target: &str,
) -> Result<(BoundExpr, ExprType), GatewayError> {
    use std::str::FromStr;
    let lit = |v: Value, t: EdmType| Ok((BoundExpr::Literal(v, Some(t.clone())), ExprType::Edm(t)));
    match l {
        Literal::Null => Ok((BoundExpr::Literal(Value::Null, None), ExprType::Null)),
        Literal::Boolean(b) => Ok((
            BoundExpr::Literal(Value::Bool(*b), Some(EdmType::Boolean)),
            ExprType::Boolean,
        )),
        Literal::Int(i) => lit(
            Value::Int(*i),
            if i32::try_from(*i).is_ok() {
                EdmType::Int32
            } else {
                EdmType::Int64
            },
        ),
        Literal::Decimal(text) => match rust_decimal::Decimal::from_str(text) {
            Ok(d) => lit(Value::Decimal(d), EdmType::Decimal),
            Err(_) => match text.parse::<f64>() {
                Ok(f) => lit(Value::Double(f), EdmType::Double),
                Err(_) => Err(bad(
                    "InvalidLiteral",
                    format!("`{text}` is not a number"),
                    target,
                )),
            },
        },
        Literal::Double(d) => lit(Value::Double(d.value), EdmType::Double),
        Literal::String(s) => lit(Value::String(s.clone()), EdmType::String),
        Literal::Date(d) => lit(
            Value::Date(civil::days_from_civil(
                i64::from(d.year),
                u32::from(d.month),
                u32::from(d.day),
            )),
            EdmType::Date,
        ),
        Literal::DateTimeOffset(t) => {
            let days = civil::days_from_civil(
                i64::from(t.date.year),
                u32::from(t.date.month),
                u32::from(t.date.day),
            );
            let offset = i64::from(t.offset_minutes.unwrap_or(0));
            let secs = days * civil::SECONDS_PER_DAY
                + i64::from(t.time.hour) * 3600
                + i64::from(t.time.minute) * 60
                + i64::from(t.time.second)
                - offset * 60;
            lit(
                Value::DateTimeOffset(DateTime {
                    unix: secs,
                    nanos: (t.time.picos / 1000) as u32,
                    offset_minutes: offset as i32,
                }),
                EdmType::DateTimeOffset,
            )
        }
        Literal::TimeOfDay(t) => lit(
            Value::TimeOfDay(
                (u64::from(t.hour) * 3600 + u64::from(t.minute) * 60 + u64::from(t.second))
                    * 1_000_000_000
                    + t.picos / 1000,
            ),
            EdmType::TimeOfDay,
        ),
        Literal::Duration(d) => {
            let secs = d.days as i128 * 86_400
                + d.hours as i128 * 3600
                + d.minutes as i128 * 60
                + d.seconds as i128;
            let nanos = secs * 1_000_000_000 + (d.picos / 1000) as i128;
            lit(
                Value::Duration(if d.negative { -nanos } else { nanos }),
                EdmType::Duration,
            )
        }
        Literal::Guid(g) => {
            let h: String = g.0.iter().map(|b| format!("{b:02x}")).collect();
            lit(
                Value::Guid(format!(
                    "{}-{}-{}-{}-{}",
                    &h[0..8],
                    &h[8..12],
                    &h[12..16],
                    &h[16..20],
                    &h[20..32]
                )),
                EdmType::Guid,
            )
        }
        Literal::Binary(b) => lit(Value::Binary(b.clone()), EdmType::Binary),
        Literal::Enum(e) => {
            let Some(type_name) = &e.type_name else {
                return Err(bad(
                    "InvalidLiteral",
                    "an enum literal needs its type here",
                    target,
                ));
            };
            if type_name.namespace != model.namespace {
                return Err(GatewayError::bad_request(
                    "UnknownType",
                    format!(
                        "`{type_name}` is not a type of this service (namespace {})",
                        model.namespace
                    ),
                    Some(target),
                ));
            }
            let Some(pos) = model
                .enum_types
                .iter()
                .position(|t| t.name == type_name.name)
            else {
                return Err(GatewayError::bad_request(
                    "UnknownType",
                    format!("`{type_name}` is not an enum type of this service"),
                    Some(target),
                ));
            };
            let id = crate::edm::EnumTypeId(pos);
            let mut total = 0;
            for m in &e.members {
                total |= match m {
                    ast::EnumMember::Value(v) => *v,
                    ast::EnumMember::Name(n) => model
                        .enum_type(id)
                        .members
                        .iter()
                        .find(|(name, _)| name == n)
                        .map(|(_, v)| *v)
                        .ok_or_else(|| {
                            GatewayError::bad_request(
                                "InvalidEnumValue",
                                format!("'{n}' is not a member of {type_name}"),
                                Some(target),
                            )
                        })?,
                };
            }
            lit(Value::Enum(id, total), EdmType::Enum(id))
        }
        Literal::Geo(_) => Err(GatewayError::not_implemented(
            "geographic and geometric values are not supported by this service",
            Some(target.to_string()),
        )),
    }
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
