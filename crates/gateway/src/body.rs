//! Body types and the guard that enforces size and stall limits while streaming.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full};
use tokio::time::{Instant, Sleep};

/// Any error that can travel inside a body.
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The body type on both sides of the proxy: streamed, never buffered whole.
pub(crate) type ProxyBody = UnsyncBoxBody<Bytes, BoxError>;

/// A complete body from bytes.
pub(crate) fn full(bytes: impl Into<Bytes>) -> ProxyBody {
    Full::new(bytes.into()).map_err(|never| match never {}).boxed_unsync()
}

/// Why the agent's body was cut off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum BodyLimit {
    /// More bytes than allowed.
    #[error("request body exceeds {0} bytes")]
    TooLarge(u64),
    /// No bytes for longer than allowed.
    #[error("request body stalled")]
    Stalled,
}

/// Streams the agent's body, counting bytes and watching for stalls. Fails the stream
/// (and so the upstream request) at the first byte past the limit.
pub(crate) struct GuardedBody<B> {
    inner: B,
    seen: u64,
    limit: u64,
    stall: Duration,
    timer: Pin<Box<Sleep>>,
}

impl<B> GuardedBody<B> {
    pub(crate) fn new(inner: B, limit: u64, stall: Duration) -> Self {
        GuardedBody { inner, seen: 0, limit, stall, timer: Box::pin(tokio::time::sleep(stall)) }
    }
}

impl<B> Body for GuardedBody<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.seen += data.len() as u64;
                    if this.seen > this.limit {
                        return Poll::Ready(Some(Err(Box::new(BodyLimit::TooLarge(this.limit)))));
                    }
                }
                let deadline = Instant::now() + this.stall;
                this.timer.as_mut().reset(deadline);
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e.into()))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => match this.timer.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Some(Err(Box::new(BodyLimit::Stalled)))),
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Finds a [`BodyLimit`] anywhere in an error's source chain.
pub(crate) fn find_body_limit(err: &(dyn std::error::Error + 'static)) -> Option<BodyLimit> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = cur {
        if let Some(limit) = e.downcast_ref::<BodyLimit>() {
            return Some(*limit);
        }
        cur = e.source();
    }
    None
}
