//! Decoding a ZeyOS list response into rows, while it arrives.
//!
//! A page of a thousand wide records is over a megabyte and takes
//! milliseconds to decode. Decoding it only once the last byte is in would
//! add that time to every page; [`RowDecoder`] instead decodes each record
//! as soon as its bytes are in, so that decoding overlaps with ZeyOS still
//! sending (or the network still carrying) the rest, and only the last few
//! records are left when the body ends. It also keeps no more of the body
//! than the record it is in the middle of.
//!
//! A list answer is an array of objects that all carry the same fields,
//! and their composite fields (line items) objects of a few recurring
//! shapes. Each record shares the [`Shape`] (its field names) of the record
//! before it when its names are the same: a name is compared with the one
//! expected at its position, not copied or hashed. Each nested object's
//! map is created at the size of the nested object before it, so that it
//! rarely has to grow. Bytes are checked to be UTF-8 once per batch,
//! rather than string by string.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::sync::Arc;

use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value as Json};

use super::record::{Record, Shape};
use super::Row;

/// Decodes a whole list response body: a JSON array of objects.
pub fn parse_rows(body: &[u8]) -> serde_json::Result<Vec<Row>> {
    let mut decoder = RowDecoder::new();
    decoder.push(body)?;
    decoder.finish()
}

/// Bytes to gather before trying to decode: a few records' worth, so that
/// a record split across chunks is rarely parsed twice.
const MIN_BATCH: usize = 16 * 1024;

/// Where in the array the decoder is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// The opening `[`.
    Open,
    /// The first element or `]`.
    First,
    /// A `,` or `]` after an element.
    Separator,
    /// An element after a `,`.
    Element,
    /// Nothing but whitespace after the `]`.
    End,
}

/// Decodes a list response body fed in chunks as they arrive.
#[derive(Debug)]
pub struct RowDecoder {
    /// Received bytes not yet decoded (at most the record being received
    /// and what came after it).
    pending: Vec<u8>,
    /// Decoding waits until `pending` is at least this long (grows when a
    /// record is larger than what was received, so that a huge record is
    /// not parsed again for every small chunk).
    wait_for: usize,
    expect: Expect,
    rows: Vec<Row>,
    /// The shape of the last record and the width of the last nested
    /// object decoded: what the next ones are probably like.
    hints: (Option<Arc<Shape>>, usize),
}

impl Default for RowDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl RowDecoder {
    /// A decoder at the start of a body.
    pub fn new() -> Self {
        RowDecoder {
            pending: Vec::new(),
            wait_for: MIN_BATCH,
            expect: Expect::Open,
            rows: Vec::new(),
            hints: (None, 0),
        }
    }

    /// Takes the next chunk of the body, decoding every record it completes.
    pub fn push(&mut self, chunk: &[u8]) -> serde_json::Result<()> {
        if self.pending.is_empty() && chunk.len() >= self.wait_for {
            // Decode straight from the chunk; keep only what is left over.
            let used = self.decode(chunk, false)?;
            self.keep(chunk, used);
            return Ok(());
        }
        self.pending.extend_from_slice(chunk);
        if self.pending.len() < self.wait_for {
            return Ok(());
        }
        let pending = std::mem::take(&mut self.pending);
        let used = self.decode(&pending, false)?;
        self.keep(&pending, used);
        Ok(())
    }

    /// The rows decoded so far, taken out of the decoder.
    pub fn take_rows(&mut self) -> Vec<Row> {
        std::mem::take(&mut self.rows)
    }

    /// Ends the body: decodes what is left and checks that the array is
    /// complete. Returns the rows not taken yet.
    pub fn finish(mut self) -> serde_json::Result<Vec<Row>> {
        let pending = std::mem::take(&mut self.pending);
        let used = self.decode(&pending, true)?;
        if used < pending.len() || self.expect != Expect::End {
            return Err(syntax_error("the list answer ends early"));
        }
        Ok(self.rows)
    }

    /// Keeps the undecoded rest of `bytes` and sets how much must be
    /// pending before the next try.
    fn keep(&mut self, bytes: &[u8], used: usize) {
        let rest = &bytes[used..];
        self.wait_for = MIN_BATCH.max(rest.len().saturating_mul(2));
        self.pending.clear();
        self.pending.extend_from_slice(rest);
    }

    /// Decodes as many records of `bytes` as are complete; returns how
    /// many bytes were used. At the end of the body (`last`), a record cut
    /// off is an error, not a reason to wait.
    fn decode(&mut self, bytes: &[u8], last: bool) -> serde_json::Result<usize> {
        // The hints reach the record decoder through the thread (see
        // `record`), for this batch only: decoders of other requests on
        // this thread keep theirs.
        HINTS.with(|h| h.install(std::mem::take(&mut self.hints)));
        let used = self.decode_records(bytes, last);
        self.hints = HINTS.with(Hints::take);
        used
    }

    fn decode_records(&mut self, bytes: &[u8], last: bool) -> serde_json::Result<usize> {
        let text = match std::str::from_utf8(bytes) {
            Ok(t) => t,
            // A character split across chunks: decode up to it.
            Err(e) if e.error_len().is_none() && !last => {
                // `valid_up_to` is a character boundary.
                std::str::from_utf8(&bytes[..e.valid_up_to()]).map_err(not_utf8)?
            }
            Err(e) => return Err(not_utf8(e)),
        };
        let mut at = 0;
        loop {
            at += whitespace(&text[at..]);
            let Some(next) = text.as_bytes().get(at).copied() else {
                return Ok(at);
            };
            match (self.expect, next) {
                (Expect::Open, b'[') => self.expect = Expect::First,
                (Expect::First, b']') | (Expect::Separator, b']') => self.expect = Expect::End,
                (Expect::Separator, b',') => self.expect = Expect::Element,
                (Expect::First | Expect::Element, _) => match record(&text[at..]) {
                    Ok((row, len)) => {
                        self.rows.push(row);
                        self.expect = Expect::Separator;
                        at += len;
                        continue;
                    }
                    Err(e) if e.is_eof() && !last => return Ok(at),
                    Err(e) => return Err(e),
                },
                (Expect::Open, _) => return Err(syntax_error("a list answer is not an array")),
                (Expect::End, _) => {
                    return Err(syntax_error("trailing characters after the list answer"))
                }
                (Expect::Separator, _) => {
                    return Err(syntax_error("expected `,` or `]` in the list answer"))
                }
            }
            at += 1;
        }
    }
}

/// Decodes the record at the start of `text`: the row and its length in
/// bytes.
fn record(text: &str) -> serde_json::Result<(Row, usize)> {
    // serde_json tells how far a value reached only through its stream
    // deserializer, which builds values by type, not by seed: the hints
    // reach the decoder through a thread-local.
    let mut records = serde_json::Deserializer::from_str(text).into_iter::<HintedRecord>();
    match records.next() {
        Some(Ok(HintedRecord(r))) => Ok((Row::new(r), records.byte_offset())),
        Some(Err(e)) => Err(e),
        None => Err(syntax_error("a record is missing")),
    }
}

/// The decoding hints of the batch being decoded on this thread.
struct Hints {
    /// The shape of the last record.
    shape: RefCell<Option<Arc<Shape>>>,
    /// The width of the last nested object.
    nested: Cell<usize>,
}

impl Hints {
    fn install(&self, (shape, nested): (Option<Arc<Shape>>, usize)) {
        *self.shape.borrow_mut() = shape;
        self.nested.set(nested);
    }

    fn take(&self) -> (Option<Arc<Shape>>, usize) {
        (self.shape.borrow_mut().take(), self.nested.get())
    }
}

thread_local! {
    static HINTS: Hints = const {
        Hints {
            shape: RefCell::new(None),
            nested: Cell::new(0),
        }
    };
}

/// One row, decoded with the hints of the thread's batch.
struct HintedRecord(Record);

impl<'de> serde::Deserialize<'de> for HintedRecord {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        HINTS.with(|hints| {
            let expected = hints.shape.borrow().clone();
            let record = d.deserialize_map(RecordVisitor {
                expected: expected.as_ref(),
                nested: &hints.nested,
            })?;
            *hints.shape.borrow_mut() = Some(record.shape().clone());
            Ok(HintedRecord(record))
        })
    }
}

/// Decodes one record, sharing `expected` if its names are the same.
struct RecordVisitor<'h> {
    expected: Option<&'h Arc<Shape>>,
    nested: &'h Cell<usize>,
}

impl<'de> Visitor<'de> for RecordVisitor<'_> {
    type Value = Record;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a record object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Record, A::Error> {
        let expected = self.expected.map_or(&[][..], |s| s.names_slice());
        let mut values: Vec<Json> = Vec::with_capacity(expected.len().min(MAX_PRESIZE));
        // All fields so far, once a name differs from the expected one.
        let mut other: Option<Vec<(Box<str>, Json)>> = None;
        let seed = ValueSeed {
            width: self.nested,
            nested: self.nested,
        };
        loop {
            let want = match other {
                None => expected.get(values.len()).map(|n| &**n),
                Some(_) => None,
            };
            let Some(key) = map.next_key_seed(KeySeed { want })? else {
                break;
            };
            let value = map.next_value_seed(seed.inner())?;
            match key {
                Key::Expected => values.push(value),
                Key::Other(name) => other
                    .get_or_insert_with(|| expected.iter().cloned().zip(values.drain(..)).collect())
                    .push((name, value)),
            }
        }
        Ok(match (other, self.expected) {
            // A repeated name is merged there, as decoding into a map does.
            (Some(pairs), _) => Record::from_pairs(pairs),
            (None, Some(shape)) if values.len() == shape.len() => {
                Record::from_parts(shape.clone(), values)
            }
            (None, _) => Record::from_parts(
                Arc::new(Shape::new(expected[..values.len()].to_vec())),
                values,
            ),
        })
    }
}

/// A field name: the one the shape expects at this position, or another.
enum Key {
    Expected,
    Other(Box<str>),
}

/// Reads a field name and compares it with the expected one, keeping a
/// copy only when it differs.
struct KeySeed<'a> {
    want: Option<&'a str>,
}

impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = Key;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Key, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed<'_> {
    type Value = Key;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a field name")
    }

    fn visit_str<E>(self, v: &str) -> Result<Key, E> {
        Ok(if self.want == Some(v) {
            Key::Expected
        } else {
            Key::Other(v.into())
        })
    }
}

fn syntax_error(message: &str) -> serde_json::Error {
    <serde_json::Error as serde::de::Error>::custom(message)
}

fn not_utf8(e: std::str::Utf8Error) -> serde_json::Error {
    <serde_json::Error as serde::de::Error>::custom(format_args!("not UTF-8: {e}"))
}

/// The length of the JSON whitespace `text` starts with.
fn whitespace(text: &str) -> usize {
    text.bytes()
        .take_while(|b| matches!(b, b' ' | b'\n' | b'\r' | b'\t'))
        .count()
}

/// The most fields a map is presized for: one odd object (a ZeyOS entity
/// has at most a few dozen fields) must not make every later one reserve
/// that much.
const MAX_PRESIZE: usize = 256;

/// One JSON value inside a record; objects presized to `width`, which
/// they then update.
struct ValueSeed<'h> {
    /// Width of the last object decoded at this level.
    width: &'h Cell<usize>,
    /// Width of the last object decoded below this level.
    nested: &'h Cell<usize>,
}

impl<'de> DeserializeSeed<'de> for ValueSeed<'_> {
    type Value = Json;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Json, D::Error> {
        d.deserialize_any(self)
    }
}

impl ValueSeed<'_> {
    /// The seed for values inside this one.
    fn inner(&self) -> ValueSeed<'_> {
        ValueSeed {
            width: self.nested,
            nested: self.nested,
        }
    }
}

impl<'de> Visitor<'de> for ValueSeed<'_> {
    type Value = Json;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Json, E> {
        Ok(Json::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Json, E> {
        Ok(Json::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Json, E> {
        Ok(Json::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Json, E> {
        Ok(Json::from(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Json, E> {
        Ok(Json::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Json, E> {
        Ok(Json::String(v))
    }

    fn visit_unit<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }

    fn visit_none<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        let mut items = Vec::new();
        while let Some(v) = seq.next_element_seed(self.inner())? {
            items.push(v);
        }
        Ok(Json::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        let mut object = Map::with_capacity(self.width.get().min(MAX_PRESIZE));
        while let Some(key) = map.next_key::<String>()? {
            let value = map.next_value_seed(self.inner())?;
            object.insert(key, value);
        }
        self.width.set(object.len());
        Ok(Json::Object(object))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_with_the_same_names_share_one_shape() {
        let body = br#"[{"ID":1,"a":"x"},{"ID":2,"a":"y"},{"a":"z","ID":3},{"ID":4},{"ID":5,"a":null,"b":1},{"ID":6,"a":"w","b":2},{"\u0049D":7,"a":"v","b":3}]"#;
        let rows = parse_rows(body).unwrap();
        let shared = |i: usize, j: usize| Arc::ptr_eq(rows[i].shape(), rows[j].shape());
        assert!(shared(0, 1));
        // Other order, fewer and more names: a shape of their own, which
        // the records after them share when their names are the same.
        assert!(!shared(1, 2) && !shared(2, 3) && !shared(3, 4));
        assert!(shared(4, 5) && shared(5, 6));
        let names = |i: usize| rows[i].shape().names().collect::<Vec<_>>();
        assert_eq!(names(2), ["a", "ID"]);
        assert_eq!(names(3), ["ID"]);
        assert_eq!(names(4), ["ID", "a", "b"]);
        for (i, row) in rows.iter().enumerate() {
            assert_eq!(row["ID"], i as i64 + 1);
        }
        assert_eq!(rows[2]["a"], "z");
        assert_eq!(rows[4]["a"], Json::Null);
        assert!(rows[4].contains_key("a") && !rows[3].contains_key("a"));
        assert_eq!(rows[6]["b"], 3);
    }

    #[test]
    fn a_repeated_name_keeps_its_place_and_last_value_after_a_shared_shape() {
        let rows =
            parse_rows(br#"[{"a":1,"b":2},{"a":3,"b":4,"a":5},{"a":6,"a":7,"b":8}]"#).unwrap();
        assert_eq!(rows[1].shape().names().collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(
            (rows[1]["a"].clone(), rows[1]["b"].clone()),
            (5.into(), 4.into())
        );
        assert_eq!(rows[2].shape().names().collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(
            (rows[2]["a"].clone(), rows[2]["b"].clone()),
            (7.into(), 8.into())
        );
    }

    #[test]
    fn decodes_as_generic_decoding_does() {
        for body in [
            &br#"[{"ID":1,"name":"a","items":[{"x":1}]},{"ID":2,"name":null},{},{"ID":3,"a":1,"b":2}]"#[..],
            b"[]",
            br#"[{"k":"\u00e9\n","n":-1.5e3,"dup":1,"dup":2}]"#,
            br#"[{"a":[{"x":1,"y":[{"z":{}}]},{"x":2},[],null,true,false,18446744073709551615,-9223372036854775808,0.1]},{"b":{"c":{"d":"\ud83d\ude00"}}}]"#,
            "[{\"ü\":\"ß\"}]".as_bytes(),
        ] {
            let generic: Vec<crate::upstream::Record> = serde_json::from_slice(body).unwrap();
            let generic: Vec<Row> = generic.into_iter().map(Row::new).collect();
            assert_eq!(parse_rows(body).unwrap(), generic);
        }
    }

    /// Feeds `body` in chunks of `size` bytes.
    fn chunked(body: &[u8], size: usize) -> serde_json::Result<Vec<Row>> {
        let mut decoder = RowDecoder::new();
        let mut rows = Vec::new();
        for chunk in body.chunks(size.max(1)) {
            decoder.push(chunk)?;
            rows.extend(decoder.take_rows());
        }
        rows.extend(decoder.finish()?);
        Ok(rows)
    }

    #[test]
    fn decodes_the_same_however_the_body_is_split() {
        let record = r#"{"ID":7,"name":"K\u00f6ln \"Dom\" 😀 ß","n":-1.5e3,"items":[{"x":1,"y":"a,]}"}],"z":null}"#;
        let mut body = String::from(" [\n");
        for i in 0..400 {
            if i > 0 {
                body.push_str(" ,\r\n\t");
            }
            body.push_str(&record.replace('7', &i.to_string()));
        }
        body.push_str(" ]\n ");
        let whole = parse_rows(body.as_bytes()).unwrap();
        assert_eq!(whole.len(), 400);
        assert_eq!(whole[399]["ID"], 399);
        // Every split point of a small body, and chunk sizes around the
        // batch size for a large one.
        let small = r#"[{"a":"\u00e9ü"},{"b":[1,{"c":true}]}]"#.as_bytes();
        for size in 1..small.len() {
            assert_eq!(chunked(small, size).unwrap(), parse_rows(small).unwrap());
        }
        for size in [1, 7, 1000, MIN_BATCH - 1, MIN_BATCH, MIN_BATCH + 3, 100_000] {
            assert_eq!(
                chunked(body.as_bytes(), size).unwrap(),
                whole,
                "chunks of {size}"
            );
        }
    }

    #[test]
    fn a_record_larger_than_a_batch_is_decoded_once_it_is_complete() {
        let big = format!(r#"[{{"a":"{}"}},{{"b":1}}]"#, "x".repeat(5 * MIN_BATCH));
        let rows = chunked(big.as_bytes(), 100).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0]["a"].as_str().map(str::len), Some(5 * MIN_BATCH));
    }

    #[test]
    fn rejects_what_is_not_an_array_of_objects() {
        for body in [
            &b"{}"[..],
            b"[1]",
            b"[{}] x",
            b"[{\"a\":1}",
            b"",
            b"null",
            b"[{},null]",
            b"[{\"a\":\"\xff\"}]",
            b"[{},]",
            b"[,{}]",
            b"[{}{}]",
            b"[{\"a\":1}]]",
            b"  ",
            b"[{\"a\":tru}]",
            b"[{\"a\":\"\xc3\"}]",
            b"[{\"a\":\"x",
        ] {
            for size in [1, 2, 3, body.len().max(1)] {
                assert!(
                    chunked(body, size).is_err(),
                    "{:?} in chunks of {size}",
                    String::from_utf8_lossy(body)
                );
            }
        }
    }
}
