//! The issue's definition of done: an agent shell prepared only by
//! `eval "$(portcullis env --connection azure …)"` runs the real, unchanged `az` through the
//! gateway (managed identity from the gateway, management.azure.com intercepted and sent to
//! the sandbox fake ARM). Needs `tests/peers/install.sh` (the az venv); fails when missing.

#[path = "../../gateway/tests/proxy_support/mod.rs"]
mod proxy_support;

use proxy_support::{Scenario, DOOMED_RG, SUB};
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eval_portcullis_env_then_az_works_through_the_gateway() -> anyhow::Result<()> {
    let s = Scenario::start().await?;
    let (_grant, grant_token) = s.grant().await?;
    let home = tempfile::tempdir()?;
    let config_dir = home.path().join(".azure");
    proxy_support::seed_version_check(&config_dir);
    let ca = home.path().join("ca.pem");

    // Exactly what a person types, with the binary and az on PATH.
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_portcullis")).parent().unwrap().to_owned();
    let az_bin = proxy_support::az_path().parent().unwrap().to_owned();
    let path =
        format!("{}:{}:{}", bin.display(), az_bin.display(), std::env::var("PATH").unwrap_or_default());
    let script = r#"set -euo pipefail
eval "$(portcullis env --connection azure --ca-file "$CA_OUT")"
az login --identity --output json >/dev/null
az group list --output json"#;
    let out = tokio::process::Command::new("bash")
        .arg("-c")
        .arg(script)
        .env_clear()
        .env("PATH", path)
        .env("HOME", home.path())
        .env("AZURE_CONFIG_DIR", &config_dir)
        .env("AZURE_CORE_SURVEY_MESSAGE", "false")
        .env("PORTCULLIS_URL", &s.control)
        .env("PORTCULLIS_TOKEN", &s.agent)
        .env("PORTCULLIS_GRANT_TOKEN", &grant_token)
        .env("CA_OUT", &ca)
        .output()
        .await?;
    let report = format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{report}");
    let groups: Value = serde_json::from_slice(&out.stdout)?;
    assert!(groups.as_array().unwrap().iter().any(|g| g["name"] == DOOMED_RG), "{report}");
    assert_eq!(std::fs::read(&ca)?, std::fs::read(s.gw.proxy_ca())?, "the CA written is the gateway's");
    assert!(s.arm.received().iter().any(|r| r.path.contains(SUB)), "the request reached fake ARM");
    let metrics = s.http.get(format!("{}/metrics", s.control)).send().await?.text().await?;
    assert!(!metrics.contains("proxy_"), "nothing tried to tunnel elsewhere: {metrics}");
    s.gw.shutdown().await;
    Ok(())
}
