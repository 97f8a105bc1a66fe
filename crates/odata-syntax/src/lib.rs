//! # odata-syntax
//!
//! The OData 4.01 URL parser of the ZeyOS gateway: from a request target
//! (resource path and query string) to a syntax tree, with no entity model.
//!
//! Parsing is the first of the gateway's stages (parse → bind → plan →
//! execute → serialize). It decides only what the text says; the binder
//! resolves names against the model. See [`ast`] for the tree and
//! `grammars/odata.abnf` in the repository for the grammar implemented,
//! rule by rule, with its deliberate deviations from the OASIS ABNF.
//!
//! Entry points:
//! - [`parse_uri`]: a whole target relative to the service root, `path?query`.
//! - [`parse_resource_path`]: the path alone (the gateway strips `/odata/`).
//! - [`parse_query`]: a raw query string into typed [`QueryOptions`].
//! - Single rules on decoded text: [`parse_expression`], [`parse_literal`],
//!   [`parse_date_time_offset`], [`parse_search`], [`parse_select`],
//!   [`parse_expand`], [`parse_orderby`], [`parse_apply`], [`parse_prefer`] …
//!
//! Every entry point takes [`Limits`]; see there for the defaults. Errors are
//! [`ParseError`]s with a byte offset, what was expected and the query
//! option they occurred in.
//!
//! ```
//! use odata_syntax::{parse_uri, Limits};
//! let uri = parse_uri(
//!     "Accounts?$filter=startswith(Name,%27Ze%27)%20and%20Revenue%20gt%201000&$top=10",
//!     &Limits::default(),
//! ).unwrap();
//! assert_eq!(uri.query.top, Some(10));
//! assert_eq!(
//!     uri.query.filter.unwrap().to_string(),
//!     "startswith(Name,'Ze') and Revenue gt 1000"
//! );
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod ast;
pub mod decode;
mod error;
mod parser;

pub use ast::*;
pub use error::{Limits, Location, ParseError, Result};

use parser::query::{Ctx, OptionSet};
use parser::Parser;

fn check_len(input: &str, limits: &Limits) -> Result<()> {
    if input.len() > limits.max_url_length {
        Err(ParseError::UrlTooLong {
            length: input.len(),
            max: limits.max_url_length,
        })
    } else {
        Ok(())
    }
}

/// Runs `f` on decoded `text`, requiring it to consume everything.
fn whole<T>(
    text: &str,
    limits: &Limits,
    what: &'static str,
    f: impl FnOnce(&mut Parser<'_>) -> Result<T>,
) -> Result<T> {
    check_len(text, limits)?;
    let mut p = Parser::new(text, *limits);
    let v = f(&mut p)?;
    p.finish(what)?;
    Ok(v)
}

/// Parses a whole request target relative to the service root:
/// `Resource/Path?query`. The raw text is percent-decoded exactly once, per
/// path segment and per query name/value.
///
/// Beyond the path and query rules, enforces what the grammar says about
/// special resources: `$entity` requires `$id` (and `$select`/`$expand`
/// only after a type cast), `$metadata` and `$batch` admit only `$format`
/// and custom options. A raw `#` is rejected (fragments never reach a
/// server).
pub fn parse_uri(target: &str, limits: &Limits) -> Result<ODataUri> {
    check_len(target, limits)?;
    let (raw_path, raw_query) = match target.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (target, None),
    };
    if let Some(i) = raw_path.find('#') {
        return Err(ParseError::syntax(
            i,
            "no '#' (fragments are not part of a request)",
            "'#'".into(),
        ));
    }
    let path = parser::path::parse_resource_path(raw_path, *limits)?;
    let query_at = raw_path.len() + 1;
    let query = match raw_query {
        Some(q) => parser::query::parse_query(q, *limits)
            .map_err(|e| e.relocate(|o| o + query_at, None))?,
        None => QueryOptions::default(),
    };
    use parser::path::first_is;
    if first_is(&path, |k| matches!(k, SegmentKind::Entity)) {
        if query.id.is_none() {
            return Err(ParseError::syntax(
                target.len(),
                "$id (required with $entity)",
                "end of input".into(),
            ));
        }
        if parser::path::entity_cast(&path).is_none()
            && (query.select.is_some() || query.expand.is_some())
        {
            let at = target
                .find("select=")
                .or_else(|| target.find("expand="))
                .unwrap_or(0);
            return Err(ParseError::syntax(
                at.saturating_sub(1),
                "only $id and $format (use $entity/Ns.Type for $select and $expand)",
                "a system query option".into(),
            ));
        }
    }
    if first_is(&path, |k| {
        matches!(k, SegmentKind::Metadata | SegmentKind::Batch)
    }) {
        let only_format = QueryOptions {
            format: query.format.clone(),
            custom: query.custom.clone(),
            ..QueryOptions::default()
        };
        if only_format != query {
            return Err(ParseError::syntax(
                query_at,
                "only $format and custom options for $metadata and $batch",
                "other options".into(),
            ));
        }
    }
    Ok(ODataUri { path, query })
}

/// Parses a resource path relative to the service root (raw, still
/// percent-encoded; no leading `/`). The empty path is the service document.
pub fn parse_resource_path(raw: &str, limits: &Limits) -> Result<ResourcePath> {
    check_len(raw, limits)?;
    if let Some(i) = raw.find(['?', '#']) {
        return Err(ParseError::syntax(
            i,
            "a path without query or fragment",
            format!("{:?}", raw.get(i..i + 1).unwrap_or("")),
        ));
    }
    parser::path::parse_resource_path(raw, *limits)
}

/// Parses a raw query string (without the leading `?`): splits on `&` and
/// the first `=`, decodes each name and value once (`+` is a space), then
/// parses every system option's value completely. Error offsets point into
/// `raw`.
pub fn parse_query(raw: &str, limits: &Limits) -> Result<QueryOptions> {
    check_len(raw, limits)?;
    parser::query::parse_query(raw, *limits)
}

/// Parses one expression (`commonExpr`) from decoded text, e.g. a `$filter`
/// value after percent-decoding.
pub fn parse_expression(text: &str, limits: &Limits) -> Result<Expr> {
    whole(
        text,
        limits,
        "an operator or the end of the expression",
        |p| p.expr(),
    )
}

/// Parses one primitive literal (`primitiveLiteral`) from decoded text.
/// Bare quoted text is a string (`'P1D'` is not a duration here; use
/// [`parse_duration`]).
pub fn parse_literal(text: &str, limits: &Limits) -> Result<Literal> {
    whole(text, limits, "the end of the literal", |p| {
        let at = p.pos;
        let e = p.primary()?;
        match e.kind {
            ExprKind::Literal(l) => Ok(l),
            _ => Err(p.err_at(at, "a primitive literal")),
        }
    })
}

/// Parses a date `YYYY-MM-DD`, validating the calendar.
pub fn parse_date(text: &str) -> Result<Date> {
    whole(text, &Limits::DEFAULT, "the end of the date", |p| {
        p.date()?.ok_or_else(|| p.err("a date YYYY-MM-DD"))
    })
}

/// Parses a dateTimeOffset `YYYY-MM-DDThh:mm[:ss[.fff]](Z|±hh:mm)`.
pub fn parse_date_time_offset(text: &str) -> Result<DateTimeOffset> {
    whole(
        text,
        &Limits::DEFAULT,
        "the end of the dateTimeOffset",
        |p| {
            let start = p.pos;
            let d = p.date()?.ok_or_else(|| p.err("a date YYYY-MM-DD"))?;
            p.date_time_rest(d, start)
        },
    )
}

/// Parses a time of day `hh:mm[:ss[.fff]]`.
pub fn parse_time_of_day(text: &str) -> Result<TimeOfDay> {
    whole(text, &Limits::DEFAULT, "the end of the time", |p| {
        p.time_of_day()?
            .ok_or_else(|| p.err("a time hh:mm[:ss[.fff]]"))
    })
}

/// Parses a duration: `duration'P1D'`, `'P1D'` or the bare value `P1D`.
pub fn parse_duration(text: &str) -> Result<Duration> {
    whole(text, &Limits::DEFAULT, "the end of the duration", |p| {
        if p.starts_with_ci("duration'") {
            p.pos += 8;
        }
        if p.peek() == Some(b'\'') {
            let at = p.pos + 1;
            let body = p.quoted()?;
            p.duration_value(&body, at)
        } else {
            let body = p.rest();
            let d = p.duration_value(body, 0)?;
            p.pos = p.src.len();
            Ok(d)
        }
    })
}

/// Parses a GUID.
pub fn parse_guid(text: &str) -> Result<Guid> {
    whole(text, &Limits::DEFAULT, "the end of the GUID", |p| {
        p.guid()
            .ok_or_else(|| p.err("a GUID 8-4-4-4-12 hex digits"))
    })
}

/// Parses an enum literal `Ns.Type'A,B'` or the short form `'A,B'`.
pub fn parse_enum_literal(text: &str) -> Result<EnumLiteral> {
    whole(text, &Limits::DEFAULT, "the end of the enum literal", |p| {
        let type_name = if p.peek() == Some(b'\'') {
            None
        } else {
            let at = p.pos;
            match p.qualified_name()? {
                Some(n) if n.is_qualified() => Some(n),
                _ => return Err(p.err_at(at, "a qualified enum type name")),
            }
        };
        if p.peek() != Some(b'\'') {
            return Err(p.err("a quoted member list"));
        }
        p.enum_literal(type_name)
    })
}

/// Parses a `$search` expression (decoded).
pub fn parse_search(text: &str, limits: &Limits) -> Result<SearchExpr> {
    whole(text, limits, "the end of the search expression", |p| {
        p.search_option(Ctx::Top)
    })
}

/// Parses a `$select` value (decoded).
pub fn parse_select(text: &str, limits: &Limits) -> Result<Vec<SelectItem>> {
    option_value(text, limits, "$select", |q| q.select.take())
}

/// Parses an `$expand` value (decoded).
pub fn parse_expand(text: &str, limits: &Limits) -> Result<Vec<ExpandItem>> {
    option_value(text, limits, "$expand", |q| q.expand.take())
}

/// Parses an `$orderby` value (decoded).
pub fn parse_orderby(text: &str, limits: &Limits) -> Result<Vec<OrderByItem>> {
    option_value(text, limits, "$orderby", |q| q.orderby.take())
}

/// Parses a `$compute` value (decoded).
pub fn parse_compute(text: &str, limits: &Limits) -> Result<Vec<ComputeItem>> {
    option_value(text, limits, "$compute", |q| q.compute.take())
}

/// Parses an `$apply` value (decoded).
pub fn parse_apply(text: &str, limits: &Limits) -> Result<Vec<Transformation>> {
    option_value(text, limits, "$apply", |q| q.apply.take())
}

/// Parses the nested options of `$expand=Nav(...)`, without the
/// parentheses (decoded), e.g. `$select=Name;$top=5`.
pub fn parse_expand_options(text: &str, limits: &Limits) -> Result<QueryOptions> {
    whole(text, limits, "';' or the end", |p| {
        p.nested_options(OptionSet::EXPAND)
    })
}

fn option_value<T>(
    text: &str,
    limits: &Limits,
    name: &str,
    take: impl FnOnce(&mut QueryOptions) -> Option<T>,
) -> Result<T> {
    let opt = parser::query::Opt::lookup(name)
        .ok_or_else(|| ParseError::syntax(0, "a known option", name.to_owned()))?;
    let mut q = QueryOptions::default();
    whole(text, limits, "the end of the option value", |p| {
        p.option_value(opt, &mut q, Ctx::Top, 0)
    })?;
    take(&mut q).ok_or_else(|| ParseError::syntax(0, "a value", "nothing".into()))
}

/// Parses one preference of a `Prefer` header (`preference` rule).
pub fn parse_preference(text: &str) -> Result<Preference> {
    whole(text, &Limits::DEFAULT, "the end of the preference", |p| {
        p.preference()
    })
}

/// Parses a `Prefer` header value: preferences separated by commas.
pub fn parse_prefer(text: &str) -> Result<Vec<Preference>> {
    whole(
        text,
        &Limits::DEFAULT,
        "',' or the end of the header",
        |p| p.prefer_list(),
    )
}
