//! The metadata documents of the shipped services: complete (every ZeyOS
//! entity and field is in `/odata/`), valid (OASIS CSDL schemas via
//! xmllint), and consistent between XML, JSON and the service document.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::Command;

use quick_xml::events::Event;
use quick_xml::Reader;
use zeyos_odata::config::{Config, SHIPPED_CONFIG};
use zeyos_odata::edm::{csdl_json, csdl_xml, service_document, MetadataDocuments, ServiceModel};

fn models() -> Vec<ServiceModel> {
    let config = Config::from_str(SHIPPED_CONFIG, "config.toml").unwrap_or_else(|e| panic!("{e}"));
    config.service_models().unwrap_or_else(|e| panic!("{e}"))
}

fn model(name: &str) -> ServiceModel {
    models()
        .into_iter()
        .find(|m| m.name == name)
        .unwrap_or_else(|| panic!("no service {name}"))
}

/// The value of an element's attribute.
fn attribute(e: &quick_xml::events::BytesStart, name: &str) -> Option<String> {
    e.attributes()
        .flatten()
        .find(|a| a.key.as_ref() == name)
        .map(|a| a.value.to_string())
}

/// Structured types of a CSDL XML document: name → (open, property names).
fn xml_types(xml: &str) -> BTreeMap<String, (bool, BTreeSet<String>)> {
    let mut reader = Reader::from_str(xml);
    let mut types = BTreeMap::new();
    let mut current: Option<String> = None;
    loop {
        match reader.read_event() {
            Ok(Event::Start(e) | Event::Empty(e)) => {
                let attr = |name: &str| attribute(&e, name);
                match e.name().as_ref() {
                    "EntityType" | "ComplexType" => {
                        let name = attr("Name").unwrap_or_default();
                        let open = attr("OpenType").as_deref() == Some("true");
                        types.insert(name.clone(), (open, BTreeSet::new()));
                        current = Some(name);
                    }
                    "Property" | "NavigationProperty" => {
                        if let (Some(t), Some(p)) = (&current, attr("Name")) {
                            if let Some(entry) = types.get_mut(t) {
                                entry.1.insert(p);
                            }
                        }
                    }
                    _ => {}
                }
            }
            Ok(Event::End(e)) if matches!(e.name().as_ref(), "EntityType" | "ComplexType") => {
                current = None;
            }
            Ok(Event::Eof) => break,
            Err(e) => panic!("CSDL XML does not parse: {e}"),
            _ => {}
        }
    }
    types
}

#[test]
fn every_entity_and_field_of_the_reference_is_in_the_odata_metadata() {
    let schema = zeyos_schema::schema();
    let model = model("odata");
    let xml = csdl_xml::to_string(&model);
    let types = xml_types(&xml);
    let mut missing = Vec::new();
    let mut fields = 0;

    for entity in &schema.entities {
        let Some(set) = model
            .entity_sets
            .iter()
            .find(|s| s.upstream == entity.name && s.base_filter.is_empty())
        else {
            missing.push(format!("entity `{}` has no entity set", entity.name));
            continue;
        };
        let ty = model.entity_type(set.entity_type);
        let Some((open, declared)) = types.get(&ty.name) else {
            missing.push(format!("entity type `{}` is not in the XML", ty.name));
            continue;
        };
        if entity.extdata && !open {
            missing.push(format!(
                "`{}` has extdata but `{}` is not open",
                entity.name, ty.name
            ));
        }
        for field in &entity.fields {
            fields += 1;
            match ty.property_for_upstream(&field.name) {
                None => missing.push(format!(
                    "field `{}.{}` has no property",
                    entity.name, field.name
                )),
                Some(p) if !declared.contains(&p.name) => missing.push(format!(
                    "property `{}.{}` (field `{}.{}`) is not in the XML",
                    ty.name, p.name, entity.name, field.name
                )),
                Some(_) => {}
            }
        }
    }

    let mut composite_fields = 0;
    for (complex, composites) in [
        (
            "LineItem",
            &[
                "items-common",
                "items-product",
                "items-text",
                "items-coupon",
            ][..],
        ),
        ("BinFileContent", &["binfile-content"][..]),
    ] {
        let Some((_, declared)) = types.get(complex) else {
            missing.push(format!("complex type `{complex}` is not in the XML"));
            continue;
        };
        let ct = model
            .complex_types
            .iter()
            .find(|c| c.name == complex)
            .unwrap_or_else(|| panic!("no complex type {complex}"));
        for name in composites {
            let composite = schema
                .composite(name)
                .unwrap_or_else(|| panic!("no {name}"));
            for field in &composite.fields {
                composite_fields += 1;
                match ct.properties.iter().find(|p| p.upstream == field.name) {
                    Some(p) if declared.contains(&p.name) => {}
                    _ => missing.push(format!(
                        "field `{name}.{}` is not in `{complex}`",
                        field.name
                    )),
                }
            }
        }
    }

    assert!(
        missing.is_empty(),
        "missing from /odata/ $metadata:\n{}",
        missing.join("\n")
    );
    println!(
        "/odata/ $metadata: {} entities, {fields} entity fields, {composite_fields} line item and bin file fields",
        schema.entities.len()
    );
    assert_eq!(schema.entities.len(), model.entity_sets.len());
}

/// `../shared` beside the repository (CI's layout), or two levels up (a
/// worktree under `wt/`), or `$ZEYOS_SHARED_DIR`.
fn shared_dir() -> Option<PathBuf> {
    if let Ok(dir) = std::env::var("ZEYOS_SHARED_DIR") {
        return Some(PathBuf::from(dir));
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    [root.join("../shared"), root.join("../../shared")]
        .into_iter()
        .find(|p| p.join("conformance/csdl/edmx.xsd").is_file())
}

#[test]
fn metadata_validates_against_the_oasis_csdl_schemas() {
    let Some(shared) = shared_dir() else {
        println!("skipping: ../shared/conformance/csdl/edmx.xsd not found beside the repository");
        return;
    };
    let xsd = shared.join("conformance/csdl/edmx.xsd");
    let dir = std::env::temp_dir().join(format!("zeyos-odata-csdl-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for model in models() {
        let file = dir.join(format!("{}.xml", model.name));
        std::fs::write(&file, csdl_xml::to_string(&model)).unwrap();
        let output = Command::new("xmllint")
            .arg("--noout")
            .arg("--schema")
            .arg(&xsd)
            .arg(&file)
            .output()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot run xmllint ({e}): install it with `apt-get install -y libxml2-utils`"
                )
            });
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            output.status.success(),
            "$metadata of {} does not validate:\n{stderr}",
            model.root
        );
        println!("{}: {}", model.root, stderr.trim());
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn csdl_json_has_every_set_and_type() {
    for model in models() {
        let doc: serde_json::Value = serde_json::from_str(&csdl_json::to_string(&model)).unwrap();
        assert_eq!(doc["$Version"], "4.01");
        let container_name = format!("{}.{}", model.namespace, model.container);
        assert_eq!(doc["$EntityContainer"], container_name.as_str());
        let schema = &doc[&model.namespace];
        let container = &schema[&model.container];
        assert_eq!(container["$Kind"], "EntityContainer");
        for set in &model.entity_sets {
            let s = &container[&set.name];
            assert_eq!(s["$Collection"], true, "{}", set.name);
            let ty = s["$Type"].as_str().unwrap_or_default();
            let local = ty
                .strip_prefix(&format!("{}.", model.namespace))
                .unwrap_or_default();
            let t = &schema[local];
            assert_eq!(t["$Kind"], "EntityType", "{ty}");
            assert_eq!(t["$Key"], serde_json::json!(["Id"]));
            for (nav, target) in s["$NavigationPropertyBinding"]
                .as_object()
                .into_iter()
                .flatten()
            {
                assert!(
                    container[target.as_str().unwrap_or_default()].is_object(),
                    "{nav} → {target}"
                );
                assert_eq!(t[nav]["$Kind"], "NavigationProperty");
            }
        }
    }
}

/// The capability annotations clients decide by (what to fold into
/// `$filter`, which `$search` forms to send, whether to offer editing)
/// say what the gateway does, and the same in both formats.
#[test]
fn capabilities_agree_between_xml_and_json_and_with_what_is_served() {
    let model = model("odata");
    let json: serde_json::Value = serde_json::from_str(&csdl_json::to_string(&model)).unwrap();
    let container = &json[&model.namespace][&model.container];
    let from_json: Vec<String> = container["@Capabilities.FilterFunctions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(String::from))
        .collect();
    assert!(from_json.iter().any(|f| f == "contains"), "{from_json:?}");
    assert!(!from_json.iter().any(|f| f == "cast"), "{from_json:?}");
    assert_eq!(
        container["Accounts"]["@Capabilities.SearchRestrictions"]["UnsupportedExpressions"],
        "OR,NOT,phrase"
    );
    // Writes are answered 501, and every set is readable by key.
    for set in &model.entity_sets {
        let s = &container[&set.name];
        for (term, property) in [
            ("@Capabilities.InsertRestrictions", "Insertable"),
            ("@Capabilities.UpdateRestrictions", "Updatable"),
            ("@Capabilities.DeleteRestrictions", "Deletable"),
        ] {
            assert_eq!(s[term][property], false, "{} {term}", set.name);
        }
        assert!(
            s["@Capabilities.ReadRestrictions"].is_null(),
            "{}",
            set.name
        );
    }

    // The strings inside the XML's FilterFunctions annotation, and the
    // EnumMember of its UnsupportedExpressions.
    let xml = csdl_xml::to_string(&model);
    let mut reader = Reader::from_str(&xml);
    let (mut in_functions, mut in_string) = (false, false);
    let mut from_xml = Vec::new();
    let mut unsupported = Vec::new();
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) | Ok(Event::Empty(e)) => {
                let attr = |name: &str| attribute(&e, name);
                match e.name().as_ref() {
                    "Annotation" => {
                        in_functions =
                            attr("Term").as_deref() == Some("Capabilities.FilterFunctions");
                    }
                    "String" => in_string = in_functions,
                    "PropertyValue"
                        if attr("Property").as_deref() == Some("UnsupportedExpressions") =>
                    {
                        unsupported.extend(attr("EnumMember"));
                    }
                    _ => {}
                }
            }
            Ok(Event::Text(t)) if in_string => {
                from_xml.push(t.to_string());
            }
            Ok(Event::End(e)) => match e.name().as_ref() {
                "String" => in_string = false,
                "Annotation" => in_functions = false,
                _ => {}
            },
            Ok(Event::Eof) => break,
            Err(e) => panic!("{e}"),
            _ => {}
        }
    }
    assert_eq!(from_xml, from_json);
    let sets_searchable = model
        .entity_sets
        .iter()
        .filter(|s| s.capabilities.searchable)
        .count();
    assert_eq!(unsupported.len(), sets_searchable);
    for u in unsupported {
        assert_eq!(
            u,
            "Capabilities.SearchExpressions/OR Capabilities.SearchExpressions/NOT Capabilities.SearchExpressions/phrase"
        );
    }
}

#[test]
fn service_document_lists_every_set() {
    let model = model("odata");
    let doc = service_document::to_value(&model, "http://localhost:8080/odata/");
    assert_eq!(
        doc["@odata.context"],
        "http://localhost:8080/odata/$metadata"
    );
    let names: Vec<&str> = doc["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            assert_eq!(v["kind"], "EntitySet");
            assert_eq!(v["url"], v["name"]);
            v["name"].as_str().unwrap()
        })
        .collect();
    assert_eq!(names.len(), model.entity_sets.len());
    assert!(
        names.contains(&"Accounts")
            && names.contains(&"ActionSteps")
            && names.contains(&"DavServers")
    );
}

#[test]
fn metadata_etag_is_stable_and_follows_the_model() {
    let a = MetadataDocuments::new(&model("hq"));
    let b = MetadataDocuments::new(&model("hq"));
    assert_eq!(a, b, "rendering must be deterministic");
    assert_ne!(a.xml_etag, a.json_etag);

    let changed = SHIPPED_CONFIG.replace("ProductNumber = \"itemnum\"", "Sku = \"itemnum\"");
    assert_ne!(changed, SHIPPED_CONFIG);
    let config = Config::from_str(&changed, "config.toml").unwrap();
    let hq = config
        .service_models()
        .unwrap()
        .into_iter()
        .find(|m| m.name == "hq")
        .unwrap();
    let c = MetadataDocuments::new(&hq);
    assert_ne!(a.xml_etag, c.xml_etag);
    assert_ne!(a.json_etag, c.json_etag);
}

#[test]
fn hq_profile_has_hq_names() {
    let hq = model("hq");
    for set in [
        "Companies",
        "Contacts",
        "Invoices",
        "Quotes",
        "Orders",
        "Products",
        "Projects",
        "Tasks",
        "Tickets",
        "Users",
    ] {
        assert!(hq.entity_set(set).is_some(), "{set}");
    }
    let (_, invoices) = hq.entity_set("Invoices").unwrap();
    assert_eq!(invoices.upstream, "transactions");
    assert_eq!(invoices.base_filter[0].field, "type");
    assert_eq!(invoices.base_filter[0].values, vec![serde_json::json!(3)]);
    let invoice = hq.entity_type(invoices.entity_type);
    for p in [
        "Id",
        "CreatedOn",
        "UpdatedOn",
        "InvoiceDate",
        "InvoiceNumber",
        "CompanyId",
        "Positions",
    ] {
        assert!(invoice.property(p).is_some(), "Invoice/{p}");
    }
    assert_eq!(
        invoice.property("InvoiceDate").unwrap().ty,
        zeyos_odata::edm::EdmType::Date
    );
    assert!(invoice.unsupported_feature("DocumentFile").is_some());
    assert!(invoice
        .unsupported_feature("Positions/CustomFields")
        .is_some());

    let (companies_id, companies) = hq.entity_set("Companies").unwrap();
    let company = hq.entity_type(companies.entity_type);
    assert!(company.property("Name").is_some());
    assert!(company.navigation_property("DefaultAddress").is_some());
    assert!(company
        .navigation_property("Invoices")
        .is_some_and(|n| n.collection));
    assert!(company.unsupported_feature("CompanyTypes").is_some());
    let contacts = hq
        .navigation_target(companies_id, "DefaultAddress")
        .unwrap();
    assert_eq!(hq.set(contacts).name, "Contacts");
}

#[test]
fn odata_navigation_follows_the_rules() {
    let m = model("odata");
    let nav = |set: &str, name: &str| {
        let (_, s) = m.entity_set(set).unwrap();
        m.entity_type(s.entity_type)
            .navigation_property(name)
            .cloned()
    };
    let contact = nav("Accounts", "Contact").expect("Account/Contact");
    assert!(!contact.collection);
    assert_eq!(contact.partner.as_deref(), Some("Accounts"));
    assert!(nav("Accounts", "AssignedUser").is_some());
    for (set, reverse) in [
        ("Accounts", "Transactions"),
        ("Accounts", "Contracts"),
        ("Accounts", "Opportunities"),
        ("Accounts", "Payments"),
        ("Contacts", "Accounts"),
        ("Projects", "Tasks"),
        ("Projects", "Tickets"),
        ("Transactions", "Payments"),
        ("Items", "Prices"),
    ] {
        let n = nav(set, reverse).unwrap_or_else(|| panic!("{set}/{reverse}"));
        assert!(n.collection, "{set}/{reverse}");
    }
    // Bookkeeping keys get no reverse collections on users.
    assert!(nav("Users", "Accounts").is_none());
    let (_, accounts) = m.entity_set("Accounts").unwrap();
    let account = m.entity_type(accounts.entity_type);
    for p in [
        "Id",
        "LastName",
        "ContactId",
        "AssignedUserId",
        "CreatedOn",
        "UpdatedOn",
    ] {
        assert!(account.property(p).is_some(), "Account/{p}");
    }
}
