//! The real Python Azure SDK (azure-mgmt-resource) through the gateway, holding only its
//! grant token: a resource-group delete is held for review; after a person approves, the
//! same SDK call succeeds once, with the embedded connector's token at fake ARM.
//! Needs `tests/peers/install.sh`; fails (never skips) when the peers are missing.

use portcullis_gateway::Config;
use portcullis_sandbox::peers::run_pytest;
use portcullis_sandbox::{Agent, FakeArm, FakeEntra, TokenSpec};
use serde_json::{json, Value};

const TENANT: &str = "7b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e";
const AUDIENCE: &str = "api://portcullis-test";
const SUB: &str = "9b2a3c4d-5e6f-4a1b-8c2d-3e4f5a6b7c8d";

fn token(idp: &FakeEntra, subject: &str, groups: &[&str], human: bool) -> String {
    idp.mint(&TokenSpec::person_or_app(TENANT, AUDIENCE, subject, groups, human)).unwrap()
}

/// A gateway whose `azure` connection reaches `arm` through the embedded connector, which
/// holds the `connector` app's secret; access by the example Cedar policies.
async fn gateway(
    idp: &FakeEntra,
    arm: &FakeArm,
) -> anyhow::Result<(portcullis_gateway::RunningGateway, tempfile::TempDir)> {
    let app = idp.agent("connector").unwrap();
    let dir = tempfile::tempdir()?;
    let secret = dir.path().join("secret");
    std::fs::write(&secret, app.secret.clone().unwrap())?;
    std::fs::write(dir.path().join("access.cedar"), portcullis_access::EXAMPLE_POLICIES)?;
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
[access.connections.azure]
levels = ["read", "operate"]
max_duration = "1h"
[[connections]]
name = "azure"
kind = "azure-arm"
upstream = "{arm}"
connector = "embedded"
credential = {{ kind = "entra-client-secret", tenant = "{TENANT}", client_id = "{client_id}", secret_file = {secret:?}, scope = "https://management.azure.com/.default", authority = "{authority}" }}
"#,
        issuer = idp.issuer_v2(),
        discovery = idp.discovery_url_v2(),
        arm = arm.url(),
        client_id = app.client_id,
        secret = secret.display().to_string(),
        authority = idp.url(),
    );
    let config = Config::from_toml(&toml, &dir.path().join("p.toml"), std::iter::empty())?;
    Ok((portcullis_gateway::start(config).await?, dir))
}

/// The grant token of `agent` (group `agents`) for `level` on the `azure` connection: it
/// asks, and alice (group `ops`) approves unless the example policy already did (it
/// approves `read` by itself during working hours).
async fn grant_token(
    gw: &portcullis_gateway::RunningGateway,
    idp: &FakeEntra,
    agent: &str,
    level: &str,
    reason: &str,
) -> anyhow::Result<String> {
    let control = format!("http://{}", gw.control_addr());
    let http = reqwest::Client::new();
    let agent = token(idp, agent, &["agents"], false);
    let post = |token: &str, path: &str, body: Value| {
        http.post(format!("{control}/api/v1{path}")).bearer_auth(token.to_owned()).json(&body).send()
    };
    let req: Value = post(
        &agent,
        "/access-requests",
        json!({"connection": "azure", "level": level, "duration": "15m", "reason": reason}),
    )
    .await?
    .json()
    .await?;
    let req = if req["state"] == "approved" {
        req
    } else {
        let alice = token(idp, "alice", &["ops"], true);
        let id = req["id"].as_str().unwrap();
        post(&alice, &format!("/access-requests/{id}/approve"), json!({})).await?.json::<Value>().await?
    };
    assert_eq!(req["state"], "approved", "{req}");
    let grant = req["grant_id"].as_str().unwrap();
    let token: Value = post(&agent, &format!("/grants/{grant}/token"), json!({})).await?.json().await?;
    Ok(token["token"].as_str().unwrap().to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_sdk_delete_is_held_then_runs_once_after_approval() -> anyhow::Result<()> {
    let idp = FakeEntra::builder().tenant(TENANT).agent(Agent::new("connector")).start().await?;
    let arm = FakeArm::builder(&idp)
        .subscription(SUB, "Interop")
        .resource_group("doomed-rg", "westeurope")
        .polls_before_done(1)
        .retry_after_secs(0)
        .start()
        .await?;
    let (gw, _dir) = gateway(&idp, &arm).await?;
    let control = format!("http://{}", gw.control_addr());
    let alice = token(&idp, "alice", &["ops"], true);
    let agent_token = grant_token(&gw, &idp, "deploy-agent", "operate", "cleanup").await?;

    let run = run_pytest(
        "test_review.py",
        &[
            ("PORTCULLIS_ARM_URL", format!("{}/azure", gw.data_url())),
            ("PORTCULLIS_SUBSCRIPTION", SUB.to_owned()),
            ("PORTCULLIS_GRANT_TOKEN", agent_token.clone()),
            ("PORTCULLIS_CONTROL_URL", control.clone()),
            ("PORTCULLIS_APPROVER_TOKEN", alice.clone()),
            ("PORTCULLIS_DOOMED_RG", "doomed-rg".to_owned()),
        ],
    )
    .await?;
    assert!(run.passed, "{}", run.report());
    let deletes = arm.received().iter().filter(|r| r.method == "DELETE").count();
    assert_eq!(deletes, 1, "the delete reached ARM exactly once");
    assert!(!arm.resource_group_names(SUB).iter().any(|n| n == "doomed-rg"));
    gw.shutdown().await;
    Ok(())
}

/// The Python SDK reads a deployment whose outputs hold a storage connection string, and
/// a storage account's keys: both come back masked; the real keys never reach the agent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_sdk_gets_deployment_outputs_and_storage_keys_masked() -> anyhow::Result<()> {
    use portcullis_sandbox::StorageAccount;
    let idp = FakeEntra::builder().tenant(TENANT).agent(Agent::new("connector")).start().await?;
    let account = StorageAccount::new("data-rg", "contosodata");
    let keys = account.keys.clone();
    let arm = FakeArm::builder(&idp)
        .subscription(SUB, "Interop")
        .resource_group("data-rg", "westeurope")
        .storage_account(account)
        .start()
        .await?;
    let (gw, _dir) = gateway(&idp, &arm).await?;
    let agent_token = grant_token(&gw, &idp, "reader-agent", "read", "inventory").await?;

    let run = run_pytest(
        "test_masked.py",
        &[
            ("PORTCULLIS_ARM_URL", format!("{}/azure", gw.data_url())),
            ("PORTCULLIS_SUBSCRIPTION", SUB.to_owned()),
            ("PORTCULLIS_GRANT_TOKEN", agent_token.clone()),
            ("PORTCULLIS_RG", "data-rg".to_owned()),
            ("PORTCULLIS_ACCOUNT", "contosodata".to_owned()),
            ("PORTCULLIS_REAL_KEYS", keys.join(",")),
        ],
    )
    .await?;
    assert!(run.passed, "{}", run.report());
    assert!(run.report().contains("2 passed"), "both cases ran: {}", run.report());
    gw.shutdown().await;
    Ok(())
}
