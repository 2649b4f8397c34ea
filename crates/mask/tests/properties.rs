//! Property tests: random JSON documents with secrets planted at random positions, in raw,
//! JSON-escaped and nested-JSON encodings, pushed in random chunkings. Every planted secret is
//! gone, and the output equals the input with exactly the secrets replaced: every other byte
//! (whitespace, key order, number spelling, escapes) is unchanged.

mod common;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use common::*;
use proptest::prelude::*;

/// A JSON fragment as sent, and as it must come out.
#[derive(Debug, Clone)]
struct Frag {
    input: String,
    expected: String,
    secrets: Vec<String>,
}

impl Frag {
    fn same(s: String) -> Self {
        Self { expected: s.clone(), input: s, secrets: Vec::new() }
    }
}

fn ws() -> impl Strategy<Value = String> {
    prop::sample::select(vec!["", "", " ", "\n  ", "\t", "\r\n"]).prop_map(String::from)
}

/// String content that no detector matches, with escapes.
fn filler() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop::sample::select(vec![
            "abc", " ", "xyz", "\\n", "\\u00e9", "\\/", "\\\"", "q", "\\\\", "é", "data",
        ]),
        0..6,
    )
    .prop_map(|v| v.concat())
}

fn luhn_complete(prefix: &str) -> String {
    for d in 0..10 {
        let candidate = format!("{prefix}{d}");
        let mut sum = 0;
        for (i, c) in candidate.chars().rev().enumerate() {
            let mut v = c.to_digit(10).unwrap();
            if i % 2 == 1 {
                v *= 2;
                if v > 9 {
                    v -= 9;
                }
            }
            sum += v;
        }
        if sum % 10 == 0 {
            return candidate;
        }
    }
    unreachable!()
}

/// (secret text, label) of a random kind.
fn secret() -> impl Strategy<Value = (String, &'static str)> {
    let bytes = prop::collection::vec(any::<u8>(), 64);
    prop_oneof![
        bytes
            .clone()
            .prop_map(|b| STANDARD.encode(b))
            .prop_filter("key material has mixed classes", |k| {
                k.bytes().any(|c| c.is_ascii_uppercase())
                    && k.bytes().any(|c| c.is_ascii_lowercase())
                    && k.bytes().any(|c| c.is_ascii_digit())
            })
            .prop_map(|k| (k, "azure_storage_key")),
        bytes.clone().prop_map(|b| {
            let h = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","typ":"JWT"}"#);
            let p = URL_SAFE_NO_PAD.encode(&b[..20]);
            (format!("{h}.{p}.{}", URL_SAFE_NO_PAD.encode(&b[20..])), "jwt")
        }),
        ("[a-z]{3,10}", "[a-z]{3,10}").prop_map(|(l, d)| (format!("{l}.x@{d}.com"), "email")),
        "[0-9]{14}".prop_map(|d| (luhn_complete(&format!("4{d}")), "credit_card")),
        "[A-Za-z0-9]{36}".prop_map(|t| (format!("ghp_{t}"), "github_token")),
        "[A-Z2-7]{16}".prop_map(|t| (format!("AKIA{t}"), "aws_access_key_id")),
    ]
}

/// JSON-escapes the characters of `s` selected by `mask` (as `\u00XX`, `/` as `\/`).
fn escape_some(s: &str, mask: &[bool]) -> String {
    s.chars()
        .enumerate()
        .map(|(i, c)| match (mask.get(i % mask.len().max(1)).copied().unwrap_or(false), c) {
            (true, '/') => "\\/".to_string(),
            (true, c) => format!("\\u{:04x}", c as u32),
            (false, c) => c.to_string(),
        })
        .collect()
}

/// A string value holding a secret in one of three encodings.
fn secret_leaf() -> impl Strategy<Value = Frag> {
    (secret(), 0..3u8, prop::collection::vec(any::<bool>(), 1..9), "[a-z]{0,5}", "[a-z]{0,5}").prop_map(
        |((s, label), encoding, mask, pre, post)| {
            let token = format!("[REDACTED:{label}]");
            let (input, expected) = match encoding {
                0 => (format!("\"{pre} {s} {post}\""), format!("\"{pre} {token} {post}\"")),
                1 => (
                    format!("\"{pre} {} {post}\"", escape_some(&s, &mask)),
                    format!("\"{pre} {token} {post}\""),
                ),
                _ => (
                    format!("\"{{\\\"note\\\":\\\"{pre} {} {post}\\\"}}\"", escape_some(&s, &mask)),
                    format!("\"{{\\\"note\\\":\\\"{pre} {token} {post}\\\"}}\""),
                ),
            };
            Frag { input, expected, secrets: vec![s] }
        },
    )
}

fn leaf() -> impl Strategy<Value = Frag> {
    prop_oneof![
        filler().prop_map(|f| Frag::same(format!("\"{f}\""))),
        prop::sample::select(vec!["0", "-1.5e3", "42", "3.14159", "1E-7", "true", "false", "null"])
            .prop_map(|s| Frag::same(s.to_string())),
        secret_leaf(),
    ]
}

fn join(parts: Vec<Frag>, open: &str, close: &str, w: &str) -> Frag {
    let mut f = Frag { input: open.to_string(), expected: open.to_string(), secrets: Vec::new() };
    for (i, p) in parts.into_iter().enumerate() {
        if i > 0 {
            f.input.push(',');
            f.expected.push(',');
        }
        f.input.push_str(w);
        f.expected.push_str(w);
        f.input.push_str(&p.input);
        f.expected.push_str(&p.expected);
        f.secrets.extend(p.secrets);
    }
    f.input.push_str(close);
    f.expected.push_str(close);
    f
}

fn document() -> impl Strategy<Value = Frag> {
    leaf().prop_recursive(5, 64, 6, |inner| {
        prop_oneof![
            (prop::collection::vec(inner.clone(), 0..6), ws()).prop_map(|(v, w)| join(v, "[", "]", &w)),
            (
                prop::collection::vec(
                    (
                        "k_[a-z]{0,6}",
                        ws(),
                        prop_oneof![
                            3 => inner.clone().prop_map(|v| (false, v)),
                            1 => filler().prop_filter("non-empty", |f| !f.is_empty()).prop_map(|f| {
                                let secret = format!("p{f}");
                                (true, Frag { input: format!("\"{secret}\""), expected: "\"[REDACTED:password]\"".into(), secrets: Vec::new() })
                            }),
                        ],
                    ),
                    0..6
                ),
                ws()
            )
                .prop_map(|(members, w)| {
                    let parts = members
                        .into_iter()
                        .map(|(k, w2, (password, v))| {
                            let key = if password { "PassWord".to_string() } else { k };
                            Frag {
                                input: format!("\"{key}\"{w2}:{w2}{}", v.input),
                                expected: format!("\"{key}\"{w2}:{w2}{}", v.expected),
                                secrets: v.secrets,
                            }
                        })
                        .collect();
                    join(parts, "{", "}", &w)
                }),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn planted_secrets_never_survive_and_other_bytes_are_unchanged(
        doc in document(),
        chunks in prop::collection::vec(1usize..80, 1..20),
    ) {
        let engine = engine("azure");
        let mut s = engine.stream(portcullis_mask::ContentKind::Json, &session()).unwrap();
        let mut out = Vec::new();
        let bytes = doc.input.as_bytes();
        let (mut at, mut k) = (0, 0);
        while at < bytes.len() {
            let n = chunks[k % chunks.len()].min(bytes.len() - at);
            s.push(&bytes[at..at + n], &mut out).unwrap();
            at += n;
            k += 1;
        }
        s.finish(&mut out).unwrap();
        let out = String::from_utf8(out).unwrap();
        for secret in &doc.secrets {
            prop_assert!(!out.contains(secret.as_str()), "secret survived: {}", out);
        }
        prop_assert_eq!(&out, &doc.expected);
        let planted = doc.secrets.len() as u64;
        let passwords = doc.expected.matches("[REDACTED:password]").count() as u64;
        prop_assert_eq!(s.report().total(), planted + passwords);
    }

    #[test]
    fn text_masking_is_chunking_independent(
        parts in prop::collection::vec(prop_oneof![secret().prop_map(|(s, _)| s), "[a-z \n]{0,30}"], 1..20),
        chunk in 1usize..5000,
    ) {
        let body = parts.join(" ");
        let engine = engine("azure");
        let (whole, _) = mask_chunked(&engine, "text/plain", body.as_bytes(), usize::MAX).unwrap();
        let (chunked, _) = mask_chunked(&engine, "text/plain", body.as_bytes(), chunk).unwrap();
        prop_assert_eq!(&whole, &chunked);
    }
}
