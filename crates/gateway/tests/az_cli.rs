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
