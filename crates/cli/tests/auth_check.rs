//! `portcullis auth check` validates offline against a local JWKS and says why a token
//! is refused.

use std::process::Command;

use portcullis_sandbox::{FakeEntra, TokenSpec, TokenVersion};

const TENANT: &str = "5a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d";

fn check(args: &[&str]) -> (bool, serde_json::Value) {
    let out =
        Command::new(env!("CARGO_BIN_EXE_portcullis")).args(["auth", "check"]).args(args).output().unwrap();
    let json = serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null);
    (out.status.success(), json)
}

#[tokio::test]
async fn checks_tokens_offline_with_a_local_jwks() {
    let idp = FakeEntra::builder().tenant(TENANT).start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let jwks = dir.path().join("jwks.json");
    let body = reqwest::get(format!("{}/{TENANT}/discovery/v2.0/keys", idp.url()))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    std::fs::write(&jwks, &body).unwrap();
    let jwks = jwks.to_str().unwrap();
    let issuer = idp.issuer_v2();

    let mut spec = TokenSpec::new(TENANT, "api://gw", "agent-1");
    spec.version = TokenVersion::V2;
    let good = idp.mint(&spec).unwrap();
    let (ok, principal) =
        check(&["--issuer", &issuer, "--audience", "api://gw", "--tenant", TENANT, "--jwks", jwks, &good]);
    assert!(ok, "{principal}");
    assert_eq!(principal["subject"], "agent-1");

    let (ok, refused) =
        check(&["--issuer", &issuer, "--audience", "api://other", "--tenant", TENANT, "--jwks", jwks, &good]);
    assert!(!ok);
    assert_eq!(refused["valid"], false);
    assert!(refused["reason"].as_str().unwrap_or("").contains("aud"), "{refused}");
}
