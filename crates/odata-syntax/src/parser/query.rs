//! Query options: the top-level query string and nested option lists.

use super::Parser;
use crate::ast::{
    AliasValue, ComputeItem, CustomOption, ExpandItem, ExpandSuffix, Format, Levels, OrderByItem,
    QueryOptions, SelectItem, SelectSegment, Span,
};
use crate::decode::{percent_decode, raw_offset, PlusMode};
use crate::error::{Location, ParseError, Result};
use crate::Limits;

/// The system query options, by canonical name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Opt {
    Filter,
    Search,
    Select,
    Expand,
    OrderBy,
    Top,
    Skip,
    Count,
    Compute,
    Apply,
    Levels,
    Format,
    SkipToken,
    DeltaToken,
    Index,
    SchemaVersion,
    Id,
}

impl Opt {
    const ALL: [Opt; 17] = [
        Opt::Filter,
        Opt::Search,
        Opt::Select,
        Opt::Expand,
        Opt::OrderBy,
        Opt::Top,
        Opt::Skip,
        Opt::Count,
        Opt::Compute,
        Opt::Apply,
        Opt::Levels,
        Opt::Format,
        Opt::SkipToken,
        Opt::DeltaToken,
        Opt::Index,
        Opt::SchemaVersion,
        Opt::Id,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Opt::Filter => "$filter",
            Opt::Search => "$search",
            Opt::Select => "$select",
            Opt::Expand => "$expand",
            Opt::OrderBy => "$orderby",
            Opt::Top => "$top",
            Opt::Skip => "$skip",
            Opt::Count => "$count",
            Opt::Compute => "$compute",
            Opt::Apply => "$apply",
            Opt::Levels => "$levels",
            Opt::Format => "$format",
            Opt::SkipToken => "$skiptoken",
            Opt::DeltaToken => "$deltatoken",
            Opt::Index => "$index",
            Opt::SchemaVersion => "$schemaversion",
            Opt::Id => "$id",
        }
    }

    fn bit(self) -> u32 {
        1 << (self as u32)
    }

    /// Looks up a name with or without `$`, case-insensitively (4.01).
    pub fn lookup(name: &str) -> Option<Opt> {
        let bare = name.strip_prefix('$').unwrap_or(name);
        Opt::ALL.into_iter().find(|o| {
            o.name()
                .get(1..)
                .is_some_and(|n| n.eq_ignore_ascii_case(bare))
        })
    }
}

/// Which options a context admits (a bit set over [`Opt`], plus aliases).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OptionSet {
    bits: u32,
    aliases: bool,
}

impl OptionSet {
    const fn of(opts: &[Opt], aliases: bool) -> OptionSet {
        let mut bits = 0;
        let mut i = 0;
        while i < opts.len() {
            bits |= 1 << (opts[i] as u32);
            i += 1;
        }
        OptionSet { bits, aliases }
    }

    /// `expandCountOption`: inside `$count(...)`.
    pub const COUNT: OptionSet = OptionSet::of(&[Opt::Filter, Opt::Search], false);
    /// `expandRefOption`: after `/$ref`.
    pub const REF: OptionSet = OptionSet::of(
        &[
            Opt::Filter,
            Opt::Search,
            Opt::OrderBy,
            Opt::Skip,
            Opt::Top,
            Opt::Count,
        ],
        false,
    );
    /// `expandOption` (plus `$apply` from the aggregation extension).
    pub const EXPAND: OptionSet = OptionSet::of(
        &[
            Opt::Filter,
            Opt::Search,
            Opt::OrderBy,
            Opt::Skip,
            Opt::Top,
            Opt::Count,
            Opt::Select,
            Opt::Expand,
            Opt::Compute,
            Opt::Levels,
            Opt::Apply,
        ],
        true,
    );
    /// `$expand=*(...)`: only `$levels`.
    pub const STAR: OptionSet = OptionSet::of(&[Opt::Levels], false);
    /// `selectOption` (a superset of `selectOptionPC`; the binder knows
    /// which properties are collections of primitives).
    pub const SELECT: OptionSet = OptionSet::of(
        &[
            Opt::Filter,
            Opt::Search,
            Opt::OrderBy,
            Opt::Skip,
            Opt::Top,
            Opt::Count,
            Opt::Select,
            Opt::Compute,
        ],
        true,
    );

    fn allows(self, o: Opt) -> bool {
        self.bits & o.bit() != 0
    }
}

fn set<T>(slot: &mut Option<T>, v: T, opt: Opt, at: usize) -> Result<()> {
    if slot.is_some() {
        return Err(ParseError::DuplicateOption {
            at: Location {
                offset: at,
                option: None,
            },
            name: opt.name(),
        });
    }
    *slot = Some(v);
    Ok(())
}

/// Depth charged per level of nested options (see `nested_weighted`).
pub(crate) const NESTED_OPTIONS_WEIGHT: usize = 5;

/// Where a value parser must stop: the end of input (top level) or at `;`
/// / `)` (nested options).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ctx {
    Top,
    Nested,
}

impl Parser<'_> {
    /// At the end of an option value?
    fn value_end(&self, ctx: Ctx) -> bool {
        match ctx {
            Ctx::Top => self.at_end(),
            Ctx::Nested => matches!(self.peek(), Some(b';' | b')')),
        }
    }

    fn expect_value_end(&self, ctx: Ctx) -> Result<()> {
        if self.value_end(ctx) {
            Ok(())
        } else {
            Err(self.err(match ctx {
                Ctx::Top => "the end of the option value",
                Ctx::Nested => "';' or ')'",
            }))
        }
    }

    /// Parses the value of system option `opt` into `q`.
    pub(crate) fn option_value(
        &mut self,
        opt: Opt,
        q: &mut QueryOptions,
        ctx: Ctx,
        at: usize,
    ) -> Result<()> {
        let start = self.pos;
        match opt {
            Opt::Filter => {
                let e = self.expr()?;
                set(&mut q.filter, e, opt, at)?;
            }
            Opt::Search => {
                let e = self.search_option(ctx)?;
                set(&mut q.search, e, opt, at)?;
            }
            Opt::Select => {
                let v = self.list(ctx, |p| p.select_item())?;
                set(&mut q.select, v, opt, at)?;
            }
            Opt::Expand => {
                let v = self.list(ctx, |p| p.expand_item())?;
                set(&mut q.expand, v, opt, at)?;
            }
            Opt::OrderBy => {
                let v = self.list(ctx, |p| p.orderby_item())?;
                set(&mut q.orderby, v, opt, at)?;
            }
            Opt::Compute => {
                let v = self.list(ctx, |p| p.compute_item())?;
                set(&mut q.compute, v, opt, at)?;
            }
            Opt::Apply => {
                let v = self.apply_pipeline()?;
                set(&mut q.apply, v, opt, at)?;
            }
            Opt::Top | Opt::Skip => {
                if self.peek() == Some(b'-') {
                    return Err(self.invalid_at(
                        start,
                        format!("{} must be a non-negative integer", opt.name()),
                    ));
                }
                let n = self.unsigned(opt.name())?;
                if opt == Opt::Top {
                    set(&mut q.top, n, opt, at)?;
                } else {
                    set(&mut q.skip, n, opt, at)?;
                }
            }
            Opt::Count => {
                let v = if self.eat_keyword_ci("true") {
                    true
                } else if self.eat_keyword_ci("false") {
                    false
                } else {
                    return Err(self.err("true or false"));
                };
                set(&mut q.count, v, opt, at)?;
            }
            Opt::Levels => {
                let v = if self.eat_keyword_ci("max") {
                    Levels::Max
                } else {
                    if self.peek() == Some(b'0') {
                        return Err(self.invalid_at(
                            start,
                            "$levels must be a positive integer without leading zeros, or max",
                        ));
                    }
                    let n = self.unsigned("$levels")?;
                    Levels::N(
                        u32::try_from(n)
                            .map_err(|_| self.invalid_at(start, "$levels is too large"))?,
                    )
                };
                set(&mut q.levels, v, opt, at)?;
            }
            Opt::Index => {
                let neg = self.eat(b'-');
                let n = self.unsigned("$index")?;
                let v =
                    i64::try_from(n).map_err(|_| self.invalid_at(start, "$index is too large"))?;
                set(&mut q.index, if neg { -v } else { v }, opt, at)?;
            }
            Opt::Format => {
                let v = self.opaque(ctx);
                let f = if v.eq_ignore_ascii_case("json") {
                    Format::Json
                } else if v.eq_ignore_ascii_case("xml") {
                    Format::Xml
                } else if v.eq_ignore_ascii_case("atom") {
                    Format::Atom
                } else {
                    match v.split_once('/') {
                        Some((t, s)) if !t.is_empty() && !s.is_empty() && !v.contains(' ') => {
                            Format::MediaType(v.to_owned())
                        }
                        _ => return Err(self.err_at(start, "json, xml, atom or a media type")),
                    }
                };
                set(&mut q.format, f, opt, at)?;
            }
            Opt::SkipToken | Opt::DeltaToken | Opt::Id | Opt::SchemaVersion => {
                let v = self.opaque(ctx).to_owned();
                if v.is_empty() {
                    return Err(self.err("a value"));
                }
                if opt == Opt::SchemaVersion
                    && v != "*"
                    && !v
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
                {
                    return Err(self.err_at(
                        start,
                        "* or a version made of letters, digits, '-', '.', '_', '~'",
                    ));
                }
                let slot = match opt {
                    Opt::SkipToken => &mut q.skiptoken,
                    Opt::DeltaToken => &mut q.deltatoken,
                    Opt::Id => &mut q.id,
                    _ => &mut q.schemaversion,
                };
                set(slot, v, opt, at)?;
            }
        }
        self.expect_value_end(ctx)
    }

    /// The rest of an opaque value (to `;`/`)` when nested).
    fn opaque(&mut self, ctx: Ctx) -> &str {
        let start = self.pos;
        while !self.value_end(ctx) {
            self.pos += self.peek_char().map_or(1, char::len_utf8);
        }
        self.src.get(start..self.pos).unwrap_or("")
    }

    /// `1*DIGIT` as u64.
    fn unsigned(&mut self, what: &str) -> Result<u64> {
        let start = self.pos;
        let rest = self.rest();
        let (after, ds) = super::literal::digits(rest).map_err(|_| self.err("digits"))?;
        if ds.is_empty() {
            return Err(self.err(format!("a non-negative integer for {what}")));
        }
        self.pos += rest.len() - after.len();
        ds.parse()
            .map_err(|_| self.invalid_at(start, format!("{what} is too large")))
    }

    /// `item *( COMMA item )`, tolerating whitespace after commas.
    fn list<T>(
        &mut self,
        ctx: Ctx,
        mut item: impl FnMut(&mut Self) -> Result<T>,
    ) -> Result<Vec<T>> {
        let _ = ctx;
        let mut out = vec![item(self)?];
        loop {
            let save = self.pos;
            self.ws();
            if self.eat(b',') {
                self.ws();
                out.push(item(self)?);
            } else {
                self.pos = save;
                return Ok(out);
            }
        }
    }

    /// `( name=value ; ... )` contents; the cursor is after `(`, and stays
    /// on the closing `)`.
    pub(crate) fn nested_options(&mut self, allowed: OptionSet) -> Result<QueryOptions> {
        let mut q = QueryOptions::default();
        loop {
            let at = self.pos;
            if self.eat(b'@') {
                if !allowed.aliases {
                    return Err(self.err_at(at, "a query option allowed here"));
                }
                let name = self.expect_ident("an alias name")?.to_owned();
                if q.aliases.iter().any(|a| a.name == name) {
                    return Err(self.invalid_at(
                        at,
                        format!("the parameter alias @{name} is given more than once"),
                    ));
                }
                self.expect(b'=', "'='")?;
                let vstart = self.pos;
                let value = self.expr()?;
                q.aliases.push(AliasValue {
                    name,
                    value,
                    span: self.span(vstart),
                });
                self.expect_value_end(Ctx::Nested)?;
            } else {
                let dollar = self.eat(b'$');
                let Some(name) = self.ident()? else {
                    return Err(self.err("a query option name"));
                };
                let _ = dollar;
                let Some(opt) = Opt::lookup(name) else {
                    return Err(self.err_at(at, "a system query option"));
                };
                if !allowed.allows(opt) {
                    return Err(self.err_at(at, "a query option allowed here"));
                }
                self.expect(b'=', "'='")?;
                self.option_value(opt, &mut q, Ctx::Nested, at)?;
            }
            if !self.eat(b';') {
                break;
            }
        }
        Ok(q)
    }

    /// A path segment of `$select`/`$expand`: name, annotation, `*`, `Ns.*`.
    fn select_segment(&mut self) -> Result<SelectSegment> {
        if self.eat(b'*') {
            return Ok(SelectSegment::Star);
        }
        if self.eat(b'@') {
            let Some(term) = self.qualified_name()? else {
                return Err(self.err("an annotation term"));
            };
            let qualifier = self.annotation_qualifier()?;
            return Ok(SelectSegment::Annotation { term, qualifier });
        }
        let Some(name) = self.qualified_name()? else {
            return Err(self.err("a property, type or operation name, or '*'"));
        };
        if self.peek() == Some(b'.') && self.peek_at(1) == Some(b'*') {
            self.pos += 2;
            return Ok(SelectSegment::AllOperations(name.to_string()));
        }
        Ok(SelectSegment::Name(name))
    }

    /// Whether `(` at the cursor opens nested options (rather than an
    /// operation's parameter names).
    fn options_follow(&self) -> bool {
        match self.peek_at(1) {
            Some(b'$' | b'@') => true,
            _ => {
                let rest = self.src.get(self.pos + 1..).unwrap_or("");
                let n = rest
                    .bytes()
                    .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
                    .count();
                rest.as_bytes().get(n) == Some(&b'=')
            }
        }
    }

    fn select_item(&mut self) -> Result<SelectItem> {
        self.node()?;
        let start = self.pos;
        let mut path = vec![self.select_segment()?];
        while !matches!(
            path.last(),
            Some(SelectSegment::Star | SelectSegment::AllOperations(_))
        ) && self.peek() == Some(b'/')
        {
            self.pos += 1;
            let seg_at = self.pos;
            let seg = self.select_segment()?;
            if seg == SelectSegment::Star {
                return Err(
                    self.err_at(seg_at, "a property name ('*' only stands alone in $select)")
                );
            }
            path.push(seg);
        }
        if path.len() > 1 && matches!(path.last(), Some(SelectSegment::AllOperations(_))) {
            return Err(self.err_at(start, "Ns.* only at the start of a $select item"));
        }
        let mut item = SelectItem {
            path,
            params: None,
            options: None,
            span: Span::default(),
        };
        if self.peek() == Some(b'(')
            && !matches!(
                item.path.last(),
                Some(SelectSegment::Star | SelectSegment::AllOperations(_))
            )
        {
            if self.options_follow() {
                let o = self.nested_weighted(NESTED_OPTIONS_WEIGHT, |p| {
                    p.pos += 1;
                    let o = p.nested_options(OptionSet::SELECT)?;
                    p.expect(b')', "';' or ')'")?;
                    Ok(o)
                })?;
                item.options = Some(Box::new(o));
            } else {
                self.pos += 1;
                let mut names = vec![self.expect_ident("a parameter name")?.to_owned()];
                while self.eat(b',') {
                    names.push(self.expect_ident("a parameter name")?.to_owned());
                }
                self.expect(b')', "',' or ')'")?;
                item.params = Some(names);
            }
        }
        item.span = self.span(start);
        Ok(item)
    }

    fn expand_item(&mut self) -> Result<ExpandItem> {
        self.node()?;
        let start = self.pos;
        if self.eat_str("$value") {
            return Ok(ExpandItem {
                path: Vec::new(),
                suffix: ExpandSuffix::Value,
                options: None,
                span: self.span(start),
            });
        }
        let mut path = vec![self.select_segment()?];
        let mut suffix = ExpandSuffix::None;
        loop {
            if matches!(path.last(), Some(SelectSegment::AllOperations(_))) {
                return Err(self.err_at(start, "a navigation property"));
            }
            if self.peek() != Some(b'/') {
                break;
            }
            self.pos += 1;
            if self.eat_str("$ref") {
                suffix = ExpandSuffix::Ref;
                break;
            }
            if self.eat_str("$count") {
                if path.last() == Some(&SelectSegment::Star) {
                    return Err(self.err_at(self.pos - 6, "$ref or options after '*'"));
                }
                suffix = ExpandSuffix::Count;
                break;
            }
            if path.last() == Some(&SelectSegment::Star) {
                return Err(self.err("$ref after '*'"));
            }
            path.push(self.select_segment()?);
        }
        let star = path.last() == Some(&SelectSegment::Star);
        let allowed = match suffix {
            ExpandSuffix::Ref => OptionSet::REF,
            ExpandSuffix::Count => OptionSet::COUNT,
            _ if star => OptionSet::STAR,
            _ => OptionSet::EXPAND,
        };
        let mut options = None;
        if self.peek() == Some(b'(') {
            if star && suffix == ExpandSuffix::Ref {
                return Err(self.err("no options after */$ref"));
            }
            let o = self.nested_weighted(NESTED_OPTIONS_WEIGHT, |p| {
                p.pos += 1;
                let o = p.nested_options(allowed)?;
                p.expect(b')', "';' or ')'")?;
                Ok(o)
            })?;
            options = Some(Box::new(o));
        }
        Ok(ExpandItem {
            path,
            suffix,
            options,
            span: self.span(start),
        })
    }

    /// One `$orderby` item (also `orderby(...)` in `$apply`).
    pub(crate) fn orderby_item(&mut self) -> Result<OrderByItem> {
        let start = self.pos;
        let expr = self.expr()?;
        let save = self.pos;
        let mut descending = false;
        if self.ws() > 0 {
            if self.eat_keyword_ci("desc") {
                descending = true;
            } else if !self.eat_keyword_ci("asc") {
                self.pos = save;
            }
        }
        Ok(OrderByItem {
            expr,
            descending,
            span: self.span(start),
        })
    }

    pub(crate) fn compute_item(&mut self) -> Result<ComputeItem> {
        let start = self.pos;
        let expr = self.expr()?;
        self.rws()?;
        if !self.eat_keyword_ci("as") {
            return Err(self.err("'as' and a name"));
        }
        self.rws()?;
        let alias = self
            .expect_ident("the computed property's name")?
            .to_owned();
        Ok(ComputeItem {
            expr,
            alias,
            span: self.span(start),
        })
    }
}

/// Splits, decodes and parses a raw query string (without `?`).
pub(crate) fn parse_query<'a>(raw: &'a str, limits: Limits) -> Result<QueryOptions> {
    let mut q = QueryOptions::default();
    if let Some(i) = raw.find('#') {
        return Err(ParseError::syntax(
            i,
            "no '#' in the query (it starts a fragment)",
            "'#'".into(),
        ));
    }
    let mut offset = 0;
    for pair in raw.split('&') {
        let pair_at = offset;
        offset += pair.len() + 1;
        if pair.is_empty() {
            continue;
        }
        let (raw_name, raw_value) = match pair.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (pair, None),
        };
        let name = percent_decode(raw_name, PlusMode::Space)
            .map_err(|e| e.relocate(|o| o + pair_at, None))?;
        let value_at = pair_at + raw_name.len() + 1;
        let decode_value = |v: &'a str| -> Result<std::borrow::Cow<'a, str>> {
            percent_decode(v, PlusMode::Space)
                .map_err(|e| e.relocate(|o| o + value_at, Some(&name)))
        };
        if let Some(alias) = name.strip_prefix('@') {
            let mut p = Parser::new("", limits);
            if p.ident_ok(alias).is_none() {
                return Err(ParseError::syntax(
                    pair_at + 1,
                    "a parameter alias name after '@'",
                    format!("{alias:?}"),
                ));
            }
            let Some(rv) = raw_value else {
                return Err(ParseError::syntax(
                    pair_at + raw_name.len(),
                    "'=' and the alias value",
                    "end of option".into(),
                ));
            };
            let v = decode_value(rv)?;
            let value = parse_value(&v, limits, |p| {
                let e = p.expr()?;
                p.finish("the end of the alias value")?;
                Ok(e)
            })
            .map_err(|e| {
                e.relocate(
                    |o| value_at + raw_offset(rv, o, PlusMode::Space),
                    Some(&name),
                )
            })?;
            if q.aliases.iter().any(|a| a.name == alias) {
                // Which value would win is not defined (URL Conventions
                // "Parameter Aliases" gives one value per alias).
                return Err(ParseError::invalid(
                    pair_at,
                    format!("the parameter alias @{alias} is given more than once"),
                ));
            }
            q.aliases.push(AliasValue {
                name: alias.to_owned(),
                span: Span::new(0, v.len()),
                value,
            });
            continue;
        }
        if let Some(opt) = Opt::lookup(&name) {
            if opt == Opt::Levels {
                return Err(ParseError::syntax(
                    pair_at,
                    "a query option allowed here ($levels only inside $expand)",
                    format!("{name:?}"),
                ));
            }
            let Some(rv) = raw_value else {
                return Err(ParseError::syntax(
                    pair_at + raw_name.len(),
                    "'=' and a value",
                    "end of option".into(),
                ));
            };
            if opt == Opt::Search {
                // a raw ';' is reserved (the ABNF's searchWord excludes it);
                // an encoded one (%3B) is data
                if let Some(i) = rv.find(';') {
                    return Err(ParseError::syntax(
                        value_at + i,
                        "a search term (';' must be percent-encoded as %3B)",
                        "';'".into(),
                    )
                    .relocate(|o| o, Some(&name)));
                }
            }
            let v = decode_value(rv)?;
            let r = parse_value(&v, limits, |p| p.option_value(opt, &mut q, Ctx::Top, 0));
            if let Err(e) = r {
                let e = match e {
                    ParseError::DuplicateOption { name: n, .. } => ParseError::DuplicateOption {
                        at: Location {
                            offset: pair_at,
                            option: Some(name.to_string()),
                        },
                        name: n,
                    },
                    e => e.relocate(
                        |o| value_at + raw_offset(rv, o, PlusMode::Space),
                        Some(&name),
                    ),
                };
                return Err(e);
            }
            continue;
        }
        if name.starts_with('$') {
            return Err(ParseError::syntax(
                pair_at,
                "a system query option (unknown name)",
                format!("{name:?}"),
            ));
        }
        let value = match raw_value {
            Some(rv) => Some(decode_value(rv)?.into_owned()),
            None => None,
        };
        q.custom.push(CustomOption {
            name: name.into_owned(),
            value,
            span: Span::new(pair_at, pair_at + pair.len()),
        });
    }
    Ok(q)
}

/// Runs `f` over a decoded value with a fresh parser.
pub(crate) fn parse_value<T>(
    v: &str,
    limits: Limits,
    f: impl FnOnce(&mut Parser<'_>) -> Result<T>,
) -> Result<T> {
    let mut p = Parser::new(v, limits);
    f(&mut p)
}

impl Parser<'_> {
    /// Whether `s` is exactly one identifier.
    pub(crate) fn ident_ok(&mut self, s: &str) -> Option<()> {
        let mut chars = s.chars();
        let first = chars.next()?;
        (super::is_ident_start(first)
            && chars.all(super::is_ident_char)
            && s.chars().count() <= 128)
            .then_some(())
    }
}

#[cfg(test)]
mod tests {
    use crate::ast::*;
    use crate::*;

    fn q(s: &str) -> QueryOptions {
        match parse_query(s, &Limits::default()) {
            Ok(q) => q,
            Err(e) => panic!("{s:?}: {e}"),
        }
    }

    fn bad(s: &str) -> ParseError {
        parse_query(s, &Limits::default()).expect_err(s)
    }

    #[test]
    fn options_are_case_insensitive_and_dollar_optional() {
        let o = q(
            "$FILTER=a%20eq%201&Top=5&skip=2&$Count=TRUE&$orderby=Name%20desc,Id&select=Name,Id",
        );
        assert!(o.filter.is_some());
        assert_eq!((o.top, o.skip, o.count), (Some(5), Some(2), Some(true)));
        assert_eq!(o.orderby.as_ref().map(|v| v.len()), Some(2));
        assert!(o.orderby.as_ref().unwrap()[0].descending);
        assert_eq!(o.select.as_ref().map(|v| v.len()), Some(2));
    }

    #[test]
    fn top_and_skip_must_be_non_negative_integers() {
        assert!(matches!(bad("$top=-1"), ParseError::InvalidValue { .. }));
        assert!(bad("$top=abc").to_string().contains("$top"));
        assert!(bad("$skip=1.5").option().is_some());
        assert!(matches!(
            bad("$top=99999999999999999999999"),
            ParseError::InvalidValue { .. }
        ));
    }

    #[test]
    fn repeated_system_options_are_rejected() {
        let e = bad("$top=1&$filter=true&$TOP=2");
        assert!(
            matches!(e, ParseError::DuplicateOption { name: "$top", .. }),
            "{e}"
        );
        assert_eq!(e.offset(), 20);
        assert!(matches!(
            bad("$filter=true&filter=false"),
            ParseError::DuplicateOption { .. }
        ));
        assert!(matches!(
            bad("$expand=A($top=1;$top=2)"),
            ParseError::DuplicateOption { .. }
        ));
    }

    #[test]
    fn percent_decoding_edge_cases() {
        // %27 quotes, '' escapes, + as space, %2B as plus, UTF-8
        let o = q("$filter=Name%20eq%20%27O%27%27Neil%27+and+City+eq+'K%C3%B6ln'");
        assert_eq!(
            o.filter.unwrap().to_string(),
            "Name eq 'O''Neil' and City eq 'Köln'"
        );
        let o = q("$filter=D%20gt%202018-01-26T18:15:00%2B01:00");
        assert!(o.filter.unwrap().to_string().ends_with("+01:00"));
        // the HQ API guide example with a raw '+'
        let o = q("$filter=UpdatedOn gt 2018-01-26T18:15:00+01:00");
        let ExprKind::Binary(b) = o.filter.unwrap().kind else {
            panic!()
        };
        let ExprKind::Literal(Literal::DateTimeOffset(d)) = b.right.kind else {
            panic!()
        };
        assert_eq!(d.offset_minutes, Some(60));
        assert!(matches!(bad("$filter=a%2"), ParseError::Encoding { .. }));
        assert!(matches!(bad("$filter=%FF"), ParseError::Encoding { .. }));
        // decoding happens once: %2527 is the text %27, not a quote
        let o = q("$search=%2527");
        assert_eq!(o.search.unwrap().to_string(), "%27");
    }

    #[test]
    fn error_offsets_point_into_the_raw_query() {
        let raw = "$top=1&$filter=Name%20eq%20";
        let e = bad(raw);
        assert_eq!(e.option(), Some("$filter"));
        assert_eq!(e.offset(), raw.len());
    }

    #[test]
    fn an_alias_given_twice_is_refused() {
        let limits = Limits::default();
        for query in ["@p=1&$top=2&@p=3", "$expand=Nav(@p=1;@p=2)"] {
            let e = parse_query(query, &limits).unwrap_err();
            assert!(
                e.to_string().contains("@p is given more than once"),
                "{query}: {e}"
            );
        }
        assert!(parse_query("@p=1&@q=1", &limits).is_ok());
    }

    #[test]
    fn aliases_and_custom_options() {
        let o = q("$filter=contains(Title,@word)&@word='Black'&@c=%7B%22a%22:1%7D&x-api=1&flag");
        assert_eq!(o.aliases.len(), 2);
        assert_eq!(o.aliases[0].name, "word");
        assert!(matches!(o.aliases[1].value.kind, ExprKind::Object(_)));
        assert_eq!(
            o.custom
                .iter()
                .map(|c| (c.name.as_str(), c.value.as_deref()))
                .collect::<Vec<_>>(),
            vec![("x-api", Some("1")), ("flag", None)]
        );
        assert!(bad("$unknown=1")
            .to_string()
            .contains("system query option"));
    }

    #[test]
    fn format_count_skiptoken() {
        assert_eq!(q("$format=JSON").format, Some(Format::Json));
        assert_eq!(
            q("$format=application/json;odata.metadata=none").format,
            Some(Format::MediaType(
                "application/json;odata.metadata=none".into()
            ))
        );
        assert!(bad("$format=yaml").to_string().contains("media type"));
        assert!(bad("$count=yes").to_string().contains("true or false"));
        assert_eq!(
            q("$skiptoken=abc%3D%3D").skiptoken.as_deref(),
            Some("abc==")
        );
    }

    #[test]
    fn select_and_expand() {
        let o = q("$select=Name,Address/City,Model.Fn(a,b),Model.*,*,@Core.Messages&$expand=Orders($filter=Total%20gt%205;$select=Id;$expand=Items($levels=max);$top=3),Owner/$ref,Tags/$count,*($levels=2)");
        let sel = o.select.unwrap();
        assert_eq!(sel.len(), 6);
        assert_eq!(
            sel[2].params.as_deref(),
            Some(&["a".to_owned(), "b".to_owned()][..])
        );
        assert_eq!(
            sel[3].path,
            vec![SelectSegment::AllOperations("Model".into())]
        );
        let exp = o.expand.unwrap();
        assert_eq!(exp.len(), 4);
        let nested = exp[0].options.as_ref().unwrap();
        assert_eq!(nested.top, Some(3));
        assert_eq!(
            nested.expand.as_ref().unwrap()[0]
                .options
                .as_ref()
                .unwrap()
                .levels,
            Some(Levels::Max)
        );
        assert_eq!(exp[1].suffix, ExpandSuffix::Ref);
        assert_eq!(exp[2].suffix, ExpandSuffix::Count);
        assert!(bad("$expand=A/$ref($select=X)")
            .to_string()
            .contains("allowed"));
        assert!(bad("$expand=A($levels=0)").to_string().contains("levels"));
        assert!(bad("$levels=2").to_string().contains("$expand"));
    }

    #[test]
    fn compute_search_apply() {
        let o = q("$compute=Price%20mul%20Qty%20as%20Total,year(D)%20as%20Y&$search=blue%20OR%20NOT%20%22dark%20red%22");
        assert_eq!(o.compute.unwrap()[1].alias, "Y");
        assert_eq!(o.search.unwrap().to_string(), "blue OR NOT \"dark red\"");
        let o = q("$apply=filter(Amount%20gt%201)/groupby((Customer/Country),aggregate(Amount%20with%20sum%20as%20Total,$count%20as%20N))/orderby(Total%20desc)/top(5)");
        let a = o.apply.unwrap();
        assert_eq!(a.len(), 4);
        assert!(matches!(
            a[1].kind,
            TransformationKind::GroupBy { then: Some(_), .. }
        ));
    }

    #[test]
    fn deep_expand_nesting_is_an_error() {
        let bomb = "$expand=".to_owned() + &"A($expand=".repeat(5_000) + "B" + &")".repeat(5_000);
        let e = parse_query(
            &bomb,
            &Limits {
                max_url_length: 1 << 20,
                ..Limits::default()
            },
        )
        .unwrap_err();
        assert!(matches!(e, ParseError::TooDeep { .. }), "{e}");
    }

    #[test]
    fn url_length_limit() {
        let long = "$filter=".to_owned() + &"a".repeat(9000);
        assert!(matches!(
            parse_query(&long, &Limits::default()),
            Err(ParseError::UrlTooLong { .. })
        ));
    }

    #[test]
    fn query_display_round_trips() {
        for s in [
            "$filter=Name eq 'a%26b' and X eq 1&$top=5&$select=A,B/C&$expand=D($select=E;$filter=F gt 1)&$orderby=G desc,H&@p=1&custom=x%26y",
            "$search=\"a b\" OR c&$compute=A add 1 as B&$count=true&$skip=3&$format=json",
            "$apply=groupby((A,B/C),aggregate(D with sum as E))/filter(E gt 1)",
        ] {
            let a = q(s);
            let text = a.to_string();
            assert_eq!(q(&text), a, "{s} -> {text}");
        }
    }
}
