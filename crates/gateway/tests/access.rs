//! Just-in-time access through the real gateway with tokens from the sandbox's fake
//! Entra ID: no grant → 403 `access_required`; request, self-approval refused, a person
//! approves; the agent's OIDC token and its grant token then pass; revocation ends an
//! in-flight stream within a second and the next call is refused.

mod common;

use std::time::{Duration, Instant};

use common::Upstream;
use portcullis_gateway::{Config, RunningGateway};
use portcullis_sandbox::{FakeEntra, TokenSpec};
use serde_json::{json, Value};

const TENANT: &str = "7b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e";
const AUDIENCE: &str = "api://portcullis-test";

struct World {
    idp: FakeEntra,
    up: Upstream,
    gw: RunningGateway,
    _dir: tempfile::TempDir,
    http: reqwest::Client,
}

async fn world() -> World {
    let idp = FakeEntra::builder().tenant(TENANT).start().await.unwrap();
    let up = Upstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("access.cedar"), portcullis_access::EXAMPLE_POLICIES).unwrap();
    let toml = format!(
        r#"
data_dir = "data"
[listeners.data]
addr = "127.0.0.1:0"
[listeners.control]
addr = "127.0.0.1:0"
[[identity.issuers]]
issuer = "{issuer}"
audiences = ["{AUDIENCE}"]
discovery_url = "{discovery}"
entra = {{ tenants = ["{TENANT}"] }}
[access]
policy_files = ["access.cedar"]
public_url = "http://control.test"
[access.connections.up]
levels = ["read", "operate"]
max_duration = "1h"
[[connections]]
name = "up"
upstream = "{up}"
"#,
        issuer = idp.issuer_v2(),
        discovery = idp.discovery_url_v2(),
        up = up.url(),
    );
    let config = Config::from_toml(&toml, &dir.path().join("p.toml"), std::iter::empty()).unwrap();
    let gw = portcullis_gateway::start(config).await.unwrap();
    World { idp, up, gw, _dir: dir, http: reqwest::Client::new() }
}

impl World {
    fn token(&self, subject: &str, groups: &[&str], human: bool) -> String {
        self.idp.mint(&TokenSpec::person_or_app(TENANT, AUDIENCE, subject, groups, human)).unwrap()
    }

    fn api(&self, path: &str) -> String {
        format!("http://{}/api/v1{path}", self.gw.control_addr())
    }

    async fn post(&self, token: &str, path: &str, body: Value) -> (u16, Value) {
        let resp = self.http.post(self.api(path)).bearer_auth(token).json(&body).send().await.unwrap();
        (resp.status().as_u16(), resp.json().await.unwrap_or(Value::Null))
    }

    async fn call(&self, token: &str) -> (u16, Value) {
        let resp =
            self.http.get(format!("{}/up/echo", self.gw.data_url())).bearer_auth(token).send().await.unwrap();
        (resp.status().as_u16(), resp.json().await.unwrap_or(Value::Null))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_jit_flow_through_the_gateway() {
    let w = world().await;
    let agent = w.token("deploy-agent", &["agents"], false);
    let alice = w.token("alice", &["ops"], true);

    // No grant: refused, and told how to ask.
    let (status, body) = w.call(&agent).await;
    assert_eq!(status, 403);
    assert_eq!(body["error"]["code"], "access_required");
    assert_eq!(body["error"]["levels"], json!(["read", "operate"]));
    assert!(w.up.received().is_empty());

    let (status, req) = w
        .post(
            &agent,
            "/access-requests",
            json!({"connection": "up", "level": "operate", "duration": "15m", "reason": "deploy"}),
        )
        .await;
    assert_eq!(status, 201, "{req}");
    let id = req["id"].as_str().unwrap().to_owned();

    let (status, body) = w.post(&agent, &format!("/access-requests/{id}/approve"), json!({})).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"]["code"], "self_approval");

    let (status, approved) =
        w.post(&alice, &format!("/access-requests/{id}/approve"), json!({"comment": "ok"})).await;
    assert_eq!(status, 200, "{approved}");
    let grant_id = approved["grant_id"].as_str().unwrap().to_owned();

    assert_eq!(w.call(&agent).await.0, 200, "the OIDC token passes while the grant is active");
    let (status, token) = w.post(&agent, &format!("/grants/{grant_id}/token"), json!({})).await;
    assert_eq!(status, 200, "{token}");
    let grant_token = token["token"].as_str().unwrap().to_owned();
    assert_eq!(w.call(&grant_token).await.0, 200, "the grant token passes");

    // Revocation ends an in-flight stream within a second.
    let mut stream = w
        .http
        .get(format!("{}/up/big?bytes={}", w.gw.data_url(), 1u64 << 40))
        .bearer_auth(&grant_token)
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    stream.chunk().await.unwrap();
    let (status, _) = w.post(&alice, &format!("/grants/{grant_id}/revoke"), json!({"comment": "done"})).await;
    assert_eq!(status, 200);
    let revoked_at = Instant::now();
    let ended = tokio::time::timeout(Duration::from_secs(15), async {
        while let Ok(Some(_)) = stream.chunk().await {}
    })
    .await;
    assert!(ended.is_ok(), "the stream ended within 15 s of revocation");
    eprintln!("stream ended {:?} after revocation", revoked_at.elapsed());

    assert_eq!(w.call(&agent).await.0, 403, "the next call is refused");
    assert_eq!(w.call(&grant_token).await.0, 403, "so is the grant token");
    w.gw.shutdown().await;
}
