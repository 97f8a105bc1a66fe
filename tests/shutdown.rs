//! Stopping and idle connections: a stop refuses new connections at once,
//! lets the responses under way finish within `shutdown_grace_ms` and cuts
//! off what outlasts it; a client that connects and sends no request is
//! disconnected after `header_read_timeout_ms`.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::{basic, Env};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use zeyos_odata::server::serve::Server;

/// Starts an environment without the cache, logs in, then makes every
/// request to the simulator take `latency`.
async fn start(latency: Duration, tweak: impl FnOnce(&mut zeyos_odata::config::Config)) -> Env {
    let env = Env::start(20, |c| {
        c.cache.enabled = false;
        tweak(c);
    })
    .await;
    assert_eq!(env.get("/odata/Accounts?$top=1").await.status, 200);
    env.sim.set_faults(zeyos_sim::Faults {
        latency,
        ..Default::default()
    });
    env.sim.reset_request_count();
    env
}

/// Sends a GET on a connection of its own and reads until the gateway
/// closes it (the request asks for that), returning everything read.
async fn raw_get(addr: SocketAddr, path: &str) -> std::io::Result<Vec<u8>> {
    let mut stream = TcpStream::connect(addr).await?;
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: {}\r\nConnection: close\r\n\r\n",
        basic("demo", "demo")
    );
    stream.write_all(request.as_bytes()).await?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await?;
    Ok(answer)
}

/// Waits until the simulator is working on a request.
async fn until_upstream_busy(env: &Env) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while env.sim.max_concurrent_requests() == 0 {
        assert!(Instant::now() < deadline, "the request never reached ZeyOS");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Connects until the gateway refuses, for at most `within`; whether it
/// did.
async fn refused_within(addr: SocketAddr, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if TcpStream::connect(addr).await.is_err() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    false
}

/// A read under way while the simulator takes `latency` to answer, with
/// the shutdown grace set to `grace`: the server (still running), its
/// address and the read, once ZeyOS is working on it.
async fn read_under_way(
    latency: Duration,
    grace: Duration,
) -> (
    Env,
    Server,
    SocketAddr,
    tokio::task::JoinHandle<std::io::Result<Vec<u8>>>,
) {
    let mut env = start(latency, |c| c.shutdown_grace = grace).await;
    let server = env.server.take().expect("server running");
    let addr = server.addr();
    let in_flight = tokio::spawn(raw_get(addr, "/odata/Accounts?$top=5&$select=Id"));
    until_upstream_busy(&env).await;
    (env, server, addr, in_flight)
}

#[tokio::test]
async fn a_stop_refuses_new_connections_and_finishes_the_response_under_way() {
    let (_env, server, addr, in_flight) =
        read_under_way(Duration::from_millis(600), Duration::from_secs(20)).await;

    let stopping = tokio::spawn(server.shutdown());
    assert!(
        refused_within(addr, Duration::from_secs(5)).await,
        "new connections are still accepted after the stop"
    );
    assert!(
        !in_flight.is_finished() && !stopping.is_finished(),
        "the stop did not wait for the response under way"
    );

    let answer = in_flight.await.expect("no panic").expect("answer read");
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    let body = &text[text.find("\r\n\r\n").expect("a head") + 4..];
    let rows: serde_json::Value = serde_json::from_str(body).expect("a whole JSON body");
    assert_eq!(rows["value"].as_array().map(Vec::len), Some(5), "{rows}");
    stopping.await.expect("the stop ends");
}

#[tokio::test]
async fn a_response_that_outlasts_the_grace_period_is_cut_off() {
    let (_env, server, _addr, in_flight) =
        read_under_way(Duration::from_secs(8), Duration::from_millis(100)).await;

    // The stop ends long before ZeyOS would have answered, and the
    // client's connection is closed without an answer rather than left
    // hanging.
    tokio::time::timeout(Duration::from_secs(6), server.shutdown())
        .await
        .expect("the stop waits no longer than its grace period");
    let answer = tokio::time::timeout(Duration::from_secs(6), in_flight)
        .await
        .expect("the client's connection is closed")
        .expect("no panic");
    if let Ok(answer) = answer {
        assert!(answer.is_empty(), "{}", String::from_utf8_lossy(&answer));
    }
}

#[tokio::test]
async fn connections_that_send_no_request_are_closed_after_the_header_timeout() {
    let env = start(Duration::ZERO, |c| {
        c.header_read_timeout = Duration::from_millis(200);
    })
    .await;
    let addr = env.server.as_ref().expect("server running").addr();

    // Nothing at all, half a request head, and a connection left idle
    // after a whole request and its answer.
    let mut silent = TcpStream::connect(addr).await.expect("connects");
    let mut partial = TcpStream::connect(addr).await.expect("connects");
    partial
        .write_all(b"GET /odata/ HTTP/1.1\r\nHost: x\r\n")
        .await
        .expect("written");
    let mut idle = TcpStream::connect(addr).await.expect("connects");
    idle.write_all(
        format!(
            "GET /odata/Accounts?$top=1&$select=Id HTTP/1.1\r\nHost: x\r\nAuthorization: {}\r\n\r\n",
            basic("demo", "demo")
        )
        .as_bytes(),
    )
    .await
    .expect("written");

    for (name, stream) in [
        ("silent", &mut silent),
        ("partial", &mut partial),
        ("idle", &mut idle),
    ] {
        let mut read = Vec::new();
        let closed = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut read))
            .await
            .unwrap_or_else(|_| panic!("the {name} connection is still open"));
        // A reset is a close too.
        let _ = closed;
        let text = String::from_utf8_lossy(&read);
        match name {
            "idle" => assert!(text.starts_with("HTTP/1.1 200"), "{text}"),
            _ => assert!(!text.contains(" 200 "), "{name}: {text}"),
        }
    }
    // The gateway still serves new connections.
    let answer = raw_get(addr, "/odata/Accounts?$top=1&$select=Id")
        .await
        .expect("answered");
    assert!(String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 200"));
    env.stop().await;
}
