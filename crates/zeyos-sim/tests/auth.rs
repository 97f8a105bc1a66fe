//! Login, bearer tokens and permissions.

mod common;

use http::{Method, StatusCode};
use serde_json::json;
use zeyos_sim::SimConfig;

#[tokio::test]
async fn login_shapes_and_errors() {
    let api = common::start(10).await;
    // Form-encoded, as in the reference's curl example.
    let r = api
        .send(
            Method::POST,
            "/demo/auth/v1/login",
            &[("content-type", "application/x-www-form-urlencoded")],
            Some(b"name=demo&password=demo&identifier=MyDevice&appsecret=ff55c5095a126d66faaa37cd71bc771672c56ec5".to_vec()),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let v = r.json();
    assert_eq!(
        v.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["user", "application", "token", "identifier", "expdate"]
    );
    assert_eq!(v["user"], json!(1));
    assert!(v["application"].is_i64());
    assert_eq!(v["identifier"], json!("MyDevice"));
    assert_eq!(v["expdate"], json!(null));
    let token = v["token"].as_str().unwrap().to_string();
    assert_eq!(token.len(), 40);
    assert!(token.chars().all(|c| c.is_ascii_hexdigit()));
    // The token works.
    let r = api
        .send(
            Method::POST,
            "/demo/api/v1/accounts",
            &[("authorization", &format!("Bearer {token}"))],
            Some(b"{\"count\":1}".to_vec()),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);

    // JSON body; tokens are distinct.
    let r = api
        .send(
            Method::POST,
            "/demo/auth/v1/login",
            &[("content-type", "application/json")],
            Some(br#"{"name": "viewer", "password": "viewer", "appsecret": "x"}"#.to_vec()),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["user"], json!(2));
    assert_ne!(r.json()["token"].as_str().unwrap(), token);

    for (body, status) in [
        (
            "name=demo&password=wrong&appsecret=x",
            StatusCode::UNAUTHORIZED,
        ),
        (
            "name=nobody&password=demo&appsecret=x",
            StatusCode::UNAUTHORIZED,
        ),
        (
            "name=Old%20User&password=x&appsecret=x",
            StatusCode::UNAUTHORIZED,
        ),
        ("password=demo&appsecret=x", StatusCode::BAD_REQUEST),
        ("name=demo&appsecret=x", StatusCode::BAD_REQUEST),
        ("name=demo&password=demo", StatusCode::BAD_REQUEST),
        (
            "name=demo&password=demo&appsecret=",
            StatusCode::BAD_REQUEST,
        ),
    ] {
        let r = api
            .send(
                Method::POST,
                "/demo/auth/v1/login",
                &[],
                Some(body.as_bytes().to_vec()),
            )
            .await;
        assert_eq!(r.status, status, "{body}: {}", r.text());
        assert!(r.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain"));
    }
    let r = api
        .send(Method::GET, "/demo/auth/v1/login", &[], None)
        .await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    let r = api
        .send(
            Method::POST,
            "/other/auth/v1/login",
            &[],
            Some(b"name=demo&password=demo&appsecret=x".to_vec()),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn configured_app_secret() {
    let api = common::start_with(SimConfig {
        scale: 5,
        app_secret: Some("s3cret".into()),
        ..Default::default()
    })
    .await;
    let r = api
        .send(
            Method::POST,
            "/demo/auth/v1/login",
            &[],
            Some(b"name=demo&password=demo&appsecret=wrong".to_vec()),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = api
        .send(
            Method::POST,
            "/demo/auth/v1/login",
            &[],
            Some(b"name=demo&password=demo&appsecret=s3cret".to_vec()),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
}

#[tokio::test]
async fn missing_or_bad_tokens() {
    let api = common::start(10).await;
    for auth in [
        None,
        Some("Bearer nonsense"),
        Some("Basic ZGVtbzpkZW1v"),
        Some("Bearer "),
        Some(""),
    ] {
        let headers: Vec<(&str, &str)> =
            auth.map(|a| vec![("authorization", a)]).unwrap_or_default();
        for (method, path) in [
            (Method::POST, "/demo/api/v1/accounts"),
            (Method::GET, "/demo/api/v1/accounts/1"),
            (Method::PUT, "/demo/api/v1/accounts"),
            (Method::GET, "/demo/api/v1/config"),
            (Method::GET, "/demo/api/v1/nosuchentity/1"),
        ] {
            let r = api.send(method.clone(), path, &headers, None).await;
            assert_eq!(
                r.status,
                StatusCode::UNAUTHORIZED,
                "{auth:?} {method} {path}"
            );
            assert!(r.headers.contains_key("www-authenticate"));
            assert_eq!(
                r.text(),
                "Unauthorized: Invalid token for bearer authentication"
            );
        }
    }
    // Bad token requests write nothing.
    let r = api
        .send(
            Method::PUT,
            "/demo/api/v1/accounts",
            &[("authorization", "Bearer x")],
            Some(br#"{"lastname": "x"}"#.to_vec()),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(api.sim.rows("accounts").len(), 10);
}

#[tokio::test]
async fn viewer_permissions() {
    let api = common::start(10).await;
    let viewer = api.sim.login("viewer", "viewer").await.unwrap();
    let auth = format!("Bearer {viewer}");
    let h = [
        ("authorization", auth.as_str()),
        ("content-type", "application/json"),
    ];
    // May read accounts and contacts.
    for (method, path) in [
        (Method::POST, "/demo/api/v1/accounts"),
        (Method::POST, "/demo/api/v1/contacts"),
        (Method::GET, "/demo/api/v1/accounts/1"),
        (Method::GET, "/demo/api/v1/contacts/1"),
        (Method::HEAD, "/demo/api/v1/contacts/1"),
        (Method::GET, "/demo/api/v1/config"),
    ] {
        let r = api.send(method.clone(), path, &h, None).await;
        assert!(r.status.is_success(), "{method} {path}: {}", r.status);
    }
    // Everything else is 403 with the reference's text.
    let mut forbidden = vec![
        (
            Method::PUT,
            "/demo/api/v1/accounts".to_string(),
            Some(br#"{"lastname": "x"}"#.to_vec()),
        ),
        (
            Method::PATCH,
            "/demo/api/v1/accounts/1".into(),
            Some(br#"{"lastname": "x"}"#.to_vec()),
        ),
        (Method::DELETE, "/demo/api/v1/contacts/1".into(), None),
        (Method::GET, "/demo/api/v1/transactions/1".into(), None),
        (Method::HEAD, "/demo/api/v1/users/1".into(), None),
    ];
    for e in &zeyos_schema::schema().entities {
        if e.name != "accounts" && e.name != "contacts" {
            forbidden.push((Method::POST, format!("/demo/api/v1/{}", e.name), None));
        }
    }
    for (method, path, body) in forbidden {
        let r = api.send(method.clone(), &path, &h, body).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{method} {path}");
        if method != Method::HEAD {
            assert_eq!(r.text(), "Forbidden: Lacking access permission");
        }
    }
    assert_eq!(api.sim.rows("contacts").len(), 20, "nothing deleted");
}
