//! One scenario for the forward-proxy, managed-identity and `az` tests: fake Entra, fake
//! ARM standing in for `management.azure.com` (a connection claims that host, its upstream
//! is the fake's loopback URL, the embedded connector injects its credential), and a
//! gateway on port 0. Agents get grants through the control API as in production.
#![allow(dead_code, unreachable_pub)]

use portcullis_gateway::{Config, RunningGateway};
use portcullis_sandbox::{Agent, FakeArm, FakeEntra, StorageAccount, TokenSpec};
use serde_json::{json, Value};

pub const TENANT: &str = "7b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e";
pub const AUDIENCE: &str = "api://portcullis-test";
pub const SUB: &str = "9b2a3c4d-5e6f-4a1b-8c2d-3e4f5a6b7c8d";
pub const ARM_HOST: &str = "management.azure.com";
pub const DATA_RG: &str = "rg-data";
pub const ACCOUNT: &str = "stproxydata";
pub const DOOMED_RG: &str = "doomed-rg";

pub struct Scenario {
    pub idp: FakeEntra,
    pub arm: FakeArm,
    pub gw: RunningGateway,
    pub control: String,
    pub http: reqwest::Client,
    pub agent: String,
    pub approver: String,
    pub dir: tempfile::TempDir,
}

pub fn oidc_token(idp: &FakeEntra, subject: &str, groups: &[&str], human: bool) -> String {
    idp.mint(&TokenSpec::person_or_app(TENANT, AUDIENCE, subject, groups, human)).unwrap()
}

impl Scenario {
    pub async fn start() -> anyhow::Result<Self> {
        Self::start_with_data_tls(false).await
    }

    /// With `tls`, the data listener serves HTTPS with a certificate for 127.0.0.1 signed
    /// by a test CA written to `dir/data-ca.pem`.
    pub async fn start_with_data_tls(tls: bool) -> anyhow::Result<Self> {
        let idp = FakeEntra::builder().tenant(TENANT).agent(Agent::new("connector")).start().await?;
        let arm = FakeArm::builder(&idp)
            .subscription(SUB, "Interop")
            .resource_group(DOOMED_RG, "westeurope")
            .storage_account(StorageAccount::new(DATA_RG, ACCOUNT))
            .polls_before_done(1)
            .retry_after_secs(0)
            .start()
            .await?;
        let app = idp.agent("connector").unwrap();
        let dir = tempfile::tempdir()?;
        let secret = dir.path().join("secret");
        std::fs::write(&secret, app.secret.clone().unwrap())?;
        std::fs::write(dir.path().join("access.cedar"), portcullis_access::EXAMPLE_POLICIES)?;
        let data_tls = if tls { data_listener_tls(dir.path())? } else { String::new() };
        let toml = format!(
            r#"
data_dir = "data"
[listeners.data]
addr = "127.0.0.1:0"
{data_tls}
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
hosts = ["{ARM_HOST}"]
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
        let gw = portcullis_gateway::start(config).await?;
        let control = format!("http://{}", gw.control_addr());
        let agent = oidc_token(&idp, "deploy-agent", &["agents"], false);
        let approver = oidc_token(&idp, "alice", &["ops"], true);
        Ok(Scenario { idp, arm, gw, control, http: reqwest::Client::new(), agent, approver, dir })
    }

    pub async fn post(&self, token: &str, path: &str, body: Value) -> anyhow::Result<Value> {
        let resp = self
            .http
            .post(format!("{}/api/v1{path}", self.control))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await?;
        let status = resp.status();
        let body: Value = resp.json().await?;
        anyhow::ensure!(status.is_success(), "POST {path}: {status} {body}");
        Ok(body)
    }

    /// An approved `operate` grant for the agent: (grant id, grant token).
    pub async fn grant(&self) -> anyhow::Result<(String, String)> {
        self.grant_for("15m").await
    }

    /// An approved `operate` grant lasting `duration`: (grant id, grant token).
    pub async fn grant_for(&self, duration: &str) -> anyhow::Result<(String, String)> {
        let req = self
            .post(
                &self.agent,
                "/access-requests",
                json!({"connection": "azure", "level": "operate", "duration": duration, "reason": "proxy test"}),
            )
            .await?;
        let id = req["id"].as_str().unwrap().to_owned();
        let approved =
            self.post(&self.approver, &format!("/access-requests/{id}/approve"), json!({})).await?;
        let grant = approved["grant_id"].as_str().unwrap().to_owned();
        let token = self.post(&self.agent, &format!("/grants/{grant}/token"), json!({})).await?;
        Ok((grant, token["token"].as_str().unwrap().to_owned()))
    }

    pub async fn revoke(&self, grant: &str) -> anyhow::Result<()> {
        self.post(&self.agent, &format!("/grants/{grant}/revoke"), json!({"comment": "done"})).await?;
        Ok(())
    }

    /// A client that reaches everything through the gateway's forward proxy, trusting only
    /// the gateway's interception CA.
    pub fn proxied(&self, proxy_token: Option<&str>) -> anyhow::Result<reqwest::Client> {
        let mut proxy = reqwest::Proxy::all(self.gw.data_url())?;
        if let Some(t) = proxy_token {
            proxy = proxy.basic_auth("agent", t);
        }
        let ca = reqwest::Certificate::from_pem(&std::fs::read(self.gw.proxy_ca())?)?;
        Ok(reqwest::Client::builder().proxy(proxy).tls_certs_only([ca]).build()?)
    }

    /// The managed-identity endpoint (App Service shape) for `resource`.
    pub fn identity_endpoint(&self) -> String {
        format!("{}/msi/token", self.gw.data_url())
    }

    /// Request and response audit events, as JSON text, in order.
    pub async fn traffic_events(&self) -> anyhow::Result<Vec<String>> {
        let store = self.gw.store();
        let rows: Vec<String> = sqlx::query_scalar(
            "SELECT body FROM audit_events WHERE kind IN ('request', 'response') ORDER BY seq",
        )
        .fetch_all(store.pool())
        .await?;
        Ok(rows)
    }
}

/// `tests/peers/.venv-az/bin/az`; panics (the test fails) when it is not installed.
pub fn az_path() -> std::path::PathBuf {
    let az = portcullis_sandbox::peers::dir().join(".venv-az/bin/az");
    assert!(az.is_file(), "{} is missing: run tests/peers/install.sh", az.display());
    az
}

/// On its first run in a fresh config directory `az` checks for a newer version at
/// azcliprod.blob.core.windows.net (the gateway refuses that tunnel: no connection claims
/// it). Recording that this version is current, as an earlier run would have, skips it.
pub fn seed_version_check(config_dir: &std::path::Path) {
    let venv = portcullis_sandbox::peers::dir().join(".venv-az/lib");
    let init = std::fs::read_dir(&venv)
        .unwrap()
        .filter_map(Result::ok)
        .map(|d| d.path().join("site-packages/azure/cli/core/__init__.py"))
        .find(|p| p.is_file())
        .expect("azure-cli-core in the az venv");
    let source = std::fs::read_to_string(init).unwrap();
    let version = source
        .lines()
        .find_map(|l| l.strip_prefix("__version__ = "))
        .map(|v| v.trim().trim_matches('"').trim_matches('\'').to_owned())
        .expect("__version__ in azure/cli/core/__init__.py");
    let current = json!({"local": version, "pypi": version});
    let now = time::OffsetDateTime::now_utc();
    let stamp = format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}.000000",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second()
    );
    let doc = json!({"versions": {"core": current, "azure-cli": current}, "update_time": stamp});
    std::fs::create_dir_all(config_dir).unwrap();
    std::fs::write(config_dir.join("versionCheck.json"), doc.to_string()).unwrap();
}

/// A test CA and a certificate for 127.0.0.1 (files in `dir`); the TOML line for them.
fn data_listener_tls(dir: &std::path::Path) -> anyhow::Result<String> {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
    let ca_key = KeyPair::generate()?;
    let mut ca = CertificateParams::new(Vec::<String>::new())?;
    ca.distinguished_name.push(DnType::CommonName, "data listener test CA");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_cert = ca.self_signed(&ca_key)?;
    let issuer = Issuer::new(ca, ca_key);
    let key = KeyPair::generate()?;
    let mut leaf = CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])?;
    leaf.distinguished_name.push(DnType::CommonName, "127.0.0.1");
    let cert = leaf.signed_by(&key, &issuer)?;
    std::fs::write(dir.join("data-ca.pem"), ca_cert.pem())?;
    std::fs::write(dir.join("data.pem"), cert.pem())?;
    std::fs::write(dir.join("data.key"), key.serialize_pem())?;
    Ok(format!("tls = {{ cert = {:?}, key = {:?} }}", dir.join("data.pem"), dir.join("data.key")))
}
