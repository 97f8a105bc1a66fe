//! Expressions: a precedence-climbing loop over prefix/primary parsers.

use super::Parser;
use crate::ast::{
    Arg, Args, BinaryExpr, BinaryOp, CaseArm, Double, Expr, ExprKind, Function, JsonMember, Lambda,
    LambdaKind, Literal, MemberPath, PathStart, QualifiedName, Segment, SegmentKind, TypeCheckKind,
    TypeName, UnaryOp, UNARY_PRECEDENCE,
};
use crate::error::Result;
use crate::parser::query::OptionSet;

/// Where an argument group appears: resource paths admit only literals and
/// aliases as values, expressions admit any expression.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum ArgMode {
    Path,
    Expr,
}

impl Parser<'_> {
    /// `commonExpr`.
    pub fn expr(&mut self) -> Result<Expr> {
        self.expr_bp(0)
    }

    /// Parses operators binding tighter than or as tight as `min`.
    pub fn expr_bp(&mut self, min: u8) -> Result<Expr> {
        self.nested(|p| p.expr_bp_inner(min))
    }

    fn expr_bp_inner(&mut self, min: u8) -> Result<Expr> {
        let start = self.pos;
        let mut lhs = self.unary()?;
        // Each link of a left-deep chain (`a or b or c ...`) adds one level to
        // the tree even though parsing it does not recurse; bound the height
        // so that Drop, Display and the binder's recursion stay shallow too.
        let mut links = 0usize;
        loop {
            let save = self.pos;
            if self.ws() == 0 {
                break;
            }
            let Some((op, len)) = self.peek_binary_op() else {
                self.pos = save;
                break;
            };
            let prec = op.precedence();
            if prec < min {
                self.pos = save;
                break;
            }
            self.pos += len;
            if self.at_end() {
                return Err(self.err(format!("an operand after '{}'", op.as_str())));
            }
            self.rws()?;
            let rhs = match op {
                BinaryOp::Has => self.has_rhs()?,
                BinaryOp::In => self.in_rhs()?,
                _ => self.expr_bp(prec + 1)?,
            };
            self.node()?;
            links += 1;
            if links % 16 == 0 {
                // one depth unit per 16 links: 50 levels allow 800-term chains
                self.enter()?;
            }
            lhs = Expr {
                kind: ExprKind::Binary(Box::new(BinaryExpr {
                    op,
                    left: lhs,
                    right: rhs,
                })),
                span: self.span(start),
            };
        }
        for _ in 0..links / 16 {
            self.leave();
        }
        Ok(lhs)
    }

    /// An operator keyword at the cursor, followed by whitespace.
    fn peek_binary_op(&self) -> Option<(BinaryOp, usize)> {
        let rest = self.rest().as_bytes();
        let len = rest
            .iter()
            .take(6)
            .take_while(|b| b.is_ascii_alphabetic())
            .count();
        if !(2..=5).contains(&len) || !matches!(rest.get(len), Some(b' ' | b'\t') | None) {
            return None;
        }
        BinaryOp::from_keyword_bytes(rest.get(..len)?).map(|op| (op, len))
    }

    /// `has` takes an enum literal (or an alias).
    fn has_rhs(&mut self) -> Result<Expr> {
        let start = self.pos;
        if self.peek() == Some(b'\'') {
            self.node()?;
            let e = self.enum_literal(None)?;
            return Ok(Expr {
                kind: ExprKind::Literal(Literal::Enum(Box::new(e))),
                span: self.span(start),
            });
        }
        let e = self.expr_bp(UNARY_PRECEDENCE + 2)?;
        match &e.kind {
            ExprKind::Literal(Literal::Enum(_)) | ExprKind::Alias(_) => Ok(e),
            _ => Err(self.err_at(start, "an enumeration literal such as Ns.Color'Red'")),
        }
    }

    /// `in` takes `(literal, ...)`, or a primary expression (JSON array,
    /// alias, path, or a parenthesised expression).
    fn in_rhs(&mut self) -> Result<Expr> {
        let start = self.pos;
        if self.peek() != Some(b'(') {
            return self.expr_bp(UNARY_PRECEDENCE + 2);
        }
        self.nested(|p| {
            p.pos += 1;
            p.ws();
            if p.eat(b')') {
                p.node()?;
                return Ok(Expr {
                    kind: ExprKind::List(Vec::new()),
                    span: p.span(start),
                });
            }
            let first = p.expr()?;
            p.ws();
            if p.eat(b')') {
                if matches!(first.kind, ExprKind::Literal(_)) {
                    p.node()?;
                    return Ok(Expr {
                        kind: ExprKind::List(vec![first]),
                        span: p.span(start),
                    });
                }
                return Ok(first);
            }
            if !matches!(first.kind, ExprKind::Literal(_)) && p.peek() == Some(b',') {
                return Err(p.err("')' (lists after 'in' hold literals only)"));
            }
            let mut items = vec![first];
            loop {
                if !p.eat(b',') {
                    return Err(p.err("',' or ')'"));
                }
                p.ws();
                items.push(p.expr()?);
                p.ws();
                if p.eat(b')') {
                    break;
                }
            }
            if let Some(bad) = items
                .iter()
                .find(|e| !matches!(e.kind, ExprKind::Literal(_)))
            {
                return Err(p.err_at(
                    bad.span.start,
                    "a primitive literal (lists after 'in' hold literals only)",
                ));
            }
            p.node()?;
            Ok(Expr {
                kind: ExprKind::List(items),
                span: p.span(start),
            })
        })
    }

    /// Prefix operators `-` and `not`, then a primary.
    fn unary(&mut self) -> Result<Expr> {
        let start = self.pos;
        let op = match self.peek() {
            Some(b'-') => {
                let next = self.peek_at(1);
                if next.is_some_and(|b| b.is_ascii_digit()) || self.rest().starts_with("-INF") {
                    None
                } else {
                    self.pos += 1;
                    self.ws();
                    Some(UnaryOp::Neg)
                }
            }
            Some(b'n' | b'N') if self.starts_with_ci("not") => {
                // `not` needs whitespace after it, except before `(`: Power
                // Query writes `not(contains(...))`.
                match self.peek_at(3) {
                    Some(b' ' | b'\t') => {
                        self.pos += 3;
                        self.ws();
                        Some(UnaryOp::Not)
                    }
                    Some(b'(') => {
                        self.pos += 3;
                        Some(UnaryOp::Not)
                    }
                    _ => None,
                }
            }
            _ => None,
        };
        match op {
            None => self.primary(),
            Some(op) => {
                let operand = self.expr_bp(UNARY_PRECEDENCE + 1)?;
                self.node()?;
                Ok(Expr {
                    kind: ExprKind::Unary {
                        op,
                        operand: Box::new(operand),
                    },
                    span: self.span(start),
                })
            }
        }
    }

    fn lit(&self, l: Literal, start: usize) -> Expr {
        Expr {
            kind: ExprKind::Literal(l),
            span: self.span(start),
        }
    }

    /// Literals, paths, calls, parentheses, JSON.
    pub fn primary(&mut self) -> Result<Expr> {
        self.node()?;
        let start = self.pos;
        let Some(b) = self.peek() else {
            return Err(self.err("an expression"));
        };
        match b {
            b'(' => self.nested(|p| {
                p.pos += 1;
                p.ws();
                let mut e = p.expr()?;
                p.ws();
                p.expect(b')', "')'")?;
                e.span = p.span(start);
                Ok(e)
            }),
            b'[' | b'{' => self.json_value(),
            b'\'' => {
                let s = self.quoted()?;
                Ok(self.lit(Literal::String(s), start))
            }
            b'@' => self.at_expr(),
            b'$' => self.dollar_expr(),
            b'0'..=b'9' | b'-' | b'+' => {
                if let Some(l) = self.numeric_like()? {
                    return Ok(self.lit(l, start));
                }
                if self.rest().starts_with("-INF")
                    && !self
                        .rest()
                        .get(4..)
                        .and_then(|r| r.chars().next())
                        .is_some_and(super::is_ident_char)
                {
                    self.pos += 4;
                    return Ok(self.lit(double_lit("-INF", f64::NEG_INFINITY), start));
                }
                Err(self.err("an expression"))
            }
            _ => {
                if let Some(g) = self.guid() {
                    return Ok(self.lit(Literal::Guid(g), start));
                }
                if self.peek_char().is_some_and(super::is_ident_start) {
                    self.ident_expr()
                } else {
                    Err(self.err("an expression"))
                }
            }
        }
    }

    /// GUID, dateTimeOffset, date, timeOfDay or number.
    fn numeric_like(&mut self) -> Result<Option<Literal>> {
        let start = self.pos;
        if let Some(g) = self.guid() {
            return Ok(Some(Literal::Guid(g)));
        }
        if let Some(d) = self.date()? {
            if matches!(self.peek(), Some(b'T' | b't')) {
                let dt = self.date_time_rest(d, start)?;
                return Ok(Some(Literal::DateTimeOffset(dt)));
            }
            return Ok(Some(Literal::Date(d)));
        }
        if let Some(t) = self.time_of_day()? {
            return Ok(Some(Literal::TimeOfDay(t)));
        }
        let n = self.number()?;
        if n.is_some()
            && self
                .peek()
                .is_some_and(|b| b.is_ascii_alphabetic() || b == b'.')
        {
            return Err(self.err("an operator or the end of the number"));
        }
        Ok(n)
    }

    /// `@alias`, `@alias/path` or `@Ns.Term[#q]/path` (annotation).
    fn at_expr(&mut self) -> Result<Expr> {
        let start = self.pos;
        self.pos += 1;
        let Some(name) = self.qualified_name()? else {
            return Err(self.err("a parameter alias or annotation name after '@'"));
        };
        let qualifier = self.annotation_qualifier()?;
        if name.is_qualified() || qualifier.is_some() {
            let seg = Segment {
                kind: SegmentKind::Annotation {
                    term: name,
                    qualifier,
                },
                args: Vec::new(),
                span: self.span(start),
            };
            return self.path_rest(PathStart::Relative, vec![seg], start);
        }
        if self.peek() == Some(b'/') && self.segment_follows() {
            return self.path_rest(PathStart::Alias(name.name), Vec::new(), start);
        }
        Ok(Expr {
            kind: ExprKind::Alias(name.name),
            span: self.span(start),
        })
    }

    pub fn annotation_qualifier(&mut self) -> Result<Option<String>> {
        if self.eat(b'#') {
            Ok(Some(
                self.expect_ident("an annotation qualifier after '#'")?
                    .to_owned(),
            ))
        } else {
            Ok(None)
        }
    }

    /// `$it`, `$this`, `$root/...`.
    fn dollar_expr(&mut self) -> Result<Expr> {
        let start = self.pos;
        if self.eat_str("$root") {
            if !self.eat(b'/') {
                return Err(self.err("'/' after $root"));
            }
            let Some(name) = self.ident()? else {
                return Err(self.err("an entity set, singleton or function import after $root/"));
            };
            let seg_start = self.pos - name.len();
            let mut seg = Segment {
                kind: SegmentKind::Name(QualifiedName::simple(name)),
                args: Vec::new(),
                span: self.span(seg_start),
            };
            self.arg_groups(&mut seg, ArgMode::Expr)?;
            return self.path_rest(PathStart::Root, vec![seg], start);
        }
        let which = if self.eat_keyword_ci("$it") {
            PathStart::It
        } else if self.eat_keyword_ci("$this") {
            PathStart::This
        } else {
            return Err(self.err("$it, $this or $root"));
        };
        self.path_rest(which, Vec::new(), start)
    }

    /// Whether a `/` at the cursor is followed by something that can start
    /// a path segment.
    fn segment_follows(&self) -> bool {
        match self.peek_at(1) {
            Some(b'$' | b'@') => true,
            Some(_) => self
                .src
                .get(self.pos + 1..)
                .and_then(|r| r.chars().next())
                .is_some_and(super::is_ident_start),
            None => false,
        }
    }

    /// Continues a member path with `/segment`s.
    fn path_rest(
        &mut self,
        start_kind: PathStart,
        mut segments: Vec<Segment>,
        start: usize,
    ) -> Result<Expr> {
        while self.peek() == Some(b'/') {
            if !self.segment_follows() {
                return Err(self.err_at(self.pos + 1, "a path segment after '/'"));
            }
            self.pos += 1;
            let seg = self.expr_segment()?;
            let terminal = matches!(seg.kind, SegmentKind::Lambda(_));
            segments.push(seg);
            if terminal {
                break;
            }
        }
        Ok(Expr {
            kind: ExprKind::Path(MemberPath {
                start: start_kind,
                segments,
            }),
            span: self.span(start),
        })
    }

    /// One segment after `/` in an expression path.
    fn expr_segment(&mut self) -> Result<Segment> {
        self.node()?;
        let start = self.pos;
        let kind = if self.eat_str("$count") {
            if self.peek() == Some(b'(') {
                let opts = self.nested_weighted(super::query::NESTED_OPTIONS_WEIGHT, |p| {
                    p.pos += 1;
                    let o = p.nested_options(OptionSet::COUNT)?;
                    p.expect(b')', "';' or ')'")?;
                    Ok(o)
                })?;
                SegmentKind::Count(Some(Box::new(opts)))
            } else {
                SegmentKind::Count(None)
            }
        } else if self.eat_str("$filter") {
            SegmentKind::Filter(Box::new(self.filter_segment_body()?))
        } else if self.peek() == Some(b'$') {
            return Err(self.err("$count, $filter or a name"));
        } else if self.eat(b'@') {
            let Some(term) = self.qualified_name()? else {
                return Err(self.err("an annotation term after '@'"));
            };
            let qualifier = self.annotation_qualifier()?;
            SegmentKind::Annotation { term, qualifier }
        } else {
            let Some(name) = self.qualified_name()? else {
                return Err(self.err("a path segment"));
            };
            if !name.is_qualified() && self.peek() == Some(b'(') {
                let kind = if name.name.eq_ignore_ascii_case("any") {
                    Some(LambdaKind::Any)
                } else if name.name.eq_ignore_ascii_case("all") {
                    Some(LambdaKind::All)
                } else {
                    None
                };
                if let Some(kind) = kind {
                    let lambda = self.lambda_body(kind)?;
                    return Ok(Segment {
                        kind: SegmentKind::Lambda(lambda),
                        args: Vec::new(),
                        span: self.span(start),
                    });
                }
            }
            SegmentKind::Name(name)
        };
        let mut seg = Segment {
            kind,
            args: Vec::new(),
            span: self.span(start),
        };
        if matches!(seg.kind, SegmentKind::Name(_) | SegmentKind::Filter(_)) {
            self.arg_groups(&mut seg, ArgMode::Expr)?;
        }
        Ok(seg)
    }

    /// `(expr)` after `$filter` in a path.
    pub fn filter_segment_body(&mut self) -> Result<Expr> {
        self.nested(|p| {
            p.expect(b'(', "'(' after $filter")?;
            p.ws();
            let e = p.expr()?;
            p.ws();
            p.expect(b')', "')'")?;
            Ok(e)
        })
    }

    /// `( [ var : predicate ] )` after `any`/`all`.
    fn lambda_body(&mut self, kind: LambdaKind) -> Result<Lambda> {
        // a lambda level spans more frames than a parenthesis: charge two
        self.nested_weighted(2, |p| {
            p.expect(b'(', "'('")?;
            p.ws();
            if p.eat(b')') {
                if kind == LambdaKind::All {
                    return Err(p.err_at(p.pos - 1, "a lambda variable and predicate: all(x:...)"));
                }
                return Ok(Lambda { kind, body: None });
            }
            let var = p.expect_ident("a lambda variable name")?.to_owned();
            p.ws();
            p.expect(b':', "':' after the lambda variable")?;
            p.ws();
            let pred = p.expr()?;
            p.ws();
            p.expect(b')', "')'")?;
            Ok(Lambda {
                kind,
                body: Some((var, Box::new(pred))),
            })
        })
    }

    /// Zero or more `( ... )` groups after a segment.
    pub fn arg_groups(&mut self, seg: &mut Segment, mode: ArgMode) -> Result<()> {
        while self.peek() == Some(b'(') {
            let g = self.arg_group(mode)?;
            seg.args.push(g);
        }
        seg.span.end = self.pos;
        Ok(())
    }

    /// `( )`, `( value )`, `( name=value, ... )`.
    pub fn arg_group(&mut self, mode: ArgMode) -> Result<Args> {
        let start = self.pos;
        self.nested(|p| {
            p.expect(b'(', "'('")?;
            p.ws();
            let mut items = Vec::new();
            if p.eat(b')') {
                return Ok(Args {
                    items,
                    span: p.span(start),
                });
            }
            loop {
                let save = p.pos;
                let name = match p.ident()? {
                    Some(n) if p.peek() == Some(b'=') => {
                        p.pos += 1;
                        Some(n.to_owned())
                    }
                    _ => {
                        p.pos = save;
                        None
                    }
                };
                let value = match mode {
                    ArgMode::Expr => p.expr()?,
                    ArgMode::Path => p.path_value()?,
                };
                items.push(Arg { name, value });
                p.ws();
                if p.eat(b')') {
                    break;
                }
                p.expect(b',', "',' or ')'")?;
                p.ws();
            }
            if items.len() > 1 && items.iter().any(|a| a.name.is_none()) {
                return Err(p.err_at(start, "name=value pairs when there is more than one value"));
            }
            Ok(Args {
                items,
                span: p.span(start),
            })
        })
    }

    /// A key or function parameter value in a resource path: a primitive
    /// literal or a parameter alias.
    pub fn path_value(&mut self) -> Result<Expr> {
        let start = self.pos;
        let e = self.primary()?;
        match &e.kind {
            ExprKind::Literal(_) | ExprKind::Alias(_) => Ok(e),
            _ => Err(self.err_at(start, "a literal or a parameter alias")),
        }
    }

    /// Everything that starts with an identifier.
    fn ident_expr(&mut self) -> Result<Expr> {
        let start = self.pos;
        let Some(name) = self.qualified_name()? else {
            return Err(self.err("an expression"));
        };
        let next = self.peek();
        if !name.is_qualified() {
            let n = name.name.as_str();
            match n {
                "null" => return Ok(self.lit(Literal::Null, start)),
                "INF" => return Ok(self.lit(double_lit("INF", f64::INFINITY), start)),
                "NaN" => return Ok(self.lit(double_lit("NaN", f64::NAN), start)),
                _ => {}
            }
            if n.eq_ignore_ascii_case("true") {
                return Ok(self.lit(Literal::Boolean(true), start));
            }
            if n.eq_ignore_ascii_case("false") {
                return Ok(self.lit(Literal::Boolean(false), start));
            }
            if next == Some(b'\'') {
                if ["duration", "binary", "geography", "geometry"]
                    .iter()
                    .any(|p| n.eq_ignore_ascii_case(p))
                {
                    let l = self.prefixed_literal(n, start)?;
                    return Ok(self.lit(l, start));
                }
                return Err(self.err_at(start, "a literal prefix (duration, binary, geography, geometry) or a qualified enum type"));
            }
            if next == Some(b'(') {
                if n.eq_ignore_ascii_case("cast") {
                    return self.type_check(TypeCheckKind::Cast, start);
                }
                if n.eq_ignore_ascii_case("isof") {
                    return self.type_check(TypeCheckKind::IsOf, start);
                }
                if n.eq_ignore_ascii_case("case") {
                    return self.case_expr(start);
                }
                if n.eq_ignore_ascii_case("any") || n.eq_ignore_ascii_case("all") {
                    return Err(self.err_at(
                        self.pos,
                        "a collection path before any/all (e.g. Items/any(...))",
                    ));
                }
                if let Some(f) = Function::from_name(n) {
                    return self.call(f, start);
                }
            }
        } else {
            if next == Some(b'\'') {
                let e = self.enum_literal(Some(name))?;
                return Ok(self.lit(Literal::Enum(Box::new(e)), start));
            }
            if next == Some(b'(') && name.namespace.eq_ignore_ascii_case("geo") {
                if let Some(f) = Function::from_name(&format!("geo.{}", name.name)) {
                    return self.call(f, start);
                }
            }
        }
        let qualified = name.is_qualified();
        let mut seg = Segment {
            kind: SegmentKind::Name(name),
            args: Vec::new(),
            span: self.span(start),
        };
        self.arg_groups(&mut seg, ArgMode::Expr)?;
        // A qualified name alone is a type cast, which must be followed by a
        // member (`Ns.Type/Prop`), or a function, which needs parentheses.
        if qualified
            && seg.args.is_empty()
            && !(self.peek() == Some(b'/') && self.segment_follows())
        {
            return Err(self.err("'(' (a function call) or '/' (after a type cast)"));
        }
        self.path_rest(PathStart::Relative, vec![seg], start)
    }

    /// A canonical function call; the cursor is on `(`.
    fn call(&mut self, function: Function, start: usize) -> Result<Expr> {
        let args = self.nested(|p| {
            p.pos += 1;
            p.ws();
            let mut args = Vec::new();
            if !p.eat(b')') {
                loop {
                    args.push(p.expr()?);
                    p.ws();
                    if p.eat(b')') {
                        break;
                    }
                    p.expect(b',', "',' or ')'")?;
                    p.ws();
                }
            }
            Ok(args)
        })?;
        let (min, max) = function.arity();
        if args.len() < min || args.len() > max {
            let expected = if min == max {
                format!(
                    "{} takes {} argument(s), got {}",
                    function.name(),
                    min,
                    args.len()
                )
            } else {
                format!(
                    "{} takes {} to {} arguments, got {}",
                    function.name(),
                    min,
                    max,
                    args.len()
                )
            };
            return Err(self.invalid_at(start, expected));
        }
        Ok(Expr {
            kind: ExprKind::Call { function, args },
            span: self.span(start),
        })
    }

    /// `optionallyQualifiedTypeName`, incl. `Collection(...)`.
    pub fn type_name(&mut self) -> Result<Option<TypeName>> {
        let save = self.pos;
        let Some(name) = self.qualified_name()? else {
            return Ok(None);
        };
        if !name.is_qualified() && name.name == "Collection" && self.peek() == Some(b'(') {
            self.pos += 1;
            match self.qualified_name()? {
                Some(inner) if self.eat(b')') => {
                    return Ok(Some(TypeName {
                        name: inner,
                        collection: true,
                    }))
                }
                _ => {
                    self.pos = save;
                    return Ok(None);
                }
            }
        }
        Ok(Some(TypeName {
            name,
            collection: false,
        }))
    }

    /// `cast(...)` / `isof(...)`; the cursor is on `(`.
    fn type_check(&mut self, kind: TypeCheckKind, start: usize) -> Result<Expr> {
        self.nested(|p| {
            p.pos += 1;
            p.ws();
            let save = p.pos;
            if let Some(t) = p.type_name()? {
                p.ws();
                if p.eat(b')') {
                    return Ok(Expr {
                        kind: ExprKind::TypeCheck {
                            kind,
                            expr: None,
                            type_name: Box::new(t),
                        },
                        span: p.span(start),
                    });
                }
            }
            p.pos = save;
            let e = p.expr()?;
            p.ws();
            p.expect(b',', "',' and a type name")?;
            p.ws();
            let Some(t) = p.type_name()? else {
                return Err(p.err("a type name"));
            };
            p.ws();
            p.expect(b')', "')'")?;
            Ok(Expr {
                kind: ExprKind::TypeCheck {
                    kind,
                    expr: Some(Box::new(e)),
                    type_name: Box::new(t),
                },
                span: p.span(start),
            })
        })
    }

    /// `case(cond:value, ...)`; the cursor is on `(`.
    fn case_expr(&mut self, start: usize) -> Result<Expr> {
        self.nested(|p| {
            p.pos += 1;
            let mut arms = Vec::new();
            loop {
                p.ws();
                let condition = p.expr()?;
                p.ws();
                p.expect(b':', "':' between condition and value")?;
                p.ws();
                let value = p.expr()?;
                p.ws();
                arms.push(CaseArm { condition, value });
                if p.eat(b')') {
                    break;
                }
                p.expect(b',', "',' or ')'")?;
            }
            Ok(Expr {
                kind: ExprKind::Case(arms),
                span: p.span(start),
            })
        })
    }

    /// A JSON array or object (`arrayOrObject`), elements being JSON strings
    /// or expressions.
    pub fn json_value(&mut self) -> Result<Expr> {
        let start = self.pos;
        self.nested(|p| {
            if p.eat(b'[') {
                p.ws();
                let mut items = Vec::new();
                if !p.eat(b']') {
                    loop {
                        items.push(p.json_element()?);
                        p.ws();
                        if p.eat(b']') {
                            break;
                        }
                        p.expect(b',', "',' or ']'")?;
                        p.ws();
                    }
                }
                return Ok(Expr {
                    kind: ExprKind::Array(items),
                    span: p.span(start),
                });
            }
            p.expect(b'{', "'[' or '{'")?;
            p.ws();
            let mut members = Vec::new();
            if !p.eat(b'}') {
                loop {
                    if p.peek() != Some(b'"') {
                        return Err(p.err("a member name in double quotes"));
                    }
                    let name = p.json_string()?;
                    p.ws();
                    p.expect(b':', "':'")?;
                    p.ws();
                    let value = p.json_element()?;
                    members.push(JsonMember { name, value });
                    p.ws();
                    if p.eat(b'}') {
                        break;
                    }
                    p.expect(b',', "',' or '}'")?;
                    p.ws();
                }
            }
            Ok(Expr {
                kind: ExprKind::Object(members),
                span: p.span(start),
            })
        })
    }

    fn json_element(&mut self) -> Result<Expr> {
        let start = self.pos;
        if self.peek() == Some(b'"') {
            self.node()?;
            let s = self.json_string()?;
            return Ok(Expr {
                kind: ExprKind::JsonString(s),
                span: self.span(start),
            });
        }
        self.expr()
    }

    /// A JSON string with its escapes.
    pub fn json_string(&mut self) -> Result<String> {
        let start = self.pos;
        self.expect(b'"', "'\"'")?;
        let mut out = String::new();
        loop {
            let Some(c) = self.peek_char() else {
                return Err(self.err_at(start, "a closing double quote"));
            };
            self.pos += c.len_utf8();
            match c {
                '"' => return Ok(out),
                '\\' => {
                    let esc_at = self.pos - 1;
                    let Some(e) = self.peek_char() else {
                        return Err(self.err("an escape character"));
                    };
                    self.pos += e.len_utf8();
                    match e {
                        '"' => out.push('"'),
                        '\\' => out.push('\\'),
                        '/' => out.push('/'),
                        'b' => out.push('\u{8}'),
                        'f' => out.push('\u{c}'),
                        'n' => out.push('\n'),
                        'r' => out.push('\r'),
                        't' => out.push('\t'),
                        'u' => {
                            let hi = self.hex4()?;
                            let cp = if (0xD800..0xDC00).contains(&hi) {
                                if !self.eat_str("\\u") {
                                    return Err(self.invalid_at(
                                        esc_at,
                                        "a high surrogate must be followed by a low surrogate",
                                    ));
                                }
                                let lo = self.hex4()?;
                                if !(0xDC00..0xE000).contains(&lo) {
                                    return Err(self.invalid_at(esc_at, "invalid surrogate pair"));
                                }
                                0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                            } else {
                                hi
                            };
                            match char::from_u32(cp) {
                                Some(ch) => out.push(ch),
                                None => return Err(self.invalid_at(esc_at, "invalid \\u escape")),
                            }
                        }
                        _ => {
                            return Err(self.err_at(
                                esc_at,
                                "a JSON escape (\\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX)",
                            ))
                        }
                    }
                }
                c => out.push(c),
            }
        }
    }

    fn hex4(&mut self) -> Result<u32> {
        let s = self.rest().get(..4).unwrap_or("");
        if s.len() == 4 && s.bytes().all(|b| b.is_ascii_hexdigit()) {
            self.pos += 4;
            u32::from_str_radix(s, 16).map_err(|_| self.err("four hex digits"))
        } else {
            Err(self.err("four hex digits"))
        }
    }
}

fn double_lit(lex: &str, v: f64) -> Literal {
    Literal::Double(Double {
        value: v,
        lexical: lex.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use crate::ast::*;
    use crate::{parse_expression, Limits, ParseError};

    /// Fully parenthesised structure, to test precedence independently of
    /// `Display`'s minimal parentheses.
    fn sexp(e: &Expr) -> String {
        match &e.kind {
            ExprKind::Binary(b) => {
                let BinaryExpr { op, left, right } = &**b;
                format!("({} {} {})", op.as_str(), sexp(left), sexp(right))
            }
            ExprKind::Unary { op, operand } => {
                format!(
                    "({} {})",
                    if *op == UnaryOp::Neg { "-" } else { "not" },
                    sexp(operand)
                )
            }
            ExprKind::List(items) => {
                format!("[{}]", items.iter().map(sexp).collect::<Vec<_>>().join(" "))
            }
            _ => e.to_string(),
        }
    }

    fn p(s: &str) -> Expr {
        match parse_expression(s, &Limits::default()) {
            Ok(e) => e,
            Err(err) => panic!("{s:?}: {err}"),
        }
    }

    fn s(s: &str) -> String {
        sexp(&p(s))
    }

    fn err(s: &str) -> ParseError {
        parse_expression(s, &Limits::default()).expect_err(s)
    }

    #[test]
    fn precedence_and_associativity() {
        assert_eq!(s("a or b and c"), "(or a (and b c))");
        assert_eq!(s("a and b or c"), "(or (and a b) c)");
        assert_eq!(s("a sub b sub c"), "(sub (sub a b) c)");
        assert_eq!(s("a div b mul c"), "(mul (div a b) c)");
        assert_eq!(s("a add b mul c"), "(add a (mul b c))");
        assert_eq!(s("-a mul b"), "(mul (- a) b)");
        // not binds tighter than eq (spec table 5.1.1.15)
        assert_eq!(s("not a eq b"), "(eq (not a) b)");
        assert_eq!(s("a eq b and c lt d"), "(and (eq a b) (lt c d))");
        assert_eq!(s("a lt b eq c"), "(eq (lt a b) c)");
        // has and in bind tighter than unary
        assert_eq!(s("not a in ('x')"), "(not (in a ['x']))");
        assert_eq!(s("-a has Ns.E'A'"), "(- (has a Ns.E'A'))");
        assert_eq!(s("(a or b) and c"), "(and (or a b) c)");
        assert_eq!(s("a mod 2 eq 0"), "(eq (mod a 2) 0)");
        assert_eq!(s("Price divby 2"), "(divby Price 2)");
    }

    #[test]
    fn operators_are_case_insensitive() {
        assert_eq!(
            s("Name EQ 'Milk' AND Price LT 2.55"),
            "(and (eq Name 'Milk') (lt Price 2.55))"
        );
        assert_eq!(s("NOT a"), "(not a)");
    }

    #[test]
    fn power_query_not_without_space() {
        let e = p("not(contains(FirstName,'A'))");
        let ExprKind::Unary {
            op: UnaryOp::Not,
            operand,
        } = &e.kind
        else {
            panic!("{e:?}")
        };
        assert!(matches!(
            operand.kind,
            ExprKind::Call {
                function: Function::Contains,
                ..
            }
        ));
        // but `nothing` is a property
        assert!(matches!(p("nothing eq 1").kind, ExprKind::Binary(_)));
    }

    #[test]
    fn negative_numbers_vs_negation() {
        assert_eq!(p("-1").kind, ExprKind::Literal(Literal::Int(-1)));
        assert_eq!(s("a sub -1"), "(sub a -1)");
        assert_eq!(s("- a"), "(- a)");
        assert_eq!(s("-(1)"), "(- 1)");
        assert!(matches!(
            p("-INF").kind,
            ExprKind::Literal(Literal::Double(_))
        ));
    }

    #[test]
    fn in_lists() {
        assert_eq!(
            s("Name in ('Milk', 'Cheese')"),
            "(in Name ['Milk' 'Cheese'])"
        );
        assert_eq!(s("Name in ()"), "(in Name [])");
        assert!(matches!(
            p("Name in [\"a\",'b']").kind,
            ExprKind::Binary(ref b) if b.op == BinaryOp::In
        ));
        // a single non-literal in parentheses is a parenthesised expression
        assert_eq!(s("A in (B)"), "(in A B)");
        assert!(parse_expression("A in (B,C)", &Limits::default()).is_err());
        assert!(parse_expression("A eq ('x','y')", &Limits::default()).is_err());
    }

    #[test]
    fn lambdas_with_nested_range_variables() {
        let e = p("Orders/any(o:o/Items/all(i:i/Price gt 0 and o/Total gt 1))");
        let ExprKind::Path(path) = &e.kind else {
            panic!()
        };
        let Some(SegmentKind::Lambda(l)) = path.segments.last().map(|s| &s.kind) else {
            panic!()
        };
        assert_eq!(l.kind, LambdaKind::Any);
        let (var, body) = l.body.as_ref().unwrap();
        assert_eq!(var, "o");
        assert!(body.to_string().contains("all(i:"));
        assert!(matches!(p("Tags/any()").kind, ExprKind::Path(_)));
        assert!(parse_expression("Tags/all()", &Limits::default()).is_err());
        assert!(parse_expression("any(x:true)", &Limits::default()).is_err());
        assert_eq!(p("Items/ANY(x:x eq 1)").to_string(), "Items/any(x:x eq 1)");
    }

    #[test]
    fn implicit_variables() {
        for (src, start) in [
            ("$it/Name", PathStart::It),
            ("$this", PathStart::This),
            ("$root/People('x')/Name", PathStart::Root),
        ] {
            let ExprKind::Path(path) = p(src).kind else {
                panic!("{src}")
            };
            assert_eq!(path.start, start, "{src}");
        }
        assert_eq!(p("@p").kind, ExprKind::Alias("p".into()));
        let ExprKind::Path(path) = p("@p/Street").kind else {
            panic!()
        };
        assert_eq!(path.start, PathStart::Alias("p".into()));
    }

    #[test]
    fn functions_qualified_and_unqualified() {
        assert!(matches!(
            p("contains(Name,'x')").kind,
            ExprKind::Call {
                function: Function::Contains,
                ..
            }
        ));
        assert!(matches!(
            p("CONTAINS(Name,'x')").kind,
            ExprKind::Call {
                function: Function::Contains,
                ..
            }
        ));
        assert!(matches!(
            p("geo.distance(A,B)").kind,
            ExprKind::Call {
                function: Function::GeoDistance,
                ..
            }
        ));
        let ExprKind::Path(path) = p("Model.Fn(x=1)").kind else {
            panic!()
        };
        assert!(matches!(&path.segments[0].kind, SegmentKind::Name(n) if n.namespace == "Model"));
        assert_eq!(path.segments[0].args[0].items[0].name.as_deref(), Some("x"));
        // arity is checked
        assert!(matches!(
            err("contains(Name)"),
            ParseError::InvalidValue { .. }
        ));
        assert!(matches!(
            p("substring(Name,1,2)").kind,
            ExprKind::Call { .. }
        ));
        assert!(err("Model.Fn").to_string().contains("function call"));
    }

    #[test]
    fn cast_isof_case_has() {
        let ExprKind::TypeCheck {
            kind,
            expr,
            type_name,
        } = p("cast(Edm.String)").kind
        else {
            panic!()
        };
        assert_eq!(
            (kind, expr.is_none(), type_name.name.to_string()),
            (TypeCheckKind::Cast, true, "Edm.String".into())
        );
        let ExprKind::TypeCheck {
            expr, type_name, ..
        } = p("isof(Category,Model.Customer)").kind
        else {
            panic!()
        };
        assert!(expr.is_some());
        assert!(type_name.name.is_qualified());
        assert!(matches!(
            p("cast(X,Collection(Edm.Int32))").kind,
            ExprKind::TypeCheck { ref type_name, .. } if type_name.collection
        ));
        assert!(
            matches!(p("case(X gt 0:1,true:0)").kind, ExprKind::Case(ref arms) if arms.len() == 2)
        );
        let ExprKind::Binary(b) = p("style has Sales.Pattern'Yellow,Red'").kind else {
            panic!()
        };
        let ExprKind::Literal(Literal::Enum(en)) = b.right.kind else {
            panic!()
        };
        assert_eq!(en.type_name.unwrap().to_string(), "Sales.Pattern");
        assert_eq!(en.members.len(), 2);
    }

    #[test]
    fn json_values() {
        let e = p(r#"{"a":[1,"x\"y",{"b":null}],"c":Name}"#);
        assert!(matches!(e.kind, ExprKind::Object(ref m) if m.len() == 2));
        assert_eq!(e.to_string(), r#"{"a":[1,"x\"y",{"b":null}],"c":Name}"#);
    }

    #[test]
    fn display_round_trips() {
        for src in [
            "a or b and c",
            "(a or b) and c",
            "a sub (b sub c)",
            "not (a eq b)",
            "-(a add b) mul c",
            "Name in ('a','b') and not contains(Name,'x')",
            "Orders/any(o:o/Total gt 5.50) or $it/Tags/$count eq 0",
            "UpdatedOn gt 2018-01-26T18:15:00+01:00",
            "d eq 2012-09-03 or t eq 13:52:00.25 or g eq 01234567-89ab-cdef-0123-456789abcdef",
            "x eq duration'P1DT2H' and b eq binary'Zm9v' and n eq null and f eq 1.5e3",
            "$root/People('x')/Friends(2)/Name eq @p",
            "- - a",
            "a sub -1",
            "cast(X,Edm.Int32) eq 1 and isof(Model.T)",
        ] {
            let t1 = p(src);
            let text = t1.to_string();
            let t2 = p(&text);
            assert_eq!(t1, t2, "{src} -> {text}");
        }
    }

    #[test]
    fn spans_point_into_the_text() {
        let e = p("Name eq 'x'");
        assert_eq!((e.span.start, e.span.end), (0, 11));
        let ExprKind::Binary(b) = e.kind else {
            panic!()
        };
        assert_eq!((b.right.span.start, b.right.span.end), (8, 11));
    }

    #[test]
    fn errors_carry_position_and_expectation() {
        let e = err("Name eq");
        assert!(e.offset() >= 4, "{e}");
        let e = err("Name eq 'x' and");
        assert!(e.to_string().contains("expected"), "{e}");
        assert_eq!(err("(a").offset(), 2);
    }

    #[test]
    fn depth_bombs_are_errors_not_overflows() {
        let limits = Limits::default();
        for bomb in [
            "(".repeat(10_000) + "a" + &")".repeat(10_000),
            "not ".repeat(10_000) + "a",
            "-".repeat(10_000) + "a",
            "[".repeat(10_000),
            "contains(".repeat(10_000),
            "A/any(x:".repeat(10_000),
            "cast(".repeat(10_000),
        ] {
            let e = parse_expression(
                &bomb,
                &Limits {
                    max_url_length: 1 << 20,
                    ..limits
                },
            )
            .expect_err("bomb");
            assert!(matches!(e, ParseError::TooDeep { .. }), "{e}");
        }
    }

    #[test]
    fn long_flat_chains_are_bounded_and_safe() {
        // 300 clauses, as Power Query writes for a list filter: fine.
        let chain: Vec<String> = (0..300).map(|i| format!("Id eq {i}")).collect();
        let e = p(&chain.join(" or "));
        assert_eq!(p(&e.to_string()), e);
        // an absurdly long chain hits a limit instead of building a tree too
        // tall to drop or print
        let chain: Vec<String> = (0..5000).map(|i| format!("Id eq {i}")).collect();
        let r = parse_expression(
            &chain.join(" or "),
            &Limits {
                max_url_length: 1 << 20,
                ..Limits::default()
            },
        );
        assert!(matches!(
            r,
            Err(ParseError::TooDeep { .. } | ParseError::TooManyNodes { .. })
        ));
    }
}
