//! One connector connection: TLS, the authentication preamble, then HTTP/2 with the
//! gateway as the client, until the tunnel closes.

use std::net::SocketAddr;
use std::sync::Arc;

use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;

use super::Inner;
use crate::error::RefusalCode;
use crate::events::ConnectorEvent;
use crate::keys::{key_id, verify_hex};
use crate::pins::{Admission, PinStore};
use crate::pool::Session;
use crate::wire::{read_frame, signed_message, write_frame, Hello, Verdict, EXPORTER_LABEL};
use crate::TunnelError;

/// Who passed authentication.
struct Admitted {
    hello: Hello,
    admission: Admission,
}

pub(super) async fn handle(inner: Arc<Inner>, stream: TcpStream, remote: SocketAddr) {
    let _ = stream.set_nodelay(true);
    let authenticated =
        tokio::time::timeout(inner.config.handshake_timeout, authenticate(&inner, stream)).await;
    let (tls, admitted) = match authenticated {
        Ok(Ok(Ok(ok))) => ok,
        Ok(Ok(Err((code, name)))) => {
            tracing::warn!(%remote, ?name, %code, "refused a connector");
            inner.pool.emit(ConnectorEvent::Refused { name, remote, code });
            return;
        }
        Ok(Err(e)) => {
            tracing::debug!(%remote, error = %e, "tunnel handshake failed");
            return;
        }
        Err(_) => {
            tracing::debug!(%remote, "tunnel handshake timed out");
            return;
        }
    };
    run_tunnel(inner, tls, admitted, remote).await;
}

type Refusal = (RefusalCode, Option<String>);

/// TLS, hello, verdict. The outer error is transport trouble; the inner one a refusal that
/// has already been told to the connector.
async fn authenticate(
    inner: &Inner,
    stream: TcpStream,
) -> Result<Result<(TlsStream<TcpStream>, Admitted), Refusal>, TunnelError> {
    let mut tls =
        inner.acceptor.accept(stream).await.map_err(|e| TunnelError::Transport(format!("TLS: {e}")))?;
    let exporter = tls
        .get_ref()
        .1
        .export_keying_material([0u8; 32], EXPORTER_LABEL, None)
        .map_err(|e| TunnelError::Transport(format!("TLS exporter: {e}")))?;
    let hello: Hello = read_frame(&mut tls).await?;
    let decision = decide(&inner.pins, &hello, &exporter);
    let verdict = match decision {
        Ok(_) => Verdict { ok: true, code: None, message: String::new() },
        Err(code) => Verdict { ok: false, code: Some(code), message: explain(code).to_owned() },
    };
    write_frame(&mut tls, &verdict).await?;
    Ok(match decision {
        Ok(admission) => Ok((tls, Admitted { hello, admission })),
        Err(code) => Err((code, Some(hello.name).filter(|n| crate::wire::valid_name(n)))),
    })
}

/// Shape, then the exporter-bound signature, then the pins (which may spend a token).
fn decide(pins: &PinStore, hello: &Hello, exporter: &[u8]) -> Result<Admission, RefusalCode> {
    if !hello.well_formed() {
        return Err(RefusalCode::BadHello);
    }
    if !verify_hex(&hello.public_key, &signed_message(exporter, &hello.name), &hello.signature) {
        return Err(RefusalCode::BadSignature);
    }
    pins.admit(&hello.name, &hello.public_key, hello.enrollment_token.as_deref())
}

fn explain(code: RefusalCode) -> &'static str {
    match code {
        RefusalCode::BadHello => "the hello was malformed: check the connector name and connection names",
        RefusalCode::BadSignature => "the key signature over this TLS session did not verify",
        RefusalCode::UnknownConnector => "no key is pinned under this name: configure an enrollment token",
        RefusalCode::BadToken => "the enrollment token is not one this gateway accepts",
        RefusalCode::TokenUsed => "the enrollment token was already used: ask for a new one",
        RefusalCode::KeyMismatch => {
            "this name is pinned to another key: revoke it on the gateway to re-enroll"
        }
        RefusalCode::Revoked => "this connector was revoked on the gateway",
        RefusalCode::Internal => "the gateway could not record the enrollment; try again later",
    }
}

/// The announced connections this connector may serve.
fn permitted(cfg: &super::TunnelServerConfig, name: &str, announced: Vec<String>) -> Vec<String> {
    let Some(allowed) = &cfg.allowed_connections else { return announced };
    let mine = allowed.get(name).map(Vec::as_slice).unwrap_or_default();
    let (kept, ignored): (Vec<String>, Vec<String>) = announced.into_iter().partition(|c| mine.contains(c));
    if !ignored.is_empty() {
        tracing::warn!(connector = %name, ?ignored, "ignoring connections this connector is not configured to serve");
    }
    kept
}

async fn run_tunnel(inner: Arc<Inner>, tls: TlsStream<TcpStream>, admitted: Admitted, remote: SocketAddr) {
    let cfg = &inner.config;
    let handshake = hyper::client::conn::http2::Builder::new(TokioExecutor::new())
        .timer(TokioTimer::new())
        .keep_alive_interval(cfg.keepalive_interval)
        .keep_alive_timeout(cfg.keepalive_timeout)
        .keep_alive_while_idle(true)
        .initial_stream_window_size(cfg.stream_window)
        .initial_connection_window_size(cfg.connection_window)
        .handshake(TokioIo::new(tls))
        .await;
    let (sender, connection) = match handshake {
        Ok(pair) => pair,
        Err(e) => {
            tracing::debug!(%remote, error = %e, "HTTP/2 handshake on the tunnel failed");
            return;
        }
    };
    let Admitted { hello, admission } = admitted;
    let key_id = key_id(&hello.public_key);
    let connections = permitted(cfg, &hello.name, hello.connections);
    let session = Session::new(hello.name, key_id, hello.version, connections, sender);
    let event = ConnectorEvent::Connected {
        name: session.name.clone(),
        key_id: session.key_id.clone(),
        session: session.id,
        version: session.version.clone(),
        connections: session.connections.clone(),
        remote,
        enrolled: admission == Admission::Enrolled,
    };
    let session = inner.pool.register(session, event);
    tracing::info!(name = %session.name, %remote, session = %session.id, "connector connected");
    let reason = tokio::select! {
        r = connection => match r {
            Ok(()) => "closed by the connector".to_owned(),
            Err(e) => format!("tunnel failed: {e}"),
        },
        () = session.cancel.cancelled() => "closed by the gateway".to_owned(),
        () = inner.shutdown.cancelled() => "gateway shutting down".to_owned(),
    };
    tracing::info!(name = %session.name, session = %session.id, %reason, "connector disconnected");
    inner.pool.unregister(&session, reason);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::ConnectorKey;
    use crate::wire::PROTOCOL;

    fn hello(key: &ConnectorKey, name: &str, exporter: &[u8], token: Option<&str>) -> Hello {
        Hello {
            protocol: PROTOCOL,
            name: name.to_owned(),
            version: "1".to_owned(),
            connections: vec!["arm".to_owned()],
            public_key: key.public_hex(),
            signature: key.sign_hex(&signed_message(exporter, name)),
            enrollment_token: token.map(str::to_owned),
        }
    }

    #[test]
    fn a_hello_signed_for_another_tls_session_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let pins = PinStore::open(dir.path().join("c.json"), &["tok".to_owned()]).unwrap();
        let key = ConnectorKey::generate().unwrap();
        let (session_a, session_b) = ([1u8; 32], [2u8; 32]);
        let captured = hello(&key, "edge", &session_a, Some("tok"));
        // Replayed on another session: refused, and the token is not spent.
        assert_eq!(decide(&pins, &captured, &session_b), Err(RefusalCode::BadSignature));
        assert_eq!(decide(&pins, &captured, &session_a), Ok(Admission::Enrolled));
        // A signature for one name does not admit another.
        let mut renamed = hello(&key, "edge", &session_b, None);
        renamed.name = "other".to_owned();
        assert_eq!(decide(&pins, &renamed, &session_b), Err(RefusalCode::BadSignature));
        // Another key cannot borrow the pinned key's name or signature.
        let mut borrowed = hello(&key, "edge", &session_b, None);
        borrowed.public_key = ConnectorKey::generate().unwrap().public_hex();
        assert_eq!(decide(&pins, &borrowed, &session_b), Err(RefusalCode::BadSignature));
        assert_eq!(decide(&pins, &hello(&key, "edge", &session_b, None), &session_b), Ok(Admission::Pinned));
        let mut bad = hello(&key, "no spaces", &session_b, None);
        bad.protocol = PROTOCOL;
        assert_eq!(decide(&pins, &bad, &session_b), Err(RefusalCode::BadHello));
    }
}
