//! Every filter operator against a fixture of known contacts, with
//! PostgreSQL semantics (three-valued logic, LIKE escapes, Unicode ILIKE).

mod common;

use common::Api;
use http::StatusCode;
use serde_json::{json, Value};

/// Creates five contacts with known values; returns their IDs a..e.
async fn fixture(api: &Api) -> [i64; 5] {
    let rows = [
        json!({"lastname": "Köln Kontor", "city": "Köln", "postalcode": "50667", "description": "100% sure", "extdata": {"linkedin": "in/koeln", "score": 7}}),
        json!({"lastname": "KÖLN GmbH", "firstname": "Anna", "city": "KÖLN", "description": "100 percent", "extdata": {"score": 3}}),
        json!({"lastname": "snake_case", "firstname": "Zoë", "city": "München", "postalcode": "", "description": "a_b"}),
        json!({"lastname": "Back\\slash", "firstname": "O'Brien", "city": "Wien", "postalcode": "1010", "description": "C:\\temp"}),
        json!({"lastname": "abc", "birthdate": 0, "postalcode": "80331", "description": "axb"}),
    ];
    let mut ids = [0; 5];
    for (i, r) in rows.into_iter().enumerate() {
        ids[i] = api.create("contacts", r).await["ID"].as_i64().unwrap();
    }
    ids
}

/// IDs among the fixture matching `filter`, as letters for readable asserts.
async fn matching(api: &Api, ids: &[i64; 5], filter: Value) -> String {
    let wrapped = json!({"ID": {">=": ids[0]}, "1": ["AND", filter]});
    api.ids("contacts", wrapped)
        .await
        .into_iter()
        .map(|id| (b'a' + (id - ids[0]) as u8) as char)
        .collect()
}

#[tokio::test]
async fn comparison_operators_and_nulls() {
    let api = common::start(10).await;
    let ids = fixture(&api).await;
    let m = |f: Value| matching(&api, &ids, f);
    assert_eq!(m(json!({"city": "Köln"})).await, "a");
    assert_eq!(m(json!({"city": "köln"})).await, "", "= is case-sensitive");
    assert_eq!(m(json!({"city": {"=": "Wien"}})).await, "d");
    // != and <> exclude NULLs (three-valued logic).
    assert_eq!(m(json!({"city": {"!=": "Köln"}})).await, "bcd");
    assert_eq!(m(json!({"city": {"<>": "Köln"}})).await, "bcd");
    assert_eq!(m(json!({"city": null})).await, "e");
    assert_eq!(m(json!({"city": {"=": null}})).await, "e");
    assert_eq!(m(json!({"city": {"!=": null}})).await, "abcd");
    assert_eq!(m(json!({"city": {"<>": null}})).await, "abcd");
    // Comparisons with NULL are unknown.
    assert_eq!(m(json!({"city": {"<": null}})).await, "");
    // Binary (code point) order: "KÖLN" < "Köln" < "L" < "München" < "Wien".
    assert_eq!(m(json!({"city": {"<": "L"}})).await, "ab");
    assert_eq!(m(json!({"city": {"<=": "KÖLN"}})).await, "b");
    assert_eq!(m(json!({"city": {">": "Köln"}})).await, "cd");
    assert_eq!(m(json!({"city": {">=": "München"}})).await, "cd");
    // Several operators on one field are ANDed.
    assert_eq!(m(json!({"ID": {">": ids[0], "<=": ids[2]}})).await, "bc");
    // Numbers against a text column compare as text; strings against an
    // integer column are cast like PostgreSQL literals.
    assert_eq!(m(json!({"postalcode": 1010})).await, "d");
    assert_eq!(m(json!({"ID": ids[1].to_string()})).await, "b");
    // Empty string is not NULL.
    assert_eq!(m(json!({"postalcode": ""})).await, "c");
    assert_eq!(m(json!({"postalcode": null})).await, "b");
    assert_eq!(m(json!({"birthdate": {"<": 1}})).await, "e");
    assert_eq!(m(json!({"birthdate": {">=": 0}})).await, "e");
}

#[tokio::test]
async fn in_and_not_in() {
    let api = common::start(10).await;
    let ids = fixture(&api).await;
    let m = |f: Value| matching(&api, &ids, f);
    assert_eq!(m(json!({"city": {"IN": ["Köln", "Wien"]}})).await, "ad");
    // A NULL in the list never matches NULL rows.
    assert_eq!(m(json!({"city": {"IN": ["Köln", null]}})).await, "a");
    // NOT IN excludes NULL rows, and with a NULL in the list matches nothing.
    assert_eq!(m(json!({"city": {"!IN": ["Köln"]}})).await, "bcd");
    assert_eq!(m(json!({"city": {"!IN": ["Köln", null]}})).await, "");
    assert_eq!(m(json!({"city": {"IN": []}})).await, "");
    assert_eq!(m(json!({"city": {"!IN": []}})).await, "abcde");
    assert_eq!(
        m(json!({"ID": {"IN": [ids[0], ids[4].to_string()]}})).await,
        "ae"
    );
    let (s, t) = api
        .list_err("contacts", json!({"filter": {"city": {"IN": "Köln"}}}))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(t.contains("IN") && t.contains("city"), "{t}");
}

#[tokio::test]
async fn like_and_ilike() {
    let api = common::start(10).await;
    let ids = fixture(&api).await;
    let m = |f: Value| matching(&api, &ids, f);
    assert_eq!(m(json!({"lastname": {"~~": "K%"}})).await, "ab");
    assert_eq!(
        m(json!({"lastname": {"~~": "k%"}})).await,
        "",
        "LIKE is case-sensitive"
    );
    assert_eq!(m(json!({"lastname": {"~~": "ab_"}})).await, "e");
    assert_eq!(
        m(json!({"lastname": {"~~": "%\\_%"}})).await,
        "c",
        "escaped underscore"
    );
    assert_eq!(m(json!({"lastname": {"~~": "%_%"}})).await, "abcde");
    assert_eq!(
        m(json!({"description": {"~~": "100\\%%"}})).await,
        "a",
        "escaped percent"
    );
    assert_eq!(m(json!({"description": {"~~": "100%"}})).await, "ab");
    assert_eq!(
        m(json!({"lastname": {"~~": "%\\\\%"}})).await,
        "d",
        "escaped backslash"
    );
    assert_eq!(m(json!({"description": {"~~": "a_b"}})).await, "ce");
    // ILIKE folds Unicode case.
    assert_eq!(m(json!({"lastname": {"~~*": "köln%"}})).await, "ab");
    assert_eq!(m(json!({"city": {"~~*": "KÖLN"}})).await, "ab");
    assert_eq!(m(json!({"firstname": {"~~*": "ZOË"}})).await, "c");
    // Negations exclude NULLs.
    assert_eq!(m(json!({"lastname": {"!~~": "K%"}})).await, "cde");
    assert_eq!(m(json!({"city": {"!~~*": "köln"}})).await, "cd");
    assert_eq!(m(json!({"firstname": {"!~~": "%"}})).await, "");
    // A pattern ending in the escape character is an error, as in PostgreSQL.
    let (s, t) = api
        .list_err("contacts", json!({"filter": {"lastname": {"~~": "abc\\"}}}))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{t}");
    // LIKE on a numeric field is a type error.
    let (s, t) = api
        .list_err("contacts", json!({"filter": {"ID": {"~~": "1%"}}}))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{t}");
}

#[tokio::test]
async fn regular_expressions() {
    let api = common::start(10).await;
    let ids = fixture(&api).await;
    let m = |f: Value| matching(&api, &ids, f);
    assert_eq!(m(json!({"city": {"~": "^K"}})).await, "ab");
    assert_eq!(m(json!({"city": {"~": "ö"}})).await, "a");
    assert_eq!(m(json!({"city": {"~*": "ÖL"}})).await, "ab");
    assert_eq!(m(json!({"lastname": {"~": "\\\\"}})).await, "d");
    assert_eq!(m(json!({"postalcode": {"~": "^[0-9]{4}$"}})).await, "d");
    assert_eq!(m(json!({"city": {"!~": "^K"}})).await, "cd");
    assert_eq!(m(json!({"city": {"!~*": "köln"}})).await, "cd");
    let (s, t) = api
        .list_err("contacts", json!({"filter": {"city": {"~": "(unclosed"}}}))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(t.contains("regular expression"), "{t}");
}

#[tokio::test]
async fn nested_groups() {
    let api = common::start(10).await;
    let ids = fixture(&api).await;
    let m = |f: Value| matching(&api, &ids, f);
    assert_eq!(
        m(json!({"2": ["OR", {"city": "Köln"}, {"city": "Wien", "postalcode": "1010"}]})).await,
        "ad"
    );
    assert_eq!(
        m(json!({"2": ["OR", {"city": "Köln"}, ["AND", {"city": "Wien"}, {"postalcode": "x"}]]}))
            .await,
        "a"
    );
    // NOT of unknown is unknown: the NULL city row stays excluded.
    assert_eq!(m(json!({"5": ["NOT", {"city": "Köln"}]})).await, "bcd");
    // NOT applies to the AND of its members; for row a that AND is
    // (true AND NULL) = NULL, so NOT leaves it unknown and excludes it.
    assert_eq!(
        m(json!({"5": ["NOT", {"city": {"~~": "K%"}}, {"firstname": "Anna"}]})).await,
        "cd"
    );
    assert_eq!(
        m(json!({"1": ["NOT", {"3": ["OR", {"city": "Köln"}, {"city": "Wien"}]}]})).await,
        "bc"
    );
    assert_eq!(m(json!({"1": ["OR"]})).await, "");
    assert_eq!(m(json!({"1": ["AND"]})).await, "abcde");
    // Lower-case group operators are accepted.
    assert_eq!(
        m(json!({"1": ["or", {"city": "Wien"}, {"city": "KÖLN"}]})).await,
        "bd"
    );

    // Deep nesting is fine up to the limit, and a 400 beyond it.
    let mut f = json!({"city": "Köln"});
    for _ in 0..20 {
        f = json!({"1": ["AND", f]});
    }
    assert_eq!(m(f).await, "a");
    let mut f = json!({"city": "Köln"});
    for _ in 0..40 {
        f = json!({"1": ["AND", f]});
    }
    let body = serde_json::to_string(&json!({"filter": f})).unwrap();
    let r = api
        .call_raw(
            http::Method::POST,
            "/contacts",
            &[("content-type", "application/json")],
            Some(&body),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
    assert!(r.text().contains("depth"), "{}", r.text());

    // Malformed groups.
    for bad in [
        json!({"1": ["XOR", {"city": "Köln"}]}),
        json!({"1": [{"city": "Köln"}]}),
        json!({"1": ["OR", "Köln"]}),
        json!({"1": {"city": "Köln"}}),
    ] {
        let (s, t) = api.list_err("contacts", json!({"filter": bad})).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{t}");
    }
}

#[tokio::test]
async fn joins_and_extdata() {
    let api = common::start(10).await;
    let ids = fixture(&api).await;
    let m = |f: Value| matching(&api, &ids, f);
    assert_eq!(m(json!({"extdata.linkedin": "in/koeln"})).await, "a");
    assert_eq!(m(json!({"extdata.linkedin": null})).await, "bcde");
    assert_eq!(m(json!({"extdata.score": {">": 5}})).await, "a");
    assert_eq!(m(json!({"extdata.score": {"IN": [3, 7]}})).await, "ab");
    assert_eq!(m(json!({"extdata.linkedin": {"~~": "in/%"}})).await, "a");

    // Accounts pointing at fixture contacts: filter through the join.
    let acc1 = api
        .create(
            "accounts",
            json!({"lastname": "Join A", "contact": ids[0], "assigneduser": 3}),
        )
        .await["ID"]
        .as_i64()
        .unwrap();
    let acc2 = api
        .create("accounts", json!({"lastname": "Join B", "contact": ids[4]}))
        .await["ID"]
        .as_i64()
        .unwrap();
    let got = api
        .ids(
            "accounts",
            json!({"ID": {">=": acc1}, "contact.city": "Köln"}),
        )
        .await;
    assert_eq!(got, vec![acc1]);
    let got = api
        .ids(
            "accounts",
            json!({"ID": {">=": acc1}, "contact.city": null}),
        )
        .await;
    assert_eq!(got, vec![acc2]);
    let got = api
        .ids(
            "accounts",
            json!({"ID": {">=": acc1}, "assigneduser.name": {"~~*": "max%"}}),
        )
        .await;
    assert_eq!(got, vec![acc1]);
}

#[tokio::test]
async fn filter_errors() {
    let api = common::start(10).await;
    let cases = [
        (json!({"nosuchfield": 1}), "nosuchfield"),
        (json!({"contact.nosuch": 1}), "nosuch"),
        (json!({"lastname.city": 1}), "lastname"),
        (json!({"city": {"LIKE": "x"}}), "LIKE"),
        (json!({"city": {"=": {"a": 1}}}), "city"),
        (json!({"city": ["a"]}), "city"),
        (json!({"ID": "abc"}), "ID"),
        (json!({"ID": {">": "1.5x"}}), "ID"),
        (json!({"city": {}}), "city"),
        (json!({"city": {"~": 5}}), "city"),
    ];
    for (filter, needle) in cases {
        let (s, t) = api
            .list_err("contacts", json!({"filter": filter.clone()}))
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{filter}: {t}");
        assert!(t.starts_with("Bad Request: "), "{t}");
        assert!(
            t.contains(needle),
            "{filter}: message {t:?} should name {needle}"
        );
    }
    // extdata on an entity without extdata.
    let (s, _) = api
        .list_err("addresses", json!({"filter": {"extdata.x": 1}}))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    // An empty filter (`{}`, `[]` as PHP encodes it, null) filters nothing.
    let all = api.sim.rows("contacts").len();
    for empty in [json!({}), json!([]), json!(null)] {
        let v = api
            .list("contacts", json!({"count": 1, "filter": empty}))
            .await;
        assert_eq!(v, json!({"count": all}));
    }
    // `filters` is accepted as well as `filter`, but not both.
    let v = api
        .list("contacts", json!({"filters": {"ID": 1}, "fields": ["ID"]}))
        .await;
    assert_eq!(v, json!([{"ID": 1}]));
    let (s, _) = api
        .list_err(
            "contacts",
            json!({"filters": {"ID": 1}, "filter": {"ID": 2}}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
}
