//! The `Prefer` header's OData preferences (`preference` rule).

use super::Parser;
use crate::ast::{AnnotationFilter, Preference};
use crate::error::Result;

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

impl Parser<'_> {
    /// `EQ-h`: `=` with optional surrounding whitespace.
    fn eq_h(&mut self) -> Result<()> {
        self.ws();
        self.expect(b'=', "'='")?;
        self.ws();
        Ok(())
    }

    fn token(&mut self) -> &str {
        let start = self.pos;
        while self.peek().is_some_and(is_tchar) {
            self.pos += 1;
        }
        self.src.get(start..self.pos).unwrap_or("")
    }

    /// One preference.
    pub(crate) fn preference(&mut self) -> Result<Preference> {
        let start = self.pos;
        let odata = if self.starts_with_ci("odata.") {
            self.pos += 6;
            true
        } else {
            false
        };
        let name = self.token().to_ascii_lowercase();
        let pref = match name.as_str() {
            "allow-entityreferences" => Preference::AllowEntityReferences,
            "track-changes" => Preference::TrackChanges,
            "respond-async" if !odata => Preference::RespondAsync,
            "callback" => {
                self.ws();
                self.expect(b';', "';url=\"...\"'")?;
                self.ws();
                if !self.eat_keyword_ci("url") {
                    return Err(self.err("url"));
                }
                self.eq_h()?;
                self.expect(b'"', "'\"'")?;
                let s = self.pos;
                while self
                    .peek()
                    .is_some_and(|b| b != b'"' && b > b' ' && b < 0x7f)
                {
                    self.pos += 1;
                }
                let url = self.src.get(s..self.pos).unwrap_or("").to_owned();
                if !url.contains(':') {
                    return Err(self.err_at(s, "an absolute URI"));
                }
                self.expect(b'"', "'\"'")?;
                Preference::Callback(url)
            }
            "continue-on-error" => {
                let save = self.pos;
                self.ws();
                if self.peek() == Some(b'=') {
                    self.eq_h()?;
                    if self.eat_keyword_ci("true") {
                        Preference::ContinueOnError(Some(true))
                    } else if self.eat_keyword_ci("false") {
                        Preference::ContinueOnError(Some(false))
                    } else {
                        return Err(self.err("true or false"));
                    }
                } else {
                    self.pos = save;
                    Preference::ContinueOnError(None)
                }
            }
            "include-annotations" => {
                self.eq_h()?;
                self.expect(b'"', "'\"'")?;
                let mut list = vec![self.annotation_filter()?];
                while self.eat(b',') {
                    list.push(self.annotation_filter()?);
                }
                self.expect(b'"', "'\"' or ','")?;
                Preference::IncludeAnnotations(list)
            }
            "maxpagesize" => {
                self.eq_h()?;
                let s = self.pos;
                if !matches!(self.peek(), Some(b'1'..=b'9')) {
                    return Err(self.err("a positive integer"));
                }
                while self.peek().is_some_and(|b| b.is_ascii_digit()) {
                    self.pos += 1;
                }
                let v = self
                    .src
                    .get(s..self.pos)
                    .unwrap_or("")
                    .parse()
                    .map_err(|_| self.invalid_at(s, "maxpagesize too large"))?;
                Preference::MaxPageSize(v)
            }
            "omit-values" if !odata => {
                self.eq_h()?;
                if self.eat_keyword_ci("nulls") {
                    Preference::OmitValues { defaults: false }
                } else if self.eat_keyword_ci("defaults") {
                    Preference::OmitValues { defaults: true }
                } else {
                    return Err(self.err("nulls or defaults"));
                }
            }
            "return" if !odata => {
                self.eq_h()?;
                if self.eat_str("representation") {
                    Preference::Return { minimal: false }
                } else if self.eat_str("minimal") {
                    Preference::Return { minimal: true }
                } else {
                    return Err(self.err("representation or minimal"));
                }
            }
            "wait" if !odata => {
                self.eq_h()?;
                let s = self.pos;
                while self.peek().is_some_and(|b| b.is_ascii_digit()) {
                    self.pos += 1;
                }
                let v = self
                    .src
                    .get(s..self.pos)
                    .unwrap_or("")
                    .parse()
                    .map_err(|_| self.err_at(s, "a number of seconds"))?;
                Preference::Wait(v)
            }
            "" => return Err(self.err_at(start, "a preference")),
            _ => {
                // RFC 7240: token [ = ( token / quoted-string ) ] *( ; param )
                let name = self.src.get(start..self.pos).unwrap_or("").to_owned();
                let save = self.pos;
                self.ws();
                let value = if self.eat(b'=') {
                    self.ws();
                    if self.eat(b'"') {
                        let s = self.pos;
                        while self.peek().is_some_and(|b| b != b'"') {
                            self.pos += 1;
                        }
                        let v = self.src.get(s..self.pos).unwrap_or("").to_owned();
                        self.expect(b'"', "'\"'")?;
                        Some(v)
                    } else {
                        Some(self.token().to_owned())
                    }
                } else {
                    self.pos = save;
                    None
                };
                Preference::Other { name, value }
            }
        };
        Ok(pref)
    }

    fn annotation_filter(&mut self) -> Result<AnnotationFilter> {
        let exclude = self.eat(b'-');
        let pattern = if self.eat(b'*') {
            "*".to_owned()
        } else {
            let s = self.pos;
            self.expect_ident("a namespace")?;
            loop {
                if !self.eat(b'.') {
                    return Err(self.err("'.' and a term name or '*'"));
                }
                if self.eat(b'*') {
                    break;
                }
                self.expect_ident("a term name or '*'")?;
                if self.peek() != Some(b'.') {
                    break;
                }
            }
            self.src.get(s..self.pos).unwrap_or("").to_owned()
        };
        let qualifier = if self.eat(b'#') {
            Some(self.expect_ident("a qualifier")?.to_owned())
        } else {
            None
        };
        Ok(AnnotationFilter {
            exclude,
            pattern,
            qualifier,
        })
    }

    /// A `Prefer` header value: preferences separated by commas.
    pub(crate) fn prefer_list(&mut self) -> Result<Vec<Preference>> {
        let mut out = vec![self.preference()?];
        loop {
            self.ws();
            if !self.eat(b',') {
                break;
            }
            self.ws();
            out.push(self.preference()?);
        }
        Ok(out)
    }
}
