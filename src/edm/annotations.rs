//! The vocabulary annotations of a model, decided once and rendered by both
//! metadata writers, so that CSDL XML and CSDL JSON always say the same.
//!
//! - `Core.Description` on types, properties, enum types and entity sets,
//!   from the reference's descriptions.
//! - `Core.Computed` on keys and `UpdatedOn`; `Core.Immutable` on
//!   `CreatedOn` and `CreatorId` (clients may set them on creation only).
//! - `Core.OptimisticConcurrency` on sets that can be changed: the gateway's
//!   ETags are ZeyOS's record ETags, which change with `UpdatedOn`.
//! - `Capabilities.*` per set: what the gateway does with the set (search
//!   as ZeyOS searches; no writes yet, whatever ZeyOS's endpoints allow);
//!   `Capabilities.AsynchronousRequestsSupported`, `BatchSupport` and
//!   `FilterFunctions` (what `$filter` accepts) on the container.

use crate::edm::model::{
    ComplexType, Conversion, EntitySet, EntityType, EnumType, Property, ServiceModel,
};

/// Whether the gateway carries out writes. Not yet: every write is
/// answered 501 (`server::gateway::WRITES_NOT_SUPPORTED`), so the sets are
/// announced as read-only whatever ZeyOS allows, and clients that read the
/// Capabilities annotations offer no editing that would fail.
const WRITES: bool = false;

/// An included vocabulary: namespace, alias, and where its XML and JSON
/// documents are.
pub(crate) struct Vocabulary {
    pub namespace: &'static str,
    pub alias: &'static str,
    pub xml: &'static str,
    pub json: &'static str,
}

/// The vocabularies the annotations use.
pub(crate) const VOCABULARIES: &[Vocabulary] = &[
    Vocabulary {
        namespace: "Org.OData.Core.V1",
        alias: "Core",
        xml: "https://oasis-tcs.github.io/odata-vocabularies/vocabularies/Org.OData.Core.V1.xml",
        json: "https://oasis-tcs.github.io/odata-vocabularies/vocabularies/Org.OData.Core.V1.json",
    },
    Vocabulary {
        namespace: "Org.OData.Capabilities.V1",
        alias: "Capabilities",
        xml: "https://oasis-tcs.github.io/odata-vocabularies/vocabularies/Org.OData.Capabilities.V1.xml",
        json: "https://oasis-tcs.github.io/odata-vocabularies/vocabularies/Org.OData.Capabilities.V1.json",
    },
];

/// An annotation value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Bool(bool),
    Int(i64),
    String(String),
    /// A collection of property paths.
    PropertyPaths(Vec<String>),
    /// A collection of strings.
    Strings(Vec<&'static str>),
    /// Members (one or more) of a flags enumeration of a vocabulary, with
    /// the enumeration's alias-qualified name.
    EnumFlags {
        ty: &'static str,
        members: Vec<&'static str>,
    },
    /// A record of named values.
    Record(Vec<(&'static str, Value)>),
}

/// One annotation: a qualified term (with alias) and its value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Annotation {
    pub term: &'static str,
    pub value: Value,
}

fn annotation(term: &'static str, value: Value) -> Annotation {
    Annotation { term, value }
}

fn description(text: Option<&String>) -> Option<Annotation> {
    text.map(|t| annotation("Core.Description", Value::String(t.clone())))
}

/// Annotations of a structural property.
pub(crate) fn property(p: &Property) -> Vec<Annotation> {
    let mut out: Vec<Annotation> = description(p.description.as_ref()).into_iter().collect();
    if p.computed {
        out.push(annotation("Core.Computed", Value::Bool(true)));
    }
    if p.immutable {
        out.push(annotation("Core.Immutable", Value::Bool(true)));
    }
    out
}

/// Annotations of an entity type.
pub(crate) fn entity_type(t: &EntityType) -> Vec<Annotation> {
    description(t.description.as_ref()).into_iter().collect()
}

/// Annotations of a complex type.
pub(crate) fn complex_type(t: &ComplexType) -> Vec<Annotation> {
    description(t.description.as_ref()).into_iter().collect()
}

/// Annotations of an enum type.
pub(crate) fn enum_type(t: &EnumType) -> Vec<Annotation> {
    description(t.description.as_ref()).into_iter().collect()
}

/// Annotations of the entity container.
pub(crate) fn container(model: &ServiceModel) -> Vec<Annotation> {
    let mut out: Vec<Annotation> = description(model.title.as_ref()).into_iter().collect();
    out.push(annotation(
        "Capabilities.AsynchronousRequestsSupported",
        Value::Bool(model.async_requests),
    ));
    // What `$batch` does (src/server/batch): reads in both formats, with
    // continue-on-error and `dependsOn`, but no references to other
    // requests' results and no `if` conditions.
    out.push(annotation(
        "Capabilities.BatchSupport",
        Value::Record(vec![
            ("Supported", Value::Bool(true)),
            ("ContinueOnErrorSupported", Value::Bool(true)),
            ("ReferencesInRequestBodiesSupported", Value::Bool(false)),
            ("ReferencesAcrossChangeSetsSupported", Value::Bool(false)),
            ("EtagReferencesSupported", Value::Bool(false)),
            ("RequestDependencyConditionsSupported", Value::Bool(false)),
        ]),
    ));
    out.push(annotation(
        "Capabilities.FilterFunctions",
        Value::Strings(crate::bind::filter_functions()),
    ));
    out
}

/// Annotations of an entity set.
pub(crate) fn entity_set(model: &ServiceModel, set: &EntitySet) -> Vec<Annotation> {
    let ty = model.entity_type(set.entity_type);
    let caps = set.capabilities;
    let mut out: Vec<Annotation> = description(set.description.as_ref()).into_iter().collect();

    if caps.updatable || caps.deletable {
        let paths = ty
            .properties
            .iter()
            .filter(|p| p.upstream == "lastmodified" && p.conversion == Conversion::UnixTime)
            .map(|p| p.name.clone())
            .collect();
        out.push(annotation(
            "Core.OptimisticConcurrency",
            Value::PropertyPaths(paths),
        ));
    }

    let not_filterable: Vec<String> = ty
        .properties
        .iter()
        .filter(|p| !p.filterable)
        .map(|p| p.name.clone())
        .collect();
    let mut filter = vec![("Filterable", Value::Bool(true))];
    let mut sort = vec![("Sortable", Value::Bool(true))];
    if !not_filterable.is_empty() {
        filter.push((
            "NonFilterableProperties",
            Value::PropertyPaths(not_filterable.clone()),
        ));
        sort.push((
            "NonSortableProperties",
            Value::PropertyPaths(not_filterable),
        ));
    }
    out.push(annotation(
        "Capabilities.FilterRestrictions",
        Value::Record(filter),
    ));
    out.push(annotation(
        "Capabilities.SortRestrictions",
        Value::Record(sort),
    ));
    out.push(annotation(
        "Capabilities.CountRestrictions",
        Value::Record(vec![("Countable", Value::Bool(true))]),
    ));
    out.push(annotation("Capabilities.TopSupported", Value::Bool(true)));
    out.push(annotation("Capabilities.SkipSupported", Value::Bool(true)));
    let expandable = model.max_expand_depth > 0 && !set.navigation_bindings.is_empty();
    let mut expand = vec![("Expandable", Value::Bool(expandable))];
    if expandable {
        expand.push(("MaxLevels", Value::Int(i64::from(model.max_expand_depth))));
    }
    out.push(annotation(
        "Capabilities.ExpandRestrictions",
        Value::Record(expand),
    ));
    let mut search = vec![("Searchable", Value::Bool(caps.searchable))];
    if caps.searchable {
        // ZeyOS matches rows holding every given word (src/bind/options.rs).
        search.push((
            "UnsupportedExpressions",
            Value::EnumFlags {
                ty: "Capabilities.SearchExpressions",
                members: vec!["OR", "NOT", "phrase"],
            },
        ));
    }
    out.push(annotation(
        "Capabilities.SearchRestrictions",
        Value::Record(search),
    ));
    // Reads by key work on every set (through a list request where ZeyOS
    // has no GET by ID), so no ReadRestrictions.
    out.push(annotation(
        "Capabilities.InsertRestrictions",
        Value::Record(vec![("Insertable", Value::Bool(WRITES && caps.insertable))]),
    ));
    out.push(annotation(
        "Capabilities.UpdateRestrictions",
        Value::Record(vec![("Updatable", Value::Bool(WRITES && caps.updatable))]),
    ));
    out.push(annotation(
        "Capabilities.DeleteRestrictions",
        Value::Record(vec![("Deletable", Value::Bool(WRITES && caps.deletable))]),
    ));
    out
}
