//! The committed description must be exactly what the extractor reads from
//! the reference, so that neither drifts from the other unnoticed.

use std::path::PathBuf;

fn reference_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/reference/zeyos-rest-api.txt")
}

#[test]
fn committed_schema_matches_a_fresh_extraction() {
    let path = reference_path();
    let Ok(text) = std::fs::read_to_string(&path) else {
        eprintln!(
            "skipping: the ZeyOS reference is not at {} (../shared is absent)",
            path.display()
        );
        return;
    };
    let fresh = zeyos_schema::extract::extract(&text, "zeyos-rest-api.txt").unwrap();
    let committed = zeyos_schema::schema();
    assert_eq!(
        &fresh, committed,
        "zeyos-schema.json is stale: run `cargo run -p zeyos-schema --bin extract-schema`"
    );
}

#[test]
fn every_entity_with_an_endpoint_and_every_defined_field_is_described() {
    let path = reference_path();
    let Ok(text) = std::fs::read_to_string(&path) else {
        eprintln!("skipping: the ZeyOS reference is absent");
        return;
    };
    // Count independently of the extractor: endpoint paths in the listing,
    // and `name: type` lines under each entity's schema definition.
    let mut endpoint_entities = std::collections::BTreeSet::new();
    for line in text.lines() {
        for method in ["GET /", "POST /", "PUT /", "PATCH /", "DELETE /", "HEAD /"] {
            if let Some(rest) = line.strip_prefix(method) {
                let name = rest.split('/').next().unwrap_or("");
                if !name.is_empty() && name != "config" && name != "settings" {
                    endpoint_entities.insert(name.to_string());
                }
            }
        }
    }
    let schema = zeyos_schema::schema();
    let described: std::collections::BTreeSet<String> =
        schema.entities.iter().map(|e| e.name.clone()).collect();
    assert_eq!(endpoint_entities, described);
    for e in &schema.entities {
        assert_eq!(
            e.fields.first().map(|f| f.name.as_str()),
            Some("ID"),
            "{}",
            e.name
        );
    }
}

#[test]
fn known_facts_survive_extraction() {
    let s = zeyos_schema::schema();
    let accounts = s.entity("accounts").unwrap();
    let t = accounts.field("type").unwrap();
    assert_eq!(t.semantic, zeyos_schema::Semantic::Enum);
    assert_eq!(t.members[1].name, "CUSTOMER");
    assert_eq!(
        accounts.field("contact").unwrap().references.as_deref(),
        Some("contacts")
    );
    assert_eq!(
        accounts.field("lastmodified").unwrap().semantic,
        zeyos_schema::Semantic::Timestamp
    );
    let contacts = s.entity("contacts").unwrap();
    assert_eq!(
        contacts.field("birthdate").unwrap().semantic,
        zeyos_schema::Semantic::Date
    );
    assert!(s.entity("users").unwrap().is_read_only());
    assert!(!accounts.is_read_only());
}
