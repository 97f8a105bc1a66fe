//! Overload. The gate in front of ZeyOS: however many clients there are,
//! the gateway has at most `upstream.max_concurrent_requests` requests at
//! zeyos-sim at once, and one that cannot get its turn within
//! `upstream.queue_timeout_ms` is answered 503 with `Retry-After` instead of
//! queued without end. And the limit on client requests in progress
//! (`max_requests_in_progress`), which refuses one more at once.

mod common;

use std::time::Duration;

use common::Env;
use futures_util::future::join_all;
use serde_json::Value;

/// Every upstream request takes this long, so requests sent together
/// overlap at the simulator unless the gateway keeps them apart.
fn slow() -> zeyos_sim::Faults {
    zeyos_sim::Faults {
        latency: Duration::from_millis(200),
        ..Default::default()
    }
}

/// Starts an environment without the cache (every read reaches the
/// simulator), logs in before the simulator is slowed down, and clears
/// its request counters.
async fn start(max_concurrent: u32, queue_timeout_ms: u64) -> Env {
    let env = Env::start(20, |c| {
        c.cache.enabled = false;
        c.upstream.max_concurrent_requests = max_concurrent;
        c.upstream.queue_timeout_ms = queue_timeout_ms;
    })
    .await;
    assert_eq!(env.get("/odata/Accounts?$top=1").await.status, 200);
    env.sim.set_faults(slow());
    env.sim.reset_request_count();
    env
}

/// Eight different reads sent at once.
async fn eight_clients(env: &Env) -> Vec<u16> {
    let paths: Vec<String> = (1..=8)
        .map(|n| format!("/odata/Accounts?$top={n}&$select=Id"))
        .collect();
    join_all(paths.iter().map(|p| env.get(p)))
        .await
        .into_iter()
        .map(|r| r.status)
        .collect()
}

#[tokio::test]
async fn many_clients_share_the_configured_places_at_zeyos() {
    // Two places: the eight reads all succeed, two at a time.
    let env = start(2, 10_000).await;
    assert_eq!(eight_clients(&env).await, vec![200; 8]);
    assert_eq!(env.sim.max_concurrent_requests(), 2);
    env.stop().await;

    // The default leaves room for all eight at once (so the check above
    // can tell a working gate from none).
    let env = start(32, 10_000).await;
    assert_eq!(eight_clients(&env).await, vec![200; 8]);
    assert!(
        env.sim.max_concurrent_requests() > 2,
        "{}",
        env.sim.max_concurrent_requests()
    );
    env.stop().await;
}

#[tokio::test]
async fn requests_that_fan_out_finish_with_a_single_place() {
    // A page with its count beside it, expanded entities per batch of
    // parents, and a batch of reads side by side each want several
    // upstream requests; with one place they take turns, and none waits
    // for a place another of its own requests holds.
    let env = start(1, 10_000).await;
    let r = env
        .get("/odata/Accounts?$top=3&$count=true&$select=Id&$expand=Transactions($select=Id)")
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let page: Value = serde_json::from_slice(&r.body).expect("JSON");
    assert_eq!(page["value"].as_array().map(Vec::len), Some(3));
    assert!(page["@odata.count"].as_u64().is_some_and(|n| n >= 3));
    let statuses = common::batch::json_statuses(
        &env,
        serde_json::json!([
            {"id": "1", "method": "get", "url": "Accounts?$top=2&$select=Id"},
            {"id": "2", "method": "get", "url": "Accounts/$count"},
            {"id": "3", "method": "get", "url": "Accounts?$top=4&$select=Id"}
        ]),
    )
    .await;
    assert_eq!(statuses, vec![200, 200, 200]);
    assert_eq!(env.sim.max_concurrent_requests(), 1);
    env.stop().await;
}

#[tokio::test]
async fn a_request_that_waits_past_the_queue_timeout_gets_503_with_retry_after() {
    // One place held 200 ms by the first read; the second may wait 50 ms.
    let env = start(1, 50).await;
    let (a, b) = tokio::join!(
        env.get("/odata/Accounts?$top=2&$select=Id"),
        env.get("/odata/Accounts?$top=3&$select=Id")
    );
    let mut statuses = [a.status, b.status];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 503]);
    let refused = if a.status == 503 { a } else { b };
    assert_eq!(refused.header("retry-after").as_deref(), Some("1"));
    let error: Value = serde_json::from_slice(&refused.body).expect("JSON");
    assert_eq!(error["error"]["code"], "UpstreamBusy", "{error}");
    assert!(
        error["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("1 requests at ZeyOS") && m.contains("50 ms")),
        "{error}"
    );
    // The refused read never reached ZeyOS.
    assert_eq!(env.sim.requests_served(), 1);

    let metrics = env.get("/metrics").await;
    let text = String::from_utf8_lossy(&metrics.body);
    for line in [
        "zeyos_odata_upstream_refused_total 1",
        "zeyos_odata_upstream_in_flight 0",
        "zeyos_odata_upstream_waiting 0",
        "zeyos_odata_upstream_max_in_flight 1",
        // The log-in read, the read that got its turn, and the refused one.
        "zeyos_odata_requests_total{code=\"200\"} 2",
        "zeyos_odata_requests_total{code=\"503\"} 1",
        "zeyos_odata_request_duration_seconds_count 3",
    ] {
        assert!(text.lines().any(|l| l == line), "{line} missing:\n{text}");
    }
    env.stop().await;
}

#[tokio::test]
async fn requests_beyond_the_limit_in_progress_get_503_and_metrics_still_answer() {
    let env = Env::start(20, |c| {
        c.cache.enabled = false;
        c.max_requests_in_progress = 2;
    })
    .await;
    assert_eq!(env.get("/odata/Accounts?$top=1").await.status, 200);
    env.sim.set_faults(zeyos_sim::Faults {
        latency: Duration::from_millis(1500),
        ..Default::default()
    });
    // Two reads waiting for the slow simulator hold both places.
    let (held, refused) = tokio::join!(
        async {
            tokio::join!(
                env.get("/odata/Accounts?$top=2&$select=Id"),
                env.get("/odata/Accounts?$top=3&$select=Id")
            )
        },
        async {
            tokio::time::sleep(Duration::from_millis(500)).await;
            let refused = env.get("/odata/Accounts?$top=4&$select=Id").await;
            let metrics = env.get("/metrics").await;
            (refused, metrics)
        }
    );
    assert_eq!((held.0.status, held.1.status), (200, 200));
    let (refused, metrics) = refused;
    assert_eq!(refused.status, 503, "{:?}", refused.body);
    assert_eq!(refused.header("retry-after").as_deref(), Some("1"));
    let error = refused.json();
    assert_eq!(error["error"]["code"], "ServerBusy", "{error}");
    assert!(
        error["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("limit of 2 requests")),
        "{error}"
    );
    assert_eq!(metrics.status, 200);
    let text = String::from_utf8_lossy(&metrics.body);
    for line in [
        "zeyos_odata_requests_in_progress 2",
        "zeyos_odata_requests_in_progress_limit 2",
        "zeyos_odata_requests_refused_busy_total 1",
    ] {
        assert!(text.lines().any(|l| l == line), "{line} missing:\n{text}");
    }
    // The places are free again once those responses are sent.
    env.sim.set_faults(zeyos_sim::Faults::default());
    let (a, b) = tokio::join!(
        env.get("/odata/Accounts?$top=2&$select=Id"),
        env.get("/odata/Accounts?$top=3&$select=Id")
    );
    assert_eq!((a.status, b.status), (200, 200));
    env.stop().await;
}
