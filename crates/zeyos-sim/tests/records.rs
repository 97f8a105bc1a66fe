//! Single-record endpoints: create, get, head, patch, delete, ETags and
//! their error paths; config and settings; routing errors.

mod common;

use http::{Method, StatusCode};
use serde_json::{json, Value};

#[tokio::test]
async fn create_get_head_patch_delete() {
    let api = common::start(10).await;
    // PUT create: defaults, creator, dates, ETag.
    let r = api
        .call(
            Method::PUT,
            "/accounts",
            Some(json!({"lastname": "Neue Firma O'Neil", "contact": 1, "extdata": {"nickname": "neu"}, "tags": ["VIP", "B2B"]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let etag1 = r.etag();
    let created = r.json();
    let id = created["ID"].as_i64().unwrap();
    assert_eq!(created["type"], json!(0), "default applied");
    assert_eq!(created["visibility"], json!(0));
    assert_eq!(created["creator"], json!(1), "authenticated user");
    assert!(created["creationdate"].as_i64().unwrap() > 1_700_000_000);
    assert_eq!(created["lastmodified"], created["creationdate"]);
    assert_eq!(created["firstname"], Value::Null);
    // Date-only fields are stored as midnight UTC.
    let c = api
        .create(
            "contacts",
            json!({"lastname": "Born", "birthdate": 631_152_000 + 3600 * 13}),
        )
        .await;
    assert_eq!(c["birthdate"], json!(631_152_000));

    // GET with ETag, extdata, tags.
    let r = api
        .call(Method::GET, &format!("/accounts/{id}"), None)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.etag(), etag1);
    assert_eq!(r.json(), created);
    let r = api
        .call(
            Method::GET,
            &format!("/accounts/{id}?extdata=1&tags=1"),
            None,
        )
        .await;
    let v = r.json();
    assert_eq!(v["extdata"], json!({"nickname": "neu"}));
    assert_eq!(v["tags"], json!(["B2B", "VIP"]));
    // The oracle agrees.
    let row = api
        .sim
        .rows("accounts")
        .into_iter()
        .find(|r| r["ID"] == json!(id))
        .unwrap();
    assert_eq!(Value::Object(row), created);

    // If-None-Match: 304 on a match (also `*` and lists), 200 otherwise.
    for inm in [
        etag1.as_str(),
        "*",
        &format!("\"nope\", {etag1}"),
        &format!("W/{etag1}"),
    ] {
        let r = api
            .call_raw(
                Method::GET,
                &format!("/accounts/{id}"),
                &[("if-none-match", inm)],
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::NOT_MODIFIED, "{inm}");
        assert!(r.body.is_empty());
        assert_eq!(r.etag(), etag1);
    }
    let r = api
        .call_raw(
            Method::GET,
            &format!("/accounts/{id}"),
            &[("if-none-match", "\"other\"")],
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);

    // HEAD: 204 with ETag, 304, 404.
    let r = api
        .call(Method::HEAD, &format!("/accounts/{id}"), None)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(r.etag(), etag1);
    let r = api
        .call_raw(
            Method::HEAD,
            &format!("/accounts/{id}"),
            &[("if-none-match", &etag1)],
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_MODIFIED);
    let r = api.call(Method::HEAD, "/accounts/999999", None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    // PATCH with the right If-Match: new ETag, lastmodified reset.
    let r = api
        .call_raw(
            Method::PATCH,
            &format!("/accounts/{id}"),
            &[("if-match", &etag1), ("content-type", "application/json")],
            Some(r#"{"firstname": "Zoë", "type": 1, "lastmodified": 5}"#),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let etag2 = r.etag();
    assert_ne!(etag1, etag2);
    let v = r.json();
    assert_eq!(v["firstname"], json!("Zoë"));
    assert_eq!(v["type"], json!(1));
    assert!(
        v["lastmodified"].as_i64().unwrap() > 1_700_000_000,
        "auto-reset"
    );
    // Stale If-Match: 412 and nothing changes.
    let r = api
        .call_raw(
            Method::PATCH,
            &format!("/accounts/{id}"),
            &[("if-match", &etag1), ("content-type", "application/json")],
            Some(r#"{"firstname": "Stale"}"#),
        )
        .await;
    assert_eq!(r.status, StatusCode::PRECONDITION_FAILED);
    assert!(r.text().starts_with("Precondition Failed"));
    let r = api
        .call(Method::GET, &format!("/accounts/{id}"), None)
        .await;
    assert_eq!(r.json()["firstname"], json!("Zoë"));
    assert_eq!(r.etag(), etag2);
    // Changing only extdata or tags changes the ETag too.
    let r = api
        .call(
            Method::PATCH,
            &format!("/accounts/{id}"),
            Some(json!({"+tags": ["Partner"], "extdata": {"nickname": null}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let etag3 = r.etag();
    assert_ne!(etag3, etag2);
    let v = api
        .call(
            Method::GET,
            &format!("/accounts/{id}?extdata=1&tags=1"),
            None,
        )
        .await
        .json();
    assert_eq!(v["extdata"], json!({}));
    assert_eq!(v["tags"], json!(["B2B", "Partner", "VIP"]));
    // PATCH with a matching ID in the body is fine, a different one is 409.
    let r = api
        .call(
            Method::PATCH,
            &format!("/accounts/{id}"),
            Some(json!({"ID": id, "description": "x"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = api
        .call(
            Method::PATCH,
            &format!("/accounts/{id}"),
            Some(json!({"ID": id + 1, "description": "y"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    // PATCH of a missing record: 404.
    let r = api
        .call(
            Method::PATCH,
            "/accounts/999999",
            Some(json!({"description": "x"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    // DELETE: wrong If-Match 412, right one 204, then 404.
    let current = api
        .call(Method::GET, &format!("/accounts/{id}"), None)
        .await
        .etag();
    let r = api
        .call_raw(
            Method::DELETE,
            &format!("/accounts/{id}"),
            &[("if-match", "\"wrong\"")],
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::PRECONDITION_FAILED);
    let r = api
        .call_raw(
            Method::DELETE,
            &format!("/accounts/{id}"),
            &[("if-match", &current)],
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = api
        .call(Method::GET, &format!("/accounts/{id}"), None)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = api
        .call(Method::DELETE, &format!("/accounts/{id}"), None)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn create_validation_and_atomicity() {
    let api = common::start(10).await;
    let before = api.sim.rows("accounts");
    let tags_before = {
        let c = rusqlite::Connection::open(api.sim.db_path()).unwrap();
        c.query_row("SELECT COUNT(*) FROM _tags", [], |r| r.get::<_, i64>(0))
            .unwrap()
    };
    let cases: Vec<(Value, StatusCode, &str)> = vec![
        (
            json!({"ID": 5, "lastname": "x"}),
            StatusCode::CONFLICT,
            "ID",
        ),
        (
            json!({"lastname": "x", "bogus": 1}),
            StatusCode::BAD_REQUEST,
            "bogus",
        ),
        (
            json!({"lastname": "x", "type": 9}),
            StatusCode::BAD_REQUEST,
            "type",
        ),
        (
            json!({"lastname": "x", "type": "abc"}),
            StatusCode::BAD_REQUEST,
            "type",
        ),
        (
            json!({"lastname": "x", "type": null}),
            StatusCode::BAD_REQUEST,
            "type",
        ),
        (json!({"lastname": 5}), StatusCode::BAD_REQUEST, "lastname"),
        (
            json!({"description": "neither name"}),
            StatusCode::BAD_REQUEST,
            "required",
        ),
        (
            json!({"lastname": "x", "contact": 99999999}),
            StatusCode::BAD_REQUEST,
            "contact",
        ),
        (
            json!({"lastname": "x", "extdata": [1]}),
            StatusCode::BAD_REQUEST,
            "extdata",
        ),
        (
            json!({"lastname": "x", "tags": "ok", "excludetax": 2}),
            StatusCode::BAD_REQUEST,
            "excludetax",
        ),
    ];
    for (body, status, needle) in cases {
        let r = api.call(Method::PUT, "/accounts", Some(body.clone())).await;
        assert_eq!(r.status, status, "{body}: {}", r.text());
        assert!(r.text().contains(needle), "{body}: {}", r.text());
    }
    // Ranges, lengths and required names on other entities.
    let r = api
        .call(Method::PUT, "/tasks", Some(json!({"name": ""})))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
    let r = api
        .call(
            Method::PUT,
            "/tasks",
            Some(json!({"description": "no name"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = api
        .call(
            Method::PUT,
            "/opportunities",
            Some(json!({"name": "x", "probability": 101})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = api
        .call(
            Method::PUT,
            "/items",
            Some(json!({"name": "x", "unit": "pieces"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = api
        .call(
            Method::PUT,
            "/transactions",
            Some(json!({"transactionnum": "T-1", "items": {"not": "a list"}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    // Malformed JSON on create.
    let r = api
        .call_raw(
            Method::PUT,
            "/accounts",
            &[("content-type", "application/json")],
            Some("{\"lastname\": \"x\""),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    // A bad PATCH changes nothing either.
    let r = api
        .call(
            Method::PATCH,
            "/accounts/1",
            Some(json!({"lastname": "changed", "type": 42})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = api
        .call(
            Method::PATCH,
            "/accounts/1",
            Some(json!({"tags": ["x"], "contact": 99999999})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = api
        .call(
            Method::PATCH,
            "/accounts/1",
            Some(json!({"lastname": null, "firstname": null})),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::BAD_REQUEST,
        "is required if ... is empty"
    );

    assert_eq!(api.sim.rows("accounts"), before, "no partial writes");
    let tags_after = {
        let c = rusqlite::Connection::open(api.sim.db_path()).unwrap();
        c.query_row("SELECT COUNT(*) FROM _tags", [], |r| r.get::<_, i64>(0))
            .unwrap()
    };
    assert_eq!(tags_before, tags_after);
}

#[tokio::test]
async fn composites_on_write() {
    let api = common::start(10).await;
    let items = json!([
        {"type": 0, "item": 1, "name": "Chair", "amount": 2, "sellingprice": 99.5},
        {"type": 1, "text": "Danke – 100%"}
    ]);
    let r = api
        .call(
            Method::PUT,
            "/transactions?expand=items",
            Some(json!({"transactionnum": "BI-2025.X", "account": 1, "items": items})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let v = r.json();
    assert_eq!(v["items"], items);
    let id = v["ID"].as_i64().unwrap();
    let v = api
        .call(Method::GET, &format!("/transactions/{id}"), None)
        .await
        .json();
    assert!(v.get("items").is_none(), "not expanded unless asked");
    let v = api
        .call(
            Method::GET,
            &format!("/transactions/{id}?expand[]=items"),
            None,
        )
        .await
        .json();
    assert_eq!(v["items"], items);

    // Bin files from base64 content.
    let r = api
        .call(
            Method::PUT,
            "/notes?expand=binfile",
            Some(json!({"name": "Memo", "binfile": {"content": "SGVsbG8gV29ybGQh"}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let v = r.json();
    assert_eq!(v["binfile"], json!({"content": "SGVsbG8gV29ybGQh"}));
    let note = v["ID"].as_i64().unwrap();
    let raw = api
        .list(
            "notes",
            json!({"fields": ["binfile"], "filter": {"ID": note}}),
        )
        .await;
    let bin = raw[0]["binfile"].as_i64().unwrap();
    let b = api
        .call(Method::GET, &format!("/binfiles/{bin}"), None)
        .await
        .json();
    assert_eq!(b["size"], json!(12));
    assert_eq!(
        b["hash"],
        json!("\\xed076287532e86365e841e92bfc50d8c"),
        "MD5 as in the reference example"
    );
}

#[tokio::test]
async fn routing_config_settings_and_read_only_entities() {
    let api = common::start(10).await;
    let r = api.call(Method::GET, "/config", None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.json().is_object());
    let r = api.call(Method::GET, "/settings", None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.json().is_object());

    let r = api
        .call(Method::POST, "/nosuchentity", Some(json!({})))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(r.text().contains("nosuchentity"));
    let r = api.call(Method::GET, "/nosuchentity/1", None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = api.call(Method::GET, "/accounts/abc", None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = api.call(Method::GET, "/accounts/1/extra", None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    // Read-only entities get only what the reference lists.
    let r = api
        .call(Method::PUT, "/users", Some(json!({"name": "x"})))
        .await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(r.headers["allow"], "POST");
    let r = api.call(Method::DELETE, "/users/1", None).await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    let r = api.call(Method::GET, "/users/1", None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["name"], json!("demo"));
    // links has only the list endpoint.
    let r = api.call(Method::GET, "/links/1", None).await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(
        api.list("links", json!({"count": 1})).await,
        json!({"count": 10})
    );
    // GET on a collection is not a route.
    let r = api.call(Method::GET, "/accounts", None).await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);

    // Every entity of the schema answers a list and a count.
    for e in &zeyos_schema::schema().entities {
        let v = api.list(&e.name, json!({"count": 1})).await;
        let n = v["count"].as_u64().unwrap();
        assert_eq!(n as usize, api.sim.rows(&e.name).len(), "{}", e.name);
        assert!(n >= 3, "{} is seeded", e.name);
        let v = api.list(&e.name, json!({"limit": 2})).await;
        assert_eq!(v.as_array().unwrap().len(), 2, "{}", e.name);
    }

    // Another instance: 404.
    let r = api
        .send(
            Method::POST,
            "/other/api/v1/accounts",
            &[("authorization", &format!("Bearer {}", api.token))],
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = api.send(Method::GET, "/", &[], None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_reads_and_writes() {
    let api = std::sync::Arc::new(common::start(20).await);
    let notes_before = api.sim.rows("notes").len();
    let mut set = tokio::task::JoinSet::new();
    for i in 0..40 {
        let api = std::sync::Arc::clone(&api);
        set.spawn(async move {
            if i % 4 == 0 {
                api.create("notes", json!({"name": format!("Concurrent {i}")}))
                    .await;
            } else {
                let v = api
                    .list("transactions", json!({"limit": 50, "sort": ["-netamount"]}))
                    .await;
                assert_eq!(v.as_array().unwrap().len(), 50);
            }
        });
    }
    while let Some(r) = set.join_next().await {
        r.unwrap();
    }
    assert_eq!(api.sim.rows("notes").len(), notes_before + 10);
}

/// Every entity offers exactly the endpoints the reference lists, and every
/// seeded record passes the sim's own validation (an empty PATCH succeeds).
#[tokio::test]
async fn every_entity_has_its_endpoints() {
    let api = common::start(5).await;
    for e in &zeyos_schema::schema().entities {
        let ep = e.endpoints;
        let name = &e.name;
        let r = api
            .call(Method::POST, &format!("/{name}"), Some(json!({"limit": 1})))
            .await;
        assert_eq!(
            r.status == StatusCode::OK,
            ep.list,
            "POST /{name}: {}",
            r.status
        );
        let r = api.call(Method::GET, &format!("/{name}/1"), None).await;
        assert_eq!(
            r.status == StatusCode::OK,
            ep.get,
            "GET /{name}/1: {}",
            r.status
        );
        if ep.get {
            let row = api.sim.rows(name).into_iter().next().unwrap();
            assert_eq!(r.json(), Value::Object(row), "{name}");
        }
        let r = api.call(Method::HEAD, &format!("/{name}/1"), None).await;
        assert_eq!(
            r.status == StatusCode::NO_CONTENT,
            ep.head,
            "HEAD /{name}/1: {}",
            r.status
        );
        for id in 1..=3 {
            let r = api
                .call(Method::PATCH, &format!("/{name}/{id}"), Some(json!({})))
                .await;
            assert_eq!(
                r.status == StatusCode::OK,
                ep.update,
                "PATCH /{name}/{id}: {} {}",
                r.status,
                r.text()
            );
        }
        let r = api
            .call(Method::DELETE, &format!("/{name}/999999"), None)
            .await;
        assert_eq!(
            r.status == StatusCode::NOT_FOUND,
            ep.delete,
            "DELETE /{name}/999999: {}",
            r.status
        );
        let r = api
            .call(Method::PUT, &format!("/{name}"), Some(json!({"ID": 1})))
            .await;
        assert_eq!(
            r.status == StatusCode::CONFLICT,
            ep.create,
            "PUT /{name}: {}",
            r.status
        );
        if !ep.create {
            assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
        }
    }
}
