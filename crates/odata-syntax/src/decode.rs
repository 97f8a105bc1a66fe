//! RFC 3986 percent-decoding, done exactly once per name, value or path segment.
//!
//! Decoding happens before parsing: the grammar then sees `'` whether the
//! client sent `'` or `%27`, which is what the OData ABNF prescribes for
//! every delimiter it lists with a percent-encoded alternative. In query
//! strings `+` decodes to a space (HTML form encoding, which Power Query and
//! Excel use for some requests); a literal plus arrives as `%2B`.

use std::borrow::Cow;

use crate::error::{Location, ParseError, Result};

/// Whether `+` means a space (query strings) or itself (path segments).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlusMode {
    /// `+` decodes to a space: `application/x-www-form-urlencoded` query values.
    Space,
    /// `+` stays `+`: path segments.
    Literal,
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Decodes `raw`. Borrows when there is nothing to decode (the common case
/// for names and short values), allocates once otherwise.
///
/// Errors (offsets into `raw`): a `%` not followed by two hex digits, or a
/// result that is not UTF-8.
pub fn percent_decode(raw: &str, plus: PlusMode) -> Result<Cow<'_, str>> {
    let bytes = raw.as_bytes();
    let needs = bytes
        .iter()
        .any(|&b| b == b'%' || (b == b'+' && plus == PlusMode::Space));
    if !needs {
        return Ok(Cow::Borrowed(raw));
    }
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'%' => {
                let hi = bytes.get(i + 1).copied().and_then(hex);
                let lo = bytes.get(i + 2).copied().and_then(hex);
                match (hi, lo) {
                    (Some(h), Some(l)) => out.push(h * 16 + l),
                    _ => {
                        return Err(ParseError::Encoding {
                            at: Location {
                                offset: i,
                                option: None,
                            },
                            message: "'%' must be followed by two hexadecimal digits".into(),
                        })
                    }
                }
                i += 3;
            }
            b'+' if plus == PlusMode::Space => {
                out.push(b' ');
                i += 1;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    match String::from_utf8(out) {
        Ok(s) => Ok(Cow::Owned(s)),
        Err(e) => {
            let bad = e.utf8_error().valid_up_to();
            Err(ParseError::Encoding {
                at: Location {
                    offset: raw_offset(raw, bad, plus),
                    option: None,
                },
                message: "the decoded bytes are not valid UTF-8".into(),
            })
        }
    }
}

/// Maps a byte offset in the decoded form of `raw` back to the offset in
/// `raw` where that byte came from (for error positions). Offsets past the
/// end map to the end.
pub fn raw_offset(raw: &str, decoded: usize, plus: PlusMode) -> usize {
    let _ = plus;
    let bytes = raw.as_bytes();
    let (mut r, mut d) = (0usize, 0usize);
    while d < decoded && r < bytes.len() {
        let step = if bytes.get(r) == Some(&b'%')
            && bytes.get(r + 1).copied().and_then(hex).is_some()
            && bytes.get(r + 2).copied().and_then(hex).is_some()
        {
            3
        } else {
            1
        };
        r += step;
        d += 1;
    }
    r.min(bytes.len())
}

/// Percent-encodes the characters that cannot appear literally in a query
/// option value: `%`, `&`, `#`, `+`, space, controls, non-ASCII and a few
/// characters proxies mangle. Used by the `Display` of whole query strings.
pub fn encode_query_value(s: &str, out: &mut String) {
    encode(s, out, b"")
}

/// Percent-encodes a path segment: as for query values, plus `/` and `?`.
pub fn encode_path_segment(s: &str, out: &mut String) {
    encode(s, out, b"/?")
}

fn encode(s: &str, out: &mut String, extra: &[u8]) {
    for (i, ch) in s.char_indices() {
        if ch.is_ascii() {
            let b = ch as u8;
            match b {
                b'%' | b'&' | b'#' | b'+' | b'"' | b'\\' | b'^' | b'`' | b'|' | b'<' | b'>'
                | b' ' => push_pct(out, b),
                0..=0x1f | 0x7f => push_pct(out, b),
                _ if extra.contains(&b) => push_pct(out, b),
                _ => out.push(ch),
            }
        } else {
            for b in s.as_bytes().get(i..i + ch.len_utf8()).unwrap_or_default() {
                push_pct(out, *b);
            }
        }
    }
}

fn push_pct(out: &mut String, b: u8) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    out.push('%');
    out.push(HEX[usize::from(b >> 4)] as char);
    out.push(HEX[usize::from(b & 15)] as char);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn borrows_when_clean() {
        assert!(matches!(
            percent_decode("Name eq 'x'", PlusMode::Space),
            Ok(Cow::Borrowed(_))
        ));
    }

    #[test]
    fn decodes_quotes_spaces_and_utf8() {
        let d = percent_decode("%27O%27%27Neil%27%20x+y%CE%94", PlusMode::Space).unwrap();
        assert_eq!(d, "'O''Neil' x yΔ");
        let d = percent_decode("a+b%2B", PlusMode::Literal).unwrap();
        assert_eq!(d, "a+b+");
    }

    #[test]
    fn rejects_bad_escapes_and_utf8() {
        assert!(percent_decode("abc%2", PlusMode::Space).is_err());
        assert!(percent_decode("abc%zz", PlusMode::Space).is_err());
        let e = percent_decode("ab%FFc", PlusMode::Space).unwrap_err();
        assert_eq!(e.offset(), 2);
        assert!(percent_decode("%C3", PlusMode::Space).is_err());
    }

    #[test]
    fn maps_offsets_back() {
        let raw = "a%20b%27c";
        assert_eq!(raw_offset(raw, 0, PlusMode::Space), 0);
        assert_eq!(raw_offset(raw, 2, PlusMode::Space), 4);
        assert_eq!(raw_offset(raw, 4, PlusMode::Space), 8);
        assert_eq!(raw_offset(raw, 99, PlusMode::Space), raw.len());
    }
}
