//! Reading multipart batch answers, independently of the gateway's own
//! reader (`src/server/batch/multipart.rs`), and sending JSON batches.

use serde_json::{json, Value as Json};

/// POSTs `body` to the `/odata/` service's `$batch` with `headers`.
pub async fn send(
    env: &super::Env,
    headers: &[(&str, String)],
    body: String,
) -> super::reqwest_lite::Response {
    send_to(env, "/odata/", headers, body).await
}

/// POSTs `body` to the `$batch` of the service at `root` with `headers`.
pub async fn send_to(
    env: &super::Env,
    root: &str,
    headers: &[(&str, String)],
    body: String,
) -> super::reqwest_lite::Response {
    env.http
        .send_body("POST", &format!("{}{root}$batch", env.base), headers, body)
        .await
}

/// Sends `requests` as a JSON batch (as demo/demo) and returns each
/// answer's status.
pub async fn json_statuses(env: &super::Env, requests: Json) -> Vec<u64> {
    let headers = [
        ("authorization", super::basic("demo", "demo")),
        ("content-type", "application/json".into()),
    ];
    let body = json!({ "requests": requests }).to_string();
    let r = send(env, &headers, body).await;
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["responses"]
        .as_array()
        .map(|rs| {
            rs.iter()
                .map(|r| r["status"].as_u64().unwrap_or(0))
                .collect()
        })
        .unwrap_or_default()
}

/// One response of a multipart batch answer, read independently of the
/// gateway's reader.
#[derive(Debug)]
pub struct Part {
    pub content_id: Option<String>,
    pub status: u16,
    pub content_type: String,
    pub body: Vec<u8>,
}

/// The parts of a multipart answer, by its boundary. A change set's
/// nested multipart is returned as a part with status 0 and the nested
/// document as body.
pub fn parts(content_type: &str, body: &[u8]) -> Vec<Part> {
    let boundary = content_type
        .split("boundary=")
        .nth(1)
        .expect("a boundary")
        .trim_matches('"')
        .to_string();
    let text = String::from_utf8_lossy(body).into_owned();
    let close = format!("--{boundary}--");
    assert!(text.contains(&close), "no closing delimiter: {text}");
    let mut out = Vec::new();
    for chunk in text
        .split(&format!("--{boundary}"))
        .skip(1)
        .take_while(|c| !c.starts_with("--"))
    {
        let chunk = chunk.strip_prefix("\r\n").expect("CRLF after delimiter");
        let (head, rest) = chunk.split_once("\r\n\r\n").expect("part headers");
        let header = |name: &str| {
            head.lines().find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.trim()
                    .eq_ignore_ascii_case(name)
                    .then(|| v.trim().to_string())
            })
        };
        let ct = header("content-type").unwrap_or_default();
        if ct.starts_with("multipart/mixed") {
            out.push(Part {
                content_id: None,
                status: 0,
                content_type: ct,
                body: rest.as_bytes().to_vec(),
            });
            continue;
        }
        assert_eq!(ct, "application/http");
        let (response_head, body) = rest.split_once("\r\n\r\n").expect("response head");
        let mut lines = response_head.lines();
        let status_line = lines.next().expect("status line");
        let status: u16 = status_line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .expect("a status");
        let mut length = None;
        let mut content_type = String::new();
        for l in lines {
            let (k, v) = l.split_once(':').expect("a header");
            if k.eq_ignore_ascii_case("content-length") {
                length = v.trim().parse::<usize>().ok();
            }
            if k.eq_ignore_ascii_case("content-type") {
                content_type = v.trim().to_string();
            }
        }
        let length = length.expect("Content-Length on every response");
        assert_eq!(&body[length..], "\r\n", "the body is as long as it says");
        out.push(Part {
            content_id: header("content-id"),
            status,
            content_type,
            body: body.as_bytes()[..length].to_vec(),
        });
    }
    out
}
