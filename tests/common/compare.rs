//! Comparing the gateway's answers with the oracle's: reading every page
//! of a collection and finding the first difference.

use serde_json::{Map, Value as Json};

use super::oracle::{Answer, Oracle};
use super::{basic, Env};

/// What the gateway answered, all pages together.
pub enum Got {
    Rows {
        rows: Vec<Map<String, Json>>,
        count: Option<u64>,
        pages: usize,
    },
    Count(u64),
}

pub async fn fetch(env: &Env, url: &str, page: Option<u64>) -> Result<Got, String> {
    let mut headers = vec![("authorization", basic("demo", "demo"))];
    if let Some(n) = page {
        headers.push(("prefer", format!("odata.maxpagesize={n}")));
    }
    let r = env.get_with(url, &headers).await;
    if r.status != 200 {
        return Err(format!("status {}: {}", r.status, r.text()));
    }
    let path = url.split('?').next().unwrap_or("");
    if path.ends_with("/$count") {
        return r
            .text()
            .trim()
            .parse()
            .map(Got::Count)
            .map_err(|e| format!("/$count body {:?}: {e}", r.text()));
    }
    let mut body: Json = serde_json::from_slice(&r.body).map_err(|e| e.to_string())?;
    let count = body.get("@odata.count").and_then(Json::as_u64);
    let mut rows = Vec::new();
    let mut pages = 1;
    loop {
        let Some(Json::Array(value)) = body.get_mut("value").map(Json::take) else {
            return Err(format!("no value array: {body}"));
        };
        for v in value {
            match v {
                Json::Object(o) => rows.push(o),
                other => return Err(format!("entity is not an object: {other}")),
            }
        }
        let Some(next) = body.get("@odata.nextLink").and_then(Json::as_str) else {
            break;
        };
        if let Some(n) = page {
            if rows.len() as u64 % n != 0 {
                return Err(format!(
                    "a page before a nextLink has {} rows, not a multiple of {n}",
                    rows.len()
                ));
            }
        }
        pages += 1;
        if pages > 5000 {
            return Err("more than 5000 pages".into());
        }
        let r = env.get_with(next, &headers).await;
        if r.status != 200 {
            return Err(format!(
                "page {pages} ({next}): status {}: {}",
                r.status,
                r.text()
            ));
        }
        body = serde_json::from_slice(&r.body).map_err(|e| e.to_string())?;
        if body.get("@odata.count").is_some()
            && body.get("@odata.count").and_then(Json::as_u64) != count
        {
            return Err(format!("page {pages} has a different @odata.count"));
        }
    }
    Ok(Got::Rows { rows, count, pages })
}

/// JSON values equal as OData clients read them (numbers by value).
pub fn same(a: &Json, b: &Json) -> bool {
    match (a, b) {
        (Json::Number(x), Json::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(x), Some(y)) => x == y,
            _ => x.as_f64() == y.as_f64(),
        },
        (Json::Array(x), Json::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        (Json::Object(x), Json::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

fn row_id(row: &Map<String, Json>) -> String {
    row.get("Id").map_or("?".into(), |v| v.to_string())
}

/// The first difference between the gateway's rows and the oracle's.
pub fn diff(expected: &Answer, got: &Got, want_count: bool) -> Option<String> {
    match (expected, got) {
        (Answer::Count(n), Got::Count(m)) => {
            (n != m).then(|| format!("/$count: expected {n}, got {m}"))
        }
        (
            Answer::Collection {
                rows,
                keys,
                count,
                compare,
                expand,
            },
            Got::Rows {
                rows: got,
                count: got_count,
                pages,
            },
        ) => {
            if want_count && *got_count != Some(*count) {
                return Some(format!("@odata.count: expected {count}, got {got_count:?}"));
            }
            for (i, (want, have)) in rows.iter().zip(got).enumerate() {
                let have_id = have.get("Id").and_then(Json::as_i64);
                if have_id != Some(keys[i]) {
                    return Some(format!(
                        "row {i} (of {} expected, {} received in {pages} pages): expected Id {}, got {}\n      expected {}\n      got      {}",
                        rows.len(),
                        got.len(),
                        keys[i],
                        row_id(have),
                        Json::Object(want.clone()),
                        Json::Object(have.clone())
                    ));
                }
                for name in compare {
                    let w = want.get(name).unwrap_or(&Json::Null);
                    match have.get(name) {
                        Some(h) if same(w, h) => {}
                        h => {
                            return Some(format!(
                                "row {i} (Id {}): {name}: expected {w}, got {}",
                                keys[i],
                                h.map_or("nothing".into(), |h| h.to_string())
                            ))
                        }
                    }
                }
                for (name, many) in expand {
                    let w = want.get(name).unwrap_or(&Json::Null);
                    let h = have.get(name).unwrap_or(&Json::Null);
                    if let Some(d) = diff_expanded(w, h, *many) {
                        return Some(format!("row {i} (Id {}): {name}: {d}", keys[i]));
                    }
                }
            }
            if rows.len() != got.len() {
                let extra = got
                    .get(rows.len())
                    .map(|r| format!("; first extra row: {}", Json::Object(r.clone())))
                    .or_else(|| {
                        rows.get(got.len())
                            .map(|r| format!("; first missing row: {}", Json::Object(r.clone())))
                    })
                    .unwrap_or_default();
                return Some(format!(
                    "expected {} rows, got {} (in {pages} pages){extra}",
                    rows.len(),
                    got.len()
                ));
            }
            None
        }
        (Answer::Count(_), Got::Rows { .. }) => Some("expected a count, got rows".into()),
        (Answer::Collection { .. }, Got::Count(_)) => Some("expected rows, got a count".into()),
    }
}

fn diff_expanded(want: &Json, have: &Json, many: bool) -> Option<String> {
    let _ = many;
    (!covers(want, have)).then(|| format!("expected {want}, got {have}"))
}

/// Whether `have` holds everything `want` does (objects may have more
/// keys: annotations, properties the oracle does not compare). An
/// `@odata.id` the oracle writes relative to the service root
/// (`Contacts(3)`) matches the gateway's absolute one.
fn covers(want: &Json, have: &Json) -> bool {
    match (want, have) {
        // A reference holds its id and nothing else.
        (Json::Object(w), Json::Object(h)) if w.contains_key("@odata.id") && h.len() != w.len() => {
            false
        }
        (Json::Object(w), Json::Object(h)) => w.iter().all(|(k, v)| match (k.as_str(), v) {
            ("@odata.id", Json::String(id)) => h
                .get(k)
                .and_then(Json::as_str)
                .is_some_and(|x| x.ends_with(&format!("/{id}"))),
            _ => h.get(k).is_some_and(|x| covers(v, x)),
        }),
        (Json::Array(w), Json::Array(h)) => {
            w.len() == h.len() && w.iter().zip(h).all(|(a, b)| covers(a, b))
        }
        _ => same(want, have),
    }
}

/// The oracle over the sim's data as it is once the demo user has logged in
/// (a login changes `users.lastlogin`; the gateway then caches the token).
/// Besides `SimHandle::rows` (the scalar fields), the loader reads the
/// composite JSON fields (line items, objects) and extdata (as
/// `extdata.NAME`, the gateway's field paths) straight from the sim's
/// SQLite file.
pub async fn oracle_for(env: &Env) -> Oracle {
    let r = env.get("/odata/Users?$top=1").await;
    assert_eq!(r.status, 200, "{}", r.text());
    let conn = rusqlite::Connection::open_with_flags(
        env.sim.db_path(),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .expect("the sim's database opens read-only");
    Oracle::new(
        env.gateway
            .services
            .iter()
            .map(|s| s.model.clone())
            .collect(),
        |e| {
            let mut rows = env.sim.rows(e);
            add_composites_and_extdata(&conn, e, &mut rows);
            rows
        },
    )
}

fn add_composites_and_extdata(
    conn: &rusqlite::Connection,
    entity: &str,
    rows: &mut [Map<String, Json>],
) {
    use zeyos_schema::FieldType as F;
    let Some(schema) = zeyos_schema::schema().entity(entity) else {
        return;
    };
    let index: std::collections::HashMap<i64, usize> = rows
        .iter()
        .enumerate()
        .filter_map(|(i, r)| r.get("ID").and_then(Json::as_i64).map(|id| (id, i)))
        .collect();
    let composites: Vec<&str> = schema
        .fields
        .iter()
        .filter(|f| {
            matches!(
                f.field_type,
                F::Items | F::Object | F::Array | F::Json | F::Meta
            )
        })
        .map(|f| f.name.as_str())
        .collect();
    for field in composites {
        let sql = format!("SELECT \"ID\", \"{field}\" FROM \"{entity}\"");
        let mut stmt = conn.prepare(&sql).expect("composite column");
        let pairs = stmt
            .query_map([], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, Option<String>>(1)?))
            })
            .expect("composite query")
            .collect::<rusqlite::Result<Vec<_>>>()
            .expect("composite rows");
        for (id, text) in pairs {
            let value = match text {
                Some(t) => serde_json::from_str(&t).expect("stored composites are JSON"),
                None => Json::Null,
            };
            if let Some(i) = index.get(&id) {
                rows[*i].insert(field.to_string(), value);
            }
        }
    }
    if schema.extdata {
        let mut stmt = conn
            .prepare("SELECT record, name, value FROM _extdata WHERE entity = ?1")
            .expect("extdata table");
        let triples = stmt
            .query_map([entity], |r| {
                let value = match r.get_ref(2)? {
                    rusqlite::types::ValueRef::Integer(n) => Json::from(n),
                    rusqlite::types::ValueRef::Real(f) => Json::from(f),
                    rusqlite::types::ValueRef::Text(t) => {
                        Json::String(String::from_utf8_lossy(t).into_owned())
                    }
                    _ => Json::Null,
                };
                Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, value))
            })
            .expect("extdata query")
            .collect::<rusqlite::Result<Vec<_>>>()
            .expect("extdata rows");
        for (id, name, value) in triples {
            if let Some(i) = index.get(&id) {
                rows[*i].insert(format!("extdata.{name}"), value);
            }
        }
    }
}

/// Prints `what`, how many of `total` cases passed and failed, and every
/// failure: the summary the oracle-backed tests end with.
pub fn report(what: &str, total: usize, failures: &[String]) {
    println!(
        "{what}: {} passed, {} failed",
        total - failures.len(),
        failures.len()
    );
    for f in failures {
        println!("FAIL {f}");
    }
}
