//! Writing property values in OData JSON.
//!
//! Values are written straight from ZeyOS's JSON into the output buffer,
//! converted by the property's [`Conversion`]: time stamps become ISO 8601
//! UTC, 0/1 flags booleans, enum integers member names, and with
//! `IEEE754Compatible=true` 64-bit integers and decimals become strings so
//! JavaScript clients keep every digit.

use serde_json::Value as Json;

use super::number::{write_f64, write_number};
use crate::edm::{Conversion, EdmType, EnumTypeId, Property, ServiceModel};
use crate::upstream::{FieldRef, Record};
use crate::values::{civil, field_i64};

/// Appends a JSON string literal.
pub fn write_str(out: &mut Vec<u8>, s: &str) {
    // Most strings (property names, codes, names, ISO time stamps) need no
    // escaping: a branch-free scan decides, and they are copied as they
    // are. The rest go through serde_json's escaping; writing into a Vec
    // cannot fail.
    if needs_escaping(s.as_bytes()) {
        let _ = serde_json::to_writer(&mut *out, s);
    } else {
        write_unescaped(out, s);
    }
}

/// Appends `s` in quotes as it is; for strings known to need no escaping.
fn write_unescaped(out: &mut Vec<u8>, s: &str) {
    out.reserve(s.len() + 2);
    out.push(b'"');
    out.extend_from_slice(s.as_bytes());
    out.push(b'"');
}

/// Whether a JSON string must escape any of these bytes: quotes,
/// backslashes and control characters.
fn needs_escaping(bytes: &[u8]) -> bool {
    // No early exit, so that the loop is vectorised.
    bytes.iter().fold(false, |acc, &b| {
        acc | (b < 0x20) | (b == b'"') | (b == b'\\')
    })
}

/// An object key with its colon, `"Name":`, escaped once so that writers
/// can append it for every row.
///
/// Keys of up to [`INLINE_KEY`] bytes (all of the shipped model's) are
/// held in a fixed array and appended by copying the whole array and
/// cutting the output back: a copy of fixed size is inlined, where one of
/// varying size is a `memcpy` call, and a page of 1,000 transactions
/// appends some 190,000 keys.
#[derive(Debug, Clone)]
pub struct EscapedKey {
    inline: [u8; INLINE_KEY],
    len: usize,
    /// A longer key, appended as a slice.
    spilled: Option<Box<[u8]>>,
}

/// Bytes of an [`EscapedKey`] held inline.
const INLINE_KEY: usize = 32;

impl EscapedKey {
    /// `key` escaped, in quotes, with its colon.
    pub fn new(key: &str) -> Self {
        let mut bytes = Vec::with_capacity(key.len() + 3);
        write_key(&mut bytes, key);
        let mut inline = [0; INLINE_KEY];
        match inline.get_mut(..bytes.len()) {
            Some(slot) => {
                slot.copy_from_slice(&bytes);
                EscapedKey {
                    inline,
                    len: bytes.len(),
                    spilled: None,
                }
            }
            None => EscapedKey {
                inline,
                len: 0,
                spilled: Some(bytes.into_boxed_slice()),
            },
        }
    }

    /// The escaped key with its colon.
    pub fn as_bytes(&self) -> &[u8] {
        match &self.spilled {
            Some(bytes) => bytes,
            None => &self.inline[..self.len],
        }
    }

    /// Appends the escaped key with its colon.
    #[inline]
    pub fn append_to(&self, out: &mut Vec<u8>) {
        match &self.spilled {
            None => {
                let end = out.len() + self.len;
                out.extend_from_slice(&self.inline);
                out.truncate(end);
            }
            Some(bytes) => out.extend_from_slice(bytes),
        }
    }
}

/// Appends an integer.
pub fn write_int(out: &mut Vec<u8>, n: i64) {
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

/// Appends a count (`@odata.count`, `Nav@odata.count`): an Edm.Int64, so
/// a string under `IEEE754Compatible=true` (OData JSON Format 3.2 names
/// the count explicitly), where a JavaScript client could not hold every
/// value as a number.
pub fn write_count(out: &mut Vec<u8>, n: i64, ieee754: bool) {
    if ieee754 {
        out.push(b'"');
        write_int(out, n);
        out.push(b'"');
    } else {
        write_int(out, n);
    }
}

/// Appends a JSON object key followed by a colon.
pub fn write_key(out: &mut Vec<u8>, key: &str) {
    write_str(out, key);
    out.push(b':');
}

/// Appends a property value read from ZeyOS.
pub fn write_property_value(
    out: &mut Vec<u8>,
    model: &ServiceModel,
    prop: &Property,
    value: Option<FieldRef<'_>>,
    ieee754: bool,
) {
    ValueFormat::of(prop).write(out, model, value, ieee754);
}

/// How a scalar property's values are written: its [`Conversion`] and
/// type folded into one choice.
///
/// Writers decide it once per property and response, not once per value:
/// a page of 1,000 transactions writes some 190,000 values, and matching
/// the conversion and then the type for each of them was a sixth of the
/// indirect jumps writing the page took (counted with callgrind's branch
/// simulation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueFormat {
    /// Unix seconds as an ISO 8601 UTC time stamp.
    UnixTime,
    /// Unix seconds as the UTC date.
    UnixDate,
    /// 0/1 as a boolean.
    Flag,
    /// An integer as the name of a member of this enum type.
    Enum(EnumTypeId),
    /// `Edm.Int32`.
    Int32,
    /// `Edm.Int64`: a string with `IEEE754Compatible=true`.
    Int64,
    /// `Edm.Decimal`: a string with `IEEE754Compatible=true`.
    Decimal,
    /// `Edm.Double`.
    Double,
    /// `Edm.Boolean` from a boolean or 0/1.
    Boolean,
    /// `Edm.String`.
    String,
    /// The JSON ZeyOS sent, as it is.
    AsIs,
}

impl ValueFormat {
    /// The format of a scalar property's values. Complex and collection
    /// values are written by the entity writer, which knows their types'
    /// keys; for them this is [`ValueFormat::AsIs`].
    pub fn of(prop: &Property) -> Self {
        match (prop.conversion, &prop.ty) {
            (Conversion::UnixTime, _) => ValueFormat::UnixTime,
            (Conversion::UnixDate, _) => ValueFormat::UnixDate,
            (Conversion::Flag, _) => ValueFormat::Flag,
            (Conversion::EnumValue | Conversion::Plain, EdmType::Enum(id)) => {
                ValueFormat::Enum(*id)
            }
            (Conversion::EnumValue | Conversion::Json, _) => ValueFormat::AsIs,
            (Conversion::Plain, EdmType::Int32) => ValueFormat::Int32,
            (Conversion::Plain, EdmType::Int64) => ValueFormat::Int64,
            (Conversion::Plain, EdmType::Decimal) => ValueFormat::Decimal,
            (Conversion::Plain, EdmType::Double) => ValueFormat::Double,
            (Conversion::Plain, EdmType::Boolean) => ValueFormat::Boolean,
            (Conversion::Plain, EdmType::String) => ValueFormat::String,
            (Conversion::Plain, _) => ValueFormat::AsIs,
        }
    }

    /// Appends `value` in this format; `null` when it is missing, null or
    /// not convertible. `ieee754` writes 64-bit integers and decimals as
    /// strings (`IEEE754Compatible=true`).
    pub fn write(
        self,
        out: &mut Vec<u8>,
        model: &ServiceModel,
        value: Option<FieldRef<'_>>,
        ieee754: bool,
    ) {
        let value = match value {
            None | Some(FieldRef::Null) => return out.extend_from_slice(b"null"),
            Some(value) => value,
        };
        match self {
            ValueFormat::UnixTime | ValueFormat::UnixDate => match field_i64(value) {
                Some(secs) => {
                    out.push(b'"');
                    if self == ValueFormat::UnixTime {
                        civil::write_unix_utc(secs, out);
                    } else {
                        civil::write_unix_date(secs, out);
                    }
                    out.push(b'"');
                }
                None => out.extend_from_slice(b"null"),
            },
            ValueFormat::Flag | ValueFormat::Boolean => match value {
                FieldRef::Bool(b) => write_bool(out, b),
                other => match field_i64(other) {
                    Some(n) => write_bool(out, n != 0),
                    None => out.extend_from_slice(b"null"),
                },
            },
            ValueFormat::Enum(id) => write_enum(out, model, id, value),
            ValueFormat::Int64 | ValueFormat::Decimal if ieee754 => match value {
                FieldRef::Int(_) | FieldRef::Float(_) | FieldRef::Json(Json::Number(_)) => {
                    write_str(out, &value.to_json().to_string())
                }
                FieldRef::Str(s) => write_str(out, s),
                other => write_field(out, other),
            },
            ValueFormat::Int32 | ValueFormat::Int64 => match field_i64(value) {
                Some(n) => write_int(out, n),
                None => out.extend_from_slice(b"null"),
            },
            ValueFormat::Decimal | ValueFormat::Double => match value {
                FieldRef::Str(s) => match s.trim().parse::<f64>() {
                    Ok(f) if f.is_finite() => write_f64(out, f),
                    _ => write_str(out, s),
                },
                other => write_field(out, other),
            },
            ValueFormat::String => match value {
                FieldRef::Str(s) => write_str(out, s),
                other => write_str(out, &other.to_json().to_string()),
            },
            ValueFormat::AsIs => write_field(out, value),
        }
    }
}

fn write_bool(out: &mut Vec<u8>, b: bool) {
    out.extend_from_slice(if b { b"true" } else { b"false" });
}

fn write_enum(out: &mut Vec<u8>, model: &ServiceModel, id: EnumTypeId, value: FieldRef<'_>) {
    let Some(n) = field_i64(value) else {
        write_field(out, value);
        return;
    };
    let members = &model.enum_type(id).members;
    match members.iter().find(|(_, v)| *v == n) {
        Some((name, _)) => write_str(out, name),
        // A value the reference does not name: OData allows the number as
        // the member's string form.
        None => {
            out.push(b'"');
            write_int(out, n);
            out.push(b'"');
        }
    }
}

/// Appends a field's value as the JSON it is.
pub fn write_field(out: &mut Vec<u8>, value: FieldRef<'_>) {
    match value {
        FieldRef::Null => out.extend_from_slice(b"null"),
        FieldRef::Bool(b) => write_bool(out, b),
        FieldRef::Int(i) => write_int(out, i),
        FieldRef::Float(f) => write_f64(out, f),
        FieldRef::Str(s) => write_str(out, s),
        FieldRef::Json(v) => write_json(out, v),
        FieldRef::List(list) => {
            // As the JSON array it was read from, without building it.
            out.push(b'[');
            for (i, item) in list.items().iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_record(out, item);
            }
            out.push(b']');
        }
    }
}

/// Appends a record as the JSON object it was read from.
pub fn write_record(out: &mut Vec<u8>, record: &Record) {
    out.push(b'{');
    for (k, (name, v)) in record.iter().enumerate() {
        if k > 0 {
            out.push(b',');
        }
        write_key(out, name);
        write_field(out, v);
    }
    out.push(b'}');
}

/// Appends any JSON value as is.
pub fn write_json(out: &mut Vec<u8>, value: &Json) {
    match value {
        Json::Number(n) => write_number(out, n),
        other => {
            let _ = serde_json::to_writer(&mut *out, other);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn model() -> ServiceModel {
        ServiceModel {
            name: "t".into(),
            root: "/t/".into(),
            namespace: "T".into(),
            container: "C".into(),
            entity_sets: vec![],
            entity_types: vec![],
            enum_types: vec![crate::edm::EnumType {
                name: "Kind".into(),
                description: None,
                members: vec![("PROSPECT".into(), 0), ("CUSTOMER".into(), 1)],
            }],
            complex_types: vec![],
            set_index: HashMap::new(),
            title: None,
            async_requests: false,
            max_expand_depth: 2,
        }
    }

    fn prop(ty: EdmType, conversion: Conversion) -> Property {
        Property::plain("P", "p", ty, conversion)
    }

    fn written(p: &Property, v: Json, ieee: bool) -> String {
        let mut out = Vec::new();
        write_property_value(&mut out, &model(), p, Some(FieldRef::of(&v)), ieee);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn strings_are_written_as_serde_json_writes_them() {
        let mut samples: Vec<String> = (0u32..0x80)
            .chain([0xe9, 0x2028, 0x1f600])
            .filter_map(char::from_u32)
            .map(|c| format!("a{c}b"))
            .collect();
        samples.extend(
            ["", "Köln", "O'Neil \"x\"", "C:\\tmp", "tab\there", "\u{7f}"].map(String::from),
        );
        for s in samples {
            let mut out = Vec::new();
            write_str(&mut out, &s);
            assert_eq!(out, serde_json::to_vec(&s).unwrap(), "{s:?}");
        }
        let mut out = Vec::new();
        write_int(&mut out, i64::MIN);
        assert_eq!(out, i64::MIN.to_string().as_bytes());
        assert_eq!(EscapedKey::new("Name").as_bytes(), b"\"Name\":");
        for key in [
            "",
            "Name",
            "a\"quoted\" name",
            &"x".repeat(29),
            &"y".repeat(30),
        ] {
            let escaped = EscapedKey::new(key);
            let mut out = b"{".to_vec();
            escaped.append_to(&mut out);
            let mut expected = b"{".to_vec();
            write_key(&mut expected, key);
            assert_eq!(out, expected, "{key}");
            assert_eq!(escaped.as_bytes(), &expected[1..]);
        }
    }

    proptest::proptest! {
        #[test]
        fn escaping_is_needed_exactly_for_quotes_backslashes_and_controls(
            bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..40),
            plain in proptest::collection::vec(0x20u8..0x7f, 0..40),
        ) {
            let special = |b: &u8| *b < 0x20 || *b == b'"' || *b == b'\\';
            proptest::prop_assert_eq!(needs_escaping(&bytes), bytes.iter().any(special));
            proptest::prop_assert_eq!(needs_escaping(&plain), plain.iter().any(special));
        }
    }

    #[test]
    fn converts_each_kind() {
        let m = model();
        let _ = &m;
        assert_eq!(
            written(
                &prop(EdmType::DateTimeOffset, Conversion::UnixTime),
                872_838_840.into(),
                false
            ),
            "\"1997-08-29T07:14:00Z\""
        );
        assert_eq!(
            written(&prop(EdmType::Boolean, Conversion::Flag), 1.into(), false),
            "true"
        );
        assert_eq!(
            written(
                &prop(
                    EdmType::Enum(crate::edm::EnumTypeId(0)),
                    Conversion::EnumValue
                ),
                1.into(),
                false
            ),
            "\"CUSTOMER\""
        );
        assert_eq!(
            written(
                &prop(EdmType::Decimal, Conversion::Plain),
                serde_json::json!(19.99),
                true
            ),
            "\"19.99\""
        );
        assert_eq!(
            written(
                &prop(EdmType::String, Conversion::Plain),
                "O'Neil \"x\"".into(),
                false
            ),
            "\"O'Neil \\\"x\\\"\""
        );
    }
}
