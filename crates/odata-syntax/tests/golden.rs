//! Data-driven regression cases: `conformance/parser/cases.txt` (request
//! targets) against `conformance/parser/expected.txt` (canonical re-printed
//! target, or the error). `BLESS=1` rewrites the expectations.

use std::path::PathBuf;

use odata_syntax::{parse_uri, Limits};

#[test]
fn golden_targets() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../conformance/parser");
    let cases = std::fs::read_to_string(dir.join("cases.txt")).expect("cases.txt");
    let mut actual = String::new();
    for line in cases.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let out = match parse_uri(line, &Limits::default()) {
            Ok(u) => {
                // the canonical form must itself parse to the same tree
                let again = parse_uri(&u.to_string(), &Limits::default()).expect("re-parse");
                assert_eq!(again, u, "{line}");
                format!("ok    {u}")
            }
            Err(e) => format!("error {e}"),
        };
        actual.push_str(&format!("{line}\n  => {out}\n"));
    }
    let path = dir.join("expected.txt");
    if std::env::var_os("BLESS").is_some() {
        std::fs::write(&path, &actual).expect("write expected.txt");
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_default();
    if expected != actual {
        for (e, a) in expected.lines().zip(actual.lines()) {
            if e != a {
                println!("expected: {e}\n  actual: {a}");
            }
        }
        panic!("golden output differs; re-bless with BLESS=1 if the change is intended");
    }
}
