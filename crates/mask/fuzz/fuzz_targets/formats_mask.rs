//! Fuzzes every other format (XML, text, form, NDJSON) and the content decoders: no panic,
//! and the text masker's output does not depend on the chunking.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use portcullis_mask::{ContentKind, MaskConfig, MaskEngine, SessionContext};

fuzz_target!(|input: (u8, u8, &[u8])| {
    let (kind, chunk, data) = input;
    static ENGINE: OnceLock<MaskEngine> = OnceLock::new();
    let engine = ENGINE
        .get_or_init(|| MaskEngine::new(&MaskConfig::default(), "strict").expect("shipped profile compiles"));
    let session = SessionContext::new(b"fuzz session key................");
    let (ct, enc) = match kind % 7 {
        0 => ("application/xml", None),
        1 => ("text/plain", None),
        2 => ("application/x-www-form-urlencoded", None),
        3 => ("application/x-ndjson", None),
        4 => ("application/json", Some("gzip")),
        5 => ("application/json", Some("br")),
        _ => ("application/json", Some("zstd")),
    };
    let run = |size: usize| -> Option<Vec<u8>> {
        let mut s = engine.stream_encoded(ContentKind::from_content_type(Some(ct)), enc, &session).ok()?;
        let mut out = Vec::new();
        for c in data.chunks(size.max(1)) {
            s.push(c, &mut out).ok()?;
        }
        s.finish(&mut out).ok()?;
        Some(out)
    };
    let whole = run(usize::MAX);
    let chunked = run(usize::from(chunk));
    if kind % 7 == 1 {
        assert_eq!(whole, chunked, "text output depends on chunking");
    }
});
