//! Every example URL of the HQ API guide (shared/reference/
//! hellohq-api-guide.txt, sections "Expand", "Filter" and "Response Types")
//! against the HQ profile at `/v1/`: where ZeyOS has the data, a 200 whose
//! rows equal the oracle's; where it has not (company types, custom fields
//! of line items, rendered documents), a 501 OData error naming what is
//! missing. The guide's OAuth endpoints (`/Account/Authorize`, `/Token`)
//! are not OData URLs: the gateway takes ZeyOS credentials instead.

mod common;

use common::compare::{diff, fetch, oracle_for, Got};
use common::oracle::Answer;
use common::Env;
use serde_json::Value as Json;

/// The guide's URLs whose data ZeyOS has, as the guide writes them (the
/// second one with its raw `+`, which a query string decodes to a space).
const SERVED: [&str; 4] = [
    // Expand: "Expand one property".
    "/v1/Companies?$expand=DefaultAddress",
    // Filter: "Filter by date and time".
    "/v1/Companies?$filter=UpdatedOn ge 2018-01-26",
    "/v1/Companies?$filter=UpdatedOn gt 2018-01-26T18:15:00+01:00",
    "/v1/Invoices?$filter=InvoiceDate ge 2018-03-01 and InvoiceDate lt 2018-04-01",
];

/// The guide's URLs that need data ZeyOS does not have, with the name the
/// error must point at.
const UNSUPPORTED: [(&str, &str); 6] = [
    // Expand: "Expand multiple properties".
    ("/v1/Companies?$expand=DefaultAddress,CompanyTypes", "CompanyTypes"),
    // Expand: "Expand multiple levels".
    (
        "/v1/Invoices?$expand=Positions($expand=CustomFields)",
        "CustomFields",
    ),
    // Filter: "Filter by CompanyType".
    (
        "/v1/Companies?$expand=CompanyTypes&$filter=CompanyTypes/any(companyType: companyType/Id eq 4002)",
        "CompanyTypes",
    ),
    (
        "/v1/Companies?$expand=CompanyTypes&$filter=CompanyTypes/any(companyType: companyType/Name eq 'Lieferant')",
        "CompanyTypes",
    ),
    // Response Types: the document file of an invoice, metadata and PDF.
    ("/v1/Invoices(ID)/DocumentFile", "DocumentFile"),
    ("/v1/Invoices(ID)/DocumentFile/$value", "DocumentFile"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hq_guide_examples_answer_as_documented() {
    let env = Env::start(200, |_| {}).await;
    let oracle = oracle_for(&env).await;
    let mut failures = Vec::new();

    for url in SERVED {
        let expected = match oracle.evaluate(url) {
            Ok(a) => a,
            Err(e) => {
                failures.push(format!("{url}: the oracle cannot evaluate it: {e}"));
                continue;
            }
        };
        match &expected {
            Answer::Collection { keys, .. } if keys.is_empty() => {
                failures.push(format!("{url}: the data set has no matching rows"))
            }
            _ => {}
        }
        match fetch(&env, url, None).await {
            Ok(got) => {
                if let Some(d) = diff(&expected, &got, false) {
                    failures.push(format!("{url}: {d}"));
                }
            }
            Err(e) => failures.push(format!("{url}: {e}")),
        }
    }

    // The raw `+01:00` means what `%2B01:00` and 17:15Z mean.
    let ids = |got: Got| match got {
        Got::Rows { rows, .. } => rows
            .iter()
            .map(|r| r["Id"].as_i64().unwrap_or(-1))
            .collect::<Vec<_>>(),
        Got::Count(_) => Vec::new(),
    };
    let mut same_instant = Vec::new();
    for url in [
        "/v1/Companies?$filter=UpdatedOn gt 2018-01-26T18:15:00+01:00",
        "/v1/Companies?$filter=UpdatedOn gt 2018-01-26T18:15:00%2B01:00",
        "/v1/Companies?$filter=UpdatedOn gt 2018-01-26T17:15:00Z",
    ] {
        same_instant.push(ids(fetch(&env, url, None).await.unwrap_or(Got::Count(0))));
    }
    if same_instant[0] != same_instant[1] || same_instant[0] != same_instant[2] {
        failures.push("the raw +01:00 offset does not mean 17:15Z".into());
    }

    let invoice = match fetch(&env, "/v1/Invoices?$top=1&$select=Id", None).await {
        Ok(Got::Rows { rows, .. }) => rows
            .first()
            .and_then(|r| r["Id"].as_i64())
            .expect("an invoice exists"),
        _ => panic!("invoices are readable"),
    };
    for (url, missing) in UNSUPPORTED {
        let url = url.replace("(ID)", &format!("({invoice})"));
        let r = env.get(&url).await;
        if r.status != 501 {
            failures.push(format!(
                "{url}: expected 501, got {}: {}",
                r.status,
                r.text()
            ));
            continue;
        }
        let Ok(j) = serde_json::from_slice::<Json>(&r.body) else {
            failures.push(format!("{url}: the 501 body is not JSON: {}", r.text()));
            continue;
        };
        let error = &j["error"];
        let names_it = error["target"]
            .as_str()
            .is_some_and(|t| t.contains(missing));
        let says_why = error["message"]
            .as_str()
            .is_some_and(|m| m.len() > 20 && !m.contains("not implemented"));
        if error["code"] != "NotImplemented" || !names_it || !says_why {
            failures.push(format!(
                "{url}: the error should be NotImplemented, target {missing} and say what ZeyOS lacks: {error}"
            ));
        }
    }

    env.stop().await;
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A feature the profile marks unsupported gets its configured message
/// when addressed as a path too, not a 404 that claims it does not exist.
#[tokio::test]
async fn an_unsupported_feature_inside_a_property_is_501_as_a_path() {
    let env = Env::start(50, |_| {}).await;
    let expanded = env
        .get("/v1/Invoices?$expand=Positions($expand=CustomFields)")
        .await;
    assert_eq!(expanded.status, 501, "{}", expanded.text());
    let message = expanded.json()["error"]["message"].clone();
    let invoice = env.get("/v1/Invoices?$top=1&$select=Id").await.json()["value"][0]["Id"]
        .as_i64()
        .expect("an invoice exists");
    let path = env
        .get(&format!("/v1/Invoices({invoice})/Positions/CustomFields"))
        .await;
    assert_eq!(path.status, 501, "{}", path.text());
    let error = path.json();
    assert_eq!(error["error"]["message"], message, "{error}");
    assert_eq!(error["error"]["target"], "CustomFields", "{error}");
    // Anything else inside the line items is still not there.
    let other = env
        .get(&format!("/v1/Invoices({invoice})/Positions/Nothing"))
        .await;
    assert_eq!(other.status, 404, "{}", other.text());
    env.stop().await;
}
