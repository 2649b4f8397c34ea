//! The embedded connector on the data path: an agent with a grant lists resource groups
//! at the fake ARM through the gateway, and the fake ARM sees only the token the
//! connector minted from the fake Entra ID with its own client secret. Canary: the
//! secret and the minted token appear in no response, header, log line or audit record.

mod connector_support;

use connector_support as capture;

use std::path::Path;

use portcullis_gateway::{Config, RunningGateway};
use portcullis_sandbox::{Agent, FakeArm, FakeEntra, TokenSpec};
use serde_json::{json, Value};

const TENANT: &str = "3f1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e";
const AUDIENCE: &str = "api://portcullis-test";

struct World {
    idp: FakeEntra,
    arm: FakeArm,
    gw: RunningGateway,
    dir: tempfile::TempDir,
    http: reqwest::Client,
    secret: String,
}

/// A gateway whose `arm` connection uses the embedded connector with `credential`
/// (`{secret_file}` is replaced by the path of a file holding the connector app's secret).
async fn world(credential: &str, secret_file_content: Option<&str>) -> World {
    let connector_app = Agent::new("connector-app");
    let secret = connector_app.secret.clone().unwrap();
    let idp = FakeEntra::builder().tenant(TENANT).agent(connector_app.clone()).start().await.unwrap();
    let arm =
        FakeArm::builder(&idp).resource_group("rg-through-connector", "westeurope").start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("access.cedar"), portcullis_access::EXAMPLE_POLICIES).unwrap();
    let content = secret_file_content.map(str::to_owned).unwrap_or_else(|| format!("{secret}\n"));
    std::fs::write(dir.path().join("arm-secret"), content).unwrap();
    let credential = credential
        .replace("{client_id}", &connector_app.client_id)
        .replace("{authority}", idp.url())
        .replace("{tenant}", TENANT);
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
[access.connections.arm]
levels = ["read", "operate"]
max_duration = "1h"
[[connections]]
name = "arm"
kind = "azure-arm"
upstream = "{arm}"
connector = "embedded"
credential = {credential}
"#,
        issuer = idp.issuer_v2(),
        discovery = idp.discovery_url_v2(),
        arm = arm.url(),
    );
    let config = Config::from_toml(&toml, &dir.path().join("p.toml"), std::iter::empty()).unwrap();
    let gw = portcullis_gateway::start(config).await.unwrap();
    World { idp, arm, gw, dir, http: reqwest::Client::new(), secret }
}

const CLIENT_SECRET: &str = r#"{ kind = "entra-client-secret", tenant = "{tenant}", client_id = "{client_id}", secret_file = "arm-secret", scope = "https://management.azure.com/.default", authority = "{authority}" }"#;

impl World {
    fn token(&self, subject: &str, groups: &[&str], human: bool) -> String {
        self.idp.mint(&TokenSpec::person_or_app(TENANT, AUDIENCE, subject, groups, human)).unwrap()
    }

    async fn post(&self, token: &str, path: &str, body: Value) -> (u16, Value) {
        let url = format!("http://{}/api/v1{path}", self.gw.control_addr());
        let resp = self.http.post(url).bearer_auth(token).json(&body).send().await.unwrap();
        (resp.status().as_u16(), resp.json().await.unwrap_or(Value::Null))
    }

    /// An agent token holding an approved grant on `arm`.
    async fn agent_with_grant(&self) -> String {
        let agent = self.token("list-agent", &["agents"], false);
        let alice = self.token("alice", &["ops"], true);
        let body = json!({"connection": "arm", "level": "read", "duration": "15m", "reason": "inventory"});
        let (status, req) = self.post(&agent, "/access-requests", body).await;
        assert_eq!(status, 201, "{req}");
        let id = req["id"].as_str().unwrap().to_owned();
        // The example policy approves `read` by itself; otherwise a person approves.
        if req["state"] != "approved" {
            let (status, approved) =
                self.post(&alice, &format!("/access-requests/{id}/approve"), json!({})).await;
            assert_eq!(status, 200, "{approved}");
        }
        agent
    }

    /// Lists resource groups through the gateway: (status, headers and body as text).
    async fn list(&self, agent: &str) -> (u16, String) {
        let url = format!(
            "{}/arm/subscriptions/{}/resourcegroups?api-version=2021-04-01",
            self.gw.data_url(),
            self.arm.subscription_id()
        );
        let resp = self.http.get(url).bearer_auth(agent).header("cookie", "agent=1").send().await.unwrap();
        let status = resp.status().as_u16();
        let headers = format!("{:?}", resp.headers());
        (status, format!("{headers}\n{}", resp.text().await.unwrap_or_default()))
    }
}

/// Everything under `dir` (the SQLite store, its WAL: the audit records), as text.
fn all_bytes(dir: &Path) -> String {
    let mut out = String::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.push_str(&all_bytes(&path));
        } else if let Ok(bytes) = std::fs::read(&path) {
            out.push_str(&String::from_utf8_lossy(&bytes));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_lists_resource_groups_with_a_credential_it_never_sees() {
    let logs = capture::logs();
    let w = world(CLIENT_SECRET, None).await;
    let agent = w.agent_with_grant().await;

    let (status, seen_by_agent) = w.list(&agent).await;
    assert_eq!(status, 200, "{seen_by_agent}");
    assert!(seen_by_agent.contains("rg-through-connector"), "{seen_by_agent}");
    let (status, again) = w.list(&agent).await;
    assert_eq!(status, 200, "{again}");

    let received = w.arm.received();
    assert_eq!(received.len(), 2, "{received:?}");
    let minted = received[0].header("authorization").unwrap().trim_start_matches("Bearer ").to_owned();
    for r in &received {
        let auth = r.header("authorization").unwrap();
        assert_eq!(auth, format!("Bearer {minted}"), "the connector's token, cached for the second call");
        assert!(r.headers.iter().all(|(_, v)| !v.contains(&agent)), "the agent's token reached ARM: {r:?}");
        assert!(r.header("cookie").is_none());
    }
    assert_ne!(minted, agent);

    w.gw.shutdown().await;
    let logged = capture::text(&logs);
    assert!(logged.contains("request"), "log capture works: {logged}");
    let audit = all_bytes(&w.dir.path().join("data"));
    assert!(audit.contains("rg-through-connector") || audit.contains("resourcegroups"), "audit db read");
    for (what, canary) in [("client secret", &w.secret), ("minted token", &minted)] {
        assert!(!seen_by_agent.contains(canary.as_str()), "{what} in a response");
        assert!(!again.contains(canary.as_str()), "{what} in a response");
        assert!(!logged.contains(canary.as_str()), "{what} in a log line");
        assert!(!audit.contains(canary.as_str()), "{what} in the audit records");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_secret_is_a_502_that_leaks_nothing_and_reaches_nothing() {
    let logs = capture::logs();
    let wrong = "wrong-secret-6f1d0c2b9a";
    let w = world(CLIENT_SECRET, Some(wrong)).await;
    let agent = w.agent_with_grant().await;
    let (status, seen_by_agent) = w.list(&agent).await;
    assert_eq!(status, 502, "{seen_by_agent}");
    assert!(seen_by_agent.contains("upstream_failed"), "{seen_by_agent}");
    assert!(w.arm.received().is_empty(), "nothing reaches the target without the connector's credential");
    w.gw.shutdown().await;
    let logged = capture::text(&logs);
    assert!(logged.contains("invalid_client"), "the operator learns why: {logged}");
    let audit = all_bytes(&w.dir.path().join("data"));
    for canary in [wrong, w.secret.as_str()] {
        assert!(!seen_by_agent.contains(canary));
        assert!(!logged.contains(canary), "a secret in a log line");
        assert!(!audit.contains(canary), "a secret in the audit records");
    }
}
