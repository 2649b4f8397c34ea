//! The plain input of a decision: what the request is and who makes it.

/// One request as the gateway's canonicalizer produced it. The policy crate trusts that
/// the canonical form is the one that will be forwarded; it does not canonicalize again.
#[derive(Debug, Clone, Copy)]
pub struct RequestFacts<'a> {
    /// HTTP method, e.g. `DELETE` (compared case-insensitively).
    pub method: &'a str,
    /// Canonical path: percent-decoded once, no dot segments, starts with `/`, the part
    /// after the connection prefix.
    pub path: &'a str,
    /// Query parameters in order, decoded.
    pub query: &'a [(String, String)],
    /// The JSON body when the caller has it (size-limited by the caller). `None` means
    /// "not available", which makes body-dependent checks fail closed.
    pub body: Option<&'a [u8]>,
}

/// Who is calling: the principal's groups and the level of the grant in use.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    /// The principal's groups (names or object ids).
    pub groups: &'a [String],
    /// The grant's level, e.g. `read`, `operator`, `admin`.
    pub level: &'a str,
}

impl<'a> RequestFacts<'a> {
    /// The first query value for `name` (ASCII case-insensitive, as ARM reads it).
    pub fn query_value(&self, name: &str) -> Option<&'a str> {
        self.query.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}
