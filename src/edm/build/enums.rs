//! Enum type names, decided once for the whole ZeyOS schema so that every
//! service names the same ZeyOS values the same way.
//!
//! Rules, in order:
//! 1. A field name that is an enum with identical members wherever it
//!    occurs (twice or more) gives one shared type named after the field:
//!    `visibility` → `Visibility`, `activity` → `Activity`.
//! 2. A field whose own PascalCase name is the name of another enum with
//!    identical members reuses it: a line item's `itemtype` → `ItemType`
//!    (the type of `items.type`).
//! 3. Otherwise the owner's type name plus the field: `accounts.type` →
//!    `AccountType`, a line item's `type` → `LineItemType`.

use std::collections::HashMap;

use zeyos_schema::{Field, Schema, Semantic};

use crate::edm::naming::{self, UnknownWords};

/// The owner name of fields of the line item composites.
pub(crate) const LINE_ITEM: &str = "LineItem";

/// Members of an enum in value order.
pub(crate) type Members = Vec<(String, i64)>;

/// Enum names for every enum field of the schema.
#[derive(Debug, Default)]
pub(crate) struct EnumNames {
    /// (owner, field) → name.
    names: HashMap<(String, String), String>,
}

impl EnumNames {
    /// Decides the names for `schema`.
    pub(crate) fn new(schema: &Schema) -> Result<Self, UnknownWords> {
        let mut occurrences: Vec<(String, &Field)> = Vec::new();
        for entity in &schema.entities {
            let (owner, _) = naming::entity_names(&entity.name)?;
            collect(&owner, &entity.fields, &mut occurrences);
        }
        for composite in &schema.composites {
            if composite.name.starts_with("items-") {
                collect(LINE_ITEM, &composite.fields, &mut occurrences);
            }
        }

        let mut by_field: HashMap<&str, Vec<Members>> = HashMap::new();
        for (_, field) in &occurrences {
            by_field
                .entry(field.name.as_str())
                .or_default()
                .push(members(field));
        }
        let mut first_pass: Vec<(String, String, String, Members)> = Vec::new();
        for (owner, field) in &occurrences {
            let pascal = naming::property_name(&field.name)?;
            let same = &by_field[field.name.as_str()];
            let shared = same.len() >= 2 && same.iter().all(|m| *m == same[0]);
            let name = if shared {
                pascal
            } else {
                format!("{owner}{pascal}")
            };
            first_pass.push((owner.clone(), field.name.clone(), name, members(field)));
        }
        let mut names = HashMap::new();
        for (owner, field, name, m) in &first_pass {
            let pascal = naming::property_name(field)?;
            let reuse = first_pass
                .iter()
                .any(|(_, _, other, om)| *other == pascal && om == m);
            let name = if reuse { pascal } else { name.clone() };
            names.insert((owner.clone(), field.clone()), name);
        }
        Ok(Self { names })
    }

    /// The enum type name of `field` of `owner` (an entity's derived type
    /// name or [`LINE_ITEM`]).
    pub(crate) fn name(&self, owner: &str, field: &str) -> Option<&str> {
        self.names
            .get(&(owner.to_owned(), field.to_owned()))
            .map(String::as_str)
    }
}

fn collect<'a>(owner: &str, fields: &'a [Field], out: &mut Vec<(String, &'a Field)>) {
    for field in fields {
        if field.semantic == Semantic::Enum {
            out.push((owner.to_owned(), field));
        }
    }
}

/// The members of an enum field in value order.
pub(crate) fn members(field: &Field) -> Members {
    let mut m: Members = field
        .members
        .iter()
        .map(|m| (m.name.clone(), m.value))
        .collect();
    m.sort_by_key(|(_, v)| *v);
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_and_owned_names() {
        let names = EnumNames::new(zeyos_schema::schema()).unwrap();
        assert_eq!(names.name("Account", "visibility"), Some("Visibility"));
        assert_eq!(names.name("Task", "priority"), Some("Priority"));
        assert_eq!(names.name("Account", "type"), Some("AccountType"));
        assert_eq!(
            names.name("Transaction", "status"),
            Some("TransactionStatus")
        );
        assert_eq!(names.name(LINE_ITEM, "itemtype"), Some("ItemType"));
        assert_eq!(names.name(LINE_ITEM, "type"), Some("LineItemType"));
        assert_eq!(names.name(LINE_ITEM, "variant"), Some("LineItemVariant"));
    }
}
