//! What a request of a batch takes from the batch request when it does not
//! state it itself (protocol 8.2.1, 8.2.6, 8.2.7, 8.2.8.1 and 8.2.8.4): the
//! acceptable formats, the OData versions, and the `include-annotations`
//! and `allow-entityreferences` preferences. Credentials are not here:
//! they are always the batch's, the protocol forbids them inside parts.

use http::header::{self, HeaderMap, HeaderName, HeaderValue};

use super::super::negotiate;

/// Headers taken as they are.
const AS_THEY_ARE: [HeaderName; 3] = [
    header::HOST,
    HeaderName::from_static("odata-version"),
    HeaderName::from_static("odata-maxversion"),
];

/// Preferences a request inherits, by name without the `odata.` prefix.
const PREFERENCES: [&str; 2] = ["include-annotations", "allow-entityreferences"];

/// Adds to `inner` what it inherits from the batch request's `outer`
/// headers.
pub(super) fn inherit(outer: &HeaderMap, inner: &mut HeaderMap) {
    for name in AS_THEY_ARE {
        if !inner.contains_key(&name) {
            if let Some(v) = outer.get(&name) {
                inner.insert(name, v.clone());
            }
        }
    }
    if !inner.contains_key(header::ACCEPT) {
        if let Some(v) = accept(&values(outer, &header::ACCEPT)) {
            inner.insert(header::ACCEPT, v);
        }
    }
    let prefer = HeaderName::from_static("prefer");
    if let Some(v) = preferences(&values(outer, &prefer), &values(inner, &prefer)) {
        inner.append(prefer, v);
    }
}

/// All values of a header, as one comma-separated list.
fn values(headers: &HeaderMap, name: &HeaderName) -> String {
    let all: Vec<&str> = headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    all.join(", ")
}

/// The `Accept` a request without one inherits: the batch's ranges that
/// take JSON (`application/json` with its format parameters, or a
/// wildcard), which decide how a JSON answer is written
/// (`odata.metadata`, `IEEE754Compatible`). Ranges for the batch's own
/// format (`multipart/mixed`) are no format of a request inside it, and a
/// batch that names only those passes nothing on.
///
/// The inherited ranges end with `*/*` at the lowest quality: the batch's
/// `Accept` chose the batch's format first, and a client that sent
/// `Accept: application/json` for a JSON batch did not ask for its
/// `$count` (text/plain) or 4.0 `$metadata` (XML) inside it to be 406.
/// JSON answers take the JSON ranges, which rank above it.
fn accept(outer: &str) -> Option<HeaderValue> {
    let json: Vec<&str> = outer
        .split(',')
        .map(str::trim)
        .filter(|range| negotiate::accepts(range, "application", "json"))
        .collect();
    if json.is_empty() {
        return None;
    }
    let mut ranges = json.join(", ");
    if !json
        .iter()
        .any(|r| super::multipart::media_type(r) == "*/*")
    {
        ranges.push_str(", */*;q=0.001");
    }
    HeaderValue::from_str(&ranges).ok()
}

/// The preferences of the batch's `Prefer` that a request inherits and
/// does not state itself, as a `Prefer` value to add to its own. Only
/// preferences that parse are passed on: a malformed one would turn an
/// answerable request into a 400 it did not ask for.
fn preferences(outer: &str, inner: &str) -> Option<HeaderValue> {
    let stated: Vec<String> = split(inner).into_iter().map(name).collect();
    let inherited: Vec<&str> = split(outer)
        .into_iter()
        .filter(|p| {
            let name = name(p);
            PREFERENCES.contains(&name.as_str())
                && !stated.contains(&name)
                && odata_syntax::parse_preference(p).is_ok()
        })
        .collect();
    if inherited.is_empty() {
        return None;
    }
    HeaderValue::from_str(&inherited.join(", ")).ok()
}

/// The preferences of a `Prefer` value: split at commas outside quoted
/// strings (an `include-annotations` list is one quoted string).
fn split(prefer: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut quoted = false;
    let mut start = 0;
    for (i, c) in prefer.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => {
                out.push(prefer[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(prefer[start..].trim());
    out.retain(|p| !p.is_empty());
    out
}

/// A preference's name, lower-cased, without the `odata.` prefix.
fn name(preference: &str) -> String {
    let end = preference
        .find(['=', ';', ' ', '\t'])
        .unwrap_or(preference.len());
    let name = preference[..end].to_ascii_lowercase();
    match name.strip_prefix("odata.") {
        Some(rest) => rest.to_string(),
        None => name,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(list: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in list {
            map.append(
                HeaderName::from_static(name),
                HeaderValue::from_str(value).unwrap_or_else(|e| panic!("{e}")),
            );
        }
        map
    }

    fn inherited(outer: &[(&'static str, &str)], inner: &[(&'static str, &str)]) -> HeaderMap {
        let mut inner = headers(inner);
        inherit(&headers(outer), &mut inner);
        inner
    }

    #[test]
    fn the_json_ranges_of_accept_are_inherited() {
        for (outer, want) in [
            (
                "application/json;IEEE754Compatible=true",
                Some("application/json;IEEE754Compatible=true, */*;q=0.001"),
            ),
            (
                "multipart/mixed, application/json;odata.metadata=none;q=0.5",
                Some("application/json;odata.metadata=none;q=0.5, */*;q=0.001"),
            ),
            ("*/*", Some("*/*")),
            ("multipart/mixed", None),
            ("multipart/mixed, application/json;q=0", None),
        ] {
            let got = inherited(&[("accept", outer)], &[]);
            assert_eq!(
                got.get("accept").and_then(|v| v.to_str().ok()),
                want,
                "{outer}"
            );
        }
        let own = inherited(
            &[("accept", "application/json;odata.metadata=none")],
            &[("accept", "application/xml")],
        );
        assert_eq!(own["accept"], "application/xml");
    }

    fn prefers(headers: &HeaderMap) -> Vec<&str> {
        headers
            .get_all("prefer")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect()
    }

    #[test]
    fn annotation_and_reference_preferences_are_inherited_unless_stated() {
        let outer = [(
            "prefer",
            "odata.include-annotations=\"*,-Org.OData.Core.V1.*\", odata.continue-on-error, allow-entityreferences",
        )];
        let got = inherited(&outer, &[]);
        assert_eq!(
            prefers(&got),
            ["odata.include-annotations=\"*,-Org.OData.Core.V1.*\", allow-entityreferences"]
        );
        let got = inherited(
            &outer,
            &[("prefer", "include-annotations=\"-*\", odata.maxpagesize=5")],
        );
        assert_eq!(
            prefers(&got),
            [
                "include-annotations=\"-*\", odata.maxpagesize=5",
                "allow-entityreferences"
            ]
        );
        let got = inherited(&[("prefer", "include-annotations=broken")], &[]);
        assert!(got.get("prefer").is_none());
    }

    #[test]
    fn versions_and_host_are_inherited_unless_stated() {
        let got = inherited(
            &[
                ("host", "gw:8080"),
                ("odata-version", "4.01"),
                ("odata-maxversion", "4.01"),
            ],
            &[("odata-maxversion", "4.0")],
        );
        assert_eq!(got["host"], "gw:8080");
        assert_eq!(got["odata-version"], "4.01");
        assert_eq!(got["odata-maxversion"], "4.0");
    }
}
