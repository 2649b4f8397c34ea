//! The JWKS cache: discovery, TTL, unknown kid → one refetch, rotation under the same kid,
//! single flight, flood resistance, JWK `use`/`key_ops`/`alg`, unavailable keys.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use super::{claims, Provider, RSA};
use crate::testkit::{b64, jwks, TestSigner};
use crate::{Authenticator, Reason};

#[tokio::test]
async fn discovery_then_keys_once_and_cached() {
    let provider = Provider::start(None, jwks(&[&RSA])).await;
    let auth = Authenticator::new(vec![provider.config(&provider.url)], None).expect("config");
    assert!(auth.prefetch().await.is_empty());
    assert_eq!((provider.discovery_hits(), provider.jwks_hits()), (1, 1));
    for i in 0..5 {
        let token = RSA.mint(&super::with(&provider.url, json!({"jti": format!("t{i}")})));
        auth.authenticate(&token).await.expect("valid");
    }
    assert_eq!(provider.jwks_hits(), 1, "keys are cached");
}

#[tokio::test]
async fn discovery_must_name_our_issuer() {
    let provider = Provider::start(Some("https://evil.example"), jwks(&[&RSA])).await;
    let auth = Authenticator::new(vec![provider.config(&provider.url)], None).expect("config");
    let failed = auth.prefetch().await;
    assert_eq!(failed.len(), 1);
    let token = RSA.mint(&claims(&provider.url));
    let err = auth.authenticate(&token).await.expect_err("no keys");
    assert_eq!(err.reason(), Reason::KeysUnavailable);
    assert!(err.reason().is_unavailable());
    assert_eq!(provider.jwks_hits(), 0);
}

#[tokio::test]
async fn unknown_kid_refetches_once_then_is_refused() {
    let provider = Provider::start(None, jwks(&[&RSA])).await;
    let mut config = provider.config(&provider.url);
    config.jwks_min_refetch_interval = Duration::ZERO;
    let auth = Authenticator::new(vec![config], None).expect("config");
    auth.prefetch().await;
    let stranger = TestSigner::rsa("unknown");
    let token = stranger.mint(&claims(&provider.url));
    let err = auth.authenticate(&token).await.expect_err("unknown kid");
    assert_eq!(err.reason(), Reason::UnknownKey, "{err}");
    assert_eq!(provider.jwks_hits(), 2, "one refetch for the unknown kid");
    // A new key published by the provider is picked up by that refetch.
    let rotated = TestSigner::rsa("rsa-2");
    provider.set_jwks(jwks(&[&RSA, &rotated]));
    let token = rotated.mint(&claims(&provider.url));
    auth.authenticate(&token).await.expect("new kid found after refetch");
    assert_eq!(provider.jwks_hits(), 3);
}

#[tokio::test]
async fn a_flood_of_random_kids_fetches_at_most_once_per_interval() {
    let provider = Provider::start(None, jwks(&[&RSA])).await;
    let mut config = provider.config(&provider.url);
    config.jwks_min_refetch_interval = Duration::from_secs(1);
    let auth = Arc::new(Authenticator::new(vec![config], None).expect("config"));
    // Forged tokens: random kids, garbage signatures (the kid lookup fails first).
    let payload = b64(claims(&provider.url).to_string());
    let forged = |prefix: &str, i: usize| {
        let header = json!({"alg": "RS256", "kid": format!("{prefix}-{i}")}).to_string();
        format!("{}.{payload}.{}", b64(header), b64([7u8; 256]))
    };
    let flood: Vec<String> = (0..200).map(|i| forged("random", i)).collect();
    let again: Vec<String> = (0..50).map(|i| forged("again", i)).collect();
    auth.prefetch().await;
    let mut tasks = Vec::new();
    for token in flood {
        let auth = auth.clone();
        tasks.push(tokio::spawn(async move { auth.authenticate(&token).await }));
    }
    for task in tasks {
        let result = task.await.expect("task");
        assert_eq!(result.expect_err("forged").reason(), Reason::UnknownKey);
    }
    assert_eq!(provider.jwks_hits(), 1, "no refetch within the interval after the prefetch");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    for token in again {
        assert!(auth.authenticate(&token).await.is_err());
    }
    assert_eq!(provider.jwks_hits(), 2, "exactly one refetch in the next interval");
}

#[tokio::test]
async fn concurrent_callers_share_one_fetch() {
    let provider = Provider::start(None, jwks(&[&RSA])).await;
    provider.set_delay(200);
    let mut config = provider.config(&provider.url);
    config.jwks_min_refetch_interval = Duration::ZERO;
    let auth = Arc::new(Authenticator::new(vec![config], None).expect("config"));
    let mut tasks = Vec::new();
    for i in 0..20 {
        let auth = auth.clone();
        let token = RSA.mint(&super::with(&provider.url, json!({"jti": format!("c{i}")})));
        tasks.push(tokio::spawn(async move { auth.authenticate(&token).await }));
    }
    for task in tasks {
        task.await.expect("task").expect("valid");
    }
    assert_eq!(provider.jwks_hits(), 1, "cold start: twenty callers, one fetch");
}

#[tokio::test]
async fn a_key_rotated_under_the_same_kid_is_refetched() {
    let old = TestSigner::rsa("same");
    let provider = Provider::start(None, jwks(&[&old])).await;
    let mut config = provider.config(&provider.url);
    config.jwks_min_refetch_interval = Duration::ZERO;
    let auth = Authenticator::new(vec![config], None).expect("config");
    auth.authenticate(&old.mint(&claims(&provider.url))).await.expect("old key");
    // The provider restarts with a new key under the same kid (oidc-provider does this).
    let new = TestSigner::rsa("same");
    provider.set_jwks(jwks(&[&new]));
    auth.authenticate(&new.mint(&claims(&provider.url))).await.expect("signature failure → refetch → ok");
    assert_eq!(provider.jwks_hits(), 2);
    // The old key is gone now.
    let err = auth
        .authenticate(&old.mint(&super::with(&provider.url, json!({"jti": "o2"}))))
        .await
        .expect_err("old");
    assert_eq!(err.reason(), Reason::BadSignature);
}

#[tokio::test]
async fn keys_are_refreshed_after_the_ttl() {
    let provider = Provider::start(None, jwks(&[&RSA])).await;
    let mut config = provider.config(&provider.url);
    config.jwks_refresh = Duration::from_millis(200);
    config.jwks_min_refetch_interval = Duration::from_millis(100);
    let auth = Authenticator::new(vec![config], None).expect("config");
    auth.prefetch().await;
    tokio::time::sleep(Duration::from_millis(250)).await;
    auth.authenticate(&RSA.mint(&claims(&provider.url))).await.expect("valid");
    assert_eq!(provider.jwks_hits(), 2);
    // The provider goes away: stale keys keep working rather than failing closed on a blip.
    provider.set_jwks(json!({"nope": []}));
    tokio::time::sleep(Duration::from_millis(250)).await;
    auth.authenticate(&RSA.mint(&super::with(&provider.url, json!({"jti": "s"})))).await.expect("stale keys");
}

#[tokio::test]
async fn jwk_use_key_ops_and_alg_are_honoured() {
    let mut enc = RSA.jwk();
    enc["use"] = json!("enc");
    let mut ops = RSA.jwk();
    ops["key_ops"] = json!(["encrypt"]);
    ops.as_object_mut().map(|o| o.remove("use"));
    let mut wrong_alg = RSA.jwk();
    wrong_alg["alg"] = json!("RS512");
    for (name, key) in [("use enc", enc), ("key_ops", ops), ("alg RS512", wrong_alg)] {
        let provider = Provider::start(None, json!({"keys": [key]})).await;
        let auth = Authenticator::new(vec![provider.config(&provider.url)], None).expect("config");
        let err = auth.authenticate(&RSA.mint(&claims(&provider.url))).await.expect_err(name);
        assert_eq!(err.reason(), Reason::UnknownKey, "{name}: {err}");
    }
    let mut verify_ops = RSA.jwk();
    verify_ops["key_ops"] = json!(["verify"]);
    let provider = Provider::start(None, json!({"keys": [verify_ops]})).await;
    let auth = Authenticator::new(vec![provider.config(&provider.url)], None).expect("config");
    auth.authenticate(&RSA.mint(&claims(&provider.url))).await.expect("key_ops verify");
}

#[tokio::test]
async fn other_algorithms_verify_with_their_keys() {
    let ec = TestSigner::ec("ec-1");
    let ed = TestSigner::ed25519("ed-1");
    let provider = Provider::start(None, jwks(&[&RSA, &ec, &ed])).await;
    let mut config = provider.config(&provider.url);
    config.algorithms = vec![crate::Algorithm::Es256, crate::Algorithm::EdDsa, crate::Algorithm::Ps256];
    let auth = Authenticator::new(vec![config], None).expect("config");
    auth.authenticate(&ec.mint(&claims(&provider.url))).await.expect("ES256");
    auth.authenticate(&ed.mint(&claims(&provider.url))).await.expect("EdDSA");
    // An RSA key published without alg may be used with RS256 or PS256, as configured.
    let p2 = Provider::start(None, json!({"keys": [rsa_without_alg()]})).await;
    let mut c2 = p2.config(&p2.url);
    c2.algorithms = vec![crate::Algorithm::Ps256];
    let auth2 = Authenticator::new(vec![c2], None).expect("config");
    let pss = RSA.mint_with_header(&json!({"alg": "PS256", "kid": "rsa-1"}), &claims(&p2.url));
    auth2.authenticate(&pss).await.expect("PS256 with an RSA key without alg");
}

fn rsa_without_alg() -> serde_json::Value {
    let mut k = RSA.jwk();
    k.as_object_mut().map(|o| o.remove("alg"));
    k
}

#[tokio::test]
async fn local_jwks_never_fetches() {
    let issuer = "https://login.example.com/tenant";
    let doc = jwks(&[&RSA]).to_string();
    let config = crate::IssuerConfig::single(issuer, vec![super::AUD.into()], None);
    let principal =
        crate::check_token(vec![config.clone()], Some(doc.as_bytes()), &RSA.mint(&claims(issuer)))
            .await
            .expect("valid offline");
    assert_eq!(principal.subject, "agent-1");
    let err = crate::check_token(
        vec![config],
        Some(doc.as_bytes()),
        &RSA.mint(&super::with(issuer, json!({"aud": "x"}))),
    )
    .await
    .expect_err("wrong aud");
    match err {
        crate::CheckError::Refused(e) => assert_eq!(e.reason(), Reason::WrongAudience),
        other => panic!("unexpected {other}"),
    }
}

#[tokio::test]
async fn oversized_key_sets_and_plain_http_elsewhere_are_refused() {
    let provider = Provider::start(None, json!({"keys": [RSA.jwk()], "pad": "x".repeat(300 * 1024)})).await;
    let auth = Authenticator::new(vec![provider.config(&provider.url)], None).expect("config");
    let err = auth.authenticate(&RSA.mint(&claims(&provider.url))).await.expect_err("too big");
    assert_eq!(err.reason(), Reason::KeysUnavailable);
    assert_eq!(provider.jwks_hits(), 1, "fetched once, refused for its size");

    // Discovery pointing at a non-loopback plain-http URL is not followed.
    let provider = Provider::start(None, jwks(&[&RSA])).await;
    provider.advertise_jwks_uri("http://keys.example.com/jwks");
    let auth = Authenticator::new(vec![provider.config(&provider.url)], None).expect("config");
    let err = auth.authenticate(&RSA.mint(&claims(&provider.url))).await.expect_err("http");
    assert_eq!(err.reason(), Reason::KeysUnavailable);
    assert_eq!((provider.discovery_hits(), provider.jwks_hits()), (1, 0));
}
