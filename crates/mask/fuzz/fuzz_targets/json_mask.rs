//! Fuzzes the JSON tokenizer/masker: arbitrary bytes in arbitrary chunkings must never panic,
//! and whenever masking succeeds on valid JSON the output must be valid JSON too, with the
//! same result for every chunking. After any valid JSON value, an account key in a string
//! member is never in the output, wherever the chunks split it.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use portcullis_mask::{ContentKind, MaskConfig, MaskEngine, SessionContext};

/// A test account key (64 bytes of base64), not a real credential.
const KEY: &str = "UvImZaYMEtKJGF2VDuiBNgkWb2sRPReNbA/TkB/yOaGglfIPk5VlDPk4C47bIkprJIoekk6P0K4uGpSSozBfGA==";

fn contains_key(bytes: &[u8]) -> bool {
    bytes.windows(KEY.len()).any(|w| w == KEY.as_bytes())
}

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
    let Ok(_) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    if let Some(out) = &whole {
        serde_json::from_slice::<serde_json::Value>(out).expect("masked JSON is still JSON");
    }
    // The tokenizer's state after arbitrary JSON must not let a secret through. (A key glued
    // to other characters inside `data` is legitimately kept, so such inputs are skipped.)
    if contains_key(data) {
        return;
    }
    let wrapped =
        [&b"{\"v\":"[..], data, format!(r#","note":"rotated to {KEY} today"}}"#).as_bytes()].concat();
    for size in [usize::MAX, usize::from(chunk)] {
        if let Some(out) = run(engine, &wrapped, size) {
            assert!(!contains_key(&out), "the key leaked");
        }
    }
});
