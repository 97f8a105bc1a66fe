//! The read corpus: every query of `conformance/read/queries.txt` against
//! the gateway, compared row by row with the oracle (`common::oracle`), and
//! the pushdown regression of `conformance/read/pushdown.txt`.
//!
//! `cargo test --release --test read_corpus -- --nocapture` prints
//! `N passed, M failed` and every failure. `BLESS=1` rewrites
//! `pushdown.txt` from the current planner (see `conformance/README.md`).

mod common;

use std::collections::HashMap;

use common::compare::{diff, fetch, oracle_for, report};
use common::oracle::{Answer, Oracle};
use common::{basic, Env};
use serde_json::Value as Json;

/// Accounts in the main environment; the other entities scale with it.
const SCALE: usize = 300;

/// Account names where Unicode case mapping and ZeyOS's case-insensitive
/// LIKE (simple case folding) part ways: the Kelvin sign folds with K but
/// is its own upper case, `ı` upper-cases to I without folding with it,
/// `ẞ` lower-cases to `ß`, a final sigma lower-cases by context, `ǅ` is
/// title case, `ﬁ` upper-cases to two letters.
const CASE_MAPPING_NAMES: [&str; 7] = [
    "\u{212A}öln Kontor",
    "Smıth & Co",
    "STRAẞE Bau",
    "ΟΔΟΣ Trading",
    "ǅemal d.o.o.",
    "ﬁne Foods",
    "ΣΟΦΙΑ Σ",
];

/// Appends accounts named [`CASE_MAPPING_NAMES`] (copies of account 1) to
/// the sim's database, before the oracle reads it.
fn add_case_mapping_accounts(env: &Env) {
    let conn = rusqlite::Connection::open(env.sim.db_path()).expect("the sim's database opens");
    let next: i64 = conn
        .query_row("SELECT MAX(\"ID\") FROM accounts", [], |r| r.get(0))
        .expect("accounts have IDs");
    for (i, name) in CASE_MAPPING_NAMES.iter().enumerate() {
        conn.execute_batch("CREATE TEMP TABLE copy AS SELECT * FROM accounts WHERE \"ID\" = 1")
            .expect("copy of account 1");
        conn.execute(
            "UPDATE copy SET \"ID\" = ?1, lastname = ?2",
            rusqlite::params![next + 1 + i as i64, name],
        )
        .expect("renamed copy");
        conn.execute_batch("INSERT INTO accounts SELECT * FROM copy; DROP TABLE copy;")
            .expect("inserted copy");
    }
}

/// Points some foreign keys at rows that do not exist, as a ZeyOS
/// database keeps them after a row was deleted without its references:
/// the navigation then has no entity (`Contact eq null`, a null
/// `$expand`), although the key property still holds a number.
fn add_dangling_references(env: &Env) {
    let conn = rusqlite::Connection::open(env.sim.db_path()).expect("the sim's database opens");
    conn.execute_batch(
        "UPDATE accounts SET contact = 900000 + \"ID\" WHERE \"ID\" IN (2, 5, 7); \
         UPDATE transactions SET contract = 900000 + \"ID\" \
           WHERE \"ID\" IN (SELECT \"ID\" FROM transactions WHERE contract IS NOT NULL ORDER BY \"ID\" LIMIT 4); \
         UPDATE transactions SET contract = 900000 + \"ID\" \
           WHERE \"ID\" IN (SELECT \"ID\" FROM transactions WHERE contract IS NULL ORDER BY \"ID\" LIMIT 2); \
         UPDATE tasks SET project = 900000 + \"ID\" WHERE \"ID\" IN (3, 4);",
    )
    .expect("foreign keys pointed at missing rows");
}

/// What the corpus runs over: the seeded data with the additions above.
fn prepare_data(env: &Env) {
    add_case_mapping_accounts(env);
    add_dangling_references(env);
}

/// One line of the corpus.
#[derive(Debug, Clone)]
struct Case {
    line: usize,
    /// `!NNN`: the status the request must fail with.
    status: Option<u16>,
    /// `@page=N`: send `Prefer: odata.maxpagesize=N`.
    page: Option<u64>,
    url: String,
}

fn corpus_path(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("conformance/read")
        .join(name)
}

fn load_corpus() -> Vec<Case> {
    let text = std::fs::read_to_string(corpus_path("queries.txt")).expect("queries.txt");
    let mut cases = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut status = None;
        let mut page = None;
        let mut rest = line;
        loop {
            if let Some(r) = rest.strip_prefix('!') {
                let (code, r) = r.split_once(' ').expect("`!NNN URL`");
                status = Some(code.parse().expect("a status code after `!`"));
                rest = r.trim_start();
            } else if let Some(r) = rest.strip_prefix("@page=") {
                let (n, r) = r.split_once(' ').expect("`@page=N URL`");
                page = Some(n.parse().expect("a page size after `@page=`"));
                rest = r.trim_start();
            } else {
                break;
            }
        }
        assert!(
            rest.starts_with('/'),
            "queries.txt:{}: `{rest}` is not a URL",
            i + 1
        );
        cases.push(Case {
            line: i + 1,
            status,
            page,
            url: rest.to_string(),
        });
    }
    cases
}

/// The request's own `$count` option (nested ones are separated by `;`
/// inside parentheses, the request's by `&`).
fn top_level_count(url: &str) -> Option<bool> {
    let query = url.split_once('?')?.1;
    query.split('&').find_map(|p| match p {
        "$count=true" => Some(true),
        "$count=false" => Some(false),
        _ => None,
    })
}

fn with_count(url: &str) -> Option<String> {
    let path = url.split('?').next().unwrap_or("");
    if top_level_count(url).is_some() || path.ends_with("/$count") {
        return None;
    }
    Some(format!(
        "{url}{}$count=true",
        if url.contains('?') { "&" } else { "?" }
    ))
}

/// Runs one case; `Err` describes the failure.
async fn run_case(
    env: &Env,
    oracle: &Oracle,
    case: &Case,
    page: Option<u64>,
) -> Result<(), String> {
    let page = case.page.or(page);
    if let Some(status) = case.status {
        let r = env.get(&case.url).await;
        if r.status != status {
            return Err(format!(
                "expected status {status}, got {}: {}",
                r.status,
                r.text()
            ));
        }
        let j: Json = serde_json::from_slice(&r.body)
            .map_err(|e| format!("error body is not JSON ({e}): {}", r.text()))?;
        if j["error"]["message"].as_str().is_none_or(str::is_empty) {
            return Err(format!("error without a message: {j}"));
        }
        return Ok(());
    }
    let mut runs = vec![case.url.clone()];
    runs.extend(with_count(&case.url));
    for url in runs {
        let expected = oracle
            .evaluate(&url)
            .map_err(|e| format!("the oracle cannot evaluate {url}: {e}"))?;
        let got = fetch(env, &url, page)
            .await
            .map_err(|e| format!("{url}: {e}"))?;
        let want_count = top_level_count(&url) == Some(true);
        if let Some(d) = diff(&expected, &got, want_count) {
            return Err(format!("{url}: {d}"));
        }
    }
    Ok(())
}

async fn run_all(env: &Env, oracle: &Oracle, cases: &[Case], page: Option<u64>) -> Vec<String> {
    // A few cases in flight at once (on this task): the gateway and the
    // sim work while the oracle evaluates.
    let next = std::sync::atomic::AtomicUsize::new(0);
    let done = std::sync::Mutex::new(Vec::new());
    let worker = || async {
        loop {
            let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let Some(case) = cases.get(i) else {
                break;
            };
            let started = std::time::Instant::now();
            let result = run_case(env, oracle, case, page).await;
            let mut done = done.lock().unwrap_or_else(|p| p.into_inner());
            done.push((
                case.line,
                started.elapsed(),
                result
                    .err()
                    .map(|e| format!("queries.txt:{}: {}\n    {e}", case.line, case.url)),
            ));
        }
    };
    tokio::join!(worker(), worker(), worker(), worker());
    let mut done = done.into_inner().unwrap_or_else(|p| p.into_inner());
    done.sort_by_key(|d| d.0);
    let mut slowest: Vec<(std::time::Duration, usize)> = done.iter().map(|d| (d.1, d.0)).collect();
    let failures: Vec<String> = done.into_iter().filter_map(|d| d.2).collect();
    if std::env::var_os("CORPUS_STATS").is_some() {
        // Queries whose answer is empty (or everything) test little.
        for case in cases.iter().filter(|c| c.status.is_none()) {
            if let Ok(Answer::Collection { keys, count, .. }) = oracle.evaluate(&case.url) {
                println!(
                    "stats: queries.txt:{} rows={} count={count} {}",
                    case.line,
                    keys.len(),
                    case.url
                );
            }
        }
    }
    if std::env::var_os("CORPUS_TIMES").is_some() {
        slowest.sort();
        for (t, line) in slowest.iter().rev().take(15) {
            println!("slow: queries.txt:{line} {t:?}");
        }
    }
    failures
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_corpus_matches_the_oracle() {
    let started = std::time::Instant::now();
    // A ZeyOS limit well below the collection sizes: most reads cross
    // several upstream chunks.
    let env = Env::start(SCALE, |c| c.upstream.max_limit = 400).await;
    prepare_data(&env);
    let oracle = oracle_for(&env).await;
    let cases = load_corpus();
    assert!(cases.len() >= 200, "the corpus has {} queries", cases.len());
    let failures = run_all(&env, &oracle, &cases, None).await;
    report("read corpus", cases.len(), &failures);
    println!("elapsed {:?}", started.elapsed());
    env.stop().await;
    assert!(failures.is_empty(), "{} queries failed", failures.len());
}

/// Tiny upstream chunks and pages: many chunks per page, many pages per
/// query, continuation across null segments and residual filters.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tiny_chunks_and_pages_match_the_oracle() {
    let env = Env::start(40, |c| c.upstream.max_limit = 7).await;
    prepare_data(&env);
    let oracle = oracle_for(&env).await;
    // Queries over the smaller sets keep this fast.
    let cases: Vec<Case> = load_corpus()
        .into_iter()
        .filter(|c| {
            c.status.is_none()
                && [
                    "/odata/Accounts",
                    "/odata/Contacts",
                    "/v1/Companies",
                    "/v1/Contacts",
                ]
                .iter()
                .any(|p| c.url.starts_with(p))
        })
        .collect();
    assert!(cases.len() >= 50, "{} cases", cases.len());
    let failures = run_all(&env, &oracle, &cases, Some(5)).await;
    report("tiny chunks and pages", cases.len(), &failures);
    env.stop().await;
    assert!(failures.is_empty(), "{} queries failed", failures.len());
}

// ------------------------------------------------------------------ explain

/// The plan summary a `pushdown.txt` line records.
fn summarize(plan: &Json) -> String {
    let n = |k: &str| plan[k].as_array().map_or(0, Vec::len);
    let order = match plan["order"]["by"].as_str() {
        Some("upstream") => format!(
            "upstream/{}",
            plan["order"]["segments"].as_array().map_or(0, Vec::len)
        ),
        Some(other) => other.to_string(),
        None => "?".into(),
    };
    format!(
        "exact={} inexact={} residual={} order={order} fully_pushed={}",
        n("exact"),
        n("inexact"),
        n("residual"),
        plan["fully_pushed"].as_bool().unwrap_or(false)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushdown_plans_stay_as_recorded() {
    let env = Env::start(20, |_| {}).await;
    let path = corpus_path("pushdown.txt");
    let text = std::fs::read_to_string(&path).expect("pushdown.txt");
    let bless = std::env::var_os("BLESS").is_some_and(|v| v != "0");
    let mut out = String::new();
    let mut failures = Vec::new();
    let mut total = 0;
    let mut seen = HashMap::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            out.push_str(raw);
            out.push('\n');
            continue;
        }
        let (url, expected) = match line.split_once(" => ") {
            Some((u, e)) => (u.trim(), Some(e.trim())),
            None => (line, None),
        };
        total += 1;
        if let Some(prev) = seen.insert(url.to_string(), i + 1) {
            failures.push(format!("pushdown.txt:{}: duplicate of line {prev}", i + 1));
        }
        let r = env
            .get_with(
                url,
                &[
                    ("authorization", basic("demo", "demo")),
                    ("x-explain", "1".into()),
                ],
            )
            .await;
        let actual = if r.status == 200 {
            summarize(&r.json())
        } else {
            format!("status={}", r.status)
        };
        if expected != Some(actual.as_str()) {
            failures.push(format!(
                "pushdown.txt:{}: {url}\n    expected {}\n    actual   {actual}",
                i + 1,
                expected.unwrap_or("(nothing)")
            ));
        }
        out.push_str(&format!("{url} => {actual}\n"));
    }
    env.stop().await;
    if bless {
        std::fs::write(&path, out).expect("pushdown.txt written");
        println!("pushdown.txt blessed ({total} plans)");
        return;
    }
    report("pushdown plans", total, &failures);
    assert!(
        failures.is_empty(),
        "{} plans changed; if intended, re-run with BLESS=1",
        failures.len()
    );
}
