//! Binding: names in the syntax tree resolved and typed against the model.

pub mod expr;
pub mod query;
