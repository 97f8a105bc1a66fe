//! The types of the schema description.
//!
//! They record what the ZeyOS reference says, in the reference's own terms
//! (entity and field names, JSON types, enum numbers). Everything derived for
//! a client (OData names, EDM types) is the gateway's business, so that
//! zeyos-sim and the gateway agree on the facts and differ only in what they
//! present.

use serde::{Deserialize, Serialize};

/// The whole ZeyOS data model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Schema {
    /// Where the description was extracted from (file name of the reference).
    pub source: String,
    /// Every entity that has REST endpoints, in the reference's order.
    pub entities: Vec<Entity>,
    /// Definitions that are not entities: line items, bin files, extdata.
    pub composites: Vec<Composite>,
}

/// One entity (table) of ZeyOS, e.g. `accounts`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entity {
    /// False when the reference gives no schema definition for the entity and
    /// its fields were read from the list endpoint's response example.
    pub defined: bool,
    /// The entity's path segment and canonical name, e.g. `accounts`.
    pub name: String,
    /// Singular human title from the reference's headings, e.g. `action step`.
    pub title: String,
    /// Plural human title, e.g. `action steps`.
    pub title_plural: String,
    /// What the list endpoint says the entity is, e.g. "all accounts".
    pub description: String,
    /// Permissions of which any one grants read access (empty: none needed).
    pub read_permissions: Vec<String>,
    /// Entities (by field name) this one depends on ("Has dependency on ...").
    pub dependencies: Vec<String>,
    /// The endpoints the reference lists for this entity.
    pub endpoints: Endpoints,
    /// Whether `GET /{entity}/{ID}?extdata=1` is offered.
    pub extdata: bool,
    /// Whether `GET /{entity}/{ID}?tags=1` is offered.
    pub tags: bool,
    /// The fields, `ID` first, then in the reference's (alphabetical) order.
    pub fields: Vec<Field>,
}

/// Which REST endpoints exist for an entity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Endpoints {
    /// `POST /{entity}`: list with fields, filter, sort, limit...
    pub list: bool,
    /// `PUT /{entity}`: create.
    pub create: bool,
    /// `GET /{entity}/{ID}`.
    pub get: bool,
    /// `HEAD /{entity}/{ID}`.
    pub head: bool,
    /// `PATCH /{entity}/{ID}`.
    pub update: bool,
    /// `DELETE /{entity}/{ID}`.
    pub delete: bool,
}

/// A non-entity definition such as `items-product` or `binfile-content`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Composite {
    /// The definition's name in the reference, e.g. `items-product`.
    pub name: String,
    /// The declared kind after the colon (`object`, `array`, ...), if any.
    pub kind: Option<String>,
    /// Free text given for the definition itself.
    pub description: String,
    /// Its fields (empty for opaque definitions such as `binfile-field`).
    pub fields: Vec<Field>,
}

/// The JSON type of a field, as the reference declares it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FieldType {
    /// An integer; `format` says `int32` or `int64` when given.
    Integer,
    /// A number; `format` says `double` or `int32`.
    Number,
    /// A string; `format` says `email`, `url` when given.
    String,
    /// `true`/`false`.
    Boolean,
    /// A JSON object (free-form unless `fields` is non-empty).
    Object,
    /// A JSON array; `item_type` gives the element type.
    Array,
    /// A field declared without any type: free JSON (e.g. `autobilling`).
    Json,
    /// A reference to a stored binary file (`binfile-field`).
    Binfile,
    /// Line items (`items-field`): a JSON array of `items-*` objects.
    Items,
    /// Meta data pairs (`meta-field`).
    Meta,
}

/// What a field means beyond its JSON type, derived from its description.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Semantic {
    /// The entity's own key (`ID`).
    Key,
    /// A point in time as a Unix time stamp ("date and time as a Unix time stamp").
    Timestamp,
    /// A calendar date stored as a Unix time stamp ("date as a Unix time stamp").
    Date,
    /// A 0/1 integer without named values: a boolean.
    Flag,
    /// An integer with named values (`0=PROSPECT, 1=CUSTOMER`).
    Enum,
    /// The ID of a row of another entity (`references` names it).
    ForeignKey,
    /// Nothing more than its type says.
    Plain,
}

/// One named value of an enumeration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnumMember {
    /// The stored integer.
    pub value: i64,
    /// The reference's name for it, e.g. `CUSTOMER`.
    pub name: String,
}

/// One field of an entity or composite.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Field {
    /// The field name as ZeyOS spells it, e.g. `lastname`.
    pub name: String,
    /// The declared JSON type.
    #[serde(rename = "type")]
    pub field_type: FieldType,
    /// `int32`, `int64`, `double`, `email`, `url`, when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    /// Element type of an `array` field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item_type: Option<FieldType>,
    /// The reference's description of the field.
    pub description: String,
    /// Derived meaning (time stamp, enum, foreign key...).
    pub semantic: Semantic,
    /// Target entity of a foreign key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub references: Option<String>,
    /// The integer values the type line allows, e.g. `[0, 1, 2]`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_values: Vec<i64>,
    /// The string values the type line allows, e.g. entity names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_strings: Vec<String>,
    /// Named values from the description, for enumerations.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<EnumMember>,
    /// The default value the type line gives.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<serde_json::Value>,
    /// Inclusive lower bound of a number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minimum: Option<f64>,
    /// Inclusive upper bound of a number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maximum: Option<f64>,
    /// Minimum string length ("at least N chars").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_length: Option<u32>,
    /// Maximum string length ("up to N chars").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_length: Option<u32>,
    /// Fields of a nested object or of the objects of an `object[]` array.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<Field>,
}

impl Schema {
    /// The entity with this ZeyOS name.
    pub fn entity(&self, name: &str) -> Option<&Entity> {
        self.entities.iter().find(|e| e.name == name)
    }

    /// The composite definition with this name.
    pub fn composite(&self, name: &str) -> Option<&Composite> {
        self.composites.iter().find(|c| c.name == name)
    }
}

impl Entity {
    /// The field with this ZeyOS name.
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// Whether the entity can only be read through the API.
    pub fn is_read_only(&self) -> bool {
        !(self.endpoints.create || self.endpoints.update || self.endpoints.delete)
    }
}

impl Field {
    /// Whether values of this field are stored as plain SQL scalars
    /// (integers, numbers, strings, booleans) rather than composite JSON.
    pub fn is_scalar(&self) -> bool {
        matches!(
            self.field_type,
            FieldType::Integer | FieldType::Number | FieldType::String | FieldType::Boolean
        )
    }
}
