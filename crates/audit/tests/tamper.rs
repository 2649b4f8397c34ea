//! Tampering with the log is found by verify and pinpointed.

mod common;

use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
use portcullis_audit::{event_hash, verify, AuditConfig, Problem, VerifyOptions, VerifyReport};
use sqlx::{Row, SqlitePool};

/// A log of 20 events with a checkpoint every 5 (so seqs 5, 10, 15, 20 are signed).
async fn recorded() -> common::Env {
    let env = common::open(AuditConfig { checkpoint_every: 5, ..AuditConfig::default() }).await;
    common::fill(&env.log, "g1", 20).await;
    env
}

async fn check(pool: &SqlitePool) -> VerifyReport {
    verify(pool, &VerifyOptions::default()).await.unwrap()
}

fn first(report: &VerifyReport) -> (Problem, i64) {
    let b = report.first_break().expect("verify must report a break");
    assert!(!report.ok);
    assert_eq!(report.exit_code(), 1);
    (b.problem, b.seq)
}

#[tokio::test]
async fn an_untouched_log_verifies() {
    let env = recorded().await;
    let trusted = portcullis_audit::read_public_key(env.dir.path()).unwrap();
    let report = verify(env.store.pool(), &VerifyOptions { trusted_keys: vec![trusted] }).await.unwrap();
    assert!(report.ok, "{:?}", report.problems);
    assert_eq!(report.exit_code(), 0);
    assert_eq!(report.streams.len(), 1);
    assert_eq!((report.streams[0].first_seq, report.streams[0].last_seq), (1, 20));
    assert_eq!(report.streams[0].checkpoints, 4);
    assert_eq!(report.streams[0].last_signed_seq, 20);
    assert_eq!(report.blobs, 20);
}

#[tokio::test]
async fn an_edited_body_is_pinpointed() {
    let env = recorded().await;
    sqlx::query("UPDATE audit_events SET body = replace(body, 'rg-7', 'rg-8') WHERE seq = 8")
        .execute(env.store.pool())
        .await
        .unwrap();
    let report = check(env.store.pool()).await;
    assert_eq!(first(&report), (Problem::EventAltered, 8));
    assert!(report.first_break().unwrap().event_id.is_some());
}

#[tokio::test]
async fn a_deleted_event_is_pinpointed() {
    let env = recorded().await;
    sqlx::query("DELETE FROM audit_events WHERE seq = 12").execute(env.store.pool()).await.unwrap();
    assert_eq!(first(&check(env.store.pool()).await), (Problem::EventMissing, 12));
}

#[tokio::test]
async fn two_reordered_events_are_pinpointed() {
    let env = recorded().await;
    let pool = env.store.pool();
    for sql in [
        "UPDATE audit_events SET seq = -1 WHERE seq = 3",
        "UPDATE audit_events SET seq = 3 WHERE seq = 4",
        "UPDATE audit_events SET seq = 4 WHERE seq = -1",
    ] {
        sqlx::query(sql).execute(pool).await.unwrap();
    }
    assert_eq!(first(&check(pool).await), (Problem::ChainBroken, 3));
}

#[tokio::test]
async fn a_forged_checkpoint_is_found() {
    let env = recorded().await;
    let pool = env.store.pool();
    sqlx::query("UPDATE audit_checkpoints SET at_us = at_us + 1 WHERE seq = 10").execute(pool).await.unwrap();
    assert_eq!(first(&check(pool).await), (Problem::CheckpointForged, 10));
}

#[tokio::test]
async fn a_checkpoint_signed_with_another_key_is_refused() {
    let env = recorded().await;
    let pool = env.store.pool();
    let other = Ed25519KeyPair::generate().unwrap();
    let public = hex::encode(other.public_key().as_ref());
    let row = sqlx::query("SELECT stream, hash, at_us FROM audit_checkpoints WHERE seq = 15")
        .fetch_one(pool)
        .await
        .unwrap();
    let (stream, hash, at_us): (String, String, i64) = (row.get(0), row.get(1), row.get(2));
    let message = format!("portcullis-audit-checkpoint-v1\n{stream}\n15\n{hash}\n{at_us}");
    let signature = hex::encode(other.sign(message.as_bytes()).as_ref());
    sqlx::query("UPDATE audit_checkpoints SET public_key = ?, signature = ? WHERE seq = 15")
        .bind(&public)
        .bind(&signature)
        .execute(pool)
        .await
        .unwrap();
    assert_eq!(first(&check(pool).await), (Problem::CheckpointForged, 15));

    // Even if the forger also records their key, a trusted key from data_dir refuses it.
    sqlx::query("INSERT INTO audit_keys (stream, public_key, recorded_at_us) VALUES (?, ?, 0)")
        .bind(&stream)
        .bind(&public)
        .execute(pool)
        .await
        .unwrap();
    assert!(
        check(pool).await.ok,
        "with only database keys, a recorded forger's key passes (documented limit)"
    );
    let trusted = portcullis_audit::read_public_key(env.dir.path()).unwrap();
    let report = verify(pool, &VerifyOptions { trusted_keys: vec![trusted] }).await.unwrap();
    assert_eq!(first(&report), (Problem::CheckpointForged, 15));
}

/// Rewriting an event *and* recomputing every later hash keeps the chain consistent, but
/// the next signed checkpoint no longer matches.
#[tokio::test]
async fn a_rewritten_chain_is_caught_by_the_next_checkpoint() {
    let env = recorded().await;
    let pool = env.store.pool();
    sqlx::query("UPDATE audit_events SET body = replace(body, 'rg-6', 'rg-9') WHERE seq = 7")
        .execute(pool)
        .await
        .unwrap();
    let rows =
        sqlx::query("SELECT stream, seq, id, at_us, body FROM audit_events WHERE seq >= 7 ORDER BY seq")
            .fetch_all(pool)
            .await
            .unwrap();
    let mut prev: String =
        sqlx::query_scalar("SELECT hash FROM audit_events WHERE seq = 6").fetch_one(pool).await.unwrap();
    for r in rows {
        let seq: i64 = r.get(1);
        let hash = event_hash(r.get(0), seq, r.get(2), r.get(3), &prev, r.get(4));
        sqlx::query("UPDATE audit_events SET prev_hash = ?, hash = ? WHERE seq = ?")
            .bind(&prev)
            .bind(&hash)
            .bind(seq)
            .execute(pool)
            .await
            .unwrap();
        prev = hash;
    }
    let report = check(pool).await;
    assert_eq!(first(&report), (Problem::CheckpointMismatch, 10));
    assert!(report.first_break().unwrap().detail.contains("after seq 5"), "{:?}", report.problems);
    assert!(
        report.problems.iter().all(|p| p.problem == Problem::CheckpointMismatch),
        "{:?}",
        report.problems
    );
}

#[tokio::test]
async fn a_truncated_tail_is_found() {
    let env = recorded().await;
    sqlx::query("DELETE FROM audit_events WHERE seq > 17").execute(env.store.pool()).await.unwrap();
    let report = check(env.store.pool()).await;
    assert_eq!(first(&report), (Problem::EventMissing, 20));
    assert!(report.first_break().unwrap().detail.contains("ends at seq 17"), "{:?}", report.problems);
}

#[tokio::test]
async fn removing_the_oldest_events_without_retention_is_found() {
    let env = recorded().await;
    let pool = env.store.pool();
    sqlx::query("DELETE FROM audit_events WHERE seq <= 5").execute(pool).await.unwrap();
    sqlx::query("DELETE FROM audit_checkpoints WHERE seq <= 5").execute(pool).await.unwrap();
    assert_eq!(first(&check(pool).await), (Problem::StartMissing, 6));
}

#[tokio::test]
async fn an_edited_stored_body_is_found() {
    let env = recorded().await;
    let pool = env.store.pool();
    let hash: String =
        sqlx::query_scalar("SELECT hash FROM audit_blobs LIMIT 1").fetch_one(pool).await.unwrap();
    sqlx::query("UPDATE audit_blobs SET content = CAST('{\"location\":\"eastus\"}' AS BLOB) WHERE hash = ?")
        .bind(&hash)
        .execute(pool)
        .await
        .unwrap();
    let report = check(pool).await;
    assert_eq!(report.first_break().map(|b| b.problem), Some(Problem::BodyAltered));
}

#[tokio::test]
async fn an_edited_index_column_is_found() {
    let env = recorded().await;
    sqlx::query("UPDATE audit_events SET grant_id = 'other' WHERE seq = 4")
        .execute(env.store.pool())
        .await
        .unwrap();
    assert_eq!(first(&check(env.store.pool()).await), (Problem::IndexAltered, 4));
}
