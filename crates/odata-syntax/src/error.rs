//! Parse errors and the limits that bound the parser's work.

use std::borrow::Cow;
use std::fmt;

/// Bounds on the work one request may cause.
///
/// The parser is the first code an attacker reaches, so every dimension that
/// grows with the input is capped: the raw length, the nesting depth of any
/// recursive construct (parentheses, `not`/`-` chains, function arguments,
/// lambdas, JSON arrays, nested `$expand`/`$select` options) and the total
/// number of syntax-tree nodes. Exceeding one yields its own error variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Maximum length in bytes of the raw (still percent-encoded) input.
    pub max_url_length: usize,
    /// Maximum nesting depth of recursive constructs.
    pub max_depth: usize,
    /// Maximum number of syntax-tree nodes in one option value (one
    /// `$filter`, one `$expand`, ...) or one path; the URL length bounds
    /// how many of those a request can have.
    pub max_nodes: usize,
}

impl Limits {
    /// The defaults: 8 KiB of URL (what most HTTP servers and proxies accept
    /// for a request line), depth 50 (sqlparser-rs' default too: far beyond
    /// any generated query, and the deepest input stays under 1 MiB of stack
    /// even in an unoptimised build, half of a 2 MiB thread), and 10,000
    /// nodes.
    pub const DEFAULT: Limits = Limits {
        max_url_length: 8 * 1024,
        max_depth: 50,
        max_nodes: 10_000,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Limits::DEFAULT
    }
}

/// Where in the input an error happened, and in which query option.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Location {
    /// Byte offset. For entry points given raw (percent-encoded) text this is
    /// an offset into that raw text; for entry points given decoded text it
    /// is an offset into the decoded text.
    pub offset: usize,
    /// The query option the error occurred in, e.g. `$filter`, as written by
    /// the client; `None` in the resource path or for single-rule entry points.
    pub option: Option<String>,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.option {
            Some(o) => write!(f, "in {o} at byte {}", self.offset),
            None => write!(f, "at byte {}", self.offset),
        }
    }
}

/// Everything that can go wrong while parsing. Each variant carries its
/// [`Location`]; the gateway turns each into a `400 Bad Request` pointing at
/// the problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// The input does not match the grammar.
    #[error("syntax error {at}: expected {expected}, found {found}")]
    Syntax {
        /// Where.
        at: Location,
        /// What the grammar allowed there.
        expected: Cow<'static, str>,
        /// What was there instead (a short excerpt or "end of input").
        found: String,
    },
    /// Syntactically well-formed, but the value is out of range or invalid,
    /// e.g. `2021-02-30`, hour 25, `$top=-1`.
    #[error("invalid value {at}: {message}")]
    InvalidValue {
        /// Where.
        at: Location,
        /// What is wrong with the value.
        message: Cow<'static, str>,
    },
    /// A system query option was given more than once.
    #[error("duplicate system query option {name} {at}")]
    DuplicateOption {
        /// Where the second occurrence starts.
        at: Location,
        /// The option's canonical name, e.g. `$filter`.
        name: &'static str,
    },
    /// A `%` not followed by two hex digits, or decoded bytes that are not UTF-8.
    #[error("invalid percent-encoding {at}: {message}")]
    Encoding {
        /// Where.
        at: Location,
        /// What is wrong.
        message: Cow<'static, str>,
    },
    /// The raw input is longer than [`Limits::max_url_length`].
    #[error("URL too long: {length} bytes, the limit is {max}")]
    UrlTooLong {
        /// The input's length.
        length: usize,
        /// The limit.
        max: usize,
    },
    /// Nesting deeper than [`Limits::max_depth`].
    #[error("expression nested too deeply {at}: the limit is {max} levels, and a parenthesised group, a function call or the right operand of an operator each takes one or two; remove redundant parentheses or write long chains flat (`a or b or c`)")]
    TooDeep {
        /// Where the limit was crossed.
        at: Location,
        /// The limit.
        max: usize,
    },
    /// More syntax-tree nodes than [`Limits::max_nodes`].
    #[error("expression too large {at}: more than {max} nodes")]
    TooManyNodes {
        /// Where the limit was crossed.
        at: Location,
        /// The limit.
        max: usize,
    },
}

impl ParseError {
    /// The error's location, if it has one (all but [`ParseError::UrlTooLong`]).
    pub fn location(&self) -> Option<&Location> {
        match self {
            ParseError::Syntax { at, .. }
            | ParseError::InvalidValue { at, .. }
            | ParseError::DuplicateOption { at, .. }
            | ParseError::Encoding { at, .. }
            | ParseError::TooDeep { at, .. }
            | ParseError::TooManyNodes { at, .. } => Some(at),
            ParseError::UrlTooLong { .. } => None,
        }
    }

    /// The byte offset of the problem (0 for [`ParseError::UrlTooLong`]).
    pub fn offset(&self) -> usize {
        self.location().map_or(0, |l| l.offset)
    }

    /// The query option the error occurred in, if any.
    pub fn option(&self) -> Option<&str> {
        self.location().and_then(|l| l.option.as_deref())
    }

    fn location_mut(&mut self) -> Option<&mut Location> {
        match self {
            ParseError::Syntax { at, .. }
            | ParseError::InvalidValue { at, .. }
            | ParseError::DuplicateOption { at, .. }
            | ParseError::Encoding { at, .. }
            | ParseError::TooDeep { at, .. }
            | ParseError::TooManyNodes { at, .. } => Some(at),
            ParseError::UrlTooLong { .. } => None,
        }
    }

    /// Re-bases the offset (`f` maps the old offset to the new one) and sets
    /// the option name if none is set yet. Used when an error found in a
    /// decoded option value is reported against the raw query string.
    pub(crate) fn relocate(mut self, f: impl FnOnce(usize) -> usize, option: Option<&str>) -> Self {
        if let Some(at) = self.location_mut() {
            at.offset = f(at.offset);
            if at.option.is_none() {
                at.option = option.map(str::to_owned);
            }
        }
        self
    }

    pub(crate) fn syntax(
        offset: usize,
        expected: impl Into<Cow<'static, str>>,
        found: String,
    ) -> Self {
        ParseError::Syntax {
            at: Location {
                offset,
                option: None,
            },
            expected: expected.into(),
            found,
        }
    }

    pub(crate) fn invalid(offset: usize, message: impl Into<Cow<'static, str>>) -> Self {
        ParseError::InvalidValue {
            at: Location {
                offset,
                option: None,
            },
            message: message.into(),
        }
    }
}

/// Shorthand for results of this crate.
pub type Result<T, E = ParseError> = std::result::Result<T, E>;
