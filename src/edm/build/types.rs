//! EDM types for ZeyOS fields: primitive types and conversions, and the enum
//! and complex types a service needs, created on first use and shared by
//! every property that uses them.
//!
//! | ZeyOS field | EDM type | conversion |
//! |---|---|---|
//! | `ID`, integers | `Edm.Int32` (`int32`, or bounds within 32 bits), else `Edm.Int64` | plain |
//! | `number (double)` | `Edm.Decimal`, `Scale="variable"` | plain |
//! | `number (int32)` | `Edm.Int32` | plain |
//! | string | `Edm.String` (`MaxLength` when given) | plain |
//! | time stamp | `Edm.DateTimeOffset` (UTC) | `UnixTime` |
//! | date | `Edm.Date` | `UnixDate` |
//! | 0/1 flag | `Edm.Boolean` | `Flag` |
//! | enum | `{Namespace}.{EnumType}` | `EnumValue` |
//! | foreign key | integer `...Id` plus a navigation property | plain |
//! | `items` | `Collection({Namespace}.LineItem)` | `Json` |
//! | `binfile` | `{Namespace}.BinFileContent` | `Json` |
//! | `object`, `json`, `meta` | `{Namespace}.JsonObject` (open, no declared properties) | `Json` |
//! | `array` of scalars | `Collection(Edm.String)` / `Collection(Edm.Int64)` | `Json` |
//!
//! Amounts are `Edm.Decimal` with variable scale rather than `Edm.Double`:
//! ZeyOS stores them as decimals, and a client must see `19.99`, not
//! `19.989999999999998`; `Scale="variable"` says that the number of decimal
//! places varies per value. Free JSON is an open complex type rather than
//! `Edm.Untyped` because the XML metadata is CSDL 4.0, which must not
//! contain `Edm.Untyped` (CSDL 4.01 §"Conformance"), and clients built on
//! OData 4.0 libraries reject it.

use std::collections::HashMap;

use zeyos_schema::{Field, FieldType, Schema, Semantic};

use super::enums::{self, EnumNames, LINE_ITEM};
use crate::edm::model::{
    ComplexType, ComplexTypeId, Conversion, EdmType, EnumType, EnumTypeId, Property,
};
use crate::edm::naming::{self, UnknownWords};

/// Name of the open complex type for free JSON objects.
pub(crate) const JSON_OBJECT: &str = "JsonObject";
/// Name of the complex type for bin file contents.
pub(crate) const BIN_FILE_CONTENT: &str = "BinFileContent";

/// How a field's values are typed and converted.
pub(crate) struct Shape {
    pub ty: EdmType,
    pub conversion: Conversion,
    /// Whether ZeyOS filters and sorts on the field (scalars only).
    pub filterable: bool,
}

/// The enum and complex types of one service, created as fields need them.
pub(crate) struct TypeRegistry<'s> {
    schema: &'s Schema,
    enum_names: EnumNames,
    pub enum_types: Vec<EnumType>,
    enum_index: HashMap<String, EnumTypeId>,
    pub complex_types: Vec<ComplexType>,
    complex_index: HashMap<String, ComplexTypeId>,
}

impl<'s> TypeRegistry<'s> {
    pub(crate) fn new(schema: &'s Schema) -> Result<Self, UnknownWords> {
        Ok(Self {
            schema,
            enum_names: EnumNames::new(schema)?,
            enum_types: Vec::new(),
            enum_index: HashMap::new(),
            complex_types: Vec::new(),
            complex_index: HashMap::new(),
        })
    }

    /// The type and conversion of `field` of `owner` (an entity's derived
    /// type name, or [`LINE_ITEM`] inside line items).
    pub(crate) fn shape(&mut self, owner: &str, field: &Field) -> Result<Shape, UnknownWords> {
        let scalar = |ty, conversion| Shape {
            ty,
            conversion,
            filterable: true,
        };
        let json = |ty| Shape {
            ty,
            conversion: Conversion::Json,
            filterable: false,
        };
        Ok(match field.semantic {
            Semantic::Timestamp => scalar(EdmType::DateTimeOffset, Conversion::UnixTime),
            Semantic::Date => scalar(EdmType::Date, Conversion::UnixDate),
            Semantic::Flag => scalar(EdmType::Boolean, Conversion::Flag),
            Semantic::Enum => scalar(
                EdmType::Enum(self.enum_type(owner, field)?),
                Conversion::EnumValue,
            ),
            Semantic::Key | Semantic::ForeignKey | Semantic::Plain => match field.field_type {
                FieldType::Integer => scalar(integer_type(field), Conversion::Plain),
                FieldType::Number if field.format.as_deref() == Some("int32") => {
                    scalar(EdmType::Int32, Conversion::Plain)
                }
                FieldType::Number => scalar(EdmType::Decimal, Conversion::Plain),
                FieldType::String => scalar(EdmType::String, Conversion::Plain),
                FieldType::Boolean => scalar(EdmType::Boolean, Conversion::Plain),
                FieldType::Items => json(EdmType::Collection(Box::new(EdmType::Complex(
                    self.line_item()?,
                )))),
                FieldType::Binfile => json(EdmType::Complex(self.bin_file_content()?)),
                FieldType::Object if !field.fields.is_empty() => {
                    let name = format!("{owner}{}", naming::property_name(&field.name)?);
                    json(EdmType::Complex(self.nested(&name, owner, field)?))
                }
                FieldType::Object | FieldType::Json | FieldType::Meta => {
                    json(EdmType::Complex(self.json_object()))
                }
                FieldType::Array => {
                    let element = match field.item_type {
                        Some(FieldType::Object) if !field.fields.is_empty() => {
                            let (singular, _) = naming::entity_names(&field.name)?;
                            EdmType::Complex(self.nested(
                                &format!("{owner}{singular}"),
                                owner,
                                field,
                            )?)
                        }
                        Some(FieldType::Integer) => EdmType::Int64,
                        Some(FieldType::Number) => EdmType::Decimal,
                        Some(FieldType::Boolean) => EdmType::Boolean,
                        Some(FieldType::String) => EdmType::String,
                        _ => EdmType::Complex(self.json_object()),
                    };
                    json(EdmType::Collection(Box::new(element)))
                }
            },
        })
    }

    fn enum_type(&mut self, owner: &str, field: &Field) -> Result<EnumTypeId, UnknownWords> {
        let name = match self.enum_names.name(owner, &field.name) {
            Some(n) => n.to_owned(),
            None => format!("{owner}{}", naming::property_name(&field.name)?),
        };
        if let Some(id) = self.enum_index.get(&name) {
            return Ok(*id);
        }
        let id = EnumTypeId(self.enum_types.len());
        self.enum_types.push(EnumType {
            name: name.clone(),
            description: enum_description(&field.description),
            members: enums::members(field),
        });
        self.enum_index.insert(name, id);
        Ok(id)
    }

    /// `LineItem`: the union of `items-common`, `items-product`,
    /// `items-text` and `items-coupon`; which keys a line has depends on its
    /// `Type`.
    fn line_item(&mut self) -> Result<ComplexTypeId, UnknownWords> {
        if let Some(id) = self.complex_index.get(LINE_ITEM) {
            return Ok(*id);
        }
        let id = self.reserve(
            LINE_ITEM,
            Some("A line item: a product, text or coupon line (see `Type`)"),
            false,
        );
        let mut fields: Vec<Field> = Vec::new();
        for part in [
            "items-common",
            "items-product",
            "items-text",
            "items-coupon",
        ] {
            let Some(composite) = self.schema.composite(part) else {
                continue;
            };
            let kind = part.trim_start_matches("items-");
            for field in &composite.fields {
                match fields.iter_mut().find(|f| f.name == field.name) {
                    Some(existing) => {
                        if !field.description.is_empty()
                            && !existing.description.contains(&field.description)
                        {
                            existing.description = format!(
                                "{}; {} ({kind} lines)",
                                existing.description, field.description
                            );
                        }
                    }
                    None => {
                        let mut field = field.clone();
                        if kind != "common" && !field.description.is_empty() {
                            field.description = format!("{} ({kind} lines)", field.description);
                        }
                        fields.push(field);
                    }
                }
            }
        }
        let properties = self.complex_properties(LINE_ITEM, &fields)?;
        self.complex_types[id.0].properties = properties;
        Ok(id)
    }

    fn bin_file_content(&mut self) -> Result<ComplexTypeId, UnknownWords> {
        if let Some(id) = self.complex_index.get(BIN_FILE_CONTENT) {
            return Ok(*id);
        }
        let id = self.reserve(
            BIN_FILE_CONTENT,
            Some("The content of a stored bin file; ZeyOS returns it only when the field is selected"),
            false,
        );
        let fields = self
            .schema
            .composite("binfile-content")
            .map(|c| c.fields.clone())
            .unwrap_or_default();
        let properties = self.complex_properties(BIN_FILE_CONTENT, &fields)?;
        self.complex_types[id.0].properties = properties;
        Ok(id)
    }

    fn json_object(&mut self) -> ComplexTypeId {
        if let Some(id) = self.complex_index.get(JSON_OBJECT) {
            return *id;
        }
        self.reserve(
            JSON_OBJECT,
            Some("A JSON object without a fixed shape; its members are dynamic properties"),
            true,
        )
    }

    fn nested(
        &mut self,
        name: &str,
        owner: &str,
        field: &Field,
    ) -> Result<ComplexTypeId, UnknownWords> {
        if let Some(id) = self.complex_index.get(name) {
            return Ok(*id);
        }
        let description = clean_description(&field.description);
        let id = self.reserve(name, description.as_deref(), false);
        let properties = self.complex_properties(owner, &field.fields)?;
        self.complex_types[id.0].properties = properties;
        Ok(id)
    }

    fn reserve(&mut self, name: &str, description: Option<&str>, open: bool) -> ComplexTypeId {
        let id = ComplexTypeId(self.complex_types.len());
        self.complex_types.push(ComplexType {
            name: name.to_owned(),
            description: description.map(str::to_owned),
            properties: Vec::new(),
            open,
        });
        self.complex_index.insert(name.to_owned(), id);
        id
    }

    fn complex_properties(
        &mut self,
        owner: &str,
        fields: &[Field],
    ) -> Result<Vec<Property>, UnknownWords> {
        let mut properties = Vec::with_capacity(fields.len());
        for field in fields {
            let name = match field.semantic {
                Semantic::ForeignKey => {
                    naming::foreign_key_property_name(&naming::navigation_name(&field.name)?)
                }
                Semantic::Timestamp => naming::time_property_name(&field.name, false)
                    .map_or_else(|| naming::property_name(&field.name), |n| Ok(n.to_owned()))?,
                Semantic::Date => naming::time_property_name(&field.name, true)
                    .map_or_else(|| naming::property_name(&field.name), |n| Ok(n.to_owned()))?,
                _ => naming::property_name(&field.name)?,
            };
            let shape = self.shape(owner, field)?;
            properties.push(property(name, field, shape, true));
        }
        Ok(properties)
    }

    /// The names of the complex and enum types created so far.
    pub(crate) fn type_names(&self) -> impl Iterator<Item = &str> {
        self.enum_types
            .iter()
            .map(|e| e.name.as_str())
            .chain(self.complex_types.iter().map(|c| c.name.as_str()))
    }
}

/// A property for `field` with the given name and shape.
pub(crate) fn property(name: String, field: &Field, shape: Shape, nullable: bool) -> Property {
    let collection = matches!(shape.ty, EdmType::Collection(_));
    Property {
        name,
        upstream: field.name.clone(),
        default: default_value(field, &shape),
        max_length: field.max_length,
        description: property_description(field).or_else(|| fallback_description(field)),
        // Collections: `Nullable` is about their elements, never null.
        nullable: nullable && !collection,
        filterable: shape.filterable,
        conversion: shape.conversion,
        ty: shape.ty,
        computed: false,
        immutable: false,
    }
}

/// The `DefaultValue` facet in the OData JSON form of the value.
fn default_value(field: &Field, shape: &Shape) -> Option<serde_json::Value> {
    let default = field.default.as_ref()?;
    match shape.conversion {
        Conversion::Flag => default.as_i64().map(|v| serde_json::Value::Bool(v != 0)),
        Conversion::EnumValue => {
            let v = default.as_i64()?;
            field
                .members
                .iter()
                .find(|m| m.value == v)
                .map(|m| serde_json::Value::String(m.name.clone()))
        }
        Conversion::Plain => match (&shape.ty, default) {
            (EdmType::String, serde_json::Value::String(_)) => Some(default.clone()),
            (EdmType::Int32 | EdmType::Int64 | EdmType::Decimal, serde_json::Value::Number(_)) => {
                Some(default.clone())
            }
            (EdmType::Boolean, serde_json::Value::Bool(_)) => Some(default.clone()),
            _ => None,
        },
        Conversion::UnixTime | Conversion::UnixDate | Conversion::Json => None,
    }
}

/// `Edm.Int32` when the format or the bounds say 32 bits suffice.
pub(crate) fn integer_type(field: &Field) -> EdmType {
    match field.format.as_deref() {
        Some("int32") => EdmType::Int32,
        Some("int64") => EdmType::Int64,
        _ => {
            let fits = |v: Option<f64>| {
                v.is_some_and(|v| v >= f64::from(i32::MIN) && v <= f64::from(i32::MAX))
            };
            if fits(field.minimum) && fits(field.maximum) {
                EdmType::Int32
            } else {
                EdmType::Int64
            }
        }
    }
}

/// The reference's description, tidied: the extraction leaves `( ISO 4217)`
/// where a link was.
pub(crate) fn clean_description(text: &str) -> Option<String> {
    let text = text.replace("( ", "(");
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    (!text.is_empty()).then_some(text)
}

/// A property's description: the reference's text without what only holds
/// on the ZeyOS side (time stamps are `Edm.DateTimeOffset` here, and enum
/// values are names, not numbers).
fn property_description(field: &Field) -> Option<String> {
    match field.semantic {
        Semantic::Timestamp | Semantic::Date => {
            clean_description(&field.description.replace(" as a Unix time stamp", ""))
        }
        Semantic::Enum => enum_description(&field.description),
        _ => clean_description(&field.description),
    }
}

fn fallback_description(field: &Field) -> Option<String> {
    let text = match field.field_type {
        FieldType::Items => "Line items (returned only when selected)",
        FieldType::Binfile => "Bin file content (returned only when selected)",
        FieldType::Meta => "Meta data field and value pairs",
        FieldType::Json => "Free-form JSON settings (returned only when selected)",
        _ => return None,
    };
    Some(text.to_owned())
}

/// An enum's description without its value list: `Account type (0=PROSPECT,
/// 1=CUSTOMER)` → `Account type`.
fn enum_description(text: &str) -> Option<String> {
    let cleaned = clean_description(text)?;
    let head = match cleaned.find(" (") {
        Some(i) if cleaned[i..].contains('=') => &cleaned[..i],
        _ => cleaned.as_str(),
    };
    Some(head.trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_are_tidied() {
        assert_eq!(
            clean_description("Currency code ( ISO 4217)").as_deref(),
            Some("Currency code (ISO 4217)")
        );
        assert_eq!(clean_description("  "), None);
        assert_eq!(
            enum_description("Account type (0=PROSPECT, 1=CUSTOMER)").as_deref(),
            Some("Account type")
        );
    }

    #[test]
    fn line_item_merges_the_composites() {
        let mut reg = TypeRegistry::new(zeyos_schema::schema()).unwrap();
        let id = reg.line_item().unwrap();
        let item = &reg.complex_types[id.0];
        let names: Vec<&str> = item.properties.iter().map(|p| p.name.as_str()).collect();
        for expected in [
            "Type",
            "SellingPrice",
            "ItemId",
            "Text",
            "CouponCodeId",
            "References",
        ] {
            assert!(
                names.contains(&expected),
                "{expected} missing from {names:?}"
            );
        }
        let unique: std::collections::HashSet<_> = names.iter().collect();
        assert_eq!(unique.len(), names.len());
    }
}
