//! Navigation properties derived from foreign keys, within one service.
//!
//! - To-one: every foreign key gets a navigation property to the entity's
//!   *canonical* set in the service, the first set of the target entity
//!   without a base filter (`Account/Contact` → `Contacts`). A target with
//!   no such set (HQ exposes `transactions` only as `Invoices`, `Quotes`...)
//!   gets no navigation; the `...Id` property remains.
//! - Reverse (to-many): a set's type gets a collection for every foreign key
//!   into its entity, named after the set that holds the referencing rows
//!   (`Account/Transactions`, `Contact/Accounts`, `Project/Tasks`; in HQ
//!   `Company/Invoices`). Left out, because they would bury the useful ones:
//!   keys into `users` and `groups` (creator, owner, assignee bookkeeping
//!   that every entity has) and self-references (`items.model`). Where an
//!   entity has several keys into the same entity, the one the reference
//!   lists as its dependency is used (`components.item`, not
//!   `components.component`); with none or several, the reverse is left
//!   out. A reverse whose name is already a property of the type is left out.
//! - Partners pair a to-one navigation with the reverse collection on its
//!   canonical target; `ReferentialConstraint`s follow from the `Join`.

use std::collections::{BTreeMap, HashMap};

use zeyos_schema::Schema;

use super::entity::{BuiltType, ForeignKey};
use crate::edm::model::{EntitySetId, EntityTypeId, Join, NavigationBinding, NavigationProperty};

/// Entities whose incoming keys get no reverse collection.
const NO_REVERSE_INTO: &[&str] = &["users", "groups"];

/// What navigation needs to know about each set (index = set = type).
pub(crate) struct SetInfo<'a> {
    pub name: &'a str,
    pub entity: &'a str,
    pub filtered: bool,
}

/// Adds navigation properties to `types` and returns each set's bindings.
pub(crate) fn derive(
    schema: &Schema,
    sets: &[SetInfo<'_>],
    types: &mut [BuiltType],
) -> Vec<Vec<NavigationBinding>> {
    let mut canonical: HashMap<&str, usize> = HashMap::new();
    for (i, set) in sets.iter().enumerate() {
        if !set.filtered {
            canonical.entry(set.entity).or_insert(i);
        }
    }
    let mut bindings: Vec<Vec<NavigationBinding>> = vec![Vec::new(); sets.len()];

    for (i, bindings_i) in bindings.iter_mut().enumerate() {
        let fks = types[i].foreign_keys.clone();
        for fk in fks {
            let Some(&t) = canonical.get(fk.target.as_str()) else {
                continue;
            };
            types[i].ty.navigation.push(NavigationProperty {
                name: fk.navigation.clone(),
                target: EntityTypeId(t),
                collection: false,
                nullable: true,
                partner: None,
                join: Join::ForeignKey {
                    field: fk.field.clone(),
                    property: fk.property.clone(),
                },
            });
            bindings_i.push(NavigationBinding {
                path: fk.navigation,
                target: EntitySetId(t),
            });
        }
    }

    for s in 0..sets.len() {
        let source_entity = sets[s].entity;
        let dependencies = schema
            .entity(source_entity)
            .map(|e| e.dependencies.clone())
            .unwrap_or_default();
        let mut by_target: BTreeMap<String, Vec<ForeignKey>> = BTreeMap::new();
        for fk in &types[s].foreign_keys {
            if NO_REVERSE_INTO.contains(&fk.target.as_str()) || fk.target == source_entity {
                continue;
            }
            by_target
                .entry(fk.target.clone())
                .or_default()
                .push(fk.clone());
        }
        for (target, fks) in by_target {
            let chosen = if fks.len() == 1 {
                fks.into_iter().next()
            } else {
                let mut deps: Vec<ForeignKey> = fks
                    .into_iter()
                    .filter(|fk| dependencies.contains(&fk.field))
                    .collect();
                if deps.len() == 1 {
                    deps.pop()
                } else {
                    None
                }
            };
            let Some(fk) = chosen else { continue };
            for t in 0..sets.len() {
                if sets[t].entity != target {
                    continue;
                }
                let name = sets[s].name.to_owned();
                if types[t].names.contains_key(&name) {
                    continue;
                }
                let paired = canonical.get(target.as_str()) == Some(&t);
                types[t].names.insert(name.clone(), 0..0);
                types[t].ty.navigation.push(NavigationProperty {
                    name: name.clone(),
                    target: EntityTypeId(s),
                    collection: true,
                    nullable: false,
                    partner: paired.then(|| fk.navigation.clone()),
                    join: Join::Reverse {
                        field: fk.field.clone(),
                        property: fk.property.clone(),
                    },
                });
                bindings[t].push(NavigationBinding {
                    path: name.clone(),
                    target: EntitySetId(s),
                });
                if paired {
                    if let Some(nav) = types[s]
                        .ty
                        .navigation
                        .iter_mut()
                        .find(|n| n.name == fk.navigation && !n.collection)
                    {
                        nav.partner = Some(name);
                    }
                }
            }
        }
    }

    for built in types.iter_mut() {
        built.ty.navigation_index = built
            .ty
            .navigation
            .iter()
            .enumerate()
            .map(|(i, n)| (n.name.clone(), i))
            .collect();
    }
    bindings
}
