//! Binder tests against the shipped model.

use super::binder::{Binder, ExpandLimits};
use super::expr::BoundExpr;
use super::query::{BoundRequest, PropertyForm, Resource};
use crate::edm::ServiceModel;
use crate::error::GatewayError;

fn model(name: &str) -> ServiceModel {
    let config = crate::config::Config::default_for_demo("http://127.0.0.1:1").unwrap();
    config
        .service_models()
        .unwrap()
        .into_iter()
        .find(|m| m.name == name)
        .unwrap()
}

fn bind(m: &ServiceModel, target: &str) -> Result<BoundRequest, GatewayError> {
    let uri = odata_syntax::parse_uri(target, &odata_syntax::Limits::default())
        .map_err(|e| GatewayError::bad_request("InvalidSyntax", e.to_string(), None::<String>))?;
    Binder::new(m, &uri.query.aliases, ExpandLimits::default()).bind(&uri)
}

#[test]
fn binds_entity_sets_keys_and_navigation() {
    let m = model("odata");
    assert!(matches!(
        bind(&m, "Accounts").unwrap().resource,
        Resource::Collection(_)
    ));
    assert!(matches!(
        bind(&m, "Accounts(1)").unwrap().resource,
        Resource::Entity(_)
    ));
    assert!(matches!(
        bind(&m, "Accounts/1").unwrap().resource,
        Resource::Entity(_)
    ));
    assert!(matches!(
        bind(&m, "Accounts(Id=1)").unwrap().resource,
        Resource::Entity(_)
    ));
    assert!(matches!(
        bind(&m, "Accounts/$count").unwrap().resource,
        Resource::Count(_)
    ));
    assert!(matches!(
        bind(&m, "Accounts(1)/Transactions").unwrap().resource,
        Resource::Collection(ref c) if c.parent.is_some()
    ));
    assert!(matches!(
        bind(&m, "Accounts(1)/Contact").unwrap().resource,
        Resource::Entity(_)
    ));
    assert!(matches!(
        bind(&m, "Accounts(1)/LastName/$value").unwrap().resource,
        Resource::Property {
            form: PropertyForm::Raw,
            ..
        }
    ));
    let items = bind(&m, "Transactions(1)/Items?$search=x").unwrap_err();
    assert_eq!(items.status(), 501, "{items}");
    let shape = bind(&m, "Transactions(1)/Items?$select=Name,Amount,Name")
        .unwrap()
        .shape;
    assert_eq!(shape.select.map(|s| s.len()), Some(2));
    let all = bind(&m, "Transactions(1)/Items?$select=Name,*")
        .unwrap()
        .shape;
    assert_eq!(all.select, None);
    let nope = bind(&m, "Transactions(1)/Items?$select=*,Nope").unwrap_err();
    assert_eq!(nope.status(), 400, "{nope}");
    let path = bind(&m, "Transactions(1)/Items?$select=References/x").unwrap_err();
    assert_eq!(path.status(), 501, "{path}");
    let unknown = bind(&m, "Transactions(1)/Items?$filter=Nope eq 1").unwrap_err();
    assert_eq!(unknown.status(), 400, "{unknown}");
    let shape = bind(
        &m,
        "Transactions(1)/Items/$count?$filter=$it/Amount gt 5&$orderby=Name",
    )
    .unwrap()
    .shape;
    assert!(shape.filter.is_some() && shape.orderby.is_empty());
    let shape = bind(
        &m,
        "Transactions(1)/Items?$filter=Amount gt 5&$orderby=Name desc",
    )
    .unwrap()
    .shape;
    assert!(shape.filter.is_some() && shape.orderby.len() == 1 && shape.orderby[0].descending);
    assert!(matches!(
        bind(&m, "Transactions(1)/Items/$count").unwrap().resource,
        Resource::Property {
            form: PropertyForm::Count,
            ..
        }
    ));
    let shape = bind(&m, "Transactions(1)/Items?$top=2&$skip=1&$count=true")
        .unwrap()
        .shape;
    assert_eq!(
        (shape.top, shape.skip, shape.count),
        (Some(2), Some(1), true)
    );
    assert_eq!(
        bind(&m, "Accounts(1)/LastName/$count")
            .unwrap_err()
            .status(),
        400
    );
    assert_eq!(
        bind(&m, "Accounts(1)/LastName?$top=1")
            .unwrap_err()
            .status(),
        400
    );
    assert_eq!(bind(&m, "Nope").unwrap_err().status(), 404);
    assert_eq!(bind(&m, "Accounts('x')").unwrap_err().status(), 400);
    assert_eq!(bind(&m, "$batch").unwrap_err().status(), 405);
    assert_eq!(bind(&m, "Accounts?$index=1").unwrap_err().status(), 400);
    let e = bind(&m, "Accounts?$select=Contact/City").unwrap_err();
    assert_eq!(e.status(), 400);
    assert!(e.to_string().contains("$expand=Contact($select="), "{e}");
}

#[test]
fn binds_filters_with_types_and_enums() {
    let m = model("odata");
    for f in [
        "Type eq 'CUSTOMER'",
        "Type eq ZeyOS.AccountType'CUSTOMER'",
        "Type eq 1",
        "Type in ('CUSTOMER','SUPPLIER')",
        "LastName eq 'x' and not (CreatedOn gt 2018-01-26T18:15:00+01:00)",
        "UpdatedOn ge 2018-01-26",
        "contains(tolower(LastName),'a')",
        "Contact/City eq 'London'",
        "Transactions/any(t: t/NetAmount gt 1000)",
        "Transactions/all(t: t/Contract/Name eq 'Berlin')",
        "Locked",
        "year(CreatedOn) eq 2020",
        "Type has 'CUSTOMER'",
        "Type has ZeyOS.AccountType'CUSTOMER'",
        "Type has '1'",
    ] {
        let r = bind(&m, &format!("Accounts?$filter={f}"));
        assert!(r.is_ok(), "{f}: {:?}", r.err());
    }
    for (f, status) in [
        ("Type eq 'NOPE'", 400),
        ("Type has 'NOPE'", 400),
        ("LastName has 'CUSTOMER'", 400),
        ("Type has ZeyOS.ContactType'COMPANY'", 400),
        ("LastName eq 5", 400),
        ("Nope eq 1", 400),
        ("LastName", 400),
        ("geo.distance(LastName, LastName) lt 1", 501),
        ("Contact/AssignedUser/Name eq 'x'", 501),
        // Typos and paths that cannot exist are bad requests, not
        // features this service lacks.
        ("toower(LastName) eq 'x'", 400),
        ("LastName/Length eq 1", 400),
        ("Transactions eq null", 400),
        ("Transactions/NetAmount gt 1", 400),
    ] {
        let e = bind(&m, &format!("Accounts?$filter={f}")).unwrap_err();
        assert_eq!(e.status(), status, "{f}: {e}");
    }
}

#[test]
fn hq_profile_names_and_unsupported_features() {
    let m = model("hq");
    assert!(bind(
        &m,
        "Companies?$filter=UpdatedOn gt 2018-01-26T18:15:00+01:00"
    )
    .is_ok());
    assert!(bind(
        &m,
        "Invoices?$filter=InvoiceDate ge 2018-03-01 and InvoiceDate lt 2018-04-01"
    )
    .is_ok());
    assert!(bind(&m, "Companies?$expand=DefaultAddress").is_ok());
    let e = bind(&m, "Companies?$expand=DefaultAddress,CompanyTypes").unwrap_err();
    assert_eq!(e.status(), 501);
    let e = bind(&m, "Companies?$filter=CompanyTypes/any(c: c/Id eq 4002)").unwrap_err();
    assert_eq!(e.status(), 501);
    let e = bind(&m, "Invoices?$expand=Positions($expand=CustomFields)").unwrap_err();
    assert_eq!(e.status(), 501, "{e}");
    let e = bind(&m, "Invoices(1)/DocumentFile/$value").unwrap_err();
    assert_eq!(e.status(), 501, "{e}");
}

#[test]
fn aliases_are_substituted() {
    let m = model("odata");
    let r = bind(&m, "Accounts?$filter=LastName eq @n&@n='Doe'").unwrap();
    let f = r.shape.filter.unwrap();
    assert!(matches!(f, BoundExpr::Compare(..)));
}

/// `Contact eq null`: a to-one navigation property compared with null
/// binds to the related entity's key through ZeyOS's join; anything else
/// done with the entity stays unsupported.
#[test]
fn to_one_navigation_compared_with_null() {
    let m = model("odata");
    let key_path = |filter: &str| {
        let bound = bind(&m, &format!("Accounts?$filter={filter}")).unwrap();
        format!("{:?}", bound.shape.filter.expect("a filter"))
    };
    for filter in [
        "Contact eq null",
        "null ne Contact",
        "not (Contact ne null)",
    ] {
        assert!(
            key_path(filter).contains("upstream: \"contact.ID\""),
            "{filter}"
        );
    }
    for (filter, status) in [
        ("Contact eq 1", 501),
        ("Contact/Creator eq null", 501),
        ("Contact eq Contact", 501),
        ("Transactions eq null", 400),
    ] {
        let err = bind(&m, &format!("Accounts?$filter={filter}")).unwrap_err();
        assert_eq!(err.status().as_u16(), status, "{filter}: {err}");
    }
}

/// `Transactions/$count` and `Items/$count` are numbers; inside
/// `$count($filter=...)` bare names are the member's properties and `$it`
/// the entity filtered; ordering by related entities is refused as
/// unsupported, not as a bad request.
#[test]
fn counts_of_collections_in_expressions() {
    use super::expr::{PathRoot, Quantifier};
    let m = model("odata");
    let filter = |url: &str| bind(&m, url).map(|b| b.shape.filter.expect("a filter"));
    let Ok(BoundExpr::Compare(_, count, _)) =
        filter("Accounts?$filter=Transactions/$count($filter=NetAmount gt $it/Id) gt 2")
    else {
        panic!("not a comparison");
    };
    let BoundExpr::Lambda(l) = *count else {
        panic!("not a count: {count:?}");
    };
    assert_eq!(l.quantifier, Quantifier::Count);
    let Some(predicate) = l.predicate else {
        panic!("no predicate")
    };
    let BoundExpr::Compare(_, member, outer) = *predicate else {
        panic!("not a comparison: {predicate:?}");
    };
    assert!(
        matches!(*member, BoundExpr::Property(ref p) if p.root == PathRoot::Var(0) && p.text == "NetAmount")
    );
    assert!(
        matches!(*outer, BoundExpr::Property(ref p) if p.root == PathRoot::It && p.text == "Id")
    );
    assert!(filter("Transactions?$filter=Items/$count($filter=Amount gt 1) eq 0").is_ok());
    for (url, status) in [
        ("Accounts?$filter=Transactions/$count", 400),
        ("Accounts?$filter=Transactions/$count eq 'x'", 400),
        (
            "Accounts?$filter=Transactions/$count($filter=Nope eq 1) gt 0",
            400,
        ),
        (
            "Accounts?$expand=Transactions($orderby=Payments/$count)",
            501,
        ),
        ("Accounts?$filter=Transactions/$count($search=x) gt 0", 501),
        ("Accounts?$filter=Transactions/$count/x gt 0", 501),
        ("Notes?$filter=Attachments/$count gt 0", 501),
        ("Notes?$filter=Attachments/any(a: a eq 'x')", 501),
    ] {
        let err = bind(&m, url).unwrap_err();
        assert_eq!(err.status().as_u16(), status, "{url}: {err}");
    }
}

/// `Contact eq null` binds to ZeyOS's join on the related key, which is
/// exact only if no to-one navigation leads to an entity type whose set
/// shows some of its rows (a base filter the join would not check). The
/// model builder routes to-one navigation to an entity's canonical,
/// unfiltered type; this checks it for the shipped services and for a
/// service that adds a filtered set of transactions.
#[test]
fn to_one_navigation_never_leads_to_a_filtered_set() {
    let text = r#"
[[service]]
name = "odata"
root = "/odata/"
expose = "all"

[[service.entity_set]]
name = "Invoices"
entity = "transactions"
type = "Invoice"
base_filter = { type = "BILLING_INVOICE" }
"#;
    let extra = crate::config::Config::from_str(text, "t.toml").unwrap();
    let mut models = extra.service_models().unwrap();
    models.push(model("odata"));
    models.push(model("hq"));
    let mut to_one = 0;
    for m in &models {
        for ty in &m.entity_types {
            for nav in ty.navigation.iter().filter(|n| !n.collection) {
                to_one += 1;
                let filtered = m
                    .entity_sets
                    .iter()
                    .find(|es| es.entity_type == nav.target && !es.base_filter.is_empty());
                assert!(
                    filtered.is_none(),
                    "{}.{} leads to {}, a filtered set",
                    ty.name,
                    nav.name,
                    filtered.map_or("", |es| es.name.as_str())
                );
            }
        }
    }
    assert!(
        to_one > 100,
        "{to_one} to-one navigation properties checked"
    );
}

/// The id of `$entity?$id=...` is a URL inside the URL: it is parsed with
/// the limits configured for request URLs, not the parser's defaults.
#[test]
fn entity_ids_are_parsed_with_the_configured_limits() {
    let m = model("odata");
    let uri = odata_syntax::parse_uri("$entity?$id=Accounts(1)", &odata_syntax::Limits::default())
        .unwrap();
    let bind_with = |max_url_length| {
        Binder::new(&m, &uri.query.aliases, ExpandLimits::default())
            .with_syntax_limits(odata_syntax::Limits {
                max_url_length,
                ..odata_syntax::Limits::default()
            })
            .bind(&uri)
    };
    assert!(matches!(
        bind_with(64).unwrap().resource,
        Resource::Entity(_)
    ));
    let refused = bind_with(5).err().unwrap();
    assert_eq!(refused.code(), "InvalidId", "{refused:?}");
}

/// `$metadata` announces in `Capabilities.FilterFunctions` what Power
/// Query may fold into `$filter`: every operator and function listed must
/// bind, and every canonical function not listed must be refused with 501,
/// so that the list can neither promise too much nor hide what works.
#[test]
fn the_announced_filter_functions_are_exactly_those_that_bind() {
    let m = model("odata");
    let sample = |name: &str| -> Option<&'static str> {
        Some(match name {
            "eq" => "Id eq 1",
            "ne" => "Id ne 1",
            "gt" => "Id gt 1",
            "ge" => "Id ge 1",
            "lt" => "Id lt 1",
            "le" => "Id le 1",
            "and" => "Id gt 1 and Id lt 5",
            "or" => "Id lt 1 or Id gt 5",
            "not" => "not (Id eq 1)",
            "in" => "Id in (1,2)",
            "has" => "Type has ZeyOS.AccountType'CUSTOMER'",
            "add" => "Id add 1 gt 2",
            "sub" => "Id sub 1 gt 2",
            "mul" => "Id mul 2 gt 2",
            "div" => "Id div 2 gt 2",
            "divby" => "Id divby 2 gt 2",
            "mod" => "Id mod 2 eq 0",
            "any" => "Transactions/any(t: t/Id gt 1)",
            "all" => "Transactions/all(t: t/Id gt 1)",
            "concat" => "concat(LastName,'x') eq 'yx'",
            "contains" => "contains(LastName,'x')",
            "endswith" => "endswith(LastName,'x')",
            "startswith" => "startswith(LastName,'x')",
            "indexof" => "indexof(LastName,'x') eq 1",
            "length" => "length(LastName) gt 1",
            "matchesPattern" => "matchesPattern(LastName,'^A')",
            "substring" => "substring(LastName,1) eq 'x'",
            "tolower" => "tolower(LastName) eq 'x'",
            "toupper" => "toupper(LastName) eq 'X'",
            "trim" => "trim(LastName) eq 'x'",
            "year" => "year(CreatedOn) eq 2020",
            "month" => "month(CreatedOn) eq 1",
            "day" => "day(CreatedOn) eq 1",
            "hour" => "hour(CreatedOn) eq 1",
            "minute" => "minute(CreatedOn) eq 1",
            "second" => "second(CreatedOn) eq 1",
            "fractionalseconds" => "fractionalseconds(CreatedOn) eq 0",
            "totalseconds" => "totalseconds(duration'PT1S') eq 1",
            "date" => "date(CreatedOn) eq 2020-01-01",
            "time" => "time(CreatedOn) eq 12:00:00",
            "totaloffsetminutes" => "totaloffsetminutes(CreatedOn) eq 0",
            "mindatetime" => "CreatedOn gt mindatetime()",
            "maxdatetime" => "CreatedOn lt maxdatetime()",
            "now" => "CreatedOn lt now()",
            "round" => "round(1.5) eq 2",
            "floor" => "floor(1.5) eq 1",
            "ceiling" => "ceiling(1.5) eq 2",
            _ => return None,
        })
    };
    let announced = super::filter_functions();
    for name in &announced {
        let filter = sample(name).unwrap_or_else(|| panic!("no sample filter for `{name}`"));
        if let Err(e) = bind(&m, &format!("Accounts?$filter={filter}")) {
            panic!("`{name}` is announced, but `{filter}` fails: {e}");
        }
    }
    for name in odata_syntax::ast::Function::NAMES {
        if announced.contains(name) {
            continue;
        }
        let function = odata_syntax::ast::Function::from_name(name).unwrap();
        let args = vec!["LastName"; function.arity().0.max(1)].join(",");
        let url = format!("Accounts?$filter={name}({args}) eq null");
        match bind(&m, &url) {
            Err(e) if e.status().as_u16() == 501 => {}
            other => panic!(
                "`{name}` is not announced, but `{url}` gives {:?}",
                other.err()
            ),
        }
    }
}

/// Inside a nested `$expand`, `$it` is the entity the URL addresses, not
/// the related row: refused rather than silently read as `$this`.
#[test]
fn it_inside_an_expansion_is_refused_and_this_is_the_related_row() {
    let m = model("odata");
    for url in [
        "Accounts(5)?$expand=Transactions($filter=$it/Id eq 5)",
        "Accounts?$expand=Transactions($orderby=$it/LastName)",
        "Accounts?$expand=Contact($expand=Accounts($filter=$it/Id eq 1))",
    ] {
        let err = bind(&m, url).unwrap_err();
        assert_eq!(err.status().as_u16(), 501, "{url}: {err}");
    }
    for url in [
        "Accounts(5)?$expand=Transactions($filter=$this/Id eq 5)",
        "Accounts?$filter=$it/Id eq 5",
        "Accounts?$filter=Transactions/any(t: t/Id eq $it/Id)",
        "Transactions(1)/Items?$filter=$it/Amount gt 1",
    ] {
        if let Err(e) = bind(&m, url) {
            panic!("{url}: {e}");
        }
    }
}

/// `$id` outside `$entity` would be ignored by a read: refused instead.
#[test]
fn id_outside_entity_is_refused() {
    let m = model("odata");
    for url in ["Accounts?$id=Accounts(5)", "Accounts(5)?$id=Accounts(5)"] {
        let err = bind(&m, url).unwrap_err();
        assert_eq!(err.status().as_u16(), 400, "{url}: {err}");
    }
    assert!(bind(&m, "$entity?$id=Accounts(5)").is_ok());
}

/// Keys are Edm.Int32: a number outside its range is a bad key (400), not
/// an entity that happens not to exist (404).
#[test]
fn keys_outside_int32_are_bad_requests() {
    let m = model("odata");
    for url in [
        "Accounts(2147483648)",
        "Accounts(-2147483649)",
        "Accounts(Id=4294967296)/Contact",
    ] {
        let err = bind(&m, url).unwrap_err();
        assert_eq!(err.status().as_u16(), 400, "{url}: {err}");
    }
    assert!(bind(&m, "Accounts(2147483647)").is_ok());
}
