//! `$search`: `OR` < `AND` (explicit or implicit) < `NOT`, words and
//! phrases. `AND`, `OR` and `NOT` are operators only where an operator can
//! stand; elsewhere they are words (`$search=AND OR` looks for both words).

use super::query::Ctx;
use super::Parser;
use crate::ast::{SearchExpr, SearchKind};
use crate::error::Result;

fn is_word_char(c: char, semicolon: bool) -> bool {
    !(c.is_whitespace() || matches!(c, '(' | ')' | '"') || (c == ';' && !semicolon))
}

impl Parser<'_> {
    /// The value of `$search`: a search expression, or the ABNF's
    /// single-quoted `searchExpr-incomplete`.
    pub(crate) fn search_option(&mut self, ctx: Ctx) -> Result<SearchExpr> {
        self.ws();
        let start = self.pos;
        if self.peek() == Some(b'\'') {
            let s = self.quoted()?;
            return Ok(SearchExpr {
                kind: SearchKind::Quoted(s),
                span: self.span(start),
            });
        }
        // Nested in `$expand=A($search=...)`, a decoded ';' cannot be told
        // from the option separator, so it ends a word. At the top level
        // parse_query has already rejected a raw ';', so a ';' here came
        // from `%3B` and is part of the word.
        self.search_semicolons = ctx == Ctx::Top;
        let e = self.search_or();
        self.search_semicolons = false;
        e
    }

    /// `searchExpr`.
    pub(crate) fn search_or(&mut self) -> Result<SearchExpr> {
        self.nested(|p| {
            let start = p.pos;
            let mut lhs = p.search_and()?;
            loop {
                let save = p.pos;
                if p.ws() > 0 && p.search_keyword("OR") && p.operator_operand_follows(2) {
                    p.pos += 2;
                    p.ws();
                    let rhs = p.search_and()?;
                    p.node()?;
                    lhs = SearchExpr {
                        kind: SearchKind::Or(Box::new(lhs), Box::new(rhs)),
                        span: p.span(start),
                    };
                } else {
                    p.pos = save;
                    return Ok(lhs);
                }
            }
        })
    }

    fn search_and(&mut self) -> Result<SearchExpr> {
        let start = self.pos;
        let mut lhs = self.search_not()?;
        loop {
            let save = self.pos;
            if self.ws() == 0 {
                break;
            }
            if self.search_keyword("OR") && self.operator_operand_follows(2) {
                self.pos = save;
                break;
            }
            if self.search_keyword("AND") && self.operator_operand_follows(3) {
                self.pos += 3;
                self.ws();
            } else if !self.search_operand_starts() {
                self.pos = save;
                break;
            }
            let rhs = self.search_not()?;
            self.node()?;
            lhs = SearchExpr {
                kind: SearchKind::And(Box::new(lhs), Box::new(rhs)),
                span: self.span(start),
            };
        }
        Ok(lhs)
    }

    fn search_not(&mut self) -> Result<SearchExpr> {
        let start = self.pos;
        if self.search_keyword("NOT") && self.operator_operand_follows(3) {
            self.pos += 3;
            self.ws();
            let e = self.nested(|p| p.search_not())?;
            self.node()?;
            return Ok(SearchExpr {
                kind: SearchKind::Not(Box::new(e)),
                span: self.span(start),
            });
        }
        self.search_primary()
    }

    /// Whether the keyword `kw` (case-sensitive) is at the cursor as a whole word.
    fn search_keyword(&self, kw: &str) -> bool {
        self.rest().starts_with(kw)
            && !self
                .src
                .get(self.pos + kw.len()..)
                .and_then(|r| r.chars().next())
                .is_some_and(|c| is_word_char(c, self.search_semicolons))
    }

    /// After a keyword of length `len`: whitespace and then an operand.
    fn operator_operand_follows(&self, len: usize) -> bool {
        let rest = self.src.get(self.pos + len..).unwrap_or("");
        let trimmed = rest.trim_start_matches([' ', '\t']);
        trimmed.len() < rest.len()
            && trimmed.chars().next().is_some_and(|c| {
                c == '(' || c == '"' || is_word_char(c, self.search_semicolons) && c != '\''
            })
    }

    fn search_operand_starts(&self) -> bool {
        self.peek_char().is_some_and(|c| {
            c == '(' || c == '"' || is_word_char(c, self.search_semicolons) && c != '\''
        })
    }

    fn search_primary(&mut self) -> Result<SearchExpr> {
        self.node()?;
        let start = self.pos;
        match self.peek_char() {
            Some('(') => self.nested(|p| {
                p.pos += 1;
                p.ws();
                let mut e = p.search_or()?;
                p.ws();
                p.expect(b')', "')'")?;
                e.span = p.span(start);
                Ok(e)
            }),
            Some('"') => {
                self.pos += 1;
                let rest = self.rest();
                let Some(end) = rest.find('"') else {
                    let _ = start;
                    return Err(self.err_at(self.src.len(), "a closing double quote"));
                };
                if end == 0 {
                    return Err(self.err("a non-empty phrase"));
                }
                let phrase = rest.get(..end).unwrap_or("").to_owned();
                self.pos += end + 1;
                Ok(SearchExpr {
                    kind: SearchKind::Phrase(phrase),
                    span: self.span(start),
                })
            }
            Some(c) if is_word_char(c, self.search_semicolons) && c != '\'' => {
                let rest = self.rest();
                let semi = self.search_semicolons;
                let end = rest
                    .find(|c: char| !is_word_char(c, semi))
                    .unwrap_or(rest.len());
                let word = rest.get(..end).unwrap_or("").to_owned();
                self.pos += end;
                Ok(SearchExpr {
                    kind: SearchKind::Word(word),
                    span: self.span(start),
                })
            }
            _ => Err(self.err("a search term, a phrase in double quotes, or '('")),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::*;

    fn s(t: &str) -> String {
        fn sx(e: &SearchExpr) -> String {
            match &e.kind {
                SearchKind::Word(w) => w.clone(),
                SearchKind::Phrase(p) => format!("\"{p}\""),
                SearchKind::Quoted(q) => format!("'{q}'"),
                SearchKind::Not(x) => format!("(NOT {})", sx(x)),
                SearchKind::And(a, b) => format!("(AND {} {})", sx(a), sx(b)),
                SearchKind::Or(a, b) => format!("(OR {} {})", sx(a), sx(b)),
            }
        }
        sx(&parse_search(t, &Limits::default()).unwrap_or_else(|e| panic!("{t}: {e}")))
    }

    #[test]
    fn search_grammar() {
        assert_eq!(s("blue green"), "(AND blue green)");
        assert_eq!(s("blue OR green AND red"), "(OR blue (AND green red))");
        assert_eq!(s("NOT blue OR green"), "(OR (NOT blue) green)");
        assert_eq!(
            s("\"blue green\" NOT red"),
            "(AND \"blue green\" (NOT red))"
        );
        assert_eq!(s("(a OR b) c"), "(AND (OR a b) c)");
        // keywords are words where no operator can stand
        assert_eq!(s("AND"), "AND");
        assert_eq!(s("NOT NOT"), "(NOT NOT)");
        assert_eq!(s("AND OR"), "(AND AND OR)");
        assert_eq!(s("AND OR NOT"), "(OR AND NOT)");
        assert_eq!(s("Daniel's"), "Daniel's");
        for bad in ["\"blue", "(blue", "a)", "\"blue\"green", "gr(een"] {
            assert!(parse_search(bad, &Limits::default()).is_err(), "{bad}");
        }
        let big = Limits {
            max_url_length: 1 << 20,
            ..Limits::default()
        };
        let bomb = "(".repeat(10_000);
        assert!(matches!(
            parse_search(&bomb, &big),
            Err(ParseError::TooDeep { .. })
        ));
        let bomb = "NOT ".repeat(10_000) + "a";
        assert!(matches!(
            parse_search(
                &bomb,
                &Limits {
                    max_url_length: 1 << 20,
                    ..Limits::default()
                }
            ),
            Err(ParseError::TooDeep { .. })
        ));
    }
}
