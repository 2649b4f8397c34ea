//! Step 3 of the pipeline: which connection a request is for, by `Host` (when a
//! connection claims the host) or by the first path segment (`/{connection}/…`).

use std::collections::HashMap;
use std::sync::Arc;

use portcullis_canonical::CanonicalTarget;

use crate::config::ConnectionConfig;
use crate::error::GatewayError;
use crate::forward::UpstreamClient;
use crate::rewrite::UrlRewrite;

/// A connection as the data path uses it.
pub(crate) struct Connection {
    pub(crate) name: String,
    /// `scheme://authority` plus the upstream's base path without a trailing `/`.
    pub(crate) upstream_base: String,
    /// The upstream's `Host` header value.
    pub(crate) upstream_authority: String,
    pub(crate) rewrite: Option<UrlRewrite>,
    pub(crate) client: UpstreamClient,
    /// Guardrail rules in force (reloadable); none: guardrails off for this connection.
    pub(crate) rules: crate::guardrails::RulesSlot,
    pub(crate) guard_kind: crate::guardrails::Kind,
    /// Who forwards (step 8).
    pub(crate) via: Via,
}

/// How step 8 reaches a connection's upstream.
pub(crate) enum Via {
    /// Directly, with no credential.
    Direct,
    /// Through the connector in this process, which injects the connection's credential.
    Embedded(Arc<portcullis_connector::Connector>),
    /// Through the tunnel, to whichever attached remote connector serves the connection.
    Remote(portcullis_tunnel::ConnectorPool),
}

impl Connection {
    pub(crate) fn new(
        config: &ConnectionConfig,
        client: UpstreamClient,
        rules: Option<crate::guardrails::LoadedRules>,
    ) -> Self {
        let u = &config.upstream;
        Connection {
            name: config.name.clone(),
            upstream_base: upstream_base(u),
            upstream_authority: authority(u),
            rewrite: config.rewrite_urls.then(|| UrlRewrite::new(u)),
            client,
            rules: crate::guardrails::RulesSlot::new(rules),
            guard_kind: crate::guardrails::kind_of(config),
            via: Via::Direct,
        }
    }

    /// Forwards `via` a connector instead of directly.
    pub(crate) fn via(mut self, via: Via) -> Self {
        self.via = via;
        self
    }
}

/// `host[:port]` of an upstream URL: its `Host` header value.
pub(crate) fn authority(u: &url::Url) -> String {
    match u.port() {
        Some(port) => format!("{}:{port}", u.host_str().unwrap_or_default()),
        None => u.host_str().unwrap_or_default().to_owned(),
    }
}

/// `scheme://host[:port]`.
pub(crate) fn origin(u: &url::Url) -> String {
    format!("{}://{}", u.scheme(), authority(u))
}

/// The origin plus the base path without a trailing `/`: what forwarded paths extend.
pub(crate) fn upstream_base(u: &url::Url) -> String {
    format!("{}{}", origin(u), u.path().trim_end_matches('/'))
}

/// The result of routing: the connection, the target to forward, and the base URL at
/// which the agent sees this connection (for URL rewriting).
pub(crate) struct Routed {
    pub(crate) connection: Arc<Connection>,
    pub(crate) target: CanonicalTarget,
    pub(crate) agent_base: String,
}

/// All connections, indexed by name and by claimed host.
#[derive(Default)]
pub(crate) struct Routes {
    by_name: HashMap<String, Arc<Connection>>,
    by_host: HashMap<String, Arc<Connection>>,
}

impl Routes {
    pub(crate) fn insert(&mut self, connection: Connection, hosts: &[String]) -> Arc<Connection> {
        let connection = Arc::new(connection);
        for h in hosts {
            self.by_host.insert(h.clone(), connection.clone());
        }
        self.by_name.insert(connection.name.clone(), connection.clone());
        connection
    }

    /// Routes a canonical target. `host` is the authority the agent addressed.
    pub(crate) fn route(
        &self,
        host: &str,
        target: &CanonicalTarget,
        scheme: &str,
    ) -> Result<Routed, GatewayError> {
        let host_lower = host.to_ascii_lowercase();
        let host_only = host_lower.rsplit_once(':').map(|(h, _)| h).unwrap_or(&host_lower);
        if let Some(c) = self.by_host.get(&host_lower).or_else(|| self.by_host.get(host_only)) {
            return Ok(Routed {
                connection: c.clone(),
                target: target.clone(),
                agent_base: format!("{scheme}://{host}"),
            });
        }
        let first = target.segments().first().ok_or(GatewayError::NoConnection)?;
        let c = self.by_name.get(first.as_str()).ok_or(GatewayError::NoConnection)?;
        Ok(Routed {
            connection: c.clone(),
            target: target.without_prefix(1),
            agent_base: format!("{scheme}://{host}/{first}"),
        })
    }
}
