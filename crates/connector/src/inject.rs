//! Injection, part one: nothing the agent sent that could carry a credential reaches
//! the target (security invariant 2). The provider then sets its own.

use http::header::{self, HeaderName};
use http::HeaderMap;

/// Headers that carry credentials in some API the connector may front.
const CREDENTIAL_HEADERS: [HeaderName; 7] = [
    HeaderName::from_static("authorization"),
    HeaderName::from_static("proxy-authorization"),
    HeaderName::from_static("cookie"),
    HeaderName::from_static("x-ms-authorization-auxiliary"),
    HeaderName::from_static("x-ms-copy-source-authorization"),
    HeaderName::from_static("x-api-key"),
    HeaderName::from_static("ocp-apim-subscription-key"),
];

/// Headers a SharedKey signature covers that the connector sets itself.
const SIGNING_HEADERS: [HeaderName; 2] =
    [HeaderName::from_static("x-ms-date"), HeaderName::from_static("date")];

/// Hop-by-hop headers (RFC 9110 §7.6.1), never forwarded.
const HOP_BY_HOP: [HeaderName; 9] = [
    HeaderName::from_static("connection"),
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    HeaderName::from_static("te"),
    HeaderName::from_static("trailer"),
    HeaderName::from_static("transfer-encoding"),
    HeaderName::from_static("upgrade"),
    HeaderName::from_static("proxy-authenticate"),
    HeaderName::from_static("expect"),
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
    // Names parsed once (consts), not on every request.
    for name in CREDENTIAL_HEADERS.iter().chain(HOP_BY_HOP.iter()) {
        headers.remove(name);
    }
    if signs {
        for name in SIGNING_HEADERS.iter() {
            headers.remove(name);
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
            h.insert(name, HeaderValue::from_static("agent-secret"));
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
