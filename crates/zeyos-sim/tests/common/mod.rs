//! Test helpers: start a small sim, talk HTTP to it.
#![allow(dead_code)]

use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{json, Value};
use zeyos_sim::{SimConfig, SimHandle};

/// A response, fully read.
pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "not JSON ({e}), status {}: {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub fn etag(&self) -> String {
        self.headers
            .get("etag")
            .expect("ETag header")
            .to_str()
            .unwrap()
            .to_string()
    }
}

/// A running sim with a demo token.
pub struct Api {
    pub sim: SimHandle,
    pub client: Client<HttpConnector, Full<Bytes>>,
    pub token: String,
}

/// Starts a sim with `scale` accounts and logs in as demo.
pub async fn start(scale: usize) -> Api {
    start_with(SimConfig {
        scale,
        ..Default::default()
    })
    .await
}

pub async fn start_with(config: SimConfig) -> Api {
    let sim = zeyos_sim::start(config).await.expect("sim starts");
    let token = sim.login("demo", "demo").await.expect("demo login");
    let client = Client::builder(TokioExecutor::new()).build_http();
    Api { sim, client, token }
}

impl Api {
    /// Sends a request to a path below the base URL.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<Vec<u8>>,
    ) -> Resp {
        let mut b = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.sim.base_url()));
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        let req = b
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .unwrap();
        let res = self.client.request(req).await.expect("request");
        let status = res.status();
        let headers = res.headers().clone();
        let body = res.into_body().collect().await.unwrap().to_bytes();
        Resp {
            status,
            headers,
            body,
        }
    }

    fn auth(&self) -> String {
        format!("Bearer {}", self.token)
    }

    /// An authenticated API call with a JSON body.
    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Resp {
        let auth = self.auth();
        let mut headers = vec![("authorization", auth.as_str())];
        if body.is_some() {
            headers.push(("content-type", "application/json"));
        }
        self.send(
            method,
            &format!("/demo/api/v1{path}"),
            &headers,
            body.map(|b| serde_json::to_vec(&b).unwrap()),
        )
        .await
    }

    /// An authenticated API call with extra headers and a raw body.
    pub async fn call_raw(
        &self,
        method: Method,
        path: &str,
        extra: &[(&str, &str)],
        body: Option<&str>,
    ) -> Resp {
        let auth = self.auth();
        let mut headers = vec![("authorization", auth.as_str())];
        headers.extend_from_slice(extra);
        self.send(
            method,
            &format!("/demo/api/v1{path}"),
            &headers,
            body.map(|b| b.as_bytes().to_vec()),
        )
        .await
    }

    /// `POST /{entity}` with a JSON body; panics unless 200.
    pub async fn list(&self, entity: &str, body: Value) -> Value {
        let r = self
            .call(Method::POST, &format!("/{entity}"), Some(body))
            .await;
        assert_eq!(r.status, StatusCode::OK, "list failed: {}", r.text());
        r.json()
    }

    /// `POST /{entity}` expecting an error; returns (status, text).
    pub async fn list_err(&self, entity: &str, body: Value) -> (StatusCode, String) {
        let r = self
            .call(Method::POST, &format!("/{entity}"), Some(body))
            .await;
        (r.status, r.text())
    }

    /// `PUT /{entity}`; panics unless 201; returns the record.
    pub async fn create(&self, entity: &str, body: Value) -> Value {
        let r = self
            .call(Method::PUT, &format!("/{entity}"), Some(body))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "create failed: {}", r.text());
        r.json()
    }

    /// IDs returned by a filtered list, sorted by ID.
    pub async fn ids(&self, entity: &str, filter: Value) -> Vec<i64> {
        let v = self
            .list(
                entity,
                json!({"fields": ["ID"], "filter": filter, "limit": 10000, "sort": ["ID"]}),
            )
            .await;
        v.as_array()
            .unwrap()
            .iter()
            .map(|r| r["ID"].as_i64().unwrap())
            .collect()
    }
}
