//! System query options, `$select`/`$expand` items, aliases and custom
//! options.

use std::fmt;

use super::{join, Expr, QualifiedName, SearchExpr, Span, Transformation};
use crate::decode::encode_query_value;

/// The query options of a request, or the nested options inside
/// `$expand=Nav(...)`, `$select=Prop(...)` and `$count(...)`.
///
/// Each system option appears at most once (a repeat is an error). Option
/// values are parsed completely; only `$skiptoken`, `$deltatoken`, `$id`
/// and `$schemaversion` stay opaque strings.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct QueryOptions {
    /// `$filter`.
    pub filter: Option<Expr>,
    /// `$search`.
    pub search: Option<SearchExpr>,
    /// `$select`.
    pub select: Option<Vec<SelectItem>>,
    /// `$expand`.
    pub expand: Option<Vec<ExpandItem>>,
    /// `$orderby`.
    pub orderby: Option<Vec<OrderByItem>>,
    /// `$top`.
    pub top: Option<u64>,
    /// `$skip`.
    pub skip: Option<u64>,
    /// `$count=true|false` (the option, not the path segment).
    pub count: Option<bool>,
    /// `$compute`.
    pub compute: Option<Vec<ComputeItem>>,
    /// `$apply`: a pipeline of transformations.
    pub apply: Option<Vec<Transformation>>,
    /// `$levels` (nested in `$expand` only).
    pub levels: Option<Levels>,
    /// `$format`.
    pub format: Option<Format>,
    /// `$skiptoken`, opaque.
    pub skiptoken: Option<String>,
    /// `$deltatoken`, opaque.
    pub deltatoken: Option<String>,
    /// `$index` (may be negative in 4.01).
    pub index: Option<i64>,
    /// `$schemaversion`, opaque.
    pub schemaversion: Option<String>,
    /// `$id` (with `$entity` or `$ref`), opaque IRI.
    pub id: Option<String>,
    /// Parameter aliases `@name=value`, in order.
    pub aliases: Vec<AliasValue>,
    /// Custom options (anything else, including function parameters passed
    /// as `name=value` in the query), in order, decoded.
    pub custom: Vec<CustomOption>,
}

/// `$levels=n` or `$levels=max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Levels {
    /// A positive number.
    N(u32),
    /// `max`.
    Max,
}

/// `$format`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Format {
    /// `json`.
    Json,
    /// `xml`.
    Xml,
    /// `atom`.
    Atom,
    /// A media type such as `application/json;odata.metadata=none`.
    MediaType(String),
}

/// One `$select` item.
#[derive(Debug, Clone, PartialEq)]
pub struct SelectItem {
    /// The path: properties, type casts, annotations, `*`, `Ns.*`.
    pub path: Vec<SelectSegment>,
    /// `(p1,p2)` after an operation name: the overload's parameter names.
    pub params: Option<Vec<String>>,
    /// Nested options `(...;...)`.
    pub options: Option<Box<QueryOptions>>,
    /// Where it was in the decoded option value.
    pub span: Span,
}

/// A segment of a `$select` or `$expand` path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SelectSegment {
    /// `*`.
    Star,
    /// `Ns.*` (all operations of a schema).
    AllOperations(String),
    /// A property, navigation property, type cast or operation name.
    Name(QualifiedName),
    /// `@Ns.Term#Qualifier`.
    Annotation {
        /// The term.
        term: QualifiedName,
        /// The qualifier.
        qualifier: Option<String>,
    },
}

/// One `$expand` item.
#[derive(Debug, Clone, PartialEq)]
pub struct ExpandItem {
    /// The path to the navigation property (or `*`); empty for `$value`.
    pub path: Vec<SelectSegment>,
    /// `/$ref`, `/$count`, or the `$value` item.
    pub suffix: ExpandSuffix,
    /// Nested options.
    pub options: Option<Box<QueryOptions>>,
    /// Where it was.
    pub span: Span,
}

/// What follows an expand path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpandSuffix {
    /// Nothing: expand the entities.
    None,
    /// `/$ref`: expand references only.
    Ref,
    /// `/$count`: expand the count only.
    Count,
    /// The item `$value` (expand the media stream).
    Value,
}

/// One `$orderby` item.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderByItem {
    /// The sort key.
    pub expr: Expr,
    /// `desc` (asc is the default and is not kept).
    pub descending: bool,
    /// Where it was.
    pub span: Span,
}

/// One `$compute` item `expr as Name`.
#[derive(Debug, Clone, PartialEq)]
pub struct ComputeItem {
    /// The expression.
    pub expr: Expr,
    /// The computed property's name.
    pub alias: String,
    /// Where it was.
    pub span: Span,
}

/// A parameter alias definition `@name=value`.
#[derive(Debug, Clone, PartialEq)]
pub struct AliasValue {
    /// The name without `@`.
    pub name: String,
    /// The value: an expression or JSON.
    pub value: Expr,
    /// Where the value was (in the decoded value).
    pub span: Span,
}

/// A custom query option (or a function parameter given as `name=value`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomOption {
    /// The decoded name.
    pub name: String,
    /// The decoded value; `None` if there was no `=`.
    pub value: Option<String>,
    /// Where it was in the raw query string.
    pub span: Span,
}

// ----------------------------------------------------------------- Display

impl fmt::Display for SelectSegment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SelectSegment::Star => f.write_str("*"),
            SelectSegment::AllOperations(ns) => write!(f, "{ns}.*"),
            SelectSegment::Name(n) => write!(f, "{n}"),
            SelectSegment::Annotation { term, qualifier } => {
                write!(f, "@{term}")?;
                if let Some(q) = qualifier {
                    write!(f, "#{q}")?;
                }
                Ok(())
            }
        }
    }
}

impl fmt::Display for SelectItem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        join(f, &self.path, "/")?;
        if let Some(p) = &self.params {
            f.write_str("(")?;
            join(f, p, ",")?;
            f.write_str(")")?;
        }
        if let Some(o) = &self.options {
            write!(f, "({})", o.nested())?;
        }
        Ok(())
    }
}

impl fmt::Display for ExpandItem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        join(f, &self.path, "/")?;
        match self.suffix {
            ExpandSuffix::None => {}
            ExpandSuffix::Ref => f.write_str("/$ref")?,
            ExpandSuffix::Count => f.write_str("/$count")?,
            ExpandSuffix::Value => f.write_str("$value")?,
        }
        if let Some(o) = &self.options {
            write!(f, "({})", o.nested())?;
        }
        Ok(())
    }
}

impl fmt::Display for OrderByItem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.expr)?;
        if self.descending {
            f.write_str(" desc")?;
        }
        Ok(())
    }
}

impl fmt::Display for ComputeItem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} as {}", self.expr, self.alias)
    }
}

impl fmt::Display for Levels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Levels::N(n) => write!(f, "{n}"),
            Levels::Max => f.write_str("max"),
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Format::Json => f.write_str("json"),
            Format::Xml => f.write_str("xml"),
            Format::Atom => f.write_str("atom"),
            Format::MediaType(m) => f.write_str(m),
        }
    }
}

struct Joined<'a, T>(&'a [T], &'static str);
impl<T: fmt::Display> fmt::Display for Joined<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        join(f, self.0, self.1)
    }
}

impl QueryOptions {
    /// Whether no option at all is set.
    pub fn is_empty(&self) -> bool {
        *self == QueryOptions::default()
    }

    /// `(name, decoded value)` pairs in a fixed order: system options,
    /// then aliases, then custom options.
    pub fn pairs(&self) -> Vec<(String, Option<String>)> {
        let mut v: Vec<(String, Option<String>)> = Vec::new();
        let mut push = |n: &str, val: String| v.push((n.to_owned(), Some(val)));
        if let Some(e) = &self.filter {
            push("$filter", e.to_string());
        }
        if let Some(e) = &self.search {
            push("$search", e.to_string());
        }
        if let Some(e) = &self.select {
            push("$select", Joined(e, ",").to_string());
        }
        if let Some(e) = &self.expand {
            push("$expand", Joined(e, ",").to_string());
        }
        if let Some(e) = &self.orderby {
            push("$orderby", Joined(e, ",").to_string());
        }
        if let Some(e) = &self.top {
            push("$top", e.to_string());
        }
        if let Some(e) = &self.skip {
            push("$skip", e.to_string());
        }
        if let Some(e) = &self.count {
            push("$count", e.to_string());
        }
        if let Some(e) = &self.compute {
            push("$compute", Joined(e, ",").to_string());
        }
        if let Some(e) = &self.apply {
            push("$apply", Joined(e, "/").to_string());
        }
        if let Some(e) = &self.levels {
            push("$levels", e.to_string());
        }
        if let Some(e) = &self.format {
            push("$format", e.to_string());
        }
        if let Some(e) = &self.skiptoken {
            push("$skiptoken", e.clone());
        }
        if let Some(e) = &self.deltatoken {
            push("$deltatoken", e.clone());
        }
        if let Some(e) = &self.index {
            push("$index", e.to_string());
        }
        if let Some(e) = &self.schemaversion {
            push("$schemaversion", e.clone());
        }
        if let Some(e) = &self.id {
            push("$id", e.clone());
        }
        for a in &self.aliases {
            v.push((format!("@{}", a.name), Some(a.value.to_string())));
        }
        for c in &self.custom {
            v.push((c.name.clone(), c.value.clone()));
        }
        v
    }

    /// Displays as nested options: `$filter=...;$top=5`, not encoded.
    pub fn nested(&self) -> impl fmt::Display + '_ {
        NestedDisplay(self)
    }
}

struct NestedDisplay<'a>(&'a QueryOptions);
impl fmt::Display for NestedDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (n, v)) in self.0.pairs().into_iter().enumerate() {
            if i > 0 {
                f.write_str(";")?;
            }
            f.write_str(&n)?;
            if let Some(v) = v {
                write!(f, "={v}")?;
            }
        }
        Ok(())
    }
}

impl fmt::Display for QueryOptions {
    /// A percent-encoded query string (without `?`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::new();
        for (i, (n, v)) in self.pairs().into_iter().enumerate() {
            if i > 0 {
                out.push('&');
            }
            // `=` in a custom option's name would move the split point.
            let mut name = String::new();
            encode_query_value(&n, &mut name);
            out.push_str(&name.replace('=', "%3D"));
            if let Some(v) = v {
                out.push('=');
                encode_query_value(&v, &mut out);
            }
        }
        f.write_str(&out)
    }
}
