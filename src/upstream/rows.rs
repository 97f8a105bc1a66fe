//! Decoding a ZeyOS list response into rows.
//!
//! A list answer is an array of objects that all carry the same fields,
//! and their composite fields (line items) objects of a few recurring
//! shapes. Decoded generically, every object's map starts empty and grows
//! (and rehashes) several times; here each row's map is created at the
//! size of the row before it, and each nested object's at the size of the
//! nested object before it, so that they rarely have to grow. The body is
//! checked to be UTF-8 once, up front, rather than string by string.

use std::cell::Cell;
use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value as Json};

use super::Row;

/// Decodes a list response body: a JSON array of objects.
pub fn parse_rows(body: &[u8]) -> serde_json::Result<Vec<Row>> {
    let text = std::str::from_utf8(body).map_err(|e| {
        <serde_json::Error as serde::de::Error>::custom(format_args!("not UTF-8: {e}"))
    })?;
    let mut de = serde_json::Deserializer::from_str(text);
    let nested = Cell::new(0);
    let rows = de.deserialize_seq(RowsVisitor { nested: &nested })?;
    de.end()?;
    Ok(rows)
}

struct RowsVisitor<'h> {
    /// Width of the last nested object decoded.
    nested: &'h Cell<usize>,
}

impl<'de> Visitor<'de> for RowsVisitor<'_> {
    type Value = Vec<Row>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of records")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<Row>, A::Error> {
        let mut rows = Vec::new();
        let width = Cell::new(0);
        let row = || ValueSeed {
            width: &width,
            nested: self.nested,
            object_only: true,
        };
        while let Some(value) = seq.next_element_seed(row())? {
            match value {
                Json::Object(r) => rows.push(Row::new(r)),
                // `object_only` lets nothing else through.
                _ => return Err(serde::de::Error::custom("a record is not an object")),
            }
        }
        Ok(rows)
    }
}

/// The most fields a map is presized for: one odd object (a ZeyOS entity
/// has at most a few dozen fields) must not make every later one reserve
/// that much.
const MAX_PRESIZE: usize = 256;

/// One JSON value; objects presized to `width`, which they then update.
struct ValueSeed<'h> {
    /// Width of the last object decoded at this level.
    width: &'h Cell<usize>,
    /// Width of the last object decoded below this level.
    nested: &'h Cell<usize>,
    /// Only an object is accepted (a row).
    object_only: bool,
}

impl<'de> DeserializeSeed<'de> for ValueSeed<'_> {
    type Value = Json;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Json, D::Error> {
        if self.object_only {
            d.deserialize_map(self)
        } else {
            d.deserialize_any(self)
        }
    }
}

impl ValueSeed<'_> {
    /// The seed for values inside this one.
    fn inner(&self) -> ValueSeed<'_> {
        ValueSeed {
            width: self.nested,
            nested: self.nested,
            object_only: false,
        }
    }
}

impl<'de> Visitor<'de> for ValueSeed<'_> {
    type Value = Json;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(if self.object_only {
            "a record object"
        } else {
            "a JSON value"
        })
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
        ] {
            assert!(
                parse_rows(body).is_err(),
                "{:?}",
                String::from_utf8_lossy(body)
            );
        }
    }
}
