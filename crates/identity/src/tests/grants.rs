//! Grant tokens: issued and verified through the same path, key file on disk, rotation.

use std::sync::Arc;

use serde_json::json;

use crate::testkit::{now, TestSigner};
use crate::{Authenticator, GrantClaims, GrantKeys, KeyStoreError, Reason, GRANT_KEY_FILE};

fn claims(exp_in: i64) -> GrantClaims {
    GrantClaims {
        principal: "https://login.microsoftonline.com/t/v2.0#agent-1".into(),
        grant_id: "g-42".into(),
        connection: "azure-prod".into(),
        level: "read".into(),
        expires_at: now() + exp_in,
    }
}

#[tokio::test]
async fn issued_grant_tokens_authenticate() {
    let dir = tempfile::tempdir().expect("tempdir");
    let keys = Arc::new(GrantKeys::load_or_create(dir.path()).expect("keys"));
    assert!(keys.issuer().starts_with("portcullis:"));
    let auth = Authenticator::new(vec![], Some(keys.clone())).expect("config");
    let token = keys.issue(&claims(120)).expect("issue");
    let principal = auth.authenticate(&token).await.expect("grant token");
    assert_eq!(principal.key(), "https://login.microsoftonline.com/t/v2.0#agent-1");
    assert_eq!(
        principal.grant,
        Some(claims(120)).map(|mut c| {
            c.expires_at = principal.expires_at;
            c
        })
    );
    let grant = principal.grant.expect("grant");
    assert_eq!(
        (grant.grant_id.as_str(), grant.connection.as_str(), grant.level.as_str()),
        ("g-42", "azure-prod", "read")
    );
}

#[tokio::test]
async fn key_file_is_private_and_reloaded() {
    let dir = tempfile::tempdir().expect("tempdir");
    let first = GrantKeys::load_or_create(dir.path()).expect("create");
    let path = dir.path().join(GRANT_KEY_FILE);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let token = first.issue(&claims(60)).expect("issue");
    let again = Arc::new(GrantKeys::load_or_create(dir.path()).expect("reload"));
    assert_eq!(again.issuer(), first.issuer(), "the gateway id survives restarts");
    let auth = Authenticator::new(vec![], Some(again)).expect("config");
    auth.authenticate(&token).await.expect("a restart keeps the key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let err = GrantKeys::load_or_create(dir.path()).expect_err("world-readable");
        assert!(matches!(err, KeyStoreError::Invalid { .. }), "{err}");
    }
}

#[tokio::test]
async fn rotation_keeps_old_tokens_valid_and_signs_with_the_new_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let keys = Arc::new(GrantKeys::load_or_create(dir.path()).expect("keys"));
    let auth = Authenticator::new(vec![], Some(keys.clone())).expect("config");
    let before = keys.issue(&claims(300)).expect("issue");
    let old_kids = keys.key_ids();
    keys.rotate().expect("rotate");
    let kids = keys.key_ids();
    assert_eq!(kids.len(), 2);
    assert_ne!(kids[0], old_kids[0]);
    auth.authenticate(&before).await.expect("old key still verifies");
    let after = keys.issue(&claims(300)).expect("issue");
    let parsed = crate::parse_unverified(&after).expect("parse");
    assert_eq!(parsed.key_id(), Some(kids[0].as_str()));
    auth.authenticate(&after).await.expect("new key");
    // The rotation is on disk: a restarted gateway still verifies both.
    let reloaded = Arc::new(GrantKeys::load_or_create(dir.path()).expect("reload"));
    assert_eq!(reloaded.key_ids(), kids);
}

#[tokio::test]
async fn grant_tokens_are_short_and_exact() {
    let dir = tempfile::tempdir().expect("tempdir");
    let keys = Arc::new(GrantKeys::load_or_create(dir.path()).expect("keys"));
    assert!(matches!(keys.issue(&claims(3600)), Err(KeyStoreError::BadClaims(_))));
    assert!(matches!(keys.issue(&claims(-1)), Err(KeyStoreError::BadClaims(_))));
    let auth = Authenticator::new(vec![], Some(keys.clone())).expect("config");
    // A token claiming the gateway issuer but signed by someone else.
    let forger = TestSigner::ed25519(&keys.key_ids()[0]);
    let t = now();
    let forged = forger.mint_with_header(
        &json!({"alg": "EdDSA", "kid": keys.key_ids()[0], "typ": "portcullis-grant+jwt"}),
        &json!({"iss": keys.issuer(), "aud": keys.issuer(), "sub": "a#b", "jti": "g", "iat": t, "exp": t + 60,
                "grant": {"principal": "a#b", "grant_id": "g", "connection": "c", "level": "admin", "expires_at": t + 60}}),
    );
    assert_eq!(auth.authenticate(&forged).await.expect_err("forged").reason(), Reason::BadSignature);
    // A gateway-issuer token without the grant typ.
    let plain =
        forger.mint(&json!({"iss": keys.issuer(), "aud": keys.issuer(), "sub": "a#b", "exp": t + 60}));
    assert_eq!(auth.authenticate(&plain).await.expect_err("typ").reason(), Reason::WrongTokenType);
}

#[test]
fn grant_issuer_may_not_be_an_oidc_issuer() {
    let dir = tempfile::tempdir().expect("tempdir");
    let keys =
        Arc::new(GrantKeys::load_or_create(dir.path()).expect("keys").with_issuer("https://gw.example"));
    let config = crate::IssuerConfig::single("https://gw.example", vec!["a".into()], None);
    let errors = Authenticator::new(vec![config], Some(keys)).expect_err("clash");
    assert_eq!(errors[0].key, "identity.issuers[0].issuer");
}

#[tokio::test]
async fn managed_identity_tokens_are_grant_tokens_for_one_resource() {
    use base64::Engine as _;
    let dir = tempfile::tempdir().expect("tempdir");
    let keys = Arc::new(GrantKeys::load_or_create(dir.path()).expect("keys"));
    let auth = Authenticator::new(vec![], Some(keys.clone())).expect("config");
    let identity = crate::ManagedIdentityClaims {
        resource: "https://management.azure.com/".into(),
        tenant: "7b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e".into(),
        object_id: "oid-1".into(),
    };
    let token = keys.issue_managed_identity(&claims(120), &identity).expect("issue");
    let payload = token.split('.').nth(1).expect("payload");
    let payload: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).expect("base64"),
    )
    .expect("json");
    assert_eq!(payload["aud"], json!("https://management.azure.com/"));
    assert_eq!(payload["tid"], json!(identity.tenant));
    assert_eq!(payload["oid"], json!("oid-1"));
    let principal = auth.authenticate(&token).await.expect("the data path accepts it");
    assert_eq!(principal.grant.expect("grant").grant_id, "g-42");
    // The resource must be an audience of its own, not the gateway's issuer.
    let bad = crate::ManagedIdentityClaims { resource: keys.issuer().to_owned(), ..identity };
    assert!(keys.issue_managed_identity(&claims(120), &bad).is_err());
}
