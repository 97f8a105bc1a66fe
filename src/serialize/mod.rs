//! OData JSON output.

pub mod entity;
mod number;
pub mod open_json;
pub mod value;
