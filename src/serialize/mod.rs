//! OData JSON output.

pub mod value;
