//! Free JSON from ZeyOS (`meta`, `data`, settings objects) written as the
//! open complex type `JsonObject`, whose members are dynamic properties.
//!
//! ZeyOS stores these values as whatever JSON its users wrote, so their
//! keys can be anything: `"@odata.id"` or `"a@odata.type"` would be read by
//! every OData client as control information or annotations (JSON Format
//! 20 and 4.5; a bogus `@odata.type` makes strict readers such as ODataLib
//! fail the whole refresh), and `"x.y"`, `"Kunden-Nr"` or `""` are no
//! property names at all (a SimpleIdentifier, CSDL 15.2). Such keys are
//! written with each character that a name cannot hold as `_xHHHH_`, its
//! UTF-16 code unit(s) in hex, the convention of `XmlConvert.EncodeName`
//! that SharePoint's OData feeds use for field names with spaces, so Power
//! BI users know it: `Kunden-Nr` is `Kunden_x002D_Nr`. A `_` that starts
//! what reads as such an escape is escaped itself (`_x005F_`), so the
//! encoding is reversible and two keys never meet. The empty key, which no
//! character can spell, is `_x005F_`: a name no other key is written as
//! (a lone `_` stays `_`, and one that starts an escape is followed by
//! more). Names longer than CSDL's 128 characters are left long.

use std::borrow::Cow;
use std::fmt::Write;

use serde_json::Value as Json;

use super::value::{write_json, write_key};

/// Appends `value` with every object key (at any depth) made a valid
/// dynamic property name.
pub fn write_open_json(out: &mut Vec<u8>, value: &Json) {
    match value {
        Json::Object(map) => {
            out.push(b'{');
            for (i, (key, v)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_key(out, &property_name(key));
                write_open_json(out, v);
            }
            out.push(b'}');
        }
        Json::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_open_json(out, item);
            }
            out.push(b']');
        }
        scalar => write_json(out, scalar),
    }
}

/// `key` as a dynamic property name: itself when it is one, escaped
/// otherwise (see the module documentation).
pub fn property_name(key: &str) -> Cow<'_, str> {
    if key.is_empty() {
        return Cow::Borrowed("_x005F_");
    }
    let needs = key
        .char_indices()
        .any(|(i, c)| !allowed(c, i == 0) || starts_escape(&key[i..]));
    if !needs {
        return Cow::Borrowed(key);
    }
    let mut name = String::with_capacity(key.len() + 16);
    for (i, c) in key.char_indices() {
        if allowed(c, i == 0) && !starts_escape(&key[i..]) {
            name.push(c);
        } else {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                let _ = write!(name, "_x{unit:04X}_");
            }
        }
    }
    Cow::Owned(name)
}

/// Whether a name may hold `c` (at its start when `first`): letters and
/// `_` anywhere, digits after the first character (CSDL's identifier
/// characters, less the rarer connector and format classes, which are
/// escaped).
fn allowed(c: char, first: bool) -> bool {
    c == '_' || c.is_alphabetic() || (!first && c.is_numeric())
}

/// Whether `rest` starts with what decodes as an escape: `_x`, four hex
/// digits, `_`.
fn starts_escape(rest: &str) -> bool {
    let b = rest.as_bytes();
    b.len() >= 7
        && b[0] == b'_'
        && b[1] == b'x'
        && b[2..6].iter().all(u8::is_ascii_hexdigit)
        && b[6] == b'_'
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(v: &Json) -> String {
        let mut out = Vec::new();
        write_open_json(&mut out, v);
        String::from_utf8(out).unwrap_or_default()
    }

    #[test]
    fn names_stay_and_everything_else_is_escaped() {
        for (key, name) in [
            ("Color", "Color"),
            ("größe", "größe"),
            ("_a1", "_a1"),
            ("@odata.id", "_x0040_odata_x002E_id"),
            ("a@odata.type", "a_x0040_odata_x002E_type"),
            ("x.y", "x_x002E_y"),
            ("Kunden-Nr", "Kunden_x002D_Nr"),
            ("1st", "_x0031_st"),
            ("", "_x005F_"),
            ("\u{0}", "_x0000_"),
            ("_", "_"),
            ("a b", "a_x0020_b"),
            ("_x002E_", "_x005F_x002E_"),
            ("😀", "_xD83D__xDE00_"),
        ] {
            assert_eq!(property_name(key), name, "{key:?}");
        }
    }

    #[test]
    fn keys_are_escaped_at_every_depth() {
        let v = serde_json::json!({
            "@odata.id": "evil",
            "ok": [{"a.b": 1}, 2, "x"],
            "n": {"c@d": null, "e": true}
        });
        assert_eq!(
            written(&v),
            r#"{"_x0040_odata_x002E_id":"evil","ok":[{"a_x002E_b":1},2,"x"],"n":{"c_x0040_d":null,"e":true}}"#
        );
    }
}
