//! Load test: the gateway's overhead against calling zeyos-sim directly for
//! the same data, and the cost of `$expand`.
//!
//! ```sh
//! cargo run --release --example loadtest -- [overhead|expand|batch|all] [seconds] [concurrency]
//! ```
//!
//! Starts zeyos-sim (1,000 accounts) and the gateway (cache disabled, so
//! every request reaches the backend) in this process on loopback, then
//! for each scenario drives N concurrent keep-alive clients for the given
//! time against (a) the simulator with the ZeyOS list request the gateway
//! sends and (b) the gateway with the OData URL, in alternating slices of
//! a quarter of a second (so that both see the same machine), and prints
//! latency percentiles and throughput. Everything shares the machine's
//! cores, so absolute numbers depend on it; the ratios are the point. Each
//! run also reports how busy every CPU was: a throughput ratio says
//! something about capacity only where a CPU was saturated. `SCENARIO=N`
//! runs only the Nth overhead scenario (from 0): 100 accounts, 1,000 wide
//! transactions, one account by key, 100 wide transactions.
//!
//! `batch` (not part of `all`) times a JSON `$batch` of four independent
//! reads, as a UI5 page sends them, with 20 ms added to every ZeyOS request
//! (a ZeyOS on another host), against gateways that run one and four of a
//! batch's reads at a time (`limits.batch_parallelism`).
//!
//! With `--upstream-cpu N` the load runs against a zeyos-sim in its own
//! process (the `zeyos-sim` binary next to this one, started pinned to CPU
//! N with `taskset`), as in a deployment where ZeyOS runs on other
//! hardware than the gateway. Start this process pinned to the other CPUs
//! so that the two do not share a core:
//!
//! ```sh
//! cargo build --release --workspace --bins --example loadtest
//! taskset -c 1 target/release/examples/loadtest overhead 5 8 --upstream-cpu 0
//! ```
//!
//! zeyos-sim streams its list answers while it reads the records, as a
//! ZeyOS whose answer crosses a network arrives over time; the gateway
//! decodes and writes rows as they arrive. With `--upstream-buffered` the
//! external simulator sends each list answer whole, once its last record
//! is encoded (`zeyos-sim --buffer-lists`): the case where nothing of a
//! page can overlap with ZeyOS's work on loopback.
//!
//! With `--gzip LEVEL` the gateway compresses at that level
//! (`compression_level`) and the clients send Power Query's
//! `Accept-Encoding: gzip, deflate` (zeyos-sim ignores it), so the figures
//! include what compressing costs for a Power BI refresh.
//!
//! The load generator then shares the gateway's core, which counts against
//! the gateway. The in-process simulator is still started, only to learn
//! which ZeyOS request the gateway sends for each scenario (same seed and
//! scale, so the same data).

mod wire;

use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use wire::{Connection, WireRequest};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

type HttpClient = Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>;

#[derive(Clone)]
struct Target {
    method: &'static str,
    url: String,
    headers: Vec<(&'static str, String)>,
    body: Bytes,
}

struct Stats {
    latencies: Vec<Duration>,
    elapsed: Duration,
    bytes: u64,
    /// How busy each CPU was during the run (empty where `/proc/stat`
    /// cannot be read): a run measures throughput only where a CPU was
    /// saturated; otherwise the clients were too few to keep the pipeline
    /// full and the rate is set by latency instead.
    cpu_busy: Vec<(String, f64)>,
}

/// Busy and total jiffies per CPU, from `/proc/stat`.
fn cpu_times() -> Vec<(String, u64, u64)> {
    let Ok(stat) = std::fs::read_to_string("/proc/stat") else {
        return Vec::new();
    };
    stat.lines()
        .filter(|l| l.starts_with("cpu") && !l.starts_with("cpu "))
        .filter_map(|l| {
            let mut fields = l.split_whitespace();
            let name = fields.next()?.to_string();
            let t: Vec<u64> = fields.filter_map(|f| f.parse().ok()).collect();
            let total: u64 = t.iter().take(8).sum();
            // idle and iowait
            let idle = t.get(3)? + t.get(4)?;
            Some((name, total - idle, total))
        })
        .collect()
}

impl Stats {
    fn pct(&self, p: f64) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        let i = ((self.latencies.len() as f64 - 1.0) * p).round() as usize;
        self.latencies[i.min(self.latencies.len() - 1)]
    }
    fn rps(&self) -> f64 {
        self.latencies.len() as f64 / self.elapsed.as_secs_f64()
    }
}

async fn send(client: &HttpClient, t: &Target) -> (u16, u64) {
    let mut req = http::Request::builder().method(t.method).uri(&t.url);
    for (k, v) in &t.headers {
        req = req.header(*k, v);
    }
    let Ok(req) = req.body(Full::new(t.body.clone())) else {
        return (0, 0);
    };
    match client.request(req).await {
        Ok(resp) => {
            let status = resp.status().as_u16();
            let n = resp
                .into_body()
                .collect()
                .await
                .map(|b| b.to_bytes().len() as u64)
                .unwrap_or(0);
            (status, n)
        }
        Err(_) => (0, 0),
    }
}

/// How long each side runs before the other takes over.
const SLICE: Duration = Duration::from_millis(250);

/// Drives `a` and `b` (the simulator directly, and the gateway) with
/// `concurrency` keep-alive clients each, in alternating slices of
/// [`SLICE`] until each has run `seconds`. On a shared machine whose speed
/// drifts by a fifth within minutes, two runs one after the other compare
/// two different machines; slices a quarter of a second long see the same
/// one.
async fn drive_pair(
    client: &HttpClient,
    a: &Target,
    b: &Target,
    seconds: u64,
    concurrency: usize,
) -> (Stats, Stats) {
    let mut sides = [
        Side::open(client, a, concurrency).await,
        Side::open(client, b, concurrency).await,
    ];
    let slices = (Duration::from_secs(seconds).as_millis() / SLICE.as_millis()).max(1);
    for _ in 0..slices {
        for side in &mut sides {
            side.run(SLICE).await;
        }
    }
    let [a, b] = sides;
    (a.stats(), b.stats())
}

/// One target's clients and what they measured so far.
struct Side {
    wire: WireRequest,
    conns: Vec<Connection>,
    latencies: Vec<Duration>,
    elapsed: Duration,
    bytes: u64,
    /// Busy and total jiffies per CPU, summed over this side's slices.
    jiffies: Vec<(String, u64, u64)>,
}

impl Side {
    /// Connects the clients, after warming up the backend's caches and
    /// checking that the load generator's own client reads the same body
    /// as hyper's.
    async fn open(client: &HttpClient, target: &Target, concurrency: usize) -> Side {
        let (status, hyper_len) = send(client, target).await;
        assert_eq!(status, 200, "{} answered {status}", target.url);
        let wire = WireRequest::new(target.method, &target.url, &target.headers, &target.body);
        let mut conns = Vec::new();
        for _ in 0..concurrency {
            let mut conn = Connection::open(wire.addr()).await.expect("connect");
            for _ in 0..3 {
                let r = conn.send(&wire).await.expect("a response");
                assert_eq!(r.status, 200, "{} answered {}", target.url, r.status);
                assert_eq!(r.body_len, hyper_len, "{}: body length", target.url);
            }
            conns.push(conn);
        }
        Side {
            wire,
            conns,
            latencies: Vec::new(),
            elapsed: Duration::ZERO,
            bytes: 0,
            jiffies: Vec::new(),
        }
    }

    /// Every client sends requests back to back for `slice`.
    async fn run(&mut self, slice: Duration) {
        let start = Instant::now();
        let deadline = start + slice;
        let before = cpu_times();
        let mut tasks = Vec::new();
        for mut conn in std::mem::take(&mut self.conns) {
            let wire = self.wire.clone();
            tasks.push(tokio::spawn(async move {
                let mut lat = Vec::new();
                let mut bytes = 0;
                while Instant::now() < deadline {
                    let t0 = Instant::now();
                    match conn.send(&wire).await {
                        Ok(r) if r.status == 200 => {
                            lat.push(t0.elapsed());
                            bytes += r.body_len;
                        }
                        Ok(_) => {}
                        // The server closed the connection: open another.
                        Err(_) => match Connection::open(wire.addr()).await {
                            Ok(c) => conn = c,
                            Err(_) => return (None, lat, bytes),
                        },
                    }
                }
                (Some(conn), lat, bytes)
            }));
        }
        for t in tasks {
            if let Ok((conn, lat, bytes)) = t.await {
                self.conns.extend(conn);
                self.latencies.extend(lat);
                self.bytes += bytes;
            }
        }
        self.elapsed += start.elapsed();
        let after = cpu_times();
        if self.jiffies.is_empty() {
            self.jiffies = after.iter().map(|(n, _, _)| (n.clone(), 0, 0)).collect();
        }
        for ((_, busy, total), ((_, b0, t0), (_, b1, t1))) in
            self.jiffies.iter_mut().zip(before.iter().zip(&after))
        {
            *busy += b1.saturating_sub(*b0);
            *total += t1.saturating_sub(*t0);
        }
    }

    fn stats(mut self) -> Stats {
        self.latencies.sort();
        Stats {
            latencies: self.latencies,
            elapsed: self.elapsed,
            bytes: self.bytes,
            cpu_busy: self
                .jiffies
                .into_iter()
                .map(|(cpu, busy, total)| (cpu, busy as f64 / total.max(1) as f64))
                .collect(),
        }
    }
}

fn basic() -> String {
    use base64::Engine;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("demo:demo")
    )
}

fn report(name: &str, direct: &Stats, gateway: &Stats) {
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    println!("\n## {name}");
    println!("| | requests | req/s | p50 µs | p99 µs | bytes/resp | CPUs busy |");
    println!("|---|---:|---:|---:|---:|---:|---|");
    for (label, s) in [
        ("zeyos-sim direct", direct),
        ("through the gateway", gateway),
    ] {
        let busy: Vec<String> = s
            .cpu_busy
            .iter()
            .map(|(cpu, b)| format!("{cpu} {:.0} %", b * 100.0))
            .collect();
        println!(
            "| {label} | {} | {:.0} | {:.0} | {:.0} | {} | {} |",
            s.latencies.len(),
            s.rps(),
            us(s.pct(0.5)),
            us(s.pct(0.99)),
            s.bytes / s.latencies.len().max(1) as u64,
            busy.join(", ")
        );
    }
    println!(
        "added p50 {:.0} µs, added p99 {:.0} µs, throughput ratio {:.2}",
        us(gateway.pct(0.5)) - us(direct.pct(0.5)),
        us(gateway.pct(0.99)) - us(direct.pct(0.99)),
        gateway.rps() / direct.rps()
    );
}

#[tokio::main]
async fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let upstream_cpu: Option<String> = match args.iter().position(|a| a == "--upstream-cpu") {
        Some(i) if i + 1 < args.len() => {
            let cpu = args.remove(i + 1);
            args.remove(i);
            Some(cpu)
        }
        _ => None,
    };
    let upstream_buffered = match args.iter().position(|a| a == "--upstream-buffered") {
        Some(i) => {
            args.remove(i);
            true
        }
        None => false,
    };
    let gzip: Option<u32> = match args.iter().position(|a| a == "--gzip") {
        Some(i) if i + 1 < args.len() => {
            let level = args.remove(i + 1);
            args.remove(i);
            Some(level.parse().expect("--gzip LEVEL: 0 to 9"))
        }
        _ => None,
    };
    let which = args.first().cloned().unwrap_or_else(|| "all".into());
    let seconds: u64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(10);
    let concurrency: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(8);

    let sim = zeyos_sim::start(zeyos_sim::SimConfig {
        scale: 1000,
        ..Default::default()
    })
    .await
    .expect("zeyos-sim starts");
    let server = start_gateway(&sim.base_url(), gzip).await;
    let gw = format!("http://{}", server.addr());
    let token = sim.login("demo", "demo").await.expect("token");
    let client: HttpClient = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(256)
        .build_http();
    // The backend the load runs against: the in-process simulator, or one
    // in its own pinned process with a gateway of its own in front.
    let external = upstream_cpu
        .as_deref()
        .map(|cpu| ExternalSim::start(cpu, upstream_buffered));
    let (load_sim, load_gw, load_token, load_server) = match &external {
        Some(ext) => {
            let server = start_gateway(&ext.base_url, gzip).await;
            let gw = format!("http://{}", server.addr());
            let token = login(&client, &ext.base_url).await;
            (ext.base_url.clone(), gw, token, Some(server))
        }
        None => (sim.base_url(), gw.clone(), token.clone(), None),
    };
    println!(
        "loadtest: {seconds} s per run, {concurrency} concurrent clients, {} cores for this process, zeyos-sim {}",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        match &upstream_cpu {
            Some(cpu) if upstream_buffered => {
                format!("in its own process on CPU {cpu}, list answers sent whole")
            }
            Some(cpu) => format!("in its own process on CPU {cpu}, list answers streamed"),
            None => "in this process".to_string(),
        }
    );
    if let Some(level) = gzip {
        println!("clients accept gzip; the gateway compresses at level {level}");
    }
    let mut accept: Vec<(&'static str, String)> = Vec::new();
    if gzip.is_some() {
        accept.push(("accept-encoding", "gzip, deflate".into()));
    }

    let scenarios: Vec<(&str, &str)> = vec![
        (
            "100 accounts, 5 columns, filtered and sorted",
            "/odata/Accounts?$select=Id,LastName,FirstName,Type,UpdatedOn&$filter=Type%20eq%20'CUSTOMER'&$orderby=Id&$top=100",
        ),
        (
            "1,000 transactions, all columns",
            "/odata/Transactions?$top=1000&$orderby=Id",
        ),
        ("one account by key", "/odata/Accounts(42)"),
        (
            "100 transactions, all columns",
            "/odata/Transactions?$top=100&$orderby=Id",
        ),
    ];
    if which == "overhead" || which == "all" {
        let only: Option<usize> = std::env::var("SCENARIO").ok().and_then(|v| v.parse().ok());
        for (i, (name, url)) in scenarios.iter().enumerate() {
            if only.is_some_and(|o| o != i) {
                continue;
            }
            // The direct request is the one the gateway sends (taken from
            // the simulator's log), so both sides fetch the same data.
            sim.reset_request_count();
            let probe = Target {
                method: "GET",
                url: format!("{gw}{url}"),
                headers: [vec![("authorization", basic())], accept.clone()].concat(),
                body: Bytes::new(),
            };
            let _ = send(&client, &probe).await;
            let upstream = sim
                .last_api_request()
                .expect("the gateway called the backend");
            let direct = Target {
                method: if upstream.method == "GET" {
                    "GET"
                } else {
                    "POST"
                },
                url: format!("{load_sim}{}", upstream.path),
                headers: [
                    vec![
                        ("authorization", format!("Bearer {load_token}")),
                        ("content-type", "application/json".into()),
                    ],
                    accept.clone(),
                ]
                .concat(),
                body: Bytes::from(upstream.body.clone()),
            };
            let through = Target {
                url: format!("{load_gw}{url}"),
                ..probe.clone()
            };
            let (d, g) = drive_pair(&client, &direct, &through, seconds, concurrency).await;
            report(name, &d, &g);
        }
    }
    if which == "expand" || which == "all" {
        // 1,000 accounts with their transactions: the gateway's time against
        // the sum of the upstream calls it makes, replayed one by one.
        let url = format!(
            "{gw}/odata/Accounts?$top=1000&$select=Id,LastName&$expand=Transactions($select=Id,NetAmount)"
        );
        let probe = Target {
            method: "GET",
            url: url.clone(),
            headers: vec![
                ("authorization", basic()),
                ("prefer", "odata.maxpagesize=1000".into()),
            ],
            body: Bytes::new(),
        };
        let _ = send(&client, &probe).await;
        let mut gateway_times = Vec::new();
        let mut upstream_sums = Vec::new();
        let mut calls = 0;
        for _ in 0..10 {
            sim.reset_request_count();
            let t0 = Instant::now();
            let (status, _) = send(&client, &probe).await;
            gateway_times.push(t0.elapsed());
            assert_eq!(status, 200);
            let log: Vec<_> = sim
                .request_log()
                .into_iter()
                .filter(|r| r.path.contains("/api/v1/"))
                .collect();
            calls = log.len();
            let mut sum = Duration::ZERO;
            for r in &log {
                let t = Target {
                    method: "POST",
                    url: format!("{}{}", sim.base_url(), r.path),
                    headers: vec![
                        ("authorization", format!("Bearer {token}")),
                        ("content-type", "application/json".into()),
                    ],
                    body: Bytes::from(r.body.clone()),
                };
                let t0 = Instant::now();
                let _ = send(&client, &t).await;
                sum += t0.elapsed();
            }
            upstream_sums.push(sum);
        }
        gateway_times.sort();
        upstream_sums.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        println!("\n## $expand: 1,000 accounts with their transactions");
        println!(
            "upstream requests per response: {calls} (1 for the accounts, ceil(1000/batch) for the transactions)"
        );
        println!(
            "gateway response median {:.1} ms; the same upstream requests replayed sequentially sum to a median {:.1} ms; ratio {:.2}",
            ms(gateway_times[5]),
            ms(upstream_sums[5]),
            ms(gateway_times[5]) / ms(upstream_sums[5])
        );
    }
    if which == "batch" {
        batch_latency(&client, &sim).await;
    }
    if let Some(s) = load_server {
        s.shutdown().await;
    }
    server.shutdown().await;
    sim.shutdown().await;
    drop(external);
}

/// The time a `$batch` of four independent reads takes with 20 ms added
/// to every ZeyOS request, running one and four reads at a time.
async fn batch_latency(client: &HttpClient, sim: &zeyos_sim::SimHandle) {
    let body = serde_json::json!({"requests": [
        {"id": "list", "method": "get", "url": "Accounts?$top=20&$select=Id,LastName,Type&$orderby=LastName"},
        {"id": "count", "method": "get", "url": "Accounts/$count"},
        {"id": "detail", "method": "get", "url": "Accounts(42)?$expand=Contact"},
        {"id": "items", "method": "get", "url": "Transactions?$top=20&$filter=Account/Id%20eq%2042"}
    ]})
    .to_string();
    sim.set_faults(zeyos_sim::Faults {
        latency: Duration::from_millis(20),
        ..Default::default()
    });
    println!("\n## $batch of four independent reads, ZeyOS 20 ms away");
    println!("| reads at a time | upstream requests | median | p90 |");
    println!("|---:|---:|---:|---:|");
    for parallelism in [1, 4] {
        let server = start_gateway_with(&sim.base_url(), None, |c| {
            c.limits.batch_parallelism = parallelism;
        })
        .await;
        let target = Target {
            method: "POST",
            url: format!("http://{}/odata/$batch", server.addr()),
            headers: vec![
                ("authorization", basic()),
                ("content-type", "application/json".into()),
            ],
            body: Bytes::from(body.clone()),
        };
        let statuses = batch_statuses(client, &target).await;
        assert_eq!(statuses, [200; 4], "every read of the batch is answered");
        let mut times = Vec::new();
        sim.reset_request_count();
        for _ in 0..30 {
            let t0 = Instant::now();
            let (status, _) = send(client, &target).await;
            times.push(t0.elapsed());
            assert_eq!(status, 200);
        }
        let calls = sim.requests_served() / 30;
        times.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        println!(
            "| {parallelism} | {calls} | {:.1} ms | {:.1} ms |",
            ms(times[15]),
            ms(times[27])
        );
        server.shutdown().await;
    }
    sim.set_faults(zeyos_sim::Faults::default());
}

/// The statuses of a JSON batch's answers.
async fn batch_statuses(client: &HttpClient, t: &Target) -> Vec<u64> {
    let mut req = http::Request::builder().method(t.method).uri(&t.url);
    for (k, v) in &t.headers {
        req = req.header(*k, v);
    }
    let req = req.body(Full::new(t.body.clone())).expect("a request");
    let resp = client.request(req).await.expect("an answer");
    let body = resp.into_body().collect().await.expect("a body").to_bytes();
    let doc: serde_json::Value = serde_json::from_slice(&body).expect("a JSON batch answer");
    doc["responses"]
        .as_array()
        .map(|rs| {
            rs.iter()
                .map(|r| r["status"].as_u64().unwrap_or(0))
                .collect()
        })
        .unwrap_or_default()
}

/// A gateway with caching off (every request reaches the backend) in
/// front of the simulator at `sim_base`, compressing at `gzip` if given.
async fn start_gateway(sim_base: &str, gzip: Option<u32>) -> zeyos_odata::server::serve::Server {
    start_gateway_with(sim_base, gzip, |_| {}).await
}

/// [`start_gateway`] with the config changed by `tweak`.
async fn start_gateway_with(
    sim_base: &str,
    gzip: Option<u32>,
    tweak: impl FnOnce(&mut zeyos_odata::config::Config),
) -> zeyos_odata::server::serve::Server {
    let mut config = zeyos_odata::config::Config::default_for_demo(sim_base).expect("config");
    config.upstream.appsecret = Some(zeyos_odata::config::Secret::new("bench"));
    config.cache.enabled = false;
    config.paging.max_page_size = 10_000;
    if let Some(level) = gzip {
        config.compression_level = level;
    }
    tweak(&mut config);
    let gateway = zeyos_odata::server::gateway::Gateway::new(config).expect("gateway");
    zeyos_odata::server::serve::serve(gateway, "127.0.0.1:0".parse().unwrap())
        .await
        .expect("listen")
}

/// A token for demo/demo from the simulator at `base`.
async fn login(client: &HttpClient, base: &str) -> String {
    let t = Target {
        method: "POST",
        url: format!("{base}/demo/auth/v1/login"),
        headers: vec![("content-type", "application/x-www-form-urlencoded".into())],
        body: Bytes::from_static(b"name=demo&password=demo&identifier=loadtest&appsecret=bench"),
    };
    let mut req = http::Request::builder().method(t.method).uri(&t.url);
    for (k, v) in &t.headers {
        req = req.header(*k, v);
    }
    let req = req.body(Full::new(t.body)).expect("login request");
    let resp = client.request(req).await.expect("login answers");
    let body = resp
        .into_body()
        .collect()
        .await
        .expect("login body")
        .to_bytes();
    let v: serde_json::Value = serde_json::from_slice(&body).expect("login JSON");
    v["token"].as_str().expect("a token").to_string()
}

/// zeyos-sim in its own process, pinned to one CPU; killed on drop.
struct ExternalSim {
    child: std::process::Child,
    base_url: String,
}

impl ExternalSim {
    fn start(cpu: &str, buffer_lists: bool) -> ExternalSim {
        use std::io::BufRead;
        let exe = std::env::current_exe().expect("own path");
        let bin = exe
            .parent()
            .and_then(|examples| examples.parent())
            .map(|dir| dir.join("zeyos-sim"))
            .expect("target directory");
        assert!(
            bin.exists(),
            "{} is missing: cargo build --release --workspace --bins",
            bin.display()
        );
        let mut child = std::process::Command::new("taskset")
            .args(["-c", cpu])
            .arg(&bin)
            .args(["--listen", "127.0.0.1:0", "--scale", "1000"])
            .args(buffer_lists.then_some("--buffer-lists"))
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("taskset starts zeyos-sim");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut lines = std::io::BufReader::new(stdout).lines();
        let base_url = loop {
            match lines.next() {
                Some(Ok(line)) => {
                    if let Some(url) = line.strip_prefix("listening on ") {
                        break url.trim().to_string();
                    }
                }
                _ => panic!("zeyos-sim ended before listening"),
            }
        };
        // Keep reading what it prints, so that it never writes to a closed pipe.
        std::thread::spawn(move || lines.for_each(drop));
        ExternalSim { child, base_url }
    }
}

impl Drop for ExternalSim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
