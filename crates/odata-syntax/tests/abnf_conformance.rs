//! Runs the OASIS OData ABNF test cases against the parser.
//!
//! Each `Rule:` is mapped to a parser entry point. The parser is model-free,
//! so for rules whose negative cases depend on what a name *is* (an entity
//! set, a complex property, a function import...), [`roles`] applies the
//! file's `Constraints` section to the parsed tree, the way the binder will
//! apply the real model. The parser itself must still accept or reject:
//! the role check only ever turns an accepted input into a rejection.
//!
//! Prints `N passed, M failed, K skipped`. Set `ABNF_VERBOSE=1` to list
//! every failing case (or run with `--nocapture`: failures are always
//! listed). Skipped cases and rules, each with its reason, are in
//! `conformance/abnf/skipped.txt` at the repository root.

#[path = "support/yaml.rs"]
mod abnf_yaml;
#[path = "support/roles.rs"]
mod roles;

use std::collections::HashMap;
use std::path::PathBuf;

use abnf_yaml::Case;
use odata_syntax::decode::{percent_decode, PlusMode};
use odata_syntax::*;

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

struct Skips {
    rules: HashMap<String, String>,
    cases: HashMap<(String, String), String>,
    missing_reason: Vec<String>,
}

fn load_skips() -> Skips {
    let path = repo_root().join("conformance/abnf/skipped.txt");
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let mut s = Skips {
        rules: HashMap::new(),
        cases: HashMap::new(),
        missing_reason: Vec::new(),
    };
    for line in text.lines() {
        let line = line.trim_end();
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let parts: Vec<&str> = line.split(" :: ").collect();
        match parts.as_slice() {
            ["rule", rule, reason] if !reason.trim().is_empty() => {
                s.rules
                    .insert(rule.trim().to_owned(), reason.trim().to_owned());
            }
            ["case", rule, input, reason] if !reason.trim().is_empty() => {
                s.cases.insert(
                    (rule.trim().to_owned(), input.replace("\\t", "\t")),
                    reason.trim().to_owned(),
                );
            }
            _ => s.missing_reason.push(line.to_owned()),
        }
    }
    s
}

fn dec(s: &str) -> Result<String, ParseError> {
    Ok(percent_decode(s, PlusMode::Space)?.into_owned())
}

fn lim() -> Limits {
    Limits::default()
}

type Outcome = Result<(), String>;

thread_local! {
    /// Offset of the last parse error, to compare with the case's FailAt.
    static LAST_OFFSET: std::cell::Cell<Option<usize>> = const { std::cell::Cell::new(None) };
}

fn ok<T>(r: Result<T, ParseError>) -> Result<T, String> {
    r.map_err(|e| {
        LAST_OFFSET.with(|c| c.set(Some(e.offset())));
        e.to_string()
    })
}

fn want(cond: bool, what: &str) -> Outcome {
    if cond {
        Ok(())
    } else {
        Err(format!("parsed, but is not {what}"))
    }
}

fn literal_kind(rule: &str, input: &str, payload: bool) -> Outcome {
    let text = if payload {
        input.to_owned()
    } else {
        ok(dec(input))?
    };
    let l = ok(parse_literal(&text, &lim()))?;
    let int_digits = |max: usize| {
        let t = text.trim_start_matches(['+', '-']);
        matches!(l, Literal::Int(_)) && t.len() <= max
    };
    match rule {
        "binaryLiteral" => want(matches!(l, Literal::Binary(_)), "binary"),
        "boolean" => want(matches!(l, Literal::Boolean(_)), "a boolean"),
        "booleanValue" => want(text == "true" || text == "false", "lower-case boolean"),
        "date" | "dateValue" => want(matches!(l, Literal::Date(_)), "a date"),
        "decimalLiteral" | "doubleLiteral" | "singleLiteral" | "decimalValue" | "doubleValue"
        | "singleValue" => want(
            matches!(
                l,
                Literal::Int(_) | Literal::Decimal(_) | Literal::Double(_)
            ),
            "a number",
        ),
        "sbyteLiteral" | "sbyteValue" | "byteValue" => want(int_digits(3), "a byte"),
        "int16Literal" | "int16Value" => want(int_digits(5), "an int16"),
        "int32Literal" | "int32Value" => want(int_digits(10), "an int32"),
        "int64Literal" | "int64Value" => want(int_digits(19), "an int64"),
        "stringLiteral" => want(matches!(l, Literal::String(_)), "a string"),
        "guid" => want(matches!(l, Literal::Guid(_)), "a guid"),
        "null" => want(matches!(l, Literal::Null), "null"),
        r if r.starts_with("geography") || r.starts_with("geometry") => {
            let Literal::Geo(g) = &l else {
                return Err("not geo".into());
            };
            let shape = match g.value {
                Geo::Point(_) => "Point",
                Geo::LineString(_) => "LineString",
                Geo::Polygon(_) => "Polygon",
                Geo::MultiPoint(_) => "MultiPoint",
                Geo::MultiLineString(_) => "MultiLineString",
                Geo::MultiPolygon(_) => "MultiPolygon",
                Geo::Collection(_) => "Collection",
            };
            let prefix = if g.geography { "geography" } else { "geometry" };
            want(rule == format!("{prefix}{shape}"), rule)
        }
        "primitiveLiteral" => Ok(()),
        _ => Err(format!("no literal mapping for {rule}")),
    }
}

/// Runs one case; Ok = accepted.
fn run(case: &Case, suite: &abnf_yaml::Suite) -> Outcome {
    let input = case.input.as_str();
    let roles = roles::Roles::new(&suite.constraints);
    match case.rule.as_str() {
        "odataUri" => roles::odata_uri(input, &roles),
        "odataRelativeUri" => {
            let u = ok(parse_uri(input, &lim()))?;
            roles.check_uri(&u)
        }
        "resourcePath" => {
            let p = ok(parse_resource_path(input, &lim()))?;
            roles.check_path(&p)
        }
        "queryOptions" => {
            let q = ok(parse_query(input, &lim()))?;
            roles.check_query(&q)
        }
        "systemQueryOption" => {
            let q = ok(parse_query(input, &lim()))?;
            want(
                q.custom.is_empty() && q.aliases.is_empty(),
                "a system query option",
            )
        }
        "customQueryOption" => {
            let q = ok(parse_query(input, &lim()))?;
            want(q.custom.len() == 1, "a custom query option")
        }
        "filter" | "expand" | "select" | "orderby" | "orderBy" | "compute" | "search"
        | "skiptoken" | "deltatoken" => {
            let q = ok(parse_query(input, &lim()))?;
            let present = match case.rule.to_ascii_lowercase().as_str() {
                "filter" => q.filter.is_some(),
                "expand" => q.expand.is_some(),
                "select" => q.select.is_some(),
                "orderby" => q.orderby.is_some(),
                "compute" => q.compute.is_some(),
                "search" => q.search.is_some(),
                "skiptoken" => q.skiptoken.is_some(),
                _ => q.deltatoken.is_some(),
            };
            want(present && q.custom.is_empty(), &case.rule)?;
            roles.check_query(&q)
        }
        "commonExpr" | "boolCommonExpr" | "boolcommonExpr" => {
            let e = ok(parse_expression(&ok(dec(input))?, &lim()))?;
            roles.check_expr(&e)
        }
        "firstMemberExpr" | "propertyPathExpr" => {
            let e = ok(parse_expression(&ok(dec(input))?, &lim()))?;
            want(matches!(e.kind, ExprKind::Path(_)), "a member path")?;
            roles.check_expr(&e)
        }
        "notExpr" => {
            let e = ok(parse_expression(&ok(dec(input))?, &lim()))?;
            want(
                matches!(
                    e.kind,
                    ExprKind::Unary {
                        op: UnaryOp::Not,
                        ..
                    }
                ),
                "not",
            )
        }
        "isofExpr" => {
            let e = ok(parse_expression(&ok(dec(input))?, &lim()))?;
            want(
                matches!(
                    e.kind,
                    ExprKind::TypeCheck {
                        kind: TypeCheckKind::IsOf,
                        ..
                    }
                ),
                "isof",
            )
        }
        "anyExpr" => {
            // anyExpr is the segment after a collection path: give it one
            let e = ok(parse_expression(
                &format!("Items/{}", ok(dec(input))?),
                &lim(),
            ))?;
            match &e.kind {
                ExprKind::Path(p) => want(
                    matches!(p.segments.last().map(|s| &s.kind), Some(SegmentKind::Lambda(l)) if l.kind == LambdaKind::Any),
                    "any",
                ),
                _ => Err("not a path".into()),
            }
        }
        "odataIdentifier" | "entitySetName" => {
            let e = ok(parse_expression(input, &lim()))?;
            let single = matches!(&e.kind, ExprKind::Path(p) if p.start == PathStart::Relative && p.segments.len() == 1
                && matches!(&p.segments[0].kind, SegmentKind::Name(n) if !n.is_qualified())
                && p.segments[0].args.is_empty());
            want(single, "an identifier")?;
            if case.rule == "entitySetName" {
                want(roles.is("entitySetName", input), "an entity set")?;
            }
            Ok(())
        }
        "functionParameter" => {
            let p = ok(parse_resource_path(&format!("F({input})"), &lim()))?;
            want(
                p.segments[0].args.len() == 1
                    && p.segments[0].args[0].items.len() == 1
                    && p.segments[0].args[0].items[0].name.is_some(),
                "a named parameter",
            )
        }
        "stringInUrl" => {
            let e = ok(parse_expression(&format!("[{}]", ok(dec(input))?), &lim()))?;
            want(
                matches!(&e.kind, ExprKind::Array(a) if a.len() == 1 && matches!(a[0].kind, ExprKind::JsonString(_))),
                "a JSON string",
            )
        }
        "searchExpr" => ok(parse_search(&ok(dec(input))?, &lim())).map(|_| ()),
        "durationLiteral" => ok(parse_duration(&ok(dec(input))?)).map(|_| ()),
        "durationValue" => {
            want(!input.starts_with(['\'', 'd']), "a bare duration value")?;
            ok(parse_duration(input)).map(|_| ())
        }
        "enumLiteral" => ok(parse_enum_literal(&ok(dec(input))?)).map(|_| ()),
        "enumValue" => ok(parse_enum_literal(&format!("'{input}'"))).map(|_| ()),
        "timeOfDayLiteral" => ok(parse_time_of_day(&ok(dec(input))?)).map(|_| ()),
        "timeOfDayValue" => ok(parse_time_of_day(input)).map(|_| ()),
        "dateTimeOffsetLiteral" | "dateTimeOffsetValueInUrl" => {
            ok(parse_date_time_offset(&ok(dec(input))?)).map(|_| ())
        }
        "dateTimeOffsetValue" => ok(parse_date_time_offset(input)).map(|_| ()),
        "preference" | "includeAnnotationsPreference" | "maxpagesizePreference" => {
            ok(parse_preference(input)).map(|_| ())
        }
        "prefer" => {
            let v = input
                .strip_prefix("Prefer:")
                .ok_or_else(|| "no 'Prefer:'".to_owned())?
                .trim_start_matches([' ', '\t']);
            ok(parse_prefer(v)).map(|_| ())
        }
        r if r.ends_with("Value") => literal_kind(r, input, true),
        r => literal_kind(r, input, false),
    }
}

#[test]
fn oasis_abnf_testcases() {
    // `shared/` sits beside the repository (`../shared`); from a git
    // worktree it may be further up, so look in every ancestor.
    let rel = "shared/conformance/abnf/odata-abnf-testcases.yaml";
    let root = repo_root();
    let Some(file) = root
        .ancestors()
        .skip(1)
        .map(|a| a.join(rel))
        .find(|f| f.exists())
    else {
        println!("skipping ABNF conformance: ../{rel} not found");
        return;
    };
    let Ok(text) = std::fs::read_to_string(&file) else {
        println!("skipping ABNF conformance: {} unreadable", file.display());
        return;
    };
    let suite = abnf_yaml::parse(&text);
    assert!(
        suite.cases.len() > 800,
        "read only {} cases",
        suite.cases.len()
    );
    let skips = load_skips();
    assert!(
        skips.missing_reason.is_empty(),
        "skip entries without a reason: {:?}",
        skips.missing_reason
    );
    let verbose = std::env::var_os("ABNF_VERBOSE").is_some();
    let (mut passed, mut failed, mut skipped) = (0usize, 0usize, 0usize);
    let mut position_exact = (0usize, 0usize);
    let mut failures = Vec::new();
    for case in &suite.cases {
        if skips.rules.contains_key(&case.rule)
            || skips
                .cases
                .contains_key(&(case.rule.clone(), case.input.clone()))
        {
            skipped += 1;
            continue;
        }
        LAST_OFFSET.with(|c| c.set(None));
        let outcome = std::panic::catch_unwind(|| run(case, &suite))
            .unwrap_or_else(|_| Err("PANIC".to_owned()));
        let good = matches!((case.fail_at, &outcome), (None, Ok(())) | (Some(_), Err(_)));
        if let (Some(want), true) = (case.fail_at, good) {
            position_exact.1 += 1;
            let got = LAST_OFFSET.with(|c| c.get());
            if got == Some(want) {
                position_exact.0 += 1;
            } else if verbose {
                println!(
                    "  position: [{}] {:?} fails at {:?}, OASIS says {want}",
                    case.rule, case.input, got
                );
            }
        }
        if good {
            passed += 1;
        } else {
            failed += 1;
            failures.push(format!(
                "  [{}] {:?} (expected {}) -> {:?}   # {}",
                case.rule,
                case.input,
                case.fail_at
                    .map_or("accept".to_owned(), |p| format!("fail at {p}")),
                outcome,
                case.name
            ));
        }
    }
    if verbose || !failures.is_empty() {
        println!("failing cases:");
        for f in &failures {
            println!("{f}");
        }
    }
    println!(
        "rejected cases failing at exactly the OASIS FailAt byte: {} of {} (informational)",
        position_exact.0, position_exact.1
    );
    println!("{passed} passed, {failed} failed, {skipped} skipped");
    let applicable = passed + failed;
    let rate = passed as f64 / applicable.max(1) as f64;
    assert!(rate >= 0.95, "pass rate {:.1}% is below 95%", rate * 100.0);
}
