//! Tokens from a real, certified OpenID Provider (npm `oidc-provider`, which we did not
//! write) are validated by the real gateway — including after the provider restarts with
//! a new key under the same `kid` (PEERS.md). Needs `tests/peers/install.sh` (run by
//! `scripts/test`); fails, never skips, when the peer is missing.

mod common;

use common::Upstream;
use portcullis_gateway::Config;
use portcullis_sandbox::peers::OidcProvider;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_oidc_provider_tokens_pass_and_survive_key_rotation() {
    let mut provider = OidcProvider::builder()
        .groups(["g-ops"])
        .start()
        .await
        .expect("oidc-provider must be installed: run tests/peers/install.sh (scripts/test does)");
    let up = Upstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    let toml = format!(
        r#"
data_dir = "data"
[listeners.data]
addr = "127.0.0.1:0"
[listeners.control]
addr = "127.0.0.1:0"
[[identity.issuers]]
issuer = "{}"
audiences = ["{}"]
discovery_url = "{}"
typ = ["at+jwt"]
jwks_min_refetch_interval = "0s"
[[connections]]
name = "up"
upstream = "{}"
"#,
        provider.issuer(),
        provider.audience(),
        provider.discovery_url(),
        up.url()
    );
    let config = Config::from_toml(&toml, &dir.path().join("p.toml"), std::iter::empty()).unwrap();
    let gw = portcullis_gateway::start(config).await.unwrap();
    let client = reqwest::Client::new();
    let whoami = format!("http://{}/api/v1/whoami", gw.control_addr());

    let token = provider.client_credentials_token().await.unwrap();
    let resp = client.get(&whoami).bearer_auth(&token).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let me: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(me["issuer"], provider.issuer());
    assert_eq!(me["groups"], serde_json::json!(["g-ops"]));
    // Authenticated on the data path too; without a grant the access check answers.
    let resp = client.get(format!("{}/up/echo", gw.data_url())).bearer_auth(&token).send().await.unwrap();
    assert_eq!(resp.status(), 403);

    // Same kid, new key: the old token no longer verifies, a new one does after one refetch.
    provider.restart().await.unwrap();
    let fresh = provider.client_credentials_token().await.unwrap();
    let resp = client.get(&whoami).bearer_auth(&fresh).send().await.unwrap();
    assert_eq!(resp.status(), 200, "a key changed under a known kid is refetched");
    gw.shutdown().await;
}
