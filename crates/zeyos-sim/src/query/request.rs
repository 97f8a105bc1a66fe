//! The parameters of a list request (`POST /{entity}`).
//!
//! Bodies arrive as JSON or form-encoded; [`crate::http::body`] turns both
//! into one JSON object, and this module reads the parameters from it. In
//! form bodies, array parameters may also be given as JSON text
//! (`filter={"visibility":0}`) or, for `fields`/`sort`/`expand`, as a
//! comma-separated list.

use serde_json::{Map, Value};

use super::filter::type_name;
use crate::error::{ApiError, ApiResult};

/// Default `limit`.
pub const DEFAULT_LIMIT: u32 = 1000;
/// Largest allowed `limit`.
pub const MAX_LIMIT: u32 = 10000;

/// A parsed list request.
#[derive(Debug, Clone, PartialEq)]
pub struct ListRequest {
    /// Answer `{"count": N}` only.
    pub count: bool,
    /// `SELECT DISTINCT`.
    pub distinct: bool,
    /// `(output key, field path)`; `None` selects every scalar field.
    pub fields: Option<Vec<(String, String)>>,
    /// The filter as given (compiled later against the entity).
    pub filter: Value,
    /// Search terms.
    pub query: Option<String>,
    /// Sort keys with optional `+`/`-` prefix.
    pub sort: Vec<String>,
    /// Maximum number of rows, 1..=10000.
    pub limit: u32,
    /// Rows to skip.
    pub offset: u64,
    /// Composite fields to expand.
    pub expand: Vec<String>,
}

impl ListRequest {
    /// Reads the parameters from a request object. Unknown parameters are
    /// rejected so that a typo does not silently return unfiltered data.
    pub fn parse(params: &Map<String, Value>) -> ApiResult<ListRequest> {
        let mut req = ListRequest {
            count: false,
            distinct: false,
            fields: None,
            filter: Value::Null,
            query: None,
            sort: Vec::new(),
            limit: DEFAULT_LIMIT,
            offset: 0,
            expand: Vec::new(),
        };
        let mut seen_filter = false;
        for (key, value) in params {
            match key.as_str() {
                "count" => req.count = boolean("count", value)?,
                "distinct" => req.distinct = boolean("distinct", value)?,
                "export" => {
                    if boolean("export", value)? {
                        return Err(ApiError::bad("export is not supported by zeyos-sim"));
                    }
                }
                "fields" => req.fields = fields(value)?,
                "filter" | "filters" => {
                    if seen_filter {
                        return Err(ApiError::bad("give either filter or filters, not both"));
                    }
                    seen_filter = true;
                    req.filter = json_text(value.clone())?;
                }
                "query" => {
                    req.query = match value {
                        Value::Null => None,
                        Value::String(s) => Some(s.clone()),
                        Value::Number(n) => Some(n.to_string()),
                        other => {
                            return Err(ApiError::bad(format!(
                                "query must be a string, got {}",
                                type_name(other)
                            )))
                        }
                    }
                }
                "sort" => req.sort = string_list("sort", value)?,
                "limit" => {
                    let n = integer("limit", value)?;
                    if n < 1 || n > i64::from(MAX_LIMIT) {
                        return Err(ApiError::bad(format!(
                            "limit must be between 1 and {MAX_LIMIT}, got {n}"
                        )));
                    }
                    req.limit = n as u32;
                }
                "offset" => {
                    let n = integer("offset", value)?;
                    if n < 0 {
                        return Err(ApiError::bad(format!("offset must be >= 0, got {n}")));
                    }
                    req.offset = n as u64;
                }
                "expand" => req.expand = string_list("expand", value)?,
                other => {
                    return Err(ApiError::bad(format!("Unknown parameter '{other}'")));
                }
            }
        }
        Ok(req)
    }
}

/// A form value that holds JSON text is parsed; anything else is kept.
fn json_text(value: Value) -> ApiResult<Value> {
    match value {
        Value::String(s) if s.trim_start().starts_with(['{', '[']) => {
            crate::http::body::parse_json(s.as_bytes())
        }
        Value::String(s) if s.trim().is_empty() => Ok(Value::Null),
        v => Ok(v),
    }
}

fn boolean(name: &str, v: &Value) -> ApiResult<bool> {
    match v {
        Value::Null => Ok(false),
        Value::Bool(b) => Ok(*b),
        Value::Number(n) if n.as_i64() == Some(0) => Ok(false),
        Value::Number(n) if n.as_i64() == Some(1) => Ok(true),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "" | "0" | "false" => Ok(false),
            "1" | "true" => Ok(true),
            _ => Err(ApiError::bad(format!(
                "{name} must be a boolean, got {s:?}"
            ))),
        },
        other => Err(ApiError::bad(format!(
            "{name} must be a boolean, got {other}"
        ))),
    }
}

fn integer(name: &str, v: &Value) -> ApiResult<i64> {
    match v {
        Value::Number(n) => n
            .as_i64()
            .ok_or_else(|| ApiError::bad(format!("{name} must be an integer, got {n}"))),
        Value::String(s) => s
            .trim()
            .parse::<i64>()
            .map_err(|_| ApiError::bad(format!("{name} must be an integer, got {s:?}"))),
        other => Err(ApiError::bad(format!(
            "{name} must be an integer, got {}",
            type_name(other)
        ))),
    }
}

fn string_list(name: &str, v: &Value) -> ApiResult<Vec<String>> {
    match json_text(v.clone())? {
        Value::Null => Ok(Vec::new()),
        Value::String(s) => Ok(s
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect()),
        Value::Array(items) => items
            .into_iter()
            .map(|i| match i {
                Value::String(s) => Ok(s),
                other => Err(ApiError::bad(format!(
                    "{name} entries must be strings, got {}",
                    type_name(&other)
                ))),
            })
            .collect(),
        other => Err(ApiError::bad(format!(
            "{name} must be an array of strings, got {}",
            type_name(&other)
        ))),
    }
}

fn fields(v: &Value) -> ApiResult<Option<Vec<(String, String)>>> {
    match json_text(v.clone())? {
        Value::Object(map) => {
            let mut out = Vec::with_capacity(map.len());
            for (alias, path) in map {
                match path {
                    Value::String(p) => out.push((alias, p)),
                    other => {
                        return Err(ApiError::bad(format!(
                            "fields: the field for alias '{alias}' must be a string, got {}",
                            type_name(&other)
                        )))
                    }
                }
            }
            Ok(if out.is_empty() { None } else { Some(out) })
        }
        other => {
            let list = string_list("fields", &other)?;
            Ok(if list.is_empty() {
                None
            } else {
                Some(list.into_iter().map(|p| (p.clone(), p)).collect())
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: Value) -> ApiResult<ListRequest> {
        ListRequest::parse(v.as_object().unwrap())
    }

    #[test]
    fn defaults_and_bounds() {
        let r = parse(json!({})).unwrap();
        assert_eq!(r.limit, 1000);
        assert!(parse(json!({"limit": 0})).is_err());
        assert!(parse(json!({"limit": 10001})).is_err());
        assert_eq!(parse(json!({"limit": "10000"})).unwrap().limit, 10000);
        assert!(parse(json!({"offset": -1})).is_err());
        assert!(parse(json!({"bogus": 1})).is_err());
    }

    #[test]
    fn fields_forms() {
        let r = parse(json!({"fields": {"Name": "lastname"}})).unwrap();
        assert_eq!(r.fields, Some(vec![("Name".into(), "lastname".into())]));
        let r = parse(json!({"fields": "ID, lastname"})).unwrap();
        assert_eq!(r.fields.unwrap().len(), 2);
    }
}
