//! A ZeyOS that answers list requests with bodies the gateway cannot read:
//! broken from the start, or cut off in the middle of a streamed page.
//!
//! zeyos-sim always answers well-formed JSON, so most tests here put a small
//! HTTP server on 127.0.0.1 in its place: it accepts the login and answers
//! every API request with one fixed broken body. The gateway must turn each
//! into a 502 OData error that names no internals, never a panic, a hang
//! or a partial page.

mod common;

use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use zeyos_odata::config::{Config, Secret};
use zeyos_odata::server::gateway::Gateway;
use zeyos_odata::server::serve::serve;

/// Serves the login and answers every other request with `body`.
async fn broken_zeyos(body: &'static [u8]) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let svc = service_fn(move |req: Request<hyper::body::Incoming>| async move {
                    let text: &[u8] = if req.uri().path().ends_with("/auth/v1/login") {
                        br#"{"user":1,"application":1,"token":"t","identifier":"x","expdate":4102444800}"#
                    } else {
                        body
                    };
                    Ok::<_, Infallible>(
                        Response::builder()
                            .header("content-type", "application/json")
                            .body(Full::new(Bytes::from_static(text)))
                            .expect("response"),
                    )
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    addr
}

#[tokio::test]
async fn unreadable_list_bodies_become_502_odata_errors() {
    for body in [
        &br#"[{"ID":1,"lastname":"Smi"#[..],
        br#"{"oops":true}"#,
        br#"[1,2,3]"#,
        br#"[{"ID":1}] trailing"#,
        b"<html>maintenance</html>",
        b"",
        // Latin-1 where UTF-8 is due.
        b"[{\"ID\":1,\"lastname\":\"M\xfcller\"}]",
    ] {
        let shown = String::from_utf8_lossy(body);
        let upstream = broken_zeyos(body).await;
        let mut config =
            Config::default_for_demo(&format!("http://{upstream}")).expect("shipped config");
        config.upstream.appsecret = Some(Secret::new("test"));
        config.cache.enabled = false;
        let gateway = Gateway::new(config).expect("gateway builds");
        let server = serve(gateway, "127.0.0.1:0".parse().expect("address"))
            .await
            .expect("gateway listens");
        let http = common::reqwest_lite::Client::new();
        for path in ["/odata/Accounts?$top=5", "/odata/Accounts/$count"] {
            let r = http
                .get(
                    &format!("http://{}{path}", server.addr()),
                    &[("authorization", common::basic("demo", "demo"))],
                )
                .await;
            assert_eq!(r.status, 502, "{shown:?} {path}: {}", r.text());
            let j = r.json();
            let message = j["error"]["message"].as_str().unwrap_or_default();
            assert!(
                j["error"]["code"].is_string() && message.contains("could not read"),
                "{shown:?} {path}: {j}"
            );
        }
        server.shutdown().await;
    }
}

/// Without `upstream.appsecret` ZeyOS refuses the gateway's login as
/// malformed: a 502 that names the configuration, not the user's password.
#[tokio::test]
async fn a_login_refused_for_a_missing_appsecret_names_the_setting() {
    let env = common::Env::start(20, |c| c.upstream.appsecret = None).await;
    let r = env.get("/odata/Accounts?$top=1").await;
    assert_eq!(r.status, 502, "{}", r.text());
    let error = r.json();
    assert_eq!(error["error"]["code"], "UpstreamRejected", "{error}");
    let message = error["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("appsecret") && message.contains("upstream.appsecret"),
        "{message}"
    );
    env.stop().await;
}

/// ZeyOS failing in the middle of a page the gateway is already streaming:
/// the 200 head is out, so the body breaks off without its final chunk
/// (the client sees an incomplete download, not a page that looks whole),
/// the cut is counted, and the next request is answered.
#[tokio::test]
async fn a_page_cut_off_by_zeyos_mid_stream_ends_incomplete_and_is_counted() {
    use http_body_util::BodyExt;
    use hyper_util::client::legacy::Client;
    use hyper_util::rt::TokioExecutor;

    let env = common::Env::start(300, |c| c.cache.enabled = false).await;
    assert_eq!(env.get("/odata/Transactions?$top=1").await.status, 200); // logs in
    env.sim.set_faults(zeyos_sim::Faults {
        cut_lists_after: Some(2 << 20),
        ..Default::default()
    });
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let request = Request::get(format!("{}/odata/Transactions", env.base))
        .header("authorization", common::basic("demo", "demo"))
        .header("prefer", "odata.maxpagesize=3000")
        .body(Full::new(Bytes::new()))
        .expect("a valid request");
    let response = client.request(request).await.expect("a response head");
    assert_eq!(response.status(), 200);
    assert!(
        response.headers().get("etag").is_none(),
        "a page this large is streamed"
    );
    let body = tokio::time::timeout(
        std::time::Duration::from_secs(60),
        response.into_body().collect(),
    )
    .await
    .expect("the body ends, it does not hang");
    assert!(body.is_err(), "a cut page must not read as complete");

    let metrics = env.get("/metrics").await;
    let text = String::from_utf8_lossy(&metrics.body);
    assert!(
        text.lines()
            .any(|l| l == "zeyos_odata_responses_cut_total 1"),
        "{text}"
    );
    env.sim.set_faults(zeyos_sim::Faults::default());
    let r = env.get("/odata/Transactions?$top=5&$select=Id").await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["value"].as_array().map(Vec::len), Some(5));
    env.stop().await;
}
