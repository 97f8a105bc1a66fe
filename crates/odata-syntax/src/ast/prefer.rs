//! Preferences of the `Prefer` request header.

/// One preference of a `Prefer` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Preference {
    /// `odata.allow-entityreferences`.
    AllowEntityReferences,
    /// `odata.callback;url="..."`.
    Callback(String),
    /// `odata.continue-on-error[=bool]`.
    ContinueOnError(Option<bool>),
    /// `odata.include-annotations="..."`.
    IncludeAnnotations(Vec<AnnotationFilter>),
    /// `odata.maxpagesize=n` (n > 0).
    MaxPageSize(u64),
    /// `omit-values=nulls|defaults`.
    OmitValues {
        /// `defaults` (true) or `nulls` (false).
        defaults: bool,
    },
    /// `respond-async`.
    RespondAsync,
    /// `return=minimal|representation`.
    Return {
        /// `minimal` (true) or `representation` (false).
        minimal: bool,
    },
    /// `odata.track-changes`.
    TrackChanges,
    /// `wait=n`.
    Wait(u64),
    /// Any other RFC 7240 preference, kept for the caller to ignore.
    Other {
        /// The token.
        name: String,
        /// Its value, if any.
        value: Option<String>,
    },
}

/// One entry of `include-annotations`: `*`, `Ns.*`, `Ns.Term`, optionally
/// excluded with `-` and restricted to a `#qualifier`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnnotationFilter {
    /// Leading `-`.
    pub exclude: bool,
    /// `*`, `Ns.*` or `Ns.Term`.
    pub pattern: String,
    /// `#qualifier`.
    pub qualifier: Option<String>,
}
