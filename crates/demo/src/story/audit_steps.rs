//! The audit log: the session replayed from it, and verified (and a tampered copy not).

use portcullis_audit::{read_public_key, replay as replay_session, verify, VerifyOptions};
use portcullis_store::SqliteStore;
use serde_json::json;

use super::{require, StepResult, World};

pub(super) async fn replay(world: &mut World) -> StepResult {
    let gw = require(&world.gateway, "the gateway")?;
    let grant_id = require(&world.grant_id, "the grant")?;
    let store = gw.store();
    // Response events are written when a response body ends, just after the agent has
    // it; give the last one a moment to be committed.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(2);
    let session = loop {
        let session = replay_session(store.pool(), grant_id)
            .await
            .map_err(|e| e.to_string())?
            .ok_or(format!("no session recorded for grant {grant_id}"))?;
        if session.calls.iter().all(|c| c.status.is_some()) || tokio::time::Instant::now() > deadline {
            break session;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    if session.calls.is_empty() {
        return Err("the session has no calls".into());
    }
    let lines: Vec<String> = session
        .calls
        .iter()
        .map(|c| {
            format!(
                "+{:>6.1} ms  {} {} → {}",
                c.offset_us as f64 / 1000.0,
                portcullis_audit::render::safe(&c.method),
                portcullis_audit::render::safe(&c.target),
                c.status.map(|s| s.to_string()).unwrap_or_else(|| "no response".into())
            )
        })
        .collect();
    let mut narration =
        vec![format!("session of grant {grant_id}: {} call(s), in order, from the audit log", lines.len())];
    narration.extend(lines);
    Ok(json!({ "narration": narration, "grant_id": grant_id, "calls": session.calls.len() }))
}

pub(super) async fn audit_verify(world: &mut World) -> StepResult {
    let gw = require(&world.gateway, "the gateway")?;
    let dir = require(&world.dir, "the gateway's folder")?;
    let data = dir.path().join("data");
    let key = read_public_key(&data).map_err(|e| e.to_string())?;
    let options = VerifyOptions { trusted_keys: vec![key] };
    let store = gw.store();
    let report = verify(store.pool(), &options).await.map_err(|e| e.to_string())?;
    let events: u64 = report.streams.iter().map(|s| s.events).sum();
    if !report.ok {
        return Err(format!("the live audit log does not verify: {:?}", report.first_break()));
    }

    // A copy with one recorded request rewritten, as an insider editing the database would.
    let copy = dir.path().join("tampered");
    std::fs::create_dir_all(&copy).map_err(|e| e.to_string())?;
    let target = copy.join(portcullis_store::DB_FILE);
    sqlx::query(&format!("VACUUM INTO '{}'", target.display()))
        .execute(store.pool())
        .await
        .map_err(|e| format!("copying the log: {e}"))?;
    let tampered = SqliteStore::open(&copy).await.map_err(|e| e.to_string())?;
    let edited = sqlx::query(
        "UPDATE audit_events SET body = replace(body, 'resourcegroups', 'resourceGroupz') \
         WHERE seq = (SELECT MIN(seq) FROM audit_events WHERE kind = 'request' AND body LIKE '%resourcegroups%')",
    )
    .execute(tampered.pool())
    .await
    .map_err(|e| e.to_string())?
    .rows_affected();
    let broken = verify(tampered.pool(), &options).await.map_err(|e| e.to_string())?;
    let first = broken.first_break().ok_or("the tampered copy verified: tampering went unnoticed")?;
    if edited != 1 {
        return Err(format!("expected to edit one event, edited {edited}"));
    }
    Ok(json!({
        "narration": [
            format!("the live log verifies: {events} events, hash-chained, checkpoints signed with the gateway's Ed25519 key"),
            format!("a copy with one recorded request edited fails: first broken event is seq {} ({})", first.seq, portcullis_audit::render::safe(&first.detail)),
            format!("check it yourself: portcullis audit verify --data-dir {}", data.display()),
        ],
        "events": events,
        "tampered_copy": { "ok": broken.ok, "first_broken_seq": first.seq },
    }))
}
