//! ZeyOS list requests (`POST /{entity}`) as the planner builds them.

use serde_json::{Map, Value as Json};

use super::filter::Filter;

/// One sort key of a list request.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SortKey {
    /// The field (own, or a join field such as `contact.city`).
    pub field: String,
    /// `-field` when true, `+field` otherwise.
    pub descending: bool,
}

/// A ZeyOS list request: the body of `POST /api/v1/{entity}`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ListRequest {
    /// The ZeyOS entity, e.g. `accounts`.
    pub entity: String,
    /// Selected fields as (alias, field); empty selects every field.
    pub fields: Vec<(String, String)>,
    /// The filter; `None` or an empty conjunction means every row.
    pub filter: Option<Filter>,
    /// Search terms for ZeyOS's `query`.
    pub query: Option<String>,
    /// Sort keys, most significant first.
    pub sort: Vec<SortKey>,
    /// At most this many rows (ZeyOS allows 1..=10000).
    pub limit: Option<u32>,
    /// Skip this many rows.
    pub offset: Option<u64>,
    /// Ask for `{"count": N}` instead of rows.
    pub count: bool,
    /// Composite fields ZeyOS should return expanded (JSON, items, binfile).
    pub expand: Vec<String>,
    /// Ask for distinct rows (e.g. the parent keys of a semi-join).
    pub distinct: bool,
}

impl ListRequest {
    /// A request for every row of `entity`.
    pub fn new(entity: impl Into<String>) -> Self {
        ListRequest {
            entity: entity.into(),
            ..Default::default()
        }
    }

    /// The JSON body ZeyOS expects. Keys are written in a fixed order, so
    /// the text doubles as the canonical form for cache keys.
    pub fn to_json(&self) -> Json {
        let mut body = Map::new();
        if self.count {
            body.insert("count".into(), Json::Bool(true));
        } else if !self.fields.is_empty() {
            let fields: Map<String, Json> = self
                .fields
                .iter()
                .map(|(alias, field)| (alias.clone(), Json::String(field.clone())))
                .collect();
            body.insert("fields".into(), Json::Object(fields));
        }
        if let Some(f) = self.filter.as_ref().filter(|f| !f.is_true()) {
            body.insert("filter".into(), f.to_json());
        }
        if let Some(q) = &self.query {
            body.insert("query".into(), Json::String(q.clone()));
        }
        if !self.count {
            if !self.sort.is_empty() {
                let sort = self
                    .sort
                    .iter()
                    .map(|k| {
                        Json::String(format!(
                            "{}{}",
                            if k.descending { '-' } else { '+' },
                            k.field
                        ))
                    })
                    .collect();
                body.insert("sort".into(), Json::Array(sort));
            }
            if let Some(limit) = self.limit {
                body.insert("limit".into(), Json::from(limit));
            }
            if let Some(offset) = self.offset.filter(|o| *o > 0) {
                // ZeyOS takes a signed 64-bit offset; a `$skip` beyond it
                // skips every row either way, and must not make ZeyOS
                // reject the request.
                body.insert("offset".into(), Json::from(offset.min(i64::MAX as u64)));
            }
            if self.distinct {
                body.insert("distinct".into(), Json::Bool(true));
            }
            if !self.expand.is_empty() {
                body.insert(
                    "expand".into(),
                    Json::Array(self.expand.iter().cloned().map(Json::String).collect()),
                );
            }
        }
        Json::Object(body)
    }

    /// The canonical text of the request (entity and body), used in cache
    /// keys and request coalescing: equal requests give equal text.
    pub fn canonical(&self) -> String {
        format!("POST /{} {}", self.entity, self.to_json())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::upstream::filter::Op;
    use serde_json::json;

    #[test]
    fn writes_fields_with_aliases_sort_and_paging() {
        let req = ListRequest {
            entity: "accounts".into(),
            fields: vec![
                ("ID".into(), "ID".into()),
                ("Town".into(), "contact.city".into()),
            ],
            filter: Some(Filter::cond("visibility", Op::Eq, 0)),
            sort: vec![
                SortKey {
                    field: "lastname".into(),
                    descending: false,
                },
                SortKey {
                    field: "ID".into(),
                    descending: true,
                },
            ],
            limit: Some(3),
            offset: Some(0),
            ..Default::default()
        };
        assert_eq!(
            req.to_json(),
            json!({
                "fields": {"ID": "ID", "Town": "contact.city"},
                "filter": {"visibility": {"=": 0}},
                "sort": ["+lastname", "-ID"],
                "limit": 3
            })
        );
    }

    #[test]
    fn count_requests_drop_what_count_ignores() {
        let req = ListRequest {
            entity: "accounts".into(),
            fields: vec![("ID".into(), "ID".into())],
            count: true,
            limit: Some(5),
            ..Default::default()
        };
        assert_eq!(req.to_json(), json!({"count": true}));
    }
}
