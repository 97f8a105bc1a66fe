//! The deterministic seed data set.
//!
//! Every entity of the schema gets rows; the sizes scale with `scale`
//! (the number of accounts), see [`count`]. Values come from a generic
//! generator that reads the schema (enums, ranges, foreign keys, time
//! stamps, dates) and knows common field names (`city`, `email`, `*num`,
//! ...), plus business rules for the main entities so that relations make
//! sense: an account's contact is its company contact, a transaction's
//! billing address is its account's, line items reference catalog items
//! and add up to the net amount, a payment belongs to a transaction of the
//! same account.
//!
//! The strings deliberately include NULLs, empty strings, non-ASCII names,
//! apostrophes, quotes, `%`, `_` and backslashes; time stamps span
//! 2016-01-01 to mid-2025; the first rows of every entity cycle through
//! every enum value. The same seed and scale always give identical data.

use std::collections::HashMap;

use md5::{Digest, Md5};
use rusqlite::types::Value as V;
use rusqlite::Connection;
use serde_json::json;
use zeyos_schema::{Entity, Field, FieldType, Schema, Semantic};

mod business;
mod pools;

use super::schema;
use crate::auth::hash_password;
use crate::model::{ident, ColKind};
use crate::rng::Rng;
use pools::*;

/// 2016-01-01T00:00:00Z, the earliest seeded time stamp.
pub const T0: i64 = 1_451_606_400;
/// 2025-07-01T00:00:00Z, the latest seeded time stamp.
pub const T1: i64 = 1_751_328_000;
const DAY: i64 = 86_400;

/// Fixed seeded users: (ID, name, password, admin). Only these two can log in.
pub const LOGIN_USERS: [(i64, &str, &str, bool); 2] =
    [(1, "demo", "demo", true), (2, "viewer", "viewer", false)];

/// Entities the viewer may read.
pub const VIEWER_GRANTS: [&str; 2] = ["accounts", "contacts"];

/// Number of rows per entity for `n` accounts (before the minimum that
/// makes every enum value appear).
pub fn count(entity: &str, n: i64) -> i64 {
    let items = (n / 10).max(50);
    match entity {
        "users" => 12,
        "groups" => 6,
        "groups2users" => 16,
        "permissions" => 12,
        "applications" | "weblets" | "resources" | "services" | "ledgers" | "storages"
        | "channels" | "mailinglists" => 3,
        "mailservers" | "davservers" | "feedservers" => 2,
        "pricelists" => 4,
        "coupons" => 5,
        "couponcodes" => 20,
        "binfiles" => 24,
        "categories" | "links" => 10,
        "accounts" => n,
        "contacts" => 2 * n,
        "addresses" => n,
        "contacts2contacts" => n / 4,
        "items" => items,
        "components" => items / 10,
        "transactions" => 10 * n,
        "payments" => 2 * n,
        "projects" | "contracts" | "events" | "stocktransactions" => n / 5,
        "tasks" | "notes" => n,
        "tickets" | "opportunities" | "appointments" | "actionsteps" => n / 2,
        "campaigns" => (n / 100).max(3),
        "invitations" => n / 4,
        "participants" | "messages" | "messagereads" | "records" | "comments" | "likes"
        | "follows" | "suppliers" | "prices" => n / 10,
        _ => n / 20,
    }
}

/// Creates the tables and fills them. Runs in one transaction with the
/// journal off (a failed seed leaves a file that is rejected on reuse,
/// because `_meta` is written last).
pub fn create_and_seed(
    conn: &Connection,
    scale: usize,
    seed: u64,
    instance: &str,
) -> rusqlite::Result<()> {
    let schema = zeyos_schema::schema();
    conn.execute_batch(
        "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA cache_size = -262144; \
         PRAGMA temp_store = MEMORY; BEGIN;",
    )?;
    schema::create(conn, schema)?;
    let n = scale.max(1) as i64;
    let mut counts = HashMap::new();
    for e in &schema.entities {
        let min_enum = e
            .fields
            .iter()
            .map(|f| enum_values(f).len() as i64)
            .max()
            .unwrap_or(0);
        counts.insert(e.name.clone(), count(&e.name, n).max(min_enum).max(3));
    }
    let mut g = Gen {
        rng: Rng::new(seed),
        counts,
        account_names: Vec::new(),
        items: Vec::new(),
        transaction_accounts: Vec::new(),
    };
    // Entities other rows copy from come first.
    let mut order: Vec<&Entity> = Vec::new();
    for first in ["accounts", "items", "transactions"] {
        if let Some(e) = schema.entity(first) {
            order.push(e);
        }
    }
    for e in &schema.entities {
        if !order.iter().any(|o| o.name == e.name) {
            order.push(e);
        }
    }
    for entity in order {
        let started = std::time::Instant::now();
        g.fill(conn, entity)?;
        tracing::debug!(entity = %entity.name, elapsed_ms = started.elapsed().as_millis() as u64, "seeded entity");
    }
    let started = std::time::Instant::now();
    g.side_tables(conn, schema)?;
    conn.execute_batch("COMMIT;")?;
    tracing::debug!(
        elapsed_ms = started.elapsed().as_millis() as u64,
        "seeded side tables"
    );
    let started = std::time::Instant::now();
    conn.execute_batch(&schema::indexes(schema))?;
    tracing::debug!(
        elapsed_ms = started.elapsed().as_millis() as u64,
        "created indexes"
    );
    let mut meta = conn.prepare("INSERT INTO _meta (key, value) VALUES (?1, ?2)")?;
    for (k, v) in [
        ("layout", schema::LAYOUT_VERSION.to_string()),
        ("scale", scale.to_string()),
        ("seed", seed.to_string()),
        ("instance", instance.to_string()),
    ] {
        meta.execute(rusqlite::params![k, v])?;
    }
    Ok(())
}

/// Enum values of a field: the named members, else the allowed values.
fn enum_values(f: &Field) -> Vec<i64> {
    if f.semantic != Semantic::Enum {
        return Vec::new();
    }
    let mut v: Vec<i64> = f.members.iter().map(|m| m.value).collect();
    for a in &f.allowed_values {
        if !v.contains(a) {
            v.push(*a);
        }
    }
    v
}

/// An item as line items copy it.
struct CatalogItem {
    /// `"item":ID,"itemnum":...` up to the per-line fields, as JSON.
    fragment: String,
    sell: f64,
    buy: f64,
}

struct Gen {
    rng: Rng,
    counts: HashMap<String, i64>,
    account_names: Vec<String>,
    /// The item catalog, for line items.
    items: Vec<CatalogItem>,
    transaction_accounts: Vec<u32>,
}

fn t(s: &str) -> V {
    V::Text(s.to_string())
}

fn round2(f: f64) -> f64 {
    (f * 100.0).round() / 100.0
}

fn location(
    account: i64,
) -> (
    &'static str,
    &'static str,
    &'static str,
    Option<&'static str>,
    &'static str,
) {
    LOCATIONS[(account.unsigned_abs() as usize * 7919) % LOCATIONS.len()]
}

impl Gen {
    fn count_of(&self, entity: &str) -> i64 {
        self.counts.get(entity).copied().unwrap_or(0)
    }

    fn fill(&mut self, conn: &Connection, entity: &Entity) -> rusqlite::Result<()> {
        let rows = self.count_of(&entity.name);
        let mut cols: Vec<String> = entity.fields.iter().map(|f| ident(&f.name)).collect();
        let binfiles = entity.name == "binfiles";
        if binfiles {
            cols.push("\"_content\"".into());
        }
        let ps: Vec<String> = (1..=cols.len()).map(|i| format!("?{i}")).collect();
        let sql = format!(
            "INSERT INTO {} ({}) VALUES ({})",
            ident(&entity.name),
            cols.join(", "),
            ps.join(", ")
        );
        let mut stmt = conn.prepare(&sql)?;
        let index: HashMap<&str, usize> = entity
            .fields
            .iter()
            .enumerate()
            .map(|(i, f)| (f.name.as_str(), i))
            .collect();
        for id in 1..=rows {
            let mut row: Vec<V> = Vec::with_capacity(cols.len());
            let created =
                T0 + (T1 - T0 - 60 * DAY) * (id - 1) / rows.max(1) + self.rng.range(0, 20 * DAY);
            for f in &entity.fields {
                row.push(self.value(entity, f, id, rows, created));
            }
            self.business(entity, id, &index, &mut row, created);
            if binfiles {
                let content = binfile_content(id);
                let hash: String = Md5::digest(&content)
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect();
                row[index["hash"]] = V::Text(format!("\\x{hash}"));
                row[index["size"]] = V::Integer(content.len() as i64);
                row.push(V::Blob(content));
            }
            stmt.execute(rusqlite::params_from_iter(row.iter()))?;
        }
        Ok(())
    }

    /// A value for one field from the schema and common field names.
    fn value(&mut self, entity: &Entity, f: &Field, id: i64, rows: i64, created: i64) -> V {
        let r = &mut self.rng;
        let name = f.name.as_str();
        match f.semantic {
            Semantic::Key => return V::Integer(id),
            Semantic::Enum => {
                let vals = enum_values(f);
                if vals.is_empty() {
                    return V::Null;
                }
                let v = if id as usize <= vals.len() {
                    vals[id as usize - 1]
                } else {
                    *r.pick(&vals)
                };
                return V::Integer(v);
            }
            Semantic::Flag => return V::Integer(i64::from(r.chance(0.2))),
            Semantic::Timestamp => {
                return match name {
                    "creationdate" => V::Integer(created),
                    "lastmodified" => V::Integer((created + r.range(0, 400 * DAY)).min(T1)),
                    "date" | "datefrom" => V::Integer(created + r.range(0, 30 * DAY)),
                    "dateto" => V::Integer(created + r.range(31 * DAY, 90 * DAY)),
                    "duedate" if r.chance(0.3) => V::Null,
                    "duedate" => V::Integer(created + r.range(14 * DAY, 60 * DAY)),
                    _ if r.chance(0.5) => V::Null,
                    _ => V::Integer(r.range(T0, T1)),
                };
            }
            Semantic::Date => {
                if r.chance(0.3) && name != "datefrom" {
                    return V::Null;
                }
                let base = match name {
                    "birthdate" => r.range(-631_152_000, 1_041_379_200),
                    "dateto" | "datecancel" => created + r.range(180 * DAY, 730 * DAY),
                    _ => created + r.range(0, 60 * DAY),
                };
                return V::Integer(base.div_euclid(DAY) * DAY);
            }
            Semantic::ForeignKey => {
                let target = f.references.as_deref().unwrap_or("");
                let n = self.counts.get(target).copied().unwrap_or(0);
                let null_p = match name {
                    "creator" => 0.0,
                    "account" | "item" | "contact" => 0.05,
                    "assigneduser" => 0.2,
                    "ownergroup" => 0.6,
                    "owneruser" => 0.5,
                    _ if target == entity.name => 0.7,
                    _ => 0.3,
                };
                if n == 0 || r.chance(null_p) {
                    return V::Null;
                }
                let v = if target == "users" {
                    // Active staff do most of the work.
                    *r.pick(&[1, 3, 3, 4, 5, 6, 7, 8, 12, 10])
                } else {
                    r.range(1, n)
                };
                return V::Integer(v);
            }
            Semantic::Plain => {}
        }
        match ColKind::of(f) {
            ColKind::Integer => {
                if name.starts_with("index") {
                    return V::Integer(r.range(1, 1000));
                }
                if f.default.is_none() && f.minimum.is_none() && r.chance(0.15) {
                    return V::Null;
                }
                let lo = f.minimum.map_or(0, |m| m as i64);
                let hi = f.maximum.map_or(lo + 1000, |m| (m as i64).min(lo + 1000));
                let v = match name {
                    "interval" => r.range(1, 7),
                    "billingcycle" => *r.pick(&[1, 3, 6, 12]),
                    "probability" => r.range(0, 10) * 10,
                    "version" => 10000 + r.range(0, 500),
                    _ => r.range(lo, hi),
                };
                V::Integer(v)
            }
            ColKind::Real => {
                if f.default.is_none() && r.chance(0.15) {
                    return V::Null;
                }
                let lo = f.minimum.unwrap_or(0.0);
                let v = match name {
                    "taxrate" => *r.pick(&[0.0, 7.0, 19.0, 20.0]),
                    "exchangerate" => *r.pick(&[1.0, 1.0, 1.0856, 0.8571]),
                    "discount" => r.range(0, 20) as f64,
                    "amount" | "minamount" => r.range(1, 10) as f64,
                    "effort" | "projectedeffort" => (r.range(1, 32) * 15) as f64,
                    _ => round2(lo.max(0.0) + r.unit() * f.maximum.unwrap_or(2000.0).min(2000.0)),
                };
                V::Real(v)
            }
            ColKind::Text => self.text(entity, f, id, rows),
            ColKind::Json => match f.field_type {
                FieldType::Items => {
                    if r.chance(0.3) {
                        V::Null
                    } else {
                        V::Text(self.line_items(id).0)
                    }
                }
                FieldType::Object => V::Text(match name {
                    "foreigntaxrates" => json!({"AT": 20, "DE": 19}).to_string(),
                    "langaliases" => json!({"de": "Übersicht", "en": "Overview"}).to_string(),
                    _ => json!({"key": "value"}).to_string(),
                }),
                FieldType::Meta => V::Text(json!({"source": "seed", "n": id}).to_string()),
                FieldType::Array => {
                    if f.item_type == Some(FieldType::String) {
                        V::Text(
                            json!([format!("attachment-{id}.pdf"), "scan_100%.png"]).to_string(),
                        )
                    } else {
                        V::Text("[]".into())
                    }
                }
                _ => {
                    if r.chance(0.5) {
                        V::Null
                    } else {
                        V::Text(json!({"enabled": true, "interval": r.range(1, 12), "note": "größer als 100%"}).to_string())
                    }
                }
            },
            ColKind::Binfile => {
                let n = self.counts.get("binfiles").copied().unwrap_or(0);
                if r.chance(0.5) {
                    V::Null
                } else {
                    V::Integer(r.range(1, n))
                }
            }
        }
    }

    fn person(&mut self) -> (String, String) {
        let f = *self.rng.pick(&FIRST);
        let l = *self.rng.pick(&LAST);
        (f.to_string(), l.to_string())
    }

    fn company(&mut self) -> String {
        let c = *self.rng.pick(&COMPANY);
        let s = *self.rng.pick(&SUFFIX);
        if s.is_empty() {
            c.to_string()
        } else {
            format!("{c} {s}")
        }
    }

    fn text(&mut self, entity: &Entity, f: &Field, id: i64, _rows: i64) -> V {
        let name = f.name.as_str();
        if !f.allowed_strings.is_empty() {
            let pick = self.rng.pick(&f.allowed_strings).clone();
            return V::Text(pick);
        }
        // "is required if X is empty" fields are never left empty here; the
        // business rules blank one side of such pairs where that is valid.
        let required = f.min_length.unwrap_or(0) > 0 || crate::model::required_unless(f).is_some();
        if !required && f.default.is_none() && self.rng.chance(0.12) {
            return V::Null;
        }
        let loc = LOCATIONS[self.rng.below(LOCATIONS.len() as u64) as usize];
        let ascii_last = |l: &str| {
            l.chars()
                .filter(|c| c.is_ascii_alphanumeric())
                .collect::<String>()
                .to_lowercase()
        };
        let s: String = match name {
            "firstname" => self.person().0,
            "lastname" => self.person().1,
            "company" | "manufacturer" | "vendor" => self.company(),
            "city" | "billingcity" | "shippingcity" => loc.0.into(),
            "postalcode" | "billingpostalcode" | "shippingpostalcode" => loc.1.into(),
            "country" | "billingcountry" | "shippingcountry" => loc.2.into(),
            "region" | "billingregion" | "shippingregion" => match loc.3 {
                Some(r) => r.into(),
                None => return V::Null,
            },
            "address" | "billingaddress" | "shippingaddress" => loc.4.into(),
            "email" | "email2" | "to_email" | "sender_email" => {
                let (fi, l) = self.person();
                format!("{}.{}{id}@example.com", ascii_last(&fi), ascii_last(&l))
            }
            "phone" | "phone2" | "cell" | "fax" => {
                format!("+49 89 {:07}", self.rng.range(0, 9_999_999))
            }
            "website" | "url" | "serverin" | "serverout" => format!("https://www.example{id}.com/"),
            "currency" => (*self.rng.pick(&CURRENCIES)).into(),
            "taxid" => format!("DE{:09}", self.rng.range(0, 999_999_999)),
            "color" => format!("#{:06x}", self.rng.below(0x100_0000)),
            "filename" => format!("document_{id}.pdf"),
            "mimetype" => (*self
                .rng
                .pick(&["application/pdf", "image/png", "text/plain"]))
            .into(),
            "contenttype" => (*self.rng.pick(&["text/plain", "text/html"])).into(),
            "identifier" => format!("com.example.{}{id}", entity.name),
            "hash" | "etag" | "ctag" | "synctoken" => format!("{:016x}", self.rng.next_u64()),
            "username" | "usernamein" | "usernameout" => format!("user{id}"),
            "password" => "**********".into(),
            "sender" | "to" | "cc" | "bcc" => {
                let (fi, l) = self.person();
                format!(
                    "{fi} {l} <{}.{}@example.com>",
                    ascii_last(&fi),
                    ascii_last(&l)
                )
            }
            "sender_name" | "to_name" | "recipient" | "billingrecipient" | "shippingrecipient" => {
                let (fi, l) = self.person();
                format!("{fi} {l}")
            }
            "position" => (*self.rng.pick(&[
                "CEO",
                "Einkäufer",
                "Head of IT",
                "Buchhaltung",
                "Sales Manager",
            ]))
            .into(),
            "department" => (*self
                .rng
                .pick(&["Einkauf", "IT", "Finance", "R&D", "Vertrieb"]))
            .into(),
            "title" => (*self.rng.pick(&["Dr.", "Prof.", "Mag.", "Dipl.-Ing."])).into(),
            "unit" => (*self.rng.pick(&["pcs", "h", "kg", "m"])).into(),
            "barcode" => format!("40{:011}", self.rng.range(0, 99_999_999_999)),
            "location" => format!("{} – Raum {}", loc.0, self.rng.range(1, 20)),
            "description" | "text" | "senderror" | "view" | "svgpath" => {
                if name != "description" && name != "text" && self.rng.chance(0.7) {
                    return V::Null;
                }
                (*self.rng.pick(&PHRASES)).into()
            }
            "subject" => format!("Re: {} #{id}", self.rng.pick(&PHRASES)),
            "entity" => (*self
                .rng
                .pick(&["accounts", "contacts", "transactions", "tickets"]))
            .into(),
            "code" => format!("CODE-{id:05}"),
            "reference" => format!("REF-{id}"),
            "serialnum" => format!("SN-{:08}", self.rng.range(0, 99_999_999)),
            "chargenum" => format!("LOT-{id:06}"),
            "name" => self.entity_name(entity, id),
            n if n.ends_with("num") => {
                let prefix: String = entity
                    .name
                    .chars()
                    .take(2)
                    .collect::<String>()
                    .to_uppercase();
                format!("{prefix}-{:06}", 100_000 + id)
            }
            _ => (*self.rng.pick(&PHRASES)).into(),
        };
        V::Text(s)
    }

    fn entity_name(&mut self, entity: &Entity, id: i64) -> String {
        let phrase = *self.rng.pick(&PHRASES);
        match entity.name.as_str() {
            "users" => USER_NAMES
                .get(id as usize - 1)
                .map_or_else(|| format!("user{id}"), |s| s.to_string()),
            "groups" => GROUP_NAMES
                .get(id as usize - 1)
                .map_or_else(|| format!("Group {id}"), |s| s.to_string()),
            "items" => format!("{} {}", self.rng.pick(&PRODUCTS), id),
            "projects" => format!("Projekt {} {id}", self.rng.pick(&LOCATIONS).0),
            "tasks" => format!(
                "{} #{id}",
                self.rng.pick(&[
                    "Call back",
                    "Angebot schreiben",
                    "Prüfen: 100% done?",
                    "Fix bug_in_import",
                    "Réunion préparer"
                ])
            ),
            "tickets" => format!(
                "{} (#{id})",
                self.rng.pick(&[
                    "Drucker druckt nicht",
                    "Login fails with 'invalid token'",
                    "Rechnung falsch",
                    "Lieferung verspätet",
                    "Path C:\\temp missing"
                ])
            ),
            "opportunities" => format!("{}: {}", self.company(), self.rng.pick(&PRODUCTS)),
            "contracts" => format!("Wartungsvertrag {id}"),
            "appointments" => {
                let (f, l) = self.person();
                format!("Meeting with {f} {l}")
            }
            "campaigns" => format!(
                "Kampagne {} {}",
                2016 + id % 10,
                self.rng
                    .pick(&["Frühling", "Summer Sale", "50% off", "Black_Friday"])
            ),
            "notes" => format!("Notiz {id}: {phrase}"),
            _ => {
                let title = entity.title.clone();
                let mut c = title.chars();
                let cap = match c.next() {
                    Some(first) => first.to_uppercase().collect::<String>() + c.as_str(),
                    None => String::new(),
                };
                if phrase.is_empty() {
                    format!("{cap} {id}")
                } else {
                    format!("{cap} {id} – {phrase}")
                }
            }
        }
    }

    /// Line items for a transaction-like record as JSON text, with their
    /// net sum, cost and weight. Written by hand from precomputed catalog
    /// fragments: this runs a million times at the largest scale.
    fn line_items(&mut self, _id: i64) -> (String, f64, f64, f64) {
        let n = self.rng.range(1, 3);
        let mut out = String::with_capacity(200 * n as usize + 2);
        out.push('[');
        let (mut net, mut cost, mut weight) = (0.0, 0.0, 0.0);
        for sub in 0..n {
            if self.items.is_empty() {
                break;
            }
            let k = self.rng.below(self.items.len() as u64) as usize;
            let amount = self.rng.range(1, 10) as f64;
            let discount = if self.rng.chance(0.2) { 10.0 } else { 0.0 };
            let item = &self.items[k];
            net += amount * item.sell * (1.0 - discount / 100.0);
            cost += amount * item.buy;
            weight += amount * 0.5;
            if sub > 0 {
                out.push(',');
            }
            out.push_str(&format!(
                "{{\"type\":0,\"subindex\":{sub},{},\"amount\":{amount},\"discount\":{discount}}}",
                item.fragment
            ));
        }
        match self.rng.below(10) {
            0 => out.push_str(
                ",{\"type\":1,\"variant\":0,\"text\":\"Lieferung frei Haus – 100% versichert\"}",
            ),
            1 => {
                let value = round2(net * 0.05);
                net -= value;
                out.push_str(&format!(
                    ",{{\"type\":2,\"code\":\"WELCOME_5%\",\"name\":\"Gutschein\",\"value\":{value},\"taxrate\":19}}"
                ));
            }
            _ => {}
        }
        if out.len() > 1 && out.as_bytes()[1] == b',' {
            out.remove(1);
        }
        out.push(']');
        (out, round2(net), round2(cost), weight)
    }

    fn side_tables(&mut self, conn: &Connection, schema: &Schema) -> rusqlite::Result<()> {
        let mut auth =
            conn.prepare("INSERT INTO _auth (user, password, admin) VALUES (?1, ?2, ?3)")?;
        for (id, _, password, admin) in LOGIN_USERS {
            auth.execute(rusqlite::params![
                id,
                hash_password(password),
                i64::from(admin)
            ])?;
        }
        let mut grant =
            conn.prepare("INSERT INTO _grants (user, entity, writable) VALUES (?1, ?2, 0)")?;
        for e in VIEWER_GRANTS {
            grant.execute(rusqlite::params![2, e])?;
        }
        let mut ext = conn.prepare(
            "INSERT INTO _extdata (entity, record, name, value) VALUES (?1, ?2, ?3, ?4)",
        )?;
        let accounts = self.count_of("accounts");
        for id in 1..=accounts {
            if id % 3 == 0 {
                let nick = self
                    .account_names
                    .get(id as usize - 1)
                    .map_or("x", |s| s.as_str());
                let short: String = nick.chars().take(6).collect();
                ext.execute(rusqlite::params![
                    "accounts",
                    id,
                    "nickname",
                    format!("{short}_{id}")
                ])?;
            }
            if id % 5 == 0 {
                ext.execute(rusqlite::params![
                    "accounts",
                    id,
                    "score",
                    self.rng.range(0, 100)
                ])?;
            }
            if id % 7 == 0 {
                ext.execute(rusqlite::params![
                    "accounts",
                    id,
                    "region_code",
                    if id % 2 == 0 { "Nord" } else { "Süd" }
                ])?;
            }
        }
        for id in (4..=self.count_of("contacts")).step_by(4) {
            ext.execute(rusqlite::params![
                "contacts",
                id,
                "linkedin",
                format!("https://linkedin.example/in/c{id}")
            ])?;
        }
        let mut tag =
            conn.prepare("INSERT OR IGNORE INTO _tags (entity, record, tag) VALUES (?1, ?2, ?3)")?;
        for entity in ["accounts", "contacts", "opportunities"] {
            if schema.entity(entity).is_some_and(|e| e.tags) {
                for id in 1..=self.count_of(entity) {
                    if id % 2 == 0 {
                        tag.execute(rusqlite::params![entity, id, self.rng.pick(&TAGS)])?;
                    }
                    if id % 6 == 0 {
                        tag.execute(rusqlite::params![entity, id, self.rng.pick(&TAGS)])?;
                    }
                }
            }
        }
        Ok(())
    }
}

fn binfile_content(id: i64) -> Vec<u8> {
    if id % 4 == 0 {
        format!(
            "Return-Path: <max@example.com>\r\nFrom: Max Mueller <max@example.com>\r\nTo: Anna Schmidt <anna@example.com>\r\nSubject: Angebot #{id}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHallo Anna,\r\nanbei das Angebot (100% verbindlich).\r\n"
        )
        .into_bytes()
    } else {
        format!("Hello World! File {id} – Grüße\n").into_bytes()
    }
}
