//! Configuration: TOML shape, defaults, and load-time errors naming key and reason.

use std::time::Duration;

use crate::{validate_issuers, Algorithm, IssuerConfig};

fn parse(text: &str) -> Result<Vec<IssuerConfig>, String> {
    #[derive(serde::Deserialize)]
    struct Doc {
        issuers: Vec<IssuerConfig>,
    }
    toml::from_str::<Doc>(text).map(|d| d.issuers).map_err(|e| e.to_string())
}

#[test]
fn defaults_and_full_shape() {
    let issuers = parse(
        r#"
        [[issuers]]
        issuer = "https://login.microsoftonline.com/11111111-2222-3333-4444-555555555555/v2.0"
        audiences = ["api://portcullis"]

        [[issuers]]
        issuer = "http://127.0.0.1:9000"
        audiences = ["gw"]
        algorithms = ["ES256", "EdDSA"]
        jwks_uri = "http://127.0.0.1:9000/jwks"
        leeway = "2m"
        jwks_refresh = 600
        jwks_min_refetch_interval = "10s"
        typ = "at+jwt"
        claims = { subject = "oid", groups = "wids" }
        entra = { tenants = ["t"], group_overage = "deny" }
        "#,
    )
    .expect("parse");
    let a = &issuers[0];
    assert_eq!(a.algorithms, vec![Algorithm::Rs256]);
    assert_eq!(a.leeway, Duration::from_secs(60));
    assert_eq!(a.jwks_refresh, Duration::from_secs(3600));
    assert_eq!(a.jwks_min_refetch_interval, Duration::from_secs(30));
    assert_eq!(a.claims.subject, "sub");
    let b = &issuers[1];
    assert_eq!(b.leeway, Duration::from_secs(120));
    assert_eq!(b.jwks_refresh, Duration::from_secs(600));
    assert_eq!(b.typ.as_deref(), Some(&["at+jwt".to_string()][..]));
    assert_eq!((b.claims.subject.as_str(), b.claims.display_name.as_str()), ("oid", "name"));
    assert!(validate_issuers(&issuers[..1], "identity.issuers").is_ok());
}

#[test]
fn unknown_keys_and_hmac_are_refused_at_parse() {
    let typo = parse("[[issuers]]\nissuer = \"https://a\"\naudiences = [\"x\"]\naudience = \"x\"\n");
    assert!(typo.expect_err("typo").contains("audience"));
    let hs = parse("[[issuers]]\nissuer = \"https://a\"\naudiences = [\"x\"]\nalgorithms = [\"HS256\"]\n");
    assert!(hs.is_err());
    let none = parse("[[issuers]]\nissuer = \"https://a\"\naudiences = [\"x\"]\nalgorithms = [\"none\"]\n");
    assert!(none.is_err());
}

#[test]
fn validation_names_key_and_reason() {
    let mut c = IssuerConfig::single("http://login.example.com", vec![], None);
    c.leeway = Duration::from_secs(301);
    c.jwks_uri = Some("http://10.0.0.1/keys".into());
    let errors = validate_issuers(&[c], "identity.issuers").expect_err("invalid");
    let keys: Vec<&str> = errors.iter().map(|e| e.key.as_str()).collect();
    for expected in ["issuer", "audiences", "jwks_uri", "leeway"] {
        assert!(keys.contains(&format!("identity.issuers[0].{expected}").as_str()), "{expected}: {errors:?}");
    }
    assert!(errors.iter().any(|e| e.reason.contains("5 minutes")));
    let dup = IssuerConfig::single("https://a.example", vec!["x".into()], None);
    let errors = validate_issuers(&[dup.clone(), dup], "identity.issuers").expect_err("duplicate");
    assert_eq!(errors[0].key, "identity.issuers[1].issuer");
    let template =
        IssuerConfig::single("https://login.microsoftonline.com/{tenantid}/v2.0", vec!["x".into()], None);
    assert!(validate_issuers(&[template], "i").is_err(), "templates need Entra mode");
    let not_entra = IssuerConfig::single("https://accounts.example.com", vec!["x".into()], Some("t"));
    assert!(validate_issuers(&[not_entra], "i").is_err(), "Entra mode needs an Entra issuer shape");
    let contradiction = IssuerConfig::single("https://sts.windows.net/t1/", vec!["x".into()], Some("t2"));
    assert!(validate_issuers(&[contradiction], "i").is_err());
}
