//! Step 9's masking: the response body goes through the connection's masking profile
//! (decoded if compressed) before anything reaches the agent. A masking failure aborts
//! the response (fail closed); counts of what was masked, by detector, go into the
//! response's audit record — never the values.

use std::collections::BTreeMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{ready, Context, Poll};

use bytes::Bytes;
use http::header::{CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE};
use http::response::Parts;
use http::{HeaderMap, HeaderValue};
use http_body::{Body, Frame};
use portcullis_mask::{ContentKind, MaskEngine, MaskError, MaskStream, SessionContext};

use crate::body::{BoxError, ProxyBody};

/// Masked values per detector, shared between the masking body and the response record.
pub(crate) type MaskCounts = Arc<Mutex<BTreeMap<String, u64>>>;

/// Masks the response headers and wraps the body. Returns the counts the response record
/// reads when the body ends.
pub(crate) fn mask_response(
    engine: &MaskEngine,
    session: &SessionContext,
    parts: &mut Parts,
    body: ProxyBody,
) -> Result<(ProxyBody, MaskCounts), MaskError> {
    let kind = ContentKind::from_content_type(parts.headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()));
    let encoding = parts.headers.get(CONTENT_ENCODING).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let unknown = match &kind {
        ContentKind::Other(ct) => Some(ct.clone()),
        _ => None,
    };
    let mut stream = engine.stream_encoded(kind, encoding.as_deref(), session)?;
    // Refuse before the head goes out, so the agent gets a clear error rather than a cut
    // stream; an empty body has nothing to inspect.
    if let Some(content_type) = unknown.filter(|_| !stream.is_passthrough() && !is_empty(parts)) {
        return Err(MaskError::UnsupportedContent {
            content_type,
            profile: engine.profile_name().to_owned(),
        });
    }
    mask_headers(&mut stream, &mut parts.headers);
    if !stream.is_passthrough() {
        parts.headers.remove(CONTENT_LENGTH);
        if stream.output_is_decoded() {
            parts.headers.remove(CONTENT_ENCODING);
        }
    }
    let counts = MaskCounts::default();
    let body = MaskBody { inner: body, stream: Some(stream), counts: counts.clone(), trailers: None };
    Ok((http_body_util::BodyExt::boxed_unsync(body), counts))
}

fn is_empty(parts: &Parts) -> bool {
    parts.status == http::StatusCode::NO_CONTENT
        || parts.status == http::StatusCode::NOT_MODIFIED
        || parts.headers.get(CONTENT_LENGTH).is_some_and(|v| v.as_bytes() == b"0")
}

/// Header values are masked by the same rules (field rules match the header name).
fn mask_headers(stream: &mut MaskStream, headers: &mut HeaderMap) {
    let names: Vec<_> = headers.keys().cloned().collect();
    for name in names {
        let values: Vec<HeaderValue> = headers.get_all(&name).iter().cloned().collect();
        let mut changed = false;
        let masked: Vec<HeaderValue> = values
            .iter()
            .map(|v| match v.to_str() {
                Ok(text) => {
                    let out = stream.mask_header_value(name.as_str(), text);
                    if out != text {
                        changed = true;
                    }
                    HeaderValue::from_str(&out).unwrap_or_else(|_| HeaderValue::from_static("[REDACTED]"))
                }
                // Not visible text: it cannot be inspected, so it does not pass.
                Err(_) => {
                    changed = true;
                    HeaderValue::from_static("[REDACTED]")
                }
            })
            .collect();
        if changed {
            headers.remove(&name);
            for v in masked {
                headers.append(name.clone(), v);
            }
        }
    }
}

/// The masked response body.
struct MaskBody {
    inner: ProxyBody,
    /// `None` once the body has ended.
    stream: Option<MaskStream>,
    counts: MaskCounts,
    /// Trailers that arrived; sent after the held-back bytes.
    trailers: Option<HeaderMap>,
}

impl MaskBody {
    fn end(&mut self) -> Result<Vec<u8>, BoxError> {
        let mut out = Vec::new();
        if let Some(mut stream) = self.stream.take() {
            let r = stream.finish(&mut out);
            self.report(&stream);
            r?;
        }
        Ok(out)
    }

    fn report(&self, stream: &MaskStream) {
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        *counts = stream.report().counts;
    }
}

impl Body for MaskBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        loop {
            if this.stream.is_none() {
                return Poll::Ready(this.trailers.take().map(|t| Ok(Frame::trailers(t))));
            }
            let frame = match ready!(Pin::new(&mut this.inner).poll_frame(cx)) {
                Some(Ok(frame)) => frame,
                Some(Err(e)) => {
                    this.stream = None;
                    return Poll::Ready(Some(Err(e)));
                }
                None => {
                    let out = this.end()?;
                    if out.is_empty() {
                        return Poll::Ready(None);
                    }
                    return Poll::Ready(Some(Ok(Frame::data(Bytes::from(out)))));
                }
            };
            let data = match frame.into_data() {
                Ok(data) => data,
                Err(frame) => {
                    this.trailers = frame.into_trailers().ok();
                    let out = this.end()?;
                    if out.is_empty() {
                        continue;
                    }
                    return Poll::Ready(Some(Ok(Frame::data(Bytes::from(out)))));
                }
            };
            let mut out = Vec::new();
            if let Some(stream) = this.stream.as_mut() {
                if let Err(e) = stream.push(&data, &mut out) {
                    let stream = this.stream.take();
                    if let Some(s) = &stream {
                        this.report(s);
                    }
                    return Poll::Ready(Some(Err(e.into())));
                }
            }
            if !out.is_empty() {
                return Poll::Ready(Some(Ok(Frame::data(Bytes::from(out)))));
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.stream.is_none() && self.trailers.is_none()
    }
}
