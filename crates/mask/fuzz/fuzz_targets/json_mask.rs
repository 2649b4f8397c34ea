//! Fuzzes the JSON tokenizer/masker: arbitrary bytes in arbitrary chunkings must never panic,
//! and whenever masking succeeds on valid JSON the output must be valid JSON too, with the
//! same result for every chunking.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use portcullis_mask::{ContentKind, MaskConfig, MaskEngine, SessionContext};

fn run(engine: &MaskEngine, data: &[u8], chunk: usize) -> Option<Vec<u8>> {
    let session = SessionContext::new(b"fuzz session key................");
    let mut s = engine.stream(ContentKind::Json, &session).ok()?;
    let mut out = Vec::new();
    for c in data.chunks(chunk.max(1)) {
        s.push(c, &mut out).ok()?;
    }
    s.finish(&mut out).ok()?;
    Some(out)
}

fuzz_target!(|input: (u8, &[u8])| {
    let (chunk, data) = input;
    static ENGINE: OnceLock<MaskEngine> = OnceLock::new();
    let engine = ENGINE
        .get_or_init(|| MaskEngine::new(&MaskConfig::default(), "azure").expect("shipped profile compiles"));
    let whole = run(engine, data, usize::MAX);
    let chunked = run(engine, data, usize::from(chunk));
    assert_eq!(whole.is_some(), chunked.is_some(), "chunking changed success");
    if let (Some(a), Some(b)) = (&whole, &chunked) {
        assert_eq!(a, b, "chunking changed output");
    }
    // Valid JSON in, valid JSON out (masking replaces values by strings, never breaks syntax).
    if let (Ok(_), Some(out)) = (serde_json::from_slice::<serde_json::Value>(data), &whole) {
        serde_json::from_slice::<serde_json::Value>(out).expect("masked JSON is still JSON");
    }
});
