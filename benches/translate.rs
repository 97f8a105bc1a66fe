//! Translation cost per request: parse, bind and plan a realistic OData
//! request into its ZeyOS list request, without any I/O.
//!
//! `cargo bench --bench translate`

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use zeyos_odata::bind::binder::{Binder, ExpandLimits};
use zeyos_odata::bind::query::Resource;
use zeyos_odata::config::Config;
use zeyos_odata::plan::collection::Planner;
use zeyos_odata::plan::pushdown::FilterCapabilities;

const REQUESTS: &[&str] = &[
    "Accounts?$select=Id,LastName,FirstName,Type,UpdatedOn&$filter=Type eq 'CUSTOMER'&$orderby=Id&$top=100",
    "Accounts?$filter=startswith(LastName,'M') and CreatedOn ge 2020-01-01T00:00:00Z and Type in ('CUSTOMER','SUPPLIER')&$orderby=LastName,Id&$top=1000",
    "Transactions?$select=Id,TransactionNumber,NetAmount,DesignatedOn,Status&$filter=NetAmount gt 1000 and Status eq 'BOOKED' and year(DesignatedOn) eq 2023&$orderby=DesignatedOn desc&$top=500&$count=true",
    "Contacts?$filter=contains(tolower(City),'berlin') or Country eq 'DE' and not (BirthDate lt 1980-01-01)&$select=Id,LastName,City,Country,BirthDate",
    "Accounts?$filter=Contact/City eq 'London' and Transactions/any(t: t/NetAmount gt 5000)&$expand=Contact($select=City),Transactions($select=Id,NetAmount;$top=5;$orderby=NetAmount desc)&$top=50",
];

fn bench(c: &mut Criterion) {
    let config = Config::default_for_demo("http://127.0.0.1:1").expect("shipped config");
    let models = config.service_models().expect("models");
    let model = models
        .iter()
        .find(|m| m.name == "odata")
        .expect("odata service");
    let limits = odata_syntax::Limits::default();
    let mut group = c.benchmark_group("translate");
    for (i, target) in REQUESTS.iter().enumerate() {
        let target = target.replace(' ', "%20");
        group.bench_function(format!("request {i} ({} bytes)", target.len()), |b| {
            b.iter(|| {
                let uri = odata_syntax::parse_uri(black_box(&target), &limits).expect("parses");
                let bound = Binder::new(model, &uri.query.aliases, ExpandLimits::default())
                    .bind(&uri)
                    .expect("binds");
                let Resource::Collection(c) = &bound.resource else {
                    panic!("a collection");
                };
                let plan = Planner::new(model, FilterCapabilities::default()).collection(
                    c.set,
                    Vec::new(),
                    &bound.shape,
                );
                black_box(plan.filter.to_json())
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
