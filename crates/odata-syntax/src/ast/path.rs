//! Resource paths and whole request targets.

use std::fmt;

use super::{QueryOptions, Segment, SegmentKind, Span};
use crate::decode::encode_path_segment;

/// A resource path relative to the service root, e.g.
/// `Categories(1)/Products/$count`. Empty for the service document.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ResourcePath {
    /// The segments in order. Only these kinds occur: `Name` (with
    /// literal/alias arguments), `KeyValue`, `Count(None)`, `Filter`,
    /// `Ref`, `Value`, `Each`, `Query`, and as first segment `Metadata`,
    /// `Batch`, `Entity`, `All`, `Crossjoin`.
    pub segments: Vec<Segment>,
    /// The raw path's extent (offsets into the raw, still encoded path).
    pub span: Span,
}

impl ResourcePath {
    /// Whether this is the service document (no segments).
    pub fn is_service_root(&self) -> bool {
        self.segments.is_empty()
    }

    /// The first segment's kind, for routing (`$metadata`, `$batch`, ...).
    pub fn first(&self) -> Option<&SegmentKind> {
        self.segments.first().map(|s| &s.kind)
    }
}

impl fmt::Display for ResourcePath {
    /// The path, percent-encoded where a segment's text needs it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::new();
        for (i, s) in self.segments.iter().enumerate() {
            if i > 0 {
                out.push('/');
            }
            encode_path_segment(&s.to_string(), &mut out);
        }
        f.write_str(&out)
    }
}

/// A whole request target relative to the service root: path and query.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ODataUri {
    /// The resource path.
    pub path: ResourcePath,
    /// The query options (empty if there was no `?`).
    pub query: QueryOptions,
}

impl fmt::Display for ODataUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path)?;
        let q = self.query.to_string();
        if !q.is_empty() {
            write!(f, "?{q}")?;
        }
        Ok(())
    }
}
