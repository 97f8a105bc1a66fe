//! The seed data: deterministic, every enum value, the awkward strings.

mod common;

use std::collections::BTreeSet;

use serde_json::Value;
use zeyos_schema::Semantic;
use zeyos_sim::SimConfig;

#[tokio::test]
async fn same_seed_same_data() {
    let a = zeyos_sim::start(SimConfig {
        scale: 15,
        seed: 42,
        ..Default::default()
    })
    .await
    .unwrap();
    let b = zeyos_sim::start(SimConfig {
        scale: 15,
        seed: 42,
        ..Default::default()
    })
    .await
    .unwrap();
    let c = zeyos_sim::start(SimConfig {
        scale: 15,
        seed: 43,
        ..Default::default()
    })
    .await
    .unwrap();
    let mut differs = false;
    for e in &zeyos_schema::schema().entities {
        assert_eq!(a.rows(&e.name), b.rows(&e.name), "{}", e.name);
        differs |= a.rows(&e.name) != c.rows(&e.name);
    }
    assert!(differs, "another seed gives other data");
    // Composite columns and side tables are deterministic too.
    let dump = |p: std::path::PathBuf| {
        let conn = rusqlite::Connection::open(p).unwrap();
        let items: Vec<Option<String>> = conn
            .prepare("SELECT items FROM transactions ORDER BY ID")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let ext: Vec<(String, i64, String)> = conn
            .prepare("SELECT entity, record, name FROM _extdata ORDER BY 1, 2, 3")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        (items, ext)
    };
    assert_eq!(dump(a.db_path()), dump(b.db_path()));
}

#[tokio::test]
async fn every_enum_value_and_awkward_strings() {
    let sim = zeyos_sim::start(SimConfig {
        scale: 30,
        ..Default::default()
    })
    .await
    .unwrap();
    for e in &zeyos_schema::schema().entities {
        let rows = sim.rows(&e.name);
        for f in e.fields.iter().filter(|f| f.semantic == Semantic::Enum) {
            let seen: BTreeSet<i64> = rows.iter().filter_map(|r| r[&f.name].as_i64()).collect();
            for m in &f.members {
                assert!(
                    seen.contains(&m.value),
                    "{}.{} never has {} ({})",
                    e.name,
                    f.name,
                    m.value,
                    m.name
                );
            }
        }
    }
    let strings: Vec<String> = ["accounts", "contacts", "transactions", "notes"]
        .iter()
        .flat_map(|e| sim.rows(e))
        .flat_map(|r| r.into_values())
        .filter_map(|v| match v {
            Value::String(s) => Some(s),
            _ => None,
        })
        .collect();
    for needle in ["'", "%", "_", "\\", "ö", "\""] {
        assert!(
            strings.iter().any(|s| s.contains(needle)),
            "no string contains {needle:?}"
        );
    }
    assert!(strings.iter().any(String::is_empty), "some empty strings");
    let contacts = sim.rows("contacts");
    assert!(contacts.iter().any(|r| r["firstname"].is_null()));
    assert!(contacts.iter().any(|r| r["birthdate"].is_null()));
    // Dates are midnight UTC; time stamps span several years.
    for r in &contacts {
        if let Some(d) = r["birthdate"].as_i64() {
            assert_eq!(d.rem_euclid(86_400), 0);
        }
    }
    let years: BTreeSet<i64> = sim
        .rows("transactions")
        .iter()
        .map(|r| 1970 + r["creationdate"].as_i64().unwrap() / 31_557_600)
        .collect();
    assert!(years.len() >= 8, "{years:?}");
    // Relations point to existing rows.
    let accounts = sim.rows("accounts").len() as i64;
    for t in sim.rows("transactions") {
        let a = t["account"].as_i64().unwrap();
        assert!((1..=accounts).contains(&a));
    }
}

#[tokio::test]
async fn file_database_is_reused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sim.sqlite");
    let api = common::start_with(SimConfig {
        scale: 5,
        db: Some(path.clone()),
        ..Default::default()
    })
    .await;
    let seeded = api.sim.rows("accounts").len();
    let created = api
        .create("accounts", serde_json::json!({"lastname": "Persisted"}))
        .await;
    let token = api.token.clone();
    api.sim.shutdown().await;
    // Reopen: no reseeding, the record and the token survive.
    let sim = zeyos_sim::start(SimConfig {
        scale: 500,
        db: Some(path),
        ..Default::default()
    })
    .await
    .unwrap();
    let rows = sim.rows("accounts");
    assert_eq!(rows.len(), seeded + 1);
    assert_eq!(rows.last().unwrap()["ID"], created["ID"]);
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http();
    let req = http::Request::builder()
        .method("GET")
        .uri(format!("{}/accounts/1", sim.api_url()))
        .header("authorization", format!("Bearer {token}"))
        .body(http_body_util::Full::new(bytes::Bytes::new()))
        .unwrap();
    let res: http::Response<hyper::body::Incoming> = client.request(req).await.unwrap();
    assert_eq!(res.status(), 200);
}
