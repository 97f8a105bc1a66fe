//! The gateway's work per row on a wide page: decoding ZeyOS's list answer
//! into rows and writing them as OData JSON, without any I/O.
//!
//! `cargo bench --bench row_path`
//!
//! The page is real: zeyos-sim (scale 1,000) is started in-process, the
//! gateway answers `/odata/Transactions?$top=1000&$orderby=Id` once, and
//! the exact ZeyOS request it made (taken from the simulator's log) is
//! sent again to fetch the body the gateway decodes: 1,001 transactions
//! with every field and their line items, about 1.2 MB. Beside decoding
//! and writing, `validate only (floor)` reads the page with serde_json
//! without building anything: the least any gateway that checks ZeyOS's
//! answer can spend on it, the bound under which no row type gets.
//! `decode and write in 16 KiB pieces` does both as the server does when
//! ZeyOS's body arrives in pieces, each piece's rows written while they
//! are still in the processor's caches: it takes about what decoding and
//! writing the whole page one after the other take, so the writer does
//! not wait on memory for rows decoded long before.
//!
//! A second group compresses the written page with gzip at the levels
//! `compression_level` offers, as the server's compression layer does for
//! Power Query (which always accepts gzip): at zlib's usual level 6 it
//! costs about as much as decoding and writing together, at level 1 (the
//! default) about a quarter of that. A third inflates ZeyOS's page gzipped
//! at level 1: what `upstream.accept_gzip` costs when ZeyOS compresses.

use std::hint::black_box;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use zeyos_odata::serialize::entity::EntityWriter;
use zeyos_odata::server::negotiate::{JsonFormat, MetadataLevel};
use zeyos_odata::upstream::rows::{parse_rows, RowDecoder};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

type HttpClient = Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>;

const ODATA_URL: &str = "/odata/Transactions?$top=1000&$orderby=Id";

/// The ZeyOS list answer behind [`ODATA_URL`].
fn fetch_page() -> Bytes {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let sim = zeyos_sim::start(zeyos_sim::SimConfig {
            scale: 1000,
            ..Default::default()
        })
        .await
        .expect("zeyos-sim starts");
        let mut config =
            zeyos_odata::config::Config::default_for_demo(&sim.base_url()).expect("config");
        config.upstream.appsecret = Some(zeyos_odata::config::Secret::new("bench"));
        config.cache.enabled = false;
        let gateway = zeyos_odata::server::gateway::Gateway::new(config).expect("gateway");
        let server = zeyos_odata::server::serve::serve(gateway, "127.0.0.1:0".parse().unwrap())
            .await
            .expect("listen");
        let client: HttpClient = Client::builder(TokioExecutor::new()).build_http();
        let send = |req: http::Request<Full<Bytes>>| {
            let client = client.clone();
            async move {
                let resp = client.request(req).await.expect("answers");
                assert_eq!(resp.status(), 200);
                resp.into_body().collect().await.expect("body").to_bytes()
            }
        };
        use base64::Engine;
        let basic = base64::engine::general_purpose::STANDARD.encode("demo:demo");
        send(
            http::Request::get(format!("http://{}{ODATA_URL}", server.addr()))
                .header("authorization", format!("Basic {basic}"))
                .body(Full::new(Bytes::new()))
                .unwrap(),
        )
        .await;
        let upstream = sim
            .last_api_request()
            .expect("the gateway called the backend");
        let token = sim.login("demo", "demo").await.expect("token");
        send(
            http::Request::post(format!("{}{}", sim.base_url(), upstream.path))
                .header("authorization", format!("Bearer {token}"))
                .header("content-type", "application/json")
                .body(Full::new(Bytes::from(upstream.body.clone())))
                .unwrap(),
        )
        .await
    })
}

fn bench(c: &mut Criterion) {
    let body = fetch_page();
    if let Ok(p) = std::env::var("DUMP") {
        std::fs::write(p, &body).unwrap();
    }
    let config = zeyos_odata::config::Config::default_for_demo("http://127.0.0.1:1")
        .expect("shipped config");
    let models = config.service_models().expect("models");
    let model = models
        .iter()
        .find(|m| m.name == "odata")
        .expect("odata service");
    let (set, _) = model.entity_set("Transactions").expect("Transactions");
    let rows = parse_rows(&body).expect("a list answer");
    let format = JsonFormat {
        metadata: MetadataLevel::Minimal,
        ieee754_compatible: false,
    };
    let root = "http://localhost/odata/";
    let writer = EntityWriter::new(model, set, None, &[], format, root);
    let mut written = Vec::new();
    for r in &rows {
        writer.write(&mut written, r);
    }
    if let Ok(p) = std::env::var("DUMP") {
        std::fs::write(format!("{p}.odata"), &written).unwrap();
    }
    eprintln!(
        "page: {} rows, {} bytes from ZeyOS, {} bytes of OData JSON",
        rows.len(),
        body.len(),
        written.len()
    );

    let mut group = c.benchmark_group("row_path");
    group.throughput(Throughput::Bytes(body.len() as u64));
    group.bench_function("decode 1,000 transactions", |b| {
        b.iter(|| black_box(parse_rows(black_box(&body)).expect("decodes")))
    });
    // Freeing the decoded page (included in `decode` above): what the
    // server moves off the response path for a page it sends whole.
    group.bench_function("free 1,000 transactions", |b| {
        b.iter_batched(
            || parse_rows(&body).expect("decodes"),
            drop,
            criterion::BatchSize::LargeInput,
        )
    });
    group.bench_function("write 1,000 transactions", |b| {
        let mut out = Vec::with_capacity(written.len());
        b.iter(|| {
            out.clear();
            for r in &rows {
                writer.write(&mut out, black_box(r));
            }
            black_box(out.len())
        })
    });
    // Decoding and writing as the server does when ZeyOS's body arrives
    // in pieces: each 16 KiB of the body decoded, its rows written and
    // dropped at once, while they are still in the processor's caches.
    group.bench_function("decode and write in 16 KiB pieces", |b| {
        let mut out = Vec::with_capacity(written.len());
        b.iter(|| {
            out.clear();
            let mut decoder = RowDecoder::new();
            for piece in body.chunks(16 * 1024) {
                decoder.push(black_box(piece)).expect("decodes");
                for r in decoder.take_rows() {
                    writer.write(&mut out, &r);
                }
            }
            for r in decoder.finish().expect("complete") {
                writer.write(&mut out, &r);
            }
            black_box(out.len())
        })
    });
    // The least any gateway that checks ZeyOS's answer spends on this
    // page: serde_json reading it without building anything.
    group.bench_function("validate only (floor)", |b| {
        b.iter(|| {
            let mut de = serde_json::Deserializer::from_slice(black_box(&body));
            let ignored: serde::de::IgnoredAny =
                serde::Deserialize::deserialize(&mut de).expect("valid JSON");
            de.end().expect("one value");
            black_box(ignored)
        })
    });
    group.finish();

    let mut group = c.benchmark_group("gzip");
    group.throughput(Throughput::Bytes(written.len() as u64));
    for level in [1, 2, 6] {
        eprintln!("gzip level {level}: {} bytes", gzip(&written, level).len());
        group.bench_function(format!("level {level}"), |b| {
            b.iter(|| black_box(gzip(black_box(&written), level).len()))
        });
    }
    group.finish();

    // What `upstream.accept_gzip` costs when ZeyOS compresses (at level 1,
    // as a web server in front of it typically does): inflating its page.
    let upstream_gz = gzip(&body, 1);
    eprintln!(
        "ZeyOS page gzipped at level 1: {} of {} bytes",
        upstream_gz.len(),
        body.len()
    );
    let mut group = c.benchmark_group("inflate");
    group.throughput(Throughput::Bytes(body.len() as u64));
    group.bench_function("ZeyOS page, gzip level 1", |b| {
        b.iter(|| {
            let mut out = Vec::with_capacity(body.len());
            std::io::Read::read_to_end(
                &mut flate2::read::GzDecoder::new(black_box(&upstream_gz[..])),
                &mut out,
            )
            .expect("inflates");
            black_box(out.len())
        })
    });
    group.finish();
}

/// The body gzipped at `level` by flate2, the backend of the server's
/// compression layer.
fn gzip(body: &[u8], level: u32) -> Vec<u8> {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(
        Vec::with_capacity(body.len() / 4),
        flate2::Compression::new(level),
    );
    enc.write_all(body).expect("in memory");
    enc.finish().expect("in memory")
}

criterion_group!(benches, bench);
criterion_main!(benches);
