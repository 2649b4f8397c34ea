//! Step 7 (and the end of step 9): the durable audit record.
//!
//! The request event is committed before anything leaves the gateway; if it cannot be,
//! the request is refused with 503 (fail closed, security invariant 1). The response
//! event is written when the response body ends — or is cut off — with its status,
//! headers, byte count, duration and the body as the agent received it (masked), up to
//! `audit.record_body_bytes`. With an auditor's key configured, the body before masking
//! is kept too, sealed to that key.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use http::HeaderMap;
use http_body::{Body, Frame};
use portcullis_audit::{
    sanitize_headers, AuditEvent, AuditLog, BodyRef, EventDetail, RequestRecord, ResponseRecord,
};
use portcullis_identity::Principal;

use crate::body::{BoxError, ProxyBody};
use crate::error::GatewayError;

fn headers(map: &HeaderMap) -> Vec<portcullis_audit::Header> {
    sanitize_headers(map.iter().map(|(k, v)| (k.as_str(), v.as_bytes())))
}

/// What step 7 records about a request.
pub(crate) struct RequestFacts<'a> {
    pub(crate) request_id: &'a str,
    pub(crate) grant_id: Option<&'a str>,
    pub(crate) review_id: Option<&'a str>,
    pub(crate) principal: Option<&'a Principal>,
    pub(crate) connection: &'a str,
    pub(crate) method: &'a str,
    pub(crate) target: &'a str,
    pub(crate) headers: &'a HeaderMap,
    /// The request body as read for inspection, already cut to the recording limit.
    pub(crate) body: Option<Bytes>,
}

/// Commits the request event (and its body); only then may the request be forwarded.
pub(crate) async fn record_request(audit: &AuditLog, facts: RequestFacts<'_>) -> Result<(), GatewayError> {
    let principal =
        facts.principal.and_then(|p| serde_json::to_value(p).ok()).unwrap_or(serde_json::Value::Null);
    let delegation = facts
        .principal
        .map(|p| p.delegation.iter().filter_map(|a| serde_json::to_value(a).ok()).collect())
        .unwrap_or_default();
    let grant_id = facts.grant_id.map(str::to_owned);
    let event = AuditEvent::now(EventDetail::Request(RequestRecord {
        request_id: facts.request_id.to_owned(),
        principal,
        delegation,
        grant_id,
        review_id: facts.review_id.map(str::to_owned),
        connection: facts.connection.to_owned(),
        method: facts.method.to_owned(),
        target: facts.target.to_owned(),
        headers: headers(facts.headers),
        body: facts.body.as_deref().map(BodyRef::of),
    }));
    let bodies = facts.body.map(|b| vec![b.to_vec()]).unwrap_or_default();
    audit.append_with_bodies(event, bodies).await.map(|_| ()).map_err(GatewayError::AuditUnavailable)
}

/// The first `limit` bytes of a body, copied as they pass ([`TeeBody`], [`RecordedBody`]).
#[derive(Debug, Default, Clone)]
pub(crate) struct Capture(Arc<Mutex<Vec<u8>>>);

/// Appends to `buf` as much of `data` as fits under `limit` bytes in all.
fn keep_prefix(buf: &mut Vec<u8>, data: &[u8], limit: usize) {
    let room = limit.saturating_sub(buf.len());
    buf.extend_from_slice(&data[..data.len().min(room)]);
}

impl Capture {
    fn keep(&self, data: &[u8], limit: usize) {
        keep_prefix(&mut self.0.lock().unwrap_or_else(|p| p.into_inner()), data, limit);
    }

    fn take(&self) -> Vec<u8> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

/// Passes a body through unchanged, keeping its first `limit` bytes in a [`Capture`]
/// (the response before masking, for the auditor's sealed copy).
pub(crate) struct TeeBody {
    inner: ProxyBody,
    capture: Capture,
    limit: usize,
}

impl TeeBody {
    pub(crate) fn new(inner: ProxyBody, capture: Capture, limit: usize) -> Self {
        TeeBody { inner, capture, limit }
    }
}

impl Body for TeeBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled {
            if let Some(d) = frame.data_ref() {
                this.capture.keep(d, this.limit);
            }
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// The response event's fields, completed when the body ends.
pub(crate) struct PendingResponse {
    pub(crate) audit: Arc<AuditLog>,
    pub(crate) request_id: String,
    pub(crate) grant_id: Option<String>,
    pub(crate) connection: String,
    pub(crate) status: u16,
    pub(crate) headers: HeaderMap,
    /// What masking removed, by detector (read when the body ends).
    pub(crate) mask_counts: Option<crate::mask_body::MaskCounts>,
    pub(crate) started: Instant,
    /// The most body bytes recorded.
    pub(crate) body_limit: usize,
    /// The body before masking, for the auditor's sealed copy.
    pub(crate) unmasked: Option<Capture>,
    /// The request body as it streamed, uninspected, to the target.
    pub(crate) streamed_request: Option<Capture>,
}

impl PendingResponse {
    fn write(self, bytes: u64, body: Vec<u8>) {
        let request_body = self.streamed_request.map(|c| c.take()).filter(|b| !b.is_empty());
        let event = AuditEvent::now(EventDetail::Response(ResponseRecord {
            request_id: self.request_id,
            grant_id: self.grant_id,
            connection: self.connection,
            status: self.status,
            headers: headers(&self.headers),
            body: (!body.is_empty()).then(|| BodyRef::of(&body)),
            mask_counts: self
                .mask_counts
                .map(|c| c.lock().unwrap_or_else(|p| p.into_inner()).clone())
                .unwrap_or_default(),
            bytes,
            duration_us: self.started.elapsed().as_micros() as u64,
            request_body: request_body.as_deref().map(BodyRef::of),
        }));
        let audit = self.audit;
        let bodies: Vec<Vec<u8>> =
            [(!body.is_empty()).then_some(body), request_body].into_iter().flatten().collect();
        let unmasked: Vec<Vec<u8>> =
            self.unmasked.map(|c| c.take()).filter(|b| !b.is_empty()).into_iter().collect();
        // Bodies end inside the connection's task; a body dropped outside any runtime
        // (process teardown) cannot be recorded, and says so.
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => {
                rt.spawn(async move {
                    if let Err(e) = audit.append_deferred(event, bodies, unmasked).await {
                        tracing::error!(code = e.reason.code(), detail = %e, "could not record a response");
                    }
                });
            }
            Err(_) => tracing::error!("a response ended outside the runtime and was not recorded"),
        }
    }
}

/// A response body that records the response event when it ends, fails or is dropped.
pub(crate) struct RecordedBody {
    inner: ProxyBody,
    bytes: u64,
    kept: Vec<u8>,
    pending: Option<PendingResponse>,
}

impl RecordedBody {
    pub(crate) fn new(inner: ProxyBody, pending: PendingResponse) -> Self {
        RecordedBody { inner, bytes: 0, kept: Vec::new(), pending: Some(pending) }
    }

    fn finish(&mut self) {
        if let Some(p) = self.pending.take() {
            p.write(self.bytes, std::mem::take(&mut self.kept));
        }
    }
}

impl Body for RecordedBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(d) = frame.data_ref() {
                    this.bytes += d.len() as u64;
                    let limit = this.pending.as_ref().map_or(0, |p| p.body_limit);
                    keep_prefix(&mut this.kept, d, limit);
                }
            }
            Poll::Ready(None) | Poll::Ready(Some(Err(_))) => this.finish(),
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for RecordedBody {
    fn drop(&mut self) {
        self.finish();
    }
}
