//! The canonical form of an HTTP request.
//!
//! Every request that reaches the gateway is parsed exactly once, here. The result,
//! [`CanonicalRequest`], is what guardrails evaluate, what the audit log records, and —
//! re-encoded by [`CanonicalRequest::target`] — exactly what is forwarded upstream
//! (security invariant 3). Anything that two servers could read differently is refused
//! with a [`CanonError`] (the gateway answers 400, 414 or 431), never guessed:
//! encoded `/` or `\` inside a segment, dot segments, double encoding, control bytes,
//! invalid UTF-8, absolute-form targets naming another host, method-override headers,
//! duplicate `Content-Length`, `Transfer-Encoding` together with `Content-Length`.
//!
//! This crate knows HTTP syntax only. It must not know about connections, principals,
//! Azure or policy.

mod error;
mod headers;
mod target;

pub use error::{CanonError, Reason};
pub use headers::check_headers;
pub use target::{parse_target, CanonicalTarget};

use http::request::Parts;
use http::Method;

/// Limits applied while canonicalizing; the gateway takes them from its config.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Longest accepted request target (path and query), in bytes. Longer: 414.
    pub max_uri_len: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_uri_len: 8192 }
    }
}

/// A request in its one canonical form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CanonicalRequest {
    /// The request method, as sent (methods are case-sensitive tokens).
    pub method: Method,
    /// The decoded path and query.
    pub target: CanonicalTarget,
}

impl CanonicalRequest {
    /// Canonicalizes the head of a request: its target and the headers that decide how
    /// it is framed or interpreted. `own_authority` is the authority the agent addressed
    /// (the `Host` header or HTTP/2 `:authority`); an absolute-form target naming any
    /// other authority is refused.
    pub fn from_parts(parts: &Parts, limits: Limits) -> Result<Self, CanonError> {
        check_headers(&parts.headers)?;
        if parts.method == Method::CONNECT {
            return Err(CanonError::new(
                Reason::UnsupportedTarget,
                "CONNECT is not a request for this listener",
            ));
        }
        let host = headers::single_host(&parts.headers)?;
        if let Some(authority) = parts.uri.authority() {
            // Absolute-form (HTTP/1.1 proxy style) or HTTP/2 :authority. It must name the
            // same authority as Host when both are present.
            if let Some(host) = host {
                if !authority.as_str().eq_ignore_ascii_case(host) {
                    return Err(CanonError::new(
                        Reason::ForeignAuthority,
                        "request target names a different host than the Host header",
                    ));
                }
            }
        }
        let path_and_query = parts.uri.path_and_query().map(|pq| pq.as_str()).unwrap_or("/");
        let target = parse_target(path_and_query, limits)?;
        Ok(CanonicalRequest { method: parts.method.clone(), target })
    }
}

#[cfg(test)]
mod tests;
