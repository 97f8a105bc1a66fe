//! `$batch` end to end: every request of a batch is answered exactly as it
//! is when sent alone, in both formats, with the protocol's rules for
//! failures, dependencies and change sets.

mod common;

use common::batch::{json_statuses, parts, send, send_to};
use common::{basic, Env};
use serde_json::{json, Value as Json};

fn get_part(url: &str) -> String {
    format!("Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\nGET {url} HTTP/1.1\r\n\r\n")
}

fn multipart(parts: &[String]) -> String {
    let mut body = String::from("a preamble to ignore\r\n");
    for p in parts {
        body.push_str("--batch_1\r\n");
        body.push_str(p);
        body.push_str("\r\n");
    }
    body.push_str("--batch_1--\r\n");
    body
}

fn auth() -> (&'static str, String) {
    ("authorization", basic("demo", "demo"))
}

fn multipart_headers() -> Vec<(&'static str, String)> {
    vec![
        auth(),
        ("content-type", "multipart/mixed; boundary=batch_1".into()),
    ]
}

#[tokio::test]
async fn multipart_batches_answer_each_read_as_it_is_answered_alone() {
    let env = Env::start(60, |_| {}).await;
    let urls = [
        "Accounts?$top=3&$select=Id,LastName&$orderby=Id%20desc&$count=true",
        "/odata/Accounts?$filter=contains(LastName,'a')&$top=2",
        &format!("{}/odata/Transactions/$count", env.base),
        "Accounts(1)?$expand=Contact",
    ];
    let body = multipart(&urls.iter().map(|u| get_part(u)).collect::<Vec<_>>());
    let r = send(&env, &multipart_headers(), body).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.headers.get_all("odata-version").iter().count(), 1);
    let ct = r.header("content-type").unwrap_or_default();
    assert!(ct.starts_with("multipart/mixed; boundary="), "{ct}");
    let got = parts(&ct, &r.body);
    assert_eq!(
        got.len(),
        urls.len(),
        "{:?}",
        got.iter()
            .map(|p| (
                p.status,
                String::from_utf8_lossy(&p.body)
                    .chars()
                    .take(300)
                    .collect::<String>()
            ))
            .collect::<Vec<_>>()
    );
    for (url, part) in urls.iter().zip(&got) {
        let path = url.strip_prefix(env.base.as_str()).unwrap_or(url);
        let path = if path.starts_with('/') {
            path.to_string()
        } else {
            format!("/odata/{path}")
        };
        let alone = env.get_with(&path, &[auth()]).await;
        assert_eq!(part.status, alone.status, "{url}");
        assert_eq!(
            String::from_utf8_lossy(&part.body),
            alone.text(),
            "{url}: the same body as alone"
        );
        assert_eq!(
            Some(part.content_type.clone()),
            alone.header("content-type")
        );
    }
    env.stop().await;
}

#[tokio::test]
async fn a_multipart_batch_stops_at_its_first_failure_unless_asked_to_go_on() {
    let env = Env::start(20, |_| {}).await;
    let body = multipart(&[
        get_part("Accounts?$top=1"),
        get_part("Nope"),
        get_part("Accounts?$filter=Nope%20eq%201"),
        get_part("Accounts?$top=2"),
    ]);
    let r = send(&env, &multipart_headers(), body.clone()).await;
    assert_eq!(r.status, 200);
    let got = parts(&r.header("content-type").unwrap_or_default(), &r.body);
    assert_eq!(
        got.iter().map(|p| p.status).collect::<Vec<_>>(),
        vec![200, 404],
        "processing stops after the first error"
    );
    let error: Json = serde_json::from_slice(&got[1].body).unwrap_or_default();
    assert_eq!(error["error"]["code"], "NotFound");

    let mut headers = multipart_headers();
    headers.push(("prefer", "odata.continue-on-error".into()));
    let r = send(&env, &headers, body).await;
    assert_eq!(
        r.header("preference-applied").as_deref(),
        Some("odata.continue-on-error")
    );
    let got = parts(&r.header("content-type").unwrap_or_default(), &r.body);
    assert_eq!(
        got.iter().map(|p| p.status).collect::<Vec<_>>(),
        vec![200, 404, 400, 200]
    );
    env.stop().await;
}

#[tokio::test]
async fn change_sets_are_refused_whole_without_running_any_request() {
    let env = Env::start(20, |_| {}).await;
    let change_set = "Content-Type: multipart/mixed; boundary=cs_1\r\n\r\n\
        --cs_1\r\nContent-Type: application/http\r\nContent-ID: 1\r\n\r\n\
        POST Accounts HTTP/1.1\r\nContent-Type: application/json\r\n\r\n{\"LastName\":\"x\"}\r\n\
        --cs_1\r\nContent-Type: application/http\r\nContent-ID: 2\r\n\r\n\
        DELETE Accounts(1) HTTP/1.1\r\n\r\n\r\n--cs_1--"
        .to_string();
    let mut headers = multipart_headers();
    headers.push(("prefer", "continue-on-error".into()));
    let body = multipart(&[
        get_part("Accounts?$top=1"),
        change_set,
        get_part("Accounts(1)"),
    ]);
    let r = send(&env, &headers, body).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let got = parts(&r.header("content-type").unwrap_or_default(), &r.body);
    assert_eq!(
        got.iter().map(|p| p.status).collect::<Vec<_>>(),
        vec![200, 501, 200],
        "one answer for the whole change set"
    );
    assert!(got[1].content_id.is_none());
    let error: Json = serde_json::from_slice(&got[1].body).unwrap_or_default();
    assert_eq!(error["error"]["code"], "NotImplemented");
    env.stop().await;
}

#[tokio::test]
async fn json_batches_answer_by_id_with_dependencies() {
    let env = Env::start(40, |_| {}).await;
    let batch = json!({"requests": [
        {"id": "a", "method": "get", "url": "Accounts?$top=2&$select=Id,LastName"},
        {"id": "b", "method": "GET", "url": "/odata/Accounts(999999)"},
        {"id": "c", "method": "get", "url": "Accounts/$count", "dependsOn": ["a"]},
        {"id": "d", "method": "get", "url": "Accounts?$top=1", "dependsOn": ["b"]},
        {"id": "e", "method": "get", "url": "Accounts?$top=1", "if": "$a/$succeeded"},
        {"id": "f", "atomicityGroup": "g", "method": "post", "url": "Accounts", "body": {"LastName": "x"}},
        {"id": "h", "atomicityGroup": "g", "method": "patch", "url": "Accounts(1)", "body": {}},
        {"id": "i", "method": "get", "url": "Accounts?$top=1", "dependsOn": ["g"]},
        {"id": "j", "method": "get", "url": "$metadata", "headers": {"accept": "application/xml"}},
        {"id": "k", "method": "get", "url": "$a/Contact"},
        {"id": "l", "method": "post", "url": "$batch"}
    ]});
    let headers = [auth(), ("content-type", "application/json".into())];
    let r = send(&env, &headers, batch.to_string()).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.header("content-type").as_deref(),
        Some("application/json")
    );
    let doc = r.json();
    let responses = doc["responses"].as_array().cloned().unwrap_or_default();
    let by_id = |id: &str| {
        responses
            .iter()
            .find(|r| r["id"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("no response for {id}: {doc}"))
    };
    let status = |id: &str| by_id(id)["status"].as_u64().unwrap_or_default();
    assert_eq!(responses.len(), 11);
    let alone = env.get("/odata/Accounts?$top=2&$select=Id,LastName").await;
    assert_eq!(status("a"), 200);
    assert_eq!(by_id("a")["body"], alone.json(), "the same body as alone");
    assert_eq!(status("b"), 404);
    assert_eq!(status("c"), 200);
    assert_eq!(
        by_id("c")["body"].as_str(),
        Some(env.get("/odata/Accounts/$count").await.text().as_str()),
        "text bodies are strings"
    );
    assert_eq!(status("d"), 424, "depends on a failure");
    assert_eq!(by_id("d")["body"]["error"]["code"], "FailedDependency");
    assert_eq!(status("e"), 501, "conditions are not evaluated");
    for id in ["f", "h"] {
        assert_eq!(status(id), 501, "{id}: writes are refused");
        assert_eq!(by_id(id)["atomicityGroup"], "g");
    }
    assert_eq!(status("i"), 424, "depends on the failed group");
    assert_eq!(status("j"), 200);
    assert!(by_id("j")["body"].is_string(), "XML is base64url");
    assert_eq!(status("k"), 501, "references to results are not supported");
    assert_eq!(status("l"), 400, "a batch in a batch");
    env.stop().await;
}

#[tokio::test]
async fn the_answer_format_follows_accept() {
    let env = Env::start(10, |_| {}).await;
    let mut headers = multipart_headers();
    headers.push(("accept", "application/json".into()));
    let mut part = get_part("Accounts?$top=1");
    part = part.replace(
        "Content-Transfer-Encoding: binary\r\n",
        "Content-ID: one\r\n",
    );
    let r = send(&env, &headers, multipart(&[part])).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let doc = r.json();
    assert_eq!(doc["responses"][0]["id"], "one");
    assert_eq!(doc["responses"][0]["status"], 200);
    assert_eq!(
        doc["responses"][0]["body"],
        env.get("/odata/Accounts?$top=1").await.json()
    );
    env.stop().await;
}

type Headers = Vec<(&'static str, String)>;

#[tokio::test]
async fn broken_batches_get_odata_errors() {
    let env = Env::start(10, |c| c.limits.max_batch_requests = 3).await;
    let one = multipart(&[get_part("Accounts?$top=1")]);
    let cases: Vec<(Headers, String, u16, &str)> = vec![
        (
            vec![("content-type", "multipart/mixed; boundary=batch_1".into())],
            one.clone(),
            401,
            "Unauthorized",
        ),
        (
            vec![auth(), ("content-type", "text/plain".into())],
            one.clone(),
            415,
            "UnsupportedMediaType",
        ),
        (
            vec![auth(), ("content-type", "multipart/mixed".into())],
            one.clone(),
            400,
            "InvalidBatch",
        ),
        (
            multipart_headers(),
            "--batch_1\r\nContent-Type: application/http\r\n\r\nGET Accounts\r\n".into(),
            400,
            "InvalidBatch",
        ),
        (
            vec![auth(), ("content-type", "application/json".into())],
            "{\"requests\":[{\"id\":\"1\",\"method\":\"get\"}]}".into(),
            400,
            "InvalidBatch",
        ),
        (
            multipart_headers(),
            multipart(&vec![get_part("Accounts"); 4]),
            413,
            "PayloadTooLarge",
        ),
        (
            vec![auth(), ("content-type", "application/json".into())],
            "x".repeat(3 * (8192 + 4096) + 1),
            413,
            "PayloadTooLarge",
        ),
        (
            {
                let mut h = multipart_headers();
                h.push(("odata-version", "3.0".into()));
                h
            },
            one.clone(),
            400,
            "UnsupportedODataVersion",
        ),
    ];
    for (headers, body, status, code) in cases {
        let r = send(&env, &headers, body).await;
        assert_eq!(r.status, status, "{code}: {}", r.text());
        let j = r.json();
        assert_eq!(j["error"]["code"], code, "{j}");
        if status == 401 {
            assert!(r.header("www-authenticate").is_some());
        }
    }
    let r = env.get("/odata/$batch").await;
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow").as_deref(), Some("POST"));
    env.stop().await;
}

#[tokio::test]
async fn independent_reads_run_side_by_side_and_dependent_ones_wait() {
    // Each upstream request takes 300 ms, so requests sent one after
    // another never overlap at the simulator, and ones sent together do.
    let slow = zeyos_sim::Faults {
        latency: std::time::Duration::from_millis(300),
        ..Default::default()
    };
    let reads = json!([
        {"id": "1", "method": "get", "url": "Accounts?$top=2&$select=Id"},
        {"id": "2", "method": "get", "url": "Accounts?$top=3&$select=Id"},
        {"id": "3", "method": "get", "url": "Accounts?$top=4&$select=Id"},
        {"id": "4", "method": "get", "url": "Accounts?$top=5&$select=Id"}
    ]);
    let chain = json!([
        {"id": "1", "method": "get", "url": "Accounts?$top=2&$select=Id"},
        {"id": "2", "method": "get", "url": "Accounts?$top=3&$select=Id", "dependsOn": ["1"]},
        {"id": "3", "method": "get", "url": "Accounts?$top=4&$select=Id", "dependsOn": ["2"]}
    ]);
    for (parallelism, batch, expected) in [(4, reads.clone(), 4), (1, reads, 1), (4, chain, 1)] {
        let env = Env::start(20, |c| {
            c.cache.enabled = false;
            c.limits.batch_parallelism = parallelism;
        })
        .await;
        // Logs in (the token is cached) before the clock matters.
        assert_eq!(env.get("/odata/Accounts?$top=1").await.status, 200);
        env.sim.set_faults(slow.clone());
        env.sim.reset_request_count();
        let statuses = json_statuses(&env, batch.clone()).await;
        let sent = batch.as_array().map_or(0, Vec::len);
        assert_eq!(statuses, vec![200; sent], "{batch}");
        assert_eq!(
            env.sim.max_concurrent_requests(),
            expected,
            "parallelism {parallelism}: {batch}"
        );
        env.stop().await;
    }
}

#[tokio::test]
async fn requests_after_the_answer_budget_are_refused_as_in_order() {
    // Whether the three reads run together or one after another, the
    // first is answered and the two after it find the budget spent.
    for parallelism in [1, 4] {
        let env = Env::start(20, |c| {
            c.limits.max_batch_answer_bytes = 100;
            c.limits.batch_parallelism = parallelism;
        })
        .await;
        let statuses = json_statuses(
            &env,
            json!([
                {"id": "a", "method": "get", "url": "Accounts?$top=5&$select=Id,LastName"},
                {"id": "b", "method": "get", "url": "Accounts?$top=1"},
                {"id": "c", "method": "get", "url": "Accounts/$count"}
            ]),
        )
        .await;
        assert_eq!(statuses, vec![200, 413, 413], "parallelism {parallelism}");
        env.stop().await;
    }
}

/// The error code and message of an answer's body.
fn error_of(body: &[u8]) -> (String, String) {
    let j: Json = serde_json::from_slice(body).unwrap_or_default();
    let field = |f: &str| j["error"][f].as_str().unwrap_or_default().to_string();
    (field("code"), field("message"))
}

#[tokio::test]
async fn request_lines_with_spaces_are_refused_not_cut_at_the_space() {
    let env = Env::start(20, |_| {}).await;
    let line = |l: &str| format!("Content-Type: application/http\r\n\r\n{l}\r\n\r\n");
    let body = multipart(&[
        line("GET Accounts?$top=3&$orderby=Id desc HTTP/1.1"),
        line("GET Accounts?$top=1 HTTP/1.1 extra"),
        line("GET Accounts?$top=1"),
    ]);
    let mut headers = multipart_headers();
    headers.push(("prefer", "odata.continue-on-error".into()));
    let r = send(&env, &headers, body).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let got = parts(&r.header("content-type").unwrap_or_default(), &r.body);
    assert_eq!(
        got.iter().map(|p| p.status).collect::<Vec<_>>(),
        vec![400, 400, 200],
        "{}",
        r.text()
    );
    for part in &got[..2] {
        let (code, message) = error_of(&part.body);
        assert_eq!(code, "InvalidBatch");
        assert!(message.contains("%20"), "{message}");
    }
    env.stop().await;
}

#[tokio::test]
async fn requests_without_accept_inherit_the_json_format_of_the_batch() {
    let env = Env::start(20, |_| {}).await;
    let read = "Accounts?$top=2&$select=Id,LastName";
    for accept in [
        "application/json;IEEE754Compatible=true",
        "application/json;odata.metadata=none",
        "application/json;odata.metadata=full",
    ] {
        let batch = json!({"requests": [
            {"id": "1", "method": "get", "url": read},
            {"id": "2", "method": "get", "url": read, "headers": {"accept": "application/json"}},
            {"id": "3", "method": "get", "url": "Accounts/$count"}
        ]});
        let headers = [
            auth(),
            ("content-type", "application/json".into()),
            ("accept", accept.into()),
        ];
        let r = send(&env, &headers, batch.to_string()).await;
        assert_eq!(r.status, 200, "{}", r.text());
        let doc = r.json();
        let answers = &doc["responses"];
        for (n, accept) in [(0, accept), (1, "application/json")] {
            let alone = env
                .get_with(
                    &format!("/odata/{read}"),
                    &[auth(), ("accept", accept.into())],
                )
                .await;
            assert_eq!(answers[n]["status"], 200, "{doc}");
            assert_eq!(answers[n]["body"], alone.json(), "{accept}: {doc}");
            assert_eq!(
                answers[n]["headers"]["content-type"].as_str(),
                alone.header("content-type").as_deref(),
                "{accept}"
            );
        }
        // The JSON ranges format JSON answers; they do not make a
        // text/plain answer 406.
        assert_eq!(answers[2]["status"], 200, "{doc}");
    }
    // A multipart batch passes on its JSON range, not its multipart one.
    let body = multipart(&[get_part(read)]);
    for (accept, want) in [
        ("multipart/mixed", "application/json"),
        (
            "multipart/mixed, application/json;odata.metadata=none;q=0.5",
            "application/json;odata.metadata=none",
        ),
    ] {
        let mut headers = multipart_headers();
        headers.push(("accept", accept.into()));
        let r = send(&env, &headers, body.clone()).await;
        assert_eq!(r.status, 200, "{}", r.text());
        let got = parts(&r.header("content-type").unwrap_or_default(), &r.body);
        let alone = env
            .get_with(
                &format!("/odata/{read}"),
                &[auth(), ("accept", want.into())],
            )
            .await;
        assert_eq!(got[0].status, 200, "{accept}");
        assert_eq!(
            String::from_utf8_lossy(&got[0].body),
            alone.text(),
            "{accept}"
        );
    }
    env.stop().await;
}

#[tokio::test]
async fn odata_4_0_clients_get_the_multipart_format_or_406() {
    let env = Env::start(10, |_| {}).await;
    let batch = json!({"requests": [
        {"id": "one", "method": "get", "url": "Accounts?$top=1"}
    ]})
    .to_string();
    let headers = |accept: Option<&str>| {
        let mut h = vec![
            auth(),
            ("content-type", "application/json".to_string()),
            ("odata-maxversion", "4.0".to_string()),
        ];
        h.extend(accept.map(|a| ("accept", a.to_string())));
        h
    };
    for accept in [None, Some("multipart/mixed, application/json")] {
        let r = send(&env, &headers(accept), batch.clone()).await;
        assert_eq!(r.status, 200, "{accept:?}: {}", r.text());
        let ct = r.header("content-type").unwrap_or_default();
        assert!(ct.starts_with("multipart/mixed"), "{accept:?}: {ct}");
        assert_ne!(r.header("odata-version").as_deref(), Some("4.01"));
        let got = parts(&ct, &r.body);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].status, 200);
        assert_eq!(got[0].content_id.as_deref(), Some("one"));
    }
    let r = send(&env, &headers(Some("application/json")), batch).await;
    assert_eq!(r.status, 406, "{}", r.text());
    assert_eq!(r.json()["error"]["code"], "NotAcceptable");
    env.stop().await;
}

#[tokio::test]
async fn a_multipart_batch_answered_as_json_has_an_id_for_every_request() {
    let env = Env::start(10, |_| {}).await;
    let with_id = |id: &str| {
        get_part("Accounts?$top=1").replace(
            "Content-Transfer-Encoding: binary\r\n",
            &format!("Content-ID: {id}\r\n"),
        )
    };
    let mut headers = multipart_headers();
    headers.push(("accept", "application/json".into()));
    let body = multipart(&[
        with_id("2"),
        get_part("Accounts?$top=1"),
        get_part("Accounts?$top=1"),
    ]);
    let r = send(&env, &headers, body).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let doc = r.json();
    let ids: Vec<&str> = doc["responses"]
        .as_array()
        .map(|a| a.iter().filter_map(|r| r["id"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(ids, ["2", "2-1", "3"], "{doc}");
    env.stop().await;
}

#[tokio::test]
async fn requests_for_another_service_are_not_found_in_a_batch() {
    let env = Env::start(10, |_| {}).await;
    let headers = [auth(), ("content-type", "application/json".into())];
    for (root, requests, want) in [
        (
            "/odata/",
            json!([
                {"id": "1", "method": "get", "url": "/v1/Companies?$top=1"},
                {"id": "2", "method": "get", "url": format!("{}/v1/Companies?$top=1", env.base)},
                {"id": "3", "method": "get", "url": "Accounts?$top=1"}
            ]),
            vec![404, 404, 200],
        ),
        (
            "/v1/",
            json!([
                {"id": "1", "method": "get", "url": "/odata/Accounts?$top=1"},
                {"id": "2", "method": "get", "url": "Companies?$top=1"}
            ]),
            vec![404, 200],
        ),
    ] {
        let body = json!({ "requests": requests }).to_string();
        let r = send_to(&env, root, &headers, body).await;
        assert_eq!(r.status, 200, "{}", r.text());
        let doc = r.json();
        let answers = doc["responses"].as_array().cloned().unwrap_or_default();
        let statuses: Vec<u64> = answers
            .iter()
            .map(|a| a["status"].as_u64().unwrap_or_default())
            .collect();
        assert_eq!(statuses, want, "{root}: {doc}");
        let error = &answers[0]["body"]["error"];
        assert_eq!(error["code"], "NotFound");
        assert!(
            error["message"].as_str().unwrap_or_default().contains(root),
            "{error}"
        );
    }
    env.stop().await;
}
