//! Claim rules: times, issuer, audience, type, ID tokens, principal contents.

use serde_json::json;

use super::{claims, generic, with, AUD, RSA};
use crate::testkit::now;
use crate::{PrincipalKind, Reason};

async fn refused(auth: &crate::Authenticator, token: &str, reason: Reason) {
    let err = auth.authenticate(token).await.expect_err("must be refused");
    assert_eq!(err.reason(), reason, "{err}");
}

#[tokio::test]
async fn good_token_gives_the_principal() {
    let (p, auth) = generic().await;
    let token = RSA.mint(&with(
        &p.url,
        json!({
            "name": "Build agent", "groups": ["g-1", "G-1"], "roles": ["Reader"],
            "tid": "t-1", "oid": "o-1"
        }),
    ));
    let principal = auth.authenticate(&token).await.expect("valid token");
    assert_eq!(principal.issuer, p.url);
    assert_eq!(principal.subject, "agent-1");
    assert_eq!(principal.key(), format!("{}#agent-1", p.url));
    assert_eq!(principal.display_name.as_deref(), Some("Build agent"));
    assert_eq!(principal.groups, vec!["g-1", "G-1"]);
    assert_eq!(principal.roles, vec!["Reader"]);
    assert_eq!(principal.tenant.as_deref(), Some("t-1"));
    assert_eq!(principal.object_id.as_deref(), Some("o-1"));
    assert_eq!(principal.app_id.as_deref(), Some("agent-1"));
    assert_eq!(principal.kind, PrincipalKind::Agent);
    assert!(principal.delegation.is_empty());
    let as_json = serde_json::to_value(&principal).expect("serialize");
    assert_eq!(as_json["kind"], "agent");
}

#[tokio::test]
async fn delegation_chain_and_human_kind() {
    let (p, auth) = generic().await;
    let token = RSA.mint(&with(&p.url, json!({
        "sub": "alice", "azp": "cli-app", "scp": "access.request access.read",
        "preferred_username": "alice@example.com",
        "act": {"sub": "agent-7", "client_id": "agent-app", "act": {"sub": "orchestrator", "iss": "https://other"}}
    })));
    let principal = auth.authenticate(&token).await.expect("valid token");
    assert_eq!(principal.kind, PrincipalKind::Human);
    assert_eq!(principal.scopes, vec!["access.request", "access.read"]);
    let chain: Vec<_> = principal.delegation.iter().map(|a| a.subject.as_str()).collect();
    assert_eq!(chain, vec!["agent-7", "orchestrator"]);
    assert_eq!(principal.delegation[0].client_id.as_deref(), Some("agent-app"));
    assert_eq!(principal.delegation[1].issuer.as_deref(), Some("https://other"));
    let bad_act = RSA.mint(&with(&p.url, json!({"act": {"client_id": "x"}})));
    assert_eq!(auth.authenticate(&bad_act).await.expect_err("no act.sub").reason(), Reason::MissingClaim);
}

#[tokio::test]
async fn expired_and_leeway() {
    let (p, auth) = generic().await;
    let t = now();
    let expired = RSA.mint(&with(&p.url, json!({"iat": t - 900, "nbf": t - 900, "exp": t - 120})));
    assert_eq!(auth.authenticate(&expired).await.expect_err("expired").reason(), Reason::Expired);
    let within_leeway = RSA.mint(&with(&p.url, json!({"iat": t - 900, "nbf": t - 900, "exp": t - 30})));
    assert!(auth.authenticate(&within_leeway).await.is_ok(), "60 s leeway by default");
}

#[tokio::test]
async fn exp_is_required_numeric_and_sane() {
    let (p, auth) = generic().await;
    let t = now();
    refused(&auth, &RSA.mint(&with(&p.url, json!({"exp": null}))), Reason::MissingClaim).await;
    refused(&auth, &RSA.mint(&with(&p.url, json!({"exp": (t + 600).to_string()}))), Reason::Malformed).await;
    refused(&auth, &RSA.mint(&with(&p.url, json!({"exp": -5}))), Reason::Malformed).await;
    refused(&auth, &RSA.mint(&with(&p.url, json!({"exp": 1e300}))), Reason::Malformed).await;
    refused(&auth, &RSA.mint(&with(&p.url, json!({"exp": t + 400 * 24 * 3600}))), Reason::BadTimestamps)
        .await;
}

#[tokio::test]
async fn nbf_and_iat_in_the_future() {
    let (p, auth) = generic().await;
    let t = now();
    refused(&auth, &RSA.mint(&with(&p.url, json!({"nbf": t + 300}))), Reason::NotYetValid).await;
    refused(&auth, &RSA.mint(&with(&p.url, json!({"iat": t + 300}))), Reason::BadTimestamps).await;
}

#[tokio::test]
async fn issuer_is_exact() {
    let (p, auth) = generic().await;
    refused(&auth, &RSA.mint(&with(&p.url, json!({"iss": format!("{}/", p.url)}))), Reason::UnknownIssuer)
        .await;
    refused(&auth, &RSA.mint(&with(&p.url, json!({"iss": p.url.to_uppercase()}))), Reason::UnknownIssuer)
        .await;
    refused(&auth, &RSA.mint(&with(&p.url, json!({"iss": null}))), Reason::MissingClaim).await;
}

#[tokio::test]
async fn audience_must_be_ours_and_only_ours() {
    let (p, auth) = generic().await;
    refused(&auth, &RSA.mint(&with(&p.url, json!({"aud": "api://other"}))), Reason::WrongAudience).await;
    refused(&auth, &RSA.mint(&with(&p.url, json!({"aud": null}))), Reason::WrongAudience).await;
    refused(&auth, &RSA.mint(&with(&p.url, json!({"aud": []}))), Reason::WrongAudience).await;
    let arm = RSA.mint(&with(&p.url, json!({"aud": [AUD, "https://management.azure.com/"]})));
    let err = auth.authenticate(&arm).await.expect_err("replayable at ARM");
    assert_eq!(err.reason(), Reason::WrongAudience);
    assert!(err.detail().contains("management.azure.com"), "{err}");
    let list = RSA.mint(&with(&p.url, json!({"aud": [AUD]})));
    assert!(auth.authenticate(&list).await.is_ok());
}

#[tokio::test]
async fn id_tokens_are_not_access_tokens() {
    let (p, auth) = generic().await;
    refused(&auth, &RSA.mint(&with(&p.url, json!({"nonce": "n-1"}))), Reason::IdToken).await;
}

#[tokio::test]
async fn token_type_default_and_configured() {
    let (p, auth) = generic().await;
    let c = claims(&p.url);
    for typ in ["JWT", "at+jwt", "application/at+JWT"] {
        let t = RSA.mint_with_header(&json!({"alg": "RS256", "kid": "rsa-1", "typ": typ}), &c);
        assert!(auth.authenticate(&t).await.is_ok(), "typ {typ}");
    }
    for typ in ["logout+jwt", "secevent+jwt", "portcullis-grant+jwt"] {
        let t = RSA.mint_with_header(&json!({"alg": "RS256", "kid": "rsa-1", "typ": typ}), &c);
        assert_eq!(auth.authenticate(&t).await.expect_err(typ).reason(), Reason::WrongTokenType);
    }
    let mut config = p.config(&p.url);
    config.typ = Some(vec!["at+jwt".into()]);
    let strict = crate::Authenticator::new(vec![config], None).expect("config");
    let plain = RSA.mint(&c);
    assert_eq!(strict.authenticate(&plain).await.expect_err("typ JWT").reason(), Reason::WrongTokenType);
    let at = RSA.mint_with_header(&json!({"alg": "RS256", "kid": "rsa-1", "typ": "at+jwt"}), &c);
    assert!(strict.authenticate(&at).await.is_ok());
}

#[tokio::test]
async fn subject_and_claim_types() {
    let (p, auth) = generic().await;
    refused(&auth, &RSA.mint(&with(&p.url, json!({"sub": null}))), Reason::MissingClaim).await;
    refused(&auth, &RSA.mint(&with(&p.url, json!({"sub": 42}))), Reason::Malformed).await;
    refused(&auth, &RSA.mint(&with(&p.url, json!({"groups": [1, 2]}))), Reason::Malformed).await;
}

#[tokio::test]
async fn cached_tokens_skip_verification_but_not_expiry() {
    let (p, auth) = generic().await;
    let token = RSA.mint(&claims(&p.url));
    let first = auth.authenticate(&token).await.expect("valid");
    assert_eq!(auth.cached_tokens(), 1);
    let second = auth.authenticate(&token).await.expect("cached");
    assert_eq!(first, second);
    // The cache never serves an entry past its token's expiry.
    let cache = crate::cache::VerifiedCache::new(4);
    let key = crate::cache::hash(&token);
    cache.insert(key, &first, now());
    assert!(cache.get(&key, first.expires_at - 1).is_some());
    assert!(cache.get(&key, first.expires_at).is_none());
    // Bounded: a full cache drops entries instead of growing.
    for i in 0..10 {
        cache.insert(crate::cache::hash(&format!("t{i}")), &first, now());
    }
    assert!(cache.len() <= 4);
}

#[test]
fn www_authenticate_carries_only_the_public_description() {
    let err =
        crate::error::AuthError::new(Reason::WrongAudience, "aud also names https://management.azure.com/");
    let header = err.www_authenticate();
    assert_eq!(
        header,
        "Bearer realm=\"portcullis\", error=\"invalid_token\", error_description=\"the token was not issued for this gateway\""
    );
    assert!(!header.contains("management"));
    assert_eq!(crate::www_authenticate(None), "Bearer realm=\"portcullis\"");
    assert_eq!(crate::bearer_token("Bearer abc.def.ghi"), Some("abc.def.ghi"));
    assert_eq!(crate::bearer_token("bearer  abc"), Some("abc"));
    assert_eq!(crate::bearer_token("Basic abc"), None);
    assert_eq!(crate::bearer_token("Bearer "), None);
}
