//! Checkpoints are signed every N events, after T seconds of unsigned events, and on
//! shutdown.

mod common;

use std::time::Duration;

use common::with_pool;
use portcullis_audit::{verify, AuditConfig, PoolRef, VerifyOptions};

async fn signed_seqs(pool: PoolRef<'_>) -> Vec<i64> {
    with_pool!(pool, |p| sqlx::query_scalar("SELECT seq FROM audit_checkpoints ORDER BY seq")
        .fetch_all(p)
        .await
        .unwrap())
}

#[tokio::test]
async fn every_n_events() {
    for backend in common::backends() {
        let env =
            common::open_on(backend, AuditConfig { checkpoint_every: 4, ..AuditConfig::default() }).await;
        common::fill(&env.log, "g1", 10).await; // sequential appends: one event per batch
        assert_eq!(signed_seqs(env.store.pool()).await, [4, 8]);
    }
}

#[tokio::test]
async fn after_an_interval_even_when_idle() {
    for backend in common::backends() {
        let env = common::open_on(
            backend,
            AuditConfig {
                checkpoint_every: 1_000,
                checkpoint_interval: Duration::from_millis(200),
                ..AuditConfig::default()
            },
        )
        .await;
        common::fill(&env.log, "g1", 3).await;
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            if signed_seqs(env.store.pool()).await == [3] {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "no checkpoint after the interval");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let report = verify(env.store.pool(), &VerifyOptions::default()).await.unwrap();
        assert_eq!(report.streams[0].last_signed_seq, 3);
    }
}

#[tokio::test]
async fn on_shutdown_and_on_demand() {
    for backend in common::backends() {
        let env = common::open_on(backend, AuditConfig::default()).await;
        common::fill(&env.log, "g1", 3).await;
        assert_eq!(env.log.checkpoint().await.unwrap(), Some(3));
        common::fill(&env.log, "g1", 2).await;
        env.log.shutdown().await;
        assert_eq!(signed_seqs(env.store.pool()).await, [3, 5]);
        let err = env.log.append(common::auth("agent-7", true)).await.unwrap_err();
        assert_eq!(err.reason, portcullis_audit::AuditReason::Closed);
    }
}
