//! Business rules of the seed data for the main entities, applied over the
//! generic row: coherent accounts, contacts, line items, payments...

use std::collections::HashMap;

use rusqlite::types::Value as V;
use zeyos_schema::Entity;

use super::pools::*;
use super::{location, round2, t, CatalogItem, Gen, DAY};

impl Gen {
    /// Business rules for the main entities, applied over the generic row.
    pub(super) fn business(
        &mut self,
        entity: &Entity,
        id: i64,
        ix: &HashMap<&str, usize>,
        row: &mut [V],
        created: i64,
    ) {
        let mut set = |name: &str, v: V| {
            if let Some(&i) = ix.get(name) {
                row[i] = v;
            }
        };
        match entity.name.as_str() {
            "users" => {
                set(
                    "name",
                    t(USER_NAMES.get(id as usize - 1).copied().unwrap_or("user")),
                );
                set(
                    "activity",
                    V::Integer(match id {
                        10 => 1,
                        11 => 2,
                        _ => 0,
                    }),
                );
                set("apionly", V::Integer(i64::from(id == 9)));
                set("contact", V::Integer(2 * id));
                set("email", V::Text(format!("user{id}@example.com")));
                set("expdate", V::Null);
            }
            "accounts" => {
                let kind = if id <= 6 {
                    id - 1
                } else {
                    *self.rng.pick(&[0, 1, 1, 1, 2, 3, 4, 5])
                };
                set("type", V::Integer(kind));
                set("contact", V::Integer(2 * id - 1));
                let (name, first) = if kind == 5 {
                    let (f, l) = self.person();
                    (l, V::Text(f))
                } else {
                    (self.company(), V::Null)
                };
                self.account_names.push(name.clone());
                set("lastname", V::Text(name));
                set("firstname", first);
                set(
                    "currency",
                    t(CURRENCIES[(id as usize * 31) % CURRENCIES.len()]),
                );
                set(
                    "customernum",
                    if matches!(kind, 0 | 1 | 3 | 5) {
                        V::Text(format!("C-{:06}", 100_000 + id))
                    } else {
                        V::Null
                    },
                );
                set(
                    "suppliernum",
                    if matches!(kind, 2 | 3) {
                        V::Text(format!("S-{:06}", 100_000 + id))
                    } else {
                        V::Null
                    },
                );
            }
            "contacts" => {
                let account = (id + 1) / 2;
                let loc = location(account);
                let company = self.account_names.get(account as usize - 1).cloned();
                if id % 2 == 1 {
                    set("type", V::Integer(0));
                    set("lastname", company.clone().map_or(V::Null, V::Text));
                    set("firstname", V::Null);
                } else {
                    let (f, l) = self.person();
                    set("type", V::Integer(1));
                    set("firstname", V::Text(f));
                    set("lastname", V::Text(l));
                }
                set("company", company.map_or(V::Null, V::Text));
                set("city", t(loc.0));
                set("postalcode", t(loc.1));
                set("country", t(loc.2));
                set("region", loc.3.map_or(V::Null, t));
                set("address", t(loc.4));
            }
            "addresses" => {
                set("account", V::Integer(id));
                set("contact", V::Integer(2 * id - 1));
            }
            "items" => {
                let sell = round2(5.0 + self.rng.unit() * 995.0);
                let buy = round2(sell * (0.4 + self.rng.unit() * 0.4));
                let unit = *self.rng.pick(&["pcs", "h", "kg", "m"]);
                let tax = *self.rng.pick(&[19.0, 19.0, 7.0, 0.0]);
                let itype = if id <= 8 {
                    id - 1
                } else {
                    *self.rng.pick(&[0, 0, 0, 1, 2, 6])
                };
                let num = format!("I-{:06}", id);
                let name = match &row[ix["name"]] {
                    V::Text(s) => s.clone(),
                    _ => format!("Item {id}"),
                };
                let fragment = format!(
                    "\"item\":{id},\"itemnum\":{},\"itemtype\":{itype},\"name\":{},\"sellingprice\":{sell},\"purchaseprice\":{buy},\"taxrate\":{tax},\"unit\":\"{unit}\"",
                    serde_json::Value::String(num.clone()),
                    serde_json::Value::String(name)
                );
                self.items.push(CatalogItem {
                    fragment,
                    sell,
                    buy,
                });
                let mut set = |name: &str, v: V| {
                    if let Some(&i) = ix.get(name) {
                        row[i] = v;
                    }
                };
                set("itemnum", V::Text(num));
                set("sellingprice", V::Real(sell));
                set("purchaseprice", V::Real(buy));
                set("unit", t(unit));
                set("taxrate", V::Real(tax));
                set("type", V::Integer(itype));
                set("subitems", V::Null);
            }
            "transactions" => {
                let accounts = self.count_of("accounts");
                let account = self.rng.range(1, accounts);
                self.transaction_accounts.push(account as u32);
                let kind = match &row[ix["type"]] {
                    V::Integer(k) => *k,
                    _ => 0,
                };
                let loc = location(account);
                let (items, net, cost, weight) = self.line_items(id);
                let name = self.account_names.get(account as usize - 1).cloned();
                let year = 1970 + created / (365 * DAY + DAY / 4);
                let mut set = |name: &str, v: V| {
                    if let Some(&i) = ix.get(name) {
                        row[i] = v;
                    }
                };
                set("account", V::Integer(account));
                set("items", V::Text(items));
                set("netamount", V::Real(net));
                set("tax", V::Real(round2(net * 0.19)));
                set("margin", V::Real(round2(net - cost)));
                set("weight", V::Real(weight));
                set(
                    "transactionnum",
                    V::Text(format!(
                        "{}-{year}.{id:06}",
                        TRANSACTION_PREFIX[kind as usize % 12]
                    )),
                );
                set(
                    "currency",
                    t(CURRENCIES[(account as usize * 31) % CURRENCIES.len()]),
                );
                set("billingrecipient", name.clone().map_or(V::Null, V::Text));
                set("billingaddress", t(loc.4));
                set("billingcity", t(loc.0));
                set("billingpostalcode", t(loc.1));
                set("billingcountry", t(loc.2));
                set("billingregion", loc.3.map_or(V::Null, t));
                set("shippingrecipient", name.map_or(V::Null, V::Text));
                set("shippingaddress", t(loc.4));
                set("shippingcity", t(loc.0));
                set("shippingpostalcode", t(loc.1));
                set("shippingcountry", t(loc.2));
                set("shippingregion", loc.3.map_or(V::Null, t));
                set("date", V::Integer(created));
                set(
                    "duedate",
                    V::Integer((created + 14 * DAY).div_euclid(DAY) * DAY),
                );
                if kind < 10 {
                    set("item", V::Null);
                    set("productionfactor", V::Null);
                }
            }
            "payments" => {
                let n = self.transaction_accounts.len() as u64;
                if n > 0 {
                    let tr = self.rng.below(n) as usize;
                    let account = self.transaction_accounts[tr];
                    set("transaction", V::Integer(tr as i64 + 1));
                    set("account", V::Integer(i64::from(account)));
                }
                set("amount", V::Real(round2(10.0 + self.rng.unit() * 5000.0)));
                set("date", V::Integer(created));
            }
            "actionsteps" => {
                let pick = self.rng.below(3);
                if pick != 0 {
                    set("account", V::Null)
                }
                if pick != 1 {
                    set("task", V::Null)
                }
                if pick != 2 {
                    set("ticket", V::Null)
                }
            }
            "devices" => {
                if self.rng.chance(0.5) {
                    set("chargenum", V::Null);
                } else {
                    set("serialnum", V::Null);
                }
            }
            "applications" if id == 1 => {
                set("name", t("ZeyOS OData Gateway"));
                set("identifier", t("com.zeyos.odata"));
                set("activity", V::Integer(0));
            }
            "applications" => set("activity", V::Integer(if id == 2 { 1 } else { 2 })),
            "groups2users" => {
                set("user", V::Integer(3 + (id - 1) % 10));
                set("group", V::Integer(1 + (id - 1) % 6));
            }
            _ => {}
        }
        // Entity + index pairs point to existing rows of the named entity.
        for (e, i) in [
            ("entity", "index"),
            ("entity1", "index1"),
            ("entity2", "index2"),
        ] {
            if let (Some(&ei), Some(&ii)) = (ix.get(e), ix.get(i)) {
                if let V::Text(target) = &row[ei] {
                    let n = self.counts.get(target.as_str()).copied().unwrap_or(0);
                    row[ii] = if n > 0 {
                        V::Integer(self.rng.range(1, n))
                    } else {
                        V::Null
                    };
                }
            }
        }
    }
}
