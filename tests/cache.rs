//! The response cache end to end: a gateway in front of zeyos-sim, with
//! upstream requests counted by the simulator.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{basic, Env};

fn demo() -> (&'static str, String) {
    ("authorization", basic("demo", "demo"))
}

fn viewer() -> (&'static str, String) {
    ("authorization", basic("viewer", "viewer"))
}

/// Changes a record in ZeyOS directly.
async fn patch_upstream(env: &Env, entity: &str, id: i64, body: serde_json::Value) {
    env.write_upstream("PATCH", &format!("{entity}/{id}"), Some(body))
        .await;
}

/// Upstream requests made by `f`, as zeyos-sim counted them.
async fn upstream_requests<F: std::future::Future>(env: &Env, f: F) -> (u64, F::Output) {
    env.sim.reset_request_count();
    let out = f.await;
    (env.sim.requests_served(), out)
}

fn cache(env: &Env) -> zeyos_odata::cache::ResponseCache {
    env.gateway.cache().expect("the cache is on").clone()
}

#[tokio::test]
async fn a_second_identical_read_makes_no_upstream_request() {
    let env = Env::start(50, |_| {}).await;
    for path in [
        "/odata/Accounts?$top=5",
        "/odata/Accounts?$top=5&$count=true&$orderby=LastName",
        "/odata/Accounts(3)",
        "/odata/Accounts(4)/LastName",
        "/odata/Accounts?$top=2&$expand=Contact",
        "/v1/Invoices?$top=2&$expand=Positions",
        "/odata/Contacts/$count",
    ] {
        let (n, first) = upstream_requests(&env, env.get(path)).await;
        assert_eq!(first.status, 200, "{path}: {}", first.text());
        assert!(n >= 1, "{path}: the first read goes upstream");
        let (n, second) = upstream_requests(&env, env.get(path)).await;
        assert_eq!(n, 0, "{path}: {:?}", env.sim.request_log());
        assert_eq!(second.status, 200);
        assert_eq!(second.body, first.body, "{path}");
        assert_eq!(second.header("etag"), first.header("etag"), "{path}");
    }
    let m = cache(&env).metrics();
    assert!(m.hits >= 7 && m.misses >= 7, "{m:?}");
    env.stop().await;
}

#[tokio::test]
async fn records_are_revalidated_after_the_freshness_window() {
    let env = Env::start(20, |c| c.cache.entity_fresh_secs = 0).await;
    let first = env.get("/odata/Accounts(1)").await;
    assert_eq!(first.status, 200);
    let before = cache(&env).metrics();
    let (n, second) = upstream_requests(&env, env.get("/odata/Accounts(1)")).await;
    assert_eq!(n, 1, "one conditional request");
    let log = env.sim.request_log();
    assert_eq!(log[0].method, "GET");
    assert!(log[0].path.contains("/accounts/1"), "{log:?}");
    assert_eq!(second.body, first.body);
    let after = cache(&env).metrics();
    assert_eq!(after.revalidations, before.revalidations + 1);
    assert_eq!(after.misses, before.misses, "a 304 is not a miss");

    // A change behind the gateway's back is caught by the revalidation.
    patch_upstream(
        &env,
        "accounts",
        1,
        serde_json::json!({"lastname": "Renamed"}),
    )
    .await;
    let (n, third) = upstream_requests(&env, env.get("/odata/Accounts(1)")).await;
    assert_eq!(n, 1);
    assert_eq!(third.json()["LastName"], "Renamed");
    assert_ne!(third.header("etag"), first.header("etag"));
    assert_eq!(cache(&env).metrics().misses, after.misses + 1);
    env.stop().await;
}

#[tokio::test]
async fn a_record_deleted_upstream_is_gone_after_the_freshness_window() {
    let env = Env::start(20, |c| c.cache.entity_fresh_secs = 1).await;
    assert_eq!(env.get("/odata/Notes(3)").await.status, 200);
    env.write_upstream("DELETE", "notes/3", None).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let r = env.get("/odata/Notes(3)").await;
    assert_eq!(r.status, 404, "{}", r.text());
    // The entry went with the 404: the next read asks again.
    let (n, r) = upstream_requests(&env, env.get("/odata/Notes(3)")).await;
    assert_eq!((r.status, n), (404, 1));
    env.stop().await;
}

#[tokio::test]
async fn changes_behind_the_gateways_back_show_within_the_bounds() {
    let env = Env::start(20, |c| {
        c.cache.entity_fresh_secs = 1;
        c.cache.collection_ttl_secs = 1;
    })
    .await;
    let list = "/odata/Accounts?$filter=Id eq 2&$select=Id,LastName";
    let one = "/odata/Accounts(2)?$select=Id,LastName";
    let old_list = env.get(list).await.json();
    let old_one = env.get(one).await.json();
    patch_upstream(
        &env,
        "accounts",
        2,
        serde_json::json!({"lastname": "Changed"}),
    )
    .await;
    // Within the bounds the gateway may answer from memory...
    let (n, _) = upstream_requests(&env, async {
        assert_eq!(env.get(list).await.json(), old_list);
        assert_eq!(env.get(one).await.json(), old_one);
    })
    .await;
    assert_eq!(n, 0);
    // ...and after them it asks ZeyOS.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(
        env.get(list).await.json()["value"][0]["LastName"],
        "Changed"
    );
    assert_eq!(env.get(one).await.json()["LastName"], "Changed");
    env.stop().await;
}

#[tokio::test]
async fn one_users_cached_response_never_reaches_another() {
    let env = Env::start(20, |_| {}).await;
    let path = "/odata/Transactions?$top=3";
    let r = env.get_with(path, &[demo()]).await;
    assert_eq!(r.status, 200);
    for _ in 0..2 {
        // Every time from ZeyOS: errors are never cached.
        let (n, r) = upstream_requests(&env, env.get_with(path, &[viewer()])).await;
        assert_eq!(r.status, 403, "{}", r.text());
        assert!(n >= 1);
    }
    let (n, r) = upstream_requests(&env, env.get_with(path, &[demo()])).await;
    assert_eq!((r.status, n), (200, 0));

    // Allowed for both: each principal has entries of their own.
    let (n, a) = upstream_requests(&env, env.get_with("/odata/Accounts(1)", &[demo()])).await;
    assert_eq!((a.status, n), (200, 1));
    let (n, b) = upstream_requests(&env, env.get_with("/odata/Accounts(1)", &[viewer()])).await;
    assert_eq!((b.status, n), (200, 1));
    let wrong = ("authorization", basic("viewer", "wrong"));
    let r = env.get_with("/odata/Accounts(1)", &[wrong]).await;
    assert_eq!(r.status, 401);

    // Concurrently, too.
    let mut tasks = Vec::new();
    for i in 0..40 {
        let http = env.http.clone();
        let url = format!("{}{path}", env.base);
        let who = if i % 2 == 0 { demo() } else { viewer() };
        tasks.push(tokio::spawn(async move {
            (i % 2 == 0, http.get(&url, &[who]).await.status)
        }));
    }
    for t in tasks {
        let (is_demo, status) = t.await.unwrap();
        assert_eq!(status, if is_demo { 200 } else { 403 });
    }
    env.stop().await;
}

#[tokio::test]
async fn invalidation_drops_exactly_the_affected_entries() {
    let env = Env::start(20, |_| {}).await;
    let cache = cache(&env);
    // (who, path, depends on accounts record 1)
    let reads = [
        (demo(), "/odata/Accounts(1)", true),
        (viewer(), "/odata/Accounts(1)", true),
        (demo(), "/odata/Accounts(2)", false),
        (demo(), "/odata/Accounts?$top=3", true),
        (viewer(), "/odata/Accounts?$top=3", true),
        (demo(), "/odata/Contacts?$top=3", false),
        (demo(), "/odata/Contacts(1)", false),
        (demo(), "/odata/Transactions?$top=3", false),
        // Joins accounts through `account.lastname`.
        (
            demo(),
            "/odata/Transactions?$top=3&$filter=Account/LastName eq 'Café Crème'",
            true,
        ),
    ];
    // The entries each read adds.
    let mut added = Vec::new();
    for (who, path, _) in &reads {
        cache.run_pending_tasks().await;
        let before = cache.entry_count();
        let r = env.get_with(path, std::slice::from_ref(who)).await;
        assert_eq!(r.status, 200, "{path}: {}", r.text());
        cache.run_pending_tasks().await;
        added.push(cache.entry_count() - before);
    }
    let total = cache.entry_count();
    let affected: u64 = reads
        .iter()
        .zip(&added)
        .filter(|((_, _, a), _)| *a)
        .map(|(_, n)| n)
        .sum();
    assert!(affected >= 5, "{added:?}");

    cache.invalidate_entity("accounts", 1).await;
    cache.run_pending_tasks().await;
    assert_eq!(cache.entry_count(), total - affected);

    for (who, path, is_affected) in &reads {
        let (n, r) = upstream_requests(&env, env.get_with(path, std::slice::from_ref(who))).await;
        assert_eq!(r.status, 200);
        if *is_affected {
            assert!(n >= 1, "{path} should have been dropped");
        } else {
            assert_eq!(n, 0, "{path} should have stayed");
        }
    }

    // A write of a contact affects contacts lists and accounts lists that
    // join contacts, not plain accounts lists.
    let joined = "/odata/Accounts?$top=3&$filter=Contact/City ne 'Nowhere'";
    assert_eq!(env.get(joined).await.status, 200);
    cache.invalidate_entity("contacts", 99_999).await;
    for (path, is_affected) in [
        (joined, true),
        ("/odata/Contacts?$top=3", true),
        ("/odata/Contacts(1)", false),
        ("/odata/Accounts?$top=3", false),
    ] {
        let (n, _) = upstream_requests(&env, env.get(path)).await;
        assert_eq!(n > 0, is_affected, "{path}");
    }
    env.stop().await;
}

#[tokio::test]
async fn an_invalidation_during_a_read_is_not_undone_by_it() {
    let env = Env::start(20, |_| {}).await;
    let cache = cache(&env);
    assert_eq!(env.get("/odata/Contacts?$top=1").await.status, 200); // logs in
    env.sim.set_faults(zeyos_sim::Faults {
        latency: Duration::from_millis(300),
        ..Default::default()
    });
    let http = env.http.clone();
    let url = format!("{}/odata/Accounts?$top=2", env.base);
    let slow = tokio::spawn(async move { http.get(&url, &[demo()]).await.status });
    tokio::time::sleep(Duration::from_millis(100)).await;
    // The write happens while the read is on its way.
    cache.invalidate_entity("accounts", 1).await;
    assert_eq!(slow.await.unwrap(), 200);
    env.sim.set_faults(zeyos_sim::Faults::default());
    let (n, r) = upstream_requests(&env, env.get("/odata/Accounts?$top=2")).await;
    assert_eq!(r.status, 200);
    assert_eq!(n, 1, "the answer read before the write must not be reused");
    env.stop().await;
}

#[tokio::test]
async fn a_hundred_concurrent_identical_requests_make_one_upstream_request() {
    let env = Env::start(20, |_| {}).await;
    assert_eq!(env.get("/odata/Contacts?$top=1").await.status, 200); // logs in
    env.sim.set_faults(zeyos_sim::Faults {
        latency: Duration::from_millis(300),
        ..Default::default()
    });
    for path in ["/odata/Accounts?$top=10", "/odata/Accounts(4)"] {
        env.sim.reset_request_count();
        let mut tasks = Vec::new();
        for _ in 0..100 {
            let http = env.http.clone();
            let url = format!("{}{path}", env.base);
            tasks.push(tokio::spawn(async move { http.get(&url, &[demo()]).await }));
        }
        let mut bodies = Vec::new();
        for t in tasks {
            let r = t.await.unwrap();
            assert_eq!(r.status, 200, "{}", r.text());
            bodies.push(r.body);
        }
        assert!(bodies.windows(2).all(|w| w[0] == w[1]));
        assert_eq!(
            env.sim.requests_served(),
            1,
            "{path}: {:?}",
            env.sim.request_log()
        );
    }
    assert!(cache(&env).metrics().coalesced >= 1);
    assert_eq!(cache(&env).flights_in_progress(), 0);
    env.stop().await;
}

#[tokio::test]
async fn memory_stays_within_the_budget_under_a_flood_of_distinct_queries() {
    const BUDGET: u64 = 256 * 1024;
    let env = Env::start(450, |c| c.cache.max_bytes = BUDGET).await;
    let cache = cache(&env);
    let env = Arc::new(env);
    for batch in 0..40 {
        let mut tasks = Vec::new();
        for i in 0..10 {
            let env = env.clone();
            let skip = batch * 10 + i;
            tasks.push(tokio::spawn(async move {
                let r = env
                    .get(&format!("/odata/Accounts?$top=5&$skip={skip}"))
                    .await;
                assert_eq!(r.status, 200, "{}", r.text());
                assert_eq!(r.json()["value"].as_array().map(Vec::len), Some(5));
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        cache.run_pending_tasks().await;
        assert!(
            cache.weighted_size() <= BUDGET,
            "{} > {BUDGET} after batch {batch}",
            cache.weighted_size()
        );
    }
    let m = cache.metrics();
    assert!(m.entries > 0 && m.bytes > 0, "{m:?}");
    assert!(m.evictions > 0, "{m:?}");
    assert_eq!(m.oversized, 0, "{m:?}");
    if let Ok(env) = Arc::try_unwrap(env) {
        env.stop().await;
    }
}

/// A one-off read of many distinct pages (a large refresh) must not push
/// out what dashboards ask for again and again: moka admits a new entry
/// over the ones it would evict only if it is asked for more often than
/// they are (TinyLFU), and each page of such a scan is asked for once.
///
/// moka counts how often keys are asked for only once the cache is half
/// full, so the cache is filled first, as it is in a gateway that has been
/// running for a while.
#[tokio::test]
async fn a_one_off_scan_does_not_evict_what_dashboards_repeat() {
    const BUDGET: u64 = 256 * 1024;
    let env = Env::start(450, |c| c.cache.max_bytes = BUDGET).await;
    let cache = cache(&env);
    for skip in 0..300 {
        let r = env
            .get(&format!("/odata/Accounts?$top=5&$skip={skip}"))
            .await;
        assert_eq!(r.status, 200, "{}", r.text());
    }
    cache.run_pending_tasks().await;
    assert!(cache.weighted_size() > BUDGET / 2, "{:?}", cache.metrics());
    let hot = [
        "/odata/Accounts?$top=5",
        "/odata/Accounts?$top=5&$orderby=LastName",
        "/odata/Accounts/$count",
    ];
    for _ in 0..8 {
        for path in hot {
            let r = env.get(path).await;
            assert_eq!(r.status, 200, "{}", r.text());
        }
    }
    cache.run_pending_tasks().await;
    let before_scan = cache.metrics().evictions;
    for skip in 0..440 {
        let r = env
            .get(&format!(
                "/odata/Accounts?$top=5&$skip={skip}&$orderby=Id desc"
            ))
            .await;
        assert_eq!(r.status, 200, "{}", r.text());
        if skip % 40 == 0 {
            cache.run_pending_tasks().await;
        }
    }
    cache.run_pending_tasks().await;
    let m = cache.metrics();
    assert!(
        m.evictions > before_scan + 100,
        "the scan must meet a full cache: {m:?}"
    );
    let (upstream, ()) = upstream_requests(&env, async {
        for path in hot {
            let r = env.get(path).await;
            assert_eq!(r.status, 200, "{}", r.text());
        }
    })
    .await;
    assert_eq!(upstream, 0, "the repeated queries were evicted by the scan");
    env.stop().await;
}

#[tokio::test]
async fn no_cache_from_the_client_forces_an_upstream_read() {
    let env = Env::start(20, |_| {}).await;
    let path = "/odata/Accounts?$top=3";
    env.get(path).await;
    let fresh = [demo(), ("cache-control", "no-cache".to_string())];
    let (n, r) = upstream_requests(&env, env.get_with(path, &fresh)).await;
    assert_eq!((r.status, n), (200, 1));
    let max_age = [demo(), ("cache-control", "max-age=0".to_string())];
    let (n, _) = upstream_requests(&env, env.get_with(path, &max_age)).await;
    assert_eq!(n, 1);
    let (n, _) = upstream_requests(&env, env.get(path)).await;
    assert_eq!(n, 0);

    // Records: a conditional request, answered 304.
    env.get("/odata/Accounts(1)").await;
    let before = cache(&env).metrics().revalidations;
    let (n, r) = upstream_requests(&env, env.get_with("/odata/Accounts(1)", &fresh)).await;
    assert_eq!((r.status, n), (200, 1));
    assert_eq!(cache(&env).metrics().revalidations, before + 1);
    env.stop().await;
}

#[tokio::test]
async fn responses_carry_etags_vary_and_cache_control_and_answer_304() {
    let env = Env::start(300, |_| {}).await;
    // A collection page: a weak tag over the body.
    let r = env.get("/odata/Accounts?$top=3").await;
    let tag = r.header("etag").expect("collection ETag");
    assert!(tag.starts_with("W/\""), "{tag}");
    let vary = r.header("vary").unwrap_or_default();
    for h in ["Authorization", "Accept", "Accept-Encoding", "Prefer"] {
        assert!(vary.contains(h), "{vary}");
    }
    assert!(r.header("cache-control").unwrap().contains("private"));
    let inm = |t: &str| [demo(), ("if-none-match", t.to_string())];
    let r304 = env.get_with("/odata/Accounts?$top=3", &inm(&tag)).await;
    assert_eq!(r304.status, 304);
    assert!(r304.body.is_empty());
    assert_eq!(r304.header("etag").as_deref(), Some(tag.as_str()));
    let other = env.get("/odata/Accounts?$top=4").await;
    assert_ne!(other.header("etag").as_deref(), Some(tag.as_str()));
    let r = env
        .get_with("/odata/Accounts?$top=3", &inm("\"nope\""))
        .await;
    assert_eq!(r.status, 200);

    // Compressed, the tag is the same, and so is the 304's that stands in
    // for it (RFC 9110 15.4.5).
    let gz = [demo(), ("accept-encoding", "gzip".to_string())];
    let r = env.get_with("/odata/Accounts?$top=3", &gz).await;
    assert_eq!(r.header("content-encoding").as_deref(), Some("gzip"));
    assert_eq!(r.header("etag").as_deref(), Some(tag.as_str()));
    let r = env
        .get_with(
            "/odata/Accounts?$top=3",
            &[gz[0].clone(), gz[1].clone(), ("if-none-match", tag.clone())],
        )
        .await;
    assert_eq!(r.status, 304);
    assert_eq!(r.header("etag").as_deref(), Some(tag.as_str()));

    // An entity: its own tag, also in the payload.
    let r = env.get("/odata/Accounts(1)").await;
    let tag = r.header("etag").expect("entity ETag");
    assert_eq!(r.json()["@odata.etag"], tag.as_str());
    assert_eq!(
        env.get_with("/odata/Accounts(1)", &inm(&tag)).await.status,
        304
    );
    // With $expand the response holds more than the entity: a body hash.
    let r = env.get("/odata/Accounts(1)?$expand=Contact").await;
    let tag = r.header("etag").expect("ETag with $expand");
    assert!(tag.starts_with("W/\"") && tag.len() == 26, "{tag}");
    let r = env
        .get_with("/odata/Accounts(1)?$expand=Contact", &inm(&tag))
        .await;
    assert_eq!(r.status, 304);

    // Pages too large to hold stream without a tag.
    let big = [demo(), ("prefer", "odata.maxpagesize=3000".to_string())];
    let r = env.get_with("/odata/Transactions", &big).await;
    assert_eq!(r.status, 200);
    assert!(r.body.len() > 1 << 20, "{}", r.body.len());
    assert_eq!(r.header("etag"), None);
    assert_eq!(r.json()["value"].as_array().map(Vec::len), Some(3000));
    env.stop().await;
}

#[tokio::test]
async fn metrics_are_served_without_credentials_and_without_secrets() {
    let env = Env::start(20, |_| {}).await;
    env.get("/odata/Accounts?$top=1").await;
    env.get("/odata/Accounts?$top=1").await;
    let r = env.get_with("/metrics", &[]).await;
    assert_eq!(r.status, 200);
    assert!(r.header("content-type").unwrap().starts_with("text/plain"));
    let text = r.text();
    for name in [
        "zeyos_odata_cache_hits_total",
        "zeyos_odata_cache_misses_total",
        "zeyos_odata_cache_revalidations_total",
        "zeyos_odata_cache_evictions_total",
        "zeyos_odata_cache_bytes",
        "zeyos_odata_upstream_requests_total",
    ] {
        assert!(
            text.lines().any(|l| l.starts_with(&format!("{name} "))),
            "{name}:\n{text}"
        );
    }
    let value = |name: &str| -> u64 {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{name} ")))
            .and_then(|v| v.parse().ok())
            .unwrap()
    };
    assert!(value("zeyos_odata_cache_hits_total") >= 1);
    assert!(value("zeyos_odata_cache_bytes") > 0);
    assert!(!text.contains("demo") && !text.to_lowercase().contains("basic"));
    env.stop().await;
}

#[tokio::test]
async fn a_disabled_cache_is_bypassed() {
    let env = Env::start(20, |c| c.cache.enabled = false).await;
    assert!(env.gateway.cache().is_none());
    let path = "/odata/Accounts?$top=2";
    let first = env.get(path).await;
    let (n, second) = upstream_requests(&env, env.get(path)).await;
    assert_eq!(n, 1);
    assert_eq!(second.body, first.body);
    assert!(second.header("etag").is_some());
    let text = env.get_with("/metrics", &[]).await.text();
    assert!(text.contains("zeyos_odata_cache_enabled 0"));
    env.stop().await;
}
