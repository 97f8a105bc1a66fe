//! Property tests: random and grammar-shaped inputs never panic, generated
//! trees survive text → tree → text → tree, and depth bombs are errors.

use odata_syntax::*;
use proptest::prelude::*;

fn big() -> Limits {
    Limits {
        max_url_length: 1 << 20,
        ..Limits::default()
    }
}

fn all_entry_points(s: &str) {
    let l = Limits::default();
    let _ = parse_uri(s, &l);
    let _ = parse_query(s, &l);
    let _ = parse_resource_path(s, &l);
    let _ = parse_expression(s, &l);
    let _ = parse_search(s, &l);
    let _ = parse_literal(s, &l);
    let _ = parse_select(s, &l);
    let _ = parse_expand(s, &l);
    let _ = parse_orderby(s, &l);
    let _ = parse_apply(s, &l);
    let _ = parse_prefer(s);
    let _ = parse_date_time_offset(s);
    let _ = parse_duration(s);
    let _ = parse_enum_literal(s);
}

/// Tokens that make random strings look like OData.
fn token() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("(".to_owned()),
        Just(")".to_owned()),
        Just(" ".to_owned()),
        Just(",".to_owned()),
        Just("/".to_owned()),
        Just(";".to_owned()),
        Just("=".to_owned()),
        Just("&".to_owned()),
        Just("?".to_owned()),
        Just("'".to_owned()),
        Just("\"".to_owned()),
        Just("[".to_owned()),
        Just("]".to_owned()),
        Just("{".to_owned()),
        Just("}".to_owned()),
        Just(":".to_owned()),
        Just("@p".to_owned()),
        Just("%20".to_owned()),
        Just("%27".to_owned()),
        Just("%2".to_owned()),
        Just("+".to_owned()),
        Just("-".to_owned()),
        Just("$filter=".to_owned()),
        Just("$expand=".to_owned()),
        Just("$select=".to_owned()),
        Just("$search=".to_owned()),
        Just("$apply=".to_owned()),
        Just("$count".to_owned()),
        Just("$it".to_owned()),
        Just("$root/".to_owned()),
        Just("any(x:".to_owned()),
        Just("not ".to_owned()),
        Just(" eq ".to_owned()),
        Just(" and ".to_owned()),
        Just(" in ".to_owned()),
        Just(" has ".to_owned()),
        Just("contains(".to_owned()),
        Just("cast(".to_owned()),
        Just("case(".to_owned()),
        Just("geography'SRID=0;Point(1 2)'".to_owned()),
        Just("duration'P1D'".to_owned()),
        Just("binary'Zm9v'".to_owned()),
        Just("2012-09-03T10:00:00+01:00".to_owned()),
        Just("2021-02-30".to_owned()),
        Just("25:00".to_owned()),
        Just("01234567-89ab-cdef-0123-456789abcdef".to_owned()),
        Just("1.5e3".to_owned()),
        Just("Ns.T'A,B'".to_owned()),
        Just("NOT ".to_owned()),
        Just(" OR ".to_owned()),
        "[A-Za-z_][A-Za-z0-9_.]{0,6}",
        "[0-9]{1,4}",
    ]
}

fn grammar_shaped() -> impl Strategy<Value = String> {
    prop::collection::vec(token(), 0..40).prop_map(|v| v.concat())
}

// ---------------------------------------------------------------- trees

fn ident() -> impl Strategy<Value = String> {
    "p_[a-z0-9]{0,5}"
}

fn literal() -> impl Strategy<Value = Literal> {
    prop_oneof![
        Just(Literal::Null),
        any::<bool>().prop_map(Literal::Boolean),
        any::<i64>().prop_map(Literal::Int),
        (0u32..100_000, 0u32..1000).prop_map(|(a, b)| Literal::Decimal(format!("{a}.{b}"))),
        "[^\\x00-\\x1f]{0,8}".prop_map(Literal::String),
        (1i32..9999, 1u8..=12, 1u8..=28).prop_map(|(year, month, day)| Literal::Date(Date {
            year,
            month,
            day
        })),
        (0u8..24, 0u8..60, 0u8..60, 0u64..1000).prop_map(|(hour, minute, second, ms)| {
            Literal::TimeOfDay(TimeOfDay {
                hour,
                minute,
                second,
                picos: ms * 1_000_000_000,
            })
        }),
        any::<u128>().prop_map(|g| Literal::Guid(Guid(g.to_be_bytes()))),
    ]
}

fn leaf() -> impl Strategy<Value = Expr> {
    let e = |kind| Expr {
        kind,
        span: Span::default(),
    };
    prop_oneof![
        literal().prop_map(move |l| e(ExprKind::Literal(l))),
        prop::collection::vec(ident(), 1..3).prop_map(move |names| e(ExprKind::Path(MemberPath {
            start: PathStart::Relative,
            segments: names
                .into_iter()
                .map(|n| Segment {
                    kind: SegmentKind::Name(QualifiedName::simple(n)),
                    args: vec![],
                    span: Span::default()
                })
                .collect(),
        }))),
        ident().prop_map(move |n| e(ExprKind::Alias(n))),
    ]
}

fn tree() -> impl Strategy<Value = Expr> {
    let e = |kind| Expr {
        kind,
        span: Span::default(),
    };
    leaf().prop_recursive(6, 64, 3, move |inner| {
        let ops = prop_oneof![
            Just(BinaryOp::Or),
            Just(BinaryOp::And),
            Just(BinaryOp::Eq),
            Just(BinaryOp::Ne),
            Just(BinaryOp::Lt),
            Just(BinaryOp::Ge),
            Just(BinaryOp::Add),
            Just(BinaryOp::Sub),
            Just(BinaryOp::Mul),
            Just(BinaryOp::DivBy),
            Just(BinaryOp::Mod),
        ];
        prop_oneof![
            (ops, inner.clone(), inner.clone()).prop_map(move |(op, l, r)| e(ExprKind::Binary(
                Box::new(BinaryExpr {
                    op,
                    left: l,
                    right: r
                })
            ))),
            (
                prop_oneof![Just(UnaryOp::Not), Just(UnaryOp::Neg)],
                inner.clone()
            )
                .prop_map(move |(op, x)| e(ExprKind::Unary {
                    op,
                    operand: Box::new(x)
                })),
            (inner.clone(), prop::collection::vec(literal(), 0..3)).prop_map(move |(l, items)| e(
                ExprKind::Binary(Box::new(BinaryExpr {
                    op: BinaryOp::In,
                    left: l,
                    right: e(ExprKind::List(
                        items.into_iter().map(|i| e(ExprKind::Literal(i))).collect()
                    )),
                }))
            )),
            (inner.clone(), inner.clone()).prop_map(move |(a, b)| e(ExprKind::Call {
                function: Function::Contains,
                args: vec![a, b]
            })),
            inner.clone().prop_map(move |a| e(ExprKind::Call {
                function: Function::ToLower,
                args: vec![a]
            })),
            prop::collection::vec(inner, 0..3).prop_map(move |items| e(ExprKind::Array(items))),
        ]
    })
}

/// `in` binds tighter than unary minus, so `-x in (...)` parses as
/// `-(x in (...))`; the printer parenthesises by precedence, which makes
/// such trees print differently but re-parse identically. Normalise
/// nothing: the property is parse(print(t)) == t.
fn reparse(e: &Expr) -> Result<Expr, ParseError> {
    parse_expression(&e.to_string(), &big())
}

proptest! {
    // 512 cases by default; PROPTEST_CASES=n for long runs by hand
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(512),
        ..ProptestConfig::default()
    })]

    #[test]
    fn arbitrary_strings_never_panic(s in "\\PC{0,200}") {
        all_entry_points(&s);
    }

    #[test]
    fn grammar_shaped_strings_never_panic(s in grammar_shaped()) {
        all_entry_points(&s);
        // what parses, prints and parses back to the same tree
        if let Ok(e) = parse_expression(&s, &Limits::default()) {
            let again = reparse(&e).map_err(|err| TestCaseError::fail(format!("{s:?} -> {e} -> {err}")))?;
            prop_assert_eq!(again, e);
        }
        if let Ok(q) = parse_query(&s, &Limits::default()) {
            let text = q.to_string();
            let again = parse_query(&text, &big()).map_err(|err| TestCaseError::fail(format!("{s:?} -> {text:?} -> {err}")))?;
            prop_assert_eq!(again, q);
        }
    }

    #[test]
    fn generated_trees_round_trip(e in tree()) {
        let text = e.to_string();
        let parsed = parse_expression(&text, &big()).map_err(|err| TestCaseError::fail(format!("{text:?}: {err}")))?;
        prop_assert_eq!(&parsed, &e, "{}", text);
        prop_assert_eq!(parsed.to_string(), text);
    }
}

#[test]
fn depth_bombs_return_the_depth_error() {
    let l = big();
    let parens = format!("$filter={}a{}", "(".repeat(10_000), ")".repeat(10_000));
    assert!(matches!(
        parse_query(&parens, &l),
        Err(ParseError::TooDeep { .. })
    ));
    let nots = format!("$filter={}a", "not ".repeat(10_000));
    assert!(matches!(
        parse_query(&nots, &l),
        Err(ParseError::TooDeep { .. })
    ));
    let expand = format!(
        "A?$expand={}B{}",
        "A($expand=".repeat(10_000),
        ")".repeat(10_000)
    );
    assert!(matches!(
        parse_uri(&expand, &l),
        Err(ParseError::TooDeep { .. })
    ));
    let select = format!(
        "$select={}B{}",
        "A($select=".repeat(10_000),
        ")".repeat(10_000)
    );
    assert!(matches!(
        parse_query(&select, &l),
        Err(ParseError::TooDeep { .. })
    ));
    let count = format!("$filter={}", "A/$count($filter=".repeat(10_000));
    assert!(matches!(
        parse_query(&count, &l),
        Err(ParseError::TooDeep { .. })
    ));
    let json = format!("@a={}", "[".repeat(10_000));
    assert!(matches!(
        parse_query(&json, &l),
        Err(ParseError::TooDeep { .. })
    ));
    let apply = format!("$apply={}", "concat(".repeat(10_000));
    assert!(matches!(
        parse_query(&apply, &l),
        Err(ParseError::TooDeep { .. })
    ));
    let lambdas = format!("$filter={}", "A/any(x:".repeat(10_000));
    assert!(matches!(
        parse_query(&lambdas, &l),
        Err(ParseError::TooDeep { .. })
    ));
    let args = format!("A({})", "B(x=".repeat(10_000));
    assert!(parse_resource_path(&args, &l).is_err());
    // and the limits are configurable
    let tight = Limits {
        max_depth: 3,
        ..Limits::default()
    };
    assert!(matches!(
        parse_expression("((((a))))", &tight),
        Err(ParseError::TooDeep { .. })
    ));
    let few = Limits {
        max_nodes: 5,
        ..Limits::default()
    };
    assert!(matches!(
        parse_expression("a eq 1 and b eq 2 and c eq 3", &few),
        Err(ParseError::TooManyNodes { .. })
    ));
    let short = Limits {
        max_url_length: 10,
        ..Limits::default()
    };
    assert!(matches!(
        parse_uri("Accounts?$top=100", &short),
        Err(ParseError::UrlTooLong { .. })
    ));
}
