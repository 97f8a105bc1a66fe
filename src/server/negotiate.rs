//! Content negotiation: `Accept`, `$format` and the OData format parameters.
//!
//! Clients state what they take in three places: the `Accept` header
//! (Power Query sends a long list with q-values and OData 3 spellings),
//! `$format`, which overrides it, and `OData-MaxVersion`, which rules out
//! 4.01-only representations such as CSDL JSON.

use crate::error::GatewayError;

/// How much control information JSON responses carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MetadataLevel {
    /// `odata.metadata=none`: no `@odata.context`, no annotations.
    None,
    /// `odata.metadata=minimal` (default).
    #[default]
    Minimal,
    /// `odata.metadata=full`: also ids, edit links and types.
    Full,
}

/// The JSON representation a client asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct JsonFormat {
    /// The metadata level.
    pub metadata: MetadataLevel,
    /// `IEEE754Compatible=true`: Int64 and Decimal values as strings.
    pub ieee754_compatible: bool,
}

impl JsonFormat {
    /// The `Content-Type` that states this format.
    pub fn content_type(&self) -> String {
        let level = match self.metadata {
            MetadataLevel::None => "none",
            MetadataLevel::Minimal => "minimal",
            MetadataLevel::Full => "full",
        };
        format!(
            "application/json;odata.metadata={level};odata.streaming=true;IEEE754Compatible={}",
            self.ieee754_compatible
        )
    }
}

/// What kind of resource is being answered, which decides what is possible.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResourceKind {
    /// Entities, collections, properties, the service document: JSON only.
    Data,
    /// `$metadata`: CSDL XML, or CSDL JSON for 4.01 clients that ask.
    Metadata,
    /// `$count` and `$value` of primitives: `text/plain`.
    RawValue,
}

/// The representation chosen for a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Representation {
    /// OData JSON in the given format.
    Json(JsonFormat),
    /// CSDL XML.
    CsdlXml,
    /// CSDL JSON.
    CsdlJson,
    /// `text/plain`.
    Text,
}

/// Chooses a representation from `$format` (if given), the `Accept` header
/// and `OData-MaxVersion`. Fails with 406 when nothing fits.
pub fn negotiate(
    kind: ResourceKind,
    format_option: Option<&str>,
    accept: Option<&str>,
    max_version_4_0: bool,
) -> Result<Representation, GatewayError> {
    let ranges: Vec<MediaRange> = match format_option {
        Some(f) => vec![format_to_range(f)?],
        None => match accept.map(str::trim).filter(|a| !a.is_empty()) {
            Some(a) => parse_accept(a),
            None => vec![MediaRange::any()],
        },
    };
    let mut ordered: Vec<&MediaRange> = ranges.iter().filter(|r| r.q > 0.0).collect();
    // Stable sort keeps the client's order among equal q-values.
    ordered.sort_by(|a, b| b.q.partial_cmp(&a.q).unwrap_or(std::cmp::Ordering::Equal));
    for range in ordered {
        if let Some(rep) = fit(kind, range, max_version_4_0) {
            return Ok(rep);
        }
    }
    let wanted = format_option
        .map(|f| format!("$format={f}"))
        .or_else(|| accept.map(|a| format!("Accept: {a}")))
        .unwrap_or_default();
    Err(GatewayError::NotAcceptable(match kind {
        ResourceKind::Data => format!(
            "This resource is available as application/json only; the request asked for {wanted}"
        ),
        ResourceKind::Metadata => format!(
            "$metadata is available as application/xml (and application/json for OData 4.01); the request asked for {wanted}"
        ),
        ResourceKind::RawValue => {
            format!("This value is available as text/plain only; the request asked for {wanted}")
        }
    }))
}

fn fit(kind: ResourceKind, range: &MediaRange, max_version_4_0: bool) -> Option<Representation> {
    let json = range.matches("application", "json");
    match kind {
        ResourceKind::Data => {
            if json {
                return json_format(range).map(Representation::Json);
            }
            None
        }
        ResourceKind::Metadata => {
            if range.is_exactly("application", "json") && !max_version_4_0 {
                return Some(Representation::CsdlJson);
            }
            if range.matches("application", "xml") {
                return Some(Representation::CsdlXml);
            }
            None
        }
        ResourceKind::RawValue => {
            if range.matches("text", "plain") {
                return Some(Representation::Text);
            }
            None
        }
    }
}

fn json_format(range: &MediaRange) -> Option<JsonFormat> {
    let mut format = JsonFormat::default();
    for (name, value) in &range.params {
        let value = value.to_ascii_lowercase();
        match name.as_str() {
            "odata.metadata" | "metadata" => {
                format.metadata = match value.as_str() {
                    "none" => MetadataLevel::None,
                    "minimal" => MetadataLevel::Minimal,
                    "full" => MetadataLevel::Full,
                    _ => return None,
                }
            }
            // OData 3 spelling, which Power Query still lists.
            "odata" => {
                format.metadata = match value.as_str() {
                    "nometadata" => MetadataLevel::None,
                    "minimalmetadata" => MetadataLevel::Minimal,
                    "fullmetadata" => MetadataLevel::Full,
                    "verbose" => return None,
                    _ => return None,
                }
            }
            "ieee754compatible" => format.ieee754_compatible = value == "true",
            _ => {}
        }
    }
    Some(format)
}

/// One media range of an `Accept` header.
#[derive(Debug, Clone, PartialEq)]
struct MediaRange {
    ty: String,
    subtype: String,
    params: Vec<(String, String)>,
    q: f32,
}

impl MediaRange {
    fn any() -> Self {
        MediaRange {
            ty: "*".into(),
            subtype: "*".into(),
            params: Vec::new(),
            q: 1.0,
        }
    }

    fn matches(&self, ty: &str, subtype: &str) -> bool {
        (self.ty == "*" || self.ty == ty) && (self.subtype == "*" || self.subtype == subtype)
    }

    fn is_exactly(&self, ty: &str, subtype: &str) -> bool {
        self.ty == ty && self.subtype == subtype
    }
}

/// Whether an `Accept` header accepts `ty/subtype` (a range matching it,
/// wildcards included, with a quality above 0): for answers that come in
/// one of a few media types rather than as an OData representation (a
/// `$batch` answer).
pub(super) fn accepts(header: &str, ty: &str, subtype: &str) -> bool {
    parse_accept(header)
        .iter()
        .any(|r| r.q > 0.0 && r.matches(ty, subtype))
}

fn parse_accept(header: &str) -> Vec<MediaRange> {
    header.split(',').filter_map(parse_range).collect()
}

fn parse_range(text: &str) -> Option<MediaRange> {
    let mut parts = text.split(';');
    let media = parts.next()?.trim().to_ascii_lowercase();
    let (ty, subtype) = media.split_once('/')?;
    let mut range = MediaRange {
        ty: ty.trim().to_string(),
        subtype: subtype.trim().to_string(),
        params: Vec::new(),
        q: 1.0,
    };
    for p in parts {
        let Some((name, value)) = p.split_once('=') else {
            continue;
        };
        let name = name.trim().to_ascii_lowercase();
        let value = value.trim().trim_matches('"').to_string();
        if name == "q" {
            range.q = value.parse().unwrap_or(0.0);
        } else {
            range.params.push((name, value));
        }
    }
    Some(range)
}

fn format_to_range(format: &str) -> Result<MediaRange, GatewayError> {
    let lower = format.trim().to_ascii_lowercase();
    let range = match lower.as_str() {
        "json" => parse_range("application/json"),
        "xml" => parse_range("application/xml"),
        "atom" => parse_range("application/atom+xml"),
        _ => parse_range(format),
    };
    range.ok_or_else(|| {
        GatewayError::bad_request(
            "InvalidFormat",
            format!("$format={format} is neither json, xml nor a media type"),
            Some("$format"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const POWER_QUERY: &str = "application/json;odata.metadata=minimal;q=1.0,application/json;odata=minimalmetadata;q=0.9,application/atomsvc+xml;q=0.8,application/atom+xml;q=0.8,application/xml;q=0.7,text/plain;q=0.7";

    #[test]
    fn power_query_gets_minimal_json_and_xml_metadata() {
        let rep = negotiate(ResourceKind::Data, None, Some(POWER_QUERY), true).unwrap();
        assert_eq!(rep, Representation::Json(JsonFormat::default()));
        let rep = negotiate(ResourceKind::Metadata, None, Some(POWER_QUERY), true).unwrap();
        assert_eq!(rep, Representation::CsdlXml);
        let rep = negotiate(ResourceKind::RawValue, None, Some(POWER_QUERY), true).unwrap();
        assert_eq!(rep, Representation::Text);
    }

    #[test]
    fn format_overrides_accept() {
        let rep = negotiate(
            ResourceKind::Data,
            Some("application/json;odata.metadata=full;IEEE754Compatible=true"),
            Some("application/xml"),
            false,
        )
        .unwrap();
        assert_eq!(
            rep,
            Representation::Json(JsonFormat {
                metadata: MetadataLevel::Full,
                ieee754_compatible: true
            })
        );
        let rep = negotiate(ResourceKind::Metadata, Some("json"), None, false).unwrap();
        assert_eq!(rep, Representation::CsdlJson);
    }

    #[test]
    fn unsupported_formats_are_406() {
        let e = negotiate(ResourceKind::Data, None, Some("application/xml"), false).unwrap_err();
        assert_eq!(e.status(), http::StatusCode::NOT_ACCEPTABLE);
        let e = negotiate(ResourceKind::Data, Some("atom"), None, false).unwrap_err();
        assert_eq!(e.status(), http::StatusCode::NOT_ACCEPTABLE);
        let e = negotiate(
            ResourceKind::Data,
            None,
            Some("application/json;q=0"),
            false,
        )
        .unwrap_err();
        assert_eq!(e.status(), http::StatusCode::NOT_ACCEPTABLE);
    }

    #[test]
    fn wildcards_and_missing_accept_get_defaults() {
        assert_eq!(
            negotiate(ResourceKind::Data, None, None, false).unwrap(),
            Representation::Json(JsonFormat::default())
        );
        assert_eq!(
            negotiate(ResourceKind::Metadata, None, Some("*/*"), false).unwrap(),
            Representation::CsdlXml
        );
    }
}
