//! `$metadata?$format=json` as CSDL JSON, version 4.01.
//!
//! Same model and same annotations as [`super::csdl_xml`]; only the syntax
//! differs. Note the JSON defaults: `$Type` absent means `Edm.String`,
//! `$Nullable` absent means `false`, so every nullable property says so.

use serde_json::{json, Map, Value as Json};

use super::annotations::{self, Annotation, Value, VOCABULARIES};
use super::model::{EdmType, EntityType, Join, NavigationProperty, Property, ServiceModel};

/// The CSDL JSON document of `model`, pretty-printed.
pub fn to_string(model: &ServiceModel) -> String {
    // Serialising a serde_json::Value cannot fail.
    serde_json::to_string_pretty(&to_value(model)).unwrap_or_default()
}

/// The CSDL JSON document of `model` as a JSON value.
pub fn to_value(model: &ServiceModel) -> Json {
    let mut doc = Map::new();
    doc.insert("$Version".into(), json!("4.01"));
    doc.insert(
        "$EntityContainer".into(),
        json!(format!("{}.{}", model.namespace, model.container)),
    );
    let mut refs = Map::new();
    for v in VOCABULARIES {
        refs.insert(
            v.json.into(),
            json!({ "$Include": [{ "$Namespace": v.namespace, "$Alias": v.alias }] }),
        );
    }
    doc.insert("$Reference".into(), Json::Object(refs));

    let mut schema = Map::new();
    for t in &model.entity_types {
        schema.insert(t.name.clone(), entity_type(model, t));
    }
    for c in &model.complex_types {
        let mut obj = Map::new();
        obj.insert("$Kind".into(), json!("ComplexType"));
        if c.open {
            obj.insert("$OpenType".into(), json!(true));
        }
        for p in &c.properties {
            obj.insert(p.name.clone(), property(model, p));
        }
        annotate(&mut obj, &annotations::complex_type(c));
        schema.insert(c.name.clone(), Json::Object(obj));
    }
    for e in &model.enum_types {
        let mut obj = Map::new();
        obj.insert("$Kind".into(), json!("EnumType"));
        for (name, value) in &e.members {
            obj.insert(name.clone(), json!(value));
        }
        annotate(&mut obj, &annotations::enum_type(e));
        schema.insert(e.name.clone(), Json::Object(obj));
    }
    schema.insert(model.container.clone(), container(model));
    doc.insert(model.namespace.clone(), Json::Object(schema));
    Json::Object(doc)
}

fn entity_type(model: &ServiceModel, t: &EntityType) -> Json {
    let mut obj = Map::new();
    obj.insert("$Kind".into(), json!("EntityType"));
    if t.open {
        obj.insert("$OpenType".into(), json!(true));
    }
    obj.insert("$Key".into(), json!([t.key_property().name]));
    for p in &t.properties {
        obj.insert(p.name.clone(), property(model, p));
    }
    for n in &t.navigation {
        obj.insert(n.name.clone(), navigation(model, n));
    }
    annotate(&mut obj, &annotations::entity_type(t));
    Json::Object(obj)
}

fn property(model: &ServiceModel, p: &Property) -> Json {
    let mut obj = Map::new();
    let element = match &p.ty {
        EdmType::Collection(inner) => {
            obj.insert("$Collection".into(), json!(true));
            inner.as_ref()
        }
        other => other,
    };
    obj.insert("$Type".into(), json!(model.qualified_type_name(element)));
    if p.nullable {
        obj.insert("$Nullable".into(), json!(true));
    }
    if let Some(max) = p.max_length {
        obj.insert("$MaxLength".into(), json!(max));
    }
    if *element == EdmType::Decimal {
        obj.insert("$Scale".into(), json!("variable"));
    }
    if let Some(default) = &p.default {
        obj.insert("$DefaultValue".into(), default.clone());
    }
    annotate(&mut obj, &annotations::property(p));
    Json::Object(obj)
}

fn navigation(model: &ServiceModel, n: &NavigationProperty) -> Json {
    let target = model.entity_type(n.target);
    let mut obj = Map::new();
    obj.insert("$Kind".into(), json!("NavigationProperty"));
    if n.collection {
        obj.insert("$Collection".into(), json!(true));
    }
    obj.insert(
        "$Type".into(),
        json!(format!("{}.{}", model.namespace, target.name)),
    );
    if !n.collection && n.nullable {
        obj.insert("$Nullable".into(), json!(true));
    }
    if let Some(partner) = &n.partner {
        obj.insert("$Partner".into(), json!(partner));
    }
    if let Join::ForeignKey { property, .. } = &n.join {
        obj.insert(
            "$ReferentialConstraint".into(),
            json!({ property.clone(): target.key_property().name }),
        );
    }
    Json::Object(obj)
}

fn container(model: &ServiceModel) -> Json {
    let mut obj = Map::new();
    obj.insert("$Kind".into(), json!("EntityContainer"));
    for set in &model.entity_sets {
        let ty = model.entity_type(set.entity_type);
        let mut s = Map::new();
        s.insert("$Collection".into(), json!(true));
        s.insert(
            "$Type".into(),
            json!(format!("{}.{}", model.namespace, ty.name)),
        );
        if !set.navigation_bindings.is_empty() {
            let bindings: Map<String, Json> = set
                .navigation_bindings
                .iter()
                .map(|b| (b.path.clone(), json!(model.set(b.target).name)))
                .collect();
            s.insert("$NavigationPropertyBinding".into(), Json::Object(bindings));
        }
        annotate(&mut s, &annotations::entity_set(model, set));
        obj.insert(set.name.clone(), Json::Object(s));
    }
    annotate(&mut obj, &annotations::container(model));
    Json::Object(obj)
}

fn annotate(obj: &mut Map<String, Json>, list: &[Annotation]) {
    for a in list {
        obj.insert(format!("@{}", a.term), value(&a.value));
    }
}

fn value(v: &Value) -> Json {
    match v {
        Value::Bool(b) => json!(b),
        Value::Int(i) => json!(i),
        Value::String(s) => json!(s),
        Value::PropertyPaths(paths) => json!(paths),
        Value::Strings(items) => json!(items),
        // Flags members separated by commas (CSDL JSON, "Enumeration
        // Member").
        Value::EnumFlags { members, .. } => json!(members.join(",")),
        Value::Record(fields) => Json::Object(
            fields
                .iter()
                .map(|(name, v)| ((*name).to_owned(), value(v)))
                .collect(),
        ),
    }
}
