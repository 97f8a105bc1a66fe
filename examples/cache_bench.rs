//! Cache benchmark: latency and throughput of cache hits against misses,
//! through the gateway's HTTP server on loopback, with zeyos-sim in-process
//! as the upstream.
//!
//! ```sh
//! cargo run --release --example cache_bench
//! cargo run --release --example cache_bench -- --requests 5000 --seconds 10 --connections 16
//! cargo run --release --example cache_bench -- --requests 200 --list '/odata/Transactions?$top=1000&$orderby=Id'
//! ```
//!
//! For each request it measures, one request at a time on one keep-alive
//! connection: the HTTP round trip on loopback (client included), and the
//! time inside the gateway (`Gateway::handle` called directly, body
//! included, no sockets). Then hit throughput with several connections.
//! Modes: `hit` (served from the cache), `revalidate` (`Cache-Control:
//! no-cache` on a record: a conditional upstream request answered 304),
//! `miss` (`no-cache` on a list: a full upstream read, then stored), and
//! `cache off` (a second gateway with `cache.enabled = false`).
//! `--list PATH` measures that list request instead of the default three.
//! The figures are in BENCHMARKS.md.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use zeyos_odata::config::{Config, Secret};
use zeyos_odata::server::gateway::Gateway;
use zeyos_odata::server::serve::{serve, Server};

struct Args {
    /// Only loop in-process hits of this path (for a profiler).
    profile: Option<String>,
    /// Measure this list request instead of the default ones.
    list: Option<String>,
    requests: usize,
    seconds: u64,
    connections: usize,
    scale: usize,
}

fn args() -> Args {
    let mut a = Args {
        profile: None,
        list: None,
        requests: 2000,
        seconds: 5,
        connections: 8,
        scale: 1000,
    };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i + 1 < argv.len() {
        if argv[i] == "--profile" {
            a.profile = Some(argv[i + 1].clone());
            i += 2;
            continue;
        }
        if argv[i] == "--list" {
            a.list = Some(argv[i + 1].clone());
            i += 2;
            continue;
        }
        let v = argv[i + 1].parse::<usize>();
        match (argv[i].as_str(), v) {
            ("--requests", Ok(n)) => a.requests = n.max(10),
            ("--seconds", Ok(n)) => a.seconds = n.max(1) as u64,
            ("--connections", Ok(n)) => a.connections = n.max(1),
            ("--scale", Ok(n)) => a.scale = n.max(20),
            _ => {
                eprintln!("usage: cache_bench [--requests N] [--seconds S] [--connections C] [--scale N] [--profile PATH]");
                std::process::exit(2);
            }
        }
        i += 2;
    }
    a
}

/// The allocator the `zeyos-odata` binary uses, so that the figures are
/// the binary's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

type Http = Client<hyper_util::client::legacy::connect::HttpConnector, Empty<Bytes>>;

fn request(url: &str, headers: &[(&str, &str)]) -> http::Request<Empty<Bytes>> {
    let mut b = http::Request::builder().uri(url);
    // HTTP/1.1 requests carry Host (RFC 9112 3.2), in-process ones too.
    let authority = url
        .parse::<http::Uri>()
        .ok()
        .and_then(|u| u.authority().cloned());
    let host = authority.as_ref().map_or("localhost", |a| a.as_str());
    b = b.header(http::header::HOST, host);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(Empty::new()).expect("valid request")
}

/// One request over HTTP; its status.
async fn get(http: &Http, url: &str, headers: &[(&str, &str)]) -> u16 {
    let resp = http
        .request(request(url, headers))
        .await
        .expect("request sent");
    let status = resp.status().as_u16();
    let _ = resp.into_body().collect().await.expect("body read");
    status
}

/// One request handled in-process; its status.
async fn handle(gw: &Gateway, url: &str, headers: &[(&str, &str)]) -> u16 {
    let (resp, _) = gw.handle(request(url, headers)).await;
    let status = resp.status().as_u16();
    let _ = resp.into_body().collect().await.expect("body read");
    status
}

struct Stats {
    p50: Duration,
    p99: Duration,
}

fn stats(mut samples: Vec<Duration>) -> Stats {
    samples.sort_unstable();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    Stats {
        p50: at(0.50),
        p99: at(0.99),
    }
}

fn us(d: Duration) -> String {
    format!("{:.0} µs", d.as_secs_f64() * 1e6)
}

/// Latencies of `n` requests one after another, measured from a task on
/// the runtime's workers (as the server's connection tasks are), not from
/// the main thread, whose wake-ups would be measured too.
async fn latency_http(http: &Http, url: &str, headers: &[(&str, &str)], n: usize) -> Stats {
    let (http, url, headers) = (http.clone(), url.to_string(), owned(headers));
    let samples = tokio::spawn(async move {
        let h = borrowed(&headers);
        let mut samples = Vec::with_capacity(n);
        for _ in 0..n {
            let t = Instant::now();
            let status = get(&http, &url, &h).await;
            samples.push(t.elapsed());
            assert_eq!(status, 200, "{url}");
        }
        samples
    })
    .await
    .expect("measuring task");
    stats(samples)
}

fn owned(headers: &[(&str, &str)]) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn borrowed(headers: &[(String, String)]) -> Vec<(&str, &str)> {
    headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

/// Like [`latency_http`], calling `Gateway::handle` directly.
async fn latency_inproc(gw: &Arc<Gateway>, url: &str, headers: &[(&str, &str)], n: usize) -> Stats {
    let (gw, url, headers) = (gw.clone(), url.to_string(), owned(headers));
    let samples = tokio::spawn(async move {
        let h = borrowed(&headers);
        let mut samples = Vec::with_capacity(n);
        for _ in 0..n {
            let t = Instant::now();
            let status = handle(&gw, &url, &h).await;
            samples.push(t.elapsed());
            assert_eq!(status, 200, "{url}");
        }
        samples
    })
    .await
    .expect("measuring task");
    stats(samples)
}

/// Requests per second with `connections` clients looping for `seconds`.
async fn throughput(url: &str, headers: &[(&str, &str)], connections: usize, seconds: u64) -> f64 {
    let done = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let http: Http = Client::builder(TokioExecutor::new()).build_http();
        let url = url.to_string();
        let headers = owned(headers);
        let done = done.clone();
        let stop = stop.clone();
        tasks.push(tokio::spawn(async move {
            let h = borrowed(&headers);
            while !stop.load(Ordering::Relaxed) {
                assert_eq!(get(&http, &url, &h).await, 200);
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    let start = Instant::now();
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let n = done.load(Ordering::Relaxed);
    let elapsed = start.elapsed();
    for t in tasks {
        let _ = t.await;
    }
    n as f64 / elapsed.as_secs_f64()
}

async fn gateway(base_url: &str, enabled: bool) -> (Arc<Gateway>, String, Server) {
    let mut config = Config::default_for_demo(base_url).expect("shipped config is valid");
    config.upstream.appsecret = Some(Secret::new("bench"));
    config.cache.enabled = enabled;
    let gw = Gateway::new(config).expect("gateway builds");
    let server = serve(gw.clone(), "127.0.0.1:0".parse().expect("address"))
        .await
        .expect("gateway listens");
    let base = format!("http://{}", server.addr());
    (gw, base, server)
}

#[tokio::main]
async fn main() {
    let a = args();
    let sim = zeyos_sim::start(zeyos_sim::SimConfig {
        scale: a.scale,
        ..Default::default()
    })
    .await
    .expect("zeyos-sim starts");
    let (gw_on, base_on, server_on) = gateway(&sim.base_url(), true).await;
    let (gw_off, base_off, server_off) = gateway(&sim.base_url(), false).await;
    use base64::Engine;
    let auth = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("demo:demo")
    );
    let plain: [(&str, &str); 1] = [("authorization", auth.as_str())];
    let fresh: [(&str, &str); 2] = [
        ("authorization", auth.as_str()),
        ("cache-control", "no-cache"),
    ];
    let http: Http = Client::builder(TokioExecutor::new()).build_http();
    let n = a.requests;
    if let Some(path) = &a.profile {
        // For `perf record`: nothing but in-process hits.
        let until = Instant::now() + Duration::from_secs(a.seconds);
        let mut count = 0u64;
        while Instant::now() < until {
            handle(&gw_on, path, &plain).await;
            count += 1;
        }
        println!("{count} requests of {path} in {} s", a.seconds);
        return;
    }

    println!(
        "cache_bench: zeyos-sim scale {}, {} sequential requests per latency figure, {} connections for {} s of throughput, {} cores",
        a.scale,
        n,
        a.connections,
        a.seconds,
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    println!();
    println!(
        "| request | mode | HTTP p50 | HTTP p99 | in gateway p50 | in gateway p99 | throughput |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    let requests: Vec<(&str, &str, bool)> = match &a.list {
        Some(path) => vec![(path.as_str(), path.as_str(), false)],
        None => vec![
            ("list, 20 rows", "/odata/Accounts?$top=20", false),
            (
                "list, 1 row",
                "/odata/Accounts?$top=1&$select=Id,LastName",
                false,
            ),
            ("record", "/odata/Accounts(42)", true),
        ],
    };
    for (name, path, record) in requests {
        let on = format!("{base_on}{path}");
        let off = format!("{base_off}{path}");
        // Warm up: logins, connections, the entry.
        for _ in 0..50 {
            get(&http, &on, &plain).await;
            get(&http, &off, &plain).await;
            handle(&gw_on, path, &plain).await;
        }
        let hit = latency_http(&http, &on, &plain, n).await;
        let hit_in = latency_inproc(&gw_on, path, &plain, n).await;
        let rps = throughput(&on, &plain, a.connections, a.seconds).await;
        println!(
            "| {name} | hit | {} | {} | {} | {} | {rps:.0} req/s |",
            us(hit.p50),
            us(hit.p99),
            us(hit_in.p50),
            us(hit_in.p99)
        );
        let mode = if record {
            "revalidate (304)"
        } else {
            "miss (no-cache)"
        };
        let m = latency_http(&http, &on, &fresh, n).await;
        let m_in = latency_inproc(&gw_on, path, &fresh, n).await;
        println!(
            "| {name} | {mode} | {} | {} | {} | {} | |",
            us(m.p50),
            us(m.p99),
            us(m_in.p50),
            us(m_in.p99)
        );
        let off_http = latency_http(&http, &off, &plain, n).await;
        let off_in = latency_inproc(&gw_off, path, &plain, n).await;
        let rps_off = throughput(&off, &plain, a.connections, a.seconds).await;
        println!(
            "| {name} | cache off | {} | {} | {} | {} | {rps_off:.0} req/s |",
            us(off_http.p50),
            us(off_http.p99),
            us(off_in.p50),
            us(off_in.p99)
        );
    }
    if let Some(c) = gw_on.cache() {
        c.run_pending_tasks().await;
        let m = c.metrics();
        println!();
        println!(
            "cache: {} hits, {} misses, {} revalidations, {} entries, {} bytes",
            m.hits, m.misses, m.revalidations, m.entries, m.bytes
        );
    }
    server_on.shutdown().await;
    server_off.shutdown().await;
    sim.shutdown().await;
}
