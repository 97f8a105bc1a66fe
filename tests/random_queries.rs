//! Random queries against the oracle: a seeded generator writes OData
//! requests from the service model and values taken from the data, and
//! each answer of the gateway (every page, every row, `@odata.count`) is
//! compared with the oracle's (`common::oracle`).
//!
//! The read corpus (`tests/read_corpus.rs`) checks each operator, function
//! and null case on its own; this test combines them as nobody would write
//! by hand: comparisons under `not` and `or`, functions of navigation
//! paths next to residual filters, several lambdas and counts of related
//! entities in one filter, orders on nullable properties, navigation
//! paths and counts of related entities with `$skip`, `$top` and small
//! pages, `$expand` with nested options, as a count (`Nav/$count`) or as
//! references (`Nav/$ref`),
//! `/$count` paths, `$search`, and
//! collections reached through a key.
//! Every query is type-correct and uses only what the service supports,
//! so any error status is a failure too.
//!
//! The queries are the same on every run (a fixed seed). To search further:
//! `RANDOM_SEED=7 RANDOM_QUERIES=5000 cargo test --release --test
//! random_queries -- --nocapture`. A failure prints its URL; `RANDOM_URL=...
//! [RANDOM_PAGE=N]` runs that one query while it is cut down by hand, and
//! `RANDOM_PRINT=1` lists the queries generated. Once fixed, the query goes
//! into `conformance/read/queries.txt`.
//!
//! The same generator also checks that broken queries get OData errors,
//! and that queries answered inside `$batch` are answered as alone.

mod common;

use common::compare::{diff, fetch, oracle_for, report};
use common::oracle::{civil_from_days, days_from_civil, Answer, Oracle};
use common::Env;
use serde_json::Value as Json;
use zeyos_odata::edm::{Conversion, EdmType, EntitySetId, ServiceModel};

/// Accounts in the simulator; the other entities scale with it.
const SCALE: usize = 150;
/// Queries per run unless `RANDOM_QUERIES` says otherwise.
const DEFAULT_QUERIES: usize = 800;
/// Seed unless `RANDOM_SEED` says otherwise.
const DEFAULT_SEED: u64 = 0x5eed_0da7a;

/// The entity sets queried (service root and set name).
const SETS: [(&str, &str); 15] = [
    ("/odata/", "Accounts"),
    ("/odata/", "Contacts"),
    ("/odata/", "Transactions"),
    ("/odata/", "Items"),
    ("/odata/", "Tasks"),
    ("/odata/", "Tickets"),
    ("/odata/", "Payments"),
    ("/odata/", "Projects"),
    ("/odata/", "Users"),
    ("/odata/", "Opportunities"),
    ("/v1/", "Companies"),
    ("/v1/", "Invoices"),
    ("/v1/", "Orders"),
    ("/v1/", "Contacts"),
    ("/v1/", "Products"),
];

/// SplitMix64: small, seedable, and the same sequence on every platform.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn chance(&mut self, p: f64) -> bool {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// What kind of literal and functions a property takes.
#[derive(Debug, Clone)]
enum Kind {
    Str,
    Int,
    Dec,
    Dbl,
    Bool,
    Date,
    Dto,
    /// The enum's qualified name and its members (name, value).
    Enum(String, Vec<(String, i64)>),
}

/// A property a filter may name, with values seen in the data.
#[derive(Debug, Clone)]
struct Prop {
    name: String,
    kind: Kind,
    samples: Vec<Json>,
}

/// What the generator knows of one entity set.
struct SetInfo {
    path: String,
    props: Vec<Prop>,
    /// To-one navigation properties and their target's properties.
    to_one: Vec<(String, Vec<Prop>)>,
    /// To-many navigation properties and their target's properties.
    to_many: Vec<(String, Vec<Prop>)>,
    /// Collections of complex values (line items) and their members'
    /// properties.
    items: Vec<(String, Vec<Prop>)>,
    /// Every navigation property, whether it is to-many, and the path of
    /// its target set (for `$expand` and for paths through a key).
    navigation: Vec<(String, bool, String)>,
    /// Key values seen in the data.
    keys: Vec<Json>,
}

fn kind_of(model: &ServiceModel, ty: &EdmType, conversion: Conversion) -> Option<Kind> {
    if conversion == Conversion::Json {
        return None;
    }
    Some(match ty {
        EdmType::String => Kind::Str,
        EdmType::Int32 | EdmType::Int64 => Kind::Int,
        EdmType::Decimal => Kind::Dec,
        EdmType::Double => Kind::Dbl,
        EdmType::Boolean => Kind::Bool,
        EdmType::Date => Kind::Date,
        EdmType::DateTimeOffset => Kind::Dto,
        EdmType::Enum(id) => {
            let e = &model.enum_types[id.0];
            Kind::Enum(format!("{}.{}", model.namespace, e.name), e.members.clone())
        }
        _ => return None,
    })
}

/// Distinct non-null values of `name` in the oracle's rows, at most 24.
fn samples(rows: &[serde_json::Map<String, Json>], name: &str) -> Vec<Json> {
    let mut out: Vec<Json> = Vec::new();
    for row in rows {
        match row.get(name) {
            Some(Json::Null) | None => {}
            Some(v) if out.contains(v) => {}
            Some(v) => out.push(v.clone()),
        }
        if out.len() >= 24 {
            break;
        }
    }
    out
}

fn set_rows(oracle: &Oracle, path: &str) -> Vec<serde_json::Map<String, Json>> {
    match oracle.evaluate(path) {
        Ok(Answer::Collection { rows, .. }) => rows,
        other => panic!("the oracle reads {path}: {other:?}"),
    }
}

fn props_of(model: &ServiceModel, oracle: &Oracle, set: EntitySetId) -> Vec<Prop> {
    let es = &model.entity_sets[set.0];
    let ty = &model.entity_types[es.entity_type.0];
    let rows = set_rows(oracle, &format!("{}{}", model.root, es.name));
    ty.properties
        .iter()
        .filter(|p| p.filterable)
        .filter_map(|p| prop(model, p, &rows))
        .collect()
}

/// `p` with values from `rows`, if the generator can write its literals.
fn prop(
    model: &ServiceModel,
    p: &zeyos_odata::edm::Property,
    rows: &[serde_json::Map<String, Json>],
) -> Option<Prop> {
    Some(Prop {
        name: p.name.clone(),
        kind: kind_of(model, &p.ty, p.conversion)?,
        samples: samples(rows, &p.name),
    })
}

/// The properties of the members of the collection `name` (line items),
/// with values from every member of every row.
fn item_props(
    model: &ServiceModel,
    rows: &[serde_json::Map<String, Json>],
    name: &str,
    complex: zeyos_odata::edm::ComplexTypeId,
) -> Vec<Prop> {
    let members: Vec<serde_json::Map<String, Json>> = rows
        .iter()
        .filter_map(|r| r.get(name)?.as_array())
        .flatten()
        .filter_map(|m| m.as_object().cloned())
        .collect();
    model.complex_types[complex.0]
        .properties
        .iter()
        .filter_map(|p| prop(model, p, &members))
        .collect()
}

fn set_info(env: &Env, oracle: &Oracle, root: &str, name: &str) -> SetInfo {
    let model = env
        .gateway
        .services
        .iter()
        .map(|s| s.model.clone())
        .find(|m| m.root == root)
        .expect("the service exists");
    let id = model.set_index[name];
    let es = &model.entity_sets[id.0];
    let ty = &model.entity_types[es.entity_type.0];
    let path = format!("{root}{name}");
    let rows = set_rows(oracle, &path);
    let items = ty
        .properties
        .iter()
        .filter_map(|p| {
            let complex = p.ty.complex_items()?;
            Some((p.name.clone(), item_props(&model, &rows, &p.name, complex)))
        })
        .collect();
    let key = &ty.properties[ty.key].name;
    let mut info = SetInfo {
        path,
        props: props_of(&model, oracle, id),
        to_one: Vec::new(),
        to_many: Vec::new(),
        items,
        navigation: Vec::new(),
        keys: samples(&rows, key),
    };
    for nav in &ty.navigation {
        let Some(binding) = es.navigation_bindings.iter().find(|b| b.path == nav.name) else {
            continue;
        };
        let target = format!("{root}{}", model.entity_sets[binding.target.0].name);
        info.navigation
            .push((nav.name.clone(), nav.collection, target));
        let props = props_of(&model, oracle, binding.target);
        if nav.collection {
            info.to_many.push((nav.name.clone(), props));
        } else {
            info.to_one.push((nav.name.clone(), props));
        }
    }
    info
}

/// What the generator knows of every set in [`SETS`].
fn all_sets(env: &Env, oracle: &Oracle) -> Vec<SetInfo> {
    SETS.iter()
        .map(|(root, name)| set_info(env, oracle, root, name))
        .collect()
}

// ------------------------------------------------------------------ literals

/// Characters a query string cannot carry as they are inside a literal.
fn escape_url(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '%' => out.push_str("%25"),
            '+' => out.push_str("%2B"),
            '&' => out.push_str("%26"),
            '#' => out.push_str("%23"),
            c => out.push(c),
        }
    }
    out
}

fn string_literal(s: &str) -> String {
    format!("'{}'", escape_url(&s.replace('\'', "''")))
}

/// `2016-01-19T15:54:06Z` written at another offset (the same instant).
fn with_offset(utc: &str, minutes: i64) -> Option<String> {
    let n = |a: usize, b: usize| utc.get(a..b)?.parse::<i64>().ok();
    let days = days_from_civil(n(0, 4)?, n(5, 7)?, n(8, 10)?);
    let secs = days * 86_400 + n(11, 13)? * 3600 + n(14, 16)? * 60 + n(17, 19)? + minutes * 60;
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    let sign = if minutes < 0 { '-' } else { '+' };
    Some(format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}{}{:02}:{:02}",
        s / 3600,
        s % 3600 / 60,
        s % 60,
        if sign == '+' { "%2B" } else { "-" },
        minutes.abs() / 60,
        minutes.abs() % 60
    ))
}

/// A value of the property's kind: mostly one seen in the data.
fn value(rng: &mut Rng, p: &Prop) -> Json {
    if !p.samples.is_empty() && rng.chance(0.85) {
        return rng.pick(&p.samples).clone();
    }
    match &p.kind {
        Kind::Str => {
            Json::from(*rng.pick(&["", "a", "M", "Köln", "O'Connor", "100%", "a_b", "zz"]))
        }
        Kind::Int => Json::from(*rng.pick(&[-1i64, 0, 1, 2, 3, 50, 1000])),
        Kind::Dec | Kind::Dbl => Json::from(*rng.pick(&[-0.5f64, 0.0, 1.5, 99.99, 1000.0])),
        Kind::Bool => Json::from(rng.chance(0.5)),
        Kind::Date => Json::from(*rng.pick(&["2016-01-19", "2020-02-29", "1999-12-31"])),
        Kind::Dto => Json::from(*rng.pick(&["2016-01-19T15:54:06Z", "2020-02-29T00:00:00Z"])),
        Kind::Enum(_, members) => Json::from(rng.pick(members).0.clone()),
    }
}

/// `v` as a literal of the property's kind, in one of the forms clients
/// write.
fn literal(rng: &mut Rng, p: &Prop, v: &Json) -> String {
    match (&p.kind, v) {
        (Kind::Str, Json::String(s)) => string_literal(s),
        (Kind::Dto, Json::String(s)) => {
            let minutes = *rng.pick(&[0i64, 120, -300, 330, 60]);
            if minutes != 0 && rng.chance(0.5) {
                if let Some(shifted) = with_offset(s, minutes) {
                    return shifted;
                }
            }
            s.clone()
        }
        (Kind::Date, Json::String(s)) => s.clone(),
        (Kind::Enum(qualified, members), Json::String(s)) => match rng.below(3) {
            0 => format!("{qualified}'{s}'"),
            1 => string_literal(s),
            _ => members
                .iter()
                .find(|(name, _)| name == s)
                .map_or_else(|| string_literal(s), |(_, v)| v.to_string()),
        },
        (_, Json::Number(n)) => n.to_string(),
        (_, Json::Bool(b)) => b.to_string(),
        (_, other) => panic!("no literal for {other} of {}", p.name),
    }
}

fn lit(rng: &mut Rng, p: &Prop) -> String {
    let v = value(rng, p);
    literal(rng, p, &v)
}

/// A piece of a sample string: what `contains` and friends look for.
fn fragment(rng: &mut Rng, p: &Prop) -> String {
    let s = match value(rng, p) {
        Json::String(s) => s,
        _ => "a".to_string(),
    };
    let chars: Vec<char> = s.chars().collect();
    let piece: String = if chars.is_empty() {
        String::new()
    } else {
        let start = rng.below(chars.len());
        let len = 1 + rng.below(4.min(chars.len() - start));
        chars[start..start + len].iter().collect()
    };
    match rng.below(10) {
        0 => piece.to_uppercase(),
        1 => piece.to_lowercase(),
        2 => rng.pick(&["%", "_", "\\", "%a", "e_"]).to_string(),
        _ => piece,
    }
}

// ------------------------------------------------------------------ filters

const COMPARE: [&str; 6] = ["eq", "ne", "gt", "ge", "lt", "le"];

/// A boolean condition on `p`, reached through `path` (`Contact/` or `x/`).
fn condition(rng: &mut Rng, path: &str, p: &Prop) -> String {
    let name = format!("{path}{}", p.name);
    let op = *rng.pick(&COMPARE);
    if rng.chance(0.07) {
        return format!("{name} {} null", if rng.chance(0.5) { "eq" } else { "ne" });
    }
    match &p.kind {
        Kind::Str => {
            // Often wrapped in a function, as search boxes write
            // `contains(tolower(Name),'abc')`; literals follow the case.
            let (expr, case): (String, fn(&str) -> String) = match rng.below(10) {
                0 | 1 => (format!("tolower({name})"), str::to_lowercase),
                2 => (format!("toupper({name})"), str::to_uppercase),
                3 => (format!("trim({name})"), str::to_string),
                4 => (
                    format!("substring({name},{})", rng.below(3)),
                    str::to_string,
                ),
                5 => (
                    format!("substring({name},{},{})", rng.below(3), rng.below(4)),
                    str::to_string,
                ),
                6 => (format!("concat({name},'x')"), str::to_string),
                _ => (name.clone(), str::to_string),
            };
            let fragment = |rng: &mut Rng| string_literal(&case(&fragment(rng, p)));
            let whole = |rng: &mut Rng| match value(rng, p) {
                Json::String(s) => string_literal(&case(&s)),
                _ => "'a'".to_string(),
            };
            match rng.below(12) {
                0 | 1 => format!("contains({expr},{})", fragment(rng)),
                2 => format!("startswith({expr},{})", fragment(rng)),
                3 => format!("endswith({expr},{})", fragment(rng)),
                4 => format!("length({expr}) {op} {}", rng.below(12)),
                5 => format!(
                    "indexof({expr},{}) {op} {}",
                    fragment(rng),
                    rng.below(5) as i64 - 1
                ),
                6 if expr == name => in_list(rng, &name, p),
                _ => format!("{expr} {op} {}", whole(rng)),
            }
        }
        Kind::Int | Kind::Dec | Kind::Dbl => match rng.below(11) {
            9 => format!("-{name} {op} {}", lit(rng, p)),
            10 => format!("{name} div 2 {op} {}", lit(rng, p)),
            0 => format!("{name} add 1 {op} {}", lit(rng, p)),
            1 => format!("{name} sub 2.5 {op} {}", lit(rng, p)),
            2 => format!("{name} mul 2 {op} {}", lit(rng, p)),
            3 if matches!(p.kind, Kind::Int) => {
                format!("{name} mod 3 {} {}", rng.pick(&["eq", "ne"]), rng.below(3))
            }
            3 => format!(
                "{}({name}) {op} {}",
                rng.pick(&["round", "floor", "ceiling"]),
                lit(rng, p)
            ),
            4 => in_list(rng, &name, p),
            _ => format!("{name} {op} {}", lit(rng, p)),
        },
        Kind::Bool => match rng.below(4) {
            0 => name,
            1 => format!("not {name}"),
            _ => format!("{name} {} {}", rng.pick(&["eq", "ne"]), rng.chance(0.5)),
        },
        Kind::Date => match rng.below(6) {
            0 => format!("year({name}) {op} {}", 2014 + rng.below(8)),
            1 => format!("month({name}) {op} {}", 1 + rng.below(12)),
            2 => format!("day({name}) {op} {}", 1 + rng.below(31)),
            _ => format!("{name} {op} {}", lit(rng, p)),
        },
        Kind::Dto => match rng.below(8) {
            0 => format!("year({name}) {op} {}", 2014 + rng.below(8)),
            1 => format!("month({name}) {op} {}", 1 + rng.below(12)),
            2 => format!("day({name}) {op} {}", 1 + rng.below(31)),
            3 => format!("hour({name}) {op} {}", rng.below(24)),
            4 => {
                let day = match value(rng, p) {
                    Json::String(s) => s.get(..10).unwrap_or("2016-01-19").to_string(),
                    _ => "2016-01-19".into(),
                };
                format!("date({name}) {op} {day}")
            }
            _ => format!("{name} {op} {}", lit(rng, p)),
        },
        Kind::Enum(..) => match rng.below(4) {
            0 => in_list(rng, &name, p),
            1 => format!("{name} {op} {}", lit(rng, p)),
            _ => format!("{name} {} {}", rng.pick(&["eq", "ne"]), lit(rng, p)),
        },
    }
}

fn in_list(rng: &mut Rng, name: &str, p: &Prop) -> String {
    let mut items: Vec<String> = (0..1 + rng.below(3)).map(|_| lit(rng, p)).collect();
    if rng.chance(0.2) {
        items.push("null".into());
    }
    format!("{name} in ({})", items.join(","))
}

/// Whether two kinds may be compared with each other.
fn comparable(a: &Kind, b: &Kind) -> bool {
    let numeric = |k: &Kind| matches!(k, Kind::Int | Kind::Dec | Kind::Dbl);
    match (a, b) {
        (Kind::Enum(x, _), Kind::Enum(y, _)) => x == y,
        _ if numeric(a) && numeric(b) => true,
        _ => std::mem::discriminant(a) == std::mem::discriminant(b),
    }
}

/// A condition on the set's own properties (against a literal or another
/// property), a to-one navigation's (or whether it has an entity), the
/// members of a to-many navigation, or the set's line items.
fn leaf(rng: &mut Rng, set: &SetInfo) -> String {
    let roll = rng.below(100);
    if roll < 14 && !set.to_one.is_empty() {
        let (nav, props) = rng.pick(&set.to_one);
        if rng.chance(0.2) {
            // Whether there is a related entity at all.
            return match rng.below(3) {
                0 => format!("{nav} eq null"),
                1 => format!("{nav} ne null"),
                _ => format!("null {} {nav}", rng.pick(&["eq", "ne"])),
            };
        }
        if !props.is_empty() {
            let p = rng.pick(props);
            return condition(rng, &format!("{nav}/"), p);
        }
    }
    if roll >= 92 {
        if let Some(l) = lambda(rng, &set.to_many, "x") {
            return l;
        }
    }
    if (86..92).contains(&roll) {
        if let Some(l) = lambda(rng, &set.items, "i") {
            return l;
        }
    }
    let p = rng.pick(&set.props);
    if (80..86).contains(&roll) {
        let others: Vec<&Prop> = set
            .props
            .iter()
            .filter(|q| q.name != p.name && comparable(&p.kind, &q.kind))
            .collect();
        if !others.is_empty() {
            let q = rng.pick(&others);
            let op = if matches!(p.kind, Kind::Bool) {
                *rng.pick(&["eq", "ne"])
            } else {
                *rng.pick(&COMPARE)
            };
            return format!("{} {op} {}", p.name, q.name);
        }
    }
    condition(rng, "", p)
}

/// `any` or `all` with variable `var` over one of `collections` (to-many
/// navigation properties or line items) and a condition on its members, or
/// their `$count` (of all of them, or of those a condition holds for)
/// compared with a small number.
fn lambda(rng: &mut Rng, collections: &[(String, Vec<Prop>)], var: &str) -> Option<String> {
    if collections.is_empty() {
        return None;
    }
    let (name, props) = rng.pick(collections);
    if props.is_empty() {
        return None;
    }
    let p = rng.pick(props);
    if rng.chance(0.25) {
        // In `$count($filter=...)` the member's names are bare.
        let counted = if rng.chance(0.5) {
            format!("{name}/$count")
        } else {
            format!("{name}/$count($filter={})", condition(rng, "", p))
        };
        let op = *rng.pick(&COMPARE);
        return Some(format!("{counted} {op} {}", rng.below(6)));
    }
    let inner = condition(rng, &format!("{var}/"), p);
    let quantifier = if rng.chance(0.7) { "any" } else { "all" };
    Some(format!("{name}/{quantifier}({var}:{inner})"))
}

fn filter(rng: &mut Rng, set: &SetInfo, depth: u32) -> String {
    if depth == 0 || rng.chance(0.45) {
        return leaf(rng, set);
    }
    match rng.below(5) {
        0 | 1 => format!(
            "{} and {}",
            filter(rng, set, depth - 1),
            filter(rng, set, depth - 1)
        ),
        2 | 3 => format!(
            "({} or {})",
            filter(rng, set, depth - 1),
            filter(rng, set, depth - 1)
        ),
        _ => format!("not ({})", filter(rng, set, depth - 1)),
    }
}

fn find<'a>(sets: &'a [SetInfo], path: &str) -> Option<&'a SetInfo> {
    sets.iter().find(|s| s.path == path)
}

/// An `$orderby` key: a property of the set or of a to-one navigation,
/// an expression, or (where `related`, not in `$expand`) a count of
/// related entities or an `any` over them.
fn order_key(rng: &mut Rng, set: &SetInfo, related: bool) -> String {
    let dir = *rng.pick(&["", " asc", " desc"]);
    if related && rng.chance(0.1) && !set.to_many.is_empty() {
        let (nav, props) = rng.pick(&set.to_many);
        if !props.is_empty() {
            let p = rng.pick(props);
            let key = match rng.below(3) {
                0 => format!("{nav}/$count"),
                1 => format!("{nav}/$count($filter={})", condition(rng, "", p)),
                _ => format!("{nav}/any(x:{})", condition(rng, "x/", p)),
            };
            return format!("{key}{dir}");
        }
    }
    if rng.chance(0.15) && !set.to_one.is_empty() {
        let (nav, props) = rng.pick(&set.to_one);
        if !props.is_empty() {
            return format!("{nav}/{}{dir}", rng.pick(props).name);
        }
    }
    let p = rng.pick(&set.props);
    if rng.chance(0.15) {
        // An expression: sorted by its value, ties by key.
        let name = &p.name;
        let expr = match p.kind {
            Kind::Str => match rng.below(4) {
                0 => format!("length({name})"),
                1 => format!("tolower({name})"),
                2 => format!("toupper({name})"),
                _ => format!("substring({name},1)"),
            },
            Kind::Int | Kind::Dec | Kind::Dbl => match rng.below(2) {
                0 => format!("{name} mul -1"),
                _ => format!("{name} add 1"),
            },
            Kind::Date | Kind::Dto => match rng.below(3) {
                0 => format!("year({name})"),
                1 => format!("month({name})"),
                _ => format!("day({name})"),
            },
            _ => name.clone(),
        };
        return format!("{expr}{dir}");
    }
    format!("{}{dir}", p.name)
}

fn select(rng: &mut Rng, set: &SetInfo) -> String {
    let names: Vec<String> = (0..1 + rng.below(4))
        .map(|_| rng.pick(&set.props).name.clone())
        .collect();
    names.join(",")
}

/// One `$expand` item, with options when it is to-many.
fn expand(rng: &mut Rng, sets: &[SetInfo], set: &SetInfo) -> String {
    let (nav, many, target) = rng.pick(&set.navigation);
    let target = find(sets, target);
    if let (true, Some(t)) = (*many, target) {
        // `Nav/$count`: the count alone, of the related entities passing
        // an optional $filter.
        if rng.chance(0.3) {
            return if rng.chance(0.5) {
                format!("{nav}/$count($filter={})", filter(rng, t, 1))
            } else {
                format!("{nav}/$count")
            };
        }
    }
    // `Nav/$ref`: the related entities' ids alone, with the options that
    // choose them (no $select).
    let refs = target.is_some() && rng.chance(0.2);
    let mut options = Vec::new();
    if let Some(t) = target {
        if (*many || refs) && rng.chance(0.5) {
            options.push(format!("$filter={}", filter(rng, t, 1)));
        }
        if *many && rng.chance(0.4) {
            options.push(format!("$orderby={}", order_key(rng, t, false)));
        }
        if *many && rng.chance(0.3) {
            options.push(format!("$top={}", rng.pick(&[0, 1, 3])));
        }
        if !refs && rng.chance(0.4) {
            options.push(format!("$select={}", select(rng, t)));
        }
    }
    let nav = if refs {
        format!("{nav}/$ref")
    } else {
        nav.clone()
    };
    if options.is_empty() {
        nav
    } else {
        format!("{nav}({})", options.join(";"))
    }
}

/// A word of a string value, for `$search`.
fn search_word(rng: &mut Rng, set: &SetInfo) -> Option<String> {
    let strings: Vec<&Prop> = set
        .props
        .iter()
        .filter(|p| matches!(p.kind, Kind::Str) && !p.samples.is_empty())
        .collect();
    let p = rng.pick(&strings);
    let text = rng.pick(&p.samples).as_str()?.to_string();
    let words: Vec<&str> = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().count() >= 3)
        .collect();
    (!words.is_empty()).then(|| rng.pick(&words).to_lowercase())
}

/// One request: the URL and the page size to ask for.
fn query(rng: &mut Rng, sets: &[SetInfo], set: &SetInfo) -> (String, Option<u64>) {
    // The collection: the set itself, or a to-many navigation of one of
    // its entities.
    let mut path = set.path.clone();
    let mut target = set;
    if rng.chance(0.1) && !set.keys.is_empty() {
        let navs: Vec<&(String, bool, String)> = set
            .navigation
            .iter()
            .filter(|(_, many, t)| *many && find(sets, t).is_some())
            .collect();
        if !navs.is_empty() {
            let (nav, _, t) = rng.pick(&navs);
            path = format!("{}({})/{nav}", set.path, rng.pick(&set.keys));
            target = find(sets, t).unwrap_or(set);
        }
    }
    if rng.chance(0.07) {
        let filter = if rng.chance(0.8) {
            format!("?$filter={}", filter(rng, target, 3))
        } else {
            String::new()
        };
        return (format!("{path}/$count{filter}"), None);
    }
    let mut options = Vec::new();
    if rng.chance(0.85) {
        let mut text = filter(rng, target, 3);
        // A parameter alias in place of a compared string literal, its
        // value sent beside (it must survive paging's nextLinks too).
        if rng.chance(0.15) {
            if let Some((with_alias, value)) = alias_first_string(&text) {
                text = with_alias;
                options.push(format!("@v={value}"));
            }
        }
        options.push(format!("$filter={text}"));
    }
    if rng.chance(0.05) {
        if let Some(word) = search_word(rng, target) {
            options.push(format!("$search={word}"));
        }
    }
    if rng.chance(0.6) {
        let keys: Vec<String> = (0..1 + rng.below(2))
            .map(|_| order_key(rng, target, true))
            .collect();
        options.push(format!("$orderby={}", keys.join(",")));
    }
    if rng.chance(0.3) {
        options.push(format!("$select={}", select(rng, target)));
    }
    if rng.chance(0.15) && !target.navigation.is_empty() {
        options.push(format!("$expand={}", expand(rng, sets, target)));
    }
    if rng.chance(0.4) {
        options.push(format!("$top={}", rng.pick(&[0, 1, 2, 7, 25, 60, 200])));
    }
    if rng.chance(0.3) {
        options.push(format!("$skip={}", rng.pick(&[1, 5, 30, 100])));
    }
    if rng.chance(0.3) {
        options.push("$count=true".into());
    }
    let page = rng.chance(0.25).then(|| *rng.pick(&[3u64, 10, 40]));
    let url = if options.is_empty() {
        path
    } else {
        format!("{path}?{}", options.join("&"))
    };
    (url, page)
}

/// `filter` with its first string literal that is the right operand of a
/// comparison (`Name eq 'x'`) replaced by the alias `@v`, and the literal.
fn alias_first_string(filter: &str) -> Option<(String, String)> {
    let mut search = 0;
    while let Some(found) = filter[search..].find('\'') {
        let start = search + found;
        let compared = ["eq ", "ne ", "gt ", "ge ", "lt ", "le "]
            .iter()
            .any(|op| filter[..start].ends_with(&format!(" {op}")));
        // The literal ends at a quote not doubled.
        let bytes = filter.as_bytes();
        let mut end = start + 1;
        while end < bytes.len() {
            if bytes[end] == b'\'' {
                if bytes.get(end + 1) == Some(&b'\'') {
                    end += 2;
                    continue;
                }
                break;
            }
            end += 1;
        }
        if end >= bytes.len() {
            return None;
        }
        if compared {
            let literal = filter[start..=end].to_string();
            let replaced = format!("{}@v{}", &filter[..start], &filter[end + 1..]);
            return Some((replaced, literal));
        }
        search = end + 1;
    }
    None
}

fn env_number<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_queries_match_the_oracle() {
    // A ZeyOS limit below the sets' sizes: reads cross upstream chunks.
    let env = Env::start(SCALE, |c| c.upstream.max_limit = 60).await;
    run(env, DEFAULT_QUERIES, 0).await;
}

/// The same generator against a gateway that cannot leave strings to
/// ZeyOS (a collating upstream: string order and ranges evaluated in the
/// gateway), reads tiny upstream chunks and caches nothing: other plans,
/// the same answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_queries_match_the_oracle_with_gateway_string_order() {
    let env = Env::start(60, |c| {
        c.upstream.max_limit = 7;
        c.upstream.string_ordering = zeyos_odata::config::StringOrdering::Collated;
        c.cache.enabled = false;
    })
    .await;
    run(env, DEFAULT_QUERIES / 2, 1).await;
}

/// Tokens a mutation inserts: pieces of OData syntax out of place, values
/// out of range, names that do not exist.
const NOISE: [&str; 24] = [
    "'",
    "(",
    ")",
    ",",
    " ",
    "/",
    "$",
    "%25",
    "%27",
    "eq",
    " and ",
    "null",
    "1e999",
    "99999999999999999999",
    "-",
    "@x",
    ";",
    "=",
    "&",
    "$top=-1",
    "Nope",
    "any(",
    "x:",
    "2016-13-45",
];

/// `url` with one to three random edits in its query: a character
/// deleted, noise inserted, the rest cut off, or an option repeated.
fn mutate(rng: &mut Rng, url: &str) -> String {
    let Some(query_start) = url.find('?') else {
        return format!("{url}?$filter={}", rng.pick(&NOISE));
    };
    let mut chars: Vec<char> = url.chars().collect();
    let start = url[..query_start].chars().count() + 1;
    for _ in 0..1 + rng.below(3) {
        if chars.len() <= start {
            break;
        }
        let at = start + rng.below(chars.len() - start);
        match rng.below(5) {
            0 => {
                chars.remove(at);
            }
            1 | 2 => {
                let noise: Vec<char> = rng.pick(&NOISE).chars().collect();
                chars.splice(at..at, noise);
            }
            3 => chars.truncate(at),
            _ => {
                let text: String = chars.iter().collect();
                let options: Vec<&str> = text[query_start + 1..].split('&').collect();
                let again = format!("&{}", rng.pick(&options));
                chars.extend(again.chars());
            }
        }
    }
    chars.into_iter().collect()
}

/// Broken requests (valid ones with random edits) get an answer, never a
/// server error: a 4xx or 501 with the OData error shape, or, where the
/// edit left a valid request, its answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_queries_get_odata_errors() {
    let env = Env::start(40, |c| c.upstream.max_limit = 25).await;
    let oracle = oracle_for(&env).await;
    let sets = all_sets(&env, &oracle);
    let mut rng = Rng(env_number("RANDOM_SEED", DEFAULT_SEED + 2));
    let total = env_number("RANDOM_QUERIES", DEFAULT_QUERIES);
    let mut failures = Vec::new();
    let mut statuses = std::collections::BTreeMap::new();
    for i in 0..total {
        let set = rng.pick(&sets);
        let (url, _) = query(&mut rng, &sets, set);
        let url = mutate(&mut rng, &url);
        let Ok(r) = tokio::time::timeout(std::time::Duration::from_secs(30), env.get(&url)).await
        else {
            failures.push(format!("#{i} {url}\n    no answer within 30 s"));
            continue;
        };
        *statuses.entry(r.status).or_insert(0) += 1;
        if std::env::var_os("RANDOM_PRINT").is_some() {
            println!("query: {} {url} {}", r.status, r.text());
        }
        let problem = if r.status >= 500 && r.status != 501 {
            Some(format!("status {}", r.status))
        } else if r.status >= 400 {
            match serde_json::from_slice::<Json>(&r.body) {
                Ok(j)
                    if j["error"]["code"].as_str().is_some_and(|c| !c.is_empty())
                        && j["error"]["message"]
                            .as_str()
                            .is_some_and(|m| !m.is_empty()) =>
                {
                    None
                }
                _ => Some(format!("status {} without an OData error", r.status)),
            }
        } else {
            None
        };
        if let Some(problem) = problem {
            failures.push(format!("#{i} {url}\n    {problem}: {}", r.text()));
        }
    }
    env.stop().await;
    report(
        &format!("broken queries (statuses {statuses:?})"),
        total,
        &failures,
    );
    // Most edits must break the request, or this tests little.
    let errors: usize = statuses.range(400..).map(|(_, n)| n).sum();
    assert!(
        errors * 2 >= total,
        "only {errors} of {total} edits broke the request"
    );
    assert!(
        failures.is_empty(),
        "{} broken queries failed",
        failures.len()
    );
}

/// Generated queries, some of them broken, answered inside `$batch`
/// exactly as alone: same status, same body. Batches of 1 to 12 requests
/// of one service, sent to its `$batch`, alternate between the multipart
/// format (with continue-on-error, so every request is answered) and the
/// JSON format.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_queries_answer_alike_in_batches() {
    use common::batch::parts;
    use common::reqwest_lite::encode;

    let env = Env::start(40, |c| c.upstream.max_limit = 25).await;
    let oracle = oracle_for(&env).await;
    let sets = all_sets(&env, &oracle);
    let mut rng = Rng(env_number("RANDOM_SEED", DEFAULT_SEED + 3));
    let total = env_number("RANDOM_QUERIES", DEFAULT_QUERIES) / 4;
    let urls: Vec<String> = (0..total)
        .map(|_| {
            let set = rng.pick(&sets);
            let (url, _) = query(&mut rng, &sets, set);
            if rng.chance(0.2) {
                mutate(&mut rng, &url)
            } else {
                url
            }
        })
        .collect();
    let auth = ("authorization", common::basic("demo", "demo"));
    let mut failures = Vec::new();
    let mut done = 0;
    let mut batch_number = 0;
    while done < urls.len() {
        // A batch is its service's: it holds consecutive queries of one
        // service and goes to that service's `$batch`.
        let root = service_root(&urls[done]);
        let same_service = urls[done..]
            .iter()
            .take_while(|u| service_root(u) == root)
            .count();
        let size = (1 + rng.below(12)).min(same_service);
        let batch = &urls[done..done + size];
        done += size;
        batch_number += 1;
        let json = batch_number % 2 == 0;
        let (content_type, body) = if json {
            let requests: Vec<Json> = batch
                .iter()
                .enumerate()
                .map(|(i, u)| serde_json::json!({"id": i.to_string(), "method": "get", "url": encode(u)}))
                .collect();
            (
                "application/json".to_string(),
                serde_json::json!({ "requests": requests }).to_string(),
            )
        } else {
            let mut body = String::new();
            for u in batch {
                body.push_str(&format!(
                    "--b\r\nContent-Type: application/http\r\n\r\nGET {} HTTP/1.1\r\n\r\n\r\n",
                    encode(u)
                ));
            }
            body.push_str("--b--\r\n");
            ("multipart/mixed; boundary=b".to_string(), body)
        };
        // Every other multipart batch stops at its first failure, as one
        // without `continue-on-error` does; the others answer every request.
        let stops = !json && batch_number % 4 == 1;
        let mut headers = vec![auth.clone(), ("content-type", content_type)];
        if !stops {
            headers.push(("prefer", "odata.continue-on-error".to_string()));
        }
        let r = common::batch::send_to(&env, root, &headers, body).await;
        if r.status != 200 {
            failures.push(format!(
                "batch #{batch_number}: status {}: {}",
                r.status,
                r.text()
            ));
            continue;
        }
        // (status, body as JSON or text) per request, in order.
        let answers: Vec<(u16, Json)> = if json {
            let doc = r.json();
            let responses = doc["responses"].as_array().cloned().unwrap_or_default();
            (0..batch.len())
                .map(|i| {
                    let id = i.to_string();
                    let found = responses.iter().find(|x| x["id"].as_str() == Some(&id));
                    found.map_or((0, Json::Null), |x| {
                        (x["status"].as_u64().unwrap_or(0) as u16, x["body"].clone())
                    })
                })
                .collect()
        } else {
            parts(&r.header("content-type").unwrap_or_default(), &r.body)
                .into_iter()
                .map(|p| (p.status, as_json_batch_body(&p.content_type, &p.body)))
                .collect()
        };
        let mut alone = Vec::with_capacity(batch.len());
        for url in batch {
            let r = env.get_with(url, std::slice::from_ref(&auth)).await;
            let body = as_json_batch_body(&r.header("content-type").unwrap_or_default(), &r.body);
            alone.push((r.status, body));
        }
        let expected = match alone
            .iter()
            .position(|(s, _)| !(200..300).contains(s) && *s != 304)
        {
            Some(failed) if stops => failed + 1,
            _ => batch.len(),
        };
        if answers.len() != expected {
            failures.push(format!(
                "batch #{batch_number}: {} answers to {} requests, {expected} expected",
                answers.len(),
                batch.len()
            ));
            continue;
        }
        for ((url, (status, body)), (alone_status, alone_body)) in
            batch.iter().zip(answers).zip(alone)
        {
            if status != alone_status || body != alone_body {
                failures.push(format!(
                    "{url}\n    in a batch: {status} {body}\n    alone: {alone_status} {alone_body}"
                ));
            }
        }
    }
    env.stop().await;
    report(
        &format!("queries in {batch_number} batches"),
        total,
        &failures,
    );
    assert!(
        failures.is_empty(),
        "{} batched queries differ",
        failures.len()
    );
}

/// The service root of a generated query's path (`/odata/`, `/v1/`).
fn service_root(url: &str) -> &str {
    let end = url
        .get(1..)
        .and_then(|rest| rest.find('/'))
        .map_or(url.len(), |i| i + 2);
    &url[..end]
}

/// A response body as the JSON batch format holds it: JSON for JSON media
/// types, a string otherwise (the generated queries ask for no binary).
fn as_json_batch_body(content_type: &str, body: &[u8]) -> Json {
    if content_type.starts_with("application/json") {
        serde_json::from_slice(body).unwrap_or(Json::Null)
    } else {
        Json::String(String::from_utf8_lossy(body).into_owned())
    }
}

/// Generates `default_total` queries (or `RANDOM_QUERIES`) from the seed
/// (`RANDOM_SEED`, else [`DEFAULT_SEED`] plus `seed_offset`) and compares
/// each answer with the oracle's.
async fn run(env: Env, default_total: usize, seed_offset: u64) {
    let seed = env_number("RANDOM_SEED", DEFAULT_SEED + seed_offset);
    let total = env_number("RANDOM_QUERIES", default_total);
    let oracle = oracle_for(&env).await;
    let sets = all_sets(&env, &oracle);
    let mut rng = Rng(seed);
    let mut queries: Vec<(String, Option<u64>)> = (0..total)
        .map(|_| {
            let set = rng.pick(&sets);
            query(&mut rng, &sets, set)
        })
        .collect();
    if let Ok(url) = std::env::var("RANDOM_URL") {
        // One query to look into, e.g. a failure's, shortened by hand.
        queries = vec![(
            url,
            std::env::var("RANDOM_PAGE")
                .ok()
                .and_then(|p| p.parse().ok()),
        )];
    }
    let total = queries.len();
    if std::env::var_os("RANDOM_PRINT").is_some() {
        for (url, page) in &queries {
            println!("query: {url} (page size {page:?})");
        }
    }

    let next = std::sync::atomic::AtomicUsize::new(0);
    let failures = std::sync::Mutex::new(Vec::new());
    let nonempty = std::sync::atomic::AtomicUsize::new(0);
    let worker = || async {
        loop {
            let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let Some((url, page)) = queries.get(i) else {
                break;
            };
            let outcome = match oracle.evaluate(url) {
                Err(e) => Err(format!("the oracle cannot evaluate it: {e}")),
                Ok(expected) => {
                    if matches!(&expected, Answer::Collection { keys, .. } if !keys.is_empty()) {
                        nonempty.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                    match fetch(&env, url, *page).await {
                        Err(e) => Err(e),
                        Ok(got) => {
                            let want_count = url.contains("$count=true");
                            diff(&expected, &got, want_count).map_or(Ok(()), Err)
                        }
                    }
                }
            };
            if let Err(e) = outcome {
                let page = page.map_or(String::new(), |n| format!(" (page size {n})"));
                failures
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(format!("#{i} {url}{page}\n    {e}"));
            }
        }
    };
    tokio::join!(worker(), worker(), worker(), worker());
    env.stop().await;
    let mut failures = failures.into_inner().unwrap_or_else(|p| p.into_inner());
    failures.sort();
    let nonempty = nonempty.into_inner();
    report(
        &format!("random queries (seed {seed}, {nonempty} of {total} expecting rows)"),
        total,
        &failures,
    );
    // Queries that all answer nothing would test little.
    assert!(
        total < 10 || nonempty * 3 >= total,
        "only {nonempty} of {total} queries expect rows"
    );
    assert!(
        failures.is_empty(),
        "{} random queries failed",
        failures.len()
    );
}
