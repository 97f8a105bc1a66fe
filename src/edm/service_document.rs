//! The service document: the JSON a client gets at a service's root, listing
//! its entity sets (Excel's and Power BI's navigator shows this list).

use serde_json::{json, Value};

use super::model::ServiceModel;

/// The service document of `model`. `service_url` is the absolute URL of
/// the service root with trailing slash, e.g. `https://host/odata/`; the
/// sets' `url`s are relative to it.
pub fn to_value(model: &ServiceModel, service_url: &str) -> Value {
    let sets: Vec<Value> = model
        .entity_sets
        .iter()
        .map(|s| json!({ "name": s.name, "kind": "EntitySet", "url": s.name }))
        .collect();
    json!({
        "@odata.context": format!("{service_url}$metadata"),
        "value": sets,
    })
}

/// The service document of `model` as compact JSON text.
pub fn to_string(model: &ServiceModel, service_url: &str) -> String {
    to_value(model, service_url).to_string()
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    #[test]
    fn lists_sets_relative_to_the_root() {
        let text = "[[service]]\nname = \"t\"\nroot = \"/t/\"\nexpose = \"all\"\n";
        let config = Config::from_str(text, "t.toml").unwrap();
        let model = &config.service_models().unwrap()[0];
        let doc = super::to_value(model, "https://h/t/");
        assert_eq!(doc["@odata.context"], "https://h/t/$metadata");
        assert_eq!(
            doc["value"][0],
            serde_json::json!({"name": "Accounts", "kind": "EntitySet", "url": "Accounts"})
        );
    }
}
