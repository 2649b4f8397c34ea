//! Sessions: the requests (and their decisions and responses) under one grant id.
//! Query functions behind `portcullis sessions list|show|replay` and `/api/v1/sessions`;
//! every result is serde-serializable for `--json`.

use std::collections::HashMap;
use std::time::Duration;

use portcullis_store::PoolRef;
use serde::Serialize;

use crate::chain::decode;
use crate::db::with_pool;
use crate::render::summarize;
use crate::{AuditError, AuditEvent, BodyRef, EventDetail, Header};

/// Filters of `sessions list`.
#[derive(Debug, Clone, Default)]
pub struct SessionFilter {
    /// Only sessions with a request or grant for this principal (its subject).
    pub principal: Option<String>,
    /// Only sessions on this connection.
    pub connection: Option<String>,
    /// Only sessions active at or after this time (µs since the epoch).
    pub since_us: Option<i64>,
}

/// One line of `sessions list`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SessionSummary {
    /// The grant id (the session's id).
    pub grant_id: String,
    /// The principal (subject).
    pub principal: Option<String>,
    /// The connection.
    pub connection: Option<String>,
    /// First event, µs since the epoch.
    pub started_at_us: i64,
    /// Last event, µs since the epoch.
    pub last_at_us: i64,
    /// Requests forwarded.
    pub requests: i64,
    /// Responses with status ≥ 400.
    pub errors: i64,
    /// All events of the session.
    pub events: i64,
}

type SummaryTuple = (String, Option<String>, Option<String>, i64, i64, Option<i64>, Option<i64>, i64);

/// Lists sessions, oldest first. `pool` is a `&SqlitePool`, a `&PgPool` or a [`PoolRef`].
pub async fn list_sessions<'a>(
    pool: impl Into<PoolRef<'a>>,
    filter: &SessionFilter,
) -> Result<Vec<SessionSummary>, AuditError> {
    // Counts are cast to BIGINT so both backends return an i64 (PostgreSQL's SUM of
    // integers would otherwise be NUMERIC).
    let rows: Vec<SummaryTuple> = with_pool!(pool.into(), |p| sqlx::query_as(
        "SELECT grant_id, MAX(principal), MAX(connection), MIN(at_us), MAX(at_us), \
                CAST(SUM(CASE WHEN kind = 'request' THEN 1 ELSE 0 END) AS BIGINT), \
                CAST(SUM(CASE WHEN kind = 'response' AND status >= 400 THEN 1 ELSE 0 END) AS BIGINT), \
                CAST(COUNT(*) AS BIGINT) \
         FROM audit_events WHERE grant_id IS NOT NULL GROUP BY grant_id \
         HAVING ($1 IS NULL OR SUM(CASE WHEN principal = $1 THEN 1 ELSE 0 END) > 0) \
            AND ($2 IS NULL OR SUM(CASE WHEN connection = $2 THEN 1 ELSE 0 END) > 0) \
            AND ($3 IS NULL OR MAX(at_us) >= $3) \
         ORDER BY MIN(at_us), grant_id",
    )
    .bind(filter.principal.as_deref())
    .bind(filter.connection.as_deref())
    .bind(filter.since_us)
    .fetch_all(p)
    .await)
    .map_err(|e| AuditError::query("listing sessions", e))?;
    Ok(rows
        .into_iter()
        .map(|(grant_id, principal, connection, started_at_us, last_at_us, requests, errors, events)| {
            SessionSummary {
                grant_id,
                principal,
                connection,
                started_at_us,
                last_at_us,
                requests: requests.unwrap_or(0),
                errors: errors.unwrap_or(0),
                events,
            }
        })
        .collect())
}

/// One entry of a session's timeline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TimelineEntry {
    /// Position in the chain.
    pub seq: i64,
    /// The event id.
    pub event_id: String,
    /// `request`, `response`, `guardrail`, `review`, `grant_issued`, …
    pub kind: String,
    /// A one-line description, safe to print (agent values escaped, bodies as excerpts).
    pub summary: String,
    /// The full event.
    pub event: AuditEvent,
}

/// `sessions show`: everything recorded under one grant, in order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SessionTimeline {
    /// The grant id.
    pub grant_id: String,
    /// The entries, in chain order.
    pub entries: Vec<TimelineEntry>,
}

async fn session_events(
    pool: PoolRef<'_>,
    grant_id: &str,
) -> Result<Vec<(i64, String, AuditEvent)>, AuditError> {
    let rows: Vec<(i64, String, String)> = with_pool!(pool, |p| sqlx::query_as(
        "SELECT seq, id, body FROM audit_events WHERE grant_id = $1 ORDER BY stream, seq"
    )
    .bind(grant_id)
    .fetch_all(p)
    .await)
    .map_err(|e| AuditError::query("reading a session", e))?;
    rows.into_iter().map(|(seq, id, body)| Ok((seq, id, decode(&body)?))).collect()
}

/// The timeline of one session; `None` when nothing was recorded under `grant_id`.
pub async fn show_session<'a>(
    pool: impl Into<PoolRef<'a>>,
    grant_id: &str,
) -> Result<Option<SessionTimeline>, AuditError> {
    let events = session_events(pool.into(), grant_id).await?;
    if events.is_empty() {
        return Ok(None);
    }
    let entries = events
        .into_iter()
        .map(|(seq, event_id, event)| TimelineEntry {
            seq,
            event_id,
            kind: event.detail.kind().to_owned(),
            summary: summarize(&event.detail),
            event,
        })
        .collect();
    Ok(Some(SessionTimeline { grant_id: grant_id.to_owned(), entries }))
}

/// One call of a replay: the request as forwarded and what came back.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReplayCall {
    /// The gateway's request id.
    pub request_id: String,
    /// When the request was recorded, µs after the session's first request.
    pub offset_us: i64,
    /// Canonical method.
    pub method: String,
    /// Canonical target.
    pub target: String,
    /// Request headers (credentials removed).
    pub request_headers: Vec<Header>,
    /// Request body.
    pub request_body: Option<BodyRef>,
    /// The guardrail action (`allow`, `review`, …), when recorded.
    pub decision: Option<String>,
    /// Status sent to the agent (`None`: no response recorded, e.g. the gateway stopped).
    pub status: Option<u16>,
    /// Response headers.
    pub response_headers: Vec<Header>,
    /// Response body as the agent received it (masked).
    pub response_body: Option<BodyRef>,
    /// Request to end of response, µs.
    pub duration_us: Option<u64>,
}

/// `sessions replay`: the calls of one session in order, with their original timing.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SessionReplay {
    /// The grant id.
    pub grant_id: String,
    /// The calls, in the order they were recorded.
    pub calls: Vec<ReplayCall>,
}

impl SessionReplay {
    /// The pause before each call when played back at `speed` (2.0: twice as fast).
    pub fn pauses(&self, speed: f64) -> Vec<Duration> {
        let speed = if speed.is_finite() && speed > 0.0 { speed } else { 1.0 };
        let mut last = 0i64;
        self.calls
            .iter()
            .map(|c| {
                let gap = (c.offset_us - last).max(0) as f64 / speed;
                last = c.offset_us;
                Duration::from_micros(gap as u64)
            })
            .collect()
    }
}

/// The replay of one session; `None` when nothing was recorded under `grant_id`.
pub async fn replay<'a>(
    pool: impl Into<PoolRef<'a>>,
    grant_id: &str,
) -> Result<Option<SessionReplay>, AuditError> {
    let events = session_events(pool.into(), grant_id).await?;
    if events.is_empty() {
        return Ok(None);
    }
    let mut calls: Vec<ReplayCall> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut start: Option<i64> = None;
    let mut decisions: HashMap<String, String> = HashMap::new();
    for (_, _, event) in events {
        match event.detail {
            EventDetail::Request(r) => {
                let t0 = *start.get_or_insert(event.at_us);
                index.insert(r.request_id.clone(), calls.len());
                calls.push(ReplayCall {
                    decision: decisions.remove(&r.request_id),
                    request_id: r.request_id,
                    offset_us: event.at_us - t0,
                    method: r.method,
                    target: r.target,
                    request_headers: r.headers,
                    request_body: r.body,
                    status: None,
                    response_headers: Vec::new(),
                    response_body: None,
                    duration_us: None,
                });
            }
            EventDetail::Guardrail { request_id, action, .. } => match index.get(&request_id) {
                Some(&i) => calls[i].decision = Some(action),
                None => {
                    decisions.insert(request_id, action);
                }
            },
            EventDetail::Response(r) => {
                if let Some(&i) = index.get(&r.request_id) {
                    let call = &mut calls[i];
                    call.status = Some(r.status);
                    call.response_headers = r.headers;
                    call.response_body = r.body;
                    call.duration_us = Some(r.duration_us);
                    if call.request_body.is_none() {
                        call.request_body = r.request_body;
                    }
                }
            }
            _ => {}
        }
    }
    Ok(Some(SessionReplay { grant_id: grant_id.to_owned(), calls }))
}

/// A stored body by its SHA-256 (hex), e.g. to show a full masked response.
/// `pool` is a `&SqlitePool`, a `&PgPool` or a [`PoolRef`].
pub async fn read_body<'a>(
    pool: impl Into<PoolRef<'a>>,
    sha256: &str,
) -> Result<Option<Vec<u8>>, AuditError> {
    with_pool!(pool.into(), |p| sqlx::query_scalar("SELECT content FROM audit_blobs WHERE hash = $1 LIMIT 1")
        .bind(sha256)
        .fetch_optional(p)
        .await)
    .map_err(|e| AuditError::query("reading a body", e))
}
