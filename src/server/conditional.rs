//! HTTP caching towards clients: entity tags, `If-None-Match`, `Vary`,
//! `Cache-Control`, and the client's wish for fresh data.

use base64::Engine;
use http::header::{self, HeaderMap, HeaderValue};

/// Response headers data responses vary by: the principal (their data,
/// their permissions), the negotiated format and encoding, page size and
/// other preferences, and the OData version.
pub const VARY: &str = "Authorization, Accept, Accept-Encoding, Prefer, OData-MaxVersion";

/// `Cache-Control` of responses behind authentication: only the client may
/// store them (`private`), and it must ask before reusing them
/// (`no-cache`), with the `ETag` making that a cheap 304. Shared caches
/// must never serve one principal's data to another; clients must not
/// serve data older than the gateway's own bound without asking.
pub const CACHE_CONTROL_PRIVATE: &str = "private, no-cache";

/// An entity tag over a response body: the first 128 bits of its BLAKE3
/// hash, so equal bodies, and only equal bodies, share a tag. (A
/// cryptographic hash, so that no one who can write data can make a
/// changed page keep its tag; BLAKE3 rather than SHA-256 because the tag
/// is computed over every page of up to a MiB before it is sent, and
/// BLAKE3 takes a third of the time.)
///
/// Weak (`W/"..."`): the compression layer may send the body gzip- or
/// deflate-coded, and a strong tag names one coding's bytes (RFC 9110
/// 8.8.1). Weak from the start, the tag is the same on the 200 in any
/// coding and on the 304 that stands in for it (RFC 9110 15.4.5), which
/// could not tell which coding the 200 would have had.
pub fn body_etag(body: &[u8]) -> String {
    let mut tag = BodyTag::new();
    tag.update(body);
    tag.finish()
}

/// [`body_etag`] computed piece by piece, as a body is written: a page
/// hashes each chunk once it is full, while ZeyOS is still sending the
/// rows of the next, so that after the last row only the last chunk is
/// left to hash before the response can start (for the 100-transaction
/// page streamed from ZeyOS, the latency the gateway adds fell from 0.78
/// to 0.55 ms, medians of seven load-test runs; BENCHMARKS.md).
pub struct BodyTag(blake3::Hasher);

impl BodyTag {
    /// The tag of an empty body, until parts are added.
    pub fn new() -> BodyTag {
        BodyTag(blake3::Hasher::new())
    }

    /// Adds the next part of the body.
    pub fn update(&mut self, part: &[u8]) {
        self.0.update(part);
    }

    /// The tag of everything passed to [`BodyTag::update`], in order.
    pub fn finish(&self) -> String {
        let digest = self.0.finalize();
        let digest = digest.as_bytes();
        let mut tag = String::with_capacity(26);
        tag.push_str("W/\"");
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode_string(&digest[..16], &mut tag);
        tag.push('"');
        tag
    }
}

impl Default for BodyTag {
    fn default() -> Self {
        BodyTag::new()
    }
}

/// Whether the request's `If-None-Match` matches `etag` (weak comparison,
/// as RFC 9110 prescribes for `If-None-Match`).
pub fn none_match(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| crate::edm::metadata::if_none_match(v, etag))
}

/// Whether the request's `If-Match` rules the answer out (RFC 9110 13.1.1:
/// 412 for a GET too): it names tags and none is `etag`, or the answer has
/// no tag (`None`, a page too large to tag) to match. Tags compare weakly,
/// as OData clients send an entity's weak `@odata.etag` back.
pub fn match_fails(headers: &HeaderMap, etag: Option<&str>) -> bool {
    let mut values = headers
        .get_all(header::IF_MATCH)
        .iter()
        .map(|v| v.to_str().unwrap_or_default())
        .peekable();
    if values.peek().is_none() {
        return false;
    }
    let mut any_tag = false;
    for value in values {
        for candidate in value.split(',').map(str::trim).filter(|c| !c.is_empty()) {
            if candidate == "*" {
                return false;
            }
            any_tag = true;
            if etag.is_some_and(|tag| crate::edm::metadata::if_none_match(candidate, tag)) {
                return false;
            }
        }
    }
    any_tag || etag.is_none()
}

/// Whether the client demands data fresh from ZeyOS:
/// `Cache-Control: no-cache` or `max-age=0`, or (HTTP/1.0) `Pragma:
/// no-cache` without a `Cache-Control`.
pub fn wants_fresh(headers: &HeaderMap) -> bool {
    let directives = |name: header::HeaderName| {
        headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(|d| d.trim().to_ascii_lowercase())
            .collect::<Vec<_>>()
    };
    let cc = directives(header::CACHE_CONTROL);
    if !cc.is_empty() {
        return cc.iter().any(|d| {
            d == "no-cache"
                || d.starts_with("no-cache=")
                || d.strip_prefix("max-age=")
                    .is_some_and(|a| a.trim_matches('"') == "0")
        });
    }
    directives(header::PRAGMA).iter().any(|d| d == "no-cache")
}

/// Adds `Vary` and `Cache-Control` to a response unless it has its own.
pub fn mark_private(headers: &mut HeaderMap) {
    if !headers.contains_key(header::VARY) {
        headers.insert(header::VARY, HeaderValue::from_static(VARY));
    }
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static(CACHE_CONTROL_PRIVATE),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn body_etags_are_weak_and_follow_the_bytes() {
        let a = body_etag(b"{\"value\":[]}");
        assert!(a.starts_with("W/\"") && a.ends_with('"'));
        assert_eq!(a.len(), 26);
        assert_eq!(a, body_etag(b"{\"value\":[]}"));
        assert_ne!(a, body_etag(b"{\"value\":[1]}"));
        let mut pieces = BodyTag::new();
        for part in [&b"{\"val"[..], b"", b"ue\":[]}"] {
            pieces.update(part);
        }
        assert_eq!(a, pieces.finish());
    }

    #[test]
    fn if_match_holds_for_a_listed_tag_or_a_wildcard() {
        let tag = "W/\"12\"";
        assert!(!match_fails(&headers(&[]), Some(tag)));
        assert!(!match_fails(&headers(&[]), None));
        assert!(!match_fails(
            &headers(&[("if-match", "\"1\", W/\"12\"")]),
            Some(tag)
        ));
        assert!(!match_fails(&headers(&[("if-match", "*")]), Some(tag)));
        assert!(!match_fails(&headers(&[("if-match", "*")]), None));
        assert!(match_fails(&headers(&[("if-match", "\"13\"")]), Some(tag)));
        assert!(match_fails(&headers(&[("if-match", "\"12\"")]), None));
    }

    #[test]
    fn if_none_match_compares_weakly_and_accepts_lists() {
        let tag = body_etag(b"x");
        assert!(none_match(&headers(&[("if-none-match", &tag)]), &tag));
        assert!(none_match(
            &headers(&[("if-none-match", &format!("\"a\", {tag}"))]),
            &tag
        ));
        assert!(none_match(&headers(&[("if-none-match", "*")]), &tag));
        assert!(!none_match(&headers(&[("if-none-match", "\"a\"")]), &tag));
        assert!(!none_match(&HeaderMap::new(), &tag));
    }

    #[test]
    fn fresh_data_is_asked_for_with_no_cache_or_max_age_zero() {
        assert!(wants_fresh(&headers(&[("cache-control", "no-cache")])));
        assert!(wants_fresh(&headers(&[("cache-control", "No-Cache")])));
        assert!(wants_fresh(&headers(&[("cache-control", "max-age=0")])));
        assert!(wants_fresh(&headers(&[(
            "cache-control",
            "private, max-age=0"
        )])));
        assert!(!wants_fresh(&headers(&[("cache-control", "max-age=60")])));
        assert!(!wants_fresh(&headers(&[("cache-control", "max-age=00x")])));
        assert!(wants_fresh(&headers(&[("pragma", "no-cache")])));
        assert!(!wants_fresh(&headers(&[
            ("pragma", "no-cache"),
            ("cache-control", "max-age=5")
        ])));
        assert!(!wants_fresh(&HeaderMap::new()));
    }
}
