//! Decoding a ZeyOS list response into rows.
//!
//! A list answer is an array of objects that all carry the same fields.
//! Decoded generically, every row's map starts empty and grows (and
//! rehashes) several times; here each row's map is created at the size of
//! the row before it, so that it never has to grow.

use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value as Json};

use super::Row;

/// Decodes a list response body: a JSON array of objects.
pub fn parse_rows(body: &[u8]) -> serde_json::Result<Vec<Row>> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let rows = de.deserialize_seq(RowsVisitor)?;
    de.end()?;
    Ok(rows)
}

struct RowsVisitor;

impl<'de> Visitor<'de> for RowsVisitor {
    type Value = Vec<Row>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of records")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<Row>, A::Error> {
        let mut rows = Vec::new();
        let mut width = 0;
        while let Some(row) = seq.next_element_seed(RowSeed { width })? {
            width = row.len();
            rows.push(row);
        }
        Ok(rows)
    }
}

/// One row, its map presized to `width` fields.
struct RowSeed {
    width: usize,
}

/// The most fields a row's map is presized for: one odd row (a ZeyOS
/// entity has at most a few dozen fields) must not make every later row
/// reserve that much.
const MAX_PRESIZE: usize = 256;

impl<'de> DeserializeSeed<'de> for RowSeed {
    type Value = Row;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Row, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for RowSeed {
    type Value = Row;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a record object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Row, A::Error> {
        let mut row = Map::with_capacity(self.width.min(MAX_PRESIZE));
        while let Some((k, v)) = map.next_entry::<String, Json>()? {
            row.insert(k, v);
        }
        Ok(row)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_as_generic_decoding_does() {
        for body in [
            &br#"[{"ID":1,"name":"a","items":[{"x":1}]},{"ID":2,"name":null},{},{"ID":3,"a":1,"b":2}]"#[..],
            b"[]",
            br#"[{"k":"\u00e9\n","n":-1.5e3,"dup":1,"dup":2}]"#,
        ] {
            let generic: Vec<Row> = serde_json::from_slice(body).unwrap();
            assert_eq!(parse_rows(body).unwrap(), generic);
        }
    }

    #[test]
    fn rejects_what_is_not_an_array_of_objects() {
        for body in [&b"{}"[..], b"[1]", b"[{}] x", b"[{\"a\":1}", b"", b"null"] {
            assert!(
                parse_rows(body).is_err(),
                "{:?}",
                String::from_utf8_lossy(body)
            );
        }
    }
}
