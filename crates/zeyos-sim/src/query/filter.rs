//! Filters compiled to SQL with PostgreSQL semantics.
//!
//! Grammar (see the README): a filter is an object whose keys are field
//! paths (value: a plain value meaning `=`, or an object of operators that
//! are ANDed) or numeric keys (value: `["AND"|"OR"|"NOT", member, ...]`,
//! members being filters again). Top-level keys are ANDed.
//!
//! SQL three-valued logic is kept on purpose: `!=` excludes NULLs, `NOT` of
//! unknown is unknown, `IN` with a NULL never matches a NULL row. `= null`
//! and `!= null` are `IS NULL` / `IS NOT NULL`.

use rusqlite::types::Value as SqlValue;
use serde_json::{Map, Value};
use zeyos_schema::Entity;

use super::fields::FieldRef;
use super::{pattern, Sql};
use crate::error::{ApiError, ApiResult};
use crate::model::ColKind;

/// Maximum nesting of filter objects and groups.
pub const MAX_DEPTH: usize = 64;

/// Compiles a whole filter (object, or a group array) into an SQL condition.
pub fn compile(entity: &Entity, filter: &Value, sql: &mut Sql) -> ApiResult<String> {
    match filter {
        Value::Null => Ok("1".into()),
        // PHP clients encode an empty filter list as `[]`.
        Value::Array(arr) if arr.is_empty() => Ok("1".into()),
        Value::Object(obj) => object(entity, obj, sql, 0),
        Value::Array(arr) => group(entity, arr, sql, 0),
        other => Err(ApiError::bad(format!(
            "filter must be an object, got {}",
            type_name(other)
        ))),
    }
}

fn object(
    entity: &Entity,
    obj: &Map<String, Value>,
    sql: &mut Sql,
    depth: usize,
) -> ApiResult<String> {
    if depth > MAX_DEPTH {
        return Err(ApiError::bad(format!(
            "filter nesting exceeds the maximum depth of {MAX_DEPTH}"
        )));
    }
    let mut parts = Vec::new();
    for (key, value) in obj {
        if !key.is_empty() && key.bytes().all(|b| b.is_ascii_digit()) {
            match value {
                Value::Array(arr) => parts.push(group(entity, arr, sql, depth + 1)?),
                other => {
                    return Err(ApiError::bad(format!(
                        "filter key {key} must hold an [\"AND\"|\"OR\"|\"NOT\", ...] array, got {}",
                        type_name(other)
                    )))
                }
            }
        } else {
            parts.push(field(entity, key, value, sql)?);
        }
    }
    Ok(conjunction(parts))
}

fn conjunction(parts: Vec<String>) -> String {
    match parts.len() {
        0 => "1".into(),
        1 => parts.into_iter().next().unwrap_or_default(),
        _ => format!("({})", parts.join(" AND ")),
    }
}

fn group(entity: &Entity, arr: &[Value], sql: &mut Sql, depth: usize) -> ApiResult<String> {
    if depth > MAX_DEPTH {
        return Err(ApiError::bad(format!(
            "filter nesting exceeds the maximum depth of {MAX_DEPTH}"
        )));
    }
    let op = match arr.first() {
        Some(Value::String(s)) => s.to_ascii_uppercase(),
        _ => {
            return Err(ApiError::bad(
                "filter group must start with \"AND\", \"OR\" or \"NOT\"",
            ))
        }
    };
    let mut members = Vec::new();
    for m in &arr[1..] {
        members.push(match m {
            Value::Object(o) => object(entity, o, sql, depth + 1)?,
            Value::Array(a) => group(entity, a, sql, depth + 1)?,
            other => {
                return Err(ApiError::bad(format!(
                    "members of a {op} filter group must be filter objects, got {}",
                    type_name(other)
                )))
            }
        });
    }
    match op.as_str() {
        "AND" => Ok(conjunction(members)),
        "OR" => Ok(match members.len() {
            0 => "0".into(),
            _ => format!("({})", members.join(" OR ")),
        }),
        "NOT" => Ok(format!("(NOT {})", conjunction(members))),
        _ => Err(ApiError::bad(format!(
            "Unknown filter group operator '{op}' (expected AND, OR or NOT)"
        ))),
    }
}

fn field(entity: &Entity, path: &str, value: &Value, sql: &mut Sql) -> ApiResult<String> {
    let fref = FieldRef::resolve(entity, path)?;
    match value {
        Value::Object(ops) => {
            if ops.is_empty() {
                return Err(ApiError::bad(format!(
                    "filter on field '{path}' has no operator"
                )));
            }
            let mut parts = Vec::new();
            for (op, v) in ops {
                parts.push(operator(entity, path, fref, op, v, sql)?);
            }
            Ok(conjunction(parts))
        }
        Value::Array(_) => Err(ApiError::bad(format!(
            "filter on field '{path}' must be a value or an object of operators (use {{\"IN\": [...]}} for lists)"
        ))),
        plain => operator(entity, path, fref, "=", plain, sql),
    }
}

fn operator(
    entity: &Entity,
    path: &str,
    fref: FieldRef<'_>,
    op: &str,
    value: &Value,
    sql: &mut Sql,
) -> ApiResult<String> {
    let kind = fref.kind();
    let upper = op.to_ascii_uppercase();
    match upper.as_str() {
        "=" | "!=" | "<>" | "<" | "<=" | ">" | ">=" => {
            let col = fref.expr(entity, sql);
            let v = scalar(path, kind, value)?;
            Ok(match (upper.as_str(), v) {
                ("=", SqlValue::Null) => format!("{col} IS NULL"),
                ("!=" | "<>", SqlValue::Null) => format!("{col} IS NOT NULL"),
                (o, v) => {
                    let o = if o == "!=" { "<>" } else { o };
                    let p = sql.bind(v);
                    format!("{col} {o} {p}")
                }
            })
        }
        "IN" | "!IN" => {
            let Value::Array(items) = value else {
                return Err(ApiError::bad(format!(
                    "operator {op} on field '{path}' needs an array, got {}",
                    type_name(value)
                )));
            };
            let col = fref.expr(entity, sql);
            if items.is_empty() {
                // As PostgreSQL's `= ANY('{}')` / `<> ALL('{}')`.
                return Ok(if upper == "IN" {
                    "0".into()
                } else {
                    "1".into()
                });
            }
            let mut ps = Vec::with_capacity(items.len());
            for item in items {
                let v = scalar(path, kind, item)?;
                ps.push(sql.bind(v));
            }
            let not = if upper == "IN" { "" } else { "NOT " };
            Ok(format!("{col} {not}IN ({})", ps.join(", ")))
        }
        "~" | "~*" | "!~" | "!~*" | "~~" | "~~*" | "!~~" | "!~~*" => {
            if matches!(
                kind,
                Some(ColKind::Integer | ColKind::Real | ColKind::Binfile)
            ) {
                return Err(ApiError::bad(format!(
                    "operator {op} applies to strings only; field '{path}' is numeric"
                )));
            }
            let negated = upper.starts_with('!');
            let base = upper.trim_start_matches('!');
            let ci = base.ends_with('*');
            let like = base.starts_with("~~");
            let col = fref.expr(entity, sql);
            let re = match value {
                Value::Null => None,
                Value::String(s) => Some(if like {
                    pattern::like(s, ci)?
                } else {
                    pattern::regex(s, ci)?
                }),
                other => {
                    return Err(ApiError::bad(format!(
                        "operator {op} on field '{path}' needs a string pattern, got {}",
                        type_name(other)
                    )))
                }
            };
            let p = sql.bind(re.map(SqlValue::Text).unwrap_or(SqlValue::Null));
            let not = if negated { "NOT " } else { "" };
            Ok(format!("{not}zs_match({col}, {p})"))
        }
        _ => Err(ApiError::bad(format!(
            "Unknown operator '{op}' for field '{path}'"
        ))),
    }
}

/// Converts a filter value to an SQL value of the field's type, following
/// PostgreSQL's casts of literals: `'5'` is a valid integer, `'abc'` is not.
pub fn scalar(path: &str, kind: Option<ColKind>, value: &Value) -> ApiResult<SqlValue> {
    let wrong = |what: &str| {
        ApiError::bad(format!(
            "invalid value {value} for field '{path}': expected {what}"
        ))
    };
    Ok(match (kind, value) {
        (_, Value::Null) => SqlValue::Null,
        (_, Value::Object(_) | Value::Array(_)) => return Err(wrong("a scalar value")),
        (None, Value::Bool(b)) => SqlValue::Integer(i64::from(*b)),
        (None, Value::Number(n)) => number(n),
        (None, Value::String(s)) => SqlValue::Text(s.clone()),
        (Some(ColKind::Integer | ColKind::Binfile), Value::Bool(b)) => {
            SqlValue::Integer(i64::from(*b))
        }
        (Some(ColKind::Integer | ColKind::Binfile | ColKind::Real), Value::Number(n)) => number(n),
        (Some(ColKind::Integer | ColKind::Binfile), Value::String(s)) => {
            let t = s.trim();
            if let Ok(i) = t.parse::<i64>() {
                SqlValue::Integer(i)
            } else {
                return Err(wrong("an integer"));
            }
        }
        (Some(ColKind::Real), Value::String(s)) => match s.trim().parse::<f64>() {
            Ok(f) if f.is_finite() => SqlValue::Real(f),
            _ => return Err(wrong("a number")),
        },
        (Some(ColKind::Real), Value::Bool(_)) => return Err(wrong("a number")),
        (Some(ColKind::Text | ColKind::Json), Value::String(s)) => SqlValue::Text(s.clone()),
        (Some(ColKind::Text | ColKind::Json), Value::Number(n)) => SqlValue::Text(n.to_string()),
        (Some(ColKind::Text | ColKind::Json), Value::Bool(_)) => return Err(wrong("a string")),
    })
}

fn number(n: &serde_json::Number) -> SqlValue {
    match n.as_i64() {
        Some(i) => SqlValue::Integer(i),
        None => SqlValue::Real(n.as_f64().unwrap_or(f64::NAN)),
    }
}

/// A short name of a JSON value's type for messages.
pub fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
