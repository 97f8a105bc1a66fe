//! Resource paths: split on raw `/`, decode each segment once, parse it.

use super::expr::ArgMode;
use super::Parser;
use crate::ast::{QualifiedName, ResourcePath, Segment, SegmentKind, Span};
use crate::decode::{percent_decode, raw_offset, PlusMode};
use crate::error::{ParseError, Result};
use crate::Limits;

/// Splits on `/`, except inside the parentheses of a `$filter(...)`
/// segment, whose expression may contain paths. Elsewhere a `/` inside a
/// key must be encoded as `%2F` (the ABNF rejects `Categories('a/b')`).
fn split_segments(raw: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let bytes = raw.as_bytes();
    let (mut start, mut depth, mut i) = (0usize, 0usize, 0usize);
    let mut in_filter = false;
    let mut in_quote = false;
    while let Some(&b) = bytes.get(i) {
        if i == start {
            let seg = raw.get(i..).unwrap_or("");
            in_filter = seg.starts_with("$filter(") || seg.starts_with("$filter%28");
        }
        if in_filter {
            match b {
                b'\'' => in_quote = !in_quote,
                b'(' if !in_quote => depth += 1,
                b')' if !in_quote => depth = depth.saturating_sub(1),
                b'%' if !in_quote => {
                    if raw.get(i..i + 3) == Some("%28") {
                        depth += 1;
                    } else if raw.get(i..i + 3) == Some("%29") {
                        depth = depth.saturating_sub(1);
                    }
                }
                _ => {}
            }
        }
        if b == b'/' && depth == 0 && !in_quote {
            out.push((start, raw.get(start..i).unwrap_or("")));
            start = i + 1;
        }
        i += 1;
    }
    out.push((start, raw.get(start..).unwrap_or("")));
    out
}

/// Parses a resource path relative to the service root.
pub(crate) fn parse_resource_path(raw: &str, limits: Limits) -> Result<ResourcePath> {
    if raw.len() > limits.max_url_length {
        return Err(ParseError::UrlTooLong {
            length: raw.len(),
            max: limits.max_url_length,
        });
    }
    let mut path = ResourcePath {
        segments: Vec::new(),
        span: Span::new(0, raw.len()),
    };
    if raw.is_empty() {
        return Ok(path);
    }
    let mut nodes = 0usize;
    for (index, (at, seg_raw)) in split_segments(raw).into_iter().enumerate() {
        if seg_raw.is_empty() {
            return Err(ParseError::syntax(
                at,
                "a path segment (empty segment)",
                "'/'".into(),
            ));
        }
        nodes += 1;
        if nodes > limits.max_nodes {
            return Err(ParseError::TooManyNodes {
                at: crate::error::Location {
                    offset: at,
                    option: None,
                },
                max: limits.max_nodes,
            });
        }
        let decoded =
            percent_decode(seg_raw, PlusMode::Literal).map_err(|e| e.relocate(|o| o + at, None))?;
        let mut p = Parser::new(&decoded, limits);
        let seg = p
            .resource_segment(index == 0)
            .map(|mut s| {
                s.span = Span::new(at, at + seg_raw.len());
                s
            })
            .map_err(|e| e.relocate(|o| at + raw_offset(seg_raw, o, PlusMode::Literal), None))?;
        check_sequence(&path.segments, &seg, at)?;
        path.segments.push(seg);
    }
    Ok(path)
}

/// Model-free rules about which segment may follow which.
fn check_sequence(prev: &[Segment], seg: &Segment, at: usize) -> Result<()> {
    let Some(last) = prev.last() else {
        return Ok(());
    };
    // point at the '/' that introduced the segment, as the ABNF would
    let bad = |what: &'static str| {
        Err(ParseError::syntax(
            at.saturating_sub(1),
            what,
            format!("{seg}"),
        ))
    };
    match (&last.kind, &seg.kind) {
        (SegmentKind::Metadata | SegmentKind::Batch, _) => bad("nothing after $metadata or $batch"),
        (SegmentKind::Count(_) | SegmentKind::Ref | SegmentKind::Value | SegmentKind::Query, _) => {
            bad("nothing after $count, $ref, $value or $query")
        }
        (SegmentKind::Entity, SegmentKind::Name(n)) if prev.len() == 1 && seg.args.is_empty() => {
            let _ = n;
            Ok(())
        }
        (SegmentKind::Entity, _) => bad("an entity type name after $entity"),
        (SegmentKind::All, SegmentKind::Name(_)) if prev.len() == 1 && seg.args.is_empty() => {
            Ok(())
        }
        (SegmentKind::Crossjoin(_), SegmentKind::Query) => Ok(()),
        (SegmentKind::All | SegmentKind::Crossjoin(_), _) => {
            bad("$query, or a type cast after $all")
        }
        (SegmentKind::Name(_) | SegmentKind::KeyValue(_), _)
            if prev.len() >= 2
                && matches!(
                    prev.first().map(|s| &s.kind),
                    Some(SegmentKind::Entity | SegmentKind::All)
                ) =>
        {
            bad("nothing after the type cast")
        }
        (SegmentKind::Each, SegmentKind::Name(_)) => Ok(()),
        (SegmentKind::Each, _) => bad("a bound action or function after $each"),
        _ => Ok(()),
    }
}

impl Parser<'_> {
    /// One decoded segment. `first`: the first segment of the path.
    fn resource_segment(&mut self, first: bool) -> Result<Segment> {
        let start = self.pos;
        let kind = if self.peek() == Some(b'$') {
            let word_len = self
                .rest()
                .bytes()
                .skip(1)
                .take_while(|b| b.is_ascii_alphabetic())
                .count()
                + 1;
            let word = self.rest().get(..word_len).unwrap_or("");
            let kind = match (first, word) {
                (true, "$metadata") => SegmentKind::Metadata,
                (true, "$batch") => SegmentKind::Batch,
                (true, "$entity") => SegmentKind::Entity,
                (true, "$all") => SegmentKind::All,
                (true, "$crossjoin") => {
                    self.pos += word_len;
                    self.expect(b'(', "'(' after $crossjoin")?;
                    let mut sets = vec![self.expect_ident("an entity set name")?.to_owned()];
                    while self.eat(b',') {
                        sets.push(self.expect_ident("an entity set name")?.to_owned());
                    }
                    self.expect(b')', "',' or ')'")?;
                    self.finish("the end of the segment")?;
                    return Ok(Segment {
                        kind: SegmentKind::Crossjoin(sets),
                        args: Vec::new(),
                        span: self.span(start),
                    });
                }
                (false, "$count") => SegmentKind::Count(None),
                (false, "$ref") => SegmentKind::Ref,
                (false, "$value") => SegmentKind::Value,
                (false, "$each") => SegmentKind::Each,
                (false, "$query") => SegmentKind::Query,
                (false, "$filter") => {
                    self.pos += word_len;
                    let e = self.filter_segment_body()?;
                    let mut seg = Segment {
                        kind: SegmentKind::Filter(Box::new(e)),
                        args: Vec::new(),
                        span: self.span(start),
                    };
                    self.arg_groups(&mut seg, ArgMode::Path)?;
                    self.finish("the end of the segment")?;
                    return Ok(seg);
                }
                _ => return Err(self.err("a valid $-segment here ($metadata, $batch, $entity, $all, $crossjoin first; $count, $ref, $value, $each, $query, $filter later)")),
            };
            self.pos += word_len;
            self.finish("the end of the segment")?;
            kind
        } else {
            let name_start = self.pos;
            match self.qualified_name()? {
                Some(name) if self.at_end() || self.peek() == Some(b'(') => {
                    if first && name.is_qualified() {
                        return Err(self.err_at(name_start + name.namespace.len(), "an entity set, singleton or operation import (no namespace at the service root)"));
                    }
                    let mut seg = Segment {
                        kind: SegmentKind::Name(name),
                        args: Vec::new(),
                        span: self.span(start),
                    };
                    self.arg_groups(&mut seg, ArgMode::Path)?;
                    self.finish("the end of the segment")?;
                    return Ok(seg);
                }
                _ if first => {
                    return Err(self.err("an entity set, singleton or operation import name"));
                }
                _ => {
                    // key-as-segment (`/5`, `/O'Neil`) or ordinal index
                    self.pos = self.src.len();
                    SegmentKind::KeyValue(self.src.to_owned())
                }
            }
        };
        Ok(Segment {
            kind,
            args: Vec::new(),
            span: self.span(start),
        })
    }
}

/// Used by the whole-target parser: `$entity` and `$metadata` restrict
/// which query options may follow.
pub(crate) fn first_is(path: &ResourcePath, f: impl Fn(&SegmentKind) -> bool) -> bool {
    path.segments.first().is_some_and(|s| f(&s.kind))
}

/// The type-cast segment after `$entity`, if any.
pub(crate) fn entity_cast(path: &ResourcePath) -> Option<&QualifiedName> {
    match path.segments.get(1).map(|s| &s.kind) {
        Some(SegmentKind::Name(n)) => Some(n),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use crate::ast::*;
    use crate::*;

    fn path(s: &str) -> ResourcePath {
        match parse_resource_path(s, &Limits::default()) {
            Ok(p) => p,
            Err(e) => panic!("{s:?}: {e}"),
        }
    }

    fn kinds(s: &str) -> Vec<String> {
        path(s).segments.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn resource_paths() {
        assert!(path("").is_service_root());
        assert_eq!(path("$metadata").first(), Some(&SegmentKind::Metadata));
        assert_eq!(path("$batch").first(), Some(&SegmentKind::Batch));
        assert_eq!(
            kinds("Accounts(5)/Contacts/$count"),
            vec!["Accounts(5)", "Contacts", "$count"]
        );
        let p = path("OrderItems(OrderID=1,ItemID='a')");
        assert_eq!(p.segments[0].args[0].items.len(), 2);
        // key as segment: a number is a KeyValue, an identifier stays a Name
        let p = path("Accounts/5/Name/$value");
        assert_eq!(p.segments[1].kind, SegmentKind::KeyValue("5".into()));
        assert_eq!(
            path("People/O%27Neil").segments[1].kind,
            SegmentKind::KeyValue("O'Neil".into())
        );
        assert_eq!(
            path("Categories/Smartphone%2FTablet").segments[1].kind,
            SegmentKind::KeyValue("Smartphone/Tablet".into())
        );
        assert!(matches!(
            path("Employees/A1245").segments[1].kind,
            SegmentKind::Name(_)
        ));
        // casts, bound operations, $ref, $filter segments
        assert_eq!(kinds("Products/Model.Best(1)/Model.Fn(x=@a)/$ref").len(), 4);
        assert!(matches!(
            path("Products/$filter(Address/City eq 'x')/$count").segments[1].kind,
            SegmentKind::Filter(_)
        ));
        assert!(
            matches!(path("$crossjoin(A,B)").segments[0].kind, SegmentKind::Crossjoin(ref v) if v.len() == 2)
        );
    }

    #[test]
    fn invalid_paths() {
        for bad in [
            "Categories('a/b')",
            "Categories(ID=wrong)",
            "Products/$count/foo",
            "A/$ref/$count",
            "A/$value/x",
            "Model.Action",
            "A//B",
            "$metadata/x",
            "A(1;2)",
            "A/$bogus",
        ] {
            assert!(
                parse_resource_path(bad, &Limits::default()).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn whole_targets() {
        let u = parse_uri(
            "Accounts(1)/Contacts?$top=2&$orderby=Name",
            &Limits::default(),
        )
        .unwrap();
        assert_eq!(u.path.segments.len(), 2);
        assert_eq!(u.query.top, Some(2));
        assert_eq!(u.to_string(), "Accounts(1)/Contacts?$orderby=Name&$top=2");
        let e = parse_uri("Accounts?$filter=Name%20eq", &Limits::default()).unwrap_err();
        assert_eq!(e.option(), Some("$filter"));
        assert_eq!(e.offset(), "Accounts?$filter=Name%20eq".len());
        assert!(parse_uri("$entity?$format=json", &Limits::default()).is_err());
        assert!(parse_uri("$entity?$id=urn:x", &Limits::default()).is_ok());
        assert!(parse_uri("$metadata?$top=1", &Limits::default()).is_err());
        assert!(parse_uri("A#frag", &Limits::default()).is_err());
    }

    #[test]
    fn path_display_round_trips() {
        for s in [
            "Accounts(5)/Contacts/$count",
            "People/O%27Neil",
            "Categories/Smartphone%2FTablet",
            "A('x%2Fy')/Ns.T/Ns.F(p=1)/$ref",
        ] {
            let p = path(s);
            assert_eq!(path(&p.to_string()), p, "{s} -> {p}");
        }
    }
}
