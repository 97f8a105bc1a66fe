//! `$metadata` as CSDL XML, version 4.0.
//!
//! Version 4.0 because it is what Excel, Power BI and older OData libraries
//! read; the model uses nothing that 4.0 lacks (no `Edm.Untyped`, no 4.01
//! path syntax). quick-xml escapes every attribute value and text, so
//! descriptions with `<`, `&` or quotes cannot break the document.

use std::io;

use quick_xml::events::{BytesDecl, BytesText, Event};
use quick_xml::writer::ElementWriter;
use quick_xml::Writer;

use super::annotations::{self, Annotation, Value, VOCABULARIES};
use super::model::{EdmType, EntityType, Join, NavigationProperty, Property, ServiceModel};

const EDMX_NS: &str = "http://docs.oasis-open.org/odata/ns/edmx";
const EDM_NS: &str = "http://docs.oasis-open.org/odata/ns/edm";

/// The CSDL XML document of `model`.
pub fn to_string(model: &ServiceModel) -> String {
    let mut out = Vec::new();
    // Writing into a Vec<u8> cannot fail.
    write(model, &mut out).expect("writing CSDL into memory");
    String::from_utf8_lossy(&out).into_owned()
}

/// Writes the CSDL XML document of `model` to `out`.
pub fn write<W: io::Write>(model: &ServiceModel, out: W) -> io::Result<()> {
    let mut w = Writer::new_with_indent(out, b' ', 2);
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("utf-8"), None)))?;
    w.create_element("edmx:Edmx")
        .with_attribute(("Version", "4.0"))
        .with_attribute(("xmlns:edmx", EDMX_NS))
        .write_inner_content(|w| {
            for v in VOCABULARIES {
                w.create_element("edmx:Reference")
                    .with_attribute(("Uri", v.xml))
                    .write_inner_content(|w| {
                        w.create_element("edmx:Include")
                            .with_attribute(("Namespace", v.namespace))
                            .with_attribute(("Alias", v.alias))
                            .write_empty()?;
                        Ok(())
                    })?;
            }
            w.create_element("edmx:DataServices")
                .write_inner_content(|w| schema(w, model))?;
            Ok(())
        })?;
    Ok(())
}

fn schema<W: io::Write>(w: &mut Writer<W>, model: &ServiceModel) -> io::Result<()> {
    w.create_element("Schema")
        .with_attribute(("xmlns", EDM_NS))
        .with_attribute(("Namespace", model.namespace.as_str()))
        .write_inner_content(|w| {
            for t in &model.entity_types {
                entity_type(w, model, t)?;
            }
            for c in &model.complex_types {
                let mut el = w
                    .create_element("ComplexType")
                    .with_attribute(("Name", c.name.as_str()));
                if c.open {
                    el = el.with_attribute(("OpenType", "true"));
                }
                el.write_inner_content(|w| {
                    for p in &c.properties {
                        property(w, model, p)?;
                    }
                    annotations(w, &annotations::complex_type(c))
                })?;
            }
            for e in &model.enum_types {
                w.create_element("EnumType")
                    .with_attribute(("Name", e.name.as_str()))
                    .with_attribute(("UnderlyingType", "Edm.Int32"))
                    .write_inner_content(|w| {
                        annotations(w, &annotations::enum_type(e))?;
                        for (name, value) in &e.members {
                            w.create_element("Member")
                                .with_attribute(("Name", name.as_str()))
                                .with_attribute(("Value", value.to_string().as_str()))
                                .write_empty()?;
                        }
                        Ok(())
                    })?;
            }
            container(w, model)
        })?;
    Ok(())
}

fn entity_type<W: io::Write>(
    w: &mut Writer<W>,
    model: &ServiceModel,
    t: &EntityType,
) -> io::Result<()> {
    let mut el = w
        .create_element("EntityType")
        .with_attribute(("Name", t.name.as_str()));
    if t.open {
        el = el.with_attribute(("OpenType", "true"));
    }
    el.write_inner_content(|w| {
        w.create_element("Key").write_inner_content(|w| {
            w.create_element("PropertyRef")
                .with_attribute(("Name", t.key_property().name.as_str()))
                .write_empty()?;
            Ok(())
        })?;
        for p in &t.properties {
            property(w, model, p)?;
        }
        for n in &t.navigation {
            navigation(w, model, n)?;
        }
        annotations(w, &annotations::entity_type(t))
    })?;
    Ok(())
}

fn property<W: io::Write>(w: &mut Writer<W>, model: &ServiceModel, p: &Property) -> io::Result<()> {
    let ty = model.qualified_type_name(&p.ty);
    let mut attrs: Vec<(&str, String)> = vec![("Name", p.name.clone()), ("Type", ty)];
    if matches!(p.ty, EdmType::Collection(_)) || !p.nullable {
        attrs.push(("Nullable", p.nullable.to_string()));
    }
    if let Some(max) = p.max_length {
        attrs.push(("MaxLength", max.to_string()));
    }
    if is_decimal(&p.ty) {
        attrs.push(("Scale", "variable".into()));
    }
    if let Some(default) = &p.default {
        attrs.push(("DefaultValue", default_literal(default)));
    }
    let el = w
        .create_element("Property")
        .with_attributes(attrs.iter().map(|(k, v)| (*k, v.as_str())));
    let notes = annotations::property(p);
    if notes.is_empty() {
        el.write_empty()?;
    } else {
        el.write_inner_content(|w| annotations(w, &notes))?;
    }
    Ok(())
}

fn navigation<W: io::Write>(
    w: &mut Writer<W>,
    model: &ServiceModel,
    n: &NavigationProperty,
) -> io::Result<()> {
    let target = model.entity_type(n.target);
    let target_name = format!("{}.{}", model.namespace, target.name);
    let ty = if n.collection {
        format!("Collection({target_name})")
    } else {
        target_name
    };
    let mut attrs: Vec<(&str, String)> = vec![("Name", n.name.clone()), ("Type", ty)];
    if !n.collection && !n.nullable {
        attrs.push(("Nullable", "false".into()));
    }
    if let Some(partner) = &n.partner {
        attrs.push(("Partner", partner.clone()));
    }
    let el = w
        .create_element("NavigationProperty")
        .with_attributes(attrs.iter().map(|(k, v)| (*k, v.as_str())));
    match &n.join {
        Join::ForeignKey { property, .. } => {
            el.write_inner_content(|w| {
                w.create_element("ReferentialConstraint")
                    .with_attribute(("Property", property.as_str()))
                    .with_attribute(("ReferencedProperty", target.key_property().name.as_str()))
                    .write_empty()?;
                Ok(())
            })?;
        }
        Join::Reverse { .. } => {
            el.write_empty()?;
        }
    }
    Ok(())
}

fn container<W: io::Write>(w: &mut Writer<W>, model: &ServiceModel) -> io::Result<()> {
    w.create_element("EntityContainer")
        .with_attribute(("Name", model.container.as_str()))
        .write_inner_content(|w| {
            for set in &model.entity_sets {
                let ty = model.entity_type(set.entity_type);
                w.create_element("EntitySet")
                    .with_attribute(("Name", set.name.as_str()))
                    .with_attribute((
                        "EntityType",
                        format!("{}.{}", model.namespace, ty.name).as_str(),
                    ))
                    .write_inner_content(|w| {
                        for b in &set.navigation_bindings {
                            w.create_element("NavigationPropertyBinding")
                                .with_attribute(("Path", b.path.as_str()))
                                .with_attribute(("Target", model.set(b.target).name.as_str()))
                                .write_empty()?;
                        }
                        annotations(w, &annotations::entity_set(model, set))
                    })?;
            }
            annotations(w, &annotations::container(model))
        })?;
    Ok(())
}

fn annotations<W: io::Write>(w: &mut Writer<W>, list: &[Annotation]) -> io::Result<()> {
    for a in list {
        let el = w
            .create_element("Annotation")
            .with_attribute(("Term", a.term));
        valued_element(el, &a.value)?;
    }
    Ok(())
}

/// Writes `el` with `v`: constants as an attribute (`Bool="true"`), the
/// rest as content.
fn valued_element<W: io::Write>(el: ElementWriter<'_, W>, v: &Value) -> io::Result<()> {
    match v {
        Value::Bool(b) => {
            el.with_attribute(("Bool", if *b { "true" } else { "false" }))
                .write_empty()?;
        }
        Value::Int(i) => {
            el.with_attribute(("Int", i.to_string().as_str()))
                .write_empty()?;
        }
        Value::String(s) => {
            el.with_attribute(("String", s.as_str())).write_empty()?;
        }
        Value::EnumFlags { ty, members } => {
            el.with_attribute(("EnumMember", enum_members(ty, members).as_str()))
                .write_empty()?;
        }
        other => {
            el.write_inner_content(|w| value(w, other))?;
        }
    }
    Ok(())
}

fn value<W: io::Write>(w: &mut Writer<W>, v: &Value) -> io::Result<()> {
    match v {
        Value::Bool(b) => {
            w.create_element("Bool")
                .write_text_content(BytesText::new(if *b { "true" } else { "false" }))?;
        }
        Value::Int(i) => {
            w.create_element("Int")
                .write_text_content(BytesText::new(&i.to_string()))?;
        }
        Value::String(s) => {
            w.create_element("String")
                .write_text_content(BytesText::new(s))?;
        }
        Value::PropertyPaths(paths) => {
            w.create_element("Collection").write_inner_content(|w| {
                for p in paths {
                    w.create_element("PropertyPath")
                        .write_text_content(BytesText::new(p))?;
                }
                Ok(())
            })?;
        }
        Value::Strings(items) => {
            w.create_element("Collection").write_inner_content(|w| {
                for s in items {
                    w.create_element("String")
                        .write_text_content(BytesText::new(s))?;
                }
                Ok(())
            })?;
        }
        Value::EnumFlags { ty, members } => {
            w.create_element("EnumMember")
                .write_text_content(BytesText::new(&enum_members(ty, members)))?;
        }
        Value::Record(fields) => {
            w.create_element("Record").write_inner_content(|w| {
                for (name, v) in fields {
                    let el = w
                        .create_element("PropertyValue")
                        .with_attribute(("Property", *name));
                    valued_element(el, v)?;
                }
                Ok(())
            })?;
        }
    }
    Ok(())
}

/// An enumeration value as CSDL XML writes it (CSDL XML, "Enumeration
/// Member"): each member as `Type/Member`, separated by spaces.
fn enum_members(ty: &str, members: &[&str]) -> String {
    members
        .iter()
        .map(|m| format!("{ty}/{m}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn is_decimal(ty: &EdmType) -> bool {
    match ty {
        EdmType::Decimal => true,
        EdmType::Collection(inner) => is_decimal(inner),
        _ => false,
    }
}

/// A `DefaultValue` attribute: the literal without JSON quoting.
fn default_literal(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    #[test]
    fn descriptions_are_escaped() {
        let text = r#"
[[service]]
name = "t"
root = "/t/"
[[service.entity_set]]
name = "Accounts"
entity = "accounts"
description = "a <b> & \"c\""
"#;
        let config = Config::from_str(text, "t.toml").unwrap();
        let model = &config.service_models().unwrap()[0];
        let xml = super::to_string(model);
        assert!(
            xml.contains(r#"String="a &lt;b&gt; &amp; &quot;c&quot;""#),
            "{xml}"
        );
        assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"utf-8\"?>"));
        assert!(xml.contains(r#"<Property Name="ExcludeTax" Type="Edm.Boolean" Nullable="false" DefaultValue="false">"#));
    }
}
