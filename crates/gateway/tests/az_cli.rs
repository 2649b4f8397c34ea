//! The real Azure CLI (`az`, PyPI azure-cli, in `tests/peers/.venv-az`), unchanged, in an
//! agent shell prepared only by environment variables: `HTTPS_PROXY` = the gateway,
//! `IDENTITY_ENDPOINT`/`IDENTITY_HEADER` = the gateway's managed-identity endpoint and the
//! agent's grant token, `REQUESTS_CA_BUNDLE` = the gateway's interception CA. `az` talks to
//! `management.azure.com` as always; the gateway intercepts it and forwards to the sandbox
//! fake ARM. Nothing may reach a non-loopback address: the only proxy is the gateway (which
//! refuses every host no connection claims), `NO_PROXY` is loopback only, telemetry is off
//! and the CLI's config lives in a temporary directory.
//! Needs `tests/peers/install.sh`; fails (never skips) when `az` is missing.

mod proxy_support;

use std::path::PathBuf;
use std::process::Output;

use proxy_support::{Scenario, ACCOUNT, DATA_RG, DOOMED_RG, SUB};
use serde_json::{json, Value};

fn az_path() -> PathBuf {
    proxy_support::az_path()
}

struct AgentShell {
    env: Vec<(String, String)>,
    _home: tempfile::TempDir,
}

impl AgentShell {
    fn new(s: &Scenario, identity_header: &str) -> Self {
        let home = tempfile::tempdir().unwrap();
        let data = s.gw.data_url();
        let ca = s.gw.proxy_ca().display().to_string();
        let env = [
            ("PATH", std::env::var("PATH").unwrap_or_default()),
            ("HOME", home.path().display().to_string()),
            ("AZURE_CONFIG_DIR", home.path().join(".azure").display().to_string()),
            ("AZURE_CORE_COLLECT_TELEMETRY", "false".into()),
            ("AZURE_CORE_NO_COLOR", "true".into()),
            ("AZURE_CORE_SURVEY_MESSAGE", "false".into()),
            ("HTTPS_PROXY", data.clone()),
            ("HTTP_PROXY", data.clone()),
            ("NO_PROXY", "127.0.0.1,localhost,::1".into()),
            ("IDENTITY_ENDPOINT", format!("{data}/msi/token")),
            ("IDENTITY_HEADER", identity_header.to_owned()),
            ("REQUESTS_CA_BUNDLE", ca.clone()),
            ("SSL_CERT_FILE", ca),
        ];
        proxy_support::seed_version_check(&home.path().join(".azure"));
        AgentShell { env: env.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(), _home: home }
    }

    async fn az(&self, args: &[&str]) -> Output {
        let mut cmd = tokio::process::Command::new(az_path());
        cmd.args(args).arg("--output").arg("json").env_clear().envs(self.env.iter().cloned());
        cmd.output().await.unwrap()
    }
}

fn text(o: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn az_login_identity_list_delete_after_approval_and_masked_keys() -> anyhow::Result<()> {
    let s = Scenario::start().await?;
    let (_grant, token) = s.grant().await?;
    let shell = AgentShell::new(&s, &token);

    let login = shell.az(&["login", "--identity"]).await;
    assert!(login.status.success(), "{}", text(&login));
    let accounts: Value = serde_json::from_slice(&login.stdout)?;
    assert_eq!(accounts[0]["id"], SUB, "{accounts}");

    let groups = shell.az(&["group", "list"]).await;
    assert!(groups.status.success(), "{}", text(&groups));
    let groups: Value = serde_json::from_slice(&groups.stdout)?;
    assert!(groups.as_array().unwrap().iter().any(|g| g["name"] == DOOMED_RG), "{groups}");

    // The delete is held for a person: az shows the gateway's approval_required message.
    let held = shell.az(&["group", "delete", "--name", DOOMED_RG, "--yes"]).await;
    assert!(!held.status.success(), "{}", text(&held));
    assert!(String::from_utf8_lossy(&held.stderr).contains("approval_required"), "{}", text(&held));
    assert_eq!(s.arm.received().iter().filter(|r| r.method == "DELETE").count(), 0);
    let pending: Value = s
        .http
        .get(format!("{}/api/v1/reviews?state=pending", s.control))
        .bearer_auth(&s.approver)
        .send()
        .await?
        .json()
        .await?;
    let items = pending["items"].as_array().or_else(|| pending.as_array()).expect("a list of reviews");
    let review = items.iter().find_map(|r| r["id"].as_str()).expect("the held delete's review").to_owned();
    s.post(&s.approver, &format!("/reviews/{review}/approve"), json!({"comment": "ok"})).await?;

    let deleted = shell.az(&["group", "delete", "--name", DOOMED_RG, "--yes"]).await;
    assert!(deleted.status.success(), "{}", text(&deleted));
    assert_eq!(s.arm.received().iter().filter(|r| r.method == "DELETE").count(), 1);
    assert!(!s.arm.resource_group_names(SUB).iter().any(|n| n == DOOMED_RG));

    // Storage account keys come back masked.
    let keys = s.arm.storage_keys(SUB, DATA_RG, ACCOUNT).expect("account");
    let listed = shell
        .az(&["storage", "account", "keys", "list", "--resource-group", DATA_RG, "--account-name", ACCOUNT])
        .await;
    assert!(listed.status.success(), "{}", text(&listed));
    let out = String::from_utf8_lossy(&listed.stdout);
    assert!(out.contains("REDACTED"), "{}", text(&listed));
    for k in &keys {
        assert!(!out.contains(k.as_str()), "a storage key reached az: {out}");
    }
    // az never tried a host the gateway does not intercept (it would have been refused).
    let metrics = s.http.get(format!("{}/metrics", s.control)).send().await?.text().await?;
    assert!(!metrics.contains("proxy_"), "az tried to tunnel elsewhere: {metrics}");
    s.gw.shutdown().await;
    Ok(())
}

/// Microsoft's Azure MCP server (npm `@azure/mcp`, a .NET server), unchanged, driven by an
/// MCP client over stdio: its `group_list` tool takes its token from the gateway's
/// managed-identity endpoint and reaches management.azure.com through the forward proxy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azure_mcp_server_tool_runs_through_the_gateway() -> anyhow::Result<()> {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let azmcp = portcullis_sandbox::peers::dir().join("node_modules/@azure/mcp-linux-x64/dist/azmcp");
    assert!(azmcp.is_file(), "{} is missing: run tests/peers/install.sh (linux x64)", azmcp.display());
    let s = Scenario::start().await?;
    let (_grant, token) = s.grant().await?;
    let home = tempfile::tempdir()?;
    let data = s.gw.data_url();
    let mut child = tokio::process::Command::new(azmcp)
        .args(["server", "start", "--tool", "group_list"])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home.path())
        .env("AZURE_MCP_COLLECT_TELEMETRY", "false")
        .env("AZURE_TOKEN_CREDENTIALS", "ManagedIdentityCredential")
        .env("HTTPS_PROXY", &data)
        .env("HTTP_PROXY", &data)
        .env("NO_PROXY", "127.0.0.1,localhost,::1")
        .env("IDENTITY_ENDPOINT", s.identity_endpoint())
        .env("IDENTITY_HEADER", &token)
        .env("SSL_CERT_FILE", s.gw.proxy_ca())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()?;
    let mut stdin = child.stdin.take().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let call = |id: u64, method: &str, params: Value| {
        json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}).to_string() + "\n"
    };
    async fn answer(lines: &mut tokio::io::Lines<BufReader<tokio::process::ChildStdout>>, id: u64) -> Value {
        while let Ok(Some(line)) = lines.next_line().await {
            if let Ok(v) = serde_json::from_str::<Value>(&line) {
                if v["id"] == id {
                    return v;
                }
            }
        }
        panic!("the MCP server closed before answering request {id}");
    }
    let init = json!({"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "portcullis-test", "version": "1"}});
    stdin.write_all(call(1, "initialize", init).as_bytes()).await?;
    let init = answer(&mut lines, 1).await;
    assert!(init["result"]["serverInfo"].is_object(), "{init}");
    stdin.write_all(b"{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}\n").await?;
    let args = json!({"name": "group_list", "arguments": {"subscription": SUB}});
    stdin.write_all(call(2, "tools/call", args).as_bytes()).await?;
    let result = answer(&mut lines, 2).await;
    let text = result.to_string();
    assert!(text.contains(DOOMED_RG), "{result}");
    assert!(
        s.arm.received().iter().any(|r| r.path.ends_with("/resourcegroups")),
        "reached fake ARM via the gateway"
    );
    let metrics = s.http.get(format!("{}/metrics", s.control)).send().await?.text().await?;
    // On start the server fetches from learn.microsoft.com and mcp.ai.azure.com: the gateway
    // refuses those tunnels (no connection claims the hosts), so they never leave. It never
    // tries an IP address (the instance-metadata address included) or an internal name.
    for reason in ["proxy_ip_literal_refused", "proxy_internal_host_refused", "proxy_port_refused"] {
        assert!(!metrics.contains(reason), "{reason}: {metrics}");
    }
    drop(stdin);
    let _ = child.kill().await;
    s.gw.shutdown().await;
    Ok(())
}

/// The reverse-proxy alternative to interception: `az cloud register` reads the gateway's
/// `/metadata/endpoints` (served on an HTTPS data listener), and `az` then calls the
/// gateway's URL for the ARM connection directly — no proxy variables at all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn az_cloud_register_uses_the_gateway_as_resource_manager() -> anyhow::Result<()> {
    let s = Scenario::start_with_data_tls(true).await?;
    let (_grant, token) = s.grant().await?;
    let shell = AgentShell::new(&s, &token);
    let data = s.gw.data_url();
    let data_ca = s.dir.path().join("data-ca.pem").display().to_string();
    let mut env: Vec<(String, String)> = shell
        .env
        .iter()
        .filter(|(k, _)| k != "HTTPS_PROXY" && k != "HTTP_PROXY")
        .map(|(k, v)| match k.as_str() {
            "REQUESTS_CA_BUNDLE" | "SSL_CERT_FILE" => (k.clone(), data_ca.clone()),
            "IDENTITY_ENDPOINT" => (k.clone(), format!("{data}/msi/token")),
            _ => (k.clone(), v.clone()),
        })
        .collect();
    // No proxy in this setup: anything not on loopback would hit a closed port.
    env.push(("HTTPS_PROXY".into(), "http://127.0.0.1:9".into()));
    env.push(("HTTP_PROXY".into(), "http://127.0.0.1:9".into()));
    let shell = AgentShell { env, _home: shell._home };
    let register = shell
        .az(&[
            "cloud",
            "register",
            "--name",
            "Portcullis",
            "--endpoint-resource-manager",
            &format!("{data}/azure"),
        ])
        .await;
    assert!(register.status.success(), "{}", text(&register));
    let set = shell.az(&["cloud", "set", "--name", "Portcullis"]).await;
    assert!(set.status.success(), "{}", text(&set));
    let login = shell.az(&["login", "--identity"]).await;
    assert!(login.status.success(), "{}", text(&login));
    let groups = shell.az(&["group", "list"]).await;
    assert!(groups.status.success(), "{}", text(&groups));
    let groups: Value = serde_json::from_slice(&groups.stdout)?;
    assert!(groups.as_array().unwrap().iter().any(|g| g["name"] == DOOMED_RG), "{groups}");
    s.gw.shutdown().await;
    Ok(())
}
