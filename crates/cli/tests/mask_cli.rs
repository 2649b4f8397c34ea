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
