//! Peak memory while masking a large generated JSON stream stays bounded: the body is
//! generated and pushed in 64 KiB chunks, output is counted and dropped, and the process's
//! peak resident set (Linux `VmHWM`) must stay under 64 MiB.
//!
//! Size: 1 GiB in release builds (`cargo test --release -p portcullis-mask --test memory`),
//! 64 MiB in debug builds; override with `PORTCULLIS_MASK_MEMORY_TEST_BYTES`.

mod common;
use common::*;
use portcullis_mask::ContentKind;

fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

fn resource(i: u64, out: &mut Vec<u8>) {
    let secret = if i % 20 == 0 {
        format!(",\"primaryKey\":\"{KEY}\",\"owner\":\"user{i}@contoso.com\"")
    } else {
        String::new()
    };
    let r = format!(
        "{{\"id\":\"/subscriptions/3f2a9c81-d07e-4b1a-9c52-{i:012}/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/acct{i}\",\"name\":\"acct{i}\",\"location\":\"westeurope\",\"properties\":{{\"provisioningState\":\"Succeeded\",\"creationTime\":\"2024-03-01T10:15:30.0000000Z\",\"size\":{i}{secret}}}}}"
    );
    out.extend_from_slice(r.as_bytes());
}

#[test]
fn peak_memory_is_bounded_on_a_huge_stream() {
    let default = if cfg!(debug_assertions) { 64u64 << 20 } else { 1u64 << 30 };
    let total: u64 = std::env::var("PORTCULLIS_MASK_MEMORY_TEST_BYTES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default);
    let engine = engine("azure");
    let mut s = engine.stream(ContentKind::Json, &session()).unwrap();
    let mut chunk = Vec::with_capacity(80 * 1024);
    let mut out = Vec::with_capacity(128 * 1024);
    let (mut sent, mut received, mut i) = (0u64, 0u64, 0u64);
    chunk.extend_from_slice(b"{\"value\":[");
    while sent < total {
        if i > 0 {
            chunk.push(b',');
        }
        resource(i, &mut chunk);
        i += 1;
        if chunk.len() >= 64 * 1024 {
            s.push(&chunk, &mut out).unwrap();
            sent += chunk.len() as u64;
            received += out.len() as u64;
            chunk.clear();
            out.clear();
        }
    }
    chunk.extend_from_slice(b"]}");
    s.push(&chunk, &mut out).unwrap();
    s.finish(&mut out).unwrap();
    received += out.len() as u64;
    let report = s.report();
    let sensitive = i.div_ceil(20);
    assert_eq!(report.count("azure_key"), sensitive);
    assert_eq!(report.count("email"), sensitive);
    assert!(received > sent / 2);
    if let Some(peak) = peak_rss_bytes() {
        eprintln!("masked {sent} bytes; peak RSS {} MiB", peak >> 20);
        assert!(peak < 64 << 20, "peak RSS {} MiB", peak >> 20);
    }
}
