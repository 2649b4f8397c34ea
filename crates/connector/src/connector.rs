//! [`Connector`]: strips the agent's credentials, injects the connection's own, and
//! forwards to the upstream. The same value serves the embedded mode (the gateway calls
//! it in-process) and the remote mode (the tunnel calls it for each request).

use std::collections::HashMap;
use std::sync::Arc;

use http::uri::{Authority, PathAndQuery, Scheme};
use http::{HeaderValue, Request, Response, Uri, Version};
use hyper::body::Incoming;

use crate::client::{build_client, ConnectorBody, UpstreamClient};
use crate::config::{ConnectionConfig, ConnectorConfig};
use crate::error::ConnectorError;
use crate::inject::strip_agent_credentials;
use crate::provider::{now, Provider};

/// Internal request header: when the grant the request belongs to ends, in seconds
/// since the Unix epoch. The gateway sets it; the connector removes it before the
/// upstream and refuses (no credential is minted or used) once that moment has passed.
pub const GRANT_EXPIRES_HEADER: &str = "x-portcullis-grant-expires";

/// Where a connection's requests go, parsed once: every request goes there.
struct UpstreamBase {
    scheme: Scheme,
    authority: Authority,
    /// The base path without a trailing `/` (often empty).
    path: String,
}

/// One connection as the connector serves it.
struct Served {
    upstream: UpstreamBase,
    /// The upstream's `Host` header value.
    authority: HeaderValue,
    client: UpstreamClient,
    provider: Provider,
}

/// The connector runtime: the connections it serves, each with its credential provider
/// and pooled upstream client. Cheap to share (`Arc<Connector>`); all methods take `&self`.
pub struct Connector {
    connections: HashMap<String, Arc<Served>>,
}

impl std::fmt::Debug for Connector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connector")
            .field("connections", &self.connections.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Connector {
    /// Prepares every connection of a `connector.toml`.
    pub fn from_config(config: &ConnectorConfig) -> Result<Self, ConnectorError> {
        Self::new(&config.connections)
    }

    /// Prepares `connections`: reads their secrets and certificates and builds their
    /// clients. Tokens are fetched on first use, not here.
    pub fn new(connections: &[ConnectionConfig]) -> Result<Self, ConnectorError> {
        let mut map = HashMap::new();
        for c in connections {
            let fail = |detail: String| ConnectorError::config(&c.name, detail);
            let client = build_client(c.upstream_ca.as_deref()).map_err(&fail)?;
            let provider = Provider::build(&c.credential)
                .map_err(|e| fail(format!("credential ({}): {e}", c.credential.kind())))?;
            let u = &c.upstream;
            let host = u.host_str().ok_or_else(|| fail("upstream must name a host".into()))?;
            let authority = match u.port() {
                Some(port) => format!("{host}:{port}"),
                None => host.to_owned(),
            };
            let upstream = UpstreamBase {
                scheme: Scheme::try_from(u.scheme()).map_err(|e| fail(e.to_string()))?,
                authority: Authority::try_from(authority.as_str()).map_err(|e| fail(e.to_string()))?,
                path: u.path().trim_end_matches('/').to_owned(),
            };
            let authority = HeaderValue::from_str(&authority).map_err(|e| fail(e.to_string()))?;
            let served = Served { upstream, authority, client, provider };
            if map.insert(c.name.clone(), Arc::new(served)).is_some() {
                return Err(fail("the name is used twice".into()));
            }
        }
        Ok(Connector { connections: map })
    }

    /// Whether this connector serves `connection`.
    pub fn serves(&self, connection: &str) -> bool {
        self.connections.contains_key(connection)
    }

    /// The names of the connections served.
    pub fn connection_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.connections.keys().cloned().collect();
        names.sort();
        names
    }

    /// Sends `req` to `connection`'s upstream with the connection's credential.
    ///
    /// `req`'s URI is the origin-form target (path and query) relative to the
    /// connection's upstream base; an absolute URI is refused, so the connector can
    /// reach nothing but its configured upstreams. Every credential-bearing header the
    /// agent sent is removed, [`GRANT_EXPIRES_HEADER`] is checked and removed, the
    /// credential is set and `Host` names the upstream. The response streams back as is.
    pub async fn send(
        &self,
        connection: &str,
        req: Request<ConnectorBody>,
    ) -> Result<Response<Incoming>, ConnectorError> {
        let served = self
            .connections
            .get(connection)
            .ok_or_else(|| ConnectorError::UnknownConnection(connection.into()))?;
        let (mut parts, body) = req.into_parts();
        if parts.uri.scheme().is_some() || parts.uri.authority().is_some() {
            return Err(ConnectorError::BadRequest("the target must be origin-form (path and query)".into()));
        }
        check_grant(&mut parts.headers)?;
        parts.uri = served.upstream.uri(std::mem::take(&mut parts.uri))?;
        parts.version = Version::HTTP_11;
        let provider = &served.provider;
        strip_agent_credentials(&mut parts.headers, &provider.header_name(), provider.signs());
        parts.headers.insert(http::header::HOST, served.authority.clone());
        provider.apply(&served.client, &mut parts).await.map_err(|detail| {
            tracing::warn!(connection, detail = %detail, "no credential for the upstream");
            ConnectorError::credential(connection, detail)
        })?;
        served.client.request(Request::from_parts(parts, body)).await.map_err(ConnectorError::Upstream)
    }
}

impl UpstreamBase {
    /// The upstream URI for an origin-form `target`: the configured scheme, authority and
    /// base path, then the target's path and query (moved, not parsed again).
    fn uri(&self, target: Uri) -> Result<Uri, ConnectorError> {
        let bad = |detail: String| ConnectorError::BadRequest(format!("target: {detail}"));
        let target = target.into_parts().path_and_query.unwrap_or_else(|| PathAndQuery::from_static("/"));
        if !target.as_str().starts_with('/') {
            return Err(bad("the path must start with /".into()));
        }
        let path_and_query = if self.path.is_empty() {
            target
        } else {
            PathAndQuery::try_from(format!("{}{}", self.path, target.as_str()))
                .map_err(|e| bad(e.to_string()))?
        };
        let mut parts = http::uri::Parts::default();
        parts.scheme = Some(self.scheme.clone());
        parts.authority = Some(self.authority.clone());
        parts.path_and_query = Some(path_and_query);
        Uri::from_parts(parts).map_err(|e| bad(e.to_string()))
    }
}

/// Refuses a request whose grant has ended; removes the internal header either way.
fn check_grant(headers: &mut http::HeaderMap) -> Result<(), ConnectorError> {
    let mut values = headers.get_all(GRANT_EXPIRES_HEADER).iter();
    let (first, second) = (values.next(), values.next());
    let expires = match (first, second) {
        (None, _) => None,
        (Some(v), None) => {
            Some(v.to_str().ok().and_then(|s| s.trim().parse::<u64>().ok()).ok_or_else(|| {
                ConnectorError::BadRequest(format!("{GRANT_EXPIRES_HEADER} is not a number"))
            })?)
        }
        (Some(_), Some(_)) => {
            return Err(ConnectorError::BadRequest(format!("{GRANT_EXPIRES_HEADER} appears twice")))
        }
    };
    headers.remove(GRANT_EXPIRES_HEADER);
    match expires {
        Some(at) if now() >= at => Err(ConnectorError::GrantExpired),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_upstream_is_always_the_configured_one() {
        let base = |path: &str| UpstreamBase {
            scheme: Scheme::HTTPS,
            authority: Authority::from_static("arm.example:8443"),
            path: path.to_owned(),
        };
        let uri = |s: &str| s.parse::<Uri>().unwrap();
        assert_eq!(base("").uri(uri("/a/b?c=d")).unwrap(), "https://arm.example:8443/a/b?c=d");
        assert_eq!(base("/api").uri(uri("/a?c")).unwrap(), "https://arm.example:8443/api/a?c");
        assert_eq!(base("").uri(Uri::default()).unwrap(), "https://arm.example:8443/");
        // Whatever authority the target names, only its path and query are used.
        assert_eq!(base("").uri(uri("http://evil.example/x")).unwrap(), "https://arm.example:8443/x");
        assert!(matches!(base("").uri(uri("*")), Err(ConnectorError::BadRequest(_))));
    }

    #[test]
    fn an_ended_grant_is_refused_and_the_header_never_forwarded() {
        let mut h = http::HeaderMap::new();
        h.insert(GRANT_EXPIRES_HEADER, HeaderValue::from(now() + 60));
        assert!(check_grant(&mut h).is_ok());
        assert!(h.get(GRANT_EXPIRES_HEADER).is_none());
        h.insert(GRANT_EXPIRES_HEADER, HeaderValue::from(now().saturating_sub(1)));
        assert!(matches!(check_grant(&mut h), Err(ConnectorError::GrantExpired)));
        h.insert(GRANT_EXPIRES_HEADER, HeaderValue::from_static("soon"));
        assert!(matches!(check_grant(&mut h), Err(ConnectorError::BadRequest(_))));
        assert!(check_grant(&mut http::HeaderMap::new()).is_ok());
    }
}
