//! Bodies for tests: fixed, channel-fed, endless counting, with drop signals.

use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame};
use http_body_util::{BodyExt, Full};
use portcullis_tunnel::{BoxBody, BoxError};
use tokio::sync::{mpsc, oneshot};

pub fn full(bytes: impl Into<Bytes>) -> BoxBody {
    Full::new(bytes.into()).map_err(|never| match never {}).boxed_unsync()
}

/// A body fed from a channel: each message is one chunk, `Err` fails the body, dropping
/// the sender ends it.
pub struct ChannelBody(pub mpsc::Receiver<Result<Bytes, BoxError>>);

impl Body for ChannelBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        self.0.poll_recv(cx).map(|m| m.map(|r| r.map(Frame::data)))
    }
}

pub fn channel_body() -> (mpsc::Sender<Result<Bytes, BoxError>>, BoxBody) {
    let (tx, rx) = mpsc::channel(4);
    (tx, ChannelBody(rx).boxed_unsync())
}

/// Fires its sender when dropped.
pub struct DropSignal(pub Option<oneshot::Sender<()>>);

impl Drop for DropSignal {
    fn drop(&mut self) {
        if let Some(tx) = self.0.take() {
            let _ = tx.send(());
        }
    }
}

/// An endless body of `chunk`-byte chunks that counts what it hands out, and signals when dropped.
pub struct Endless {
    pub chunk: Bytes,
    pub produced: Arc<AtomicU64>,
    pub _dropped: DropSignal,
}

impl Body for Endless {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        self.produced.fetch_add(self.chunk.len() as u64, Ordering::SeqCst);
        Poll::Ready(Some(Ok(Frame::data(self.chunk.clone()))))
    }
}
