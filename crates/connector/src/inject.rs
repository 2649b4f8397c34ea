//! Injection, part one: nothing the agent sent that could carry a credential reaches
//! the target (security invariant 2). The provider then sets its own.

use http::header::{self, HeaderName};
use http::HeaderMap;

/// Headers that carry credentials in some API the connector may front.
const CREDENTIAL_HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "cookie",
    "x-ms-authorization-auxiliary",
    "x-ms-copy-source-authorization",
    "x-api-key",
    "ocp-apim-subscription-key",
];

/// Headers a SharedKey signature covers that the connector sets itself.
const SIGNING_HEADERS: &[&str] = &["x-ms-date", "date"];

/// Hop-by-hop headers (RFC 9110 §7.6.1), never forwarded.
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "proxy-authenticate",
    "expect",
];

/// Removes every credential-bearing header, the headers the provider will set
/// (`own`), signing headers when the provider re-signs, and hop-by-hop headers.
pub(crate) fn strip_agent_credentials(headers: &mut HeaderMap, own: &HeaderName, signs: bool) {
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
    for name in CREDENTIAL_HEADERS.iter().chain(HOP_BY_HOP) {
        headers.remove(*name);
    }
    if signs {
        for name in SIGNING_HEADERS {
            headers.remove(*name);
        }
    }
    headers.remove(own);
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    #[test]
    fn every_agent_credential_is_removed() {
        let mut h = HeaderMap::new();
        for name in CREDENTIAL_HEADERS {
            h.insert(*name, HeaderValue::from_static("agent-secret"));
        }
        h.insert("x-custom-key", HeaderValue::from_static("agent-secret"));
        h.insert("x-ms-date", HeaderValue::from_static("old"));
        h.insert("x-ms-version", HeaderValue::from_static("2021-08-06"));
        h.insert("x-ms-client-request-id", HeaderValue::from_static("abc"));
        strip_agent_credentials(&mut h, &HeaderName::from_static("x-custom-key"), true);
        assert!(h.values().all(|v| v != "agent-secret"), "{h:?}");
        assert!(h.get("x-ms-date").is_none());
        assert_eq!(h["x-ms-version"], "2021-08-06");
        assert_eq!(h["x-ms-client-request-id"], "abc");
    }
}
