//! Fault injection, request counting and the request log.

mod common;

use std::time::{Duration, Instant};

use http::{Method, StatusCode};
use serde_json::json;
use zeyos_sim::Faults;

#[tokio::test]
async fn counting_and_log() {
    let api = common::start(5).await;
    api.sim.reset_request_count();
    assert_eq!(api.sim.requests_served(), 0);
    api.list("accounts", json!({"fields": ["ID"], "limit": 1}))
        .await;
    api.call(Method::GET, "/accounts/1", None).await;
    let r = api.send(Method::GET, "/health", &[], None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        api.sim.requests_served(),
        2,
        "health checks are not counted"
    );
    let log = api.sim.request_log();
    assert_eq!(log.len(), 2);
    assert_eq!(log[0].method, "POST");
    assert_eq!(log[0].path, "/demo/api/v1/accounts");
    assert!(log[0].body.contains("\"limit\":1"));
    assert_eq!(log[1].path, "/demo/api/v1/accounts/1");
    assert_eq!(
        api.sim.last_api_request().map(|r| r.path),
        Some("/demo/api/v1/accounts/1".to_string())
    );
    api.sim.reset_request_count();
    assert!(api.sim.request_log().is_empty());
    assert!(api.sim.last_api_request().is_none());
}

#[tokio::test]
async fn latency_errors_and_drops() {
    let api = common::start(5).await;
    // Latency.
    api.sim.set_faults(Faults {
        latency: Duration::from_millis(150),
        ..Default::default()
    });
    let t = Instant::now();
    api.call(Method::GET, "/accounts/1", None).await;
    assert!(t.elapsed() >= Duration::from_millis(150));

    // Every request fails with 500 or 503 and a text body.
    api.sim.set_faults(Faults {
        error_rate: 1.0,
        ..Default::default()
    });
    for _ in 0..5 {
        let r = api.call(Method::GET, "/accounts/1", None).await;
        assert!(
            r.status == StatusCode::INTERNAL_SERVER_ERROR
                || r.status == StatusCode::SERVICE_UNAVAILABLE,
            "{}",
            r.status
        );
        assert!(r.text().contains("injected"));
    }
    // Some fail at a partial rate, deterministically per seed.
    api.sim.set_faults(Faults {
        error_rate: 0.5,
        seed: 7,
        ..Default::default()
    });
    let mut failures = 0;
    for _ in 0..40 {
        if !api
            .call(Method::GET, "/accounts/1", None)
            .await
            .status
            .is_success()
        {
            failures += 1;
        }
    }
    assert!((5..=35).contains(&failures), "{failures}");

    // Dropped connections: the client sees an error, not a response.
    api.sim.set_faults(Faults {
        drop_rate: 1.0,
        ..Default::default()
    });
    api.sim.reset_request_count();
    let req = http::Request::builder()
        .method(Method::GET)
        .uri(format!("{}/accounts/1", api.sim.api_url()))
        .header("authorization", format!("Bearer {}", api.token))
        .body(http_body_util::Full::new(bytes::Bytes::new()))
        .unwrap();
    assert!(api.client.request(req).await.is_err());
    assert_eq!(api.sim.requests_served(), 1, "dropped requests are counted");

    // Off again.
    api.sim.set_faults(Faults::default());
    let r = api.call(Method::GET, "/accounts/1", None).await;
    assert_eq!(r.status, StatusCode::OK);
}
