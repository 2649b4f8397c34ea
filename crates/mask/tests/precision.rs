//! Precision: what looks like key material but is not a secret stays byte-for-byte identical.
//! Certificates, public keys, thumbprints, GUIDs, resource ids, hashes, ETags, versions and
//! numbers that pass a checksum only inside a larger token are not masked, in JSON, XML and
//! text, under the shipped `azure` profile.

mod common;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use common::*;

/// Deterministic pseudo-random bytes (no secret is derived from them: they stand in for
/// DER certificates and public keys).
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
    format!("-----BEGIN {label}-----\\n{}\\n-----END {label}-----", lines.join("\\n"))
}

/// A Key Vault certificate, a VM with an SSH key and a role assignment, as ARM answers them.
fn public_material(seed: u64) -> String {
    let mut der = vec![0x30, 0x82, 0x03, 0x5a];
    der.extend(bytes(seed, 860));
    let cer = STANDARD.encode(&der);
    let x5t = URL_SAFE_NO_PAD.encode(bytes(seed + 1, 20));
    let thumb = hex::encode_upper(bytes(seed + 2, 20));
    let sha256 = hex::encode(bytes(seed + 3, 32));
    let md5 = STANDARD.encode(bytes(seed + 4, 16));
    let sha256_b64 = STANDARD.encode(bytes(seed + 5, 32));
    let mut ssh = b"\x00\x00\x00\x0bssh-ed25519\x00\x00\x00\x20".to_vec();
    ssh.extend(bytes(seed + 6, 32));
    let ssh = STANDARD.encode(ssh);
    let mut rsa = b"\x00\x00\x00\x07ssh-rsa\x00\x00\x00\x03\x01\x00\x01\x00\x00\x01\x01\x00".to_vec();
    rsa.extend(bytes(seed + 7, 256));
    let rsa = STANDARD.encode(rsa);
    let public_pem = pem("PUBLIC KEY", &bytes(seed + 8, 294));
    let cert_pem = pem("CERTIFICATE", &der);
    format!(
        r#"{{
  "id": "https://kv-prod.vault.azure.net/certificates/web/4f8a2c1e0b9d4e7f8a6b5c4d3e2f1a0b",
  "kid": "https://kv-prod.vault.azure.net/keys/web/4f8a2c1e0b9d4e7f8a6b5c4d3e2f1a0b",
  "x5t": "{x5t}",
  "cer": "{cer}",
  "pem": "{cert_pem}",
  "publicKey": "{public_pem}",
  "thumbprint": "{thumb}",
  "policy": {{"key_props": {{"kty": "RSA", "key_size": 2048, "reuse_key": false}}}},
  "attributes": {{"enabled": true, "created": 1717171717, "updated": 1717171718, "recoveryLevel": "Recoverable+Purgeable"}},
  "vm": {{
    "id": "/subscriptions/6b1e4c0e-5f1c-4a8b-9a52-1234567890ab/resourceGroups/rg-prod/providers/Microsoft.Compute/virtualMachines/vm-4111111111111111-web",
    "vmId": "0f8fad5b-d9cb-469f-a165-70867728950e",
    "osProfile": {{"adminUsername": "azureuser", "linuxConfiguration": {{"ssh": {{"publicKeys": [
      {{"path": "/home/azureuser/.ssh/authorized_keys", "keyData": "ssh-ed25519 {ssh} azureuser@build"}},
      {{"path": "/home/azureuser/.ssh/authorized_keys", "keyData": "ssh-rsa {rsa} ops@jump"}}
    ]}}}}}},
    "storageProfile": {{"imageReference": {{"version": "10.0.19041.1234", "exactVersion": "2024.03.0100"}}}}
  }},
  "blob": {{"etag": "0x8DC5F1E2A3B4C5D", "Content-MD5": "{md5}", "sha256": "{sha256}", "digest": "sha256:{sha256_b64}"}},
  "order": "41111111111111117",
  "principalId": "00000000-0000-0000-0000-000000000000",
  "tenantId": "72f988bf-86f1-41af-91ab-2d7cd011db47",
  "roleDefinitionId": "/providers/Microsoft.Authorization/roleDefinitions/b24988ac-6180-42a0-ab88-20f7382dd24c",
  "size": 1234567890123,
  "timestamp": "2024-03-01T10:15:30.1234567Z"
}}
"#
    )
}

#[test]
fn public_material_ids_and_hashes_are_byte_identical() {
    for seed in 1..=20 {
        let body = public_material(seed);
        serde_json::from_str::<serde_json::Value>(&body).expect("the fixture is JSON");
        let (out, report) = mask_json(&body);
        assert_eq!(report.total(), 0, "seed {seed}: nothing is masked: {:?}", report.counts);
        assert_eq!(out, body, "seed {seed}: every byte is unchanged");
    }
}

#[test]
fn public_material_is_kept_in_text_and_xml_too() {
    let e = engine("azure");
    for seed in 1..=5 {
        let body = public_material(seed).replace("\\n", "\n");
        let (out, report) = mask(&e, "text/plain", &body);
        assert_eq!(report.total(), 0, "seed {seed}: {:?}", report.counts);
        assert_eq!(out, body);
        let xml = format!(
            "<Certificate><Data>{}</Data></Certificate>",
            body.replace('&', "&amp;").replace('<', "&lt;")
        );
        let (out, report) = mask(&e, "application/xml", &xml);
        assert_eq!(report.total(), 0, "seed {seed}: {:?}", report.counts);
        assert_eq!(out, xml);
    }
}

#[test]
fn a_secret_next_to_public_material_is_the_only_change() {
    let body = public_material(3);
    let with_secret =
        body.replacen("\"order\"", &format!("\"note\": \"rotated to {KEY} today\",\n  \"order\""), 1);
    let (out, report) = mask_json(&with_secret);
    assert_eq!(report.total(), 1, "{:?}", report.counts);
    assert_eq!(out, with_secret.replace(KEY, "[REDACTED:azure_storage_key]"));
}
