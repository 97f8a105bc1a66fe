//! Literal binding: a literal of the syntax tree (number, string, date,
//! duration, GUID, enum member, ...) as a typed [`Value`] with its EDM type.
//!
//! Separate because it is a pure conversion with no binder state, only the
//! model (for enum types), and the one place where the syntax crate's
//! representation of literals (civil dates, picoseconds, GUID bytes) meets
//! the gateway's values.

use odata_syntax as ast;
use odata_syntax::Literal;

use super::binder::bad;
use super::expr::{BoundExpr, ExprType};
use crate::edm::{EdmType, ServiceModel};
use crate::error::GatewayError;
use crate::values::{civil, DateTime, Value};

/// A parsed literal as a typed value.
pub(super) fn literal(
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
