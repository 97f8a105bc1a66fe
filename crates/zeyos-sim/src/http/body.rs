//! Request bodies and query strings: JSON or form-encoded, both turned
//! into one JSON object.
//!
//! Form bodies follow PHP's conventions, as ZeyOS does:
//! `fields[]=ID&fields[]=lastname` is an array, `filter[visibility]=0` an
//! object, and an object whose keys are exactly `0..n` is a list. Values stay
//! strings; the consumers convert them by field type.

use serde_json::{Map, Value};

use crate::error::{ApiError, ApiResult};

/// Parses JSON, also accepting bare integer object keys (`{2: [...]}`) as
/// written in the reference's own filter example. Anything else that is not
/// valid JSON is a 400 with the parser's message.
pub fn parse_json(bytes: &[u8]) -> ApiResult<Value> {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(v) => Ok(v),
        Err(first) => {
            let text = std::str::from_utf8(bytes)
                .map_err(|_| ApiError::bad("Malformed JSON: body is not UTF-8"))?;
            match quote_integer_keys(text)
                .and_then(|fixed| serde_json::from_str::<Value>(&fixed).ok())
            {
                Some(v) => Ok(v),
                None => Err(ApiError::bad(format!("Malformed JSON: {first}"))),
            }
        }
    }
}

/// Puts quotes around bare integer keys (`{2:` or `, 2 :`) outside strings;
/// `None` if there were none to fix.
fn quote_integer_keys(text: &str) -> Option<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len() + 8);
    let mut in_string = false;
    let mut escaped = false;
    let mut last_significant = ' ';
    let mut changed = false;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
                last_significant = '"';
            }
            i += 1;
            continue;
        }
        if c == '"' {
            in_string = true;
            out.push(c);
            i += 1;
            continue;
        }
        if c.is_ascii_digit() && matches!(last_significant, '{' | ',') {
            let start = i;
            let mut j = i;
            while j < chars.len() && chars[j].is_ascii_digit() {
                j += 1;
            }
            let mut k = j;
            while k < chars.len() && chars[k].is_whitespace() {
                k += 1;
            }
            if k < chars.len() && chars[k] == ':' {
                out.push('"');
                out.extend(&chars[start..j]);
                out.push('"');
                changed = true;
                last_significant = '"';
                i = j;
                continue;
            }
        }
        if !c.is_whitespace() {
            last_significant = c;
        }
        out.push(c);
        i += 1;
    }
    changed.then_some(out)
}

/// Deepest accepted `a[b][c]...` nesting in form bodies (the building of
/// the value is recursive).
const MAX_FORM_DEPTH: usize = 64;

/// Parses `application/x-www-form-urlencoded` text with PHP-style brackets.
pub fn parse_form(bytes: &[u8]) -> ApiResult<Map<String, Value>> {
    let mut root = Value::Object(Map::new());
    for (key, value) in form_urlencoded::parse(bytes) {
        let (base, rest) = match key.find('[') {
            Some(i) if i > 0 => (&key[..i], &key[i..]),
            _ => (&key[..], ""),
        };
        let mut path: Vec<Option<String>> = vec![Some(base.to_string())];
        let mut rest = rest;
        while let Some(stripped) = rest.strip_prefix('[') {
            let Some(end) = stripped.find(']') else { break };
            let seg = &stripped[..end];
            path.push(if seg.is_empty() {
                None
            } else {
                Some(seg.to_string())
            });
            rest = &stripped[end + 1..];
        }
        if path.len() > MAX_FORM_DEPTH {
            return Err(ApiError::bad(format!(
                "Malformed form body: parameter nesting exceeds {MAX_FORM_DEPTH} levels"
            )));
        }
        insert(&mut root, &path, Value::String(value.into_owned()))?;
    }
    let root = listify(root);
    match root {
        Value::Object(m) => Ok(m),
        _ => Ok(Map::new()),
    }
}

fn insert(node: &mut Value, path: &[Option<String>], value: Value) -> ApiResult<()> {
    let Some((seg, rest)) = path.split_first() else {
        *node = value;
        return Ok(());
    };
    let conflict = || ApiError::bad("Malformed form body: conflicting parameter names");
    match seg {
        Some(key) => {
            if node.is_null() {
                *node = Value::Object(Map::new());
            }
            let Value::Object(map) = node else {
                return Err(conflict());
            };
            let child = map.entry(key.clone()).or_insert(Value::Null);
            insert(child, rest, value)
        }
        None => {
            if node.is_null() {
                *node = Value::Array(Vec::new());
            }
            match node {
                Value::Array(items) => {
                    items.push(Value::Null);
                    let last = items.len() - 1;
                    insert(&mut items[last], rest, value)
                }
                Value::Object(map) => {
                    // `a[0]=x&a[]=y`: append after the highest numeric key.
                    let next = map
                        .keys()
                        .filter_map(|k| k.parse::<usize>().ok())
                        .max()
                        .map_or(0, |m| m + 1);
                    let child = map.entry(next.to_string()).or_insert(Value::Null);
                    insert(child, rest, value)
                }
                _ => Err(conflict()),
            }
        }
    }
}

/// Objects whose keys are exactly `0..n` become arrays (PHP lists).
fn listify(v: Value) -> Value {
    match v {
        Value::Object(map) => {
            let n = map.len();
            let is_list = n > 0 && (0..n).all(|i| map.contains_key(&i.to_string()));
            if is_list {
                let mut map = map;
                Value::Array(
                    (0..n)
                        .map(|i| listify(map.remove(&i.to_string()).unwrap_or(Value::Null)))
                        .collect(),
                )
            } else {
                Value::Object(map.into_iter().map(|(k, v)| (k, listify(v))).collect())
            }
        }
        Value::Array(items) => Value::Array(items.into_iter().map(listify).collect()),
        other => other,
    }
}

/// Parses a request body into an object: JSON when the content type says
/// so or the body looks like JSON, else form-encoded. An empty body is an
/// empty object; JSON that is not an object is a 400.
pub fn parse_object(content_type: Option<&str>, bytes: &[u8]) -> ApiResult<Map<String, Value>> {
    let ct = content_type.unwrap_or("").to_ascii_lowercase();
    let trimmed = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .map_or(&bytes[..0], |i| &bytes[i..]);
    if trimmed.is_empty() {
        return Ok(Map::new());
    }
    if ct.starts_with("multipart/") {
        return Err(ApiError::bad(
            "multipart bodies are not supported; send JSON or form-encoded data",
        ));
    }
    let looks_json = trimmed.first().is_some_and(|b| *b == b'{' || *b == b'[');
    // curl's `--data '{...}'` labels JSON as form-encoded; a form body never
    // starts with `{` or `[`, so the body's first byte decides.
    if ct.contains("json") || looks_json {
        match parse_json(bytes)? {
            Value::Object(m) => Ok(m),
            other => Err(ApiError::bad(format!(
                "request body must be a JSON object, got {}",
                crate::query::filter::type_name(&other)
            ))),
        }
    } else {
        let form = parse_form(bytes)?;
        // `body={...}`: the reference names a create/update body parameter
        // `body`; accept it holding JSON text.
        if form.len() == 1 {
            if let Some(Value::String(s)) = form.get("body") {
                if let Value::Object(m) = parse_json(s.as_bytes())? {
                    return Ok(m);
                }
            }
        }
        Ok(form)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn php_style_forms() {
        let m = parse_form(b"fields[]=ID&fields[]=lastname&limit=3").unwrap();
        assert_eq!(
            Value::Object(m),
            json!({"fields": ["ID", "lastname"], "limit": "3"})
        );
        let m = parse_form(b"filter[contact.country][IN][]=DE&filter[contact.country][IN][]=AT&filter[2][0]=OR&filter[2][1][visibility]=1").unwrap();
        assert_eq!(
            Value::Object(m),
            json!({"filter": {"contact.country": {"IN": ["DE", "AT"]}, "2": ["OR", {"visibility": "1"}]}})
        );
    }

    #[test]
    fn bare_integer_keys() {
        let v = parse_json(br#"{"a": "x:1", 2: ["OR", {"b": [1, 2]}]}"#).unwrap();
        assert_eq!(v, json!({"a": "x:1", "2": ["OR", {"b": [1, 2]}]}));
        assert!(parse_json(b"{\"a\": }").is_err());
    }
}
