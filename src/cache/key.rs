//! Cache keys and the dependencies of cached reads.
//!
//! A key names one upstream response exactly: whose it is (the principal's
//! keyed hash, never the credential), which ZeyOS instance, which gateway
//! service, and the canonical text of the upstream request. The text can be
//! long (an `$expand` batch carries a hundred IDs), so the key is its
//! SHA-256: 32 bytes to store and hash, with equality as exact as the text's
//! for any practical purpose.

use std::collections::BTreeSet;
use std::sync::Arc;

use serde_json::Value as Json;
use sha2::{Digest, Sha256};

use crate::upstream::ListRequest;

/// The identity of one cached upstream response.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct CacheKey([u8; 32]);

impl std::fmt::Debug for CacheKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // A prefix is enough to tell keys apart in logs.
        write!(f, "CacheKey({})", crate::upstream::auth::hex(&self.0[..6]))
    }
}

/// Who asks, and where: the parts of a key that are not the request.
#[derive(Debug, Clone, Copy)]
pub struct KeyScope<'a> {
    /// The principal's keyed hash ([`crate::upstream::Principal::key`]).
    pub principal: &'a str,
    /// The ZeyOS instance.
    pub instance: &'a str,
    /// The gateway service (its configured name).
    pub service: &'a str,
}

impl KeyScope<'_> {
    /// The key of an upstream request given by its canonical text.
    pub fn key(&self, canonical: &str) -> CacheKey {
        let mut h = Sha256::new();
        // Every part is length-prefixed, so no choice of names can make two
        // different tuples hash the same text.
        for part in [self.principal, self.instance, self.service, canonical] {
            h.update((part.len() as u64).to_le_bytes());
            h.update(part.as_bytes());
        }
        CacheKey(h.finalize().into())
    }
}

/// The canonical text of a single-record read (`GET /{entity}/{id}`).
pub fn get_canonical(entity: &str, id: i64, expand: &[String]) -> String {
    let mut s = format!("GET /{entity}/{id}");
    for (i, e) in expand.iter().enumerate() {
        s.push(if i == 0 { '?' } else { '&' });
        s.push_str("expand[]=");
        s.push_str(e);
    }
    s
}

/// The canonical text of a list or count request and its JSON body.
pub fn list_canonical(req: &ListRequest) -> (String, Json) {
    let body = req.to_json();
    (format!("POST /{} {}", req.entity, body), body)
}

/// Which writes make a cached response stale.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Deps {
    /// A single record: stale when that record is written.
    Record {
        /// The ZeyOS entity.
        entity: Arc<str>,
        /// The record's ID.
        id: i64,
    },
    /// A list or count: stale when any record of these entities is written.
    Entities {
        /// The queried entity and every entity its fields, filter and sort
        /// reach through a join, sorted.
        entities: Box<[Arc<str>]>,
        /// A path could not be resolved against the schema: stale after
        /// any write at all.
        any: bool,
    },
}

impl Deps {
    /// The dependencies of a list request with body `body` (its
    /// [`ListRequest::to_json`]).
    ///
    /// ZeyOS joins one level through foreign keys (`contact.city`), so an
    /// accounts list selecting, filtering or sorting on `contact.city`
    /// changes when a contact is written: it depends on `contacts` too. The
    /// body is walked rather than the `Filter` tree so that every condition
    /// ZeyOS sees is covered, whatever the planner builds. A path the schema
    /// does not explain makes the response depend on every entity.
    pub fn of_list(entity: &str, body: &Json) -> Deps {
        let mut paths: Vec<&str> = Vec::new();
        if let Some(Json::Object(fields)) = body.get("fields") {
            paths.extend(fields.values().filter_map(Json::as_str));
        }
        if let Some(Json::Array(sort)) = body.get("sort") {
            paths.extend(
                sort.iter()
                    .filter_map(Json::as_str)
                    .map(|s| s.trim_start_matches(['+', '-'])),
            );
        }
        if let Some(filter) = body.get("filter") {
            filter_paths(filter, &mut paths);
        }
        let mut entities = BTreeSet::new();
        entities.insert(entity.to_string());
        let mut any = false;
        let schema = zeyos_schema::schema();
        let own = schema.entity(entity);
        if own.is_none() {
            any = true;
        }
        for path in paths {
            let Some((head, _)) = path.split_once('.') else {
                continue;
            };
            if head == "extdata" {
                continue;
            }
            match own
                .and_then(|e| e.field(head))
                .and_then(|f| f.references.as_deref())
            {
                Some(target) => {
                    entities.insert(target.to_string());
                }
                None => any = true,
            }
        }
        // Expanded bin files carry the content of another entity's row.
        if let (Some(Json::Array(expand)), Some(own)) = (body.get("expand"), own) {
            for name in expand.iter().filter_map(Json::as_str) {
                if own
                    .field(name)
                    .is_some_and(|f| f.field_type == zeyos_schema::FieldType::Binfile)
                {
                    entities.insert("binfiles".to_string());
                }
            }
        }
        Deps::Entities {
            entities: entities.into_iter().map(Arc::from).collect(),
            any,
        }
    }

    /// Whether a write of `entity` record `id` affects this response.
    pub fn affected_by(&self, entity: &str, id: i64) -> bool {
        match self {
            Deps::Record { entity: e, id: i } => &**e == entity && *i == id,
            Deps::Entities { entities, any } => *any || entities.iter().any(|e| &**e == entity),
        }
    }
}

/// Collects the field paths of a ZeyOS filter object: its keys, and under
/// numeric keys the members of `["AND"|"OR"|"NOT", ...]` groups.
fn filter_paths<'j>(filter: &'j Json, out: &mut Vec<&'j str>) {
    match filter {
        Json::Object(obj) => {
            for (k, v) in obj {
                if !k.is_empty() && k.bytes().all(|b| b.is_ascii_digit()) {
                    filter_paths(v, out);
                } else {
                    out.push(k);
                }
            }
        }
        Json::Array(members) => {
            for m in members.iter().filter(|m| m.is_object() || m.is_array()) {
                filter_paths(m, out);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::upstream::{Filter, Op, SortKey};

    fn scope<'a>(principal: &'a str) -> KeyScope<'a> {
        KeyScope {
            principal,
            instance: "demo",
            service: "odata",
        }
    }

    #[test]
    fn keys_differ_by_every_part() {
        let a = scope("p1").key("GET /accounts/1");
        assert_eq!(a, scope("p1").key("GET /accounts/1"));
        assert_ne!(a, scope("p2").key("GET /accounts/1"));
        assert_ne!(a, scope("p1").key("GET /accounts/2"));
        let other_instance = KeyScope {
            instance: "prod",
            ..scope("p1")
        };
        assert_ne!(a, other_instance.key("GET /accounts/1"));
        let other_service = KeyScope {
            service: "hq",
            ..scope("p1")
        };
        assert_ne!(a, other_service.key("GET /accounts/1"));
        // Moving text between parts changes the key.
        let shifted = KeyScope {
            principal: "p1d",
            instance: "emo",
            service: "odata",
        };
        assert_ne!(a, shifted.key("GET /accounts/1"));
    }

    #[test]
    fn debug_shows_only_a_prefix() {
        let k = scope("secret-principal").key("x");
        let text = format!("{k:?}");
        assert!(text.starts_with("CacheKey(") && text.len() < 24, "{text}");
    }

    #[test]
    fn get_canonical_lists_expands_in_order() {
        assert_eq!(get_canonical("accounts", 7, &[]), "GET /accounts/7");
        assert_eq!(
            get_canonical("transactions", 7, &["items".into(), "meta".into()]),
            "GET /transactions/7?expand[]=items&expand[]=meta"
        );
    }

    #[test]
    fn list_deps_follow_joins_in_fields_filters_and_sorts() {
        let req = ListRequest {
            entity: "accounts".into(),
            fields: vec![("Town".into(), "contact.city".into())],
            filter: Some(Filter::or(vec![
                Filter::cond("lastname", Op::Eq, "x"),
                Filter::cond("assigneduser.name", Op::Eq, "y"),
            ])),
            sort: vec![SortKey {
                field: "extdata.score".into(),
                descending: true,
            }],
            ..Default::default()
        };
        let (_, body) = list_canonical(&req);
        let deps = Deps::of_list("accounts", &body);
        let Deps::Entities { entities, any } = &deps else {
            panic!("{deps:?}");
        };
        let names: Vec<&str> = entities.iter().map(|e| &**e).collect();
        assert_eq!(names, ["accounts", "contacts", "users"]);
        assert!(!any);
        assert!(deps.affected_by("contacts", 3));
        assert!(!deps.affected_by("transactions", 3));
    }

    #[test]
    fn unknown_join_paths_depend_on_everything() {
        let body = serde_json::json!({"fields": {"x": "nosuchfield.city"}});
        let deps = Deps::of_list("accounts", &body);
        assert!(deps.affected_by("tickets", 1));
        let deps = Deps::of_list("nosuchentity", &serde_json::json!({}));
        assert!(deps.affected_by("tickets", 1));
    }

    #[test]
    fn record_deps_match_only_their_record() {
        let d = Deps::Record {
            entity: "accounts".into(),
            id: 1,
        };
        assert!(d.affected_by("accounts", 1));
        assert!(!d.affected_by("accounts", 2));
        assert!(!d.affected_by("contacts", 1));
    }
}
