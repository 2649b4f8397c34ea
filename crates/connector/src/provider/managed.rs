//! Managed identity: the App Service protocol (`IDENTITY_ENDPOINT` with the
//! `X-IDENTITY-HEADER` secret, api-version 2019-08-01) and the instance metadata (IMDS)
//! shape (`Metadata: true`, api-version 2018-02-01).

use http::{HeaderValue, Method};

use super::entra::token_from;
use crate::client::UpstreamClient;
use crate::config::ManagedIdentityProtocol;
use crate::fetch::{self, IdentityCall};
use crate::secret::Secret;

/// The platform's metadata endpoint. Used only when nothing else is configured, which
/// is production on an Azure VM; tests always configure a loopback endpoint.
pub(crate) const IMDS_ENDPOINT: &str = "http://169.254.169.254/metadata/identity/oauth2/token";

/// One managed identity asked for one resource.
pub(crate) struct ManagedIdentity {
    pub(crate) protocol: ManagedIdentityProtocol,
    pub(crate) endpoint: url::Url,
    /// The App Service identity header (the endpoint's own secret).
    pub(crate) identity_header: Option<Secret>,
    pub(crate) client_id: Option<String>,
    pub(crate) resource: String,
}

/// The resource a scope names: `https://management.azure.com/.default` →
/// `https://management.azure.com`.
pub(crate) fn resource_of(scope: &str) -> String {
    scope.strip_suffix("/.default").unwrap_or(scope).to_owned()
}

impl ManagedIdentity {
    /// Fetches a token: (token, expiry in epoch seconds).
    pub(crate) async fn fetch(&self, client: &UpstreamClient) -> Result<(Secret, u64), String> {
        let mut url = self.endpoint.clone();
        let api_version = match self.protocol {
            ManagedIdentityProtocol::AppService => "2019-08-01",
            ManagedIdentityProtocol::Imds => "2018-02-01",
        };
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("api-version", api_version).append_pair("resource", &self.resource);
            if let Some(id) = &self.client_id {
                q.append_pair("client_id", id);
            }
        }
        let mut headers = Vec::new();
        match self.protocol {
            ManagedIdentityProtocol::AppService => {
                let secret = self.identity_header.as_ref().ok_or("no identity header configured")?;
                let value = HeaderValue::from_str(secret.expose())
                    .map_err(|_| "the identity header is not a valid header value")?;
                headers.push(("x-identity-header", value));
            }
            ManagedIdentityProtocol::Imds => headers.push(("metadata", HeaderValue::from_static("true"))),
        }
        let call = IdentityCall { method: Method::GET, url: url.as_str(), headers, form: None };
        let answer = fetch::json(client, call).await?;
        token_from(&answer)
    }
}
