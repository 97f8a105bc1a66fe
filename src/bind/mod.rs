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

/// The answer to a `$batch` request, whether it arrives as the GET the
/// binder sees or as the POST batches are sent with: clients that batch
/// by default (SAP UI5, some OData client libraries) can be configured to
/// send requests one by one, which this service answers.
pub const BATCH_NOT_SUPPORTED: &str =
    "$batch is not supported by this service; send the requests one by one";
