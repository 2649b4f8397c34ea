//! `portcullis connector --config` as its own process, the way it runs inside a target's
//! network: it enrolls with the gateway's tunnel listener, and an agent holding a grant
//! lists resource groups at the fake ARM through gateway → tunnel → connector. The fake
//! ARM accepts only the token the connector minted from the fake Entra ID with its own
//! client secret. Canary: that secret and that token appear in no response, no gateway
//! log or audit record, and not in the connector's own log either.

use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use portcullis_gateway::{Config, RunningGateway};
use portcullis_sandbox::{Agent, FakeArm, FakeEntra, TokenSpec, TokenVersion};
use serde_json::{json, Value};

const TENANT: &str = "3f1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e";
const AUDIENCE: &str = "api://portcullis-test";
const TOKEN: &str = "enroll-2b7e151628aed2a6";

struct ConnectorProcess(Child);

impl Drop for ConnectorProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn token(idp: &FakeEntra, subject: &str, groups: &[&str], human: bool) -> String {
    let mut spec = TokenSpec::new(TENANT, AUDIENCE, subject);
    spec.version = TokenVersion::V2;
    spec.object_id = Some(format!("oid-{subject}"));
    spec.groups = groups.iter().map(|g| g.to_string()).collect();
    if human {
        spec.idtyp = Some("user".into());
        spec.name = Some(subject.to_owned());
        spec.preferred_username = Some(format!("{subject}@contoso.example"));
    } else {
        spec.idtyp = Some("app".into());
        spec.app_id = Some(format!("app-{subject}"));
    }
    idp.mint(&spec).unwrap()
}

async fn gateway(dir: &Path, idp: &FakeEntra, arm: &FakeArm) -> RunningGateway {
    std::fs::write(dir.join("access.cedar"), portcullis_access::EXAMPLE_POLICIES).unwrap();
    std::fs::write(dir.join("tokens"), format!("{TOKEN}\n")).unwrap();
    let toml = format!(
        r#"
data_dir = "data"
[listeners.data]
addr = "127.0.0.1:0"
[listeners.control]
addr = "127.0.0.1:0"
[listeners.tunnel]
addr = "127.0.0.1:0"
[tunnel]
enrollment_tokens_file = "tokens"
[[identity.issuers]]
issuer = "{issuer}"
audiences = ["{AUDIENCE}"]
discovery_url = "{discovery}"
entra = {{ tenants = ["{TENANT}"] }}
[access]
policy_files = ["access.cedar"]
admin_groups = ["security"]
[access.connections.arm]
levels = ["read", "operate"]
max_duration = "1h"
[[connections]]
name = "arm"
kind = "azure-arm"
upstream = "{arm}"
connector = "edge-1"
"#,
        issuer = idp.issuer_v2(),
        discovery = idp.discovery_url_v2(),
        arm = arm.url(),
    );
    let config = Config::from_toml(&toml, &dir.join("portcullis.toml"), std::iter::empty()).unwrap();
    portcullis_gateway::start(config).await.unwrap()
}

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
async fn the_connector_process_holds_the_credential_and_the_agent_never_sees_it() {
    let connector_app = Agent::new("connector-app");
    let secret = connector_app.secret.clone().unwrap();
    let idp = FakeEntra::builder().tenant(TENANT).agent(connector_app.clone()).start().await.unwrap();
    let arm =
        FakeArm::builder(&idp).resource_group("rg-behind-the-tunnel", "westeurope").start().await.unwrap();
    let gw_dir = tempfile::tempdir().unwrap();
    let gw = gateway(gw_dir.path(), &idp, &arm).await;

    // The connector's own folder: its config, its secret, the gateway's tunnel CA.
    let site = tempfile::tempdir().unwrap();
    std::fs::copy(gw.tunnel_ca().unwrap(), site.path().join("tunnel-ca.pem")).unwrap();
    std::fs::write(site.path().join("arm-secret"), &secret).unwrap();
    std::fs::write(site.path().join("enrollment-token"), TOKEN).unwrap();
    let config = format!(
        r#"
[gateway]
address = "{tunnel}"
ca_file = "tunnel-ca.pem"
name = "edge-1"
enrollment_token_file = "enrollment-token"

[[connections]]
name = "arm"
upstream = "{arm}"
credential = {{ kind = "entra-client-secret", tenant = "{TENANT}", client_id = "{client_id}", secret_file = "arm-secret", scope = "https://management.azure.com/.default", authority = "{authority}" }}
"#,
        tunnel = gw.tunnel_addr().unwrap(),
        arm = arm.url(),
        client_id = connector_app.client_id,
        authority = idp.url(),
    );
    std::fs::write(site.path().join("connector.toml"), config).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(["connector", "--config"])
        .arg(site.path().join("connector.toml"))
        .env("PORTCULLIS_LOG", "debug")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut connector = ConnectorProcess(child);

    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !gw.connectors().iter().any(|c| c.name == "edge-1" && c.connected) {
        assert!(tokio::time::Instant::now() < deadline, "the connector process never attached");
        assert!(connector.0.try_wait().unwrap().is_none(), "the connector process exited");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(site.path().join("connector.key").exists(), "the connector made its key");

    let http = reqwest::Client::new();
    let control = format!("http://{}/api/v1", gw.control_addr());
    let agent = token(&idp, "list-agent", &["agents"], false);
    let body = json!({"connection": "arm", "level": "read", "duration": "15m", "reason": "inventory"});
    let req: Value = http
        .post(format!("{control}/access-requests"))
        .bearer_auth(&agent)
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    // The example policy approves read by itself during working hours; otherwise a person does.
    let req: Value = if req["state"] == "approved" {
        req
    } else {
        let alice = token(&idp, "alice", &["ops"], true);
        let approve = format!("{control}/access-requests/{}/approve", req["id"].as_str().unwrap());
        http.post(approve).bearer_auth(&alice).json(&json!({})).send().await.unwrap().json().await.unwrap()
    };
    assert_eq!(req["state"], "approved", "{req}");

    let url = format!(
        "{}/arm/subscriptions/{}/resourcegroups?api-version=2021-04-01",
        gw.data_url(),
        arm.subscription_id()
    );
    let resp = http.get(&url).bearer_auth(&agent).send().await.unwrap();
    let status = resp.status().as_u16();
    let seen_by_agent = format!("{:?}\n{}", resp.headers().clone(), resp.text().await.unwrap());
    assert_eq!(status, 200, "{seen_by_agent}");
    assert!(seen_by_agent.contains("rg-behind-the-tunnel"), "{seen_by_agent}");

    let received = arm.received();
    assert_eq!(received.len(), 1, "{received:?}");
    let minted = received[0].header("authorization").unwrap().trim_start_matches("Bearer ").to_owned();
    assert_ne!(minted, agent);
    assert!(received[0].headers.iter().all(|(_, v)| !v.contains(&agent)), "the agent's token reached ARM");

    // Operators see the connector; agents do not.
    let admin = token(&idp, "sam", &["security"], true);
    let list: Value = http
        .get(format!("{control}/connectors"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let edge = &list["items"][0];
    assert_eq!((edge["name"].as_str(), edge["connected"].as_bool()), (Some("edge-1"), Some(true)), "{list}");
    assert_eq!(edge["connections"], json!(["arm"]));
    assert_eq!(edge["requests_served"], 1);
    let refused = http.get(format!("{control}/connectors")).bearer_auth(&agent).send().await.unwrap();
    assert_eq!(refused.status(), 403);

    // The session, as the console and auditors read it from the control API.
    let grant = req["grant_id"].as_str().expect("the approved request names its grant");
    let get =
        |path: String, token: &str| http.get(format!("{control}{path}")).bearer_auth(token.to_owned()).send();
    let sessions: Value = get("/sessions?connection=arm".into(), &admin).await.unwrap().json().await.unwrap();
    assert!(sessions["items"].as_array().unwrap().iter().any(|s| s["grant_id"] == grant), "{sessions}");
    // The response event is committed as the body ends, just after the agent has it.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let replay = loop {
        let replay: Value =
            get(format!("/sessions/{grant}/replay"), &admin).await.unwrap().json().await.unwrap();
        if !replay["calls"][0]["status"].is_null() || tokio::time::Instant::now() > deadline {
            break replay;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let call = &replay["calls"][0];
    assert_eq!((call["method"].as_str(), call["status"].as_u64()), (Some("GET"), Some(200)), "{replay}");
    assert!(
        call["response_body"]["excerpt"].as_str().unwrap_or("").contains("rg-behind-the-tunnel"),
        "{replay}"
    );
    let verified = get("/audit/verify".into(), &admin).await.unwrap();
    assert_eq!(verified.status(), 200);
    let events = get("/audit/events?since=1h".into(), &admin).await.unwrap().text().await.unwrap();
    assert!(events.lines().count() >= 4 && events.contains("connector_link"), "{events}");
    assert_eq!(get("/sessions".into(), &agent).await.unwrap().status(), 403, "agents do not read sessions");

    // The connector stops: the agent gets a clear 502, and nothing reaches ARM.
    connector.0.kill().unwrap();
    let mut log = String::new();
    connector.0.stderr.take().unwrap().read_to_string(&mut log).unwrap();
    let _ = connector.0.wait();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while gw.connectors().iter().any(|c| c.connected) {
        assert!(tokio::time::Instant::now() < deadline, "the gateway never noticed the connector left");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let resp = http.get(&url).bearer_auth(&agent).send().await.unwrap();
    assert_eq!(resp.status(), 502);
    assert!(resp.text().await.unwrap().contains("connector_unavailable"));
    assert_eq!(arm.received().len(), 1);

    let data = gw_dir.path().join("data");
    gw.shutdown().await;
    let audit = all_bytes(&data);
    assert!(log.contains("connector starting"), "the connector logs: {log}");
    for (what, canary) in [("client secret", secret.as_str()), ("minted token", minted.as_str())] {
        assert!(!seen_by_agent.contains(canary), "{what} in a response");
        assert!(!audit.contains(canary), "{what} in the gateway's records");
        assert!(!log.contains(canary), "{what} in the connector's log");
    }
    assert!(audit.contains("connector_link"), "attach and detach are audited");
}
