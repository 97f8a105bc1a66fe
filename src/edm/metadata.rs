//! The metadata documents of a service, rendered once at start-up with
//! their entity tags, so that `$metadata` is answered from memory and
//! `If-None-Match` can be answered with 304 Not Modified.

use sha2::{Digest, Sha256};

use super::model::ServiceModel;
use super::{csdl_json, csdl_xml};

/// A service's `$metadata` in both formats, with their ETags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetadataDocuments {
    /// CSDL XML (`application/xml`), the default format.
    pub xml: String,
    /// The ETag of `xml`, quoted, e.g. `"3f2a…"`.
    pub xml_etag: String,
    /// CSDL JSON (`application/json`, for `$format=json`).
    pub json: String,
    /// The ETag of `json`, quoted. Strong ETags belong to one
    /// representation, so the two formats have different tags.
    pub json_etag: String,
}

impl MetadataDocuments {
    /// Renders both documents of `model`.
    pub fn new(model: &ServiceModel) -> Self {
        let xml = csdl_xml::to_string(model);
        let json = csdl_json::to_string(model);
        Self {
            xml_etag: etag(&xml),
            json_etag: etag(&json),
            xml,
            json,
        }
    }
}

/// An entity tag for a document: the quoted hex of the first 128 bits of
/// its SHA-256, so it changes whenever a byte of the document does. Weak,
/// as every tag of the gateway's bodies (`server::conditional::body_etag`):
/// the document may go out compressed.
pub fn etag(document: &str) -> String {
    let digest = Sha256::digest(document.as_bytes());
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("W/\"{hex}\"")
}

/// Whether an `If-None-Match` header value matches `etag` (`*`, or one of
/// a comma-separated list; weak comparison, as RFC 9110 prescribes for
/// `If-None-Match`).
pub fn if_none_match(header: &str, etag: &str) -> bool {
    let bare = etag.trim_start_matches("W/");
    header
        .split(',')
        .map(str::trim)
        .any(|candidate| candidate == "*" || candidate.trim_start_matches("W/") == bare)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etag_is_stable_and_quoted() {
        assert_eq!(etag("abc"), etag("abc"));
        assert_ne!(etag("abc"), etag("abd"));
        let tag = etag("abc");
        assert!(tag.starts_with("W/\"") && tag.ends_with('"') && tag.len() == 36);
    }

    #[test]
    fn if_none_match_lists_and_wildcards() {
        let tag = etag("x");
        assert!(if_none_match(&tag, &tag));
        assert!(if_none_match(&format!("\"other\", {tag}"), &tag));
        assert!(if_none_match(tag.trim_start_matches("W/"), &tag));
        assert!(if_none_match("*", &tag));
        assert!(!if_none_match("\"other\"", &tag));
    }
}
