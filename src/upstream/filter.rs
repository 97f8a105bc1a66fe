//! The ZeyOS filter language as a tree, and its JSON form.
//!
//! The planner builds [`Filter`] trees; [`Filter::to_json`] writes them in
//! the shape the ZeyOS reference documents: an object whose keys are field
//! names (ANDed), with nested `["AND"|"OR"|"NOT", {...}, ...]` arrays under
//! numeric keys. Because a JSON object cannot hold the same field twice, a
//! second condition on a field moves under a numeric key.

use serde_json::{Map, Value as Json};

/// A ZeyOS filter operator, spelled as the reference spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    /// `=`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `IN`
    In,
    /// `!IN`
    NotIn,
    /// `~~`: PostgreSQL LIKE.
    Like,
    /// `~~*`: PostgreSQL ILIKE.
    ILike,
    /// `!~~`
    NotLike,
    /// `!~~*`
    NotILike,
    /// `~`: POSIX regular expression.
    Regex,
    /// `~*`
    IRegex,
    /// `!~`
    NotRegex,
    /// `!~*`
    NotIRegex,
}

impl Op {
    /// The operator's text in a ZeyOS filter.
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Eq => "=",
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::In => "IN",
            Op::NotIn => "!IN",
            Op::Like => "~~",
            Op::ILike => "~~*",
            Op::NotLike => "!~~",
            Op::NotILike => "!~~*",
            Op::Regex => "~",
            Op::IRegex => "~*",
            Op::NotRegex => "!~",
            Op::NotIRegex => "!~*",
        }
    }
}

/// A ZeyOS filter.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// All members hold (an empty `And` is true).
    And(Vec<Filter>),
    /// Some member holds (an empty `Or` is false).
    Or(Vec<Filter>),
    /// The member does not hold (SQL `NOT`: unknown stays unknown).
    Not(Box<Filter>),
    /// `field op value`; `value` null with `Eq`/`Ne` means IS [NOT] NULL.
    Cond {
        /// A field, join field (`contact.city`) or `extdata.name`.
        field: String,
        /// The operator.
        op: Op,
        /// The operand (an array for `IN`/`!IN`).
        value: Json,
    },
}

impl Filter {
    /// `field op value`.
    pub fn cond(field: impl Into<String>, op: Op, value: impl Into<Json>) -> Filter {
        Filter::Cond {
            field: field.into(),
            op,
            value: value.into(),
        }
    }

    /// `field IS NULL`.
    pub fn is_null(field: impl Into<String>) -> Filter {
        Filter::cond(field, Op::Eq, Json::Null)
    }

    /// `field IS NOT NULL`.
    pub fn is_not_null(field: impl Into<String>) -> Filter {
        Filter::cond(field, Op::Ne, Json::Null)
    }

    /// A filter that no row satisfies (an `IN` over the empty list).
    pub fn never() -> Filter {
        Filter::Or(Vec::new())
    }

    /// Conjunction that flattens nested `And`s and drops trivially true parts.
    pub fn and(parts: Vec<Filter>) -> Filter {
        let mut out = Vec::new();
        for p in parts {
            match p {
                Filter::And(inner) => out.extend(inner),
                other => out.push(other),
            }
        }
        if out.len() == 1 {
            out.pop().unwrap_or(Filter::And(Vec::new()))
        } else {
            Filter::And(out)
        }
    }

    /// Disjunction that flattens nested `Or`s.
    pub fn or(parts: Vec<Filter>) -> Filter {
        let mut out = Vec::new();
        for p in parts {
            match p {
                Filter::Or(inner) => out.extend(inner),
                other => out.push(other),
            }
        }
        if out.len() == 1 {
            out.pop().unwrap_or(Filter::Or(Vec::new()))
        } else {
            Filter::Or(out)
        }
    }

    /// Whether some condition's field satisfies `field`.
    pub fn mentions(&self, field: &dyn Fn(&str) -> bool) -> bool {
        match self {
            Filter::And(parts) | Filter::Or(parts) => parts.iter().any(|p| p.mentions(field)),
            Filter::Not(inner) => inner.mentions(field),
            Filter::Cond { field: f, .. } => field(f),
        }
    }

    /// Whether the filter is the empty conjunction (no restriction).
    pub fn is_true(&self) -> bool {
        matches!(self, Filter::And(v) if v.is_empty())
    }

    /// The filter as ZeyOS's JSON filter object.
    pub fn to_json(&self) -> Json {
        let mut obj = Map::new();
        let mut next_key = 0usize;
        self.write_into(&mut obj, &mut next_key);
        Json::Object(obj)
    }

    fn write_into(&self, obj: &mut Map<String, Json>, next_key: &mut usize) {
        match self {
            Filter::And(parts) => {
                for p in parts {
                    p.write_into(obj, next_key);
                }
            }
            Filter::Cond { field, op, value } => {
                let cond_obj = || {
                    let mut m = Map::new();
                    m.insert(op.as_str().to_string(), value.clone());
                    Json::Object(m)
                };
                match obj.get_mut(field) {
                    None => {
                        obj.insert(field.clone(), cond_obj());
                    }
                    Some(Json::Object(existing)) if !existing.contains_key(op.as_str()) => {
                        existing.insert(op.as_str().to_string(), value.clone());
                    }
                    Some(_) => {
                        let mut single = Map::new();
                        single.insert(field.clone(), cond_obj());
                        let key = fresh_key(obj, next_key);
                        obj.insert(key, Json::Array(vec!["AND".into(), Json::Object(single)]));
                    }
                }
            }
            Filter::Or(parts) => {
                let mut arr = vec![Json::from("OR")];
                if parts.is_empty() {
                    // ZeyOS has no literal false; an IN over nothing is one.
                    let mut never = Map::new();
                    let mut cond = Map::new();
                    cond.insert("IN".into(), Json::Array(Vec::new()));
                    never.insert("ID".into(), Json::Object(cond));
                    arr.push(Json::Object(never));
                } else {
                    arr.extend(parts.iter().map(Filter::to_json));
                }
                let key = fresh_key(obj, next_key);
                obj.insert(key, Json::Array(arr));
            }
            Filter::Not(inner) => {
                let key = fresh_key(obj, next_key);
                obj.insert(key, Json::Array(vec!["NOT".into(), inner.to_json()]));
            }
        }
    }
}

fn fresh_key(obj: &Map<String, Json>, next_key: &mut usize) -> String {
    loop {
        let k = next_key.to_string();
        *next_key += 1;
        if !obj.contains_key(&k) {
            return k;
        }
    }
}

/// Escapes `%`, `_` and `\` so that a literal string matches itself in a
/// PostgreSQL LIKE pattern (backslash is LIKE's default escape).
pub fn escape_like(literal: &str) -> String {
    let mut out = String::with_capacity(literal.len() + 4);
    for ch in literal.chars() {
        if matches!(ch, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(ch);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn writes_the_reference_shape() {
        let f = Filter::and(vec![
            Filter::cond("visibility", Op::Eq, 0),
            Filter::cond("contact.country", Op::In, json!(["DE", "AT", "GB"])),
            Filter::or(vec![
                Filter::cond("lastmodified", Op::Gt, 1_524_472_045),
                Filter::cond("contact.lastmodified", Op::Gt, 1_524_472_045),
            ]),
        ]);
        assert_eq!(
            f.to_json(),
            json!({
                "visibility": {"=": 0},
                "contact.country": {"IN": ["DE", "AT", "GB"]},
                "0": ["OR", {"lastmodified": {">": 1_524_472_045}},
                             {"contact.lastmodified": {">": 1_524_472_045}}]
            })
        );
    }

    #[test]
    fn repeated_conditions_on_a_field_do_not_overwrite_each_other() {
        let f = Filter::and(vec![
            Filter::cond("name", Op::Like, "%a%"),
            Filter::cond("name", Op::Like, "%b%"),
            Filter::cond("name", Op::Ne, "x"),
        ]);
        let j = f.to_json();
        assert_eq!(j["name"], json!({"~~": "%a%", "!=": "x"}));
        assert_eq!(j["0"], json!(["AND", {"name": {"~~": "%b%"}}]));
    }

    #[test]
    fn escapes_like_wildcards() {
        assert_eq!(escape_like(r"50%_off\"), r"50\%\_off\\");
    }
}
