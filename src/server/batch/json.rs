//! The JSON batch format (OData JSON format 19): what OData 4.01 clients
//! send to `$batch` with `Content-Type: application/json`.

use std::collections::HashSet;

use base64::Engine;
use serde_json::Value as Json;

use super::multipart::media_type;
use super::{Answer, Batch, Entry, Item, Outcome};
use crate::error::GatewayError;

/// The request objects, adjacent members of an atomicity group gathered
/// into one item. Everything the format requires of the batch as a whole
/// (unique ids, dependencies on preceding requests only, groups kept
/// together) is checked here, so a batch that breaks it is refused before
/// any of its requests runs.
pub(super) fn read(body: &[u8]) -> Result<Batch, GatewayError> {
    let doc: Json = serde_json::from_slice(body)
        .map_err(|e| invalid(format!("the batch is not valid JSON: {e}")))?;
    let Some(requests) = doc.get("requests").and_then(Json::as_array) else {
        return Err(invalid("a JSON batch is an object with a `requests` array"));
    };
    let mut items: Vec<Item> = Vec::new();
    // Ids and groups of the requests read so far, which `dependsOn` may name.
    let mut seen: HashSet<String> = HashSet::new();
    let mut closed_groups: HashSet<String> = HashSet::new();
    for (n, request) in requests.iter().enumerate() {
        let at = |what: &str| format!("request {} ({what})", n + 1);
        let Some(object) = request.as_object() else {
            return Err(invalid(format!("{} is not an object", at("requests[]"))));
        };
        let string = |name: &str| -> Result<Option<String>, GatewayError> {
            match object.get(name) {
                None | Some(Json::Null) => Ok(None),
                Some(Json::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(invalid(format!("{} must be a string", at(name)))),
            }
        };
        let id = string("id")?.ok_or_else(|| invalid(format!("{} is missing", at("id"))))?;
        let method =
            string("method")?.ok_or_else(|| invalid(format!("{} is missing", at("method"))))?;
        if !["delete", "get", "patch", "post", "put"]
            .iter()
            .any(|m| m.eq_ignore_ascii_case(&method))
        {
            return Err(invalid(format!(
                "{} is `{method}`; it is one of get, post, put, patch, delete",
                at("method")
            )));
        }
        let url = string("url")?.ok_or_else(|| invalid(format!("{} is missing", at("url"))))?;
        let group = string("atomicityGroup")?;
        let headers = match object.get("headers") {
            None | Some(Json::Null) => Vec::new(),
            Some(Json::Object(h)) => h
                .iter()
                .map(|(k, v)| match v {
                    Json::String(v) => Ok((k.to_ascii_lowercase(), v.clone())),
                    _ => Err(invalid(format!("{} must be strings", at("headers")))),
                })
                .collect::<Result<_, _>>()?,
            Some(_) => return Err(invalid(format!("{} must be an object", at("headers")))),
        };
        let depends_on: Vec<String> = match object.get("dependsOn") {
            None | Some(Json::Null) => Vec::new(),
            Some(Json::Array(a)) => a
                .iter()
                .map(|d| match d {
                    Json::String(d) if seen.contains(d) => Ok(d.clone()),
                    Json::String(d) => Err(invalid(format!(
                        "{} names `{d}`, which is no preceding request or atomicity group",
                        at("dependsOn")
                    ))),
                    _ => Err(invalid(format!("{} must hold strings", at("dependsOn")))),
                })
                .collect::<Result<_, _>>()?,
            Some(_) => return Err(invalid(format!("{} must be an array", at("dependsOn")))),
        };
        if seen.contains(&id) {
            return Err(invalid(format!(
                "{} `{id}` is used twice; ids and atomicity groups are unique in a batch",
                at("id")
            )));
        }
        let entry = Entry {
            id: Some(id.clone()),
            method,
            url,
            headers,
            depends_on,
            condition: object.get("if").is_some_and(|v| !v.is_null()),
            refusal: None,
            body: match object.get("body") {
                None | Some(Json::Null) => bytes::Bytes::new(),
                // A textual body (JSON Format 19.1), such as the
                // `text/plain` query options of `POST .../$query`.
                Some(Json::String(text)) => bytes::Bytes::from(text.clone()),
                Some(json) => bytes::Bytes::from(json.to_string()),
            },
        };
        seen.insert(id);
        let last_group = match items.last() {
            Some(Item::ChangeSet { group: Some(g), .. }) => Some(g.clone()),
            _ => None,
        };
        match group {
            None => {
                if let Some(g) = last_group {
                    closed_groups.insert(g);
                }
                items.push(Item::Single(entry));
            }
            Some(g) if last_group.as_ref() == Some(&g) => {
                if let Some(Item::ChangeSet { entries, .. }) = items.last_mut() {
                    entries.push(entry);
                }
            }
            Some(g) => {
                if closed_groups.contains(&g) || seen.contains(&g) {
                    return Err(invalid(format!(
                        "{} `{g}` is not adjacent to its other members, or is also a request id",
                        at("atomicityGroup")
                    )));
                }
                if let Some(last) = last_group {
                    closed_groups.insert(last);
                }
                items.push(Item::ChangeSet {
                    group: Some(g),
                    entries: vec![entry],
                });
            }
        }
        // A group may be named in `dependsOn` once it has members.
        if let Some(Item::ChangeSet { group: Some(g), .. }) = items.last() {
            seen.insert(g.clone());
        }
    }
    Ok(Batch { items })
}

/// The answer's body: `{"responses":[...]}`, one object per request, in
/// the order they were answered. Change sets of a multipart request get
/// generated atomicity group names, and its requests without a
/// `Content-ID` generated ids (see [`Ids`]), as the format requires both.
pub(super) fn write(outcomes: &[Outcome]) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(b"{\"responses\":[");
    let mut ids = Ids::new(outcomes);
    let mut object = |out: &mut Vec<u8>, answer: &Answer, id: Option<&str>, group: Option<&str>| {
        if ids.position > 0 {
            out.push(b',');
        }
        let id = ids.next(id);
        write_object(out, answer, &id, group);
    };
    for (n, outcome) in outcomes.iter().enumerate() {
        let generated = format!("changeset{}", n + 1);
        match outcome {
            Outcome::Single(a) => object(&mut out, a, a.id.as_deref(), None),
            Outcome::ChangeSet(answers) => {
                for a in answers {
                    let group = a.group.as_deref().unwrap_or(&generated);
                    object(&mut out, a, a.id.as_deref(), Some(group));
                }
            }
            Outcome::ChangeSetFailed { answer, members } => {
                let group = answer.group.as_deref().unwrap_or(&generated);
                for id in members {
                    object(&mut out, answer, id.as_deref(), Some(group));
                }
            }
        }
    }
    out.extend_from_slice(b"]}");
    out
}

/// The ids of the response objects. Every response object has one (JSON
/// format 19: the `id` MUST be included), but a multipart request's parts
/// need no `Content-ID`. One without gets its 1-based position among the
/// batch's requests (answers come in the order sent, one per request, so
/// the position names the request the client sent there), or, if a
/// `Content-ID` already is that number, the position with `-1`, `-2`, ...
/// appended, whichever is free first.
struct Ids {
    /// The ids given and generated so far.
    taken: HashSet<String>,
    /// How many response objects have been written.
    position: usize,
}

impl Ids {
    fn new(outcomes: &[Outcome]) -> Ids {
        let mut taken = HashSet::new();
        for outcome in outcomes {
            match outcome {
                Outcome::Single(a) => taken.extend(a.id.clone()),
                Outcome::ChangeSet(answers) => {
                    taken.extend(answers.iter().filter_map(|a| a.id.clone()));
                }
                Outcome::ChangeSetFailed { members, .. } => {
                    taken.extend(members.iter().flatten().cloned());
                }
            }
        }
        Ids { taken, position: 0 }
    }

    /// The id of the next response object: `given`, or a generated one.
    fn next(&mut self, given: Option<&str>) -> String {
        self.position += 1;
        if let Some(id) = given {
            return id.to_string();
        }
        let position = self.position.to_string();
        let mut id = position.clone();
        let mut suffix = 0;
        while self.taken.contains(&id) {
            suffix += 1;
            id = format!("{position}-{suffix}");
        }
        self.taken.insert(id.clone());
        id
    }
}

/// One response object. The body is inlined as JSON for JSON media types,
/// a string for `text/*`, and base64url otherwise (JSON format 19.1).
fn write_object(out: &mut Vec<u8>, answer: &Answer, id: &str, group: Option<&str>) {
    out.push(b'{');
    out.extend_from_slice(b"\"id\":");
    write_string(out, id);
    out.push(b',');
    if let Some(group) = group {
        out.extend_from_slice(b"\"atomicityGroup\":");
        write_string(out, group);
        out.push(b',');
    }
    out.extend_from_slice(b"\"status\":");
    out.extend_from_slice(answer.status.as_str().as_bytes());
    out.extend_from_slice(b",\"headers\":{");
    let mut content_type = "";
    // A header sent more than once (two `WWW-Authenticate` challenges) is
    // one member whose value lists them (RFC 9110 5.3): a JSON object
    // with a name twice would keep only one of them in most readers.
    let mut written: Vec<&http::HeaderName> = Vec::new();
    for (name, value) in &answer.headers {
        if written.contains(&name) {
            continue;
        }
        if !written.is_empty() {
            out.push(b',');
        }
        written.push(name);
        write_string(out, name.as_str());
        out.push(b':');
        let values: Vec<&str> = answer
            .headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect();
        write_string(out, &values.join(", "));
        if name == http::header::CONTENT_TYPE {
            content_type = value;
        }
    }
    out.push(b'}');
    if !answer.body.is_empty() {
        out.extend_from_slice(b",\"body\":");
        let media = media_type(content_type);
        let json = media == "application/json" || media.ends_with("+json");
        if json && serde_json::from_slice::<serde::de::IgnoredAny>(&answer.body).is_ok() {
            out.extend_from_slice(&answer.body);
        } else if let (true, Ok(text)) = (
            media.starts_with("text/"),
            std::str::from_utf8(&answer.body),
        ) {
            write_string(out, text);
        } else {
            let encoded = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&answer.body);
            write_string(out, &encoded);
        }
    }
    out.push(b'}');
}

fn write_string(out: &mut Vec<u8>, s: &str) {
    // Writing a string into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, s);
}

fn invalid(message: impl Into<String>) -> GatewayError {
    GatewayError::bad_request("InvalidBatch", message, Some("$batch"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(body: &str) -> Vec<Item> {
        match read(body.as_bytes()) {
            Ok(b) => b.items,
            Err(e) => panic!("refused: {e}"),
        }
    }

    #[test]
    fn reads_requests_and_groups_them() {
        let read = items(
            r#"{"requests":[
                {"id":"0","method":"get","url":"/service/Customers('ALFKI')"},
                {"id":"1","atomicityGroup":"g1","dependsOn":["0"],"method":"patch","url":"Customers('ALFKI')","headers":{"Prefer":"return=minimal"}},
                {"id":"2","atomicityGroup":"g1","method":"POST","url":"Customers","body":{}},
                {"id":"3","dependsOn":["g1"],"method":"get","url":"Products","if":"$1/$succeeded"}
            ]}"#,
        );
        assert_eq!(read.len(), 3);
        let Item::ChangeSet { group, entries } = &read[1] else {
            panic!("a group second")
        };
        assert_eq!(group.as_deref(), Some("g1"));
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].depends_on, vec!["0".to_string()]);
        assert_eq!(
            entries[0].headers,
            vec![("prefer".into(), "return=minimal".into())]
        );
        let Item::Single(last) = &read[2] else {
            panic!("a request last")
        };
        assert!(last.condition);
        assert_eq!(last.depends_on, vec!["g1".to_string()]);
    }

    #[test]
    fn refuses_batches_that_break_the_format() {
        for body in [
            "[]",
            "{}",
            r#"{"requests":[{"method":"get","url":"X"}]}"#,
            r#"{"requests":[{"id":"1","method":"fetch","url":"X"}]}"#,
            r#"{"requests":[{"id":"1","method":"get"}]}"#,
            r#"{"requests":[{"id":"1","method":"get","url":"X"},{"id":"1","method":"get","url":"Y"}]}"#,
            r#"{"requests":[{"id":"1","method":"get","url":"X","dependsOn":["2"]},{"id":"2","method":"get","url":"Y"}]}"#,
            r#"{"requests":[{"id":"1","method":"get","url":"X","headers":{"accept":1}}]}"#,
            r#"{"requests":[{"id":"1","atomicityGroup":"g","method":"post","url":"X"},{"id":"2","method":"get","url":"Y"},{"id":"3","atomicityGroup":"g","method":"post","url":"X"}]}"#,
            r#"{"requests":[{"id":"g","method":"get","url":"X"},{"id":"2","atomicityGroup":"g","method":"post","url":"X"}]}"#,
        ] {
            assert!(read(body.as_bytes()).is_err(), "{body}");
        }
    }

    #[test]
    fn bodies_are_inlined_by_media_type() {
        let answer = |ct: &str, body: &'static [u8]| Answer {
            id: Some("1".into()),
            group: None,
            status: http::StatusCode::OK,
            headers: vec![(http::header::CONTENT_TYPE, ct.to_string())],
            body: bytes::Bytes::from_static(body),
        };
        let written = write(&[
            Outcome::Single(answer(
                "application/json;odata.metadata=minimal",
                b"{\"value\":[]}",
            )),
            Outcome::Single(answer("text/plain", b"42")),
            Outcome::Single(answer("application/xml", b"<a/>")),
        ]);
        let doc: Json = serde_json::from_slice(&written).unwrap_or_default();
        let bodies: Vec<&Json> = doc["responses"]
            .as_array()
            .map(|r| r.iter().map(|r| &r["body"]).collect())
            .unwrap_or_default();
        assert_eq!(bodies.len(), 3);
        assert_eq!(bodies[0], &serde_json::json!({"value": []}));
        assert_eq!(bodies[1], "42");
        assert_eq!(bodies[2], "PGEvPg");
        assert_eq!(doc["responses"][0]["id"], "1");
        assert_eq!(doc["responses"][0]["status"], 200);
    }

    #[test]
    fn a_header_sent_twice_is_one_member_listing_both() {
        let challenge = http::header::WWW_AUTHENTICATE;
        let written = write(&[Outcome::Single(Answer {
            id: Some("1".into()),
            group: None,
            status: http::StatusCode::UNAUTHORIZED,
            headers: vec![
                (challenge.clone(), "Basic realm=\"a\"".to_string()),
                (http::header::CONTENT_TYPE, "application/json".to_string()),
                (challenge, "Bearer error=\"invalid_token\"".to_string()),
            ],
            body: bytes::Bytes::new(),
        })]);
        let text = String::from_utf8_lossy(&written);
        assert_eq!(text.matches("www-authenticate").count(), 1, "{text}");
        let doc: Json = serde_json::from_slice(&written).unwrap_or_default();
        assert_eq!(
            doc["responses"][0]["headers"]["www-authenticate"],
            "Basic realm=\"a\", Bearer error=\"invalid_token\""
        );
        assert_eq!(
            doc["responses"][0]["headers"]["content-type"],
            "application/json"
        );
    }

    #[test]
    fn answers_without_an_id_get_their_position_unless_it_is_taken() {
        let answer = |id: Option<&str>| Answer {
            id: id.map(str::to_string),
            group: None,
            status: http::StatusCode::OK,
            headers: Vec::new(),
            body: bytes::Bytes::new(),
        };
        let written = write(&[
            Outcome::Single(answer(Some("2"))),
            Outcome::Single(answer(None)),
            Outcome::ChangeSet(vec![answer(None), answer(Some("3"))]),
            Outcome::ChangeSetFailed {
                answer: answer(None),
                members: vec![None, Some("x".into())],
            },
            Outcome::Single(answer(Some("7-1"))),
            Outcome::Single(answer(None)),
        ]);
        let doc: Json = serde_json::from_slice(&written).unwrap_or_default();
        let ids: Vec<&str> = doc["responses"]
            .as_array()
            .map(|r| r.iter().filter_map(|r| r["id"].as_str()).collect())
            .unwrap_or_default();
        assert_eq!(ids, ["2", "2-1", "3-1", "3", "5", "x", "7-1", "8"]);
    }
}
