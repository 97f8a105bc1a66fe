//! Server-driven paging over a large collection: no row lost or repeated,
//! in every order, and memory bounded by a page, not by the collection.

mod common;

use std::collections::HashSet;

use common::{basic, Env};

/// Follows nextLinks from `first`, returning every row's Id in order and
/// the number of pages.
async fn all_ids(env: &Env, first: &str, page: usize) -> (Vec<i64>, usize) {
    let headers = [
        ("authorization", basic("demo", "demo")),
        ("prefer", format!("odata.maxpagesize={page}")),
    ];
    let mut url = first.to_string();
    let mut ids = Vec::new();
    let mut pages = 0;
    loop {
        let r = env.get_with(&url, &headers).await;
        assert_eq!(r.status, 200, "{url}: {}", r.text());
        assert_eq!(
            r.header("preference-applied").as_deref(),
            Some(format!("odata.maxpagesize={page}").as_str())
        );
        let j = r.json();
        pages += 1;
        for row in j["value"].as_array().unwrap() {
            ids.push(row["Id"].as_i64().unwrap());
        }
        match j["@odata.nextLink"].as_str() {
            Some(next) => {
                assert!(next.starts_with("http://"), "nextLink must be absolute: {next}");
                url = next.to_string();
            }
            None => break,
        }
    }
    (ids, pages)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paging_through_100k_rows_loses_and_repeats_nothing() {
    // 10 transactions per account: 100,000 transactions.
    let env = Env::start(10_000, |c| {
        c.paging.max_page_size = 20_000;
    })
    .await;
    let total = env.sim.rows("transactions").len();
    assert_eq!(total, 100_000);

    for (query, page) in [
        ("/odata/Transactions?$select=Id", 7_000),
        // A nullable sort key: segments for nulls first, key-set inside each.
        ("/odata/Transactions?$select=Id&$orderby=ContractId%20desc,DueDate", 9_000),
        ("/odata/Transactions?$select=Id&$orderby=NetAmount", 20_000),
    ] {
        let (ids, pages) = all_ids(&env, query, page).await;
        assert_eq!(ids.len(), total, "{query}: rows lost or repeated");
        let unique: HashSet<i64> = ids.iter().copied().collect();
        assert_eq!(unique.len(), total, "{query}: a row was repeated");
        assert_eq!(pages, total.div_ceil(page), "{query}");
    }
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deep_page_costs_what_the_first_costs() {
    let env = Env::start(2_000, |_| {}).await;
    let headers = [
        ("authorization", basic("demo", "demo")),
        ("prefer", "odata.maxpagesize=100".to_string()),
    ];
    let mut url = "/odata/Transactions?$select=Id&$orderby=CreatedOn".to_string();
    // The first page also logs in and looks at the (empty) segment of rows
    // without CreatedOn, which sorts first.
    let r = env.get_with(&url, &headers).await;
    assert_eq!(r.status, 200);
    url = r.json()["@odata.nextLink"].as_str().unwrap().to_string();
    for page in 1..150 {
        env.sim.reset_request_count();
        let r = env.get_with(&url, &headers).await;
        assert_eq!(r.status, 200);
        // Key-set paging: one upstream list request per page, no offset.
        assert_eq!(env.sim.requests_served(), 1, "page {page}");
        let log = env.sim.request_log();
        assert!(!log[0].body.contains("\"offset\""), "page {page} used an offset: {}", log[0].body);
        url = r.json()["@odata.nextLink"].as_str().unwrap().to_string();
    }
    env.stop().await;
}

#[tokio::test]
async fn skip_tokens_cannot_be_moved_or_forged() {
    let env = Env::start(50, |_| {}).await;
    let headers = [
        ("authorization", basic("demo", "demo")),
        ("prefer", "odata.maxpagesize=5".to_string()),
    ];
    let r = env.get_with("/odata/Accounts?$select=Id", &headers).await;
    let next = r.json()["@odata.nextLink"].as_str().unwrap().to_string();
    let token = next.split("$skiptoken=").nth(1).unwrap().to_string();
    for bad in [
        format!("/odata/Contacts?$select=Id&$skiptoken={token}"),
        format!("/odata/Accounts?$select=Id,LastName&$skiptoken={token}"),
        format!("/odata/Accounts?$select=Id&$skiptoken={}x", token),
        "/odata/Accounts?$select=Id&$skiptoken=garbage".to_string(),
    ] {
        let r = env.get_with(&bad, &headers).await;
        assert_eq!(r.status, 400, "{bad}");
        assert_eq!(r.json()["error"]["code"], "InvalidSkipToken");
    }
    // Another host name in the URL is another request.
    let r = env
        .get_with(
            &next,
            &[
                ("authorization", basic("demo", "demo")),
                ("host", "evil.example".to_string()),
            ],
        )
        .await;
    assert_eq!(r.status, 400);
    env.stop().await;
}

/// Resident set size of this process in bytes (Linux), if known.
fn rss_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streaming_a_large_page_keeps_memory_bounded() {
    use http_body_util::BodyExt;
    let Some(before) = rss_bytes() else {
        eprintln!("skipping: /proc/self/statm is not available");
        return;
    };
    // Upstream chunks of 2,000 rows: what the gateway (and the simulator,
    // in the same process here) hold at a time.
    let env = Env::start(10_000, |c| {
        c.paging.max_page_size = 200_000;
        c.upstream.max_limit = 2_000;
    })
    .await;
    // All 100,000 transactions with every property in one response.
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Empty<bytes::Bytes>>();
    let req = http::Request::get(format!("{}/odata/Transactions", env.base))
        .header("authorization", basic("demo", "demo"))
        .header("prefer", "odata.maxpagesize=200000")
        .body(http_body_util::Empty::new())
        .unwrap();
    let resp = client.request(req).await.unwrap();
    assert_eq!(resp.status(), 200);
    let start = rss_bytes().unwrap_or(before);
    let mut body = resp.into_body();
    let mut total: u64 = 0;
    let mut rows = 0u64;
    let mut carry: Vec<u8> = Vec::new();
    // Resident memory after each tenth of the rows.
    let mut samples: Vec<u64> = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.unwrap();
        if let Some(data) = frame.data_ref() {
            total += data.len() as u64;
            carry.extend_from_slice(data);
            rows += carry.windows(5).filter(|w| w == b"\"Id\":").count() as u64;
            let keep = carry.len().min(4);
            carry.drain(..carry.len() - keep);
            while samples.len() < 10 && rows >= (samples.len() as u64 + 1) * 10_000 {
                samples.push(rss_bytes().unwrap_or(0));
            }
        }
    }
    let mib = |b: u64| b >> 20;
    eprintln!(
        "streamed {} MiB ({rows} rows); resident MiB at each tenth: {:?} (start {})",
        mib(total),
        samples.iter().map(|s| mib(*s)).collect::<Vec<_>>(),
        mib(start)
    );
    assert_eq!(rows, 100_000);
    assert!(total > 100 << 20, "the response should be large: {total} bytes");
    // Memory levels off once the first chunks are in flight: from the
    // first tenth to the ninth (about 150 MiB of JSON in between) it stays
    // within a few MiB. (The last sample is taken while the stream ends.)
    let first = samples[0];
    let highest = samples[..9].iter().copied().max().unwrap_or(first);
    assert!(
        highest.saturating_sub(first) < 16 << 20,
        "memory kept growing: {} MiB after a tenth of the rows, {} MiB later",
        mib(first),
        mib(highest)
    );
    env.stop().await;
}
