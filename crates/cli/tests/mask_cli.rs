//! `portcullis mask` masks a body from stdin exactly as the gateway would and reports
//! counts (never values) on stderr.

use std::io::Write;
use std::process::{Command, Stdio};

fn mask(args: &[&str], input: &[u8]) -> (bool, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .arg("mask")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn storage_keys_are_masked_and_counted() {
    use base64::Engine;
    let key = base64::engine::general_purpose::STANDARD
        .encode([0x5au8, 0x17, 0xc3].repeat(21).iter().chain(&[9u8]).copied().collect::<Vec<u8>>());
    assert_eq!(key.len(), 88);
    let body = format!(
        r#"{{"keys": [{{"keyName": "key1", "value": "{key}", "permissions": "FULL"}}],
  "id": "/subscriptions/0000/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/acct"}}"#
    );
    let (ok, out, err) = mask(&["--profile", "azure", "--report"], body.as_bytes());
    assert!(ok, "{err}");
    assert!(!out.contains(&key), "the key never comes out: {out}");
    assert_eq!(out, body.replace(&key, "[REDACTED:azure_storage_key]"), "every other byte is unchanged");
    let report: serde_json::Value = serde_json::from_str(err.trim()).unwrap();
    assert_eq!(report["counts"]["azure_storage_key"], 1);
    assert!(!err.contains(&key), "the report carries counts, never values");
}

#[test]
fn unknown_profile_is_a_clear_error() {
    let (ok, _, err) = mask(&["--profile", "nope"], b"{}");
    assert!(!ok);
    assert!(err.contains("nope"), "{err}");
}

#[test]
fn content_type_selects_the_format() {
    let xml = "<EnumerationResults><Blobs><Blob><Name>a.txt</Name><Metadata><owner>jane.doe@contoso.com</owner></Metadata></Blob></Blobs></EnumerationResults>";
    let (ok, out, err) = mask(&["--content-type", "application/xml", "--report"], xml.as_bytes());
    assert!(ok, "{err}");
    assert_eq!(out, xml.replace("jane.doe@contoso.com", "[REDACTED:email]"));
    let report: serde_json::Value = serde_json::from_str(err.trim()).unwrap();
    assert_eq!(report["counts"]["email"], 1);

    let form = "grant_type=client_credentials&client_secret=Xy78Q~ab.cdEFgh1_2-3~4567890abcdefghijK";
    let (ok, out, err) = mask(&["--content-type", "application/x-www-form-urlencoded"], form.as_bytes());
    assert!(ok, "{err}");
    assert!(!out.contains("Xy78Q~"), "{out}");
    assert!(out.starts_with("grant_type=client_credentials&client_secret="), "{out}");
}

#[test]
fn profiles_come_from_the_config_file() {
    let dir = std::env::temp_dir().join(format!("portcullis-mask-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("portcullis.toml");
    std::fs::write(
        &config,
        r#"data_dir = "data"
[listeners.data]
addr = "127.0.0.1:0"
[listeners.control]
addr = "127.0.0.1:0"
[mask.profiles.team]
extends = "azure"
fields = [{ path = "**.ticket", label = "ticket" }, { path = "**.debug", strategy = "drop" }]
detectors = { email = "partial" }
"#,
    )
    .unwrap();
    let body = r#"{"ticket":"T-1","debug":{"trace":"x"},"owner":"jane.doe@contoso.com","n":1}"#;
    let path = config.to_str().unwrap();
    let (ok, out, err) = mask(&["--config", path, "--profile", "team", "--report"], body.as_bytes());
    assert!(ok, "{err}");
    assert_eq!(out, r#"{"ticket":"[REDACTED:ticket]","owner":"[REDACTED:email:last4=.com]","n":1}"#);
    let report: serde_json::Value = serde_json::from_str(err.trim()).unwrap();
    assert_eq!(report["counts"]["ticket"], 1);
    // The shipped profiles stay available next to configured ones.
    let (ok, _, err) = mask(&["--config", path, "--profile", "strict"], b"{}");
    assert!(ok, "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn what_the_gateway_would_refuse_fails_without_leaking() {
    // Truncated JSON: the gateway aborts the response; the CLI exits non-zero.
    let body = r#"{"note":"AccountKey=c2VjcmV0c2VjcmV0c2VjcmV0;","more":"#;
    let (ok, _, err) = mask(&[], body.as_bytes());
    assert!(!ok);
    assert!(err.to_lowercase().contains("json"), "{err}");
    assert!(!err.contains("c2VjcmV0"), "no body bytes in the error: {err}");
    // A content type no format handles is refused by default.
    let (ok, out, err) = mask(&["--content-type", "application/octet-stream"], b"\x00\x01AccountKey=abc");
    assert!(!ok);
    assert!(out.is_empty(), "nothing is passed on: {out:?}");
    assert!(err.contains("application/octet-stream"), "{err}");
}
