//! Bound expressions: `$filter` and `$orderby` expressions with every name
//! resolved against the model and every node typed.
//!
//! The planner translates them into ZeyOS filters where it can, and the
//! residual evaluator (`exec::eval`) evaluates them in the gateway where it
//! cannot; both read this one representation, so a query means the same
//! thing whichever side answers it.

use std::fmt;

use crate::edm::{EdmType, EntityTypeId};
use crate::values::Value;

/// Comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CmpOp {
    /// `eq`
    Eq,
    /// `ne`
    Ne,
    /// `lt`
    Lt,
    /// `le`
    Le,
    /// `gt`
    Gt,
    /// `ge`
    Ge,
}

impl CmpOp {
    /// The operator with its operands swapped (`a lt b` ⇔ `b gt a`).
    pub fn swapped(self) -> CmpOp {
        match self {
            CmpOp::Lt => CmpOp::Gt,
            CmpOp::Le => CmpOp::Ge,
            CmpOp::Gt => CmpOp::Lt,
            CmpOp::Ge => CmpOp::Le,
            other => other,
        }
    }

    /// The OData keyword.
    pub fn as_str(self) -> &'static str {
        match self {
            CmpOp::Eq => "eq",
            CmpOp::Ne => "ne",
            CmpOp::Lt => "lt",
            CmpOp::Le => "le",
            CmpOp::Gt => "gt",
            CmpOp::Ge => "ge",
        }
    }
}

/// Arithmetic operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ArithOp {
    /// `add`
    Add,
    /// `sub`
    Sub,
    /// `mul`
    Mul,
    /// `div`
    Div,
    /// `divby`
    DivBy,
    /// `mod`
    Mod,
}

/// Canonical functions the gateway evaluates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Func {
    /// `contains(s, t)`
    Contains,
    /// `startswith(s, t)`
    StartsWith,
    /// `endswith(s, t)`
    EndsWith,
    /// `length(s)`
    Length,
    /// `indexof(s, t)`
    IndexOf,
    /// `substring(s, i[, n])`
    Substring,
    /// `tolower(s)`
    ToLower,
    /// `toupper(s)`
    ToUpper,
    /// `trim(s)`
    Trim,
    /// `concat(a, b)`
    Concat,
    /// `matchesPattern(s, re)`
    MatchesPattern,
    /// `year(d)`
    Year,
    /// `month(d)`
    Month,
    /// `day(d)`
    Day,
    /// `hour(t)`
    Hour,
    /// `minute(t)`
    Minute,
    /// `second(t)`
    Second,
    /// `fractionalseconds(t)`
    FractionalSeconds,
    /// `date(t)`
    Date,
    /// `time(t)`
    Time,
    /// `totaloffsetminutes(t)`
    TotalOffsetMinutes,
    /// `totalseconds(duration)`
    TotalSeconds,
    /// `now()`
    Now,
    /// `mindatetime()`
    MinDateTime,
    /// `maxdatetime()`
    MaxDateTime,
    /// `round(n)`
    Round,
    /// `floor(n)`
    Floor,
    /// `ceiling(n)`
    Ceiling,
}

/// Where a property path starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PathRoot {
    /// The entity being filtered (`$it`).
    It,
    /// The lambda range variable at this nesting depth (0 = outermost).
    Var(usize),
}

/// One to-one navigation step of a property path.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NavStep {
    /// The navigation property name, e.g. `Contact`.
    pub name: String,
    /// The ZeyOS foreign key field it follows, e.g. `contact`.
    pub field: String,
    /// The target entity type.
    pub target: EntityTypeId,
}

/// A path to a structural property, possibly through to-one navigation.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PropertyPath {
    /// Where it starts.
    pub root: PathRoot,
    /// To-one navigation steps before the property (ZeyOS joins one).
    pub navigation: Vec<NavStep>,
    /// The entity type that owns the property.
    pub owner: EntityTypeId,
    /// Index of the property in the owner's `properties`.
    pub property: usize,
    /// The OData path as written, for messages and `Display`.
    pub text: String,
    /// The ZeyOS field path: `lastname`, or `contact.city` through a join.
    pub upstream: String,
}

/// What an expression over the members of a collection computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quantifier {
    /// `any(...)`: whether some member satisfies the predicate (whether
    /// there is a member at all, without one).
    Any,
    /// `all(...)`: whether every member does.
    All,
    /// `$count` or `$count($filter=...)`: how many members do (all of
    /// them, without a filter), an `Edm.Int64`.
    Count,
}

/// A lambda (`any`/`all`) or a count (`$count`) over a to-many navigation
/// property.
#[derive(Debug, Clone, PartialEq)]
pub struct Lambda {
    /// What it computes.
    pub quantifier: Quantifier,
    /// The collection's source (`$it` or an outer range variable).
    pub root: PathRoot,
    /// The navigation property name, e.g. `Transactions`.
    pub navigation: String,
    /// The child entity type.
    pub target: EntityTypeId,
    /// The ZeyOS field on the child that holds the parent's ID.
    pub child_field: String,
    /// The predicate over the range variable (`PathRoot::Var(depth)`);
    /// `None` for `any()` and `$count` without one.
    pub predicate: Option<Box<BoundExpr>>,
    /// The range variable's depth.
    pub depth: usize,
    /// The OData text, for messages.
    pub text: String,
}

/// A bound, typed expression.
#[derive(Debug, Clone, PartialEq)]
pub enum BoundExpr {
    /// A literal value of a known type (`Null` is typeless).
    Literal(Value, Option<EdmType>),
    /// A property value.
    Property(PropertyPath),
    /// `not`.
    Not(Box<BoundExpr>),
    /// `and`.
    And(Box<BoundExpr>, Box<BoundExpr>),
    /// `or`.
    Or(Box<BoundExpr>, Box<BoundExpr>),
    /// A comparison.
    Compare(CmpOp, Box<BoundExpr>, Box<BoundExpr>),
    /// `x in (a, b, ...)`.
    In(Box<BoundExpr>, Vec<BoundExpr>),
    /// Arithmetic.
    Arith(ArithOp, Box<BoundExpr>, Box<BoundExpr>),
    /// Unary minus.
    Neg(Box<BoundExpr>),
    /// A canonical function call.
    Call(Func, Vec<BoundExpr>),
    /// `any`/`all`/`$count` over related entities.
    Lambda(Lambda),
    /// `x has Flag`: enum flags test.
    Has(Box<BoundExpr>, Box<BoundExpr>),
    /// `any`/`all`/`$count` over a collection of complex values held in
    /// a composite field (transaction line items).
    ItemsLambda(ItemsLambda),
    /// A property of a complex value bound to a range variable
    /// (`i/Amount` inside `Items/any(i: ...)`).
    ItemProperty(ItemProperty),
    /// A dynamic property of an open entity type: a ZeyOS extdata field.
    Dynamic(DynamicProperty),
}

/// `Items/any(i: i/Amount gt 5)` or `Items/$count`: a lambda or count
/// over the complex values of a composite field, evaluated in the gateway.
#[derive(Debug, Clone, PartialEq)]
pub struct ItemsLambda {
    /// What it computes.
    pub quantifier: Quantifier,
    /// The collection-valued property.
    pub collection: PropertyPath,
    /// The complex type of its members.
    pub complex: crate::edm::ComplexTypeId,
    /// The predicate over the range variable.
    pub predicate: Option<Box<BoundExpr>>,
    /// The range variable's depth.
    pub depth: usize,
    /// The OData text, for messages.
    pub text: String,
}

/// A property of the complex value a range variable stands for.
#[derive(Debug, Clone, PartialEq)]
pub struct ItemProperty {
    /// The range variable's depth.
    pub depth: usize,
    /// The complex type.
    pub complex: crate::edm::ComplexTypeId,
    /// Index of the property in the complex type.
    pub property: usize,
    /// The OData path as written.
    pub text: String,
}

/// A dynamic property of an open type, stored as ZeyOS extdata.
#[derive(Debug, Clone, PartialEq)]
pub struct DynamicProperty {
    /// The name as written.
    pub name: String,
    /// The ZeyOS field path, `extdata.<name>`.
    pub upstream: String,
}

/// The static type of a bound expression, as far as the evaluator and
/// planner need it.
#[derive(Debug, Clone, PartialEq)]
pub enum ExprType {
    /// Boolean-valued.
    Boolean,
    /// A value of this EDM type.
    Edm(EdmType),
    /// The `null` literal: compatible with everything.
    Null,
}

impl BoundExpr {
    /// `a and b`.
    pub fn and(a: BoundExpr, b: BoundExpr) -> BoundExpr {
        BoundExpr::And(Box::new(a), Box::new(b))
    }

    /// The conjuncts of a top-level `and` chain.
    pub fn conjuncts(&self) -> Vec<&BoundExpr> {
        let mut out = Vec::new();
        fn walk<'a>(e: &'a BoundExpr, out: &mut Vec<&'a BoundExpr>) {
            match e {
                BoundExpr::And(a, b) => {
                    walk(a, out);
                    walk(b, out);
                }
                other => out.push(other),
            }
        }
        walk(self, &mut out);
        out
    }

    /// Rebuilds an `and` chain from conjuncts; `None` for none.
    pub fn conjunction(parts: Vec<BoundExpr>) -> Option<BoundExpr> {
        parts.into_iter().reduce(BoundExpr::and)
    }

    /// Every property path the expression reads, lambdas included (and
    /// the composite fields lambdas range over).
    pub fn properties(&self) -> Vec<&PropertyPath> {
        let mut out = Vec::new();
        self.visit(&mut |e| match e {
            BoundExpr::Property(p) => out.push(p),
            BoundExpr::ItemsLambda(l) => out.push(&l.collection),
            _ => {}
        });
        out
    }

    /// The ZeyOS fields of the dynamic (extdata) properties it reads.
    pub fn dynamic_fields(&self) -> Vec<&str> {
        let mut out = Vec::new();
        self.visit(&mut |e| {
            if let BoundExpr::Dynamic(d) = e {
                out.push(d.upstream.as_str());
            }
        });
        out
    }

    /// Whether the expression contains a lambda over related entities.
    pub fn has_lambda(&self) -> bool {
        let mut found = false;
        self.visit(&mut |e| found |= matches!(e, BoundExpr::Lambda(_)));
        found
    }

    /// Calls `f` on every node, parents before children.
    pub fn visit<'a>(&'a self, f: &mut dyn FnMut(&'a BoundExpr)) {
        f(self);
        match self {
            BoundExpr::Literal(..)
            | BoundExpr::Property(_)
            | BoundExpr::ItemProperty(_)
            | BoundExpr::Dynamic(_) => {}
            BoundExpr::ItemsLambda(l) => {
                if let Some(p) = &l.predicate {
                    p.visit(f);
                }
            }
            BoundExpr::Not(a) | BoundExpr::Neg(a) => a.visit(f),
            BoundExpr::And(a, b)
            | BoundExpr::Or(a, b)
            | BoundExpr::Compare(_, a, b)
            | BoundExpr::Arith(_, a, b)
            | BoundExpr::Has(a, b) => {
                a.visit(f);
                b.visit(f);
            }
            BoundExpr::In(a, list) => {
                a.visit(f);
                for x in list {
                    x.visit(f);
                }
            }
            BoundExpr::Call(_, args) => {
                for x in args {
                    x.visit(f);
                }
            }
            BoundExpr::Lambda(l) => {
                if let Some(p) = &l.predicate {
                    p.visit(f);
                }
            }
        }
    }
}

impl fmt::Display for BoundExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BoundExpr::Literal(v, _) => write!(f, "{}", crate::values::display(v)),
            BoundExpr::Property(p) => f.write_str(&p.text),
            BoundExpr::Not(a) => write!(f, "not ({a})"),
            BoundExpr::And(a, b) => write!(f, "({a}) and ({b})"),
            BoundExpr::Or(a, b) => write!(f, "({a}) or ({b})"),
            BoundExpr::Compare(op, a, b) => write!(f, "{a} {} {b}", op.as_str()),
            BoundExpr::In(a, list) => {
                write!(f, "{a} in (")?;
                for (i, x) in list.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "{x}")?;
                }
                f.write_str(")")
            }
            BoundExpr::Arith(op, a, b) => {
                let op = match op {
                    ArithOp::Add => "add",
                    ArithOp::Sub => "sub",
                    ArithOp::Mul => "mul",
                    ArithOp::Div => "div",
                    ArithOp::DivBy => "divby",
                    ArithOp::Mod => "mod",
                };
                write!(f, "({a} {op} {b})")
            }
            BoundExpr::Neg(a) => write!(f, "-({a})"),
            BoundExpr::Call(func, args) => {
                write!(f, "{}(", func_name(*func))?;
                for (i, x) in args.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "{x}")?;
                }
                f.write_str(")")
            }
            BoundExpr::Lambda(l) => f.write_str(&l.text),
            BoundExpr::ItemsLambda(l) => f.write_str(&l.text),
            BoundExpr::ItemProperty(p) => f.write_str(&p.text),
            BoundExpr::Dynamic(d) => f.write_str(&d.name),
            BoundExpr::Has(a, b) => write!(f, "{a} has {b}"),
        }
    }
}

/// The OData name of a canonical function.
pub fn func_name(func: Func) -> &'static str {
    match func {
        Func::Contains => "contains",
        Func::StartsWith => "startswith",
        Func::EndsWith => "endswith",
        Func::Length => "length",
        Func::IndexOf => "indexof",
        Func::Substring => "substring",
        Func::ToLower => "tolower",
        Func::ToUpper => "toupper",
        Func::Trim => "trim",
        Func::Concat => "concat",
        Func::MatchesPattern => "matchesPattern",
        Func::Year => "year",
        Func::Month => "month",
        Func::Day => "day",
        Func::Hour => "hour",
        Func::Minute => "minute",
        Func::Second => "second",
        Func::FractionalSeconds => "fractionalseconds",
        Func::Date => "date",
        Func::Time => "time",
        Func::TotalOffsetMinutes => "totaloffsetminutes",
        Func::TotalSeconds => "totalseconds",
        Func::Now => "now",
        Func::MinDateTime => "mindatetime",
        Func::MaxDateTime => "maxdatetime",
        Func::Round => "round",
        Func::Floor => "floor",
        Func::Ceiling => "ceiling",
    }
}
