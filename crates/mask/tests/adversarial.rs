//! Adversarial inputs: deep nesting, huge strings, inputs built to make a backtracking
//! regex engine explode, and a profile that refuses oversize values.

mod common;
use common::*;
use portcullis_mask::{ContentKind, MaskErrorCode};

#[test]
fn deep_nesting_is_refused_without_exhausting_the_stack() {
    let e = engine("azure");
    // A million levels: a recursive parser would overflow the stack long before.
    for open in [b'[', b'{'] {
        let mut body = Vec::new();
        for _ in 0..1_000_000 {
            body.push(open);
            if open == b'{' {
                body.extend_from_slice(b"\"a\":");
            }
        }
        let err = mask_chunked(&e, "application/json", &body, 65536).unwrap_err();
        assert_eq!(err.code(), MaskErrorCode::TooDeep);
        assert!(err.to_string().contains("128"));
    }
    // Within the limit it works.
    let ok = format!("{}{}", "[".repeat(100), "]".repeat(100));
    assert_eq!(mask_chunked(&e, "application/json", ok.as_bytes(), 7).unwrap().0, ok.as_bytes());
    // XML too.
    let xml = "<a>".repeat(200_000);
    let err = mask_chunked(&e, "application/xml", xml.as_bytes(), 4096).unwrap_err();
    assert_eq!(err.code(), MaskErrorCode::TooDeep);
}

#[test]
fn huge_strings_are_masked_whole_or_refused() {
    let huge = format!("{{\"a\":\"{}{KEY}{}\",\"b\":\"ok\"}}", "x ".repeat(1 << 20), " y".repeat(1 << 20));
    let (out, report) = mask_chunked(&engine("azure"), "application/json", huge.as_bytes(), 65536).unwrap();
    assert_eq!(String::from_utf8(out).unwrap(), r#"{"a":"[REDACTED:oversized_value]","b":"ok"}"#);
    assert_eq!(report.count("oversized_value"), 1);

    let refuse = engine_toml("[profiles.r]\non_oversize = \"refuse\"\nmax_string_bytes = 4096\n", "r");
    let err = mask_chunked(&refuse, "application/json", huge.as_bytes(), 65536).unwrap_err();
    assert_eq!(err.code(), MaskErrorCode::TooLong);

    // A string just under the limit is inspected normally.
    let big = format!("{{\"a\":\"{} {KEY}\"}}", "z".repeat(900_000));
    let (out, _) = mask_chunked(&engine("azure"), "application/json", big.as_bytes(), 8192).unwrap();
    assert!(String::from_utf8(out).unwrap().ends_with(" [REDACTED:azure_storage_key]\"}"));
}

/// Work (bytes handed to detectors) for `body`, masked in 64 KiB chunks.
fn work(e: &portcullis_mask::MaskEngine, content_type: &str, body: &[u8]) -> u64 {
    let mut s = e.stream(ContentKind::from_content_type(Some(content_type)), &session()).unwrap();
    let mut out = Vec::new();
    for c in body.chunks(65536) {
        s.push(c, &mut out).unwrap();
    }
    s.finish(&mut out).unwrap();
    s.scanned_bytes()
}

/// Linear time without a clock. Every detector pattern is bounded (its longest match is
/// known when the profile compiles), and the regex crate searches in time linear in what it
/// is given; so masking is linear if what the detectors are given is. That is measured here
/// on inputs built to make backtracking engines (and naive windowing, base64 re-decoding or
/// nested-JSON re-parsing) go superlinear: 10x the input must cost at most ~10x the work
/// (plus slack: text re-scans its hold-back window once per 64 KiB step, a cost the smaller
/// input, held in one step, does not pay), and the work per input byte is bounded by the
/// number of detectors. Quadratic behaviour would show as 100x.
#[test]
fn pathological_inputs_cost_linear_work() {
    let seeds: [&str; 12] = [
        "a@a.",
        "==",
        "eyJ.",
        "sig=%",
        "4111 ",
        "-----BEGIN RSA PRIVATE KEY-----\n",
        "AccountKey=",
        "sk-aaaaaaaa",
        "+1 ",
        "QUFBQUFB",
        "x Q~",
        "{\"a\":\"",
    ];
    let e = engine("strict");
    for seed in seeds {
        let body = |n: usize| seed.repeat(n / seed.len() + 1).into_bytes();
        for content_type in ["text/plain", "application/json"] {
            let make = |n: usize| match content_type {
                "text/plain" => body(n),
                _ => {
                    let s = String::from_utf8(body(n))
                        .unwrap()
                        .replace('\\', "\\\\")
                        .replace('"', "\\\"")
                        .replace('\n', "\\n");
                    format!("[\"{s}\"]").into_bytes()
                }
            };
            let (small, large) = (make(10_000), make(100_000));
            let (w_small, w_large) = (work(&e, content_type, &small), work(&e, content_type, &large));
            let ratio = w_large as f64 / w_small.max(1) as f64;
            let size_ratio = large.len() as f64 / small.len() as f64;
            assert!(
                ratio <= size_ratio * 1.35,
                "{seed:?} as {content_type}: work grew {ratio:.1}x for {size_ratio:.1}x the input"
            );
            assert!(
                w_large <= 48 * large.len() as u64,
                "{seed:?} as {content_type}: {w_large} bytes of work for {} bytes",
                large.len()
            );
        }
    }
}

#[test]
fn custom_detectors_need_bounded_patterns_and_run_validators() {
    let bad: portcullis_mask::MaskConfig =
        toml::from_str("[profiles.c]\ncustom = [{ name = \"ticket\", regex = \"TKT-[0-9]+\" }]\n").unwrap();
    let err = portcullis_mask::MaskEngine::new(&bad, "c").unwrap_err();
    assert_eq!(err.code(), MaskErrorCode::Config);
    assert!(err.to_string().contains("bounded"));

    let e = engine_toml(
        "[profiles.c]\nextends = \"azure\"\ncustom = [{ name = \"account_no\", regex = \"ACC-([0-9]{8,12})\", validator = \"luhn\" }]\n",
        "c",
    );
    let (out, report) = mask(&e, "text/plain", "ACC-79927398713 ACC-79927398714");
    assert_eq!(out, "ACC-[REDACTED:account_no] ACC-79927398714");
    assert_eq!(report.count("account_no"), 1);
}

#[test]
fn config_errors_are_clear() {
    let parse = |t: &str| toml::from_str::<portcullis_mask::MaskConfig>(t);
    assert!(parse("[profiles.x]\nbogus = 1\n").is_err(), "deny_unknown_fields");
    assert!(parse("[profiles.x]\ndetectors = { email = \"maybe\" }\n").is_err());
    let cfg = parse("[profiles.x]\ndetectors = { emial = \"off\" }\n").unwrap();
    let err = portcullis_mask::MaskEngine::new(&cfg, "x").unwrap_err();
    assert!(err.to_string().contains("emial"));
    let cfg = parse("[profiles.x]\nextends = \"y\"\n[profiles.y]\nextends = \"x\"\n").unwrap();
    assert_eq!(portcullis_mask::MaskEngine::new(&cfg, "x").unwrap_err().code(), MaskErrorCode::Config);
    let err = portcullis_mask::MaskProfiles::new(&portcullis_mask::MaskConfig::default())
        .unwrap()
        .engine("nope")
        .unwrap_err();
    assert_eq!(err.code(), MaskErrorCode::UnknownProfile);
}

#[test]
fn detectors_can_be_turned_off() {
    let e = engine_toml("[profiles.q]\ndetectors = { email = \"off\" }\n", "q");
    let (out, report) = mask(&e, "application/json", r#"["a@contoso.com"]"#);
    assert_eq!(out, r#"["a@contoso.com"]"#);
    assert_eq!(report.total(), 0);
    let _ = ContentKind::Json;
}
