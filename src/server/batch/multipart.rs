//! The multipart batch format (OData protocol 11.7.7, RFC 2046): what
//! OData 4.0 clients send to `$batch`, and the answer in the same shape.
//!
//! Readers are lenient where clients differ and the meaning is clear:
//! lines may end in CRLF or a bare LF, the request line may omit its HTTP
//! version (as the protocol's own example does), and preambles, epilogues
//! and `Content-Transfer-Encoding` are ignored. Where the meaning is not
//! clear they are not: a request line with more words than method, URL
//! and version (a URL with unencoded spaces) gets a 400 of its own rather
//! than being answered for the URL up to its first space.

use super::{Answer, Batch, Entry, Item, Outcome};
use crate::error::GatewayError;

/// The request body's parts: single requests and change sets, in order.
pub(super) fn read(body: &[u8], boundary: &str) -> Result<Batch, GatewayError> {
    let mut items = Vec::new();
    for (n, part) in split(body, boundary)?.into_iter().enumerate() {
        let (headers, content) = header_block(part);
        let content_type = header(&headers, "content-type").unwrap_or_default();
        let media = media_type(content_type);
        if media == "application/http" {
            let id = header(&headers, "content-id").map(str::to_string);
            items.push(Item::Single(request(content, id)));
        } else if media == "multipart/mixed" {
            let Some(inner) = parameter(content_type, "boundary") else {
                return Err(invalid(format!(
                    "part {} is a change set without a boundary parameter",
                    n + 1
                )));
            };
            let mut entries = Vec::new();
            for op in split(content, &inner)? {
                let (headers, content) = header_block(op);
                if media_type(header(&headers, "content-type").unwrap_or_default())
                    != "application/http"
                {
                    return Err(invalid(format!(
                        "every part of the change set in part {} must be application/http",
                        n + 1
                    )));
                }
                let id = header(&headers, "content-id").map(str::to_string);
                entries.push(request(content, id));
            }
            items.push(Item::ChangeSet {
                group: None,
                entries,
            });
        } else {
            return Err(invalid(format!(
                "part {} has Content-Type `{content_type}`; a batch part is application/http \
                 or a multipart/mixed change set",
                n + 1
            )));
        }
    }
    Ok(Batch { items })
}

/// The answer's body: one part per answered item, in the request's order.
pub(super) fn write(outcomes: &[Outcome], boundary: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for outcome in outcomes {
        out.extend_from_slice(b"--");
        out.extend_from_slice(boundary.as_bytes());
        out.extend_from_slice(b"\r\n");
        match outcome {
            Outcome::Single(answer) => http_part(&mut out, answer),
            Outcome::ChangeSetFailed { answer, .. } => http_part(&mut out, answer),
            Outcome::ChangeSet(answers) => {
                let inner = format!("changesetresponse_{boundary}");
                out.extend_from_slice(b"Content-Type: multipart/mixed; boundary=");
                out.extend_from_slice(inner.as_bytes());
                out.extend_from_slice(b"\r\n\r\n");
                for answer in answers {
                    out.extend_from_slice(b"--");
                    out.extend_from_slice(inner.as_bytes());
                    out.extend_from_slice(b"\r\n");
                    http_part(&mut out, answer);
                }
                out.extend_from_slice(b"--");
                out.extend_from_slice(inner.as_bytes());
                out.extend_from_slice(b"--\r\n");
            }
        }
    }
    out.extend_from_slice(b"--");
    out.extend_from_slice(boundary.as_bytes());
    out.extend_from_slice(b"--\r\n");
    out
}

/// Whether `boundary` can delimit these answers: it must not occur in any
/// of their bodies.
pub(super) fn fits(outcomes: &[Outcome], boundary: &str) -> bool {
    let needle = boundary.as_bytes();
    let absent = |a: &Answer| !a.body.windows(needle.len()).any(|w| w == needle);
    outcomes.iter().all(|o| match o {
        Outcome::Single(a) | Outcome::ChangeSetFailed { answer: a, .. } => absent(a),
        Outcome::ChangeSet(answers) => answers.iter().all(absent),
    })
}

/// One `application/http` part: its headers, then the response as HTTP/1.1
/// writes it.
fn http_part(out: &mut Vec<u8>, answer: &Answer) {
    out.extend_from_slice(
        b"Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n",
    );
    if let Some(id) = &answer.id {
        out.extend_from_slice(b"Content-ID: ");
        out.extend_from_slice(id.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\nHTTP/1.1 ");
    out.extend_from_slice(answer.status.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(
        answer
            .status
            .canonical_reason()
            .unwrap_or("Unknown")
            .as_bytes(),
    );
    out.extend_from_slice(b"\r\n");
    for (name, value) in &answer.headers {
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"Content-Length: ");
    out.extend_from_slice(itoa::Buffer::new().format(answer.body.len()).as_bytes());
    out.extend_from_slice(b"\r\n\r\n");
    out.extend_from_slice(&answer.body);
    out.extend_from_slice(b"\r\n");
}

/// The request in an `application/http` part: request line, headers, and
/// body (which only `POST .../$query` uses; a write is refused).
fn request(content: &[u8], id: Option<String>) -> Entry {
    let (line, rest) = match content.iter().position(|&b| b == b'\n') {
        Some(end) => (&content[..end], &content[end + 1..]),
        None => (content, &content[content.len()..]),
    };
    let line = String::from_utf8_lossy(trim_cr(line));
    let (method, url, refusal) = request_line(&line);
    let (headers, body) = header_block(rest);
    Entry {
        id,
        method,
        url,
        headers,
        depends_on: Vec::new(),
        condition: false,
        refusal,
        body: bytes::Bytes::copy_from_slice(body),
    }
}

/// The method and URL of a request line (RFC 9112: `method SP
/// request-target SP HTTP-version`), and why the request cannot be run if
/// the line is not one.
///
/// The version may be left out, as the protocol's own example does, so
/// two words are a request line and a third must be the version. Anything
/// else is refused rather than cut at a space: `$orderby=Id desc` read as
/// `$orderby=Id` would be answered, with a 200, for a query the client
/// did not send. The refusal is the request's own answer (a 400, as a
/// JSON batch gets for an invalid URL), not the batch's: the part itself
/// was read.
fn request_line(line: &str) -> (String, String, Option<String>) {
    let words: Vec<&str> = line.split_ascii_whitespace().collect();
    let method = words.first().copied().unwrap_or_default().to_string();
    let refusal = match words.as_slice() {
        [_, _] => None,
        [_, _, version] if version.starts_with("HTTP/") => None,
        [] | [_] => Some(format!(
            "the request line `{line}` has no URL; it is `method URL HTTP/1.1`"
        )),
        _ => Some(format!(
            "the request line `{line}` is not `method URL HTTP/1.1`: a URL holds no spaces; \
             percent-encode them as %20"
        )),
    };
    let url = words.get(1).copied().unwrap_or_default().to_string();
    (method, url, refusal)
}

/// The parts between `--boundary` delimiter lines, without the line break
/// that belongs to the next delimiter; the preamble before the first and
/// the epilogue after the closing `--boundary--` are dropped.
fn split<'b>(body: &'b [u8], boundary: &str) -> Result<Vec<&'b [u8]>, GatewayError> {
    if boundary.is_empty() || boundary.len() > 70 {
        return Err(invalid(
            "the multipart boundary must have 1 to 70 characters (RFC 2046)",
        ));
    }
    let delimiter = format!("--{boundary}");
    let delimiter = delimiter.as_bytes();
    let mut parts = Vec::new();
    // Where the current part's content starts, once a delimiter was seen.
    let mut open: Option<usize> = None;
    let mut line_start = 0;
    while line_start <= body.len() {
        let line_end = body[line_start..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(body.len(), |p| line_start + p);
        let line = trim_cr(&body[line_start..line_end]);
        if let Some(after) = line.strip_prefix(delimiter) {
            let closing = after.starts_with(b"--");
            let padding = if closing { &after[2..] } else { after };
            if padding.iter().all(|b| *b == b' ' || *b == b'\t') {
                if let Some(start) = open {
                    // The line break before the delimiter is part of it.
                    let end = line_start.saturating_sub(1);
                    let end = if end > start && body.get(end - 1) == Some(&b'\r') {
                        end - 1
                    } else {
                        end
                    };
                    parts.push(body.get(start..end.max(start)).unwrap_or_default());
                }
                if closing {
                    return Ok(parts);
                }
                open = Some((line_end + 1).min(body.len()));
            }
        }
        line_start = line_end + 1;
    }
    Err(invalid(if open.is_some() {
        format!("the batch ends without its closing delimiter `--{boundary}--`")
    } else {
        format!("the batch has no part delimited by `--{boundary}`")
    }))
}

/// Header lines up to the first empty line (names lower-cased), and what
/// follows it.
fn header_block(text: &[u8]) -> (Vec<(String, String)>, &[u8]) {
    let mut headers = Vec::new();
    let mut at = 0;
    while at < text.len() {
        let end = text[at..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(text.len(), |p| at + p);
        let line = trim_cr(&text[at..end]);
        at = (end + 1).min(text.len());
        if line.is_empty() {
            break;
        }
        let line = String::from_utf8_lossy(line);
        if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
        }
    }
    (headers, &text[at..])
}

fn header<'h>(headers: &'h [(String, String)], name: &str) -> Option<&'h str> {
    headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// The media type of a `Content-Type` value, lower-cased, without
/// parameters.
pub(super) fn media_type(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

/// A parameter of a `Content-Type` value, unquoted.
pub(super) fn parameter(content_type: &str, name: &str) -> Option<String> {
    content_type.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim().eq_ignore_ascii_case(name).then(|| {
            let v = v.trim();
            v.strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(v)
                .to_string()
        })
    })
}

fn invalid(message: impl Into<String>) -> GatewayError {
    GatewayError::bad_request("InvalidBatch", message, Some("$batch"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_ok(body: &str, boundary: &str) -> Vec<Item> {
        match read(body.as_bytes(), boundary) {
            Ok(b) => b.items,
            Err(e) => panic!("refused: {e}"),
        }
    }

    #[test]
    fn reads_the_protocol_example_with_lf_or_crlf() {
        let body = "preamble\n--b1\nContent-Type: application/http\n\nGET /service/Customers('ALFKI')\nHost: host\n\n\n\
                    --b1\nContent-Type: multipart/mixed; boundary=cs1\n\n--cs1\nContent-Type: application/http\nContent-ID: 1\n\n\
                    POST /service/Customers HTTP/1.1\nContent-Type: application/json\n\n{}\n--cs1--\n\
                    --b1\nContent-Type: application/http\n\nGET Products?$top=2 HTTP/1.1\n\n\n--b1--\nepilogue";
        for body in [body.to_string(), body.replace('\n', "\r\n")] {
            let items = read_ok(&body, "b1");
            assert_eq!(items.len(), 3);
            let Item::Single(first) = &items[0] else {
                panic!("a single request first")
            };
            assert_eq!(
                (first.method.as_str(), first.url.as_str()),
                ("GET", "/service/Customers('ALFKI')")
            );
            assert_eq!(
                first.headers,
                vec![("host".to_string(), "host".to_string())]
            );
            let Item::ChangeSet { entries, .. } = &items[1] else {
                panic!("a change set second")
            };
            assert_eq!(entries.len(), 1);
            assert_eq!(entries[0].id.as_deref(), Some("1"));
            assert_eq!(entries[0].method, "POST");
            let Item::Single(third) = &items[2] else {
                panic!("a single request third")
            };
            assert_eq!(third.url, "Products?$top=2");
        }
    }

    #[test]
    fn refuses_what_is_not_a_batch() {
        for (body, boundary) in [
            (
                "--b\r\nContent-Type: application/http\r\n\r\nGET X\r\n",
                "b",
            ),
            ("no delimiter at all", "b"),
            ("--b\r\nContent-Type: text/plain\r\n\r\nx\r\n--b--", "b"),
            ("--b\r\nContent-Type: multipart/mixed\r\n\r\n--b--", "b"),
            ("--b--", ""),
        ] {
            assert!(read(body.as_bytes(), boundary).is_err(), "{body:?}");
        }
    }

    #[test]
    fn a_delimiter_must_start_a_line() {
        let body = "--b\r\nContent-Type: application/http\r\n\r\nGET X?$filter=Name%20eq%20'--b' HTTP/1.1\r\n\r\n\r\n--b--\r\n";
        let items = read_ok(body, "b");
        assert_eq!(items.len(), 1);
        let Item::Single(e) = &items[0] else {
            panic!("a single request")
        };
        assert_eq!(e.url, "X?$filter=Name%20eq%20'--b'");
    }

    #[test]
    fn request_lines_are_method_url_and_an_optional_version() {
        let part =
            |line: &str| format!("--b\r\nContent-Type: application/http\r\n\r\n{line}\r\n\r\n\r\n");
        let lines = [
            ("GET Accounts?$top=3 HTTP/1.1", None),
            ("GET  Accounts?$top=3", None),
            (
                "GET Accounts?$top=3&$orderby=Id desc HTTP/1.1",
                Some("percent-encode"),
            ),
            ("GET Accounts?$top=3 HTTP/1.1 extra", Some("percent-encode")),
            ("GET Accounts?$top=3 desc", Some("percent-encode")),
            ("GET", Some("no URL")),
            ("", Some("no URL")),
        ];
        let mut body: String = lines.iter().map(|(l, _)| part(l)).collect();
        body.push_str("--b--\r\n");
        let items = read_ok(&body, "b");
        assert_eq!(items.len(), lines.len());
        for (item, (line, want)) in items.iter().zip(lines) {
            let Item::Single(e) = item else {
                panic!("a single request")
            };
            match want {
                None => {
                    assert_eq!(
                        (e.method.as_str(), e.url.as_str()),
                        ("GET", "Accounts?$top=3")
                    );
                    assert!(e.refusal.is_none(), "{line}");
                }
                Some(why) => {
                    let refusal = e.refusal.as_deref().unwrap_or_default();
                    assert!(refusal.contains(why), "{line}: {refusal}");
                }
            }
        }
    }

    #[test]
    fn content_type_parameters_are_read_quoted_or_not() {
        let ct = "multipart/mixed; charset=utf-8; Boundary=\"batch_1 2\"";
        assert_eq!(media_type(ct), "multipart/mixed");
        assert_eq!(parameter(ct, "boundary").as_deref(), Some("batch_1 2"));
        assert_eq!(parameter("multipart/mixed", "boundary"), None);
    }

    proptest::proptest! {
        #[test]
        fn any_body_is_read_or_refused(body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400), cut in 0usize..400) {
            let _ = read(&body, "b");
            // Valid batches cut off anywhere.
            let valid = "--b\r\nContent-Type: application/http\r\n\r\nGET A HTTP/1.1\r\n\r\n\r\n--b\r\nContent-Type: multipart/mixed; boundary=c\r\n\r\n--c\r\nContent-Type: application/http\r\n\r\nPOST A\r\n\r\n{}\r\n--c--\r\n--b--\r\n";
            let _ = read(&valid.as_bytes()[..cut.min(valid.len())], "b");
        }
    }
}
