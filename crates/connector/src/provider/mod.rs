//! Credential providers: build one from config, then apply it to each request.

mod cache;
mod entra;
mod managed;
mod shared_key;

use http::header::{HeaderName, AUTHORIZATION};
use http::request::Parts;
use http::HeaderValue;

pub(crate) use cache::now;
use cache::TokenCache;
use entra::{EntraAuth, EntraFlow};
use managed::{ManagedIdentity, IMDS_ENDPOINT};
use shared_key::SharedKeySigner;

use crate::client::UpstreamClient;
use crate::config::{CredentialConfig, ManagedIdentityProtocol};
use crate::secret::{read_secret, Secret};

/// Where a bearer token comes from.
pub(crate) enum TokenSource {
    Entra(EntraFlow),
    Managed(ManagedIdentity),
}

/// A connection's credential, ready to inject.
pub(crate) enum Provider {
    /// A short-lived bearer token, cached and refreshed.
    Token { source: TokenSource, cache: TokenCache },
    /// Each request signed with a storage account key.
    SharedKey(Box<SharedKeySigner>),
    /// A fixed header value (`Authorization: Bearer …` or a named header).
    Static { name: HeaderName, value: HeaderValue },
}

impl Provider {
    /// Reads the secrets `config` names and prepares the provider.
    pub(crate) fn build(config: &CredentialConfig) -> Result<Provider, String> {
        let token = |source| Ok(Provider::Token { source, cache: TokenCache::default() });
        match config {
            CredentialConfig::EntraClientSecret {
                tenant,
                client_id,
                secret_file,
                secret_env,
                scope,
                authority,
            } => {
                let secret = read_secret(secret_file.as_deref(), secret_env.as_deref(), "secret")?;
                token(TokenSource::Entra(EntraFlow {
                    token_url: entra::token_url(authority.as_ref(), tenant),
                    client_id: client_id.clone(),
                    scope: scope.clone(),
                    auth: EntraAuth::Secret(secret),
                }))
            }
            CredentialConfig::EntraCertificate {
                tenant,
                client_id,
                certificate_file,
                key_file,
                scope,
                authority,
            } => token(TokenSource::Entra(EntraFlow {
                token_url: entra::token_url(authority.as_ref(), tenant),
                client_id: client_id.clone(),
                scope: scope.clone(),
                auth: entra::load_certificate(certificate_file, key_file.as_deref())?,
            })),
            CredentialConfig::WorkloadIdentity { tenant, client_id, token_file, scope, authority } => {
                let env = |var: &str, key: &str| {
                    std::env::var(var).map_err(|_| format!("set `{key}` or the environment variable {var}"))
                };
                let tenant = tenant.clone().map_or_else(|| env("AZURE_TENANT_ID", "tenant"), Ok)?;
                let client_id = client_id.clone().map_or_else(|| env("AZURE_CLIENT_ID", "client_id"), Ok)?;
                let file = match token_file {
                    Some(f) => f.clone(),
                    None => env("AZURE_FEDERATED_TOKEN_FILE", "token_file")?.into(),
                };
                let authority = match authority {
                    Some(a) => Some(a.clone()),
                    None => std::env::var("AZURE_AUTHORITY_HOST").ok().and_then(|a| url::Url::parse(&a).ok()),
                };
                token(TokenSource::Entra(EntraFlow {
                    token_url: entra::token_url(authority.as_ref(), &tenant),
                    client_id,
                    scope: scope.clone(),
                    auth: EntraAuth::Federated(file),
                }))
            }
            CredentialConfig::ManagedIdentity {
                protocol,
                endpoint,
                identity_header_file,
                identity_header_env,
                client_id,
                scope,
            } => {
                let env_endpoint = std::env::var("IDENTITY_ENDPOINT").ok();
                let protocol = protocol.unwrap_or(match env_endpoint {
                    Some(_) => ManagedIdentityProtocol::AppService,
                    None => ManagedIdentityProtocol::Imds,
                });
                let endpoint = match (endpoint, protocol) {
                    (Some(e), _) => e.to_string(),
                    (None, ManagedIdentityProtocol::AppService) => {
                        env_endpoint.ok_or("set `endpoint` or the environment variable IDENTITY_ENDPOINT")?
                    }
                    (None, ManagedIdentityProtocol::Imds) => IMDS_ENDPOINT.to_owned(),
                };
                let endpoint =
                    url::Url::parse(&endpoint).map_err(|e| format!("endpoint `{endpoint}`: {e}"))?;
                let identity_header = match protocol {
                    ManagedIdentityProtocol::AppService => {
                        // Without either key the platform's IDENTITY_HEADER is used.
                        let env = match (identity_header_file, identity_header_env) {
                            (None, None) => Some("IDENTITY_HEADER"),
                            (_, env) => env.as_deref(),
                        };
                        Some(read_secret(identity_header_file.as_deref(), env, "identity_header")?)
                    }
                    ManagedIdentityProtocol::Imds => None,
                };
                token(TokenSource::Managed(ManagedIdentity {
                    protocol,
                    endpoint,
                    identity_header,
                    client_id: client_id.clone(),
                    resource: managed::resource_of(scope),
                }))
            }
            CredentialConfig::StorageSharedKey { account, key_file, key_env } => {
                let key = read_secret(key_file.as_deref(), key_env.as_deref(), "key")?;
                Ok(Provider::SharedKey(Box::new(SharedKeySigner::new(account.clone(), key.expose())?)))
            }
            CredentialConfig::Bearer { secret_file, secret_env } => {
                let secret = read_secret(secret_file.as_deref(), secret_env.as_deref(), "secret")?;
                Ok(Provider::Static { name: AUTHORIZATION, value: bearer(&secret)? })
            }
            CredentialConfig::Header { name, prefix, secret_file, secret_env } => {
                let secret = read_secret(secret_file.as_deref(), secret_env.as_deref(), "secret")?;
                let name = HeaderName::from_bytes(name.as_bytes())
                    .map_err(|_| format!("`{name}` is not a header name"))?;
                let mut value =
                    HeaderValue::from_str(&format!("{}{}", prefix.as_deref().unwrap_or(""), secret.expose()))
                        .map_err(|_| "the secret is not a valid header value".to_owned())?;
                value.set_sensitive(true);
                Ok(Provider::Static { name, value })
            }
        }
    }

    /// The header this provider sets (besides the `x-ms-*` signing headers).
    pub(crate) fn header_name(&self) -> HeaderName {
        match self {
            Provider::Static { name, .. } => name.clone(),
            _ => AUTHORIZATION,
        }
    }

    /// Whether the provider re-signs `x-ms-date` and friends.
    pub(crate) fn signs(&self) -> bool {
        matches!(self, Provider::SharedKey(_))
    }

    /// Sets the credential on a request whose agent credentials are already removed.
    pub(crate) async fn apply(&self, client: &UpstreamClient, parts: &mut Parts) -> Result<(), String> {
        match self {
            Provider::Token { source, cache } => {
                let token = cache
                    .get(|| async {
                        match source {
                            TokenSource::Entra(flow) => flow.fetch(client).await,
                            TokenSource::Managed(mi) => mi.fetch(client).await,
                        }
                    })
                    .await?;
                parts.headers.insert(AUTHORIZATION, bearer(&token)?);
                Ok(())
            }
            Provider::SharedKey(signer) => signer.sign(parts),
            Provider::Static { name, value } => {
                parts.headers.insert(name.clone(), value.clone());
                Ok(())
            }
        }
    }
}

fn bearer(token: &Secret) -> Result<HeaderValue, String> {
    let mut v = HeaderValue::from_str(&format!("Bearer {}", token.expose()))
        .map_err(|_| "the token is not a valid header value".to_owned())?;
    v.set_sensitive(true);
    Ok(v)
}
