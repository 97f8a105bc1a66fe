//! Extdata and tags that accompany a write, and splitting a body into
//! field values and those side changes.

use rusqlite::types::Value as SqlValue;
use rusqlite::Transaction;
use serde_json::{Map, Value};
use zeyos_schema::{Entity, Field};

use crate::error::{ApiError, ApiResult};
use crate::query::filter::type_name;

/// Extdata and tag changes that accompany a write.
#[derive(Default)]
pub struct SideChanges {
    extdata: Option<Map<String, Value>>,
    tags: Option<Vec<String>>,
    add_tags: Vec<String>,
    remove_tags: Vec<String>,
}

/// Splits a body into field values and side changes; unknown keys are 400.
pub fn split_body(
    entity: &Entity,
    body: Map<String, Value>,
) -> ApiResult<(Vec<(&Field, Value)>, SideChanges)> {
    let mut fields = Vec::new();
    let mut side = SideChanges::default();
    for (key, value) in body {
        match key.as_str() {
            "extdata" => {
                if !entity.extdata {
                    return Err(ApiError::bad(format!(
                        "Entity {} has no extdata",
                        entity.name
                    )));
                }
                match value {
                    Value::Object(m) => {
                        if m.keys().any(|k| k.is_empty()) {
                            return Err(ApiError::bad("extdata field names must not be empty"));
                        }
                        side.extdata = Some(m);
                    }
                    Value::Null => {}
                    other => {
                        return Err(ApiError::bad(format!(
                            "extdata must be an object, got {}",
                            type_name(&other)
                        )))
                    }
                }
            }
            "tags" | "+tags" | "-tags" => {
                if !entity.tags {
                    return Err(ApiError::bad(format!("Entity {} has no tags", entity.name)));
                }
                let list = tag_list(&key, value)?;
                match key.as_str() {
                    "tags" => side.tags = Some(list),
                    "+tags" => side.add_tags = list,
                    _ => side.remove_tags = list,
                }
            }
            _ => {
                let field = entity.field(&key).ok_or_else(|| {
                    ApiError::bad(format!("Unknown field '{key}' of entity {}", entity.name))
                })?;
                fields.push((field, value));
            }
        }
    }
    Ok((fields, side))
}

fn tag_list(key: &str, value: Value) -> ApiResult<Vec<String>> {
    let items = match value {
        Value::Array(items) => items,
        Value::String(s) => s
            .split(',')
            .map(|t| Value::String(t.trim().into()))
            .collect(),
        other => {
            return Err(ApiError::bad(format!(
                "{key} must be an array of strings, got {}",
                type_name(&other)
            )))
        }
    };
    items
        .into_iter()
        .map(|t| match t {
            Value::String(s) if !s.trim().is_empty() => Ok(s.trim().to_string()),
            other => Err(ApiError::bad(format!(
                "{key} entries must be non-empty strings, got {other}"
            ))),
        })
        .collect()
}

pub fn apply_side(
    tx: &Transaction<'_>,
    entity: &Entity,
    id: i64,
    side: SideChanges,
) -> ApiResult<()> {
    if let Some(ext) = side.extdata {
        for (name, value) in ext {
            let v = match value {
                Value::Null => None,
                Value::Bool(b) => Some(SqlValue::Integer(i64::from(b))),
                Value::Number(n) => Some(match n.as_i64() {
                    Some(i) => SqlValue::Integer(i),
                    None => SqlValue::Real(n.as_f64().unwrap_or(0.0)),
                }),
                Value::String(s) => Some(SqlValue::Text(s)),
                other => Some(SqlValue::Text(other.to_string())),
            };
            match v {
                None => tx
                    .prepare_cached("DELETE FROM _extdata WHERE entity = ?1 AND record = ?2 AND name = ?3")?
                    .execute(rusqlite::params![entity.name, id, name])?,
                Some(v) => tx
                    .prepare_cached("INSERT OR REPLACE INTO _extdata (entity, record, name, value) VALUES (?1, ?2, ?3, ?4)")?
                    .execute(rusqlite::params![entity.name, id, name, v])?,
            };
        }
    }
    if let Some(tags) = side.tags {
        tx.prepare_cached("DELETE FROM _tags WHERE entity = ?1 AND record = ?2")?
            .execute(rusqlite::params![entity.name, id])?;
        for t in tags {
            add_tag(tx, entity, id, &t)?;
        }
    }
    for t in side.add_tags {
        add_tag(tx, entity, id, &t)?;
    }
    for t in side.remove_tags {
        tx.prepare_cached("DELETE FROM _tags WHERE entity = ?1 AND record = ?2 AND tag = ?3")?
            .execute(rusqlite::params![entity.name, id, t])?;
    }
    Ok(())
}

fn add_tag(tx: &Transaction<'_>, entity: &Entity, id: i64, tag: &str) -> ApiResult<()> {
    tx.prepare_cached("INSERT OR IGNORE INTO _tags (entity, record, tag) VALUES (?1, ?2, ?3)")?
        .execute(rusqlite::params![entity.name, id, tag])?;
    Ok(())
}
