//! Everything that talks to ZeyOS: the filter language, list requests, the
//! HTTP client and the credential exchange.

pub mod auth;
pub mod client;
pub mod filter;
pub mod gate;
pub mod list_body;
pub mod record;
mod record_reader;
pub mod request;
pub mod rows;
pub mod shape_positions;

pub use auth::{Authenticator, Credential, CredentialError, Principal};
pub use client::{GetResponse, Row, UpstreamClient, UpstreamError, UpstreamSettings};
pub use filter::{escape_like, Filter, Op};
pub use gate::{GateStats, UpstreamGate};
pub use record::{FieldCursor, FieldRef, Fields, Record, RecordList, Shape};
pub use request::{ListRequest, SortKey};
pub use shape_positions::{PositionLookup, ShapePositions};

/// Gzips `data` as a web server in front of ZeyOS would (for tests of the
/// inflating paths).
#[cfg(test)]
pub(crate) fn gzip_for_tests(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(data).expect("writing to a Vec");
    enc.finish().expect("writing to a Vec")
}
