//! `audit verify`: recomputes every hash, follows every link, checks every checkpoint
//! signature and every stored body, and names the first broken event.

use std::collections::{BTreeMap, HashMap, HashSet};

use futures_util::TryStreamExt;
use serde::Serialize;
use sqlx::{Row as _, SqlitePool};

use crate::chain::{blob_hash, checkpoint_message, decode, Link, GENESIS};
use crate::keys::signature_valid;
use crate::{AuditError, EventDetail};

/// What verify trusts beyond the database itself.
#[derive(Debug, Clone, Default)]
pub struct VerifyOptions {
    /// Hex Ed25519 public keys that may sign checkpoints (e.g. from
    /// [`crate::read_public_key`]). Empty: trust the keys recorded in the database, which
    /// detects every edit except a full rewrite by someone who also replaced the key.
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
    refs: HashMap<String, (String, i64, u64)>,
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

/// Checks the whole log in `pool`.
pub async fn verify(pool: &SqlitePool, options: &VerifyOptions) -> Result<VerifyReport, AuditError> {
    let mut keys: HashMap<String, HashSet<String>> = HashMap::new();
    for row in sqlx::query("SELECT stream, public_key FROM audit_keys")
        .fetch_all(pool)
        .await
        .map_err(q("reading keys"))?
    {
        keys.entry(row.get(0)).or_default().insert(row.get::<String, _>(1).to_ascii_lowercase());
    }
    let mut checkpoints: BTreeMap<(String, i64), Checkpoint> = BTreeMap::new();
    let rows = sqlx::query("SELECT stream, seq, hash, at_us, public_key, signature FROM audit_checkpoints")
        .fetch_all(pool)
        .await
        .map_err(q("reading checkpoints"))?;
    for row in rows {
        checkpoints.insert(
            (row.get(0), row.get(1)),
            Checkpoint { hash: row.get(2), at_us: row.get(3), key: row.get(4), signature: row.get(5) },
        );
    }

    let mut scan = Scan::default();
    let mut streams: Vec<StreamSummary> = Vec::new();
    let mut stream_state = StreamState::default();
    let mut events = sqlx::query(
        "SELECT stream, seq, id, at_us, kind, grant_id, principal, connection, status, blob_bytes, body, prev_hash, hash \
         FROM audit_events ORDER BY stream, seq",
    )
    .fetch(pool);
    while let Some(row) = events.try_next().await.map_err(q("reading events"))? {
        let stream: String = row.get(0);
        if streams.last().map(|s| s.stream != stream).unwrap_or(true) {
            if let Some(done) = streams.last_mut() {
                stream_state.finish(done, &mut scan);
            }
            streams.push(StreamSummary { stream: stream.clone(), ..StreamSummary::default() });
            stream_state = StreamState::default();
        }
        let summary =
            streams.last_mut().ok_or_else(|| AuditError::new(crate::AuditReason::Query, "no stream"))?;
        let ev = EventRow {
            stream: &stream,
            seq: row.get(1),
            id: row.get(2),
            at_us: row.get(3),
            kind: row.get(4),
            grant_id: row.get(5),
            principal: row.get(6),
            connection: row.get(7),
            status: row.get(8),
            blob_bytes: row.get(9),
            body: row.get(10),
            prev_hash: row.get(11),
            hash: row.get(12),
        };
        stream_state.check_event(&ev, summary, &mut scan);
        if let Some(cp) = checkpoints.remove(&(stream.clone(), ev.seq)) {
            check_checkpoint(
                &stream,
                ev.seq,
                summary.last_signed_seq,
                &ev.hash,
                &cp,
                &keys,
                options,
                &mut scan,
            );
            summary.checkpoints += 1;
            summary.last_signed_seq = ev.seq;
        }
    }
    drop(events);
    if let Some(done) = streams.last_mut() {
        stream_state.finish(done, &mut scan);
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
    let mut stored = sqlx::query("SELECT hash, size, content FROM audit_blobs").fetch(pool);
    let mut present = HashSet::new();
    while let Some(row) = stored.try_next().await.map_err(q("reading bodies"))? {
        blobs += 1;
        let hash: String = row.get(0);
        let size: i64 = row.get(1);
        let content: Vec<u8> = row.get(2);
        if blob_hash(&content) != hash || size != content.len() as i64 {
            let (stream, seq) = scan.refs.get(&hash).map(|(s, q, _)| (s.clone(), *q)).unwrap_or_default();
            scan.report(
                &stream,
                seq,
                None,
                Problem::BodyAltered,
                format!("the stored body {hash} was altered"),
            );
        }
        present.insert(hash);
    }
    drop(stored);
    let missing: Vec<_> = scan
        .refs
        .iter()
        .filter(|(h, _)| !present.contains(*h))
        .map(|(h, v)| (h.clone(), v.clone()))
        .collect();
    for (hash, (stream, seq, _)) in missing {
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
                let blob_bytes: u64 = event.detail.body_refs().iter().map(|b| b.size).sum();
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
                for body in event.detail.body_refs() {
                    scan.refs
                        .entry(body.sha256.clone())
                        .or_insert_with(|| (ev.stream.to_owned(), ev.seq, body.size));
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
