//! `portcullis connector --config connector.toml`: the in-network connector process.
//!
//! It reads its connections and credentials (`[[connections]]`, the connector crate) and
//! how to reach the gateway (`[gateway]`, here), dials out to the gateway's tunnel
//! listener, and answers every request the gateway sends by injecting the connection's
//! credential and forwarding to the upstream. It never opens a listening port.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use http_body_util::BodyExt;
use portcullis_connector::{Connector, ConnectorConfig};
use portcullis_tunnel::{handler_fn, ConnectorKey, TunnelClient, TunnelClientConfig};
use serde::Deserialize;

/// The `[gateway]` table of `connector.toml` (docs/connector.md).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GatewayLink {
    /// The gateway's tunnel listener, `host:port`.
    address: String,
    /// The name on the gateway's tunnel certificate; default: the host part of `address`.
    server_name: Option<String>,
    /// PEM CA certificate(s) to trust for the tunnel: the gateway's `data_dir/tunnel-ca.pem`
    /// or the CA that signed `listeners.tunnel.tls`.
    ca_file: PathBuf,
    /// This connector's name; the gateway's connections name it in `connector = "…"`.
    name: String,
    /// This connector's Ed25519 key (PKCS#8 PEM), created on first start with mode 0600.
    /// Default: `connector.key` next to the config file.
    key_file: Option<PathBuf>,
    /// A file holding the enrollment token; needed only until the gateway pinned the key.
    enrollment_token_file: Option<PathBuf>,
    /// An environment variable holding the enrollment token.
    enrollment_token_env: Option<String>,
    /// Tunnels kept up side by side (default 2: one dying is invisible but for its
    /// in-flight requests, and the gateway's HTTP/2 work spreads over two connections,
    /// which measured 83–87 % of the embedded throughput against 77–81 % with one).
    #[serde(default = "two")]
    tunnels: usize,
    /// Threads that run the connector (default 1: one thread does TLS, HTTP/2 and the
    /// upstream calls, with no hand-off between threads per request).
    #[serde(default = "one")]
    worker_threads: usize,
    /// Log format: `json` (default) or `text`.
    #[serde(default)]
    log_format: Option<String>,
}

fn one() -> usize {
    1
}

fn two() -> usize {
    2
}

fn resolve(base: &Path, p: &Path) -> PathBuf {
    if p.is_relative() {
        base.join(p)
    } else {
        p.to_owned()
    }
}

/// Reads the config, starts the runtime it asks for (`gateway.worker_threads`) and runs the
/// connector on it.
pub(crate) fn main(config_path: &Path) -> anyhow::Result<ExitCode> {
    let config = ConnectorConfig::load(config_path)?;
    let table = config.gateway.clone().with_context(|| {
        format!("{}: [gateway] is missing: where is the gateway's tunnel listener?", config_path.display())
    })?;
    let link: GatewayLink = table.try_into().map_err(|e: toml::de::Error| {
        anyhow::anyhow!("{}: [gateway]: {}", config_path.display(), e.message())
    })?;
    // One thread by default: a connector's work per request is small, and on a thread of
    // its own every request runs from tunnel frame to upstream call and back without a
    // cross-thread wake-up (bench/README.md, remote connector).
    let runtime = match link.worker_threads {
        0 => anyhow::bail!("{}: gateway.worker_threads must be at least 1", config_path.display()),
        1 => tokio::runtime::Builder::new_current_thread().enable_all().build(),
        n => tokio::runtime::Builder::new_multi_thread().worker_threads(n).enable_all().build(),
    }
    .context("starting the async runtime")?;
    runtime.block_on(run(config_path, config, link))
}

/// Starts logging and keeps the tunnel up until a permanent refusal (revoked, token
/// spent, …) or Ctrl-C / SIGTERM.
async fn run(config_path: &Path, config: ConnectorConfig, link: GatewayLink) -> anyhow::Result<ExitCode> {
    let base = config_path.parent().unwrap_or(Path::new("."));
    let format = match link.log_format.as_deref() {
        None | Some("json") => portcullis_gateway::config::LogFormat::Json,
        Some("text") => portcullis_gateway::config::LogFormat::Text,
        Some(other) => {
            anyhow::bail!("{}: gateway.log_format `{other}`: use json or text", config_path.display())
        }
    };
    crate::logging::init(format, "info")?;
    if config.connections.is_empty() {
        anyhow::bail!("{}: no [[connections]]: this connector would serve nothing", config_path.display());
    }
    let connector = Arc::new(Connector::from_config(&config)?);

    let ca_file = resolve(base, &link.ca_file);
    let ca = std::fs::read(&ca_file).with_context(|| format!("gateway.ca_file {}", ca_file.display()))?;
    let tls = portcullis_tunnel::client_tls_from_ca_pem(&ca)?;
    let key_file = resolve(base, link.key_file.as_deref().unwrap_or(Path::new("connector.key")));
    let key = ConnectorKey::load_or_create(&key_file)
        .with_context(|| format!("gateway.key_file {}", key_file.display()))?;
    let token = match (&link.enrollment_token_file, &link.enrollment_token_env) {
        (Some(f), _) => {
            let f = resolve(base, f);
            Some(
                std::fs::read_to_string(&f)
                    .with_context(|| format!("gateway.enrollment_token_file {}", f.display()))?
                    .trim()
                    .to_owned(),
            )
        }
        (None, Some(var)) => std::env::var(var).ok().map(|t| t.trim().to_owned()),
        (None, None) => None,
    };
    let server_name = match &link.server_name {
        Some(n) => n.clone(),
        None => link
            .address
            .rsplit_once(':')
            .map_or(link.address.as_str(), |(h, _)| h)
            .trim_matches(['[', ']'])
            .to_owned(),
    };
    let mut tunnel =
        TunnelClientConfig::new(link.address.clone(), server_name, tls, link.name.clone(), Arc::new(key));
    tunnel.version = env!("CARGO_PKG_VERSION").to_owned();
    tunnel.connections = connector.connection_names();
    tunnel.enrollment_token = token;
    tunnel.tunnels = link.tunnels.max(1);
    tracing::info!(
        connector = %link.name,
        gateway = %link.address,
        connections = ?tunnel.connections,
        worker_threads = link.worker_threads,
        "connector starting"
    );

    let served = connector.clone();
    let handler = handler_fn(move |connection, req| {
        let connector = served.clone();
        Box::pin(async move {
            let req = req.map(|b| b.map_err(Into::into).boxed_unsync());
            connector.respond(&connection, req).await
        })
    });
    tokio::select! {
        result = TunnelClient::run(tunnel, handler) => {
            let Err(e) = result;
            tracing::error!(error = %e, "the gateway refused this connector; not retrying");
            eprintln!("portcullis connector: {e}");
            Ok(ExitCode::FAILURE)
        }
        () = shutdown_signal() => {
            tracing::info!("shutdown signal received; closing the tunnel");
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
