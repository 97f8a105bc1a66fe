//! `$expand` and navigation without N+1 upstream requests: counted at the
//! simulator.

mod common;

use common::{basic, Env};

/// Upstream API requests (not logins) the last gateway request made.
fn api_calls(env: &Env) -> Vec<String> {
    env.sim
        .request_log()
        .into_iter()
        .filter(|r| r.path.contains("/api/v1/"))
        .map(|r| format!("{} {} {}", r.method, r.path, r.body))
        .collect()
}

/// Every transaction's `Id` and `Items` as the gateway renders them, in
/// one page: what the line-item tests evaluate their queries over.
async fn transactions_with_items(env: &Env) -> serde_json::Value {
    env.get_with(
        "/odata/Transactions?$select=Id,Items",
        &[
            ("authorization", basic("demo", "demo")),
            ("prefer", "odata.maxpagesize=10000".into()),
        ],
    )
    .await
    .json()
}

async fn counted(env: &Env, path: &str) -> (serde_json::Value, Vec<String>) {
    // The same request first, so that neither the login nor the questions
    // about the entities its joins reach (asked once a minute per user,
    // `exec::join_access`) are counted: the count is the plan's.
    let _ = env.get(path).await;
    env.sim.reset_request_count();
    let r = env
        .get_with(
            path,
            &[
                ("authorization", basic("demo", "demo")),
                ("prefer", "odata.maxpagesize=1000".into()),
                // Every read from ZeyOS, so that the count is the plan's,
                // not what earlier requests left in the response cache.
                ("cache-control", "no-cache".into()),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{path}: {}", r.text());
    (r.json(), api_calls(env))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn to_many_expand_costs_one_request_per_batch_of_parents() {
    let env = Env::start(300, |c| c.limits.expand_batch_size = 40).await;
    for n in [1usize, 39, 40, 41, 250] {
        let (j, calls) = counted(
            &env,
            &format!(
                "/odata/Accounts?$top={n}&$select=Id&$expand=Transactions($select=Id,NetAmount)"
            ),
        )
        .await;
        let rows = j["value"].as_array().unwrap();
        assert_eq!(rows.len(), n);
        let expected = 1 + n.div_ceil(40);
        assert_eq!(calls.len(), expected, "{n} parents: {calls:#?}");
        let tx = env.sim.rows("transactions");
        for r in rows {
            let mine = tx.iter().filter(|t| t["account"] == r["Id"]).count();
            assert_eq!(r["Transactions"].as_array().unwrap().len(), mine, "{r}");
        }
    }
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn to_one_expand_through_a_join_costs_nothing_extra() {
    let env = Env::start(100, |_| {}).await;
    let (j, calls) = counted(
        &env,
        "/odata/Accounts?$top=50&$select=Id,ContactId&$expand=Contact($select=City,Country)",
    )
    .await;
    assert_eq!(calls.len(), 1, "{calls:#?}");
    assert!(calls[0].contains("contact.city"), "{}", calls[0]);
    let contacts = env.sim.rows("contacts");
    for a in j["value"].as_array().unwrap() {
        match a["ContactId"].as_i64() {
            Some(id) => {
                let c = contacts.iter().find(|c| c["ID"] == id).unwrap();
                assert_eq!(a["Contact"]["City"], c["city"], "{a}");
                assert_eq!(a["Contact"]["Id"], id);
            }
            None => assert!(a["Contact"].is_null(), "{a}"),
        }
    }
    // The HQ profile's DefaultAddress is the account's contact.
    let (j, calls) = counted(&env, "/v1/Companies?$top=5&$expand=DefaultAddress").await;
    assert_eq!(calls.len(), 1, "{calls:#?}");
    assert!(j["value"][0].get("DefaultAddress").is_some());
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nested_expand_is_batched_per_level() {
    let env = Env::start(200, |c| c.limits.expand_batch_size = 50).await;
    // 20 accounts -> 200 transactions -> their payments (to-many, level 2),
    // and each transaction's contract (to-one through a join).
    let (j, calls) = counted(
        &env,
        "/odata/Accounts?$top=20&$select=Id&$expand=Transactions($select=Id;$expand=Payments($select=Id,Amount),Contract($select=Name))",
    )
    .await;
    // 1 for the accounts, ceil(20/50) for their transactions and
    // ceil(transactions/50) for the payments; the contracts come through a
    // join.
    let transactions = env
        .sim
        .rows("transactions")
        .iter()
        .filter(|t| t["account"].as_i64().is_some_and(|a| a <= 20))
        .count();
    assert_eq!(calls.len(), 1 + 1 + transactions.div_ceil(50), "{calls:#?}");
    let t = &j["value"][0]["Transactions"][0];
    assert!(
        t.get("Payments").is_some() && t.get("Contract").is_some(),
        "{t}"
    );
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nested_options_apply_per_parent() {
    let env = Env::start(60, |_| {}).await;
    let (j, _) = counted(
        &env,
        "/odata/Accounts?$top=10&$select=Id&$expand=Transactions($filter=NetAmount gt 1000;$orderby=NetAmount desc;$top=3;$skip=1;$count=true;$select=Id,NetAmount)",
    )
    .await;
    let tx = env.sim.rows("transactions");
    for a in j["value"].as_array().unwrap() {
        let id = a["Id"].as_i64().unwrap();
        let mut mine: Vec<(f64, i64)> = tx
            .iter()
            .filter(|t| t["account"] == id && t["netamount"].as_f64().is_some_and(|n| n > 1000.0))
            .map(|t| (t["netamount"].as_f64().unwrap(), t["ID"].as_i64().unwrap()))
            .collect();
        mine.sort_by(|a, b| b.0.partial_cmp(&a.0).unwrap().then(a.1.cmp(&b.1)));
        let expected: Vec<i64> = mine.iter().skip(1).take(3).map(|x| x.1).collect();
        let got: Vec<i64> = a["Transactions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["Id"].as_i64().unwrap())
            .collect();
        assert_eq!(got, expected, "account {id}");
        assert_eq!(
            a["Transactions@odata.count"].as_u64().unwrap() as usize,
            mine.len()
        );
    }
    env.stop().await;
}

#[tokio::test]
async fn expand_limits_are_enforced() {
    let env = Env::start(20, |c| {
        c.limits.max_expand_depth = 2;
        c.limits.max_expand_breadth = 2;
    })
    .await;
    let r = env
        .get("/odata/Accounts?$expand=Transactions($expand=Payments($expand=Ledger))")
        .await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(r.json()["error"]["code"], "ExpandTooDeep");
    let r = env
        .get("/odata/Accounts?$expand=Contact,AssignedUser,Transactions")
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"]["code"], "ExpandTooBroad");
    let r = env.get("/odata/Accounts?$expand=Nope").await;
    assert_eq!(r.status, 400);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lambdas_are_semi_joins_not_per_row_requests() {
    let env = Env::start(300, |_| {}).await;
    let (j, calls) = counted(
        &env,
        "/odata/Accounts?$filter=Transactions/any(t: t/NetAmount gt 15000)&$select=Id&$count=true",
    )
    .await;
    // One distinct-keys request on transactions, then the accounts (and
    // their count).
    assert!(calls.len() <= 3, "{calls:#?}");
    let tx = env.sim.rows("transactions");
    let mut expected: Vec<i64> = tx
        .iter()
        .filter(|t| t["netamount"].as_f64().is_some_and(|n| n > 15000.0))
        .filter_map(|t| t["account"].as_i64())
        .collect();
    expected.sort();
    expected.dedup();
    assert_eq!(j["@odata.count"].as_u64().unwrap() as usize, expected.len());
    // A predicate ZeyOS cannot evaluate: children fetched per batch of
    // parents, not per parent.
    let (_, calls) = counted(
        &env,
        "/odata/Accounts?$filter=Transactions/any(t: length(t/TransactionNumber) gt 12)&$select=Id&$top=300",
    )
    .await;
    assert!(calls.len() <= 2 + 300usize.div_ceil(100), "{}", calls.len());
    env.stop().await;
}

#[tokio::test]
async fn navigation_paths_with_options() {
    let env = Env::start(50, |_| {}).await;
    let r = env
        .get("/odata/Accounts(3)/Transactions?$filter=NetAmount gt 0&$orderby=Id&$select=Id")
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let ids: Vec<i64> = r.json()["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["Id"].as_i64().unwrap())
        .collect();
    let mut expected: Vec<i64> = env
        .sim
        .rows("transactions")
        .iter()
        .filter(|t| t["account"] == 3 && t["netamount"].as_f64().is_some_and(|n| n > 0.0))
        .map(|t| t["ID"].as_i64().unwrap())
        .collect();
    expected.sort();
    assert_eq!(ids, expected);
    let tx = &env.sim.rows("transactions")[4];
    let r = env
        .get(&format!(
            "/odata/Transactions({})/Account?$select=Id",
            tx["ID"]
        ))
        .await;
    match tx["account"].as_i64() {
        Some(a) => assert_eq!(r.json()["Id"], a),
        None => assert_eq!(r.status, 204),
    }
    assert_eq!(
        env.get("/odata/Accounts(999999)/Transactions").await.status,
        404
    );
    let other = env
        .sim
        .rows("transactions")
        .iter()
        .find(|t| t["account"] != 3)
        .unwrap()["ID"]
        .clone();
    assert_eq!(
        env.get(&format!("/odata/Accounts(3)/Transactions({other})"))
            .await
            .status,
        404
    );
    env.stop().await;
}

#[tokio::test]
async fn levels_repeat_the_expansion_within_the_limit() {
    let env = Env::start(100, |c| c.limits.max_expand_depth = 3).await;
    let r = env
        .get("/odata/Items?$top=100&$select=Id,ModelId&$expand=Model($levels=2;$select=Id,ModelId)")
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let items = env.sim.rows("items");
    let by_id = |id: i64| items.iter().find(|i| i["ID"] == id).cloned();
    let page = r.json();
    let rows = page["value"].as_array().unwrap();
    assert!(
        rows.iter().any(|i| i["Model"]["Model"].is_object()),
        "the data should have items whose model has a model"
    );
    for i in rows {
        match i["ModelId"].as_i64() {
            Some(m) => {
                assert_eq!(i["Model"]["Id"], m);
                let second = by_id(m).and_then(|x| x["model"].as_i64());
                match second {
                    Some(m2) => assert_eq!(i["Model"]["Model"]["Id"], m2, "{i}"),
                    None => assert!(i["Model"]["Model"].is_null(), "{i}"),
                }
                // Two levels only.
                assert!(i["Model"]["Model"].get("Model").is_none(), "{i}");
            }
            None => assert!(i["Model"].is_null()),
        }
    }
    let r = env.get("/odata/Items?$expand=Model($levels=max)").await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = env.get("/odata/Items?$expand=Model($levels=9)").await;
    assert_eq!(r.status, 400);
    env.stop().await;
}

#[tokio::test]
async fn line_items_and_extdata_in_select_and_filter() {
    let env = Env::start(60, |_| {}).await;
    // Lambdas over the line items (a collection of complex values).
    let r = env
        .get("/odata/Transactions?$filter=Items/any(i: i/Amount gt 5 and i/TaxRate eq 19)&$select=Id,Items&$top=500")
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let got: Vec<i64> = r.json()["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["Id"].as_i64().unwrap())
        .collect();
    // The line items as the gateway renders them, without a filter.
    let all = transactions_with_items(&env).await;
    let expected: Vec<i64> = all["value"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| {
            t["Items"].as_array().is_some_and(|a| {
                a.iter().any(|i| {
                    i["Amount"].as_f64().is_some_and(|x| x > 5.0)
                        && i["TaxRate"].as_f64() == Some(19.0)
                })
            })
        })
        .map(|t| t["Id"].as_i64().unwrap())
        .take(500)
        .collect();
    assert!(!expected.is_empty());
    assert_eq!(got, expected);
    // extdata: dynamic properties of open types.
    let r = env
        .get("/odata/Accounts?$select=Id,nickname&$filter=nickname ne null&$top=5")
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let page = r.json();
    let rows = page["value"].as_array().unwrap();
    assert!(!rows.is_empty());
    for a in rows {
        assert!(a["nickname"].is_string(), "{a}");
    }
    let id = rows[0]["Id"].as_i64().unwrap();
    let r = env
        .get(&format!("/odata/Accounts({id})?$select=Id,nickname"))
        .await;
    assert_eq!(r.json()["nickname"], rows[0]["nickname"]);
    env.stop().await;
}

/// The context URL names what was selected and every expansion shaped by a
/// nested `$select` or `$expand` (Protocol 10.9, 4.0 rules), so that
/// clients that read the projection from it see the expanded properties.
#[tokio::test]
async fn context_urls_list_selected_and_shaped_expansions() {
    let env = Env::start(20, |_| {}).await;
    for (path, context) in [
        ("Accounts?$select=Id,LastName", "Accounts(Id,LastName)"),
        (
            "Accounts?$select=Id&$expand=Transactions($select=Id)",
            "Accounts(Id,Transactions(Id))",
        ),
        (
            "Accounts?$expand=Transactions($select=Id;$expand=Account($select=Id))",
            "Accounts(Transactions(Id,Account(Id)))",
        ),
        // Expanded without nested options: omitted in a 4.0 response.
        ("Accounts?$select=Id&$expand=Contact", "Accounts(Id)"),
        ("Accounts?$expand=Contact", "Accounts"),
        // A selected navigation property is listed without a suffix.
        ("Accounts?$select=Id,Contact", "Accounts(Id,Contact)"),
        // Selected and expanded with options: named once, with its list.
        (
            "Accounts?$select=Id,Transactions&$expand=Transactions($select=Id;$top=1)",
            "Accounts(Id,Transactions(Id))",
        ),
        (
            "Accounts(1)?$expand=Contact($select=City)",
            "Accounts(Contact(City))/$entity",
        ),
    ] {
        let r = env.get(&format!("/odata/{path}")).await;
        assert_eq!(r.status, 200, "{path}: {}", r.text());
        let want = format!("{}/odata/$metadata#{context}", env.base);
        assert_eq!(r.json()["@odata.context"], want.as_str(), "{path}");
    }
    env.stop().await;
}

/// Full metadata writes a navigation link for every navigation property,
/// unless `$select` is given: then only for those it names (URL
/// Conventions 5.1.3), and never for expanded ones, which are inline.
#[tokio::test]
async fn full_metadata_writes_the_selected_navigation_links() {
    let env = Env::start(20, |_| {}).await;
    let links = |entity: &serde_json::Value| -> Vec<String> {
        let mut names: Vec<String> = entity
            .as_object()
            .into_iter()
            .flatten()
            .filter_map(|(k, _)| k.strip_suffix("@odata.navigationLink"))
            .map(str::to_string)
            .collect();
        names.sort();
        names
    };
    let full = "&$format=application/json;odata.metadata=full";
    let r = env
        .get(&format!(
            "/odata/Accounts(1)?$select=Id,Contact,Transactions{full}"
        ))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(links(&r.json()), ["Contact", "Transactions"]);
    let r = env
        .get(&format!("/odata/Accounts?$top=1&$select=Id{full}"))
        .await;
    assert!(links(&r.json()["value"][0]).is_empty());
    let r = env
        .get(&format!(
            "/odata/Accounts?$top=1&$select=Id,Contact&$expand=Contact{full}"
        ))
        .await;
    assert!(links(&r.json()["value"][0]).is_empty());
    let r = env
        .get(&format!("/odata/Accounts(1)?$expand=Contact{full}"))
        .await;
    let all = links(&r.json());
    assert!(
        all.len() > 3
            && all.contains(&"Transactions".to_string())
            && !all.contains(&"Contact".to_string()),
        "{all:?}"
    );
    env.stop().await;
}

#[tokio::test]
async fn collection_valued_properties_are_collections() {
    let env = Env::start(40, |_| {}).await;
    // One transaction without line items, one whose items are NULL, one
    // whose only item is not an object (a malformed upstream value).
    let conn = rusqlite::Connection::open(env.sim.db_path()).expect("the sim's database opens");
    conn.execute_batch(
        "UPDATE transactions SET items = '[]' WHERE ID = 3; \
         UPDATE transactions SET items = NULL WHERE ID = 4; \
         UPDATE transactions SET items = '[7]' WHERE ID = 5;",
    )
    .expect("line items cleared");
    let all = transactions_with_items(&env).await;
    let rows = all["value"].as_array().unwrap();
    let items_of = |t: &serde_json::Value| t["Items"].as_array().cloned().unwrap_or_default();
    let many = rows
        .iter()
        .find(|t| items_of(t).len() >= 3)
        .expect("a transaction with 3+ items");
    let id = many["Id"].as_i64().unwrap();
    let items = items_of(many);

    // /$count: the number of items, as text.
    let r = env
        .get(&format!("/odata/Transactions({id})/Items/$count"))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    assert_eq!(r.text(), items.len().to_string());

    // The whole collection, then $skip/$top with $count=true: the slice
    // of the same items and the total.
    let r = env.get(&format!("/odata/Transactions({id})/Items")).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["value"].as_array().unwrap(), &items);
    assert!(r.json()["@odata.context"]
        .as_str()
        .unwrap()
        .ends_with(&format!("$metadata#Transactions({id})/Items")));
    let r = env
        .get(&format!(
            "/odata/Transactions({id})/Items?$skip=1&$top=2&$count=true"
        ))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let body = r.json();
    assert_eq!(body["@odata.count"], items.len());
    assert_eq!(body["value"].as_array().unwrap(), &items[1..3]);

    // No items, or NULL, is an empty collection, never 204.
    for eid in [3, 4] {
        let r = env.get(&format!("/odata/Transactions({eid})/Items")).await;
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.json()["value"], serde_json::json!([]));
        let r = env
            .get(&format!("/odata/Transactions({eid})/Items/$count"))
            .await;
        assert_eq!((r.status, r.text()), (200, "0".to_string()));
    }

    // A malformed item is written as null, has only null properties (so it
    // fails a filter and sorts as null), and is never a panic or a 500.
    for (query, expected) in [
        ("", serde_json::json!([null])),
        ("?$select=Name", serde_json::json!([null])),
        ("?$filter=Amount gt 1", serde_json::json!([])),
        ("?$orderby=Name", serde_json::json!([null])),
    ] {
        let r = env
            .get(&format!("/odata/Transactions(5)/Items{query}"))
            .await;
        assert_eq!(r.status, 200, "{query}: {}", r.text());
        assert_eq!(r.json()["value"], expected, "{query}");
    }

    // What does not apply is refused, not ignored.
    let r = env
        .get(&format!("/odata/Transactions({id})/Items/$value"))
        .await;
    assert_eq!(r.status, 400, "{}", r.text());
    let r = env
        .get(&format!("/odata/Transactions({id})/Items?$search=x"))
        .await;
    assert_eq!(r.status, 501, "{}", r.text());
    assert_eq!(r.json()["error"]["target"], "$search");
    let r = env
        .get(&format!("/odata/Transactions({id})/Currency/$count"))
        .await;
    assert_eq!(r.status, 400, "{}", r.text());
    let r = env.get("/odata/Transactions(999999999)/Items/$count").await;
    assert_eq!(r.status, 404, "{}", r.text());
    env.stop().await;
}

#[tokio::test]
async fn collection_valued_properties_filter_and_order_their_items() {
    let env = Env::start(40, |_| {}).await;
    let all = transactions_with_items(&env).await;
    let price = |i: &serde_json::Value| i["SellingPrice"].as_f64();
    let mut checked = 0;
    for t in all["value"].as_array().unwrap().iter().take(25) {
        let id = t["Id"].as_i64().unwrap();
        let items = t["Items"].as_array().cloned().unwrap_or_default();
        // The independent answer: the listed items, filtered and ordered
        // here (nulls first ascending, so last descending; ties in order).
        let mut expected: Vec<serde_json::Value> = items
            .iter()
            .filter(|i| i["Amount"].as_f64().is_some_and(|a| a > 1.0))
            .cloned()
            .collect();
        expected.sort_by(|a, b| {
            let key = |v: &serde_json::Value| price(v).map(|p| (p * 1000.0) as i64);
            key(b).cmp(&key(a))
        });
        let query = "$filter=Amount gt 1&$orderby=SellingPrice desc";
        let r = env
            .get(&format!(
                "/odata/Transactions({id})/Items?{query}&$count=true&$skip=1"
            ))
            .await;
        assert_eq!(r.status, 200, "{}", r.text());
        let body = r.json();
        assert_eq!(body["@odata.count"], expected.len(), "{id}");
        let got = body["value"].as_array().unwrap();
        assert_eq!(
            got.as_slice(),
            expected.get(1..).unwrap_or_default(),
            "{id}"
        );
        let r = env
            .get(&format!(
                "/odata/Transactions({id})/Items/$count?$filter=Amount gt 1"
            ))
            .await;
        assert_eq!(r.text(), expected.len().to_string(), "{id}");
        checked += usize::from(expected.len() > 1);
    }
    assert!(
        checked > 3,
        "too few transactions with several matching items"
    );
    // $select: only the named properties, listed in the context URL.
    let t = &all["value"][0];
    let id = t["Id"].as_i64().unwrap();
    let r = env
        .get(&format!(
            "/odata/Transactions({id})/Items?$select=Name,Amount&$top=2"
        ))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let body = r.json();
    let expected: Vec<serde_json::Value> = t["Items"]
        .as_array()
        .unwrap()
        .iter()
        .take(2)
        .map(|i| serde_json::json!({"Amount": i["Amount"], "Name": i["Name"]}))
        .collect();
    assert_eq!(body["value"].as_array().unwrap(), &expected);
    assert!(body["@odata.context"]
        .as_str()
        .unwrap()
        .ends_with(&format!("#Transactions({id})/Items(Amount,Name)")));
    let r = env
        .get(&format!("/odata/Transactions({id})/Items?$select=*"))
        .await;
    assert_eq!(r.json()["value"], t["Items"]);
    let r = env
        .get(&format!("/odata/Transactions({id})/Items?$select=Nope"))
        .await;
    assert_eq!(r.status, 400, "{}", r.text());
    let r = env
        .get("/odata/Transactions(1)/Items?$filter=Nope eq 1")
        .await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(r.json()["error"]["target"], "$filter");
    env.stop().await;
}
