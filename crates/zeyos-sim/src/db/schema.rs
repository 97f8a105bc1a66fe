//! DDL generated from the schema description.
//!
//! One table per entity, one column per field; composite fields are JSON
//! text, bin files are IDs into `binfiles` (which has a hidden `_content`
//! column). Side tables start with `_` so they can never collide with an
//! entity name.

use rusqlite::Connection;
use zeyos_schema::{Schema, Semantic};

use crate::model::{ident, ColKind};

/// The version of this layout, stored in `_meta` so that a database file
/// written by an incompatible sim is rejected instead of misread.
pub const LAYOUT_VERSION: &str = "1";

/// `CREATE TABLE` statements for every entity and side table.
pub fn ddl(schema: &Schema) -> String {
    let mut sql = String::new();
    for entity in &schema.entities {
        let mut cols = Vec::new();
        for field in &entity.fields {
            if field.semantic == Semantic::Key {
                cols.push(format!("{} INTEGER PRIMARY KEY", ident(&field.name)));
            } else {
                cols.push(format!(
                    "{} {}",
                    ident(&field.name),
                    ColKind::of(field).sql_type()
                ));
            }
        }
        if entity.name == "binfiles" {
            cols.push("\"_content\" BLOB".to_string());
        }
        sql.push_str(&format!(
            "CREATE TABLE {} ({});\n",
            ident(&entity.name),
            cols.join(", ")
        ));
    }
    sql.push_str(
        "CREATE TABLE _extdata (entity TEXT NOT NULL, record INTEGER NOT NULL, name TEXT NOT NULL, \
           value, PRIMARY KEY (entity, record, name)) WITHOUT ROWID;\n\
         CREATE TABLE _tags (entity TEXT NOT NULL, record INTEGER NOT NULL, tag TEXT NOT NULL, \
           PRIMARY KEY (entity, record, tag)) WITHOUT ROWID;\n\
         CREATE TABLE _auth (user INTEGER PRIMARY KEY, password TEXT NOT NULL, admin INTEGER NOT NULL);\n\
         CREATE TABLE _grants (user INTEGER NOT NULL, entity TEXT NOT NULL, writable INTEGER NOT NULL, \
           PRIMARY KEY (user, entity)) WITHOUT ROWID;\n\
         CREATE TABLE _tokens (token TEXT PRIMARY KEY, user INTEGER NOT NULL, application INTEGER, \
           identifier TEXT, created INTEGER NOT NULL);\n\
         CREATE TABLE _meta (key TEXT PRIMARY KEY, value TEXT);\n",
    );
    sql
}

/// Indexes on foreign keys, created after bulk loading (faster than
/// maintaining them row by row). Keys to users and groups are left out:
/// they have few distinct values and are rarely selective.
pub fn indexes(schema: &Schema) -> String {
    let mut sql = String::new();
    for entity in &schema.entities {
        for field in &entity.fields {
            let target = field.references.as_deref().unwrap_or("");
            if field.semantic == Semantic::ForeignKey && target != "users" && target != "groups" {
                sql.push_str(&format!(
                    "CREATE INDEX IF NOT EXISTS {} ON {} ({});\n",
                    ident(&format!("ix_{}_{}", entity.name, field.name)),
                    ident(&entity.name),
                    ident(&field.name)
                ));
            }
        }
    }
    sql
}

/// Creates all tables in an empty database.
pub fn create(conn: &Connection, schema: &Schema) -> rusqlite::Result<()> {
    conn.execute_batch(&ddl(schema))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ddl_executes_for_the_whole_schema() {
        let c = Connection::open_in_memory().unwrap();
        create(&c, zeyos_schema::schema()).unwrap();
        c.execute_batch(&indexes(zeyos_schema::schema())).unwrap();
        let n: i64 = c
            .query_row(
                "SELECT COUNT(*) FROM sqlite_master WHERE type='table' AND name NOT LIKE '\\_%' ESCAPE '\\'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(n as usize, zeyos_schema::schema().entities.len());
    }
}
