//! Reading one record of a list answer out of its JSON text.
//!
//! Decoding is the largest single cost of a list request (a fifth of the
//! gateway's CPU for a page of 100 narrow accounts). serde_json reaches a
//! record's fields through its visitor interface, one generic call per
//! token, and hands over each field name to be compared with the expected
//! one; reading records by hand compares a name in place, scans strings
//! eight bytes at a time, and takes plain strings and integers, nearly
//! every value ZeyOS sends, straight out of the text. For the 100-account
//! answer that is a fifth less time (26 to 21 µs). A record's arrays of
//! objects (a transaction's line items) are read the same way, as records
//! that share their names ([`RecordList`]), instead of a map per object
//! that allocates and hashes every name: the 1,000-transaction page then
//! decodes in 28 % less time.
//!
//! Numbers with a fraction or an exponent are read by the standard
//! library, correctly rounded (as serde_json reads them with its
//! `float_roundtrip` feature, which the gateway enables). What is rare and
//! intricate is left to serde_json, on just that token: strings with
//! escapes, integers too long to be read without overflow. The values are
//! therefore the ones serde_json would build, and what this reader accepts
//! serde_json accepts (the tests compare the two on generated and broken
//! input).

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use serde_json::{Map, Value as Json};

use super::record::{Cell, Record, RecordList, Shape};

/// Why no record could be read.
#[derive(Debug)]
pub(super) enum ReadError {
    /// The text ends inside the record: it needs more bytes.
    Incomplete,
    /// The text is not a JSON object.
    Invalid(serde_json::Error),
}

/// What the records read so far suggest about the next one.
#[derive(Debug, Default, Clone)]
pub(super) struct Hints {
    /// The field names of the last record, which the next one shares when
    /// its names are the same.
    pub shape: Option<Arc<Shape>>,
    /// The width of the last nested object: the next one's map is created
    /// at that size, so that it rarely has to grow.
    pub nested: usize,
    /// The field names of the last few kinds of objects in arrays of
    /// objects (line items: products, texts, vouchers), most recent first,
    /// which later ones share when their names are the same.
    pub item_shapes: Vec<Arc<Shape>>,
    /// The strings of the records being read, kept between records so
    /// that its allocation is reused.
    pub strings: String,
}

/// How many kinds of line items are remembered.
const ITEM_SHAPES: usize = 8;

/// Reads the record object `text` starts with (after optional
/// whitespace): the record and the number of bytes it took.
pub(super) fn read_record(text: &str, hints: &mut Hints) -> Result<(Record, usize), ReadError> {
    let mut reader = Reader {
        text,
        bytes: text.as_bytes(),
        at: 0,
        nested: hints.nested,
        item_shapes: std::mem::take(&mut hints.item_shapes),
        strings: std::mem::take(&mut hints.strings),
    };
    reader.strings.clear();
    let read = reader.record(hints.shape.as_slice(), 1);
    hints.item_shapes = reader.item_shapes;
    hints.strings = reader.strings;
    let record = read?;
    hints.nested = reader.nested;
    hints.shape = Some(record.shape().clone());
    Ok((record, reader.at))
}

/// A serde_json error carrying `message`: the list decoder reports its own
/// syntax errors and this reader's alike, as serde_json errors.
pub(super) fn json_error(message: impl fmt::Display) -> serde_json::Error {
    <serde_json::Error as serde::de::Error>::custom(message)
}

/// The position of the first byte at or after `at` that is not JSON
/// whitespace: both the list decoder and this reader skip it between
/// tokens.
#[inline]
pub(super) fn skip_whitespace(bytes: &[u8], mut at: usize) -> usize {
    while let Some(b' ' | b'\n' | b'\r' | b'\t') = bytes.get(at) {
        at += 1;
    }
    at
}

/// Nesting deeper than this is refused, as serde_json refuses it, so that
/// a hostile answer cannot exhaust the stack.
const MAX_DEPTH: usize = 128;

/// The most fields a record or map is presized for: one odd object (a
/// ZeyOS entity has at most a few dozen fields) must not make every later
/// one reserve that much.
const MAX_PRESIZE: usize = 256;

/// Integers of up to this many digits cannot overflow an `i64`.
const SAFE_DIGITS: usize = 18;

struct Reader<'t> {
    text: &'t str,
    bytes: &'t [u8],
    at: usize,
    nested: usize,
    item_shapes: Vec<Arc<Shape>>,
    /// The strings of the records in progress (a record of the list and
    /// the line item being read in it), each record's after its
    /// parent's: a record takes its own when it ends.
    strings: String,
}

/// A record's field as read: generic JSON, or an array of objects read as
/// records.
enum FieldRead {
    Json(Json),
    List(RecordList),
}

impl<'t> Reader<'t> {
    /// The next byte after whitespace, not consumed.
    fn next_token(&mut self) -> Result<u8, ReadError> {
        self.at = skip_whitespace(self.bytes, self.at);
        self.bytes
            .get(self.at)
            .copied()
            .ok_or(ReadError::Incomplete)
    }

    /// Consumes `want` after whitespace.
    fn eat(&mut self, want: u8, what: &str) -> Result<(), ReadError> {
        if self.next_token()? == want {
            self.at += 1;
            Ok(())
        } else {
            Err(self.invalid(what))
        }
    }

    fn invalid(&self, expected: impl fmt::Display) -> ReadError {
        ReadError::Invalid(json_error(format_args!(
            "expected {expected} at byte {} of a record",
            self.at
        )))
    }

    /// The object at `self.at` as a record, sharing one of the `known`
    /// shapes (the likeliest first) when its names are those. `depth` is
    /// the number of objects and arrays its values are inside: 1 for a
    /// record of the list, whose arrays of objects are read as lists of
    /// records; deeper records (the objects of such a list) hold only
    /// JSON.
    fn record(&mut self, known: &[Arc<Shape>], depth: usize) -> Result<Record, ReadError> {
        self.eat(b'{', "a record object")?;
        // Where this record's strings start.
        let base = self.strings.len();
        let mut expected: Option<&Arc<Shape>> = known.first();
        let mut values: Vec<Cell> =
            Vec::with_capacity(expected.map_or(0, |s| s.len()).min(MAX_PRESIZE));
        // The names of all fields so far, once they match no known shape.
        let mut other: Option<Vec<Box<str>>> = None;
        if self.next_token()? == b'}' {
            self.at += 1;
        } else {
            loop {
                // Nearly always the name the expected shape has next:
                // compared where it is in the text.
                let at = values.len();
                let in_place = other.is_none()
                    && expected.is_some_and(|s| {
                        s.plain()
                            && s.names_slice()
                                .get(at)
                                .is_some_and(|name| self.eat_key(name))
                    });
                if in_place {
                    self.eat(b':', "`:`")?;
                    self.push_field(depth, base, &mut values)?;
                    if self.end_of(b'}', "`,` or `}`")? {
                        break;
                    }
                    continue;
                }
                let name = self.key()?;
                self.eat(b':', "`:`")?;
                if other.is_none() {
                    let fits =
                        |s: &&Arc<Shape>| s.names_slice().get(at).is_some_and(|n| **n == *name);
                    if !expected.as_ref().is_some_and(fits) {
                        // Another known shape with the names read so far
                        // and this one; with none, the fields go by name.
                        let read = expected.map_or(&[][..], |s| &s.names_slice()[..at]);
                        expected = known
                            .iter()
                            .find(|s| fits(s) && s.names_slice()[..at] == *read);
                        if expected.is_none() {
                            other = Some(read.to_vec());
                        }
                    }
                }
                if let Some(names) = &mut other {
                    names.push(name.into());
                }
                self.push_field(depth, base, &mut values)?;
                if self.end_of(b'}', "`,` or `}`")? {
                    break;
                }
            }
        }
        let text: Box<str> = self.strings.get(base..).unwrap_or_default().into();
        self.strings.truncate(base);
        Ok(match (other, expected) {
            // A repeated name is merged there, as decoding into a map does.
            (Some(names), _) => {
                Record::from_cell_pairs(names.into_iter().zip(values).collect(), text)
            }
            (None, Some(shape)) if values.len() == shape.len() => {
                Record::from_cells(shape.clone(), values, text)
            }
            // The first names of a known shape: another known shape with
            // just those, or a new one.
            (None, expected) => {
                let read = expected.map_or(&[][..], |s| &s.names_slice()[..values.len()]);
                let shape = known
                    .iter()
                    .find(|s| s.names_slice() == read)
                    .cloned()
                    .unwrap_or_else(|| Arc::new(Shape::new(read.to_vec())));
                Record::from_cells(shape, values, text)
            }
        })
    }

    /// The array at `self.at`, a field of a record whose values are
    /// inside `depth` containers: a list of records if every element is
    /// an object (and there is at least one), generic JSON otherwise.
    fn field_array(&mut self, depth: usize) -> Result<FieldRead, ReadError> {
        self.enter(depth + 1)?;
        let mut items: Vec<Record> = Vec::new();
        if self.next_token()? == b']' {
            self.at += 1;
            return Ok(FieldRead::Json(Json::Array(Vec::new())));
        }
        loop {
            if self.next_token()? != b'{' {
                // Not all objects: this element and the rest as JSON.
                let mut elements: Vec<Json> = items
                    .into_iter()
                    .map(|r| Json::Object(r.into_map()))
                    .collect();
                loop {
                    elements.push(self.value(depth + 1)?);
                    if self.end_of(b']', "`,` or `]`")? {
                        return Ok(FieldRead::Json(Json::Array(elements)));
                    }
                }
            }
            // The object is inside the array, its values one level deeper.
            self.check_depth(depth + 2)?;
            let known = std::mem::take(&mut self.item_shapes);
            let item = self.record(&known, depth + 2);
            self.item_shapes = known;
            let item = item?;
            self.remember_item_shape(item.shape());
            items.push(item);
            if self.end_of(b']', "`,` or `]`")? {
                return Ok(FieldRead::List(RecordList::new(items)));
            }
        }
    }

    /// After a member or element: consumes `,` (more follow: false) or
    /// `close` (true).
    fn end_of(&mut self, close: u8, what: &str) -> Result<bool, ReadError> {
        match self.next_token()? {
            b',' => {
                self.at += 1;
                Ok(false)
            }
            b if b == close => {
                self.at += 1;
                Ok(true)
            }
            _ => Err(self.invalid(what)),
        }
    }

    fn key(&mut self) -> Result<Cow<'t, str>, ReadError> {
        if self.next_token()? != b'"' {
            return Err(self.invalid("a field name"));
        }
        self.string()
    }

    /// The value after whitespace; `depth` is the number of objects and
    /// arrays it is inside.
    fn value(&mut self, depth: usize) -> Result<Json, ReadError> {
        match self.next_token()? {
            b'"' => Ok(Json::String(self.string()?.into_owned())),
            b'{' => self.object(depth + 1),
            b'[' => self.array(depth + 1),
            b'-' | b'0'..=b'9' => self.number().map(Json::from),
            b't' => self.literal("true", Json::Bool(true)),
            b'f' => self.literal("false", Json::Bool(false)),
            b'n' => self.literal("null", Json::Null),
            _ => Err(self.invalid("a value")),
        }
    }

    /// Consumes the field name `name` (after whitespace) if it is next in
    /// the text, written as it is; `name` must have no character JSON
    /// escapes.
    #[inline]
    fn eat_key(&mut self, name: &str) -> bool {
        let start = skip_whitespace(self.bytes, self.at) + 1;
        let end = start + name.len();
        let here = self.bytes.get(start - 1) == Some(&b'"')
            && self
                .bytes
                .get(start..end)
                .is_some_and(|text| same_bytes(text, name.as_bytes()))
            && self.bytes.get(end) == Some(&b'"');
        if here {
            self.at = end + 1;
        }
        here
    }

    /// Reads a record's field value onto `values`: an array of objects in
    /// a record of the list as a list of records, strings into the
    /// record's text (which starts at `base` of `self.strings`).
    #[inline]
    fn push_field(
        &mut self,
        depth: usize,
        base: usize,
        values: &mut Vec<Cell>,
    ) -> Result<(), ReadError> {
        match self.next_token()? {
            b'"' => {
                let start = self.at + 1;
                let end = special_byte(self.bytes, start);
                let text = if self.bytes.get(end) == Some(&b'"') {
                    // Both ends are ASCII quotes, so character boundaries.
                    self.at = end + 1;
                    Cow::Borrowed(&self.text[start..end])
                } else {
                    self.string()?
                };
                values.push(self.text_cell(base, text));
            }
            // Values are built where they are kept: returned from a call,
            // each went through memory and was read back at once, a stall
            // that was about a tenth of decoding.
            b'-' | b'0'..=b'9' => {
                let number = self.number()?;
                values.push(Cell::from(number));
            }
            b'[' if depth == 1 => values.push(match self.field_array(depth)? {
                FieldRead::Json(value) => Cell::from_json(value),
                FieldRead::List(list) => Cell::List(Box::new(list)),
            }),
            _ => {
                let value = self.value(depth)?;
                values.push(Cell::from_json(value));
            }
        }
        Ok(())
    }

    /// The cell for string `s` of the record whose text starts at `base`:
    /// a span of its text, or (for a record whose strings would pass
    /// 4 GiB, which no list answer's limit allows) the string itself.
    #[inline]
    fn text_cell(&mut self, base: usize, s: Cow<'_, str>) -> Cell {
        let start = self.strings.len() - base;
        match (u32::try_from(start), u32::try_from(s.len())) {
            (Ok(start), Ok(len)) if start.checked_add(len).is_some() => {
                self.strings.push_str(&s);
                Cell::Text { start, len }
            }
            _ => Cell::Json(Box::new(Json::String(s.into_owned()))),
        }
    }

    fn object(&mut self, depth: usize) -> Result<Json, ReadError> {
        self.enter(depth)?;
        let mut map = Map::with_capacity(self.nested.min(MAX_PRESIZE));
        if self.next_token()? == b'}' {
            self.at += 1;
        } else {
            loop {
                let name = self.key()?.into_owned();
                self.eat(b':', "`:`")?;
                let value = self.value(depth)?;
                map.insert(name, value);
                if self.end_of(b'}', "`,` or `}`")? {
                    break;
                }
            }
        }
        self.nested = map.len();
        Ok(Json::Object(map))
    }

    fn array(&mut self, depth: usize) -> Result<Json, ReadError> {
        self.enter(depth)?;
        let mut items = Vec::new();
        if self.next_token()? == b']' {
            self.at += 1;
        } else {
            loop {
                items.push(self.value(depth)?);
                if self.end_of(b']', "`,` or `]`")? {
                    break;
                }
            }
        }
        Ok(Json::Array(items))
    }

    /// Puts `shape` first among the known kinds of line items, forgetting
    /// the least recent beyond [`ITEM_SHAPES`].
    fn remember_item_shape(&mut self, shape: &Arc<Shape>) {
        match self.item_shapes.iter().position(|s| Arc::ptr_eq(s, shape)) {
            Some(0) => {}
            Some(i) => self.item_shapes[..=i].rotate_right(1),
            None => {
                self.item_shapes.truncate(ITEM_SHAPES - 1);
                self.item_shapes.insert(0, shape.clone());
            }
        }
    }

    /// Consumes the `{` or `[` of a container at `depth`.
    fn enter(&mut self, depth: usize) -> Result<(), ReadError> {
        self.check_depth(depth)?;
        self.at += 1;
        Ok(())
    }

    /// Refuses a container at `depth` if that is too deep.
    fn check_depth(&self, depth: usize) -> Result<(), ReadError> {
        if depth >= MAX_DEPTH {
            return Err(self.invalid(format_args!("at most {MAX_DEPTH} levels of nesting")));
        }
        Ok(())
    }

    /// The string whose opening quote is at `self.at`: borrowed from the
    /// text unless it has escapes.
    fn string(&mut self) -> Result<Cow<'t, str>, ReadError> {
        let start = self.at + 1;
        let i = special_byte(self.bytes, start);
        match self.bytes.get(i) {
            None => Err(ReadError::Incomplete),
            Some(b'"') => {
                self.at = i + 1;
                // Both ends are ASCII quotes, so character boundaries.
                Ok(Cow::Borrowed(&self.text[start..i]))
            }
            Some(b'\\') => self.escaped_string(),
            Some(_) => {
                self.at = i;
                Err(self.invalid("a string without control characters"))
            }
        }
    }

    /// A string with escapes, decoded by serde_json.
    fn escaped_string(&mut self) -> Result<Cow<'t, str>, ReadError> {
        let start = self.at;
        let mut i = start + 1;
        loop {
            match self.bytes.get(i) {
                None => return Err(ReadError::Incomplete),
                Some(b'"') => break,
                // The escaped byte cannot end the string.
                Some(b'\\') => i += 2,
                Some(_) => i += 1,
            }
        }
        let token = &self.text[start..=i];
        self.at = i + 1;
        serde_json::from_str::<String>(token)
            .map(Cow::Owned)
            .map_err(ReadError::Invalid)
    }

    /// The number at `self.at`.
    #[inline(always)]
    fn number(&mut self) -> Result<Number, ReadError> {
        if let Some((value, end)) = short_number(self.bytes, self.at) {
            self.at = end;
            return Ok(value);
        }
        let start = self.at;
        let mut end = start;
        while let Some(b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E') = self.bytes.get(end) {
            end += 1;
        }
        if end == self.bytes.len() {
            // More digits may follow in the next chunk.
            return Err(ReadError::Incomplete);
        }
        let token = &self.text[start..end];
        match number_form(token.as_bytes()) {
            None => Err(self.invalid("a number")),
            Some(NumberForm::Integer) => {
                // What `short_number` leaves: `-0` and integers of more
                // than 18 digits, which serde_json reads as it always does.
                self.at = end;
                serde_json::from_str::<Json>(token)
                    .map(Number::Other)
                    .map_err(ReadError::Invalid)
            }
            Some(NumberForm::Fraction) => match token.parse::<f64>() {
                // Correctly rounded, as serde_json with `float_roundtrip`
                // reads it.
                Ok(f) if f.is_finite() => {
                    self.at = end;
                    Ok(Number::Float(f))
                }
                _ => Err(self.invalid("a number within the range of a double")),
            },
        }
    }

    fn literal(&mut self, word: &str, value: Json) -> Result<Json, ReadError> {
        let rest = &self.bytes[self.at..];
        if rest.starts_with(word.as_bytes()) {
            self.at += word.len();
            Ok(value)
        } else if word.as_bytes().starts_with(rest) {
            Err(ReadError::Incomplete)
        } else {
            Err(self.invalid(format_args!("`{word}`")))
        }
    }
}

/// Whether `a` and `b`, of the same length, are equal: compared a word at
/// a time, without the call `memcmp` is for the short field names a
/// record has dozens of.
#[inline(always)]
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    fn word(s: &[u8], at: usize) -> u64 {
        let mut w = [0; 8];
        w.copy_from_slice(&s[at..at + 8]);
        u64::from_le_bytes(w)
    }
    fn half(s: &[u8], at: usize) -> u32 {
        let mut w = [0; 4];
        w.copy_from_slice(&s[at..at + 4]);
        u32::from_le_bytes(w)
    }
    let n = a.len();
    if n != b.len() {
        return false;
    }
    if n < 4 {
        return a.iter().zip(b).all(|(x, y)| x == y);
    }
    if n < 8 {
        return half(a, 0) == half(b, 0) && half(a, n - 4) == half(b, n - 4);
    }
    // Whole words, then the last eight bytes (overlapping the words).
    let mut at = 0;
    while at + 8 < n {
        if word(a, at) != word(b, at) {
            return false;
        }
        at += 8;
    }
    word(a, n - 8) == word(b, n - 8)
}

/// The position of the first byte from `from` on that ends or interrupts
/// a plain string: a quote, a backslash or a control character
/// (`bytes.len()` if there is none). Eight bytes at a time, as serde_json
/// scans strings: names and values are mostly longer than that.
fn special_byte(bytes: &[u8], from: usize) -> usize {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);
    // The high bit of each byte below `n`; exact for the lowest such
    // byte, which is the only one used.
    let below = |v: u64, n: u8| v.wrapping_sub(ONES * u64::from(n)) & !v & HIGH;
    let mut i = from;
    while let Some(chunk) = bytes.get(i..i + 8) {
        let mut word = [0; 8];
        word.copy_from_slice(chunk);
        let v = u64::from_le_bytes(word);
        let hits = below(v ^ (ONES * u64::from(b'"')), 1)
            | below(v ^ (ONES * u64::from(b'\\')), 1)
            | below(v, 0x20);
        if hits != 0 {
            return i + (hits.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while let Some(&b) = bytes.get(i) {
        if b == b'"' || b == b'\\' || b < 0x20 {
            return i;
        }
        i += 1;
    }
    i
}

/// The most digits of a fraction [`short_number`] reads: their value
/// cannot overflow a `u64`.
const FRACTION_DIGITS: usize = 19;

/// The largest integer below which every integer is an exact double.
const EXACT_MANTISSA: u64 = 1 << 53;

/// The powers of ten up to `FRACTION_DIGITS`, all exact doubles.
const POWERS_OF_TEN: [f64; FRACTION_DIGITS + 1] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19,
];

/// The number at `start` and where it ends, if it has a form nearly all
/// of ZeyOS's numbers have, read in one pass: an integer of at most
/// [`SAFE_DIGITS`] digits, or a decimal fraction (an amount) without an
/// exponent whose digits, read as an integer, are an exact double. `None` for anything else
/// (also for a number the text may not have all of yet), which is then
/// read the general way.
#[inline(always)]
fn short_number(bytes: &[u8], start: usize) -> Option<(Number, usize)> {
    let negative = bytes.get(start) == Some(&b'-');
    let first = start + usize::from(negative);
    let mut mantissa: u64 = 0;
    let mut digits_from = |mut i: usize| {
        while let Some(&d @ b'0'..=b'9') = bytes.get(i) {
            mantissa = mantissa.wrapping_mul(10).wrapping_add(u64::from(d - b'0'));
            i += 1;
        }
        i
    };
    let mut end = digits_from(first);
    let integer_digits = end - first;
    if integer_digits == 0 || (integer_digits > 1 && bytes.get(first) == Some(&b'0')) {
        return None;
    }
    let mut fraction_digits = 0;
    if bytes.get(end) == Some(&b'.') {
        let from = end + 1;
        end = digits_from(from);
        fraction_digits = end - from;
        if fraction_digits == 0 {
            return None;
        }
    }
    // The number ends here, within the text, and has no exponent.
    if let None | Some(b'.' | b'e' | b'E' | b'+' | b'-') = bytes.get(end) {
        return None;
    }
    if fraction_digits == 0 {
        // `-0` is the float −0.0 to serde_json.
        if integer_digits > SAFE_DIGITS || (negative && mantissa == 0) {
            return None;
        }
        let n = i64::try_from(mantissa).ok()?;
        return Some((Number::Int(if negative { -n } else { n }), end));
    }
    if integer_digits + fraction_digits > FRACTION_DIGITS || mantissa > EXACT_MANTISSA {
        return None;
    }
    // The digits and the power of ten are both exact doubles, so one
    // correctly rounded division gives the correctly rounded value, as
    // parsing the text does (Clinger's fast path).
    let value = mantissa as f64 / POWERS_OF_TEN[fraction_digits];
    Some((Number::Float(if negative { -value } else { value }), end))
}

/// A number as read: built as the cell a record keeps, or as JSON inside
/// a nested value, without going through the other.
#[derive(Debug, PartialEq)]
enum Number {
    Int(i64),
    Float(f64),
    /// What serde_json read (integers beyond `i64`, `-0`).
    Other(Json),
}

impl From<Number> for Cell {
    fn from(n: Number) -> Cell {
        match n {
            Number::Int(i) => Cell::Int(i),
            Number::Float(f) => Cell::Float(f),
            Number::Other(json) => Cell::from_json(json),
        }
    }
}

impl From<Number> for Json {
    fn from(n: Number) -> Json {
        match n {
            Number::Int(i) => Json::from(i),
            Number::Float(f) => Json::from(f),
            Number::Other(json) => json,
        }
    }
}

/// What a JSON number token holds.
#[derive(Debug, PartialEq)]
enum NumberForm {
    /// Digits only (after an optional minus).
    Integer,
    /// A fraction, an exponent or both.
    Fraction,
}

/// The form of `token` if it is a JSON number:
/// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`.
fn number_form(token: &[u8]) -> Option<NumberForm> {
    let digits_from = |mut i: usize| {
        while token.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        i
    };
    let mut i = usize::from(token.first() == Some(&b'-'));
    match token.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => i = digits_from(i + 1),
        _ => return None,
    }
    let mut form = NumberForm::Integer;
    if token.get(i) == Some(&b'.') {
        let end = digits_from(i + 1);
        if end == i + 1 {
            return None;
        }
        i = end;
        form = NumberForm::Fraction;
    }
    if let Some(b'e' | b'E') = token.get(i) {
        i += 1;
        if let Some(b'+' | b'-') = token.get(i) {
            i += 1;
        }
        let end = digits_from(i);
        if end == i {
            return None;
        }
        i = end;
        form = NumberForm::Fraction;
    }
    (i == token.len()).then_some(form)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::upstream::record::FieldRef;

    /// The record as a map and the bytes it took, `None` when it needs
    /// more, or the error.
    type Outcome = Result<Option<(Map<String, Json>, usize)>, String>;

    /// What the reader makes of `text`.
    fn read(text: &str) -> Outcome {
        match read_record(text, &mut Hints::default()) {
            Ok((r, used)) => Ok(Some((r.into_map(), used))),
            Err(ReadError::Incomplete) => Ok(None),
            Err(ReadError::Invalid(e)) => Err(e.to_string()),
        }
    }

    /// What serde_json makes of the same object.
    fn serde(text: &str) -> Result<Map<String, Json>, String> {
        serde_json::from_str(text).map_err(|e| e.to_string())
    }

    #[test]
    fn reads_values_as_serde_json_does() {
        for text in [
            r#"{}"#,
            r#" { "a" : 1 , "b":-2,"c":0,"d":-0,"e":1.5,"f":-1e3,"g":1E+2,"h":2.5e-3} "#,
            r#"{"big":123456789012345678,"bigger":1234567890123456789,"max":18446744073709551615,"over":18446744073709551616,"min":-9223372036854775808,"under":-9223372036854775809}"#,
            r#"{"s":"plain","e":"a\"b\\c\/d\b\f\n\r\t\u00e9\ud83d\ude00","u":"ü ß 😀","empty":""}"#,
            r#"{"t":true,"f":false,"n":null}"#,
            r#"{"o":{"x":1,"y":{"z":[]}},"a":[1,"two",[3],{"four":4},null,true],"eo":{},"ea":[]}"#,
            r#"{"dup":1,"other":2,"dup":3}"#,
            "{\"\\u0061\":1,\"a\\n\":2}",
        ] {
            let (map, used) = read(text).unwrap().unwrap();
            assert_eq!(map, serde(text).unwrap(), "{text}");
            assert_eq!(text[used..].trim(), "", "{text}");
        }
    }

    #[test]
    fn refuses_what_serde_json_refuses() {
        for text in [
            r#"[]"#,
            r#"{"a"}"#,
            r#"{"a":}"#,
            r#"{"a":1,}"#,
            r#"{,"a":1}"#,
            r#"{"a":01}"#,
            r#"{"a":-}"#,
            r#"{"a":1.}"#,
            r#"{"a":.5}"#,
            r#"{"a":+1}"#,
            r#"{"a":1-2}"#,
            r#"{"a":1e}"#,
            r#"{"a":tru}"#,
            r#"{"a":nul,"b":1}"#,
            r#"{"a":"\x"}"#,
            r#"{"a":"\u12"}"#,
            "{\"a\":\"tab\there\"}",
            "{\"a\":\"\\\u{e9}\"}",
            r#"{"a":'x'}"#,
            r#"{a:1}"#,
            r#"{"a":1 "b":2}"#,
            r#"{"a":[1 2]}"#,
            r#"{"a":[1,]}"#,
            r#"{"a":{"b":1,}}"#,
            r#"{"a":1e400}"#,
        ] {
            assert!(serde(text).is_err(), "serde_json accepts {text}");
            assert!(read(text).is_err(), "the reader accepts {text}");
        }
    }

    #[test]
    fn a_record_cut_off_anywhere_needs_more() {
        let text = r#"{"a":"x\"y","b":-12.5e1,"c":[true,false,null,{"d":"é"}],"e":123}"#;
        for end in 0..text.len() {
            if text.is_char_boundary(end) {
                assert!(matches!(read(&text[..end]), Ok(None)), "{}", &text[..end]);
            }
        }
        assert!(read(text).unwrap().is_some());
    }

    #[test]
    fn nesting_is_bounded() {
        let deep = |n: usize| format!(r#"{{"a":{}1{}}}"#, "[".repeat(n), "]".repeat(n));
        // The same limit as serde_json's, the record counted.
        assert!(read(&deep(MAX_DEPTH - 2)).unwrap().is_some());
        assert!(serde(&deep(MAX_DEPTH - 2)).is_ok());
        assert!(read(&deep(MAX_DEPTH - 1)).is_err());
        assert!(serde(&deep(MAX_DEPTH - 1)).is_err());
        // Far deeper than the stack would take.
        assert!(read(&deep(100_000)).is_err());
    }

    #[test]
    fn special_bytes_are_found_at_any_offset() {
        for len in 0..40 {
            for at in 0..=len {
                for special in [b'"', b'\\', 0x00, 0x1f] {
                    // Bytes around the specials that are not special.
                    for filler in [b'a', 0x20, 0x21, 0x7f, 0x80, 0xff, b'"' + 1, b'\\' - 1] {
                        let mut bytes = vec![filler; len];
                        if at < len {
                            bytes[at] = special;
                            // A second special later must not matter.
                            if at + 3 < len {
                                bytes[at + 3] = b'"';
                            }
                        }
                        for from in 0..=at.min(len) {
                            assert_eq!(special_byte(&bytes, from), at, "{bytes:?} from {from}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn numbers_are_recognised_by_the_json_grammar() {
        use NumberForm::*;
        for (token, form) in [
            ("0", Some(Integer)),
            ("-0", Some(Integer)),
            ("120", Some(Integer)),
            ("-1.50", Some(Fraction)),
            ("0.5e-3", Some(Fraction)),
            ("1E+2", Some(Fraction)),
            ("01", None),
            ("-", None),
            ("1.", None),
            (".5", None),
            ("+1", None),
            ("1e", None),
            ("1e+", None),
            ("1.5.5", None),
            ("1-2", None),
            ("--1", None),
        ] {
            assert_eq!(number_form(token.as_bytes()), form, "{token}");
        }
    }

    #[test]
    fn short_numbers_are_read_as_serde_json_reads_them() {
        for token in [
            "0",
            "7",
            "-7",
            "10",
            "999999999999999999",
            "0.5",
            "-0.5",
            "0.0",
            "-0.0",
            "19.99",
            "1.10",
            "0.1",
            "0.3",
            "123456789.12345",
            "999999999999999",
            "0.000000000000001",
            "99999999999999.9",
            "0.000000000000000001",
            "9007199254740.992",
            "-1234.5678",
        ] {
            let text = format!("{token},");
            let (value, end) = short_number(text.as_bytes(), 0).expect(token);
            let value = Json::from(value);
            assert_eq!(end, token.len(), "{token}");
            let want: Json = serde_json::from_str(token).unwrap();
            assert_eq!(value, want, "{token}");
            // The same variant: an integer stays one, a fraction a float.
            assert_eq!(value.is_f64(), want.is_f64(), "{token}");
        }
        // Left to the general reading: more digits, exponents, `-0`,
        // leading zeros, malformed numbers, and numbers that may go on.
        for text in [
            "-0,",
            "1e5,",
            "1.5E2,",
            "1234567890123456789,",
            "9007199254740.993,",
            "0.12345678901234567890,",
            "01,",
            "1.,",
            ".5,",
            "-,",
            "1.5.5,",
            "1-2,",
            "12",
            "1.5",
            "-",
            "1+,",
        ] {
            assert_eq!(short_number(text.as_bytes(), 0), None, "{text}");
        }
    }

    #[test]
    fn bytes_compare_equal_only_when_equal() {
        for n in 0..40 {
            let a: Vec<u8> = (0..n).map(|i| b'a' + (i % 26) as u8).collect();
            assert!(same_bytes(&a, &a.clone()), "{n}");
            for at in 0..n {
                let mut b = a.clone();
                b[at] ^= 0x20;
                assert!(!same_bytes(&a, &b), "{n} at {at}");
            }
            assert!(!same_bytes(&a, &a[..n.saturating_sub(1)]) || n == 0);
        }
    }

    #[test]
    fn names_needing_escapes_are_read_by_name_after_a_record_of_them() {
        let text = r#"{"a\"b":1,"c\\d":2,"e":3}"#;
        let mut hints = Hints::default();
        let (first, _) = read_record(text, &mut hints).unwrap();
        assert!(!first.shape().plain());
        let (second, _) = read_record(text, &mut hints).unwrap();
        assert!(Arc::ptr_eq(first.shape(), second.shape()));
        assert_eq!(second.into_map(), serde(text).unwrap());
        // Escaped in the text, a plain name is still the same name.
        let plain = r#"{"ab":1}"#;
        let escaped = r#"{"\u0061b":2}"#;
        let mut hints = Hints::default();
        read_record(plain, &mut hints).unwrap();
        let (record, _) = read_record(escaped, &mut hints).unwrap();
        assert_eq!(record.into_map(), serde(escaped).unwrap());
    }

    #[test]
    fn arrays_of_objects_are_read_as_records_sharing_their_names() {
        let text =
            r#"{"ID":1,"items":[{"a":1,"b":"x"},{"a":2,"b":"y"}],"tags":[1,{"a":3}],"none":[]}"#;
        let mut hints = Hints::default();
        let (first, _) = read_record(text, &mut hints).unwrap();
        let Some(FieldRef::List(list)) = first.field_at(1) else {
            panic!("the line items are a list of records");
        };
        assert_eq!(list.items().len(), 2);
        assert!(Arc::ptr_eq(
            list.items()[0].shape(),
            list.items()[1].shape()
        ));
        // Arrays that are not all objects, and empty ones, stay JSON.
        assert!(matches!(
            first.field_at(2),
            Some(FieldRef::Json(Json::Array(_)))
        ));
        assert!(matches!(first.field_at(3), Some(FieldRef::Json(Json::Array(a))) if a.is_empty()));
        assert_eq!(first.clone().into_map(), serde(text).unwrap());
        assert_eq!(
            first.get("items"),
            serde(text).unwrap().get("items").map(FieldRef::of)
        );
        // The next record's items share the shape of this one's.
        let (second, _) = read_record(text, &mut hints).unwrap();
        let Some(FieldRef::List(next)) = second.field_at(1) else {
            panic!("the line items are a list of records");
        };
        assert!(Arc::ptr_eq(
            next.items()[0].shape(),
            list.items()[0].shape()
        ));
        assert_eq!(first, second);
    }

    #[test]
    fn kinds_of_line_items_keep_their_shapes_when_they_alternate() {
        let text = r#"{"items":[{"type":0,"amount":1},{"type":1,"text":"x"},{"type":0}]}"#;
        let mut hints = Hints::default();
        let shapes = |hints: &mut Hints| {
            let (record, _) = read_record(text, hints).unwrap();
            assert_eq!(record.clone().into_map(), serde(text).unwrap());
            let Some(FieldRef::List(list)) = record.field_at(0) else {
                panic!("the line items are a list of records");
            };
            list.items()
                .iter()
                .map(|r| r.shape().clone())
                .collect::<Vec<_>>()
        };
        let first = shapes(&mut hints);
        let second = shapes(&mut hints);
        // A product item after a text item, and the next record's items,
        // take the shapes already made; the shorter one is its own.
        for (a, b) in first.iter().zip(&second) {
            assert!(Arc::ptr_eq(a, b));
        }
        assert!(!Arc::ptr_eq(&first[0], &first[2]));
        assert_eq!(first[2].names().collect::<Vec<_>>(), ["type"]);
    }

    #[test]
    fn a_list_of_records_under_a_repeated_or_unexpected_name_is_kept() {
        // The second record's names differ from the first's, so its fields
        // are gathered by name; the repeated name keeps its last value.
        let mut hints = Hints::default();
        read_record(r#"{"x":1,"items":[{"a":1}]}"#, &mut hints).unwrap();
        for text in [
            r#"{"items":[{"a":1}],"x":2}"#,
            r#"{"x":1,"items":[{"a":1}],"items":[{"a":2},{"b":3}]}"#,
            r#"{"x":1,"items":[{"a":1}],"items":4}"#,
        ] {
            let (record, _) = read_record(text, &mut hints).unwrap();
            assert_eq!(record.into_map(), serde(text).unwrap(), "{text}");
        }
    }

    mod generated {
        use super::*;
        use proptest::prelude::*;

        fn json() -> impl Strategy<Value = Json> {
            let leaf = prop_oneof![
                Just(Json::Null),
                any::<bool>().prop_map(Json::Bool),
                any::<i64>().prop_map(Json::from),
                any::<u64>().prop_map(Json::from),
                any::<f64>()
                    .prop_filter("finite", |f| f.is_finite())
                    .prop_map(Json::from),
                any::<String>().prop_map(Json::String),
                "[a-z\"\\\\/\u{0}-\u{1f}é😀]{0,8}".prop_map(Json::String),
            ];
            leaf.prop_recursive(4, 32, 6, |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..6).prop_map(Json::Array),
                    prop::collection::vec(("[a-z\"é]{0,4}", inner), 0..6)
                        .prop_map(|kv| Json::Object(kv.into_iter().collect())),
                ]
            })
        }

        fn record() -> impl Strategy<Value = Map<String, Json>> {
            prop::collection::vec(("[a-zA-Z_\"\\\\é]{0,6}", json()), 0..8)
                .prop_map(|kv| kv.into_iter().collect())
        }

        /// Records whose fields are often arrays of objects (line items),
        /// with names that repeat within and across objects.
        fn record_with_items() -> impl Strategy<Value = Map<String, Json>> {
            let object = prop::collection::vec(("[ab\"]{0,2}", json()), 0..4)
                .prop_map(|kv| Json::Object(kv.into_iter().collect()));
            let value = prop_oneof![
                json(),
                prop::collection::vec(object, 1..4).prop_map(Json::Array),
            ];
            prop::collection::vec(("[xy]{0,2}", value), 0..5)
                .prop_map(|kv| kv.into_iter().collect())
        }

        fn small_record() -> impl Strategy<Value = Map<String, Json>> {
            let leaf = prop_oneof![
                Just(Json::Null),
                any::<bool>().prop_map(Json::Bool),
                (-1000i64..1000).prop_map(Json::from),
                Just(Json::from(1.5)),
                "[a\"\\\u{1}é]{0,3}".prop_map(Json::String),
            ];
            let value = leaf.prop_recursive(2, 6, 3, |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..3).prop_map(Json::Array),
                    prop::collection::vec(("[ab]", inner), 0..3)
                        .prop_map(|kv| Json::Object(kv.into_iter().collect())),
                ]
            });
            prop::collection::vec(("[ab\"]{0,2}", value), 0..4)
                .prop_map(|kv| kv.into_iter().collect())
        }

        /// The reader accepts `text` only as serde_json does, whether it
        /// expects the names of the record before (`hints`) or none.
        fn check_against_serde(text: &str, hints: &Hints) -> Result<(), TestCaseError> {
            check_outcome(text, read(text))?;
            let primed = match read_record(text, &mut hints.clone()) {
                Ok((r, used)) => Ok(Some((r.into_map(), used))),
                Err(ReadError::Incomplete) => Ok(None),
                Err(ReadError::Invalid(e)) => Err(e.to_string()),
            };
            check_outcome(text, primed)
        }

        fn check_outcome(text: &str, outcome: Outcome) -> Result<(), TestCaseError> {
            match outcome {
                // Accepted: the same as serde_json, with only whitespace
                // after it.
                Ok(Some((map, used))) if text[used..].trim().is_empty() => {
                    prop_assert_eq!(Ok(map), serde(text), "{}", text);
                }
                // A record followed by more: serde_json must accept the
                // record alone.
                Ok(Some((map, used))) => {
                    prop_assert_eq!(Ok(map), serde(&text[..used]), "{}", text);
                }
                Ok(None) | Err(_) => prop_assert!(serde(text).is_err(), "{}", text),
            }
            Ok(())
        }

        proptest! {
            #[test]
            fn reads_generated_records_as_serde_json_does(r in record(), pretty in any::<bool>()) {
                let text = if pretty {
                    serde_json::to_string_pretty(&r).unwrap()
                } else {
                    serde_json::to_string(&r).unwrap()
                };
                let (map, used) = read(&text).unwrap().unwrap();
                prop_assert_eq!(used, text.len());
                prop_assert_eq!(map, serde(&text).unwrap());
            }

            #[test]
            fn short_numbers_are_the_doubles_serde_json_reads(
                negative in any::<bool>(),
                integer in prop_oneof![Just(0u64), 0u64..100_000, any::<u64>()],
                fraction in "[0-9]{0,19}",
            ) {
                let sign = if negative { "-" } else { "" };
                let dot = if fraction.is_empty() { "" } else { "." };
                let token = format!("{sign}{integer}{dot}{fraction}");
                if let Some((value, end)) = short_number(format!("{token}}}").as_bytes(), 0) {
                    let value = Json::from(value);
                    prop_assert_eq!(end, token.len());
                    let want: Json = serde_json::from_str(&token).unwrap();
                    prop_assert_eq!(value.is_f64(), want.is_f64(), "{}", token);
                    prop_assert_eq!(value, want, "{}", token);
                }
            }

            #[test]
            fn reads_line_items_as_serde_json_does(
                records in prop::collection::vec(record_with_items(), 1..4),
            ) {
                // One after another, as a page's records are read, so that
                // later ones meet the names the earlier ones left as hints.
                let mut hints = Hints::default();
                for r in records {
                    let text = serde_json::to_string(&r).unwrap();
                    let (record, used) = read_record(&text, &mut hints).unwrap();
                    prop_assert_eq!(used, text.len());
                    let want = serde(&text).unwrap();
                    // Read field by field, written back, and moved out,
                    // the record is the object serde_json reads.
                    prop_assert_eq!(record.to_map(), want.clone());
                    let mut written = Vec::new();
                    crate::serialize::value::write_record(&mut written, &record);
                    prop_assert_eq!(written, serde_json::to_vec(&want).unwrap());
                    prop_assert_eq!(record.into_map(), want);
                }
            }
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(64))]

            #[test]
            fn broken_records_are_refused_when_serde_json_refuses_them(r in small_record()) {
                // Every single-byte deletion, and every insertion of a byte
                // that means something in JSON, at every position.
                let text = serde_json::to_string(&r).unwrap();
                let mut hints = Hints::default();
                read_record(&text, &mut hints).unwrap();
                for at in 0..=text.len() {
                    let mut variants = Vec::new();
                    if at < text.len() {
                        let mut b = text.clone().into_bytes();
                        b.remove(at);
                        variants.push(b);
                    }
                    for &byte in b"{}[]\",:\\ 0-.eE+tfnu\x1fx\x7f" {
                        let mut b = text.clone().into_bytes();
                        b.insert(at, byte);
                        variants.push(b);
                    }
                    for bytes in variants {
                        let Ok(broken) = String::from_utf8(bytes) else { continue };
                        check_against_serde(&broken, &hints)?;
                    }
                }
            }
        }
    }
}
