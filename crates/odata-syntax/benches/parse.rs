//! Parses a corpus of realistic request targets, shaped like what Power
//! Query, Excel and SAP UI5 send: filters over text, numbers and dates with
//! 3 to 8 clauses, plus $select/$orderby/$top, percent-encoded as clients do.
//!
//! `cargo bench -p odata-syntax --bench parse`

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use odata_syntax::{parse_expression, parse_uri, Limits};
use std::hint::black_box;

/// A 150-character filter (decoded), the reference size.
const FILTER_150: &str = "startswith(LastName,'Mill') and Revenue ge 10000.50 and CreatedOn ge 2023-01-01T00:00:00Z and not(contains(City,'Berlin')) and Status eq 'active' or X";

const TARGETS: &[&str] = &[
    "Accounts?$filter=startswith(Name,%27Ze%27)%20and%20Revenue%20gt%201000&$select=ID,Name,Revenue&$orderby=Name&$top=100",
    "Contacts?$filter=LastName%20eq%20%27Miller%27%20and%20FirstName%20ne%20null%20and%20Age%20ge%2018&$select=ID,FirstName,LastName&$top=1000",
    "Invoices?$filter=Date%20ge%202023-01-01%20and%20Date%20lt%202024-01-01%20and%20Total%20gt%20500.00%20and%20Status%20eq%20%27paid%27&$orderby=Date%20desc&$top=500",
    "Tickets?$filter=(Priority%20eq%201%20or%20Priority%20eq%202)%20and%20not(contains(Subject,%27test%27))%20and%20CreatedOn%20ge%202023-06-01T00:00:00Z&$select=ID,Subject,Priority,CreatedOn&$orderby=CreatedOn%20desc",
    "Opportunities?$filter=Amount%20ge%2010000%20and%20Amount%20le%20500000%20and%20Stage%20ne%20%27lost%27%20and%20CloseDate%20gt%202024-03-31&$select=ID,Name,Amount,Stage&$top=200&$skip=200",
    "Accounts?$filter=endswith(Email,%27@example.com%27)%20and%20Country%20eq%20%27DE%27%20and%20Employees%20gt%2050&$select=ID,Name,Email&$orderby=Name%20asc,ID&$top=50",
    "Items?$filter=Price%20mul%20Quantity%20gt%201000%20and%20Discount%20lt%200.15%20and%20year(ShipDate)%20eq%202023&$select=ID,Price,Quantity&$count=true",
    "Events?$filter=Start%20ge%202024-01-01T08:00:00%2B01:00%20and%20End%20le%202024-01-31T18:00:00%2B01:00%20and%20Type%20eq%20%27meeting%27%20and%20Owner%20eq%2042&$orderby=Start&$top=250",
    "Contacts?$filter=tolower(City)%20eq%20%27k%C3%B6ln%27%20and%20length(Phone)%20gt%205%20and%20Birthday%20lt%201990-01-01&$select=ID,City,Phone,Birthday",
    "Products?$filter=Category%20in%20(%27Books%27,%27Music%27,%27Video%27)%20and%20Stock%20gt%200%20and%20Rating%20ge%204.5&$select=ID,Name,Category,Rating&$orderby=Rating%20desc&$top=20",
    "Tasks?$filter=Done%20eq%20false%20and%20DueDate%20le%202024-05-01%20and%20AssignedTo%20eq%207%20and%20Priority%20ge%202%20and%20not%20startswith(Title,%27x%27)&$orderby=DueDate,Priority%20desc&$top=100",
    "Accounts?$filter=Revenue%20gt%201000000%20and%20(Industry%20eq%20%27Retail%27%20or%20Industry%20eq%20%27Finance%27%20or%20Industry%20eq%20%27Health%27)%20and%20Active%20eq%20true&$select=ID,Name,Industry,Revenue",
    "Invoices?$filter=InvoiceNumber%20ge%20%27R-2024-0001%27%20and%20InvoiceNumber%20le%20%27R-2024-9999%27%20and%20Currency%20eq%20%27EUR%27&$select=ID,InvoiceNumber,Total&$orderby=InvoiceNumber&$top=1000&$skip=0",
    "Contacts?$filter=substringof(%27a%27,Name)%20eq%20true",
    "Leads?$filter=Score%20ge%2050%20and%20Source%20ne%20%27web%27%20and%20CreatedOn%20ge%202024-02-01T00:00:00.000Z%20and%20CreatedOn%20lt%202024-03-01T00:00:00.000Z%20and%20Owner%20ne%20null&$select=ID,Score,Source&$orderby=Score%20desc&$top=50",
    "Orders?$filter=OrderDate%20ge%202023-01-01%20and%20Customer/Country%20eq%20%27AT%27%20and%20Items/any(i:i/Quantity%20gt%2010)&$expand=Items($select=ID,Quantity)&$select=ID,OrderDate&$top=100",
    "Employees?$filter=HireDate%20le%202020-12-31%20and%20Salary%20ge%2050000%20and%20Salary%20le%2090000%20and%20Department%20eq%20%27Sales%27%20and%20Manager%20ne%20null%20and%20Remote%20eq%20true%20and%20Level%20ge%203%20and%20Level%20le%206&$select=ID,Name,Salary&$orderby=Salary%20desc",
    "Accounts?$select=ID,Name,City&$orderby=City,Name&$top=1000&$skip=1000&$count=true",
    "Projects?$filter=Budget%20sub%20Spent%20lt%200%20and%20Status%20eq%20%27open%27%20and%20EndDate%20ge%202024-01-01&$select=ID,Name,Budget,Spent&$orderby=EndDate",
    "Documents?$filter=Size%20gt%201048576%20and%20Modified%20ge%202024-04-01T00:00:00Z%20and%20contains(tolower(Name),%27report%27)%20and%20Owner%20eq%2012&$select=ID,Name,Size,Modified&$orderby=Modified%20desc&$top=25",
];

fn bench(c: &mut Criterion) {
    let limits = Limits::default();
    // every target must parse, except the deliberately invalid 4.0 function
    for t in TARGETS {
        let r = parse_uri(t, &limits);
        if !t.contains("substringof") {
            assert!(r.is_ok(), "{t}: {r:?}");
        }
    }
    assert_eq!(FILTER_150.len(), 150, "reference filter must be 150 bytes");

    let mut g = c.benchmark_group("filter_150");
    g.throughput(Throughput::Bytes(FILTER_150.len() as u64));
    g.bench_function("parse_expression", |b| {
        b.iter(|| parse_expression(black_box(FILTER_150), &limits))
    });
    g.finish();

    let mut g = c.benchmark_group("corpus");
    let bytes: usize = TARGETS.iter().map(|t| t.len()).sum();
    g.throughput(Throughput::Bytes(bytes as u64));
    g.bench_function("parse_uri_x20", |b| {
        b.iter(|| {
            for t in TARGETS {
                let _ = black_box(parse_uri(black_box(t), &limits));
            }
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
