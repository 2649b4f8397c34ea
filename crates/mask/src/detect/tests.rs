//! Per-detector tests: what must be found, and what must not (precision).

use crate::config::MaskConfig;
use crate::profile::compile;

const KEY: &str = "UvImZaYMEtKJGF2VDuiBNgkWb2sRPReNbA/TkB/yOaGglfIPk5VlDPk4C47bIkprJIoekk6P0K4uGpSSozBfGA==";
const SIG: &str = "lMx0EdcX8UV5sqoQD7uzT6WT%2Fq7Scki3YuOrWAXwdlo%3D";
const JWT: &str = "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0IiwibmFtZSI6IngifQ.K5wdfg83xEkhvT9lZOrffxQqcmaMR-Ij0W7djEe0avxbruJh9TsmFS0mO6g7A3zUli5DSAEla4henJBR8yCw2w";

/// (label, matched text) for every finding of `profile` in `text`.
fn found_in(profile: &str, text: &str) -> Vec<(String, String)> {
    let p = compile(&MaskConfig::default(), profile).unwrap();
    let mut out = Vec::new();
    p.scanner.scan(text.as_bytes(), None, &mut out);
    out.iter()
        .map(|f| (p.labels[usize::from(f.hit.label)].clone(), text[f.start..f.end].to_string()))
        .collect()
}

fn found(text: &str) -> Vec<(String, String)> {
    found_in("azure", text)
}

fn one(text: &str, label: &str, secret: &str) {
    assert_eq!(found(text), vec![(label.to_string(), secret.to_string())], "in {text:?}");
}

fn none(text: &str) {
    assert_eq!(found(text), vec![], "false positive in {text:?}");
}

#[test]
fn azure_storage_keys() {
    one(&format!("key: {KEY} end"), "azure_storage_key", KEY);
    one(&format!("AccountName=a;AccountKey={KEY};EndpointSuffix=core.windows.net"), "azure_storage_key", KEY);
    // Inside a longer base64 run (a certificate body), the 88-character window is not a key.
    none(&format!("MIIB{KEY}"));
    none(&format!("{}==", "A".repeat(86)));
}

#[test]
fn cosmos_db_keys_in_connection_strings() {
    one(
        &format!("AccountEndpoint=https://db1.documents.azure.com:443/;AccountKey={KEY};"),
        "cosmos_db_key",
        KEY,
    );
}

#[test]
fn sas_tokens_mask_the_signature() {
    let url = format!("https://a.blob.core.windows.net/c?sv=2022-11-02&ss=b&srt=co&sig={SIG}&se=2030-01-01");
    one(&url, "azure_sas_token", SIG);
    none("https://example.com/?sig=notasignature&x=1");
}

#[test]
fn connection_strings() {
    one("Server=tcp:db;User ID=sa;Password=hunter2!x;Encrypt=true", "connection_string", "hunter2!x");
    one(
        "Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=Root;SharedAccessKey=abc123XYZ=",
        "connection_string",
        "abc123XYZ=",
    );
    none("Password=;");
    none("reset your password here");
}

#[test]
fn entra_client_secrets() {
    let s = "Xy78Q~ab.cdEFgh1_2-3~4567890abcdefghijK";
    one(&format!("secret {s}"), "entra_client_secret", s);
    none("version Q~ of the thing");
}

#[test]
fn jwts_need_a_json_header() {
    one(&format!("Bearer {JWT}"), "jwt", JWT);
    none("eyJub3RhbGciOjF9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl");
}

#[test]
fn pem_private_keys_but_not_certificates() {
    let key = "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA0Z3VS5JJcds3xfn/ygWyF8PbnGy0AHB7MhgHcTz6sE2I2yPB\n-----END RSA PRIVATE KEY-----";
    one(&format!("x{key}y"), "pem_private_key", key);
    let pk8 = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIB\n-----END PRIVATE KEY-----";
    one(pk8, "pem_private_key", pk8);
    none("-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUQ\n-----END CERTIFICATE-----");
    none("-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA\n-----END PUBLIC KEY-----");
}

#[test]
fn cloud_provider_keys() {
    one("id AKIAIOSFODNN7EXAMPLE.", "aws_access_key_id", "AKIAIOSFODNN7EXAMPLE");
    one(
        "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "aws_secret_access_key",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    );
    one(
        "k=AIzaSyA1b2C3d4E5f6G7h8I9j0KLmnOpQrStUvW",
        "gcp_api_key",
        "AIzaSyA1b2C3d4E5f6G7h8I9j0KLmnOpQrStUvW",
    );
    one(
        "ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789",
        "github_token",
        "ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789",
    );
    one("xoxb-1234567890-abcdefghij", "slack_token", "xoxb-1234567890-abcdefghij");
    let openai = "sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4zAB7cDE";
    one(openai, "openai_api_key", openai);
    none("AKIAIOSFODNN7EXAMPLEX1");
    none("eastasia westasia");
    none("disk-data-01 sk-short task-force-alpha-bravo-charlie-delta-echo");
    none("ghp_short");
}

#[test]
fn emails() {
    one("contact alice.smith@contoso.com please", "email", "alice.smith@contoso.com");
    none("icon@2x.png");
    none(r#"{"@odata.nextLink": "x"}"#);
    none("Microsoft.Web/sites@2022-03-01");
}

#[test]
fn phones() {
    one("call +1 425 555 0100 now", "phone", "+1 425 555 0100");
    one("call (425) 555-0100", "phone", "(425) 555-0100");
    one("call 425-555-0100.", "phone", "425-555-0100");
    none("2023-01-01T00:00:00Z");
    none("version 10.0.19041.1234");
    none("size 1234567890");
}

#[test]
fn credit_cards_need_luhn_and_to_stand_alone() {
    one("card 4111 1111 1111 1111 exp", "credit_card", "4111 1111 1111 1111");
    one("card 4111111111111111", "credit_card", "4111111111111111");
    one("mc 5500-0000-0000-0004", "credit_card", "5500-0000-0000-0004");
    one("amex 3782 822463 10005", "credit_card", "3782 822463 10005");
    none("card 4111111111111112");
    none("41111111-1111-1111-1111-111111111111");
    none("abc4111111111111111");
    none("/subscriptions/4111111111111111/resourceGroups/rg");
    none("rg-4111111111111111");
    none("ts 1700000000000 and 1234567890123456");
    none("4111 1111 11111 111");
}

#[test]
fn ibans_need_mod97() {
    one("pay DE89 3704 0044 0532 0130 00 today", "iban", "DE89 3704 0044 0532 0130 00");
    one("GB82WEST12345698765432", "iban", "GB82WEST12345698765432");
    none("DE89370400440532013001");
    none("XX89370400440532013000");
}

#[test]
fn us_ssn() {
    one("ssn 123-45-6789", "us_ssn", "123-45-6789");
    none("ssn 000-45-6789 666-12-3456 123-00-6789");
}

#[test]
fn ip_addresses_are_off_by_default_and_on_in_strict() {
    none("from 10.1.2.3 and fe80::1ff:fe23:4567:890a");
    let strict = found_in("strict", "from 10.1.2.3 and 2001:db8::8a2e:370:7334 at 12:30:45");
    let labels: Vec<_> = strict.iter().map(|(l, _)| l.as_str()).collect();
    assert_eq!(labels, ["ipv4", "ipv6"]);
    assert!(found_in("strict", "version 1.2.3.4.5").is_empty());
}

#[test]
fn base64_blobs_hiding_secrets() {
    let blob = "I2Nsb3VkLWNvbmZpZwpwYXNzd29yZD1TdXAzclMzY3JldCEKdXNlcjogYWRtaW4K";
    one(&format!("customData {blob}"), "connection_string", blob);
    // Plain base64 text without a secret, and random bytes, are left alone.
    none("aGVsbG8gd29ybGQsIHRoaXMgaXMgYSBwbGFpbiBzZW50ZW5jZQ==");
    none("n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg=");
}

#[test]
fn precision_on_ids_and_hashes() {
    none("6b1e4c0e-5f1c-4a8b-9a52-1234567890ab");
    none("/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-prod/providers/Microsoft.Storage/storageAccounts/acct01");
    none("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08");
    none("da39a3ee5e6b4b0d3255bfef95601890afd80709");
    none("0x8D9F1E2A3B4C5D6");
    none(r#""etag": "W/\"datetime'2023-06-01T12%3A00%3A00.1234567Z'\"""#);
}

#[test]
fn base64_run_search_agrees_with_a_plain_scan() {
    // The strided search must find exactly the runs a byte-by-byte scan finds.
    fn plain(t: &[u8]) -> bool {
        t.split(|&b| super::B64_CLASS[usize::from(b)] == 0).any(|run| {
            let classes = run.iter().fold(0, |a, &b| a | super::B64_CLASS[usize::from(b)]);
            run.len() >= super::MIN_BASE64_RUN && classes & 6 != 6
        })
    }
    let parts =
        ["", "a", "/", "-", ".", "abcdefghij", "ABCDEFGHIJKLMNOPQRSTUVWX", "+/", "_-", " ", "0123456789"];
    let mut seed = 7u64;
    for _ in 0..20_000 {
        let mut t = Vec::new();
        for _ in 0..(seed % 9) {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            t.extend_from_slice(parts[(seed >> 33) as usize % parts.len()].as_bytes());
        }
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        assert_eq!(super::has_base64_run(&t), plain(&t), "{:?}", String::from_utf8_lossy(&t));
        let digits = t.iter().filter(|b| b.is_ascii_digit()).count();
        assert_eq!(super::count_digits(&t), digits);
    }
}
