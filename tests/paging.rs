//! Server-driven paging over a large collection: no row lost or repeated,
//! in every order, and memory bounded by a page, not by the collection.

mod common;

use std::collections::HashSet;

use common::{basic, Env};

/// Follows nextLinks from `first`, returning every row's Id in order and
/// the number of pages.
async fn all_ids(env: &Env, first: &str, page: usize) -> (Vec<i64>, usize) {
    let headers = [
        ("authorization", basic("demo", "demo")),
        ("prefer", format!("odata.maxpagesize={page}")),
    ];
    let mut url = first.to_string();
    let mut ids = Vec::new();
    let mut pages = 0;
    loop {
        let r = env.get_with(&url, &headers).await;
        assert_eq!(r.status, 200, "{url}: {}", r.text());
        assert_eq!(
            r.header("preference-applied").as_deref(),
            Some(format!("odata.maxpagesize={page}").as_str())
        );
        let j = r.json();
        pages += 1;
        for row in j["value"].as_array().unwrap() {
            ids.push(row["Id"].as_i64().unwrap());
        }
        match j["@odata.nextLink"].as_str() {
            Some(next) => {
                assert!(
                    next.starts_with("http://"),
                    "nextLink must be absolute: {next}"
                );
                url = next.to_string();
            }
            None => break,
        }
    }
    (ids, pages)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paging_through_100k_rows_loses_and_repeats_nothing() {
    // 10 transactions per account: 100,000 transactions.
    let env = Env::start(10_000, |c| {
        c.paging.max_page_size = 20_000;
    })
    .await;
    let total = env.sim.rows("transactions").len();
    assert_eq!(total, 100_000);

    for (query, page) in [
        ("/odata/Transactions?$select=Id", 7_000),
        // A nullable sort key: segments for nulls first, key-set inside each.
        (
            "/odata/Transactions?$select=Id&$orderby=ContractId%20desc,DueDate",
            9_000,
        ),
        ("/odata/Transactions?$select=Id&$orderby=NetAmount", 20_000),
    ] {
        let (ids, pages) = all_ids(&env, query, page).await;
        assert_eq!(ids.len(), total, "{query}: rows lost or repeated");
        let unique: HashSet<i64> = ids.iter().copied().collect();
        assert_eq!(unique.len(), total, "{query}: a row was repeated");
        assert_eq!(pages, total.div_ceil(page), "{query}");
    }
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deep_page_costs_what_the_first_costs() {
    let env = Env::start(2_000, |_| {}).await;
    let headers = [
        ("authorization", basic("demo", "demo")),
        ("prefer", "odata.maxpagesize=100".to_string()),
    ];
    let mut url = "/odata/Transactions?$select=Id&$orderby=CreatedOn".to_string();
    // The first page also logs in and looks at the (empty) segment of rows
    // without CreatedOn, which sorts first.
    let r = env.get_with(&url, &headers).await;
    assert_eq!(r.status, 200);
    url = r.json()["@odata.nextLink"].as_str().unwrap().to_string();
    for page in 1..150 {
        env.sim.reset_request_count();
        let r = env.get_with(&url, &headers).await;
        assert_eq!(r.status, 200);
        // Key-set paging: one upstream list request per page, no offset.
        assert_eq!(env.sim.requests_served(), 1, "page {page}");
        let log = env.sim.request_log();
        assert!(
            !log[0].body.contains("\"offset\""),
            "page {page} used an offset: {}",
            log[0].body
        );
        url = r.json()["@odata.nextLink"].as_str().unwrap().to_string();
    }
    env.stop().await;
}

#[tokio::test]
async fn skip_tokens_cannot_be_moved_or_forged() {
    let env = Env::start(50, |_| {}).await;
    let headers = [
        ("authorization", basic("demo", "demo")),
        ("prefer", "odata.maxpagesize=5".to_string()),
    ];
    let r = env.get_with("/odata/Accounts?$select=Id", &headers).await;
    let next = r.json()["@odata.nextLink"].as_str().unwrap().to_string();
    let token = next.split("$skiptoken=").nth(1).unwrap().to_string();
    for bad in [
        format!("/odata/Contacts?$select=Id&$skiptoken={token}"),
        format!("/odata/Accounts?$select=Id,LastName&$skiptoken={token}"),
        format!("/odata/Accounts?$select=Id&$skiptoken={}x", token),
        "/odata/Accounts?$select=Id&$skiptoken=garbage".to_string(),
    ] {
        let r = env.get_with(&bad, &headers).await;
        assert_eq!(r.status, 400, "{bad}");
        assert_eq!(r.json()["error"]["code"], "InvalidSkipToken");
    }
    // Another host name in the URL is another request.
    let r = env
        .get_with(
            &next,
            &[
                ("authorization", basic("demo", "demo")),
                ("host", "evil.example".to_string()),
            ],
        )
        .await;
    assert_eq!(r.status, 400);
    env.stop().await;
}

#[tokio::test]
async fn a_next_link_rewritten_by_a_client_library_still_continues() {
    let env = Env::start(50, |_| {}).await;
    let headers = [
        ("authorization", basic("demo", "demo")),
        ("prefer", "odata.maxpagesize=5".to_string()),
    ];
    let first = "/odata/Accounts?$select=Id,LastName&$filter=Id%20gt%203&$orderby=LastName%20desc";
    let r = env.get_with(first, &headers).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let next = r.json()["@odata.nextLink"].as_str().unwrap().to_string();
    let expected = env.get_with(&next, &headers).await;
    assert_eq!(expected.status, 200, "{}", expected.text());
    let expected = expected.json()["value"].clone();
    assert_eq!(expected.as_array().map(Vec::len), Some(5));
    let (base, query) = next.split_once('?').unwrap();
    let token = query.split("$skiptoken=").nth(1).unwrap();
    // The same request, encoded and ordered the way other libraries write it.
    for query in [
        query.replace("%20", "+"),
        query.replace('$', "%24").replace("%20", "+"),
        format!(
            "$skiptoken={token}&$orderby=LastName%20desc&$FILTER=Id%20gt%203&$select=Id%2CLastName"
        ),
    ] {
        let url = format!("{base}?{query}");
        let r = env.get_with(&url, &headers).await;
        assert_eq!(r.status, 200, "{url}: {}", r.text());
        assert_eq!(r.json()["value"], expected, "{url}");
    }
    // Another filter is another request, however it is written.
    for query in [
        format!("$select=Id,LastName&$filter=Id+gt+4&$orderby=LastName+desc&$skiptoken={token}"),
        format!("$select=Id,LastName&$filter=Id+gt+3&$orderby=LastName&$skiptoken={token}"),
    ] {
        let url = format!("{base}?{query}");
        let r = env.get_with(&url, &headers).await;
        assert_eq!(r.status, 400, "{url}: {}", r.text());
        assert_eq!(r.json()["error"]["code"], "InvalidSkipToken");
    }
    env.stop().await;
}
