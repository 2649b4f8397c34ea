//! Step 2 through the real gateway: tokens from the sandbox's fake Entra ID (v1 and v2
//! issuer shapes) and refusals with RFC 6750 challenges; `GET /api/v1/whoami`.

mod common;

use common::Upstream;
use portcullis_gateway::{Config, RunningGateway};
use portcullis_sandbox::{FakeEntra, TokenSpec, TokenVersion};
use serde_json::Value;

const TENANT: &str = "3c2f8a5e-1d7b-4c3a-9e0f-6b5d4a3c2b1a";
const AUDIENCE: &str = "api://portcullis-test";

async fn setup() -> (FakeEntra, Upstream, RunningGateway, tempfile::TempDir) {
    let idp = FakeEntra::builder().tenant(TENANT).start().await.unwrap();
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
issuer = "{v2}"
audiences = ["{AUDIENCE}"]
discovery_url = "{v2disc}"
jwks_min_refetch_interval = "0s"
entra = {{ tenants = ["{TENANT}"] }}
[[identity.issuers]]
issuer = "{v1}"
audiences = ["{AUDIENCE}"]
discovery_url = "{v1disc}"
entra = {{ tenants = ["{TENANT}"] }}
[[connections]]
name = "up"
upstream = "{up}"
"#,
        v2 = idp.issuer_v2(),
        v2disc = idp.discovery_url_v2(),
        v1 = idp.issuer_v1(),
        v1disc = idp.discovery_url_v1(),
        up = up.url(),
    );
    let config = Config::from_toml(&toml, &dir.path().join("p.toml"), std::iter::empty()).unwrap();
    let gw = portcullis_gateway::start(config).await.unwrap();
    (idp, up, gw, dir)
}

fn token(idp: &FakeEntra, version: TokenVersion, audience: &str) -> String {
    let mut spec = TokenSpec::new(TENANT, audience, "agent-sub-1");
    spec.version = version;
    spec.app_id = Some("11111111-2222-3333-4444-555555555555".into());
    spec.object_id = Some("agent-sub-1".into());
    spec.idtyp = Some("app".into());
    idp.mint(&spec).unwrap()
}

/// Authenticated, but no grant: refused by the access check (step 4), not by step 2.
#[tokio::test]
async fn entra_v1_and_v2_tokens_authenticate_and_then_need_a_grant() {
    let (idp, up, gw, _dir) = setup().await;
    let client = reqwest::Client::new();
    for version in [TokenVersion::V2, TokenVersion::V1] {
        let resp = client
            .get(format!("{}/up/echo", gw.data_url()))
            .bearer_auth(token(&idp, version, AUDIENCE))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 403, "{version:?}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["error"]["code"], "access_required", "{version:?}");
    }
    assert!(up.received().is_empty());
    gw.shutdown().await;
}

#[tokio::test]
async fn missing_and_bad_tokens_get_401_with_a_challenge_and_nothing_forwarded() {
    let (idp, up, gw, _dir) = setup().await;
    let client = reqwest::Client::new();
    let url = format!("{}/up/echo", gw.data_url());

    let resp = client.get(&url).send().await.unwrap();
    assert_eq!(resp.status(), 401);
    assert_eq!(resp.headers()["www-authenticate"], "Bearer realm=\"portcullis\"");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unauthenticated");

    // A token for Azure Resource Manager is not a token for the gateway.
    let arm = token(&idp, TokenVersion::V2, "https://management.azure.com/");
    let resp = client.get(&url).bearer_auth(arm).send().await.unwrap();
    assert_eq!(resp.status(), 401);
    let challenge = resp.headers()["www-authenticate"].to_str().unwrap().to_owned();
    assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");

    let mut expired = TokenSpec::new(TENANT, AUDIENCE, "agent-sub-1").expired(3600);
    expired.version = TokenVersion::V2;
    let resp = client.get(&url).bearer_auth(idp.mint(&expired).unwrap()).send().await.unwrap();
    assert_eq!(resp.status(), 401);

    let resp = client.get(&url).bearer_auth("not.a.token").send().await.unwrap();
    assert_eq!(resp.status(), 401);
    assert!(up.received().is_empty(), "nothing reached the target");

    // Each refusal is an `authentication` audit event with the precise reason.
    let store = gw.store();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    let reasons: Vec<String> = loop {
        let rows: Vec<String> =
            sqlx::query_scalar("SELECT body FROM audit_events WHERE kind = 'authentication'")
                .fetch_all(store.pool())
                .await
                .unwrap();
        if rows.len() >= 4 || tokio::time::Instant::now() > deadline {
            break rows;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    assert_eq!(reasons.len(), 4, "{reasons:?}");
    assert!(reasons.iter().any(|r| r.contains("missing_token")), "{reasons:?}");
    assert!(
        reasons.iter().any(|r| r.contains("management.azure.com")),
        "the audit log names the audience: {reasons:?}"
    );
    gw.shutdown().await;
}

#[tokio::test]
async fn whoami_returns_the_callers_principal() {
    let (idp, _up, gw, _dir) = setup().await;
    let client = reqwest::Client::new();
    let url = format!("http://{}/api/v1/whoami", gw.control_addr());
    let resp = client.get(&url).bearer_auth(token(&idp, TokenVersion::V2, AUDIENCE)).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let me: Value = resp.json().await.unwrap();
    assert_eq!(me["subject"], "agent-sub-1");
    assert_eq!(me["tenant"], TENANT);
    assert_eq!(me["issuer"], idp.issuer_v2());
    assert_eq!(client.get(&url).send().await.unwrap().status(), 401);
    gw.shutdown().await;
}

/// Entra rotates its signing keys: a token signed with a new key (new `kid`, or a new key
/// under the same `kid`) is accepted after one refetch of the keys.
#[tokio::test]
async fn rotated_entra_keys_are_picked_up() {
    let (idp, _up, gw, _dir) = setup().await;
    let client = reqwest::Client::new();
    let url = format!("http://{}/api/v1/whoami", gw.control_addr());
    let before = client.get(&url).bearer_auth(token(&idp, TokenVersion::V2, AUDIENCE)).send().await.unwrap();
    assert_eq!(before.status(), 200);

    idp.rotate_keys().unwrap();
    let resp = client.get(&url).bearer_auth(token(&idp, TokenVersion::V2, AUDIENCE)).send().await.unwrap();
    assert_eq!(resp.status(), 200, "a new kid is fetched");

    idp.rotate_keys_keep_kid().unwrap();
    let resp = client.get(&url).bearer_auth(token(&idp, TokenVersion::V2, AUDIENCE)).send().await.unwrap();
    assert_eq!(resp.status(), 200, "a new key under a known kid is fetched");
    gw.shutdown().await;
}
