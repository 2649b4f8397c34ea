//! Tampering with the log is found by verify and pinpointed, on every backend.

mod common;

use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
use common::{with_pool, Backend};
use portcullis_audit::{
    event_hash, verify, AuditConfig, AuditReason, PoolRef, Problem, VerifyOptions, VerifyReport,
};

/// A log of 20 events with a checkpoint every 5 (so seqs 5, 10, 15, 20 are signed).
async fn recorded(backend: Backend) -> common::Env {
    let env = common::open_on(backend, AuditConfig { checkpoint_every: 5, ..AuditConfig::default() }).await;
    common::fill(&env.log, "g1", 20).await;
    env
}

async fn check(pool: PoolRef<'_>) -> VerifyReport {
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
    for backend in common::backends() {
        let env = recorded(backend).await;
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
}

#[tokio::test]
async fn an_edited_body_is_pinpointed() {
    for backend in common::backends() {
        let env = recorded(backend).await;
        env.exec("UPDATE audit_events SET body = replace(body, 'rg-7', 'rg-8') WHERE seq = 8").await;
        let report = check(env.store.pool()).await;
        assert_eq!(first(&report), (Problem::EventAltered, 8));
        assert!(report.first_break().unwrap().event_id.is_some());
    }
}

#[tokio::test]
async fn a_deleted_event_is_pinpointed() {
    for backend in common::backends() {
        let env = recorded(backend).await;
        env.exec("DELETE FROM audit_events WHERE seq = 12").await;
        assert_eq!(first(&check(env.store.pool()).await), (Problem::EventMissing, 12));
    }
}

#[tokio::test]
async fn two_reordered_events_are_pinpointed() {
    for backend in common::backends() {
        let env = recorded(backend).await;
        let pool = env.store.pool();
        for sql in [
            "UPDATE audit_events SET seq = -1 WHERE seq = 3",
            "UPDATE audit_events SET seq = 3 WHERE seq = 4",
            "UPDATE audit_events SET seq = 4 WHERE seq = -1",
        ] {
            env.exec(sql).await;
        }
        assert_eq!(first(&check(pool).await), (Problem::ChainBroken, 3));
    }
}

#[tokio::test]
async fn a_forged_checkpoint_is_found() {
    for backend in common::backends() {
        let env = recorded(backend).await;
        let pool = env.store.pool();
        env.exec("UPDATE audit_checkpoints SET at_us = at_us + 1 WHERE seq = 10").await;
        assert_eq!(first(&check(pool).await), (Problem::CheckpointForged, 10));
    }
}

#[tokio::test]
async fn a_checkpoint_signed_with_another_key_is_refused() {
    for backend in common::backends() {
        let env = recorded(backend).await;
        let pool = env.store.pool();
        let other = Ed25519KeyPair::generate().unwrap();
        let public = hex::encode(other.public_key().as_ref());
        let (stream, hash, at_us): (String, String, i64) = with_pool!(pool, |p| sqlx::query_as(
            "SELECT stream, hash, at_us FROM audit_checkpoints WHERE seq = 15"
        )
        .fetch_one(p)
        .await
        .unwrap());
        let message = format!("portcullis-audit-checkpoint-v1\n{stream}\n15\n{hash}\n{at_us}");
        let signature = hex::encode(other.sign(message.as_bytes()).as_ref());
        env.exec(&format!(
            "UPDATE audit_checkpoints SET public_key = '{public}', signature = '{signature}' WHERE seq = 15"
        ))
        .await;
        assert_eq!(first(&check(pool).await), (Problem::CheckpointForged, 15));

        // Even if the forger also records their key, a trusted key from data_dir refuses it.
        env.exec(&format!(
            "INSERT INTO audit_keys (stream, public_key, recorded_at_us) VALUES ('{stream}', '{public}', 0)"
        ))
        .await;
        assert!(
            check(pool).await.ok,
            "with only database keys, a recorded forger's key passes (documented limit)"
        );
        let trusted = portcullis_audit::read_public_key(env.dir.path()).unwrap();
        let report = verify(pool, &VerifyOptions { trusted_keys: vec![trusted] }).await.unwrap();
        assert_eq!(first(&report), (Problem::CheckpointForged, 15));
    }
}

/// The public key file the gateway writes (hex and a newline) is what `audit verify
/// --trusted-key FILE` trusts; raw text that is not a key is an error, never a report that
/// every checkpoint is forged; a well-formed key of someone else's is refused.
#[tokio::test]
async fn the_public_key_file_is_the_trusted_key() {
    for backend in common::backends() {
        let env = recorded(backend).await;
        let pool = env.store.pool();
        let path = env.dir.path().join(portcullis_audit::PUBLIC_KEY_FILE);
        let trusted = portcullis_audit::read_public_key_file(&path).unwrap();
        let report = verify(pool, &VerifyOptions { trusted_keys: vec![trusted] }).await.unwrap();
        assert!(report.ok, "{backend:?}: {:?}", report.problems);
        assert_eq!(report.streams[0].checkpoints, 4);

        let raw = std::fs::read_to_string(&path).unwrap();
        let err = verify(pool, &VerifyOptions { trusted_keys: vec![raw] }).await.unwrap_err();
        assert_eq!(err.reason, AuditReason::Key, "{backend:?}: {err}");

        let stranger = hex::encode(Ed25519KeyPair::generate().unwrap().public_key().as_ref());
        let report = verify(pool, &VerifyOptions { trusted_keys: vec![stranger] }).await.unwrap();
        assert_eq!(first(&report), (Problem::CheckpointForged, 5));
    }
}

/// Rewriting an event *and* recomputing every later hash keeps the chain consistent, but
/// the next signed checkpoint no longer matches.
#[tokio::test]
async fn a_rewritten_chain_is_caught_by_the_next_checkpoint() {
    for backend in common::backends() {
        let env = recorded(backend).await;
        let pool = env.store.pool();
        env.exec("UPDATE audit_events SET body = replace(body, 'rg-6', 'rg-9') WHERE seq = 7").await;
        let rows: Vec<(String, i64, String, i64, String)> = with_pool!(pool, |p| sqlx::query_as(
            "SELECT stream, seq, id, at_us, body FROM audit_events WHERE seq >= 7 ORDER BY seq"
        )
        .fetch_all(p)
        .await
        .unwrap());
        let mut prev: String =
            with_pool!(pool, |p| sqlx::query_scalar("SELECT hash FROM audit_events WHERE seq = 6")
                .fetch_one(p)
                .await
                .unwrap());
        for (stream, seq, id, at_us, body) in rows {
            let hash = event_hash(&stream, seq, &id, at_us, &prev, &body);
            env.exec(&format!(
                "UPDATE audit_events SET prev_hash = '{prev}', hash = '{hash}' WHERE seq = {seq}"
            ))
            .await;
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
}

#[tokio::test]
async fn a_truncated_tail_is_found() {
    for backend in common::backends() {
        let env = recorded(backend).await;
        env.exec("DELETE FROM audit_events WHERE seq > 17").await;
        let report = check(env.store.pool()).await;
        assert_eq!(first(&report), (Problem::EventMissing, 20));
        assert!(report.first_break().unwrap().detail.contains("ends at seq 17"), "{:?}", report.problems);
    }
}

#[tokio::test]
async fn removing_the_oldest_events_without_retention_is_found() {
    for backend in common::backends() {
        let env = recorded(backend).await;
        let pool = env.store.pool();
        env.exec("DELETE FROM audit_events WHERE seq <= 5").await;
        env.exec("DELETE FROM audit_checkpoints WHERE seq <= 5").await;
        assert_eq!(first(&check(pool).await), (Problem::StartMissing, 6));
    }
}

#[tokio::test]
async fn an_edited_stored_body_is_found() {
    for backend in common::backends() {
        let env = recorded(backend).await;
        let pool = env.store.pool();
        with_pool!(pool, |p| {
            let hash: String = sqlx::query_scalar("SELECT hash FROM audit_blobs ORDER BY hash LIMIT 1")
                .fetch_one(p)
                .await
                .unwrap();
            sqlx::query("UPDATE audit_blobs SET content = $1 WHERE hash = $2")
                .bind(br#"{"location":"eastus"}"#.to_vec())
                .bind(&hash)
                .execute(p)
                .await
                .unwrap();
        });
        let report = check(pool).await;
        assert_eq!(report.first_break().map(|b| b.problem), Some(Problem::BodyAltered));
    }
}

#[tokio::test]
async fn an_edited_index_column_is_found() {
    for backend in common::backends() {
        let env = recorded(backend).await;
        env.exec("UPDATE audit_events SET grant_id = 'other' WHERE seq = 4").await;
        assert_eq!(first(&check(env.store.pool()).await), (Problem::IndexAltered, 4));
    }
}
