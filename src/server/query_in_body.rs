//! `POST .../$query`: the query options of a read sent as the request's
//! body (OData 4.01 URL Conventions, "Passing Query Options in the Request
//! Body"), for filters too long for a URL. The request is answered as the
//! `GET` it stands for, with the URL's own options and the body's read
//! together, so every limit and check of a read applies unchanged.

use http::{header, Method};

use crate::error::GatewayError;

/// The path without its final `/$query` segment (the `$` possibly
/// percent-encoded), if it has one.
pub(super) fn resource_of(path: &str) -> Option<&str> {
    let (resource, last) = path.rsplit_once('/')?;
    let is_query = last == "$query"
        || (last.len() == 8
            && last.get(..3).is_some_and(|p| p.eq_ignore_ascii_case("%24"))
            && last.get(3..) == Some("query"));
    is_query.then_some(resource)
}

/// The `GET` request that `POST resource/$query` with `body` stands for.
pub(super) fn as_get(
    outer: &http::request::Parts,
    resource: &str,
    body: &[u8],
) -> Result<http::request::Parts, GatewayError> {
    let media_type = outer
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|t| t.trim().to_ascii_lowercase());
    if media_type.as_deref() != Some("text/plain") {
        return Err(GatewayError::UnsupportedMediaType(
            "the body of a POST to $query holds query options as text/plain".into(),
        ));
    }
    let invalid = |message: &str| {
        GatewayError::bad_request("InvalidQueryBody", message.to_string(), Some("$query"))
    };
    let text = std::str::from_utf8(body)
        .map_err(|_| invalid("the body of a POST to $query is not UTF-8 text"))?
        // A final line break, as editors and `curl -d @file` leave one.
        .trim();
    if text.contains(char::is_whitespace) {
        return Err(invalid(
            "the body of a POST to $query is percent-encoded as a URL's query is: no spaces, tabs or line breaks",
        ));
    }
    let query = match (outer.uri.query(), text) {
        (Some(q), "") => q.to_string(),
        (Some(q), t) => format!("{q}&{t}"),
        (None, t) => t.to_string(),
    };
    let target = if query.is_empty() {
        resource.to_string()
    } else {
        format!("{resource}?{query}")
    };
    let uri: http::Uri = target.parse().map_err(|_| {
        invalid("the body of a POST to $query is not a valid URL query (percent-encode what a URL may not hold)")
    })?;
    let (mut parts, ()) = http::Request::new(()).into_parts();
    parts.method = Method::GET;
    parts.uri = uri;
    parts.version = outer.version;
    parts.headers = outer.headers.clone();
    parts.headers.remove(header::CONTENT_TYPE);
    parts.headers.remove(header::CONTENT_LENGTH);
    if let Some(local) = outer.extensions.get::<super::serve::LocalAddr>() {
        parts.extensions.insert(*local);
    }
    Ok(parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn post(uri: &str, content_type: &str) -> http::request::Parts {
        http::Request::post(uri)
            .header("content-type", content_type)
            .body(())
            .unwrap()
            .into_parts()
            .0
    }

    #[test]
    fn the_query_segment_is_found_in_either_spelling() {
        assert_eq!(
            resource_of("/odata/Accounts/$query"),
            Some("/odata/Accounts")
        );
        assert_eq!(
            resource_of("/odata/Accounts/%24query"),
            Some("/odata/Accounts")
        );
        assert_eq!(resource_of("/odata/Accounts/%24Query"), None);
        assert_eq!(resource_of("/odata/Accounts"), None);
        assert_eq!(resource_of("/odata/$batch"), None);
    }

    #[test]
    fn the_body_joins_the_url_query() {
        let outer = post("/odata/Accounts/$query?$top=2", "text/plain; charset=utf-8");
        let get = as_get(&outer, "/odata/Accounts", b"$filter=Id%20gt%205\n").unwrap();
        assert_eq!(get.method, Method::GET);
        assert_eq!(get.uri, "/odata/Accounts?$top=2&$filter=Id%20gt%205");
        assert!(get.headers.get("content-type").is_none());
    }

    #[test]
    fn other_media_types_and_unencoded_text_are_refused() {
        let outer = post("/odata/Accounts/$query", "application/json");
        let e = as_get(&outer, "/odata/Accounts", b"$top=1").unwrap_err();
        assert_eq!(e.code(), "UnsupportedMediaType");
        let outer = post("/odata/Accounts/$query", "text/plain");
        let e = as_get(&outer, "/odata/Accounts", b"$filter=Id gt 5").unwrap_err();
        assert_eq!(e.code(), "InvalidQueryBody");
        let e = as_get(&outer, "/odata/Accounts", b"$filter=\"x\"").unwrap_err();
        assert_eq!(e.code(), "InvalidQueryBody");
    }
}
