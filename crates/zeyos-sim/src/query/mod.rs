//! The ZeyOS query language: request-list parsing, field resolution,
//! filters compiled to SQL with bound parameters, and list execution.
//!
//! Values from a request are never interpolated into SQL: every one becomes
//! a numbered parameter (`?N`) of the [`Sql`] builder, and identifiers only
//! ever come from the schema.

pub mod fields;
pub mod filter;
pub mod list;
pub mod pattern;
pub mod request;

use rusqlite::types::Value as SqlValue;

/// Accumulates bound parameters and the joins a statement needs.
#[derive(Debug, Default)]
pub struct Sql {
    /// Parameter values; `?1` is `params[0]`.
    pub params: Vec<SqlValue>,
    /// `(foreign key field, alias, target table)` of each LEFT JOIN.
    pub joins: Vec<(String, String, String)>,
}

impl Sql {
    /// Binds a value and returns its placeholder.
    pub fn bind(&mut self, v: SqlValue) -> String {
        self.params.push(v);
        format!("?{}", self.params.len())
    }

    /// The alias of the join through foreign key `fk` to `target`, adding
    /// the join on first use.
    pub fn join(&mut self, fk: &str, target: &str) -> String {
        if let Some((_, alias, _)) = self.joins.iter().find(|(f, _, _)| f == fk) {
            return alias.clone();
        }
        let alias = format!("j{}", self.joins.len());
        self.joins
            .push((fk.to_string(), alias.clone(), target.to_string()));
        alias
    }

    /// The `LEFT JOIN` clauses for all joins used so far.
    pub fn join_clauses(&self) -> String {
        use crate::model::ident;
        self.joins
            .iter()
            .map(|(fk, alias, target)| {
                format!(
                    " LEFT JOIN {} AS {alias} ON {alias}.\"ID\" = t.{}",
                    ident(target),
                    ident(fk)
                )
            })
            .collect()
    }
}
