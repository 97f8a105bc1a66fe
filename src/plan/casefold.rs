//! When ZeyOS's case-insensitive LIKE can stand in for `tolower`/`toupper`.
//!
//! ZeyOS compares case-insensitively by folding both sides (zeyos-sim: each
//! character to its upper case, then each of those to lower case, the
//! PostgreSQL ILIKE behaviour for the characters that occur in practice).
//! OData's `toupper(P) eq 'KÖLN'` is a different question: whether the upper
//! case of the value *is* the literal. The two agree on most text but not on
//! all of Unicode: the Kelvin sign folds like `K` without being `K` in upper
//! case, `ſ` folds like `s` without being `s` in lower case, `ß` folds to
//! `ss`. This module decides, from Unicode's own mappings, when the ILIKE
//! rows are exactly the OData rows, and when they are only a superset the
//! gateway must re-check.

use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

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

/// The folding ZeyOS applies before comparing case-insensitively.
pub fn fold(text: &str) -> String {
    text.chars()
        .flat_map(char::to_uppercase)
        .flat_map(char::to_lowercase)
        .collect()
}

struct Tables {
    /// Characters that some other character maps onto differently under
    /// the OData mapping than under folding (for `toupper`).
    upper_unsafe: HashSet<char>,
    /// The same for `tolower`.
    lower_unsafe: HashSet<char>,
    /// Characters that occur in a multi-character mapping or folding
    /// (`ß` → `SS`/`ss`, `ﬁ` → `FI`/`fi`): a part match may straddle them.
    in_expansion: HashSet<char>,
    /// The multi-character mappings and foldings themselves.
    expansions: Vec<String>,
}

fn tables() -> &'static Tables {
    static TABLES: OnceLock<Tables> = OnceLock::new();
    TABLES.get_or_init(|| {
        // Group every character by its folding; within a group, folding
        // cannot tell members apart, so a literal character is safe only
        // if every member maps (upper or lower) onto it alike.
        let mut groups: HashMap<String, Vec<char>> = HashMap::new();
        let mut in_expansion = HashSet::new();
        let mut expansions = HashSet::new();
        let caseless = |c: char| {
            c.to_uppercase().eq(std::iter::once(c)) && c.to_lowercase().eq(std::iter::once(c))
        };
        for c in (0u32..=0x10FFFF)
            .filter_map(char::from_u32)
            .filter(|c| !caseless(*c))
        {
            let f = fold(&c.to_string());
            let upper: String = c.to_uppercase().collect();
            let lower: String = c.to_lowercase().collect();
            for mapped in [&f, &upper, &lower] {
                if mapped.chars().count() > 1 {
                    in_expansion.extend(mapped.chars());
                    expansions.insert(mapped.clone());
                }
            }
            if f.chars().count() == 1 && f != c.to_string() || upper != c.to_string() {
                groups.entry(f).or_default().push(c);
            }
        }
        let mut upper_unsafe = HashSet::new();
        let mut lower_unsafe = HashSet::new();
        for (f, mut members) in groups {
            if let Some(fc) = single(&f) {
                members.push(fc);
            }
            let uppers: HashSet<String> = members.iter().map(|c| c.to_uppercase().collect()).collect();
            let lowers: HashSet<String> = members.iter().map(|c| c.to_lowercase().collect()).collect();
            if uppers.len() > 1 {
                for u in &uppers {
                    upper_unsafe.extend(u.chars());
                }
            }
            if lowers.len() > 1 {
                for l in &lowers {
                    lower_unsafe.extend(l.chars());
                }
            }
        }
        Tables {
            upper_unsafe,
            lower_unsafe,
            in_expansion,
            expansions: expansions.into_iter().collect(),
        }
    })
}

fn single(s: &str) -> Option<char> {
    let mut it = s.chars();
    match (it.next(), it.next()) {
        (Some(c), None) => Some(c),
        _ => None,
    }
}

impl CaseFold {
    /// The OData mapping.
    pub fn map(self, text: &str) -> String {
        match self {
            CaseFold::Lower => text.to_lowercase(),
            CaseFold::Upper => text.to_uppercase(),
        }
    }

    /// Whether `mapped(P) <match> literal` holds on exactly the rows where
    /// `P ILIKE literal` does.
    pub fn exact(self, literal: &str, kind: MatchKind) -> bool {
        if self.map(literal) != literal {
            return false;
        }
        let t = tables();
        let unsafe_set = match self {
            CaseFold::Lower => &t.lower_unsafe,
            CaseFold::Upper => &t.upper_unsafe,
        };
        if literal.chars().any(|c| unsafe_set.contains(&c)) {
            return false;
        }
        match kind {
            // A part may straddle a character that expands (`contains(toupper(P),'S')`
            // holds on `ß`).
            MatchKind::Part => !literal.chars().any(|c| t.in_expansion.contains(&c)),
            // A whole value can only be disturbed by an expansion that the
            // literal contains in full, or by a literal character that
            // itself expands when folded.
            MatchKind::Whole => {
                literal.chars().all(|c| single(&fold(&c.to_string())).is_some())
                    && !t.expansions.iter().any(|e| literal.contains(e.as_str()))
            }
        }
    }

    /// Whether every row where `mapped(P) <match> literal` holds also
    /// satisfies `P ILIKE literal` (so ILIKE may narrow the rows and the
    /// gateway re-checks).
    pub fn superset(self, literal: &str) -> bool {
        if self.map(literal) != literal {
            return false;
        }
        match self {
            // fold(x) = lower(upper(x)), so upper(v) = L implies
            // fold(v) = lower(L) = fold(L).
            CaseFold::Upper => true,
            // lower(v) = l implies fold(v) = fold(l) unless v holds a
            // character whose lower case folds differently (`ẞ` → `ß` → `ss`).
            CaseFold::Lower => literal
                .chars()
                .all(|c| fold(&c.to_string()) == fold(&c.to_lowercase().collect::<String>()) && single(&fold(&c.to_string())).is_some()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_ascii_upper_literals_are_exact_but_k_is_not() {
        assert!(CaseFold::Upper.exact("LONDON", MatchKind::Whole));
        // The Kelvin sign folds like K but its upper case is itself.
        assert!(!CaseFold::Upper.exact("KÖLN", MatchKind::Whole));
        assert!(CaseFold::Upper.superset("KÖLN"));
        assert!(CaseFold::Upper.exact("MÜNCHEN", MatchKind::Whole));
    }

    #[test]
    fn lower_literals_with_s_are_only_supersets() {
        // `ſ` folds to s but its lower case is itself.
        assert!(!CaseFold::Lower.exact("paris", MatchKind::Whole));
        assert!(CaseFold::Lower.superset("paris"));
        assert!(CaseFold::Lower.exact("ulm", MatchKind::Whole));
        // `ẞ` lower-cases to ß, which folds to ss: not even a superset.
        assert!(!CaseFold::Lower.superset("straße"));
    }

    #[test]
    fn literals_not_in_the_mapped_case_never_match() {
        assert!(!CaseFold::Upper.exact("London", MatchKind::Whole));
        assert!(!CaseFold::Upper.superset("London"));
    }

    #[test]
    fn folding_agrees_with_the_oracle_on_the_safe_cases() {
        for (value, lit) in [("Köln", "KÖLN"), ("straße", "STRASSE"), ("ﬁsh", "FISH")] {
            assert_eq!(fold(value), fold(lit), "{value} vs {lit}");
            assert_eq!(value.to_uppercase(), lit);
        }
    }
}
