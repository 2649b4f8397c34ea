//! A response body bound to the grant it runs under: when the grant is revoked or
//! expires, the stream ends at once (security invariant 4), even if the target is still
//! sending or idle.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use tokio_util::sync::WaitForCancellationFutureOwned;

use crate::body::{BoxError, ProxyBody};

/// Why a response stream was cut off.
#[derive(Debug, thiserror::Error)]
#[error("the grant this response ran under was revoked or expired")]
pub(crate) struct GrantEnded;

pub(crate) struct GrantBoundBody {
    inner: ProxyBody,
    ended: Pin<Box<WaitForCancellationFutureOwned>>,
}

impl GrantBoundBody {
    pub(crate) fn new(inner: ProxyBody, cancel: tokio_util::sync::CancellationToken) -> Self {
        GrantBoundBody { inner, ended: Box::pin(cancel.cancelled_owned()) }
    }
}

impl Body for GrantBoundBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        if this.ended.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Some(Err(Box::new(GrantEnded))));
        }
        Pin::new(&mut this.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
