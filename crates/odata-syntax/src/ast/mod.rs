//! The syntax tree: what the client wrote, with no entity model applied.
//!
//! Split by family as sqlparser-rs does and re-exported flat:
//! [`literal`] (primitive values), [`expr`] (the `$filter`/`$orderby`
//! expression language, member paths), [`path`] (resource paths),
//! [`query`] (system query options, `$select`/`$expand` items, aliases,
//! custom options), [`search`] (`$search`), [`apply`] (`$apply`
//! transformations).
//!
//! Names stay names. Whether `Orders` is a property, a navigation property,
//! an entity set or a function, and whether `/Accounts/5` addresses a key,
//! is decided by the binder. What *is* syntactically decidable is kept
//! distinct: unqualified canonical function calls ([`ExprKind::Call`]) versus
//! qualified or bound operations (a [`Segment`] named by a [`QualifiedName`]
//! with an argument list), enum literals with their type name, and qualified
//! type names in `cast`/`isof`.
//!
//! Every node carries a [`Span`] into the decoded text it was parsed from and
//! implements `Display` so that text → tree → text → tree round-trips.

pub mod apply;
pub mod expr;
pub mod literal;
pub mod path;
pub mod prefer;
pub mod query;
pub mod search;

pub use apply::*;
pub use expr::*;
pub use literal::*;
pub use path::*;
pub use prefer::*;
pub use query::*;
pub use search::*;

use std::fmt;

/// A byte range `start..end` into the decoded text a node was parsed from
/// (for query options: the decoded option value).
///
/// Spans never take part in equality: two trees are equal when they have the
/// same structure, wherever in the input they came from. That is what makes
/// `parse(display(tree)) == tree` a meaningful round-trip check. Compare
/// `start`/`end` directly where positions matter.
#[derive(Debug, Clone, Copy, Default, Eq)]
pub struct Span {
    /// First byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
}

impl Span {
    /// A span from `start` to `end`.
    pub fn new(start: usize, end: usize) -> Self {
        Span { start, end }
    }
}

impl PartialEq for Span {
    fn eq(&self, _: &Span) -> bool {
        true
    }
}

impl std::hash::Hash for Span {
    fn hash<H: std::hash::Hasher>(&self, _: &mut H) {}
}

/// An OData identifier (`odataIdentifier`): a letter or `_` followed by up to
/// 127 letters, digits or `_` (Unicode letters included).
pub type Ident = String;

/// A possibly namespace-qualified name: `Name`, `Model.Customer`,
/// `Org.OData.Core.V1.Messages`. The namespace is everything before the last
/// dot; it is empty for unqualified names.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct QualifiedName {
    /// The namespace or alias, without the trailing dot; empty if unqualified.
    pub namespace: String,
    /// The last identifier.
    pub name: Ident,
}

impl QualifiedName {
    /// An unqualified name.
    pub fn simple(name: impl Into<String>) -> Self {
        QualifiedName {
            namespace: String::new(),
            name: name.into(),
        }
    }

    /// Whether the name has a namespace.
    pub fn is_qualified(&self) -> bool {
        !self.namespace.is_empty()
    }
}

impl fmt::Display for QualifiedName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.namespace.is_empty() {
            f.write_str(&self.name)
        } else {
            write!(f, "{}.{}", self.namespace, self.name)
        }
    }
}

/// Writes `items` separated by `sep`.
pub(crate) fn join<T: fmt::Display>(
    f: &mut fmt::Formatter<'_>,
    items: &[T],
    sep: &str,
) -> fmt::Result {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(sep)?;
        }
        write!(f, "{item}")?;
    }
    Ok(())
}
