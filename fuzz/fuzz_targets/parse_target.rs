//! Feeds arbitrary bytes to every public entry point; asserts only that
//! nothing panics (a stack overflow aborts and counts as a crash too).
//! Whatever parses must also print and re-parse without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use odata_syntax::*;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let limits = Limits::default();
    if let Ok(u) = parse_uri(s, &limits) {
        let _ = parse_uri(&u.to_string(), &limits);
    }
    let _ = parse_query(s, &limits);
    let _ = parse_resource_path(s, &limits);
    if let Ok(e) = parse_expression(s, &limits) {
        let _ = parse_expression(&e.to_string(), &limits);
    }
    let _ = parse_search(s, &limits);
    let _ = parse_literal(s, &limits);
    let _ = parse_apply(s, &limits);
    let _ = parse_prefer(s);
    let _ = parse_date_time_offset(s);
    let _ = parse_duration(s);
});
