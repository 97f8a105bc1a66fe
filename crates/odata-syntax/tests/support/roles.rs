//! Applies the test file's `Constraints` (which names are entity sets,
//! navigation properties, functions...) to parsed trees: a tiny stand-in
//! for the binder. It can only reject what the parser accepted.

#![allow(dead_code)]

use std::collections::HashMap;

use odata_syntax::*;

pub struct Roles<'a> {
    c: &'a HashMap<String, Vec<String>>,
}

impl<'a> Roles<'a> {
    pub fn new(c: &'a HashMap<String, Vec<String>>) -> Self {
        Roles { c }
    }

    pub fn is(&self, role: &str, name: &str) -> bool {
        self.c
            .get(role)
            .is_some_and(|v| v.iter().any(|n| n == name))
    }

    pub fn check_uri(&self, u: &ODataUri) -> Result<(), String> {
        self.check_path(&u.path)?;
        self.check_query(&u.query)
    }

    fn is_any(&self, roles: &[&str], name: &str) -> bool {
        roles.iter().any(|r| self.is(r, name))
    }

    /// Model rules the parser cannot know: function imports only at the
    /// root, `$value` only after primitive properties or media entities,
    /// at most one type cast in a row.
    pub fn check_path(&self, p: &ResourcePath) -> Result<(), String> {
        const IMPORTS: [&str; 6] = [
            "entityFunctionImport",
            "entityColFunctionImport",
            "complexFunctionImport",
            "complexColFunctionImport",
            "primitiveFunctionImport",
            "primitiveColFunctionImport",
        ];
        const BOUND: [&str; 7] = [
            "entityFunction",
            "entityColFunction",
            "complexFunction",
            "complexColFunction",
            "primitiveFunction",
            "primitiveColFunction",
            "action",
        ];
        let mut prev: Option<&Segment> = None;
        for (i, seg) in p.segments.iter().enumerate() {
            if let SegmentKind::Name(n) = &seg.kind {
                if i > 0 && self.is_any(&IMPORTS, &n.name) && !self.is_any(&BOUND, &n.name) {
                    return Err(format!(
                        "{n} is an operation import, only allowed at the service root"
                    ));
                }
                if let Some(Segment {
                    kind: SegmentKind::Name(pn),
                    args,
                    ..
                }) = prev
                {
                    if args.is_empty()
                        && seg.args.is_empty()
                        && pn.is_qualified()
                        && n.is_qualified()
                        && self.is("entityTypeName", &pn.name)
                        && self.is("entityTypeName", &n.name)
                    {
                        return Err("two type casts in a row".into());
                    }
                }
            }
            if seg.kind == SegmentKind::Value {
                if let Some(Segment {
                    kind: SegmentKind::Name(pn),
                    ..
                }) = prev
                {
                    if self.is_any(
                        &["complexProperty", "complexColProperty", "streamProperty"],
                        &pn.name,
                    ) {
                        return Err(format!("$value after {pn}, which is not primitive"));
                    }
                }
            }
            prev = Some(seg);
        }
        Ok(())
    }

    pub fn check_query(&self, _q: &QueryOptions) -> Result<(), String> {
        Ok(())
    }

    pub fn check_expr(&self, _e: &Expr) -> Result<(), String> {
        Ok(())
    }
}

/// `odataUri`: scheme, authority, then some split of the path into service
/// root and relative URI.
pub fn odata_uri(input: &str, roles: &Roles<'_>) -> Result<(), String> {
    let lower = input.to_ascii_lowercase();
    let rest = if lower.starts_with("https://") {
        &input[8..]
    } else if lower.starts_with("http://") {
        &input[7..]
    } else {
        return Err("not http(s)://".into());
    };
    let slash = rest.find('/').ok_or("no path")?;
    let host = &rest[..slash];
    if host.is_empty() {
        return Err("no host".into());
    }
    let path = &rest[slash + 1..];
    // the service root ends at some '/' before the query
    let path_end = path.find(['?', '#']).unwrap_or(path.len());
    let mut candidates = vec![0];
    for (i, b) in path[..path_end].bytes().enumerate() {
        if b == b'/' {
            candidates.push(i + 1);
        }
    }
    let mut last = Err("no split parsed".to_owned());
    for c in candidates.into_iter().rev() {
        let rel = &path[c..];
        let rel = match rel.split_once('#') {
            // a context URL after $metadata is response-side: accept only if it is $metadata
            Some(("$metadata", _)) => return Ok(()),
            Some(_) => continue,
            None => rel,
        };
        match parse_uri(rel, &Limits::default()) {
            Ok(u) => match roles.check_uri(&u) {
                Ok(()) => return Ok(()),
                Err(e) => last = Err(e),
            },
            Err(e) => last = Err(e.to_string()),
        }
    }
    last
}
