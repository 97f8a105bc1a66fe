//! Validation of field values against the schema, and their conversion
//! to SQL values (including storing new bin files).

use base64::Engine;
use md5::{Digest, Md5};
use rusqlite::types::Value as SqlValue;
use rusqlite::Transaction;
use serde_json::{Map, Value};
use zeyos_schema::{Entity, Field, FieldType, Semantic};

use crate::error::{ApiError, ApiResult};
use crate::model::{self, ident, ColKind};

/// Converts and validates one field value for storage.
pub fn to_sql(tx: &Transaction<'_>, field: &Field, value: Value) -> ApiResult<SqlValue> {
    let name = &field.name;
    let wrong = |what: &str, v: &Value| {
        ApiError::bad(format!("Field '{name}' expects {what}, got {}", short(v)))
    };
    if value.is_null() {
        if field.default.is_some() || model::is_required(field) {
            return Err(ApiError::bad(format!("Field '{name}' must not be null")));
        }
        return Ok(SqlValue::Null);
    }
    let out = match ColKind::of(field) {
        ColKind::Integer => {
            let i = match &value {
                Value::Number(n) => n.as_i64().or_else(|| {
                    n.as_f64()
                        .filter(|f| f.fract() == 0.0 && f.abs() < 9e15)
                        .map(|f| f as i64)
                }),
                Value::String(s) => s.trim().parse::<i64>().ok(),
                Value::Bool(b) => Some(i64::from(*b)),
                _ => None,
            }
            .ok_or_else(|| wrong("an integer", &value))?;
            if !field.allowed_values.is_empty() && !field.allowed_values.contains(&i) {
                return Err(ApiError::bad(format!(
                    "Field '{name}' must be one of {:?}, got {i}",
                    field.allowed_values
                )));
            }
            range(field, i as f64)?;
            if field.semantic == Semantic::Date {
                // Date-only fields hold midnight UTC of their date.
                SqlValue::Integer(i.div_euclid(86_400) * 86_400)
            } else {
                SqlValue::Integer(i)
            }
        }
        ColKind::Real => {
            let f = match &value {
                Value::Number(n) => n.as_f64(),
                Value::String(s) => s.trim().parse::<f64>().ok().filter(|f| f.is_finite()),
                _ => None,
            }
            .ok_or_else(|| wrong("a number", &value))?;
            range(field, f)?;
            SqlValue::Real(f)
        }
        ColKind::Text => {
            let Value::String(s) = value else {
                return Err(wrong("a string", &value));
            };
            let chars = s.chars().count() as u32;
            if let Some(min) = field.min_length {
                if chars < min {
                    return Err(ApiError::bad(format!(
                        "Field '{name}' must have at least {min} chars"
                    )));
                }
            }
            if let Some(max) = field.max_length {
                if chars > max {
                    return Err(ApiError::bad(format!(
                        "Field '{name}' must have at most {max} chars"
                    )));
                }
            }
            if !field.allowed_strings.is_empty() && !field.allowed_strings.contains(&s) {
                return Err(ApiError::bad(format!(
                    "Field '{name}' must be one of {}, got {s:?}",
                    field.allowed_strings.join(", ")
                )));
            }
            SqlValue::Text(s)
        }
        ColKind::Json => {
            let v = match value {
                Value::String(s) => serde_json::from_str(&s)
                    .map_err(|e| ApiError::bad(format!("Field '{name}' is not valid JSON: {e}")))?,
                v => v,
            };
            let ok = match field.field_type {
                FieldType::Items => v
                    .as_array()
                    .is_some_and(|items| items.iter().all(Value::is_object)),
                FieldType::Object | FieldType::Meta => v.is_object(),
                FieldType::Array => v.is_array(),
                _ => true,
            };
            if !ok {
                let what = match field.field_type {
                    FieldType::Items => "an array of line item objects",
                    FieldType::Array => "an array",
                    _ => "an object",
                };
                return Err(wrong(what, &v));
            }
            SqlValue::Text(v.to_string())
        }
        ColKind::Binfile => match value {
            Value::Number(n) => {
                let id = n
                    .as_i64()
                    .ok_or_else(|| wrong("a bin file ID or content", &Value::Number(n.clone())))?;
                ensure_exists(tx, field, "binfiles", id)?;
                SqlValue::Integer(id)
            }
            Value::Object(m) => SqlValue::Integer(store_binfile(tx, name, &m)?),
            other => return Err(wrong("a bin file ID or {\"content\": base64}", &other)),
        },
    };
    if let (Semantic::ForeignKey, Some(target), SqlValue::Integer(id)) =
        (field.semantic, field.references.as_deref(), &out)
    {
        ensure_exists(tx, field, target, *id)?;
    }
    Ok(out)
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 60 {
        format!("{}...", s.chars().take(60).collect::<String>())
    } else {
        s
    }
}

fn range(field: &Field, v: f64) -> ApiResult<()> {
    if let Some(min) = field.minimum {
        if v < min {
            return Err(ApiError::bad(format!(
                "Field '{}' must be >= {min}, got {v}",
                field.name
            )));
        }
    }
    if let Some(max) = field.maximum {
        if v > max {
            return Err(ApiError::bad(format!(
                "Field '{}' must be <= {max}, got {v}",
                field.name
            )));
        }
    }
    Ok(())
}

/// A foreign key must point to an existing row (400 otherwise).
fn ensure_exists(tx: &Transaction<'_>, field: &Field, target: &str, id: i64) -> ApiResult<()> {
    let Some(target_entity) = zeyos_schema::schema().entity(target) else {
        return Ok(());
    };
    let sql = format!(
        "SELECT 1 FROM {} WHERE \"ID\" = ?1",
        ident(&target_entity.name)
    );
    let exists = tx.prepare_cached(&sql)?.exists([id])?;
    if exists {
        Ok(())
    } else {
        Err(ApiError::bad(format!(
            "Field '{}' refers to {target} ID {id}, which does not exist",
            field.name
        )))
    }
}

/// Stores `{"content": base64}` or `{"uri": "data:...;base64,..."}` as a
/// new bin file and returns its ID.
fn store_binfile(tx: &Transaction<'_>, name: &str, m: &Map<String, Value>) -> ApiResult<i64> {
    let b64 = match (m.get("content"), m.get("uri")) {
        (Some(Value::String(c)), None) => c.clone(),
        (None, Some(Value::String(uri))) => uri
            .strip_prefix("data:")
            .and_then(|rest| rest.split_once(";base64,"))
            .map(|(_, data)| data.to_string())
            .ok_or_else(|| {
                ApiError::bad(format!("Field '{name}': uri must be a base64 data URI"))
            })?,
        _ => {
            return Err(ApiError::bad(format!(
                "Field '{name}' needs exactly one of content (base64) or uri"
            )))
        }
    };
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .map_err(|e| ApiError::bad(format!("Field '{name}': invalid base64: {e}")))?;
    if bytes.is_empty() {
        return Err(ApiError::bad(format!(
            "Field '{name}': bin file must not be empty"
        )));
    }
    let hash: String = Md5::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    tx.prepare_cached(
        "INSERT INTO \"binfiles\" (\"hash\", \"size\", \"_content\") VALUES (?1, ?2, ?3)",
    )?
    .execute(rusqlite::params![
        format!("\\x{hash}"),
        bytes.len() as i64,
        bytes
    ])?;
    Ok(tx.last_insert_rowid())
}

fn is_empty(v: &SqlValue) -> bool {
    match v {
        SqlValue::Null => true,
        SqlValue::Text(s) => s.is_empty(),
        _ => false,
    }
}

/// "is required if X is empty" and required fields, over the full record.
pub fn check_required(entity: &Entity, values: &[SqlValue]) -> ApiResult<()> {
    for (i, field) in entity.fields.iter().enumerate() {
        if model::is_required(field) && is_empty(&values[i]) {
            return Err(ApiError::bad(format!("Field '{}' is required", field.name)));
        }
        if let Some(other) = model::required_unless(field) {
            if let Some(j) = entity.fields.iter().position(|f| f.name == other) {
                if is_empty(&values[i]) && is_empty(&values[j]) {
                    return Err(ApiError::bad(format!(
                        "Field '{}' is required if '{other}' is empty",
                        field.name
                    )));
                }
            }
        }
    }
    Ok(())
}
