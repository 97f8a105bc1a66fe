//! OData JSON output.

pub mod entity;
mod number;
pub mod value;
