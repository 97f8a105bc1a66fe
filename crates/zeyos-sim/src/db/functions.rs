//! SQL functions implemented in Rust.
//!
//! SQLite's own `LIKE` folds ASCII only and has no default escape
//! character, and it has no regular expressions at all; PostgreSQL's
//! `~`, `~*`, `~~` and `~~*` need both. The query compiler therefore turns
//! every such operator into a Rust regular expression (see
//! [`crate::query::pattern`]) and calls `zs_match(value, regex)`, which
//! compiles each distinct pattern once per statement (SQLite auxiliary data).

use std::sync::Arc;

use regex::Regex;
use rusqlite::functions::FunctionFlags;
use rusqlite::types::ValueRef;
use rusqlite::Connection;

/// The regex engine's compiled-size limit, so that one hostile pattern
/// cannot exhaust memory.
const REGEX_SIZE_LIMIT: usize = 4 << 20;

/// Compiles a pattern the way `zs_match` will; used to validate patterns
/// before a query runs so that a bad one is a 400, not a database error.
pub fn compile(pattern: &str) -> Result<Regex, regex::Error> {
    regex::RegexBuilder::new(pattern)
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
}

/// Registers `zs_match(value, pattern)` on a connection: NULL if either
/// argument is NULL (SQL three-valued logic), else 1 or 0. Non-text values
/// (e.g. numeric extdata) are matched against their text form.
pub fn register(conn: &Connection) -> rusqlite::Result<()> {
    conn.create_scalar_function(
        "zs_match",
        2,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        |ctx| {
            if matches!(ctx.get_raw(1), ValueRef::Null) {
                return Ok(None);
            }
            let re: Arc<Regex> = ctx.get_or_create_aux(
                1,
                |v| -> Result<Regex, Box<dyn std::error::Error + Send + Sync>> {
                    Ok(compile(v.as_str()?)?)
                },
            )?;
            let matched = match ctx.get_raw(0) {
                ValueRef::Null => return Ok(None),
                ValueRef::Text(t) => re.is_match(&String::from_utf8_lossy(t)),
                ValueRef::Integer(i) => re.is_match(&i.to_string()),
                ValueRef::Real(f) => re.is_match(&f.to_string()),
                ValueRef::Blob(b) => re.is_match(&String::from_utf8_lossy(b)),
            };
            Ok(Some(matched))
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn null_in_null_out() {
        let c = Connection::open_in_memory().unwrap();
        register(&c).unwrap();
        let v: Option<bool> = c
            .query_row("SELECT zs_match(NULL, 'a')", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, None);
        let v: Option<bool> = c
            .query_row("SELECT zs_match('Köln', '(?i)KÖLN')", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, Some(true));
        let v: Option<bool> = c
            .query_row("SELECT zs_match(12345, '^123')", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, Some(true));
    }
}
