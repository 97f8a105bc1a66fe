//! Extraction of the schema description from the text of the ZeyOS REST API
//! reference (`zeyos-rest-api.txt`).
//!
//! The reference is a rendered OpenAPI document. Two parts matter:
//! the endpoint listing (which entity has which endpoints, its permissions
//! and titles) and the "Schema Definitions" (every field with its type line
//! and description). The text is regular enough to read line by line; where
//! it is ambiguous (the end of a nested object's field list) the definition's
//! JSON example decides.

use std::collections::{BTreeMap, BTreeSet};

use regex::Regex;

use crate::model::{Composite, Endpoints, Entity, EnumMember, Field, FieldType, Schema, Semantic};

/// Why the reference could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    /// A section the extractor relies on is missing.
    #[error("the reference has no {0} section")]
    MissingSection(&'static str),
    /// A field's type line has a shape the extractor does not know.
    #[error("line {line}: cannot read the type of `{field}`: {spec:?}")]
    UnknownType {
        /// 1-based line number in the reference.
        line: usize,
        /// The field name.
        field: String,
        /// The type text after the colon.
        spec: String,
    },
}

/// Reads the whole schema description from the reference text.
pub fn extract(reference: &str, source_name: &str) -> Result<Schema, ExtractError> {
    let lines: Vec<&str> = reference.lines().collect();
    let defs_start = lines
        .iter()
        .position(|l| l.trim() == "Schema Definitions")
        .ok_or(ExtractError::MissingSection("Schema Definitions"))?;
    let endpoints = read_endpoints(&lines[..defs_start]);
    if endpoints.is_empty() {
        return Err(ExtractError::MissingSection("endpoint"));
    }
    let definitions = read_definitions(&lines, defs_start + 1)?;

    // Singular titles → entity names, for foreign key detection.
    let mut titles: Vec<(String, String)> = endpoints
        .iter()
        .map(|(name, info)| (info.title.to_lowercase(), name.clone()))
        .collect();
    // Longest titles first so that "stock transaction" wins over "transaction".
    // Where two entities share a title (`price`), the shorter name is the
    // entity itself (`prices`), the longer one a link table.
    titles.sort_by(|a, b| {
        b.0.len()
            .cmp(&a.0.len())
            .then(a.0.cmp(&b.0))
            .then(a.1.len().cmp(&b.1.len()))
    });

    let mut entities = Vec::new();
    let mut composites = Vec::new();
    let mut seen = BTreeSet::new();
    let defined: BTreeSet<&str> = definitions.iter().map(|d| d.name.as_str()).collect();
    let undefined: Vec<RawDefinition> = endpoints
        .iter()
        .filter(|(name, _)| !defined.contains(name.as_str()))
        .map(|(name, info)| definition_from_example(name, info, &definitions))
        .collect();
    for def in definitions.into_iter().chain(undefined) {
        if let Some(info) = endpoints.get(&def.name) {
            if !seen.insert(def.name.clone()) {
                continue;
            }
            let mut fields = def.fields;
            for f in &mut fields {
                classify(f, &titles, true);
            }
            entities.push(Entity {
                defined: def.defined,
                name: def.name.clone(),
                title: info.title.clone(),
                title_plural: info.title_plural.clone(),
                description: info.description.clone(),
                read_permissions: info.read_permissions.clone(),
                dependencies: info.dependencies.clone(),
                endpoints: info.endpoints,
                extdata: info.extdata,
                tags: info.tags,
                fields,
            });
        } else if !def.name.starts_with("request-") {
            let mut fields = def.fields;
            for f in &mut fields {
                classify(f, &titles, false);
            }
            composites.push(Composite {
                name: def.name,
                kind: def.kind,
                description: def.description,
                fields,
            });
        }
    }
    Ok(Schema {
        source: source_name.to_string(),
        entities,
        composites,
    })
}

/// What the endpoint listing says about one entity.
#[derive(Debug, Default)]
struct EndpointInfo {
    title: String,
    title_plural: String,
    description: String,
    read_permissions: Vec<String>,
    dependencies: Vec<String>,
    endpoints: Endpoints,
    extdata: bool,
    tags: bool,
    /// The list endpoint's `200 OK` response example.
    list_example: Option<serde_json::Value>,
}

fn read_endpoints(lines: &[&str]) -> BTreeMap<String, EndpointInfo> {
    let endpoint_re = Regex::new(r"^(GET|POST|PUT|PATCH|DELETE|HEAD) /([a-z0-9]+)(/\{ID\})?$")
        .expect("static regex");
    let requires_re =
        Regex::new(r"Requires (?:writable )?(.+?) permissions?\.").expect("static regex");
    let depends_re = Regex::new(r"Has dependenc(?:y|ies) on (.+?)\.").expect("static regex");
    let list_re = Regex::new(r"^List selected data from (.+?) that match").expect("static regex");

    let mut out: BTreeMap<String, EndpointInfo> = BTreeMap::new();
    let positions: Vec<(usize, regex::Captures)> = lines
        .iter()
        .enumerate()
        .filter_map(|(i, l)| endpoint_re.captures(l.trim_end()).map(|c| (i, c)))
        .collect();
    for (n, (i, caps)) in positions.iter().enumerate() {
        let method = &caps[1];
        let entity = caps[2].to_string();
        if entity == "config" || entity == "settings" {
            continue;
        }
        let by_id = caps.get(3).is_some();
        let heading = if *i > 0 { lines[i - 1].trim() } else { "" };
        let heading = if heading.is_empty() && *i > 1 {
            lines[i - 2].trim()
        } else {
            heading
        };
        let description = lines
            .iter()
            .skip(i + 1)
            .map(|l| l.trim())
            .find(|l| !l.is_empty())
            .unwrap_or("");
        let end = positions.get(n + 1).map(|(j, _)| *j).unwrap_or(lines.len());
        let section = &lines[*i..end];
        let info = out.entry(entity.clone()).or_default();
        match (method, by_id) {
            ("POST", false) => {
                info.endpoints.list = true;
                if let Some(rest) = heading.strip_prefix("List ") {
                    info.title_plural = rest.to_string();
                }
                if let Some(c) = list_re.captures(description) {
                    info.description = c[1].to_string();
                }
                if info.read_permissions.is_empty() {
                    info.read_permissions = permissions(&requires_re, description);
                }
                if let Some(k) = section
                    .iter()
                    .position(|l| l.trim() == "Response Example (200 OK)")
                {
                    info.list_example = read_example(section, k + 1).0;
                }
            }
            ("PUT", false) => info.endpoints.create = true,
            ("GET", true) => {
                info.endpoints.get = true;
                if let Some(rest) = heading.strip_prefix("Get ") {
                    info.title = rest.to_string();
                }
                info.read_permissions = permissions(&requires_re, description);
                if let Some(c) = depends_re.captures(description) {
                    info.dependencies = split_list(&c[1]);
                }
                info.extdata = has_query_param(section, "extdata");
                info.tags = has_query_param(section, "tags");
            }
            ("HEAD", true) => info.endpoints.head = true,
            ("PATCH", true) => info.endpoints.update = true,
            ("DELETE", true) => info.endpoints.delete = true,
            _ => {}
        }
    }
    for (name, info) in out.iter_mut() {
        if info.title.is_empty() {
            // Entities without a GET (e.g. `links`) only have a plural title.
            info.title = info
                .title_plural
                .strip_suffix('s')
                .unwrap_or(&info.title_plural)
                .to_string();
        }
        if info.title_plural.is_empty() {
            info.title_plural = name.clone();
        }
    }
    out
}

fn permissions(re: &Regex, description: &str) -> Vec<String> {
    match re.captures(description) {
        Some(c) if &c[1] != "no specific" => split_list(&c[1]),
        _ => Vec::new(),
    }
}

/// Splits "billing, procurement or production" into its parts.
fn split_list(text: &str) -> Vec<String> {
    text.split([','])
        .flat_map(|p| p.split(" or "))
        .flat_map(|p| p.split(" and "))
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
        .collect()
}

fn has_query_param(section: &[&str], name: &str) -> bool {
    section
        .windows(2)
        .any(|w| w[0].trim() == name && w[1].trim() == "in query")
}

/// A definition as read from the text, before classification.
struct RawDefinition {
    /// False when the reference has no schema definition and the fields were
    /// read from the list endpoint's response example.
    defined: bool,
    name: String,
    kind: Option<String>,
    description: String,
    fields: Vec<Field>,
}

fn read_definitions(lines: &[&str], start: usize) -> Result<Vec<RawDefinition>, ExtractError> {
    let header_re = Regex::new(r"^([a-z][a-z0-9-]*):\s*(.*)$").expect("static regex");
    let field_re = Regex::new(r"^(ID|[a-z][a-z0-9_]*|[+-]tags):\s?(.*)$").expect("static regex");
    let mut defs = Vec::new();
    let mut i = start;
    while i < lines.len() {
        let line = lines[i].trim_end();
        if line.trim().is_empty() {
            i += 1;
            continue;
        }
        let Some(caps) = header_re.captures(line) else {
            i += 1;
            continue;
        };
        let name = caps[1].to_string();
        let kind = Some(caps[2].trim().to_string()).filter(|k| !k.is_empty());
        i += 1;
        // The definition's body runs to its "Example" line.
        let body_start = i;
        while i < lines.len() && lines[i].trim() != "Example" {
            i += 1;
        }
        let body = &lines[body_start..i];
        i += 1;
        let (example, after) = read_example(lines, i);
        i = after;
        let (description, fields) = read_fields(body, body_start, &field_re, example.as_ref())?;
        defs.push(RawDefinition {
            defined: true,
            name,
            kind,
            description,
            fields,
        });
    }
    Ok(defs)
}

/// Builds a definition for an entity the reference lists endpoints for but
/// gives no schema definition (`links`): its fields are the keys of the list
/// response example; a field that other entities define under the same name
/// and JSON type (`creator`, `visibility`...) takes that definition, the
/// others get the type the example value shows.
fn definition_from_example(
    name: &str,
    info: &EndpointInfo,
    definitions: &[RawDefinition],
) -> RawDefinition {
    let example = info.list_example.as_ref().and_then(example_object);
    let mut fields = Vec::new();
    for (key, value) in example.into_iter().flatten() {
        let shown = example_type(value);
        let mut candidates: BTreeMap<String, (usize, &Field)> = BTreeMap::new();
        for f in definitions
            .iter()
            .flat_map(|d| d.fields.iter())
            .filter(|f| f.name == *key && f.field_type == shown && key != "ID")
        {
            let key = serde_json::to_string(f).unwrap_or_default();
            candidates.entry(key).or_insert((0, f)).0 += 1;
        }
        let common = candidates.values().max_by_key(|(n, _)| *n).map(|(_, f)| *f);
        let field = match common {
            Some(f) => f.clone(),
            None => Field {
                name: key.clone(),
                field_type: shown,
                format: None,
                item_type: None,
                description: if key == "ID" {
                    format!("{} ID", capitalized(&info.title))
                } else {
                    String::new()
                },
                semantic: Semantic::Plain,
                references: None,
                allowed_values: Vec::new(),
                allowed_strings: Vec::new(),
                members: Vec::new(),
                default: None,
                minimum: None,
                maximum: None,
                min_length: None,
                max_length: None,
                fields: Vec::new(),
            },
        };
        fields.push(field);
    }
    RawDefinition {
        defined: false,
        name: name.to_string(),
        kind: Some("object".into()),
        description: String::new(),
        fields,
    }
}

/// The JSON type an example value shows; examples write placeholders such as
/// `"integer (int32)"` as strings.
fn example_type(value: &serde_json::Value) -> FieldType {
    match value {
        serde_json::Value::Number(n) if n.is_f64() => FieldType::Number,
        serde_json::Value::Number(_) => FieldType::Integer,
        serde_json::Value::Bool(_) => FieldType::Boolean,
        serde_json::Value::Array(_) => FieldType::Array,
        serde_json::Value::Object(_) => FieldType::Object,
        serde_json::Value::String(s) if s.starts_with("integer") => FieldType::Integer,
        serde_json::Value::String(s) if s.starts_with("number") => FieldType::Number,
        serde_json::Value::String(s) if s == "boolean" => FieldType::Boolean,
        _ => FieldType::String,
    }
}

fn capitalized(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// Reads the JSON example that follows an "Example" line, if there is one.
fn read_example(lines: &[&str], mut i: usize) -> (Option<serde_json::Value>, usize) {
    while i < lines.len() && lines[i].trim().is_empty() {
        i += 1;
    }
    let Some(first) = lines.get(i) else {
        return (None, i);
    };
    let t = first.trim_start();
    if !(t.starts_with('{') || t.starts_with('[') || t.starts_with('"')) {
        return (None, i);
    }
    if t.starts_with('"') {
        return (serde_json::from_str(t).ok(), i + 1);
    }
    let mut depth = 0i32;
    let mut text = String::new();
    let mut in_string = false;
    let mut escaped = false;
    while i < lines.len() {
        let line = lines[i];
        text.push_str(line);
        text.push('\n');
        for ch in line.chars() {
            if in_string {
                match (escaped, ch) {
                    (true, _) => escaped = false,
                    (false, '\\') => escaped = true,
                    (false, '"') => in_string = false,
                    _ => {}
                }
                continue;
            }
            match ch {
                '"' => in_string = true,
                '{' | '[' => depth += 1,
                '}' | ']' => depth -= 1,
                _ => {}
            }
        }
        i += 1;
        if depth <= 0 {
            break;
        }
    }
    (serde_json::from_str(&text).ok(), i)
}

/// One field header with the lines that describe it.
struct RawField<'a> {
    line: usize,
    name: String,
    spec: String,
    description: Vec<&'a str>,
    /// The next line after the header was `object`: nested fields follow.
    opens_object: bool,
}

fn read_fields(
    body: &[&str],
    body_start: usize,
    field_re: &Regex,
    example: Option<&serde_json::Value>,
) -> Result<(String, Vec<Field>), ExtractError> {
    let mut own_description = Vec::new();
    let mut raw: Vec<RawField> = Vec::new();
    let mut k = 0;
    while k < body.len() {
        let line = body[k].trim();
        if let Some(c) = field_re.captures(line) {
            if is_type_spec(&c[2]) {
                let mut f = RawField {
                    line: body_start + k + 1,
                    name: c[1].to_string(),
                    spec: c[2].trim().to_string(),
                    description: Vec::new(),
                    opens_object: false,
                };
                // `object[]` and `string[]` are followed by a line naming the
                // element type.
                if f.spec.ends_with("[]") {
                    if let Some(next) = body.get(k + 1).map(|l| l.trim()) {
                        if next == "object" {
                            f.opens_object = true;
                            k += 1;
                        } else if next.starts_with("string") || next.starts_with("integer") {
                            k += 1;
                        }
                    }
                }
                raw.push(f);
                k += 1;
                continue;
            }
        }
        if !line.is_empty() {
            match raw.last_mut() {
                Some(f) => f.description.push(line),
                None => own_description.push(line),
            }
        }
        k += 1;
    }
    let example_obj = example.and_then(example_object);
    let mut pos = 0;
    let fields = build_level(&raw, &mut pos, example_obj, None)?;
    Ok((own_description.join(" "), fields))
}

/// The object an example shows: the example itself, or the first element of
/// an array example.
fn example_object(v: &serde_json::Value) -> Option<&serde_json::Map<String, serde_json::Value>> {
    match v {
        serde_json::Value::Object(m) => Some(m),
        serde_json::Value::Array(a) => a.first().and_then(example_object),
        _ => None,
    }
}

/// Builds the fields of one nesting level. A nested level ends where the
/// alphabetical order of the reference breaks or where the example shows the
/// next field to belong to an outer level.
fn build_level(
    raw: &[RawField],
    pos: &mut usize,
    example: Option<&serde_json::Map<String, serde_json::Value>>,
    nested_keys: Option<&BTreeSet<String>>,
) -> Result<Vec<Field>, ExtractError> {
    let mut out: Vec<Field> = Vec::new();
    while let Some(rf) = raw.get(*pos) {
        if let Some(keys) = nested_keys {
            let in_order = out
                .last()
                .is_none_or(|prev| prev.name.as_str() < rf.name.as_str());
            if !keys.contains(&rf.name) || !in_order {
                break;
            }
        }
        *pos += 1;
        let mut field = parse_spec(rf)?;
        field.description = rf.description.join(" ");
        if rf.opens_object {
            let inner_example = example
                .and_then(|m| m.get(&rf.name))
                .and_then(example_object);
            let keys: BTreeSet<String> = inner_example
                .map(|m| m.keys().cloned().collect())
                .unwrap_or_default();
            field.item_type = Some(FieldType::Object);
            field.fields = build_level(raw, pos, inner_example, Some(&keys))?;
        }
        out.push(field);
    }
    Ok(out)
}

fn is_type_spec(spec: &str) -> bool {
    let s = spec.trim();
    s.is_empty()
        || [
            "integer",
            "number",
            "string",
            "boolean",
            "object",
            "array",
            "items-field",
            "binfile-field",
            "meta-field",
        ]
        .iter()
        .any(|t| s == *t || s.starts_with(&format!("{t} ")) || s.starts_with(&format!("{t}[")))
}

/// Reads a type line such as `integer 0, 1, 2 0` or `number (double) x ≥ 0 1`.
fn parse_spec(rf: &RawField) -> Result<Field, ExtractError> {
    let unknown = || ExtractError::UnknownType {
        line: rf.line,
        field: rf.name.clone(),
        spec: rf.spec.clone(),
    };
    let mut field = Field {
        name: rf.name.clone(),
        field_type: FieldType::Json,
        format: None,
        item_type: None,
        description: String::new(),
        semantic: Semantic::Plain,
        references: None,
        allowed_values: Vec::new(),
        allowed_strings: Vec::new(),
        members: Vec::new(),
        default: None,
        minimum: None,
        maximum: None,
        min_length: None,
        max_length: None,
        fields: Vec::new(),
    };
    let spec = rf.spec.trim();
    if spec.is_empty() {
        return Ok(field);
    }
    let (head, mut rest) = spec.split_once(' ').unwrap_or((spec, ""));
    field.field_type = match head {
        "integer" => FieldType::Integer,
        "number" => FieldType::Number,
        "string" => FieldType::String,
        "boolean" => FieldType::Boolean,
        "object" => FieldType::Object,
        "array" => FieldType::Array,
        "items-field" => FieldType::Items,
        "binfile-field" => FieldType::Binfile,
        "meta-field" => FieldType::Meta,
        "object[]" => {
            field.item_type = Some(FieldType::Object);
            FieldType::Array
        }
        "string[]" => {
            field.item_type = Some(FieldType::String);
            FieldType::Array
        }
        "integer[]" => {
            field.item_type = Some(FieldType::Integer);
            FieldType::Array
        }
        _ => return Err(unknown()),
    };
    // Parenthesised qualifiers: (int32), (email), (at least 1 chars)...
    loop {
        rest = rest.trim_start();
        let Some(inner_end) = rest.strip_prefix('(').and_then(|r| r.find(')')) else {
            break;
        };
        let inner = &rest[1..=inner_end];
        let inner = inner.trim_end_matches(')');
        if let Some(n) = inner
            .strip_prefix("at least ")
            .and_then(|s| s.strip_suffix(" chars"))
        {
            field.min_length = n.parse().ok();
        } else if let Some(n) = inner
            .strip_prefix("up to ")
            .and_then(|s| s.strip_suffix(" chars"))
        {
            field.max_length = n.parse().ok();
        } else {
            field.format = Some(inner.to_string());
        }
        rest = &rest[inner_end + 2..];
    }
    let rest = rest.trim();
    if rest.is_empty() {
        return Ok(field);
    }
    match field.field_type {
        FieldType::Integer | FieldType::Number => {
            parse_numeric_constraints(&mut field, rest).ok_or_else(unknown)?
        }
        FieldType::String => {
            // `a, b, c d`: allowed values, then the default; a single token
            // is a default.
            if rest.contains(", ") {
                let mut parts: Vec<String> =
                    rest.split(", ").map(|s| s.trim().to_string()).collect();
                if let Some(last) = parts.pop() {
                    match last.split_once(' ') {
                        Some((value, default)) => {
                            parts.push(value.to_string());
                            field.default = Some(serde_json::Value::String(default.to_string()));
                        }
                        None => parts.push(last),
                    }
                }
                field.allowed_strings = parts;
            } else {
                field.default = Some(serde_json::Value::String(rest.to_string()));
            }
        }
        _ => return Err(unknown()),
    }
    Ok(field)
}

fn parse_numeric_constraints(field: &mut Field, rest: &str) -> Option<()> {
    let number = |s: &str| -> Option<serde_json::Value> {
        if let Ok(i) = s.parse::<i64>() {
            return Some(i.into());
        }
        s.parse::<f64>()
            .ok()
            .and_then(|f| serde_json::Number::from_f64(f).map(Into::into))
    };
    let tokens: Vec<&str> = rest.split_whitespace().collect();
    // Range forms: `a ≤ x ≤ b [d]`, `x ≥ a [d]`, `x ≤ b [d]`.
    if tokens.len() >= 5 && tokens[1] == "≤" && tokens[2] == "x" && tokens[3] == "≤" {
        field.minimum = tokens[0].parse().ok();
        field.maximum = tokens[4].parse().ok();
        if let Some(d) = tokens.get(5) {
            field.default = Some(number(d)?);
        }
        return Some(());
    }
    if tokens.len() >= 3 && tokens[0] == "x" && (tokens[1] == "≥" || tokens[1] == "≤") {
        let bound = tokens[2].parse().ok();
        if tokens[1] == "≥" {
            field.minimum = bound;
        } else {
            field.maximum = bound;
        }
        if let Some(d) = tokens.get(3) {
            field.default = Some(number(d)?);
        }
        return Some(());
    }
    // Enumerations: `0, 1, 2 0` (values, then the default).
    if rest.contains(',') {
        let mut values = Vec::new();
        for part in rest.split(',') {
            let mut words = part.split_whitespace();
            values.push(words.next()?.parse::<i64>().ok()?);
            if let Some(d) = words.next() {
                field.default = Some(number(d)?);
            }
        }
        field.allowed_values = values;
        return Some(());
    }
    // A lone number is the default.
    if tokens.len() == 1 {
        field.default = Some(number(tokens[0])?);
        return Some(());
    }
    None
}

/// Derives a field's meaning from its name, type and description.
fn classify(field: &mut Field, titles: &[(String, String)], is_entity: bool) {
    for f in &mut field.fields {
        classify(f, titles, false);
    }
    let desc = field.description.as_str();
    let members = enum_members(desc);
    if is_entity && field.name == "ID" {
        field.semantic = Semantic::Key;
        return;
    }
    if field.field_type == FieldType::Integer && desc.contains("Unix time stamp") {
        field.semantic = if desc.contains("date and time") {
            Semantic::Timestamp
        } else {
            Semantic::Date
        };
        return;
    }
    if field.field_type == FieldType::Integer && !members.is_empty() {
        field.members = members;
        reconcile(&mut field.members, &field.allowed_values);
        field.semantic = Semantic::Enum;
        return;
    }
    if field.field_type == FieldType::Integer && field.allowed_values == [0, 1] {
        field.semantic = Semantic::Flag;
        return;
    }
    if field.field_type == FieldType::Integer {
        if let Some(target) = foreign_key_target(desc, titles) {
            field.semantic = Semantic::ForeignKey;
            field.references = Some(target);
        }
    }
}

/// Settles the one place where the reference contradicts itself: a field
/// whose listed values and described members disagree (`records.flag`:
/// `integer 0, 1, 2, 4`, described as `3=MONITOR`). The listed values are
/// what ZeyOS accepts and stores, so when exactly one described member has
/// a value not listed and exactly one listed value has no member, the
/// member takes that value; otherwise the members stay as described.
fn reconcile(members: &mut [EnumMember], allowed: &[i64]) {
    if allowed.is_empty() {
        return;
    }
    let unlisted: Vec<usize> = (0..members.len())
        .filter(|&i| !allowed.contains(&members[i].value))
        .collect();
    let unnamed: Vec<i64> = allowed
        .iter()
        .copied()
        .filter(|v| !members.iter().any(|m| m.value == *v))
        .collect();
    if let ([i], [value]) = (unlisted.as_slice(), unnamed.as_slice()) {
        members[*i].value = *value;
    }
}

/// Reads `(0=PROSPECT, 1=CUSTOMER, ...)` from a description.
fn enum_members(desc: &str) -> Vec<EnumMember> {
    let re = Regex::new(r"(-?\d+)=([A-Z][A-Z0-9_]*)").expect("static regex");
    let Some(open) = desc.find('(') else {
        return Vec::new();
    };
    let inner = &desc[open..];
    let inner = &inner[..inner.find(')').unwrap_or(inner.len())];
    if inner.contains("null=") {
        return Vec::new();
    }
    re.captures_iter(inner)
        .filter_map(|c| {
            Some(EnumMember {
                value: c[1].parse().ok()?,
                name: c[2].to_string(),
            })
        })
        .collect()
}

/// Finds the entity a description like "Assigned user ID" or "Price list
/// ID ( dependency)" points at.
fn foreign_key_target(desc: &str, titles: &[(String, String)]) -> Option<String> {
    let head = desc.split(';').next()?;
    // Drop parenthesised asides: "Assigned user (recipient) ID".
    let mut plain = String::new();
    let mut depth = 0usize;
    for ch in head.chars() {
        match ch {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            _ if depth == 0 => plain.push(ch),
            _ => {}
        }
    }
    let plain = plain.split_whitespace().collect::<Vec<_>>().join(" ");
    let subject = plain.strip_suffix(" ID")?.to_lowercase();
    titles
        .iter()
        .find(|(title, _)| subject == *title || subject.ends_with(&format!(" {title}")))
        .map(|(_, name)| name.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(name: &str, spec: &str) -> RawField<'static> {
        RawField {
            line: 1,
            name: name.into(),
            spec: spec.into(),
            description: vec![],
            opens_object: false,
        }
    }

    #[test]
    fn a_described_member_takes_the_listed_value_no_member_has() {
        let member = |value, name: &str| EnumMember {
            value,
            name: name.into(),
        };
        let mut m = vec![
            member(0, "REGULAR"),
            member(2, "MINDLOGONLY"),
            member(3, "MONITOR"),
        ];
        reconcile(&mut m, &[0, 2, 4]);
        assert_eq!(m[2], member(4, "MONITOR"));
        // Nothing to pair, or no listed values: as described.
        let mut m = vec![member(0, "A"), member(5, "B"), member(6, "C")];
        reconcile(&mut m, &[0, 1, 2]);
        assert_eq!((m[1].value, m[2].value), (5, 6));
        reconcile(&mut m, &[]);
        assert_eq!(m[1].value, 5);
    }

    #[test]
    fn reads_enum_type_lines_with_default() {
        let f = parse_spec(&raw("type", "integer 0, 1, 2, 3, 4, 5 0")).unwrap();
        assert_eq!(f.allowed_values, vec![0, 1, 2, 3, 4, 5]);
        assert_eq!(f.default, Some(0.into()));
    }

    #[test]
    fn reads_ranges_and_formats() {
        let f = parse_spec(&raw("exchangerate", "number (double) x ≥ 0 1")).unwrap();
        assert_eq!(f.format.as_deref(), Some("double"));
        assert_eq!(f.minimum, Some(0.0));
        assert_eq!(f.default, Some(1.into()));
        let f = parse_spec(&raw("discount", "number (double) -100 ≤ x ≤ 100 0")).unwrap();
        assert_eq!((f.minimum, f.maximum), (Some(-100.0), Some(100.0)));
        let f = parse_spec(&raw("website", "string (url) (at least 1 chars)")).unwrap();
        assert_eq!(f.format.as_deref(), Some("url"));
        assert_eq!(f.min_length, Some(1));
    }

    #[test]
    fn reads_string_enumerations() {
        let f = parse_spec(&raw(
            "mimetype",
            "string application/ixml+xml, text/x-zymba text/x-zymba",
        ))
        .unwrap();
        assert_eq!(
            f.allowed_strings,
            vec!["application/ixml+xml", "text/x-zymba"]
        );
        assert_eq!(f.default, Some("text/x-zymba".into()));
    }

    #[test]
    fn finds_foreign_key_targets_by_longest_title() {
        let titles = vec![
            (
                "stock transaction".to_string(),
                "stocktransactions".to_string(),
            ),
            ("transaction".to_string(), "transactions".to_string()),
            ("user".to_string(), "users".to_string()),
        ];
        assert_eq!(
            foreign_key_target(
                "Reservation stock transaction ID (only set on order)",
                &titles
            ),
            Some("stocktransactions".into())
        );
        assert_eq!(
            foreign_key_target("Assigned user ID", &titles),
            Some("users".into())
        );
        assert_eq!(foreign_key_target("First entity ID", &titles), None);
    }

    #[test]
    fn reads_enum_members_but_not_null_notes() {
        let m = enum_members("Account type (0=PROSPECT, 1=CUSTOMER, 2=SUPPLIER)");
        assert_eq!(m.len(), 3);
        assert_eq!(m[1].name, "CUSTOMER");
        assert!(enum_members("Owner group ID (null=PUBLIC)").is_empty());
        assert!(enum_members("Height in pixels (0=100%)").is_empty());
    }
}
