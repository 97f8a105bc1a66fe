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
//! shapes. Each record shares the [`Shape`](super::Shape) (its field names)
//! of the record before it when its names are the same: a name is compared
//! with the one expected at its position, not copied or hashed (see
//! `record_reader`). Each nested object's map is created at the size of the
//! nested object before it, so that it rarely has to grow. Bytes are
//! checked to be UTF-8 once per batch, rather than string by string.

use super::record_reader::{json_error, read_record, skip_whitespace, Hints, ReadError};
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
    /// What the records decoded so far suggest about the next ones.
    hints: Hints,
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
            hints: Hints::default(),
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
            return Err(json_error("the list answer ends early"));
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
            at = skip_whitespace(text.as_bytes(), at);
            let Some(next) = text.as_bytes().get(at).copied() else {
                return Ok(at);
            };
            match (self.expect, next) {
                (Expect::Open, b'[') => self.expect = Expect::First,
                (Expect::First, b']') | (Expect::Separator, b']') => self.expect = Expect::End,
                (Expect::Separator, b',') => self.expect = Expect::Element,
                (Expect::First | Expect::Element, _) => {
                    match read_record(&text[at..], &mut self.hints) {
                        Ok((record, len)) => {
                            self.rows.push(Row::new(record));
                            self.expect = Expect::Separator;
                            at += len;
                            continue;
                        }
                        Err(ReadError::Incomplete) if !last => return Ok(at),
                        Err(ReadError::Incomplete) => {
                            return Err(json_error("the list answer ends inside a record"))
                        }
                        Err(ReadError::Invalid(e)) => return Err(e),
                    }
                }
                (Expect::Open, _) => return Err(json_error("a list answer is not an array")),
                (Expect::End, _) => {
                    return Err(json_error("trailing characters after the list answer"))
                }
                (Expect::Separator, _) => {
                    return Err(json_error("expected `,` or `]` in the list answer"))
                }
            }
            at += 1;
        }
    }
}

fn not_utf8(e: std::str::Utf8Error) -> serde_json::Error {
    json_error(format_args!("not UTF-8: {e}"))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::Value as Json;

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
            assert_eq!(row.get_json("ID"), i as i64 + 1);
        }
        assert_eq!(rows[2].get_json("a"), "z");
        assert_eq!(rows[4].get_json("a"), Json::Null);
        assert!(rows[4].contains_key("a") && !rows[3].contains_key("a"));
        assert_eq!(rows[6].get_json("b"), 3);
    }

    #[test]
    fn a_repeated_name_keeps_its_place_and_last_value_after_a_shared_shape() {
        let rows =
            parse_rows(br#"[{"a":1,"b":2},{"a":3,"b":4,"a":5},{"a":6,"a":7,"b":8}]"#).unwrap();
        assert_eq!(rows[1].shape().names().collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(
            (rows[1].get_json("a").clone(), rows[1].get_json("b").clone()),
            (5.into(), 4.into())
        );
        assert_eq!(rows[2].shape().names().collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(
            (rows[2].get_json("a").clone(), rows[2].get_json("b").clone()),
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
        assert_eq!(whole[399].get_json("ID"), 399);
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
        assert_eq!(
            rows[0].get_json("a").as_str().map(str::len),
            Some(5 * MIN_BATCH)
        );
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
