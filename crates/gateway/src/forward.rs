//! Step 8: forwarding the canonical request to the upstream.
//!
//! A connection with a credential goes through the embedded connector
//! (`portcullis-connector`), which removes whatever credential the agent sent, injects
//! a short-lived one of its own and forwards. A connection without one is forwarded
//! directly, with no credential.

use std::net::SocketAddr;
use std::time::Duration;

use http::{HeaderMap, HeaderValue, Method, Request, Response, Version};
use hyper::body::Incoming;
use portcullis_connector::{ConnectorError, GRANT_EXPIRES_HEADER};

use crate::body::{find_body_limit, BodyLimit, ProxyBody};
use crate::error::GatewayError;
use crate::headers::upstream_request_headers;
use crate::route::Routed;

// One client builder for the direct path and the connector.
pub(crate) use portcullis_connector::build_client;
/// A pooled HTTP/1.1 + HTTP/2 client for one upstream.
pub(crate) type UpstreamClient = portcullis_connector::UpstreamClient;

/// What the pipeline hands to the forward step.
pub(crate) struct Outbound {
    pub(crate) method: Method,
    /// The canonical target after the connection prefix, encoded once by the pipeline.
    pub(crate) target: String,
    pub(crate) headers: HeaderMap,
    pub(crate) body: ProxyBody,
    pub(crate) peer: SocketAddr,
    pub(crate) scheme: &'static str,
    pub(crate) agent_host: String,
}

/// Sends the canonical request upstream and returns the response head with its
/// streaming body.
pub(crate) async fn forward(
    routed: &Routed,
    mut out: Outbound,
    timeout: Duration,
) -> Result<Response<Incoming>, GatewayError> {
    let conn = &routed.connection;
    upstream_request_headers(&mut out.headers, out.peer, out.scheme, Some(&out.agent_host));
    // Only the gateway may tell the connector when the grant ends.
    out.headers.remove(GRANT_EXPIRES_HEADER);
    if let Some(connector) = &conn.connector {
        let mut req = Request::new(out.body);
        *req.method_mut() = out.method;
        *req.uri_mut() = out
            .target
            .parse()
            .map_err(|e| GatewayError::Upstream(format!("building upstream target: {e}")))?;
        *req.headers_mut() = out.headers;
        return match tokio::time::timeout(timeout, connector.send(&conn.name, req)).await {
            Err(_) => Err(GatewayError::UpstreamTimeout),
            Ok(Ok(resp)) => Ok(resp),
            Ok(Err(ConnectorError::Upstream(e))) => Err(upstream_error(&e)),
            Ok(Err(ConnectorError::GrantExpired)) => Err(GatewayError::AccessRequired(None)),
            Ok(Err(e)) => Err(GatewayError::Upstream(format!("connector: {e}"))),
        };
    }
    let uri = format!("{}{}", conn.upstream_base, out.target);
    let mut req = Request::new(out.body);
    *req.method_mut() = out.method;
    *req.uri_mut() =
        uri.parse().map_err(|e| GatewayError::Upstream(format!("building upstream URI: {e}")))?;
    *req.version_mut() = Version::HTTP_11;
    *req.headers_mut() = out.headers;
    if let Ok(host) = HeaderValue::from_str(&conn.upstream_authority) {
        req.headers_mut().insert(http::header::HOST, host);
    }
    match tokio::time::timeout(timeout, conn.client.request(req)).await {
        Err(_) => Err(GatewayError::UpstreamTimeout),
        Ok(Ok(resp)) => Ok(resp),
        Ok(Err(e)) => Err(upstream_error(&e)),
    }
}

fn upstream_error(e: &(dyn std::error::Error + 'static)) -> GatewayError {
    match find_body_limit(e) {
        Some(BodyLimit::TooLarge(limit)) => GatewayError::BodyTooLarge { limit },
        Some(BodyLimit::Stalled) => GatewayError::BodyTimeout,
        None => GatewayError::Upstream(describe(e)),
    }
}

fn describe(err: &(dyn std::error::Error + 'static)) -> String {
    let mut s = err.to_string();
    let mut cur = err.source();
    while let Some(e) = cur {
        s.push_str(": ");
        s.push_str(&e.to_string());
        cur = e.source();
    }
    s
}
