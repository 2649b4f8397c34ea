//! Remote connectors on the data path: the gateway sends each request through the tunnel
//! to a connector (here in the test process, as `portcullis connector` runs it), which
//! injects its own credential. Faults: no connector, a connector dying mid-request,
//! replicas, a gateway restart, a connector announcing a connection it was not given.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use common::Upstream;
use http_body_util::BodyExt;
use portcullis_connector::{Connector, ConnectorConfig};
use portcullis_gateway::{Config, RunningGateway};
use portcullis_tunnel::{handler_fn, ConnectorKey, TunnelClient, TunnelClientConfig, TunnelError};
use tokio::task::JoinHandle;

const TOKEN: &str = "enroll-7f3a9c1e5b2d4068";
const CONNECTOR_SECRET: &str = "connector-held-secret-4e1b7d2a9c";

fn gateway_toml(upstream: &str, tunnel_addr: &str) -> String {
    format!(
        r#"
data_dir = "data"
[listeners.data]
addr = "127.0.0.1:0"
[listeners.control]
addr = "127.0.0.1:0"
[listeners.tunnel]
addr = "{tunnel_addr}"
[tunnel]
enrollment_tokens_file = "tokens"
[[connections]]
name = "up"
upstream = "{upstream}"
connector = "edge-1"
[[connections]]
name = "other"
upstream = "{upstream}"
connector = "edge-2"
"#
    )
}

async fn start_gateway(dir: &Path, upstream: &Upstream, tunnel_addr: &str) -> RunningGateway {
    std::fs::write(dir.join("tokens"), format!("# one per connector\n{TOKEN}\n")).unwrap();
    let toml = gateway_toml(&upstream.url(), tunnel_addr);
    let config = Config::from_toml(&toml, &dir.join("portcullis.toml"), std::iter::empty()).unwrap();
    portcullis_gateway::start(config).await.unwrap()
}

/// A connector as `portcullis connector` builds it: serves `connections` (each to the
/// upstream with a static bearer secret), named `edge-1`, with the key in `key`.
fn connector_config(dir: &Path, upstream: &Upstream, connections: &[&str]) -> Arc<Connector> {
    std::fs::write(dir.join("secret"), CONNECTOR_SECRET).unwrap();
    let mut toml = String::new();
    for name in connections {
        toml.push_str(&format!(
            "[[connections]]\nname = \"{name}\"\nupstream = \"{}\"\ncredential = {{ kind = \"bearer\", secret_file = \"secret\" }}\n",
            upstream.url()
        ));
    }
    let config = ConnectorConfig::from_toml(&toml, &dir.join("connector.toml")).unwrap();
    Arc::new(Connector::from_config(&config).unwrap())
}

fn spawn_connector(
    gw_tunnel: std::net::SocketAddr,
    ca: &Path,
    key: &Path,
    connector: Arc<Connector>,
) -> JoinHandle<Result<std::convert::Infallible, TunnelError>> {
    let tls = portcullis_tunnel::client_tls_from_ca_pem(&std::fs::read(ca).unwrap()).unwrap();
    let key = Arc::new(ConnectorKey::load_or_create(key).unwrap());
    let mut config =
        TunnelClientConfig::new(gw_tunnel.to_string(), "localhost".into(), tls, "edge-1".into(), key);
    config.connections = connector.connection_names();
    config.enrollment_token = Some(TOKEN.into());
    config.version = "test".into();
    let handler = handler_fn(move |connection, req| {
        let connector = connector.clone();
        Box::pin(async move {
            connector.respond(&connection, req.map(|b| b.map_err(Into::into).boxed_unsync())).await
        })
    });
    tokio::spawn(TunnelClient::run(config, handler))
}

/// Waits (bounded) until `edge-1` has `tunnels` tunnels up.
async fn wait_tunnels(gw: &RunningGateway, tunnels: usize) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let up = gw.connectors().iter().find(|c| c.name == "edge-1").map_or(0, |c| c.tunnels);
        if up == tunnels {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "edge-1 has {up} tunnels, waited for {tunnels}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

struct World {
    upstream: Upstream,
    gw: RunningGateway,
    dir: tempfile::TempDir,
    http: reqwest::Client,
}

impl World {
    async fn new() -> World {
        let upstream = Upstream::start().await;
        let dir = tempfile::tempdir().unwrap();
        let gw = start_gateway(dir.path(), &upstream, "127.0.0.1:0").await;
        World { upstream, gw, dir, http: reqwest::Client::new() }
    }

    fn ca(&self) -> PathBuf {
        self.gw.tunnel_ca().expect("the gateway made its tunnel CA").to_owned()
    }

    fn connector(
        &self,
        key: &str,
        connections: &[&str],
    ) -> JoinHandle<Result<std::convert::Infallible, TunnelError>> {
        let connector = connector_config(self.dir.path(), &self.upstream, connections);
        spawn_connector(self.gw.tunnel_addr().unwrap(), &self.ca(), &self.dir.path().join(key), connector)
    }

    async fn get(&self, path: &str) -> (u16, String) {
        let resp = self
            .http
            .get(format!("{}{path}", self.gw.data_url()))
            .header("authorization", "Bearer agent-token-must-not-pass")
            .header("cookie", "session=agent")
            .send()
            .await
            .unwrap();
        (resp.status().as_u16(), resp.text().await.unwrap_or_default())
    }
}

fn audit_text(dir: &Path) -> String {
    let mut out = String::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.push_str(&audit_text(&path));
        } else if let Ok(bytes) = std::fs::read(&path) {
            out.push_str(&String::from_utf8_lossy(&bytes));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_reach_the_upstream_through_the_connector_with_its_credential_only() {
    let w = World::new().await;
    let _c = w.connector("edge.key", &["up"]);
    wait_tunnels(&w.gw, 1).await;

    let (status, body) = w.get("/up/subscriptions?api-version=1").await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"target\":\"/subscriptions?api-version=1\""), "{body}");
    let seen = w.upstream.received();
    assert_eq!(seen.len(), 1);
    let h = &seen[0].headers;
    assert_eq!(h.get("authorization").unwrap(), &format!("Bearer {CONNECTOR_SECRET}"));
    assert!(h.get("cookie").is_none(), "the agent's cookie reached the upstream");
    assert!(h.get(portcullis_connector::GRANT_EXPIRES_HEADER).is_none());
    assert!(h.get(portcullis_tunnel::CONNECTION_HEADER).is_none());
    assert!(h.iter().all(|(_, v)| !v.to_str().unwrap_or("").contains("agent-token-must-not-pass")));

    // Bodies stream both ways, and many requests share the tunnel at once.
    let big = w.http.get(format!("{}/up/big?bytes={}", w.gw.data_url(), 8 << 20)).send().await.unwrap();
    assert_eq!(big.bytes().await.unwrap().len(), 8 << 20);
    let upload = vec![b'u'; 3 << 20];
    let posted = w.http.post(format!("{}/up/upload", w.gw.data_url())).body(upload).send().await.unwrap();
    assert!(posted.text().await.unwrap().contains("\"body_len\":3145728"));
    let calls = (0..32).map(|i| w.get_owned(format!("/up/item/{i}")));
    for (status, body) in futures_util::future::join_all(calls).await {
        assert_eq!(status, 200, "{body}");
    }
    let status = w.gw.connectors();
    let edge = status.iter().find(|c| c.name == "edge-1").unwrap();
    assert!(edge.connected && edge.requests_served >= 35, "{edge:?}");
    assert_eq!(edge.connections, vec!["up".to_owned()]);

    let dir = w.dir.path().join("data");
    w.gw.shutdown().await;
    let audit = audit_text(&dir);
    assert!(audit.contains("connector_link") && audit.contains("enrolled"), "the enrollment is audited");
    assert!(!audit.contains(CONNECTOR_SECRET), "the connector's secret reached the gateway's records");
}

impl World {
    async fn get_owned(&self, path: String) -> (u16, String) {
        self.get(&path).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_no_connector_attached_requests_fail_with_502_and_reach_nothing() {
    let w = World::new().await;
    let (status, body) = w.get("/up/anything").await;
    assert_eq!(status, 502, "{body}");
    assert!(body.contains("connector_unavailable"), "{body}");
    assert!(w.upstream.received().is_empty());
    w.gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connector_dying_mid_request_is_a_prompt_502_not_a_hang() {
    let w = World::new().await;
    let c = w.connector("edge.key", &["up"]);
    wait_tunnels(&w.gw, 1).await;
    // The upstream holds this one for 60 s; the connector dies while it waits.
    let url = format!("{}/up/slow?ms=60000", w.gw.data_url());
    let http = w.http.clone();
    let pending = tokio::spawn(async move {
        let resp = http.get(url).send().await.unwrap();
        (resp.status().as_u16(), resp.text().await.unwrap_or_default())
    });
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while w.upstream.received().is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "the request never reached the upstream");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    c.abort();
    let (status, body) = tokio::time::timeout(Duration::from_secs(20), pending)
        .await
        .expect("the agent was left hanging after the connector died")
        .unwrap();
    assert_eq!(status, 502, "{body}");
    assert!(body.contains("connector_unavailable"), "{body}");
    w.gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_share_the_load_and_one_dying_is_invisible_to_later_requests() {
    let w = World::new().await;
    let first = w.connector("edge.key", &["up"]);
    wait_tunnels(&w.gw, 1).await;
    // A replica: same name, same key (already pinned, so no token is spent).
    let _second = w.connector("edge.key", &["up"]);
    wait_tunnels(&w.gw, 2).await;
    for i in 0..20 {
        assert_eq!(w.get(&format!("/up/a/{i}")).await.0, 200);
    }
    first.abort();
    wait_tunnels(&w.gw, 1).await;
    let calls = (0..40).map(|i| w.get_owned(format!("/up/b/{i}")));
    let failed: Vec<_> =
        futures_util::future::join_all(calls).await.into_iter().filter(|(s, _)| *s != 200).collect();
    assert!(failed.is_empty(), "requests failed after the dead replica was noticed: {failed:?}");
    w.gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_connector_reconnects_after_a_gateway_restart() {
    let upstream = Upstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    let gw = start_gateway(dir.path(), &upstream, "127.0.0.1:0").await;
    let tunnel = gw.tunnel_addr().unwrap();
    let ca = gw.tunnel_ca().unwrap().to_owned();
    let connector = connector_config(dir.path(), &upstream, &["up"]);
    let _c = spawn_connector(tunnel, &ca, &dir.path().join("edge.key"), connector);
    wait_tunnels(&gw, 1).await;
    gw.shutdown().await;

    // Same data directory (pins, CA) and same tunnel port: the connector finds it again.
    let restarted = std::time::Instant::now();
    let gw = start_gateway(dir.path(), &upstream, &tunnel.to_string()).await;
    assert_eq!(gw.tunnel_ca().unwrap(), ca, "the CA the connector trusts is kept");
    wait_tunnels(&gw, 1).await;
    // Reported, not asserted (a loaded machine may be slower): the backoff caps at 1 s.
    println!("the connector was back {:?} after the gateway began to restart", restarted.elapsed());
    let resp = reqwest::get(format!("{}/up/after-restart", gw.data_url())).await.unwrap();
    assert_eq!(resp.status(), 200);
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connector_gets_only_the_connections_that_name_it_and_keys_stay_pinned() {
    let w = World::new().await;
    // edge-1 claims `other` too, which the gateway gave to edge-2.
    let _c = w.connector("edge.key", &["up", "other"]);
    wait_tunnels(&w.gw, 1).await;
    let (status, body) = w.get("/other/x").await;
    assert_eq!(status, 502, "{body}");
    assert!(body.contains("connector_unavailable"), "{body}");
    assert_eq!(w.get("/up/x").await.0, 200);
    assert_eq!(w.upstream.received().len(), 1, "only the request for `up` went through");

    // Another key under the pinned name is refused for good (the token is spent anyway).
    let impostor = w.connector("impostor.key", &["up"]);
    let refused = tokio::time::timeout(Duration::from_secs(20), impostor).await.unwrap().unwrap();
    match refused {
        Err(TunnelError::Refused { code, .. }) => assert_eq!(code.as_str(), "key_mismatch"),
        other => panic!("the impostor was not refused: {other:?}"),
    }
    w.gw.shutdown().await;
}

/// The real `azure-storage-blob` SDK, holding no key, through gateway → tunnel →
/// connector → Azurite: Azurite verifies the connector's SharedKey signature for real.
/// Needs `tests/peers/install.sh`; fails (never skips) when the peers are missing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_storage_sdk_works_through_a_remote_connector_that_signs_with_the_account_key() {
    use portcullis_sandbox::peers::{run_pytest, Azurite, AZURITE_ACCOUNT, AZURITE_KEY};
    let azurite = Azurite::start().await.expect("Azurite (tests/peers/install.sh)");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("tokens"), format!("{TOKEN}\n")).unwrap();
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
# Listings (XML) are masked; blob contents, which no profile can inspect, pass as they are.
[mask.profiles.blob-data]
extends = "azure"
on_unknown = "pass"
[[connections]]
name = "blob"
kind = "azure-storage"
upstream = "{}"
connector = "edge-1"
mask = "blob-data"
"#,
        azurite.account_url()
    );
    let config = Config::from_toml(&toml, &dir.path().join("portcullis.toml"), std::iter::empty()).unwrap();
    let gw = portcullis_gateway::start(config).await.unwrap();

    let site = tempfile::tempdir().unwrap();
    std::fs::write(site.path().join("account-key"), AZURITE_KEY).unwrap();
    let text = format!(
        "[[connections]]\nname = \"blob\"\nupstream = \"{}\"\n\
         credential = {{ kind = \"storage-shared-key\", account = \"{AZURITE_ACCOUNT}\", key_file = \"account-key\" }}\n",
        azurite.account_url()
    );
    let connector = Arc::new(
        Connector::from_config(&ConnectorConfig::from_toml(&text, &site.path().join("c.toml")).unwrap())
            .unwrap(),
    );
    let _c = spawn_connector(
        gw.tunnel_addr().unwrap(),
        gw.tunnel_ca().unwrap(),
        &site.path().join("edge.key"),
        connector,
    );
    wait_tunnels(&gw, 1).await;

    let run =
        run_pytest("test_blob_gateway.py", &[("PORTCULLIS_BLOB_URL", format!("{}/blob", gw.data_url()))])
            .await
            .unwrap();
    assert!(run.passed, "{}", run.report());
    let data = dir.path().join("data");
    gw.shutdown().await;
    assert!(!audit_text(&data).contains(AZURITE_KEY), "the account key reached the gateway's records");
}

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// A slow agent: HTTP/2 flow control on the tunnel and the agent's own connection hold the
/// connector (and the upstream) back; nothing buffers the 512 MiB body. Gateway, connector
/// and upstream all live in this process, so its resident memory covers all three.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_agent_holds_the_connector_back_instead_of_filling_memory() {
    let w = World::new().await;
    let _c = w.connector("edge.key", &["up"]);
    wait_tunnels(&w.gw, 1).await;
    let before = rss_kib();
    let mut resp =
        w.http.get(format!("{}/up/big?bytes={}", w.gw.data_url(), 512u64 << 20)).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let mut got = 0usize;
    while got < 4 << 20 {
        got += resp.chunk().await.unwrap().expect("the body continues").len();
    }
    // The agent stops reading. Unbounded buffering anywhere would now fill memory.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let grown_mib = rss_kib().saturating_sub(before) / 1024;
    println!("read {} MiB of 512, then paused: resident memory grew {grown_mib} MiB", got >> 20);
    assert!(
        grown_mib < 128,
        "memory grew {grown_mib} MiB while the agent paused: something buffered the body"
    );
    drop(resp);
    w.gw.shutdown().await;
}
