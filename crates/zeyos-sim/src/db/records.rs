//! Reading records and turning SQL values into API JSON.
//!
//! Output rules (shared by list, get, writes and the test oracle): integers
//! are JSON integers, `number` fields JSON floats, strings strings, NULL
//! null. Composite fields unexpanded are their stored form (JSON text as a
//! string, a bin file as its ID); expanded they are parsed JSON and
//! `{"content": base64}` respectively.

use base64::Engine;
use rusqlite::types::{Value as SqlValue, ValueRef};
use rusqlite::{Connection, OptionalExtension};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use zeyos_schema::Entity;

use crate::error::ApiResult;
use crate::model::{ident, ColKind};

/// Converts one stored value to JSON. `kind` is `None` for extdata, whose
/// values keep whatever SQLite type they were stored with.
pub fn to_json(kind: Option<ColKind>, v: ValueRef<'_>) -> Value {
    match (kind, v) {
        (_, ValueRef::Null) => Value::Null,
        (Some(ColKind::Real), ValueRef::Integer(i)) => float(i as f64),
        (_, ValueRef::Integer(i)) => Value::from(i),
        (Some(ColKind::Integer | ColKind::Binfile), ValueRef::Real(f)) if f.fract() == 0.0 => {
            Value::from(f as i64)
        }
        (_, ValueRef::Real(f)) => float(f),
        (_, ValueRef::Text(t)) => Value::String(String::from_utf8_lossy(t).into_owned()),
        (_, ValueRef::Blob(b)) => {
            Value::String(base64::engine::general_purpose::STANDARD.encode(b))
        }
    }
}

fn float(f: f64) -> Value {
    serde_json::Number::from_f64(f)
        .map(Value::Number)
        .unwrap_or(Value::Null)
}

/// Expands a composite value: JSON text is parsed (left as the raw string if
/// it is not valid JSON), a bin file ID becomes `{"content": base64}`.
pub fn expand(conn: &Connection, kind: Option<ColKind>, v: Value) -> ApiResult<Value> {
    Ok(match (kind, v) {
        (Some(ColKind::Json), Value::String(s)) => {
            serde_json::from_str(&s).unwrap_or(Value::String(s))
        }
        (Some(ColKind::Binfile), Value::Number(n)) => match n.as_i64() {
            Some(id) => binfile_content(conn, id)?
                .map(|bytes| {
                    let mut m = Map::new();
                    m.insert(
                        "content".into(),
                        Value::String(base64::engine::general_purpose::STANDARD.encode(bytes)),
                    );
                    Value::Object(m)
                })
                .unwrap_or(Value::Null),
            None => Value::Null,
        },
        (_, v) => v,
    })
}

/// The stored bytes of a bin file.
pub fn binfile_content(conn: &Connection, id: i64) -> ApiResult<Option<Vec<u8>>> {
    Ok(conn
        .prepare_cached("SELECT \"_content\" FROM \"binfiles\" WHERE \"ID\" = ?1")?
        .query_row([id], |r| r.get::<_, Option<Vec<u8>>>(0))
        .optional()?
        .flatten())
}

/// One stored record with every column, in schema order.
pub struct Record {
    /// Raw column values, parallel to `entity.fields`.
    pub values: Vec<SqlValue>,
    /// The strong entity tag, quoted, e.g. `"3f2a..."`.
    pub etag: String,
}

/// Reads a record by ID with its entity tag; `None` if it does not exist.
pub fn load(conn: &Connection, entity: &Entity, id: i64) -> ApiResult<Option<Record>> {
    let cols: Vec<String> = entity.fields.iter().map(|f| ident(&f.name)).collect();
    let sql = format!(
        "SELECT {} FROM {} WHERE \"ID\" = ?1",
        cols.join(", "),
        ident(&entity.name)
    );
    let values = conn
        .prepare_cached(&sql)?
        .query_row([id], |row| {
            (0..cols.len())
                .map(|i| row.get::<_, SqlValue>(i))
                .collect::<rusqlite::Result<Vec<_>>>()
        })
        .optional()?;
    let Some(values) = values else {
        return Ok(None);
    };
    let etag = etag(conn, entity, id, &values)?;
    Ok(Some(Record { values, etag }))
}

/// A strong entity tag over everything that makes up the record: every
/// column (composites included), its extdata and its tags. Any change to
/// any of them changes the tag.
fn etag(conn: &Connection, entity: &Entity, id: i64, values: &[SqlValue]) -> ApiResult<String> {
    let mut h = Sha256::new();
    h.update(entity.name.as_bytes());
    for v in values {
        hash_value(&mut h, v);
    }
    if entity.extdata {
        for (name, value) in extdata_pairs(conn, &entity.name, id)? {
            h.update(b"\x01x");
            h.update(name.as_bytes());
            hash_value(&mut h, &value);
        }
    }
    if entity.tags {
        for tag in tags(conn, &entity.name, id)? {
            h.update(b"\x01t");
            h.update(tag.as_bytes());
        }
    }
    let digest = h.finalize();
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    Ok(format!("\"{hex}\""))
}

fn hash_value(h: &mut Sha256, v: &SqlValue) {
    match v {
        SqlValue::Null => h.update(b"\x00n"),
        SqlValue::Integer(i) => {
            h.update(b"\x00i");
            h.update(i.to_le_bytes());
        }
        SqlValue::Real(f) => {
            h.update(b"\x00r");
            h.update(f.to_le_bytes());
        }
        SqlValue::Text(s) => {
            h.update(b"\x00s");
            h.update((s.len() as u64).to_le_bytes());
            h.update(s.as_bytes());
        }
        SqlValue::Blob(b) => {
            h.update(b"\x00b");
            h.update((b.len() as u64).to_le_bytes());
            h.update(b);
        }
    }
}

/// A record as the API returns it: every scalar field, plus the composite
/// fields named in `expand` (expanded).
pub fn render(
    conn: &Connection,
    entity: &Entity,
    record: &Record,
    expand: &[String],
) -> ApiResult<Map<String, Value>> {
    let mut out = Map::new();
    for (field, value) in entity.fields.iter().zip(&record.values) {
        let kind = ColKind::of(field);
        let json = to_json(Some(kind), value_ref(value));
        if !kind.is_composite() {
            out.insert(field.name.clone(), json);
        } else if expand.iter().any(|e| e == &field.name) {
            out.insert(field.name.clone(), self::expand(conn, Some(kind), json)?);
        }
    }
    Ok(out)
}

fn value_ref(v: &SqlValue) -> ValueRef<'_> {
    ValueRef::from(v)
}

/// The extdata of a record, sorted by name.
pub fn extdata_pairs(
    conn: &Connection,
    entity: &str,
    id: i64,
) -> ApiResult<Vec<(String, SqlValue)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT name, value FROM _extdata WHERE entity = ?1 AND record = ?2 ORDER BY name",
    )?;
    let rows = stmt
        .query_map(rusqlite::params![entity, id], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, SqlValue>(1)?))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// The extdata of a record as the pseudo field `extdata`.
pub fn extdata_json(conn: &Connection, entity: &str, id: i64) -> ApiResult<Value> {
    let mut m = Map::new();
    for (name, value) in extdata_pairs(conn, entity, id)? {
        m.insert(name, to_json(None, value_ref(&value)));
    }
    Ok(Value::Object(m))
}

/// The tags of a record, sorted (binary order).
pub fn tags(conn: &Connection, entity: &str, id: i64) -> ApiResult<Vec<String>> {
    let mut stmt = conn
        .prepare_cached("SELECT tag FROM _tags WHERE entity = ?1 AND record = ?2 ORDER BY tag")?;
    let rows = stmt
        .query_map(rusqlite::params![entity, id], |r| r.get::<_, String>(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// Every row of an entity with every scalar field, ordered by ID: the test
/// oracle behind [`crate::SimHandle::rows`].
pub fn all_rows(conn: &Connection, entity: &Entity) -> ApiResult<Vec<Map<String, Value>>> {
    let fields: Vec<_> = crate::model::scalar_fields(entity).collect();
    let cols: Vec<String> = fields.iter().map(|f| ident(&f.name)).collect();
    let sql = format!(
        "SELECT {} FROM {} ORDER BY \"ID\"",
        cols.join(", "),
        ident(&entity.name)
    );
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt
        .query_map([], |row| {
            let mut m = Map::new();
            for (i, f) in fields.iter().enumerate() {
                m.insert(
                    f.name.clone(),
                    to_json(Some(ColKind::of(f)), row.get_ref(i)?),
                );
            }
            Ok(m)
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}
