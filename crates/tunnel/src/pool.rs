//! The gateway's live tunnels and the choice of one for each request.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use http::uri::{Authority, PathAndQuery, Scheme};
use http::{HeaderValue, Request, Response, Uri};
use hyper::body::Incoming;
use hyper::client::conn::http2::SendRequest;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use crate::events::{ConnectorEvent, ConnectorStatus};
use crate::wire::CONNECTION_HEADER;
use crate::{BoxBody, TunnelError};

/// The placeholder authority for requests given in origin form: the connector routes by
/// connection name and path, never by this.
const PLACEHOLDER_AUTHORITY: Authority = Authority::from_static("connector.tunnel");

/// One authenticated tunnel.
#[derive(Debug)]
pub(crate) struct Session {
    pub(crate) id: uuid::Uuid,
    pub(crate) name: String,
    pub(crate) key_id: String,
    pub(crate) version: String,
    pub(crate) connections: Vec<String>,
    pub(crate) sender: SendRequest<BoxBody>,
    in_flight: AtomicUsize,
    served: AtomicU64,
    /// Cancelled to close the tunnel (revocation, shutdown).
    pub(crate) cancel: CancellationToken,
}

#[derive(Debug, Default)]
struct Known {
    key_id: String,
    last_seen: Option<time::OffsetDateTime>,
    version: Option<String>,
    connections: Vec<String>,
    served: u64,
    revoked: bool,
}

#[derive(Debug)]
struct Inner {
    sessions: RwLock<Vec<Arc<Session>>>,
    known: Mutex<BTreeMap<String, Known>>,
    next: AtomicUsize,
    events: broadcast::Sender<ConnectorEvent>,
}

/// The connectors the gateway can send through. Cheap to clone.
#[derive(Debug, Clone)]
pub struct ConnectorPool {
    inner: Arc<Inner>,
}

impl ConnectorPool {
    pub(crate) fn new() -> Self {
        let (events, _) = broadcast::channel(1024);
        let inner =
            Inner { sessions: RwLock::default(), known: Mutex::default(), next: AtomicUsize::new(0), events };
        ConnectorPool { inner: Arc::new(inner) }
    }

    /// Sends `req` to a live connector that serves `connection`, and returns its response
    /// head as soon as it arrives (the body streams).
    ///
    /// Among the tunnels serving the connection, the one with the fewest requests waiting
    /// for their response head is chosen (ties rotate). A request that a dying tunnel never
    /// took is retried on another; one the tunnel took fails with
    /// [`TunnelError::ConnectorLost`] (the gateway answers 502). Dropping the returned
    /// body, or this future, resets the stream, and the connector's handler is dropped.
    pub async fn send(
        &self,
        connection: &str,
        mut req: Request<BoxBody>,
    ) -> Result<Response<Incoming>, TunnelError> {
        prepare(connection, &mut req)?;
        // Tunnels that refused this request; filled only on a retry (no allocation otherwise).
        let mut tried: Vec<uuid::Uuid> = Vec::new();
        loop {
            let Some(session) = self.pick(connection, &tried) else {
                return Err(TunnelError::NoConnector { connection: connection.to_owned() });
            };
            let mut sender = session.sender.clone();
            if sender.ready().await.is_err() {
                tried.push(session.id);
                continue;
            }
            let _in_flight = InFlight::enter(&session);
            match sender.try_send_request(req).await {
                Ok(response) => {
                    session.served.fetch_add(1, Ordering::Relaxed);
                    return Ok(response);
                }
                Err(mut e) => match e.take_message() {
                    Some(unsent) => {
                        tried.push(session.id);
                        req = unsent;
                    }
                    None => return Err(TunnelError::ConnectorLost(e.into_error())),
                },
            }
        }
    }

    /// Every connector the gateway knows: pinned ones and those seen since it started.
    pub fn status(&self) -> Vec<ConnectorStatus> {
        let sessions = self.sessions();
        let known = match self.inner.known.lock() {
            Ok(k) => k,
            Err(_) => return Vec::new(),
        };
        let now = time::OffsetDateTime::now_utc();
        known
            .iter()
            .map(|(name, k)| {
                let live: Vec<&Arc<Session>> = sessions.iter().filter(|s| &s.name == name).collect();
                let served = k.served + live.iter().map(|s| s.served.load(Ordering::Relaxed)).sum::<u64>();
                ConnectorStatus {
                    name: name.clone(),
                    id: live.first().map_or_else(|| k.key_id.clone(), |s| s.key_id.clone()),
                    connected: !live.is_empty(),
                    tunnels: live.len(),
                    last_seen: if live.is_empty() { k.last_seen } else { Some(now) },
                    version: live.first().map(|s| s.version.clone()).or_else(|| k.version.clone()),
                    connections: live
                        .first()
                        .map_or_else(|| k.connections.clone(), |s| s.connections.clone()),
                    requests_served: served,
                    revoked: k.revoked,
                }
            })
            .collect()
    }

    /// Connect/disconnect/refusal events from now on. A receiver that falls more than 1024
    /// events behind loses the oldest (it is told so by `RecvError::Lagged`).
    pub fn subscribe(&self) -> broadcast::Receiver<ConnectorEvent> {
        self.inner.events.subscribe()
    }

    fn sessions(&self) -> Vec<Arc<Session>> {
        self.inner.sessions.read().map(|s| s.clone()).unwrap_or_default()
    }

    /// The candidate with the fewest requests in flight; among equals, the first at or
    /// after a rotating start. Runs on every request, so it allocates nothing.
    fn pick(&self, connection: &str, tried: &[uuid::Uuid]) -> Option<Arc<Session>> {
        let sessions = self.inner.sessions.read().ok()?;
        let candidates = || {
            sessions
                .iter()
                .filter(|s| !tried.contains(&s.id) && !s.sender.is_closed())
                .filter(|s| s.connections.iter().any(|c| c == connection))
        };
        let count = candidates().count();
        if count == 0 {
            return None;
        }
        let start = self.inner.next.fetch_add(1, Ordering::Relaxed) % count;
        candidates()
            .enumerate()
            .min_by_key(|(i, s)| (s.in_flight.load(Ordering::Relaxed), (i + count - start) % count))
            .map(|(_, s)| Arc::clone(s))
    }

    pub(crate) fn emit(&self, event: ConnectorEvent) {
        // No subscriber is fine: events are for whoever listens.
        let _ = self.inner.events.send(event);
    }

    pub(crate) fn add_pinned(&self, name: &str, key_id: String, revoked: bool) {
        if let Ok(mut known) = self.inner.known.lock() {
            let k = known.entry(name.to_owned()).or_default();
            k.key_id = key_id;
            k.revoked = revoked;
        }
    }

    pub(crate) fn register(&self, session: Session, event: ConnectorEvent) -> Arc<Session> {
        let session = Arc::new(session);
        self.add_pinned(&session.name, session.key_id.clone(), false);
        if let Ok(mut sessions) = self.inner.sessions.write() {
            sessions.push(Arc::clone(&session));
        }
        self.emit(event);
        session
    }

    pub(crate) fn unregister(&self, session: &Arc<Session>, reason: String) {
        if let Ok(mut sessions) = self.inner.sessions.write() {
            sessions.retain(|s| s.id != session.id);
        }
        if let Ok(mut known) = self.inner.known.lock() {
            let k = known.entry(session.name.clone()).or_default();
            k.last_seen = Some(time::OffsetDateTime::now_utc());
            k.version = Some(session.version.clone());
            k.connections = session.connections.clone();
            k.served += session.served.load(Ordering::Relaxed);
        }
        self.emit(ConnectorEvent::Disconnected {
            name: session.name.clone(),
            key_id: session.key_id.clone(),
            session: session.id,
            reason,
        });
    }

    /// Closes every tunnel of `name` (after revocation).
    pub(crate) fn close_named(&self, name: &str) {
        for s in self.sessions().iter().filter(|s| s.name == name) {
            s.cancel.cancel();
        }
        self.add_pinned_revoked(name);
    }

    fn add_pinned_revoked(&self, name: &str) {
        if let Ok(mut known) = self.inner.known.lock() {
            known.entry(name.to_owned()).or_default().revoked = true;
        }
    }

    /// Closes every tunnel (shutdown).
    pub(crate) fn close_all(&self) {
        for s in self.sessions() {
            s.cancel.cancel();
        }
    }
}

impl Session {
    pub(crate) fn new(
        name: String,
        key_id: String,
        version: String,
        connections: Vec<String>,
        sender: SendRequest<BoxBody>,
    ) -> Self {
        Session {
            id: uuid::Uuid::new_v4(),
            name,
            key_id,
            version,
            connections,
            sender,
            in_flight: AtomicUsize::new(0),
            served: AtomicU64::new(0),
            cancel: CancellationToken::new(),
        }
    }
}

/// Counts a request as waiting on a tunnel until its response head arrives.
struct InFlight<'a>(&'a Session);

impl<'a> InFlight<'a> {
    fn enter(session: &'a Session) -> Self {
        session.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(session)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

fn prepare(connection: &str, req: &mut Request<BoxBody>) -> Result<(), TunnelError> {
    let value = HeaderValue::from_str(connection)
        .map_err(|_| TunnelError::Stream(format!("connection name {connection:?} is not a header value")))?;
    req.headers_mut().insert(CONNECTION_HEADER, value);
    let uri = req.uri();
    if uri.scheme().is_none() || uri.authority().is_none() {
        // Moves the already-parsed path and query; nothing is parsed again.
        let mut parts = std::mem::take(req.uri_mut()).into_parts();
        parts.scheme = Some(Scheme::HTTP);
        parts.authority = Some(PLACEHOLDER_AUTHORITY);
        parts.path_and_query = Some(parts.path_and_query.unwrap_or_else(|| PathAndQuery::from_static("/")));
        *req.uri_mut() =
            Uri::from_parts(parts).map_err(|e| TunnelError::Stream(format!("request target: {e}")))?;
    }
    Ok(())
}
