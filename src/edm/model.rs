//! The entity data model one OData service exposes.
//!
//! A `ServiceModel` is built once at start-up from the ZeyOS schema
//! description and the service's section of `config.toml`, then shared
//! read-only. Every OData-facing name lives here together with the ZeyOS
//! name it maps to, so that the binder resolves names, the planner
//! translates to ZeyOS fields and the serializer converts values from one
//! place.

use std::collections::HashMap;

/// Index of an entity type in [`ServiceModel::entity_types`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EntityTypeId(pub usize);

/// Index of an enum type in [`ServiceModel::enum_types`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EnumTypeId(pub usize);

/// Index of a complex type in [`ServiceModel::complex_types`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ComplexTypeId(pub usize);

/// Index of an entity set in [`ServiceModel::entity_sets`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EntitySetId(pub usize);

/// One OData service: its schema (types) and its container (sets).
#[derive(Debug, Clone)]
pub struct ServiceModel {
    /// The service's key in `config.toml`, e.g. `odata` or `hq`.
    pub name: String,
    /// The URL path the service is mounted at, with leading and trailing
    /// slash, e.g. `/odata/`.
    pub root: String,
    /// The CSDL schema namespace, e.g. `ZeyOS`.
    pub namespace: String,
    /// The entity container's name, e.g. `Container`.
    pub container: String,
    /// Entity sets in the order the service document lists them.
    pub entity_sets: Vec<EntitySet>,
    /// Entity types, referenced by [`EntityTypeId`].
    pub entity_types: Vec<EntityType>,
    /// Enum types, referenced by [`EnumTypeId`].
    pub enum_types: Vec<EnumType>,
    /// Complex types, referenced by [`ComplexTypeId`].
    pub complex_types: Vec<ComplexType>,
    /// Entity set names to indices; OData names are case-sensitive.
    pub set_index: HashMap<String, EntitySetId>,
    /// Human title from `config.toml` (added for logs and documentation).
    pub title: Option<String>,
    /// Whether the server answers `Prefer: respond-async`; advertised as
    /// `Capabilities.AsynchronousRequestsSupported` (added so that the
    /// metadata writers need nothing but the model).
    pub async_requests: bool,
    /// Deepest `$expand` nesting the server accepts; advertised as
    /// `Capabilities.ExpandRestrictions/MaxLevels` (added for the same reason).
    pub max_expand_depth: u32,
}

/// An entity set: a named, addressable collection of one entity type,
/// backed by one ZeyOS entity, possibly narrowed by a base filter.
#[derive(Debug, Clone)]
pub struct EntitySet {
    /// OData name, e.g. `Accounts` or `Invoices`.
    pub name: String,
    /// The type of its members.
    pub entity_type: EntityTypeId,
    /// The ZeyOS entity that holds its rows, e.g. `transactions`.
    pub upstream: String,
    /// Conditions every member satisfies (e.g. `type = 3` for HQ's
    /// `Invoices`): ANDed into every upstream request and every in-gateway
    /// evaluation, so rows outside the set are never visible through it.
    pub base_filter: Vec<BaseCondition>,
    /// Where each navigation property of the type leads within this service
    /// (navigation property name → target entity set).
    pub navigation_bindings: Vec<NavigationBinding>,
    /// What clients may do with the set, from the ZeyOS endpoints.
    pub capabilities: SetCapabilities,
    /// Human description for `Core.Description`.
    pub description: Option<String>,
}

/// One condition of a base filter, in ZeyOS terms.
#[derive(Debug, Clone, PartialEq)]
pub struct BaseCondition {
    /// The ZeyOS field, e.g. `type`.
    pub field: String,
    /// The values the field may take (one value: equality; several: `IN`).
    pub values: Vec<serde_json::Value>,
}

/// Where a navigation property leads in the container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NavigationBinding {
    /// The navigation property's name on the set's type.
    pub path: String,
    /// The entity set its targets belong to.
    pub target: EntitySetId,
}

/// Which operations an entity set supports, as the ZeyOS reference lists
/// them for the backing entity (and as the CSDL Capabilities annotations
/// advertise them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SetCapabilities {
    /// `PUT /{entity}` exists.
    pub insertable: bool,
    /// `PATCH /{entity}/{ID}` exists.
    pub updatable: bool,
    /// `DELETE /{entity}/{ID}` exists.
    pub deletable: bool,
    /// `GET /{entity}/{ID}` exists; without it the gateway reads an
    /// entity by key with a list request filtered on the ID.
    pub readable_by_key: bool,
    /// ZeyOS `query` search applies (`$search` is offered).
    pub searchable: bool,
}

/// An entity type: the shape of the rows of one ZeyOS entity.
#[derive(Debug, Clone)]
pub struct EntityType {
    /// OData name, e.g. `Account`.
    pub name: String,
    /// The ZeyOS entity it describes, e.g. `accounts`.
    pub upstream: String,
    /// `Core.Description`.
    pub description: Option<String>,
    /// Index into `properties` of the single key property (`Id` ↔ `ID`).
    pub key: usize,
    /// Structural properties, key first.
    pub properties: Vec<Property>,
    /// Navigation properties.
    pub navigation: Vec<NavigationProperty>,
    /// Whether ZeyOS extdata fields appear as dynamic (open) properties.
    pub open: bool,
    /// Property name → index into `properties`.
    pub property_index: HashMap<String, usize>,
    /// Navigation property name → index into `navigation`.
    pub navigation_index: HashMap<String, usize>,
    /// Names clients of another API (HQ) may use on this type that ZeyOS has
    /// no data for, e.g. `CompanyTypes` or `Positions/CustomFields`. Added so
    /// that the binder can answer 501 Not Implemented with the configured
    /// message instead of a generic 400 "unknown property".
    pub unsupported: Vec<UnsupportedFeature>,
}

/// A name a client may use that the service knows but cannot serve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsupportedFeature {
    /// The name, or a `/`-separated path from the entity type, e.g.
    /// `DocumentFile` or `Positions/CustomFields`.
    pub name: String,
    /// What to tell the client (the body of a 501 response).
    pub message: String,
}

/// A complex type, e.g. a transaction line item.
#[derive(Debug, Clone)]
pub struct ComplexType {
    /// OData name, e.g. `LineItem`.
    pub name: String,
    /// `Core.Description`.
    pub description: Option<String>,
    /// Its properties; `upstream` names the JSON key inside the composite value.
    pub properties: Vec<Property>,
    /// Whether unknown keys are kept as dynamic properties.
    pub open: bool,
}

/// An enumeration type whose members carry the reference's names.
#[derive(Debug, Clone)]
pub struct EnumType {
    /// OData name, e.g. `AccountType`.
    pub name: String,
    /// `Core.Description`.
    pub description: Option<String>,
    /// Members in value order: (name, value), e.g. `("CUSTOMER", 1)`.
    pub members: Vec<(String, i64)>,
}

/// A structural property and how its values travel between ZeyOS and OData.
#[derive(Debug, Clone)]
pub struct Property {
    /// OData name, e.g. `LastName`, `CreatedOn`.
    pub name: String,
    /// The ZeyOS field (or JSON key inside a composite), e.g. `lastname`.
    pub upstream: String,
    /// The EDM type clients see.
    pub ty: EdmType,
    /// Whether null is a possible value.
    pub nullable: bool,
    /// How an upstream JSON value becomes an OData value and back.
    pub conversion: Conversion,
    /// `Core.Description`, from the reference.
    pub description: Option<String>,
    /// `Core.Computed`: set by ZeyOS, never by clients (ID, CreatedOn, UpdatedOn).
    pub computed: bool,
    /// `Core.Immutable`: set on creation, never changed afterwards.
    pub immutable: bool,
    /// `MaxLength` facet for strings.
    pub max_length: Option<u32>,
    /// `DefaultValue` facet, in the OData literal's JSON form.
    pub default: Option<serde_json::Value>,
    /// Whether ZeyOS can filter and sort on it (false for composite JSON).
    pub filterable: bool,
}

#[cfg(test)]
impl Property {
    /// A nullable, filterable property without facets or annotations, for
    /// tests of code that reads only names, types and conversions.
    pub(crate) fn plain(name: &str, upstream: &str, ty: EdmType, conversion: Conversion) -> Self {
        Property {
            name: name.into(),
            upstream: upstream.into(),
            ty,
            nullable: true,
            conversion,
            description: None,
            computed: false,
            immutable: false,
            max_length: None,
            default: None,
            filterable: true,
        }
    }
}

/// The EDM types the gateway exposes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EdmType {
    /// `Edm.Boolean`.
    Boolean,
    /// `Edm.Int32`.
    Int32,
    /// `Edm.Int64`.
    Int64,
    /// `Edm.Decimal` with `Scale="variable"`: amounts keep the exact digits
    /// ZeyOS sends.
    Decimal,
    /// `Edm.Double`.
    Double,
    /// `Edm.String`.
    String,
    /// `Edm.Date`.
    Date,
    /// `Edm.DateTimeOffset`, always serialized in UTC.
    DateTimeOffset,
    /// `Edm.Binary`.
    Binary,
    /// `Edm.TimeOfDay` (literals and functions only; ZeyOS has no such field).
    TimeOfDay,
    /// `Edm.Duration` (literals and date arithmetic only).
    Duration,
    /// `Edm.Guid` (literals only).
    Guid,
    /// `Edm.Untyped`: free JSON that has no fixed shape (e.g. `autobilling`).
    Untyped,
    /// An enum type of this service.
    Enum(EnumTypeId),
    /// A complex type of this service.
    Complex(ComplexTypeId),
    /// `Collection(T)`.
    Collection(Box<EdmType>),
}

impl EdmType {
    /// The complex type of a collection of complex values (line items):
    /// the one kind of collection whose items query options can address.
    pub fn complex_items(&self) -> Option<ComplexTypeId> {
        match self {
            EdmType::Collection(inner) => match inner.as_ref() {
                EdmType::Complex(id) => Some(*id),
                _ => None,
            },
            _ => None,
        }
    }
}

/// How a value is stored in ZeyOS compared to how OData presents it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conversion {
    /// Same value on both sides (strings, integers, numbers).
    Plain,
    /// Unix seconds ↔ `Edm.DateTimeOffset` in UTC.
    UnixTime,
    /// Unix seconds at midnight UTC ↔ `Edm.Date`.
    UnixDate,
    /// 0/1 ↔ `Edm.Boolean`.
    Flag,
    /// Integer ↔ enum member name.
    EnumValue,
    /// A composite JSON field that ZeyOS returns only when listed in
    /// `expand`; its value maps to a complex value, a collection or
    /// `Edm.Untyped`.
    Json,
}

/// A navigation property and the ZeyOS foreign key that implements it.
#[derive(Debug, Clone)]
pub struct NavigationProperty {
    /// OData name, e.g. `Contact`, `Transactions`.
    pub name: String,
    /// The target entity type.
    pub target: EntityTypeId,
    /// To-many (`Collection(T)`) or to-one.
    pub collection: bool,
    /// Whether a to-one navigation may be absent (the foreign key is null).
    pub nullable: bool,
    /// The partner navigation property on the target type, if declared.
    pub partner: Option<String>,
    /// How rows are related.
    pub join: Join,
}

/// How a navigation property relates rows of two ZeyOS entities.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Join {
    /// To-one: this entity's `field` holds the target's `ID`. ZeyOS can
    /// select the target's fields in the same request as `field.other`.
    ForeignKey {
        /// The ZeyOS foreign key field on this entity, e.g. `contact`.
        field: String,
        /// The OData property exposing that field, e.g. `ContactId`.
        property: String,
    },
    /// To-many: the target's `field` holds this entity's `ID`.
    Reverse {
        /// The ZeyOS foreign key field on the target entity, e.g. `account`.
        field: String,
        /// The OData property on the target exposing it, e.g. `AccountId`.
        property: String,
    },
}

impl ServiceModel {
    /// The entity set with this (case-sensitive) name.
    pub fn entity_set(&self, name: &str) -> Option<(EntitySetId, &EntitySet)> {
        let id = *self.set_index.get(name)?;
        self.entity_sets.get(id.0).map(|s| (id, s))
    }

    /// The entity set with this id.
    pub fn set(&self, id: EntitySetId) -> &EntitySet {
        &self.entity_sets[id.0]
    }

    /// The entity type with this id.
    pub fn entity_type(&self, id: EntityTypeId) -> &EntityType {
        &self.entity_types[id.0]
    }

    /// The enum type with this id.
    pub fn enum_type(&self, id: EnumTypeId) -> &EnumType {
        &self.enum_types[id.0]
    }

    /// The complex type with this id.
    pub fn complex_type(&self, id: ComplexTypeId) -> &ComplexType {
        &self.complex_types[id.0]
    }

    /// The qualified name of a type as CSDL and `@odata.type` write it,
    /// e.g. `ZeyOS.Account` or `Edm.String`.
    pub fn qualified_type_name(&self, ty: &EdmType) -> String {
        match ty {
            EdmType::Boolean => "Edm.Boolean".into(),
            EdmType::Int32 => "Edm.Int32".into(),
            EdmType::Int64 => "Edm.Int64".into(),
            EdmType::Decimal => "Edm.Decimal".into(),
            EdmType::Double => "Edm.Double".into(),
            EdmType::String => "Edm.String".into(),
            EdmType::Date => "Edm.Date".into(),
            EdmType::DateTimeOffset => "Edm.DateTimeOffset".into(),
            EdmType::Binary => "Edm.Binary".into(),
            EdmType::TimeOfDay => "Edm.TimeOfDay".into(),
            EdmType::Duration => "Edm.Duration".into(),
            EdmType::Guid => "Edm.Guid".into(),
            EdmType::Untyped => "Edm.Untyped".into(),
            EdmType::Enum(id) => format!("{}.{}", self.namespace, self.enum_type(*id).name),
            EdmType::Complex(id) => {
                format!("{}.{}", self.namespace, self.complex_type(*id).name)
            }
            EdmType::Collection(inner) => {
                format!("Collection({})", self.qualified_type_name(inner))
            }
        }
    }

    /// The entity set a navigation property of `set` leads to, if bound.
    pub fn navigation_target(&self, set: EntitySetId, nav: &str) -> Option<EntitySetId> {
        self.set(set)
            .navigation_bindings
            .iter()
            .find(|b| b.path == nav)
            .map(|b| b.target)
    }
}

impl EntityType {
    /// The structural property with this name.
    pub fn property(&self, name: &str) -> Option<&Property> {
        self.property_index.get(name).map(|i| &self.properties[*i])
    }

    /// The navigation property with this name.
    pub fn navigation_property(&self, name: &str) -> Option<&NavigationProperty> {
        self.navigation_index
            .get(name)
            .map(|i| &self.navigation[*i])
    }

    /// The key property.
    pub fn key_property(&self) -> &Property {
        &self.properties[self.key]
    }

    /// The structural property backed by this ZeyOS field.
    pub fn property_for_upstream(&self, field: &str) -> Option<&Property> {
        self.properties.iter().find(|p| p.upstream == field)
    }

    /// The unsupported feature with this name or path, if configured.
    pub fn unsupported_feature(&self, path: &str) -> Option<&UnsupportedFeature> {
        self.unsupported.iter().find(|u| u.name == path)
    }
}
