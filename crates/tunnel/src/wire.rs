//! The authentication preamble spoken right after the TLS handshake, before HTTP/2.
//!
//! Connector → gateway: one [`Hello`] frame. Gateway → connector: one [`Verdict`] frame.
//! A frame is a 4-byte big-endian length and that many bytes of JSON (at most 64 KiB).
//! Frames are read with exact-length reads, so no HTTP/2 byte is consumed by the preamble.

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::error::RefusalCode;
use crate::TunnelError;

/// The preamble's protocol version.
pub(crate) const PROTOCOL: u32 = 1;
/// Largest preamble frame.
const MAX_FRAME: usize = 64 * 1024;
/// Most connections one connector may announce.
const MAX_CONNECTIONS: usize = 1024;

/// The request header that names the connection a tunnelled request is for. The pool sets
/// it (replacing anything the caller put there); the connector side removes it before the
/// handler sees the request.
pub const CONNECTION_HEADER: &str = "portcullis-connection";

/// Marks a request whose bodies are a raw byte stream (the seam for PostgreSQL): the request
/// body carries gateway→target bytes, the response body target→gateway bytes, both at once.
pub const RAW_STREAM_HEADER: &str = "portcullis-raw-stream";

/// The TLS exporter label the connector's signature is bound to.
pub(crate) const EXPORTER_LABEL: &[u8] = b"EXPORTER-portcullis-tunnel-auth";
/// Domain separation for the signed message.
const SIGNED_PREFIX: &[u8] = b"portcullis-tunnel-auth-v1\0";

/// What a connector says when it connects.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Hello {
    pub(crate) protocol: u32,
    pub(crate) name: String,
    pub(crate) version: String,
    pub(crate) connections: Vec<String>,
    /// Ed25519 public key, hex.
    pub(crate) public_key: String,
    /// Ed25519 signature over [`signed_message`], hex.
    pub(crate) signature: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) enrollment_token: Option<String>,
}

/// The gateway's answer.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Verdict {
    pub(crate) ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) code: Option<RefusalCode>,
    #[serde(default)]
    pub(crate) message: String,
}

/// What the connector signs: a fixed prefix, the TLS session's exporter secret and its name.
/// The exporter secret differs for every TLS session, so a captured hello is useless on
/// any other connection.
pub(crate) fn signed_message(exporter: &[u8], name: &str) -> Vec<u8> {
    let mut m = Vec::with_capacity(SIGNED_PREFIX.len() + exporter.len() + name.len());
    m.extend_from_slice(SIGNED_PREFIX);
    m.extend_from_slice(exporter);
    m.extend_from_slice(name.as_bytes());
    m
}

/// A connector or connection name: 1–64 of `[A-Za-z0-9._-]`.
pub(crate) fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

impl Hello {
    /// Checks the shape (not the signature or the token).
    pub(crate) fn well_formed(&self) -> bool {
        self.protocol == PROTOCOL
            && valid_name(&self.name)
            && self.version.len() <= 128
            && self.connections.len() <= MAX_CONNECTIONS
            && self.connections.iter().all(|c| valid_name(c))
    }
}

/// Writes one frame.
pub(crate) async fn write_frame<W, T>(io: &mut W, value: &T) -> Result<(), TunnelError>
where
    W: AsyncWrite + Unpin,
    T: Serialize,
{
    let body = serde_json::to_vec(value).map_err(|e| TunnelError::Transport(format!("encoding: {e}")))?;
    let len = u32::try_from(body.len())
        .ok()
        .filter(|l| (*l as usize) <= MAX_FRAME)
        .ok_or_else(|| TunnelError::Transport("preamble frame too large".into()))?;
    io.write_all(&len.to_be_bytes()).await.map_err(io_err)?;
    io.write_all(&body).await.map_err(io_err)?;
    io.flush().await.map_err(io_err)
}

/// Reads one frame.
pub(crate) async fn read_frame<R, T>(io: &mut R) -> Result<T, TunnelError>
where
    R: AsyncRead + Unpin,
    T: for<'de> Deserialize<'de>,
{
    let mut len = [0u8; 4];
    io.read_exact(&mut len).await.map_err(io_err)?;
    let len = u32::from_be_bytes(len) as usize;
    if len > MAX_FRAME {
        return Err(TunnelError::Transport(format!("preamble frame of {len} bytes is over the limit")));
    }
    let mut body = vec![0u8; len];
    io.read_exact(&mut body).await.map_err(io_err)?;
    serde_json::from_slice(&body)
        .map_err(|e| TunnelError::Transport(format!("malformed preamble frame: {e}")))
}

fn io_err(e: std::io::Error) -> TunnelError {
    TunnelError::Transport(format!("preamble: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(valid_name("arm-prod_1.eu"));
        for bad in ["", "a b", "a/b", "é", &"x".repeat(65)] {
            assert!(!valid_name(bad), "{bad:?}");
        }
    }

    #[tokio::test]
    async fn frame_round_trip_and_limit() {
        let v = Verdict { ok: false, code: Some(RefusalCode::TokenUsed), message: "m".into() };
        let mut buf = Vec::new();
        write_frame(&mut buf, &v).await.unwrap();
        let back: Verdict = read_frame(&mut buf.as_slice()).await.unwrap();
        assert_eq!(back.code, Some(RefusalCode::TokenUsed));
        let huge = ((MAX_FRAME + 1) as u32).to_be_bytes();
        assert!(read_frame::<_, Verdict>(&mut huge.as_slice()).await.is_err());
    }
}
