//! A reader for the OASIS ABNF test-case file, which is YAML of a very
//! regular shape (and contains a raw tab that strict YAML readers reject).
//! Shared by the conformance runner; not a general YAML parser.

use std::collections::HashMap;

/// One test case.
#[derive(Debug, Clone)]
pub struct Case {
    pub name: String,
    pub rule: String,
    pub input: String,
    pub fail_at: Option<usize>,
}

/// The whole file.
#[derive(Debug, Default)]
pub struct Suite {
    pub constraints: HashMap<String, Vec<String>>,
    pub cases: Vec<Case>,
}

fn scalar(first: &str, lines: &mut std::iter::Peekable<std::slice::Iter<'_, &str>>) -> String {
    let mut v = first.trim_start();
    if v.trim().is_empty() {
        // the value starts on the next line
        match lines.next() {
            Some(l) => v = l.trim_start(),
            None => return String::new(),
        }
    }
    if let Some(body) = v.strip_prefix('"') {
        // double-quoted, possibly spanning lines, with escapes
        let mut raw = body.to_owned();
        while !closes_dq(&raw) {
            match lines.next() {
                Some(l) => {
                    raw.push('\n');
                    raw.push_str(l);
                }
                None => break,
            }
        }
        return unescape_dq(&raw);
    }
    let mut out = v.trim_end().to_owned();
    // plain or single-quoted scalars continue on more-indented lines
    while let Some(next) = lines.peek() {
        let t = next.trim_start();
        if next.len() - t.len() >= 6 && !t.is_empty() && !t.starts_with("- ") {
            out.push(' ');
            out.push_str(t.trim_end());
            lines.next();
        } else {
            break;
        }
    }
    if let Some(body) = out.strip_prefix('\'') {
        let end = body.rfind('\'').unwrap_or(body.len());
        return body[..end].replace("''", "'");
    }
    out
}

fn closes_dq(s: &str) -> bool {
    let mut esc = false;
    for c in s.chars() {
        if esc {
            esc = false;
        } else if c == '\\' {
            esc = true;
        } else if c == '"' {
            return true;
        }
    }
    false
}

fn unescape_dq(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => break,
            '\\' => match chars.next() {
                Some('t') => out.push('\t'),
                Some('r') => out.push('\r'),
                Some('n') => out.push('\n'),
                Some('"') => out.push('"'),
                Some('\\') => out.push('\\'),
                Some('\n') => {
                    while chars.peek().is_some_and(|c| *c == ' ' || *c == '\t') {
                        chars.next();
                    }
                }
                Some(o) => {
                    out.push('\\');
                    out.push(o);
                }
                None => {}
            },
            '\n' => {
                // line folding: a single line break becomes a space, an
                // empty line becomes a newline
                let mut newlines = 0;
                while let Some(&n) = chars.peek() {
                    if n == '\n' {
                        newlines += 1;
                        chars.next();
                    } else if n == ' ' || n == '\t' {
                        chars.next();
                    } else {
                        break;
                    }
                }
                while out.ends_with(' ') {
                    out.pop();
                }
                if newlines == 0 {
                    out.push(' ');
                } else {
                    for _ in 0..newlines {
                        out.push('\n');
                    }
                }
            }
            c => out.push(c),
        }
    }
    out
}

pub fn parse(text: &str) -> Suite {
    let lines: Vec<&str> = text.lines().collect();
    let mut it = lines.iter().peekable();
    let mut suite = Suite::default();
    let mut section = "";
    let mut key = String::new();
    let mut current: Option<Case> = None;
    while let Some(line) = it.next() {
        if line.trim_start().starts_with('#') || line.trim().is_empty() {
            continue;
        }
        if !line.starts_with(' ') {
            section = if line.starts_with("Constraints:") {
                "c"
            } else if line.starts_with("TestCases:") {
                "t"
            } else {
                ""
            };
            continue;
        }
        let t = line.trim_start();
        if section == "c" {
            if let Some(v) = t.strip_prefix("- ") {
                let v = scalar(v, &mut it);
                suite.constraints.entry(key.clone()).or_default().push(v);
            } else if let Some((k, _)) = t.split_once(':') {
                key = k.to_owned();
                suite.constraints.entry(key.clone()).or_default();
            }
        } else if section == "t" {
            if let Some(rest) = t.strip_prefix("- Name:") {
                if let Some(c) = current.take() {
                    suite.cases.push(c);
                }
                current = Some(Case {
                    name: scalar(rest, &mut it),
                    rule: String::new(),
                    input: String::new(),
                    fail_at: None,
                });
            } else if let Some(c) = current.as_mut() {
                if let Some(v) = t.strip_prefix("Rule:") {
                    c.rule = scalar(v, &mut it);
                } else if let Some(v) = t.strip_prefix("Input:") {
                    c.input = scalar(v, &mut it);
                } else if let Some(v) = t.strip_prefix("FailAt:") {
                    c.fail_at = v.trim().parse().ok();
                }
            }
        }
    }
    if let Some(c) = current.take() {
        suite.cases.push(c);
    }
    suite
}
