//! Fake Entra ID: discovery with real issuer strings, JWKS, the token endpoint (secret and
//! certificate assertion), managed-identity endpoints, overage, rotation.

use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use portcullis_sandbox::{Agent, Alg, ClientCertificate, FakeEntra, Human, TokenSpec, TokenVersion};
use serde_json::{json, Value};

const TID: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";

/// Validates `token` against the fake's published JWKS, the way a relying party would.
async fn validate(idp: &FakeEntra, token: &str, aud: &str, iss: &str) -> anyhow::Result<Value> {
    let discovery: Value = reqwest::get(idp.discovery_url_v2()).await?.json().await?;
    let jwks: Value = reqwest::get(discovery["jwks_uri"].as_str().unwrap_or_default()).await?.json().await?;
    let kid = jsonwebtoken::decode_header(token)?.kid.unwrap_or_default();
    let jwk = jwks["keys"].as_array().into_iter().flatten().find(|k| k["kid"] == kid.as_str());
    let jwk = jwk.ok_or_else(|| anyhow::anyhow!("kid {kid} not published"))?;
    let s = |k: &str| jwk[k].as_str().unwrap_or_default().to_owned();
    let (key, alg) = match s("kty").as_str() {
        "RSA" => (DecodingKey::from_rsa_components(&s("n"), &s("e"))?, Algorithm::RS256),
        _ => (DecodingKey::from_ec_components(&s("x"), &s("y"))?, Algorithm::ES256),
    };
    let mut v = Validation::new(alg);
    v.set_audience(&[aud]);
    v.set_issuer(&[iss]);
    Ok(jsonwebtoken::decode::<Value>(token, &key, &v)?.claims)
}

async fn post_form(url: &str, form: &[(&str, &str)]) -> anyhow::Result<(u16, Value)> {
    let body = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(form).finish();
    let resp = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await?;
    Ok((resp.status().as_u16(), resp.json().await?))
}

#[tokio::test]
async fn discovery_documents_carry_real_issuers_and_loopback_jwks() -> anyhow::Result<()> {
    let idp = FakeEntra::builder().tenant(TID).start().await?;
    let v2: Value = reqwest::get(idp.discovery_url_v2()).await?.json().await?;
    assert_eq!(v2["issuer"], format!("https://login.microsoftonline.com/{TID}/v2.0"));
    assert!(v2["jwks_uri"].as_str().unwrap_or_default().starts_with("http://127.0.0.1:"));
    let v1: Value = reqwest::get(idp.discovery_url_v1()).await?.json().await?;
    assert_eq!(v1["issuer"], format!("https://sts.windows.net/{TID}/"));
    let jwks: Value = reqwest::get(v1["jwks_uri"].as_str().unwrap_or_default()).await?.json().await?;
    let kinds: Vec<&str> =
        jwks["keys"].as_array().into_iter().flatten().filter_map(|k| k["kty"].as_str()).collect();
    assert!(kinds.len() >= 3 && kinds.contains(&"RSA") && kinds.contains(&"EC"), "{kinds:?}");
    let other =
        reqwest::get(format!("{}/not-a-tenant/v2.0/.well-known/openid-configuration", idp.url())).await?;
    assert_eq!(other.status(), 400);
    Ok(())
}

#[tokio::test]
async fn client_secret_grant_issues_v1_arm_tokens_and_v2_api_tokens() -> anyhow::Result<()> {
    let agent = Agent::new("deployer").roles(["Deploy"]).groups(["g1", "g2"]);
    let secret = agent.secret.clone().unwrap_or_default();
    let idp = FakeEntra::builder().tenant(TID).agent(agent.clone()).start().await?;

    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", agent.client_id.as_str()),
        ("client_secret", secret.as_str()),
        ("scope", "https://management.azure.com/.default"),
    ];
    let (status, body) = post_form(&idp.token_url(), &form).await?;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    let token = body["access_token"].as_str().unwrap_or_default();
    let claims = validate(&idp, token, "https://management.azure.com/", &idp.issuer_v1()).await?;
    assert_eq!(claims["ver"], "1.0");
    assert_eq!(claims["appid"], agent.client_id.as_str());
    assert_eq!(claims["oid"], agent.object_id.as_str());
    assert_eq!(claims["sub"], agent.object_id.as_str());
    assert_eq!(claims["tid"], TID);
    assert_eq!(claims["idtyp"], "app");
    assert_eq!(claims["roles"], json!(["Deploy"]));
    assert_eq!(claims["groups"], json!(["g1", "g2"]));

    let api = [
        ("scope", "api://portcullis/.default"),
        ("grant_type", "client_credentials"),
        ("client_id", agent.client_id.as_str()),
        ("client_secret", secret.as_str()),
    ];
    let (_, body) = post_form(&idp.token_url(), &api).await?;
    let claims = validate(
        &idp,
        body["access_token"].as_str().unwrap_or_default(),
        "api://portcullis",
        &idp.issuer_v2(),
    )
    .await?;
    assert_eq!(claims["ver"], "2.0");
    assert_eq!(claims["azp"], agent.client_id.as_str());

    let v1_url = format!("{}/{TID}/oauth2/token", idp.url());
    let v1 = [
        ("grant_type", "client_credentials"),
        ("client_id", agent.client_id.as_str()),
        ("client_secret", secret.as_str()),
        ("resource", "https://management.azure.com/"),
    ];
    let (status, body) = post_form(&v1_url, &v1).await?;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["resource"], "https://management.azure.com/");
    assert!(body["expires_on"].as_str().is_some_and(|s| s.parse::<i64>().is_ok()));
    Ok(())
}

#[tokio::test]
async fn token_endpoint_errors_use_entra_format() -> anyhow::Result<()> {
    let agent = Agent::new("deployer");
    let idp = FakeEntra::builder().tenant(TID).agent(agent.clone()).start().await?;
    let scope = ("scope", "https://management.azure.com/.default");
    let bad_secret = [
        ("grant_type", "client_credentials"),
        ("client_id", agent.client_id.as_str()),
        ("client_secret", "nope"),
        scope,
    ];
    let (status, body) = post_form(&idp.token_url(), &bad_secret).await?;
    assert_eq!(status, 401);
    assert_eq!(body["error"], "invalid_client");
    assert_eq!(body["error_codes"], json!([7000215]));
    assert!(body["error_description"].as_str().unwrap_or_default().starts_with("AADSTS7000215:"));

    let unknown = [
        ("grant_type", "client_credentials"),
        ("client_id", "00000000-0000-0000-0000-000000000001"),
        ("client_secret", "x"),
        scope,
    ];
    let (status, body) = post_form(&idp.token_url(), &unknown).await?;
    assert_eq!((status, body["error_codes"].clone()), (400, json!([700016])));

    let secret = agent.secret.clone().unwrap_or_default();
    let no_default = [
        ("grant_type", "client_credentials"),
        ("client_id", agent.client_id.as_str()),
        ("client_secret", secret.as_str()),
        ("scope", "https://management.azure.com/user_impersonation"),
    ];
    let (status, body) = post_form(&idp.token_url(), &no_default).await?;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_scope")));
    Ok(())
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or_default()
}

fn assertion(cert: &ClientCertificate, client_id: &str, aud: &str, exp: u64) -> anyhow::Result<String> {
    let mut header = Header::new(Algorithm::RS256);
    header.x5t = Some(cert.x5t.clone());
    let claims = json!({ "aud": aud, "iss": client_id, "sub": client_id, "jti": uuid::Uuid::new_v4().to_string(), "nbf": now() - 10, "exp": exp });
    Ok(jsonwebtoken::encode(&header, &claims, &EncodingKey::from_rsa_pem(cert.key_pem.as_bytes())?)?)
}

#[tokio::test]
async fn certificate_client_assertion_is_verified() -> anyhow::Result<()> {
    let cert = ClientCertificate::generate("deployer")?;
    let agent = Agent::new("deployer").secret(None).certificate(cert.clone());
    let idp = FakeEntra::builder().tenant(TID).agent(agent.clone()).start().await?;
    let url = idp.token_url();
    let send = |jwt: String| {
        let url = url.clone();
        let id = agent.client_id.clone();
        async move {
            post_form(
                &url,
                &[
                    ("grant_type", "client_credentials"),
                    ("client_id", id.as_str()),
                    ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
                    ("client_assertion", jwt.as_str()),
                    ("scope", "https://management.azure.com/.default"),
                ],
            )
            .await
        }
    };
    let (status, body) = send(assertion(&cert, &agent.client_id, &url, now() + 600)?).await?;
    assert_eq!(status, 200, "{body}");

    let (status, body) = send(assertion(&cert, &agent.client_id, &url, now() - 3600)?).await?;
    assert_eq!((status, body["error_codes"].clone()), (401, json!([700024])), "{body}");

    let (status, _) =
        send(assertion(&cert, &agent.client_id, "https://elsewhere.example/token", now() + 600)?).await?;
    assert_eq!(status, 401);

    let other = ClientCertificate::generate("intruder")?;
    let mut forged = other.clone();
    forged.x5t = cert.x5t.clone();
    let (status, body) = send(assertion(&forged, &agent.client_id, &url, now() + 600)?).await?;
    assert_eq!((status, body["error_codes"].clone()), (401, json!([700027])), "{body}");
    Ok(())
}

#[tokio::test]
async fn managed_identity_endpoints_answer_azure_shapes() -> anyhow::Result<()> {
    let idp = FakeEntra::builder().tenant(TID).start().await?;
    let client = reqwest::Client::new();
    let app_service = client
        .get(format!(
            "{}?resource=https%3A%2F%2Fmanagement.azure.com%2F&api-version=2019-08-01",
            idp.identity_endpoint()
        ))
        .header("X-IDENTITY-HEADER", idp.identity_header())
        .send()
        .await?;
    assert_eq!(app_service.status(), 200);
    let body: Value = app_service.json().await?;
    assert!(body["expires_on"].as_str().is_some_and(|s| s.parse::<i64>().is_ok()));
    assert_eq!(body["resource"], "https://management.azure.com/");
    let claims = validate(
        &idp,
        body["access_token"].as_str().unwrap_or_default(),
        "https://management.azure.com/",
        &idp.issuer_v1(),
    )
    .await?;
    assert_eq!(claims["appid"], idp.managed_identity().client_id.as_str());

    let no_header = client
        .get(format!(
            "{}?resource=https%3A%2F%2Fmanagement.azure.com%2F&api-version=2019-08-01",
            idp.identity_endpoint()
        ))
        .send()
        .await?;
    assert_eq!(no_header.status(), 401);

    let imds = client
        .get(format!(
            "{}?api-version=2018-02-01&resource=https%3A%2F%2Fstorage.azure.com%2F",
            idp.imds_token_url()
        ))
        .header("Metadata", "true")
        .send()
        .await?;
    assert_eq!(imds.status(), 200);
    let body: Value = imds.json().await?;
    assert_eq!(body["token_type"], "Bearer");
    assert!(body["expires_in"].as_str().is_some());
    let no_metadata =
        client.get(format!("{}?api-version=2018-02-01&resource=x", idp.imds_token_url())).send().await?;
    assert_eq!(no_metadata.status(), 400);
    Ok(())
}

#[tokio::test]
async fn minted_tokens_cover_humans_overage_es256_and_rotation() -> anyhow::Result<()> {
    let many: Vec<String> = (0..5).map(|i| format!("group-{i}")).collect();
    let idp = FakeEntra::builder()
        .tenant(TID)
        .group_limit(3)
        .human(Human::new("Ada Lovelace", "ada@contoso.example").groups(many))
        .start()
        .await?;
    let spec = idp.human_token("ada@contoso.example", "api://portcullis", None)?;
    let token = idp.mint(&spec)?;
    let claims = validate(&idp, &token, "api://portcullis", &idp.issuer_v2()).await?;
    assert_eq!(claims["name"], "Ada Lovelace");
    assert_eq!(claims["preferred_username"], "ada@contoso.example");
    assert!(claims.get("groups").is_none(), "overage replaces groups");
    assert_eq!(claims["_claim_names"]["groups"], "src1");
    assert!(claims["_claim_sources"]["src1"]["endpoint"]
        .as_str()
        .unwrap_or_default()
        .contains("getMemberObjects"));

    let mut es = TokenSpec::new(TID, "api://portcullis", "subject-1");
    es.alg = Alg::ES256;
    es.version = TokenVersion::V2;
    es.extra_claims.insert("custom".into(), json!("yes"));
    let es_token = idp.mint(&es)?;
    assert_eq!(jsonwebtoken::decode_header(&es_token)?.alg, Algorithm::ES256);
    assert_eq!(validate(&idp, &es_token, "api://portcullis", &idp.issuer_v2()).await?["custom"], "yes");

    let expired = idp.mint(&TokenSpec::new(TID, "api://portcullis", "s").expired(120))?;
    assert!(validate(&idp, &expired, "api://portcullis", &idp.issuer_v2()).await.is_err());
    let mut rogue = TokenSpec::new(TID, "api://portcullis", "s");
    rogue.sign_with_unknown_key = true;
    assert!(validate(&idp, &idp.mint(&rogue)?, "api://portcullis", &idp.issuer_v2()).await.is_err());

    // Rotation keeps old keys published; same-kid rotation breaks old tokens.
    let before = jsonwebtoken::decode_header(&token)?.kid;
    idp.rotate_keys()?;
    validate(&idp, &token, "api://portcullis", &idp.issuer_v2()).await?;
    let after = idp.mint(&spec)?;
    assert_ne!(jsonwebtoken::decode_header(&after)?.kid, before);
    idp.retire_old_keys();
    assert!(
        validate(&idp, &token, "api://portcullis", &idp.issuer_v2()).await.is_err(),
        "retired key still published"
    );
    validate(&idp, &after, "api://portcullis", &idp.issuer_v2()).await?;
    idp.rotate_keys_keep_kid()?;
    assert!(validate(&idp, &after, "api://portcullis", &idp.issuer_v2()).await.is_err());
    Ok(())
}

#[tokio::test]
async fn on_behalf_of_exchanges_a_user_token_for_a_delegated_arm_token() -> anyhow::Result<()> {
    let agent = Agent::new("copilot");
    let secret = agent.secret.clone().unwrap_or_default();
    let idp = FakeEntra::builder()
        .tenant(TID)
        .agent(agent.clone())
        .human(Human::new("Grace Hopper", "grace@contoso.example").groups(["g-admins"]))
        .start()
        .await?;
    let user_token =
        idp.mint(&idp.human_token("grace@contoso.example", &format!("api://{}", agent.client_id), None)?)?;
    let exchange = |assertion: String| {
        let url = idp.token_url();
        let (id, secret) = (agent.client_id.clone(), secret.clone());
        async move {
            post_form(
                &url,
                &[
                    ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
                    ("client_id", id.as_str()),
                    ("client_secret", secret.as_str()),
                    ("assertion", assertion.as_str()),
                    ("scope", "https://management.azure.com/user_impersonation"),
                    ("requested_token_use", "on_behalf_of"),
                ],
            )
            .await
        }
    };
    let (status, body) = exchange(user_token).await?;
    assert_eq!(status, 200, "{body}");
    let claims = validate(
        &idp,
        body["access_token"].as_str().unwrap_or_default(),
        "https://management.azure.com/",
        &idp.issuer_v1(),
    )
    .await?;
    assert_eq!(claims["upn"], "grace@contoso.example");
    assert_eq!(claims["appid"], agent.client_id.as_str(), "the agent is the acting party");
    assert_eq!(claims["idtyp"], "user");
    assert_eq!(claims["scp"], "user_impersonation");
    assert_eq!(claims["groups"], json!(["g-admins"]));

    // A user token addressed to another app cannot be exchanged by this agent.
    let elsewhere = idp.mint(&idp.human_token("grace@contoso.example", "api://someone-else", None)?)?;
    let (status, body) = exchange(elsewhere).await?;
    assert_eq!(
        (status, body["error"].as_str(), body["error_codes"].clone()),
        (400, Some("invalid_grant"), json!([50013]))
    );
    Ok(())
}
