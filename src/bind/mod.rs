//! Binding: names in the syntax tree resolved and typed against the model.

pub mod binder;
pub mod expr;
mod expression;
mod literal;
mod options;
mod path;
pub mod query;
#[cfg(test)]
mod tests;

pub(crate) use expression::filter_functions;
