//! Rewriting absolute URLs that point at the upstream so that SDKs following them
//! (`Location`, `Azure-AsyncOperation`, `nextLink`) come back through the gateway.
//!
//! Bodies are rewritten while they stream: a match split across two chunks is held
//! back (at most one pattern's length) until it can be decided.

use std::sync::Arc;

use aho_corasick::AhoCorasick;
use bytes::{Bytes, BytesMut};

/// Response headers that carry URLs an SDK follows.
pub(crate) const URL_HEADERS: &[&str] =
    &["location", "azure-asyncoperation", "operation-location", "content-location"];

/// The upstream prefix to find and the agent-facing base to put in its place.
#[derive(Debug, Clone)]
pub(crate) struct UrlRewrite {
    /// `https://management.azure.com` or `http://127.0.0.1:9000/base` (no trailing `/`).
    upstream: String,
    /// Finds the upstream prefix, plain and with JSON's `\/` escapes. Built once per
    /// connection (building it per response cost about a tenth of the gateway's CPU);
    /// only the replacements depend on the agent's base.
    finder: Option<Arc<AhoCorasick>>,
    max_len: usize,
}

impl UrlRewrite {
    pub(crate) fn new(upstream: &url::Url) -> Self {
        let upstream = crate::route::upstream_base(upstream);
        let patterns = [upstream.clone(), json_escaped(&upstream)];
        let max_len = patterns.iter().map(String::len).max().unwrap_or(0);
        let finder = AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .match_kind(aho_corasick::MatchKind::LeftmostLongest)
            .build(patterns)
            .ok()
            .map(Arc::new);
        UrlRewrite { upstream, finder, max_len }
    }

    /// Rewrites one header value if it is an absolute URL under the upstream.
    pub(crate) fn header_value(&self, value: &str, agent_base: &str) -> Option<String> {
        let head = value.get(..self.upstream.len())?;
        if !head.eq_ignore_ascii_case(&self.upstream) {
            return None;
        }
        let rest = &value[self.upstream.len()..];
        match rest.bytes().next() {
            None | Some(b'/' | b'?' | b'#') => Some(format!("{agent_base}{rest}")),
            _ => None,
        }
    }

    /// A streaming body rewriter for one response.
    pub(crate) fn body(&self, agent_base: &str) -> BodyRewriter {
        let replacements = [Bytes::from(agent_base.to_owned()), Bytes::from(json_escaped(agent_base))];
        BodyRewriter {
            finder: self.finder.clone(),
            replacements,
            max_len: self.max_len,
            held: BytesMut::new(),
        }
    }
}

/// `s` as it may appear inside a JSON string (`/` escaped as `\/`).
fn json_escaped(s: &str) -> String {
    s.replace('/', "\\/")
}

/// Rewrites upstream URLs in a byte stream, chunk by chunk.
pub(crate) struct BodyRewriter {
    finder: Option<Arc<AhoCorasick>>,
    replacements: [Bytes; 2],
    max_len: usize,
    held: BytesMut,
}

/// Bytes that may follow the upstream prefix in a URL we rewrite: a path, a query, a
/// fragment, or the end of a JSON string.
fn is_boundary(b: u8) -> bool {
    matches!(b, b'/' | b'?' | b'#' | b'"' | b'\\')
}

impl BodyRewriter {
    /// Feeds one chunk; returns what can be sent now.
    pub(crate) fn push(&mut self, chunk: &[u8]) -> Bytes {
        self.held.extend_from_slice(chunk);
        self.drain(false)
    }

    /// Ends the stream; returns the rest.
    pub(crate) fn finish(&mut self) -> Bytes {
        self.drain(true)
    }

    fn drain(&mut self, last: bool) -> Bytes {
        let buf = std::mem::take(&mut self.held).freeze();
        let Some(finder) = &self.finder else { return buf };
        let mut out = BytesMut::with_capacity(buf.len() + 64);
        let mut pos = 0;
        for m in finder.find_iter(&buf[..]) {
            match buf.get(m.end()) {
                None if !last => {
                    // The next byte decides; keep the match for the next chunk.
                    out.extend_from_slice(&buf[pos..m.start()]);
                    self.held.extend_from_slice(&buf[m.start()..]);
                    return out.freeze();
                }
                Some(&b) if !is_boundary(b) => continue,
                _ => {
                    out.extend_from_slice(&buf[pos..m.start()]);
                    out.extend_from_slice(&self.replacements[m.pattern().as_usize()]);
                    pos = m.end();
                }
            }
        }
        let safe = if last { buf.len() } else { buf.len().saturating_sub(self.max_len).max(pos) };
        out.extend_from_slice(&buf[pos..safe]);
        self.held.extend_from_slice(&buf[safe..]);
        out.freeze()
    }
}

/// A response body with upstream URLs rewritten as it streams.
pub(crate) struct RewriteBody<B> {
    inner: B,
    rewriter: BodyRewriter,
    pending_trailers: Option<http::HeaderMap>,
    finished: bool,
}

impl<B> RewriteBody<B> {
    pub(crate) fn new(inner: B, rewriter: BodyRewriter) -> Self {
        RewriteBody { inner, rewriter, pending_trailers: None, finished: false }
    }
}

impl<B> http_body::Body for RewriteBody<B>
where
    B: http_body::Body<Data = Bytes> + Unpin,
    B::Error: Into<crate::body::BoxError>,
{
    type Data = Bytes;
    type Error = crate::body::BoxError;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        use std::task::Poll;
        let this = &mut *self;
        loop {
            if this.finished {
                return Poll::Ready(this.pending_trailers.take().map(|t| Ok(http_body::Frame::trailers(t))));
            }
            match std::pin::Pin::new(&mut this.inner).poll_frame(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e.into()))),
                Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                    Ok(data) => {
                        let out = this.rewriter.push(&data);
                        if !out.is_empty() {
                            return Poll::Ready(Some(Ok(http_body::Frame::data(out))));
                        }
                    }
                    Err(frame) => {
                        this.pending_trailers = frame.into_trailers().ok();
                        this.finished = true;
                        let out = this.rewriter.finish();
                        if !out.is_empty() {
                            return Poll::Ready(Some(Ok(http_body::Frame::data(out))));
                        }
                    }
                },
                Poll::Ready(None) => {
                    this.finished = true;
                    let out = this.rewriter.finish();
                    if !out.is_empty() {
                        return Poll::Ready(Some(Ok(http_body::Frame::data(out))));
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rw() -> UrlRewrite {
        UrlRewrite::new(&"https://management.azure.com".parse().unwrap())
    }

    #[test]
    fn headers_under_the_upstream_are_rewritten_others_not() {
        let r = rw();
        let base = "http://127.0.0.1:8080/arm";
        assert_eq!(
            r.header_value(
                "https://management.azure.com/subscriptions/1/operationresults/x?api-version=1",
                base
            )
            .as_deref(),
            Some("http://127.0.0.1:8080/arm/subscriptions/1/operationresults/x?api-version=1")
        );
        assert_eq!(
            r.header_value("HTTPS://MANAGEMENT.AZURE.COM/a", base).as_deref(),
            Some("http://127.0.0.1:8080/arm/a")
        );
        assert_eq!(r.header_value("https://management.azure.com.evil.example/a", base), None);
        assert_eq!(r.header_value("https://elsewhere.example/a", base), None);
    }

    fn rewrite_in_chunks(input: &str, size: usize) -> String {
        let mut b = rw().body("http://gw/arm");
        let mut out = Vec::new();
        for chunk in input.as_bytes().chunks(size) {
            out.extend_from_slice(&b.push(chunk));
        }
        out.extend_from_slice(&b.finish());
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn body_urls_are_rewritten_across_any_chunking() {
        let input = r#"{"value":[],"nextLink":"https://management.azure.com/subscriptions?$skiptoken=1","x":"https:\/\/management.azure.com\/a","y":"https://management.azure.com.evil/b","z":"https://management.azure.com"}"#;
        let want = r#"{"value":[],"nextLink":"http://gw/arm/subscriptions?$skiptoken=1","x":"http:\/\/gw\/arm\/a","y":"https://management.azure.com.evil/b","z":"http://gw/arm"}"#;
        for size in 1..=input.len() {
            assert_eq!(rewrite_in_chunks(input, size), want, "chunk size {size}");
        }
    }

    #[test]
    fn match_at_the_very_end_is_rewritten() {
        assert_eq!(rewrite_in_chunks("https://management.azure.com", 5), "http://gw/arm");
    }
}
