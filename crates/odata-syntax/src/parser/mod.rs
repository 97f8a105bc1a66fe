//! The parser: a byte cursor over decoded text, nom combinators for the
//! lexical rules (literals), recursive descent for the structure and a
//! precedence-climbing loop for expressions.
//!
//! Recursion is bounded explicitly ([`Parser::enter`]), in the spirit of
//! sqlparser-rs' `DEFAULT_REMAINING_DEPTH`: every construct that can nest
//! (parentheses, unary chains, function arguments, lambdas, JSON, nested
//! `$expand`/`$select` options, `$search` groups, `$apply` pipelines)
//! passes through it, so no input can exhaust the stack.

pub(crate) mod apply;
pub(crate) mod expr;
pub(crate) mod literal;
pub(crate) mod path;
pub(crate) mod prefer;
pub(crate) mod query;
pub(crate) mod search;

use std::borrow::Cow;

use crate::ast::{QualifiedName, Span};
use crate::error::{Location, ParseError, Result};
use crate::Limits;

/// The cursor and the budgets of one entry-point call.
pub(crate) struct Parser<'a> {
    pub src: &'a str,
    pub pos: usize,
    depth: usize,
    nodes: usize,
    limits: Limits,
    /// Whether `;` may be part of a `$search` word (top level only).
    pub search_semicolons: bool,
}

pub(crate) fn is_ident_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_' || (!c.is_ascii() && c.is_alphabetic())
}

pub(crate) fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || (!c.is_ascii() && c.is_alphanumeric())
}

impl<'a> Parser<'a> {
    pub fn new(src: &'a str, limits: Limits) -> Self {
        Parser {
            src,
            pos: 0,
            depth: 0,
            nodes: 0,
            limits,
            search_semicolons: false,
        }
    }

    /// A parser for a nested value that shares this one's budgets.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    pub fn rest(&self) -> &'a str {
        self.src.get(self.pos..).unwrap_or("")
    }

    pub fn peek(&self) -> Option<u8> {
        self.src.as_bytes().get(self.pos).copied()
    }

    pub fn peek_at(&self, n: usize) -> Option<u8> {
        self.src.as_bytes().get(self.pos + n).copied()
    }

    pub fn peek_char(&self) -> Option<char> {
        self.rest().chars().next()
    }

    pub fn at_end(&self) -> bool {
        self.pos >= self.src.len()
    }

    pub fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// Consumes `s` exactly (case-sensitive).
    pub fn eat_str(&mut self, s: &str) -> bool {
        if self.rest().starts_with(s) {
            self.pos += s.len();
            true
        } else {
            false
        }
    }

    /// Whether the rest starts with `s`, ignoring ASCII case.
    pub fn starts_with_ci(&self, s: &str) -> bool {
        self.rest()
            .as_bytes()
            .get(..s.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(s.as_bytes()))
    }

    /// Consumes keyword `s` (ASCII case-insensitive) if it is not followed
    /// by an identifier character.
    pub fn eat_keyword_ci(&mut self, s: &str) -> bool {
        if self.starts_with_ci(s) {
            let after = self.src.get(self.pos + s.len()..).unwrap_or("");
            if !after.chars().next().is_some_and(is_ident_char) {
                self.pos += s.len();
                return true;
            }
        }
        false
    }

    pub fn expect(&mut self, b: u8, what: &'static str) -> Result<()> {
        if self.eat(b) {
            Ok(())
        } else {
            Err(self.err(what))
        }
    }

    /// Skips spaces and tabs (`BWS`); returns how many.
    pub fn ws(&mut self) -> usize {
        let start = self.pos;
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.pos += 1;
        }
        self.pos - start
    }

    /// Requires at least one space or tab (`RWS`).
    pub fn rws(&mut self) -> Result<()> {
        if self.ws() == 0 {
            Err(self.err("whitespace"))
        } else {
            Ok(())
        }
    }

    fn found(&self, at: usize) -> String {
        let rest = self.src.get(at..).unwrap_or("");
        if rest.is_empty() {
            "end of input".to_owned()
        } else {
            let excerpt: String = rest.chars().take(12).collect();
            format!("{excerpt:?}")
        }
    }

    pub fn err(&self, expected: impl Into<Cow<'static, str>>) -> ParseError {
        self.err_at(self.pos, expected)
    }

    pub fn err_at(&self, at: usize, expected: impl Into<Cow<'static, str>>) -> ParseError {
        ParseError::syntax(at, expected, self.found(at))
    }

    pub fn invalid_at(&self, at: usize, message: impl Into<Cow<'static, str>>) -> ParseError {
        ParseError::invalid(at, message)
    }

    /// Enters one level of nesting; pair with [`Parser::leave`].
    pub fn enter(&mut self) -> Result<()> {
        if self.depth >= self.limits.max_depth {
            return Err(ParseError::TooDeep {
                at: Location {
                    offset: self.pos,
                    option: None,
                },
                max: self.limits.max_depth,
            });
        }
        self.depth += 1;
        Ok(())
    }

    pub fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    /// Runs `f` one nesting level deeper.
    pub fn nested<T>(&mut self, f: impl FnOnce(&mut Self) -> Result<T>) -> Result<T> {
        self.enter()?;
        let r = f(self);
        self.leave();
        r
    }

    /// Runs `f` `weight` nesting levels deeper: nested query options
    /// (`$expand=A($expand=B(...))`) go through many more stack frames per
    /// level than a parenthesis does, so they are charged more.
    pub fn nested_weighted<T>(
        &mut self,
        weight: usize,
        f: impl FnOnce(&mut Self) -> Result<T>,
    ) -> Result<T> {
        for i in 0..weight {
            if let Err(e) = self.enter() {
                for _ in 0..i {
                    self.leave();
                }
                return Err(e);
            }
        }
        let r = f(self);
        for _ in 0..weight {
            self.leave();
        }
        r
    }

    /// Counts one syntax-tree node against [`Limits::max_nodes`].
    pub fn node(&mut self) -> Result<()> {
        self.nodes += 1;
        if self.nodes > self.limits.max_nodes {
            return Err(ParseError::TooManyNodes {
                at: Location {
                    offset: self.pos,
                    option: None,
                },
                max: self.limits.max_nodes,
            });
        }
        Ok(())
    }

    pub fn span(&self, start: usize) -> Span {
        Span::new(start, self.pos)
    }

    /// `odataIdentifier`: at most 128 characters.
    pub fn ident(&mut self) -> Result<Option<&'a str>> {
        let rest = self.rest();
        let mut chars = rest.char_indices();
        match chars.next() {
            Some((_, c)) if is_ident_start(c) => {}
            _ => return Ok(None),
        }
        let mut end = rest.len();
        let mut count = 1;
        for (i, c) in chars {
            if !is_ident_char(c) {
                end = i;
                break;
            }
            count += 1;
        }
        if count > 128 {
            return Err(self.invalid_at(self.pos, "identifiers have at most 128 characters"));
        }
        let s = rest.get(..end).unwrap_or("");
        self.pos += end;
        Ok(Some(s))
    }

    pub fn expect_ident(&mut self, what: &'static str) -> Result<&'a str> {
        match self.ident()? {
            Some(s) => Ok(s),
            None => Err(self.err(what)),
        }
    }

    /// `namespace "." name` or a plain identifier: identifiers joined by
    /// dots, each dot followed by an identifier.
    pub fn qualified_name(&mut self) -> Result<Option<QualifiedName>> {
        let start = self.pos;
        let Some(_) = self.ident()? else {
            return Ok(None);
        };
        let mut last_start = start;
        loop {
            let save = self.pos;
            if self.peek() == Some(b'.')
                && self
                    .src
                    .get(self.pos + 1..)
                    .and_then(|r| r.chars().next())
                    .is_some_and(is_ident_start)
            {
                self.pos += 1;
                let seg_start = self.pos;
                if self.ident()?.is_none() {
                    self.pos = save;
                    break;
                }
                last_start = seg_start;
            } else {
                break;
            }
        }
        let name = self.src.get(last_start..self.pos).unwrap_or("").to_owned();
        let namespace = if last_start > start {
            self.src.get(start..last_start - 1).unwrap_or("").to_owned()
        } else {
            String::new()
        };
        Ok(Some(QualifiedName { namespace, name }))
    }

    /// Fails unless the whole input was consumed.
    pub fn finish(&self, what: &'static str) -> Result<()> {
        if self.at_end() {
            Ok(())
        } else {
            Err(self.err(what))
        }
    }
}
