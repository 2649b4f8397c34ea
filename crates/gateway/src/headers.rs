//! Header hygiene between agent and target (RFC 9110 §7.6.1): hop-by-hop headers,
//! headers named in `Connection`, forwarding headers set by the gateway only, and the
//! agent's credentials removed before anything leaves (security invariant 2).

use std::net::SocketAddr;

use http::header::{self, HeaderName};
use http::{HeaderMap, HeaderValue};

/// Headers that describe one hop, never forwarded.
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "proxy-authenticate",
    "proxy-authorization",
    "expect",
];

/// Credentials the agent may send; the target must never see them (the connector
/// injects its own).
const AGENT_CREDENTIALS: &[&str] = &["authorization", "cookie", "x-ms-authorization-auxiliary", "x-api-key"];

/// Forwarding headers an agent could forge; the gateway sets its own.
const FORWARDING: &[&str] = &[
    "forwarded",
    "x-forwarded-for",
    "x-forwarded-host",
    "x-forwarded-proto",
    "x-forwarded-port",
    "x-real-ip",
];

/// Removes hop-by-hop headers, including every header the `Connection` header names.
pub(crate) fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|token| HeaderName::from_bytes(token.trim().as_bytes()).ok())
        .collect();
    for name in named {
        headers.remove(name);
    }
    for name in HOP_BY_HOP {
        headers.remove(*name);
    }
}

/// Prepares the agent's headers for the target: hop-by-hop, credentials and forged
/// forwarding headers removed, the gateway's own forwarding headers set.
pub(crate) fn upstream_request_headers(
    headers: &mut HeaderMap,
    peer: SocketAddr,
    proto: &str,
    host: Option<&str>,
) {
    strip_hop_by_hop(headers);
    for name in AGENT_CREDENTIALS.iter().chain(FORWARDING) {
        headers.remove(*name);
    }
    headers.remove(header::HOST);
    let for_ = match peer {
        SocketAddr::V4(v4) => format!("for=\"{v4}\""),
        SocketAddr::V6(v6) => format!("for=\"[{}]:{}\"", v6.ip(), v6.port()),
    };
    let mut forwarded = format!("{for_};proto={proto}");
    if let Some(host) = host {
        forwarded.push_str(&format!(";host=\"{host}\""));
        if let Ok(v) = HeaderValue::from_str(host) {
            headers.insert("x-forwarded-host", v);
        }
    }
    if let Ok(v) = HeaderValue::from_str(&forwarded) {
        headers.insert("forwarded", v);
    }
    if let Ok(v) = HeaderValue::from_str(&peer.ip().to_string()) {
        headers.insert("x-forwarded-for", v);
    }
    headers.insert(
        "x-forwarded-proto",
        HeaderValue::from_static(if proto == "https" { "https" } else { "http" }),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removes_hop_by_hop_named_credentials_and_forged_forwarding() {
        let mut h = HeaderMap::new();
        h.insert("connection", HeaderValue::from_static("keep-alive, x-secret-hop"));
        h.insert("x-secret-hop", HeaderValue::from_static("1"));
        h.insert("keep-alive", HeaderValue::from_static("timeout=5"));
        h.insert("authorization", HeaderValue::from_static("Bearer agent-token"));
        h.insert("x-forwarded-for", HeaderValue::from_static("10.0.0.1"));
        h.insert("x-ms-client-request-id", HeaderValue::from_static("abc"));
        upstream_request_headers(&mut h, "127.0.0.1:5555".parse().unwrap(), "http", Some("gw.local"));
        assert!(h.get("x-secret-hop").is_none());
        assert!(h.get("keep-alive").is_none());
        assert!(h.get("authorization").is_none());
        assert_eq!(h["x-forwarded-for"], "127.0.0.1");
        assert_eq!(h["forwarded"], "for=\"127.0.0.1:5555\";proto=http;host=\"gw.local\"");
        assert_eq!(h["x-ms-client-request-id"], "abc");
    }
}
