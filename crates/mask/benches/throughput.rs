//! Masking throughput and latency on ARM-shaped JSON with about 5 % sensitive values.
//!
//! `cargo bench -p portcullis-mask --bench throughput` — divan reports time and MB/s.

use divan::counter::BytesCount;
use divan::Bencher;
use portcullis_mask::{ContentKind, MaskConfig, MaskEngine, SessionContext};

#[path = "support/arm_corpus.rs"]
mod arm_corpus;
use arm_corpus::arm_list;

fn main() {
    divan::main();
}

fn run(engine: &MaskEngine, session: &SessionContext, body: &[u8], chunk: usize, out: &mut Vec<u8>) -> u64 {
    out.clear();
    let mut s = engine.stream(ContentKind::Json, session).unwrap();
    for c in body.chunks(chunk) {
        s.push(c, out).unwrap();
    }
    s.finish(out).unwrap();
    s.report().total()
}

#[divan::bench]
fn arm_json_4mib(bencher: Bencher) {
    let engine = MaskEngine::new(&MaskConfig::default(), "azure").unwrap();
    let session = SessionContext::new(b"bench session key...............");
    let body = arm_list(4 << 20);
    let mut out = Vec::with_capacity(body.len());
    let resources = body.windows(6).filter(|w| w == b"\"sku\":").count() as u64;
    assert_eq!(
        run(&engine, &session, &body, 64 * 1024, &mut out),
        2 * resources,
        "two masked values per resource"
    );
    bencher
        .counter(BytesCount::new(body.len()))
        .bench_local(|| run(&engine, &session, &body, 64 * 1024, &mut out));
}

/// Latency added to one 1.6 KB response: a single storage account with a connection string,
/// an account key and an owner e-mail (stream setup, masking, report included).
#[divan::bench]
fn arm_json_one_resource_latency(bencher: Bencher) {
    let engine = MaskEngine::new(&MaskConfig::default(), "azure").unwrap();
    let session = SessionContext::new(b"bench session key...............");
    let body = arm_list(11); // one resource
    assert!((1500..2600).contains(&body.len()), "{}", body.len());
    let mut out = Vec::with_capacity(body.len());
    bencher
        .counter(BytesCount::new(body.len()))
        .bench_local(|| run(&engine, &session, &body, usize::MAX, &mut out));
}

#[divan::bench]
fn arm_json_4mib_copy_baseline(bencher: Bencher) {
    let body = arm_list(4 << 20);
    let mut out = Vec::with_capacity(body.len());
    bencher.counter(BytesCount::new(body.len())).bench_local(|| {
        out.clear();
        for c in body.chunks(64 * 1024) {
            out.extend_from_slice(divan::black_box(c));
        }
        out.len()
    });
}

#[divan::bench]
fn plain_text_4mib(bencher: Bencher) {
    let engine = MaskEngine::new(&MaskConfig::default(), "azure").unwrap();
    let session = SessionContext::new(b"bench session key...............");
    let body = arm_list(4 << 20);
    let mut out = Vec::with_capacity(body.len());
    bencher.counter(BytesCount::new(body.len())).bench_local(|| {
        out.clear();
        let mut s = engine.stream(ContentKind::Text, &session).unwrap();
        for c in body.chunks(64 * 1024) {
            s.push(c, &mut out).unwrap();
        }
        s.finish(&mut out).unwrap();
        out.len()
    });
}
