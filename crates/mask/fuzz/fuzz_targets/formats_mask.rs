//! Fuzzes every other format (XML, text, form, NDJSON) and the content decoders: no panic,
//! and the text masker's output does not depend on the chunking. For text, an account key
//! standing alone (spaces around it) anywhere in the input is never in the output, whatever
//! surrounds it and wherever the chunks split it.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use portcullis_mask::{ContentKind, MaskConfig, MaskEngine, SessionContext};

/// A test account key (64 bytes of base64), not a real credential.
const KEY: &str = "UvImZaYMEtKJGF2VDuiBNgkWb2sRPReNbA/TkB/yOaGglfIPk5VlDPk4C47bIkprJIoekk6P0K4uGpSSozBfGA==";

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
    let run_on = |data: &[u8], size: usize| -> Option<Vec<u8>> {
        let mut s = engine.stream_encoded(ContentKind::from_content_type(Some(ct)), enc, &session).ok()?;
        let mut out = Vec::new();
        for c in data.chunks(size.max(1)) {
            s.push(c, &mut out).ok()?;
        }
        s.finish(&mut out).ok()?;
        Some(out)
    };
    let whole = run_on(data, usize::MAX);
    let chunked = run_on(data, usize::from(chunk));
    let contains_key = |bytes: &[u8]| bytes.windows(KEY.len()).any(|w| w == KEY.as_bytes());
    if kind % 7 == 1 {
        assert_eq!(whole, chunked, "text output depends on chunking");
        // A key glued to other characters is legitimately kept, so inputs that already hold
        // one are skipped.
        if contains_key(data) {
            return;
        }
        let at = usize::from(chunk).wrapping_mul(31) % (data.len() + 1);
        let with_key = [&data[..at], format!(" {KEY} ").as_bytes(), &data[at..]].concat();
        for size in [usize::MAX, usize::from(chunk)] {
            if let Some(out) = run_on(&with_key, size) {
                assert!(!contains_key(&out), "the key leaked");
            }
        }
    }
});
