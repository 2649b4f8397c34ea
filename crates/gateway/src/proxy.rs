//! The data listener's front door: `CONNECT` (the agent's `HTTPS_PROXY`), the
//! managed-identity endpoint and the cloud metadata document are answered here; every
//! other request goes down the pipeline.
//!
//! `CONNECT` is not an open proxy: only to port 443 of a host that a connection claims
//! (`hosts = [...]`, exact names), never to an IP literal or an internal name. The gateway
//! then terminates TLS with a certificate for that host from its own CA
//! ([`crate::proxy_ca`]) and runs each request inside through the whole pipeline, routed
//! by `Host`, which must be the tunnel's host. The agent proves who it is per request
//! (`Authorization: Bearer`, as on the data path), or once on the `CONNECT` with
//! `Proxy-Authorization` (Basic with the token as password, or Bearer): that token is then
//! used for the requests inside that carry no `Authorization` of their own.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use base64::Engine as _;
use bytes::Bytes;
use http::header::{AUTHORIZATION, CONTENT_TYPE, HOST, PROXY_AUTHENTICATE, PROXY_AUTHORIZATION};
use http::{HeaderValue, Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use portcullis_identity::GrantKeys;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use crate::body::{full, ProxyBody};
use crate::pipeline::{self, ConnInfo, DataPlane};
use crate::proxy_ca::ProxyCa;

/// What the front door needs besides the pipeline.
pub(crate) struct Front {
    pub(crate) dp: Arc<DataPlane>,
    pub(crate) ca: ProxyCa,
    /// Claimed host (lower case) → connection name.
    pub(crate) claimed: HashMap<String, String>,
    /// The first `azure-arm` connection: `resourceManager` of `/metadata/endpoints`.
    pub(crate) arm_connection: Option<String>,
    pub(crate) keys: Arc<GrantKeys>,
    pub(crate) builder: Arc<auto::Builder<TokioExecutor>>,
    pub(crate) stopped: watch::Receiver<bool>,
}

/// A refusal answered by the front door: `{"error":{"code","message"}}`.
pub(crate) fn refusal(status: StatusCode, code: &'static str, message: &str) -> Response<ProxyBody> {
    let body = serde_json::json!({ "error": { "code": code, "message": message } });
    json_response(status, &body)
}

pub(crate) fn json_response(status: StatusCode, body: &serde_json::Value) -> Response<ProxyBody> {
    let mut resp = Response::new(full(Bytes::from(body.to_string())));
    *resp.status_mut() = status;
    resp.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp.headers_mut().insert(http::header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// The data listener's handler.
pub(crate) async fn handle(front: Arc<Front>, info: ConnInfo, req: Request<Incoming>) -> Response<ProxyBody> {
    if req.method() == Method::CONNECT {
        return connect(front, info, req).await;
    }
    if !front.is_claimed_host(&req) {
        match req.uri().path() {
            crate::msi::APP_SERVICE_PATH | crate::msi::IMDS_PATH => {
                return crate::msi::token(&front, info.peer, &req).await;
            }
            path if crate::metadata::is_metadata_path(path, front.arm_connection.as_deref()) => {
                return crate::metadata::endpoints(&front, info, &req);
            }
            _ => {}
        }
    }
    pipeline::handle(front.dp.clone(), info, req).await
}

impl Front {
    /// Whether the request addresses a claimed host (then its paths belong to the target).
    fn is_claimed_host<B>(&self, req: &Request<B>) -> bool {
        request_host(req).is_some_and(|h| self.claimed.contains_key(&h))
    }
}

/// The request's host (lower case, without port), from `Host` or the URI's authority.
fn request_host<B>(req: &Request<B>) -> Option<String> {
    let raw = req
        .headers()
        .get(HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| req.uri().authority().map(|a| a.as_str().to_owned()))?;
    let authority: http::uri::Authority = raw.parse().ok()?;
    if authority.port_u16().is_some_and(|p| p != 443) {
        return None;
    }
    Some(authority.host().to_ascii_lowercase())
}

/// Why a `CONNECT` is refused.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ConnectRefusal {
    NotAuthority,
    Port,
    IpLiteral,
    Internal,
    NotClaimed,
}

impl ConnectRefusal {
    fn code(&self) -> &'static str {
        match self {
            ConnectRefusal::NotAuthority => "proxy_bad_request",
            ConnectRefusal::Port => "proxy_port_refused",
            ConnectRefusal::IpLiteral => "proxy_ip_literal_refused",
            ConnectRefusal::Internal => "proxy_internal_host_refused",
            ConnectRefusal::NotClaimed => "proxy_host_not_claimed",
        }
    }

    fn response(&self, target: &str) -> Response<ProxyBody> {
        let message = match self {
            ConnectRefusal::NotAuthority => "CONNECT needs a host:port target".to_owned(),
            ConnectRefusal::Port => format!(
                "CONNECT {target} refused: the gateway intercepts HTTPS on port 443 only; \
                 put other destinations in NO_PROXY"
            ),
            ConnectRefusal::IpLiteral => format!(
                "CONNECT {target} refused: the gateway never tunnels to an IP address \
                 (169.254.169.254 and other internal addresses included); use a host name a connection claims"
            ),
            ConnectRefusal::Internal => format!(
                "CONNECT {target} refused: internal names (localhost, *.internal, *.local, single labels) are never tunnelled"
            ),
            ConnectRefusal::NotClaimed => format!(
                "CONNECT {target} refused: no connection claims this host, and the gateway is not an open proxy. \
                 Ask an operator to add it to a connection's `hosts`, or put it in NO_PROXY to go direct"
            ),
        };
        let status = match self {
            ConnectRefusal::NotAuthority => StatusCode::BAD_REQUEST,
            _ => StatusCode::FORBIDDEN,
        };
        refusal(status, self.code(), &message)
    }
}

/// The host a `CONNECT` may tunnel to, or why not.
pub(crate) fn connect_target(
    uri: &http::Uri,
    claimed: &HashMap<String, String>,
) -> Result<String, ConnectRefusal> {
    let authority = uri.authority().ok_or(ConnectRefusal::NotAuthority)?;
    let host = authority.host().trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase();
    if host.parse::<IpAddr>().is_ok() {
        return Err(ConnectRefusal::IpLiteral);
    }
    if authority.port_u16() != Some(443) {
        return Err(ConnectRefusal::Port);
    }
    let internal = !host.contains('.')
        || [".internal", ".local", ".localhost", ".localdomain", ".home.arpa"]
            .iter()
            .any(|s| host.ends_with(s));
    if internal {
        return Err(ConnectRefusal::Internal);
    }
    if !claimed.contains_key(&host) {
        return Err(ConnectRefusal::NotClaimed);
    }
    Ok(host)
}

/// The token in `Proxy-Authorization`: `Bearer T`, or `Basic` with T as the password
/// (or as the user name when the password is empty). `Err` when present but unusable.
pub(crate) fn proxy_token(headers: &http::HeaderMap) -> Result<Option<String>, ()> {
    let mut values = headers.get_all(PROXY_AUTHORIZATION).iter();
    let Some(value) = values.next() else { return Ok(None) };
    if values.next().is_some() {
        return Err(());
    }
    let value = value.to_str().map_err(|_| ())?;
    if let Some(token) = portcullis_identity::bearer_token(value) {
        return Ok(Some(token.to_owned()));
    }
    let (scheme, rest) = value.split_once(' ').ok_or(())?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(());
    }
    let decoded = base64::engine::general_purpose::STANDARD.decode(rest.trim()).map_err(|_| ())?;
    let decoded = String::from_utf8(decoded).map_err(|_| ())?;
    let (user, password) = decoded.split_once(':').ok_or(())?;
    let token = if password.is_empty() { user } else { password };
    if token.is_empty() || token.contains(char::is_whitespace) {
        return Err(());
    }
    Ok(Some(token.to_owned()))
}

async fn connect(front: Arc<Front>, info: ConnInfo, req: Request<Incoming>) -> Response<ProxyBody> {
    let target = req.uri().to_string();
    let host = match connect_target(req.uri(), &front.claimed) {
        Ok(h) => h,
        Err(refused) => {
            tracing::info!(code = refused.code(), target = %target, peer = %info.peer, "CONNECT refused");
            front.dp.metrics.refused(refused.code());
            return refused.response(&target);
        }
    };
    let token = match proxy_token(req.headers()) {
        Ok(t) => t,
        Err(()) => {
            return proxy_auth_refused(
                "Proxy-Authorization must be `Bearer TOKEN` or `Basic` with the token as password",
            )
        }
    };
    if let (Some(t), true) = (&token, front.dp.require_auth) {
        if let Err(e) = front.dp.auth.authenticate(t).await {
            tracing::info!(code = e.reason().code(), detail = e.detail(), peer = %info.peer, "CONNECT token refused");
            return proxy_auth_refused(
                "the Proxy-Authorization token does not validate; get a fresh grant token",
            );
        }
    }
    let tls = match front.ca.server_config(&host) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, %host, "could not mint an interception certificate");
            return refusal(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "the gateway could not make a certificate",
            );
        }
    };
    tracing::debug!(%host, peer = %info.peer, "CONNECT accepted; intercepting");
    let permit = req.extensions().get::<crate::listener::ConnectionPermit>().cloned();
    tokio::spawn(async move {
        let _permit = permit;
        intercept(front, info, req, host, token, TlsAcceptor::from(tls)).await;
    });
    Response::new(full(Bytes::new()))
}

fn proxy_auth_refused(message: &str) -> Response<ProxyBody> {
    let mut resp = refusal(StatusCode::PROXY_AUTHENTICATION_REQUIRED, "proxy_unauthenticated", message);
    resp.headers_mut().insert(PROXY_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"portcullis\""));
    resp
}

/// After `200` to the `CONNECT`: TLS as `host`, then HTTP/1.1 or HTTP/2 by ALPN, every
/// request through the pipeline as `https://host`.
async fn intercept(
    front: Arc<Front>,
    info: ConnInfo,
    req: Request<Incoming>,
    host: String,
    token: Option<String>,
    acceptor: TlsAcceptor,
) {
    let upgraded = match hyper::upgrade::on(req).await {
        Ok(u) => u,
        Err(e) => {
            tracing::debug!(peer = %info.peer, error = %e, "CONNECT upgrade failed");
            return;
        }
    };
    let timeout = front.dp.limits.header_timeout;
    let tls = match tokio::time::timeout(timeout, acceptor.accept(TokioIo::new(upgraded))).await {
        Ok(Ok(tls)) => tls,
        Ok(Err(e)) => {
            tracing::info!(peer = %info.peer, %host, error = %e, "TLS inside CONNECT failed (does the agent trust proxy-ca.pem?)");
            return;
        }
        Err(_) => return,
    };
    let inner_info = ConnInfo { scheme: "https", ..info };
    let authorization = token.and_then(|t| HeaderValue::from_str(&format!("Bearer {t}")).ok());
    let dp = front.dp.clone();
    let service = hyper::service::service_fn(move |mut req: Request<Incoming>| {
        let dp = dp.clone();
        let same_host = request_host(&req).is_some_and(|h| h == host);
        if let (Some(auth), false) = (&authorization, req.headers().contains_key(AUTHORIZATION)) {
            req.headers_mut().insert(AUTHORIZATION, auth.clone());
        }
        async move {
            if !same_host {
                return Ok::<_, std::convert::Infallible>(refusal(
                    StatusCode::MISDIRECTED_REQUEST,
                    "proxy_host_mismatch",
                    "the request's Host is not the host this tunnel was opened to",
                ));
            }
            Ok(pipeline::handle(dp, inner_info, req).await)
        }
    });
    let mut stopped = front.stopped.clone();
    let conn = front.builder.serve_connection(TokioIo::new(tls), service);
    tokio::pin!(conn);
    tokio::select! {
        r = conn.as_mut() => {
            if let Err(e) = r {
                tracing::debug!(peer = %info.peer, error = %e, "intercepted connection ended with an error");
            }
        }
        () = async { let _ = stopped.wait_for(|s| *s).await; } => {
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claimed() -> HashMap<String, String> {
        HashMap::from([("management.azure.com".to_owned(), "azure".to_owned())])
    }

    fn target(t: &str) -> Result<String, ConnectRefusal> {
        connect_target(&t.parse().expect("uri"), &claimed())
    }

    #[test]
    fn only_claimed_hosts_on_443_are_tunnelled() {
        assert_eq!(target("management.azure.com:443"), Ok("management.azure.com".into()));
        assert_eq!(target("MANAGEMENT.azure.com:443"), Ok("management.azure.com".into()));
        assert_eq!(target("management.azure.com:8443"), Err(ConnectRefusal::Port));
        assert_eq!(target("graph.microsoft.com:443"), Err(ConnectRefusal::NotClaimed));
        assert_eq!(target("169.254.169.254:443"), Err(ConnectRefusal::IpLiteral));
        assert_eq!(target("169.254.169.254:80"), Err(ConnectRefusal::IpLiteral));
        assert_eq!(target("[::1]:443"), Err(ConnectRefusal::IpLiteral));
        assert_eq!(target("metadata.google.internal:443"), Err(ConnectRefusal::Internal));
        assert_eq!(target("localhost:443"), Err(ConnectRefusal::Internal));
    }

    #[test]
    fn proxy_authorization_forms() {
        let h = |v: &str| {
            let mut m = http::HeaderMap::new();
            m.insert(PROXY_AUTHORIZATION, HeaderValue::from_str(v).expect("value"));
            proxy_token(&m)
        };
        assert_eq!(h("Bearer abc"), Ok(Some("abc".into())));
        let basic = base64::engine::general_purpose::STANDARD.encode("agent:tok.en");
        assert_eq!(h(&format!("Basic {basic}")), Ok(Some("tok.en".into())));
        let user_only = base64::engine::general_purpose::STANDARD.encode("tok:");
        assert_eq!(h(&format!("Basic {user_only}")), Ok(Some("tok".into())));
        assert_eq!(h("Digest x"), Err(()));
        assert_eq!(proxy_token(&http::HeaderMap::new()), Ok(None));
    }
}
