//! List requests: field selection, aliases, form bodies, count, distinct,
//! expand, search, sort with nulls, limit/offset bounds.

mod common;

use http::{Method, StatusCode};
use serde_json::{json, Value};

#[tokio::test]
async fn fields_aliases_and_defaults() {
    let api = common::start(20).await;
    // Without fields: every scalar field, no composites.
    let v = api.list("transactions", json!({"limit": 1})).await;
    let row = v[0].as_object().unwrap();
    assert!(row.contains_key("netamount") && row.contains_key("transactionnum"));
    assert!(!row.contains_key("items"), "composites only when selected");
    let oracle = api.sim.rows("transactions");
    assert_eq!(&Value::Object(oracle[0].clone()), &v[0]);

    // Array of fields, with a join and extdata; keys are the paths.
    let v = api
        .list(
            "accounts",
            json!({"fields": ["ID", "contact.city", "extdata.nickname"], "filter": {"ID": 3}}),
        )
        .await;
    let r = v[0].as_object().unwrap();
    assert_eq!(
        r.keys().collect::<Vec<_>>(),
        ["ID", "contact.city", "extdata.nickname"]
    );
    assert!(
        r["extdata.nickname"].is_string(),
        "account 3 has a nickname: {r:?}"
    );

    // Object of aliases.
    let v = api
        .list(
            "accounts",
            json!({"fields": {"Id": "ID", "Name": "lastname", "Agent": "assigneduser.name"}, "limit": 2}),
        )
        .await;
    assert_eq!(
        v[0].as_object().unwrap().keys().collect::<Vec<_>>(),
        ["Id", "Name", "Agent"]
    );

    // Composite selected but not expanded: the raw JSON text.
    let v = api
        .list(
            "transactions",
            json!({"fields": ["ID", "items"], "filter": {"items": {"!=": null}}, "limit": 1}),
        )
        .await;
    let raw = v[0]["items"]
        .as_str()
        .expect("unexpanded items are a string");
    assert!(serde_json::from_str::<Value>(raw).unwrap().is_array());
    // Expanded: parsed JSON.
    let v = api
        .list(
            "transactions",
            json!({"fields": ["ID", "items"], "expand": ["items"], "filter": {"items": {"!=": null}}, "limit": 1}),
        )
        .await;
    assert!(v[0]["items"].is_array());
    assert!(v[0]["items"][0]["name"].is_string());
    // Without fields, expand adds the composite.
    let v = api
        .list(
            "transactions",
            json!({"expand": ["items"], "filter": {"items": {"!=": null}}, "limit": 1}),
        )
        .await;
    assert!(v[0]["items"].is_array() && v[0]["netamount"].is_number());
    // Bin files: unexpanded the ID, expanded {"content": base64}.
    let v = api
        .list(
            "notes",
            json!({"fields": ["ID", "binfile"], "filter": {"binfile": {"!=": null}}, "limit": 1}),
        )
        .await;
    assert!(v[0]["binfile"].is_i64());
    let v = api
        .list(
            "notes",
            json!({"fields": ["ID", "binfile"], "expand": ["binfile"], "filter": {"binfile": {"!=": null}}, "limit": 1}),
        )
        .await;
    assert!(v[0]["binfile"]["content"].is_string());

    // Unknown fields and expands are 400s naming them.
    for body in [
        json!({"fields": ["ID", "bogus"]}),
        json!({"fields": {"x": "contact.bogus"}}),
        json!({"expand": ["bogus"]}),
        json!({"fields": [1]}),
    ] {
        let (s, t) = api.list_err("accounts", body.clone()).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{body}: {t}");
    }
}

#[tokio::test]
async fn form_encoded_bodies() {
    let api = common::start(20).await;
    let r = api
        .call_raw(
            Method::POST,
            "/contacts/",
            &[("content-type", "application/x-www-form-urlencoded")],
            Some("fields[]=ID&fields[]=lastname&fields[]=firstname&limit=3"),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let v = r.json();
    assert_eq!(v.as_array().unwrap().len(), 3);
    assert_eq!(
        v[0].as_object().unwrap().keys().collect::<Vec<_>>(),
        ["ID", "lastname", "firstname"]
    );
    // curl -d without a content type, PHP-style nested filter and sort.
    let r = api
        .call_raw(
            Method::POST,
            "/accounts",
            &[],
            Some("fields[Id]=ID&filter[ID][IN][]=2&filter[ID][IN][]=4&sort[]=-ID"),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json(), json!([{"Id": 4}, {"Id": 2}]));
    // JSON text inside a form field.
    let r = api
        .call_raw(
            Method::POST,
            "/accounts",
            &[],
            Some("count=1&filter=%7B%22ID%22%3A%7B%22%3C%22%3A5%7D%7D"),
        )
        .await;
    assert_eq!(r.json(), json!({"count": 4}));
}

#[tokio::test]
async fn count_distinct_limit_offset() {
    let api = common::start(20).await;
    let all = api.sim.rows("accounts");
    let v = api.list("accounts", json!({"count": 1})).await;
    assert_eq!(v, json!({"count": all.len()}));
    // count ignores fields, sort, limit, offset and expand.
    let v = api
        .list(
            "accounts",
            json!({"count": true, "fields": ["ID"], "sort": ["-ID"], "limit": 1, "offset": 5, "filter": {"type": 1}}),
        )
        .await;
    let expected = all.iter().filter(|r| r["type"] == json!(1)).count();
    assert_eq!(v, json!({"count": expected}));

    // distinct over the selected fields.
    let v = api
        .list("accounts", json!({"fields": ["type"], "distinct": 1}))
        .await;
    let types: Vec<i64> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["type"].as_i64().unwrap())
        .collect();
    assert_eq!(types, vec![0, 1, 2, 3, 4, 5]);
    let v = api
        .list(
            "accounts",
            json!({"fields": ["type"], "distinct": true, "sort": ["-type"]}),
        )
        .await;
    assert_eq!(v[0]["type"], json!(5));
    let (s, _) = api
        .list_err(
            "accounts",
            json!({"fields": ["type"], "distinct": true, "sort": ["lastname"]}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);

    // limit and offset.
    let v = api
        .list(
            "accounts",
            json!({"fields": ["ID"], "limit": 5, "offset": 3}),
        )
        .await;
    assert_eq!(
        v,
        json!([{"ID": 4}, {"ID": 5}, {"ID": 6}, {"ID": 7}, {"ID": 8}])
    );
    let v = api
        .list("accounts", json!({"fields": ["ID"], "offset": 100000}))
        .await;
    assert_eq!(v, json!([]));
    let v = api.list("transactions", json!({"fields": ["ID"]})).await;
    assert_eq!(
        v.as_array().unwrap().len(),
        api.sim.rows("transactions").len().min(1000)
    );
    let v = api
        .list("transactions", json!({"fields": ["ID"], "limit": 10000}))
        .await;
    assert_eq!(
        v.as_array().unwrap().len(),
        api.sim.rows("transactions").len()
    );
    for bad in [
        json!({"limit": 0}),
        json!({"limit": 10001}),
        json!({"limit": -1}),
        json!({"limit": "ten"}),
        json!({"limit": 1.5}),
        json!({"offset": -1}),
        json!({"count": "maybe"}),
        json!({"sort": "ID", "nonsense": 1}),
        json!({"export": 1}),
    ] {
        let (s, t) = api.list_err("accounts", bad.clone()).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{bad}: {t}");
    }
    let (_, t) = api.list_err("accounts", json!({"limit": 10001})).await;
    assert!(t.contains("limit"), "{t}");
}

#[tokio::test]
async fn sort_with_nulls_and_binary_order() {
    let api = common::start(20).await;
    // Ascending: NULLS LAST; descending: NULLS FIRST.
    let v = api
        .list(
            "contacts",
            json!({"fields": ["ID", "firstname"], "sort": ["+firstname"], "limit": 10000}),
        )
        .await;
    let names: Vec<Option<String>> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["firstname"].as_str().map(String::from))
        .collect();
    let first_null = names
        .iter()
        .position(Option::is_none)
        .expect("some null firstnames");
    assert!(
        names[first_null..].iter().all(Option::is_none),
        "nulls last"
    );
    let present: Vec<&String> = names.iter().flatten().collect();
    let mut sorted = present.clone();
    sorted.sort(); // Rust's str order is code point order (C collation).
    assert_eq!(present, sorted);
    let v = api
        .list(
            "contacts",
            json!({"fields": ["ID", "firstname"], "sort": ["-firstname"], "limit": 10000}),
        )
        .await;
    assert!(v[0]["firstname"].is_null(), "nulls first when descending");

    // Multiple keys, joined field, ID tie-break.
    let v = api
        .list(
            "accounts",
            json!({"fields": ["ID", "contact.country", "lastname"], "sort": ["-contact.country", "lastname"], "limit": 10000}),
        )
        .await;
    let rows = v.as_array().unwrap();
    for w in rows.windows(2) {
        let (a, b) = (&w[0], &w[1]);
        let ca = a["contact.country"].as_str().unwrap_or("");
        let cb = b["contact.country"].as_str().unwrap_or("");
        assert!(ca >= cb, "{a} before {b}");
        if ca == cb {
            assert!(a["lastname"].as_str() <= b["lastname"].as_str() || b["lastname"].is_null());
        }
    }
    for bad in [
        json!({"sort": ["bogus"]}),
        json!({"sort": ["-contact.bogus"]}),
        json!({"sort": ["-"]}),
    ] {
        let (s, t) = api.list_err("accounts", bad.clone()).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{bad}: {t}");
    }
}

#[tokio::test]
async fn search_query() {
    let api = common::start(20).await;
    let id = api
        .create("contacts", json!({"lastname": "Ünterberger-Öztürk", "city": "Zwölfaxing", "email": "unique.person@example.org"}))
        .await["ID"]
        .clone();
    // Every term must match some searchable field, case-insensitively.
    let v = api
        .list(
            "contacts",
            json!({"query": "ünterberger ZWÖLF", "fields": ["ID"]}),
        )
        .await;
    assert_eq!(v, json!([{"ID": id}]));
    let v = api
        .list(
            "contacts",
            json!({"query": "unique.person@", "fields": ["ID"]}),
        )
        .await;
    assert_eq!(v, json!([{"ID": id}]));
    let v = api
        .list(
            "contacts",
            json!({"query": "ünterberger nomatchhere", "fields": ["ID"]}),
        )
        .await;
    assert_eq!(v, json!([]));
    // Regex metacharacters in the query are literal.
    let v = api
        .list("contacts", json!({"query": ".*", "fields": ["ID"]}))
        .await;
    assert_eq!(v, json!([]));
    // Combined with a filter.
    let v = api
        .list(
            "contacts",
            json!({"query": "zwölfaxing", "filter": {"ID": {"!=": id}}, "fields": ["ID"]}),
        )
        .await;
    assert_eq!(v, json!([]));
}

#[tokio::test]
async fn malformed_bodies() {
    let api = common::start(10).await;
    let cases = [
        ("{\"limit\": ", "application/json"),
        ("{\"fields\": [\"ID\",]}", "application/json"),
        ("[1, 2]", "application/json"),
        ("\"string\"", "application/json"),
    ];
    for (body, ct) in cases {
        let r = api
            .call_raw(
                Method::POST,
                "/accounts",
                &[("content-type", ct)],
                Some(body),
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}: {}", r.text());
        assert_eq!(
            r.headers["content-type"].to_str().unwrap(),
            "text/plain; charset=utf-8"
        );
    }
    // Invalid UTF-8.
    let r = api
        .send(
            Method::POST,
            "/demo/api/v1/accounts",
            &[
                ("authorization", &format!("Bearer {}", api.token)),
                ("content-type", "application/json"),
            ],
            Some(vec![b'{', 0xff, b'}']),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    // JSON sent with curl's default form content type is still JSON.
    let r = api
        .call_raw(
            Method::POST,
            "/accounts",
            &[("content-type", "application/x-www-form-urlencoded")],
            Some(r#"{"count": 1}"#),
        )
        .await;
    assert_eq!(r.json(), json!({"count": api.sim.rows("accounts").len()}));
    // Absurd nesting or value counts are 400s, not crashes.
    let deep = format!("filter{}=1", "[a]".repeat(5000));
    let r = api
        .call_raw(Method::POST, "/accounts", &[], Some(&deep))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
    let many: Vec<i64> = (0..40_000).collect();
    let (s, t) = api
        .list_err("accounts", json!({"filter": {"ID": {"IN": many}}}))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{t}");
    // An empty body is an empty request.
    let r = api.call_raw(Method::POST, "/accounts", &[], Some("")).await;
    assert_eq!(r.status, StatusCode::OK);
}

/// List answers stream (chunked, the records sent as they are read) unless
/// the simulator is told to send them whole; the records are the same
/// either way, and a bad request is a 400 before any record in both.
#[tokio::test]
async fn list_answers_stream_or_come_whole_with_the_same_records() {
    let streamed = common::start(300).await;
    let whole = common::start_with(zeyos_sim::SimConfig {
        scale: 300,
        buffer_lists: true,
        ..Default::default()
    })
    .await;
    let request =
        json!({"expand": ["items"], "fields": ["ID", "transactionnum", "items"], "limit": 500});
    let a = streamed
        .call(Method::POST, "/transactions", Some(request.clone()))
        .await;
    let b = whole
        .call(Method::POST, "/transactions", Some(request))
        .await;
    assert_eq!((a.status, b.status), (StatusCode::OK, StatusCode::OK));
    // The page spans several 32 KiB chunks.
    assert!(a.body.len() > 100_000, "{} bytes", a.body.len());
    assert_eq!(a.json(), b.json());
    assert_eq!(a.json().as_array().map(Vec::len), Some(500));
    assert!(a.headers.get("content-length").is_none());
    assert_eq!(a.headers["transfer-encoding"], "chunked");
    assert_eq!(
        b.headers["content-length"].to_str().unwrap(),
        b.body.len().to_string()
    );
    // Empty and small answers are well-formed arrays too.
    for api in [&streamed, &whole] {
        let none = api.list("accounts", json!({"filter": {"ID": -1}})).await;
        assert_eq!(none, json!([]));
        let (status, text) = api
            .list_err("accounts", json!({"fields": ["nosuchfield"]}))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");
    }
}
