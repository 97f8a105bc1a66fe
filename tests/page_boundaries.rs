//! Pages around the size where the gateway stops buffering a page for its
//! entity tag and starts streaming it: every one must arrive whole, the
//! switch must not panic the task that writes the page, and the tag of a
//! buffered page (hashed chunk by chunk while the page is written) must be
//! the tag of the body as sent.
//!
//! The page writer runs in the request's task until it knows whether the
//! page fits the buffer; a page that just passes the limit may still be
//! finished in that same poll. A panic there happens in a spawned task, so
//! the client may not notice; this test counts panics with a hook. It is
//! alone in its file because the hook is process-wide.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use common::Env;
use zeyos_odata::server::conditional::body_etag;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_around_the_streaming_limit_arrive_whole_without_panics() {
    let panics = Arc::new(AtomicUsize::new(0));
    let seen = panics.clone();
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        seen.fetch_add(1, Ordering::SeqCst);
        previous(info);
    }));

    let env = Env::start(1000, |_| {}).await;
    let mut sizes = Vec::new();
    for top in (300..=1000).step_by(50) {
        let url = format!("/odata/Transactions?$top={top}&$orderby=Id");
        let r = env
            .get_with(
                &url,
                &[
                    ("authorization", common::basic("demo", "demo")),
                    ("cache-control", "no-cache".to_string()),
                ],
            )
            .await;
        assert_eq!(r.status, 200, "{url}: {}", r.text());
        let body = r.text();
        let j: serde_json::Value = serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("{url}: not JSON ({e}), {} bytes", body.len()));
        let rows = j["value"].as_array().map(|a| a.len()).unwrap_or(0);
        assert_eq!(rows, top, "{url}");
        if let Some(tag) = r.header("etag") {
            assert_eq!(tag, body_etag(&r.body), "{url}: ETag of another body");
        }
        sizes.push((top, body.len(), r.header("etag").is_some()));
    }
    env.stop().await;

    // The run must have crossed the limit: small pages with an ETag,
    // large ones streamed without.
    assert!(
        sizes.iter().any(|s| s.2) && sizes.iter().any(|s| !s.2),
        "sizes did not straddle the streaming limit: {sizes:?}"
    );
    assert_eq!(panics.load(Ordering::SeqCst), 0, "a task panicked");
}

/// A page whose rows come from several ZeyOS requests, so that its writer
/// holds and hashes chunks while it waits between them: the tag must still
/// be that of the body as sent.
#[tokio::test]
async fn a_page_written_while_zeyos_sends_it_in_parts_has_the_tag_of_its_body() {
    let env = Env::start(200, |c| {
        c.upstream.max_limit = 20;
        c.cache.enabled = false;
    })
    .await;
    for top in [150, 400] {
        let url = format!("/odata/Transactions?$top={top}&$orderby=Id");
        env.sim.reset_request_count();
        let r = env.get(&url).await;
        assert_eq!(r.status, 200, "{url}: {}", r.text());
        assert!(
            env.sim.requests_served() >= 5,
            "{url}: read in fewer than 5 ZeyOS requests"
        );
        let tag = r.header("etag").expect("a page under 1 MiB has a tag");
        assert_eq!(tag, body_etag(&r.body), "{url}: ETag of another body");
    }
    env.stop().await;
}
