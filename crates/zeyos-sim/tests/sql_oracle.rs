//! The sim's filter results compared with hand-written SQL (explicit
//! `IS NULL`, GLOB for case-sensitive patterns, ...) over the same SQLite
//! file.

mod common;

use rusqlite::{Connection, OpenFlags};
use serde_json::{json, Value};

fn sql_ids(conn: &Connection, table: &str, cond: &str) -> Vec<i64> {
    let sql = format!("SELECT \"ID\" FROM \"{table}\" WHERE {cond} ORDER BY \"ID\"");
    let mut stmt = conn.prepare(&sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
    stmt.query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<Vec<i64>, _>>()
        .unwrap()
}

#[tokio::test]
async fn filters_match_direct_sql() {
    let api = common::start(100).await;
    let conn =
        Connection::open_with_flags(api.sim.db_path(), OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let cases: Vec<(&str, Value, &str)> = vec![
        // Equality and NULLs.
        ("contacts", json!({"country": "DE"}), "country = 'DE'"),
        ("contacts", json!({"firstname": null}), "firstname IS NULL"),
        ("contacts", json!({"firstname": {"=": null}}), "firstname IS NULL"),
        ("contacts", json!({"firstname": {"!=": null}}), "firstname IS NOT NULL"),
        ("contacts", json!({"firstname": {"!=": "Anna"}}), "firstname IS NOT NULL AND firstname <> 'Anna'"),
        ("contacts", json!({"firstname": {"<>": "Anna"}}), "firstname IS NOT NULL AND firstname <> 'Anna'"),
        ("contacts", json!({"region": "BY"}), "region = 'BY'"),
        ("contacts", json!({"description": ""}), "description = ''"),
        // Ordering comparisons (binary collation), nulls never match.
        ("contacts", json!({"lastname": {"<": "M"}}), "lastname IS NOT NULL AND lastname < 'M'"),
        ("contacts", json!({"lastname": {">=": "Ö"}}), "lastname IS NOT NULL AND lastname >= 'Ö'"),
        ("contacts", json!({"birthdate": {"<": 0}}), "birthdate IS NOT NULL AND birthdate < 0"),
        ("contacts", json!({"birthdate": {">=": 315532800, "<": 631152000}}), "birthdate >= 315532800 AND birthdate < 631152000"),
        ("transactions", json!({"netamount": {">": 5000.5}}), "netamount > 5000.5"),
        ("transactions", json!({"discount": {"<=": 10}}), "discount IS NOT NULL AND discount <= 10"),
        ("transactions", json!({"discount": null}), "discount IS NULL"),
        ("transactions", json!({"contract": {"!=": 3}}), "contract IS NOT NULL AND contract <> 3"),
        // IN / !IN with and without NULLs.
        ("transactions", json!({"status": {"IN": [1, 4, 20]}}), "status IN (1, 4, 20)"),
        ("transactions", json!({"status": {"!IN": [1, 4, 20]}}), "status NOT IN (1, 4, 20)"),
        ("transactions", json!({"contract": {"IN": [1, 2, null]}}), "contract = 1 OR contract = 2"),
        ("transactions", json!({"contract": {"!IN": [1, 2]}}), "contract IS NOT NULL AND contract NOT IN (1, 2)"),
        ("transactions", json!({"contract": {"!IN": [1, null]}}), "0"),
        ("contacts", json!({"country": {"IN": ["DE", "AT", "GB"]}}), "country IN ('DE', 'AT', 'GB')"),
        // LIKE / ILIKE.
        ("contacts", json!({"lastname": {"~~": "M%"}}), "lastname GLOB 'M*'"),
        ("contacts", json!({"lastname": {"~~*": "m%"}}), "lastname GLOB 'M*' OR lastname GLOB 'm*'"),
        ("contacts", json!({"lastname": {"!~~": "M%"}}), "lastname IS NOT NULL AND NOT lastname GLOB 'M*'"),
        ("contacts", json!({"lastname": {"~~": "%\\%%"}}), "instr(lastname, '%') > 0"),
        ("contacts", json!({"lastname": {"~~": "%\\_%"}}), "instr(lastname, '_') > 0"),
        ("contacts", json!({"lastname": {"~~": "%\\\\%"}}), "instr(lastname, '\\') > 0"),
        ("contacts", json!({"description": {"~~": "%'%"}}), "instr(description, '''') > 0"),
        ("contacts", json!({"lastname": {"~~": "_____"}}), "length(lastname) = 5"),
        ("contacts", json!({"city": {"~~*": "KÖLN"}}), "city = 'Köln'"),
        // Regular expressions.
        ("contacts", json!({"postalcode": {"~": "^[0-9]+$"}}), "postalcode <> '' AND postalcode NOT GLOB '*[^0-9]*'"),
        ("contacts", json!({"postalcode": {"!~": "^[0-9]+$"}}), "postalcode GLOB '*[^0-9]*'"),
        ("contacts", json!({"city": {"~": "ü"}}), "instr(city, 'ü') > 0"),
        // Groups.
        (
            "contacts",
            json!({"2": ["OR", {"country": "AT"}, {"firstname": null}]}),
            "country = 'AT' OR firstname IS NULL",
        ),
        (
            "contacts",
            json!({"country": "DE", "3": ["NOT", {"firstname": "Anna"}]}),
            "country = 'DE' AND firstname IS NOT NULL AND firstname <> 'Anna'",
        ),
        (
            "contacts",
            json!({"4": ["NOT", {"5": ["OR", {"region": "BY"}, {"region": "NW"}]}]}),
            "region IS NOT NULL AND region NOT IN ('BY', 'NW')",
        ),
        (
            "transactions",
            json!({"2": ["AND", {"type": {"<": 5}}, ["OR", {"discount": {">": 5}}, {"contract": null}]]}),
            "type < 5 AND ((discount IS NOT NULL AND discount > 5) OR contract IS NULL)",
        ),
        // Joins.
        (
            "accounts",
            json!({"contact.country": {"IN": ["DE", "AT"]}}),
            "contact IN (SELECT \"ID\" FROM contacts WHERE country IN ('DE', 'AT'))",
        ),
        (
            "accounts",
            json!({"assigneduser.name": "Max Mueller"}),
            "assigneduser IN (SELECT \"ID\" FROM users WHERE name = 'Max Mueller')",
        ),
        (
            "accounts",
            json!({"assigneduser.name": null}),
            "assigneduser IS NULL OR assigneduser NOT IN (SELECT \"ID\" FROM users)",
        ),
        // extdata.
        (
            "accounts",
            json!({"extdata.score": {">=": 50}}),
            "\"ID\" IN (SELECT record FROM _extdata WHERE entity = 'accounts' AND name = 'score' AND value >= 50)",
        ),
        (
            "accounts",
            json!({"extdata.nickname": null}),
            "\"ID\" NOT IN (SELECT record FROM _extdata WHERE entity = 'accounts' AND name = 'nickname')",
        ),
    ];
    let mut nonempty = 0;
    for (entity, filter, cond) in &cases {
        let got = api.ids(entity, filter.clone()).await;
        let want = sql_ids(&conn, entity, cond);
        assert_eq!(got, want, "{entity} {filter} vs SQL {cond}");
        if !want.is_empty() {
            nonempty += 1;
        }
    }
    assert!(cases.len() >= 36);
    assert!(
        nonempty >= cases.len() - 3,
        "the data set exercises the filters: {nonempty}/{}",
        cases.len()
    );
}
