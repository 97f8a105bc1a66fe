//! `$search` expressions.

use std::fmt;

use super::Span;

/// A `$search` expression node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchExpr {
    /// What kind.
    pub kind: SearchKind,
    /// Where it was in the decoded option value.
    pub span: Span,
}

/// Kinds of search expressions. Precedence: `NOT` > `AND` (also implicit,
/// by juxtaposition) > `OR`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchKind {
    /// A single word, e.g. `blue`, `Daniel's`, `3.14`.
    Word(String),
    /// A phrase in double quotes, without the quotes.
    Phrase(String),
    /// The ABNF's `searchExpr-incomplete`: a single-quoted string taken
    /// verbatim (without the quotes, `''` unescaped).
    Quoted(String),
    /// `NOT x`.
    Not(Box<SearchExpr>),
    /// `a AND b` or `a b`.
    And(Box<SearchExpr>, Box<SearchExpr>),
    /// `a OR b`.
    Or(Box<SearchExpr>, Box<SearchExpr>),
}

impl SearchExpr {
    fn prec(&self) -> u8 {
        match self.kind {
            SearchKind::Or(..) => 1,
            SearchKind::And(..) => 2,
            _ => 3,
        }
    }
}

fn operand(f: &mut fmt::Formatter<'_>, e: &SearchExpr, min: u8) -> fmt::Result {
    if e.prec() < min {
        write!(f, "({e})")
    } else {
        write!(f, "{e}")
    }
}

impl fmt::Display for SearchExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            SearchKind::Word(w) => f.write_str(w),
            SearchKind::Phrase(p) => write!(f, "\"{p}\""),
            SearchKind::Quoted(q) => super::expr::quoted(f, q),
            SearchKind::Not(e) => {
                f.write_str("NOT ")?;
                operand(f, e, 3)
            }
            SearchKind::And(a, b) => {
                operand(f, a, 2)?;
                f.write_str(" AND ")?;
                operand(f, b, 3)
            }
            SearchKind::Or(a, b) => {
                operand(f, a, 1)?;
                f.write_str(" OR ")?;
                operand(f, b, 2)
            }
        }
    }
}
