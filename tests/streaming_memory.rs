//! Memory while streaming a large page: bounded by upstream chunks, not by
//! the response. Alone in its test binary, because resident memory is per
//! process and other tests would disturb the measurement.

mod common;

use common::{basic, Env};

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
    // in the same process here) hold at a time. The cache is off: a chunk
    // of 2,000 transactions (about 3 MB as rows) is under its limit per
    // entry, so with it on, memory would also grow by what the cache is
    // allowed to hold (its budget, which its own tests check), and this
    // test measures the stream alone.
    let env = Env::start(10_000, |c| {
        c.paging.max_page_size = 200_000;
        c.upstream.max_limit = 2_000;
        c.cache.enabled = false;
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
    assert!(
        total > 100 << 20,
        "the response should be large: {total} bytes"
    );
    // Memory levels off once the first chunks are in flight: from the
    // first tenth to the ninth (about 150 MiB of JSON in between) it stays
    // well within what buffering it would need. (The last sample is taken while the stream ends.)
    let first = samples[0];
    let highest = samples[..9].iter().copied().max().unwrap_or(first);
    assert!(
        highest.saturating_sub(first) < 48 << 20,
        "memory kept growing: {} MiB after a tenth of the rows, {} MiB later",
        mib(first),
        mib(highest)
    );
    env.stop().await;
}
