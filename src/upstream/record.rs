//! One ZeyOS record: its fields by ZeyOS name.
//!
//! Every record of a list answer carries the same fields in the same order
//! (the request's `fields`). A generic JSON object would store and hash
//! each field name again in every record; a [`Record`] instead points to
//! the [`Shape`] (the field names) it shares with the records decoded
//! before it, and holds only its values, in the shape's order. Decoding
//! compares each name with the one the shape expects at that position and
//! allocates nothing for it. Readers that visit every field of many
//! records (the serializer) can ask for the positions once per shape
//! ([`Shape::position`]) and then read by position ([`Record::field_at`]).
//!
//! Lookup by name is a scan of the shape's names; the names differ mostly
//! in length and first bytes, so this costs about what hashing the name
//! would, for the few dozen fields a ZeyOS entity has.
//!
//! The values themselves are compact cells rather than JSON values (see
//! `Cell` for why), and readers see them as [`FieldRef`]s: one view for
//! a record's fields and for those of a generic JSON object (an expanded
//! child), so that the evaluator and the writer read both alike.

use std::borrow::Cow;
use std::fmt;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value as Json};

/// The field names a run of records shares, in their order. No name occurs
/// twice.
pub struct Shape {
    names: Vec<Box<str>>,
    /// Whether no name has a character JSON escapes (quotes, backslashes,
    /// control characters), so that each is written in a record's text
    /// exactly as it is and can be compared there in place.
    plain: bool,
    /// The last shape made from this one by adding a name, with that
    /// name: records that shared this shape and get the same field added
    /// (the children `$expand` attaches to every row of a page) then share
    /// the new shape too, instead of each copying the names.
    extended: Mutex<Option<(Box<str>, Arc<Shape>)>>,
}

impl PartialEq for Shape {
    fn eq(&self, other: &Self) -> bool {
        self.names == other.names
    }
}

impl Eq for Shape {}

impl Shape {
    /// A shape of the given names, which the caller has made unique.
    pub(crate) fn new(names: Vec<Box<str>>) -> Shape {
        let plain = names
            .iter()
            .all(|n| n.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\'));
        Shape {
            names,
            plain,
            extended: Mutex::new(None),
        }
    }

    /// Whether every name appears in JSON text as it is, unescaped.
    pub(crate) fn plain(&self) -> bool {
        self.plain
    }

    /// This shape with `name` (not one of its names) added at the end,
    /// shared with every record of this shape that gets the same name
    /// added next.
    fn with_name(&self, name: &str) -> Arc<Shape> {
        let mut extended = self.extended.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((added, shape)) = extended.as_ref() {
            if **added == *name {
                return shape.clone();
            }
        }
        let mut names = Vec::with_capacity(self.names.len() + 1);
        names.extend(self.names.iter().cloned());
        names.push(name.into());
        let shape = Arc::new(Shape::new(names));
        *extended = Some((name.into(), shape.clone()));
        shape
    }

    /// The names, for the decoder to compare against.
    pub(crate) fn names_slice(&self) -> &[Box<str>] {
        &self.names
    }

    /// The empty shape.
    fn empty() -> Arc<Shape> {
        Arc::new(Shape::new(Vec::new()))
    }

    /// Where `name` is, if it is a field of this shape.
    pub fn position(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| **n == *name)
    }

    /// The names, in order.
    pub fn names(&self) -> impl ExactSizeIterator<Item = &str> + Clone {
        self.names.iter().map(|n| &**n)
    }

    /// How many fields.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Whether there are no fields.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// Heap bytes of the names (for the cache's weigher).
    fn heap_bytes(&self) -> usize {
        self.names.capacity() * std::mem::size_of::<Box<str>>()
            + self.names.iter().map(|n| n.len()).sum::<usize>()
    }
}

impl fmt::Debug for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.names()).finish()
    }
}

/// One record as ZeyOS returns it: its fields by ZeyOS name.
#[derive(Clone)]
pub struct Record {
    shape: Arc<Shape>,
    /// One value per name of the shape, in its order.
    values: Vec<Cell>,
    /// The record's strings that need no unescaping, one after another:
    /// [`Cell::Text`] values are spans of it.
    text: Box<str>,
}

/// A value as a record holds it.
///
/// A page of 1,000 transactions has some 60,000 values, a third of them
/// short strings. As `serde_json::Value`s they took 72 bytes each, plus an
/// allocation per string: about 5 MB written while decoding and read back
/// while writing, for 1.2 MB of text, and 20,000 allocations made and
/// freed. A cell is 16 bytes; numbers, flags and nulls (nearly all of the
/// rest) are held inline, and a record's strings share one allocation.
#[derive(Clone, Debug)]
pub(crate) enum Cell {
    Null,
    Bool(bool),
    /// An integer, as serde_json reads one that fits an `i64`.
    Int(i64),
    /// A number with a fraction or exponent (or `-0`).
    Float(f64),
    /// A string, at `start..start + len` of the record's text.
    Text {
        start: u32,
        len: u32,
    },
    /// Anything else: strings given as JSON, containers, integers beyond
    /// `i64`.
    Json(Box<Json>),
    /// An array of objects held as records (a transaction's line items,
    /// expanded children).
    List(Box<RecordList>),
}

impl Cell {
    /// The view of this cell of a record whose text is `text`.
    #[inline]
    fn view<'a>(&'a self, text: &'a str) -> FieldRef<'a> {
        match self {
            Cell::Null => FieldRef::Null,
            Cell::Bool(b) => FieldRef::Bool(*b),
            Cell::Int(i) => FieldRef::Int(*i),
            Cell::Float(f) => FieldRef::Float(*f),
            Cell::Text { start, len } => {
                let start = *start as usize;
                // The decoder made the span of this text, at character
                // boundaries; a span that is not would read as null.
                text.get(start..start + *len as usize)
                    .map_or(FieldRef::Null, FieldRef::Str)
            }
            Cell::Json(v) => FieldRef::of(v),
            Cell::List(l) => FieldRef::List(l),
        }
    }

    /// The cell holding `value`: scalars inline, the rest boxed.
    pub(crate) fn from_json(value: Json) -> Cell {
        match value {
            Json::Null => Cell::Null,
            Json::Bool(b) => Cell::Bool(b),
            Json::Number(n) if n.is_f64() => n.as_f64().map_or(Cell::Null, Cell::Float),
            Json::Number(n) => match n.as_i64() {
                Some(i) => Cell::Int(i),
                None => Cell::Json(Box::new(Json::Number(n))),
            },
            other => Cell::Json(Box::new(other)),
        }
    }
}

/// An array of objects that share their field names, such as a
/// transaction's line items or an entity's expanded children: held as
/// records (line items decoded as records of one shape) instead of
/// one generic map per object, which allocates every name again and
/// hashes it (on a page of 1,000 transactions, with 2,000 line items of
/// some twenty fields, that was about a quarter of the gateway's CPU).
///
/// The writer and the evaluator's `any`/`all` read the records directly.
/// Whoever asks for the field as JSON (the items' own URL,
/// `Transactions(1)/Items`, with its query options) gets the generic
/// array, built once on first use and kept with the record; the cache
/// weighs a row when it stores it, so such an array built later is not
/// counted against its size.
#[derive(Clone)]
pub struct RecordList {
    items: Vec<Record>,
    json: OnceLock<Json>,
}

impl RecordList {
    /// A list of the given records.
    pub(crate) fn new(items: Vec<Record>) -> RecordList {
        RecordList {
            items,
            json: OnceLock::new(),
        }
    }

    /// The records, in array order.
    pub fn items(&self) -> &[Record] {
        &self.items
    }

    /// The array as generic JSON, built on first use.
    pub fn json(&self) -> &Json {
        self.json.get_or_init(|| {
            Json::Array(
                self.items
                    .iter()
                    .map(|r| Json::Object(r.to_map()))
                    .collect(),
            )
        })
    }

    /// The array as generic JSON, moving the records.
    pub fn into_json(mut self) -> Json {
        match self.json.take() {
            Some(json) => json,
            None => Json::Array(
                self.items
                    .into_iter()
                    .map(|r| Json::Object(r.into_map()))
                    .collect(),
            ),
        }
    }

    /// Heap bytes of the records and of the JSON array if it was built
    /// (the records' shape is shared by the page's lists and not counted:
    /// a few hundred bytes).
    fn heap_bytes(&self, value_bytes: &dyn Fn(&Json) -> usize) -> usize {
        self.items.capacity() * std::mem::size_of::<Record>()
            + self
                .items
                .iter()
                .map(|r| r.heap_bytes(value_bytes))
                .sum::<usize>()
            + self.json.get().map_or(0, value_bytes)
    }
}

impl PartialEq for RecordList {
    fn eq(&self, other: &Self) -> bool {
        self.items == other.items
    }
}

impl fmt::Debug for RecordList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(&self.items).finish()
    }
}

/// A field's value as stored, borrowed from its record or object.
///
/// Scalars are never [`FieldRef::Json`]: [`FieldRef::of`] turns a JSON
/// null, flag, string and every number an `i64` or `f64` holds into their
/// own variants, so a reader matches one variant per kind of value,
/// however the object holding it was built.
#[derive(Clone, Copy, Debug)]
pub enum FieldRef<'a> {
    /// JSON null.
    Null,
    /// A JSON flag.
    Bool(bool),
    /// An integer that fits an `i64`.
    Int(i64),
    /// A number with a fraction or exponent.
    Float(f64),
    /// A string.
    Str(&'a str),
    /// A container, or an integer beyond `i64`.
    Json(&'a Json),
    /// An array of objects held as records.
    List(&'a RecordList),
}

impl<'a> FieldRef<'a> {
    /// The field view of a JSON value.
    pub fn of(value: &'a Json) -> FieldRef<'a> {
        match value {
            Json::Null => FieldRef::Null,
            Json::Bool(b) => FieldRef::Bool(*b),
            Json::String(s) => FieldRef::Str(s),
            Json::Number(n) if n.is_f64() => n.as_f64().map_or(FieldRef::Null, FieldRef::Float),
            Json::Number(n) => match n.as_i64() {
                Some(i) => FieldRef::Int(i),
                None => FieldRef::Json(value),
            },
            other => FieldRef::Json(other),
        }
    }

    /// Whether the value is JSON null.
    pub fn is_null(self) -> bool {
        matches!(self, FieldRef::Null)
    }

    /// The string, if the value is one.
    pub fn as_str(self) -> Option<&'a str> {
        match self {
            FieldRef::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The value as an owned JSON value.
    pub fn to_json(self) -> Json {
        match self {
            FieldRef::Null => Json::Null,
            FieldRef::Bool(b) => Json::Bool(b),
            FieldRef::Int(i) => Json::from(i),
            FieldRef::Float(f) => Json::from(f),
            FieldRef::Str(s) => Json::String(s.to_owned()),
            FieldRef::Json(v) => v.clone(),
            FieldRef::List(l) => l.json().clone(),
        }
    }

    /// The value as JSON, borrowed where it is held as JSON (an array of
    /// records is built into JSON once, and kept).
    pub fn as_json(self) -> Cow<'a, Json> {
        match self {
            FieldRef::Json(v) => Cow::Borrowed(v),
            FieldRef::List(l) => Cow::Borrowed(l.json()),
            other => Cow::Owned(other.to_json()),
        }
    }

    /// The elements of an array, each as something to read fields from
    /// (`None` for an element that is not an object); `None` if the value
    /// is not an array. Expanded children are read this way.
    pub fn objects(self) -> Option<Vec<Option<&'a dyn Fields>>> {
        match self {
            FieldRef::List(l) => Some(l.items().iter().map(|r| Some(r as &dyn Fields)).collect()),
            FieldRef::Json(Json::Array(a)) => Some(
                a.iter()
                    .map(|v| v.as_object().map(|m| m as &dyn Fields))
                    .collect(),
            ),
            _ => None,
        }
    }
}

/// Values are equal as the JSON they stand for: an array of records equals
/// the JSON array it was read from.
impl PartialEq for FieldRef<'_> {
    fn eq(&self, other: &Self) -> bool {
        use FieldRef::*;
        match (*self, *other) {
            (Null, Null) => true,
            (Bool(a), Bool(b)) => a == b,
            (Int(a), Int(b)) => a == b,
            (Float(a), Float(b)) => a == b,
            (Str(a), Str(b)) => a == b,
            (Json(a), Json(b)) => a == b,
            (List(a), List(b)) => a == b,
            (List(l), Json(j)) | (Json(j), List(l)) => l.json() == j,
            _ => false,
        }
    }
}

impl Serialize for FieldRef<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match *self {
            FieldRef::Null => s.serialize_unit(),
            FieldRef::Bool(b) => s.serialize_bool(b),
            FieldRef::Int(i) => s.serialize_i64(i),
            FieldRef::Float(f) => s.serialize_f64(f),
            FieldRef::Str(v) => s.serialize_str(v),
            FieldRef::Json(v) => v.serialize(s),
            FieldRef::List(l) => s.collect_seq(l.items()),
        }
    }
}

impl Default for Record {
    fn default() -> Self {
        Record::new()
    }
}

impl Record {
    /// A record without fields.
    pub fn new() -> Record {
        Record {
            shape: Shape::empty(),
            values: Vec::new(),
            text: Box::default(),
        }
    }

    /// The names this record shares with others decoded alongside it.
    pub fn shape(&self) -> &Arc<Shape> {
        &self.shape
    }

    /// The field at `position` of [`Record::shape`].
    #[inline]
    pub fn field_at(&self, position: usize) -> Option<FieldRef<'_>> {
        self.values.get(position).map(|cell| self.read(cell))
    }

    /// The view of one of this record's cells.
    #[inline]
    fn read<'a>(&'a self, cell: &'a Cell) -> FieldRef<'a> {
        cell.view(&self.text)
    }

    /// The value of field `name`.
    pub fn get(&self, name: &str) -> Option<FieldRef<'_>> {
        self.shape.position(name).and_then(|i| self.field_at(i))
    }

    /// The value of field `name` as owned JSON, null if there is no such
    /// field (as indexing a `serde_json::Value` reads).
    pub fn get_json(&self, name: &str) -> Json {
        self.get(name).map_or(Json::Null, FieldRef::to_json)
    }

    /// Whether the record has field `name`.
    pub fn contains_key(&self, name: &str) -> bool {
        self.shape.position(name).is_some()
    }

    /// Sets field `name`, returning its old value. A new name gives this
    /// record a new shape, which the records that shared its old one
    /// share again when they get the same name added.
    pub fn insert(&mut self, name: String, value: Json) -> Option<Json> {
        self.set(&name, Cell::from_json(value))
    }

    /// Sets field `name` to a list of records (expanded children),
    /// without building them into JSON.
    pub fn insert_list(&mut self, name: String, list: RecordList) {
        self.set(&name, Cell::List(Box::new(list)));
    }

    /// Sets field `name` to `cell`, returning the old value as JSON.
    fn set(&mut self, name: &str, cell: Cell) -> Option<Json> {
        if let Some(i) = self.shape.position(name) {
            let old = self.field_at(i).map(FieldRef::to_json);
            if let Some(slot) = self.values.get_mut(i) {
                *slot = cell;
            }
            return old;
        }
        self.shape = self.shape.with_name(name);
        self.values.push(cell);
        None
    }

    /// How many fields.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether there are no fields.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The fields in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, FieldRef<'_>)> + Clone {
        self.shape
            .names()
            .zip(&self.values)
            .map(move |(name, cell)| (name, self.read(cell)))
    }

    /// The record as a generic JSON object (for nesting expanded records
    /// inside another record).
    pub fn to_map(&self) -> Map<String, Json> {
        self.iter()
            .map(|(k, v)| (k.to_owned(), v.to_json()))
            .collect()
    }

    /// [`Record::to_map`], moving the values.
    pub fn into_map(self) -> Map<String, Json> {
        self.into_iter().collect()
    }

    /// Heap bytes of the values (the shape is shared and counted apart):
    /// what the cache weighs a held row by.
    pub fn heap_bytes(&self, value_bytes: &dyn Fn(&Json) -> usize) -> usize {
        self.values.capacity() * std::mem::size_of::<Cell>()
            + self.text.len()
            + self
                .values
                .iter()
                .map(|cell| match cell {
                    Cell::Json(v) => std::mem::size_of::<Json>() + value_bytes(v),
                    Cell::List(l) => std::mem::size_of::<RecordList>() + l.heap_bytes(value_bytes),
                    _ => 0,
                })
                .sum::<usize>()
    }

    /// Heap bytes of the shape's names, for a record whose shape is its
    /// own.
    pub fn shape_heap_bytes(&self) -> usize {
        self.shape.heap_bytes()
    }

    /// Builds a record from its parts (the decoder's): `shape` must have
    /// one name per cell, and `text` hold the cells' spans.
    pub(crate) fn from_cells(shape: Arc<Shape>, values: Vec<Cell>, text: Box<str>) -> Record {
        debug_assert_eq!(shape.len(), values.len());
        Record {
            shape,
            values,
            text,
        }
    }

    /// A record of `shape` with the given values, one per name.
    #[cfg(test)]
    pub(crate) fn from_parts(shape: Arc<Shape>, values: Vec<Json>) -> Record {
        Record::from_cells(
            shape,
            values.into_iter().map(Cell::from_json).collect(),
            Box::default(),
        )
    }

    /// A shape for `names`, deduplicated: the values of a repeated name
    /// are merged into its first position with the last value winning
    /// (as a JSON object decoder would). `text` holds the cells' spans.
    pub(crate) fn from_cell_pairs(pairs: Vec<(Box<str>, Cell)>, text: Box<str>) -> Record {
        let mut names: Vec<Box<str>> = Vec::with_capacity(pairs.len());
        let mut values: Vec<Cell> = Vec::with_capacity(pairs.len());
        for (name, value) in pairs {
            match names.iter().position(|n| *n == name) {
                Some(i) => values[i] = value,
                None => {
                    names.push(name);
                    values.push(value);
                }
            }
        }
        Record {
            shape: Arc::new(Shape::new(names)),
            values,
            text,
        }
    }

    /// [`Record::from_cell_pairs`] for JSON values.
    pub(crate) fn from_pairs(pairs: Vec<(Box<str>, Json)>) -> Record {
        Record::from_cell_pairs(
            pairs
                .into_iter()
                .map(|(name, value)| (name, Cell::from_json(value)))
                .collect(),
            Box::default(),
        )
    }
}

impl<S: Into<String>> FromIterator<(S, Json)> for Record {
    fn from_iter<I: IntoIterator<Item = (S, Json)>>(iter: I) -> Self {
        Record::from_pairs(
            iter.into_iter()
                .map(|(k, v)| (k.into().into_boxed_str(), v))
                .collect(),
        )
    }
}

impl IntoIterator for Record {
    type Item = (String, Json);
    type IntoIter = std::vec::IntoIter<(String, Json)>;

    /// The fields in order, owned.
    fn into_iter(self) -> Self::IntoIter {
        let Record {
            shape,
            values,
            text,
        } = self;
        let fields: Vec<(String, Json)> = shape
            .names()
            .zip(values)
            .map(|(name, cell)| {
                // Boxed values are moved out, the rest read as JSON.
                let value = match cell {
                    Cell::Json(v) => *v,
                    Cell::List(l) => l.into_json(),
                    other => other.view(&text).to_json(),
                };
                (name.to_owned(), value)
            })
            .collect();
        fields.into_iter()
    }
}

impl Extend<(String, Json)> for Record {
    fn extend<I: IntoIterator<Item = (String, Json)>>(&mut self, iter: I) {
        for (k, v) in iter {
            self.insert(k, v);
        }
    }
}

impl From<Map<String, Json>> for Record {
    fn from(map: Map<String, Json>) -> Self {
        map.into_iter().collect()
    }
}

/// Records are equal when they have the same fields with the same values,
/// in whatever order (as JSON objects are).
impl PartialEq for Record {
    fn eq(&self, other: &Self) -> bool {
        if Arc::ptr_eq(&self.shape, &other.shape) || self.shape == other.shape {
            return (0..self.len()).all(|i| self.field_at(i) == other.field_at(i));
        }
        self.len() == other.len() && self.iter().all(|(k, v)| other.get(k) == Some(v))
    }
}

impl fmt::Debug for Record {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl Serialize for Record {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.len()))?;
        for (k, v) in self.iter() {
            map.serialize_entry(k, &v)?;
        }
        map.end()
    }
}

impl<'de> serde::Deserialize<'de> for Record {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Map::<String, Json>::deserialize(d).map(Record::from)
    }
}

/// Something whose fields can be read by ZeyOS name: a record, or an
/// object nested in one (an expanded child, a line item). The evaluator
/// and the serializer read both alike.
pub trait Fields {
    /// The value of field `name`, as stored: readers that can take a list
    /// of records as it is avoid building it into JSON (which a record
    /// held by the cache would then keep).
    fn field(&self, name: &str) -> Option<FieldRef<'_>>;

    /// A reader for fields asked for in about the order they are stored.
    fn cursor(&self) -> FieldCursor<'_>;

    /// The record, if this is one: readers of many records of a shape
    /// find their fields once per shape ([`super::ShapePositions`]).
    fn record(&self) -> Option<&Record> {
        None
    }
}

impl Fields for Record {
    fn field(&self, name: &str) -> Option<FieldRef<'_>> {
        self.get(name)
    }

    fn cursor(&self) -> FieldCursor<'_> {
        FieldCursor::Record {
            record: self,
            next: 0,
        }
    }

    fn record(&self) -> Option<&Record> {
        Some(self)
    }
}

impl<T: Fields + ?Sized> Fields for Arc<T> {
    fn field(&self, name: &str) -> Option<FieldRef<'_>> {
        (**self).field(name)
    }

    fn cursor(&self) -> FieldCursor<'_> {
        (**self).cursor()
    }

    fn record(&self) -> Option<&Record> {
        (**self).record()
    }
}

impl Fields for Map<String, Json> {
    fn field(&self, name: &str) -> Option<FieldRef<'_>> {
        self.get(name).map(FieldRef::of)
    }

    fn cursor(&self) -> FieldCursor<'_> {
        FieldCursor::Map {
            map: self,
            rest: self.iter(),
        }
    }
}

/// Reads the fields of one object for a writer that walks properties in
/// type order. Records hold their fields in the order the planner asked
/// for them, which is that order; so the wanted field is nearly always the
/// next one, and one string comparison finds it. Fields stored in any
/// other order are still found, by name.
pub enum FieldCursor<'a> {
    /// Over a record: `next` is the position after the last field found.
    Record {
        /// The record read.
        record: &'a Record,
        /// Where the next wanted field probably is.
        next: usize,
    },
    /// Over a generic object (kept in its decoded order).
    Map {
        /// The object read.
        map: &'a Map<String, Json>,
        /// The entries after the last one found.
        rest: serde_json::map::Iter<'a>,
    },
}

impl<'a> FieldCursor<'a> {
    /// The value of field `name`, as stored: a list of records stays one.
    pub fn get(&mut self, name: &str) -> Option<FieldRef<'a>> {
        match self {
            FieldCursor::Record { record, next } => {
                let names = &record.shape.names;
                let at = match names
                    .get(*next..)
                    .unwrap_or_default()
                    .iter()
                    .position(|n| **n == *name)
                {
                    Some(offset) => {
                        let at = *next + offset;
                        *next = at + 1;
                        at
                    }
                    // Behind the last field found, or absent.
                    None => record.shape.position(name)?,
                };
                record.field_at(at)
            }
            FieldCursor::Map { map, rest } => {
                let mut ahead = rest.clone();
                while let Some((k, v)) = ahead.next() {
                    if k == name {
                        *rest = ahead;
                        return Some(FieldRef::of(v));
                    }
                }
                map.get(name).map(FieldRef::of)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rec(v: Json) -> Record {
        match v {
            Json::Object(m) => Record::from(m),
            _ => unreachable!("test records are objects"),
        }
    }

    #[test]
    fn reads_and_changes_fields_by_name() {
        let mut r = rec(json!({"ID": 1, "name": "a"}));
        let mut cursor = r.cursor();
        assert_eq!(cursor.get("name"), Some(FieldRef::Str("a")));
        assert_eq!(cursor.get("ID"), Some(FieldRef::Int(1)));
        assert_eq!(cursor.get("nope"), None);
        assert_eq!(r.get("name"), Some(FieldRef::Str("a")));
        assert_eq!(r.get_json("ID"), 1);
        assert_eq!(r.get_json("missing"), Json::Null);
        assert!(r.get("missing").is_none());
        assert_eq!(r.insert("name".into(), json!("b")), Some(json!("a")));
        assert_eq!(r.insert("city".into(), json!("K")), None);
        assert_eq!(r.len(), 3);
        let names: Vec<&str> = r.iter().map(|(k, _)| k).collect();
        assert_eq!(names, ["ID", "name", "city"]);
        assert_eq!(r.insert("ID".into(), json!(2)), Some(json!(1)));
        assert_eq!(
            r.to_map(),
            json!({"ID": 2, "name": "b", "city": "K"})
                .as_object()
                .unwrap()
                .clone()
        );
    }

    #[test]
    fn scalars_are_held_inline_and_strings_in_one_text() {
        assert_eq!(std::mem::size_of::<Cell>(), 16);
        let text = r#"{"ID":7,"name":"Köln","esc":"a\"b","n":1.5,"big":18446744073709551615,
            "f":true,"z":null,"o":{"a":1}}"#;
        let (r, _) =
            super::super::record_reader::read_record(text, &mut Default::default()).unwrap();
        assert_eq!(r.get("ID"), Some(FieldRef::Int(7)));
        assert_eq!(r.get("name"), Some(FieldRef::Str("Köln")));
        assert_eq!(r.get("esc"), Some(FieldRef::Str("a\"b")));
        assert_eq!(r.get("n"), Some(FieldRef::Float(1.5)));
        assert!(matches!(
            r.get("big"),
            Some(FieldRef::Json(Json::Number(_)))
        ));
        assert_eq!(r.get("f"), Some(FieldRef::Bool(true)));
        assert_eq!(r.get("z"), Some(FieldRef::Null));
        assert!(matches!(r.get("o"), Some(FieldRef::Json(Json::Object(_)))));
        // Both strings, the escaped one unescaped, in one allocation.
        assert_eq!(&*r.text, "Kölna\"b");
        // The same record built from JSON reads alike, field by field.
        let from_json = rec(serde_json::from_str(text).unwrap());
        assert_eq!(r, from_json);
        for (name, value) in r.iter() {
            assert_eq!(Some(value), from_json.get(name), "{name}");
        }
        // Weighed as held: the cells, the text and the two boxed values.
        let boxed = 2 * std::mem::size_of::<Json>();
        assert_eq!(
            r.heap_bytes(&|_| 0),
            r.values.capacity() * 16 + r.text.len() + boxed
        );
    }

    #[test]
    fn json_values_read_as_the_field_kinds_records_hold() {
        assert_eq!(FieldRef::of(&json!(null)), FieldRef::Null);
        assert_eq!(FieldRef::of(&json!(-3)), FieldRef::Int(-3));
        assert_eq!(FieldRef::of(&json!(2.0)), FieldRef::Float(2.0));
        assert_eq!(FieldRef::of(&json!("s")), FieldRef::Str("s"));
        assert_eq!(FieldRef::of(&json!(false)), FieldRef::Bool(false));
        for v in [json!(u64::MAX), json!([1]), json!({"a": 1})] {
            assert_eq!(FieldRef::of(&v), FieldRef::Json(&v));
            assert_eq!(FieldRef::of(&v).to_json(), v);
        }
        // An integer and a double of the same value stay apart, as
        // serde_json keeps them (`2` and `2.0`).
        assert_ne!(FieldRef::Int(2), FieldRef::Float(2.0));
        assert_eq!(FieldRef::Float(2.0).to_json().to_string(), "2.0");
    }

    #[test]
    fn cursors_read_any_order_and_missing_fields() {
        let map: Map<String, Json> = serde_json::from_str(r#"{"a":1,"b":2,"c":3,"d":4}"#).unwrap();
        let record = Record::from(map.clone());
        for mut cursor in [map.cursor(), record.cursor()] {
            // In order, out of order, skipping, repeating, missing.
            let got: Vec<Option<i64>> = ["a", "c", "b", "d", "d", "x", "a"]
                .iter()
                .map(|k| match cursor.get(k) {
                    Some(FieldRef::Int(i)) => Some(i),
                    _ => None,
                })
                .collect();
            assert_eq!(
                got,
                vec![Some(1), Some(3), Some(2), Some(4), Some(4), None, Some(1)]
            );
        }
    }

    /// A record `{"ID": 1, "items": [{"a": 1}, {"a": 2}]}` whose items
    /// are a list of records.
    fn with_items() -> Record {
        let items = RecordList::new(vec![rec(json!({"a": 1})), rec(json!({"a": 2}))]);
        let mut r = rec(json!({"ID": 1}));
        r.insert_list("items".into(), items);
        r
    }

    #[test]
    fn a_list_of_records_reads_as_the_json_array_it_was() {
        let r = with_items();
        let items = json!([{"a": 1}, {"a": 2}]);
        assert!(matches!(r.field_at(1), Some(FieldRef::List(l)) if l.items().len() == 2));
        assert_eq!(r.get("items"), Some(FieldRef::Json(&items)));
        assert_eq!(r.cursor().get("items"), Some(FieldRef::Json(&items)));
        assert_eq!(r.iter().nth(1), Some(("items", FieldRef::Json(&items))));
        assert_eq!(r.get_json("items"), items);
        assert_eq!(r, rec(json!({"ID": 1, "items": [{"a": 1}, {"a": 2}]})));
        assert_eq!(Json::Object(r.to_map())["items"], items);
        assert_eq!(Json::Object(r.clone().into_map())["items"], items);
        assert_eq!(serde_json::to_value(&r).unwrap()["items"], items);
        // The records and the array built from them are weighed.
        let fresh = with_items().heap_bytes(&|_| 0);
        assert!(fresh > 2 * std::mem::size_of::<Record>());
        assert!(r.heap_bytes(&|v| usize::from(v.is_array())) > fresh);
    }

    #[test]
    fn children_set_as_a_list_replace_the_field_and_read_as_json() {
        let mut r = rec(json!({"ID": 1, "kids": 3}));
        r.insert_list("kids".into(), RecordList::new(vec![rec(json!({"ID": 2}))]));
        r.insert_list("more".into(), RecordList::new(Vec::new()));
        assert_eq!(r, rec(json!({"ID": 1, "kids": [{"ID": 2}], "more": []})));
        assert!(matches!(r.field("kids"), Some(FieldRef::List(l)) if l.items().len() == 1));
        r.insert_list("kids".into(), RecordList::new(Vec::new()));
        assert_eq!(r.get_json("kids"), json!([]));
        assert_eq!(r.len(), 3);
    }

    #[test]
    fn a_list_of_records_replaced_gives_its_json() {
        let mut r = with_items();
        assert_eq!(
            r.insert("items".into(), json!(3)),
            Some(json!([{"a": 1}, {"a": 2}]))
        );
        assert_eq!(r.get_json("items"), json!(3));
        assert!(matches!(r.field_at(1), Some(FieldRef::Int(3))));
    }

    #[test]
    fn records_sharing_a_shape_share_it_again_with_the_same_field_added() {
        let mut a = rec(json!({"x": 1}));
        let mut b = a.clone();
        let mut c = a.clone();
        a.insert("y".into(), json!(2));
        b.insert("y".into(), json!(3));
        c.insert("z".into(), json!(4));
        assert!(Arc::ptr_eq(a.shape(), b.shape()));
        assert!(!Arc::ptr_eq(a.shape(), c.shape()));
        assert_eq!(a.get("y"), Some(FieldRef::Int(2)));
        assert_eq!(b.get("y"), Some(FieldRef::Int(3)));
        assert_eq!(c.get("z"), Some(FieldRef::Int(4)));
        assert_eq!(c.get("y"), None);
        // A record of another shape gets a shape of its own names.
        let mut d = rec(json!({"x": 1}));
        d.insert("y".into(), json!(6));
        assert_eq!(d.shape().names().collect::<Vec<_>>(), ["x", "y"]);
    }

    #[test]
    fn a_new_field_does_not_change_records_sharing_the_shape() {
        let a = rec(json!({"ID": 1}));
        let mut b = Record::from_parts(a.shape().clone(), vec![json!(2)]);
        b.insert("x".into(), json!(true));
        assert_eq!(a.shape().len(), 1);
        assert_eq!(b.shape().len(), 2);
        assert!(a.get("x").is_none());
    }

    #[test]
    fn equality_ignores_field_order_and_a_repeated_name_keeps_its_last_value() {
        assert_eq!(rec(json!({"a": 1, "b": 2})), rec(json!({"b": 2, "a": 1})));
        assert_ne!(rec(json!({"a": 1, "b": 2})), rec(json!({"a": 1})));
        assert_ne!(rec(json!({"a": 1})), rec(json!({"a": 2})));
        let dup: Record = vec![("a", json!(1)), ("b", json!(2)), ("a", json!(3))]
            .into_iter()
            .collect();
        assert_eq!(dup, rec(json!({"a": 3, "b": 2})));
        assert_eq!(serde_json::to_value(&dup).unwrap(), json!({"a": 3, "b": 2}));
    }
}
