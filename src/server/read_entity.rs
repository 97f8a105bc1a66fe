//! Reads of single entities and their properties (`Accounts(1)`,
//! `Transactions(5)/Account`, `Accounts(1)/LastName/$value`).

use http::header::{self, HeaderValue};
use http::{Response, StatusCode};
use serde_json::Value as Json;

use super::body::{self, Body};
use super::conditional;
use super::negotiate::{JsonFormat, MetadataLevel};
use super::request::RequestCtx;
use super::response::{json_response, precondition_answer, select_suffix};
use crate::bind::query::{BoundRequest, EntityRef, PropertyForm, QueryShape, Resource};
use crate::edm::{Conversion, EdmType, EntitySetId, Property};
use crate::error::GatewayError;
use crate::exec::eval::Evaluator;
use crate::exec::expand::expand_rows;
use crate::exec::items::{shape_items, ShapedItems};
use crate::serialize::entity::{write_complex, write_structured, ComplexKeys, EntityWriter};
use crate::serialize::value::{write_count, write_key, write_property_value, write_str};
use crate::upstream::{Filter, Op, Principal, Row};
use crate::values::{collection_items, field_i64};

impl RequestCtx<'_> {
    pub(super) async fn entity(
        &self,
        e: &EntityRef,
        bound: &BoundRequest,
        format: JsonFormat,
        principal: Principal,
    ) -> Result<Response<Body>, GatewayError> {
        let ctx = self.exec(principal);
        let set = e.set();
        let expand_fields = self.json_fields(set, bound.shape.select.as_deref());
        let Some((row, _)) = self.resolve(&ctx, e, &expand_fields).await? else {
            if matches!(e, EntityRef::Navigation { .. }) {
                let mut r = Response::new(body::empty());
                *r.status_mut() = StatusCode::NO_CONTENT;
                return Ok(r);
            }
            return Err(self.entity_not_found(e));
        };
        let mut row = row;
        if !bound.shape.dynamic.is_empty() {
            // A single-record read returns extdata only as a whole object;
            // read the named fields as a list does.
            let id = row.get("ID").and_then(field_i64).unwrap_or(0);
            let req = crate::upstream::ListRequest {
                entity: self.model().set(set).upstream.clone(),
                fields: bound
                    .shape
                    .dynamic
                    .iter()
                    .map(|d| (format!("extdata.{d}"), format!("extdata.{d}")))
                    .collect(),
                filter: Some(Filter::cond("ID", Op::Eq, id)),
                limit: Some(1),
                ..Default::default()
            };
            if let Some(extra) = ctx.list(req).await?.into_iter().next() {
                Row::make_mut(&mut row).extend(Row::unwrap_or_clone(extra));
            }
        }
        let mut rows = vec![row];
        if !bound.shape.expand.is_empty() {
            expand_rows(
                &ctx,
                self.expand_settings(),
                &bound.shape.expand,
                &mut rows,
                &[],
            )
            .await?;
        }
        let row = &rows[0];
        let writer =
            EntityWriter::for_shape(self.model(), set, &bound.shape, format, &self.service_root);
        let reference = matches!(bound.resource, Resource::EntityReference(_));
        // The entity's own tag (from its modification time) validates the
        // entity alone; with $expand (or dynamic properties read by a list
        // request of their own) the response holds more, so its tag is a
        // hash of the whole body. A reference's tag stands for the identity
        // it names (Protocol 11.2.8), a hash of the body too.
        let entity_tag =
            if bound.shape.expand.is_empty() && bound.shape.dynamic.is_empty() && !reference {
                writer.etag(row)
            } else {
                None
            };
        if let Some(tag) = &entity_tag {
            if let Some(answer) = precondition_answer(&self.parts.headers, tag)? {
                return Ok(answer);
            }
        }
        let mut entity = Vec::with_capacity(512);
        let context = if reference {
            writer.write_reference(&mut entity, row);
            format!("{}$metadata#$ref", self.service_root)
        } else {
            writer.write(&mut entity, row);
            format!(
                "{}$metadata#{}{}/$entity",
                self.service_root,
                self.model().set(set).name,
                select_suffix(self.model(), set, &bound.shape)
            )
        };
        let mut out = Vec::with_capacity(entity.len() + 128);
        if format.metadata != MetadataLevel::None {
            out.extend_from_slice(b"{\"@odata.context\":");
            write_str(&mut out, &context);
            if entity.len() > 2 {
                out.push(b',');
            }
            out.extend_from_slice(&entity[1..]);
        } else {
            out = entity;
        }
        let etag = entity_tag.unwrap_or_else(|| conditional::body_etag(&out));
        if let Some(answer) = precondition_answer(&self.parts.headers, &etag)? {
            return Ok(answer);
        }
        let mut r = json_response(StatusCode::OK, out, &format.content_type());
        if let Ok(tag) = HeaderValue::from_str(&etag) {
            r.headers_mut().insert(header::ETAG, tag);
        }
        Ok(r)
    }

    pub(super) async fn property(
        &self,
        e: &EntityRef,
        property: usize,
        form: PropertyForm,
        bound: &BoundRequest,
        format: JsonFormat,
        principal: Principal,
    ) -> Result<Response<Body>, GatewayError> {
        let ctx = self.exec(principal);
        let set = e.set();
        let ty = self.model().entity_type(self.model().set(set).entity_type);
        let prop = &ty.properties[property];
        if form == PropertyForm::Raw
            && matches!(prop.ty, EdmType::Complex(_) | EdmType::Collection(_))
        {
            return Err(GatewayError::bad_request(
                "InvalidPath",
                format!(
                    "`{}` is structured; $value applies to primitive properties",
                    prop.name
                ),
                Some("$value"),
            ));
        }
        let expand: Vec<String> = if prop.conversion == Conversion::Json {
            vec![prop.upstream.clone()]
        } else {
            Vec::new()
        };
        let Some((row, _)) = self.resolve(&ctx, e, &expand).await? else {
            return Err(self.entity_not_found(e));
        };
        let value = row.get(&prop.upstream).filter(|v| !v.is_null());
        if matches!(prop.ty, EdmType::Collection(_)) {
            // A collection is never null: no items is an empty collection.
            let eval = Evaluator::new(self.model(), self.now);
            let json = value.map(crate::upstream::FieldRef::as_json);
            let items = shape_items(&eval, &bound.shape, collection_items(json.as_deref()))?;
            if form == PropertyForm::Count {
                return Ok(json_response(
                    StatusCode::OK,
                    items.total.to_string(),
                    "text/plain;charset=utf-8",
                ));
            }
            return Ok(self.collection_property(&row, set, prop, items, &bound.shape, format));
        }
        if value.is_none() {
            let mut r = Response::new(body::empty());
            *r.status_mut() = StatusCode::NO_CONTENT;
            return Ok(r);
        }
        if form == PropertyForm::Raw {
            let mut buf = Vec::new();
            write_property_value(&mut buf, self.model(), prop, value, false);
            let text = match serde_json::from_slice::<Json>(&buf) {
                Ok(Json::String(s)) => s,
                Ok(other) => other.to_string(),
                Err(_) => String::from_utf8_lossy(&buf).into_owned(),
            };
            return Ok(json_response(
                StatusCode::OK,
                text,
                "text/plain;charset=utf-8",
            ));
        }
        let mut out = Vec::new();
        out.push(b'{');
        self.write_property_context(&mut out, &row, set, prop, "", format);
        if let (EdmType::Complex(_), Conversion::Json) = (&prop.ty, prop.conversion) {
            // A complex value is the response object itself, its
            // properties beside the context (JSON Format 11), not wrapped
            // in `value` as a primitive is.
            let mut complex = Vec::new();
            write_structured(
                &mut complex,
                self.model(),
                &ComplexKeys::default(),
                &prop.ty,
                value,
                format.ieee754_compatible,
            );
            let Some(members) = complex
                .strip_prefix(b"{")
                .and_then(|c| c.strip_suffix(b"}"))
            else {
                // Not an object upstream: no value, as for null.
                let mut r = Response::new(body::empty());
                *r.status_mut() = StatusCode::NO_CONTENT;
                return Ok(r);
            };
            if members.is_empty() && out.last() == Some(&b',') {
                out.pop();
            }
            out.extend_from_slice(members);
            out.push(b'}');
            return Ok(json_response(StatusCode::OK, out, &format.content_type()));
        }
        write_key(&mut out, "value");
        write_property_value(
            &mut out,
            self.model(),
            prop,
            value,
            format.ieee754_compatible,
        );
        out.push(b'}');
        Ok(json_response(StatusCode::OK, out, &format.content_type()))
    }

    /// A collection-valued property's items after the query options. They
    /// are part of one record, so there is no server-driven paging to
    /// continue.
    fn collection_property(
        &self,
        row: &Row,
        set: EntitySetId,
        prop: &Property,
        items: ShapedItems,
        shape: &QueryShape,
        format: JsonFormat,
    ) -> Response<Body> {
        let model = self.model();
        // `$select` over complex items: only the selected properties, named
        // in the context URL's select list.
        let selected = prop.ty.complex_items().zip(shape.select.as_deref());
        let select_list = selected.map_or(String::new(), |(cid, only)| {
            let ct = model.complex_type(cid);
            let names: Vec<&str> = only
                .iter()
                .filter_map(|&i| ct.properties.get(i).map(|p| p.name.as_str()))
                .collect();
            format!("({})", names.join(","))
        });
        let mut out = Vec::new();
        out.push(b'{');
        self.write_property_context(&mut out, row, set, prop, &select_list, format);
        if shape.count {
            write_key(&mut out, "@odata.count");
            write_count(
                &mut out,
                i64::try_from(items.total).unwrap_or(i64::MAX),
                format.ieee754_compatible,
            );
            out.push(b',');
        }
        write_key(&mut out, "value");
        let keys = ComplexKeys::default();
        match selected {
            Some((cid, only)) => {
                out.push(b'[');
                for (i, item) in items.page.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    match item {
                        Json::Object(map) => write_complex(
                            &mut out,
                            model,
                            &keys,
                            cid,
                            map,
                            Some(only),
                            format.ieee754_compatible,
                        ),
                        // As write_structured answers a malformed item.
                        _ => out.extend_from_slice(b"null"),
                    }
                }
                out.push(b']');
            }
            None => write_structured(
                &mut out,
                model,
                &keys,
                &prop.ty,
                Some(crate::upstream::FieldRef::Json(&Json::Array(items.page))),
                format.ieee754_compatible,
            ),
        }
        out.push(b'}');
        json_response(StatusCode::OK, out, &format.content_type())
    }

    /// The `@odata.context` of a property read: the entity by its key,
    /// then the property and its select list (Protocol 10.13), written
    /// unless metadata is off.
    fn write_property_context(
        &self,
        out: &mut Vec<u8>,
        row: &Row,
        set: EntitySetId,
        prop: &Property,
        select_list: &str,
        format: JsonFormat,
    ) {
        if format.metadata == MetadataLevel::None {
            return;
        }
        let key = row.get("ID").and_then(field_i64).unwrap_or(0);
        write_key(out, "@odata.context");
        write_str(
            out,
            &format!(
                "{}$metadata#{}({key})/{}{select_list}",
                self.service_root,
                self.model().set(set).name,
                prop.name
            ),
        );
        out.push(b',');
    }
}
