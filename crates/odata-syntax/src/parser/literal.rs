//! Primitive literals. The lexical shape is matched with nom combinators;
//! the values are then validated (calendar dates, hour < 24, ...) so that
//! errors can say what is wrong rather than only where matching stopped.

use nom::bytes::complete::{tag_no_case, take_while, take_while1, take_while_m_n};
use nom::character::complete::{char, one_of};
use nom::combinator::{opt, recognize};
use nom::{IResult, Parser as _};

use super::Parser;
use crate::ast::{
    days_in_month, Date, DateTimeOffset, Double, Duration, EnumLiteral, EnumMember, Geo,
    GeoLiteral, Guid, Literal, Position, TimeOfDay,
};
use crate::error::Result;

fn is_digit(c: char) -> bool {
    c.is_ascii_digit()
}

fn is_hex(c: char) -> bool {
    c.is_ascii_hexdigit()
}

/// `8HEXDIG "-" 4HEXDIG "-" 4HEXDIG "-" 4HEXDIG "-" 12HEXDIG`
fn guid_lex(i: &str) -> IResult<&str, &str> {
    recognize((
        take_while_m_n(8, 8, is_hex),
        char('-'),
        take_while_m_n(4, 4, is_hex),
        char('-'),
        take_while_m_n(4, 4, is_hex),
        char('-'),
        take_while_m_n(4, 4, is_hex),
        char('-'),
        take_while_m_n(12, 12, is_hex),
    ))
    .parse(i)
}

/// `[ "-" ] 4*DIGIT "-" 2DIGIT "-" 2DIGIT` (ranges checked afterwards).
type DateLex<'a> = (Option<char>, &'a str, &'a str, &'a str);
fn date_lex(i: &str) -> IResult<&str, DateLex<'_>> {
    (
        opt(char('-')),
        take_while1(is_digit),
        char('-'),
        take_while_m_n(2, 2, is_digit),
        char('-'),
        take_while_m_n(2, 2, is_digit),
    )
        .map(|(s, y, _, m, _, d)| (s, y, m, d))
        .parse(i)
}

/// `2DIGIT ":" 2DIGIT [ ":" 2DIGIT [ "." 1*DIGIT ] ]`
type TimeLex<'a> = (&'a str, &'a str, Option<(&'a str, Option<&'a str>)>);
fn time_lex(i: &str) -> IResult<&str, TimeLex<'_>> {
    (
        take_while_m_n(2, 2, is_digit),
        char(':'),
        take_while_m_n(2, 2, is_digit),
        opt((
            char(':'),
            take_while_m_n(2, 2, is_digit),
            opt((char('.'), take_while1(is_digit)).map(|(_, f)| f)),
        )
            .map(|(_, s, f)| (s, f))),
    )
        .map(|(h, _, m, s)| (h, m, s))
        .parse(i)
}

/// `[ SIGN ] 1*DIGIT [ "." 1*DIGIT ] [ "e" [ SIGN ] 1*DIGIT ]`; returns the
/// lexeme and whether it had a fraction and an exponent.
fn number_lex(i: &str) -> IResult<&str, (&str, bool, bool)> {
    let (rest, (_, _, frac, exp)) = (
        opt(one_of("+-")),
        take_while1(is_digit),
        opt((char('.'), take_while1(is_digit))),
        opt((one_of("eE"), opt(one_of("+-")), take_while1(is_digit))),
    )
        .parse(i)?;
    let len = i.len() - rest.len();
    Ok((
        rest,
        (i.get(..len).unwrap_or(""), frac.is_some(), exp.is_some()),
    ))
}

/// `[ "-" ] "P" [ n "D" ] [ "T" [ n "H" ] [ n "M" ] [ n [ "." n ] "S" ] ]`
type DurLex<'a> = (
    Option<char>,
    Option<&'a str>,
    Option<(
        Option<&'a str>,
        Option<&'a str>,
        Option<(&'a str, Option<&'a str>)>,
    )>,
);
fn duration_lex(i: &str) -> IResult<&str, DurLex<'_>> {
    let num = || take_while1(is_digit);
    (
        opt(char('-')),
        char('P'),
        opt((num(), char('D')).map(|(n, _)| n)),
        opt(
            (
                char('T'),
                opt((num(), char('H')).map(|(n, _)| n)),
                opt((num(), char('M')).map(|(n, _)| n)),
                opt((num(), opt((char('.'), num()).map(|(_, f)| f)), char('S'))
                    .map(|(s, f, _)| (s, f))),
            )
                .map(|(_, h, m, s)| (h, m, s)),
        ),
    )
        .map(|(neg, _, d, t)| (neg, d, t))
        .parse(i)
}

fn picos(frac: &str) -> Option<u64> {
    if frac.is_empty() || frac.len() > 12 {
        return None;
    }
    let mut v: u64 = frac.parse().ok()?;
    for _ in frac.len()..12 {
        v *= 10;
    }
    Some(v)
}

/// How many bytes a nom parser consumed.
fn consumed(before: &str, after: &str) -> usize {
    before.len() - after.len()
}

impl Parser<'_> {
    /// A GUID at the cursor, if the next 36 bytes have its shape and are not
    /// followed by an identifier character.
    pub fn guid(&mut self) -> Option<Guid> {
        let rest = self.rest();
        // cheap shape check first: most identifiers and numbers are not GUIDs
        if rest.as_bytes().get(8) != Some(&b'-') {
            return None;
        }
        let (after, lex) = guid_lex(rest).ok()?;
        if after.chars().next().is_some_and(super::is_ident_char) {
            return None;
        }
        let hex: String = lex.chars().filter(|c| *c != '-').collect();
        let v = u128::from_str_radix(&hex, 16).ok()?;
        self.pos += consumed(rest, after);
        Some(Guid(v.to_be_bytes()))
    }

    /// A date at the cursor (shape only decides; range errors are errors).
    pub fn date(&mut self) -> Result<Option<Date>> {
        let start = self.pos;
        let rest = self.rest();
        // cheap shape check first: digits then '-'
        let b = rest.as_bytes();
        let skip = usize::from(b.first() == Some(&b'-'));
        let digits = b
            .iter()
            .skip(skip)
            .take_while(|c| c.is_ascii_digit())
            .count();
        if digits == 0 || b.get(skip + digits) != Some(&b'-') {
            return Ok(None);
        }
        let Ok((after, (neg, y, m, d))) = date_lex(rest) else {
            return Ok(None);
        };
        // year = [ "-" ] ( "0" 3DIGIT / oneToNine 3*DIGIT )
        if y.len() < 4 || (y.starts_with('0') && y.len() != 4) {
            return Err(self.invalid_at(
                start,
                "a year has four digits, or more without a leading zero",
            ));
        }
        let year: i32 = match y.parse::<i32>() {
            Ok(v) if y.len() <= 9 => {
                if neg.is_some() {
                    -v
                } else {
                    v
                }
            }
            _ => return Err(self.invalid_at(start, "year out of range")),
        };
        let month: u8 = m.parse().unwrap_or(0);
        let day: u8 = d.parse().unwrap_or(0);
        let month_at = start + neg.map_or(0, |_| 1) + y.len() + 1;
        if !(1..=12).contains(&month) {
            return Err(self.invalid_at(month_at, "month must be 01 to 12"));
        }
        if day == 0 || day > days_in_month(year, month) {
            return Err(self.invalid_at(month_at + 3, "day does not exist in that month"));
        }
        self.pos += consumed(rest, after);
        Ok(Some(Date { year, month, day }))
    }

    /// A time of day at the cursor. `colon_space` is unused; offsets use
    /// their own rule.
    pub fn time_of_day(&mut self) -> Result<Option<TimeOfDay>> {
        let start = self.pos;
        let rest = self.rest();
        if rest.as_bytes().get(2) != Some(&b':') {
            return Ok(None);
        }
        let Ok((after, (h, m, s))) = time_lex(rest) else {
            return Ok(None);
        };
        let hour: u8 = h.parse().unwrap_or(99);
        let minute: u8 = m.parse().unwrap_or(99);
        // point at the first digit that leaves the range, as the ABNF would
        if hour > 23 {
            let at = start + usize::from((20..30).contains(&hour));
            return Err(self.invalid_at(at, "hour must be 00 to 23"));
        }
        if minute > 59 {
            return Err(self.invalid_at(start + 3, "minute must be 00 to 59"));
        }
        let (second, picos_v) = match s {
            None => (0, 0),
            Some((s, frac)) => {
                let second: u8 = s.parse().unwrap_or(99);
                if second > 60 {
                    return Err(self
                        .invalid_at(start + 6, "second must be 00 to 59 (60 for a leap second)"));
                }
                let p = match frac {
                    None => 0,
                    Some(f) => match picos(f) {
                        Some(p) => p,
                        None => {
                            return Err(self
                                .invalid_at(start + 9, "at most 12 digits of fractional seconds"))
                        }
                    },
                };
                (second, p)
            }
        };
        self.pos += consumed(rest, after);
        Ok(Some(TimeOfDay {
            hour,
            minute,
            second,
            picos: picos_v,
        }))
    }

    /// After a date: `T` time and offset. A space followed by `hh:mm` is
    /// read as `+hh:mm`, because a raw `+` in a query string decodes to a
    /// space (`2018-01-26T18:15:00+01:00` sent unencoded).
    pub fn date_time_rest(&mut self, date: Date, start: usize) -> Result<DateTimeOffset> {
        if !(self.eat(b'T') || self.eat(b't')) {
            return Err(self.err("'T' and a time"));
        }
        let Some(time) = self.time_of_day()? else {
            return Err(self.err("a time of day hh:mm[:ss[.fff]]"));
        };
        let offset = match self.peek() {
            Some(b'Z' | b'z') => {
                self.pos += 1;
                None
            }
            Some(c @ (b'+' | b'-' | b' ')) => {
                let sign_at = self.pos;
                self.pos += 1;
                let rest = self.rest();
                let lex: IResult<&str, (&str, char, &str)> = (
                    take_while_m_n(2, 2, is_digit),
                    char(':'),
                    take_while_m_n(2, 2, is_digit),
                )
                    .parse(rest);
                let Ok((after, (h, _, m))) = lex else {
                    self.pos = sign_at;
                    return Err(self.err("a UTC offset: 'Z' or +hh:mm / -hh:mm"));
                };
                let (h, m): (i16, i16) = (h.parse().unwrap_or(99), m.parse().unwrap_or(99));
                if h > 23 || m > 59 {
                    return Err(self.invalid_at(
                        sign_at + 1,
                        "offset hour must be 00 to 23 and minute 00 to 59",
                    ));
                }
                self.pos += consumed(rest, after);
                let total = h * 60 + m;
                Some(if c == b'-' { -total } else { total })
            }
            _ => return Err(self.err("a UTC offset: 'Z' or +hh:mm / -hh:mm")),
        };
        let _ = start;
        Ok(DateTimeOffset {
            date,
            time,
            offset_minutes: offset,
        })
    }

    /// A number (`decimalLiteral` / `doubleLiteral` / integers) at the cursor.
    pub fn number(&mut self) -> Result<Option<Literal>> {
        let rest = self.rest();
        let Ok((after, (lex, frac, exp))) = number_lex(rest) else {
            return Ok(None);
        };
        self.pos += consumed(rest, after);
        Ok(Some(if exp {
            Literal::Double(Double {
                value: lex.parse().unwrap_or(f64::NAN),
                lexical: lex.to_owned(),
            })
        } else if frac {
            Literal::Decimal(lex.to_owned())
        } else {
            match lex.parse::<i64>() {
                Ok(v) => Literal::Int(v),
                Err(_) => Literal::Decimal(lex.to_owned()),
            }
        }))
    }

    /// `'...'` with `''` as an escaped quote; the cursor is on the quote.
    pub fn quoted(&mut self) -> Result<String> {
        let start = self.pos;
        if !self.eat(b'\'') {
            return Err(self.err("a single quote"));
        }
        let mut out = String::new();
        loop {
            let rest = self.rest();
            match rest.find('\'') {
                None => {
                    let _ = start;
                    return Err(self.err_at(self.src.len(), "a closing single quote"));
                }
                Some(i) => {
                    out.push_str(rest.get(..i).unwrap_or(""));
                    self.pos += i + 1;
                    if self.peek() == Some(b'\'') {
                        out.push('\'');
                        self.pos += 1;
                    } else {
                        return Ok(out);
                    }
                }
            }
        }
    }

    /// `duration'...'` body, `body_at` is its offset.
    pub fn duration_value(&self, body: &str, body_at: usize) -> Result<Duration> {
        let bad = || {
            self.invalid_at(
                body_at,
                "a duration like P1DT2H3M4.5S (days, hours, minutes, seconds)",
            )
        };
        let (after, (neg, d, t)) = duration_lex(body).map_err(|_| bad())?;
        if !after.is_empty() {
            return Err(self.invalid_at(
                body_at + consumed(body, after),
                "a duration like P1DT2H3M4.5S (no years or months)",
            ));
        }
        let n = |s: Option<&str>| -> Result<u64> {
            match s {
                None => Ok(0),
                Some(s) => s
                    .parse()
                    .map_err(|_| self.invalid_at(body_at, "duration component too large")),
            }
        };
        let mut dur = Duration {
            negative: neg.is_some(),
            days: n(d)?,
            ..Duration::default()
        };
        match t {
            Some((h, m, s)) => {
                if h.is_none() && m.is_none() && s.is_none() {
                    return Err(bad());
                }
                dur.hours = n(h)?;
                dur.minutes = n(m)?;
                if let Some((s, f)) = s {
                    dur.seconds = n(Some(s))?;
                    if let Some(f) = f {
                        dur.picos = picos(f).ok_or_else(|| {
                            self.invalid_at(body_at, "at most 12 digits of fractional seconds")
                        })?;
                    }
                }
            }
            None if d.is_none() => return Err(bad()),
            None => {}
        }
        Ok(dur)
    }

    /// base64url (RFC 4648 §5), padding optional, as `binaryValue`.
    pub fn binary_value(&self, body: &str, body_at: usize) -> Result<Vec<u8>> {
        use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
        use base64::Engine;
        const ENGINE: GeneralPurpose = GeneralPurpose::new(
            &base64::alphabet::URL_SAFE,
            GeneralPurposeConfig::new()
                .with_decode_padding_mode(DecodePaddingMode::Indifferent)
                .with_decode_allow_trailing_bits(false),
        );
        ENGINE
            .decode(body)
            .map_err(|_| self.invalid_at(body_at, "base64url-encoded binary data"))
    }

    /// The members of an enum literal: `A`, `A,B`, `1`, `A,-2`.
    pub fn enum_members(&self, body: &str, body_at: usize) -> Result<Vec<EnumMember>> {
        let mut out = Vec::new();
        let mut at = body_at;
        for part in body.split(',') {
            let m = if part.chars().next().is_some_and(super::is_ident_start)
                && part.chars().all(super::is_ident_char)
            {
                EnumMember::Name(part.to_owned())
            } else {
                let digits = part.strip_prefix(['+', '-']).unwrap_or(part);
                if digits.is_empty() || digits.len() > 19 || !digits.chars().all(is_digit) {
                    return Err(self.invalid_at(at, "an enumeration member name or integer value"));
                }
                match part.parse::<i64>() {
                    Ok(v) => EnumMember::Value(v),
                    Err(_) => return Err(self.invalid_at(at, "enumeration value out of range")),
                }
            };
            out.push(m);
            at += part.len() + 1;
        }
        Ok(out)
    }

    /// A prefixed literal `prefix'...'` whose prefix (an identifier, case-
    /// insensitive) has just been read; the cursor is on the quote.
    pub fn prefixed_literal(&mut self, prefix: &str, start: usize) -> Result<Literal> {
        let body_at = self.pos + 1;
        let body = self.quoted()?;
        let lower = prefix.to_ascii_lowercase();
        match lower.as_str() {
            "duration" => Ok(Literal::Duration(Box::new(
                self.duration_value(&body, body_at)?,
            ))),
            "binary" => Ok(Literal::Binary(self.binary_value(&body, body_at)?)),
            "geography" | "geometry" => Ok(Literal::Geo(Box::new(geo_literal(
                self,
                lower == "geography",
                &body,
                body_at,
            )?))),
            _ => Err(self.err_at(start, "a literal prefix")),
        }
    }

    /// An enum literal body after a qualified type name.
    pub fn enum_literal(
        &mut self,
        type_name: Option<crate::ast::QualifiedName>,
    ) -> Result<EnumLiteral> {
        let body_at = self.pos + 1;
        let body = self.quoted()?;
        let members = self.enum_members(&body, body_at)?;
        Ok(EnumLiteral { type_name, members })
    }
}

/// Parses the inside of `geography'...'`: `SRID=n;` and a shape.
fn geo_literal(p: &Parser<'_>, geography: bool, body: &str, body_at: usize) -> Result<GeoLiteral> {
    let mut g = Parser::new(body, p.limits());
    let r = (|| -> Result<GeoLiteral> {
        if !g.starts_with_ci("SRID=") {
            return Err(g.err("SRID=n;"));
        }
        g.pos += 5;
        let start = g.pos;
        while g.peek().is_some_and(|b| b.is_ascii_digit()) {
            g.pos += 1;
        }
        let digits = g.src.get(start..g.pos).unwrap_or("");
        if digits.is_empty() || digits.len() > 5 {
            return Err(g.err_at(start, "an SRID of 1 to 5 digits"));
        }
        let srid: u32 = digits.parse().unwrap_or(0);
        g.expect(b';', "';' after the SRID")?;
        let value = geo_shape(&mut g)?;
        g.finish("the end of the geo literal")?;
        Ok(GeoLiteral {
            geography,
            srid,
            value,
        })
    })();
    r.map_err(|e| e.relocate(|o| o + body_at, None))
}

fn geo_shape(g: &mut Parser<'_>) -> Result<Geo> {
    g.nested(|g| {
        let word_start = g.pos;
        let Some(word) = g.ident()? else {
            return Err(g.err("a geo shape (Point, LineString, Polygon, ...)"));
        };
        let shape = match word {
            "Point" => Geo::Point(point_data(g)?),
            "LineString" => Geo::LineString(position_list(g, 2)?),
            "Polygon" => Geo::Polygon(ring_list(g)?),
            "MultiPoint" => {
                g.expect(b'(', "'('")?;
                let mut pts = Vec::new();
                if !g.eat(b')') {
                    loop {
                        pts.push(point_data(g)?);
                        if g.eat(b')') {
                            break;
                        }
                        g.expect(b',', "',' or ')'")?;
                    }
                }
                Geo::MultiPoint(pts)
            }
            "MultiLineString" => {
                g.expect(b'(', "'('")?;
                let mut ls = Vec::new();
                if !g.eat(b')') {
                    loop {
                        ls.push(position_list(g, 2)?);
                        if g.eat(b')') {
                            break;
                        }
                        g.expect(b',', "',' or ')'")?;
                    }
                }
                Geo::MultiLineString(ls)
            }
            "MultiPolygon" => {
                g.expect(b'(', "'('")?;
                let mut ps = Vec::new();
                if !g.eat(b')') {
                    loop {
                        ps.push(ring_list(g)?);
                        if g.eat(b')') {
                            break;
                        }
                        g.expect(b',', "',' or ')'")?;
                    }
                }
                Geo::MultiPolygon(ps)
            }
            "GeometryCollection" => {
                g.expect(b'(', "'('")?;
                let mut gs = vec![geo_shape(g)?];
                while g.eat(b',') {
                    gs.push(geo_shape(g)?);
                }
                g.expect(b')', "',' or ')'")?;
                Geo::Collection(gs)
            }
            _ => return Err(g.err_at(word_start, "a geo shape (Point, LineString, Polygon, ...)")),
        };
        Ok(shape)
    })
}

fn position(g: &mut Parser<'_>) -> Result<Position> {
    let mut coords = Vec::new();
    loop {
        let start = g.pos;
        let rest = g.rest();
        let lexed: IResult<&str, &str> = recognize(number_lex).parse(rest);
        let lexed = lexed.or_else(|_| -> IResult<&str, &str> {
            nom::branch::alt((tag_no_case("-INF"), tag_no_case("INF"), tag_no_case("NaN")))
                .parse(rest)
        });
        match lexed {
            Ok((after, lex)) => {
                g.pos += consumed(rest, after);
                coords.push(lex.to_owned());
            }
            Err(_) => return Err(g.err_at(start, "a coordinate")),
        }
        if coords.len() < 4 && g.peek() == Some(b' ') {
            g.pos += 1;
            continue;
        }
        break;
    }
    if coords.len() < 2 {
        return Err(g.err("a second coordinate"));
    }
    Ok(Position(coords))
}

fn point_data(g: &mut Parser<'_>) -> Result<Position> {
    g.expect(b'(', "'('")?;
    let p = position(g)?;
    g.expect(b')', "')'")?;
    Ok(p)
}

fn position_list(g: &mut Parser<'_>, min: usize) -> Result<Vec<Position>> {
    g.expect(b'(', "'('")?;
    let mut ps = vec![position(g)?];
    while g.eat(b',') {
        ps.push(position(g)?);
    }
    g.expect(b')', "',' or ')'")?;
    if ps.len() < min {
        return Err(g.err("more positions"));
    }
    Ok(ps)
}

fn ring_list(g: &mut Parser<'_>) -> Result<Vec<Vec<Position>>> {
    g.expect(b'(', "'('")?;
    let mut rs = vec![position_list(g, 1)?];
    while g.eat(b',') {
        rs.push(position_list(g, 1)?);
    }
    g.expect(b')', "',' or ')'")?;
    Ok(rs)
}

/// Takes the digits of a number-like token (for `$top` and friends).
pub(crate) fn digits(i: &str) -> IResult<&str, &str> {
    take_while(is_digit).parse(i)
}

#[cfg(test)]
mod tests {
    use crate::ast::*;
    use crate::*;

    fn lit(s: &str) -> Literal {
        match parse_literal(s, &Limits::default()) {
            Ok(l) => l,
            Err(e) => panic!("{s:?}: {e}"),
        }
    }

    fn bad(s: &str) -> ParseError {
        parse_literal(s, &Limits::default()).expect_err(s)
    }

    #[test]
    fn null_boolean_numbers() {
        assert_eq!(lit("null"), Literal::Null);
        assert_eq!(lit("true"), Literal::Boolean(true));
        assert_eq!(lit("FALSE"), Literal::Boolean(false));
        assert_eq!(lit("42"), Literal::Int(42));
        assert_eq!(lit("+42"), Literal::Int(42));
        assert_eq!(lit("-9223372036854775808"), Literal::Int(i64::MIN));
        assert_eq!(
            lit("9223372036854775808"),
            Literal::Decimal("9223372036854775808".into())
        );
        assert_eq!(lit("3.14"), Literal::Decimal("3.14".into()));
        assert_eq!(
            lit("0.1000000000000000000001"),
            Literal::Decimal("0.1000000000000000000001".into())
        );
        let Literal::Double(d) = lit("-1.5e3") else {
            panic!()
        };
        assert_eq!((d.value, d.lexical.as_str()), (-1500.0, "-1.5e3"));
        let Literal::Double(d) = lit("INF") else {
            panic!()
        };
        assert!(d.value.is_infinite());
        let Literal::Double(d) = lit("NaN") else {
            panic!()
        };
        assert!(d.value.is_nan());
        assert_eq!(lit("NaN"), lit("NaN"));
        assert!(parse_literal("42.", &Limits::default()).is_err());
        assert!(parse_literal(".5", &Limits::default()).is_err());
    }

    #[test]
    fn strings() {
        assert_eq!(lit("'O''Neil'"), Literal::String("O'Neil".into()));
        assert_eq!(lit("''"), Literal::String(String::new()));
        assert_eq!(lit("'Δ ünï'"), Literal::String("Δ ünï".into()));
        assert!(parse_literal("'O'Neil'", &Limits::default()).is_err());
        assert!(parse_literal("'open", &Limits::default()).is_err());
        assert_eq!(lit("'it''s'").to_string(), "'it''s'");
    }

    #[test]
    fn dates_are_validated() {
        assert_eq!(
            lit("2012-09-03"),
            Literal::Date(Date {
                year: 2012,
                month: 9,
                day: 3
            })
        );
        assert_eq!(
            lit("2020-02-29"),
            Literal::Date(Date {
                year: 2020,
                month: 2,
                day: 29
            })
        );
        assert_eq!(
            lit("0000-02-29"),
            Literal::Date(Date {
                year: 0,
                month: 2,
                day: 29
            })
        );
        assert_eq!(lit("-10000-04-01").to_string(), "-10000-04-01");
        for d in [
            "2021-02-30",
            "2019-02-29",
            "1900-02-29",
            "2021-13-01",
            "2021-00-10",
            "2021-04-31",
            "21-01-01",
            "02021-01-01",
        ] {
            assert!(matches!(bad(d), ParseError::InvalidValue { .. }), "{d}");
        }
    }

    #[test]
    fn times_are_validated() {
        assert_eq!(
            lit("13:52"),
            Literal::TimeOfDay(TimeOfDay {
                hour: 13,
                minute: 52,
                second: 0,
                picos: 0
            })
        );
        assert_eq!(
            lit("13:52:07.5"),
            Literal::TimeOfDay(TimeOfDay {
                hour: 13,
                minute: 52,
                second: 7,
                picos: 500_000_000_000
            })
        );
        assert_eq!(lit("23:59:60").to_string(), "23:59:60");
        for t in [
            "25:00:00",
            "24:00:00",
            "12:60",
            "12:00:61",
            "12:00:00.1234567890123",
        ] {
            assert!(matches!(bad(t), ParseError::InvalidValue { .. }), "{t}");
        }
    }

    #[test]
    fn date_time_offsets() {
        let Literal::DateTimeOffset(d) = lit("2012-09-03T14:53:01.123+02:00") else {
            panic!()
        };
        assert_eq!(d.offset_minutes, Some(120));
        assert_eq!(d.time.picos, 123_000_000_000);
        let Literal::DateTimeOffset(d) = lit("2012-09-03T14:53Z") else {
            panic!()
        };
        assert_eq!(d.offset_minutes, None);
        let Literal::DateTimeOffset(d) = lit("2012-09-03T14:53-03:30") else {
            panic!()
        };
        assert_eq!(d.offset_minutes, Some(-210));
        // a raw '+' arrives as a space after query decoding
        let Literal::DateTimeOffset(d) = lit("2018-01-26T18:15:00 01:00") else {
            panic!()
        };
        assert_eq!(d.offset_minutes, Some(60));
        assert_eq!(d.to_string(), "2018-01-26T18:15:00+01:00");
        assert!(parse_date_time_offset("2012-09-03T14:53").is_err());
        assert!(parse_date_time_offset("2012-09-03T25:00Z").is_err());
        assert!(parse_date_time_offset("2012-02-30T10:00Z").is_err());
        assert!(parse_date_time_offset("2012-09-03T10:00+24:00").is_err());
    }

    #[test]
    fn durations() {
        let Literal::Duration(d) = lit("duration'-P6DT23H59M59.9999S'") else {
            panic!()
        };
        assert_eq!(
            (d.negative, d.days, d.hours, d.minutes, d.seconds, d.picos),
            (true, 6, 23, 59, 59, 999_900_000_000)
        );
        assert_eq!(lit("duration'PT36H'").to_string(), "duration'PT36H'");
        assert_eq!(parse_duration("'P1D'").unwrap().days, 1);
        for d in [
            "duration'P1Y'",
            "duration'P1M'",
            "duration'P'",
            "duration'PT'",
            "duration'+P1D'",
        ] {
            assert!(parse_literal(d, &Limits::default()).is_err(), "{d}");
        }
    }

    #[test]
    fn guid_binary_enum_geo() {
        let Literal::Guid(g) = lit("01234567-89AB-cdef-0123-456789abcdef") else {
            panic!()
        };
        assert_eq!(g.to_string(), "01234567-89ab-cdef-0123-456789abcdef");
        assert_eq!(lit("binary'Zm9vYg'"), Literal::Binary(b"foob".to_vec()));
        assert_eq!(lit("binary'Zm9vYg=='"), Literal::Binary(b"foob".to_vec()));
        assert_eq!(lit("BINARY''"), Literal::Binary(Vec::new()));
        assert!(parse_literal("binary'Zm9v+g=='", &Limits::default()).is_err());
        assert!(parse_literal("X'1a2B'", &Limits::default()).is_err());
        let Literal::Enum(e) = lit("Sales.Pattern'Solid,Yellow,-42'") else {
            panic!()
        };
        assert_eq!(
            e.members,
            vec![
                EnumMember::Name("Solid".into()),
                EnumMember::Name("Yellow".into()),
                EnumMember::Value(-42)
            ]
        );
        assert_eq!(parse_enum_literal("'Yellow'").unwrap().type_name, None);
        let Literal::Geo(g) = lit("geography'SRID=4326;Point(142.1 64.1)'") else {
            panic!()
        };
        assert_eq!((g.geography, g.srid), (true, 4326));
        assert!(matches!(
            lit("geometry'SRID=0;MultiPolygon(((1 1,1 1),(1 1,2 2,3 3,1 1)))'"),
            Literal::Geo(_)
        ));
        assert!(parse_literal("geography'SRID=0;Point(1)'", &Limits::default()).is_err());
    }

    #[test]
    fn literal_display_round_trips() {
        for s in [
            "null",
            "true",
            "-42",
            "3.140",
            "1e-101",
            "-INF",
            "'a''b'",
            "2012-09-03",
            "2012-09-03T14:53:00.1+02:00",
            "13:52:07.25",
            "duration'P1DT0.5S'",
            "binary'Zm9v'",
            "Ns.E'A,B'",
            "geography'SRID=0;LineString(1 2,3 4)'",
            "geometry'SRID=0;GeometryCollection(Point(1 2),Polygon((1 1,2 2,1 1)))'",
        ] {
            let l = lit(s);
            assert_eq!(lit(&l.to_string()), l, "{s} -> {l}");
        }
    }
}
