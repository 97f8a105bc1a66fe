//! Primitive literals, kept at full precision and validated.

use std::fmt;

use super::{join, QualifiedName};

/// A primitive literal (`primitiveLiteral`).
///
/// Numbers are never rounded by the parser: integers that fit are `i64`,
/// everything else keeps its lexical form so the binder can pick
/// `Edm.Decimal`, `Edm.Double` or an error with the digits the client sent.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// `null`.
    Null,
    /// `true` / `false` (case-insensitive in URLs).
    Boolean(bool),
    /// An integer without fraction or exponent that fits in `i64`.
    Int(i64),
    /// A number with a fraction but no exponent, or an integer too large for
    /// `i64`, in its lexical form (sign included, e.g. `-12.50`).
    Decimal(String),
    /// A number with an exponent, or `INF`, `-INF`, `NaN`.
    Double(Double),
    /// A single-quoted string, unescaped (`''` → `'`).
    String(String),
    /// `2012-09-03`.
    Date(Date),
    /// `2012-09-03T13:52:00.5+02:00`.
    DateTimeOffset(DateTimeOffset),
    /// `13:52:00.5`.
    TimeOfDay(TimeOfDay),
    /// `duration'P1DT2H'` (boxed: 48 bytes, rare).
    Duration(Box<Duration>),
    /// `01234567-89ab-cdef-0123-456789abcdef`.
    Guid(Guid),
    /// `binary'Zm9v'`, decoded from base64url.
    Binary(Vec<u8>),
    /// `Ns.Type'Member'`, `Ns.Type'A,B'`, or a numeric member value
    /// (boxed: rare and large, it would double the size of every literal).
    Enum(Box<EnumLiteral>),
    /// `geography'SRID=0;Point(1 2)'` and friends (parse-only; boxed).
    Geo(Box<GeoLiteral>),
}

/// A floating-point literal: its value and the text it was written as.
/// Equality compares the text, so `NaN` equals itself.
#[derive(Debug, Clone)]
pub struct Double {
    /// The value as `f64` (may be rounded; use `lexical` for exact digits).
    pub value: f64,
    /// The literal as written, e.g. `-1.5e3`, `INF`.
    pub lexical: String,
}

impl PartialEq for Double {
    fn eq(&self, other: &Double) -> bool {
        self.lexical == other.lexical
    }
}

/// A calendar date in the proleptic Gregorian calendar (year 0 exists and is
/// a leap year, as in ISO 8601 and XML Schema 1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Date {
    /// Year, may be negative or above 9999.
    pub year: i32,
    /// 1..=12.
    pub month: u8,
    /// 1..=days in month.
    pub day: u8,
}

/// A time of day. `second` may be 60 (leap second, as the ABNF allows).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TimeOfDay {
    /// 0..=23.
    pub hour: u8,
    /// 0..=59.
    pub minute: u8,
    /// 0..=60; 0 when the literal omitted seconds.
    pub second: u8,
    /// Fractional seconds in picoseconds (the ABNF allows 12 digits).
    pub picos: u64,
}

/// A point in time with a UTC offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DateTimeOffset {
    /// The local date.
    pub date: Date,
    /// The local time.
    pub time: TimeOfDay,
    /// Offset from UTC in minutes; `None` for `Z`.
    pub offset_minutes: Option<i16>,
}

/// An XML Schema `dayTimeDuration`: days, hours, minutes, seconds as written
/// (not normalised, so `PT36H` stays 36 hours).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Duration {
    /// Leading `-`.
    pub negative: bool,
    /// `nD`.
    pub days: u64,
    /// `nH`.
    pub hours: u64,
    /// `nM`.
    pub minutes: u64,
    /// Whole seconds of `n.fS`.
    pub seconds: u64,
    /// Fractional seconds in picoseconds.
    pub picos: u64,
}

/// A GUID as its 16 bytes in textual (big-endian) order. Bytes rather than
/// `u128`, whose 16-byte alignment would pad every literal and expression.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Guid(pub [u8; 16]);

/// An enumeration literal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnumLiteral {
    /// `Ns.Type` before the quote; `None` in the 4.01 short form `'Member'`
    /// (only produced by [`crate::parse_enum_literal`]; in expressions a bare
    /// quoted string is a [`Literal::String`] the binder may coerce).
    pub type_name: Option<QualifiedName>,
    /// One member, or several for flags (`'Red,Blue'`).
    pub members: Vec<EnumMember>,
}

/// One member of an enum literal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnumMember {
    /// A member name.
    Name(String),
    /// A numeric value, e.g. for flags not named in the model.
    Value(i64),
}

/// A geography or geometry literal.
#[derive(Debug, Clone, PartialEq)]
pub struct GeoLiteral {
    /// `geography` (true) or `geometry` (false).
    pub geography: bool,
    /// The `SRID=n;` value.
    pub srid: u32,
    /// The shape.
    pub value: Geo,
}

/// A position: 2 to 4 coordinates, kept lexically (`doubleValue`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position(pub Vec<String>);

/// A well-known-text shape.
#[derive(Debug, Clone, PartialEq)]
pub enum Geo {
    /// `Point(x y)`.
    Point(Position),
    /// `LineString(p, p, ...)`.
    LineString(Vec<Position>),
    /// `Polygon((ring), (ring))`.
    Polygon(Vec<Vec<Position>>),
    /// `MultiPoint((p), (p))`.
    MultiPoint(Vec<Position>),
    /// `MultiLineString((line), (line))`.
    MultiLineString(Vec<Vec<Position>>),
    /// `MultiPolygon(((ring)), ((ring)))`.
    MultiPolygon(Vec<Vec<Vec<Position>>>),
    /// `GeometryCollection(shape, shape)`.
    Collection(Vec<Geo>),
}

/// Days in `month` of `year` (proleptic Gregorian).
pub fn days_in_month(year: i32, month: u8) -> u8 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 => {
            let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
            if leap {
                29
            } else {
                28
            }
        }
        _ => 0,
    }
}

fn write_picos(f: &mut fmt::Formatter<'_>, picos: u64) -> fmt::Result {
    if picos == 0 {
        return Ok(());
    }
    let s = format!("{picos:012}");
    write!(f, ".{}", s.trim_end_matches('0'))
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.year < 0 {
            write!(f, "-{:04}", self.year.unsigned_abs())?;
        } else {
            write!(f, "{:04}", self.year)?;
        }
        write!(f, "-{:02}-{:02}", self.month, self.day)
    }
}

impl fmt::Display for TimeOfDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}:{:02}", self.hour, self.minute, self.second)?;
        write_picos(f, self.picos)
    }
}

impl fmt::Display for DateTimeOffset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}T{}", self.date, self.time)?;
        match self.offset_minutes {
            None => f.write_str("Z"),
            Some(m) => {
                let sign = if m < 0 { '-' } else { '+' };
                let m = m.unsigned_abs();
                write!(f, "{sign}{:02}:{:02}", m / 60, m % 60)
            }
        }
    }
}

impl fmt::Display for Duration {
    /// The value only (`P1DT2H`), without `duration'...'`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.negative {
            f.write_str("-")?;
        }
        f.write_str("P")?;
        if self.days > 0 {
            write!(f, "{}D", self.days)?;
        }
        let time = self.hours > 0 || self.minutes > 0 || self.seconds > 0 || self.picos > 0;
        if time || self.days == 0 {
            f.write_str("T")?;
        }
        if self.hours > 0 {
            write!(f, "{}H", self.hours)?;
        }
        if self.minutes > 0 {
            write!(f, "{}M", self.minutes)?;
        }
        if self.seconds > 0 || self.picos > 0 || (!time && self.days == 0) {
            write!(f, "{}", self.seconds)?;
            write_picos(f, self.picos)?;
            f.write_str("S")?;
        }
        Ok(())
    }
}

impl fmt::Display for Guid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = format!("{:032x}", u128::from_be_bytes(self.0));
        let p = |a: usize, b: usize| s.get(a..b).unwrap_or("");
        write!(
            f,
            "{}-{}-{}-{}-{}",
            p(0, 8),
            p(8, 12),
            p(12, 16),
            p(16, 20),
            p(20, 32)
        )
    }
}

impl fmt::Display for EnumMember {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EnumMember::Name(n) => f.write_str(n),
            EnumMember::Value(v) => write!(f, "{v}"),
        }
    }
}

impl fmt::Display for EnumLiteral {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(t) = &self.type_name {
            write!(f, "{t}")?;
        }
        f.write_str("'")?;
        join(f, &self.members, ",")?;
        f.write_str("'")
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        join(f, &self.0, " ")
    }
}

struct Ring<'a>(&'a [Position]);
impl fmt::Display for Ring<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("(")?;
        join(f, self.0, ",")?;
        f.write_str(")")
    }
}

struct Rings<'a>(&'a [Vec<Position>]);
impl fmt::Display for Rings<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("(")?;
        for (i, r) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{}", Ring(r))?;
        }
        f.write_str(")")
    }
}

impl fmt::Display for Geo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Geo::Point(p) => write!(f, "Point({p})"),
            Geo::LineString(ps) => write!(f, "LineString{}", Ring(ps)),
            Geo::Polygon(rs) => write!(f, "Polygon{}", Rings(rs)),
            Geo::MultiPoint(ps) => {
                f.write_str("MultiPoint(")?;
                for (i, p) in ps.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "({p})")?;
                }
                f.write_str(")")
            }
            Geo::MultiLineString(ls) => write!(f, "MultiLineString{}", Rings(ls)),
            Geo::MultiPolygon(ps) => {
                f.write_str("MultiPolygon(")?;
                for (i, p) in ps.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "{}", Rings(p))?;
                }
                f.write_str(")")
            }
            Geo::Collection(gs) => {
                f.write_str("GeometryCollection(")?;
                join(f, gs, ",")?;
                f.write_str(")")
            }
        }
    }
}

impl fmt::Display for GeoLiteral {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let prefix = if self.geography {
            "geography"
        } else {
            "geometry"
        };
        write!(f, "{prefix}'SRID={};{}'", self.srid, self.value)
    }
}

/// Writes `s` as an OData string literal, doubling single quotes.
pub(crate) fn write_quoted(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    f.write_str("'")?;
    for (i, part) in s.split('\'').enumerate() {
        if i > 0 {
            f.write_str("''")?;
        }
        f.write_str(part)?;
    }
    f.write_str("'")
}

impl fmt::Display for Literal {
    /// The URL form of the literal, before percent-encoding.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Literal::Null => f.write_str("null"),
            Literal::Boolean(b) => write!(f, "{b}"),
            Literal::Int(i) => write!(f, "{i}"),
            Literal::Decimal(d) => f.write_str(d),
            Literal::Double(d) => f.write_str(&d.lexical),
            Literal::String(s) => write_quoted(f, s),
            Literal::Date(d) => write!(f, "{d}"),
            Literal::DateTimeOffset(d) => write!(f, "{d}"),
            Literal::TimeOfDay(t) => write!(f, "{t}"),
            Literal::Duration(d) => write!(f, "duration'{d}'"),
            Literal::Guid(g) => write!(f, "{g}"),
            Literal::Binary(b) => {
                use base64::Engine;
                write!(
                    f,
                    "binary'{}'",
                    base64::engine::general_purpose::URL_SAFE.encode(b)
                )
            }
            Literal::Enum(e) => write!(f, "{e}"),
            Literal::Geo(g) => write!(f, "{g}"),
        }
    }
}
