//! A real OpenID Provider (`oidc-provider`) issues JWT access tokens with Azure-style
//! claims; the identity crate's tests reuse this harness. Also checks the PEERS.md trap:
//! a restart keeps the `kid` but changes the key.
//! Needs `tests/peers/install.sh`; fails (never skips) when the peers are missing.

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use portcullis_sandbox::peers::OidcProvider;
use serde_json::Value;

async fn jwks_key(provider: &OidcProvider) -> anyhow::Result<(String, DecodingKey)> {
    let discovery: Value = reqwest::get(provider.discovery_url()).await?.json().await?;
    let jwks_uri = discovery["jwks_uri"].as_str().unwrap_or_default().to_owned();
    let jwks: Value = reqwest::get(&jwks_uri).await?.json().await?;
    let key = &jwks["keys"][0];
    let kid = key["kid"].as_str().unwrap_or_default().to_owned();
    let decoding = DecodingKey::from_rsa_components(
        key["n"].as_str().unwrap_or_default(),
        key["e"].as_str().unwrap_or_default(),
    )?;
    Ok((kid, decoding))
}

fn validation(provider: &OidcProvider) -> Validation {
    let mut v = Validation::new(Algorithm::RS256);
    v.set_audience(&[provider.audience()]);
    v.set_issuer(&[provider.issuer()]);
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oidc_provider_issues_verifiable_jwt_access_tokens_with_azure_claims() -> anyhow::Result<()> {
    let mut provider = OidcProvider::builder()
        .tenant("72f988bf-86f1-41af-91ab-2d7cd011db47")
        .groups(["g-readers", "g-ops"])
        .start()
        .await?;
    let token = provider.client_credentials_token().await?;
    let header = jsonwebtoken::decode_header(&token)?;
    assert_eq!(header.alg, Algorithm::RS256);
    assert_eq!(header.typ.as_deref(), Some("at+jwt"));

    let (kid, key) = jwks_key(&provider).await?;
    assert_eq!(header.kid.as_deref(), Some(kid.as_str()));
    let mut v = validation(&provider);
    v.validate_aud = true;
    let claims = jsonwebtoken::decode::<Value>(&token, &key, &v)?.claims;
    assert_eq!(claims["tid"], "72f988bf-86f1-41af-91ab-2d7cd011db47");
    assert_eq!(claims["groups"], serde_json::json!(["g-readers", "g-ops"]));
    assert_eq!(claims["client_id"], provider.client_id());

    // Restart: same kid, new key. The old token no longer verifies under the new JWKS.
    provider.restart().await?;
    let (kid_after, key_after) = jwks_key(&provider).await?;
    assert_eq!(kid_after, kid, "a restart keeps the kid");
    let old = jsonwebtoken::decode::<Value>(&token, &key_after, &validation(&provider));
    assert!(old.is_err(), "the pre-restart token must not verify with the new key");
    let fresh = provider.client_credentials_token().await?;
    jsonwebtoken::decode::<Value>(&fresh, &key_after, &validation(&provider))?;
    Ok(())
}
