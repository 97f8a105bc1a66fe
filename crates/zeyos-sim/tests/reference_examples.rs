//! The ZeyOS reference's own examples, sent as written (the accounts query
//! only gains the comma missing after `"extdata.nickname"`).

mod common;

use http::{Method, StatusCode};
use serde_json::{json, Value};

const ACCOUNTS_QUERY: &str = r#"{
  "fields": {
    "Id": "ID",
    "Name": "lastname",
    "Nickname": "extdata.nickname",
    "Address": "contact.address",
    "Postalcode": "contact.postalcode",
    "Town": "contact.city",
    "SalesAgent": "assigneduser.name"
  },
  "filters": {
    "visibility": 0,
    "contact.country": {"IN": ["DE", "AT", "GB"]},
    2: [
      "OR",
      {"lastmodified": {">": 1524472045}},
      {"contact.lastmodified": {">": 1524472045}}
    ]
  },
  "sort": [
    "+lastname",
    "-contact.country"
  ],
  "limit": 3,
  "offset": 0
}"#;

const COUNT_QUERY: &str = r#"{
  "count": 1,
  "filters": {
    "visibility": 0,
    "contact.country": {"IN": ["DE", "AT", "GB"]},
    2: [
      "OR",
      {"lastmodified": {">": 1524472045}},
      {"contact.lastmodified": {">": 1524472045}}
    ]
  }
}"#;

#[tokio::test]
async fn accounts_query_and_count() {
    let api = common::start(200).await;
    let r = api
        .call_raw(
            Method::POST,
            "/accounts/",
            &[("content-type", "application/json")],
            Some(ACCOUNTS_QUERY),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let rows = r.json();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 3);
    for row in rows {
        assert_eq!(
            row.as_object().unwrap().keys().collect::<Vec<_>>(),
            [
                "Id",
                "Name",
                "Nickname",
                "Address",
                "Postalcode",
                "Town",
                "SalesAgent"
            ]
        );
        assert!(row["Id"].is_i64() && row["Name"].is_string());
        assert!(row["SalesAgent"].is_string() || row["SalesAgent"].is_null());
    }
    // Sorted by name (binary order).
    let names: Vec<&str> = rows.iter().map(|r| r["Name"].as_str().unwrap()).collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);

    // The count request answers {"count": N} for the same filter.
    let r = api
        .call_raw(
            Method::POST,
            "/accounts/",
            &[("content-type", "application/json")],
            Some(COUNT_QUERY),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let count = r.json();
    assert_eq!(count.as_object().unwrap().len(), 1);
    let n = count["count"].as_u64().unwrap();
    // Cross-check with the oracle.
    let contacts = api.sim.rows("contacts");
    let expected = api
        .sim
        .rows("accounts")
        .iter()
        .filter(|a| {
            let c = a["contact"]
                .as_i64()
                .and_then(|id| contacts.iter().find(|c| c["ID"] == json!(id)));
            let country_ok =
                c.is_some_and(|c| matches!(c["country"].as_str(), Some("DE" | "AT" | "GB")));
            let modified = |v: &Value| v.as_i64().is_some_and(|t| t > 1524472045);
            a["visibility"] == json!(0)
                && country_ok
                && (modified(&a["lastmodified"]) || c.is_some_and(|c| modified(&c["lastmodified"])))
        })
        .count() as u64;
    assert_eq!(n, expected);
    assert!(n > 3);
}

#[tokio::test]
async fn form_encoded_contacts_and_expand() {
    let api = common::start(20).await;
    // curl -d "fields[]=ID&fields[]=lastname&fields[]=firstname&limit=3"
    let r = api
        .call_raw(
            Method::POST,
            "/contacts/",
            &[("content-type", "application/x-www-form-urlencoded")],
            Some("fields[]=ID&fields[]=lastname&fields[]=firstname&limit=3"),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let v = r.json();
    let oracle = api.sim.rows("contacts");
    let expected: Vec<Value> = oracle[..3]
        .iter()
        .map(|c| json!({"ID": c["ID"], "lastname": c["lastname"], "firstname": c["firstname"]}))
        .collect();
    assert_eq!(v, Value::Array(expected));

    // The messages expand example: binfile content as base64.
    let r = api
        .call(
            Method::POST,
            "/messages/",
            Some(json!({"fields": ["ID", "subject", "binfile"], "expand": ["binfile"], "limit": 1, "filter": {"binfile": {"!=": null}}})),
        )
        .await;
    let v = r.json();
    assert_eq!(v.as_array().unwrap().len(), 1);
    assert_eq!(
        v[0].as_object().unwrap().keys().collect::<Vec<_>>(),
        ["ID", "subject", "binfile"]
    );
    assert!(v[0]["binfile"]["content"].is_string());
}
