//! The residual evaluator: OData expression semantics over rows in the
//! gateway.
//!
//! This is the definition of what a `$filter` means. Whatever the planner
//! cannot hand to ZeyOS exactly is evaluated here, and the end-to-end tests
//! use the same semantics (OData 4.01 Part 2, 5.1.1) as their oracle:
//! null-safe `eq`/`ne`, ordering operators false on null, functions null on
//! a null argument, three-valued `and`/`or`/`not`.
//!
//! Rows are ZeyOS rows keyed by field path (`lastname`, `contact.city`);
//! the children of a to-many navigation, when a lambda needs them, travel
//! on the row under [`children_key`].

use std::cmp::Ordering;

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use serde_json::Value as Json;

use crate::bind::expr::{
    ArithOp, BoundExpr, CmpOp, Func, Lambda, PathRoot, PropertyPath, Quantifier,
};
use crate::edm::ServiceModel;
use crate::upstream::{FieldRef, Fields};
use crate::values::{civil, composite, from_upstream, DateTime, Number, Value};

/// The key under which fetched children of a navigation property are kept
/// on a row map (they travel with the row through the pipeline).
pub fn children_key(navigation: &str) -> String {
    format!("@children:{navigation}")
}

/// Why an expression could not be evaluated on a row.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EvalError {
    /// Integer or decimal division by zero.
    #[error("division by zero in `{0}`")]
    DivisionByZero(String),
    /// A result that does not fit its type.
    #[error("arithmetic overflow in `{0}`")]
    Overflow(String),
    /// An upstream value that does not fit the model.
    #[error("{0}")]
    BadValue(String),
    /// Operands the binder should have rejected.
    #[error("cannot evaluate `{0}` on these operand types")]
    Type(String),
    /// A lambda whose children were not fetched.
    #[error("the related rows of `{0}` were not fetched")]
    MissingChildren(String),
    /// `matchesPattern` with a pattern the regex engine rejects.
    #[error("invalid pattern in `{0}`: {1}")]
    Pattern(String, String),
    /// `substring` with a negative length.
    #[error("negative length in `{0}`")]
    NegativeLength(String),
}

/// Evaluates expressions for one request.
pub struct Evaluator<'m> {
    model: &'m ServiceModel,
    now: DateTime,
}

/// Lambda range variables in scope, innermost last.
type Vars<'r> = Vec<&'r dyn Fields>;

impl<'m> Evaluator<'m> {
    /// An evaluator whose `now()` is `now`: the request's start time, the
    /// same for every row and page of the request.
    pub fn new(model: &'m ServiceModel, now: DateTime) -> Self {
        Evaluator { model, now }
    }

    /// Whether the row satisfies a Boolean expression (null and false both
    /// exclude it, as OData specifies for `$filter`).
    pub fn matches(&self, expr: &BoundExpr, row: &dyn Fields) -> Result<bool, EvalError> {
        Ok(self.eval(expr, row, &mut Vec::new())? == Value::Bool(true))
    }

    /// The value of an expression on a row.
    pub fn value(&self, expr: &BoundExpr, row: &dyn Fields) -> Result<Value, EvalError> {
        self.eval(expr, row, &mut Vec::new())
    }

    /// Whether an item of a collection of complex values satisfies an
    /// expression bound with the item as `$it` (range variable 0).
    pub fn item_matches(&self, expr: &BoundExpr, item: &dyn Fields) -> Result<bool, EvalError> {
        Ok(self.eval(expr, item, &mut vec![item])? == Value::Bool(true))
    }

    /// The value of an expression on such an item.
    pub fn item_value(&self, expr: &BoundExpr, item: &dyn Fields) -> Result<Value, EvalError> {
        self.eval(expr, item, &mut vec![item])
    }

    fn eval<'r>(
        &self,
        expr: &BoundExpr,
        it: &'r dyn Fields,
        vars: &mut Vars<'r>,
    ) -> Result<Value, EvalError> {
        Ok(match expr {
            BoundExpr::Literal(v, _) => v.clone(),
            BoundExpr::Property(p) => self.property(p, it, vars)?,
            BoundExpr::Not(a) => match self.eval(a, it, vars)? {
                Value::Bool(b) => Value::Bool(!b),
                Value::Null => Value::Null,
                _ => return Err(EvalError::Type(expr.to_string())),
            },
            // Three-valued logic: `false` decides `and`, `true` decides
            // `or`, whichever side it is on; otherwise null wins.
            BoundExpr::And(a, b) => self.connective(a, b, false, expr, it, vars)?,
            BoundExpr::Or(a, b) => self.connective(a, b, true, expr, it, vars)?,
            BoundExpr::Compare(op, a, b) => {
                let a = self.eval(a, it, vars)?;
                let b = self.eval(b, it, vars)?;
                Value::Bool(compare(*op, &a, &b, expr)?)
            }
            BoundExpr::In(a, list) => {
                let a = self.eval(a, it, vars)?;
                let mut found = false;
                for x in list {
                    let x = self.eval(x, it, vars)?;
                    if compare(CmpOp::Eq, &a, &x, expr)? {
                        found = true;
                        break;
                    }
                }
                Value::Bool(found)
            }
            BoundExpr::Arith(op, a, b) => {
                let a = self.eval(a, it, vars)?;
                let b = self.eval(b, it, vars)?;
                arith(*op, &a, &b, expr)?
            }
            BoundExpr::Neg(a) => match self.eval(a, it, vars)? {
                Value::Null => Value::Null,
                Value::Int(i) => Value::Int(
                    i.checked_neg()
                        .ok_or_else(|| EvalError::Overflow(expr.to_string()))?,
                ),
                Value::Decimal(d) => Value::Decimal(-d),
                Value::Double(f) => Value::Double(-f),
                Value::Duration(d) => Value::Duration(-d),
                _ => return Err(EvalError::Type(expr.to_string())),
            },
            BoundExpr::Call(func, args) => {
                let mut values = Vec::with_capacity(args.len());
                for a in args {
                    values.push(self.eval(a, it, vars)?);
                }
                self.call(*func, values, expr)?
            }
            BoundExpr::Lambda(l) => self.lambda(l, it, vars)?,
            BoundExpr::ItemsLambda(l) => self.items_lambda(l, it, vars)?,
            BoundExpr::ItemProperty(p) => {
                let item = vars
                    .get(p.depth)
                    .copied()
                    .ok_or_else(|| EvalError::Type(p.text.clone()))?;
                let prop = &self.model.complex_type(p.complex).properties[p.property];
                match item.field(&prop.upstream) {
                    None => Value::Null,
                    Some(field) => from_upstream(field, &prop.ty, prop.conversion)
                        .map_err(|e| EvalError::BadValue(format!("{}: {e}", p.text)))?,
                }
            }
            BoundExpr::Dynamic(d) => dynamic_value(it.field(&d.upstream)),
            BoundExpr::Has(a, b) => {
                let a = self.eval(a, it, vars)?;
                let b = self.eval(b, it, vars)?;
                match (&a, &b) {
                    (Value::Null, _) | (_, Value::Null) => Value::Null,
                    // The model's enums are not flags (a ZeyOS code holds
                    // one member), so a value has a member exactly when it
                    // is that member; bitwise, every value would have the
                    // member whose value is 0.
                    (Value::Enum(_, x), Value::Enum(_, f)) => Value::Bool(x == f),
                    _ => return Err(EvalError::Type(expr.to_string())),
                }
            }
        })
    }

    fn property<'r>(
        &self,
        path: &PropertyPath,
        it: &'r dyn Fields,
        vars: &Vars<'r>,
    ) -> Result<Value, EvalError> {
        let row: &dyn Fields = match path.root {
            PathRoot::It => it,
            PathRoot::Var(depth) => vars
                .get(depth)
                .copied()
                .ok_or_else(|| EvalError::Type(path.text.clone()))?,
        };
        let prop = &self.model.entity_type(path.owner).properties[path.property];
        match row.field(&path.upstream) {
            None => Ok(Value::Null),
            Some(field) => from_upstream(field, &prop.ty, prop.conversion)
                .map_err(|e| EvalError::BadValue(format!("{}: {e}", path.text))),
        }
    }

    fn lambda<'r>(
        &self,
        l: &Lambda,
        it: &'r dyn Fields,
        vars: &mut Vars<'r>,
    ) -> Result<Value, EvalError> {
        let source: &'r dyn Fields = match l.root {
            PathRoot::It => it,
            PathRoot::Var(depth) => vars
                .get(depth)
                .copied()
                .ok_or_else(|| EvalError::Type(l.text.clone()))?,
        };
        let children: Vec<&'r dyn Fields> = source
            .field(&children_key(&l.navigation))
            .and_then(FieldRef::objects)
            .ok_or_else(|| EvalError::MissingChildren(l.text.clone()))?
            .into_iter()
            .map(|child| {
                child.ok_or_else(|| {
                    EvalError::BadValue(format!("{}: child is not an object", l.text))
                })
            })
            .collect::<Result<_, _>>()?;
        let Some(predicate) = &l.predicate else {
            return Ok(unfiltered(l.quantifier, children.len()));
        };
        quantify(
            l.quantifier,
            children.into_iter().map(|child| {
                vars.truncate(l.depth);
                vars.push(child);
                let v = self.eval(predicate, it, vars)?;
                vars.truncate(l.depth);
                Ok(v)
            }),
        )
    }

    /// `any`/`all` over the complex values of a composite field.
    fn items_lambda<'r>(
        &self,
        l: &crate::bind::expr::ItemsLambda,
        it: &'r dyn Fields,
        vars: &mut Vars<'r>,
    ) -> Result<Value, EvalError> {
        let source: &'r dyn Fields = match l.collection.root {
            PathRoot::It => it,
            PathRoot::Var(depth) => vars
                .get(depth)
                .copied()
                .ok_or_else(|| EvalError::Type(l.text.clone()))?,
        };
        let field = source.field(&l.collection.upstream);
        // ZeyOS hands unexpanded composites over as JSON text.
        let owned: Json;
        let value = match field {
            None | Some(FieldRef::List(_)) => None,
            Some(FieldRef::Json(json)) => Some(composite(json)),
            Some(other) => {
                owned = other.to_json();
                Some(composite(&owned))
            }
        };
        let items: Vec<&dyn Fields> = match (field, value.as_deref()) {
            // Line items read as records are evaluated as they are.
            (Some(FieldRef::List(list)), _) => {
                list.items().iter().map(|r| r as &dyn Fields).collect()
            }
            // A collection is never null: ZeyOS's null is the empty list
            // the response shows (`[]`), so any() is false and all() true.
            (_, None | Some(Json::Null)) => Vec::new(),
            (_, Some(Json::Array(a))) => a
                .iter()
                .filter_map(Json::as_object)
                .map(|m| m as &dyn Fields)
                .collect(),
            (_, Some(_)) => return Err(EvalError::BadValue(format!("{}: not a list", l.text))),
        };
        let Some(predicate) = &l.predicate else {
            return Ok(unfiltered(l.quantifier, items.len()));
        };
        quantify(
            l.quantifier,
            items.into_iter().map(|item| {
                // The range variable's rows live only for this evaluation.
                let mut inner: Vec<&dyn Fields> = vars.clone();
                inner.truncate(l.depth);
                inner.push(item);
                self.eval_with(predicate, it, &inner)
            }),
        )
    }

    /// `and` (`decisive` false) or `or` (`decisive` true): the decisive
    /// value on either side decides, the right side is skipped when the
    /// left decides, and otherwise a null makes the result null.
    fn connective<'r>(
        &self,
        a: &BoundExpr,
        b: &BoundExpr,
        decisive: bool,
        expr: &BoundExpr,
        it: &'r dyn Fields,
        vars: &mut Vars<'r>,
    ) -> Result<Value, EvalError> {
        let a = truth(self.eval(a, it, vars)?, expr)?;
        if a == Some(decisive) {
            return Ok(Value::Bool(decisive));
        }
        let b = truth(self.eval(b, it, vars)?, expr)?;
        Ok(match (a, b) {
            (_, Some(v)) if v == decisive => Value::Bool(decisive),
            (Some(_), Some(_)) => Value::Bool(!decisive),
            _ => Value::Null,
        })
    }

    fn eval_with(
        &self,
        expr: &BoundExpr,
        it: &dyn Fields,
        vars: &[&dyn Fields],
    ) -> Result<Value, EvalError> {
        let mut v: Vars<'_> = vars.to_vec();
        self.eval(expr, it, &mut v)
    }

    fn call(&self, func: Func, args: Vec<Value>, expr: &BoundExpr) -> Result<Value, EvalError> {
        let type_err = || EvalError::Type(expr.to_string());
        match func {
            Func::Now => return Ok(Value::DateTimeOffset(self.now)),
            Func::MinDateTime => {
                return Ok(Value::DateTimeOffset(DateTime {
                    unix: civil::days_from_civil(1, 1, 1) * civil::SECONDS_PER_DAY,
                    nanos: 0,
                    offset_minutes: 0,
                }))
            }
            Func::MaxDateTime => {
                return Ok(Value::DateTimeOffset(DateTime {
                    unix: civil::days_from_civil(9999, 12, 31) * civil::SECONDS_PER_DAY + 86_399,
                    nanos: 999_999_999,
                    offset_minutes: 0,
                }))
            }
            _ => {}
        }
        if args.iter().any(Value::is_null) {
            return Ok(Value::Null);
        }
        let s = |i: usize| match args.get(i) {
            Some(Value::String(s)) => Ok(s.as_str()),
            _ => Err(type_err()),
        };
        let int = |i: usize| match args.get(i) {
            Some(Value::Int(n)) => Ok(*n),
            _ => Err(type_err()),
        };
        Ok(match func {
            Func::Contains => Value::Bool(s(0)?.contains(s(1)?)),
            Func::StartsWith => Value::Bool(s(0)?.starts_with(s(1)?)),
            Func::EndsWith => Value::Bool(s(0)?.ends_with(s(1)?)),
            Func::Length => Value::Int(s(0)?.chars().count() as i64),
            Func::IndexOf => {
                let (hay, needle) = (s(0)?, s(1)?);
                match hay.find(needle) {
                    Some(byte) => Value::Int(hay[..byte].chars().count() as i64),
                    None => Value::Int(-1),
                }
            }
            Func::Substring => {
                let text = s(0)?;
                // A negative start counts from the end (Part 2, 5.1.1.7.8).
                let start = match usize::try_from(int(1)?) {
                    Ok(n) => n,
                    Err(_) => {
                        let back = usize::try_from(int(1)?.unsigned_abs()).unwrap_or(usize::MAX);
                        text.chars().count().saturating_sub(back)
                    }
                };
                let chars = text.chars().skip(start);
                match args.get(2) {
                    Some(_) => {
                        // A negative length is a bad request.
                        let len = usize::try_from(int(2)?)
                            .map_err(|_| EvalError::NegativeLength(expr.to_string()))?;
                        Value::String(chars.take(len).collect())
                    }
                    None => Value::String(chars.collect()),
                }
            }
            Func::ToLower => Value::String(s(0)?.to_lowercase()),
            Func::ToUpper => Value::String(s(0)?.to_uppercase()),
            Func::Trim => Value::String(s(0)?.trim().to_string()),
            Func::Concat => Value::String(format!("{}{}", s(0)?, s(1)?)),
            Func::MatchesPattern => {
                let re = regex::Regex::new(s(1)?)
                    .map_err(|e| EvalError::Pattern(expr.to_string(), e.to_string()))?;
                Value::Bool(re.is_match(s(0)?))
            }
            Func::Year | Func::Month | Func::Day => {
                let (y, m, d) = match &args[0] {
                    Value::Date(days) => civil::civil_from_days(*days),
                    Value::DateTimeOffset(t) => local_date(t),
                    _ => return Err(type_err()),
                };
                Value::Int(match func {
                    Func::Year => y,
                    Func::Month => i64::from(m),
                    _ => i64::from(d),
                })
            }
            Func::Hour | Func::Minute | Func::Second | Func::FractionalSeconds => {
                let nanos_of_day: u64 = match &args[0] {
                    Value::DateTimeOffset(t) => {
                        let local = t.unix + i64::from(t.offset_minutes) * 60;
                        local.rem_euclid(civil::SECONDS_PER_DAY) as u64 * 1_000_000_000
                            + u64::from(t.nanos)
                    }
                    Value::TimeOfDay(n) => *n,
                    _ => return Err(type_err()),
                };
                let secs = nanos_of_day / 1_000_000_000;
                match func {
                    Func::Hour => Value::Int((secs / 3600) as i64),
                    Func::Minute => Value::Int((secs / 60 % 60) as i64),
                    Func::Second => Value::Int((secs % 60) as i64),
                    _ => Value::Decimal(Decimal::new((nanos_of_day % 1_000_000_000) as i64, 9)),
                }
            }
            Func::Date => match &args[0] {
                Value::DateTimeOffset(t) => {
                    let (y, m, d) = local_date(t);
                    Value::Date(civil::days_from_civil(y, m, d))
                }
                Value::Date(d) => Value::Date(*d),
                _ => return Err(type_err()),
            },
            Func::Time => match &args[0] {
                Value::DateTimeOffset(t) => {
                    let local = t.unix + i64::from(t.offset_minutes) * 60;
                    Value::TimeOfDay(
                        local.rem_euclid(civil::SECONDS_PER_DAY) as u64 * 1_000_000_000
                            + u64::from(t.nanos),
                    )
                }
                _ => return Err(type_err()),
            },
            Func::TotalOffsetMinutes => match &args[0] {
                Value::DateTimeOffset(t) => Value::Int(i64::from(t.offset_minutes)),
                _ => return Err(type_err()),
            },
            Func::TotalSeconds => match &args[0] {
                Value::Duration(n) => Value::Decimal(
                    Decimal::try_from_i128_with_scale(*n, 9)
                        .map_err(|_| EvalError::Overflow(expr.to_string()))?,
                ),
                _ => return Err(type_err()),
            },
            Func::Round | Func::Floor | Func::Ceiling => match &args[0] {
                Value::Int(i) => Value::Int(*i),
                Value::Decimal(d) => Value::Decimal(match func {
                    Func::Round => d.round_dp_with_strategy(
                        0,
                        rust_decimal::RoundingStrategy::MidpointAwayFromZero,
                    ),
                    Func::Floor => d.floor(),
                    _ => d.ceil(),
                }),
                Value::Double(f) => Value::Double(match func {
                    Func::Round => f.round(),
                    Func::Floor => f.floor(),
                    _ => f.ceil(),
                }),
                _ => return Err(type_err()),
            },
            Func::Now | Func::MinDateTime | Func::MaxDateTime => Value::Null,
        })
    }
}

/// The value of a dynamic (extdata) property as ZeyOS stores it.
fn dynamic_value(field: Option<FieldRef<'_>>) -> Value {
    match field {
        None | Some(FieldRef::Null) => Value::Null,
        Some(FieldRef::Bool(b)) => Value::Bool(b),
        Some(FieldRef::Str(s)) => Value::String(s.to_owned()),
        Some(n @ (FieldRef::Int(_) | FieldRef::Float(_) | FieldRef::Json(Json::Number(_)))) => {
            match crate::values::field_decimal(n) {
                Some(d) => Value::Decimal(d),
                None => Value::Json(n.to_json()),
            }
        }
        Some(other) => Value::Json(other.to_json()),
    }
}

/// The local calendar date of a time stamp in its own offset.
fn local_date(t: &DateTime) -> (i64, u32, u32) {
    let local = t.unix + i64::from(t.offset_minutes) * 60;
    civil::civil_from_days(local.div_euclid(civil::SECONDS_PER_DAY))
}

/// `any`, `all` or `$count` over the predicate's value per member, so
/// navigation and complex-collection lambdas share one rule: any is true
/// if some member is true, all is false if some member is not true, and
/// empty collections give any → false, all → true; a count counts the
/// members whose value is true (not false, not null), 0 for none. Members
/// are evaluated lazily: for any and all, the first decisive value or the
/// first error ends the loop.
fn quantify(
    quantifier: Quantifier,
    members: impl Iterator<Item = Result<Value, EvalError>>,
) -> Result<Value, EvalError> {
    let any = match quantifier {
        Quantifier::Any => true,
        Quantifier::All => false,
        Quantifier::Count => {
            let mut n: i64 = 0;
            for v in members {
                if v? == Value::Bool(true) {
                    n += 1;
                }
            }
            return Ok(Value::Int(n));
        }
    };
    for v in members {
        // A member decides when it holds under any or fails under all.
        if (v? == Value::Bool(true)) == any {
            return Ok(Value::Bool(any));
        }
    }
    Ok(Value::Bool(!any))
}

/// The value of a lambda or count without a predicate over `members`
/// members: whether there is one (`any()`), or how many (`$count`).
/// (`all()` needs a predicate; the binder refuses it without.)
fn unfiltered(quantifier: Quantifier, members: usize) -> Value {
    match quantifier {
        Quantifier::Count => Value::Int(i64::try_from(members).unwrap_or(i64::MAX)),
        Quantifier::Any => Value::Bool(members > 0),
        Quantifier::All => Value::Bool(false),
    }
}

fn truth(v: Value, expr: &BoundExpr) -> Result<Option<bool>, EvalError> {
    match v {
        Value::Bool(b) => Ok(Some(b)),
        Value::Null => Ok(None),
        _ => Err(EvalError::Type(expr.to_string())),
    }
}

/// OData comparison: `eq`/`ne` are null-safe (never null), ordering
/// operators are false when either side is null.
pub fn compare(op: CmpOp, a: &Value, b: &Value, expr: &BoundExpr) -> Result<bool, EvalError> {
    match (a.is_null(), b.is_null()) {
        (true, true) => return Ok(op == CmpOp::Eq),
        (true, false) | (false, true) => return Ok(op == CmpOp::Ne),
        _ => {}
    }
    if op == CmpOp::Eq || op == CmpOp::Ne {
        let equal = match (a, b) {
            (Value::Json(x), Value::Json(y)) => x == y,
            // NaN is not equal to anything, even to itself (Part 2, 5.1.1.1.1).
            _ if a.as_number().is_some() && b.as_number().is_some() && a.compare(b).is_none() => {
                false
            }
            _ => {
                a.compare(b)
                    .ok_or_else(|| EvalError::Type(expr.to_string()))?
                    == Ordering::Equal
            }
        };
        return Ok(equal == (op == CmpOp::Eq));
    }
    let ord = match a.compare(b) {
        Some(o) => o,
        // NaN compares false with everything.
        None if a.as_number().is_some() && b.as_number().is_some() => return Ok(false),
        None => return Err(EvalError::Type(expr.to_string())),
    };
    Ok(match op {
        CmpOp::Lt => ord == Ordering::Less,
        CmpOp::Le => ord != Ordering::Greater,
        CmpOp::Gt => ord == Ordering::Greater,
        CmpOp::Ge => ord != Ordering::Less,
        CmpOp::Eq | CmpOp::Ne => unreachable!("handled above"),
    })
}

fn arith(op: ArithOp, a: &Value, b: &Value, expr: &BoundExpr) -> Result<Value, EvalError> {
    if a.is_null() || b.is_null() {
        return Ok(Value::Null);
    }
    let overflow = || EvalError::Overflow(expr.to_string());
    let zero = || EvalError::DivisionByZero(expr.to_string());
    // Date/time arithmetic with durations.
    match (op, a, b) {
        (ArithOp::Add | ArithOp::Sub, Value::DateTimeOffset(t), Value::Duration(d)) => {
            let d = if op == ArithOp::Sub { -*d } else { *d };
            let total = i128::from(t.unix) * 1_000_000_000 + i128::from(t.nanos) + d;
            return Ok(Value::DateTimeOffset(DateTime {
                unix: i64::try_from(total.div_euclid(1_000_000_000)).map_err(|_| overflow())?,
                nanos: total.rem_euclid(1_000_000_000) as u32,
                offset_minutes: t.offset_minutes,
            }));
        }
        (ArithOp::Add | ArithOp::Sub, Value::Date(day), Value::Duration(d)) => {
            // The date's midnight plus the duration, then that instant's
            // date (Part 2, 5.1.1.5.1): today minus an hour is yesterday.
            let day_nanos = 86_400 * 1_000_000_000_i128;
            let d = if op == ArithOp::Sub { -*d } else { *d };
            let at = i128::from(*day) * day_nanos + d;
            return i64::try_from(at.div_euclid(day_nanos))
                .map(Value::Date)
                .map_err(|_| overflow());
        }
        (ArithOp::Sub, Value::DateTimeOffset(x), Value::DateTimeOffset(y)) => {
            let nx = i128::from(x.unix) * 1_000_000_000 + i128::from(x.nanos);
            let ny = i128::from(y.unix) * 1_000_000_000 + i128::from(y.nanos);
            return Ok(Value::Duration(nx - ny));
        }
        (ArithOp::Sub, Value::Date(x), Value::Date(y)) => {
            return Ok(Value::Duration(i128::from(x - y) * 86_400 * 1_000_000_000));
        }
        (ArithOp::Add | ArithOp::Sub, Value::Duration(x), Value::Duration(y)) => {
            return Ok(Value::Duration(if op == ArithOp::Sub {
                x - y
            } else {
                x + y
            }));
        }
        _ => {}
    }
    let (x, y) = match (a.as_number(), b.as_number()) {
        (Some(x), Some(y)) => (x, y),
        _ => return Err(EvalError::Type(expr.to_string())),
    };
    Ok(match (x, y) {
        (Number::Int(x), Number::Int(y)) => Value::Int(match op {
            ArithOp::Add => x.checked_add(y).ok_or_else(overflow)?,
            ArithOp::Sub => x.checked_sub(y).ok_or_else(overflow)?,
            ArithOp::Mul => x.checked_mul(y).ok_or_else(overflow)?,
            ArithOp::Div => {
                if y == 0 {
                    return Err(zero());
                }
                x.checked_div(y).ok_or_else(overflow)?
            }
            ArithOp::DivBy => {
                if y == 0 {
                    return Err(zero());
                }
                return Decimal::from(x)
                    .checked_div(Decimal::from(y))
                    .map(Value::Decimal)
                    .ok_or_else(overflow);
            }
            ArithOp::Mod => {
                if y == 0 {
                    return Err(zero());
                }
                x.checked_rem(y).ok_or_else(overflow)?
            }
        }),
        (Number::Double(_), _) | (_, Number::Double(_)) => {
            let (x, y) = (x.to_f64(), y.to_f64());
            Value::Double(match op {
                ArithOp::Add => x + y,
                ArithOp::Sub => x - y,
                ArithOp::Mul => x * y,
                ArithOp::Div | ArithOp::DivBy => x / y,
                ArithOp::Mod => x % y,
            })
        }
        _ => {
            let to_dec = |n: Number| match n {
                Number::Int(i) => Decimal::from(i),
                Number::Decimal(d) => d,
                Number::Double(f) => Decimal::from_f64_retain(f).unwrap_or_default(),
            };
            let (x, y) = (to_dec(x), to_dec(y));
            Value::Decimal(match op {
                ArithOp::Add => x.checked_add(y).ok_or_else(overflow)?,
                ArithOp::Sub => x.checked_sub(y).ok_or_else(overflow)?,
                ArithOp::Mul => x.checked_mul(y).ok_or_else(overflow)?,
                ArithOp::Div | ArithOp::DivBy => {
                    if y.is_zero() {
                        return Err(zero());
                    }
                    x.checked_div(y).ok_or_else(overflow)?
                }
                ArithOp::Mod => {
                    if y.is_zero() {
                        return Err(zero());
                    }
                    x.checked_rem(y).ok_or_else(overflow)?
                }
            })
        }
    })
}

/// The number of whole units a decimal holds, for callers that need an
/// integer (e.g. `$top` arithmetic); `None` when it has a fraction.
pub fn decimal_to_i64(d: Decimal) -> Option<i64> {
    if d.fract().is_zero() {
        d.to_i64()
    } else {
        None
    }
}
