//! The entity type of one entity set: which ZeyOS fields it exposes under
//! which names and types, and its base filter.
//!
//! Naming scheme (HQ style): the key is `Id`; a foreign key `contact`
//! becomes the property `ContactId` (the ID value, filterable and writable)
//! plus the navigation property `Contact`; a rename in `config.toml` of a
//! foreign key names the navigation property and the ID property follows
//! (`Company = "account"` → `Company` and `CompanyId`).

use std::collections::{HashMap, HashSet};
use std::ops::Range;

use zeyos_schema::{Entity, Field, Semantic};

use super::types::{self, Shape, TypeRegistry};
use super::{unknown_words, SetPlan};
use crate::config::ConfigError;
use crate::config::{FilterValue, Hint, Problem, PropertyConfig, Source, TypeOverride};
use crate::edm::model::{
    BaseCondition, Conversion, EdmType, EntityType, Property, UnsupportedFeature,
};
use crate::edm::naming;

/// A foreign key of an entity type, from which navigation is derived.
#[derive(Debug, Clone)]
pub(crate) struct ForeignKey {
    /// The ZeyOS field, e.g. `account`.
    pub field: String,
    /// The OData property holding the ID, e.g. `AccountId`.
    pub property: String,
    /// The navigation property name, e.g. `Account`.
    pub navigation: String,
    /// The ZeyOS entity referenced.
    pub target: String,
}

/// An entity type with what navigation needs to know about it.
pub(crate) struct BuiltType {
    pub ty: EntityType,
    pub foreign_keys: Vec<ForeignKey>,
    pub base_filter: Vec<BaseCondition>,
    /// Every name used on the type (properties and reserved navigation
    /// names), with the span that introduced it.
    pub names: HashMap<String, Range<usize>>,
}

pub(crate) fn build(
    registry: &mut TypeRegistry<'_>,
    source: &Source,
    plan: &SetPlan<'_>,
) -> Result<BuiltType, ConfigError> {
    let entity = plan.entity;
    let (owner, _) = naming::entity_names(&entity.name)
        .map_err(|e| unknown_words(source, &plan.name_span, e))?;
    let config = plan.config;

    let field_of = |name: &toml::Spanned<String>| -> Result<&Field, ConfigError> {
        entity
            .field(name.get_ref())
            .ok_or_else(|| unknown_field(source, entity, name))
    };

    let mut renames: HashMap<&str, &PropertyConfig> = HashMap::new();
    let mut excluded: HashSet<&str> = HashSet::new();
    let mut included: Option<HashSet<&str>> = None;
    let mut unsupported = Vec::new();
    if let Some(config) = config {
        for rename in &config.properties {
            let field = field_of(&rename.field)?;
            if let Some(first) = renames.insert(field.name.as_str(), rename) {
                return Err(source.error(
                    &rename.field.span(),
                    Problem::DuplicateName {
                        what: "rename of field",
                        name: field.name.clone(),
                        earlier: format!(" (already named `{}`)", first.name.get_ref()),
                    },
                ));
            }
        }
        for name in &config.exclude {
            let field = field_of(name)?;
            if field.semantic == Semantic::Key {
                return Err(source.error(
                    &name.span(),
                    Problem::BadValue {
                        key: "exclude".into(),
                        reason: "the key `ID` cannot be excluded".into(),
                    },
                ));
            }
            excluded.insert(field.name.as_str());
        }
        if let Some(include) = &config.include {
            let mut set = HashSet::new();
            for name in include {
                set.insert(field_of(name)?.name.as_str());
            }
            included = Some(set);
        }
        for u in &config.unsupported {
            unsupported.push(UnsupportedFeature {
                name: u.name.get_ref().clone(),
                message: u.message.clone(),
            });
        }
    }

    let mut properties: Vec<Property> = Vec::new();
    let mut foreign_keys = Vec::new();
    let mut names: HashMap<String, Range<usize>> = HashMap::new();
    let mut origins: HashMap<String, (Option<Range<usize>>, String)> = HashMap::new();
    // Claims a name for `field`; a clash is reported at the configured
    // rename involved (if any), naming the other field.
    let mut claim =
        |name: &str, span: Option<&Range<usize>>, field: &str| -> Result<(), ConfigError> {
            if let Some((first_span, first_field)) = origins.get(name) {
                let (at, other) = match (span, first_span) {
                    (Some(s), _) => (s.clone(), first_field.as_str()),
                    (None, Some(s)) => (s.clone(), field),
                    (None, None) => (plan.name_span.clone(), field),
                };
                return Err(source.error(
                    &at,
                    Problem::DuplicateName {
                        what: "property",
                        name: name.to_owned(),
                        earlier: format!(
                            " on entity type `{}` (also the name of ZeyOS field `{other}`)",
                            plan.type_name
                        ),
                    },
                ));
            }
            origins.insert(name.to_owned(), (span.cloned(), field.to_owned()));
            names.insert(
                name.to_owned(),
                span.cloned().unwrap_or_else(|| plan.name_span.clone()),
            );
            Ok(())
        };

    for field in &entity.fields {
        let is_key = field.semantic == Semantic::Key;
        if !is_key
            && (excluded.contains(field.name.as_str())
                || included
                    .as_ref()
                    .is_some_and(|i| !i.contains(field.name.as_str())))
        {
            continue;
        }
        let rename = renames.get(field.name.as_str()).copied();
        let rename_span = rename.map(|r| r.name.span());
        let derived = derived_name(field).map_err(|e| unknown_words(source, &plan.name_span, e))?;
        let mut shape = registry
            .shape(&owner, field)
            .map_err(|e| unknown_words(source, &plan.name_span, e))?;
        if let Some(ty) = rename.and_then(|r| r.type_override.as_ref()) {
            shape = override_type(source, field, ty)?;
        }
        let name = match (field.semantic, rename) {
            (Semantic::ForeignKey, Some(r)) => naming::foreign_key_property_name(r.name.get_ref()),
            (_, Some(r)) => r.name.get_ref().clone(),
            (_, None) => derived,
        };
        if field.semantic == Semantic::ForeignKey {
            let navigation = match rename {
                Some(r) => r.name.get_ref().clone(),
                None => naming::navigation_name(&field.name)
                    .map_err(|e| unknown_words(source, &plan.name_span, e))?,
            };
            claim(&navigation, rename_span.as_ref(), &field.name)?;
            if let Some(target) = &field.references {
                foreign_keys.push(ForeignKey {
                    field: field.name.clone(),
                    property: name.clone(),
                    navigation,
                    target: target.clone(),
                });
            }
        }
        claim(&name, rename_span.as_ref(), &field.name)?;
        let mut property = types::property(name, field, shape, nullable(field));
        match (field.semantic, field.name.as_str()) {
            (Semantic::Key, _) | (_, "lastmodified") => property.computed = true,
            (_, "creationdate" | "creator") => property.immutable = true,
            _ => {}
        }
        properties.push(property);
    }

    for u in &unsupported {
        let head = u.name.split('/').next().unwrap_or_default();
        if u.name == head && names.contains_key(head) {
            let span = config
                .and_then(|c| c.unsupported.iter().find(|x| x.name.get_ref() == &u.name))
                .map_or_else(|| plan.name_span.clone(), |x| x.name.span());
            return Err(source.error(
                &span,
                Problem::DuplicateName {
                    what: "unsupported name",
                    name: u.name.clone(),
                    earlier: format!(" (it is a property of entity type `{}`)", plan.type_name),
                },
            ));
        }
    }

    let base_filter = match config {
        Some(c) => c
            .base_filter
            .iter()
            .map(|cond| {
                let field = field_of(&cond.field)?;
                let values = cond
                    .values
                    .get_ref()
                    .iter()
                    .map(|v| filter_value(source, &cond.values.span(), field, v))
                    .collect::<Result<_, _>>()?;
                Ok(BaseCondition {
                    field: field.name.clone(),
                    values,
                })
            })
            .collect::<Result<_, ConfigError>>()?,
        None => Vec::new(),
    };

    let property_index = properties
        .iter()
        .enumerate()
        .map(|(i, p)| (p.name.clone(), i))
        .collect();
    let key = entity
        .fields
        .iter()
        .position(|f| f.semantic == Semantic::Key)
        .unwrap_or(0);
    Ok(BuiltType {
        ty: EntityType {
            name: plan.type_name.clone(),
            upstream: entity.name.clone(),
            description: types::clean_description(&capitalized(&entity.title)),
            key,
            properties,
            navigation: Vec::new(),
            open: entity.extdata,
            property_index,
            navigation_index: HashMap::new(),
            unsupported,
        },
        foreign_keys,
        base_filter,
        names,
    })
}

/// The derived OData name of a field (foreign keys: the ID property).
fn derived_name(field: &Field) -> Result<String, naming::UnknownWords> {
    let time = |is_date| {
        naming::time_property_name(&field.name, is_date)
            .map_or_else(|| naming::property_name(&field.name), |n| Ok(n.to_owned()))
    };
    match field.semantic {
        Semantic::ForeignKey => Ok(naming::foreign_key_property_name(&naming::navigation_name(
            &field.name,
        )?)),
        Semantic::Timestamp => time(false),
        Semantic::Date => time(true),
        _ => naming::property_name(&field.name),
    }
}

/// Conservative nullability: only the key, and flags and enums that have a
/// default, are declared non-nullable; a wrong `Nullable="false"` makes
/// clients reject a whole response.
fn nullable(field: &Field) -> bool {
    match field.semantic {
        Semantic::Key => false,
        Semantic::Flag | Semantic::Enum => field.default.is_none(),
        _ => true,
    }
}

fn override_type(
    source: &Source,
    field: &Field,
    ty: &toml::Spanned<TypeOverride>,
) -> Result<Shape, ConfigError> {
    if !matches!(field.semantic, Semantic::Timestamp | Semantic::Date) {
        return Err(source.error(
            &ty.span(),
            Problem::BadValue {
                key: "type".into(),
                reason: format!(
                    "field `{}` is not a time stamp or date; only those can change type",
                    field.name
                ),
            },
        ));
    }
    let (ty, conversion) = match ty.get_ref() {
        TypeOverride::Date => (EdmType::Date, Conversion::UnixDate),
        TypeOverride::DateTimeOffset => (EdmType::DateTimeOffset, Conversion::UnixTime),
    };
    Ok(Shape {
        ty,
        conversion,
        filterable: true,
    })
}

fn filter_value(
    source: &Source,
    span: &Range<usize>,
    field: &Field,
    value: &FilterValue,
) -> Result<serde_json::Value, ConfigError> {
    let bad = |reason: String| {
        source.error(
            span,
            Problem::BadValue {
                key: format!("base_filter.{}", field.name),
                reason,
            },
        )
    };
    match (field.semantic, value) {
        (Semantic::Enum, FilterValue::String(name)) => field
            .members
            .iter()
            .find(|m| &m.name == name)
            .map(|m| serde_json::Value::from(m.value))
            .ok_or_else(|| {
                let names: Vec<&str> = field.members.iter().map(|m| m.name.as_str()).collect();
                bad(format!(
                    "`{name}` is not a member; use one of {}",
                    names.join(", ")
                ))
            }),
        (Semantic::Enum, FilterValue::Integer(v)) => {
            if field.members.iter().any(|m| m.value == *v) {
                Ok(serde_json::Value::from(*v))
            } else {
                Err(bad(format!("{v} is not a member value")))
            }
        }
        (Semantic::Flag, FilterValue::Boolean(b)) => Ok(serde_json::Value::from(i64::from(*b))),
        (Semantic::Flag, FilterValue::Integer(v @ (0 | 1))) => Ok(serde_json::Value::from(*v)),
        (Semantic::Flag, _) => Err(bad("a flag takes true, false, 0 or 1".into())),
        (_, FilterValue::Integer(v)) if field.is_scalar() => Ok(serde_json::Value::from(*v)),
        (_, FilterValue::Float(v)) if field.is_scalar() => serde_json::Number::from_f64(*v)
            .map(serde_json::Value::Number)
            .ok_or_else(|| bad("not a finite number".into())),
        (_, FilterValue::String(s)) if field.is_scalar() => Ok(serde_json::Value::from(s.clone())),
        (_, FilterValue::Boolean(b)) if field.is_scalar() => Ok(serde_json::Value::from(*b)),
        _ => Err(bad("this field cannot be used in a base filter".into())),
    }
}

fn unknown_field(source: &Source, entity: &Entity, name: &toml::Spanned<String>) -> ConfigError {
    source.error(
        &name.span(),
        Problem::UnknownField {
            entity: entity.name.clone(),
            field: name.get_ref().clone(),
            hint: Hint::closest(
                name.get_ref(),
                entity.fields.iter().map(|f| f.name.as_str()),
            ),
        },
    )
}

fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}
