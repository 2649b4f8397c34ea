//! The managed-identity endpoint on the data listener: the App Service and IMDS shapes,
//! a gateway-issued JWT (`tid`, `oid`, `aud` = resource) bound to the grant and never
//! outliving it, accepted on the data path like the grant token; refusals without the
//! identity header, without `Metadata: true`, and after revocation. Also the cloud
//! metadata document for `az cloud register`.

mod proxy_support;

use base64::Engine as _;
use proxy_support::{Scenario, ARM_HOST, SUB, TENANT};
use serde_json::Value;

const RESOURCE: &str = "https://management.azure.com/";

fn with_query(base: &str, q: &[(&str, &str)]) -> String {
    let mut u = url::Url::parse(base).unwrap();
    u.query_pairs_mut().extend_pairs(q);
    u.to_string()
}

fn claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap())
        .unwrap()
}

async fn grant_end(s: &Scenario, grant: &str) -> anyhow::Result<i64> {
    let g: Value = s
        .http
        .get(format!("{}/api/v1/grants/{grant}", s.control))
        .bearer_auth(&s.agent)
        .send()
        .await?
        .json()
        .await?;
    let at = g["expires_at"].as_str().unwrap();
    Ok(time::OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339)?.unix_timestamp())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn app_service_and_imds_shapes_bound_to_the_grant() -> anyhow::Result<()> {
    let s = Scenario::start().await?;
    let (grant, token) = s.grant_for("2m").await?;
    let end = grant_end(&s, &grant).await?;

    let resp = s
        .http
        .get(with_query(&s.identity_endpoint(), &[("resource", RESOURCE), ("api-version", "2019-08-01")]))
        .header("X-IDENTITY-HEADER", &token)
        .send()
        .await?;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await?;
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["resource"], RESOURCE);
    let expires_on: i64 = body["expires_on"].as_str().unwrap().parse()?;
    assert!(expires_on <= end, "the token outlives its grant: {expires_on} > {end}");
    let access_token = body["access_token"].as_str().unwrap().to_owned();
    let c = claims(&access_token);
    assert_eq!(c["aud"], RESOURCE);
    assert_eq!(c["tid"], TENANT, "tid from the agent's issuer");
    assert!(c["oid"].is_string());
    assert_eq!(c["exp"].as_i64().unwrap(), expires_on);
    assert_eq!(c["grant"]["grant_id"], grant.as_str());
    // Recorded in the audit log, without the token itself.
    let store = s.gw.store();
    let issued: Vec<String> =
        sqlx::query_scalar("SELECT body FROM audit_events WHERE body LIKE '%managed_identity_token_issued%'")
            .fetch_all(store.pool())
            .await?;
    assert_eq!(issued.len(), 1, "{issued:?}");
    assert!(issued[0].contains(&grant) && !issued[0].contains(&access_token), "{issued:?}");

    // The IMDS shape: needs `Metadata: true`.
    let imds = format!("{}/metadata/identity/oauth2/token", s.gw.data_url());
    let q = [("resource", RESOURCE), ("api-version", "2018-02-01")];
    let resp = s.http.get(with_query(&imds, &q)).header("X-IDENTITY-HEADER", &token).send().await?;
    assert_eq!(resp.status(), 400);
    assert_eq!(resp.json::<Value>().await?["error"]["code"], "metadata_header_required");
    let resp = s
        .http
        .get(with_query(&imds, &q))
        .header("Metadata", "true")
        .header("X-IDENTITY-HEADER", &token)
        .send()
        .await?;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await?;
    assert!(body["expires_in"].as_str().unwrap().parse::<i64>()? > 0);
    assert!(body["expires_on"].as_str().unwrap().parse::<i64>()? <= end);

    // The agent's OIDC token works as the identity header while it holds the grant.
    let resp = s
        .http
        .get(with_query(&s.identity_endpoint(), &[("resource", RESOURCE), ("api-version", "2019-08-01")]))
        .header("X-IDENTITY-HEADER", &s.agent)
        .send()
        .await?;
    assert_eq!(resp.status(), 200);

    // The issued token is accepted on the data path like the grant token (via the proxy).
    let client = s.proxied(None)?;
    let list = format!("https://{ARM_HOST}/subscriptions/{SUB}/resourcegroups?api-version=2021-04-01");
    let resp = client.get(&list).bearer_auth(&access_token).send().await?;
    assert_eq!(resp.status(), 200);

    // Revoked: the endpoint refuses, and the token already issued is refused too.
    s.revoke(&grant).await?;
    let resp = s
        .http
        .get(with_query(&s.identity_endpoint(), &[("resource", RESOURCE), ("api-version", "2019-08-01")]))
        .header("X-IDENTITY-HEADER", &token)
        .send()
        .await?;
    assert_eq!(resp.status(), 403);
    assert_eq!(resp.json::<Value>().await?["error"]["code"], "grant_inactive");
    let resp = client.get(&list).bearer_auth(&access_token).send().await?;
    assert_eq!(resp.status(), 403);
    s.gw.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_without_identity() -> anyhow::Result<()> {
    let s = Scenario::start().await?;
    let q = [("resource", RESOURCE), ("api-version", "2019-08-01")];
    let resp = s.http.get(with_query(&s.identity_endpoint(), &q)).send().await?;
    assert_eq!(resp.status(), 401);
    assert_eq!(resp.json::<Value>().await?["error"]["code"], "identity_header_required");
    let resp = s
        .http
        .get(with_query(&s.identity_endpoint(), &q))
        .header("X-IDENTITY-HEADER", "not-a-token")
        .send()
        .await?;
    assert_eq!(resp.status(), 401);
    assert_eq!(resp.json::<Value>().await?["error"]["code"], "identity_invalid");
    // An OIDC token without a grant gets no token.
    let resp = s
        .http
        .get(with_query(&s.identity_endpoint(), &q))
        .header("X-IDENTITY-HEADER", &s.agent)
        .send()
        .await?;
    assert_eq!(resp.status(), 403);
    assert_eq!(resp.json::<Value>().await?["error"]["code"], "access_required");
    let (_, token) = s.grant().await?;
    let resp = s
        .http
        .get(with_query(&s.identity_endpoint(), &[("api-version", "2019-08-01")]))
        .header("X-IDENTITY-HEADER", &token)
        .send()
        .await?;
    assert_eq!(resp.status(), 400);
    assert_eq!(resp.json::<Value>().await?["error"]["code"], "resource_required");
    s.gw.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cloud_metadata_names_the_gateway_as_resource_manager() -> anyhow::Result<()> {
    let s = Scenario::start().await?;
    let url = format!("{}/metadata/endpoints", s.gw.data_url());
    let cloud: Value =
        s.http.get(with_query(&url, &[("api-version", "2022-09-01")])).send().await?.json().await?;
    assert_eq!(cloud["resourceManager"], format!("{}/azure/", s.gw.data_url()));
    assert!(cloud["suffixes"]["storage"].is_string(), "az cloud register needs `suffixes`");
    let one: Value =
        s.http.get(with_query(&url, &[("api-version", "2019-05-01")])).send().await?.json().await?;
    assert_eq!(one["resourceManager"], cloud["resourceManager"]);
    // Also under the ARM connection's prefix (what `az cloud register` fetches), answered
    // by the gateway itself, not passed to the upstream.
    let prefixed = format!("{}/azure/metadata/endpoints", s.gw.data_url());
    let doc: Value =
        s.http.get(with_query(&prefixed, &[("api-version", "2022-09-01")])).send().await?.json().await?;
    assert_eq!(doc["resourceManager"], cloud["resourceManager"]);
    assert!(s.arm.received().is_empty());
    s.gw.shutdown().await;
    Ok(())
}

/// The real Python SDK (`ManagedIdentityCredential`, not `DefaultAzureCredential`) in an
/// agent environment of variables only. Needs `tests/peers/install.sh`; fails when missing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_sdk_managed_identity_credential_through_the_proxy() -> anyhow::Result<()> {
    let s = Scenario::start().await?;
    let (grant, token) = s.grant().await?;
    let end = grant_end(&s, &grant).await?;
    let data = s.gw.data_url();
    let run = portcullis_sandbox::peers::run_pytest(
        "test_managed_identity.py",
        &[
            ("IDENTITY_ENDPOINT", s.identity_endpoint()),
            ("IDENTITY_HEADER", token),
            ("HTTPS_PROXY", data.clone()),
            ("HTTP_PROXY", data),
            ("REQUESTS_CA_BUNDLE", s.gw.proxy_ca().display().to_string()),
            ("PORTCULLIS_SUBSCRIPTION", SUB.to_owned()),
            ("PORTCULLIS_DOOMED_RG", proxy_support::DOOMED_RG.to_owned()),
            ("PORTCULLIS_GRANT_END", end.to_string()),
        ],
    )
    .await?;
    assert!(run.passed, "{}", run.report());
    assert!(run.stdout.contains("3 passed"), "{}", run.report());
    assert_eq!(s.arm.received().iter().filter(|r| r.method == "DELETE").count(), 0, "held, not forwarded");
    s.gw.shutdown().await;
    Ok(())
}
