//! Creating, updating and deleting records.
//!
//! Every write runs in one SQLite transaction on the single writer
//! connection: validation happens before anything is written, and any
//! failure rolls the transaction back, so a failed request changes nothing.

use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, Transaction};
use serde_json::{Map, Value};
use zeyos_schema::{Entity, Field, Semantic};

mod side;
mod validate;

use crate::db::records::{self, Record};
use crate::error::{ApiError, ApiResult};
use crate::model::{self, ident};
use side::{apply_side, split_body};
use validate::{check_required, to_sql};

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
