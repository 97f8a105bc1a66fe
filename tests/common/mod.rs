//! Shared end-to-end test support: a zeyos-sim and a gateway in-process,
//! both on 127.0.0.1 with free ports, stopped when the `Env` is dropped.
#![allow(dead_code)]

pub mod batch;
pub mod compare;
pub mod oracle;

use std::sync::Arc;

use zeyos_odata::config::{Config, Secret};
use zeyos_odata::server::gateway::Gateway;
use zeyos_odata::server::serve::{serve, Server};

/// A running backend and gateway.
pub struct Env {
    pub sim: zeyos_sim::SimHandle,
    pub server: Option<Server>,
    pub gateway: Arc<Gateway>,
    pub base: String,
    pub http: reqwest_lite::Client,
}

impl Env {
    /// Starts zeyos-sim with `scale` accounts and the gateway with the
    /// shipped config pointed at it; `tweak` may change the config.
    pub async fn start(scale: usize, tweak: impl FnOnce(&mut Config)) -> Env {
        Env::start_with(
            zeyos_sim::SimConfig {
                scale,
                ..Default::default()
            },
            tweak,
        )
        .await
    }

    /// Like [`Env::start`], with the simulator configured by the caller.
    pub async fn start_with(sim: zeyos_sim::SimConfig, tweak: impl FnOnce(&mut Config)) -> Env {
        let sim = zeyos_sim::start(sim).await.expect("zeyos-sim starts");
        let mut config =
            Config::default_for_demo(&sim.base_url()).expect("shipped config is valid");
        config.upstream.appsecret = Some(Secret::new("test"));
        config.listen = "127.0.0.1:0".parse().unwrap();
        tweak(&mut config);
        let gateway = Gateway::new(config).expect("gateway builds");
        let server = serve(gateway.clone(), "127.0.0.1:0".parse().unwrap())
            .await
            .expect("gateway listens");
        let base = format!("http://{}", server.addr());
        Env {
            sim,
            server: Some(server),
            gateway,
            base,
            http: reqwest_lite::Client::new(),
        }
    }

    /// GET `path` (relative to the gateway, e.g. `/odata/Accounts?...`) as
    /// demo/demo.
    pub async fn get(&self, path: &str) -> reqwest_lite::Response {
        self.http
            .get(
                &format!("{}{}", self.base, path),
                &[("authorization", basic("demo", "demo"))],
            )
            .await
    }

    /// GET with extra headers (no credentials unless given).
    pub async fn get_with(&self, path: &str, headers: &[(&str, String)]) -> reqwest_lite::Response {
        let url = if path.starts_with("http") {
            path.to_string()
        } else {
            format!("{}{}", self.base, path)
        };
        self.http.get(&url, headers).await
    }

    /// Sends a write to ZeyOS directly, behind the gateway's back, as the
    /// demo user; panics unless ZeyOS accepts it.
    pub async fn write_upstream(&self, method: &str, path: &str, body: Option<serde_json::Value>) {
        let token = self.sim.login("demo", "demo").await.expect("sim login");
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let r = self
            .http
            .send_body(
                method,
                &format!("{}/{path}", self.sim.api_url()),
                &[
                    ("authorization", format!("Bearer {token}")),
                    ("content-type", "application/json".to_string()),
                ],
                body,
            )
            .await;
        assert!(
            (200..300).contains(&r.status),
            "{method} {path}: {} {}",
            r.status,
            String::from_utf8_lossy(&r.body)
        );
    }

    /// Stops the gateway and the backend.
    pub async fn stop(mut self) {
        if let Some(s) = self.server.take() {
            s.shutdown().await;
        }
    }
}

/// An `Authorization: Basic` value.
pub fn basic(user: &str, password: &str) -> String {
    use base64::Engine;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

/// A minimal HTTP/1.1 client on hyper, enough for the tests (no TLS, no
/// redirects), so that no extra HTTP client crate is needed.
pub mod reqwest_lite {
    use bytes::Bytes;
    use http_body_util::{BodyExt, Full};
    use hyper_util::client::legacy::connect::HttpConnector;
    use hyper_util::client::legacy::Client as HyperClient;
    use hyper_util::rt::TokioExecutor;

    /// A pooled client.
    #[derive(Clone)]
    pub struct Client {
        inner: HyperClient<HttpConnector, Full<Bytes>>,
    }

    /// A whole response.
    #[derive(Debug)]
    pub struct Response {
        pub status: u16,
        pub headers: http::HeaderMap,
        pub body: Bytes,
    }

    impl Response {
        /// The body as JSON (panics with the body text if it is not).
        pub fn json(&self) -> serde_json::Value {
            serde_json::from_slice(&self.body).unwrap_or_else(|e| {
                panic!(
                    "status {}: body is not JSON ({e}): {}",
                    self.status,
                    String::from_utf8_lossy(&self.body)
                )
            })
        }

        /// The body as text.
        pub fn text(&self) -> String {
            String::from_utf8_lossy(&self.body).into_owned()
        }

        /// A header's value.
        pub fn header(&self, name: &str) -> Option<String> {
            self.headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        }
    }

    impl Client {
        /// A new client.
        pub fn new() -> Self {
            Client {
                inner: HyperClient::builder(TokioExecutor::new()).build_http(),
            }
        }

        /// GET with headers.
        pub async fn get(&self, url: &str, headers: &[(&str, String)]) -> Response {
            self.send("GET", url, headers).await
        }

        /// Any method with headers (no body). Characters a URI cannot hold
        /// (spaces, quotes, non-ASCII) are percent-encoded.
        pub async fn send(&self, method: &str, url: &str, headers: &[(&str, String)]) -> Response {
            self.send_body(method, url, headers, Bytes::new()).await
        }

        /// Any method with headers and a body.
        pub async fn send_body(
            &self,
            method: &str,
            url: &str,
            headers: &[(&str, String)],
            body: impl Into<Bytes>,
        ) -> Response {
            let url = encode(url);
            let mut req = http::Request::builder().method(method).uri(url.as_str());
            for (k, v) in headers {
                req = req.header(*k, v);
            }
            let req = req.body(Full::new(body.into())).expect("valid request");
            let resp = self.inner.request(req).await.expect("request sent");
            let (parts, body) = resp.into_parts();
            let body = body.collect().await.expect("body read").to_bytes();
            Response {
                status: parts.status.as_u16(),
                headers: parts.headers,
                body,
            }
        }
    }

    /// Percent-encodes what may not appear in a URI as is.
    pub fn encode(url: &str) -> String {
        let mut out = String::with_capacity(url.len());
        for b in url.bytes() {
            if b.is_ascii_graphic() && !b"\"<>\\^`{|} ".contains(&b) {
                out.push(b as char);
            } else {
                out.push_str(&format!("%{b:02X}"));
            }
        }
        out
    }
}
