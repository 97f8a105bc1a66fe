//! Builds a [`ServiceModel`] from the ZeyOS schema and one service of
//! `config.toml`.
//!
//! The steps: decide the entity sets (every entity with `expose = "all"`,
//! plus the configured ones); build each set's entity type from the fields
//! ([`entity`], with types from [`types`]); derive navigation
//! ([`navigation`]); check that every name of the schema is unique. Every
//! configuration problem found on the way is a [`ConfigError`] that names
//! the line.

mod entity;
mod enums;
mod navigation;
mod types;

use std::collections::HashMap;
use std::ops::Range;

use zeyos_schema::{Entity, Schema};

use crate::config::{
    ConfigError, EntitySetConfig, Hint, LimitsConfig, Problem, ServiceConfig, Source,
};
use crate::edm::model::{BaseCondition, EntitySet, EntitySetId, ServiceModel, SetCapabilities};
use crate::edm::naming::{self, UnknownWords};

/// One entity set to build, before its type exists.
pub(crate) struct SetPlan<'a> {
    pub name: String,
    /// Where the name came from (the service's name for derived sets).
    pub name_span: Range<usize>,
    pub entity: &'a Entity,
    pub type_name: String,
    pub config: Option<&'a EntitySetConfig>,
}

impl ServiceModel {
    /// Builds the model of `service`. Fails on any name the schema does not
    /// know, any duplicate name and any unusable rename, naming the line of
    /// `config.toml`.
    pub fn build(
        schema: &Schema,
        service: &ServiceConfig,
        limits: &LimitsConfig,
    ) -> Result<ServiceModel, ConfigError> {
        let source = service.source.as_ref();
        let plans = plan_sets(schema, service)?;
        let mut registry = types::TypeRegistry::new(schema)
            .map_err(|e| unknown_words(source, &service.name.span(), e))?;

        let mut built = Vec::with_capacity(plans.len());
        for plan in &plans {
            built.push(entity::build(&mut registry, source, plan)?);
        }
        let infos: Vec<navigation::SetInfo<'_>> = plans
            .iter()
            .zip(&built)
            .map(|(plan, b)| navigation::SetInfo {
                name: &plan.name,
                entity: &plan.entity.name,
                filtered: !b.base_filter.is_empty(),
            })
            .collect();
        let bindings = navigation::derive(schema, &infos, &mut built);

        // Types, enums and complex types share the schema's namespace.
        let mut type_names: HashMap<&str, Range<usize>> = HashMap::new();
        for plan in &plans {
            let span = plan
                .config
                .and_then(|c| c.type_name.as_ref().map(toml::Spanned::span))
                .unwrap_or_else(|| plan.name_span.clone());
            if type_names.insert(&plan.type_name, span.clone()).is_some() {
                return Err(source.error(
                    &span,
                    Problem::DuplicateName {
                        what: "entity type",
                        name: plan.type_name.clone(),
                        earlier: " (each entity set needs its own type name; set `type`)".into(),
                    },
                ));
            }
        }
        for name in registry.type_names() {
            if let Some(span) = type_names.get(name) {
                return Err(source.error(
                    span,
                    Problem::DuplicateName {
                        what: "type",
                        name: name.to_owned(),
                        earlier: " (the name of an enum or complex type of the ZeyOS model)".into(),
                    },
                ));
            }
        }

        let mut entity_sets = Vec::with_capacity(plans.len());
        let mut entity_types = Vec::with_capacity(plans.len());
        for ((plan, b), navigation_bindings) in plans.iter().zip(built).zip(bindings) {
            let endpoints = plan.entity.endpoints;
            let description = plan
                .config
                .and_then(|c| c.description.clone())
                .unwrap_or_else(|| set_description(plan.entity, &b.base_filter));
            entity_sets.push(EntitySet {
                name: plan.name.clone(),
                entity_type: crate::edm::model::EntityTypeId(entity_types.len()),
                upstream: plan.entity.name.clone(),
                base_filter: b.base_filter,
                navigation_bindings,
                capabilities: SetCapabilities {
                    insertable: endpoints.create,
                    updatable: endpoints.update,
                    deletable: endpoints.delete,
                    readable_by_key: endpoints.get,
                    searchable: endpoints.list,
                },
                description: Some(description),
            });
            entity_types.push(b.ty);
        }
        let set_index = entity_sets
            .iter()
            .enumerate()
            .map(|(i, s)| (s.name.clone(), EntitySetId(i)))
            .collect();
        Ok(ServiceModel {
            name: service.name.get_ref().clone(),
            root: service.root.get_ref().clone(),
            namespace: service.namespace.get_ref().clone(),
            container: service.container.get_ref().clone(),
            entity_sets,
            entity_types,
            enum_types: registry.enum_types,
            complex_types: registry.complex_types,
            set_index,
            title: service.title.clone(),
            async_requests: service.async_requests,
            max_expand_depth: limits.max_expand_depth,
        })
    }
}

/// The sets of a service in container order: derived ones first (schema
/// order), then configured ones; a configured set replaces a derived one of
/// the same name.
fn plan_sets<'a>(
    schema: &'a Schema,
    service: &'a ServiceConfig,
) -> Result<Vec<SetPlan<'a>>, ConfigError> {
    let source = service.source.as_ref();
    let entity = |name: &toml::Spanned<String>| -> Result<&'a Entity, ConfigError> {
        schema.entity(name.get_ref()).ok_or_else(|| {
            source.error(
                &name.span(),
                Problem::UnknownEntity {
                    name: name.get_ref().clone(),
                    hint: Hint::closest(
                        name.get_ref(),
                        schema.entities.iter().map(|e| e.name.as_str()),
                    ),
                },
            )
        })
    };

    let mut plans: Vec<SetPlan<'a>> = Vec::new();
    if service.expose_all {
        let mut excluded = Vec::new();
        for name in &service.exclude_entities {
            excluded.push(entity(name)?.name.as_str());
        }
        for e in &schema.entities {
            if excluded.contains(&e.name.as_str()) {
                continue;
            }
            let (type_name, set_name) = naming::entity_names(&e.name)
                .map_err(|err| unknown_words(source, &service.name.span(), err))?;
            plans.push(SetPlan {
                name: set_name,
                name_span: service.name.span(),
                entity: e,
                type_name,
                config: None,
            });
        }
    }

    let mut configured: HashMap<&str, Range<usize>> = HashMap::new();
    for config in &service.entity_sets {
        let name = config.name.get_ref();
        if let Some(first) = configured.get(name.as_str()) {
            return Err(source.error(
                &config.name.span(),
                Problem::DuplicateName {
                    what: "entity set",
                    name: name.clone(),
                    earlier: format!(" (first used at line {})", source.locate(first).line),
                },
            ));
        }
        configured.insert(name, config.name.span());
        let e = entity(&config.entity)?;
        let type_name = match &config.type_name {
            Some(t) => t.get_ref().clone(),
            None => {
                naming::entity_names(&e.name)
                    .map_err(|err| unknown_words(source, &config.entity.span(), err))?
                    .0
            }
        };
        let plan = SetPlan {
            name: name.clone(),
            name_span: config.name.span(),
            entity: e,
            type_name,
            config: Some(config),
        };
        match plans
            .iter()
            .position(|p| p.config.is_none() && p.name == *name)
        {
            Some(i) => plans[i] = plan,
            None => plans.push(plan),
        }
    }
    Ok(plans)
}

/// `All accounts. Requires the accounts permission.`, or for a set with a
/// base filter `Transactions with type BILLING_INVOICE. Requires ...`.
fn set_description(entity: &Entity, base_filter: &[BaseCondition]) -> String {
    let what = if base_filter.is_empty() {
        match entity.description.strip_prefix("all ") {
            Some(rest) => format!("All {rest}."),
            None => format!("{}.", entity.description),
        }
    } else {
        let conditions: Vec<String> = base_filter
            .iter()
            .map(|c| {
                let values: Vec<String> = c
                    .values
                    .iter()
                    .map(|v| member_name(entity, &c.field, v))
                    .collect();
                format!("{} {}", c.field, values.join(" or "))
            })
            .collect();
        let mut title = entity.title_plural.clone();
        if let Some(first) = title.get(..1) {
            title = first.to_uppercase() + &title[1..];
        }
        format!("{title} with {}.", conditions.join(" and "))
    };
    match entity.read_permissions.len() {
        0 => what,
        1 => format!(
            "{what} Requires the {} permission.",
            entity.read_permissions[0]
        ),
        _ => format!(
            "{what} Requires one of the permissions {}.",
            entity.read_permissions.join(", ")
        ),
    }
}

/// The enum member name of a base filter value, or the value itself.
fn member_name(entity: &Entity, field: &str, value: &serde_json::Value) -> String {
    entity
        .field(field)
        .and_then(|f| f.members.iter().find(|m| Some(m.value) == value.as_i64()))
        .map_or_else(|| value.to_string(), |m| m.name.clone())
}

pub(crate) fn unknown_words(
    source: &Source,
    span: &Range<usize>,
    err: UnknownWords,
) -> ConfigError {
    source.error(span, Problem::UnknownWords(err.to_string()))
}
