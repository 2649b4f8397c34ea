//! The request target: path segments and query parameters, decoded once.

use std::fmt::Write as _;

use crate::{CanonError, Limits, Reason};

/// A request target decoded exactly once.
///
/// The path is held as decoded segments (no segment contains `/`, since encoded
/// separators are refused), the query as decoded `(name, value)` pairs in their original
/// order. [`CanonicalTarget::encoded`] re-encodes them in one fixed way: that string is
/// what the gateway forwards, so the target sees the same request the policy saw.
///
/// Query strings follow form semantics, as ASP.NET (and so Azure Resource Manager) reads
/// them: a raw `+` is a space, `%2B` is a plus sign.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CanonicalTarget {
    pub(crate) segments: Vec<String>,
    pub(crate) trailing_slash: bool,
    pub(crate) query: Vec<(String, Option<String>)>,
}

/// Query parameters that must appear at most once; a second copy (in any letter case)
/// is refused, since servers disagree on which one wins.
const SINGLE_VALUED: &[&str] = &["api-version"];

/// Parses and canonicalizes an origin-form request target (`/path?query`).
pub fn parse_target(raw: &str, limits: Limits) -> Result<CanonicalTarget, CanonError> {
    if raw.len() > limits.max_uri_len {
        return Err(CanonError::new(
            Reason::UriTooLong,
            "request target is longer than the configured limit",
        ));
    }
    let (path, query) = match raw.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (raw, None),
    };
    if !path.starts_with('/') {
        return Err(CanonError::new(Reason::UnsupportedTarget, "request target must start with '/'"));
    }
    let mut target = CanonicalTarget::default();
    let body = &path[1..];
    if !body.is_empty() {
        let mut parts: Vec<&str> = body.split('/').collect();
        if parts.last() == Some(&"") {
            parts.pop();
            target.trailing_slash = true;
        }
        for part in parts {
            target.segments.push(decode_segment(part)?);
        }
    }
    if let Some(query) = query {
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (name, value) = match pair.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (pair, None),
            };
            let name = decode_component(name, Component::Query)?;
            let value = value.map(|v| decode_component(v, Component::Query)).transpose()?;
            target.query.push((name, value));
        }
        for single in SINGLE_VALUED {
            let count = target.query.iter().filter(|(n, _)| n.eq_ignore_ascii_case(single)).count();
            if count > 1 {
                return Err(CanonError::new(
                    Reason::DuplicateParameter,
                    "a single-valued query parameter appears twice",
                ));
            }
        }
    }
    Ok(target)
}

impl CanonicalTarget {
    /// The decoded path segments.
    pub fn segments(&self) -> &[String] {
        &self.segments
    }

    /// The decoded query parameters, in order. A parameter without `=` has no value.
    pub fn query(&self) -> &[(String, Option<String>)] {
        &self.query
    }

    /// The first query parameter with this name, compared case-insensitively (ARM's
    /// rule for parameter names).
    pub fn query_param(&self, name: &str) -> Option<&str> {
        self.query.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).and_then(|(_, v)| v.as_deref())
    }

    /// Whether the path ended with `/`.
    pub fn trailing_slash(&self) -> bool {
        self.trailing_slash
    }

    /// The decoded path, `/`-joined (for display, policy and audit).
    pub fn path(&self) -> String {
        let mut out = String::with_capacity(self.segments.iter().map(|s| s.len() + 1).sum::<usize>() + 1);
        for s in &self.segments {
            out.push('/');
            out.push_str(s);
        }
        if self.segments.is_empty() || self.trailing_slash {
            out.push('/');
        }
        out
    }

    /// The same target without its first `n` segments (the gateway removes the
    /// connection prefix before forwarding).
    pub fn without_prefix(&self, n: usize) -> CanonicalTarget {
        let n = n.min(self.segments.len());
        CanonicalTarget {
            segments: self.segments[n..].to_vec(),
            trailing_slash: self.trailing_slash && self.segments.len() > n,
            query: self.query.clone(),
        }
    }

    /// The canonical encoding of path and query: what is forwarded.
    pub fn encoded(&self) -> String {
        let mut out = String::with_capacity(64);
        for s in &self.segments {
            out.push('/');
            encode_into(&mut out, s, Component::Path);
        }
        if self.segments.is_empty() || self.trailing_slash {
            out.push('/');
        }
        for (i, (name, value)) in self.query.iter().enumerate() {
            out.push(if i == 0 { '?' } else { '&' });
            encode_into(&mut out, name, Component::Query);
            if let Some(v) = value {
                out.push('=');
                encode_into(&mut out, v, Component::Query);
            }
        }
        out
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Component {
    Path,
    Query,
}

fn decode_segment(raw: &str) -> Result<String, CanonError> {
    if raw.is_empty() {
        return Err(CanonError::new(Reason::EmptySegment, "empty path segment ('//') is ambiguous"));
    }
    let decoded = decode_component(raw, Component::Path)?;
    if decoded == "." || decoded == ".." {
        return Err(CanonError::new(Reason::DotSegment, "dot segments ('.', '..') are refused"));
    }
    Ok(decoded)
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

fn decode_component(raw: &str, component: Component) -> Result<String, CanonError> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let (decoded, was_escaped) = if b == b'%' {
            let hi = bytes.get(i + 1).copied().and_then(hex);
            let lo = bytes.get(i + 2).copied().and_then(hex);
            match (hi, lo) {
                (Some(h), Some(l)) => {
                    i += 3;
                    (h << 4 | l, true)
                }
                _ => {
                    return Err(CanonError::new(
                        Reason::MalformedPercentEncoding,
                        "'%' must be followed by two hex digits",
                    ))
                }
            }
        } else {
            i += 1;
            if component == Component::Query && b == b'+' {
                (b' ', false)
            } else {
                (b, false)
            }
        };
        if decoded < 0x20 || decoded == 0x7f {
            return Err(CanonError::new(
                Reason::ControlCharacter,
                "control characters are refused in the target",
            ));
        }
        if component == Component::Path && (decoded == b'\\' || (was_escaped && decoded == b'/')) {
            return Err(CanonError::new(
                Reason::EncodedSeparator,
                "encoded '/' or any '\\' in a path segment is refused",
            ));
        }
        out.push(decoded);
    }
    if out.windows(3).any(|w| w[0] == b'%' && hex(w[1]).is_some() && hex(w[2]).is_some()) {
        return Err(CanonError::new(
            Reason::DoubleEncoding,
            "percent-escapes that decode to escapes are refused",
        ));
    }
    String::from_utf8(out)
        .map_err(|_| CanonError::new(Reason::InvalidUtf8, "the decoded target is not UTF-8"))
}

fn keep(b: u8, component: Component) -> bool {
    if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
        return true;
    }
    match component {
        Component::Path => matches!(
            b,
            b'!' | b'$' | b'&' | b'\'' | b'(' | b')' | b'*' | b'+' | b',' | b';' | b'=' | b':' | b'@'
        ),
        Component::Query => {
            matches!(b, b'!' | b'$' | b'\'' | b'(' | b')' | b'*' | b',' | b';' | b':' | b'@' | b'/' | b'?')
        }
    }
}

fn encode_into(out: &mut String, s: &str, component: Component) {
    for &b in s.as_bytes() {
        if keep(b, component) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
}
