//! Step 8: forwarding the canonical request to the upstream.
//!
//! A connection with a credential goes through the embedded connector
//! (`portcullis-connector`), which removes whatever credential the agent sent, injects
//! a short-lived one of its own and forwards. A connection served by a remote connector
//! goes through the tunnel to whichever attached connector serves it; that connector does
//! the same on its side of the network. A connection without either is forwarded
//! directly, with no credential.
//!
//! Both connectors are told when the request's grant ends ([`GRANT_EXPIRES_HEADER`]) and
//! refuse to mint or use a credential past it.

use std::net::SocketAddr;
use std::time::Duration;

use http::{HeaderMap, HeaderValue, Method, Request, Response, Version};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use portcullis_connector::{ConnectorError, CONNECTOR_ERROR_HEADER, GRANT_EXPIRES_HEADER};
use portcullis_tunnel::TunnelError;

use crate::body::{find_body_limit, BodyLimit, ProxyBody};
use crate::error::GatewayError;
use crate::headers::upstream_request_headers;
use crate::route::{Routed, Via};

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
    /// When the request's grant ends (seconds since the epoch), for the connector.
    pub(crate) grant_expires: Option<u64>,
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
    match &conn.via {
        Via::Embedded(c) => return send_embedded(c, &conn.name, connector_request(out)?, timeout).await,
        Via::Remote(pool) => return send_remote(pool, &conn.name, connector_request(out)?, timeout).await,
        Via::Direct => {}
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

/// The request a connector takes: origin-form target (a connector reaches only its own
/// upstream) and the grant's expiry, which it enforces.
fn connector_request(mut out: Outbound) -> Result<Request<ProxyBody>, GatewayError> {
    if let Some(at) = out.grant_expires {
        out.headers.insert(GRANT_EXPIRES_HEADER, HeaderValue::from(at));
    }
    let mut req = Request::new(out.body);
    *req.method_mut() = out.method;
    *req.uri_mut() =
        out.target.parse().map_err(|e| GatewayError::Upstream(format!("building upstream target: {e}")))?;
    *req.headers_mut() = out.headers;
    Ok(req)
}

async fn send_embedded(
    connector: &portcullis_connector::Connector,
    connection: &str,
    req: Request<ProxyBody>,
    timeout: Duration,
) -> Result<Response<Incoming>, GatewayError> {
    match tokio::time::timeout(timeout, connector.send(connection, req)).await {
        Err(_) => Err(GatewayError::UpstreamTimeout),
        Ok(Ok(resp)) => Ok(resp),
        Ok(Err(ConnectorError::Upstream(e))) => Err(upstream_error(&e)),
        Ok(Err(ConnectorError::GrantExpired)) => Err(GatewayError::AccessRequired(None)),
        Ok(Err(e)) => Err(GatewayError::Upstream(format!("connector: {e}"))),
    }
}

async fn send_remote(
    pool: &portcullis_tunnel::ConnectorPool,
    connection: &str,
    req: Request<ProxyBody>,
    timeout: Duration,
) -> Result<Response<Incoming>, GatewayError> {
    let resp = match tokio::time::timeout(timeout, pool.send(connection, req)).await {
        Err(_) => return Err(GatewayError::UpstreamTimeout),
        Ok(Err(e @ (TunnelError::NoConnector { .. } | TunnelError::ConnectorLost(_)))) => {
            return Err(GatewayError::ConnectorUnavailable(e.to_string()))
        }
        Ok(Err(e)) => return Err(GatewayError::Upstream(format!("tunnel: {e}"))),
        Ok(Ok(resp)) => resp,
    };
    match resp.headers().get(CONNECTOR_ERROR_HEADER) {
        None => Ok(resp),
        Some(code) => Err(connector_refusal(code.to_str().unwrap_or("").to_owned(), resp).await),
    }
}

/// A remote connector answered for itself (no credential, grant over, bad request), not
/// the upstream: the same outcome the embedded connector's error gives.
async fn connector_refusal(code: String, resp: Response<Incoming>) -> GatewayError {
    if code == portcullis_connector::ConnectorReason::GrantExpired.code() {
        return GatewayError::AccessRequired(None);
    }
    // The connector's message never holds a secret; keep it for the log, bounded.
    let body = http_body_util::Limited::new(resp.into_body(), 4096);
    let message = match body.collect().await {
        Ok(b) => serde_json::from_slice::<serde_json::Value>(&b.to_bytes())
            .ok()
            .and_then(|v| v["error"]["message"].as_str().map(str::to_owned))
            .unwrap_or_default(),
        Err(_) => String::new(),
    };
    GatewayError::Upstream(format!("connector refused ({code}): {message}"))
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
