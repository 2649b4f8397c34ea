//! The dedicated writer task: bounded queue in, one transaction per batch out.
//!
//! The writer is the only code that extends a stream's chain, so hashing is sequential
//! and needs no locks. A batch is acknowledged only after `COMMIT` returns; if the
//! transaction fails, every event in it is refused, the in-memory chain head is not
//! advanced, the log turns unhealthy, and the writer probes the store until it accepts
//! writes again, reloading the head from the database before resuming.

use std::sync::Arc;
use std::time::{Duration, Instant};

use portcullis_store::{PoolRef, StoreHandle};
use tokio::sync::{mpsc, oneshot};

use crate::chain::{checkpoint_message, encode, Link, GENESIS};
use crate::db::{with_pool, Tx};
use crate::event::Derived;
use crate::keys::Signer;
use crate::log::{probe, AuditConfig, EventId, Shared};
use crate::retention::{self, RetentionPolicy, RetentionReport};
use crate::sql::{insert_blobs, insert_rows};
use crate::webhook::WebhookSink;
use crate::{AuditError, AuditEvent, AuditReason};

/// An event waiting to be committed (serialized by the sender, off the writer's path).
#[derive(Debug)]
pub(crate) struct Pending {
    pub(crate) id: uuid::Uuid,
    pub(crate) at_us: i64,
    pub(crate) body: String,
    pub(crate) derived: Derived,
    pub(crate) blob_bytes: i64,
    pub(crate) bodies: Bodies,
    /// May wait (up to `defer_for`) to share a commit with a waited-for event.
    pub(crate) deferrable: bool,
    pub(crate) ack: oneshot::Sender<Result<EventId, AuditError>>,
}

/// The bodies an event refers to, each with its hex SHA-256.
pub(crate) type Bodies = Vec<(String, Vec<u8>)>;

type Reply<T> = oneshot::Sender<Result<T, AuditError>>;

#[derive(Debug)]
pub(crate) enum Command {
    Append(Pending),
    Checkpoint(Reply<Option<i64>>),
    Retention(RetentionPolicy, Reply<RetentionReport>),
    Shutdown(oneshot::Sender<()>),
}

/// One chained row, ready to insert (owned, so that its strings move into the INSERT).
pub(crate) struct Row {
    pub(crate) seq: i64,
    pub(crate) id: String,
    pub(crate) at_us: i64,
    pub(crate) derived: Derived,
    pub(crate) blob_bytes: i64,
    pub(crate) body: String,
    pub(crate) prev_hash: String,
    pub(crate) hash: String,
}

pub(crate) struct Writer {
    pub(crate) store: StoreHandle,
    pub(crate) stream: String,
    signer: Signer,
    config: AuditConfig,
    shared: Arc<Shared>,
    pub(crate) head_seq: i64,
    pub(crate) head_hash: String,
    signed_seq: i64,
    oldest_unsigned: Option<Instant>,
    sink: Option<WebhookSink>,
}

impl Writer {
    pub(crate) async fn start(
        store: StoreHandle,
        stream: String,
        signer: Signer,
        config: AuditConfig,
        shared: Arc<Shared>,
        sink: Option<WebhookSink>,
    ) -> Result<Self, AuditError> {
        let mut writer = Writer {
            store,
            stream,
            signer,
            config,
            shared,
            head_seq: 0,
            head_hash: GENESIS.to_owned(),
            signed_seq: 0,
            oldest_unsigned: None,
            sink,
        };
        writer.reload().await?;
        with_pool!(writer.store.pool(), |p| sqlx::query(
            "INSERT INTO audit_keys (stream, public_key, recorded_at_us) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING"
        )
        .bind(&writer.stream)
        .bind(writer.signer.public_hex())
        .bind(crate::event::now_us())
        .execute(p)
        .await
        .map(drop))
        .map_err(|e| AuditError::db(AuditReason::StoreUnavailable, "recording the audit public key", e))?;
        Ok(writer)
    }

    /// Reads the chain head and the last checkpoint from the database.
    async fn reload(&mut self) -> Result<(), AuditError> {
        let head: Option<(i64, String)> = with_pool!(self.store.pool(), |p| sqlx::query_as(
            "SELECT seq, hash FROM audit_events WHERE stream = $1 ORDER BY seq DESC LIMIT 1"
        )
        .bind(&self.stream)
        .fetch_optional(p)
        .await)
        .map_err(|e| AuditError::db(AuditReason::StoreUnavailable, "reading the chain head", e))?;
        let signed: Option<i64> = with_pool!(self.store.pool(), |p| sqlx::query_scalar(
            "SELECT MAX(seq) FROM audit_checkpoints WHERE stream = $1"
        )
        .bind(&self.stream)
        .fetch_one(p)
        .await)
        .map_err(|e| AuditError::db(AuditReason::StoreUnavailable, "reading the last checkpoint", e))?;
        (self.head_seq, self.head_hash) = head.unwrap_or((0, GENESIS.to_owned()));
        self.signed_seq = signed.unwrap_or(0);
        self.oldest_unsigned = (self.head_seq > self.signed_seq).then(Instant::now);
        Ok(())
    }

    /// Starts the writer. On PostgreSQL it is a task on the current Tokio runtime. On
    /// SQLite it gets a thread of its own with a single-threaded runtime: every step of a
    /// batch (begin, inserts, commit) is a hand-off to the connection's worker thread, and
    /// on the shared runtime each reply queued behind the request tasks that are busy
    /// preparing the next events, so the commits, not the CPU, set the pace. SQLite
    /// connections are not tied to a runtime's I/O driver, so the pool is safe to use
    /// from there; PostgreSQL connections are, which is why that writer stays put.
    pub(crate) fn spawn(self, rx: mpsc::Receiver<Command>) -> Result<(), AuditError> {
        if matches!(self.store.pool(), PoolRef::Postgres(_)) {
            tokio::spawn(self.run(rx));
            return Ok(());
        }
        let start_failed = |e: std::io::Error| {
            AuditError::new(AuditReason::StoreUnavailable, format!("starting the audit writer: {e}"))
        };
        let runtime =
            tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(start_failed)?;
        std::thread::Builder::new()
            .name("audit-writer".into())
            .spawn(move || runtime.block_on(self.run(rx)))
            .map(drop)
            .map_err(start_failed)
    }

    async fn run(mut self, mut rx: mpsc::Receiver<Command>) {
        loop {
            if !self.shared.is_healthy() {
                if !self.recover(&mut rx).await {
                    return;
                }
                continue;
            }
            let wait = match self.oldest_unsigned {
                Some(t) => self.config.checkpoint_interval.saturating_sub(t.elapsed()),
                None => Duration::from_secs(3600),
            };
            let first = match tokio::time::timeout(wait, rx.recv()).await {
                Ok(Some(c)) => c,
                Ok(None) => {
                    let _ = self.sign_now().await;
                    return;
                }
                Err(_) => {
                    if let Err(e) = self.sign_now().await {
                        self.fail(&e);
                    }
                    continue;
                }
            };
            let mut appends = Vec::new();
            let mut next = Some(first);
            let mut hold_until = None;
            loop {
                while let Some(command) = next.take() {
                    match command {
                        Command::Append(p) => {
                            appends.push(p);
                            if appends.len() < self.config.max_batch {
                                next = rx.try_recv().ok();
                            }
                        }
                        other => {
                            self.commit_appends(std::mem::take(&mut appends)).await;
                            if !self.control(other).await {
                                return;
                            }
                        }
                    }
                }
                // Only deferred events so far: give a waited-for one a moment to join.
                let deferred_only = !appends.is_empty()
                    && appends.len() < self.config.max_batch
                    && appends.iter().all(|p| p.deferrable);
                if !deferred_only || self.config.defer_for.is_zero() {
                    break;
                }
                let until =
                    *hold_until.get_or_insert_with(|| tokio::time::Instant::now() + self.config.defer_for);
                match tokio::time::timeout_at(until, rx.recv()).await {
                    Ok(Some(command)) => next = Some(command),
                    Ok(None) | Err(_) => break,
                }
            }
            self.commit_appends(appends).await;
        }
    }

    /// Handles a non-append command; false means stop.
    async fn control(&mut self, command: Command) -> bool {
        match command {
            Command::Append(p) => self.commit_appends(vec![p]).await,
            Command::Checkpoint(reply) => {
                let result = self.sign_now().await;
                if let Err(e) = &result {
                    self.fail(e);
                }
                let _ = reply.send(result);
            }
            Command::Retention(policy, reply) => {
                let result = if self.shared.is_healthy() {
                    retention::prune(self, &policy).await
                } else {
                    Err(self.shared.last_error())
                };
                if let Err(e) = &result {
                    if e.reason == AuditReason::StoreUnavailable {
                        self.fail(e);
                    }
                }
                let _ = reply.send(result);
            }
            Command::Shutdown(reply) => {
                let _ = self.sign_now().await;
                let _ = reply.send(());
                return false;
            }
        }
        true
    }

    fn fail(&self, err: &AuditError) {
        tracing::error!(reason = err.reason.code(), detail = %err.detail, "audit store failed; refusing traffic until it recovers");
        self.shared.set_unhealthy(err);
    }

    /// Refuses queued work and probes the store until it accepts writes. False if every
    /// handle is gone.
    async fn recover(&mut self, rx: &mut mpsc::Receiver<Command>) -> bool {
        loop {
            let err = self.shared.last_error();
            while let Ok(command) = rx.try_recv() {
                match command {
                    Command::Append(p) => {
                        let _ = p.ack.send(Err(err.clone()));
                    }
                    Command::Checkpoint(r) => {
                        let _ = r.send(Err(err.clone()));
                    }
                    Command::Retention(_, r) => {
                        let _ = r.send(Err(err.clone()));
                    }
                    Command::Shutdown(r) => {
                        let _ = r.send(());
                        return false;
                    }
                }
            }
            if rx.is_closed() {
                return false;
            }
            tokio::time::sleep(self.config.retry_interval).await;
            let attempt = match probe(&self.store, &self.stream).await {
                Ok(()) => self.reload().await,
                Err(e) => Err(e),
            };
            match attempt {
                Ok(()) => {
                    tracing::info!(head = self.head_seq, "audit store accepts writes again");
                    self.shared.set_healthy();
                    return true;
                }
                Err(e) => self.shared.set_unhealthy(&e),
            }
        }
    }

    async fn commit_appends(&mut self, batch: Vec<Pending>) {
        if batch.is_empty() {
            return;
        }
        let first = self.head_seq + 1;
        let (mut seq, mut prev) = (self.head_seq, self.head_hash.clone());
        let mut acks = Vec::with_capacity(batch.len());
        let mut rows = Vec::with_capacity(batch.len());
        let mut bodies = Vec::new();
        let mut offered = Vec::new();
        for p in batch {
            seq += 1;
            let id = p.id.to_string();
            let hash =
                Link { stream: &self.stream, seq, id: &id, at_us: p.at_us, prev_hash: &prev, body: &p.body }
                    .hash();
            let prev_hash = std::mem::replace(&mut prev, hash.clone());
            if self.sink.is_some() {
                offered.push((p.id, p.body.clone()));
            }
            if !p.bodies.is_empty() {
                bodies.push((seq, p.bodies));
            }
            acks.push((p.id, p.ack));
            rows.push(Row {
                seq,
                id,
                at_us: p.at_us,
                derived: p.derived,
                blob_bytes: p.blob_bytes,
                body: p.body,
                prev_hash,
                hash,
            });
        }
        let due = self.checkpoint_due(seq);
        let result = self.write(rows, &bodies, due.then_some((seq, prev.as_str()))).await;
        match result {
            Ok(()) => {
                self.advance(seq, prev, due);
                if let Some(sink) = &self.sink {
                    sink.offer_batch(&self.stream, first, &offered);
                }
                for (i, (id, ack)) in acks.into_iter().enumerate() {
                    let _ = ack.send(Ok(EventId { id, seq: first + i as i64 }));
                }
            }
            Err(e) => {
                self.fail(&e);
                for (_, ack) in acks {
                    let _ = ack.send(Err(e.clone()));
                }
            }
        }
    }

    fn checkpoint_due(&self, new_head: i64) -> bool {
        let count = u64::try_from(new_head - self.signed_seq).unwrap_or(0);
        count >= self.config.checkpoint_every
            || self.oldest_unsigned.is_some_and(|t| t.elapsed() >= self.config.checkpoint_interval)
    }

    pub(crate) fn advance(&mut self, seq: i64, hash: String, signed: bool) {
        self.head_seq = seq;
        self.head_hash = hash;
        if signed {
            self.signed_seq = seq;
            self.oldest_unsigned = None;
        } else if self.oldest_unsigned.is_none() {
            self.oldest_unsigned = Some(Instant::now());
        }
    }

    /// Inserts the batch's rows, the bodies its events refer to (`bodies`: each event's
    /// seq and its bodies) and the checkpoint, if one is due, in one transaction.
    async fn write(
        &self,
        rows: Vec<Row>,
        bodies: &[(i64, Bodies)],
        checkpoint: Option<(i64, &str)>,
    ) -> Result<(), AuditError> {
        let mut tx = self.begin().await?;
        insert_rows(&mut tx, &self.stream, rows).await?;
        // Each distinct body once per batch, remembering the newest event that refers to it.
        let mut blobs: Vec<(&str, &[u8], i64)> = Vec::new();
        let mut seen: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
        for (seq, event_bodies) in bodies {
            for (hash, bytes) in event_bodies {
                match seen.get(hash.as_str()) {
                    Some(&i) => blobs[i].2 = *seq,
                    None => {
                        seen.insert(hash, blobs.len());
                        blobs.push((hash, bytes, *seq));
                    }
                }
            }
        }
        insert_blobs(&mut tx, &self.stream, &blobs).await?;
        if let Some((seq, hash)) = checkpoint {
            self.insert_checkpoint(&mut tx, seq, hash).await?;
        }
        tx.commit("committing audit events").await
    }

    pub(crate) async fn begin(&self) -> Result<Tx, AuditError> {
        Tx::begin(self.store.pool()).await
    }

    pub(crate) async fn insert_checkpoint(
        &self,
        tx: &mut Tx,
        seq: i64,
        hash: &str,
    ) -> Result<(), AuditError> {
        let at_us = crate::event::now_us();
        let signature = self.signer.sign(&checkpoint_message(&self.stream, seq, hash, at_us));
        crate::sql::insert_checkpoint(
            tx,
            &self.stream,
            seq,
            hash,
            at_us,
            self.signer.public_hex(),
            &signature,
        )
        .await
    }

    /// Signs a checkpoint over the current head, if anything is unsigned.
    async fn sign_now(&mut self) -> Result<Option<i64>, AuditError> {
        if self.head_seq == self.signed_seq {
            self.oldest_unsigned = None;
            return Ok((self.head_seq > 0).then_some(self.head_seq));
        }
        let mut tx = self.begin().await?;
        self.insert_checkpoint(&mut tx, self.head_seq, &self.head_hash).await?;
        tx.commit("committing a checkpoint").await?;
        self.signed_seq = self.head_seq;
        self.oldest_unsigned = None;
        Ok(Some(self.head_seq))
    }

    /// Appends one event inside `tx` (used by retention, which must commit its deletion
    /// and its own record together). Returns the new head; the caller advances.
    pub(crate) async fn append_in(
        &self,
        tx: &mut Tx,
        event: &AuditEvent,
    ) -> Result<(i64, String), AuditError> {
        let body = encode(event)?;
        let derived = event.detail.derived();
        let seq = self.head_seq + 1;
        let id = uuid::Uuid::now_v7().to_string();
        let hash = Link {
            stream: &self.stream,
            seq,
            id: &id,
            at_us: event.at_us,
            prev_hash: &self.head_hash,
            body: &body,
        }
        .hash();
        let row = Row {
            seq,
            id,
            at_us: event.at_us,
            derived,
            blob_bytes: 0,
            body,
            prev_hash: self.head_hash.clone(),
            hash: hash.clone(),
        };
        insert_rows(tx, &self.stream, vec![row]).await?;
        Ok((seq, hash))
    }
}
