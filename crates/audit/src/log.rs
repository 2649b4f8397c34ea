//! [`AuditLog`]: the handle the gateway appends through.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use portcullis_store::{Store, StoreHandle};
use serde::Serialize;
use tokio::sync::{mpsc, oneshot};

use crate::chain::{blob_hash, encode};
use crate::keys::Signer;
use crate::retention::{RetentionPolicy, RetentionReport};
use crate::seal::{SealedRef, Sealer};
use crate::webhook::{WebhookConfig, WebhookSink, WebhookStats};
use crate::writer::{Command, Pending, Writer};
use crate::{AuditError, AuditEvent, AuditReason};

/// Tuning of the writer. The defaults suit a gateway.
#[derive(Debug, Clone)]
pub struct AuditConfig {
    /// Events that may wait for the writer; beyond that `append` fails at once
    /// ([`AuditReason::QueueFull`]).
    pub queue_capacity: usize,
    /// Most events committed in one transaction.
    pub max_batch: usize,
    /// Sign a checkpoint after this many events…
    pub checkpoint_every: u64,
    /// …or when the oldest unsigned event is this old.
    pub checkpoint_interval: Duration,
    /// How often the writer probes a failed store.
    pub retry_interval: Duration,
    /// How long the writer may hold a batch made only of deferred events
    /// ([`AuditLog::append_deferred`]) for an event somebody waits on, so both share one
    /// commit (one fsync) instead of the waiting one queueing behind the deferred one's.
    pub defer_for: Duration,
    /// An auditor's age X25519 recipient (`age1…`). When set, the unmasked bodies given
    /// to [`AuditLog::append_sealed`] are stored encrypted to it: the gateway cannot read
    /// them back, the auditor decrypts with `portcullis sessions show --decrypt KEYFILE`.
    /// When unset, unmasked bodies are never stored.
    pub auditor_recipient: Option<String>,
    /// Streams every committed event to a URL (see [`WebhookConfig`]).
    pub webhook: Option<WebhookConfig>,
}

impl Default for AuditConfig {
    fn default() -> Self {
        AuditConfig {
            queue_capacity: 16_384,
            max_batch: 4_096,
            checkpoint_every: 1_000,
            checkpoint_interval: Duration::from_secs(10),
            retry_interval: Duration::from_millis(250),
            defer_for: Duration::from_millis(2),
            auditor_recipient: None,
            webhook: None,
        }
    }
}

/// What [`AuditLog::append`] returns once the event is committed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct EventId {
    /// The event's unique id (UUIDv7).
    pub id: uuid::Uuid,
    /// Its position in the gateway's chain.
    pub seq: i64,
}

/// The writer's state, for `/readyz` and metrics.
#[derive(Debug, Clone, Serialize)]
pub struct AuditStatus {
    /// False while the store refuses writes: the gateway must refuse traffic (503).
    pub healthy: bool,
    /// Why not, when not.
    pub reason: Option<AuditReason>,
    /// Operator detail of the last failure.
    pub detail: Option<String>,
    /// Events waiting for the writer.
    pub queued: usize,
    /// The webhook sink's counters, when one is configured.
    pub webhook: Option<WebhookStats>,
}

#[derive(Debug)]
pub(crate) struct Shared {
    healthy: AtomicBool,
    last_error: Mutex<Option<AuditError>>,
}

impl Shared {
    pub(crate) fn set_unhealthy(&self, err: &AuditError) {
        if let Ok(mut slot) = self.last_error.lock() {
            *slot = Some(err.clone());
        }
        self.healthy.store(false, Ordering::SeqCst);
    }

    pub(crate) fn set_healthy(&self) {
        self.healthy.store(true, Ordering::SeqCst);
    }

    pub(crate) fn is_healthy(&self) -> bool {
        self.healthy.load(Ordering::SeqCst)
    }

    pub(crate) fn last_error(&self) -> AuditError {
        self.last_error.lock().ok().and_then(|e| e.clone()).unwrap_or_else(|| {
            AuditError::new(AuditReason::StoreUnavailable, "the audit store is unavailable")
        })
    }
}

/// The audit log of one gateway: a cheap, cloneable handle to the dedicated writer task.
///
/// Every event is acknowledged only after the transaction that holds it is committed
/// (SQLite WAL with `synchronous=FULL`; PostgreSQL with its default `synchronous_commit`),
/// so an acknowledged event survives `kill -9` and power loss. Events are committed in batches (group commit) in the order they were
/// queued, each linked to the previous one by its hash.
#[derive(Debug, Clone)]
pub struct AuditLog {
    tx: mpsc::Sender<Command>,
    shared: Arc<Shared>,
    stream: Arc<str>,
    sealer: Option<Arc<Sealer>>,
    webhook: Option<WebhookSink>,
}

impl AuditLog {
    /// Applies the audit migrations, loads (or creates) the signing key in the store's
    /// data directory, and starts the writer: on SQLite on a thread of its own, on
    /// PostgreSQL as a task on the current Tokio runtime. `store` is a `&SqliteStore`, a
    /// `&PgStore` or a [`StoreHandle`].
    pub async fn open(store: impl Into<StoreHandle>, config: AuditConfig) -> Result<Self, AuditError> {
        let store: StoreHandle = store.into();
        store
            .migrate(crate::COMPONENT, crate::SQLITE_MIGRATIONS, crate::PG_MIGRATIONS)
            .await
            .map_err(|e| AuditError::new(AuditReason::StoreUnavailable, e.detail))?;
        let signer = Signer::load_or_create(store.data_dir())?;
        let sealer = config.auditor_recipient.as_deref().map(Sealer::new).transpose()?.map(Arc::new);
        let webhook = config.webhook.clone().map(WebhookSink::start).transpose()?;
        let stream: Arc<str> = Arc::from(store.gateway_id());
        let shared = Arc::new(Shared { healthy: AtomicBool::new(true), last_error: Mutex::new(None) });
        let writer =
            Writer::start(store, stream.to_string(), signer, config.clone(), shared.clone(), webhook.clone())
                .await?;
        let (tx, rx) = mpsc::channel(config.queue_capacity.max(1));
        writer.spawn(rx)?;
        Ok(AuditLog { tx, shared, stream, sealer, webhook })
    }

    /// This gateway's stream (its gateway id).
    pub fn stream(&self) -> &str {
        &self.stream
    }

    /// Records `event` durably. Fails at once, without waiting, when the store is failing
    /// or the queue is full; the caller must then refuse the request (fail closed).
    pub async fn append(&self, event: AuditEvent) -> Result<EventId, AuditError> {
        self.append_with_bodies(event, Vec::new()).await
    }

    /// Records `event` and the bodies it refers to (by [`crate::BodyRef`]) in the same
    /// transaction. A body already stored is not stored again.
    pub async fn append_with_bodies(
        &self,
        event: AuditEvent,
        bodies: Vec<Vec<u8>>,
    ) -> Result<EventId, AuditError> {
        self.append_sealed(event, bodies, Vec::new()).await
    }

    /// As [`AuditLog::append_with_bodies`], and also the `unmasked` bodies (e.g. the
    /// response before masking), each stored encrypted to the auditor's recipient
    /// ([`AuditConfig::auditor_recipient`]) and listed in the event's
    /// [`AuditEvent::sealed`], so the chain covers them. Without a recipient configured,
    /// `unmasked` is dropped: it is never stored in the clear.
    pub async fn append_sealed(
        &self,
        event: AuditEvent,
        bodies: Vec<Vec<u8>>,
        unmasked: Vec<Vec<u8>>,
    ) -> Result<EventId, AuditError> {
        self.enqueue(event, bodies, unmasked, false).await
    }

    /// As [`AuditLog::append_sealed`], for an event nobody is held up by (a response's
    /// record, written after the agent has the response): the writer may keep it up to
    /// [`AuditConfig::defer_for`] so that it joins the next commit of an event somebody
    /// waits for. Still committed (and only then acknowledged) like any other; shutdown
    /// and checkpoints commit it at once.
    pub async fn append_deferred(
        &self,
        event: AuditEvent,
        bodies: Vec<Vec<u8>>,
        unmasked: Vec<Vec<u8>>,
    ) -> Result<EventId, AuditError> {
        self.enqueue(event, bodies, unmasked, true).await
    }

    async fn enqueue(
        &self,
        mut event: AuditEvent,
        mut bodies: Vec<Vec<u8>>,
        unmasked: Vec<Vec<u8>>,
        deferrable: bool,
    ) -> Result<EventId, AuditError> {
        if !self.shared.is_healthy() {
            return Err(self.shared.last_error());
        }
        if let Some(sealer) = &self.sealer {
            for plain in &unmasked {
                let sealed = sealer.seal(plain)?;
                event.sealed.push(SealedRef::of(&sealed, sealer.recipient()));
                bodies.push(sealed);
            }
        }
        let blob_bytes = event.stored_refs().map(|(_, size)| size).sum::<u64>();
        let derived = event.detail.derived();
        let body = encode(&event)?;
        let bodies = bodies.into_iter().map(|b| (blob_hash(&b), b)).collect();
        let (ack, done) = oneshot::channel();
        let pending = Pending {
            id: uuid::Uuid::now_v7(),
            at_us: event.at_us,
            body,
            derived,
            blob_bytes: i64::try_from(blob_bytes).unwrap_or(i64::MAX),
            bodies,
            deferrable,
            ack,
        };
        self.send(Command::Append(pending))?;
        done.await.map_err(|_| closed())?
    }

    fn send(&self, command: Command) -> Result<(), AuditError> {
        self.tx.try_send(command).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => {
                AuditError::new(AuditReason::QueueFull, "the audit writer's queue is full")
            }
            mpsc::error::TrySendError::Closed(_) => closed(),
        })
    }

    /// True while events are being committed; false from the first failed commit until
    /// the store accepts writes again (the writer probes it and recovers on its own).
    pub fn healthy(&self) -> bool {
        self.shared.is_healthy()
    }

    /// The writer's state, for `/readyz`.
    pub fn status(&self) -> AuditStatus {
        let healthy = self.shared.is_healthy();
        let err = (!healthy).then(|| self.shared.last_error());
        AuditStatus {
            healthy,
            reason: err.as_ref().map(|e| e.reason),
            detail: err.map(|e| e.detail),
            queued: self.tx.max_capacity() - self.tx.capacity(),
            webhook: self.webhook.as_ref().map(WebhookSink::stats),
        }
    }

    /// Signs a checkpoint over every committed event now (normally the writer does this
    /// every `checkpoint_every` events or `checkpoint_interval`). Returns the covered seq.
    pub async fn checkpoint(&self) -> Result<Option<i64>, AuditError> {
        let (ack, done) = oneshot::channel();
        self.send(Command::Checkpoint(ack))?;
        done.await.map_err(|_| closed())?
    }

    /// Removes events older than the policy allows, as one audited operation: the
    /// removal and the [`crate::EventDetail::Retention`] event that anchors the chain's new
    /// start commit together.
    pub async fn apply_retention(&self, policy: RetentionPolicy) -> Result<RetentionReport, AuditError> {
        let (ack, done) = oneshot::channel();
        self.send(Command::Retention(policy, ack))?;
        done.await.map_err(|_| closed())?
    }

    /// Signs a final checkpoint and stops the writer. Later appends fail with
    /// [`AuditReason::Closed`].
    pub async fn shutdown(&self) {
        let (ack, done) = oneshot::channel();
        if self.tx.send(Command::Shutdown(ack)).await.is_ok() {
            let _ = done.await;
        }
    }
}

fn closed() -> AuditError {
    AuditError::new(AuditReason::Closed, "the audit writer has stopped")
}

/// Probes the store; used by the writer while recovering. Beyond the store's own health
/// write, it inserts an event row (seq 0, never a real one) and rolls it back, so the
/// probe fails for exactly the reasons a commit would.
pub(crate) async fn probe(store: &StoreHandle, stream: &str) -> Result<(), AuditError> {
    store.health().await.map_err(|e| AuditError::new(AuditReason::StoreUnavailable, e.detail))?;
    let mut tx = crate::db::Tx::begin(store.pool()).await?;
    crate::db::with_tx!(&mut tx, |t| sqlx::query(
        "INSERT INTO audit_events (stream, seq, id, at_us, kind, blob_bytes, body, prev_hash, hash) \
         VALUES ($1, 0, 'probe', 0, 'probe', 0, '', '', '')"
    )
    .bind(stream)
    .execute(&mut **t)
    .await
    .map(drop))
    .map_err(|e| AuditError::db(AuditReason::StoreUnavailable, "probing the audit table", e))?;
    crate::db::with_tx!(tx, |t| t.rollback().await)
        .map_err(|e| AuditError::db(AuditReason::StoreUnavailable, "probing the audit table", e))
}
