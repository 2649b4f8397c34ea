//! `audit verify`: recomputes every hash, follows every link, checks every checkpoint
//! signature and every stored body, and names the first broken event.

use std::collections::{BTreeMap, HashMap, HashSet};

use futures_util::TryStreamExt;
use portcullis_store::PoolRef;
use serde::Serialize;

use crate::chain::{blob_hash, checkpoint_message, decode, Link, GENESIS};
use crate::db::with_pool;
use crate::keys::{is_public_key, signature_valid};
use crate::{AuditError, AuditReason, EventDetail};

/// What verify trusts beyond the database itself.
#[derive(Debug, Clone, Default)]
pub struct VerifyOptions {
    /// Hex Ed25519 public keys that may sign checkpoints, each 64 hex digits and nothing
    /// else: read them with [`crate::read_public_key`] or [`crate::read_public_key_file`],
    /// not as raw file text. [`verify`] refuses a malformed one with
    /// [`crate::AuditReason::Key`] rather than report every checkpoint as untrusted.
    /// Empty: trust the keys recorded in the database, which detects every edit except a
    /// full rewrite by someone who also replaced the key.
    pub trusted_keys: Vec<String>,
}

/// What is wrong, as a stable code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Problem {
    /// The event's content (body, time or id) no longer matches its hash.
    EventAltered,
    /// The event does not link to the one before it (removed, inserted or reordered).
    ChainBroken,
    /// Events are missing (a gap in seq, or the log ends before a checkpoint).
    EventMissing,
    /// The oldest events were removed without a retention record.
    StartMissing,
    /// The stored body no longer parses.
    Unparseable,
    /// An index column (kind, grant, principal, connection, status) disagrees with the body.
    IndexAltered,
    /// A checkpoint's signature does not verify, or its key is not trusted.
    CheckpointForged,
    /// A validly signed checkpoint names another hash: events before it were rewritten.
    CheckpointMismatch,
    /// A stored body does not match its hash or size.
    BodyAltered,
    /// An event refers to a body that is not stored.
    BodyMissing,
}

/// One problem found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Break {
    /// The stream (gateway id).
    pub stream: String,
    /// The first broken event's seq.
    pub seq: i64,
    /// Its id, when the row exists.
    pub event_id: Option<String>,
    /// What is wrong.
    pub problem: Problem,
    /// Plain description for the operator.
    pub detail: String,
}

/// Per-stream totals.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StreamSummary {
    /// The stream (gateway id).
    pub stream: String,
    /// Events checked.
    pub events: u64,
    /// Oldest seq present.
    pub first_seq: i64,
    /// Newest seq present.
    pub last_seq: i64,
    /// Checkpoints checked.
    pub checkpoints: u64,
    /// Newest seq covered by a checkpoint.
    pub last_signed_seq: i64,
}

/// The result of [`verify`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    /// True when nothing is broken.
    pub ok: bool,
    /// Per stream.
    pub streams: Vec<StreamSummary>,
    /// Bodies checked.
    pub blobs: u64,
    /// Problems in order (stream, seq); the first is the first broken event. At most
    /// [`MAX_PROBLEMS`].
    pub problems: Vec<Break>,
}

/// Problems collected before verify stops listing them.
pub const MAX_PROBLEMS: usize = 100;

impl VerifyReport {
    /// The first broken event, if any.
    pub fn first_break(&self) -> Option<&Break> {
        self.problems.first()
    }

    /// The CLI's exit code: 0 when intact, 1 on any break.
    pub fn exit_code(&self) -> i32 {
        i32::from(!self.ok)
    }
}

struct Checkpoint {
    hash: String,
    at_us: i64,
    key: String,
    signature: String,
}

#[derive(Default)]
struct Scan {
    problems: Vec<Break>,
    /// (stream, body hash) → (first seq referring to it, size).
    refs: HashMap<(String, String), (i64, u64)>,
}

/// The event walk's state, across streams.
struct Walk {
    scan: Scan,
    streams: Vec<StreamSummary>,
    state: StreamState,
}

impl Walk {
    fn event(
        &mut self,
        row: EventTuple,
        checkpoints: &mut BTreeMap<(String, i64), Checkpoint>,
        keys: &HashMap<String, HashSet<String>>,
        options: &VerifyOptions,
    ) {
        let (
            stream,
            seq,
            id,
            at_us,
            kind,
            grant_id,
            principal,
            connection,
            status,
            blob_bytes,
            body,
            prev_hash,
            hash,
        ) = row;
        if self.streams.last().map(|s| s.stream != stream).unwrap_or(true) {
            if let Some(done) = self.streams.last_mut() {
                self.state.finish(done, &mut self.scan);
            }
            self.streams.push(StreamSummary { stream: stream.clone(), ..StreamSummary::default() });
            self.state = StreamState::default();
        }
        let Some(summary) = self.streams.last_mut() else { return };
        let ev = EventRow {
            stream: &stream,
            seq,
            id,
            at_us,
            kind,
            grant_id,
            principal,
            connection,
            status,
            blob_bytes,
            body,
            prev_hash,
            hash,
        };
        self.state.check_event(&ev, summary, &mut self.scan);
        if let Some(cp) = checkpoints.remove(&(stream.clone(), ev.seq)) {
            let previous = summary.last_signed_seq;
            check_checkpoint(&stream, ev.seq, previous, &ev.hash, &cp, keys, options, &mut self.scan);
            summary.checkpoints += 1;
            summary.last_signed_seq = ev.seq;
        }
    }
}

impl Scan {
    fn report(&mut self, stream: &str, seq: i64, event_id: Option<&str>, problem: Problem, detail: String) {
        if self.problems.len() < MAX_PROBLEMS {
            self.problems.push(Break {
                stream: stream.to_owned(),
                seq,
                event_id: event_id.map(str::to_owned),
                problem,
                detail,
            });
        }
    }
}

fn q(context: &str) -> impl FnOnce(sqlx::Error) -> AuditError + '_ {
    move |e| AuditError::query(context, e)
}

type EventTuple = (
    String,
    i64,
    String,
    i64,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<i64>,
    i64,
    String,
    String,
    String,
);

const EVENTS_SQL: &str = "SELECT stream, seq, id, at_us, kind, grant_id, principal, connection, status, \
                          blob_bytes, body, prev_hash, hash FROM audit_events ORDER BY stream, seq";

/// Checks the whole log in `pool` (every stream: on PostgreSQL, every gateway's).
/// `pool` is a `&SqlitePool`, a `&PgPool` or a [`PoolRef`].
pub async fn verify<'a>(
    pool: impl Into<PoolRef<'a>>,
    options: &VerifyOptions,
) -> Result<VerifyReport, AuditError> {
    let pool: PoolRef<'a> = pool.into();
    if let Some(bad) = options.trusted_keys.iter().find(|k| !is_public_key(&k.to_ascii_lowercase())) {
        return Err(AuditError::new(
            AuditReason::Key,
            format!(
                "the trusted key `{}` is not a hex Ed25519 public key (64 hex digits); read key files \
                 with read_public_key_file",
                crate::render::safe_excerpt(bad, 80)
            ),
        ));
    }
    let mut keys: HashMap<String, HashSet<String>> = HashMap::new();
    let key_rows: Vec<(String, String)> =
        with_pool!(pool, |p| sqlx::query_as("SELECT stream, public_key FROM audit_keys").fetch_all(p).await)
            .map_err(q("reading keys"))?;
    for (stream, key) in key_rows {
        keys.entry(stream).or_default().insert(key.to_ascii_lowercase());
    }
    let mut checkpoints: BTreeMap<(String, i64), Checkpoint> = BTreeMap::new();
    let rows: Vec<(String, i64, String, i64, String, String)> = with_pool!(pool, |p| sqlx::query_as(
        "SELECT stream, seq, hash, at_us, public_key, signature FROM audit_checkpoints"
    )
    .fetch_all(p)
    .await)
    .map_err(q("reading checkpoints"))?;
    for (stream, seq, hash, at_us, key, signature) in rows {
        checkpoints.insert((stream, seq), Checkpoint { hash, at_us, key, signature });
    }

    let mut walk = Walk { scan: Scan::default(), streams: Vec::new(), state: StreamState::default() };
    with_pool!(pool, |p| {
        let mut events = sqlx::query_as::<_, EventTuple>(EVENTS_SQL).fetch(p);
        while let Some(row) = events.try_next().await.map_err(q("reading events"))? {
            walk.event(row, &mut checkpoints, &keys, options);
        }
    });
    let Walk { mut scan, mut streams, mut state } = walk;
    if let Some(done) = streams.last_mut() {
        state.finish(done, &mut scan);
    }
    // Checkpoints whose event is gone: the log was truncated (or an event removed).
    for ((stream, seq), cp) in checkpoints {
        let last = streams.iter().find(|s| s.stream == stream).map(|s| s.last_seq).unwrap_or(0);
        let detail = if seq > last {
            format!("a checkpoint covers the log up to seq {seq}, but it ends at seq {last}: newer events were removed")
        } else {
            format!("a checkpoint covers seq {seq}, which is not in the log")
        };
        let sig_ok =
            signature_valid(&cp.key, &checkpoint_message(&stream, seq, &cp.hash, cp.at_us), &cp.signature);
        let problem = if sig_ok { Problem::EventMissing } else { Problem::CheckpointForged };
        scan.report(&stream, seq, None, problem, detail);
    }

    let mut blobs = 0u64;
    let mut present = HashSet::new();
    with_pool!(pool, |p| {
        let mut stored = sqlx::query_as::<_, (String, String, i64, Vec<u8>)>(
            "SELECT stream, hash, size, content FROM audit_blobs",
        )
        .fetch(p);
        while let Some((stream, hash, size, content)) =
            stored.try_next().await.map_err(q("reading bodies"))?
        {
            blobs += 1;
            if blob_hash(&content) != hash || size != content.len() as i64 {
                let key = (stream.clone(), hash.clone());
                let seq = scan.refs.get(&key).map(|(seq, _)| *seq).unwrap_or_default();
                scan.report(
                    &stream,
                    seq,
                    None,
                    Problem::BodyAltered,
                    format!("the stored body {hash} was altered"),
                );
            }
            present.insert((stream, hash));
        }
    });
    let mut missing: Vec<_> =
        scan.refs.iter().filter(|(k, _)| !present.contains(*k)).map(|(k, v)| (k.clone(), v.0)).collect();
    missing.sort();
    for ((stream, hash), seq) in missing {
        scan.report(
            &stream,
            seq,
            None,
            Problem::BodyMissing,
            format!("event {seq} refers to body {hash}, which is not stored"),
        );
    }

    scan.problems.sort_by(|a, b| (&a.stream, a.seq).cmp(&(&b.stream, b.seq)));
    Ok(VerifyReport { ok: scan.problems.is_empty(), streams, blobs, problems: scan.problems })
}

#[allow(clippy::too_many_arguments)]
fn check_checkpoint(
    stream: &str,
    seq: i64,
    previous_signed: i64,
    event_hash: &str,
    cp: &Checkpoint,
    keys: &HashMap<String, HashSet<String>>,
    options: &VerifyOptions,
    scan: &mut Scan,
) {
    let key = cp.key.to_ascii_lowercase();
    let known = keys.get(stream).is_some_and(|k| k.contains(&key));
    let trusted =
        options.trusted_keys.is_empty() || options.trusted_keys.iter().any(|t| t.eq_ignore_ascii_case(&key));
    let message = checkpoint_message(stream, seq, &cp.hash, cp.at_us);
    if !known || !trusted || !signature_valid(&key, &message, &cp.signature) {
        let why = if !known {
            "its key is not recorded for this gateway"
        } else if !trusted {
            "its key is not the trusted key"
        } else {
            "its signature does not verify"
        };
        scan.report(
            stream,
            seq,
            None,
            Problem::CheckpointForged,
            format!("the checkpoint at seq {seq} is forged: {why}"),
        );
    } else if cp.hash != event_hash {
        scan.report(
            stream,
            seq,
            None,
            Problem::CheckpointMismatch,
            format!(
                "the signed checkpoint at seq {seq} names another hash: an event after seq {previous_signed} \
                 (the previous checkpoint) and up to {seq} was rewritten"
            ),
        );
    }
}

struct EventRow<'a> {
    stream: &'a str,
    seq: i64,
    id: String,
    at_us: i64,
    kind: String,
    grant_id: Option<String>,
    principal: Option<String>,
    connection: Option<String>,
    status: Option<i64>,
    blob_bytes: i64,
    body: String,
    prev_hash: String,
    hash: String,
}

#[derive(Default)]
struct StreamState {
    prev: Option<(i64, String)>,
    /// The first event's (seq, prev_hash) when the stream does not start at seq 1.
    needs_anchor: Option<(i64, String, String)>,
    anchors: Vec<(i64, String)>,
}

impl StreamState {
    fn check_event(&mut self, ev: &EventRow<'_>, summary: &mut StreamSummary, scan: &mut Scan) {
        let id = Some(ev.id.as_str());
        summary.events += 1;
        summary.last_seq = ev.seq;
        match &self.prev {
            None => {
                summary.first_seq = ev.seq;
                if ev.seq == 1 && ev.prev_hash != GENESIS {
                    scan.report(
                        ev.stream,
                        ev.seq,
                        id,
                        Problem::ChainBroken,
                        "the first event does not start the chain".into(),
                    );
                } else if ev.seq != 1 {
                    self.needs_anchor = Some((ev.seq, ev.prev_hash.clone(), ev.id.clone()));
                }
            }
            Some((prev_seq, prev_hash)) => {
                if ev.seq != prev_seq + 1 {
                    scan.report(
                        ev.stream,
                        prev_seq + 1,
                        None,
                        Problem::EventMissing,
                        format!("events {} to {} are missing", prev_seq + 1, ev.seq - 1),
                    );
                } else if &ev.prev_hash != prev_hash {
                    scan.report(
                        ev.stream,
                        ev.seq,
                        id,
                        Problem::ChainBroken,
                        format!("event {} does not follow event {prev_seq}: events were removed, inserted or reordered", ev.seq),
                    );
                }
            }
        }
        let link = Link {
            stream: ev.stream,
            seq: ev.seq,
            id: &ev.id,
            at_us: ev.at_us,
            prev_hash: &ev.prev_hash,
            body: &ev.body,
        };
        if link.hash() != ev.hash {
            scan.report(
                ev.stream,
                ev.seq,
                id,
                Problem::EventAltered,
                format!("event {} was altered after it was written", ev.seq),
            );
        }
        self.prev = Some((ev.seq, ev.hash.clone()));
        match decode(&ev.body) {
            Err(e) => scan.report(ev.stream, ev.seq, id, Problem::Unparseable, e.detail),
            Ok(event) => {
                let d = event.detail.derived();
                let blob_bytes: u64 = event.stored_refs().map(|(_, size)| size).sum();
                if d.kind != ev.kind
                    || d.grant_id != ev.grant_id
                    || d.principal != ev.principal
                    || d.connection != ev.connection
                    || d.status != ev.status
                    || event.at_us != ev.at_us
                    || blob_bytes as i64 != ev.blob_bytes
                {
                    scan.report(
                        ev.stream,
                        ev.seq,
                        id,
                        Problem::IndexAltered,
                        format!("event {}'s index columns disagree with its body", ev.seq),
                    );
                }
                for (sha256, size) in event.stored_refs() {
                    scan.refs.entry((ev.stream.to_owned(), sha256.to_owned())).or_insert((ev.seq, size));
                }
                if let EventDetail::Retention { pruned_through_seq, anchor_hash, .. } = event.detail {
                    self.anchors.push((pruned_through_seq, anchor_hash));
                }
            }
        }
    }

    fn finish(&mut self, summary: &StreamSummary, scan: &mut Scan) {
        if let Some((seq, prev_hash, id)) = self.needs_anchor.take() {
            if !self.anchors.iter().any(|(through, hash)| *through == seq - 1 && *hash == prev_hash) {
                scan.report(
                    &summary.stream,
                    seq,
                    Some(&id),
                    Problem::StartMissing,
                    format!("the log starts at seq {seq}, but no retention record says events up to {} were removed", seq - 1),
                );
            }
        }
    }
}
