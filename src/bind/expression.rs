//! Expression binding: `$filter` and `$orderby` expressions (operators,
//! `in` lists, built-in functions, member paths, `any`/`all` lambdas,
//! parameter aliases) typed and checked against the model.
//!
//! Separate because it is the largest and most self-contained part of
//! binding: it knows nothing of paths or query options, only the entity
//! type in scope (`$it` and lambda variables). The bound expressions it
//! builds are defined in `super::expr`; this module is the code that
//! builds them, with the type rules (what compares with what, the type of
//! arithmetic) it checks them by.

use odata_syntax as ast;
use odata_syntax::{ExprKind, PathStart, SegmentKind};

use super::binder::{bad, Binder, Scope, VarKind};
use super::expr::{
    ArithOp, BoundExpr, CmpOp, DynamicProperty, ExprType, Func, ItemProperty, ItemsLambda, Lambda,
    NavStep, PathRoot, PropertyPath, Quantifier,
};
use super::literal::literal;
use crate::config::error::Hint;
use crate::edm::{EdmType, EntityTypeId, Join, ServiceModel};
use crate::error::GatewayError;
use crate::values::Value;

impl Binder<'_> {
    pub(super) fn expr(
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
            ExprKind::Path(p) => self.member_path(p, scope, target, e, false),
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
        // `Contact eq null`, `null ne Contact`: OData lets a to-one
        // navigation property be compared with null (LINQ clients write
        // `a.Contact == null`); it stands for the related entity's key,
        // which is null exactly when there is no related entity.
        let is_null = |e: &ast::Expr| matches!(e.kind, ExprKind::Literal(ast::Literal::Null));
        let entity_key = matches!(op, B::Eq | B::Ne) && (is_null(left) || is_null(right));
        let operand = |e: &ast::Expr| match &e.kind {
            ExprKind::Path(p) if entity_key => self.member_path(p, scope, target, e, true),
            _ => self.expr_depth(e, scope, target, alias_depth),
        };
        let (l, lt) = operand(left)?;
        let (r, rt) = match &right.kind {
            // `Type has 'CUSTOMER'`: the 4.01 short form takes its type from
            // the left operand, which only `has` below knows.
            ExprKind::Literal(ast::Literal::Enum(e)) if op == B::Has && e.type_name.is_none() => {
                untyped_enum(e)
            }
            _ => operand(right)?,
        };
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
        let Some(func) = canonical(function) else {
            return Err(GatewayError::not_implemented(
                format!(
                    "the function {}() is not supported by this service",
                    function.name()
                ),
                Some(target.to_string()),
            ));
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

    /// What the segment `next` after a collection computes, if it is
    /// `any(...)`, `all(...)` or `$count(...)`: its quantifier, its
    /// predicate over the members (`member`), and its type.
    fn collection_operation(
        &self,
        next: &SegmentKind,
        scope: &Scope,
        member: VarKind,
        target: &str,
    ) -> Result<Option<CollectionOperation>, GatewayError> {
        Ok(Some(match next {
            SegmentKind::Lambda(l) => (
                quantifier(l),
                self.lambda_predicate(l, scope, member, target)?,
                ExprType::Boolean,
            ),
            SegmentKind::Count(options) => (
                Quantifier::Count,
                self.count_filter(options.as_deref(), scope, member, target)?,
                ExprType::Edm(EdmType::Int64),
            ),
            _ => return Ok(None),
        }))
    }

    /// The `$filter` of `$count(...)`: a predicate over the members of the
    /// collection counted, which its bare names and `$this` refer to (a
    /// range variable without a name); `$it` stays the resource the whole
    /// expression is about. `None` for a plain `$count`.
    fn count_filter(
        &self,
        options: Option<&ast::QueryOptions>,
        scope: &Scope,
        member: VarKind,
        target: &str,
    ) -> Result<Option<Box<BoundExpr>>, GatewayError> {
        let Some(options) = options else {
            return Ok(None);
        };
        if options.search.is_some() {
            return Err(GatewayError::not_implemented(
                "$search inside $count(...) is not supported; use $filter",
                Some(target.to_string()),
            ));
        }
        let Some(filter) = &options.filter else {
            return Ok(None);
        };
        let mut inner = scope.clone();
        inner.implicit = Some((inner.vars.len(), member));
        inner.vars.push((String::new(), member));
        let (b, t) = self.expr(filter, &inner, target)?;
        expect_boolean(&t, filter, target)?;
        Ok(Some(Box::new(b)))
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
        if !n.is_qualified() && !args.is_empty() {
            return Err(unknown_function(&n.name, target));
        }
        if n.is_qualified() {
            return Err(GatewayError::not_implemented(
                format!("`{whole}`: casts and functions in paths are not supported"),
                Some(target.to_string()),
            ));
        }
        let Some(idx) = ct.properties.iter().position(|p| p.name == n.name) else {
            let names = ct.properties.iter().map(|p| p.name.as_str());
            return Err(GatewayError::bad_request(
                "UnknownProperty",
                format!(
                    "{} has no property `{}`{}",
                    ct.name,
                    n.name,
                    Hint::closest(&n.name, names)
                ),
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

    /// A path as a value. With `entity_key`, a path that ends on a to-one
    /// navigation property stands for the related entity's key (null
    /// exactly when there is no related entity), for comparisons with
    /// null; otherwise such a path is an entity, not a value.
    fn member_path(
        &self,
        p: &ast::MemberPath,
        scope: &Scope,
        target: &str,
        whole: &ast::Expr,
        entity_key: bool,
    ) -> Result<(BoundExpr, ExprType), GatewayError> {
        let site = PathSite {
            scope,
            target,
            whole,
            entity_key,
        };
        let mut segs = p.segments.as_slice();
        // Over the items of a collection of complex values, every path is a
        // property of the item: item properties are primitive, so no lambda
        // (and no other range variable) can occur inside.
        if let Some(cid) = scope.item {
            if matches!(
                p.start,
                PathStart::It | PathStart::This | PathStart::Relative
            ) {
                return self.item_property(cid, 0, segs, "$it", target, whole);
            }
        }
        // Inside `$count($filter=...)`, `$this` and a bare name that is no
        // range variable are the member counted.
        let counted = |segs: &[ast::Segment]| {
            scope
                .implicit
                .map(|member| self.counted_member(member, segs, site))
        };
        let (root, ty_id) = match &p.start {
            PathStart::This => match counted(segs) {
                Some(bound) => return bound,
                None => (PathRoot::It, scope.it),
            },
            PathStart::It if scope.it_is_outer => {
                return Err(GatewayError::not_implemented(
                    format!("`{whole}`: inside $expand, $it is the entity the URL addresses, which this service cannot compare with the related entities; use $this for the related entity"),
                    Some(target.to_string()),
                ))
            }
            PathStart::It => (PathRoot::It, scope.it),
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
                let var = match segs.first() {
                    Some(ast::Segment {
                        kind: SegmentKind::Name(n),
                        args,
                        ..
                    }) if !n.is_qualified() && args.is_empty() => scope
                        .vars
                        .iter()
                        .rposition(|(v, _)| *v == n.name)
                        .map(|depth| (depth, n)),
                    _ => None,
                };
                match var {
                    Some((depth, n)) => match scope.vars[depth].1 {
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
                    None => match counted(segs) {
                        Some(bound) => return bound,
                        None => (PathRoot::It, scope.it),
                    },
                }
            }
        };
        self.member_path_from(root, ty_id, segs, site)
    }

    /// The path `segs` from `member`, the range variable (depth and kind)
    /// of the member counted by a `$count($filter=...)`.
    fn counted_member(
        &self,
        (depth, kind): (usize, VarKind),
        segs: &[ast::Segment],
        site: PathSite<'_>,
    ) -> Result<(BoundExpr, ExprType), GatewayError> {
        match kind {
            VarKind::Complex(cid) => {
                self.item_property(cid, depth, segs, "$this", site.target, site.whole)
            }
            VarKind::Entity(ty) => self.member_path_from(PathRoot::Var(depth), ty, segs, site),
        }
    }

    /// The rest of [`Self::member_path`] once its start is known: the
    /// segments `segs` from an instance of `ty_id` at `root`.
    fn member_path_from(
        &self,
        root: PathRoot,
        mut ty_id: EntityTypeId,
        segs: &[ast::Segment],
        site: PathSite<'_>,
    ) -> Result<(BoundExpr, ExprType), GatewayError> {
        let PathSite {
            scope,
            target,
            whole,
            entity_key,
        } = site;
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
            if !n.is_qualified() && !seg.args.is_empty() {
                return Err(unknown_function(&n.name, target));
            }
            if n.is_qualified() {
                return Err(GatewayError::not_implemented(
                    format!("`{seg}` (casts and functions in paths) is not supported"),
                    Some(target.to_string()),
                ));
            }
            let ty = self.model.entity_type(ty_id);
            text.push(n.name.clone());
            if let Some(idx) = ty.property_index.get(&n.name) {
                // The path to this property, for a lambda's collection and
                // for a plain property alike.
                let property_path = || {
                    let mut upstream = upstream_prefix.clone();
                    upstream.push(ty.properties[*idx].upstream.clone());
                    PropertyPath {
                        root,
                        navigation: navigation.clone(),
                        owner: ty_id,
                        property: *idx,
                        text: text.join("/"),
                        upstream: upstream.join("."),
                    }
                };
                if let (Some(next), EdmType::Collection(inner)) =
                    (segs.get(i + 1), &ty.properties[*idx].ty)
                {
                    if matches!(next.kind, SegmentKind::Count(_) | SegmentKind::Lambda(_))
                        && !matches!(inner.as_ref(), EdmType::Complex(_))
                    {
                        return Err(GatewayError::not_implemented(
                            format!(
                                "`{whole}`: any, all and $count over a collection of primitive values are not supported"
                            ),
                            Some(target.to_string()),
                        ));
                    }
                    if let EdmType::Complex(cid) = inner.as_ref() {
                        let member = VarKind::Complex(*cid);
                        if let Some((quantifier, predicate, value_type)) =
                            self.collection_operation(&next.kind, scope, member, target)?
                        {
                            if i + 2 != segs.len() || navigation.len() > 1 {
                                return Err(GatewayError::not_implemented(
                                    format!("`{whole}`: nothing may follow `{next}`"),
                                    Some(target.to_string()),
                                ));
                            }
                            return Ok((
                                BoundExpr::ItemsLambda(ItemsLambda {
                                    quantifier,
                                    collection: property_path(),
                                    complex: *cid,
                                    predicate,
                                    depth: scope.vars.len(),
                                    text: whole.to_string(),
                                }),
                                value_type,
                            ));
                        }
                    }
                }
                if i + 1 != segs.len() {
                    let prop = &ty.properties[*idx];
                    let name = text.join("/");
                    // A path on into a single structured value is OData
                    // this service lacks; into a collection or a primitive
                    // value, it is no path at all.
                    return Err(match prop.ty {
                        EdmType::Complex(_) => GatewayError::not_implemented(
                            format!("paths into the structured value `{name}` are not supported"),
                            Some(target.to_string()),
                        ),
                        EdmType::Collection(_) => bad(
                            "InvalidPath",
                            format!("`{name}` is a collection; use {name}/any(x: ...), {name}/all(x: ...) or {name}/$count"),
                            target,
                        ),
                        _ => bad(
                            "InvalidPath",
                            format!("`{name}` is a primitive value; nothing can follow it in a path"),
                            target,
                        ),
                    });
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
                let path = property_path();
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
                            let name = text.join("/");
                            return Err(bad(
                                "InvalidPath",
                                format!("`{name}` is a collection; use {name}/any(x: ...), {name}/all(x: ...) or {name}/$count"),
                                target,
                            ));
                        };
                        if !navigation.is_empty() || i + 2 != segs.len() {
                            return Err(GatewayError::not_implemented(
                                format!("`{whole}`: lambdas are supported directly on a navigation property of the entity or range variable"),
                                Some(target.to_string()),
                            ));
                        }
                        let member = VarKind::Entity(nav.target);
                        let Some((quantifier, predicate, value_type)) =
                            self.collection_operation(&next.kind, scope, member, target)?
                        else {
                            let name = text.join("/");
                            return Err(bad(
                                "InvalidPath",
                                format!("`{name}/{next}`: `{name}` is a collection; use {name}/any(x: ...), {name}/all(x: ...) or {name}/$count"),
                                target,
                            ));
                        };
                        return Ok((
                            BoundExpr::Lambda(Lambda {
                                quantifier,
                                root,
                                navigation: n.name.clone(),
                                target: nav.target,
                                child_field: field.clone(),
                                predicate,
                                depth: scope.vars.len(),
                                text: whole.to_string(),
                            }),
                            value_type,
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
            let names = ty
                .properties
                .iter()
                .map(|p| p.name.as_str())
                .chain(ty.navigation.iter().map(|p| p.name.as_str()));
            return Err(GatewayError::bad_request(
                "UnknownProperty",
                format!(
                    "{} has no property `{}`{}",
                    ty.name,
                    n.name,
                    Hint::closest(&n.name, names)
                ),
                Some(target),
            ));
        }
        // The path ended on a to-one navigation property.
        if !entity_key {
            return Err(GatewayError::not_implemented(
                format!(
                    "`{whole}` (an entity as a value) is not supported except in a comparison with null; compare its properties instead"
                ),
                Some(target.to_string()),
            ));
        }
        if navigation.len() > 1 {
            return Err(GatewayError::not_implemented(
                format!(
                    "`{}` follows more than one navigation property; ZeyOS joins only direct relations",
                    text.join("/")
                ),
                Some(target.to_string()),
            ));
        }
        // Exact because a to-one navigation always leads to an entity
        // type whose set shows all its rows (no base filter), which the
        // model's tests check: the join's row is then the related entity.
        let ty = self.model.entity_type(ty_id);
        let key = ty.key_property();
        upstream_prefix.push(key.upstream.clone());
        text.push(key.name.clone());
        let path = PropertyPath {
            root,
            navigation,
            owner: ty_id,
            property: ty.key,
            text: text.join("/"),
            upstream: upstream_prefix.join("."),
        };
        Ok((BoundExpr::Property(path), ExprType::Edm(key.ty.clone())))
    }
}

/// The error for a call of a function that is neither canonical nor the
/// service's (which has none): a typo such as `toower(Name)` more often
/// than not, so the closest canonical name is suggested.
/// Where a member path is bound: its scope, what errors name (the option
/// and the whole expression), and whether an entity may stand as a value
/// (a comparison with null).
#[derive(Clone, Copy)]
struct PathSite<'a> {
    scope: &'a Scope,
    target: &'a str,
    whole: &'a ast::Expr,
    entity_key: bool,
}

fn unknown_function(name: &str, target: &str) -> GatewayError {
    bad(
        "UnknownFunction",
        format!(
            "`{name}` is not an OData canonical function, and this service defines no functions{}",
            Hint::closest(name, ast::Function::NAMES.iter().copied())
        ),
        target,
    )
}

/// Whether a name can be a ZeyOS extdata field. ZeyOS names them in lower
/// case (`nickname`, `region_code`) while declared properties are
/// PascalCase, so an unknown capitalised name is reported as a typo (400)
/// rather than read as an always-null dynamic property.
pub(super) fn is_extdata_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

pub(super) fn expect_boolean(
    t: &ExprType,
    e: &ast::Expr,
    target: &str,
) -> Result<(), GatewayError> {
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

/// An enum literal without its type, as the member list `coerce_enum`
/// resolves once the type is known.
fn untyped_enum(e: &ast::EnumLiteral) -> (BoundExpr, ExprType) {
    let members: Vec<String> = e
        .members
        .iter()
        .map(|m| match m {
            ast::EnumMember::Name(n) => n.clone(),
            ast::EnumMember::Value(v) => v.to_string(),
        })
        .collect();
    (
        BoundExpr::Literal(Value::String(members.join(",")), Some(EdmType::String)),
        ExprType::Edm(EdmType::String),
    )
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

/// An `any(...)`, `all(...)` or `$count(...)` bound: what it computes, its
/// predicate over the members, and the type of its value.
type CollectionOperation = (Quantifier, Option<Box<BoundExpr>>, ExprType);

/// `any` or `all`, as written.
fn quantifier(l: &ast::Lambda) -> Quantifier {
    match l.kind {
        ast::LambdaKind::Any => Quantifier::Any,
        ast::LambdaKind::All => Quantifier::All,
    }
}

/// The gateway's own function for a canonical function, if it evaluates
/// (or pushes down) that function.
fn canonical(function: ast::Function) -> Option<Func> {
    use ast::Function as F;
    Some(match function {
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
        _ => return None,
    })
}

/// The operators and canonical functions `$filter` accepts, as
/// `$metadata` announces them (`Capabilities.FilterFunctions`): clients
/// such as Power Query fold only what is listed and evaluate the rest
/// themselves instead of sending a request that gets a 501.
pub(crate) fn filter_functions() -> Vec<&'static str> {
    const OPERATORS: [&str; 19] = [
        "eq", "ne", "gt", "ge", "lt", "le", "and", "or", "not", "in", "has", "add", "sub", "mul",
        "div", "divby", "mod", "any", "all",
    ];
    let functions = ast::Function::NAMES
        .iter()
        .copied()
        .filter(|name| ast::Function::from_name(name).is_some_and(|f| canonical(f).is_some()));
    OPERATORS.into_iter().chain(functions).collect()
}
