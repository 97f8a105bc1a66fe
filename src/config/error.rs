//! Configuration errors that name the file, the line and the problem.
//!
//! `config.toml` is user input: every problem found in it stops start-up
//! with a message an operator can act on without reading code, e.g.
//! `config.toml:42:8: unknown field `lastnme` of ZeyOS entity `accounts``.

use std::fmt;
use std::ops::Range;
use std::sync::Arc;

/// The text of a configuration file, kept so that byte spans recorded while
/// parsing can be turned into lines and columns when a later check fails.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Source {
    /// The file name as given to the loader (shown in messages).
    pub file: String,
    /// The file's text.
    pub text: String,
}

impl fmt::Debug for Source {
    // The whole file in every debug print of a service would bury the rest.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Source({:?}, {} bytes)", self.file, self.text.len())
    }
}

impl Source {
    /// A source for `text` read from `file`.
    pub fn new(file: impl Into<String>, text: impl Into<String>) -> Arc<Self> {
        Arc::new(Self {
            file: file.into(),
            text: text.into(),
        })
    }

    /// The location of a byte span's start (1-based line and column).
    pub fn locate(&self, span: &Range<usize>) -> Location {
        if self.text.is_empty() && span.start == 0 {
            return Location::file_only(&self.file);
        }
        let start = span.start.min(self.text.len());
        let before = self.text.get(..start).unwrap_or(&self.text);
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before[line_start..].chars().count() + 1;
        Location {
            file: self.file.clone(),
            line,
            column,
        }
    }

    /// An error for the problem at `span`.
    pub fn error(&self, span: &Range<usize>, problem: Problem) -> ConfigError {
        ConfigError::Invalid {
            location: self.locate(span),
            problem,
        }
    }
}

/// Where in the configuration a problem is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The file name.
    pub file: String,
    /// 1-based line; 0 when the position is unknown (a configuration built
    /// in code rather than read from a file).
    pub line: usize,
    /// 1-based column (in characters).
    pub column: usize,
}

impl Location {
    /// A location that names only the file.
    pub fn file_only(file: &str) -> Self {
        Self {
            file: file.to_owned(),
            line: 0,
            column: 0,
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}", self.file)
        } else {
            write!(f, "{}:{}:{}", self.file, self.line, self.column)
        }
    }
}

/// Why the configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{file}: cannot read the configuration: {source}")]
    Read {
        /// The file name.
        file: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid TOML, or a value has the wrong TOML type, or a
    /// key is unknown.
    #[error("{location}: {message}")]
    Syntax {
        /// Where.
        location: Location,
        /// The parser's description.
        message: String,
    },
    /// The file is valid TOML but a value is not acceptable.
    #[error("{location}: {problem}")]
    Invalid {
        /// Where.
        location: Location,
        /// What is wrong.
        problem: Problem,
    },
}

impl ConfigError {
    /// Where the problem is, when known.
    pub fn location(&self) -> Option<&Location> {
        match self {
            Self::Read { .. } => None,
            Self::Syntax { location, .. } | Self::Invalid { location, .. } => Some(location),
        }
    }

    /// The semantic problem, for errors past TOML parsing.
    pub fn problem(&self) -> Option<&Problem> {
        match self {
            Self::Invalid { problem, .. } => Some(problem),
            _ => None,
        }
    }
}

/// A semantic problem in an otherwise well-formed configuration.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Problem {
    /// An entity name that the ZeyOS schema does not have.
    #[error("unknown ZeyOS entity `{name}`{hint}")]
    UnknownEntity {
        /// The name given.
        name: String,
        /// `; did you mean ...?`, or empty.
        hint: Hint,
    },
    /// A field name that the entity does not have.
    #[error("unknown field `{field}` of ZeyOS entity `{entity}`{hint}")]
    UnknownField {
        /// The entity.
        entity: String,
        /// The name given.
        field: String,
        /// `; did you mean ...?`, or empty.
        hint: Hint,
    },
    /// A name used twice where names must be unique.
    #[error("duplicate {what} `{name}`{earlier}")]
    DuplicateName {
        /// What kind of name (entity set, property, service root...).
        what: &'static str,
        /// The name.
        name: String,
        /// ` (first used at line N)` or a short explanation, or empty.
        earlier: String,
    },
    /// A name that is not an OData identifier.
    #[error("invalid {what} `{name}`: {reason}")]
    InvalidIdentifier {
        /// What kind of name.
        what: &'static str,
        /// The name.
        name: String,
        /// Why not.
        reason: &'static str,
    },
    /// A URL that cannot be used.
    #[error("bad URL `{url}` for `{key}`: {reason}")]
    BadUrl {
        /// The key.
        key: &'static str,
        /// The value.
        url: String,
        /// Why not.
        reason: String,
    },
    /// A listen address that is not `host:port`.
    #[error("bad listen address `{value}`: {reason}")]
    BadListenAddress {
        /// The value.
        value: String,
        /// Why not.
        reason: String,
    },
    /// A number out of its range.
    #[error("bad value {value} for `{key}`: {reason}")]
    BadNumber {
        /// The key.
        key: String,
        /// The value.
        value: i64,
        /// Why not.
        reason: String,
    },
    /// Any other unacceptable value.
    #[error("bad value for `{key}`: {reason}")]
    BadValue {
        /// The key.
        key: String,
        /// Why not.
        reason: String,
    },
    /// `env:VAR` names a variable that is not set.
    #[error("environment variable `{var}` named by `{key}` is not set")]
    MissingEnv {
        /// The key.
        key: &'static str,
        /// The variable.
        var: String,
    },
    /// A ZeyOS name the curated word list cannot split (a defect of the
    /// word list, reported with the configuration line that exposed it).
    #[error("{0}")]
    UnknownWords(String),
}

/// An optional "did you mean" suffix for unknown names.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Hint(pub Option<String>);

impl fmt::Display for Hint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Some(name) => write!(f, "; did you mean `{name}`?"),
            None => Ok(()),
        }
    }
}

impl Hint {
    /// The candidate closest to `name`, if it is close enough to be a typo.
    /// Of equally close candidates, the one that starts like `name` wins
    /// (`toupr` suggests `toupper`, not `hour`): typos are rarer at the
    /// start of a word.
    pub fn closest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Self {
        let name = name.to_lowercase();
        let best = candidates
            .into_iter()
            .map(|c| {
                let lower = c.to_lowercase();
                let prefix = name
                    .chars()
                    .zip(lower.chars())
                    .take_while(|(a, b)| a == b)
                    .count();
                (edit_distance(&name, &lower), std::cmp::Reverse(prefix), c)
            })
            .min();
        match best {
            Some((d, _, c)) if d <= 2.max(name.len() / 4) => Self(Some(c.to_owned())),
            _ => Self(None),
        }
    }
}

/// Levenshtein distance, for typo hints.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locates_lines_and_columns() {
        let src = Source::new("c.toml", "a = 1\nbb = 2\n");
        let loc = src.locate(&(9..10));
        assert_eq!((loc.line, loc.column), (2, 4));
        assert_eq!(loc.to_string(), "c.toml:2:4");
    }

    #[test]
    fn hints_close_names_only() {
        assert_eq!(
            Hint::closest("acounts", ["accounts", "contacts"])
                .0
                .as_deref(),
            Some("accounts")
        );
        assert_eq!(Hint::closest("zzz", ["accounts"]).0, None);
        // Equally close: the one that starts alike.
        assert_eq!(
            Hint::closest("toupr", ["hour", "toupper"]).0.as_deref(),
            Some("toupper")
        );
    }
}
