//! Header and structure rules: alg none, HMAC key confusion, crit, JWE, sizes, duplicates,
//! key-bearing headers ignored, the key deciding the algorithm.

use serde_json::json;

use super::{claims, generic, RSA};
use crate::testkit::{b64, hs256, TestSigner};
use crate::{Authenticator, Reason};

#[tokio::test]
async fn alg_none_in_every_spelling_is_refused() {
    let (p, auth) = generic().await;
    let c = claims(&p.url).to_string();
    for alg in ["none", "None", "NONE", "nOnE", " none", "none "] {
        let head = json!({"alg": alg, "kid": "rsa-1"}).to_string();
        for sig in ["", "AAAA"] {
            let token = format!("{}.{}.{sig}", b64(&head), b64(&c));
            let err = auth.authenticate(&token).await.expect_err(alg);
            assert!(
                matches!(err.reason(), Reason::UnsupportedAlgorithm | Reason::Malformed),
                "{alg:?}: {err}"
            );
        }
    }
    // Even the genuinely signed input with alg none and the real signature is refused.
    let good = RSA.mint(&claims(&p.url));
    let sig = good.rsplit('.').next().unwrap_or_default();
    let head = json!({"alg": "none", "kid": "rsa-1"}).to_string();
    let token = format!("{}.{}.{sig}", b64(&head), b64(&c));
    assert_eq!(auth.authenticate(&token).await.expect_err("none").reason(), Reason::UnsupportedAlgorithm);
}

#[tokio::test]
async fn hs256_signed_with_the_rsa_public_key_is_refused() {
    let (p, auth) = generic().await;
    let c = claims(&p.url);
    let jwk_bytes = RSA.jwk().to_string();
    let secrets: [(&str, Vec<u8>); 4] = [
        ("PEM", RSA.public_pem().into_bytes()),
        ("DER", RSA.public_der()),
        ("JWK", jwk_bytes.into_bytes()),
        ("n", RSA.jwk()["n"].as_str().unwrap_or_default().as_bytes().to_vec()),
    ];
    for (form, secret) in secrets {
        for alg in ["HS256", "HS384", "HS512", "hs256"] {
            let token = hs256(&secret, &json!({"alg": alg, "kid": "rsa-1", "typ": "JWT"}), &c);
            let err = auth.authenticate(&token).await.expect_err(form);
            assert_eq!(err.reason(), Reason::UnsupportedAlgorithm, "{form} {alg}: {err}");
        }
    }
}

#[tokio::test]
async fn crit_and_jwe_and_nested_are_refused() {
    let (p, auth) = generic().await;
    let c = claims(&p.url);
    let crit = RSA.mint_with_header(&json!({"alg": "RS256", "kid": "rsa-1", "crit": ["exp"], "exp": 1}), &c);
    assert_eq!(auth.authenticate(&crit).await.expect_err("crit").reason(), Reason::CriticalHeader);
    let b64_false =
        RSA.mint_with_header(&json!({"alg": "RS256", "kid": "rsa-1", "b64": false, "crit": ["b64"]}), &c);
    assert_eq!(auth.authenticate(&b64_false).await.expect_err("b64").reason(), Reason::CriticalHeader);
    let jwe = format!(
        "{}.{}.{}.{}.{}",
        b64(r#"{"alg":"RSA-OAEP","enc":"A256GCM"}"#),
        b64("k"),
        b64("iv"),
        b64("ct"),
        b64("tag")
    );
    assert_eq!(auth.authenticate(&jwe).await.expect_err("jwe").reason(), Reason::Encrypted);
    let enc = RSA.mint_with_header(&json!({"alg": "RS256", "kid": "rsa-1", "enc": "A256GCM"}), &c);
    assert_eq!(auth.authenticate(&enc).await.expect_err("enc").reason(), Reason::Encrypted);
    let nested = RSA.mint_with_header(&json!({"alg": "RS256", "kid": "rsa-1", "cty": "JWT"}), &c);
    assert_eq!(auth.authenticate(&nested).await.expect_err("cty").reason(), Reason::Malformed);
}

#[tokio::test]
async fn key_bearing_headers_are_ignored() {
    let (p, auth) = generic().await;
    let attacker = TestSigner::rsa("rsa-1");
    let c = claims(&p.url);
    // The attacker's own key offered in jwk/jku/x5u/x5c: the configured key still decides.
    let forged = attacker.mint_with_header(
        &json!({"alg": "RS256", "kid": "rsa-1", "jwk": attacker.jwk(), "jku": "http://127.0.0.1:1/k",
                "x5u": "http://127.0.0.1:1/c", "x5c": [b64(attacker.public_der())]}),
        &c,
    );
    let err = auth.authenticate(&forged).await.expect_err("forged");
    assert_eq!(err.reason(), Reason::BadSignature, "{err}");
    // A genuine token with those headers is accepted: they are simply not used.
    let genuine = RSA.mint_with_header(
        &json!({"alg": "RS256", "kid": "rsa-1", "jwk": attacker.jwk(), "x5c": ["AAAA"], "jku": "http://127.0.0.1:1/k"}),
        &c,
    );
    assert!(auth.authenticate(&genuine).await.is_ok());
}

#[tokio::test]
async fn the_key_decides_the_algorithm() {
    let (p, _) = generic().await;
    let mut config = p.config(&p.url);
    config.algorithms = vec![crate::Algorithm::Rs256, crate::Algorithm::Ps256, crate::Algorithm::Es256];
    let auth = Authenticator::new(vec![config], None).expect("config");
    let c = claims(&p.url);
    // The JWK says RS256: a PS256 signature by the same key is refused.
    let pss = RSA.mint_with_header(&json!({"alg": "PS256", "kid": "rsa-1"}), &c);
    assert_eq!(auth.authenticate(&pss).await.expect_err("PS256").reason(), Reason::AlgorithmNotAllowed);
    // ES256 header under an RSA kid.
    let ec = TestSigner::ec("rsa-1");
    let es = ec.mint(&c);
    assert_eq!(auth.authenticate(&es).await.expect_err("ES256").reason(), Reason::AlgorithmNotAllowed);
    // An algorithm the issuer does not allow, even with a matching key.
    let (p2, default_auth) = generic().await;
    let eddsa = TestSigner::ed25519("rsa-1").mint(&claims(&p2.url));
    assert_eq!(
        default_auth.authenticate(&eddsa).await.expect_err("EdDSA").reason(),
        Reason::AlgorithmNotAllowed
    );
}

#[tokio::test]
async fn oversized_tokens_and_json_are_refused() {
    let (p, auth) = generic().await;
    let big = "x".repeat(crate::MAX_TOKEN_BYTES);
    let token = RSA.mint(&super::with(&p.url, json!({"pad": big})));
    assert_eq!(auth.authenticate(&token).await.expect_err("big").reason(), Reason::TooLarge);
    let mut many = serde_json::Map::new();
    for i in 0..300 {
        many.insert(format!("c{i}"), json!(1));
    }
    let mut c = claims(&p.url);
    if let Some(o) = c.as_object_mut() {
        o.extend(many);
    }
    assert_eq!(auth.authenticate(&RSA.mint(&c)).await.expect_err("many").reason(), Reason::TooLarge);
    let deep = format!("{}1{}", "[".repeat(64), "]".repeat(64));
    let raw = claims(&p.url).to_string().replacen('{', &format!("{{\"deep\":{deep},"), 1);
    let token = RSA.sign_raw(r#"{"alg":"RS256","kid":"rsa-1"}"#, &raw);
    assert_eq!(auth.authenticate(&token).await.expect_err("deep").reason(), Reason::Malformed);
}

#[tokio::test]
async fn duplicate_names_are_refused() {
    let (p, auth) = generic().await;
    let c = claims(&p.url).to_string();
    let dup_sub = c.replacen('{', "{\"sub\":\"admin\",", 1);
    let token = RSA.sign_raw(r#"{"alg":"RS256","kid":"rsa-1"}"#, &dup_sub);
    assert_eq!(auth.authenticate(&token).await.expect_err("dup sub").reason(), Reason::DuplicateClaim);
    let dup_aud = c.replacen('{', "{\"aud\":\"api://other\",", 1);
    let token = RSA.sign_raw(r#"{"alg":"RS256","kid":"rsa-1"}"#, &dup_aud);
    assert_eq!(auth.authenticate(&token).await.expect_err("dup aud").reason(), Reason::DuplicateClaim);
    let token = RSA.sign_raw(r#"{"alg":"RS256","kid":"rsa-1","alg":"RS256"}"#, &c);
    assert_eq!(auth.authenticate(&token).await.expect_err("dup alg").reason(), Reason::DuplicateClaim);
}

#[tokio::test]
async fn malformed_structure_is_refused() {
    let (p, auth) = generic().await;
    let good = RSA.mint(&claims(&p.url));
    let padded = format!("{good}=");
    let cases = [
        String::new(),
        "a.b".into(),
        "a.b.c.d".into(),
        format!("{good}.x"),
        padded,
        good.replacen('.', " .", 1),
        format!("{}.{}.sig", b64("[]"), b64("{}")),
        format!("{}.{}.AAAA", b64(r#"{"alg":"RS256"}"#), b64("not json")),
    ];
    for token in cases {
        let err = auth.authenticate(&token).await.expect_err(&token);
        assert_eq!(err.reason(), Reason::Malformed, "{token}: {err}");
    }
}
