//! An independent evaluator of OData read requests over the simulator's raw
//! rows: the oracle the read corpus compares the gateway with.
//!
//! It reads the URL with the parser (`odata_syntax`, syntax only) and names
//! with the service model (entity sets, properties, their ZeyOS fields and
//! conversions, navigation joins, base filters), and nothing else of the
//! gateway: no binder, planner, residual evaluator or serializer. The
//! semantics are written here from OData 4.01 Part 2 §5.1.1 (operators,
//! functions, null) and Part 1 §11.2.6 (`$orderby`, `$top`, `$skip`,
//! `$count`), over the rows `SimHandle::rows` reads straight from SQLite.
//!
//! - `eq`/`ne` are null-safe; `gt`/`ge`/`lt`/`le` with a null operand are
//!   false; functions and arithmetic of null are null; `and`/`or`/`not`
//!   are three-valued; `in` is `eq` against each member.
//! - Strings compare by code point; `contains`/`startswith`/`endswith` are
//!   case-sensitive with no wildcards; `tolower`/`toupper` are Rust's
//!   Unicode mappings.
//! - Numbers: integers and decimals compare exactly, anything with a double
//!   as double. Dates compare with time stamps as their midnight UTC.
//! - Enums compare by value; a string literal names a member.
//! - `$orderby`: nulls first ascending, last descending, ties by key.
//! - `$search` follows ZeyOS `query` (the service's definition of a match):
//!   every term occurs, case-insensitively, in some string field of the
//!   ZeyOS entity other than `password`.

use std::cmp::Ordering;
use std::collections::HashMap;

use odata_syntax as ast;
use odata_syntax::{ExprKind, Literal, PathStart, SegmentKind};
use rust_decimal::prelude::{FromPrimitive, ToPrimitive};
use rust_decimal::Decimal;
use serde_json::{Map, Value as Json};
use zeyos_odata::edm::{
    ComplexTypeId, Conversion, EdmType, EntitySetId, EntityTypeId, EnumTypeId, Join, Property,
    ServiceModel,
};

/// A raw ZeyOS row.
pub type Row = Map<String, Json>;

const NANOS: i128 = 1_000_000_000;
const DAY_SECS: i64 = 86_400;

/// What a request should answer.
#[derive(Debug, Clone)]
pub enum Answer {
    /// A collection: the entities in order and the count before
    /// `$skip`/`$top`.
    Collection {
        /// The entities as OData JSON (only the compared properties).
        rows: Vec<Map<String, Json>>,
        /// Their keys, in order.
        keys: Vec<i64>,
        /// `@odata.count` (the number of matching entities).
        count: u64,
        /// The property names to compare on every row.
        compare: Vec<String>,
        /// Expanded navigation properties to compare (name, to-many).
        expand: Vec<(String, bool)>,
    },
    /// `/$count`.
    Count(u64),
}

/// An expanded or counted navigation property: its name, the nested
/// options, the target set and type, and how it joins.
type Navigated<'q> = (
    String,
    &'q ast::QueryOptions,
    Option<EntitySetId>,
    &'q Join,
    EntityTypeId,
);

/// A collection shaped by query options.
struct Shaped {
    rows: Vec<Map<String, Json>>,
    keys: Vec<i64>,
    count: u64,
    compare: Vec<String>,
    expand: Vec<(String, bool)>,
}

/// The oracle over one simulator's data.
pub struct Oracle {
    models: Vec<std::sync::Arc<ServiceModel>>,
    data: HashMap<String, Table>,
}

/// All rows of one ZeyOS entity with an index by ID.
struct Table {
    rows: Vec<Row>,
    by_id: HashMap<i64, usize>,
}

/// A value of the oracle.
#[derive(Debug, Clone)]
enum V {
    Null,
    Bool(bool),
    Int(i64),
    Dec(Decimal),
    Dbl(f64),
    Str(String),
    /// Days since 1970-01-01.
    Date(i64),
    /// Nanoseconds since the epoch (UTC) and the offset it was written in.
    Dto(i128, i32),
    /// Nanoseconds.
    Dur(i128),
    Enum(EnumTypeId, i64),
    Json(Json),
}

impl V {
    fn is_null(&self) -> bool {
        matches!(self, V::Null)
    }
}

/// An entity in scope: its type, the set it belongs to (for navigation
/// bindings), and its row.
#[derive(Clone, Copy)]
struct Ent<'r> {
    ty: EntityTypeId,
    set: Option<EntitySetId>,
    row: &'r Row,
}

/// What a lambda variable stands for: a related entity, or a member of a
/// collection of complex values (a line item).
#[derive(Clone, Copy)]
enum Var<'r> {
    Ent(Ent<'r>),
    Item(ComplexTypeId, &'r Row),
}

/// `$it` and the lambda variables in scope.
#[derive(Clone)]
struct Scope<'r> {
    it: Ent<'r>,
    vars: Vec<(String, Var<'r>)>,
    /// Inside `$count($filter=...)`: the member counted, which bare names
    /// and `$this` refer to (`$it` stays the outer entity).
    implicit: Option<Var<'r>>,
}

/// One request being evaluated.
struct Req<'o> {
    o: &'o Oracle,
    m: &'o ServiceModel,
    aliases: HashMap<String, ast::Expr>,
}

type R<T> = Result<T, String>;

impl Oracle {
    /// Loads every ZeyOS entity any service exposes through `load`
    /// (`|e| sim.rows(e)`).
    pub fn new(
        models: Vec<std::sync::Arc<ServiceModel>>,
        load: impl Fn(&str) -> Vec<Row>,
    ) -> Oracle {
        let mut data = HashMap::new();
        for m in &models {
            for t in &m.entity_types {
                if !data.contains_key(&t.upstream) {
                    let rows = load(&t.upstream);
                    let by_id = rows
                        .iter()
                        .enumerate()
                        .filter_map(|(i, r)| r.get("ID").and_then(json_int).map(|id| (id, i)))
                        .collect();
                    data.insert(t.upstream.clone(), Table { rows, by_id });
                }
            }
        }
        Oracle { models, data }
    }

    /// The answer to `url` (relative to the gateway, e.g.
    /// `/odata/Accounts?$filter=...`, written as a client sends it).
    pub fn evaluate(&self, url: &str) -> R<Answer> {
        let path_end = url.find('?').unwrap_or(url.len());
        let m = self
            .models
            .iter()
            .find(|m| url[..path_end].starts_with(m.root.as_str()))
            .ok_or_else(|| format!("no service for {url}"))?;
        let target = super::reqwest_lite::encode(&url[m.root.len()..]);
        let uri = ast::parse_uri(&target, &ast::Limits::default()).map_err(|e| e.to_string())?;
        let req = Req {
            o: self,
            m,
            aliases: uri
                .query
                .aliases
                .iter()
                .map(|a| (a.name.clone(), a.value.clone()))
                .collect(),
        };
        req.answer(&uri)
    }

    fn table(&self, entity: &str) -> R<&Table> {
        self.data
            .get(entity)
            .ok_or_else(|| format!("no rows loaded for {entity}"))
    }
}

fn json_int(v: &Json) -> Option<i64> {
    match v {
        Json::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64)),
        Json::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

impl<'o> Req<'o> {
    fn answer(&self, uri: &ast::ODataUri) -> R<Answer> {
        let m = self.m;
        let segs = &uri.path.segments;
        let first = segs.first().ok_or("not a collection")?;
        let SegmentKind::Name(name) = &first.kind else {
            return Err("not an entity set".into());
        };
        let (mut set, _) = m.entity_set(&name.name).ok_or("unknown entity set")?;
        // `Set(key)/Nav`: the children of one entity.
        let mut parent: Option<(String, i64)> = None;
        let mut rest = &segs[1..];
        if let Some(args) = first.args.first() {
            let key = match args.items.as_slice() {
                [a] => match &a.value.kind {
                    ExprKind::Literal(Literal::Int(k)) => *k,
                    _ => return Err("non-integer key".into()),
                },
                _ => return Err("compound key".into()),
            };
            let Some(ast::Segment {
                kind: SegmentKind::Name(nav),
                ..
            }) = rest.first()
            else {
                return Err("single entities are not oracle business".into());
            };
            let ty = m.entity_type(m.set(set).entity_type);
            let np = ty
                .navigation_property(&nav.name)
                .ok_or("unknown navigation")?;
            let Join::Reverse { field, .. } = &np.join else {
                return Err("to-one navigation path".into());
            };
            // The parent must exist in its set.
            let parent_ty = m.entity_type(m.set(set).entity_type);
            let table = self.o.table(&parent_ty.upstream)?;
            let exists = table
                .by_id
                .get(&key)
                .is_some_and(|i| self.in_set(set, &table.rows[*i]));
            if !exists {
                return Err("parent does not exist".into());
            }
            set = m
                .navigation_target(set, &nav.name)
                .ok_or("navigation without target set")?;
            parent = Some((field.clone(), key));
            rest = &rest[1..];
        }
        let count_path = match rest {
            [] => false,
            [ast::Segment {
                kind: SegmentKind::Count(None),
                ..
            }] => true,
            _ => return Err("unsupported path".into()),
        };
        let es = m.set(set);
        let table = self.o.table(&es.upstream)?;
        let candidates: Vec<&'o Row> = table
            .rows
            .iter()
            .filter(|row| self.in_set(set, row))
            .filter(|row| match &parent {
                Some((field, key)) => row.get(field).and_then(json_int) == Some(*key),
                None => true,
            })
            .collect();
        let shaped = self.shape(set, candidates, &uri.query)?;
        if count_path {
            return Ok(Answer::Count(shaped.count));
        }
        Ok(Answer::Collection {
            rows: shaped.rows,
            keys: shaped.keys,
            count: shaped.count,
            compare: shaped.compare,
            expand: shaped.expand,
        })
    }

    /// Members of `set` among `candidates` (already in the set and its
    /// parent's scope) shaped by query options: `$filter`, `$search`,
    /// `$orderby`, `$skip`, `$top`, `$select`, `$expand` (with nested options).
    fn shape(
        &self,
        set: EntitySetId,
        candidates: Vec<&'o Row>,
        q: &ast::QueryOptions,
    ) -> R<Shaped> {
        let m = self.m;
        let es = m.set(set);
        let ty_id = es.entity_type;
        let mut members: Vec<&'o Row> = Vec::new();
        for row in candidates {
            let ent = Ent {
                ty: ty_id,
                set: Some(set),
                row,
            };
            if let Some(f) = &q.filter {
                let scope = Scope {
                    it: ent,
                    vars: Vec::new(),
                    implicit: None,
                };
                match self.eval(f, &scope)? {
                    V::Bool(true) => {}
                    V::Bool(false) | V::Null => continue,
                    other => return Err(format!("$filter is not Boolean: {other:?}")),
                }
            }
            if let Some(s) = &q.search {
                if !self.search(s, &es.upstream, row)? {
                    continue;
                }
            }
            members.push(row);
        }
        let count = members.len() as u64;

        // $orderby, made total by the key.
        let items: Vec<&ast::OrderByItem> = q.orderby.iter().flatten().collect();
        let mut keyed: Vec<(Vec<V>, i64, &'o Row)> = Vec::with_capacity(members.len());
        for row in members {
            let scope = Scope {
                it: Ent {
                    ty: ty_id,
                    set: Some(set),
                    row,
                },
                vars: Vec::new(),
                implicit: None,
            };
            let mut keys = Vec::with_capacity(items.len());
            for item in &items {
                keys.push(self.eval(&item.expr, &scope)?);
            }
            let id = row.get("ID").and_then(json_int).ok_or("row without ID")?;
            keyed.push((keys, id, row));
        }
        let mut failure: Option<String> = None;
        keyed.sort_by(|a, b| {
            for (k, item) in items.iter().enumerate() {
                let ord = match order_values(&a.0[k], &b.0[k]) {
                    Ok(o) => o,
                    Err(e) => {
                        failure.get_or_insert(e);
                        Ordering::Equal
                    }
                };
                let ord = if item.descending { ord.reverse() } else { ord };
                if ord != Ordering::Equal {
                    return ord;
                }
            }
            a.1.cmp(&b.1)
        });
        if let Some(e) = failure {
            return Err(e);
        }
        let skip = q.skip.unwrap_or(0) as usize;
        let top = q.top.map_or(usize::MAX, |t| t as usize);
        let page: Vec<(i64, &'o Row)> = keyed
            .into_iter()
            .skip(skip)
            .take(top)
            .map(|(_, id, r)| (id, r))
            .collect();

        // $select: the properties to compare (composite values the raw rows
        // lack, such as bin files, are left out), and dynamic properties.
        let ty = m.entity_type(ty_id);
        let mut selected: Vec<usize> = Vec::new();
        let mut dynamic_names: Vec<String> = Vec::new();
        match &q.select {
            None => selected.extend(0..ty.properties.len()),
            Some(list) => {
                for item in list {
                    match item.path.as_slice() {
                        [ast::SelectSegment::Star] => selected.extend(0..ty.properties.len()),
                        [ast::SelectSegment::Name(n)] => {
                            if let Some(i) = ty.property_index.get(&n.name) {
                                selected.push(*i);
                            } else if ty.navigation_index.contains_key(&n.name) {
                                // A navigation link: nothing to compare.
                            } else if ty.open {
                                dynamic_names.push(n.name.clone());
                            } else {
                                return Err(format!("unknown property {}", n.name));
                            }
                        }
                        _ => return Err("unsupported $select".into()),
                    }
                }
                selected.push(ty.key);
            }
        }
        selected.sort_unstable();
        selected.dedup();
        selected.retain(|i| self.loaded(ty_id, *i));
        let mut compare: Vec<String> = selected
            .iter()
            .map(|i| ty.properties[*i].name.clone())
            .collect();
        compare.extend(dynamic_names.iter().cloned());

        // $expand: to-one and to-many navigation, with nested options.
        let none = ast::QueryOptions::default();
        let mut expand: Vec<Navigated> = Vec::new();
        // `Nav/$count`: the number of related entities passing the nested
        // $filter/$search, as `Nav@odata.count`, without the entities.
        let mut counted: Vec<Navigated> = Vec::new();
        // `Nav/$ref`: of the expanded entities only their ids.
        let mut referenced: Vec<String> = Vec::new();
        for item in q.expand.iter().flatten() {
            let count_only = match item.suffix {
                ast::ExpandSuffix::None => false,
                ast::ExpandSuffix::Count => true,
                ast::ExpandSuffix::Ref => {
                    if let [ast::SelectSegment::Name(n)] = item.path.as_slice() {
                        referenced.push(n.name.clone());
                    }
                    false
                }
                _ => return Err("unsupported $expand suffix".into()),
            };
            let [ast::SelectSegment::Name(n)] = item.path.as_slice() else {
                return Err("unsupported $expand path".into());
            };
            let nav = ty
                .navigation_property(&n.name)
                .ok_or_else(|| format!("{} is not a navigation property", n.name))?;
            let options = item.options.as_deref().unwrap_or(&none);
            if options.count == Some(true) || count_only {
                compare.push(format!("{}@odata.count", n.name));
            }
            let navigated = (
                n.name.clone(),
                options,
                m.navigation_target(set, &n.name),
                &nav.join,
                nav.target,
            );
            if count_only {
                counted.push(navigated);
            } else {
                expand.push(navigated);
            }
        }

        let mut rows = Vec::with_capacity(page.len());
        let mut keys = Vec::with_capacity(page.len());
        for (id, row) in page {
            let mut obj = self.entity_json(ty_id, row, &selected)?;
            for name in &dynamic_names {
                obj.insert(
                    name.clone(),
                    row.get(&format!("extdata.{name}"))
                        .cloned()
                        .unwrap_or(Json::Null),
                );
            }
            for (name, options, target_set, join, target) in &expand {
                let target_set = target_set.ok_or("expanded navigation without a set")?;
                // An entity, or with `$ref` its reference: the id, relative
                // to the service root (`compare::covers` matches the end).
                let as_refs = referenced.contains(name);
                let entity = |key: i64, row: Map<String, Json>| {
                    if as_refs {
                        let id = format!("{}({key})", m.set(target_set).name);
                        Json::Object(Map::from_iter([("@odata.id".to_string(), Json::from(id))]))
                    } else {
                        Json::Object(row)
                    }
                };
                let value = match join {
                    Join::ForeignKey { field, .. } => {
                        match self.follow(row, field, *target, Some(target_set))? {
                            Some(r) => {
                                let nested = self.shape(target_set, vec![r], options)?;
                                nested
                                    .keys
                                    .into_iter()
                                    .zip(nested.rows)
                                    .next()
                                    .map_or(Json::Null, |(k, r)| entity(k, r))
                            }
                            None => Json::Null,
                        }
                    }
                    Join::Reverse { field, .. } => {
                        let children = self.children(row, field, *target, Some(target_set))?;
                        let nested = self.shape(target_set, children, options)?;
                        if options.count == Some(true) {
                            obj.insert(format!("{name}@odata.count"), Json::from(nested.count));
                        }
                        Json::Array(
                            nested
                                .keys
                                .into_iter()
                                .zip(nested.rows)
                                .map(|(k, r)| entity(k, r))
                                .collect(),
                        )
                    }
                };
                obj.insert(name.clone(), value);
            }
            for (name, options, target_set, join, target) in &counted {
                let target_set = target_set.ok_or("counted navigation without a set")?;
                let Join::Reverse { field, .. } = join else {
                    return Err(format!("{name}/$count of a single entity"));
                };
                let children = self.children(row, field, *target, Some(target_set))?;
                let nested = self.shape(target_set, children, options)?;
                obj.insert(format!("{name}@odata.count"), Json::from(nested.count));
            }
            rows.push(obj);
            keys.push(id);
        }
        Ok(Shaped {
            rows,
            keys,
            count,
            compare,
            expand: expand
                .iter()
                .map(|e| (e.0.clone(), matches!(e.3, Join::Reverse { .. })))
                .collect(),
        })
    }

    /// Whether a row satisfies the base filter of a set.
    fn in_set(&self, set: EntitySetId, row: &Row) -> bool {
        let es = self.m.set(set);
        let ty = self.m.entity_type(es.entity_type);
        es.base_filter.iter().all(|c| {
            let have = row.get(&c.field).unwrap_or(&Json::Null);
            c.values.iter().any(|want| {
                // A member name stands for its value.
                let want = match (want, ty.property_for_upstream(&c.field)) {
                    (Json::String(s), Some(p)) => match &p.ty {
                        EdmType::Enum(id) => self
                            .m
                            .enum_type(*id)
                            .members
                            .iter()
                            .find(|(n, _)| n == s)
                            .map_or(want.clone(), |(_, v)| Json::from(*v)),
                        _ => want.clone(),
                    },
                    (Json::Bool(b), _) => Json::from(i64::from(*b)),
                    _ => want.clone(),
                };
                match (json_int(&want), json_int(have)) {
                    (Some(a), Some(b)) => a == b,
                    _ => &want == have,
                }
            })
        })
    }

    /// The target row of a foreign key, if it exists (and belongs to the
    /// set the navigation is bound to).
    fn follow(
        &self,
        row: &Row,
        field: &str,
        target: EntityTypeId,
        target_set: Option<EntitySetId>,
    ) -> R<Option<&'o Row>> {
        let Some(id) = row.get(field).and_then(json_int) else {
            return Ok(None);
        };
        let table = self.o.table(&self.m.entity_type(target).upstream)?;
        Ok(table
            .by_id
            .get(&id)
            .map(|i| &table.rows[*i])
            .filter(|r| target_set.is_none_or(|s| self.in_set(s, r))))
    }

    /// The rows whose `field` holds this row's ID, in key order.
    fn children(
        &self,
        row: &Row,
        field: &str,
        target: EntityTypeId,
        target_set: Option<EntitySetId>,
    ) -> R<Vec<&'o Row>> {
        let id = row.get("ID").and_then(json_int).ok_or("row without ID")?;
        let table = self.o.table(&self.m.entity_type(target).upstream)?;
        Ok(table
            .rows
            .iter()
            .filter(|r| r.get(field).and_then(json_int) == Some(id))
            .filter(|r| target_set.is_none_or(|s| self.in_set(s, r)))
            .collect())
    }

    fn entity_json(&self, ty: EntityTypeId, row: &Row, props: &[usize]) -> R<Map<String, Json>> {
        let t = self.m.entity_type(ty);
        let mut obj = Map::new();
        for &i in props {
            let p = &t.properties[i];
            let value = if p.conversion == Conversion::Json {
                self.structured_json(&p.ty, row.get(&p.upstream))?
            } else {
                to_json(
                    &convert(row.get(&p.upstream).unwrap_or(&Json::Null), p)?,
                    self.m,
                )
            };
            obj.insert(p.name.clone(), value);
        }
        Ok(obj)
    }

    /// Whether the raw rows hold the property's value (scalar fields and
    /// the composite fields the loader read; not bin files).
    fn loaded(&self, ty: EntityTypeId, i: usize) -> bool {
        let t = self.m.entity_type(ty);
        let p = &t.properties[i];
        p.conversion != Conversion::Json
            || self
                .o
                .table(&t.upstream)
                .is_ok_and(|table| table.rows.iter().any(|r| r.contains_key(&p.upstream)))
    }

    /// A composite value as the model describes it: complex values under
    /// their properties' names with converted primitives (open types keep
    /// their other keys, types without properties are free JSON), a
    /// missing collection as `[]`.
    fn structured_json(&self, ty: &EdmType, raw: Option<&Json>) -> R<Json> {
        let raw = raw.filter(|v| !v.is_null());
        Ok(match (ty, raw) {
            (EdmType::Collection(_), None) => Json::Array(Vec::new()),
            (_, None) => Json::Null,
            (EdmType::Collection(inner), Some(Json::Array(items))) => Json::Array(
                items
                    .iter()
                    .map(|x| self.structured_json(inner, Some(x)))
                    .collect::<R<Vec<_>>>()?,
            ),
            (EdmType::Complex(id), Some(Json::Object(map))) => {
                let ct = self.m.complex_type(*id);
                if ct.properties.is_empty() {
                    return Ok(Json::Object(map.clone()));
                }
                let mut out = Map::new();
                for p in &ct.properties {
                    let v = match &p.ty {
                        EdmType::Complex(_) | EdmType::Collection(_) => {
                            self.structured_json(&p.ty, map.get(&p.upstream))?
                        }
                        _ => to_json(
                            &convert(map.get(&p.upstream).unwrap_or(&Json::Null), p)?,
                            self.m,
                        ),
                    };
                    out.insert(p.name.clone(), v);
                }
                if ct.open {
                    for (k, v) in map {
                        if !ct.properties.iter().any(|p| p.upstream == *k) {
                            out.insert(k.clone(), v.clone());
                        }
                    }
                }
                Json::Object(out)
            }
            (EdmType::Complex(_), Some(_)) => Json::Null,
            (EdmType::Collection(_), Some(_)) => Json::Array(Vec::new()),
            (_, Some(v)) => v.clone(),
        })
    }

    // ------------------------------------------------------------ $search

    fn search(&self, s: &ast::SearchExpr, entity: &str, row: &Row) -> R<bool> {
        use ast::SearchKind as K;
        Ok(match &s.kind {
            K::Word(w) | K::Phrase(w) | K::Quoted(w) => {
                let re = regex::RegexBuilder::new(&regex::escape(w))
                    .case_insensitive(true)
                    .build()
                    .map_err(|e| e.to_string())?;
                let e = zeyos_schema::schema()
                    .entity(entity)
                    .ok_or("unknown ZeyOS entity")?;
                e.fields
                    .iter()
                    .filter(|f| {
                        f.field_type == zeyos_schema::FieldType::String && f.name != "password"
                    })
                    .any(|f| {
                        row.get(&f.name)
                            .and_then(Json::as_str)
                            .is_some_and(|v| re.is_match(v))
                    })
            }
            K::Not(a) => !self.search(a, entity, row)?,
            K::And(a, b) => self.search(a, entity, row)? && self.search(b, entity, row)?,
            K::Or(a, b) => self.search(a, entity, row)? || self.search(b, entity, row)?,
        })
    }

    // ------------------------------------------------------------ expressions

    fn eval(&self, e: &ast::Expr, sc: &Scope<'o>) -> R<V> {
        self.eval_depth(e, sc, 0)
    }

    fn eval_depth(&self, e: &ast::Expr, sc: &Scope<'o>, alias_depth: usize) -> R<V> {
        use ast::BinaryOp as B;
        match &e.kind {
            ExprKind::Literal(l) => self.literal(l),
            ExprKind::Alias(a) => match self.aliases.get(a) {
                Some(v) if alias_depth < 8 => self.eval_depth(v, sc, alias_depth + 1),
                Some(_) => Err("alias cycle".into()),
                None => Ok(V::Null),
            },
            ExprKind::Path(p) => self.path(p, sc),
            ExprKind::Unary { op, operand } => {
                let v = self.eval_depth(operand, sc, alias_depth)?;
                match op {
                    ast::UnaryOp::Not => match v {
                        V::Bool(b) => Ok(V::Bool(!b)),
                        V::Null => Ok(V::Null),
                        other => Err(format!("not of {other:?}")),
                    },
                    ast::UnaryOp::Neg => match v {
                        V::Null => Ok(V::Null),
                        V::Int(i) => i.checked_neg().map(V::Int).ok_or("overflow".into()),
                        V::Dec(d) => Ok(V::Dec(-d)),
                        V::Dbl(f) => Ok(V::Dbl(-f)),
                        V::Dur(d) => Ok(V::Dur(-d)),
                        other => Err(format!("negation of {other:?}")),
                    },
                }
            }
            ExprKind::Binary(bin) => {
                let (op, left, right) = (&bin.op, &bin.left, &bin.right);
                match op {
                    B::And | B::Or => {
                        let a = truth(self.eval_depth(left, sc, alias_depth)?)?;
                        let short = if *op == B::And {
                            Some(false)
                        } else {
                            Some(true)
                        };
                        if a == short {
                            return Ok(V::Bool(a == Some(true)));
                        }
                        let b = truth(self.eval_depth(right, sc, alias_depth)?)?;
                        Ok(match (op, a, b) {
                            (B::And, _, Some(false)) => V::Bool(false),
                            (B::And, Some(true), Some(true)) => V::Bool(true),
                            (B::Or, _, Some(true)) => V::Bool(true),
                            (B::Or, Some(false), Some(false)) => V::Bool(false),
                            _ => V::Null,
                        })
                    }
                    B::Eq | B::Ne | B::Lt | B::Le | B::Gt | B::Ge => {
                        let a = self.eval_depth(left, sc, alias_depth)?;
                        let b = self.eval_depth(right, sc, alias_depth)?;
                        Ok(V::Bool(self.compare(*op, &a, &b)?))
                    }
                    B::In => {
                        let a = self.eval_depth(left, sc, alias_depth)?;
                        let right = match &right.kind {
                            ExprKind::Alias(name) => self.aliases.get(name).unwrap_or(right),
                            _ => right,
                        };
                        let items = match &right.kind {
                            ExprKind::List(items) | ExprKind::Array(items) => items,
                            _ => return Err("in over a non-list".into()),
                        };
                        for item in items {
                            let b = match &item.kind {
                                ExprKind::JsonString(s) => V::Str(s.clone()),
                                _ => self.eval_depth(item, sc, alias_depth)?,
                            };
                            if self.compare(B::Eq, &a, &b)? {
                                return Ok(V::Bool(true));
                            }
                        }
                        Ok(V::Bool(false))
                    }
                    B::Add | B::Sub | B::Mul | B::Div | B::DivBy | B::Mod => {
                        let a = self.eval_depth(left, sc, alias_depth)?;
                        let b = self.eval_depth(right, sc, alias_depth)?;
                        arith(*op, a, b)
                    }
                    B::Has => {
                        // No enum of the model is a flags enum: a value has
                        // a member when it is that member; null if either
                        // side is null.
                        let a = self.eval_depth(left, sc, alias_depth)?;
                        // `has 'MEMBER'` without the type: the left
                        // operand's type, as `eq 'MEMBER'` is.
                        let b = match &right.kind {
                            ExprKind::Literal(Literal::Enum(e)) if e.type_name.is_none() => {
                                match e.members.as_slice() {
                                    [ast::EnumMember::Value(v)] => V::Int(*v),
                                    [ast::EnumMember::Name(n)] => V::Str(n.clone()),
                                    _ => return Err("has with several members".into()),
                                }
                            }
                            _ => self.eval_depth(right, sc, alias_depth)?,
                        };
                        if a.is_null() || b.is_null() {
                            Ok(V::Null)
                        } else {
                            Ok(V::Bool(self.compare(B::Eq, &a, &b)?))
                        }
                    }
                }
            }
            ExprKind::Call { function, args } => {
                let mut vals = Vec::with_capacity(args.len());
                for a in args {
                    vals.push(self.eval_depth(a, sc, alias_depth)?);
                }
                call(*function, vals)
            }
            _ => Err(format!("unsupported expression {e}")),
        }
    }

    fn literal(&self, l: &Literal) -> R<V> {
        Ok(match l {
            Literal::Null => V::Null,
            Literal::Boolean(b) => V::Bool(*b),
            Literal::Int(i) => V::Int(*i),
            Literal::Decimal(t) => match t.parse::<Decimal>() {
                Ok(d) => V::Dec(d),
                Err(_) => V::Dbl(t.parse().map_err(|_| format!("bad number {t}"))?),
            },
            Literal::Double(d) => V::Dbl(d.value),
            Literal::String(s) => V::Str(s.clone()),
            Literal::Date(d) => V::Date(days_from_civil(
                i64::from(d.year),
                i64::from(d.month),
                i64::from(d.day),
            )),
            Literal::DateTimeOffset(t) => {
                let days = days_from_civil(
                    i64::from(t.date.year),
                    i64::from(t.date.month),
                    i64::from(t.date.day),
                );
                let offset = i64::from(t.offset_minutes.unwrap_or(0));
                let secs = days * DAY_SECS
                    + i64::from(t.time.hour) * 3600
                    + i64::from(t.time.minute) * 60
                    + i64::from(t.time.second)
                    - offset * 60;
                V::Dto(
                    i128::from(secs) * NANOS + i128::from(t.time.picos / 1000),
                    offset as i32,
                )
            }
            Literal::Duration(d) => {
                let secs = i128::from(d.days) * 86_400
                    + i128::from(d.hours) * 3600
                    + i128::from(d.minutes) * 60
                    + i128::from(d.seconds);
                let n = secs * NANOS + i128::from(d.picos / 1000);
                V::Dur(if d.negative { -n } else { n })
            }
            Literal::Enum(e) => {
                let tn = e.type_name.as_ref().ok_or("enum literal without type")?;
                if tn.namespace != self.m.namespace {
                    return Err(format!("{tn} is not in this service"));
                }
                let pos = self
                    .m
                    .enum_types
                    .iter()
                    .position(|t| t.name == tn.name)
                    .ok_or_else(|| format!("{tn} is not an enum type"))?;
                let id = EnumTypeId(pos);
                let mut total = 0;
                for member in &e.members {
                    total |= match member {
                        ast::EnumMember::Value(v) => *v,
                        ast::EnumMember::Name(n) => self.member(id, n)?,
                    };
                }
                V::Enum(id, total)
            }
            other => return Err(format!("unsupported literal {other:?}")),
        })
    }

    fn member(&self, id: EnumTypeId, name: &str) -> R<i64> {
        let en = self.m.enum_type(id);
        en.members
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| *v)
            .or_else(|| name.trim().parse().ok())
            .ok_or_else(|| format!("'{name}' is not a member of {}", en.name))
    }

    /// A property path, through to-one navigation, or a lambda.
    fn path(&self, p: &ast::MemberPath, sc: &Scope<'o>) -> R<V> {
        let mut segs = p.segments.as_slice();
        let start: Var<'o> = match &p.start {
            PathStart::This => sc.implicit.unwrap_or(Var::Ent(sc.it)),
            PathStart::It => Var::Ent(sc.it),
            PathStart::Relative => {
                let var = match segs.first() {
                    Some(ast::Segment {
                        kind: SegmentKind::Name(n),
                        args,
                        ..
                    }) if !n.is_qualified() && args.is_empty() => {
                        sc.vars.iter().rev().find(|(v, _)| *v == n.name)
                    }
                    _ => None,
                };
                match (var, sc.implicit) {
                    (Some((_, v)), _) => {
                        segs = &segs[1..];
                        *v
                    }
                    (None, Some(member)) => member,
                    (None, None) => Var::Ent(sc.it),
                }
            }
            _ => return Err("unsupported path start".into()),
        };
        let mut cur: Option<Ent<'o>> = match start {
            Var::Ent(e) => Some(e),
            Var::Item(ct, item) => return self.item_path(ct, item, segs, sc),
        };
        let mut ty = cur.map(|c| c.ty).ok_or("no entity")?;
        let mut set = cur.and_then(|c| c.set);
        let mut i = 0;
        while i < segs.len() {
            let SegmentKind::Name(n) = &segs[i].kind else {
                return Err(format!("unsupported segment {}", segs[i]));
            };
            let t = self.m.entity_type(ty);
            if let Some(idx) = t.property_index.get(&n.name) {
                let prop = &t.properties[*idx];
                let raw = cur.and_then(|e| e.row.get(&prop.upstream));
                if i + 1 == segs.len() {
                    return match cur {
                        None => Ok(V::Null),
                        Some(_) => convert(raw.unwrap_or(&Json::Null), prop),
                    };
                }
                // `Items/any(i: ...)` or `Items/$count` over a collection
                // of complex values.
                let (EdmType::Collection(inner), Some(next)) =
                    (&prop.ty, segs.get(i + 1).map(|s| &s.kind))
                else {
                    return Err("path into a property".into());
                };
                let EdmType::Complex(ct) = **inner else {
                    return Err("lambda over a primitive collection".into());
                };
                if i + 2 != segs.len() {
                    return Err("path after a lambda".into());
                }
                if cur.is_none() {
                    return Ok(V::Null);
                }
                let items = composite_items(raw)?;
                let members = items.into_iter().map(|i| Var::Item(ct, i));
                return self.over(next, members, sc);
            }
            if let Some(nav) = t.navigation_property(&n.name) {
                let target_set = set.and_then(|s| self.m.navigation_target(s, &n.name));
                match &nav.join {
                    Join::ForeignKey { field, .. } => {
                        cur = match cur {
                            Some(e) => {
                                self.follow(e.row, field, nav.target, target_set)?
                                    .map(|row| Ent {
                                        ty: nav.target,
                                        set: target_set,
                                        row,
                                    })
                            }
                            None => None,
                        };
                        ty = nav.target;
                        set = target_set;
                        i += 1;
                        continue;
                    }
                    Join::Reverse { field, .. } => {
                        let Some(next) = segs.get(i + 1).map(|s| &s.kind) else {
                            return Err("collection without lambda".into());
                        };
                        if i + 2 != segs.len() {
                            return Err("path after a lambda".into());
                        }
                        let Some(e) = cur else {
                            return Ok(V::Null);
                        };
                        let children = self.children(e.row, field, nav.target, target_set)?;
                        let vars = children.into_iter().map(|c| {
                            Var::Ent(Ent {
                                ty: nav.target,
                                set: target_set,
                                row: c,
                            })
                        });
                        return self.over(next, vars, sc);
                    }
                }
            }
            // An open type's undeclared name: a dynamic property (extdata).
            if t.open && i + 1 == segs.len() {
                return Ok(match cur {
                    None => V::Null,
                    Some(e) => dynamic(e.row.get(&format!("extdata.{}", n.name))),
                });
            }
            return Err(format!("{} has no member {}", t.name, n.name));
        }
        // A path that ends on a to-one navigation property: the related
        // entity, compared only with null (`Contact eq null`). Its key
        // stands for it, null when there is none.
        match (segs.last().map(|s| &s.kind), cur) {
            (Some(SegmentKind::Name(_)), None) => Ok(V::Null),
            (Some(SegmentKind::Name(_)), Some(e)) => e
                .row
                .get("ID")
                .and_then(json_int)
                .map(V::Int)
                .ok_or_else(|| "related row without ID".into()),
            _ => Err("a path to an entity is not a value".into()),
        }
    }

    /// A path from a lambda variable that stands for a complex value.
    fn item_path(
        &self,
        ct: ComplexTypeId,
        item: &'o Row,
        segs: &[ast::Segment],
        sc: &Scope<'o>,
    ) -> R<V> {
        let c = self.m.complex_type(ct);
        let Some(ast::Segment {
            kind: SegmentKind::Name(n),
            ..
        }) = segs.first()
        else {
            return Err("a complex value is not a primitive value".into());
        };
        let Some(prop) = c.properties.iter().find(|p| p.name == n.name) else {
            return Err(format!("{} has no property {}", c.name, n.name));
        };
        let raw = item.get(&prop.upstream);
        match (&segs[1..], &prop.ty) {
            ([], _) => convert(raw.unwrap_or(&Json::Null), prop),
            (
                [ast::Segment {
                    kind: SegmentKind::Lambda(l),
                    ..
                }],
                EdmType::Collection(inner),
            ) => match **inner {
                EdmType::Complex(inner) => self.items_lambda(l, inner, raw, sc),
                _ => Err("lambda over a primitive collection".into()),
            },
            _ => Err("unsupported path into a complex value".into()),
        }
    }

    /// `any`/`all` over the complex values of a composite field; a null
    /// field is an empty collection (collections are never null, and the
    /// gateway writes it as `[]`).
    fn items_lambda(
        &self,
        l: &ast::Lambda,
        ct: ComplexTypeId,
        raw: Option<&'o Json>,
        sc: &Scope<'o>,
    ) -> R<V> {
        let items = composite_items(raw)?;
        self.lambda(l, items.into_iter().map(|i| Var::Item(ct, i)), sc)
    }

    /// The `any(...)`, `all(...)` or `$count(...)` segment `next` over
    /// `members`.
    fn over(
        &self,
        next: &SegmentKind,
        members: impl Iterator<Item = Var<'o>>,
        sc: &Scope<'o>,
    ) -> R<V> {
        match next {
            SegmentKind::Lambda(l) => self.lambda(l, members, sc),
            SegmentKind::Count(options) => self.count(options.as_deref(), members, sc),
            _ => Err("collection without lambda or $count".into()),
        }
    }

    /// `$count` (every member) or `$count($filter=...)` (the members the
    /// filter is true for, its bare names naming the member).
    fn count(
        &self,
        options: Option<&ast::QueryOptions>,
        members: impl Iterator<Item = Var<'o>>,
        sc: &Scope<'o>,
    ) -> R<V> {
        let Some(filter) = options.and_then(|o| o.filter.as_ref()) else {
            return Ok(V::Int(members.count() as i64));
        };
        let mut n = 0;
        for member in members {
            let mut inner = sc.clone();
            inner.implicit = Some(member);
            if matches!(self.eval(filter, &inner)?, V::Bool(true)) {
                n += 1;
            }
        }
        Ok(V::Int(n))
    }

    /// `any`/`all` over the members a lambda variable ranges over.
    fn lambda(
        &self,
        l: &ast::Lambda,
        members: impl Iterator<Item = Var<'o>>,
        sc: &Scope<'o>,
    ) -> R<V> {
        let any = l.kind == ast::LambdaKind::Any;
        let Some((var, body)) = &l.body else {
            let mut members = members;
            return Ok(V::Bool(members.next().is_some()));
        };
        for member in members {
            let mut inner = sc.clone();
            inner.vars.push((var.clone(), member));
            let holds = matches!(self.eval(body, &inner)?, V::Bool(true));
            if any && holds {
                return Ok(V::Bool(true));
            }
            if !any && !holds {
                return Ok(V::Bool(false));
            }
        }
        Ok(V::Bool(!any))
    }

    /// OData comparison of two values.
    fn compare(&self, op: ast::BinaryOp, a: &V, b: &V) -> R<bool> {
        use ast::BinaryOp as B;
        match (a.is_null(), b.is_null()) {
            (true, true) => return Ok(op == B::Eq),
            (true, false) | (false, true) => return Ok(op == B::Ne),
            _ => {}
        }
        let (a, b) = (self.coerce_enum(a, b)?, self.coerce_enum(b, a)?);
        // NaN equals nothing, itself included, and orders with nothing.
        let nan = |v: &V| matches!(v, V::Dbl(x) if x.is_nan());
        if (nan(&a) || nan(&b)) && num(&a).is_some() && num(&b).is_some() {
            return Ok(op == B::Ne);
        }
        let ord = order_values(&a, &b)?;
        Ok(match op {
            B::Eq => ord == Ordering::Equal,
            B::Ne => ord != Ordering::Equal,
            B::Lt => ord == Ordering::Less,
            B::Le => ord != Ordering::Greater,
            B::Gt => ord == Ordering::Greater,
            B::Ge => ord != Ordering::Less,
            _ => return Err("not a comparison".into()),
        })
    }

    /// A string or integer compared with an enum value becomes a member.
    fn coerce_enum(&self, v: &V, other: &V) -> R<V> {
        Ok(match (v, other) {
            (V::Str(s), V::Enum(id, _)) => {
                let mut total = 0;
                for part in s.split(',') {
                    total |= self.member(*id, part.trim())?;
                }
                V::Enum(*id, total)
            }
            (V::Int(i), V::Enum(id, _)) => V::Enum(*id, *i),
            _ => v.clone(),
        })
    }
}

/// The members of a composite field's collection; a null field is an
/// empty collection (collections are never null, and the gateway writes it
/// as `[]`).
fn composite_items(raw: Option<&Json>) -> R<Vec<&Row>> {
    match raw {
        None | Some(Json::Null) => Ok(Vec::new()),
        Some(Json::Array(a)) => Ok(a.iter().filter_map(Json::as_object).collect()),
        Some(other) => Err(format!("composite value is not a list: {other}")),
    }
}

fn truth(v: V) -> R<Option<bool>> {
    match v {
        V::Bool(b) => Ok(Some(b)),
        V::Null => Ok(None),
        other => Err(format!("not Boolean: {other:?}")),
    }
}

/// The order of two non-null values of comparable types; for `$orderby`,
/// null sorts first.
fn order_values(a: &V, b: &V) -> R<Ordering> {
    Ok(match (a, b) {
        (V::Null, V::Null) => Ordering::Equal,
        (V::Null, _) => Ordering::Less,
        (_, V::Null) => Ordering::Greater,
        (V::Bool(x), V::Bool(y)) => x.cmp(y),
        (V::Str(x), V::Str(y)) => x.as_bytes().cmp(y.as_bytes()),
        (V::Date(x), V::Date(y)) => x.cmp(y),
        (V::Dto(x, _), V::Dto(y, _)) => x.cmp(y),
        (V::Date(d), V::Dto(t, _)) => (i128::from(*d) * i128::from(DAY_SECS) * NANOS).cmp(t),
        (V::Dto(t, _), V::Date(d)) => t.cmp(&(i128::from(*d) * i128::from(DAY_SECS) * NANOS)),
        (V::Dur(x), V::Dur(y)) => x.cmp(y),
        (V::Enum(s, x), V::Enum(t, y)) if s == t => x.cmp(y),
        _ => match (num(a), num(b)) {
            (Some(x), Some(y)) => num_cmp(x, y).ok_or("NaN in an order")?,
            _ => return Err(format!("cannot compare {a:?} with {b:?}")),
        },
    })
}

#[derive(Clone, Copy)]
enum N {
    I(i64),
    D(Decimal),
    F(f64),
}

fn num(v: &V) -> Option<N> {
    match v {
        V::Int(i) => Some(N::I(*i)),
        V::Dec(d) => Some(N::D(*d)),
        V::Dbl(f) => Some(N::F(*f)),
        _ => None,
    }
}

fn to_f64(n: N) -> f64 {
    match n {
        N::I(i) => i as f64,
        N::D(d) => d.to_f64().unwrap_or(f64::NAN),
        N::F(f) => f,
    }
}

fn to_dec(n: N) -> Option<Decimal> {
    match n {
        N::I(i) => Some(Decimal::from(i)),
        N::D(d) => Some(d),
        N::F(f) => Decimal::from_f64(f),
    }
}

fn num_cmp(a: N, b: N) -> Option<Ordering> {
    match (a, b) {
        (N::I(x), N::I(y)) => Some(x.cmp(&y)),
        (N::F(_), _) | (_, N::F(_)) => to_f64(a).partial_cmp(&to_f64(b)),
        _ => Some(to_dec(a)?.cmp(&to_dec(b)?)),
    }
}

fn arith(op: ast::BinaryOp, a: V, b: V) -> R<V> {
    use ast::BinaryOp as B;
    if a.is_null() || b.is_null() {
        return Ok(V::Null);
    }
    let overflow = || "arithmetic overflow".to_string();
    match (op, &a, &b) {
        (B::Add | B::Sub, V::Dto(t, off), V::Dur(d)) => {
            return Ok(V::Dto(if op == B::Add { t + d } else { t - d }, *off))
        }
        (B::Add | B::Sub, V::Date(day), V::Dur(d)) => {
            // Midnight plus the duration, then the date of that instant.
            let t = i128::from(*day) * i128::from(DAY_SECS) * NANOS;
            let t = if op == B::Add { t + d } else { t - d };
            let day_nanos = i128::from(DAY_SECS) * NANOS;
            return Ok(V::Date(t.div_euclid(day_nanos) as i64));
        }
        (B::Sub, V::Dto(x, _), V::Dto(y, _)) => return Ok(V::Dur(x - y)),
        (B::Sub, V::Date(x), V::Date(y)) => {
            return Ok(V::Dur(i128::from(x - y) * i128::from(DAY_SECS) * NANOS))
        }
        (B::Add | B::Sub, V::Dur(x), V::Dur(y)) => {
            return Ok(V::Dur(if op == B::Add { x + y } else { x - y }))
        }
        _ => {}
    }
    let (x, y) = match (num(&a), num(&b)) {
        (Some(x), Some(y)) => (x, y),
        _ => return Err(format!("arithmetic on {a:?} and {b:?}")),
    };
    Ok(match (x, y) {
        (N::I(x), N::I(y)) if op != B::DivBy => V::Int(match op {
            B::Add => x.checked_add(y).ok_or_else(overflow)?,
            B::Sub => x.checked_sub(y).ok_or_else(overflow)?,
            B::Mul => x.checked_mul(y).ok_or_else(overflow)?,
            B::Div => {
                if y == 0 {
                    return Err("integer division by zero".into());
                }
                x.checked_div(y).ok_or_else(overflow)?
            }
            _ => {
                if y == 0 {
                    return Err("integer modulo zero".into());
                }
                x.checked_rem(y).ok_or_else(overflow)?
            }
        }),
        (N::F(_), _) | (_, N::F(_)) => {
            let (x, y) = (to_f64(x), to_f64(y));
            V::Dbl(match op {
                B::Add => x + y,
                B::Sub => x - y,
                B::Mul => x * y,
                B::Div | B::DivBy => x / y,
                _ => x % y,
            })
        }
        _ => {
            let (x, y) = (
                to_dec(x).ok_or_else(overflow)?,
                to_dec(y).ok_or_else(overflow)?,
            );
            V::Dec(match op {
                B::Add => x.checked_add(y).ok_or_else(overflow)?,
                B::Sub => x.checked_sub(y).ok_or_else(overflow)?,
                B::Mul => x.checked_mul(y).ok_or_else(overflow)?,
                B::Div | B::DivBy => {
                    if y.is_zero() {
                        return Err("decimal division by zero".into());
                    }
                    x.checked_div(y).ok_or_else(overflow)?
                }
                _ => {
                    if y.is_zero() {
                        return Err("decimal modulo zero".into());
                    }
                    x.checked_rem(y).ok_or_else(overflow)?
                }
            })
        }
    })
}

/// The local (offset) calendar fields of an instant.
fn local_parts(t: i128, offset: i32) -> (i64, i64, i64, i64, i64, i64) {
    let local = t + i128::from(offset) * 60 * NANOS;
    let secs = local.div_euclid(NANOS) as i64;
    let days = secs.div_euclid(DAY_SECS);
    let sod = secs.rem_euclid(DAY_SECS);
    let (y, m, d) = civil_from_days(days);
    (y, m, d, sod / 3600, sod / 60 % 60, sod % 60)
}

fn call(f: ast::Function, args: Vec<V>) -> R<V> {
    use ast::Function as F;
    if f == F::Now {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_err(|e| e.to_string())?;
        return Ok(V::Dto(now.as_nanos() as i128, 0));
    }
    if args.iter().any(V::is_null) {
        return Ok(V::Null);
    }
    let s = |i: usize| match args.get(i) {
        Some(V::Str(s)) => Ok(s.as_str()),
        other => Err(format!(
            "{}: argument {i} is not a string: {other:?}",
            f.name()
        )),
    };
    let int = |i: usize| match args.get(i) {
        Some(V::Int(n)) => Ok(*n),
        other => Err(format!(
            "{}: argument {i} is not an integer: {other:?}",
            f.name()
        )),
    };
    Ok(match f {
        F::Contains => V::Bool(s(0)?.contains(s(1)?)),
        F::StartsWith => V::Bool(s(0)?.starts_with(s(1)?)),
        F::EndsWith => V::Bool(s(0)?.ends_with(s(1)?)),
        F::Length => V::Int(s(0)?.chars().count() as i64),
        F::IndexOf => {
            let (hay, needle) = (s(0)?, s(1)?);
            V::Int(match hay.find(needle) {
                Some(byte) => hay[..byte].chars().count() as i64,
                None => -1,
            })
        }
        F::Substring => {
            let chars: Vec<char> = s(0)?.chars().collect();
            let len = chars.len() as i64;
            let n = int(1)?;
            // A negative start counts from the end (Part 2, 5.1.1.7.8).
            let start = if n < 0 { (len + n).max(0) } else { n.min(len) } as usize;
            let end = match args.get(2) {
                Some(_) => {
                    let count = int(2)?;
                    if count < 0 {
                        return Err("substring with a negative length is a bad request".into());
                    }
                    (start as i64).saturating_add(count).min(len) as usize
                }
                None => len as usize,
            };
            V::Str(chars[start..end].iter().collect())
        }
        F::ToLower => V::Str(s(0)?.to_lowercase()),
        F::ToUpper => V::Str(s(0)?.to_uppercase()),
        F::Trim => V::Str(s(0)?.trim().to_string()),
        F::Concat => V::Str(format!("{}{}", s(0)?, s(1)?)),
        F::MatchesPattern => {
            let re = regex::Regex::new(s(1)?).map_err(|e| e.to_string())?;
            V::Bool(re.is_match(s(0)?))
        }
        F::Year | F::Month | F::Day => {
            let (y, m, d) = match &args[0] {
                V::Date(days) => civil_from_days(*days),
                V::Dto(t, off) => {
                    let p = local_parts(*t, *off);
                    (p.0, p.1, p.2)
                }
                other => return Err(format!("{} of {other:?}", f.name())),
            };
            V::Int(match f {
                F::Year => y,
                F::Month => m,
                _ => d,
            })
        }
        F::Hour | F::Minute | F::Second => {
            let V::Dto(t, off) = &args[0] else {
                return Err(format!("{} of {:?}", f.name(), args[0]));
            };
            let p = local_parts(*t, *off);
            V::Int(match f {
                F::Hour => p.3,
                F::Minute => p.4,
                _ => p.5,
            })
        }
        F::Date => match &args[0] {
            V::Dto(t, off) => {
                let p = local_parts(*t, *off);
                V::Date(days_from_civil(p.0, p.1, p.2))
            }
            V::Date(d) => V::Date(*d),
            other => return Err(format!("date of {other:?}")),
        },
        F::Round | F::Floor | F::Ceiling => match &args[0] {
            V::Int(i) => V::Int(*i),
            V::Dec(d) => V::Dec(match f {
                F::Round => d.round_dp_with_strategy(
                    0,
                    rust_decimal::RoundingStrategy::MidpointAwayFromZero,
                ),
                F::Floor => d.floor(),
                _ => d.ceil(),
            }),
            V::Dbl(x) => V::Dbl(match f {
                F::Round => x.round(),
                F::Floor => x.floor(),
                _ => x.ceil(),
            }),
            other => return Err(format!("{} of {other:?}", f.name())),
        },
        F::TotalSeconds => match &args[0] {
            V::Dur(n) => V::Dec(Decimal::from_i128_with_scale(*n, 9)),
            other => return Err(format!("totalseconds of {other:?}")),
        },
        other => return Err(format!("function {} is not in the oracle", other.name())),
    })
}

/// A raw ZeyOS value as the OData value of a property.
fn convert(json: &Json, p: &Property) -> R<V> {
    if json.is_null() {
        return Ok(V::Null);
    }
    let bad = || format!("{}: raw value {json} does not fit", p.name);
    Ok(match p.conversion {
        Conversion::UnixTime => V::Dto(i128::from(json_int(json).ok_or_else(bad)?) * NANOS, 0),
        Conversion::UnixDate => V::Date(json_int(json).ok_or_else(bad)?.div_euclid(DAY_SECS)),
        Conversion::Flag => V::Bool(json_int(json).ok_or_else(bad)? != 0),
        Conversion::EnumValue => match &p.ty {
            EdmType::Enum(id) => V::Enum(*id, json_int(json).ok_or_else(bad)?),
            _ => V::Int(json_int(json).ok_or_else(bad)?),
        },
        Conversion::Json => V::Json(json.clone()),
        Conversion::Plain => match &p.ty {
            EdmType::String => match json {
                Json::String(s) => V::Str(s.clone()),
                other => V::Str(other.to_string()),
            },
            EdmType::Int32 | EdmType::Int64 => V::Int(json_int(json).ok_or_else(bad)?),
            EdmType::Decimal => match json {
                Json::Number(n) => V::Dec(
                    n.to_string()
                        .parse::<Decimal>()
                        .or_else(|_| Decimal::from_scientific(&n.to_string()))
                        .map_err(|_| bad())?,
                ),
                Json::String(s) => V::Dec(s.trim().parse().map_err(|_| bad())?),
                _ => return Err(bad()),
            },
            EdmType::Double => V::Dbl(json.as_f64().ok_or_else(bad)?),
            EdmType::Boolean => match json {
                Json::Bool(b) => V::Bool(*b),
                other => V::Bool(json_int(other).ok_or_else(bad)? != 0),
            },
            EdmType::Enum(id) => V::Enum(*id, json_int(json).ok_or_else(bad)?),
            _ => V::Json(json.clone()),
        },
    })
}

/// A dynamic (extdata) property's value, typed as ZeyOS stored it.
fn dynamic(json: Option<&Json>) -> V {
    match json {
        None | Some(Json::Null) => V::Null,
        Some(Json::Bool(b)) => V::Bool(*b),
        Some(Json::String(s)) => V::Str(s.clone()),
        Some(Json::Number(n)) => match n.as_i64() {
            Some(i) => V::Int(i),
            None => n
                .to_string()
                .parse::<Decimal>()
                .map_or_else(|_| V::Dbl(n.as_f64().unwrap_or(f64::NAN)), V::Dec),
        },
        Some(other) => V::Json(other.clone()),
    }
}

/// A value as the gateway writes it in OData JSON.
fn to_json(v: &V, m: &ServiceModel) -> Json {
    match v {
        V::Null => Json::Null,
        V::Bool(b) => Json::Bool(*b),
        V::Int(i) => Json::from(*i),
        V::Dec(d) => d
            .to_f64()
            .and_then(serde_json::Number::from_f64)
            .map_or(Json::Null, Json::Number),
        V::Dbl(f) => serde_json::Number::from_f64(*f).map_or(Json::Null, Json::Number),
        V::Str(s) => Json::String(s.clone()),
        V::Date(d) => {
            let (y, mo, da) = civil_from_days(*d);
            Json::String(format!("{y:04}-{mo:02}-{da:02}"))
        }
        V::Dto(t, _) => {
            let (y, mo, d, h, mi, s) = local_parts(*t, 0);
            let frac = t.rem_euclid(NANOS);
            let mut out = format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}");
            if frac > 0 {
                out.push_str(format!(".{frac:09}").trim_end_matches('0'));
            }
            out.push('Z');
            Json::String(out)
        }
        V::Dur(n) => Json::String(format!("PT{}S", *n as f64 / 1e9)),
        V::Enum(id, n) => {
            let en = m.enum_type(*id);
            Json::String(
                en.members
                    .iter()
                    .find(|(_, v)| v == n)
                    .map_or_else(|| n.to_string(), |(name, _)| name.clone()),
            )
        }
        V::Json(j) => j.clone(),
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant).
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day number (inverse of [`days_from_civil`]).
pub fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_round_trip() {
        for d in [-800_000, -1, 0, 1, 17_000, 20_000, 2_932_896] {
            let (y, m, dd) = civil_from_days(d);
            assert_eq!(days_from_civil(y, m, dd), d);
        }
        assert_eq!(days_from_civil(2018, 1, 26), 17_557);
    }
}
