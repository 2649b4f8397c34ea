//! The demo's connector, as it would run inside the target's network: its own folder
//! with the Azure app's client secret, a config, and a tunnel it dials out to the gateway
//! with. Here it is a task in the demo process; `portcullis connector --config` runs the
//! same code as a process of its own.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use http_body_util::BodyExt;
use portcullis_connector::{Connector, ConnectorConfig};
use portcullis_sandbox::FakeEntra;
use portcullis_tunnel::{handler_fn, ConnectorKey, TunnelClient, TunnelClientConfig};

use super::gateway_step::CONNECTOR_NAME;

/// The connector's folder (removed at the end) and its secret (to prove it never leaks).
pub(super) struct Site {
    pub(super) dir: tempfile::TempDir,
    pub(super) secret: String,
}

/// Writes the connector's folder and starts it; it attaches in the background.
pub(super) async fn start(
    idp: &FakeEntra,
    arm_url: &str,
    tunnel: SocketAddr,
    gateway_ca: &Path,
    enrollment_token: &str,
) -> Result<(tokio::task::JoinHandle<()>, Site), String> {
    let app = idp.agent(super::CONNECTOR_APP).ok_or("the connector's app is not registered")?;
    let secret = app.secret.clone().ok_or("the connector's app has no secret")?;
    let dir = tempfile::tempdir().map_err(|e| format!("creating the connector's folder: {e}"))?;
    std::fs::write(dir.path().join("azure-secret"), &secret).map_err(|e| e.to_string())?;
    let toml = format!(
        r#"
[[connections]]
name = "azure-demo"
upstream = "{arm_url}"
credential = {{ kind = "entra-client-secret", tenant = "{tenant}", client_id = "{client_id}", secret_file = "azure-secret", scope = "https://management.azure.com/.default", authority = "{authority}" }}
"#,
        tenant = idp.tenant(),
        client_id = app.client_id,
        authority = idp.url(),
    );
    let config =
        ConnectorConfig::from_toml(&toml, &dir.path().join("connector.toml")).map_err(|e| e.to_string())?;
    let connector = Arc::new(Connector::from_config(&config).map_err(|e| e.to_string())?);
    let ca = std::fs::read(gateway_ca).map_err(|e| format!("reading the gateway's tunnel CA: {e}"))?;
    let tls = portcullis_tunnel::client_tls_from_ca_pem(&ca).map_err(|e| e.to_string())?;
    let key = ConnectorKey::load_or_create(&dir.path().join("connector.key")).map_err(|e| e.to_string())?;
    let mut tunnel_config = TunnelClientConfig::new(
        tunnel.to_string(),
        "localhost".into(),
        tls,
        CONNECTOR_NAME.into(),
        Arc::new(key),
    );
    tunnel_config.connections = connector.connection_names();
    tunnel_config.enrollment_token = Some(enrollment_token.to_owned());
    tunnel_config.version = env!("CARGO_PKG_VERSION").to_owned();
    let handler = handler_fn(move |connection, req| {
        let connector = connector.clone();
        Box::pin(async move {
            connector.respond(&connection, req.map(|b| b.map_err(Into::into).boxed_unsync())).await
        })
    });
    // Runs until the demo ends; it returns only if the gateway refuses it for good, and
    // then the next step that needs it says so.
    let task = tokio::spawn(async move {
        let _refused = TunnelClient::run(tunnel_config, handler).await;
    });
    Ok((task, Site { dir, secret }))
}
