//! Writing entities and complex values in OData JSON.

use std::borrow::Cow;

use serde_json::{Map, Value as Json};

use super::open_json::write_open_json;
use crate::values::composite;

use super::value::{
    write_count, write_field, write_int, write_json, write_key, write_str, EscapedKey, ValueFormat,
};
use crate::bind::query::{ExpandForm, ExpandItem, QueryShape};
use crate::edm::{ComplexTypeId, Conversion, EdmType, EntitySetId, Property, ServiceModel};
use crate::exec::eval::children_key;
use crate::server::negotiate::{JsonFormat, MetadataLevel};
use crate::upstream::{FieldRef, Fields, RecordList, ShapePositions};
use crate::values::field_i64;

/// How entities of one entity set are written in one response.
pub struct EntityWriter<'a> {
    model: &'a ServiceModel,
    set: EntitySetId,
    /// Properties to write, in type order, with their keys escaped once
    /// and the format of their values.
    properties: Vec<(&'a Property, EscapedKey, ValueFormat)>,
    /// The keys of the complex values those properties hold.
    complex_keys: ComplexKeys,
    /// The ZeyOS field holding the modification time ETags are made of.
    modified_field: Option<&'a str>,
    /// Where the properties' fields, then the modification time, are in
    /// records of each shape met.
    positions: ShapePositions,
    format: JsonFormat,
    /// Absolute service root with trailing slash, for ids and links.
    service_root: &'a str,
    /// Expanded navigation properties with their own writers.
    expand: Vec<Expanded<'a>>,
    /// Dynamic (extdata) properties to write.
    dynamic: Vec<String>,
    /// Navigation properties whose links full metadata writes: all (`None`)
    /// unless `$select` is given, which selects links by naming their
    /// navigation properties (URL Conventions 5.1.3).
    navigation_links: Option<Vec<String>>,
}

/// An expanded navigation property as the writer writes it.
struct Expanded<'a> {
    name: String,
    collection: bool,
    /// Entities, references or the count annotation only.
    form: ExpandForm,
    writer: EntityWriter<'a>,
}

impl<'a> EntityWriter<'a> {
    /// A writer for `set` writing the selected properties (all when
    /// `select` is `None`) and the expanded navigation properties.
    pub fn new(
        model: &'a ServiceModel,
        set: EntitySetId,
        select: Option<&[usize]>,
        expand: &[ExpandItem],
        format: JsonFormat,
        service_root: &'a str,
    ) -> Self {
        let ty = model.entity_type(model.set(set).entity_type);
        let mut properties: Vec<usize> = match select {
            Some(list) => {
                let mut l = list.to_vec();
                if !l.contains(&ty.key) {
                    l.push(ty.key);
                }
                l
            }
            None => (0..ty.properties.len()).collect(),
        };
        properties.sort_unstable();
        properties.dedup();
        let properties: Vec<(&Property, EscapedKey, ValueFormat)> = properties
            .into_iter()
            .filter_map(|i| ty.properties.get(i))
            .map(|p| (p, EscapedKey::new(&p.name), ValueFormat::of(p)))
            .collect();
        let complex_keys = ComplexKeys::for_types(model, properties.iter().map(|(p, _, _)| &p.ty));
        let modified_field = ty
            .property_for_upstream("lastmodified")
            .map(|p| p.upstream.as_str());
        let positions = ShapePositions::new(
            properties
                .iter()
                .map(|(p, _, _)| p.upstream.as_str())
                .chain(modified_field),
        );
        let expand = expand
            .iter()
            .map(|item| Expanded {
                name: item.navigation.clone(),
                collection: item.collection,
                form: item.form,
                writer: EntityWriter::for_shape(
                    model,
                    item.set,
                    &item.options,
                    format,
                    service_root,
                ),
            })
            .collect();
        EntityWriter {
            model,
            set,
            properties,
            complex_keys,
            modified_field,
            positions,
            format,
            service_root,
            expand,
            dynamic: Vec::new(),
            navigation_links: if select.is_some() {
                Some(Vec::new())
            } else {
                None
            },
        }
    }

    /// A writer for what a request's query options select and expand,
    /// dynamic properties and navigation links included.
    pub fn for_shape(
        model: &'a ServiceModel,
        set: EntitySetId,
        shape: &QueryShape,
        format: JsonFormat,
        service_root: &'a str,
    ) -> Self {
        let mut writer = EntityWriter::new(
            model,
            set,
            shape.select.as_deref(),
            &shape.expand,
            format,
            service_root,
        );
        writer.dynamic = shape.dynamic.clone();
        if let Some(links) = writer.navigation_links.as_mut() {
            links.clone_from(&shape.selected_navigation);
        }
        writer
    }

    /// The entity's ETag from its ZeyOS modification time, if it has one.
    pub fn etag(&self, row: &dyn Fields) -> Option<String> {
        Some(format!("W/\"{}\"", self.modified(row)?))
    }

    /// The ZeyOS modification time the ETag is made of.
    fn modified(&self, row: &dyn Fields) -> Option<i64> {
        row.field(self.modified_field?).and_then(field_i64)
    }

    /// The entity's canonical URL relative to the service root.
    pub fn canonical_path(&self, row: &dyn Fields) -> Option<String> {
        let id = row.field("ID").and_then(field_i64)?;
        Some(format!("{}({id})", self.model.set(self.set).name))
    }

    /// Writes an entity reference (JSON Format 14): the entity's id alone,
    /// absolute like the ids full metadata writes.
    pub fn write_reference(&self, out: &mut Vec<u8>, row: &dyn Fields) {
        out.extend_from_slice(br#"{"@odata.id":"#);
        match self.canonical_path(row) {
            Some(path) => write_str(out, &format!("{}{path}", self.service_root)),
            // The key is always read; a row without one has no identity.
            None => out.extend_from_slice(b"null"),
        }
        out.push(b'}');
    }

    /// Writes one entity as a JSON object (without a context URL).
    pub fn write(&self, out: &mut Vec<u8>, row: &dyn Fields) {
        out.push(b'{');
        let mut first = true;
        let mut sep = |out: &mut Vec<u8>| {
            if !first {
                out.push(b',');
            }
            first = false;
        };
        let es = self.model.set(self.set);
        let ty = self.model.entity_type(es.entity_type);
        if self.format.metadata == MetadataLevel::Full {
            sep(out);
            write_key(out, "@odata.type");
            write_str(out, &format!("#{}.{}", self.model.namespace, ty.name));
            if let Some(path) = self.canonical_path(row) {
                sep(out);
                write_key(out, "@odata.id");
                write_str(out, &format!("{}{path}", self.service_root));
                sep(out);
                write_key(out, "@odata.editLink");
                write_str(out, &path);
            }
        }
        let mut lookup = self.positions.lookup();
        // Fields of a record are found once per shape; other objects are
        // read in property order by a cursor.
        let by_position = row
            .record()
            .map(|record| (record, lookup.positions(record.shape())));
        if self.format.metadata != MetadataLevel::None {
            let modified = match (&by_position, self.modified_field) {
                (Some((record, at)), Some(_)) => found(at, self.properties.len())
                    .and_then(|k| record.field_at(k))
                    .and_then(field_i64),
                // By name, not through the cursor, which would then look
                // for the properties after it.
                _ => self.modified(row),
            };
            if let Some(modified) = modified {
                sep(out);
                // `"W/\"123\""`, the weak tag written as a JSON string.
                out.extend_from_slice(br#""@odata.etag":"W/\""#);
                write_int(out, modified);
                out.extend_from_slice(br#"\"""#);
            }
        }
        let mut cursor = row.cursor();
        for (i, &(p, ref key, format)) in self.properties.iter().enumerate() {
            let field = match &by_position {
                Some((record, at)) => found(at, i).and_then(|k| record.field_at(k)),
                None => cursor.get(&p.upstream),
            };
            if self.format.metadata == MetadataLevel::Full {
                if let Some(t) = type_annotation(self.model, &p.ty) {
                    sep(out);
                    write_key(out, &format!("{}@odata.type", p.name));
                    write_str(out, &t);
                }
            }
            sep(out);
            key.append_to(out);
            match (&p.ty, p.conversion, field) {
                (EdmType::Collection(inner), Conversion::Json, Some(FieldRef::List(list))) => {
                    write_record_list(
                        out,
                        self.model,
                        &self.complex_keys,
                        inner,
                        list,
                        self.format.ieee754_compatible,
                    )
                }
                (EdmType::Complex(_) | EdmType::Collection(_), Conversion::Json, _) => {
                    write_structured(
                        out,
                        self.model,
                        &self.complex_keys,
                        &p.ty,
                        field,
                        self.format.ieee754_compatible,
                    )
                }
                _ => format.write(out, self.model, field, self.format.ieee754_compatible),
            }
        }
        drop(lookup);
        for name in &self.dynamic {
            sep(out);
            write_key(out, name);
            match row.field(&format!("extdata.{name}")) {
                Some(v) => write_field(out, v),
                None => out.extend_from_slice(b"null"),
            }
        }
        if self.format.metadata == MetadataLevel::Full {
            if let Some(path) = self.canonical_path(row) {
                for nav in &ty.navigation {
                    if self.model.navigation_target(self.set, &nav.name).is_some()
                        && !self
                            .expand
                            .iter()
                            .any(|e| e.name == nav.name && e.form != ExpandForm::Count)
                        && self
                            .navigation_links
                            .as_ref()
                            .is_none_or(|names| names.contains(&nav.name))
                    {
                        sep(out);
                        write_key(out, &format!("{}@odata.navigationLink", nav.name));
                        write_str(out, &format!("{path}/{}", nav.name));
                    }
                }
            }
        }
        for Expanded {
            name,
            collection,
            form,
            writer,
        } in &self.expand
        {
            let write_child = |out: &mut Vec<u8>, child: &dyn Fields| match form {
                ExpandForm::References => writer.write_reference(out, child),
                _ => writer.write(out, child),
            };
            let key = children_key(name);
            if *collection {
                let children = row
                    .field(&key)
                    .and_then(FieldRef::objects)
                    .unwrap_or_default();
                if let Some(n) = row.field(&format!("{key}@count")).and_then(field_i64) {
                    sep(out);
                    write_key(out, &format!("{name}@odata.count"));
                    write_count(out, n, self.format.ieee754_compatible);
                }
                if *form == ExpandForm::Count {
                    continue;
                }
                sep(out);
                write_key(out, name);
                out.push(b'[');
                for (i, child) in children.into_iter().flatten().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    write_child(out, child);
                }
                out.push(b']');
            } else {
                sep(out);
                write_key(out, name);
                match row.field(&key) {
                    Some(FieldRef::Json(Json::Object(child))) => write_child(out, child),
                    _ => out.extend_from_slice(b"null"),
                }
            }
        }
        out.push(b'}');
    }
}

/// The `@odata.type` annotation full metadata adds to non-obvious types.
fn type_annotation(model: &ServiceModel, ty: &EdmType) -> Option<String> {
    match ty {
        EdmType::String | EdmType::Boolean | EdmType::Double => None,
        EdmType::Collection(inner) => Some(format!(
            "#Collection({})",
            model.qualified_type_name(inner).trim_start_matches("Edm.")
        )),
        other => Some(format!(
            "#{}",
            model.qualified_type_name(other).trim_start_matches("Edm.")
        )),
    }
}

/// Where the `i`th of the names a [`ShapePositions`] was made for is in
/// records of a shape, from that shape's positions.
fn found(at: &[Option<usize>], i: usize) -> Option<usize> {
    at.get(i).copied().flatten()
}

/// The property keys (`"Name":`) of complex types and the formats of
/// their values, decided once per writer rather than once per value: a
/// page of transactions carries some 2,000 line items of about twenty
/// properties each.
#[derive(Debug, Default)]
pub struct ComplexKeys {
    /// Each type's keys, and where its properties' fields are in the
    /// records of each kind of line item.
    by_type: Vec<ComplexEntry>,
}

/// One complex type's escaped keys with value formats, and its field
/// positions.
#[derive(Debug)]
struct ComplexEntry {
    id: ComplexTypeId,
    properties: PropertyOut,
    positions: ShapePositions,
}

/// One complex type's property keys, `"Name":`, and the formats of their
/// values, in property order.
type PropertyOut = Vec<(EscapedKey, ValueFormat)>;

impl ComplexKeys {
    /// The keys of every complex type values of `types` can hold, nested
    /// ones included.
    pub fn for_types<'t>(model: &ServiceModel, types: impl Iterator<Item = &'t EdmType>) -> Self {
        let mut keys = ComplexKeys::default();
        let mut pending: Vec<&EdmType> = types.collect();
        while let Some(ty) = pending.pop() {
            match ty {
                EdmType::Collection(inner) => pending.push(inner),
                EdmType::Complex(id) if keys.entry(*id).is_none() => {
                    let ct = model.complex_type(*id);
                    keys.by_type.push(ComplexEntry {
                        id: *id,
                        properties: ct
                            .properties
                            .iter()
                            .map(|p| (EscapedKey::new(&p.name), ValueFormat::of(p)))
                            .collect(),
                        positions: ShapePositions::new(ct.properties.iter().map(|p| &p.upstream)),
                    });
                    pending.extend(ct.properties.iter().map(|p| &p.ty));
                }
                _ => {}
            }
        }
        keys
    }

    /// The keys and field positions of type `id`, if it was met.
    fn entry(&self, id: ComplexTypeId) -> Option<&ComplexEntry> {
        self.by_type.iter().find(|e| e.id == id)
    }

    /// Where the properties of type `id` are in records of a shape.
    fn positions(&self, id: ComplexTypeId) -> Option<&ShapePositions> {
        self.entry(id).map(|e| &e.positions)
    }
}

/// Writes a composite JSON value as the complex (or collection) value the
/// model declares: keys renamed to property names, values converted.
/// Keys of complex types missing from `keys` are escaped as they go.
pub fn write_structured(
    out: &mut Vec<u8>,
    model: &ServiceModel,
    keys: &ComplexKeys,
    ty: &EdmType,
    value: Option<FieldRef<'_>>,
    ieee754: bool,
) {
    let Some(value) = value.filter(|v| !v.is_null()) else {
        match ty {
            EdmType::Collection(_) => out.extend_from_slice(b"[]"),
            _ => out.extend_from_slice(b"null"),
        }
        return;
    };
    let value = value.as_json();
    let value = match ty {
        EdmType::Complex(_) | EdmType::Collection(_) => composite(&value),
        _ => Cow::Borrowed(value.as_ref()),
    };
    match (ty, value.as_ref()) {
        (EdmType::Collection(inner), Json::Array(items)) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_structured(out, model, keys, inner, Some(FieldRef::of(item)), ieee754);
            }
            out.push(b']');
        }
        (EdmType::Complex(id), Json::Object(map)) => {
            if model.complex_type(*id).properties.is_empty() {
                // Free JSON: its keys become dynamic property names.
                write_open_json(out, value.as_ref());
                return;
            }
            write_complex(out, model, keys, *id, map, None, ieee754);
        }
        (EdmType::Complex(_), _) => out.extend_from_slice(b"null"),
        (EdmType::Collection(_), _) => out.extend_from_slice(b"[]"),
        (_, v) => write_json(out, v),
    }
}

/// Writes a collection from a list of records (line items decoded
/// without a map each), as [`write_structured`] writes the same array.
/// Each item's fields are found once per kind of item (its shape), not by
/// name in every item.
fn write_record_list(
    out: &mut Vec<u8>,
    model: &ServiceModel,
    keys: &ComplexKeys,
    inner: &EdmType,
    list: &RecordList,
    ieee754: bool,
) {
    let EdmType::Complex(id) = inner else {
        return write_structured(
            out,
            model,
            keys,
            &EdmType::Collection(Box::new(inner.clone())),
            Some(FieldRef::List(list)),
            ieee754,
        );
    };
    if model.complex_type(*id).properties.is_empty() {
        return write_open_json(out, &FieldRef::List(list).as_json());
    }
    // Writing an item's values never writes another list of records, so
    // nothing else asks for these positions while they are locked.
    let mut lookup = keys.positions(*id).map(ShapePositions::lookup);
    out.push(b'[');
    for (i, item) in list.items().iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        match lookup.as_mut() {
            Some(lookup) => {
                // Each value is read where it is written: copied into a
                // slot per property first, values were stored and loaded
                // again at once, a stall that was a fifth of this loop.
                let at = lookup.positions(item.shape());
                let value_of = |i: usize| found(at, i).and_then(|k| item.field_at(k));
                write_complex_with(out, model, keys, *id, value_of, item.iter(), None, ieee754);
            }
            None => write_complex_entries(out, model, keys, *id, item.iter(), None, ieee754),
        }
    }
    out.push(b']');
}

/// Writes one complex value from its upstream object: all of the type's
/// properties, or with `only` (a `$select` over the items of a collection)
/// just those, by index into the type's properties. An open type's
/// dynamic properties are written only when nothing was selected.
pub fn write_complex(
    out: &mut Vec<u8>,
    model: &ServiceModel,
    keys: &ComplexKeys,
    id: ComplexTypeId,
    map: &Map<String, Json>,
    only: Option<&[usize]>,
    ieee754: bool,
) {
    let entries = map.iter().map(|(k, v)| (k.as_str(), FieldRef::of(v)));
    write_complex_entries(out, model, keys, id, entries, only, ieee754);
}

/// [`write_complex`] for an object given by its entries, matched to the
/// type's properties by name.
fn write_complex_entries<'e>(
    out: &mut Vec<u8>,
    model: &ServiceModel,
    keys: &ComplexKeys,
    id: ComplexTypeId,
    entries: impl Iterator<Item = (&'e str, FieldRef<'e>)> + Clone,
    only: Option<&[usize]>,
    ieee754: bool,
) {
    let properties = &model.complex_type(id).properties;
    // The property slots live on the stack unless a type is unusually
    // wide.
    let n = properties.len();
    let mut on_stack = [None; STACK_SLOTS];
    let mut on_heap = Vec::new();
    let values: &mut [Option<FieldRef>] = if n <= STACK_SLOTS {
        &mut on_stack[..n]
    } else {
        on_heap.resize(n, None);
        &mut on_heap
    };
    by_property(properties, entries.clone(), values);
    let value_of = |i: usize| values.get(i).copied().flatten();
    write_complex_with(out, model, keys, id, value_of, entries, only, ieee754);
}

/// [`write_complex`] with the value of the type's `i`th property given by
/// `value_of(i)`, and the object's `entries` for the dynamic properties of
/// an open type.
#[allow(clippy::too_many_arguments)]
fn write_complex_with<'e>(
    out: &mut Vec<u8>,
    model: &ServiceModel,
    keys: &ComplexKeys,
    id: ComplexTypeId,
    value_of: impl Fn(usize) -> Option<FieldRef<'e>>,
    entries: impl Iterator<Item = (&'e str, FieldRef<'e>)>,
    only: Option<&[usize]>,
    ieee754: bool,
) {
    let ct = model.complex_type(id);
    out.push(b'{');
    let mut first = true;
    let entry = keys.entry(id);
    for (i, p) in ct.properties.iter().enumerate() {
        if only.is_some_and(|o| !o.contains(&i)) {
            continue;
        }
        let value = value_of(i);
        if !first {
            out.push(b',');
        }
        first = false;
        let format = match entry.and_then(|e| e.properties.get(i)) {
            Some(&(ref key, format)) => {
                key.append_to(out);
                format
            }
            None => {
                write_key(out, &p.name);
                ValueFormat::of(p)
            }
        };
        match &p.ty {
            EdmType::Complex(_) | EdmType::Collection(_) => {
                write_structured(out, model, keys, &p.ty, value, ieee754)
            }
            _ => format.write(out, model, value, ieee754),
        }
    }
    if ct.open && only.is_none() {
        for (k, v) in entries {
            if !ct.properties.iter().any(|p| p.upstream == k) {
                if !first {
                    out.push(b',');
                }
                first = false;
                write_key(out, k);
                write_field(out, v);
            }
        }
    }
    out.push(b'}');
}

/// The values of an object's `entries` for each of `properties`, by
/// upstream name.
///
/// Composite values (line items) carry only some of their type's
/// properties, in the type's order with gaps, and the writer needs all of
/// them: so each of the object's entries is matched to its property by
/// scanning on from the property matched before, which compares a few
/// lengths per entry where looking every property up would hash or scan
/// the object once per property.
///
/// `values` has one slot per property and is filled in place, so that
/// writing a line item allocates nothing.
fn by_property<'a>(
    properties: &[Property],
    entries: impl Iterator<Item = (&'a str, FieldRef<'a>)>,
    values: &mut [Option<FieldRef<'a>>],
) {
    let n = properties.len().min(values.len());
    let mut next = 0;
    for (k, v) in entries {
        if let Some(i) = (next..n)
            .chain(0..next)
            .find(|&i| properties[i].upstream == *k)
        {
            values[i] = Some(v);
            next = i + 1;
        }
    }
}

/// Property slots [`write_complex`] keeps on the stack; wider complex
/// types use the heap.
const STACK_SLOTS: usize = 64;

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    /// Runs `check` with the demo model and its `Transactions.Items`
    /// property (a collection of line items).
    fn with_line_items(check: impl FnOnce(&ServiceModel, &Property)) {
        let config = crate::config::Config::default_for_demo("http://127.0.0.1:1").unwrap();
        let models = config.service_models().unwrap();
        let model = models.iter().find(|m| m.name == "odata").unwrap();
        let (set, _) = model.entity_set("Transactions").unwrap();
        let ty = model.entity_type(model.set(set).entity_type);
        let items = ty.properties.iter().find(|p| p.name == "Items").unwrap();
        check(model, items);
    }

    #[test]
    fn keys_escaped_once_write_what_escaping_as_it_goes_writes() {
        with_line_items(|model, items| {
            let value = serde_json::json!([
                {"item": 1, "name": "a\"b", "amount": 2, "unknown": true},
                {"subindex": 1},
                {}
            ]);
            let write = |keys: &ComplexKeys| {
                let mut out = Vec::new();
                write_structured(
                    &mut out,
                    model,
                    keys,
                    &items.ty,
                    Some(FieldRef::of(&value)),
                    false,
                );
                String::from_utf8(out).unwrap()
            };
            let once = ComplexKeys::for_types(model, std::iter::once(&items.ty));
            assert!(!once.by_type.is_empty());
            let written = write(&once);
            assert_eq!(written, write(&ComplexKeys::default()));
            let parsed: Json = serde_json::from_str(&written).unwrap();
            assert_eq!(parsed[0]["Name"], "a\"b");
            assert_eq!(parsed[1]["SubIndex"], 1);
            assert_eq!(parsed.as_array().map(Vec::len), Some(3));
        });
    }

    #[test]
    fn line_items_read_as_records_write_what_their_json_writes() {
        with_line_items(|model, items| {
            let EdmType::Collection(inner) = &items.ty else {
                panic!("Items is a collection");
            };
            let value = serde_json::json!([
                {"item": 1, "name": "a\"b", "amount": 2.5, "unknown": true},
                {"amount": 3, "item": 2},
                {}
            ]);
            let records = value
                .as_array()
                .unwrap()
                .iter()
                .map(|v| crate::upstream::Record::from(v.as_object().unwrap().clone()))
                .collect();
            let list = RecordList::new(records);
            let keys = ComplexKeys::for_types(model, std::iter::once(&items.ty));
            let mut from_json = Vec::new();
            write_structured(
                &mut from_json,
                model,
                &keys,
                &items.ty,
                Some(FieldRef::of(&value)),
                false,
            );
            let mut from_records = Vec::new();
            write_record_list(&mut from_records, model, &keys, inner, &list, false);
            assert_eq!(
                String::from_utf8(from_records).unwrap(),
                String::from_utf8(from_json).unwrap()
            );
        });
    }

    #[test]
    fn records_write_what_their_maps_write_whatever_their_shapes() {
        with_line_items(|model, _| {
            let (set, _) = model.entity_set("Transactions").unwrap();
            // Fields in the planner's order, in another order, missing,
            // unknown; line items of alternating kinds. Decoded as a page,
            // so that records and items share shapes.
            let page = r#"[
                {"ID":1,"transactionnum":"T-1","date":872838840,"lastmodified":5,
                 "items":[{"item":1,"name":"a"},{"subindex":2,"text":"x"},{"item":3,"name":"c"}]},
                {"ID":2,"transactionnum":"T-2","date":872838841,"lastmodified":6,
                 "items":[{"subindex":1,"text":"y"},{"item":2,"name":"b"}]},
                {"lastmodified":7,"date":1,"ID":3,"extra":true,
                 "items":[{"name":"d","item":4}]},
                {"ID":4},
                {"ID":5,"transactionnum":"T-5","date":2,"lastmodified":8,"items":[]}
            ]"#;
            let rows = crate::upstream::rows::parse_rows(page.as_bytes()).unwrap();
            assert!(Arc::ptr_eq(rows[0].shape(), rows[1].shape()));
            for metadata in [MetadataLevel::Minimal, MetadataLevel::Full] {
                let format = JsonFormat {
                    metadata,
                    ieee754_compatible: false,
                };
                let writer = EntityWriter::new(model, set, None, &[], format, "http://h/");
                for row in &rows {
                    let mut from_record = Vec::new();
                    writer.write(&mut from_record, row);
                    let mut from_map = Vec::new();
                    writer.write(&mut from_map, &row.to_map());
                    assert_eq!(
                        String::from_utf8(from_record).unwrap(),
                        String::from_utf8(from_map).unwrap()
                    );
                }
            }
        });
    }

    #[test]
    fn by_property_matches_keys_in_any_order_with_gaps() {
        let property = |upstream: &str| {
            Property::plain(
                &upstream.to_uppercase(),
                upstream,
                EdmType::Int64,
                Conversion::Plain,
            )
        };
        let props: Vec<Property> = ["a", "b", "c", "d", "e"].map(property).into();
        for (object, want) in [
            (
                r#"{"a":1,"c":3,"e":5}"#,
                [Some(1), None, Some(3), None, Some(5)],
            ),
            (
                r#"{"e":5,"d":4,"a":1,"x":9}"#,
                [Some(1), None, None, Some(4), Some(5)],
            ),
            (r#"{}"#, [None; 5]),
            (
                r#"{"b":2,"b":7,"c":3,"a":1}"#,
                [Some(1), Some(7), Some(3), None, None],
            ),
        ] {
            let map: Map<String, Json> = serde_json::from_str(object).unwrap();
            let mut values = [None; 5];
            by_property(
                &props,
                map.iter().map(|(k, v)| (k.as_str(), FieldRef::of(v))),
                &mut values,
            );
            let got: Vec<Option<i64>> = values.into_iter().map(|v| v.and_then(field_i64)).collect();
            assert_eq!(got, want, "{object}");
        }
    }
}
