//! One OData service of `config.toml`: its root, its namespace and the entity
//! sets it exposes.
//!
//! Names that the model builder checks against the ZeyOS schema keep their
//! byte span ([`Spanned`]) and the service keeps its [`Source`], so a name
//! the schema does not know is reported with its line.

use std::sync::Arc;

use toml::Spanned;

use super::error::Source;

/// A service mounted at its own root path.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    /// The service's key, e.g. `odata` or `hq` (used in logs and cache keys).
    pub name: Spanned<String>,
    /// The URL path, with leading and trailing slash, e.g. `/odata/`.
    pub root: Spanned<String>,
    /// The CSDL schema namespace, e.g. `ZeyOS`.
    pub namespace: Spanned<String>,
    /// The entity container's name.
    pub container: Spanned<String>,
    /// Human title, for logs and the service document.
    pub title: Option<String>,
    /// Whether every ZeyOS entity gets a set under its derived name, in
    /// addition to `entity_sets`.
    pub expose_all: bool,
    /// With `expose_all`: ZeyOS entities to leave out.
    pub exclude_entities: Vec<Spanned<String>>,
    /// Whether the server answers `Prefer: respond-async` (advertised as
    /// `Capabilities.AsynchronousRequestsSupported`).
    pub async_requests: bool,
    /// Explicitly configured entity sets.
    pub entity_sets: Vec<EntitySetConfig>,
    /// The file the service was read from, to locate spans in errors.
    pub source: Arc<Source>,
}

/// An explicitly configured entity set.
#[derive(Debug, Clone)]
pub struct EntitySetConfig {
    /// The OData entity set name, e.g. `Invoices`.
    pub name: Spanned<String>,
    /// The ZeyOS entity behind it, e.g. `transactions`.
    pub entity: Spanned<String>,
    /// The entity type name; derived from the entity when absent.
    pub type_name: Option<Spanned<String>>,
    /// `Core.Description` for the set (replaces the derived one).
    pub description: Option<String>,
    /// Conditions every member satisfies, in ZeyOS terms.
    pub base_filter: Vec<BaseFilterConfig>,
    /// Properties whose OData name (or type) differs from the derived one.
    pub properties: Vec<PropertyConfig>,
    /// When present, only these ZeyOS fields are exposed (plus `ID`).
    pub include: Option<Vec<Spanned<String>>>,
    /// ZeyOS fields not to expose.
    pub exclude: Vec<Spanned<String>>,
    /// Names clients may use (from another API's vocabulary) that ZeyOS has
    /// no data for, and the message a request using them gets (HTTP 501).
    pub unsupported: Vec<UnsupportedConfig>,
}

/// One base filter condition: `field = value` or `field IN (values)`.
#[derive(Debug, Clone)]
pub struct BaseFilterConfig {
    /// The ZeyOS field.
    pub field: Spanned<String>,
    /// The allowed values (one: equality; several: `IN`), as written.
    pub values: Spanned<Vec<FilterValue>>,
}

/// A base filter value as written: an enum member name or a literal.
#[derive(Debug, Clone, PartialEq)]
pub enum FilterValue {
    /// A string: an enum member name for enum fields, else a literal.
    String(String),
    /// An integer.
    Integer(i64),
    /// A float.
    Float(f64),
    /// A boolean (for 0/1 flags).
    Boolean(bool),
}

/// A property rename: OData name → ZeyOS field, optionally with another type.
#[derive(Debug, Clone)]
pub struct PropertyConfig {
    /// The OData name. For a foreign key it names the navigation property,
    /// and the ID property becomes this name plus `Id`.
    pub name: Spanned<String>,
    /// The ZeyOS field.
    pub field: Spanned<String>,
    /// Another EDM type for the field, e.g. `Edm.Date` for a time stamp
    /// whose date is what matters (HQ's `InvoiceDate`).
    pub type_override: Option<Spanned<TypeOverride>>,
}

/// The EDM types a property may be switched to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TypeOverride {
    /// `Edm.Date`: a time stamp's UTC date.
    Date,
    /// `Edm.DateTimeOffset`: a date as a point in time (midnight UTC).
    DateTimeOffset,
}

/// A name the service knows but cannot serve.
#[derive(Debug, Clone)]
pub struct UnsupportedConfig {
    /// The name, or a path such as `Positions/CustomFields`.
    pub name: Spanned<String>,
    /// What to tell the client.
    pub message: String,
}
