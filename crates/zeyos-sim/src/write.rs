//! Creating, updating and deleting records.
//!
//! Every write runs in one SQLite transaction on the single writer
//! connection: validation happens before anything is written, and any
//! failure rolls the transaction back, so a failed request changes nothing.

use base64::Engine;
use md5::{Digest, Md5};
use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, Transaction};
use serde_json::{Map, Value};
use zeyos_schema::{Entity, Field, FieldType, Semantic};

use crate::db::records::{self, Record};
use crate::error::{ApiError, ApiResult};
use crate::model::{self, ident, ColKind};
use crate::query::filter::type_name;

/// The current time as Unix seconds.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Whether an `If-Match`/`If-None-Match` header value matches `etag`.
/// `*` matches any existing record; `weak` allows `W/` tags to match
/// (If-None-Match uses weak comparison, If-Match strong).
pub fn etag_matches(header: &str, etag: &str, weak: bool) -> bool {
    header
        .split(',')
        .map(str::trim)
        .any(|t| t == "*" || t == etag || (weak && t.strip_prefix("W/").is_some_and(|s| s == etag)))
}

/// The result of a successful write: the rendered record and its ETag.
pub struct Written {
    /// The record as the API returns it.
    pub record: Map<String, Value>,
    /// Its entity tag.
    pub etag: String,
}

/// Extdata and tag changes that accompany a write.
#[derive(Default)]
struct SideChanges {
    extdata: Option<Map<String, Value>>,
    tags: Option<Vec<String>>,
    add_tags: Vec<String>,
    remove_tags: Vec<String>,
}

/// Splits a body into field values and side changes; unknown keys are 400.
fn split_body(
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

/// Converts and validates one field value for storage.
fn to_sql(tx: &Transaction<'_>, field: &Field, value: Value) -> ApiResult<SqlValue> {
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
fn check_required(entity: &Entity, values: &[SqlValue]) -> ApiResult<()> {
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

fn apply_side(tx: &Transaction<'_>, entity: &Entity, id: i64, side: SideChanges) -> ApiResult<()> {
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

fn finish(tx: Transaction<'_>, entity: &Entity, id: i64, expand: &[String]) -> ApiResult<Written> {
    let record = records::load(&tx, entity, id)?
        .ok_or_else(|| ApiError::Internal(format!("{} {id} vanished during write", entity.name)))?;
    let rendered = records::render(&tx, entity, &record, expand)?;
    tx.commit()?;
    Ok(Written {
        record: rendered,
        etag: record.etag,
    })
}

/// `PUT /{entity}`: validates, applies defaults, inserts.
pub fn create(
    conn: &mut Connection,
    entity: &Entity,
    user: i64,
    mut body: Map<String, Value>,
    expand: &[String],
) -> ApiResult<Written> {
    if body.get("ID").is_some_and(|v| !v.is_null()) {
        return Err(ApiError::Conflict("ID Present".into()));
    }
    body.remove("ID");
    let (given, side) = split_body(entity, body)?;
    let tx = conn.transaction()?;
    let now = now();
    let mut values: Vec<Option<SqlValue>> = vec![None; entity.fields.len()];
    for (field, value) in given {
        let idx = field_index(entity, field);
        values[idx] = Some(to_sql(&tx, field, value)?);
    }
    let mut full = Vec::with_capacity(values.len());
    for (field, v) in entity.fields.iter().zip(values) {
        let v = match v {
            Some(v) if field.name != "lastmodified" => v,
            _ if field.semantic == Semantic::Key => SqlValue::Null,
            _ if model::defaults_to_now(field) => SqlValue::Integer(now),
            _ if model::defaults_to_user(field) => SqlValue::Integer(user),
            _ => match &field.default {
                Some(d) => to_sql(&tx, field, d.clone())?,
                None => SqlValue::Null,
            },
        };
        full.push(v);
    }
    check_required(entity, &full)?;
    let cols: Vec<String> = entity.fields.iter().map(|f| ident(&f.name)).collect();
    let ps: Vec<String> = (1..=cols.len()).map(|i| format!("?{i}")).collect();
    let sql = format!(
        "INSERT INTO {} ({}) VALUES ({})",
        ident(&entity.name),
        cols.join(", "),
        ps.join(", ")
    );
    tx.prepare_cached(&sql)?
        .execute(rusqlite::params_from_iter(full.iter()))?;
    let id = tx.last_insert_rowid();
    apply_side(&tx, entity, id, side)?;
    finish(tx, entity, id, expand)
}

fn field_index(entity: &Entity, field: &Field) -> usize {
    entity
        .fields
        .iter()
        .position(|f| std::ptr::eq(f, field))
        .unwrap_or(0)
}

/// `PATCH /{entity}/{ID}`: 404 if missing, 412 if `If-Match` fails, 409 if
/// the body's ID differs; `lastmodified` is always reset.
pub fn update(
    conn: &mut Connection,
    entity: &Entity,
    id: i64,
    if_match: Option<&str>,
    mut body: Map<String, Value>,
    expand: &[String],
) -> ApiResult<Written> {
    let tx = conn.transaction()?;
    let current = load_checked(&tx, entity, id, if_match)?;
    match body.remove("ID") {
        None | Some(Value::Null) => {}
        Some(v) => {
            let same = match &v {
                Value::Number(n) => n.as_i64() == Some(id),
                Value::String(s) => s.trim().parse::<i64>().ok() == Some(id),
                _ => false,
            };
            if !same {
                return Err(ApiError::Conflict(format!(
                    "Non-matching ID: body has {v}, path has {id}"
                )));
            }
        }
    }
    let (given, side) = split_body(entity, body)?;
    let mut full = current.values;
    let mut changed = Vec::new();
    for (field, value) in given {
        if field.semantic == Semantic::Key || field.name == "lastmodified" {
            continue;
        }
        let idx = field_index(entity, field);
        full[idx] = to_sql(&tx, field, value)?;
        changed.push(idx);
    }
    if let Some(idx) = entity.fields.iter().position(|f| f.name == "lastmodified") {
        full[idx] = SqlValue::Integer(now());
        changed.push(idx);
    }
    check_required(entity, &full)?;
    if !changed.is_empty() {
        let sets: Vec<String> = changed
            .iter()
            .enumerate()
            .map(|(n, &i)| format!("{} = ?{}", ident(&entity.fields[i].name), n + 1))
            .collect();
        let sql = format!(
            "UPDATE {} SET {} WHERE \"ID\" = ?{}",
            ident(&entity.name),
            sets.join(", "),
            changed.len() + 1
        );
        let mut params: Vec<&SqlValue> = changed.iter().map(|&i| &full[i]).collect();
        let idv = SqlValue::Integer(id);
        params.push(&idv);
        tx.prepare_cached(&sql)?
            .execute(rusqlite::params_from_iter(params))?;
    }
    apply_side(&tx, entity, id, side)?;
    finish(tx, entity, id, expand)
}

/// `DELETE /{entity}/{ID}`: 404 if missing, 412 if `If-Match` fails. The
/// record's extdata and tags go with it; rows that refer to it are left as
/// they are (their joins then yield nulls).
pub fn delete(
    conn: &mut Connection,
    entity: &Entity,
    id: i64,
    if_match: Option<&str>,
) -> ApiResult<()> {
    let tx = conn.transaction()?;
    load_checked(&tx, entity, id, if_match)?;
    tx.execute(
        &format!("DELETE FROM {} WHERE \"ID\" = ?1", ident(&entity.name)),
        [id],
    )?;
    tx.execute(
        "DELETE FROM _extdata WHERE entity = ?1 AND record = ?2",
        rusqlite::params![entity.name, id],
    )?;
    tx.execute(
        "DELETE FROM _tags WHERE entity = ?1 AND record = ?2",
        rusqlite::params![entity.name, id],
    )?;
    tx.commit()?;
    Ok(())
}

fn load_checked(
    tx: &Transaction<'_>,
    entity: &Entity,
    id: i64,
    if_match: Option<&str>,
) -> ApiResult<Record> {
    let current = records::load(tx, entity, id)?
        .ok_or_else(|| ApiError::NotFound(format!("{} {id} does not exist", entity.name)))?;
    if let Some(h) = if_match {
        if !etag_matches(h, &current.etag, false) {
            return Err(ApiError::PreconditionFailed);
        }
    }
    Ok(current)
}
