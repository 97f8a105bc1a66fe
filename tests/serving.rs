//! HTTP behaviour of the gateway: routes, negotiation, errors, headers.

mod common;

use common::{basic, Env};
use serde_json::{json, Value};

const POWER_QUERY_ACCEPT: &str = "application/json;odata.metadata=minimal;q=1.0,application/json;odata=minimalmetadata;q=0.9,application/atomsvc+xml;q=0.8,application/atom+xml;q=0.8,application/xml;q=0.7,text/plain;q=0.7";

#[tokio::test]
async fn power_query_request_works_as_sent() {
    let env = Env::start(50, |_| {}).await;
    let headers = [
        ("authorization", basic("demo", "demo")),
        ("accept", POWER_QUERY_ACCEPT.to_string()),
        ("odata-maxversion", "4.0".to_string()),
        ("maxdataserviceversion", "3.0".to_string()),
        ("accept-encoding", "gzip, deflate".to_string()),
    ];
    let r = env.get_with("/odata/", &headers).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-encoding").as_deref(), Some("gzip"));
    assert_eq!(r.headers.get_all("odata-version").iter().count(), 1);
    let r = env.get_with("/odata/$metadata", &headers).await;
    assert_eq!(r.status, 200);
    assert!(r
        .header("content-type")
        .unwrap()
        .starts_with("application/xml"));
    let headers_plain: Vec<(&str, String)> = headers
        .iter()
        .filter(|(k, _)| *k != "accept-encoding")
        .cloned()
        .collect();
    let r = env.get_with("/odata/Accounts?$top=5", &headers_plain).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let j = r.json();
    assert_eq!(j["value"].as_array().unwrap().len(), 5);
    assert!(j["@odata.context"]
        .as_str()
        .unwrap()
        .ends_with("$metadata#Accounts"));
    env.stop().await;
}

/// The body of a gzip response, decompressed.
fn gunzip(body: &[u8]) -> Vec<u8> {
    use std::io::Read;
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(body)
        .read_to_end(&mut out)
        .expect("a valid gzip body");
    out
}

#[tokio::test]
async fn compressed_pages_carry_the_same_rows_at_every_level() {
    let url = "/odata/Transactions?$top=200&$orderby=Id";
    let plain_headers = [("authorization", basic("demo", "demo"))];
    let gzip_headers = [
        ("authorization", basic("demo", "demo")),
        ("accept-encoding", "gzip, deflate".to_string()),
    ];
    let mut sizes = Vec::new();
    for level in [1, 9] {
        let env = Env::start(50, |c| c.compression_level = level).await;
        let plain = env.get_with(url, &plain_headers).await;
        assert_eq!(plain.status, 200, "{}", plain.text());
        assert_eq!(plain.header("content-encoding"), None);
        let gz = env.get_with(url, &gzip_headers).await;
        assert_eq!(gz.status, 200);
        assert_eq!(gz.header("content-encoding").as_deref(), Some("gzip"));
        assert_eq!(gunzip(&gz.body), plain.body.to_vec(), "level {level}");
        sizes.push(gz.body.len());
        env.stop().await;
    }
    // The level reaches the encoder: 9 packs tighter than 1.
    assert!(sizes[1] < sizes[0], "{sizes:?}");

    // Level 0 never compresses, whatever the client accepts.
    let env = Env::start(50, |c| c.compression_level = 0).await;
    let r = env.get_with(url, &gzip_headers).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-encoding"), None);
    assert_eq!(r.json()["value"].as_array().map(Vec::len), Some(200));
    env.stop().await;
}

#[tokio::test]
async fn missing_credentials_prompt_for_basic() {
    let env = Env::start(20, |_| {}).await;
    let r = env.get_with("/odata/Accounts", &[]).await;
    assert_eq!(r.status, 401);
    assert!(r
        .header("www-authenticate")
        .unwrap()
        .starts_with("Basic realm="));
    assert_eq!(r.json()["error"]["code"], "Unauthorized");
    let r = env
        .get_with(
            "/odata/Accounts",
            &[("authorization", basic("demo", "wrong"))],
        )
        .await;
    assert_eq!(r.status, 401);
    assert!(!r.text().contains("wrong"));
    let challenges = |r: &common::reqwest_lite::Response| -> Vec<String> {
        r.headers
            .get_all("www-authenticate")
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_string))
            .collect()
    };
    assert_eq!(challenges(&r).len(), 1, "{:?}", challenges(&r));
    // A rejected token is told so in its own scheme, beside Basic.
    let r = env
        .get_with(
            "/odata/Accounts",
            &[("authorization", "Bearer not-a-token".to_string())],
        )
        .await;
    assert_eq!(r.status, 401);
    let c = challenges(&r);
    assert!(c.iter().any(|c| c.starts_with("Basic realm=")), "{c:?}");
    assert!(
        c.iter()
            .any(|c| c == "Bearer realm=\"ZeyOS OData\", error=\"invalid_token\""),
        "{c:?}"
    );
    // Also where no request reaches ZeyOS: a made-up token unlocks nothing.
    let made_up = [("authorization", "Bearer not-a-token".to_string())];
    for path in [
        "/odata/$metadata",
        "/odata/",
        "/v1/$metadata",
        "/odata/Nope",
    ] {
        let r = env.get_with(path, &made_up).await;
        assert_eq!(r.status, 401, "{path}: {}", r.text());
        assert_eq!(challenges(&r).len(), 2, "{path}");
    }
    let token = env.sim.login("demo", "demo").await.expect("sim login");
    let real = [("authorization", format!("Bearer {token}"))];
    for path in ["/odata/$metadata", "/odata/", "/odata/Accounts?$top=1"] {
        let r = env.get_with(path, &real).await;
        assert_eq!(r.status, 200, "{path}: {}", r.text());
    }
    // An empty password (Excel sends one when the field is left empty) is
    // asked for again, and a request that would fail to bind still gets
    // the challenge first: no names of the model without credentials.
    for (path, headers) in [
        (
            "/odata/Accounts",
            vec![("authorization", basic("demo", ""))],
        ),
        ("/odata/Accounts?$select=Lastnam", vec![]),
        ("/odata/Nope", vec![]),
    ] {
        let r = env.get_with(path, &headers).await;
        assert_eq!(r.status, 401, "{path}: {}", r.text());
        assert!(r.header("www-authenticate").is_some(), "{path}");
        assert!(!r.text().contains("LastName"), "{path}");
    }
    let two = [
        ("authorization", basic("viewer", "viewer")),
        ("authorization", basic("demo", "demo")),
    ];
    let r = env.get_with("/odata/Accounts?$top=1", &two).await;
    assert_eq!(r.status, 400, "{}", r.text());
    env.stop().await;
}

/// A dropped connection or a 502/503/504 from ZeyOS is a blip: reads are
/// sent again (twice, after short pauses) before the client sees an
/// error, and a 503 that persists is passed on with `Retry-After` so that
/// Power Query backs off and retries itself.
#[tokio::test]
async fn transient_upstream_failures_are_retried() {
    let env = Env::start(50, |c| c.cache.enabled = false).await;
    assert_eq!(env.get("/odata/Contacts?$top=1").await.status, 200); // logs in
    env.sim.set_faults(zeyos_sim::Faults {
        drop_rate: 0.15,
        seed: 11,
        ..Default::default()
    });
    env.sim.reset_request_count();
    for skip in 0..30 {
        let r = env
            .get(&format!("/odata/Accounts?$top=2&$skip={skip}&$select=Id"))
            .await;
        assert_eq!(r.status, 200, "$skip={skip}: {}", r.text());
        assert_eq!(r.json()["value"][0]["Id"], skip + 1);
    }
    assert!(
        env.sim.requests_served() > 30,
        "no request was dropped and sent again: {}",
        env.sim.requests_served()
    );
    env.sim.set_faults(zeyos_sim::Faults {
        error_rate: 1.0,
        seed: 3,
        ..Default::default()
    });
    let mut seen_503 = false;
    for skip in 0..6 {
        let r = env
            .get(&format!("/odata/Accounts?$top=1&$skip={skip}"))
            .await;
        match r.status {
            502 => assert_eq!(r.json()["error"]["code"], "UpstreamFailure"),
            503 => {
                seen_503 = true;
                assert_eq!(r.header("retry-after").as_deref(), Some("5"));
                assert_eq!(r.json()["error"]["code"], "UpstreamUnavailable");
            }
            other => panic!("{other}: {}", r.text()),
        }
    }
    assert!(seen_503, "ZeyOS never answered 503 three times in a row");
    env.sim.set_faults(zeyos_sim::Faults::default());
    env.stop().await;
}

/// A wrong `upstream.instance` makes ZeyOS answer 404 to every list: that
/// is the gateway's configuration, not a missing entity set (502).
#[tokio::test]
async fn a_wrong_instance_is_a_bad_gateway_not_a_missing_set() {
    let env = Env::start(20, |c| c.upstream.instance = "nope".into()).await;
    let r = env.get("/odata/Accounts?$top=1").await;
    assert_eq!(r.status, 502, "{}", r.text());
    assert_eq!(r.json()["error"]["code"], "UpstreamMisconfigured");
    env.stop().await;
}

#[tokio::test]
async fn metadata_has_an_etag_and_answers_304() {
    let env = Env::start(20, |_| {}).await;
    let r = env.get("/odata/$metadata").await;
    assert_eq!(r.status, 200);
    let etag = r.header("etag").expect("ETag on $metadata");
    let r = env
        .get_with(
            "/odata/$metadata",
            &[
                ("authorization", basic("demo", "demo")),
                ("if-none-match", etag.clone()),
            ],
        )
        .await;
    assert_eq!(r.status, 304);
    let r = env.get("/odata/$metadata?$format=json").await;
    assert_eq!(r.status, 200);
    assert!(r.json()["$Version"].is_string());
    env.stop().await;
}

#[tokio::test]
async fn errors_have_the_odata_shape_and_the_right_status() {
    let env = Env::start(20, |_| {}).await;
    for (path, status, code) in [
        ("/odata/Nope", 404, "NotFound"),
        ("/odata/Accounts(999999)", 404, "NotFound"),
        ("/odata/Accounts?$filter=Nope eq 1", 400, "UnknownProperty"),
        ("/odata/Accounts?$filter=LastName eq", 400, "InvalidSyntax"),
        ("/odata/Accounts?$top=-1", 400, "InvalidValue"),
        ("/odata/Accounts?$top=1&$top=2", 400, "DuplicateOption"),
        ("/odata/Accounts?$filter=LastName eq 5", 400, "TypeMismatch"),
        (
            "/odata/Accounts?$apply=groupby((Type))",
            501,
            "NotImplemented",
        ),
        ("/odata/$batch", 405, "MethodNotAllowed"),
        ("/v1/Companies?$expand=CompanyTypes", 501, "NotImplemented"),
        ("/odata/Notes(2)/BinFile/Content", 501, "NotImplemented"),
        (
            "/odata/Accounts?$expand=*($levels=2)",
            501,
            "NotImplemented",
        ),
        (
            "/odata/Accounts?$expand=*($levels=max)",
            501,
            "NotImplemented",
        ),
        ("/odata/Accounts?$top=2&$expand=*($levels=1)", 200, ""),
        ("/odata/Accounts(1)/LastName/Length", 404, "NotFound"),
        ("/odata/Transactions", 200, ""),
    ] {
        let r = env.get(path).await;
        assert_eq!(r.status, status, "{path}: {}", r.text());
        if status >= 400 {
            let j = r.json();
            assert_eq!(j["error"]["code"], code, "{path}");
            assert!(j["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()));
            assert!(j["error"].get("target").is_some());
            // The language of the message (JSON Format 21.1).
            assert_eq!(
                r.header("content-language").as_deref(),
                Some("en"),
                "{path}"
            );
        }
    }
    let r = env
        .get_with(
            "/odata/Accounts",
            &[
                ("authorization", basic("demo", "demo")),
                ("accept", "application/xml".into()),
            ],
        )
        .await;
    assert_eq!(r.status, 406);
    let r = env
        .http
        .send(
            "OPTIONS",
            &format!("{}/odata/Accounts", env.base),
            &[("authorization", basic("demo", "demo"))],
        )
        .await;
    assert_eq!(r.status, 405);
    // A batch comes as a POST, under either spelling; this one has no
    // parts (tests/batch.rs has batches that do).
    for path in ["/odata/$batch", "/v1/%24batch"] {
        let r = env
            .http
            .send(
                "POST",
                &format!("{}{path}", env.base),
                &[
                    ("authorization", basic("demo", "demo")),
                    ("content-type", "multipart/mixed;boundary=b".into()),
                ],
            )
            .await;
        assert_eq!(r.status, 400, "{path}");
        let j = r.json();
        assert_eq!(j["error"]["code"], "InvalidBatch", "{path}");
        assert_eq!(j["error"]["target"], "$batch", "{path}");
    }
    let deep = format!(
        "/odata/Accounts?$filter={}Id eq 1{}",
        "(".repeat(10_000),
        ")".repeat(10_000)
    );
    let r = env.get(&deep).await;
    assert!(r.status == 400 || r.status == 414, "{}", r.status);
    env.stop().await;
}

#[tokio::test]
async fn version_headers_are_honoured() {
    let env = Env::start(20, |_| {}).await;
    let get = |path: &'static str, headers: Vec<(&'static str, &'static str)>| {
        let env = &env;
        async move {
            let mut h = vec![("authorization", basic("demo", "demo"))];
            h.extend(headers.into_iter().map(|(k, v)| (k, v.to_string())));
            env.get_with(path, &h).await
        }
    };
    // CSDL JSON is 4.01: offered unless the client reads only 4.0.
    let json = ("accept", "application/json");
    let r = get("/odata/$metadata", vec![json, ("odata-maxversion", "4.01")]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["$Version"], "4.01");
    assert_eq!(r.header("odata-version").as_deref(), Some("4.01"));
    assert_eq!(r.headers.get_all("odata-version").iter().count(), 1);
    let r = get("/odata/$metadata", vec![("odata-maxversion", "4.01")]).await;
    assert_eq!(
        r.header("odata-version").as_deref(),
        Some("4.0"),
        "XML CSDL"
    );
    let r = get("/odata/$metadata", vec![json, ("odata-maxversion", "4.0")]).await;
    assert_eq!(r.status, 406);
    // Power Query's pair of headers.
    let r = get(
        "/odata/Accounts?$top=1",
        vec![
            ("odata-maxversion", "4.0"),
            ("maxdataserviceversion", "3.0"),
        ],
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("odata-version").as_deref(), Some("4.0"));
    for (headers, status, code) in [
        (
            vec![("odata-version", "3.0")],
            400,
            "UnsupportedODataVersion",
        ),
        (
            vec![("odata-version", "5.0")],
            400,
            "UnsupportedODataVersion",
        ),
        (vec![("odata-maxversion", "3.0")], 406, "NotAcceptable"),
        (vec![("odata-maxversion", "four")], 400, "InvalidHeader"),
    ] {
        let what = format!("{headers:?}");
        let r = get("/odata/Accounts?$top=1", headers).await;
        assert_eq!(r.status, status, "{what}: {}", r.text());
        assert_eq!(r.json()["error"]["code"], code, "{what}");
    }
    env.stop().await;
}

#[tokio::test]
async fn viewer_is_forbidden_on_other_entities() {
    let env = Env::start(20, |_| {}).await;
    let viewer = [("authorization", basic("viewer", "viewer"))];
    let r = env.get_with("/odata/Accounts?$top=1", &viewer).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = env.get_with("/odata/Transactions?$top=1", &viewer).await;
    assert_eq!(r.status, 403);
    assert_eq!(r.json()["error"]["code"], "Forbidden");

    // ZeyOS answers a join under the permission of the entity listed, so
    // the gateway checks the joined entity itself: what reaches Users
    // through a to-one navigation property is refused as Users is, and
    // what reaches Contacts (which the viewer may read) is answered.
    let demo = [("authorization", basic("demo", "demo"))];
    for (path, viewer_status) in [
        (
            "/odata/Accounts?$top=2&$select=Id&$expand=AssignedUser",
            403,
        ),
        (
            "/odata/Accounts?$top=2&$select=Id&$expand=AssignedUser($select=Id)",
            403,
        ),
        (
            "/odata/Accounts/$count?$filter=startswith(AssignedUser/Email,'u')",
            403,
        ),
        (
            "/odata/Accounts?$top=0&$count=true&$filter=Creator/Name ne null",
            403,
        ),
        (
            "/odata/Accounts?$top=3&$select=Id&$orderby=AssignedUser/Email desc",
            403,
        ),
        (
            "/odata/Contacts(1)?$expand=Accounts($filter=Creator/Name ne null)",
            403,
        ),
        (
            "/odata/Accounts?$top=2&$select=Id&$expand=Contact($select=City)",
            200,
        ),
        (
            "/odata/Accounts?$top=2&$select=Id&$filter=Contact/City ne null",
            200,
        ),
        (
            "/odata/Accounts?$top=2&$select=Id&$orderby=Contact/City",
            200,
        ),
    ] {
        let r = env.get_with(path, &viewer).await;
        assert_eq!(r.status, viewer_status, "{path}: {}", r.text());
        if viewer_status == 403 {
            assert_eq!(r.json()["error"]["code"], "Forbidden", "{path}");
        }
        let r = env.get_with(path, &demo).await;
        assert_eq!(r.status, 200, "{path}: {}", r.text());
    }

    // The decision is ZeyOS's, asked once per principal and entity: the
    // same join again costs no second question.
    let probes = |env: &Env| {
        env.sim
            .request_log()
            .iter()
            .filter(|r| r.path.ends_with("/users") && r.body.contains("\"limit\":1"))
            .count()
    };
    let before = probes(&env);
    assert_eq!(before, 2, "one question for each of the two users");
    let path = "/odata/Accounts?$top=1&$select=Id&$expand=Creator($select=Id)";
    assert_eq!(env.get_with(path, &viewer).await.status, 403);
    assert_eq!(env.get_with(path, &demo).await.status, 200);
    assert_eq!(probes(&env), before);
    env.stop().await;
}

/// ZeyOS behind a compressing web server: the gateway asks for gzip
/// (`upstream.accept_gzip`, on by default), inflates it, and answers with
/// exactly what it answers for the same data uncompressed.
#[tokio::test]
async fn gzipped_upstream_answers_carry_the_same_data() {
    let sim = |gzip| zeyos_sim::SimConfig {
        scale: 50,
        gzip,
        ..Default::default()
    };
    let gzipped = Env::start_with(sim(true), |_| {}).await;
    let plain = Env::start_with(sim(false), |_| {}).await;
    let refused = Env::start_with(sim(true), |c| c.upstream.accept_gzip = false).await;
    for path in [
        "/odata/Transactions?$top=200&$orderby=Id",
        "/odata/Accounts(7)?$expand=Contact",
        "/odata/Accounts/$count",
        "/odata/Accounts(999999)",
        "/v1/Companies?$top=3",
    ] {
        let want = plain.get(path).await;
        for env in [&gzipped, &refused] {
            let got = env.get(path).await;
            assert_eq!(got.status, want.status, "{path}");
            assert_eq!(
                got.text().replace(&env.base, "BASE"),
                want.text().replace(&plain.base, "BASE"),
                "{path}"
            );
        }
    }
    assert!(
        gzipped.sim.gzipped_responses() >= 4,
        "{}",
        gzipped.sim.gzipped_responses()
    );
    assert_eq!(refused.sim.gzipped_responses(), 0);
    gzipped.stop().await;
    plain.stop().await;
    refused.stop().await;
}

/// `$expand=Nav/$count` on a single entity: the count annotation only,
/// equal to the navigation's own `/$count`, and full metadata still links
/// the navigation property, which is counted, not expanded.
#[tokio::test]
async fn an_entity_expands_the_count_of_its_related_entities() {
    let env = Env::start(50, |_| {}).await;
    for id in [1, 5, 17] {
        let count = env
            .get(&format!(
                "/odata/Accounts({id})/Transactions/$count?$filter=Status eq 'PAID'"
            ))
            .await
            .text();
        let r = env
            .get(&format!(
                "/odata/Accounts({id})?$select=Id&$expand=Transactions/$count($filter=Status eq 'PAID')"
            ))
            .await;
        assert_eq!(r.status, 200, "{}", r.text());
        let j = r.json();
        assert_eq!(j["Transactions@odata.count"].to_string(), count, "{j}");
        assert!(j.get("Transactions").is_none(), "{j}");
        assert_eq!(
            j["@odata.context"]
                .as_str()
                .map(|c| c.ends_with("#Accounts(Id)/$entity")),
            Some(true),
            "{j}"
        );
    }
    let r = env
        .get_with(
            "/odata/Accounts(5)?$expand=Transactions/$count",
            &[
                ("authorization", basic("demo", "demo")),
                ("accept", "application/json;odata.metadata=full".to_string()),
            ],
        )
        .await;
    let j = r.json();
    assert!(j["Transactions@odata.count"].is_u64(), "{j}");
    assert!(j["Transactions@odata.navigationLink"].is_string(), "{j}");
    env.stop().await;
}

/// The ids of a page's entities (`Id`), or of its references
/// (`@odata.id`, reduced to the key), following every nextLink.
async fn ids_of_all_pages(env: &Env, url: &str, page: u32) -> (Vec<i64>, Vec<Value>) {
    let mut next = Some(url.to_string());
    let (mut ids, mut pages) = (Vec::new(), Vec::new());
    while let Some(url) = next.take() {
        let r = env
            .get_with(
                &url,
                &[
                    ("authorization", basic("demo", "demo")),
                    ("prefer", format!("odata.maxpagesize={page}")),
                ],
            )
            .await;
        assert_eq!(r.status, 200, "{url}: {}", r.text());
        let j = r.json();
        for row in j["value"].as_array().into_iter().flatten() {
            let id = match row.get("@odata.id").and_then(Value::as_str) {
                Some(uri) => uri
                    .rsplit_once('(')
                    .and_then(|(_, k)| k.trim_end_matches(')').parse().ok()),
                None => row["Id"].as_i64(),
            };
            ids.push(id.unwrap_or(-1));
        }
        next = j["@odata.nextLink"].as_str().map(str::to_string);
        pages.push(j);
    }
    (ids, pages)
}

#[tokio::test]
async fn references_name_the_entities_a_path_addresses_and_ids_resolve() {
    let env = Env::start(50, |_| {}).await;
    let root = format!("{}/odata/", env.base);
    // A collection's references are the ids of its entities, page by page,
    // with the same options applied.
    for (refs, entities) in [
        (
            "/odata/Accounts(5)/Transactions/$ref?$filter=Status ne 'PAID'&$orderby=NetAmount desc&$count=true",
            "/odata/Accounts(5)/Transactions?$filter=Status ne 'PAID'&$orderby=NetAmount desc&$select=Id",
        ),
        (
            "/odata/Accounts/$ref?$filter=Type eq 'CUSTOMER'&$skip=3&$top=17",
            "/odata/Accounts?$filter=Type eq 'CUSTOMER'&$skip=3&$top=17&$select=Id",
        ),
    ] {
        let (want, _) = ids_of_all_pages(&env, entities, 4).await;
        let (got, pages) = ids_of_all_pages(&env, refs, 4).await;
        assert!(want.len() > 4, "{entities}: {want:?}");
        assert_eq!(got, want, "{refs}");
        for page in &pages {
            assert_eq!(
                page["@odata.context"],
                format!("{root}$metadata#Collection($ref)"),
                "{page}"
            );
            for r in page["value"].as_array().into_iter().flatten() {
                let keys: Vec<&String> = r.as_object().into_iter().flatten().map(|(k, _)| k).collect();
                assert_eq!(keys, ["@odata.id"], "{r}");
            }
        }
        if refs.contains("$count=true") {
            assert_eq!(pages[0]["@odata.count"], json!(want.len()), "{}", pages[0]);
        }
    }

    // One entity's reference, also through a to-one navigation property.
    let contact = env.get("/odata/Accounts(5)?$select=ContactId").await.json()["ContactId"]
        .as_i64()
        .expect("account 5 has a contact");
    for (url, id) in [
        (
            "/odata/Accounts(5)/$ref".to_string(),
            "Accounts(5)".to_string(),
        ),
        (
            "/odata/Accounts(5)/Contact/$ref".to_string(),
            format!("Contacts({contact})"),
        ),
    ] {
        let r = env.get(&url).await;
        assert_eq!(r.status, 200, "{url}: {}", r.text());
        assert_eq!(
            r.json(),
            json!({"@odata.context": format!("{root}$metadata#$ref"), "@odata.id": format!("{root}{id}")}),
            "{url}"
        );
        assert!(r.header("etag").is_some(), "{url}");
    }

    // Each id resolves through `$entity` (Protocol 11.2.9) to the entity
    // it names, absolute or relative to the service root.
    for (id, key) in [
        (format!("{root}Accounts(5)"), 5),
        (format!("{root}Contacts({contact})"), contact),
        ("Accounts(5)".to_string(), 5),
        ("/odata/Accounts(5)".to_string(), 5),
    ] {
        let r = env.get(&format!("/odata/$entity?$id={id}")).await;
        assert_eq!(r.status, 200, "{id}: {}", r.text());
        assert_eq!(r.json()["Id"], json!(key), "{id}");
    }
    let j = env
        .get("/odata/$entity/ZeyOS.Account?$id=Accounts(5)&$select=LastName")
        .await
        .json();
    assert_eq!(
        j["@odata.context"],
        format!("{root}$metadata#Accounts(LastName)/$entity"),
        "{j}"
    );
    assert!(
        j["LastName"].is_string() && j.get("ContactId").is_none(),
        "{j}"
    );

    // `*/$ref` writes every navigation property as references.
    let j = env
        .get("/odata/Accounts(5)?$select=Id&$expand=*/$ref")
        .await
        .json();
    assert_eq!(
        j["Contact"],
        json!({"@odata.id": format!("{root}Contacts({contact})")}),
        "{j}"
    );
    assert!(
        j["Transactions"]
            .as_array()
            .is_some_and(|t| t.iter().all(|r| r["@odata.id"]
                .as_str()
                .is_some_and(|s| s.starts_with(&format!("{root}Transactions("))))),
        "{j}"
    );
    assert_eq!(
        j["@odata.context"],
        format!("{root}$metadata#Accounts(Id)/$entity"),
        "{j}"
    );

    // What has no reference.
    for (url, status) in [
        ("/odata/Accounts(999999)/$ref", 404),
        ("/odata/Accounts(5)/LastName/$ref", 404),
        ("/odata/Accounts/$ref?$select=Id", 400),
        ("/odata/Accounts(5)/$ref?$expand=Contact", 400),
        ("/odata/Accounts(5)/$ref?$top=1", 400),
        ("/odata/$entity", 400),
        ("/odata/$entity?$id=Accounts", 400),
        ("/odata/$entity?$id=Accounts(5)/LastName", 400),
        ("/odata/$entity?$id=/v1/Companies(5)", 404),
        ("/odata/$entity?$id=Accounts(999999)", 404),
        ("/odata/$entity/ZeyOS.Contact?$id=Accounts(5)", 404),
    ] {
        let r = env.get(url).await;
        assert_eq!(r.status, status, "{url}: {}", r.text());
        assert!(r.json()["error"]["message"].is_string(), "{url}");
    }
    env.stop().await;
}

/// `IEEE754Compatible=true` writes Edm.Int64 and Edm.Decimal values as
/// strings, counts (Int64) included, at every place a count appears; without
/// it they are numbers.
#[tokio::test]
async fn ieee754_compatible_writes_decimals_and_counts_as_strings() {
    let env = Env::start(50, |_| {}).await;
    let get = |path: &'static str, ieee754: bool| {
        let accept = format!("application/json;IEEE754Compatible={ieee754}");
        let env = &env;
        async move {
            let r = env
                .get_with(
                    path,
                    &[("authorization", basic("demo", "demo")), ("accept", accept)],
                )
                .await;
            assert_eq!(r.status, 200, "{}", r.text());
            r.json()
        }
    };
    let page = "/odata/Accounts?$top=1&$select=Id&$count=true&$expand=Transactions($count=true;$top=1;$select=Id,NetAmount),Tickets/$count";
    let items = "/odata/Transactions(1)/Items?$count=true&$top=1&$select=SellingPrice";
    let refs = "/odata/Accounts/$ref?$count=true&$top=1";
    for ieee754 in [false, true] {
        let is_int64 = |v: &Value| {
            if ieee754 {
                v.as_str().is_some_and(|s| s.parse::<i64>().is_ok())
            } else {
                v.is_i64()
            }
        };
        let is_decimal = |v: &Value| {
            if ieee754 {
                v.as_str().is_some_and(|s| s.parse::<f64>().is_ok())
            } else {
                v.is_number()
            }
        };
        let j = get(page, ieee754).await;
        let account = &j["value"][0];
        assert!(is_int64(&j["@odata.count"]), "{ieee754}: {j}");
        assert!(
            is_int64(&account["Transactions@odata.count"]),
            "{ieee754}: {j}"
        );
        assert!(is_int64(&account["Tickets@odata.count"]), "{ieee754}: {j}");
        assert!(
            is_decimal(&account["Transactions"][0]["NetAmount"]),
            "{ieee754}: {j}"
        );
        let j = get(items, ieee754).await;
        assert!(is_int64(&j["@odata.count"]), "{ieee754}: {j}");
        assert!(is_decimal(&j["value"][0]["SellingPrice"]), "{ieee754}: {j}");
        let j = get(refs, ieee754).await;
        assert!(is_int64(&j["@odata.count"]), "{ieee754}: {j}");
    }
    env.stop().await;
}

/// Without a `Host` header (HTTP/1.0) the URLs in a page name the address
/// the connection came in on, not the configured `listen` (port 0 in the
/// tests).
#[tokio::test]
async fn urls_name_the_connection_address_without_a_host_header() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let env = Env::start(20, |_| {}).await;
    let addr = env.server.as_ref().expect("running").addr();
    assert_eq!(env.gateway.config.listen.port(), 0);
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "GET /odata/Accounts?$top=1&$select=Id HTTP/1.0\r\nAuthorization: {}\r\nPrefer: odata.maxpagesize=1\r\n\r\n",
        basic("demo", "demo")
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    let text = String::from_utf8_lossy(&answer);
    let body = &text[text.find("\r\n\r\n").expect("a head") + 4..];
    let j: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {text}"));
    let root = format!("http://{addr}/odata/");
    assert!(
        j["@odata.context"]
            .as_str()
            .is_some_and(|c| c.starts_with(&root)),
        "{j}"
    );
    env.stop().await;
}

/// Modifications: 404 for what does not exist, 405 (with `Allow`) where the
/// protocol defines no such modification, 501 only where it does and the
/// gateway does not do it yet; credentials first, as for reads.
#[tokio::test]
async fn modifications_are_404_405_or_501_by_what_they_address() {
    let env = Env::start(20, |_| {}).await;
    let auth = [("authorization", basic("demo", "demo"))];
    for (method, path, status, allow) in [
        ("POST", "/v1/$metadata", 405, Some("GET, HEAD")),
        ("DELETE", "/v1/", 405, Some("GET, HEAD")),
        ("POST", "/v1/Companies/$count", 405, Some("GET, HEAD")),
        ("PUT", "/v1/Companies", 405, Some("GET, HEAD")),
        ("POST", "/odata/Accounts(1)", 405, Some("GET, HEAD")),
        ("DELETE", "/", 405, Some("GET, HEAD")),
        ("GET", "/v1/Companies/$query", 405, Some("POST")),
        ("OPTIONS", "/v1/$batch", 405, Some("POST")),
        ("PUT", "/v1/$batch", 405, Some("POST")),
        ("POST", "/v1/NoSuchSet", 404, None),
        ("POST", "/v1/Token", 404, None),
        ("DELETE", "/odata/Accounts(1)/NoSuchProperty", 404, None),
        ("POST", "/odata/Accounts", 501, None),
        ("PATCH", "/odata/Accounts(1)", 501, None),
        ("DELETE", "/odata/Accounts(1)", 501, None),
        ("PUT", "/odata/Accounts(1)/LastName/$value", 501, None),
        ("DELETE", "/odata/Transactions(1)/Account/$ref", 501, None),
        // Protocol 11.4.9: a raw value is set to null by DELETE; PATCH is
        // for complex values only, POST for collections only.
        ("DELETE", "/odata/Records(1)/Text/$value", 501, None),
        (
            "PATCH",
            "/odata/Transactions(1)/Items",
            405,
            Some("GET, HEAD"),
        ),
        ("POST", "/odata/Transactions(1)/Items", 501, None),
        ("POST", "/odata/Records(1)/Text", 405, Some("GET, HEAD")),
        ("PATCH", "/odata/Records(1)/Text", 405, Some("GET, HEAD")),
        ("POST", "/odata/Records(1)/Meta", 405, Some("GET, HEAD")),
        ("PATCH", "/odata/Records(1)/Meta", 501, None),
        // Many entities are deleted through /$each only (11.4.14).
        ("DELETE", "/odata/Records", 405, Some("GET, HEAD")),
    ] {
        let r = env
            .http
            .send(method, &format!("{}{path}", env.base), &auth)
            .await;
        assert_eq!(r.status, status, "{method} {path}: {}", r.text());
        assert_eq!(r.header("allow").as_deref(), allow, "{method} {path}");
        assert!(r.json()["error"]["code"].is_string(), "{method} {path}");
    }
    assert_eq!(
        env.http
            .send("GET", &format!("{}/v1/Nope/$query", env.base), &auth)
            .await
            .status,
        404
    );
    for (method, path) in [
        ("PATCH", "/odata/Accounts(1)"),
        ("PATCH", "/odata/Accounts/$query"),
        ("GET", "/odata/Nope/$query"),
        // No Content-Type either: credentials are asked for first.
        ("POST", "/odata/Accounts/$query"),
    ] {
        let r = env
            .http
            .send(method, &format!("{}{path}", env.base), &[])
            .await;
        assert_eq!(r.status, 401, "{method} {path}: {}", r.text());
    }
    env.stop().await;
}

/// RFC 9112 3.2: an HTTP/1.1 request without `Host`, any request with
/// two, and a `Host` that is no host with an optional port are 400; the
/// host names the links of the answer, so a proxy and the gateway must not
/// disagree about it. An absolute request target names the host itself.
#[tokio::test]
async fn a_missing_doubled_or_malformed_host_is_a_bad_request() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let env = Env::start(20, |_| {}).await;
    let addr = env.server.as_ref().expect("running").addr();
    let auth = basic("demo", "demo");
    let path = "/odata/Accounts?$top=1&$select=Id";
    for (target, head, status) in [
        (path, "HTTP/1.1\r\nConnection: close", "400"),
        (
            path,
            "HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\nConnection: close",
            "400",
        ),
        (path, "HTTP/1.1\r\nHost: a b\r\nConnection: close", "400"),
        (
            path,
            "HTTP/1.1\r\nHost: user@evil.example\r\nConnection: close",
            "400",
        ),
        (path, "HTTP/1.1\r\nHost: a:xyz\r\nConnection: close", "400"),
        (
            path,
            "HTTP/1.1\r\nHost: a.example\r\nConnection: close",
            "200",
        ),
        (path, "HTTP/1.0", "200"),
        // An absolute target names the host; Host is ignored (3.2.2).
        (
            "http://abs.example/odata/Accounts?$top=1&$select=Id",
            "HTTP/1.1\r\nHost: other.example\r\nConnection: close",
            "200",
        ),
    ] {
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let request = format!("GET {target} {head}\r\nAuthorization: {auth}\r\n\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await.unwrap();
        let text = String::from_utf8_lossy(&answer);
        assert_eq!(text.get(9..12), Some(status), "{head}: {text}");
        let body = &text[text.find("\r\n\r\n").expect("a head") + 4..];
        let j: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {text}"));
        if status == "400" {
            assert_eq!(j["error"]["code"], "InvalidHost", "{j}");
            assert_eq!(j["error"]["target"], "Host", "{j}");
        } else if target.starts_with("http://") {
            assert!(
                j["@odata.context"]
                    .as_str()
                    .is_some_and(|c| c.starts_with("http://abs.example/odata/")),
                "{j}"
            );
        }
    }
    env.stop().await;
}

/// Every stored enum value has a member name: the one field where the
/// reference's listed values and described members disagree
/// (`records.flag`, `0, 1, 2, 4` against `3=MONITOR`) takes the listed
/// value, which is what ZeyOS stores.
#[tokio::test]
async fn every_record_flag_is_a_member_and_monitor_finds_its_rows() {
    let env = Env::start(300, |_| {}).await;
    let all = env
        .get_with(
            "/odata/Records?$select=Id,Flag",
            &[
                ("authorization", basic("demo", "demo")),
                ("prefer", "odata.maxpagesize=10000".to_string()),
            ],
        )
        .await
        .json();
    let rows = all["value"].as_array().cloned().unwrap_or_default();
    let members = ["REGULAR", "ASSOCONLY", "MINDLOGONLY", "MONITOR"];
    assert!(
        rows.iter()
            .all(|r| r["Flag"].as_str().is_some_and(|f| members.contains(&f))),
        "{all}"
    );
    let monitored = rows.iter().filter(|r| r["Flag"] == "MONITOR").count();
    assert!(monitored > 0, "no MONITOR record in the demo data");
    let page = env
        .get("/odata/Records?$select=Id,Flag&$filter=Flag eq ZeyOS.RecordFlag'MONITOR'&$count=true")
        .await
        .json();
    assert_eq!(
        page["@odata.count"].as_u64(),
        Some(monitored as u64),
        "{page}"
    );
    env.stop().await;
}

/// Free JSON (`JsonObject`) holds whatever ZeyOS users wrote; keys that are
/// no property names, above all ones that read as OData annotations, are
/// escaped as `_xHHHH_`, in pages, entities and the property read alone.
#[tokio::test]
async fn keys_of_free_json_cannot_pose_as_control_information() {
    let env = Env::start(20, |c| c.cache.enabled = false).await;
    let meta = r##"{"@odata.id":"evil","a@odata.type":"#Edm.Int32","x.y":1,"":2,"ok":{"c@d":[{"e.f":3}]}}"##;
    env.write_upstream(
        "PATCH",
        "records/1",
        Some(serde_json::json!({ "meta": meta })),
    )
    .await;
    let expected = serde_json::json!({
        "_x0040_odata_x002E_id": "evil",
        "a_x0040_odata_x002E_type": "#Edm.Int32",
        "x_x002E_y": 1,
        "_x005F_": 2,
        "ok": {"c_x0040_d": [{"e_x002E_f": 3}]}
    });
    let page = env
        .get("/odata/Records?$filter=Id eq 1&$select=Id,Meta")
        .await
        .json();
    assert_eq!(page["value"][0]["Meta"], expected, "{page}");
    let entity = env.get("/odata/Records(1)?$select=Id,Meta").await.json();
    assert_eq!(entity["Meta"], expected, "{entity}");
    let alone = env.get("/odata/Records(1)/Meta").await;
    assert_eq!(alone.status, 200, "{}", alone.text());
    let alone = alone.json();
    for (key, value) in expected.as_object().into_iter().flatten() {
        assert_eq!(&alone[key], value, "{alone}");
    }
    for text in [page.to_string(), entity.to_string(), alone.to_string()] {
        assert!(
            !text.contains("\"@odata.id\"") && !text.contains("a@odata"),
            "{text}"
        );
    }
    env.stop().await;
}

/// A complex-typed property read on its own is the complex value itself,
/// its properties beside `@odata.context` (JSON Format 11), and the same
/// value its entity holds.
#[tokio::test]
async fn a_complex_property_is_answered_as_the_complex_value() {
    let env = Env::start(50, |_| {}).await;
    let mut checked = 0;
    for (set, prop) in [
        ("Notes", "BinFile"),
        ("CustomObjects", "Data"),
        ("Contracts", "AutoBilling"),
    ] {
        let page = env
            .get(&format!("/odata/{set}?$top=20&$select=Id,{prop}"))
            .await
            .json();
        let rows = page["value"].as_array().cloned().unwrap_or_default();
        for row in rows.iter().filter(|r| r[prop].is_object()).take(3) {
            let path = format!("/odata/{set}({})/{prop}", row["Id"]);
            let r = env.get(&path).await;
            assert_eq!(r.status, 200, "{path}: {}", r.text());
            let mut j = r.json();
            let context = j
                .as_object_mut()
                .and_then(|o| o.remove("@odata.context"))
                .unwrap_or_else(|| panic!("{path}: no context: {}", r.text()));
            assert!(
                context.as_str().is_some_and(|c| c.ends_with(&format!(
                    "$metadata#{set}({})/{prop}",
                    row["Id"]
                ))),
                "{path}: {context}"
            );
            assert_eq!(j, row[prop], "{path}");
            let bare = env
                .get_with(
                    &path,
                    &[
                        ("authorization", basic("demo", "demo")),
                        ("accept", "application/json;odata.metadata=none".into()),
                    ],
                )
                .await
                .json();
            assert_eq!(bare, row[prop], "{path}");
            checked += 1;
        }
    }
    assert!(checked >= 3, "only {checked} complex values found");
    env.stop().await;
}

/// ZeyOS has no `GET /links/{ID}`; the gateway reads a link by key with a
/// list request instead, so `Links(k)` and the paths below it answer like
/// any other entity's, and an ID that names no link is a 404.
#[tokio::test]
async fn an_entity_without_a_zeyos_get_by_id_is_read_by_key() {
    let env = Env::start(50, |_| {}).await;
    let page = env.get("/odata/Links?$top=3&$orderby=Id desc").await.json();
    let rows = page["value"].as_array().cloned().unwrap_or_default();
    assert!(!rows.is_empty(), "no links: {page}");
    for row in &rows {
        let path = format!("/odata/Links({})", row["Id"]);
        let r = env.get(&path).await;
        assert_eq!(r.status, 200, "{path}: {}", r.text());
        let mut one = r.json();
        one.as_object_mut().map(|o| o.remove("@odata.context"));
        assert_eq!(one, *row, "{path}");
        let r = env.get(&format!("{path}/Id/$value")).await;
        assert_eq!(r.text(), row["Id"].to_string(), "{path}/Id/$value");
    }
    let r = env.get("/odata/Links(99999999)").await;
    assert_eq!(r.status, 404, "{}", r.text());
    assert_eq!(r.json()["error"]["code"], "NotFound");
    env.stop().await;
}

/// `If-Match` on a read (RFC 9110 13.1.1): the answer when it names the
/// current tag or `*`, 412 when it names only others.
#[tokio::test]
async fn if_match_on_a_read_answers_412_for_a_stale_tag() {
    let env = Env::start(20, |_| {}).await;
    for path in [
        "/odata/Accounts(1)",
        "/odata/Accounts(1)?$expand=Transactions($select=Id)",
        "/odata/Accounts?$top=3&$select=Id",
    ] {
        let first = env.get(path).await;
        assert_eq!(first.status, 200, "{path}");
        let tag = first
            .header("etag")
            .unwrap_or_else(|| panic!("{path}: no ETag"));
        let with = |value: String| {
            let env = &env;
            async move {
                env.get_with(
                    path,
                    &[
                        ("authorization", basic("demo", "demo")),
                        ("if-match", value),
                    ],
                )
                .await
            }
        };
        assert_eq!(with(tag.clone()).await.status, 200, "{path}");
        assert_eq!(with(format!("\"x\", {tag}")).await.status, 200, "{path}");
        assert_eq!(with("*".into()).await.status, 200, "{path}");
        let stale = with("\"stale\"".into()).await;
        assert_eq!(stale.status, 412, "{path}: {}", stale.text());
        assert_eq!(
            stale.json()["error"]["code"],
            "PreconditionFailed",
            "{path}"
        );
    }
    env.stop().await;
}

/// `POST .../$query` with the query options as `text/plain` answers what
/// the `GET` with those options answers, the URL's own options included,
/// and its nextLinks are ordinary `GET` URLs.
#[tokio::test]
async fn query_options_in_a_post_body_answer_as_the_get_does() {
    let env = Env::start(50, |_| {}).await;
    let post = |path: &str, content_type: &str, body: &str| {
        let url = format!("{}{path}", env.base);
        let headers = vec![
            ("authorization", basic("demo", "demo")),
            ("content-type", content_type.to_string()),
            ("prefer", "odata.maxpagesize=4".to_string()),
        ];
        let body = body.to_string();
        let http = env.http.clone();
        async move { http.send_body("POST", &url, &headers, body).await }
    };
    let options = "$filter=startswith(LastName,'S')%20or%20Id%20lt%2010&$select=Id,LastName&$orderby=LastName,Id&$count=true";
    let by_get = env
        .get_with(
            &format!("/odata/Accounts?{options}"),
            &[
                ("authorization", basic("demo", "demo")),
                ("prefer", "odata.maxpagesize=4".to_string()),
            ],
        )
        .await
        .json();
    let by_post = post(
        "/odata/Accounts/$query",
        "text/plain",
        &format!("{options}\n"),
    )
    .await;
    assert_eq!(by_post.status, 200, "{}", by_post.text());
    let by_post = by_post.json();
    assert_eq!(by_post, by_get);
    let next = by_post["@odata.nextLink"].as_str().expect("a nextLink");
    assert!(!next.contains("$query"), "{next}");
    let page2 = env.get(next.trim_start_matches(&env.base)).await;
    assert_eq!(page2.status, 200, "{}", page2.text());

    // Options in the URL and in the body are read together; one given in
    // both places is a duplicate.
    let split = post(
        "/odata/Accounts/%24query?$select=Id,LastName",
        "text/plain",
        "$filter=startswith(LastName,'S')%20or%20Id%20lt%2010&$orderby=LastName,Id&$count=true",
    )
    .await;
    let split = split.json();
    for key in ["@odata.context", "@odata.count", "value"] {
        assert_eq!(split[key], by_get[key], "{key}");
    }
    let twice = post("/odata/Accounts/$query?$top=1", "text/plain", "$top=2").await;
    assert_eq!(twice.status, 400, "{}", twice.text());

    for (content_type, body, status) in [
        ("application/json", "$top=1", 415),
        ("text/plain", "$filter=Id gt 5", 400),
        ("text/plain", "$filter=Nope%20eq%201", 400),
    ] {
        let r = post("/odata/Accounts/$query", content_type, body).await;
        assert_eq!(r.status, status, "{content_type} {body}: {}", r.text());
        assert!(r.json()["error"]["code"].is_string());
    }

    // Inside a batch too, in either format, a POST to $query is the read.
    let auth = ("authorization", basic("demo", "demo"));
    let json_batch = serde_json::json!({"requests": [
        {"id": "1", "method": "POST", "url": "Accounts/$query",
         "headers": {"content-type": "text/plain", "prefer": "odata.maxpagesize=4"},
         "body": options},
        {"id": "2", "method": "POST", "url": "Accounts/$query",
         "headers": {"content-type": "application/json"}, "body": {"top": 1}},
    ]});
    let r = common::batch::send(
        &env,
        &[auth.clone(), ("content-type", "application/json".into())],
        json_batch.to_string(),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let answers = r.json()["responses"].clone();
    assert_eq!(answers[0]["status"], 200, "{answers}");
    assert_eq!(answers[0]["body"], by_get);
    assert_eq!(answers[1]["status"], 415, "{answers}");
    let multipart = format!(
        "--b\r\nContent-Type: application/http\r\n\r\n\
         POST Accounts/$query HTTP/1.1\r\nContent-Type: text/plain\r\nPrefer: odata.maxpagesize=4\r\n\r\n\
         {options}\r\n--b--\r\n"
    );
    let r = common::batch::send(
        &env,
        &[auth, ("content-type", "multipart/mixed; boundary=b".into())],
        multipart,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let content_type = r.header("content-type").unwrap_or_default();
    let parts = common::batch::parts(&content_type, &r.body);
    assert_eq!(parts.len(), 1, "{}", r.text());
    assert_eq!(parts[0].status, 200, "{}", r.text());
    let inner: serde_json::Value = serde_json::from_slice(&parts[0].body).unwrap_or_default();
    assert_eq!(inner, by_get);
    env.stop().await;
}
