//! The entity data model: what each OData service exposes, derived from the
//! ZeyOS schema description and `config.toml`, and the documents that
//! describe it to clients (service document, CSDL XML and JSON).

mod annotations;
mod build;
pub mod csdl_json;
pub mod csdl_xml;
pub mod metadata;
pub mod model;
pub mod naming;
pub mod service_document;

pub use metadata::{etag, MetadataDocuments};
pub use model::*;
