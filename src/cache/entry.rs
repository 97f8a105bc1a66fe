//! What the cache stores: parsed upstream responses, shared by `Arc` so
//! that a hit costs a reference count, not a copy of the rows.

use std::sync::Arc;
use std::time::Instant;

use serde_json::{Map, Value as Json};

use super::key::Deps;
use crate::upstream::{Record, Row};

/// One upstream response.
#[derive(Debug, Clone)]
pub enum Payload {
    /// The rows of a list request.
    Rows(Arc<Vec<Row>>),
    /// The answer of a count request.
    Count(u64),
    /// A single record and ZeyOS's entity tag for it.
    Record {
        /// The record.
        row: Row,
        /// ZeyOS's `ETag`, used to revalidate with `If-None-Match`.
        etag: Option<Arc<str>>,
    },
}

/// A cached upstream response with what decides whether it may be used.
#[derive(Debug)]
pub struct Entry {
    /// The response.
    pub payload: Payload,
    /// Which writes make it stale.
    pub deps: Deps,
    /// The invalidation epoch when the upstream read began: any
    /// invalidation of its dependencies after that makes it unusable.
    pub epoch: u64,
    /// When ZeyOS last produced or confirmed it (a 304 moves this on).
    pub validated: Instant,
    /// Its estimated memory use in bytes, as the cache weighs it.
    pub weight: u32,
}

impl Entry {
    /// A new entry, weighing the payload.
    pub fn new(payload: Payload, deps: Deps, epoch: u64, validated: Instant) -> Entry {
        let bytes = ENTRY_OVERHEAD + payload_bytes(&payload) + deps_bytes(&deps);
        Entry {
            payload,
            deps,
            epoch,
            validated,
            weight: u32::try_from(bytes).unwrap_or(u32::MAX),
        }
    }

    /// The same response, confirmed by ZeyOS now (after a 304): shares the
    /// payload.
    pub fn revalidated(&self, epoch: u64, validated: Instant) -> Entry {
        Entry {
            payload: self.payload.clone(),
            deps: self.deps.clone(),
            epoch,
            validated,
            weight: self.weight,
        }
    }

    /// Whether this is a single record.
    pub fn is_record(&self) -> bool {
        matches!(self.payload, Payload::Record { .. })
    }

    /// ZeyOS's entity tag, for single records.
    pub fn etag(&self) -> Option<&str> {
        match &self.payload {
            Payload::Record { etag, .. } => etag.as_deref(),
            _ => None,
        }
    }
}

/// The cache's own bookkeeping per entry (moka's node, key, the `Arc`s and
/// this struct), estimated.
const ENTRY_OVERHEAD: usize = 256;

fn payload_bytes(p: &Payload) -> usize {
    match p {
        Payload::Rows(rows) => {
            // Rows decoded together share their shape: count each shape
            // once per run of rows that share it.
            let mut shapes = 0;
            let mut last: Option<&std::sync::Arc<crate::upstream::Shape>> = None;
            for r in rows.iter() {
                if !last.is_some_and(|s| std::sync::Arc::ptr_eq(s, r.shape())) {
                    shapes += r.shape_heap_bytes();
                    last = Some(r.shape());
                }
            }
            std::mem::size_of::<Vec<Row>>()
                + rows.capacity() * std::mem::size_of::<Row>()
                + rows.iter().map(|r| row_bytes(r)).sum::<usize>()
                + shapes
        }
        Payload::Count(_) => 0,
        Payload::Record { row, etag } => {
            std::mem::size_of::<Row>()
                + row_bytes(row)
                + row.shape_heap_bytes()
                + etag.as_ref().map_or(0, |e| e.len())
        }
    }
}

fn deps_bytes(d: &Deps) -> usize {
    match d {
        Deps::Record { entity, .. } => entity.len(),
        Deps::Entities { entities, .. } => entities.iter().map(|e| 16 + e.len()).sum(),
    }
}

/// Heap bytes of a parsed JSON value beyond its own inline size: string
/// buffers, array slots and map entries (key, value, hash and index slot of
/// the insertion-ordered map). An estimate that errs on the large side, so
/// that the configured budget bounds real memory.
pub fn json_heap_bytes(v: &Json) -> usize {
    match v {
        Json::Null | Json::Bool(_) | Json::Number(_) => 0,
        Json::String(s) => s.capacity(),
        Json::Array(a) => {
            a.capacity() * std::mem::size_of::<Json>()
                + a.iter().map(json_heap_bytes).sum::<usize>()
        }
        Json::Object(m) => map_heap_bytes(m),
    }
}

/// Heap bytes of a shared row: its allocation (two reference counts and
/// the record) and the values it holds (its shape is counted apart).
fn row_bytes(r: &Record) -> usize {
    2 * std::mem::size_of::<usize>()
        + std::mem::size_of::<Record>()
        + r.heap_bytes(&json_heap_bytes)
}

fn map_heap_bytes(m: &Map<String, Json>) -> usize {
    const PER_ENTRY: usize = std::mem::size_of::<String>() + std::mem::size_of::<Json>() + 8 + 16;
    m.iter()
        .map(|(k, v)| PER_ENTRY + k.capacity() + json_heap_bytes(v))
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn row(v: Json) -> Row {
        match v {
            Json::Object(m) => Row::new(m.into()),
            _ => unreachable!(),
        }
    }

    #[test]
    fn weight_grows_with_the_rows() {
        let deps = Deps::Record {
            entity: "accounts".into(),
            id: 1,
        };
        let small = Entry::new(
            Payload::Rows(Arc::new(vec![row(json!({"ID": 1}))])),
            deps.clone(),
            0,
            Instant::now(),
        );
        let rows: Vec<Row> = (0..100)
            .map(|i| row(json!({"ID": i, "name": "x".repeat(100), "tags": ["a", "b"]})))
            .collect();
        let big = Entry::new(Payload::Rows(Arc::new(rows)), deps, 0, Instant::now());
        assert!(small.weight > 0);
        // At least the text itself, for every row.
        assert!(big.weight as usize > 100 * 100 + small.weight as usize);
    }

    #[test]
    fn revalidation_keeps_the_payload() {
        let e = Entry::new(
            Payload::Record {
                row: row(json!({"ID": 1})),
                etag: Some("\"t\"".into()),
            },
            Deps::Record {
                entity: "accounts".into(),
                id: 1,
            },
            3,
            Instant::now(),
        );
        let r = e.revalidated(5, Instant::now());
        assert_eq!(r.epoch, 5);
        assert_eq!(r.etag(), Some("\"t\""));
        assert_eq!(r.weight, e.weight);
        match (&e.payload, &r.payload) {
            (Payload::Record { row: a, .. }, Payload::Record { row: b, .. }) => {
                assert!(Arc::ptr_eq(a, b))
            }
            _ => unreachable!(),
        }
    }
}
