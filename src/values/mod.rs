//! OData values inside the gateway, and their conversion from ZeyOS JSON.
//!
//! The binder turns literals into [`Value`]s, the residual evaluator compares
//! them, and the planner turns them into ZeyOS filter values. Conversions
//! follow the property's [`Conversion`], so that `CreatedOn` (Unix seconds
//! upstream) compares as an instant and `Type` (an integer upstream) as an
//! enum member.

pub mod civil;

use std::borrow::Cow;
use std::cmp::Ordering;

use rust_decimal::Decimal;

use crate::edm::{Conversion, EdmType, EnumTypeId};
use crate::upstream::FieldRef;

/// A point in time with the offset the client wrote it in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateTime {
    /// Seconds since the Unix epoch (UTC).
    pub unix: i64,
    /// Fraction of the second in nanoseconds.
    pub nanos: u32,
    /// The literal's offset from UTC in minutes (0 for `Z`); it changes the
    /// written form, never the instant.
    pub offset_minutes: i32,
}

impl DateTime {
    /// The current instant in UTC. A request reads it once, so that every
    /// `now()` it evaluates is the same instant.
    pub fn now_utc() -> DateTime {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        DateTime {
            unix: i64::try_from(now.as_secs()).unwrap_or(i64::MAX),
            nanos: now.subsec_nanos(),
            offset_minutes: 0,
        }
    }

    /// The instant as (seconds, nanoseconds) for comparison.
    pub fn instant(&self) -> (i64, u32) {
        (self.unix, self.nanos)
    }
}

/// A value of an OData primitive, enum or structured type.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `null`.
    Null,
    /// `Edm.Boolean`.
    Bool(bool),
    /// Integral types (`Edm.Int32`, `Edm.Int64`, ...).
    Int(i64),
    /// `Edm.Decimal`, exact.
    Decimal(Decimal),
    /// `Edm.Double` / `Edm.Single`.
    Double(f64),
    /// `Edm.String`.
    String(String),
    /// `Edm.Date` as days since 1970-01-01.
    Date(i64),
    /// `Edm.DateTimeOffset`.
    DateTimeOffset(DateTime),
    /// `Edm.TimeOfDay` in nanoseconds since midnight.
    TimeOfDay(u64),
    /// `Edm.Duration` in nanoseconds (signed).
    Duration(i128),
    /// `Edm.Guid` in its canonical lower-case text form.
    Guid(String),
    /// `Edm.Binary`.
    Binary(Vec<u8>),
    /// A member (or flag combination) of an enum type, by value.
    Enum(EnumTypeId, i64),
    /// A complex, collection or untyped value, as JSON.
    Json(serde_json::Value),
}

impl Value {
    /// Whether this is `null`.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// A numeric view for cross-type comparison and arithmetic.
    pub fn as_number(&self) -> Option<Number> {
        match self {
            Value::Int(i) => Some(Number::Int(*i)),
            Value::Decimal(d) => Some(Number::Decimal(*d)),
            Value::Double(f) => Some(Number::Double(*f)),
            _ => None,
        }
    }

    /// Compares two values of comparable types; `None` when either is null
    /// or the types do not compare (the caller decides what that means).
    pub fn compare(&self, other: &Value) -> Option<Ordering> {
        use Value::*;
        match (self, other) {
            (Null, _) | (_, Null) => None,
            (Bool(a), Bool(b)) => Some(a.cmp(b)),
            (String(a), String(b)) => Some(a.as_str().cmp(b.as_str())),
            (Date(a), Date(b)) => Some(a.cmp(b)),
            (DateTimeOffset(a), DateTimeOffset(b)) => Some(a.instant().cmp(&b.instant())),
            (Date(d), DateTimeOffset(t)) => Some((d * civil::SECONDS_PER_DAY, 0).cmp(&t.instant())),
            (DateTimeOffset(t), Date(d)) => Some(t.instant().cmp(&(d * civil::SECONDS_PER_DAY, 0))),
            (TimeOfDay(a), TimeOfDay(b)) => Some(a.cmp(b)),
            (Duration(a), Duration(b)) => Some(a.cmp(b)),
            (Guid(a), Guid(b)) => Some(a.cmp(b)),
            (Binary(a), Binary(b)) => Some(a.cmp(b)),
            (Enum(ta, a), Enum(tb, b)) if ta == tb => Some(a.cmp(b)),
            (Enum(_, a), Int(b)) | (Int(a), Enum(_, b)) => Some(a.cmp(b)),
            _ => {
                let (a, b) = (self.as_number()?, other.as_number()?);
                a.compare(&b)
            }
        }
    }

    /// OData equality of two non-null values (`eq`); null handling is the
    /// caller's, since `eq` and `in` treat null specially.
    pub fn equals(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Json(a), Value::Json(b)) => a == b,
            _ => self.compare(other) == Some(Ordering::Equal),
        }
    }
}

/// A number of any EDM numeric type.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Number {
    /// Integral.
    Int(i64),
    /// Exact decimal.
    Decimal(Decimal),
    /// Binary floating point.
    Double(f64),
}

impl Number {
    /// Compares numerically, promoting as OData does (integers and decimals
    /// exactly, anything against a double as double).
    pub fn compare(&self, other: &Number) -> Option<Ordering> {
        use Number::*;
        match (self, other) {
            (Int(a), Int(b)) => Some(a.cmp(b)),
            (Int(a), Decimal(b)) => Some(rust_decimal::Decimal::from(*a).cmp(b)),
            (Decimal(a), Int(b)) => Some(a.cmp(&rust_decimal::Decimal::from(*b))),
            (Decimal(a), Decimal(b)) => Some(a.cmp(b)),
            _ => self.to_f64().partial_cmp(&other.to_f64()),
        }
    }

    /// The value as a double (lossy for large decimals).
    pub fn to_f64(&self) -> f64 {
        use rust_decimal::prelude::ToPrimitive;
        match self {
            Number::Int(i) => *i as f64,
            Number::Decimal(d) => d.to_f64().unwrap_or(f64::NAN),
            Number::Double(f) => *f,
        }
    }
}

/// Why an upstream value could not be read as the property's type.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("upstream value {value} does not fit {expected}")]
pub struct ConversionError {
    /// The value as ZeyOS sent it.
    pub value: String,
    /// What the model expected.
    pub expected: &'static str,
}

/// Reads a ZeyOS value as the OData value of a property.
pub fn from_upstream(
    field: FieldRef<'_>,
    ty: &EdmType,
    conversion: Conversion,
) -> Result<Value, ConversionError> {
    let err = |expected: &'static str| ConversionError {
        value: field.to_json().to_string(),
        expected,
    };
    let integer = || field_i64(field);
    match (conversion, field) {
        (_, FieldRef::Null) => Ok(Value::Null),
        (Conversion::UnixTime, _) => {
            let unix = integer().ok_or_else(|| err("Unix time stamp"))?;
            Ok(Value::DateTimeOffset(DateTime {
                unix,
                nanos: 0,
                offset_minutes: 0,
            }))
        }
        (Conversion::UnixDate, _) => {
            let unix = integer().ok_or_else(|| err("Unix time stamp"))?;
            Ok(Value::Date(unix.div_euclid(civil::SECONDS_PER_DAY)))
        }
        (Conversion::Flag, FieldRef::Bool(b)) => Ok(Value::Bool(b)),
        (Conversion::Flag, _) => integer()
            .map(|i| Value::Bool(i != 0))
            .ok_or_else(|| err("0/1 flag")),
        (Conversion::EnumValue, _) => match ty {
            EdmType::Enum(id) => integer()
                .map(|i| Value::Enum(*id, i))
                .ok_or_else(|| err("enum integer")),
            _ => integer().map(Value::Int).ok_or_else(|| err("integer")),
        },
        (Conversion::Json, _) => Ok(Value::Json(field.to_json())),
        (Conversion::Plain, _) => match ty {
            EdmType::Boolean => match field {
                FieldRef::Bool(b) => Ok(Value::Bool(b)),
                _ => integer()
                    .map(|i| Value::Bool(i != 0))
                    .ok_or_else(|| err("boolean")),
            },
            EdmType::Int32 | EdmType::Int64 => {
                integer().map(Value::Int).ok_or_else(|| err("integer"))
            }
            EdmType::Decimal => field_decimal(field)
                .map(Value::Decimal)
                .ok_or_else(|| err("decimal")),
            EdmType::Double => match field {
                FieldRef::Int(i) => Some(i as f64),
                FieldRef::Float(f) => Some(f),
                FieldRef::Json(serde_json::Value::Number(n)) => n.as_f64(),
                FieldRef::Str(s) => s.parse().ok(),
                _ => None,
            }
            .map(Value::Double)
            .ok_or_else(|| err("double")),
            EdmType::String => match field {
                FieldRef::Str(s) => Ok(Value::String(s.to_owned())),
                FieldRef::Int(_)
                | FieldRef::Float(_)
                | FieldRef::Json(serde_json::Value::Number(_)) => {
                    Ok(Value::String(field.to_json().to_string()))
                }
                FieldRef::Bool(b) => Ok(Value::String(b.to_string())),
                _ => Err(err("string")),
            },
            EdmType::Enum(id) => integer()
                .map(|i| Value::Enum(*id, i))
                .ok_or_else(|| err("enum integer")),
            _ => Ok(Value::Json(field.to_json())),
        },
    }
}

/// An integer from a JSON number or numeric string (ZeyOS sends both).
pub fn json_i64(json: &serde_json::Value) -> Option<i64> {
    field_i64(FieldRef::of(json))
}

/// [`json_i64`] of a field as a record holds it.
pub fn field_i64(value: FieldRef<'_>) -> Option<i64> {
    let integral = |f: f64| (f.fract() == 0.0).then_some(f as i64);
    match value {
        FieldRef::Int(i) => Some(i),
        FieldRef::Float(f) => integral(f),
        FieldRef::Str(s) => s.trim().parse().ok(),
        FieldRef::Bool(b) => Some(i64::from(b)),
        // An integer beyond `i64`.
        FieldRef::Json(serde_json::Value::Number(n)) => n.as_f64().and_then(integral),
        _ => None,
    }
}

/// An exact decimal from a JSON number's shortest text form or a string.
pub fn json_decimal(json: &serde_json::Value) -> Option<Decimal> {
    field_decimal(FieldRef::of(json))
}

/// [`json_decimal`] of a field as a record holds it.
pub fn field_decimal(field: FieldRef<'_>) -> Option<Decimal> {
    use std::str::FromStr;
    let text: Cow<'_, str> = match field {
        FieldRef::Str(s) => Cow::Borrowed(s.trim()),
        FieldRef::Int(_) | FieldRef::Float(_) | FieldRef::Json(serde_json::Value::Number(_)) => {
            Cow::Owned(field.to_json().to_string())
        }
        _ => return None,
    };
    Decimal::from_str(&text)
        .or_else(|_| Decimal::from_scientific(&text))
        .ok()
}

/// A value written as an OData URL literal (for messages and explain output).
pub fn display(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Decimal(d) => d.to_string(),
        Value::Double(f) => {
            if f.is_nan() {
                "NaN".into()
            } else if f.is_infinite() {
                if *f > 0.0 {
                    "INF".into()
                } else {
                    "-INF".into()
                }
            } else {
                format!("{f:e}")
            }
        }
        Value::String(s) => format!("'{}'", s.replace('\'', "''")),
        Value::Date(d) => {
            let mut s = String::new();
            civil::format_unix_date(d * civil::SECONDS_PER_DAY, &mut s);
            s
        }
        Value::DateTimeOffset(t) => {
            let mut s = String::new();
            civil::format_unix_utc(t.unix, &mut s);
            if t.nanos > 0 {
                s.pop();
                s.push_str(format!(".{:09}", t.nanos).trim_end_matches('0'));
                s.push('Z');
            }
            s
        }
        Value::TimeOfDay(n) => {
            let secs = n / 1_000_000_000;
            format!("{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60)
        }
        Value::Duration(n) => format!("duration'PT{}S'", *n as f64 / 1e9),
        Value::Guid(g) => g.clone(),
        Value::Binary(b) => {
            use base64::Engine;
            format!(
                "binary'{}'",
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
            )
        }
        Value::Enum(_, n) => n.to_string(),
        Value::Json(j) => j.to_string(),
    }
}

/// A composite field's value as JSON: ZeyOS may hand composite fields over
/// as JSON text, which is parsed here (and kept as text if it is not JSON).
pub fn composite(value: &serde_json::Value) -> Cow<'_, serde_json::Value> {
    match value {
        serde_json::Value::String(s) => match serde_json::from_str::<serde_json::Value>(s) {
            Ok(v) => Cow::Owned(v),
            Err(_) => Cow::Borrowed(value),
        },
        other => Cow::Borrowed(other),
    }
}

/// The items of a collection-valued composite field; a missing, null or
/// malformed value has none, as the writer also answers it with `[]`.
pub fn collection_items(value: Option<&serde_json::Value>) -> Vec<serde_json::Value> {
    match value.map(composite) {
        Some(Cow::Owned(serde_json::Value::Array(items))) => items,
        Some(Cow::Borrowed(serde_json::Value::Array(items))) => items.clone(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compares_across_numeric_types_exactly() {
        let a = Value::Decimal(Decimal::new(1999, 2));
        assert_eq!(a.compare(&Value::Int(20)), Some(Ordering::Less));
        assert_eq!(a.compare(&Value::Double(19.99)), Some(Ordering::Equal));
        assert_eq!(Value::Null.compare(&Value::Int(1)), None);
    }

    #[test]
    fn reads_decimals_from_json_without_binary_noise() {
        let v = json_decimal(&serde_json::json!(0.1)).unwrap();
        assert_eq!(v.to_string(), "0.1");
        let v = json_decimal(&serde_json::json!(1e-7)).unwrap();
        assert_eq!(v, Decimal::new(1, 7));
    }

    #[test]
    fn converts_time_stamps_and_flags() {
        let v = from_upstream(
            FieldRef::of(&serde_json::json!(86_400 * 3 + 5)),
            &EdmType::Date,
            Conversion::UnixDate,
        )
        .unwrap();
        assert_eq!(v, Value::Date(3));
        let v = from_upstream(
            FieldRef::of(&serde_json::json!(1)),
            &EdmType::Boolean,
            Conversion::Flag,
        )
        .unwrap();
        assert_eq!(v, Value::Bool(true));
        let v = from_upstream(
            FieldRef::of(&serde_json::json!("x")),
            &EdmType::Int32,
            Conversion::Plain,
        );
        assert!(v.is_err());
    }
}
