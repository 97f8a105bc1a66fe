//! Resolving field paths: own fields (`lastname`), first-degree joins
//! through a foreign key (`contact.city`) and extdata (`extdata.nickname`).

use rusqlite::types::Value as SqlValue;
use zeyos_schema::{Entity, Field, Semantic};

use super::Sql;
use crate::error::{ApiError, ApiResult};
use crate::model::{ident, ColKind};

/// A resolved field path.
#[derive(Debug, Clone, Copy)]
pub enum FieldRef<'s> {
    /// A field of the entity itself.
    Own(&'s Field),
    /// A field of the row a foreign key points to.
    Join {
        /// The foreign key field of the entity (`contact`).
        fk: &'s Field,
        /// The entity it references (`contacts`).
        target: &'s Entity,
        /// The field of that entity (`city`).
        field: &'s Field,
    },
    /// An extension data value of the entity's record.
    Extdata(&'s str),
}

impl<'s> FieldRef<'s> {
    /// Resolves `path` against `entity`; unknown names are a 400 that
    /// names the path.
    pub fn resolve(entity: &'s Entity, path: &'s str) -> ApiResult<FieldRef<'s>> {
        let schema = zeyos_schema::schema();
        let Some((head, tail)) = path.split_once('.') else {
            return entity.field(path).map(FieldRef::Own).ok_or_else(|| {
                ApiError::bad(format!("Unknown field '{path}' of entity {}", entity.name))
            });
        };
        if head == "extdata" {
            if !entity.extdata {
                return Err(ApiError::bad(format!(
                    "Entity {} has no extdata (field '{path}')",
                    entity.name
                )));
            }
            if tail.is_empty() {
                return Err(ApiError::bad(format!(
                    "Empty extdata field name in '{path}'"
                )));
            }
            return Ok(FieldRef::Extdata(tail));
        }
        let fk = entity.field(head).ok_or_else(|| {
            ApiError::bad(format!(
                "Unknown field '{path}' of entity {}: no field '{head}'",
                entity.name
            ))
        })?;
        let target = match (fk.semantic, fk.references.as_deref()) {
            (Semantic::ForeignKey, Some(t)) => schema.entity(t),
            _ => None,
        }
        .ok_or_else(|| {
            ApiError::bad(format!(
                "Unknown field '{path}' of entity {}: '{head}' is not a relation",
                entity.name
            ))
        })?;
        let field = target.field(tail).ok_or_else(|| {
            ApiError::bad(format!(
                "Unknown field '{path}' of entity {}: {} has no field '{tail}'",
                entity.name, target.name
            ))
        })?;
        Ok(FieldRef::Join { fk, target, field })
    }

    /// The storage class, `None` for extdata (dynamically typed).
    pub fn kind(&self) -> Option<ColKind> {
        match self {
            FieldRef::Own(f) | FieldRef::Join { field: f, .. } => Some(ColKind::of(f)),
            FieldRef::Extdata(_) => None,
        }
    }

    /// An SQL expression for the value, adding joins and parameters to `sql`.
    pub fn expr(&self, entity: &Entity, sql: &mut Sql) -> String {
        match self {
            FieldRef::Own(f) => format!("t.{}", ident(&f.name)),
            FieldRef::Join { fk, target, field } => {
                let alias = sql.join(&fk.name, &target.name);
                format!("{alias}.{}", ident(&field.name))
            }
            FieldRef::Extdata(name) => {
                let e = sql.bind(SqlValue::Text(entity.name.clone()));
                let n = sql.bind(SqlValue::Text((*name).to_string()));
                format!(
                    "(SELECT x.value FROM _extdata AS x WHERE x.entity = {e} AND x.record = t.\"ID\" AND x.name = {n})"
                )
            }
        }
    }
}
