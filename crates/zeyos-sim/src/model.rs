//! How the schema description maps onto storage and the API.
//!
//! Everything the sim knows per entity is derived here from
//! [`zeyos_schema::schema()`], so tables, routes, validation and the seed
//! generator share one view of a field: its storage class ([`ColKind`]).

use zeyos_schema::{Entity, Field, FieldType, Semantic};

/// How a field is stored in SQLite and rendered in JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColKind {
    /// `INTEGER`: integers, flags, enums, keys, time stamps, booleans.
    Integer,
    /// `REAL`: the reference's `number` fields.
    Real,
    /// `TEXT`: plain strings.
    Text,
    /// `TEXT` holding JSON: `items`, free JSON, objects, arrays, meta data.
    Json,
    /// `INTEGER`: the ID of a row in the `binfiles` table.
    Binfile,
}

impl ColKind {
    /// The storage class of a field.
    pub fn of(field: &Field) -> ColKind {
        match field.field_type {
            FieldType::Integer | FieldType::Boolean => ColKind::Integer,
            FieldType::Number => ColKind::Real,
            FieldType::String => ColKind::Text,
            FieldType::Binfile => ColKind::Binfile,
            FieldType::Object
            | FieldType::Array
            | FieldType::Json
            | FieldType::Items
            | FieldType::Meta => ColKind::Json,
        }
    }

    /// SQLite column type.
    pub fn sql_type(self) -> &'static str {
        match self {
            ColKind::Integer | ColKind::Binfile => "INTEGER",
            ColKind::Real => "REAL",
            ColKind::Text | ColKind::Json => "TEXT",
        }
    }

    /// Whether the field is a composite (returned only when selected or
    /// expanded) rather than a scalar.
    pub fn is_composite(self) -> bool {
        matches!(self, ColKind::Json | ColKind::Binfile)
    }
}

/// Quotes an SQL identifier. Entity and field names come from the schema
/// (never from a request), but several are SQL keywords (`group`, `to`,
/// `default`, `transaction`), so every identifier is quoted.
pub fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The scalar fields of an entity, in schema order: what a list returns
/// without `fields` and what [`crate::SimHandle::rows`] returns.
pub fn scalar_fields(entity: &Entity) -> impl Iterator<Item = &Field> {
    entity
        .fields
        .iter()
        .filter(|f| !ColKind::of(f).is_composite())
}

/// The fields `query` searches: every string field of the entity except
/// secrets (`password`). E-mail addresses, URLs and codes are included, as a
/// user searching for "example.com" expects.
pub fn searchable_fields(entity: &Entity) -> impl Iterator<Item = &Field> {
    entity
        .fields
        .iter()
        .filter(|f| f.field_type == FieldType::String && f.name != "password")
}

/// Whether the description says the field defaults to the current time on
/// creation (`creationdate`, `date`, ...).
pub fn defaults_to_now(field: &Field) -> bool {
    field.semantic == Semantic::Timestamp
        && (field
            .description
            .contains("defaults to current date and time on creation")
            || field.name == "lastmodified")
}

/// Whether the description says the field defaults to the authenticated user.
pub fn defaults_to_user(field: &Field) -> bool {
    field
        .description
        .contains("defaults to authenticated user on creation")
}

/// The other field named by "is required if OTHER is empty", if any.
pub fn required_unless(field: &Field) -> Option<&str> {
    let rest = field.description.split("is required if ").nth(1)?;
    let other = rest.strip_suffix(" is empty").or_else(|| {
        rest.split_once(" is empty")
            .map(|(o, _)| o)
            .filter(|o| !o.contains(' '))
    })?;
    Some(other)
}

/// Whether a value is required on creation: the reference marks such strings
/// with "at least 1 chars".
pub fn is_required(field: &Field) -> bool {
    field.min_length.unwrap_or(0) > 0
}
