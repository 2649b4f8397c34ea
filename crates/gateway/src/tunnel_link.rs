//! Remote connectors: the tunnel listener (`listeners.tunnel`), its certificate, connector
//! enrollment, and a `connector_link` audit event for every connector that attaches,
//! detaches or is refused.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use portcullis_audit::{AuditEvent, AuditLog, EventDetail};
use portcullis_tunnel::{ConnectorEvent, TunnelServer, TunnelServerConfig, PINS_FILE};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use tokio::net::TcpListener;
use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;

use crate::config::{Config, ListenerConfig};
use crate::server::StartError;

/// The CA certificate connectors trust when the gateway makes its own tunnel certificate.
pub const TUNNEL_CA_FILE: &str = "tunnel-ca.pem";
/// Its private key (mode 0600); never leaves `data_dir`.
const TUNNEL_CA_KEY_FILE: &str = "tunnel-ca.key";
const CA_NAME: &str = "Portcullis tunnel CA";

/// A running tunnel listener.
pub(crate) struct TunnelLink {
    pub(crate) server: TunnelServer,
    pub(crate) addr: SocketAddr,
    /// The generated CA certificate's file, when the gateway made its own certificate.
    pub(crate) ca_file: Option<PathBuf>,
    /// Accepts connectors until the gateway stops.
    pub(crate) serve: JoinHandle<()>,
    /// Records connector events; runs as long as the pool exists.
    pub(crate) recorder: JoinHandle<()>,
}

fn tls_err(detail: impl std::fmt::Display) -> StartError {
    StartError::Tls { listener: "tunnel", detail: detail.to_string() }
}

/// Binds `listeners.tunnel` (if configured), loads the pinned connectors and starts
/// accepting. Connectors may serve only the connections that name them.
pub(crate) async fn start(
    config: &Config,
    audit: Arc<AuditLog>,
    mut stop: watch::Receiver<bool>,
) -> Result<Option<TunnelLink>, StartError> {
    let Some(listener) = &config.listeners.tunnel else { return Ok(None) };
    let tcp = TcpListener::bind(listener.addr).await.map_err(|source| StartError::Bind {
        listener: "tunnel",
        addr: listener.addr,
        source,
    })?;
    let addr = tcp.local_addr().map_err(|source| StartError::Bind {
        listener: "tunnel",
        addr: listener.addr,
        source,
    })?;
    let (tls, ca_file) = server_tls(config, listener, addr)?;
    let mut server_config = TunnelServerConfig::new(tls, config.data_dir.join(PINS_FILE));
    server_config.enrollment_tokens = enrollment_tokens(config)?;
    server_config.allowed_connections = Some(allowed_connections(config));
    let server = TunnelServer::new(server_config).map_err(|e| tls_err(format!("connectors: {e}")))?;

    let events = server.pool().subscribe();
    let recorder = tokio::spawn(record_events(events, audit));
    let accepting = server.clone();
    let serve = tokio::spawn(async move {
        tokio::select! {
            r = accepting.serve(tcp) => {
                if let Err(e) = r {
                    tracing::error!(error = %e, "the tunnel listener stopped");
                }
            }
            _ = stop.wait_for(|s| *s) => {}
        }
        accepting.shutdown();
    });
    tracing::info!(tunnel = %addr, ca = ?ca_file, "tunnel listener started");
    Ok(Some(TunnelLink { server, addr, ca_file, serve, recorder }))
}

/// Which connections each remote connector may serve, from the connections that name it.
fn allowed_connections(config: &Config) -> BTreeMap<String, Vec<String>> {
    let mut allowed: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for c in &config.connections {
        if let Some(name) = c.remote_connector() {
            allowed.entry(name.to_owned()).or_default().push(c.name.clone());
        }
    }
    allowed
}

fn enrollment_tokens(config: &Config) -> Result<Vec<String>, StartError> {
    let bad = |detail: String| StartError::Tls { listener: "tunnel", detail };
    let mut tokens = Vec::new();
    if let Some(path) = &config.tunnel.enrollment_tokens_file {
        let text = std::fs::read_to_string(path)
            .map_err(|e| bad(format!("tunnel.enrollment_tokens_file {}: {e}", path.display())))?;
        tokens.extend(
            text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).map(str::to_owned),
        );
    }
    if let Some(var) = &config.tunnel.enrollment_token_env {
        let token =
            std::env::var(var).map_err(|_| bad(format!("tunnel.enrollment_token_env: ${var} is not set")))?;
        tokens.push(token.trim().to_owned());
    }
    if let Some(short) = tokens.iter().find(|t| t.len() < 16) {
        return Err(bad(format!(
            "an enrollment token is only {} characters; use at least 16 random ones (openssl rand -hex 24)",
            short.len()
        )));
    }
    Ok(tokens)
}

/// The configured certificate, or one signed by the gateway's own tunnel CA.
fn server_tls(
    config: &Config,
    listener: &ListenerConfig,
    addr: SocketAddr,
) -> Result<(Arc<rustls::ServerConfig>, Option<PathBuf>), StartError> {
    if let Some(t) = &listener.tls {
        let read = |p: &Path| std::fs::read(p).map_err(|e| tls_err(format!("{}: {e}", p.display())));
        let tls = portcullis_tunnel::server_tls_from_pem(&read(&t.cert)?, &read(&t.key)?).map_err(tls_err)?;
        return Ok((tls, None));
    }
    let mut names = vec!["localhost".to_owned()];
    if !addr.ip().is_unspecified() {
        names.push(addr.ip().to_string());
    }
    names.extend(config.tunnel.server_names.iter().cloned());
    names.dedup();
    let (issuer, ca_file) = load_or_create_ca(&config.data_dir)?;
    let leaf_key = KeyPair::generate().map_err(tls_err)?;
    let mut params = CertificateParams::new(names).map_err(tls_err)?;
    params.distinguished_name.push(DnType::CommonName, "portcullis tunnel");
    let leaf = params.signed_by(&leaf_key, &issuer).map_err(tls_err)?;
    let tls =
        portcullis_tunnel::server_tls_from_pem(leaf.pem().as_bytes(), leaf_key.serialize_pem().as_bytes())
            .map_err(tls_err)?;
    Ok((tls, Some(ca_file)))
}

fn ca_params() -> Result<CertificateParams, StartError> {
    let mut params = CertificateParams::new(Vec::<String>::new()).map_err(tls_err)?;
    params.distinguished_name.push(DnType::CommonName, CA_NAME);
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    Ok(params)
}

/// The CA in `data_dir` (made on first start): connectors pin its certificate, and every
/// start signs a fresh leaf for the configured names with its key.
fn load_or_create_ca(data_dir: &Path) -> Result<(Issuer<'static, KeyPair>, PathBuf), StartError> {
    let cert_path = data_dir.join(TUNNEL_CA_FILE);
    let key_path = data_dir.join(TUNNEL_CA_KEY_FILE);
    let io = |p: &Path, e: std::io::Error| tls_err(format!("{}: {e}", p.display()));
    if key_path.exists() && cert_path.exists() {
        let pem = std::fs::read_to_string(&key_path).map_err(|e| io(&key_path, e))?;
        let key = KeyPair::from_pem(&pem).map_err(|e| tls_err(format!("{}: {e}", key_path.display())))?;
        return Ok((Issuer::new(ca_params()?, key), cert_path));
    }
    let key = KeyPair::generate().map_err(tls_err)?;
    let params = ca_params()?;
    let cert = params.self_signed(&key).map_err(tls_err)?;
    write_private(&key_path, key.serialize_pem().as_bytes()).map_err(|e| io(&key_path, e))?;
    std::fs::write(&cert_path, cert.pem()).map_err(|e| io(&cert_path, e))?;
    Ok((Issuer::new(params, key), cert_path))
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f = options.open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

/// Every connector event becomes a `connector_link` audit event (and a log line).
async fn record_events(mut events: broadcast::Receiver<ConnectorEvent>, audit: Arc<AuditLog>) {
    loop {
        let event = match events.recv().await {
            Ok(e) => e,
            Err(broadcast::error::RecvError::Lagged(n)) => {
                tracing::error!(missed = n, "connector events were lost before they could be recorded");
                continue;
            }
            Err(broadcast::error::RecvError::Closed) => return,
        };
        let detail = match &event {
            ConnectorEvent::Connected { name, key_id, connections, remote, enrolled, version, .. } => {
                tracing::info!(connector = %name, key_id, %remote, enrolled, version, ?connections, "connector attached");
                EventDetail::ConnectorLink {
                    connector_id: name.clone(),
                    state: if *enrolled { "enrolled".into() } else { "up".into() },
                    connections: connections.clone(),
                    remote: Some(remote.to_string()),
                }
            }
            ConnectorEvent::Disconnected { name, key_id, reason, .. } => {
                tracing::info!(connector = %name, key_id, reason, "connector detached");
                EventDetail::ConnectorLink {
                    connector_id: name.clone(),
                    state: "down".into(),
                    connections: Vec::new(),
                    remote: None,
                }
            }
            ConnectorEvent::Refused { name, remote, code } => {
                tracing::warn!(connector = ?name, %remote, code = code.as_str(), "connector refused");
                EventDetail::ConnectorLink {
                    connector_id: name.clone().unwrap_or_default(),
                    state: format!("refused: {}", code.as_str()),
                    connections: Vec::new(),
                    remote: Some(remote.to_string()),
                }
            }
        };
        if let Err(e) = audit.append(AuditEvent::now(detail)).await {
            tracing::error!(code = e.reason.code(), "could not record a connector event");
        }
    }
}
