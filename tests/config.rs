//! `config.toml` errors stop start-up with the file, the line and the
//! problem; the shipped file loads.

use std::time::Duration;
use zeyos_odata::config::{Config, ConfigError, SHIPPED_CONFIG};

const SERVICE: &str = r#"
[[service]]
name = "hq"
root = "/v1/"

[[service.entity_set]]
name = "Companies"
entity = "accounts"
"#;

fn error(text: &str) -> ConfigError {
    match Config::from_str(text, "bad.toml") {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => e,
    }
}

/// Asserts that the message names the file and `line`, and contains `what`.
fn assert_names(err: &ConfigError, line: usize, what: &str) {
    let message = err.to_string();
    assert!(
        message.starts_with(&format!("bad.toml:{line}:")),
        "expected bad.toml:{line}: in {message:?}"
    );
    assert!(message.contains(what), "expected {what:?} in {message:?}");
}

#[test]
fn shipped_config_loads() {
    let config = Config::from_str(SHIPPED_CONFIG, "config.toml").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.services.len(), 2);
    assert_eq!(
        config.service("odata").map(|s| s.root.get_ref().as_str()),
        Some("/odata/")
    );
    assert_eq!(
        config.service("hq").map(|s| s.root.get_ref().as_str()),
        Some("/v1/")
    );
    assert_eq!(config.compression_level, 1);
    assert_eq!(config.header_read_timeout, Duration::from_secs(30));
    assert_eq!(config.shutdown_grace, Duration::from_secs(30));
    assert!(config.upstream.accept_gzip);
    let from_file = Config::load(concat!(env!("CARGO_MANIFEST_DIR"), "/config.toml"));
    assert!(from_file.is_ok(), "{from_file:?}");
}

#[test]
fn demo_points_the_shipped_config_at_another_upstream() {
    let config = Config::default_for_demo("http://127.0.0.1:39999/").unwrap();
    assert_eq!(config.upstream.base_url, "http://127.0.0.1:39999");
    let err = Config::default_for_demo("ftp://x").unwrap_err();
    assert!(err.to_string().contains("bad URL"), "{err}");
}

#[test]
fn unknown_entity() {
    let text = SERVICE.replace("entity = \"accounts\"", "entity = \"acounts\"");
    let err = error(&text);
    assert_names(
        &err,
        8,
        "unknown ZeyOS entity `acounts`; did you mean `accounts`?",
    );
}

#[test]
fn unknown_field() {
    let text = format!("{SERVICE}properties = {{ Name = \"lastnme\" }}\n");
    let err = error(&text);
    assert_names(
        &err,
        9,
        "unknown field `lastnme` of ZeyOS entity `accounts`; did you mean `lastname`?",
    );
}

#[test]
fn unknown_field_in_exclude_and_base_filter() {
    let err = error(&format!("{SERVICE}exclude = [\"nope\"]\n"));
    assert_names(&err, 9, "unknown field `nope`");
    let err = error(&format!("{SERVICE}base_filter = {{ typ = 1 }}\n"));
    assert_names(&err, 9, "unknown field `typ`");
}

#[test]
fn bad_base_filter_member() {
    let err = error(&format!(
        "{SERVICE}base_filter = {{ type = \"CUSTOMR\" }}\n"
    ));
    assert_names(&err, 9, "`CUSTOMR` is not a member");
}

#[test]
fn duplicate_entity_set() {
    let text =
        format!("{SERVICE}\n[[service.entity_set]]\nname = \"Companies\"\nentity = \"contacts\"\n");
    let err = error(&text);
    assert_names(
        &err,
        11,
        "duplicate entity set `Companies` (first used at line 7)",
    );
}

#[test]
fn duplicate_property_name() {
    // `firstname` renamed to the name `lastname` already derives.
    let text = format!("{SERVICE}properties = {{ LastName = \"firstname\" }}\n");
    let err = error(&text);
    assert_names(&err, 9, "duplicate property `LastName` on entity type `Account` (also the name of ZeyOS field `lastname`)");
}

#[test]
fn duplicate_type_name() {
    let text =
        format!("{SERVICE}\n[[service.entity_set]]\nname = \"Clients\"\nentity = \"accounts\"\n");
    let err = error(&text);
    assert_names(&err, 11, "duplicate entity type `Account`");
}

#[test]
fn duplicate_service_root() {
    let text =
        format!("{SERVICE}\n[[service]]\nname = \"other\"\nroot = \"/v1/\"\nexpose = \"all\"\n");
    let err = error(&text);
    assert_names(
        &err,
        12,
        "duplicate service root `/v1/` (first used at line 4)",
    );
}

#[test]
fn invalid_identifier() {
    let err = error(&SERVICE.replace("name = \"Companies\"", "name = \"Com-panies\""));
    assert_names(&err, 7, "invalid entity set name `Com-panies`");
    let err = error(&format!(
        "{SERVICE}properties = {{ \"1Name\" = \"lastname\" }}\n"
    ));
    assert_names(&err, 9, "invalid property name `1Name`");
    let err = error(&SERVICE.replace("root = \"/v1/\"", "root = \"/v1/\"\nnamespace = \"Edm\""));
    assert_names(&err, 5, "invalid namespace `Edm`: it is reserved by CSDL");
}

#[test]
fn bad_url() {
    let err = error(&format!(
        "[upstream]\nbase_url = \"localhost:8091\"\n{SERVICE}"
    ));
    assert_names(&err, 2, "bad URL `localhost:8091` for `upstream.base_url`");
    let err = error(&format!(
        "public_url = \"https://x.example/a?b\"\n{SERVICE}"
    ));
    assert_names(&err, 1, "must not have a query");
}

#[test]
fn bad_listen_address() {
    let err = error(&format!("listen = \"localhost\"\n{SERVICE}"));
    assert_names(&err, 1, "bad listen address `localhost`");
}

#[test]
fn bad_numbers() {
    let err = error(&format!("[paging]\nmax_page_size = 0\n{SERVICE}"));
    assert_names(&err, 2, "bad value 0 for `paging.max_page_size`");
    let err = error(&format!(
        "[paging]\ndefault_page_size = 500\nmax_page_size = 100\n{SERVICE}"
    ));
    assert_names(&err, 2, "must not exceed paging.max_page_size");
    let err = error(&format!("[upstream]\nmax_limit = \"many\"\n{SERVICE}"));
    assert_names(&err, 2, "invalid type");
    let err = error(&format!("[upstream]\naccept_gzip = \"yes\"\n{SERVICE}"));
    assert_names(&err, 2, "invalid type");
    let err = error(&format!("compression_level = 10\n{SERVICE}"));
    assert_names(
        &err,
        1,
        "bad value 10 for `compression_level`: must be between 0 and 9",
    );
    let err = error(&format!("header_read_timeout_ms = 0\n{SERVICE}"));
    assert_names(
        &err,
        1,
        "bad value 0 for `header_read_timeout_ms`: must be between 100 and 3600000",
    );
    let err = error(&format!("shutdown_grace_ms = -1\n{SERVICE}"));
    assert_names(&err, 1, "bad value -1 for `shutdown_grace_ms`");
}

#[test]
fn toml_syntax_error() {
    let err = error(&format!("{SERVICE}name = \n"));
    assert!(matches!(err, ConfigError::Syntax { .. }), "{err:?}");
    assert_names(&err, 9, "");
}

#[test]
fn unknown_key() {
    let err = error(&format!("[cache]\nttl = 5\n{SERVICE}"));
    assert_names(&err, 2, "unknown field `ttl`");
}

#[test]
fn bad_type_override() {
    let text = format!(
        "{SERVICE}properties = {{ Name = {{ field = \"lastname\", type = \"Edm.Date\" }} }}\n"
    );
    let err = error(&text);
    assert_names(&err, 9, "not a time stamp or date");
    let text = format!(
        "{SERVICE}properties = {{ Day = {{ field = \"creationdate\", type = \"Edm.Int32\" }} }}\n"
    );
    let err = error(&text);
    assert_names(&err, 9, "type `Edm.Int32` is not supported");
}

#[test]
fn missing_env_secret() {
    let err = error(&format!(
        "[paging]\nskiptoken_secret = \"env:ZEYOS_ODATA_TEST_SURELY_UNSET\"\n{SERVICE}"
    ));
    assert_names(
        &err,
        2,
        "environment variable `ZEYOS_ODATA_TEST_SURELY_UNSET`",
    );
}

#[test]
fn unsupported_name_that_is_a_property() {
    let err = error(&format!("{SERVICE}unsupported = {{ LastName = \"no\" }}\n"));
    assert_names(&err, 9, "duplicate unsupported name `LastName`");
}

#[test]
fn read_error_names_the_file() {
    let err = Config::load("/nonexistent/zeyos-odata.toml").unwrap_err();
    assert!(
        err.to_string()
            .starts_with("/nonexistent/zeyos-odata.toml: cannot read"),
        "{err}"
    );
}

#[test]
fn expose_all_with_an_extra_filtered_set() {
    let text = r#"
[[service]]
name = "odata"
root = "/odata/"
expose = "all"
exclude_entities = ["links"]

[[service.entity_set]]
name = "Invoices"
entity = "transactions"
type = "Invoice"
base_filter = { type = ["BILLING_INVOICE", "BILLING_CREDIT"] }
"#;
    let config = Config::from_str(text, "t.toml").unwrap_or_else(|e| panic!("{e}"));
    let model = &config.service_models().unwrap()[0];
    assert_eq!(model.entity_sets.len(), 58);
    assert!(model.entity_set("Links").is_none());
    let (_, invoices) = model.entity_set("Invoices").unwrap();
    assert_eq!(
        invoices.base_filter[0].values,
        vec![serde_json::json!(3), serde_json::json!(4)]
    );
    let (accounts_id, accounts) = model.entity_set("Accounts").unwrap();
    let account = model.entity_type(accounts.entity_type);
    // Transactions stays the canonical set; Invoices adds a reverse collection.
    assert_eq!(
        account
            .navigation_property("Transactions")
            .unwrap()
            .partner
            .as_deref(),
        Some("Account")
    );
    // Invoice/Account pairs with Account/Invoices, as Transaction/Account
    // pairs with Account/Transactions.
    assert_eq!(
        account
            .navigation_property("Invoices")
            .unwrap()
            .partner
            .as_deref(),
        Some("Account")
    );
    let target = model.navigation_target(accounts_id, "Invoices").unwrap();
    assert_eq!(model.set(target).name, "Invoices");
}
