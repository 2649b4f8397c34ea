//! ARM `POST /batch`: every inner request is unpacked so it is classified and decided on
//! its own. Inner URLs that point anywhere but ARM itself, or that are spelled in a way
//! that could be read two ways, are refused rather than guessed.

use serde_json::Value;

/// The most inner requests one batch may carry (ARM itself accepts far fewer).
pub(crate) const MAX_BATCH_REQUESTS: usize = 500;

/// One inner request, ready to classify.
#[derive(Debug, Clone)]
pub(crate) struct InnerRequest {
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) query: Vec<(String, String)>,
    pub(crate) body: Option<Vec<u8>>,
}

/// Why an inner request (or the whole batch) is refused; each is a stable rule id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BatchRefusal {
    Unreadable,
    TooMany,
    ForeignHost,
    AmbiguousUrl,
    BadMethod,
    NestedBatch,
}

impl BatchRefusal {
    pub(crate) fn rule_id(self) -> &'static str {
        match self {
            BatchRefusal::Unreadable => "builtin.batch-unreadable",
            BatchRefusal::TooMany => "builtin.batch-too-many",
            BatchRefusal::ForeignHost => "builtin.batch-foreign-host",
            BatchRefusal::AmbiguousUrl => "builtin.batch-ambiguous-url",
            BatchRefusal::BadMethod => "builtin.batch-bad-method",
            BatchRefusal::NestedBatch => "builtin.batch-nested",
        }
    }

    pub(crate) fn explain(self) -> &'static str {
        match self {
            BatchRefusal::Unreadable => "batch request whose body is missing or not readable JSON",
            BatchRefusal::TooMany => "batch request with more inner requests than allowed",
            BatchRefusal::ForeignHost => "batch entry pointing at a host other than Azure Resource Manager",
            BatchRefusal::AmbiguousUrl => "batch entry whose URL is ambiguously encoded",
            BatchRefusal::BadMethod => "batch entry with an unsupported HTTP method",
            BatchRefusal::NestedBatch => "batch entry that is itself a batch",
        }
    }
}

/// Is this request an ARM batch (`POST /batch`)?
pub(crate) fn is_batch(method: &str, path: &str) -> bool {
    method.eq_ignore_ascii_case("POST")
        && (path.eq_ignore_ascii_case("/batch") || path.eq_ignore_ascii_case("/batch/"))
}

/// Unpack a batch body. The outer `Err` refuses the whole batch; an inner `Err` refuses
/// one entry (which, strictest-wins, refuses the batch too, but names the entry).
pub(crate) fn unpack(
    body: Option<&Value>,
    arm_origins: &[String],
) -> Result<Vec<Result<InnerRequest, BatchRefusal>>, BatchRefusal> {
    let requests =
        body.and_then(|b| b.get("requests")).and_then(Value::as_array).ok_or(BatchRefusal::Unreadable)?;
    if requests.len() > MAX_BATCH_REQUESTS {
        return Err(BatchRefusal::TooMany);
    }
    Ok(requests.iter().map(|r| inner(r, arm_origins)).collect())
}

fn inner(entry: &Value, arm_origins: &[String]) -> Result<InnerRequest, BatchRefusal> {
    let method =
        entry.get("httpMethod").and_then(Value::as_str).ok_or(BatchRefusal::Unreadable)?.to_ascii_uppercase();
    if !matches!(method.as_str(), "GET" | "HEAD" | "PUT" | "PATCH" | "DELETE" | "POST") {
        return Err(BatchRefusal::BadMethod);
    }
    let raw = entry.get("url").and_then(Value::as_str).ok_or(BatchRefusal::Unreadable)?;
    let (path, query) = split_url(raw, arm_origins)?;
    if is_batch("POST", &path) {
        return Err(BatchRefusal::NestedBatch);
    }
    let body = match entry.get("content") {
        None | Some(Value::Null) => None,
        Some(content) => Some(content.to_string().into_bytes()),
    };
    Ok(InnerRequest { method, path, query, body })
}

/// Split an inner URL into a canonical path (percent-decoded once) and query pairs.
pub(crate) fn split_url(
    raw: &str,
    arm_origins: &[String],
) -> Result<(String, Vec<(String, String)>), BatchRefusal> {
    if raw.chars().any(|c| c.is_control() || c == '\\' || c == ' ') {
        return Err(BatchRefusal::AmbiguousUrl);
    }
    let relative = if raw.starts_with('/') && !raw.starts_with("//") {
        raw
    } else {
        let scheme_end = raw.find("://").ok_or(BatchRefusal::ForeignHost)?;
        let url = url::Url::parse(raw).map_err(|_| BatchRefusal::AmbiguousUrl)?;
        let origin = url.origin().ascii_serialization();
        let origin_ok = url.username().is_empty()
            && url.password().is_none()
            && arm_origins.iter().any(|o| o.trim_end_matches('/').eq_ignore_ascii_case(&origin));
        if !origin_ok {
            return Err(BatchRefusal::ForeignHost);
        }
        // Keep the raw path so that dot segments are refused below, not resolved.
        let after_scheme = &raw[scheme_end + 3..];
        let slash = after_scheme.find('/').ok_or(BatchRefusal::AmbiguousUrl)?;
        &after_scheme[slash..]
    };
    let relative = relative.split('#').next().unwrap_or(relative);
    let (raw_path, raw_query) = match relative.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (relative, None),
    };
    let path = decode_once(raw_path).ok_or(BatchRefusal::AmbiguousUrl)?;
    if path.contains("//") || path.split('/').any(|s| s == "." || s == ".." || s.contains('%')) {
        return Err(BatchRefusal::AmbiguousUrl);
    }
    let query = raw_query
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
        })
        .unwrap_or_default();
    Ok((path, query))
}

/// Percent-decode once; `None` when a decoded byte would change the path's structure
/// (`/`, `\`, `%`, control characters) or the result is not UTF-8.
fn decode_once(raw: &str) -> Option<String> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let text = std::str::from_utf8(hex).ok()?;
            let b = u8::from_str_radix(text, 16).ok()?;
            if b == b'/' || b == b'\\' || b == b'%' || b < 0x20 || b == 0x7f {
                return None;
            }
            out.push(b);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}
