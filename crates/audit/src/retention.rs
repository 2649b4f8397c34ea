//! Retention by age and by size, itself an audited event.
//!
//! Retention removes the oldest events of this gateway's stream (and the bodies only they
//! referred to) and, in the same transaction, appends a [`EventDetail::Retention`] event
//! naming the last removed seq and its hash. That event is the anchor `verify` uses for
//! the chain's new first event, so removal through retention verifies while any other
//! removal of old events is reported as a break.

use std::time::Duration;

use serde::Serialize;

use crate::db::with_tx;
use crate::writer::Writer;
use crate::{AuditError, AuditEvent, AuditReason, EventDetail};

/// How much history to keep. Both limits may apply; the stricter wins.
#[derive(Debug, Clone, Default)]
pub struct RetentionPolicy {
    /// Remove events older than this.
    pub max_age: Option<Duration>,
    /// Keep at most about this many bytes of events and the bodies they refer to
    /// (counted per reference), removing the oldest first.
    pub max_bytes: Option<u64>,
}

/// What a retention run did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RetentionReport {
    /// Events removed (0: nothing was due, and nothing was recorded).
    pub events_removed: u64,
    /// Bodies removed.
    pub blobs_removed: u64,
    /// Every event up to this seq is gone.
    pub pruned_through_seq: Option<i64>,
    /// The retention event's seq, when one was written.
    pub recorded_as: Option<i64>,
}

fn unavailable(context: &str, e: sqlx::Error) -> AuditError {
    AuditError::db(AuditReason::StoreUnavailable, context, e)
}

pub(crate) async fn prune(w: &mut Writer, policy: &RetentionPolicy) -> Result<RetentionReport, AuditError> {
    let mut tx = w.begin().await?;
    let stream = w.stream.clone();
    let mut cutoff: i64 = 0;
    let mut rule = Vec::new();
    if let Some(age) = policy.max_age {
        let limit = crate::event::now_us().saturating_sub(i64::try_from(age.as_micros()).unwrap_or(i64::MAX));
        let by_age: Option<i64> = with_tx!(&mut tx, |t| sqlx::query_scalar(
            "SELECT MAX(seq) FROM audit_events WHERE stream = $1 AND at_us < $2"
        )
        .bind(&stream)
        .bind(limit)
        .fetch_one(&mut **t)
        .await)
        .map_err(|e| unavailable("finding events past max_age", e))?;
        if let Some(seq) = by_age.filter(|s| *s > cutoff) {
            cutoff = seq;
            rule.push("max_age");
        }
    }
    if let Some(max) = policy.max_bytes {
        // The newest seq whose suffix sum of sizes exceeds `max`: everything up to it goes.
        let max = i64::try_from(max).unwrap_or(i64::MAX);
        let by_size: Option<i64> = with_tx!(&mut tx, |t| sqlx::query_scalar(
            "SELECT MAX(seq) FROM (SELECT seq, SUM(LENGTH(body) + blob_bytes) OVER (ORDER BY seq DESC) AS kept \
             FROM audit_events WHERE stream = $1) AS suffix WHERE kept > $2"
        )
        .bind(&stream)
        .bind(max)
        .fetch_one(&mut **t)
        .await)
        .map_err(|e| unavailable("finding events past max_bytes", e))?;
        if let Some(seq) = by_size.filter(|s| *s > cutoff) {
            cutoff = seq;
            rule.push("max_bytes");
        }
    }
    let anchor: Option<String> = with_tx!(&mut tx, |t| sqlx::query_scalar(
        "SELECT hash FROM audit_events WHERE stream = $1 AND seq = $2"
    )
    .bind(&stream)
    .bind(cutoff)
    .fetch_optional(&mut **t)
    .await)
    .map_err(|e| unavailable("reading the retention anchor", e))?;
    let Some(anchor_hash) = anchor else {
        return Ok(RetentionReport {
            events_removed: 0,
            blobs_removed: 0,
            pruned_through_seq: None,
            recorded_as: None,
        });
    };
    let mut removed = [0u64; 3];
    for (i, (sql, what)) in [
        ("DELETE FROM audit_events WHERE stream = $1 AND seq <= $2", "removing old events"),
        ("DELETE FROM audit_checkpoints WHERE stream = $1 AND seq <= $2", "removing old checkpoints"),
        ("DELETE FROM audit_blobs WHERE stream = $1 AND last_seq <= $2", "removing old bodies"),
    ]
    .into_iter()
    .enumerate()
    {
        removed[i] = with_tx!(&mut tx, |t| sqlx::query(sql)
            .bind(&stream)
            .bind(cutoff)
            .execute(&mut **t)
            .await
            .map(|r| r.rows_affected()))
        .map_err(|e| unavailable(what, e))?;
    }
    let [events, _, blobs] = removed;
    let record = AuditEvent::now(EventDetail::Retention {
        pruned_through_seq: cutoff,
        anchor_hash,
        events_removed: events,
        blobs_removed: blobs,
        rule: rule.join(","),
    });
    let (seq, hash) = w.append_in(&mut tx, &record).await?;
    w.insert_checkpoint(&mut tx, seq, &hash).await?;
    tx.commit("committing retention").await?;
    w.advance(seq, hash, true);
    tracing::info!(events, blobs, pruned_through = cutoff, "audit retention applied");
    Ok(RetentionReport {
        events_removed: events,
        blobs_removed: blobs,
        pruned_through_seq: Some(cutoff),
        recorded_as: Some(seq),
    })
}
