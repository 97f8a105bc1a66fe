//! When ZeyOS's case-insensitive LIKE can stand in for `tolower`/`toupper`.
//!
//! ZeyOS matches `~~*` (ILIKE) case-insensitively, character by character:
//! two characters match when Unicode's simple case folding puts them in the
//! same class (zeyos-sim does exactly this through the `regex` crate's
//! `(?i)`). OData's `toupper(P) eq 'KÖLN'` asks something else: whether the
//! upper case of the value *is* the literal. The two agree on most text
//! but not on all of Unicode: the Kelvin sign is in `K`'s folding class
//! without being `K` in upper case, `ı` upper-cases to `I` without being in
//! its class, `ß` upper-cases to two characters. This module decides, from
//! Unicode's own tables, when the ILIKE rows are exactly the OData rows,
//! and when they are a superset the gateway re-checks.

use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

use regex_syntax::hir::{ClassUnicode, ClassUnicodeRange};

/// `tolower` or `toupper`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaseFold {
    /// `tolower(P)`.
    Lower,
    /// `toupper(P)`.
    Upper,
}

/// How the literal is matched against the mapped value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchKind {
    /// The whole value (`eq`/`ne`).
    Whole,
    /// A part of it (`contains`, `startswith`, `endswith`).
    Part,
}

/// Inverse case mappings and multi-character expansions, from the standard
/// library's Unicode tables.
struct Tables {
    /// x → every c ≠ x with `c.to_uppercase() == [x]`.
    upper_preimage: HashMap<char, Vec<char>>,
    /// x → every c ≠ x with `c.to_lowercase() == [x]`.
    lower_preimage: HashMap<char, Vec<char>>,
    /// Upper-case mappings longer than one character (`ß` → `SS`).
    upper_expansions: Vec<String>,
    /// Lower-case mappings longer than one character (`İ` → `i̇`).
    lower_expansions: Vec<String>,
}

fn tables() -> &'static Tables {
    static TABLES: OnceLock<Tables> = OnceLock::new();
    TABLES.get_or_init(|| {
        let mut t = Tables {
            upper_preimage: HashMap::new(),
            lower_preimage: HashMap::new(),
            upper_expansions: Vec::new(),
            lower_expansions: Vec::new(),
        };
        for c in (0u32..=0x10FFFF).filter_map(char::from_u32) {
            let upper = c.to_uppercase();
            let lower = c.to_lowercase();
            // Identity mappings are added at lookup time (see `preimage`);
            // only the few thousand cased characters are stored.
            match upper.len() {
                1 => {
                    if let Some(u) = upper.clone().next().filter(|u| *u != c) {
                        t.upper_preimage.entry(u).or_default().push(c);
                    }
                }
                _ => t.upper_expansions.push(upper.collect()),
            }
            match lower.len() {
                1 => {
                    if let Some(l) = lower.clone().next().filter(|l| *l != c) {
                        t.lower_preimage.entry(l).or_default().push(c);
                    }
                }
                _ => t.lower_expansions.push(lower.collect()),
            }
        }
        t
    })
}

/// The characters ZeyOS's ILIKE treats as equal to `c`.
fn fold_class(c: char) -> HashSet<char> {
    let mut class = ClassUnicode::new([ClassUnicodeRange::new(c, c)]);
    class.case_fold_simple();
    class.iter().flat_map(|r| r.start()..=r.end()).collect()
}

impl CaseFold {
    /// The OData mapping of a string.
    pub fn map(self, text: &str) -> String {
        match self {
            CaseFold::Lower => text.to_lowercase(),
            CaseFold::Upper => text.to_uppercase(),
        }
    }

    fn preimage(self, x: char) -> HashSet<char> {
        let t = tables();
        let map = match self {
            CaseFold::Lower => &t.lower_preimage,
            CaseFold::Upper => &t.upper_preimage,
        };
        let mut set: HashSet<char> = map
            .get(&x)
            .map(|v| v.iter().copied().collect())
            .unwrap_or_default();
        if self.map(&x.to_string()) == x.to_string() {
            set.insert(x);
        }
        set
    }

    /// Whether a row character could map into a multi-character string that
    /// overlaps the literal.
    fn touches_expansion(self, literal: &str, kind: MatchKind) -> bool {
        let t = tables();
        let expansions = match self {
            CaseFold::Lower => &t.lower_expansions,
            CaseFold::Upper => &t.upper_expansions,
        };
        expansions.iter().any(|e| match kind {
            MatchKind::Whole => literal.contains(e.as_str()),
            // A part match may also start or end inside an expansion.
            MatchKind::Part => {
                literal.contains(e.as_str())
                    || e.char_indices()
                        .skip(1)
                        .any(|(i, _)| literal.starts_with(&e[i..]) || literal.ends_with(&e[..i]))
            }
        })
    }

    /// Whether `mapped(P) <match> literal` holds on exactly the rows where
    /// `P ILIKE literal` does.
    pub fn exact(self, literal: &str, kind: MatchKind) -> bool {
        self.map(literal) == literal
            && !self.touches_expansion(literal, kind)
            && literal.chars().all(|x| self.preimage(x) == fold_class(x))
    }

    /// Whether every row where `mapped(P) <match> literal` holds also
    /// satisfies `P ILIKE literal`, so ILIKE may narrow the rows while the
    /// gateway re-checks.
    pub fn superset(self, literal: &str, kind: MatchKind) -> bool {
        self.map(literal) == literal
            && !self.touches_expansion(literal, kind)
            && literal
                .chars()
                .all(|x| self.preimage(x).is_subset(&fold_class(x)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_upper_literals_are_exact_but_k_is_only_a_superset() {
        assert!(CaseFold::Upper.exact("LONDON", MatchKind::Whole));
        assert!(CaseFold::Upper.exact("MÜNCHEN", MatchKind::Part));
        // The Kelvin sign matches K under folding but is its own upper case.
        assert!(!CaseFold::Upper.exact("KÖLN", MatchKind::Whole));
        assert!(CaseFold::Upper.superset("KÖLN", MatchKind::Whole));
    }

    #[test]
    fn dotless_i_and_sharp_s_defeat_ilike() {
        // `ı` upper-cases to I but does not fold with it: ILIKE would miss it.
        assert!(!CaseFold::Upper.superset("SMITH", MatchKind::Whole));
        // `ß` upper-cases to SS.
        assert!(!CaseFold::Upper.superset("STRASSE", MatchKind::Whole));
        assert!(!CaseFold::Upper.superset("S", MatchKind::Part));
    }

    #[test]
    fn lower_literals() {
        assert!(CaseFold::Lower.exact("köln", MatchKind::Whole));
        // `K` (Kelvin) lower-cases to k and folds with it.
        assert!(CaseFold::Lower.exact("kö", MatchKind::Part));
        assert!(!CaseFold::Lower.exact("Köln", MatchKind::Whole));
    }

    #[test]
    fn literals_not_in_the_mapped_case_never_qualify() {
        assert!(!CaseFold::Upper.exact("London", MatchKind::Whole));
        assert!(!CaseFold::Upper.superset("London", MatchKind::Whole));
    }
}
