//! OData JSON output.

pub mod entity;
pub mod value;
