//! OData names for ZeyOS names, in the style of the HQ API.
//!
//! ZeyOS spells names in lower case without separators (`assigneduser`,
//! `billingpostalcode`, `contacts2contacts`). Capitalising them mechanically
//! gives `Assigneduser`, which no client author would guess, so every name
//! is split into words from a curated word list and each word is rendered in
//! its curated spelling (`num` → `Number`, `ctag` → `CTag`). A name the list
//! cannot split is an error, and a test splits every name of the schema, so a
//! new ZeyOS field cannot slip through with a made-up spelling.
//!
//! Points in time follow the HQ rule "`...On` is a UTC time, `...Date` is a
//! date": their names come from [`time_property_name`], a table that a test
//! checks against every time stamp and date field of the schema.

use std::fmt;

/// A word of ZeyOS names: its lower-case spelling, how it is written in an
/// OData name, and for plural nouns the singular (for entity type names).
#[derive(Debug, PartialEq, Eq)]
struct Word {
    text: &'static str,
    render: &'static str,
    singular: Option<&'static str>,
}

const fn w(text: &'static str, render: &'static str) -> Word {
    Word {
        text,
        render,
        singular: None,
    }
}

const fn p(text: &'static str, render: &'static str, singular: &'static str) -> Word {
    Word {
        text,
        render,
        singular: Some(singular),
    }
}

/// The curated word list. Keep it sorted by `text`; a test checks that.
const WORDS: &[Word] = &[
    w("account", "Account"),
    p("accounts", "Accounts", "Account"),
    w("action", "Action"),
    w("activity", "Activity"),
    w("address", "Address"),
    p("addresses", "Addresses", "Address"),
    w("advance", "Advance"),
    p("aliases", "Aliases", "Alias"),
    w("all", "All"),
    w("amount", "Amount"),
    w("api", "Api"),
    w("applicability", "Applicability"),
    w("application", "Application"),
    p("applications", "Applications", "Application"),
    w("apply", "Apply"),
    w("appointment", "Appointment"),
    p("appointments", "Appointments", "Appointment"),
    w("assigned", "Assigned"),
    p("associations", "Associations", "Association"),
    p("attachments", "Attachments", "Attachment"),
    w("auto", "Auto"),
    w("barcode", "Barcode"),
    w("bcc", "Bcc"),
    w("billing", "Billing"),
    w("binfile", "BinFile"),
    p("binfiles", "BinFiles", "BinFile"),
    w("calculation", "Calculation"),
    w("campaign", "Campaign"),
    p("campaigns", "Campaigns", "Campaign"),
    w("case", "Case"),
    p("categories", "Categories", "Category"),
    w("cc", "Cc"),
    w("cell", "Cell"),
    w("channel", "Channel"),
    p("channels", "Channels", "Channel"),
    w("charge", "Charge"),
    w("city", "City"),
    w("code", "Code"),
    p("codes", "Codes", "Code"),
    w("color", "Color"),
    w("comment", "Comment"),
    p("comments", "Comments", "Comment"),
    w("company", "Company"),
    w("component", "Component"),
    p("components", "Components", "Component"),
    w("contact", "Contact"),
    p("contacts", "Contacts", "Contact"),
    w("content", "Content"),
    w("contract", "Contract"),
    p("contracts", "Contracts", "Contract"),
    w("count", "Count"),
    w("country", "Country"),
    w("coupon", "Coupon"),
    p("coupons", "Coupons", "Coupon"),
    w("creator", "Creator"),
    w("ctag", "CTag"),
    w("currency", "Currency"),
    w("customer", "Customer"),
    w("cycle", "Cycle"),
    w("data", "Data"),
    w("dav", "Dav"),
    w("default", "Default"),
    w("delivery", "Delivery"),
    w("department", "Department"),
    w("description", "Description"),
    p("devices", "Devices", "Device"),
    w("discount", "Discount"),
    w("dunning", "Dunning"),
    w("effort", "Effort"),
    w("email", "Email"),
    p("entities", "Entities", "Entity"),
    w("entity", "Entity"),
    w("error", "Error"),
    w("etag", "ETag"),
    p("events", "Events", "Event"),
    w("exchange", "Exchange"),
    w("exclude", "Exclude"),
    w("factor", "Factor"),
    w("fax", "Fax"),
    w("fee", "Fee"),
    w("feed", "Feed"),
    w("filename", "FileName"),
    p("files", "Files", "File"),
    w("first", "First"),
    w("fixed", "Fixed"),
    w("flag", "Flag"),
    p("folders", "Folders", "Folder"),
    p("follows", "Follows", "Follow"),
    w("force", "Force"),
    w("foreign", "Foreign"),
    w("group", "Group"),
    p("groups", "Groups", "Group"),
    w("hash", "Hash"),
    w("height", "Height"),
    w("id", "Id"),
    w("identifier", "Identifier"),
    w("in", "In"),
    w("index", "Index"),
    w("interval", "Interval"),
    p("invitations", "Invitations", "Invitation"),
    w("item", "Item"),
    p("items", "Items", "Item"),
    w("lang", "Language"),
    w("last", "Last"),
    w("leader", "Leader"),
    w("ledger", "Ledger"),
    p("ledgers", "Ledgers", "Ledger"),
    w("likely", "Likely"),
    p("likes", "Likes", "Like"),
    p("links", "Links", "Link"),
    w("list", "List"),
    p("lists", "Lists", "List"),
    w("location", "Location"),
    w("locked", "Locked"),
    w("mail", "Mail"),
    w("mailbox", "Mailbox"),
    w("mailing", "Mailing"),
    w("manufacturer", "Manufacturer"),
    w("margin", "Margin"),
    w("message", "Message"),
    p("messages", "Messages", "Message"),
    w("meta", "Meta"),
    w("mime", "Mime"),
    w("min", "Minimum"),
    w("model", "Model"),
    w("most", "Most"),
    w("name", "Name"),
    w("net", "Net"),
    w("neutral", "Neutral"),
    w("no", "No"),
    p("notes", "Notes", "Note"),
    w("notify", "Notify"),
    w("num", "Number"),
    p("objects", "Objects", "Object"),
    w("only", "Only"),
    p("opportunities", "Opportunities", "Opportunity"),
    w("opportunity", "Opportunity"),
    w("original", "Original"),
    w("out", "Out"),
    w("owner", "Owner"),
    p("participants", "Participants", "Participant"),
    w("password", "Password"),
    w("path", "Path"),
    p("payments", "Payments", "Payment"),
    p("permissions", "Permissions", "Permission"),
    w("phone", "Phone"),
    w("pic", "Picture"),
    w("position", "Position"),
    w("postal", "Postal"),
    w("price", "Price"),
    p("prices", "Prices", "Price"),
    w("priority", "Priority"),
    w("probability", "Probability"),
    w("procurement", "Procurement"),
    w("production", "Production"),
    w("project", "Project"),
    w("projected", "Projected"),
    p("projects", "Projects", "Project"),
    w("public", "Public"),
    w("purchase", "Purchase"),
    w("rate", "Rate"),
    p("rates", "Rates", "Rate"),
    p("reads", "Reads", "Read"),
    w("rebate", "Rebate"),
    w("recipient", "Recipient"),
    w("record", "Record"),
    p("records", "Records", "Record"),
    w("recurrence", "Recurrence"),
    w("reference", "Reference"),
    p("references", "References", "Reference"),
    w("region", "Region"),
    w("reply", "Reply"),
    w("reservation", "Reservation"),
    p("resources", "Resources", "Resource"),
    w("schedule", "Schedule"),
    w("selling", "Selling"),
    w("send", "Send"),
    w("sender", "Sender"),
    w("serial", "Serial"),
    p("serials", "Serials", "Serial"),
    w("server", "Server"),
    p("servers", "Servers", "Server"),
    p("services", "Services", "Service"),
    w("shipping", "Shipping"),
    w("signature", "Signature"),
    w("size", "Size"),
    w("status", "Status"),
    p("steps", "Steps", "Step"),
    w("stock", "Stock"),
    w("storage", "Storage"),
    p("storages", "Storages", "Storage"),
    w("sub", "Sub"),
    w("subject", "Subject"),
    w("supplier", "Supplier"),
    p("suppliers", "Suppliers", "Supplier"),
    w("svg", "Svg"),
    w("sync", "Sync"),
    p("tags", "Tags", "Tag"),
    w("taken", "Taken"),
    w("task", "Task"),
    p("tasks", "Tasks", "Task"),
    w("tax", "Tax"),
    w("text", "Text"),
    w("ticket", "Ticket"),
    w("ticketing", "Ticketing"),
    p("tickets", "Tickets", "Ticket"),
    w("time", "Time"),
    w("title", "Title"),
    w("to", "To"),
    w("token", "Token"),
    w("transaction", "Transaction"),
    p("transactions", "Transactions", "Transaction"),
    w("transfer", "Transfer"),
    w("type", "Type"),
    w("unit", "Unit"),
    w("upside", "Upside"),
    w("uri", "Uri"),
    w("url", "Url"),
    w("user", "User"),
    w("username", "UserName"),
    p("users", "Users", "User"),
    w("value", "Value"),
    w("variant", "Variant"),
    w("vendor", "Vendor"),
    w("verified", "Verified"),
    w("version", "Version"),
    w("view", "View"),
    w("visibility", "Visibility"),
    p("visits", "Visits", "Visit"),
    p("weblets", "Weblets", "Weblet"),
    w("website", "Website"),
    w("weight", "Weight"),
    w("width", "Width"),
    w("worst", "Worst"),
    w("writable", "Writable"),
];

/// Whole names whose OData name is not the concatenation of their words.
/// Time fields are handled by [`time_property_name`] instead.
const NAME_OVERRIDES: &[(&str, &str)] = &[
    // HQ writes keys as `Id`.
    ("ID", "Id"),
    // "Entity ID" of the polymorphic `entity`/`index` pairs.
    ("index", "EntityId"),
    ("index1", "Entity1Id"),
    ("index2", "Entity2Id"),
    // "Original entity ID" of a line item.
    ("original", "OriginalId"),
    // ZeyOS's name for the extension data pseudo field.
    ("extdata", "ExtData"),
];

/// Entities whose OData names do not follow from their words: the
/// reference calls `dunning` "dunning notices" and `objects` "custom
/// objects"; `Object` would also clash with a type of most client languages.
const ENTITY_OVERRIDES: &[(&str, &str, &str)] = &[
    ("dunning", "DunningNotice", "DunningNotices"),
    ("objects", "CustomObject", "CustomObjects"),
];

/// OData names of points in time: `(field, is_date, name)`. Event-like time
/// stamps end in `On` (HQ's UTC times), calendar dates in `Date`.
const TIME_NAMES: &[(&str, bool, &str)] = &[
    ("creationdate", false, "CreatedOn"),
    ("lastmodified", false, "UpdatedOn"),
    // "Designated date and time" of documents, payments, messages...
    ("date", false, "DesignatedOn"),
    ("datefrom", false, "StartOn"),
    ("dateto", false, "EndOn"),
    ("duedate", false, "DueOn"),
    ("expdate", false, "ExpiresOn"),
    ("lastbilling", false, "LastBilledOn"),
    ("lastlogin", false, "LastLoginOn"),
    ("senddate", false, "SendOn"),
    ("birthdate", true, "BirthDate"),
    ("datecancel", true, "CancellationDate"),
    ("datefrom", true, "StartDate"),
    ("dateto", true, "EndDate"),
    ("daterecurrence", true, "RecurrenceEndDate"),
    ("duedate", true, "DueDate"),
    ("expdate", true, "ExpiryDate"),
];

/// A ZeyOS name the word list cannot split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownWords {
    /// The name that could not be split.
    pub name: String,
    /// The part that matched no word.
    pub rest: String,
}

impl fmt::Display for UnknownWords {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}` cannot be split into known words (no word matches `{}`); add the words to the list in src/edm/naming.rs",
            self.name, self.rest
        )
    }
}

impl std::error::Error for UnknownWords {}

/// One token of a split name: a word of the list or a run of digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    Word(&'static Word),
    Digits(usize, usize),
}

fn lookup(text: &str) -> Option<&'static Word> {
    WORDS
        .binary_search_by(|word| word.text.cmp(text))
        .ok()
        .map(|i| &WORDS[i])
}

/// Splits one underscore-free segment into the fewest words (and digit
/// runs). Fewest words makes `usernamein` `username`+`in` rather than
/// `user`+`name`+`in`; ties go to the longer first word.
fn split_segment(name: &str, segment: &str, offset: usize) -> Result<Vec<Token>, UnknownWords> {
    let n = segment.len();
    // best[i]: fewest tokens covering segment[i..], with the first token's end.
    let mut best: Vec<Option<(usize, usize)>> = vec![None; n + 1];
    best[n] = Some((0, n));
    for start in (0..n).rev() {
        let bytes = segment.as_bytes();
        if bytes[start].is_ascii_digit() {
            let mut end = start;
            while end < n && bytes[end].is_ascii_digit() {
                end += 1;
            }
            if let Some((count, _)) = best[end] {
                best[start] = Some((count + 1, end));
            }
            continue;
        }
        for end in (start + 1..=n).rev() {
            if !segment.is_char_boundary(end) {
                continue;
            }
            let (Some(_), Some((count, _))) = (lookup(&segment[start..end]), best[end]) else {
                continue;
            };
            if best[start].is_none_or(|(c, _)| count + 1 < c) {
                best[start] = Some((count + 1, end));
            }
        }
    }
    let mut tokens = Vec::new();
    let mut at = 0;
    while at < n {
        let Some((_, end)) = best[at] else {
            return Err(UnknownWords {
                name: name.to_owned(),
                rest: segment[at..].to_owned(),
            });
        };
        let part = &segment[at..end];
        match lookup(part) {
            Some(word) => tokens.push(Token::Word(word)),
            None => tokens.push(Token::Digits(offset + at, offset + end)),
        }
        at = end;
    }
    Ok(tokens)
}

fn split(name: &str) -> Result<Vec<Token>, UnknownWords> {
    let mut tokens = Vec::new();
    let mut offset = 0;
    for segment in name.split('_') {
        if segment.is_empty() {
            return Err(UnknownWords {
                name: name.to_owned(),
                rest: "_".to_owned(),
            });
        }
        tokens.extend(split_segment(name, segment, offset)?);
        offset += segment.len() + 1;
    }
    Ok(tokens)
}

/// The words of a ZeyOS name in their curated spelling, e.g. `assigneduser`
/// → `["Assigned", "User"]`, `email2` → `["Email", "2"]`.
pub fn words(name: &str) -> Result<Vec<&str>, UnknownWords> {
    Ok(split(name)?
        .into_iter()
        .map(|t| match t {
            Token::Word(word) => word.render,
            Token::Digits(a, b) => &name[a..b],
        })
        .collect())
}

/// The PascalCase name of a plain ZeyOS field, e.g. `billingpostalcode` →
/// `BillingPostalCode`, `customernum` → `CustomerNumber`, `ID` → `Id`.
pub fn property_name(field: &str) -> Result<String, UnknownWords> {
    if let Some((_, name)) = NAME_OVERRIDES.iter().find(|(f, _)| *f == field) {
        return Ok((*name).to_owned());
    }
    Ok(words(field)?.concat())
}

/// The name of a time stamp (`is_date == false`) or date field, e.g.
/// `creationdate` → `CreatedOn`, `birthdate` → `BirthDate`; `None` when the
/// table has no entry (a test keeps it complete for the schema).
pub fn time_property_name(field: &str, is_date: bool) -> Option<&'static str> {
    TIME_NAMES
        .iter()
        .find(|(f, d, _)| *f == field && *d == is_date)
        .map(|(_, _, name)| *name)
}

/// The navigation property name of a foreign key field, e.g. `assigneduser`
/// → `AssignedUser`, `contact1` → `Contact1`.
pub fn navigation_name(field: &str) -> Result<String, UnknownWords> {
    property_name(field)
}

/// The property exposing a foreign key's value: the navigation name plus
/// `Id`, e.g. `AssignedUser` → `AssignedUserId`.
pub fn foreign_key_property_name(navigation: &str) -> String {
    format!("{navigation}Id")
}

/// Entity type (singular) and entity set (plural) names of a ZeyOS entity,
/// e.g. `actionsteps` → (`ActionStep`, `ActionSteps`), `contacts2contacts`
/// → (`ContactToContact`, `ContactsToContacts`).
pub fn entity_names(entity: &str) -> Result<(String, String), UnknownWords> {
    if let Some((_, ty, set)) = ENTITY_OVERRIDES.iter().find(|(e, _, _)| *e == entity) {
        return Ok(((*ty).to_owned(), (*set).to_owned()));
    }
    let tokens = split(entity)?;
    let mut singular = String::new();
    let mut plural = String::new();
    for token in tokens {
        match token {
            // `2` joins the two sides of a link table: "contact-to-contact".
            Token::Digits(a, b) if &entity[a..b] == "2" => {
                singular.push_str("To");
                plural.push_str("To");
            }
            Token::Digits(a, b) => {
                singular.push_str(&entity[a..b]);
                plural.push_str(&entity[a..b]);
            }
            Token::Word(word) => {
                singular.push_str(word.singular.unwrap_or(word.render));
                plural.push_str(word.render);
            }
        }
    }
    Ok((singular, plural))
}

/// Why a string is not an OData simple identifier, if it is not one.
///
/// CSDL allows Unicode letters; the gateway accepts the ASCII subset
/// (letter or `_`, then letters, digits, `_`; at most 128 characters),
/// which every client language can represent as a member name.
pub fn identifier_problem(name: &str) -> Option<&'static str> {
    let mut chars = name.chars();
    let Some(first) = chars.next() else {
        return Some("it is empty");
    };
    if name.len() > 128 {
        return Some("it is longer than 128 characters");
    }
    if !(first.is_ascii_alphabetic() || first == '_') {
        return Some("it must start with a letter or `_`");
    }
    if !chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Some("it may contain only letters, digits and `_`");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_list_is_sorted_and_unique() {
        for pair in WORDS.windows(2) {
            assert!(
                pair[0].text < pair[1].text,
                "{} must come before {}",
                pair[0].text,
                pair[1].text
            );
        }
    }

    #[test]
    fn splits_into_curated_words() {
        let cases = [
            ("lastname", "LastName"),
            ("assigneduser", "AssignedUser"),
            ("billingpostalcode", "BillingPostalCode"),
            ("sellingprice", "SellingPrice"),
            ("customernum", "CustomerNumber"),
            ("usernamein", "UserNameIn"),
            ("senderror", "SendError"),
            ("sender_email", "SenderEmail"),
            ("email2", "Email2"),
            ("ctag", "CTag"),
            ("minamount", "MinimumAmount"),
            ("picbinfile", "PictureBinFile"),
            ("langaliases", "LanguageAliases"),
            ("ID", "Id"),
            ("index", "EntityId"),
        ];
        for (field, expected) in cases {
            assert_eq!(property_name(field).as_deref(), Ok(expected), "{field}");
        }
    }

    #[test]
    fn entity_names_are_singular_types_and_plural_sets() {
        let cases = [
            ("accounts", "Account", "Accounts"),
            ("actionsteps", "ActionStep", "ActionSteps"),
            ("davservers", "DavServer", "DavServers"),
            ("categories", "Category", "Categories"),
            (
                "contacts2contacts",
                "ContactToContact",
                "ContactsToContacts",
            ),
            (
                "dunning2transactions",
                "DunningToTransaction",
                "DunningToTransactions",
            ),
            (
                "pricelists2accounts",
                "PriceListToAccount",
                "PriceListsToAccounts",
            ),
            ("dunning", "DunningNotice", "DunningNotices"),
        ];
        for (entity, ty, set) in cases {
            assert_eq!(
                entity_names(entity),
                Ok((ty.to_owned(), set.to_owned())),
                "{entity}"
            );
        }
    }

    #[test]
    fn unknown_words_are_reported() {
        let err = property_name("frobnicate").unwrap_err();
        assert_eq!(err.rest, "frobnicate");
        assert!(err.to_string().contains("naming.rs"));
    }

    #[test]
    fn time_names_follow_hq() {
        assert_eq!(time_property_name("creationdate", false), Some("CreatedOn"));
        assert_eq!(time_property_name("lastmodified", false), Some("UpdatedOn"));
        assert_eq!(time_property_name("birthdate", true), Some("BirthDate"));
        assert_eq!(time_property_name("birthdate", false), None);
    }

    #[test]
    fn identifiers() {
        assert_eq!(identifier_problem("Accounts"), None);
        assert_eq!(identifier_problem("_x1"), None);
        assert!(identifier_problem("").is_some());
        assert!(identifier_problem("1a").is_some());
        assert!(identifier_problem("a-b").is_some());
        assert!(identifier_problem(&"a".repeat(129)).is_some());
    }

    #[test]
    fn every_schema_name_splits() {
        let schema = zeyos_schema::schema();
        let mut failures = Vec::new();
        fn walk(fields: &[zeyos_schema::Field], failures: &mut Vec<String>) {
            for f in fields {
                // `+tags`/`-tags` are write-only operators, not names.
                if f.name.starts_with(['+', '-']) {
                    continue;
                }
                let ok = match f.semantic {
                    zeyos_schema::Semantic::Timestamp => time_property_name(&f.name, false)
                        .map(|_| ())
                        .ok_or(format!("time stamp `{}` has no name in TIME_NAMES", f.name)),
                    zeyos_schema::Semantic::Date => time_property_name(&f.name, true)
                        .map(|_| ())
                        .ok_or(format!("date `{}` has no name in TIME_NAMES", f.name)),
                    _ => property_name(&f.name)
                        .map(|_| ())
                        .map_err(|e| e.to_string()),
                };
                if let Err(e) = ok {
                    failures.push(e);
                }
                walk(&f.fields, failures);
            }
        }
        for entity in &schema.entities {
            if let Err(e) = entity_names(&entity.name) {
                failures.push(e.to_string());
            }
            walk(&entity.fields, &mut failures);
        }
        for composite in &schema.composites {
            walk(&composite.fields, &mut failures);
        }
        assert!(failures.is_empty(), "{failures:#?}");
    }
}
