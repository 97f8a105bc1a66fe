//! The entity data model: what each OData service exposes, derived from the
//! ZeyOS schema description and `config.toml`.

mod build;
pub mod model;
pub mod naming;

pub use model::*;
