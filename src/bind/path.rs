//! Resource-path binding: the path of the URL (`Accounts(1)/Contacts`,
//! `Accounts/$count`, `Accounts(1)/Name/$value`, `$metadata`) resolved to
//! the [`Resource`] it addresses.
//!
//! Separate from the query options and expressions because the path is
//! bound first and on its own: it needs only the model and the parameter
//! aliases (for keys), and the entity set it ends on is the context the
//! query options are then bound in.

use odata_syntax as ast;
use odata_syntax::{ExprKind, Literal, SegmentKind};

use super::binder::{bad, Binder};
use super::query::{CollectionRef, EntityRef, PropertyForm, Resource};
use crate::edm::{EdmType, EntitySetId, Join};
use crate::error::GatewayError;

impl Binder<'_> {
    pub(super) fn resource(&self, path: &ast::ResourcePath) -> Result<Resource, GatewayError> {
        let segs = &path.segments;
        let Some(first) = segs.first() else {
            return Ok(Resource::ServiceDocument);
        };
        match &first.kind {
            SegmentKind::Metadata => {
                if segs.len() > 1 {
                    return Err(GatewayError::not_found(
                        "$metadata has no sub-resources",
                        Some("$metadata"),
                    ));
                }
                return Ok(Resource::Metadata);
            }
            // A batch arrives as POST, and is answered before binding; any
            // other method on it ends here.
            SegmentKind::Batch => {
                return Err(GatewayError::MethodNotAllowed {
                    message: "$batch is sent with POST".into(),
                    allow: "POST",
                })
            }
            SegmentKind::All | SegmentKind::Crossjoin(_) => {
                return Err(GatewayError::not_implemented(
                    format!("{} is not supported by this service", first),
                    Some(first.to_string()),
                ))
            }
            _ => {}
        }
        let SegmentKind::Name(name) = &first.kind else {
            return Err(GatewayError::not_found(
                format!("`{first}` is not an entity set of this service"),
                Some(first.to_string()),
            ));
        };
        let (set, _) = self
            .model
            .entity_set(&name.name)
            .filter(|_| !name.is_qualified())
            .ok_or_else(|| {
                GatewayError::not_found(
                    format!("`{name}` is not an entity set of this service"),
                    Some(name.to_string()),
                )
            })?;
        let mut state = PathState::Collection(CollectionRef { set, parent: None });
        let mut args = first.args.as_slice();
        let mut rest = &segs[1..];
        loop {
            // Key predicates written in parentheses.
            if let Some((a, more)) = args.split_first() {
                let PathState::Collection(c) = &state else {
                    return Err(bad(
                        "InvalidKey",
                        "parentheses after a single entity or property",
                        &a.to_string(),
                    ));
                };
                let key = self.key_value(c.set, a)?;
                state = PathState::Entity(member(c, key));
                args = more;
                continue;
            }
            let Some((seg, more)) = rest.split_first() else {
                break;
            };
            rest = more;
            args = seg.args.as_slice();
            state = match (state, &seg.kind) {
                (PathState::Collection(c), SegmentKind::KeyValue(text)) => {
                    let key = parse_key_text(text)?;
                    PathState::Entity(member(&c, key))
                }
                (PathState::Collection(c), SegmentKind::Count(None)) => {
                    if !rest.is_empty() {
                        return Err(bad("InvalidPath", "nothing may follow $count", "$count"));
                    }
                    return Ok(Resource::Count(c));
                }
                (PathState::Collection(c), SegmentKind::Name(n)) if n.is_qualified() => {
                    // A cast to the set's own type changes nothing.
                    self.check_cast(c.set, n)?;
                    PathState::Collection(c)
                }
                (PathState::Collection(c), SegmentKind::Name(n)) => {
                    // Key as segment whose value looks like a name is not an
                    // integer key: ZeyOS keys are numbers.
                    return Err(GatewayError::not_found(
                        format!(
                            "`{n}` is not a key of {} (keys are integers, e.g. {}(1))",
                            self.model.set(c.set).name,
                            self.model.set(c.set).name
                        ),
                        Some(n.to_string()),
                    ));
                }
                (PathState::Entity(e), SegmentKind::Name(n)) if n.is_qualified() => {
                    self.check_cast(e.set(), n)?;
                    PathState::Entity(e)
                }
                (PathState::Entity(e), SegmentKind::Name(n)) => self.entity_member(e, &n.name)?,
                (PathState::Property { entity, property }, SegmentKind::Value) => {
                    if !rest.is_empty() {
                        return Err(bad("InvalidPath", "nothing may follow $value", "$value"));
                    }
                    return Ok(Resource::Property {
                        entity,
                        property,
                        form: PropertyForm::Raw,
                    });
                }
                (PathState::Property { entity, property }, SegmentKind::Count(None)) => {
                    if !rest.is_empty() {
                        return Err(bad("InvalidPath", "nothing may follow $count", "$count"));
                    }
                    let prop = &self
                        .model
                        .entity_type(self.model.set(entity.set()).entity_type)
                        .properties[property];
                    if !matches!(prop.ty, EdmType::Collection(_)) {
                        return Err(bad(
                            "InvalidPath",
                            format!("`{}` is not collection-valued; $count counts the items of a collection", prop.name),
                            "$count",
                        ));
                    }
                    return Ok(Resource::Property {
                        entity,
                        property,
                        form: PropertyForm::Count,
                    });
                }
                (PathState::Collection(c), SegmentKind::Ref) => {
                    if !rest.is_empty() {
                        return Err(bad("InvalidPath", "nothing may follow $ref", "$ref"));
                    }
                    return Ok(Resource::CollectionReferences(c));
                }
                (PathState::Entity(e), SegmentKind::Ref) => {
                    if !rest.is_empty() {
                        return Err(bad("InvalidPath", "nothing may follow $ref", "$ref"));
                    }
                    return Ok(Resource::EntityReference(e));
                }
                // Protocol 11.2.8: a path that addresses no entity has no
                // reference.
                (PathState::Property { .. }, SegmentKind::Ref) => {
                    return Err(GatewayError::not_found(
                        "$ref follows an entity or a collection of entities, not a property",
                        Some("$ref"),
                    ))
                }
                // A path the configuration names as unsupported
                // (`Positions/CustomFields` in the HQ profile) gets its
                // message, as in `$select`, `$expand` and `$filter`.
                (PathState::Property { entity, property }, SegmentKind::Name(n))
                    if self
                        .configured_unsupported(&entity, property, &n.name)
                        .is_some() =>
                {
                    let message = self
                        .configured_unsupported(&entity, property, &n.name)
                        .unwrap_or_default();
                    return Err(GatewayError::not_implemented(message, Some(n.to_string())));
                }
                (PathState::Property { entity, property }, SegmentKind::Name(n))
                    if matches!(
                        self.model
                            .entity_type(self.model.set(entity.set()).entity_type)
                            .properties[property]
                            .ty,
                        EdmType::Complex(_)
                    ) =>
                {
                    // URL Conventions ("Addressing a Property") allows
                    // it; the gateway serves the complex value whole.
                    let prop = &self
                        .model
                        .entity_type(self.model.set(entity.set()).entity_type)
                        .properties[property];
                    return Err(GatewayError::not_implemented(
                        format!(
                            "addressing `{n}` inside the complex property `{}` is not supported by this service; read `{}` and take `{n}` from it",
                            prop.name, prop.name
                        ),
                        Some(n.to_string()),
                    ));
                }
                (_, SegmentKind::Filter(_) | SegmentKind::Each | SegmentKind::Query) => {
                    return Err(GatewayError::not_implemented(
                        format!("the path segment {seg} is not supported by this service"),
                        Some(seg.to_string()),
                    ))
                }
                (_, _) => {
                    return Err(GatewayError::not_found(
                        format!("the path segment `{seg}` does not address anything here"),
                        Some(seg.to_string()),
                    ))
                }
            };
        }
        Ok(match state {
            PathState::Collection(c) => Resource::Collection(c),
            PathState::Entity(e) => Resource::Entity(e),
            PathState::Property { entity, property } => Resource::Property {
                entity,
                property,
                form: PropertyForm::Value,
            },
        })
    }

    /// `$entity?$id=...` (Protocol 11.2.9): the entity an entity-id names,
    /// as if its URL had been requested, so that a client holding an
    /// `@odata.id` (from a reference, or full metadata) can read it with
    /// `$select` and `$expand`. The id may be absolute
    /// (`http://host/odata/Accounts(1)`; the authority is not compared, as
    /// a proxy may rewrite it), an absolute path (`/odata/Accounts(1)`) or
    /// relative to the service root, where `$entity` is (`Accounts(1)`).
    pub(super) fn entity_by_id(
        &self,
        path: &ast::ResourcePath,
        id: Option<&str>,
    ) -> Result<Resource, GatewayError> {
        let id = id.ok_or_else(|| {
            bad(
                "InvalidQuery",
                "$entity needs $id, the entity-id to resolve",
                "$id",
            )
        })?;
        let without_authority = match id.split_once("://") {
            Some((_, rest)) => rest.find('/').map_or("/", |i| &rest[i..]),
            None => id,
        };
        let relative = if without_authority.starts_with('/') {
            without_authority
                .strip_prefix(self.model.root.as_str())
                .ok_or_else(|| {
                    GatewayError::not_found(
                        format!(
                            "`{id}` names no entity of the service at {}",
                            self.model.root
                        ),
                        Some("$id"),
                    )
                })?
        } else {
            without_authority
        };
        let parsed =
            odata_syntax::parse_resource_path(relative, &self.syntax_limits).map_err(|e| {
                bad(
                    "InvalidId",
                    format!("$id `{id}` is not the URL of an entity: {e}"),
                    "$id",
                )
            })?;
        let not_an_entity = || {
            bad(
                "InvalidId",
                format!("$id `{id}` names no single entity"),
                "$id",
            )
        };
        if !matches!(
            parsed.segments.first().map(|s| &s.kind),
            Some(SegmentKind::Name(_))
        ) {
            return Err(not_an_entity());
        }
        let Resource::Entity(entity) = self.resource(&parsed)? else {
            return Err(not_an_entity());
        };
        // `$entity/ZeyOS.Account?$id=...`: the entity must be of that type.
        if let Some(SegmentKind::Name(cast)) = path.segments.get(1).map(|s| &s.kind) {
            self.check_cast(entity.set(), cast)?;
        }
        Ok(Resource::Entity(entity))
    }

    /// The configured message for `name` inside the property (the path
    /// `Property/name`), if the configuration marks it unsupported.
    fn configured_unsupported(
        &self,
        entity: &EntityRef,
        property: usize,
        name: &str,
    ) -> Option<String> {
        let ty = self
            .model
            .entity_type(self.model.set(entity.set()).entity_type);
        let prop = ty.properties.get(property)?;
        ty.unsupported_feature(&format!("{}/{name}", prop.name))
            .map(|u| u.message.clone())
    }

    fn check_cast(&self, set: EntitySetId, name: &ast::QualifiedName) -> Result<(), GatewayError> {
        let ty = self.model.entity_type(self.model.set(set).entity_type);
        if name.namespace == self.model.namespace && name.name == ty.name {
            Ok(())
        } else {
            Err(GatewayError::not_found(
                format!(
                    "`{name}` is not {}.{} or a type derived from it",
                    self.model.namespace, ty.name
                ),
                Some(name.to_string()),
            ))
        }
    }

    fn entity_member(&self, entity: EntityRef, name: &str) -> Result<PathState, GatewayError> {
        let set = entity.set();
        let ty = self.model.entity_type(self.model.set(set).entity_type);
        if let Some(i) = ty.property_index.get(name) {
            return Ok(PathState::Property {
                entity,
                property: *i,
            });
        }
        if let Some(nav) = ty.navigation_property(name) {
            let target = self.model.navigation_target(set, name).ok_or_else(|| {
                GatewayError::not_found(
                    format!("`{name}` leads to no entity set of this service"),
                    Some(name.to_string()),
                )
            })?;
            return Ok(match &nav.join {
                Join::ForeignKey { field, .. } => PathState::Entity(EntityRef::Navigation {
                    parent: Box::new(entity),
                    field: field.clone(),
                    name: name.to_string(),
                    set: target,
                }),
                Join::Reverse { field, .. } => PathState::Collection(CollectionRef {
                    set: target,
                    parent: Some((entity, field.clone())),
                }),
            });
        }
        if let Some(u) = ty.unsupported_feature(name) {
            return Err(GatewayError::not_implemented(
                u.message.clone(),
                Some(name.to_string()),
            ));
        }
        Err(GatewayError::not_found(
            format!(
                "{} has no property or navigation property `{name}`",
                ty.name
            ),
            Some(name.to_string()),
        ))
    }

    fn key_value(&self, set: EntitySetId, args: &ast::Args) -> Result<i64, GatewayError> {
        let ty = self.model.entity_type(self.model.set(set).entity_type);
        let key_name = &ty.key_property().name;
        let [arg] = args.items.as_slice() else {
            return Err(bad(
                "InvalidKey",
                format!("{} has a single key property `{key_name}`", ty.name),
                &args.to_string(),
            ));
        };
        if let Some(n) = &arg.name {
            if n != key_name {
                return Err(bad(
                    "InvalidKey",
                    format!(
                        "`{n}` is not the key of {}; its key is `{key_name}`",
                        ty.name
                    ),
                    n,
                ));
            }
        }
        let value = match &arg.value.kind {
            ExprKind::Alias(a) => self.aliases.get(a).map(|e| e.kind.clone()).ok_or_else(|| {
                bad(
                    "InvalidKey",
                    format!("parameter alias @{a} is not defined"),
                    &args.to_string(),
                )
            })?,
            other => other.clone(),
        };
        match value {
            // The key is an Edm.Int32: a larger number names no entity and
            // is the client's mistake, not a missing entity.
            ExprKind::Literal(Literal::Int(i))
                if ty.key_property().ty == EdmType::Int32 && i32::try_from(i).is_err() =>
            {
                Err(bad(
                    "InvalidKey",
                    format!(
                        "the key of {} is an Edm.Int32; {i} is out of its range",
                        ty.name
                    ),
                    &args.to_string(),
                ))
            }
            ExprKind::Literal(Literal::Int(i)) => Ok(i),
            _ => Err(bad(
                "InvalidKey",
                format!("the key of {} is an integer, not `{}`", ty.name, arg.value),
                &args.to_string(),
            )),
        }
    }
}

/// Where resource path binding stands.
enum PathState {
    Collection(CollectionRef),
    Entity(EntityRef),
    Property { entity: EntityRef, property: usize },
}

/// The entity with `key` in a collection (through its parent, if any).
fn member(c: &CollectionRef, key: i64) -> EntityRef {
    match &c.parent {
        None => EntityRef::Key { set: c.set, key },
        Some((parent, field)) => EntityRef::Contained {
            parent: Box::new(parent.clone()),
            field: field.clone(),
            set: c.set,
            key,
        },
    }
}

fn parse_key_text(text: &str) -> Result<i64, GatewayError> {
    text.parse::<i64>().map_err(|_| {
        GatewayError::not_found(
            format!("`{text}` is not a key: keys are integers"),
            Some(text.to_string()),
        )
    })
}
