//! The ZeyOS data model as data.
//!
//! `zeyos-schema.json` in this crate is the one description of every ZeyOS
//! entity and field; both the gateway (which maps it to OData) and zeyos-sim
//! (which builds its SQLite tables from it) read it, so they cannot disagree.
//! It is extracted from the ZeyOS REST API reference by
//! `cargo run -p zeyos-schema --bin extract-schema`, and a test re-extracts it
//! whenever the reference is present to catch drift.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod extract;
mod model;

use std::sync::OnceLock;

pub use model::{Composite, Endpoints, Entity, EnumMember, Field, FieldType, Schema, Semantic};

/// The committed description, embedded at build time.
pub const SCHEMA_JSON: &str = include_str!("../zeyos-schema.json");

/// The ZeyOS data model, parsed once on first use.
pub fn schema() -> &'static Schema {
    static SCHEMA: OnceLock<Schema> = OnceLock::new();
    // The JSON is part of this crate and checked by its tests, so a failure
    // here is a build defect, not a runtime condition.
    SCHEMA.get_or_init(|| {
        serde_json::from_str(SCHEMA_JSON).expect("embedded zeyos-schema.json is valid")
    })
}
