//! PostgreSQL pattern operators as Rust regular expressions.
//!
//! - `~~` / `~~*` (LIKE / ILIKE): `%` is any sequence, `_` any one
//!   character, backslash escapes the next character (PostgreSQL's default
//!   escape); ILIKE folds case with Unicode simple case folding, so
//!   `köln` ILIKE `KÖLN`. A pattern ending in a lone backslash is an error,
//!   as in PostgreSQL.
//! - `~` / `~*`: the pattern is a regular expression, searched anywhere in
//!   the value. PostgreSQL's defaults are kept where Rust's differ: `.`
//!   matches newlines and `^`/`$` anchor the whole string (`(?s)`). Rust's
//!   syntax is otherwise used as is; see the README for the differences
//!   from PostgreSQL's ARE (no back references or lookaround, no `\m`,
//!   `\M`, `\y`).

use crate::db::functions;
use crate::error::{ApiError, ApiResult};

/// A validated regular expression for a LIKE/ILIKE pattern.
pub fn like(pattern: &str, case_insensitive: bool) -> ApiResult<String> {
    let mut out = String::from(if case_insensitive {
        "(?is)\\A"
    } else {
        "(?s)\\A"
    });
    let mut chars = pattern.chars();
    let mut buf = [0u8; 4];
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(n) => out.push_str(&regex::escape(n.encode_utf8(&mut buf))),
                None => {
                    return Err(ApiError::bad(format!(
                        "LIKE pattern must not end with escape character: {pattern:?}"
                    )))
                }
            },
            '%' => out.push_str(".*"),
            '_' => out.push('.'),
            c => out.push_str(&regex::escape(c.encode_utf8(&mut buf))),
        }
    }
    out.push_str("\\z");
    validate(&out, pattern)?;
    Ok(out)
}

/// A validated regular expression for a `~` / `~*` pattern.
pub fn regex(pattern: &str, case_insensitive: bool) -> ApiResult<String> {
    let out = format!(
        "{}{pattern}",
        if case_insensitive { "(?is)" } else { "(?s)" }
    );
    validate(&out, pattern)?;
    Ok(out)
}

/// A case-insensitive substring search for one `query` term.
pub fn contains_ci(term: &str) -> String {
    format!("(?i){}", regex::escape(term))
}

fn validate(compiled: &str, original: &str) -> ApiResult<()> {
    functions::compile(compiled).map(|_| ()).map_err(|e| {
        let detail = e.to_string().replace('\n', " ");
        let detail = detail.split_whitespace().collect::<Vec<_>>().join(" ");
        ApiError::bad(format!("invalid regular expression {original:?}: {detail}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(re: &str, s: &str) -> bool {
        functions::compile(re).unwrap().is_match(s)
    }

    #[test]
    fn like_wildcards_and_escapes() {
        assert!(m(&like("a%c", false).unwrap(), "abbbc"));
        assert!(m(&like("a_c", false).unwrap(), "aöc"));
        assert!(!m(&like("a_c", false).unwrap(), "ac"));
        assert!(m(&like("100\\%", false).unwrap(), "100%"));
        assert!(!m(&like("100\\%", false).unwrap(), "1000"));
        assert!(m(&like("a\\\\b", false).unwrap(), "a\\b"));
        assert!(m(&like("%.%", false).unwrap(), "a.b"));
        assert!(!m(&like("%.%", false).unwrap(), "ab"));
        assert!(!m(&like("abc", false).unwrap(), "ABC"));
        assert!(m(&like("köln", true).unwrap(), "KÖLN"));
        assert!(m(&like("a%", false).unwrap(), "a\nb"));
        assert!(like("abc\\", false).is_err());
    }

    #[test]
    fn regex_defaults() {
        assert!(m(&regex("^a.b$", false).unwrap(), "a\nb"));
        assert!(m(&regex("ÖL", true).unwrap(), "köln"));
        assert!(regex("(", false).is_err());
    }
}
