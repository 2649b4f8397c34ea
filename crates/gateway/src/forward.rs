//! Step 8: forwarding the canonical request to the upstream.
//!
//! Today the gateway calls the upstream directly. The connector (an in-network process
//! that holds the target's credential and injects a short-lived one) takes this step's
//! place behind the same function when the connector issue lands.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use http::{HeaderMap, Method, Request, Response, Version};
use hyper::body::Incoming;
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;

use crate::body::{find_body_limit, BodyLimit, ProxyBody};
use crate::error::GatewayError;
use crate::headers::upstream_request_headers;
use crate::route::Routed;

/// A pooled HTTP/1.1 + HTTP/2 client for one upstream.
pub(crate) type UpstreamClient = Client<HttpsConnector<HttpConnector>, ProxyBody>;

/// Builds a client trusting the system roots plus `extra_ca` (PEM), if given.
pub(crate) fn build_client(extra_ca: Option<&Path>) -> Result<UpstreamClient, String> {
    let mut roots = rustls::RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    for cert in native.certs {
        let _ = roots.add(cert);
    }
    if let Some(path) = extra_ca {
        let certs = CertificateDer::pem_file_iter(path)
            .map_err(|e| format!("{}: {e}", path.display()))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("{}: {e}", path.display()))?;
        if certs.is_empty() {
            return Err(format!("{}: no PEM certificate found", path.display()));
        }
        for cert in certs {
            roots.add(cert).map_err(|e| format!("{}: {e}", path.display()))?;
        }
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_nodelay(true);
    http.set_connect_timeout(Some(Duration::from_secs(10)));
    let https = HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .enable_http2()
        .wrap_connector(http);
    Ok(Client::builder(TokioExecutor::new()).pool_idle_timeout(Duration::from_secs(90)).build(https))
}

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
    let uri = format!("{}{}", conn.upstream_base, out.target);
    upstream_request_headers(&mut out.headers, out.peer, out.scheme, Some(&out.agent_host));
    let mut req = Request::new(out.body);
    *req.method_mut() = out.method;
    *req.uri_mut() =
        uri.parse().map_err(|e| GatewayError::Upstream(format!("building upstream URI: {e}")))?;
    *req.version_mut() = Version::HTTP_11;
    *req.headers_mut() = out.headers;
    if let Ok(host) = http::HeaderValue::from_str(&conn.upstream_authority) {
        req.headers_mut().insert(http::header::HOST, host);
    }
    match tokio::time::timeout(timeout, conn.client.request(req)).await {
        Err(_) => Err(GatewayError::UpstreamTimeout),
        Ok(Ok(resp)) => Ok(resp),
        Ok(Err(e)) => Err(match find_body_limit(&e) {
            Some(BodyLimit::TooLarge(limit)) => GatewayError::BodyTooLarge { limit },
            Some(BodyLimit::Stalled) => GatewayError::BodyTimeout,
            None => GatewayError::Upstream(describe(&e)),
        }),
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
