//! Starting and stopping the gateway.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use portcullis_access::{AccessConfig, AccessPolicy, AccessService};
use portcullis_audit::{AuditConfig, AuditLog};
use portcullis_identity::{Authenticator, GrantKeys};
use portcullis_store::{SqliteStore, Store, StoreError};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::auth_events::AuthEvents;
use crate::config::{Config, ListenerConfig};
use crate::control::{self, ControlState};
use crate::forward::build_client;
use crate::guardrails::{ConnectionRules, GuardrailRules, RulesReloadError};
use crate::listener::{self, Bound, Handler};
use crate::metrics::Metrics;
use crate::pipeline::DataPlane;
use crate::route::{Connection, Routes, Via};
use crate::tls;

/// Why the gateway could not start. Each variant names what to fix.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The store could not be opened or migrated.
    #[error("store in {data_dir}: {source}")]
    Store {
        /// The data directory.
        data_dir: String,
        /// The store's error.
        source: StoreError,
    },
    /// A listener could not bind.
    #[error("listeners.{listener}: cannot listen on {addr}: {source}")]
    Bind {
        /// Which listener.
        listener: &'static str,
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// A listener's TLS files are unusable.
    #[error("listeners.{listener}.tls: {detail}")]
    Tls {
        /// Which listener.
        listener: &'static str,
        /// What is wrong.
        detail: String,
    },
    /// The audit log could not be opened (its tables, its signing key).
    #[error("audit log: {detail}")]
    Audit {
        /// What is wrong.
        detail: String,
    },
    /// A masking profile cannot be compiled, or a connection names an unknown one.
    #[error("mask: {detail}")]
    Mask {
        /// What is wrong.
        detail: String,
    },
    /// The access settings or policies are unusable.
    #[error("access: {detail}")]
    Access {
        /// What is wrong.
        detail: String,
    },
    /// The identity settings or the grant-token keys are unusable.
    #[error("identity: {detail}")]
    Identity {
        /// What is wrong.
        detail: String,
    },
    /// A connection's upstream client could not be built.
    #[error("connections `{connection}`: {detail}")]
    Upstream {
        /// The connection.
        connection: String,
        /// What is wrong.
        detail: String,
    },
}

/// A started gateway. Dropping it does not stop it; call [`RunningGateway::shutdown`].
pub struct RunningGateway {
    data_addr: SocketAddr,
    data_scheme: &'static str,
    control_addr: SocketAddr,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    control: Arc<ControlState>,
    store: Arc<SqliteStore>,
    audit: Arc<AuditLog>,
    tunnel_addr: Option<SocketAddr>,
    tunnel_ca: Option<std::path::PathBuf>,
    /// Records connector events; ends with the gateway.
    tunnel_events: Option<JoinHandle<()>>,
    /// The interception CA agents trust (`data_dir/proxy-ca.pem`).
    proxy_ca: std::path::PathBuf,
}

impl RunningGateway {
    /// Reads and compiles every connection's guardrail rules again and puts them in force,
    /// all or none, as an audited `config_reload` event (`SIGHUP` to `portcullis serve`,
    /// `POST /api/v1/rules/reload`). On an error the rules in force stay.
    /// `by` says who asked, for the audit event.
    pub async fn reload_rules(&self, by: &str) -> Result<Vec<ConnectionRules>, RulesReloadError> {
        self.control.rules.reload(by).await
    }

    /// The data listener's bound address (agents).
    pub fn data_addr(&self) -> SocketAddr {
        self.data_addr
    }

    /// The data listener's base URL, e.g. `http://127.0.0.1:41234`.
    pub fn data_url(&self) -> String {
        format!("{}://{}", self.data_scheme, self.data_addr)
    }

    /// The control listener's bound address.
    pub fn control_addr(&self) -> SocketAddr {
        self.control_addr
    }

    /// The tunnel listener's bound address, when `listeners.tunnel` is configured.
    pub fn tunnel_addr(&self) -> Option<SocketAddr> {
        self.tunnel_addr
    }

    /// The CA certificate connectors must trust (`data_dir/tunnel-ca.pem`), when the
    /// gateway made its own tunnel certificate.
    pub fn tunnel_ca(&self) -> Option<&std::path::Path> {
        self.tunnel_ca.as_deref()
    }

    /// The CA certificate agents trust for intercepted hosts (`data_dir/proxy-ca.pem`).
    pub fn proxy_ca(&self) -> &std::path::Path {
        &self.proxy_ca
    }

    /// Every remote connector the gateway knows, as `GET /api/v1/connectors` shows them
    /// (empty without a tunnel listener).
    pub fn connectors(&self) -> Vec<portcullis_tunnel::ConnectorStatus> {
        self.control.tunnel.as_ref().map(|t| t.pool().status()).unwrap_or_default()
    }

    /// The store, for wiring the crates that own tables in it.
    pub fn store(&self) -> Arc<SqliteStore> {
        self.store.clone()
    }

    /// Stops accepting, lets in-flight requests finish (up to `limits.shutdown_grace`),
    /// then returns.
    pub async fn shutdown(self) {
        self.control.draining.store(true, Ordering::Relaxed);
        let _ = self.stop.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
        if let Some(t) = self.tunnel_events {
            // Let the last disconnections reach the log, then stop listening.
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            t.abort();
        }
        // Signs a final checkpoint over everything recorded.
        self.audit.shutdown().await;
    }

    /// Runs until the process receives SIGTERM or Ctrl-C, then shuts down gracefully.
    /// SIGHUP reloads the guardrail rules ([`RunningGateway::reload_rules`]) and keeps
    /// serving; a reload that fails leaves the rules in force and is logged.
    pub async fn run_until_signal(self) {
        wait_for_signal(&self).await;
        tracing::info!("shutdown signal received; draining");
        self.shutdown().await;
    }
}

async fn wait_for_signal(gateway: &RunningGateway) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let (Ok(mut term), Ok(mut hup)) = (signal(SignalKind::terminate()), signal(SignalKind::hangup()))
        else {
            let _ = tokio::signal::ctrl_c().await;
            return;
        };
        loop {
            tokio::select! {
                _ = term.recv() => return,
                _ = tokio::signal::ctrl_c() => return,
                _ = hup.recv() => match gateway.reload_rules("signal SIGHUP").await {
                    Ok(items) => tracing::info!(connections = items.len(), "SIGHUP: guardrail rules reloaded"),
                    Err(e) => tracing::error!(error = %e, "SIGHUP: guardrail rules not reloaded"),
                },
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = gateway;
        let _ = tokio::signal::ctrl_c().await;
    }
}

async fn bind(name: &'static str, cfg: &ListenerConfig) -> Result<Bound, StartError> {
    let tls = match &cfg.tls {
        Some(t) => Some(tls::acceptor(t).map_err(|detail| StartError::Tls { listener: name, detail })?),
        None => None,
    };
    let tcp = TcpListener::bind(cfg.addr).await.map_err(|source| StartError::Bind {
        listener: name,
        addr: cfg.addr,
        source,
    })?;
    let addr =
        tcp.local_addr().map_err(|source| StartError::Bind { listener: name, addr: cfg.addr, source })?;
    Ok(Bound { name, tcp, tls, addr })
}

/// The authenticator: configured issuers plus the gateway's own grant-token keys in
/// `data_dir`. Keys are fetched in the background so a provider that is down at start
/// does not stop the gateway (requests then get 503 until it answers).
fn authenticator(config: &Config) -> Result<(Arc<Authenticator>, Arc<GrantKeys>), StartError> {
    let keys = GrantKeys::load_or_create(&config.data_dir)
        .map_err(|e| StartError::Identity { detail: e.to_string() })?;
    let keys = match &config.identity.grant_issuer {
        Some(iss) => keys.with_issuer(iss.clone()),
        None => keys,
    };
    let keys = Arc::new(keys);
    let auth = Authenticator::new(config.identity.issuers.clone(), Some(keys.clone())).map_err(|errors| {
        StartError::Identity { detail: errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ") }
    })?;
    let auth = Arc::new(auth);
    let prefetch = auth.clone();
    tokio::spawn(async move {
        for (issuer, e) in prefetch.prefetch().await {
            tracing::warn!(%issuer, error = e.detail(), "could not fetch the issuer's keys yet; will retry on use");
        }
    });
    Ok((auth, keys))
}

/// Just-in-time access: its tables, its Cedar policies, the in-memory grant index and
/// the sweeper that expires requests and grants.
async fn access_service(
    config: &Config,
    store: &SqliteStore,
    keys: Arc<GrantKeys>,
    control_url: &str,
    audit: Arc<AuditLog>,
) -> Result<AccessService, StartError> {
    let defaults =
        toml::from_str::<AccessConfig>("").map_err(|e| StartError::Access { detail: e.to_string() })?;
    let mut access_config = config.access.clone().unwrap_or_else(|| defaults.clone());
    // Agents are told where to ask for access (`request_url`). Unless configured (a load
    // balancer's address, say), that is the control listener as bound.
    if access_config.public_url == defaults.public_url {
        access_config.public_url = control_url.to_owned();
    }
    let policy = AccessPolicy::from_config(&access_config)
        .map_err(|e| StartError::Access { detail: e.to_string() })?;
    let service = AccessService::open(store, access_config, policy, keys)
        .await
        .map_err(|e| StartError::Access { detail: e.to_string() })?
        .with_event_sink(Arc::new(crate::access_audit::AuditSink(audit)));
    service.start_sweeper();
    Ok(service)
}

/// The embedded connector for every connection with a credential (secrets and
/// certificates are read now, so a missing file stops the start); `None` if there is none.
fn embedded_connector(config: &Config) -> Result<Option<Arc<portcullis_connector::Connector>>, StartError> {
    let embedded: Vec<portcullis_connector::ConnectionConfig> = config
        .connections
        .iter()
        .filter_map(|c| {
            let credential = c.credential.clone()?;
            Some(portcullis_connector::ConnectionConfig {
                name: c.name.clone(),
                upstream: c.upstream.clone(),
                upstream_ca: c.upstream_ca.clone(),
                credential,
            })
        })
        .collect();
    if embedded.is_empty() {
        return Ok(None);
    }
    let connector = portcullis_connector::Connector::new(&embedded).map_err(|e| match e {
        portcullis_connector::ConnectorError::Config { connection, detail } => {
            StartError::Upstream { connection, detail }
        }
        other => StartError::Upstream { connection: String::new(), detail: other.to_string() },
    })?;
    Ok(Some(Arc::new(connector)))
}

/// The audit log: in the SQLite store, or in PostgreSQL (`audit.database_url`).
async fn open_audit(
    config: &Config,
    store: &SqliteStore,
) -> Result<(AuditLog, portcullis_store::StoreHandle), StartError> {
    let settings = &config.audit;
    let audit_config = AuditConfig {
        auditor_recipient: settings.auditor_recipient.clone(),
        checkpoint_every: settings.checkpoint_every,
        checkpoint_interval: settings.checkpoint_interval,
        ..AuditConfig::default()
    };
    let handle = match &settings.database_url {
        None => portcullis_store::StoreHandle::from(store),
        Some(url) => portcullis_store::StoreHandle::open(Some(url), &config.data_dir)
            .await
            .map_err(|e| StartError::Audit { detail: format!("audit.database_url: {e}") })?,
    };
    let log = AuditLog::open(handle.clone(), audit_config)
        .await
        .map_err(|e| StartError::Audit { detail: e.to_string() })?;
    Ok((log, handle))
}

/// Applies `audit.retain_for` / `audit.retain_max_bytes` now and every hour (each removal
/// is itself an audited event); nothing when neither is set.
fn start_retention(config: &Config, audit: Arc<AuditLog>) {
    let policy = portcullis_audit::RetentionPolicy {
        max_age: config.audit.retain_for,
        max_bytes: config.audit.retain_max_bytes.map(|b| b.0),
    };
    if policy.max_age.is_none() && policy.max_bytes.is_none() {
        return;
    }
    tokio::spawn(async move {
        let mut every = tokio::time::interval(std::time::Duration::from_secs(3600));
        loop {
            every.tick().await;
            match audit.apply_retention(policy.clone()).await {
                Ok(r) if r.events_removed > 0 => {
                    tracing::info!(
                        events = r.events_removed,
                        bodies = r.blobs_removed,
                        "audit retention removed old events"
                    )
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::error!(code = e.reason.code(), detail = %e, "audit retention failed; will retry")
                }
            }
        }
    });
}

/// Opens the store, binds the listeners and starts serving.
pub async fn start(config: Config) -> Result<RunningGateway, StartError> {
    let store = SqliteStore::open(&config.data_dir)
        .await
        .map_err(|source| StartError::Store { data_dir: config.data_dir.display().to_string(), source })?;
    let store = Arc::new(store);

    let (audit, audit_store) = open_audit(&config, &store).await?;
    let audit = Arc::new(audit);
    start_retention(&config, audit.clone());
    let (stop, stopped) = watch::channel(false);
    let tunnel = crate::tunnel_link::start(&config, audit.clone(), stopped.clone()).await?;
    let pool = tunnel.as_ref().map(|t| t.server.pool());

    let connector = embedded_connector(&config)?;
    let mut routes = Routes::default();
    let mut guarded = Vec::with_capacity(config.connections.len());
    for c in &config.connections {
        let client = build_client(c.upstream_ca.as_deref())
            .map_err(|detail| StartError::Upstream { connection: c.name.clone(), detail })?;
        let sources = crate::guardrails::rule_sources(c);
        let rules = crate::guardrails::load(&sources).map_err(|detail| StartError::Upstream {
            connection: c.name.clone(),
            detail: format!("rules: {detail}"),
        })?;
        let via = match (&connector, &pool) {
            (_, Some(pool)) if c.remote_connector().is_some() => Via::Remote(pool.clone()),
            (Some(connector), _) if connector.serves(&c.name) => Via::Embedded(connector.clone()),
            _ => Via::Direct,
        };
        let connection = Connection::new(c, client, rules).via(via);
        guarded.push((routes.insert(connection, &c.hosts), sources));
    }
    let rules = Arc::new(GuardrailRules::new(guarded, audit.clone()));
    rules
        .record_start()
        .await
        .map_err(|e| StartError::Audit { detail: format!("recording the guardrail rules: {e}") })?;
    let data = bind("data", &config.listeners.data).await?;
    let control = bind("control", &config.listeners.control).await?;
    let (data_addr, control_addr) = (data.addr, control.addr);
    let data_scheme = if data.tls.is_some() { "https" } else { "http" };
    let data_url = format!("{data_scheme}://{}", loopback_if_unspecified(data_addr));
    let (auth, grant_keys) = authenticator(&config)?;
    let control_url = format!("{}://{}", if control.tls.is_some() { "https" } else { "http" }, control_addr);
    let access = access_service(&config, &store, grant_keys.clone(), &control_url, audit.clone()).await?;
    let require_auth = !config.identity.issuers.is_empty();
    if !require_auth {
        tracing::warn!(
            "no [[identity.issuers]] configured: the data listener forwards unauthenticated requests \
             (development only; allowed because every listener is on loopback)"
        );
    }
    let metrics = Arc::new(Metrics::new());
    let auth_events = Arc::new(AuthEvents::new(audit.clone()));
    let masking = crate::masking::Masking::new(&config.mask, &config.connections)
        .map_err(|detail| StartError::Mask { detail })?;
    let data_plane = Arc::new(DataPlane {
        routes,
        limits: config.limits.clone(),
        metrics: metrics.clone(),
        auth: auth.clone(),
        audit: audit.clone(),
        access: access.clone(),
        auth_events: auth_events.clone(),
        masking,
        require_auth,
        record_body_bytes: usize::try_from(config.audit.record_body_bytes.0).unwrap_or(usize::MAX),
        seal_unmasked: config.audit.auditor_recipient.is_some(),
    });

    // The forward proxy, managed-identity endpoint and cloud metadata (proxy.rs) sit in
    // front of the pipeline on the data listener.
    let (front, agent_env) = front_door(&config, data_plane, grant_keys, data_url, stopped.clone())?;
    let proxy_ca = front.ca.ca_file().to_path_buf();

    let control_state = Arc::new(ControlState {
        store: store.clone() as Arc<dyn Store>,
        metrics,
        auth,
        audit: audit.clone(),
        access,
        auth_events,
        draining: std::sync::atomic::AtomicBool::new(false),
        tunnel: tunnel.as_ref().map(|t| t.server.clone()),
        audit_store,
        agent_env,
        rules,
    });
    let data_handler: Handler =
        Arc::new(move |info, req| Box::pin(crate::proxy::handle(front.clone(), info, req)));
    let limits = config.limits.clone();
    let mut tasks = vec![
        tokio::spawn(listener::serve(
            data,
            data_handler,
            limits.clone(),
            limits.max_connections,
            stopped.clone(),
        )),
        tokio::spawn(listener::serve(
            control,
            control::handler(control_state.clone()),
            limits,
            1024,
            stopped,
        )),
    ];
    let (tunnel_addr, tunnel_ca, tunnel_events) = match tunnel {
        Some(t) => {
            tasks.push(t.serve);
            (Some(t.addr), t.ca_file, Some(t.recorder))
        }
        None => (None, None, None),
    };
    tracing::info!(
        data = %data_addr,
        control = %control_addr,
        gateway_id = store.gateway_id(),
        connections = config.connections.len(),
        "gateway started"
    );
    Ok(RunningGateway {
        data_addr,
        data_scheme,
        control_addr,
        stop,
        tasks,
        control: control_state,
        store,
        audit,
        tunnel_addr,
        tunnel_ca,
        tunnel_events,
        proxy_ca,
    })
}

/// A wildcard listen address as agents on this machine reach it.
fn loopback_if_unspecified(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        std::net::IpAddr::V4(ip) if ip.is_unspecified() => SocketAddr::from(([127, 0, 0, 1], addr.port())),
        std::net::IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::from(([0u16, 0, 0, 0, 0, 0, 0, 1], addr.port()))
        }
        _ => addr,
    }
}

/// The data listener's front door (`proxy.rs`) and what `portcullis env` reports.
fn front_door(
    config: &Config,
    dp: Arc<DataPlane>,
    keys: Arc<GrantKeys>,
    data_url: String,
    stopped: watch::Receiver<bool>,
) -> Result<(Arc<crate::proxy::Front>, Arc<crate::agent_env::AgentEnvironment>), StartError> {
    let ca = crate::proxy_ca::ProxyCa::load_or_create(&config.data_dir)
        .map_err(|detail| StartError::Tls { listener: "data", detail: format!("proxy CA: {detail}") })?;
    let ca_pem = std::fs::read_to_string(ca.ca_file()).map_err(|e| StartError::Tls {
        listener: "data",
        detail: format!("{}: {e}", ca.ca_file().display()),
    })?;
    let mut claimed = std::collections::HashMap::new();
    let mut hosts = std::collections::BTreeMap::new();
    for c in &config.connections {
        for h in &c.hosts {
            claimed.insert(h.to_ascii_lowercase(), c.name.clone());
        }
        hosts.insert(c.name.clone(), c.hosts.clone());
    }
    let arm_connection = config
        .connections
        .iter()
        .find(|c| c.kind == crate::config::ConnectionKind::AzureArm)
        .map(|c| c.name.clone());
    let front = crate::proxy::Front {
        dp,
        ca,
        claimed,
        arm_connection,
        keys,
        builder: Arc::new(listener::http_builder(&config.limits)),
        stopped,
    };
    let env = crate::agent_env::AgentEnvironment { data_url, ca_pem, hosts };
    Ok((Arc::new(front), Arc::new(env)))
}
