//! Executing a list or count request: SELECT with joins, filter, search, sort,
//! DISTINCT, LIMIT/OFFSET, then expansion of composite fields.

use rusqlite::types::Value as SqlValue;
use rusqlite::Connection;
use serde_json::{Map, Value};
use zeyos_schema::Entity;

use super::fields::FieldRef;
use super::request::ListRequest;
use super::{filter, pattern, Sql};
use crate::db::records;
use crate::error::{ApiError, ApiResult};
use crate::model::{ident, scalar_fields, searchable_fields, ColKind};

/// One output column.
struct OutCol {
    key: String,
    path: String,
    kind: Option<ColKind>,
    expand: bool,
}

/// The WHERE condition of a request: filter AND every search term.
fn condition(entity: &Entity, req: &ListRequest, sql: &mut Sql) -> ApiResult<String> {
    let mut cond = filter::compile(entity, &req.filter, sql)?;
    if let Some(q) = &req.query {
        let cols: Vec<String> = searchable_fields(entity)
            .map(|f| format!("t.{}", ident(&f.name)))
            .collect();
        for term in q.split_whitespace() {
            let p = sql.bind(SqlValue::Text(pattern::contains_ci(term)));
            let any = if cols.is_empty() {
                "0".to_string()
            } else {
                cols.iter()
                    .map(|c| format!("zs_match({c}, {p})"))
                    .collect::<Vec<_>>()
                    .join(" OR ")
            };
            cond = format!("{cond} AND ({any})");
        }
    }
    Ok(cond)
}

/// SQLite binds at most 32766 parameters per statement; beyond that a
/// request is a 400 rather than a database error.
fn check_params(sql: &Sql) -> ApiResult<()> {
    if sql.params.len() > 32_000 {
        return Err(ApiError::bad(format!(
            "request has too many values ({}); the limit is 32000",
            sql.params.len()
        )));
    }
    Ok(())
}

/// Runs a `count` request: `{"count": n}`.
pub fn count(conn: &Connection, entity: &Entity, req: &ListRequest) -> ApiResult<Value> {
    let mut sql = Sql::default();
    let cond = condition(entity, req, &mut sql)?;
    check_params(&sql)?;
    let text = format!(
        "SELECT COUNT(*) FROM {} AS t{} WHERE {cond}",
        ident(&entity.name),
        sql.join_clauses()
    );
    let n: i64 = conn
        .prepare(&text)?
        .query_row(rusqlite::params_from_iter(sql.params.iter()), |r| r.get(0))?;
    let mut m = Map::new();
    m.insert("count".into(), Value::from(n));
    Ok(Value::Object(m))
}

/// Runs a list request (without `count`), handing each record to `emit`
/// as SQLite produces it, so that a caller can send the first records
/// while later ones are still being read. Errors in the request itself
/// (unknown fields, bad filters) come before the first record; `emit`'s
/// own error stops the scan and is returned.
pub fn for_each(
    conn: &Connection,
    entity: &Entity,
    req: &ListRequest,
    emit: &mut dyn FnMut(Map<String, Value>) -> ApiResult<()>,
) -> ApiResult<()> {
    let mut sql = Sql::default();
    // Output columns.
    let mut cols = Vec::new();
    match &req.fields {
        Some(list) => {
            for (key, path) in list {
                let fref = FieldRef::resolve(entity, path)?;
                let kind = fref.kind();
                cols.push(OutCol {
                    key: key.clone(),
                    path: path.clone(),
                    kind,
                    expand: kind.is_some_and(ColKind::is_composite)
                        && req.expand.iter().any(|e| e == path || e == key),
                });
            }
        }
        None => {
            for f in scalar_fields(entity) {
                cols.push(OutCol {
                    key: f.name.clone(),
                    path: f.name.clone(),
                    kind: Some(ColKind::of(f)),
                    expand: false,
                });
            }
            // Without a field list, expanded composites are added.
            for e in &req.expand {
                let f = entity.field(e);
                if let Some(f) = f.filter(|f| ColKind::of(f).is_composite()) {
                    cols.push(OutCol {
                        key: f.name.clone(),
                        path: f.name.clone(),
                        kind: Some(ColKind::of(f)),
                        expand: true,
                    });
                }
            }
        }
    }
    for e in &req.expand {
        // Expanding something unknown is an error; expanding a scalar is a no-op.
        let known = FieldRef::resolve(entity, e).is_ok() || cols.iter().any(|c| &c.key == e);
        if !known {
            return Err(ApiError::bad(format!("Unknown field '{e}' in expand")));
        }
    }

    let select: Vec<String> = cols
        .iter()
        .map(|c| FieldRef::resolve(entity, &c.path).map(|f| f.expr(entity, &mut sql)))
        .collect::<ApiResult<_>>()?;
    let cond = condition(entity, req, &mut sql)?;

    let mut order = Vec::new();
    for key in &req.sort {
        let (desc, path) = match key.strip_prefix('-') {
            Some(p) => (true, p),
            None => (false, key.strip_prefix('+').unwrap_or(key)),
        };
        let path = path.trim();
        if path.is_empty() {
            return Err(ApiError::bad("Empty field name in sort"));
        }
        let fref = FieldRef::resolve(entity, path)?;
        if req.distinct && !cols.iter().any(|c| c.path == path) {
            return Err(ApiError::bad(format!(
                "for distinct results, sort field '{path}' must be selected"
            )));
        }
        let expr = fref.expr(entity, &mut sql);
        order.push(if desc {
            format!("{expr} DESC NULLS FIRST")
        } else {
            format!("{expr} ASC NULLS LAST")
        });
    }
    if req.distinct {
        // A deterministic order for the rest: every selected column.
        for i in 1..=select.len() {
            order.push(format!("{i} ASC NULLS LAST"));
        }
    } else {
        order.push("t.\"ID\" ASC".into());
    }
    check_params(&sql)?;
    let limit = sql.bind(SqlValue::Integer(i64::from(req.limit)));
    let offset = sql.bind(SqlValue::Integer(req.offset.min(i64::MAX as u64) as i64));
    let text = format!(
        "SELECT {}{} FROM {} AS t{} WHERE {cond} ORDER BY {} LIMIT {limit} OFFSET {offset}",
        if req.distinct { "DISTINCT " } else { "" },
        select.join(", "),
        ident(&entity.name),
        sql.join_clauses(),
        order.join(", ")
    );
    tracing::debug!(sql = %text, "list");
    let mut stmt = conn.prepare(&text)?;
    let mut rows = stmt.query(rusqlite::params_from_iter(sql.params.iter()))?;
    while let Some(row) = rows.next()? {
        let mut m = Map::with_capacity(cols.len());
        for (i, c) in cols.iter().enumerate() {
            let v = records::to_json(c.kind, row.get_ref(i)?);
            let v = if c.expand {
                records::expand(conn, c.kind, v)?
            } else {
                v
            };
            m.insert(c.key.clone(), v);
        }
        emit(m)?;
    }
    Ok(())
}
