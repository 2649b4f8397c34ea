//! `portcullis access …` against a running gateway, with tokens from the sandbox's fake
//! Entra ID: the agent requests and waits, a person lists and approves, the agent gets a
//! grant token, the person revokes.

use portcullis_sandbox::{FakeEntra, TokenSpec};
use serde_json::Value;

const TENANT: &str = "0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0";
const AUDIENCE: &str = "api://portcullis-cli-test";

fn token(idp: &FakeEntra, subject: &str, group: &str, human: bool) -> String {
    idp.mint(&TokenSpec::person_or_app(TENANT, AUDIENCE, subject, &[group], human)).unwrap()
}

async fn cli(url: &str, token: &str, args: &[&str]) -> (bool, Value) {
    let (url, token) = (url.to_owned(), token.to_owned());
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_portcullis"))
            .arg("access")
            .args(&args)
            .arg("--json")
            .env("PORTCULLIS_URL", url)
            .env("PORTCULLIS_TOKEN", token)
            .output()
            .unwrap();
        let json = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        if !out.status.success() {
            eprintln!("{}", String::from_utf8_lossy(&out.stderr));
        }
        (out.status.success(), json)
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_approve_token_revoke_from_the_command_line() {
    let idp = FakeEntra::builder().tenant(TENANT).start().await.unwrap();
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
issuer = "{}"
audiences = ["{AUDIENCE}"]
discovery_url = "{}"
entra = {{ tenants = ["{TENANT}"] }}
[access]
policy_files = ["access.cedar"]
[access.connections.billing]
levels = ["read", "operate"]
max_duration = "1h"
[[connections]]
name = "billing"
upstream = "http://127.0.0.1:9"
"#,
        idp.issuer_v2(),
        idp.discovery_url_v2()
    );
    let config =
        portcullis_gateway::Config::from_toml(&toml, &dir.path().join("p.toml"), std::iter::empty()).unwrap();
    let gw = portcullis_gateway::start(config).await.unwrap();
    let url = format!("http://{}", gw.control_addr());
    let agent = token(&idp, "ci-agent", "agents", false);
    let alice = token(&idp, "alice", "ops", true);

    // The agent asks and waits; Alice approves while it waits.
    let waiting = {
        let (url, agent) = (url.clone(), agent.clone());
        tokio::spawn(async move {
            cli(
                &url,
                &agent,
                &[
                    "request",
                    "--connection",
                    "billing",
                    "--level",
                    "operate",
                    "--duration",
                    "15m",
                    "--reason",
                    "deploy",
                    "--wait",
                    "30s",
                ],
            )
            .await
        })
    };
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    let pending = loop {
        let (ok, list) = cli(&url, &alice, &["list", "--pending"]).await;
        assert!(ok, "{list}");
        if let Some(first) = list.as_array().and_then(|l| l.first()).cloned() {
            break first;
        }
        if tokio::time::Instant::now() > deadline || waiting.is_finished() {
            panic!("no pending request appeared for the approver; the requester got {:?}", waiting.await);
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    let id = pending["id"].as_str().unwrap().to_owned();
    let (ok, approved) = cli(&url, &alice, &["approve", &id, "--comment", "go"]).await;
    assert!(ok, "{approved}");
    let (ok, decided) = waiting.await.unwrap();
    assert!(ok, "{decided}");
    assert_eq!(decided["state"], "approved", "the waiting request learned of the approval");
    let grant = decided["grant_id"].as_str().unwrap().to_owned();

    let (ok, t) = cli(&url, &agent, &["token", &grant]).await;
    assert!(ok && t["token"].as_str().is_some_and(|s| s.split('.').count() == 3), "{t}");
    let (ok, self_approve) = cli(&url, &agent, &["approve", &id]).await;
    assert!(!ok, "self-approval refused: {self_approve}");
    // One call under the grant (the upstream is down: 502, recorded all the same).
    let resp = reqwest::Client::new()
        .get(format!("{}/billing/invoices", gw.data_url()))
        .bearer_auth(t["token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 502);
    resp.bytes().await.unwrap();

    let (ok, revoked) = cli(&url, &alice, &["revoke", &grant, "--reason", "done"]).await;
    assert!(ok, "{revoked}");
    assert_eq!(revoked["state"], "revoked");
    gw.shutdown().await;

    // The evidence, from the data directory.
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();
    let (ok, sessions) = plain(&["sessions", "list", "--data-dir", data, "--json"]);
    assert!(ok, "{sessions}");
    let sessions: Value = serde_json::from_str(&sessions).unwrap();
    let session =
        sessions.as_array().unwrap().iter().find(|s| s["grant_id"] == grant.as_str()).unwrap().clone();
    assert_eq!(session["requests"], 1);
    let (ok, replayed) = plain(&["sessions", "replay", &grant, "--data-dir", data, "--speed", "100"]);
    assert!(ok && replayed.contains("GET /invoices → 502"), "{replayed}");
    let (ok, shown) = plain(&["sessions", "show", &grant, "--data-dir", data]);
    assert!(ok && !shown.is_empty(), "{shown}");
    let (ok, verified) = plain(&["audit", "verify", "--data-dir", data]);
    assert!(ok && verified.starts_with("audit log intact"), "{verified}");
    let (ok, ocsf) = plain(&["audit", "export", "--data-dir", data, "--format", "ocsf"]);
    assert!(ok && ocsf.lines().count() >= 2, "{ocsf}");
    assert!(
        ocsf.lines().all(|l| serde_json::from_str::<Value>(l).is_ok_and(|v| v["class_uid"].is_number())),
        "{ocsf}"
    );

    // Edit one recorded request: verify fails and names it.
    let db = format!("sqlite://{}/portcullis.db", data);
    let pool = sqlx::SqlitePool::connect(&db).await.unwrap();
    sqlx::query(
        "UPDATE audit_events SET body = replace(body, 'invoices', 'invoicez') WHERE kind = 'request'",
    )
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;
    let (ok, broken) = plain(&["audit", "verify", "--data-dir", data]);
    assert!(!ok && broken.contains("BROKEN"), "{broken}");
}

/// Runs the binary with no gateway URL or token; returns (success, stdout).
fn plain(args: &[&str]) -> (bool, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_portcullis")).args(args).output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned())
}
