//! Translation of bound `$filter` expressions into ZeyOS filters.
//!
//! ZeyOS evaluates filters with SQL's three-valued logic; OData 4.01 does
//! not (null-safe `eq`/`ne`, ordering comparisons false on null). So every
//! Boolean expression `E` is translated twice: `T(E)`, a ZeyOS filter that
//! holds exactly on the rows where `E` is true, and `F(E)`, one that holds
//! exactly where `E` is false. `not E` is then `F(E)`, never SQL's `NOT`,
//! and rows where `E` is null fall out of both, as OData requires. A
//! translation that cannot be exact is not made; a conjunct without an
//! exact translation may still be narrowed by an over-broad one (`S(E)`)
//! while the gateway keeps the exact check, as DataFusion's `Inexact`.

use serde_json::Value as Json;

use super::casefold::{CaseFold, MatchKind};
use crate::bind::expr::{BoundExpr, CmpOp, Func, PathRoot, PropertyPath};
use crate::edm::{Conversion, EdmType, ServiceModel};
use crate::exec::eval::Evaluator;
use crate::upstream::{escape_like, Filter, Op};
use crate::values::{civil, Value};

const DAY: i64 = civil::SECONDS_PER_DAY;

/// How much of a conjunct ZeyOS can evaluate.
#[derive(Debug, Clone, PartialEq)]
pub enum Pushdown {
    /// The filter holds on exactly the rows where the conjunct is true.
    Exact(Filter),
    /// The filter holds on every row where the conjunct is true, and maybe
    /// more: the gateway must still check the conjunct.
    Inexact(Filter),
    /// Nothing useful can be pushed.
    Unsupported,
}

/// What the upstream can do, as far as filter translation is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FilterCapabilities {
    /// String `<`/`>` compare code points, as the evaluator does.
    pub binary_string_order: bool,
}

impl Default for FilterCapabilities {
    fn default() -> Self {
        FilterCapabilities {
            binary_string_order: true,
        }
    }
}

/// Translates bound expressions of one service into ZeyOS filters.
pub struct Translator<'m> {
    model: &'m ServiceModel,
    caps: FilterCapabilities,
}

/// A property operand that ZeyOS can address directly.
struct Column<'a> {
    field: &'a str,
    ty: &'a EdmType,
    conversion: Conversion,
}

impl<'m> Translator<'m> {
    /// A translator for a service's model.
    pub fn new(model: &'m ServiceModel, caps: FilterCapabilities) -> Self {
        Translator { model, caps }
    }

    /// Classifies one conjunct of a `$filter`.
    pub fn classify(&self, conjunct: &BoundExpr) -> Pushdown {
        if let Some(t) = self.t(conjunct) {
            return Pushdown::Exact(t);
        }
        match self.superset(conjunct) {
            Some(s) => Pushdown::Inexact(s),
            None => Pushdown::Unsupported,
        }
    }

    /// `T(E)`: holds exactly where `E` is true.
    pub fn t(&self, e: &BoundExpr) -> Option<Filter> {
        self.holds(e, true)
    }

    /// `F(E)`: holds exactly where `E` is false.
    pub fn f(&self, e: &BoundExpr) -> Option<Filter> {
        self.holds(e, false)
    }

    /// `T(E)` for `want` true, `F(E)` for false: the two are duals, `not`
    /// swaps them and De Morgan swaps `and` and `or` in `F`.
    fn holds(&self, e: &BoundExpr, want: bool) -> Option<Filter> {
        if let Some(c) = self.constant(e) {
            return Some(if c == Value::Bool(want) {
                always()
            } else {
                Filter::never()
            });
        }
        let both =
            |a: &BoundExpr, b: &BoundExpr| Some(vec![self.holds(a, want)?, self.holds(b, want)?]);
        match e {
            BoundExpr::Not(a) => self.holds(a, !want),
            BoundExpr::And(a, b) if want => Some(Filter::and(both(a, b)?)),
            BoundExpr::And(a, b) => Some(Filter::or(both(a, b)?)),
            BoundExpr::Or(a, b) if want => Some(Filter::or(both(a, b)?)),
            BoundExpr::Or(a, b) => Some(Filter::and(both(a, b)?)),
            BoundExpr::Property(p) => self.boolean_column(p, want),
            BoundExpr::Compare(op, a, b) => self.compare(*op, a, b, want),
            BoundExpr::In(a, list) => self.in_list(a, list, want),
            BoundExpr::Has(a, b) => self.has(a, b, want),
            BoundExpr::Call(func, args) => self.predicate_call(*func, args, want),
            _ => None,
        }
    }

    /// `N(E)`: holds exactly where the Boolean `E` is null, for the shapes
    /// where that is simple (a flag property, a string predicate).
    fn n(&self, e: &BoundExpr) -> Option<Filter> {
        if self.constant(e).is_some() {
            return Some(Filter::never());
        }
        match e {
            BoundExpr::Not(a) => self.n(a),
            BoundExpr::Compare(..) | BoundExpr::In(..) => Some(Filter::never()),
            BoundExpr::Has(a, b) => match (a.as_ref(), self.literal(b)?) {
                (_, Value::Null) => Some(always()),
                (BoundExpr::Property(p), _) => Some(Filter::is_null(self.column(p)?.field)),
                _ => None,
            },
            BoundExpr::Property(p) => Some(Filter::is_null(self.column(p)?.field)),
            BoundExpr::Call(Func::Contains | Func::StartsWith | Func::EndsWith, args) => {
                let (col, _) = self.string_operand(args.first()?)?;
                if self.literal(args.get(1)?)?.is_null() {
                    return Some(always());
                }
                Some(Filter::is_null(col.field))
            }
            _ => None,
        }
    }

    /// Holds exactly where `E` is false or null ("not true"), e.g. the
    /// children that make `all(...)` false.
    pub fn not_true(&self, e: &BoundExpr) -> Option<Filter> {
        match e {
            BoundExpr::And(a, b) => Some(Filter::or(vec![self.not_true(a)?, self.not_true(b)?])),
            BoundExpr::Or(a, b) => Some(Filter::and(vec![self.not_true(a)?, self.not_true(b)?])),
            BoundExpr::Not(a) => self.not_false(a),
            atom => Some(Filter::or(vec![self.f(atom)?, self.n(atom)?])),
        }
    }

    /// Holds exactly where `E` is true or null ("not false").
    pub fn not_false(&self, e: &BoundExpr) -> Option<Filter> {
        match e {
            BoundExpr::And(a, b) => Some(Filter::and(vec![self.not_false(a)?, self.not_false(b)?])),
            BoundExpr::Or(a, b) => Some(Filter::or(vec![self.not_false(a)?, self.not_false(b)?])),
            BoundExpr::Not(a) => self.not_true(a),
            atom => Some(Filter::or(vec![self.t(atom)?, self.n(atom)?])),
        }
    }

    /// `S(E)`: holds wherever `E` is true (maybe more); `None` when no
    /// restriction can be derived.
    fn superset(&self, e: &BoundExpr) -> Option<Filter> {
        if let Some(t) = self.t(e) {
            return Some(t);
        }
        match e {
            BoundExpr::And(a, b) => match (self.superset(a), self.superset(b)) {
                (Some(x), Some(y)) => Some(Filter::and(vec![x, y])),
                (Some(x), None) | (None, Some(x)) => Some(x),
                (None, None) => None,
            },
            BoundExpr::Or(a, b) => Some(Filter::or(vec![self.superset(a)?, self.superset(b)?])),
            BoundExpr::Not(a) => self.f(a),
            other => self.case_folded_superset(other),
        }
    }

    /// Evaluates expressions that read no row (`1 eq 1`, `'a' lt 'b'`).
    fn constant(&self, e: &BoundExpr) -> Option<Value> {
        let mut reads_row = false;
        e.visit(&mut |n| {
            reads_row |= matches!(
                n,
                BoundExpr::Property(_)
                    | BoundExpr::Lambda(_)
                    | BoundExpr::ItemsLambda(_)
                    | BoundExpr::ItemProperty(_)
                    | BoundExpr::Dynamic(_)
                    | BoundExpr::Call(Func::Now, _)
            )
        });
        if reads_row {
            return None;
        }
        // The expression reads no `now()` (above), so any instant serves;
        // a fixed one spares planning a clock read.
        let any_instant = crate::values::DateTime {
            unix: 0,
            nanos: 0,
            offset_minutes: 0,
        };
        let v = Evaluator::new(self.model, any_instant)
            .value(e, &serde_json::Map::new())
            .ok()?;
        matches!(v, Value::Bool(_) | Value::Null).then_some(v)
    }

    fn column<'p>(&'p self, p: &'p PropertyPath) -> Option<Column<'p>> {
        // ZeyOS joins one level (`contact.city`) and nothing under lambdas.
        if p.root != PathRoot::It || p.navigation.len() > 1 {
            return None;
        }
        let prop = self.model.entity_type(p.owner).properties.get(p.property)?;
        if !prop.filterable || prop.conversion == Conversion::Json {
            return None;
        }
        Some(Column {
            field: &p.upstream,
            ty: &prop.ty,
            conversion: prop.conversion,
        })
    }

    fn literal<'e>(&self, e: &'e BoundExpr) -> Option<&'e Value> {
        match e {
            BoundExpr::Literal(v, _) => Some(v),
            _ => None,
        }
    }

    /// A bare Boolean property used as a predicate.
    fn boolean_column(&self, p: &PropertyPath, truth: bool) -> Option<Filter> {
        let col = self.column(p)?;
        match (col.conversion, col.ty) {
            (Conversion::Flag, _) => Some(if truth {
                Filter::cond(col.field, Op::Ne, 0)
            } else {
                Filter::cond(col.field, Op::Eq, 0)
            }),
            (Conversion::Plain, EdmType::Boolean) => {
                Some(Filter::cond(col.field, Op::Eq, Json::Bool(truth)))
            }
            _ => None,
        }
    }

    fn compare(&self, op: CmpOp, a: &BoundExpr, b: &BoundExpr, truth: bool) -> Option<Filter> {
        // Normalise to `operand op literal`.
        let (op, operand, lit) = match (self.literal(a), self.literal(b)) {
            (None, Some(l)) => (op, a, l),
            (Some(l), None) => (op.swapped(), b, l),
            _ => return None,
        };
        // Boolean expressions compared with true/false.
        if let Value::Bool(want) = lit {
            if !matches!(operand, BoundExpr::Property(_)) {
                return self.compare_boolean(op, operand, *want, truth);
            }
        }
        match operand {
            BoundExpr::Property(p) => {
                let col = self.column(p)?;
                self.compare_column(&col, op, lit, truth)
            }
            BoundExpr::Call(Func::ToLower | Func::ToUpper, _) => {
                self.compare_case_folded(operand, op, lit, truth)
            }
            BoundExpr::Call(Func::Year, args) => self.compare_year(args, op, lit, truth),
            BoundExpr::Call(Func::Date, args) => self.compare_date_of(args, op, lit, truth),
            _ => None,
        }
    }

    /// `B eq true`, `B ne false`... for a Boolean expression `B`.
    fn compare_boolean(
        &self,
        op: CmpOp,
        operand: &BoundExpr,
        want: bool,
        truth: bool,
    ) -> Option<Filter> {
        let positive = match op {
            CmpOp::Eq => want,
            CmpOp::Ne => !want,
            _ => return None,
        };
        // `B eq true` is true where B is true, false where B is false or null.
        let holds = if positive {
            self.t(operand)?
        } else {
            self.f(operand)?
        };
        let fails_on = if positive {
            self.f(operand)?
        } else {
            self.t(operand)?
        };
        let eq_like = op == CmpOp::Eq;
        Some(match (truth, eq_like) {
            (true, true) => holds,
            (false, true) => Filter::or(vec![fails_on, self.n(operand)?]),
            (true, false) => Filter::or(vec![holds, self.n(operand)?]),
            (false, false) => fails_on,
        })
    }

    /// `property op literal` with OData null semantics.
    fn compare_column(&self, col: &Column, op: CmpOp, lit: &Value, truth: bool) -> Option<Filter> {
        let field = col.field;
        if lit.is_null() {
            return Some(match (op, truth) {
                (CmpOp::Eq, true) | (CmpOp::Ne, false) => Filter::is_null(field),
                (CmpOp::Ne, true) | (CmpOp::Eq, false) => Filter::is_not_null(field),
                // Ordering against null is false for every row.
                (_, true) => Filter::never(),
                (_, false) => always(),
            });
        }
        if matches!(lit, Value::String(_))
            && !matches!(op, CmpOp::Eq | CmpOp::Ne)
            && !self.caps.binary_string_order
        {
            return None;
        }
        let bounds = self.bounds(col, lit)?;
        // `when_true` holds exactly where the non-null comparison is true;
        // negating it (on non-null rows) gives the false side, to which
        // null rows are added where OData says false.
        let (positive, negative) = bounds.filters(op);
        let null_is_true = op == CmpOp::Ne;
        Some(if truth {
            if null_is_true {
                Filter::or(vec![positive, Filter::is_null(field)])
            } else {
                positive
            }
        } else if null_is_true {
            negative
        } else {
            Filter::or(vec![negative, Filter::is_null(field)])
        })
    }

    /// The row values a literal corresponds to, as a half-open interval or
    /// a single value in ZeyOS terms.
    fn bounds(&self, col: &Column, lit: &Value) -> Option<Bounds> {
        let field = col.field.to_string();
        match col.conversion {
            Conversion::Plain => {
                if let (EdmType::Decimal | EdmType::Int32 | EdmType::Int64, Value::Decimal(d)) =
                    (col.ty, lit)
                {
                    let (nearest, literal_vs_nearest) = nearest_double(d)?;
                    if literal_vs_nearest != std::cmp::Ordering::Equal {
                        return Some(Bounds::NearDouble {
                            field,
                            nearest,
                            literal_below: literal_vs_nearest == std::cmp::Ordering::Less,
                        });
                    }
                }
                let v = plain_json(col.ty, lit)?;
                Some(Bounds::Point { field, value: v })
            }
            Conversion::EnumValue => match lit {
                Value::Enum(_, n) | Value::Int(n) => Some(Bounds::Point {
                    field,
                    value: Json::from(*n),
                }),
                _ => None,
            },
            Conversion::Flag => match lit {
                // Stored 0/1; the model reads any non-zero as true.
                Value::Bool(b) => Some(Bounds::Flag { field, value: *b }),
                _ => None,
            },
            Conversion::UnixTime => match lit {
                Value::DateTimeOffset(t) => Some(Bounds::Instant {
                    field,
                    seconds: t.unix,
                    fraction: t.nanos > 0,
                }),
                // A date compares as its midnight UTC.
                Value::Date(d) => Some(Bounds::Instant {
                    field,
                    seconds: d.checked_mul(DAY)?,
                    fraction: false,
                }),
                _ => None,
            },
            Conversion::UnixDate => match lit {
                Value::Date(d) => Some(Bounds::Days {
                    field,
                    first: *d,
                    last: *d,
                }),
                // Comparing a date with an instant compares the date's
                // midnight; restate it on whole days.
                Value::DateTimeOffset(t) => Some(Bounds::DaysVsInstant {
                    field,
                    seconds: t.unix,
                    fraction: t.nanos > 0,
                }),
                _ => None,
            },
            Conversion::Json => None,
        }
    }

    fn in_list(&self, a: &BoundExpr, list: &[BoundExpr], truth: bool) -> Option<Filter> {
        let BoundExpr::Property(p) = a else {
            return None;
        };
        let col = self.column(p)?;
        let mut values = Vec::new();
        let mut has_null = false;
        for item in list {
            match self.literal(item)? {
                Value::Null => has_null = true,
                v => values.push(v),
            }
        }
        let direct: Option<Vec<Json>> = match col.conversion {
            Conversion::Plain => values.iter().map(|v| plain_json(col.ty, v)).collect(),
            Conversion::EnumValue => values
                .iter()
                .map(|v| match v {
                    Value::Enum(_, n) | Value::Int(n) => Some(Json::from(*n)),
                    _ => None,
                })
                .collect(),
            _ => None,
        };
        let field = col.field;
        match direct {
            // `x in (a, b)` is `x eq a or x eq b`: never null.
            Some(values) if !values.is_empty() => Some(match (truth, has_null) {
                (true, false) => Filter::cond(field, Op::In, Json::Array(values)),
                (true, true) => Filter::or(vec![
                    Filter::cond(field, Op::In, Json::Array(values)),
                    Filter::is_null(field),
                ]),
                (false, false) => Filter::or(vec![
                    Filter::cond(field, Op::NotIn, Json::Array(values)),
                    Filter::is_null(field),
                ]),
                // SQL's NOT IN already excludes the null rows, which are true.
                (false, true) => Filter::cond(field, Op::NotIn, Json::Array(values)),
            }),
            _ => {
                let parts: Option<Vec<Filter>> = list
                    .iter()
                    .map(|item| self.compare(CmpOp::Eq, a, item, truth))
                    .collect();
                let parts = parts?;
                Some(if truth {
                    Filter::or(parts)
                } else {
                    Filter::and(parts)
                })
            }
        }
    }

    /// `property has member`. The model's enums are not flags, so a value
    /// has a member exactly when it is that member; unlike `eq`, a null on
    /// either side makes the result null, neither true nor false, which is
    /// what SQL's `=` and `!=` do with a null column.
    fn has(&self, a: &BoundExpr, b: &BoundExpr, truth: bool) -> Option<Filter> {
        let BoundExpr::Property(p) = a else {
            return None;
        };
        let lit = self.literal(b)?;
        if lit.is_null() {
            return Some(Filter::never());
        }
        let col = self.column(p)?;
        let (positive, negative) = self.bounds(&col, lit)?.filters(CmpOp::Eq);
        Some(if truth { positive } else { negative })
    }

    /// `contains`/`startswith`/`endswith` as LIKE, also over `tolower`/
    /// `toupper` as ILIKE.
    fn predicate_call(&self, func: Func, args: &[BoundExpr], truth: bool) -> Option<Filter> {
        let (prefix, suffix) = match func {
            Func::Contains => ("%", "%"),
            Func::StartsWith => ("", "%"),
            Func::EndsWith => ("%", ""),
            _ => return None,
        };
        let (col, fold) = self.string_operand(args.first()?)?;
        let needle = match self.literal(args.get(1)?)? {
            Value::String(s) => s,
            // A null argument makes the result null: neither true nor false.
            Value::Null => return Some(Filter::never()),
            _ => return None,
        };
        let pattern = format!("{prefix}{}{suffix}", escape_like(needle));
        let (pos, neg) = match fold {
            None => (Op::Like, Op::NotLike),
            Some(case) if case.exact(needle, MatchKind::Part) => (Op::ILike, Op::NotILike),
            Some(_) => return None,
        };
        Some(Filter::cond(
            col.field,
            if truth { pos } else { neg },
            pattern,
        ))
    }

    /// An over-broad ILIKE for case-insensitive predicates that are not
    /// exact: every row the predicate holds on matches it.
    fn case_folded_superset(&self, e: &BoundExpr) -> Option<Filter> {
        let (operand, text, prefix, suffix) = match e {
            BoundExpr::Call(func, args) => {
                let (prefix, suffix) = match func {
                    Func::Contains => ("%", "%"),
                    Func::StartsWith => ("", "%"),
                    Func::EndsWith => ("%", ""),
                    _ => return None,
                };
                match self.literal(args.get(1)?)? {
                    Value::String(s) => (args.first()?, s, prefix, suffix),
                    _ => return None,
                }
            }
            BoundExpr::Compare(CmpOp::Eq, a, b) => match (self.literal(a), self.literal(b)) {
                (None, Some(Value::String(s))) => (a.as_ref(), s, "", ""),
                (Some(Value::String(s)), None) => (b.as_ref(), s, "", ""),
                _ => return None,
            },
            _ => return None,
        };
        let (col, fold) = self.string_operand(operand)?;
        let kind = if prefix.is_empty() && suffix.is_empty() {
            MatchKind::Whole
        } else {
            MatchKind::Part
        };
        if !fold?.superset(text, kind) {
            return None;
        }
        let pattern = format!("{prefix}{}{suffix}", escape_like(text));
        Some(Filter::cond(col.field, Op::ILike, pattern))
    }

    /// The string column under an optional `tolower`/`toupper`.
    fn string_operand<'e>(&'e self, e: &'e BoundExpr) -> Option<(Column<'e>, Option<CaseFold>)> {
        let (inner, fold) = match e {
            BoundExpr::Call(Func::ToLower, a) => (a.first()?, Some(CaseFold::Lower)),
            BoundExpr::Call(Func::ToUpper, a) => (a.first()?, Some(CaseFold::Upper)),
            other => (other, None),
        };
        let BoundExpr::Property(p) = inner else {
            return None;
        };
        let col = self.column(p)?;
        (col.ty == &EdmType::String && col.conversion == Conversion::Plain).then_some((col, fold))
    }

    /// `tolower(P) eq 'abc'` as `P ILIKE 'abc'` (no wildcards).
    fn compare_case_folded(
        &self,
        operand: &BoundExpr,
        op: CmpOp,
        lit: &Value,
        truth: bool,
    ) -> Option<Filter> {
        let (col, fold) = self.string_operand(operand)?;
        let fold = fold?;
        let field = col.field;
        let text = match lit {
            Value::String(s) => s,
            Value::Null => {
                return Some(match (op, truth) {
                    (CmpOp::Eq, true) | (CmpOp::Ne, false) => Filter::is_null(field),
                    (CmpOp::Ne, true) | (CmpOp::Eq, false) => Filter::is_not_null(field),
                    _ => return None,
                })
            }
            _ => return None,
        };
        if !fold.exact(text, MatchKind::Whole) {
            return None;
        }
        let like = || Filter::cond(field, Op::ILike, escape_like(text));
        let unlike = || Filter::cond(field, Op::NotILike, escape_like(text));
        match (op, truth) {
            (CmpOp::Eq, true) | (CmpOp::Ne, false) => Some(like()),
            (CmpOp::Eq, false) | (CmpOp::Ne, true) => {
                Some(Filter::or(vec![unlike(), Filter::is_null(field)]))
            }
            _ => None,
        }
    }

    /// The column of a date part function's argument (`year(P)`,
    /// `date(P)`), when it is a property ZeyOS stores as Unix seconds or
    /// days, so that the part can become a range of stored values.
    fn time_stamp_column<'e>(&'e self, args: &'e [BoundExpr]) -> Option<Column<'e>> {
        let BoundExpr::Property(p) = args.first()? else {
            return None;
        };
        let col = self.column(p)?;
        matches!(col.conversion, Conversion::UnixTime | Conversion::UnixDate).then_some(col)
    }

    /// `year(P) op Y` as a range of time stamps (UTC, as ZeyOS stores them).
    fn compare_year(
        &self,
        args: &[BoundExpr],
        op: CmpOp,
        lit: &Value,
        truth: bool,
    ) -> Option<Filter> {
        let col = self.time_stamp_column(args)?;
        let year = match lit {
            Value::Int(y) => *y,
            Value::Null => return self.compare_column(&col, op, lit, truth),
            _ => return None,
        };
        if !(-100_000..=100_000).contains(&year) {
            return None;
        }
        let first = civil::days_from_civil(year, 1, 1);
        let last = civil::days_from_civil(year + 1, 1, 1) - 1;
        let bounds = Bounds::Days {
            field: col.field.to_string(),
            first,
            last,
        };
        Some(self.apply_bounds(col.field, bounds, op, truth))
    }

    /// `date(P) op D` for a time stamp property.
    fn compare_date_of(
        &self,
        args: &[BoundExpr],
        op: CmpOp,
        lit: &Value,
        truth: bool,
    ) -> Option<Filter> {
        let col = self.time_stamp_column(args)?;
        match lit {
            Value::Date(d) => {
                let bounds = Bounds::Days {
                    field: col.field.to_string(),
                    first: *d,
                    last: *d,
                };
                Some(self.apply_bounds(col.field, bounds, op, truth))
            }
            Value::Null => self.compare_column(&col, op, lit, truth),
            _ => None,
        }
    }

    fn apply_bounds(&self, field: &str, bounds: Bounds, op: CmpOp, truth: bool) -> Filter {
        let (positive, negative) = bounds.filters(op);
        let null_is_true = op == CmpOp::Ne;
        match (truth, null_is_true) {
            (true, false) => positive,
            (true, true) => Filter::or(vec![positive, Filter::is_null(field)]),
            (false, true) => negative,
            (false, false) => Filter::or(vec![negative, Filter::is_null(field)]),
        }
    }
}

/// The filter that every row satisfies.
fn always() -> Filter {
    Filter::And(Vec::new())
}

/// The set of row values a comparison with a literal admits, in ZeyOS
/// terms.
enum Bounds {
    /// One stored value.
    Point { field: String, value: Json },
    /// A 0/1 flag.
    Flag { field: String, value: bool },
    /// An instant against Unix seconds (whole seconds stored).
    Instant {
        field: String,
        seconds: i64,
        fraction: bool,
    },
    /// Whole UTC days `first..=last` against Unix seconds.
    Days {
        field: String,
        first: i64,
        last: i64,
    },
    /// A decimal literal with more digits than a double holds, against
    /// stored doubles: no stored value equals it, and the one nearest to it
    /// lies on a known side.
    NearDouble {
        field: String,
        nearest: f64,
        literal_below: bool,
    },
    /// A date property (days) against an instant.
    DaysVsInstant {
        field: String,
        seconds: i64,
        fraction: bool,
    },
}

impl Bounds {
    /// (filter where `value op literal` holds, filter where it fails), both
    /// over non-null rows only.
    fn filters(self, op: CmpOp) -> (Filter, Filter) {
        match self {
            Bounds::Point { field, value } => {
                let positive = Filter::cond(field.clone(), cmp_op(op), value.clone());
                let negative = Filter::cond(field, cmp_op(negate(op)), value);
                (positive, negative)
            }
            Bounds::Flag { field, value } => {
                let is_true = || Filter::cond(field.clone(), Op::Ne, 0);
                let is_false = || Filter::cond(field.clone(), Op::Eq, 0);
                // false < true for ordering comparisons.
                let holds = |stored: bool| match op {
                    CmpOp::Eq => stored == value,
                    CmpOp::Ne => stored != value,
                    CmpOp::Lt => !stored & value,
                    CmpOp::Le => !stored | value,
                    CmpOp::Gt => stored & !value,
                    CmpOp::Ge => stored | !value,
                };
                let pick = |want: bool| match (holds(true) == want, holds(false) == want) {
                    (true, true) => Filter::is_not_null(field.clone()),
                    (true, false) => is_true(),
                    (false, true) => is_false(),
                    (false, false) => Filter::never(),
                };
                (pick(true), pick(false))
            }
            Bounds::Instant {
                field,
                seconds,
                fraction,
            } => {
                if !fraction {
                    let v = Json::from(seconds);
                    return (
                        Filter::cond(field.clone(), cmp_op(op), v.clone()),
                        Filter::cond(field, cmp_op(negate(op)), v),
                    );
                }
                // Stored values are whole seconds: x > s.f ⇔ x > s,
                // x < s.f ⇔ x <= s, and x never equals s.f.
                let (pos, neg) = match op {
                    CmpOp::Gt | CmpOp::Ge => (
                        Filter::cond(field.clone(), Op::Gt, seconds),
                        Filter::cond(field, Op::Le, seconds),
                    ),
                    CmpOp::Lt | CmpOp::Le => (
                        Filter::cond(field.clone(), Op::Le, seconds),
                        Filter::cond(field, Op::Gt, seconds),
                    ),
                    CmpOp::Eq => (Filter::never(), Filter::is_not_null(field)),
                    CmpOp::Ne => (Filter::is_not_null(field), Filter::never()),
                };
                (pos, neg)
            }
            Bounds::Days { field, first, last } => {
                let start = first.saturating_mul(DAY);
                let end = last.saturating_add(1).saturating_mul(DAY);
                let ge_start = || Filter::cond(field.clone(), Op::Ge, start);
                let lt_start = || Filter::cond(field.clone(), Op::Lt, start);
                let lt_end = || Filter::cond(field.clone(), Op::Lt, end);
                let ge_end = || Filter::cond(field.clone(), Op::Ge, end);
                match op {
                    CmpOp::Eq => (
                        Filter::and(vec![ge_start(), lt_end()]),
                        Filter::or(vec![lt_start(), ge_end()]),
                    ),
                    CmpOp::Ne => (
                        Filter::or(vec![lt_start(), ge_end()]),
                        Filter::and(vec![ge_start(), lt_end()]),
                    ),
                    CmpOp::Gt => (ge_end(), lt_end()),
                    CmpOp::Ge => (ge_start(), lt_start()),
                    CmpOp::Lt => (lt_start(), ge_start()),
                    CmpOp::Le => (lt_end(), ge_end()),
                }
            }
            Bounds::NearDouble {
                field,
                nearest,
                literal_below,
            } => {
                // Stored values other than `nearest` compare with the
                // literal as they compare with `nearest`; `nearest` itself
                // is above the literal when `literal_below`.
                let at = |o: Op| Filter::cond(field.clone(), o, nearest);
                match op {
                    CmpOp::Eq => (Filter::never(), Filter::is_not_null(field.clone())),
                    CmpOp::Ne => (Filter::is_not_null(field.clone()), Filter::never()),
                    CmpOp::Gt | CmpOp::Ge if literal_below => (at(Op::Ge), at(Op::Lt)),
                    CmpOp::Gt | CmpOp::Ge => (at(Op::Gt), at(Op::Le)),
                    CmpOp::Lt | CmpOp::Le if literal_below => (at(Op::Lt), at(Op::Ge)),
                    CmpOp::Lt | CmpOp::Le => (at(Op::Le), at(Op::Gt)),
                }
            }
            Bounds::DaysVsInstant {
                field,
                seconds,
                fraction,
            } => {
                // The row's date d compares as d*DAY (its midnight) against
                // the instant t = seconds(.fraction).
                let exact_midnight = !fraction && seconds.rem_euclid(DAY) == 0;
                let floor = seconds.div_euclid(DAY);
                // Smallest day d with d*DAY > t, and with d*DAY >= t.
                let first_after = floor + 1;
                let first_at_or_after = if exact_midnight { floor } else { floor + 1 };
                let days_from = |d: i64| Filter::cond(field.clone(), Op::Ge, d.saturating_mul(DAY));
                let days_before =
                    |d: i64| Filter::cond(field.clone(), Op::Lt, d.saturating_mul(DAY));
                match op {
                    CmpOp::Gt => (days_from(first_after), days_before(first_after)),
                    CmpOp::Ge => (days_from(first_at_or_after), days_before(first_at_or_after)),
                    CmpOp::Lt => (days_before(first_at_or_after), days_from(first_at_or_after)),
                    CmpOp::Le => (days_before(first_after), days_from(first_after)),
                    CmpOp::Eq | CmpOp::Ne => {
                        let on_day = if exact_midnight {
                            Filter::and(vec![days_from(floor), days_before(floor + 1)])
                        } else {
                            Filter::never()
                        };
                        let off_day = if exact_midnight {
                            Filter::or(vec![days_before(floor), days_from(floor + 1)])
                        } else {
                            Filter::is_not_null(field.clone())
                        };
                        if op == CmpOp::Eq {
                            (on_day, off_day)
                        } else {
                            (off_day, on_day)
                        }
                    }
                }
            }
        }
    }
}

fn cmp_op(op: CmpOp) -> Op {
    match op {
        CmpOp::Eq => Op::Eq,
        CmpOp::Ne => Op::Ne,
        CmpOp::Lt => Op::Lt,
        CmpOp::Le => Op::Le,
        CmpOp::Gt => Op::Gt,
        CmpOp::Ge => Op::Ge,
    }
}

/// The complementary comparison on non-null values.
fn negate(op: CmpOp) -> CmpOp {
    match op {
        CmpOp::Eq => CmpOp::Ne,
        CmpOp::Ne => CmpOp::Eq,
        CmpOp::Lt => CmpOp::Ge,
        CmpOp::Le => CmpOp::Gt,
        CmpOp::Gt => CmpOp::Le,
        CmpOp::Ge => CmpOp::Lt,
    }
}

/// A literal as the JSON ZeyOS stores for a plain property.
fn plain_json(ty: &EdmType, v: &Value) -> Option<Json> {
    Some(match (ty, v) {
        (EdmType::String, Value::String(s)) => Json::String(s.clone()),
        (EdmType::Int32 | EdmType::Int64, Value::Int(i)) => Json::from(*i),
        (EdmType::Decimal | EdmType::Double, Value::Int(i)) => Json::from(*i),
        (EdmType::Double, Value::Decimal(d)) => {
            use rust_decimal::prelude::ToPrimitive;
            // Compared as doubles (numeric promotion).
            serde_json::Number::from_f64(d.to_f64()?).map(Json::Number)?
        }
        (EdmType::Decimal | EdmType::Int32 | EdmType::Int64, Value::Decimal(d)) => {
            // ZeyOS stores doubles, read back as their shortest decimal: a
            // literal that is not one of those equals no stored value.
            let (nearest, vs) = nearest_double(d)?;
            if vs != std::cmp::Ordering::Equal {
                return None;
            }
            serde_json::Number::from_f64(nearest).map(Json::Number)?
        }
        (
            EdmType::Decimal | EdmType::Double | EdmType::Int32 | EdmType::Int64,
            Value::Double(f),
        ) => serde_json::Number::from_f64(*f).map(Json::Number)?,
        (EdmType::Boolean, Value::Bool(b)) => Json::Bool(*b),
        _ => return None,
    })
}

/// The double nearest to a decimal literal, and how the literal compares
/// with that double's shortest decimal form (the value the gateway reads
/// back from ZeyOS's JSON).
fn nearest_double(d: &rust_decimal::Decimal) -> Option<(f64, std::cmp::Ordering)> {
    // Parsing the text rounds correctly (a conversion through the
    // mantissa may be an ulp off).
    let nearest = d
        .to_string()
        .parse::<f64>()
        .ok()
        .filter(|f| f.is_finite())?;
    let shortest: rust_decimal::Decimal = format!("{nearest}").parse().ok()?;
    Some((nearest, d.cmp(&shortest)))
}
