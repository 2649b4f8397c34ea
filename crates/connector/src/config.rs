//! The connector's configuration (`connector.toml`) and the credential configuration the
//! gateway reuses for embedded connections. Every key is documented in `docs/connector.md`.

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The whole `connector.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectorConfig {
    /// How this connector reaches its gateway: the `[gateway]` table, read by the tunnel
    /// client (`crates/tunnel`), not by this crate.
    pub gateway: Option<toml::Table>,
    /// The connections this connector serves (`[[connections]]`).
    #[serde(default)]
    pub connections: Vec<ConnectionConfig>,
}

/// One connection this connector serves: where the target is and how to authenticate to it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectionConfig {
    /// The connection's name, as the gateway knows it.
    pub name: String,
    /// The upstream base URL; a path here is prefixed to every forwarded path.
    pub upstream: url::Url,
    /// Extra PEM CA certificates to trust, for the upstream and the identity endpoint.
    pub upstream_ca: Option<PathBuf>,
    /// The credential injected into every request.
    pub credential: CredentialConfig,
}

/// Where the Entra ID token endpoint lives unless `authority` says otherwise.
pub(crate) const DEFAULT_AUTHORITY: &str = "https://login.microsoftonline.com";

/// How the connector obtains the credential it injects. Secrets are read from a file
/// (`*_file`) or an environment variable (`*_env`), never written in the config itself.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum CredentialConfig {
    /// Entra ID client credentials with a client secret; injects `Authorization: Bearer`.
    EntraClientSecret {
        /// Directory (tenant) id.
        tenant: String,
        /// Application (client) id.
        client_id: String,
        /// File holding the client secret.
        secret_file: Option<PathBuf>,
        /// Environment variable holding the client secret.
        secret_env: Option<String>,
        /// The scope, e.g. `https://management.azure.com/.default`.
        scope: String,
        /// The login host; default `https://login.microsoftonline.com`.
        authority: Option<url::Url>,
    },
    /// Entra ID client credentials with a certificate (a client assertion signed with its
    /// key, `x5t#S256` header); injects `Authorization: Bearer`.
    EntraCertificate {
        /// Directory (tenant) id.
        tenant: String,
        /// Application (client) id.
        client_id: String,
        /// PEM file with the certificate, and the private key unless `key_file` is set.
        certificate_file: PathBuf,
        /// PEM file with the RSA private key, if not in `certificate_file`.
        key_file: Option<PathBuf>,
        /// The scope, e.g. `https://storage.azure.com/.default`.
        scope: String,
        /// The login host; default `https://login.microsoftonline.com`.
        authority: Option<url::Url>,
    },
    /// Workload identity federation: a federated token file (re-read on every refresh)
    /// exchanged for an Entra token. Unset keys come from `AZURE_TENANT_ID`,
    /// `AZURE_CLIENT_ID`, `AZURE_FEDERATED_TOKEN_FILE` and `AZURE_AUTHORITY_HOST`.
    WorkloadIdentity {
        /// Directory (tenant) id.
        tenant: Option<String>,
        /// Application (client) id.
        client_id: Option<String>,
        /// The federated token file.
        token_file: Option<PathBuf>,
        /// The scope.
        scope: String,
        /// The login host.
        authority: Option<url::Url>,
    },
    /// Managed identity: the App Service protocol (`IDENTITY_ENDPOINT` and
    /// `IDENTITY_HEADER`) or the instance metadata (IMDS) endpoint.
    ManagedIdentity {
        /// Which protocol; default `app-service` when `IDENTITY_ENDPOINT` is set, else `imds`.
        protocol: Option<ManagedIdentityProtocol>,
        /// The token endpoint. Default: `IDENTITY_ENDPOINT` (app-service) or the
        /// platform's metadata address (imds, production only).
        endpoint: Option<url::Url>,
        /// File holding the App Service identity header.
        identity_header_file: Option<PathBuf>,
        /// Variable holding the App Service identity header; default `IDENTITY_HEADER`.
        identity_header_env: Option<String>,
        /// A user-assigned identity's client id; absent: the system-assigned identity.
        client_id: Option<String>,
        /// The scope (`…/.default`) or resource.
        scope: String,
    },
    /// Azure Storage SharedKey: each request is signed with the account key.
    StorageSharedKey {
        /// The storage account name.
        account: String,
        /// File holding the base64 account key.
        key_file: Option<PathBuf>,
        /// Environment variable holding the base64 account key.
        key_env: Option<String>,
    },
    /// A static bearer token for any HTTP API: `Authorization: Bearer <secret>`.
    Bearer {
        /// File holding the token.
        secret_file: Option<PathBuf>,
        /// Environment variable holding the token.
        secret_env: Option<String>,
    },
    /// A static header for any HTTP API: `<name>: <prefix><secret>`.
    Header {
        /// The header name, e.g. `x-api-key`.
        name: String,
        /// Written before the secret, e.g. `Token `.
        prefix: Option<String>,
        /// File holding the secret.
        secret_file: Option<PathBuf>,
        /// Environment variable holding the secret.
        secret_env: Option<String>,
    },
}

/// The managed-identity protocols.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ManagedIdentityProtocol {
    /// App Service / Functions / Container Apps: `X-IDENTITY-HEADER`, api-version 2019-08-01.
    AppService,
    /// Virtual machines: `Metadata: true`, api-version 2018-02-01.
    Imds,
}

impl CredentialConfig {
    /// The kind as written in config.
    pub fn kind(&self) -> &'static str {
        match self {
            CredentialConfig::EntraClientSecret { .. } => "entra-client-secret",
            CredentialConfig::EntraCertificate { .. } => "entra-certificate",
            CredentialConfig::WorkloadIdentity { .. } => "workload-identity",
            CredentialConfig::ManagedIdentity { .. } => "managed-identity",
            CredentialConfig::StorageSharedKey { .. } => "storage-shared-key",
            CredentialConfig::Bearer { .. } => "bearer",
            CredentialConfig::Header { .. } => "header",
        }
    }
}

/// A config file that cannot be used: the file, the key and the reason.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {key}: {reason}")]
pub struct ConfigError {
    /// The file.
    pub file: String,
    /// The dotted key (empty for the whole file).
    pub key: String,
    /// What is wrong.
    pub reason: String,
}

impl ConnectorConfig {
    /// Reads and parses `path`.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: path.display().to_string(),
            key: String::new(),
            reason: e.to_string(),
        })?;
        Self::from_toml(&text, path)
    }

    /// Parses TOML text; `path` names it in errors and anchors relative file paths.
    pub fn from_toml(text: &str, path: &Path) -> Result<Self, ConfigError> {
        let file = path.display().to_string();
        let de = toml::Deserializer::new(text);
        let mut config: ConnectorConfig = serde_path_to_error::deserialize(de).map_err(|e| ConfigError {
            file: file.clone(),
            key: e.path().to_string(),
            reason: e.inner().message().to_owned(),
        })?;
        if let Some(base) = path.parent() {
            for c in &mut config.connections {
                c.resolve_paths(base);
            }
        }
        let mut seen = std::collections::HashSet::new();
        for (i, c) in config.connections.iter().enumerate() {
            if !seen.insert(c.name.as_str()) {
                return Err(ConfigError {
                    file,
                    key: format!("connections[{i}].name"),
                    reason: format!("`{}` is used by an earlier connection", c.name),
                });
            }
        }
        Ok(config)
    }
}

impl ConnectionConfig {
    /// Makes relative file paths relative to `base` (the config file's folder).
    pub fn resolve_paths(&mut self, base: &Path) {
        let fix = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        if let Some(p) = &mut self.upstream_ca {
            fix(p);
        }
        self.credential.resolve_paths(base);
    }
}

impl CredentialConfig {
    /// Makes relative file paths relative to `base` (the config file's folder).
    pub fn resolve_paths(&mut self, base: &Path) {
        let fix = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        match self {
            CredentialConfig::EntraClientSecret { secret_file, .. }
            | CredentialConfig::Bearer { secret_file, .. }
            | CredentialConfig::Header { secret_file, .. } => secret_file.iter_mut().for_each(fix),
            CredentialConfig::EntraCertificate { certificate_file, key_file, .. } => {
                fix(certificate_file);
                key_file.iter_mut().for_each(fix);
            }
            CredentialConfig::WorkloadIdentity { token_file, .. } => token_file.iter_mut().for_each(fix),
            CredentialConfig::ManagedIdentity { identity_header_file, .. } => {
                identity_header_file.iter_mut().for_each(fix)
            }
            CredentialConfig::StorageSharedKey { key_file, .. } => key_file.iter_mut().for_each(fix),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_kind_and_resolves_relative_paths() {
        let text = r#"
[gateway]
url = "https://gw.example:8443"
[[connections]]
name = "arm"
upstream = "https://management.azure.com"
credential = { kind = "entra-client-secret", tenant = "t", client_id = "c", secret_file = "s.txt", scope = "https://management.azure.com/.default" }
[[connections]]
name = "blob"
upstream = "https://acct.blob.core.windows.net"
credential = { kind = "storage-shared-key", account = "acct", key_env = "KEY" }
[[connections]]
name = "mi"
upstream = "https://management.azure.com"
credential = { kind = "managed-identity", protocol = "imds", endpoint = "http://127.0.0.1:9/x", scope = "https://management.azure.com/.default" }
"#;
        let c = ConnectorConfig::from_toml(text, Path::new("/etc/pc/connector.toml"))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.connections.len(), 3);
        match &c.connections[0].credential {
            CredentialConfig::EntraClientSecret { secret_file, .. } => {
                assert_eq!(secret_file.as_deref(), Some(Path::new("/etc/pc/s.txt")))
            }
            other => panic!("wrong kind {}", other.kind()),
        }
        assert_eq!(c.connections[1].credential.kind(), "storage-shared-key");
    }

    #[test]
    fn unknown_keys_and_inline_secrets_are_refused_with_the_key() {
        let text = r#"
[[connections]]
name = "x"
upstream = "https://example.com"
credential = { kind = "bearer", secret = "inline!" }
"#;
        let e = ConnectorConfig::from_toml(text, Path::new("c.toml")).err().map(|e| e.to_string());
        let e = e.unwrap_or_default();
        assert!(e.contains("connections[0].credential") && e.contains("secret"), "{e}");
    }
}
