//! `audit export`: streams the log as JSON Lines or as OCSF events.
//!
//! # JSONL
//! One object per event: `stream`, `seq`, `id`, `at` (RFC 3339), `prev_hash`, `hash` and
//! `event` (the stored event). Enough to re-verify the chain elsewhere.
//!
//! # OCSF (schema 1.1.0)
//! Every record carries `metadata` (`version` `1.1.0`, `product` Portcullis, `uid` = event
//! id, `sequence` = seq, `log_name` = the gateway id), `time` (ms since the epoch),
//! `severity_id` 1 (informational; 3 for a failure or a guardrail denial), and the original
//! event with its chain hash under `unmapped.portcullis`.
//!
//! * **Authentication (class 3002, category 3 Identity & Access Management)** —
//!   `authentication` events: `activity_id` 1 Logon, `type_uid` 300201, `status_id` 1
//!   Success / 2 Failure, `status_detail` = the failure reason, `user.uid` = the principal's
//!   subject, `auth_protocol` = the method (`grant_token`, `oidc`, …), `src_endpoint.ip` =
//!   the remote address.
//! * **API Activity (class 6003, category 6 Application Activity)** — everything else:
//!   * `request`: `activity_id` from the HTTP method (POST 1 Create, GET/HEAD 2 Read,
//!     PUT/PATCH 3 Update, DELETE 4 Delete, others 99 Other), `api.operation` = method,
//!     `api.request.uid` = request id, `http_request.http_method`, `http_request.url.path` =
//!     canonical target, `actor.user.uid` = principal, `actor.session.uid` = grant id,
//!     `dst_endpoint.svc_name` = connection, `status_id` 0 Unknown (the response follows).
//!   * `response`: the request's activity (same export; 99 if the request is older than
//!     `--since`), `api.response.code` and `http_response.code` = status, `status_id` 1
//!     Success (< 400) / 2 Failure, `duration` in ms, `api.request.uid` = request id.
//!   * `guardrail`: `activity_id` 99, `api.operation` = `guardrail.<action>`,
//!     `resources[0].uid` = resource, `status_id` 2 when the action is `deny`.
//!   * grants, access requests and decisions, reviews, connector links, reloads and
//!     retention: `activity_id` 99 Other, `api.operation` = the event type.

use std::collections::HashMap;

use futures_util::TryStreamExt;
use portcullis_store::PoolRef;
use serde_json::{json, Value};
use tokio::io::{AsyncWrite, AsyncWriteExt};

use crate::chain::decode;
use crate::db::with_pool;
use crate::{principal_key, AuditError, AuditEvent, AuditReason, EventDetail, Outcome};

/// Export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// One stored event per line, with its chain fields.
    Jsonl,
    /// OCSF 1.1.0 API Activity and Authentication records, one per line.
    Ocsf,
}

/// Streams every event recorded at or after `since_us` (all when `None`) to `out`, one
/// JSON object per line. Returns the number of events written.
pub async fn export<'a, W: AsyncWrite + Unpin>(
    pool: impl Into<PoolRef<'a>>,
    format: ExportFormat,
    since_us: Option<i64>,
    out: &mut W,
) -> Result<u64, AuditError> {
    let mut methods: HashMap<String, String> = HashMap::new();
    let mut written = 0u64;
    with_pool!(pool.into(), |p| {
        let mut rows = sqlx::query_as::<_, (String, i64, String, i64, String, String, String)>(
            "SELECT stream, seq, id, at_us, body, prev_hash, hash FROM audit_events \
             WHERE $1 IS NULL OR at_us >= $1 ORDER BY stream, seq",
        )
        .bind(since_us)
        .fetch(p);
        while let Some(row) = rows.try_next().await.map_err(|e| AuditError::query("reading events", e))? {
            write_line(row, format, &mut methods, out).await?;
            written += 1;
        }
    });
    out.flush()
        .await
        .map_err(|e| AuditError::new(AuditReason::Output, format!("writing the export: {e}")))?;
    Ok(written)
}

async fn write_line<W: AsyncWrite + Unpin>(
    (stream, seq, id, _at_us, body, prev_hash, hash): (String, i64, String, i64, String, String, String),
    format: ExportFormat,
    methods: &mut HashMap<String, String>,
    out: &mut W,
) -> Result<(), AuditError> {
    let event = decode(&body)?;
    let value = match format {
        ExportFormat::Jsonl => json!({
            "stream": stream, "seq": seq, "id": id, "at": rfc3339(event.at_us),
            "prev_hash": prev_hash, "hash": hash, "event": event,
        }),
        ExportFormat::Ocsf => ocsf(&stream, seq, &id, &hash, &event, methods),
    };
    let mut line = value.to_string();
    line.push('\n');
    out.write_all(line.as_bytes())
        .await
        .map_err(|e| AuditError::new(AuditReason::Output, format!("writing the export: {e}")))
}

fn rfc3339(at_us: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(at_us) * 1000)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_default()
}

fn activity(method: &str) -> (u8, &'static str) {
    match method.to_ascii_uppercase().as_str() {
        "POST" => (1, "Create"),
        "GET" | "HEAD" => (2, "Read"),
        "PUT" | "PATCH" => (3, "Update"),
        "DELETE" => (4, "Delete"),
        _ => (99, "Other"),
    }
}

/// Maps one event to OCSF (see the module documentation for the mapping).
fn ocsf(
    stream: &str,
    seq: i64,
    id: &str,
    hash: &str,
    event: &AuditEvent,
    methods: &mut HashMap<String, String>,
) -> Value {
    let mut record = json!({
        "time": event.at_us / 1000,
        "severity_id": 1,
        "metadata": {
            "version": "1.1.0",
            "product": { "name": "Portcullis", "vendor_name": "Portcullis", "version": env!("CARGO_PKG_VERSION") },
            "uid": id, "sequence": seq, "log_name": stream,
        },
        "unmapped": { "portcullis": { "hash": hash, "event": event } },
    });
    let (class, fields) = match &event.detail {
        EventDetail::Authentication { outcome, method, principal, reason, remote } => {
            let ok = *outcome == Outcome::Success;
            (
                3002,
                json!({
                    "activity_id": 1, "activity_name": "Logon",
                    "status_id": if ok { 1 } else { 2 }, "status": if ok { "Success" } else { "Failure" },
                    "status_detail": reason, "auth_protocol": method,
                    "user": { "uid": principal.as_ref().map(principal_key) },
                    "src_endpoint": { "ip": remote },
                    "severity_id": if ok { 1 } else { 3 },
                }),
            )
        }
        EventDetail::Request(r) => {
            methods.insert(r.request_id.clone(), r.method.clone());
            let (aid, name) = activity(&r.method);
            (
                6003,
                json!({
                    "activity_id": aid, "activity_name": name, "status_id": 0,
                    "api": { "operation": r.method, "request": { "uid": r.request_id } },
                    "http_request": { "http_method": r.method, "url": { "path": r.target } },
                    "actor": { "user": { "uid": principal_key(&r.principal) }, "session": { "uid": r.grant_id } },
                    "dst_endpoint": { "svc_name": r.connection },
                }),
            )
        }
        EventDetail::Response(r) => {
            let method = methods.remove(&r.request_id);
            let (aid, name) = method.as_deref().map(activity).unwrap_or((99, "Other"));
            let ok = r.status < 400;
            (
                6003,
                json!({
                    "activity_id": aid, "activity_name": name,
                    "status_id": if ok { 1 } else { 2 }, "status": if ok { "Success" } else { "Failure" },
                    "duration": r.duration_us / 1000,
                    "api": { "operation": method, "request": { "uid": r.request_id }, "response": { "code": r.status } },
                    "http_response": { "code": r.status },
                    "actor": { "session": { "uid": r.grant_id } },
                    "dst_endpoint": { "svc_name": r.connection },
                }),
            )
        }
        EventDetail::Guardrail { request_id, grant_id, connection, rule, action, resource, .. } => {
            let denied = action == "deny";
            (
                6003,
                json!({
                    "activity_id": 99, "activity_name": "Other",
                    "status_id": if denied { 2 } else { 1 },
                    "severity_id": if denied { 3 } else { 1 },
                    "api": { "operation": format!("guardrail.{action}"), "request": { "uid": request_id } },
                    "resources": [{ "uid": resource, "type": "resource" }],
                    "actor": { "session": { "uid": grant_id } },
                    "dst_endpoint": { "svc_name": connection },
                    "status_detail": format!("rule {rule}"),
                }),
            )
        }
        other => (
            6003,
            json!({
                "activity_id": 99, "activity_name": "Other", "status_id": 1,
                "api": { "operation": other.kind() },
            }),
        ),
    };
    let (category, class_name) = if class == 3002 { (3, "Authentication") } else { (6, "API Activity") };
    if let (Value::Object(base), Value::Object(extra)) = (&mut record, fields) {
        let activity_id = extra.get("activity_id").and_then(Value::as_u64).unwrap_or(99);
        base.extend(extra);
        base.insert("class_uid".into(), json!(class));
        base.insert("class_name".into(), json!(class_name));
        base.insert("category_uid".into(), json!(category));
        base.insert("type_uid".into(), json!(class * 100 + activity_id));
    }
    record
}
