//! The gateway's configuration: TOML, with `PORTCULLIS_*` environment overrides.
//!
//! Every field is documented in `docs/config.md`; keep the two in step. Loading
//! ([`Config::load`]) fails with the file (or environment variable), the key and the
//! reason, so a bad config never starts a half-working gateway.

mod load;
mod units;
mod validate;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

pub use load::{ConfigError, ConfigSource, CLI_ENV_VARS};
pub use units::ByteSize;

/// The whole gateway configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where the gateway keeps its state (the SQLite store, keys). Created with mode 0700.
    pub data_dir: PathBuf,
    /// The three listeners.
    pub listeners: Listeners,
    /// Request limits on the data listener.
    #[serde(default)]
    pub limits: LimitsConfig,
    /// Log output.
    #[serde(default)]
    pub log: LogConfig,
    /// Who may call: the OIDC issuers whose tokens the gateway accepts.
    #[serde(default)]
    pub identity: IdentityConfig,
    /// Just-in-time access: which connections can be requested, at which levels, who
    /// approves (Cedar policies), webhooks. Absent: no connection can be requested, so
    /// authenticated agents get 403 `access_required` everywhere (fail closed).
    pub access: Option<portcullis_access::AccessConfig>,
    /// Masking profiles (`[mask.profiles.NAME]`); the shipped `azure` and `strict`
    /// profiles exist without it. Connections name theirs in `mask`; `portcullis mask`
    /// runs the same profiles offline.
    #[serde(default)]
    pub mask: portcullis_mask::MaskConfig,
    /// The targets agents may reach.
    #[serde(default)]
    pub connections: Vec<ConnectionConfig>,
    /// Remote connectors: enrollment, the tunnel certificate's names.
    #[serde(default)]
    pub tunnel: TunnelConfig,
    /// The audit log: where it lives, what of each body it keeps.
    #[serde(default)]
    pub audit: AuditSettings,
}

/// The audit log (`[audit]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuditSettings {
    /// A PostgreSQL URL (`postgres://…`) for the audit log, so several gateways write one
    /// store (each its own hash chain). Default: the SQLite store in `data_dir`.
    pub database_url: Option<String>,
    /// The most bytes of each request and response body kept in the log (responses as
    /// the agent received them, masked); a longer body is kept up to this and the event
    /// still records its full length. `0` keeps no bodies. Request bodies are kept where
    /// the gateway reads them whole (connections with guardrails).
    pub record_body_bytes: ByteSize,
    /// An auditor's age X25519 recipient (`age1…`). When set, each response body before
    /// masking (up to `record_body_bytes`) is also kept, encrypted to it: the gateway
    /// cannot read it back; `portcullis sessions show --decrypt KEYFILE` can.
    pub auditor_recipient: Option<String>,
    /// Sign a checkpoint after this many events…
    pub checkpoint_every: u64,
    /// …or when the oldest unsigned event is this old.
    #[serde(with = "units::duration")]
    pub checkpoint_interval: Duration,
    /// Remove events (and bodies no longer referred to) older than this. Checked at start
    /// and every hour; each removal is itself an audited event. Default: keep everything.
    #[serde(default, with = "units::opt_duration")]
    pub retain_for: Option<Duration>,
    /// Keep at most about this many bytes of events and bodies, removing the oldest first.
    pub retain_max_bytes: Option<ByteSize>,
}

impl Default for AuditSettings {
    fn default() -> Self {
        let defaults = portcullis_audit::AuditConfig::default();
        AuditSettings {
            database_url: None,
            record_body_bytes: ByteSize(1024 * 1024),
            auditor_recipient: None,
            checkpoint_every: defaults.checkpoint_every,
            checkpoint_interval: defaults.checkpoint_interval,
            retain_for: None,
            retain_max_bytes: None,
        }
    }
}

/// How remote connectors enroll and find the gateway (`[tunnel]`); the listener itself is
/// `listeners.tunnel`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TunnelConfig {
    /// A file of enrollment tokens, one per line (blank lines and `#` comments ignored).
    /// Each token is spent by the first connector that presents it: the gateway then pins
    /// that connector's key under its name (`data_dir/connectors.json`).
    pub enrollment_tokens_file: Option<PathBuf>,
    /// An environment variable holding one enrollment token.
    pub enrollment_token_env: Option<String>,
    /// Host names (or IP addresses) connectors use to reach the tunnel listener, put on the
    /// certificate the gateway makes when `listeners.tunnel.tls` is absent. `localhost`, and
    /// the listener's address unless it is a wildcard, are always on it.
    #[serde(default)]
    pub server_names: Vec<String>,
}

/// The gateway's listeners.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Listeners {
    /// Agents' traffic.
    pub data: ListenerConfig,
    /// The control API (`/api/v1`, `/healthz`, `/readyz`, `/metrics`).
    pub control: ListenerConfig,
    /// Remote connectors dial in here (`portcullis connector`). Always TLS 1.3: without
    /// `tls`, the gateway makes its own CA in `data_dir` (`tunnel-ca.pem`, which connectors
    /// trust) and a certificate for `tunnel.server_names`.
    pub tunnel: Option<ListenerConfig>,
}

/// One listening socket.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListenerConfig {
    /// Address and port; port 0 picks a free port.
    pub addr: SocketAddr,
    /// TLS certificate and key; required unless `addr` is a loopback address.
    pub tls: Option<TlsConfig>,
}

/// PEM files for a TLS listener.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// Certificate chain, leaf first.
    pub cert: PathBuf,
    /// Private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

/// Limits that protect the gateway from slow, large or hostile agents.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Largest request head (request line and headers); larger: 431.
    pub max_header_bytes: ByteSize,
    /// Most header fields in one request; more: 431.
    pub max_headers: usize,
    /// Longest request target; longer: 414.
    pub max_uri_len: usize,
    /// Largest request body; larger: 413.
    pub max_request_body: ByteSize,
    /// Largest request body that guardrails read (batch contents, deployment templates,
    /// security rules) and that a review binds by hash. On a connection with guardrails,
    /// bodies are read whole before the decision; a larger one is refused with 413
    /// `body_too_large_to_inspect` (fail closed).
    pub max_inspected_body: ByteSize,
    /// Time allowed to receive a request head, and the keep-alive idle time of an
    /// HTTP/1.1 connection; then the connection closes (408 if a request had begun).
    #[serde(with = "units::duration")]
    pub header_timeout: Duration,
    /// Longest pause while receiving a request body; then 408.
    #[serde(with = "units::duration")]
    pub body_timeout: Duration,
    /// Time allowed for the upstream to start its response; then 504.
    #[serde(with = "units::duration")]
    pub upstream_timeout: Duration,
    /// Most connections open at once on the data listener; more wait in the backlog.
    pub max_connections: usize,
    /// HTTP/2: most concurrent streams per connection.
    pub h2_max_concurrent_streams: u32,
    /// HTTP/2: most streams an agent may reset before they are answered, per
    /// connection (rapid-reset, CVE-2023-44487); beyond it the connection is closed.
    pub h2_max_pending_reset_streams: usize,
    /// How long shutdown waits for in-flight requests before closing them.
    #[serde(with = "units::duration")]
    pub shutdown_grace: Duration,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            max_header_bytes: ByteSize(64 * 1024),
            max_headers: 100,
            max_uri_len: 8192,
            max_request_body: ByteSize(32 * 1024 * 1024),
            max_inspected_body: ByteSize(4 * 1024 * 1024),
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            upstream_timeout: Duration::from_secs(60),
            max_connections: 10_000,
            h2_max_concurrent_streams: 100,
            h2_max_pending_reset_streams: 20,
            shutdown_grace: Duration::from_secs(30),
        }
    }
}

/// Authentication of agents and people.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentityConfig {
    /// Accepted OIDC issuers (`[[identity.issuers]]`), field by field in docs/config.md.
    /// With none, the data listener forwards unauthenticated requests: allowed only while
    /// every listener is on loopback (development), refused otherwise.
    #[serde(default)]
    pub issuers: Vec<portcullis_identity::IssuerConfig>,
    /// The `iss` of the gateway's own grant tokens. Default `portcullis:{gateway id}`.
    pub grant_issuer: Option<String>,
}

/// Log output.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// `json` (one object per line, the default) or `text`.
    pub format: LogFormat,
    /// A tracing filter such as `info` or `portcullis_gateway=debug,info`.
    pub level: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig { format: LogFormat::Json, level: "info".into() }
    }
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One JSON object per line.
    Json,
    /// Human-readable lines.
    Text,
}

/// A named target.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectionConfig {
    /// The name agents use: the first path segment (`/{name}/…`). Lowercase letters,
    /// digits and `-`.
    pub name: String,
    /// What the target is.
    #[serde(default)]
    pub kind: ConnectionKind,
    /// The upstream base URL (`https://management.azure.com`); a path here is prefixed
    /// to every forwarded path.
    pub upstream: url::Url,
    /// Host names that route to this connection without a path prefix (the agent
    /// addresses the gateway as this host).
    #[serde(default)]
    pub hosts: Vec<String>,
    /// Rewrite absolute URLs that point at the upstream (`Location`,
    /// `Azure-AsyncOperation`, `nextLink` in JSON) to the gateway's own address.
    #[serde(default = "yes")]
    pub rewrite_urls: bool,
    /// Extra PEM CA certificates to trust for this upstream (tests, private CAs).
    pub upstream_ca: Option<PathBuf>,
    /// Guardrail rules decided on every request (steps 5–6): `"azure-default"` (the
    /// shipped Azure pack) and/or rule files. Default: `["azure-default"]` for
    /// `azure-arm` connections, none for others. An empty list turns guardrails off.
    pub rules: Option<Vec<String>>,
    /// The masking profile for responses (data path step 9): `"azure"` (shipped), `"strict"`
    /// (shipped) or a `[mask.profiles.NAME]`; `"off"` turns masking off. Default: `"azure"`
    /// for `azure-arm` and `azure-storage` connections, `"off"` for `http`. A guardrail rule
    /// may ask for a stricter profile for its requests (e.g. `strict` for `listKeys`).
    pub mask: Option<String>,
    /// Who holds the target's credential and forwards: `"embedded"` (the connector
    /// code inside this process, injecting `credential`), or the name of a remote connector
    /// (`portcullis connector`, attached through `listeners.tunnel`; it holds the credential
    /// and the gateway holds none). Default: `"embedded"` when `credential` is set, else the
    /// gateway forwards directly with no credential.
    pub connector: Option<String>,
    /// The credential the embedded connector injects (`kind = "entra-client-secret"`, …;
    /// docs/connector.md). Its secret is read from a file or variable on this host.
    pub credential: Option<portcullis_connector::CredentialConfig>,
}

/// The connector name that means "in this process".
pub const EMBEDDED_CONNECTOR: &str = "embedded";

impl ConnectionConfig {
    /// The remote connector that serves this connection, when `connector` names one
    /// (anything but `"embedded"`).
    pub fn remote_connector(&self) -> Option<&str> {
        self.connector.as_deref().filter(|n| *n != EMBEDDED_CONNECTOR)
    }
}

fn yes() -> bool {
    true
}

/// The kinds of connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum ConnectionKind {
    /// Any HTTP API.
    #[default]
    Http,
    /// Azure Resource Manager.
    AzureArm,
    /// Azure Storage (blob, queue, table, file).
    AzureStorage,
}

impl ConnectionKind {
    /// The kind's name as written in config.
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectionKind::Http => "http",
            ConnectionKind::AzureArm => "azure-arm",
            ConnectionKind::AzureStorage => "azure-storage",
        }
    }
}

#[cfg(test)]
mod tests;
