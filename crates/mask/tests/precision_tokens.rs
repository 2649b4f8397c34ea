//! Precision on identifiers that carry checksum-valid digit runs: GUIDs, ARM resource ids,
//! SHA-256/SHA-1 hex digests, certificate and public-key PEM blocks, and numbers that pass
//! Luhn (or look like a phone number, SSN or IBAN) only as part of a longer token. Each decoy
//! is checked in JSON, text and XML under the shipped `azure` profile, next to a control: the
//! same digits standing alone, which must be masked (so the detectors are on and the test can
//! fail).

mod common;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use common::*;

/// Luhn-valid card numbers (test ranges), a US phone number, an SSN and an IBAN.
const CARD: &str = "4111111111111111";
const CARD2: &str = "4532015112830366";
const PHONE: &str = "425-555-0100";
const SSN: &str = "123-45-6789";
const IBAN: &str = "DE89370400440532013000";

/// Identifiers that contain the values above (or checksum-valid runs) but are not them.
fn decoys() -> Vec<String> {
    let hex64 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
    let hex40 = "a94a8fe5ccb19ba61c4c0873d391e987982fbbd3";
    vec![
        // GUIDs made of digits only, with Luhn-valid and phone-shaped groups.
        "41111111-1111-1111-1111-111111111111".into(),
        "45320151-1283-0366-4111-111111111111".into(),
        "00000000-0000-0000-0000-004255550100".into(),
        "{41111111-1111-1111-1111-111111111111}".into(),
        // ARM resource ids whose segments are, or contain, the values.
        format!("/subscriptions/41111111-1111-1111-1111-111111111111/resourceGroups/rg-{CARD}/providers/Microsoft.Compute/disks/{CARD2}_OsDisk_1_{}", &hex64[..32]),
        format!("/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/{CARD}/providers/Microsoft.Compute/virtualMachines/{PHONE}"),
        format!("/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.Compute/snapshots/{SSN}-snap"),
        // Hex digests with the values at the start, in the middle and filling the digest.
        format!("{CARD}{}", &hex64[16..]),
        format!("{}{CARD}{}", &hex64[..24], &hex64[40..]),
        format!("sha256:{CARD2}{}", &hex64[16..]),
        format!("{}{}", &hex40[..24], CARD),
        "4".repeat(64),
        format!("{}{}", IBAN, hex40[22..].to_uppercase()),
        // Luhn-valid runs glued to a longer token.
        format!("order_{CARD}"),
        format!("{CARD}_v2"),
        format!("v{CARD}"),
        format!("{CARD}.json"),
        format!("blob-{CARD}.vhd"),
        format!("0x{CARD}"),
        format!("{CARD}0000"),
        format!("x-ms-{CARD2}"),
        format!("AAAA{CARD}BBBBCCCC=="),
        format!("build-{SSN}"),
        format!("{PHONE}-rc1"),
        format!("ref{IBAN}"),
        format!("{IBAN}X"),
    ]
}

fn masked_total(content_type: &str, body: &str) -> (String, u64) {
    let (out, report) = mask(&engine("azure"), content_type, body);
    (out, report.total())
}

#[test]
fn identifiers_with_checksum_valid_runs_are_byte_identical() {
    for decoy in decoys() {
        let json = format!(r#"{{"id":"{decoy}","note":"see {decoy} for details"}}"#);
        let text = format!("id {decoy}\nsee {decoy} for details\n");
        let xml = format!("<Item><Id>{decoy}</Id><Note>see {decoy} for details</Note></Item>");
        for (ct, body) in [("application/json", &json), ("text/plain", &text), ("application/xml", &xml)] {
            let (out, total) = masked_total(ct, body);
            assert_eq!((out.as_str(), total), (body.as_str(), 0), "{ct}: {decoy}");
        }
    }
}

#[test]
fn the_same_values_standing_alone_are_masked() {
    let controls =
        [(CARD, "credit_card"), (CARD2, "credit_card"), (PHONE, "phone"), (SSN, "us_ssn"), (IBAN, "iban")];
    for (value, label) in controls {
        for decoy in decoys() {
            let body = format!(r#"{{"id":"{decoy}","note":"pay with {value} today"}}"#);
            let (out, report) = mask(&engine("azure"), "application/json", &body);
            assert_eq!(report.total(), 1, "{value} next to {decoy}: {:?}", report.counts);
            assert_eq!(report.count(label), 1, "{value}: {:?}", report.counts);
            assert_eq!(out, body.replace(&format!("with {value}"), &format!("with [REDACTED:{label}]")));
        }
    }
}

/// Deterministic bytes standing in for DER and key material (nothing secret derives from them).
fn bytes(seed: u64, n: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

fn pem(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let lines: Vec<&str> = b64.as_bytes().chunks(64).map(|c| std::str::from_utf8(c).unwrap()).collect();
    format!("-----BEGIN {label}-----\n{}\n-----END {label}-----\n", lines.join("\n"))
}

/// Public PEM blocks of every kind a bundle or an API may carry (none is a private key).
fn public_blocks(seed: u64) -> String {
    [
        ("CERTIFICATE", 900),
        ("CERTIFICATE", 1200),
        ("PUBLIC KEY", 294),
        ("RSA PUBLIC KEY", 270),
        ("CERTIFICATE REQUEST", 700),
        ("X509 CRL", 500),
        ("PKCS7", 1500),
        ("EC PARAMETERS", 10),
        ("PGP PUBLIC KEY BLOCK", 600),
    ]
    .iter()
    .enumerate()
    .map(|(i, (label, n))| pem(label, &bytes(seed * 16 + i as u64, *n)))
    .collect()
}

#[test]
fn public_pem_blocks_are_kept_and_only_the_private_key_of_a_bundle_is_masked() {
    for seed in 1..=10 {
        let public = public_blocks(seed);
        let (out, total) = masked_total("text/plain", &public);
        assert_eq!((out.as_str(), total), (public.as_str(), 0), "seed {seed}");

        // A certificate chain with the private key between and after certificates.
        let key = pem("PRIVATE KEY", &bytes(seed + 1000, 1218));
        let bundle = format!("{public}{key}{public}");
        let (out, report) = mask(&engine("azure"), "text/plain", &bundle);
        assert_eq!(report.count("pem_private_key"), 1, "seed {seed}: {:?}", report.counts);
        assert_eq!(report.total(), 1, "seed {seed}: {:?}", report.counts);
        assert_eq!(out, format!("{public}[REDACTED:pem_private_key]\n{public}"), "seed {seed}");

        // The same bundle as a JSON string (Key Vault `value`, escaped newlines).
        let json =
            serde_json::json!({ "contentType": "application/x-pem-file", "value": bundle }).to_string();
        let (out, report) = mask(&engine("azure"), "application/json", &json);
        assert_eq!(report.total(), 1, "seed {seed}: {:?}", report.counts);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["value"], format!("{public}[REDACTED:pem_private_key]\n{public}"), "seed {seed}");
    }
}
