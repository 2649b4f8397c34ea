//! Several gateways sharing one PostgreSQL database: one stream each, verified together,
//! and one gateway's retention leaves the other's evidence alone.

mod common;

use portcullis_audit::{verify, AuditConfig, AuditLog, RetentionPolicy, VerifyOptions};

#[tokio::test]
async fn two_gateways_write_two_streams_in_one_database() {
    if !common::backends().contains(&common::Backend::Postgres) {
        return;
    }
    let a = common::open_on(common::Backend::Postgres, AuditConfig::default()).await;
    let dir_b = tempfile::tempdir().unwrap();
    let store_b = common::open_store(common::Backend::Postgres, dir_b.path(), a.schema.as_ref()).await;
    let log_b = AuditLog::open(&store_b, AuditConfig::default()).await.unwrap();
    assert_ne!(a.log.stream(), log_b.stream());

    // Both write concurrently, with the same body content (stored once per stream).
    let (fa, fb) = tokio::join!(common::fill(&a.log, "ga", 40), common::fill(&log_b, "gb", 40));
    let ((), ()) = (fa, fb);
    let report = verify(a.store.pool(), &VerifyOptions::default()).await.unwrap();
    assert!(report.ok, "{:?}", report.problems);
    assert_eq!(report.streams.len(), 2);
    assert!(report.streams.iter().all(|s| (s.first_seq, s.last_seq) == (1, 40)), "{:?}", report.streams);

    // Gateway A prunes all its events; B's events and bodies stay and verify.
    let report = a
        .log
        .apply_retention(RetentionPolicy { max_age: Some(std::time::Duration::ZERO), max_bytes: None })
        .await
        .unwrap();
    assert_eq!(report.events_removed, 40);
    let b_events =
        a.count(&format!("SELECT COUNT(*) FROM audit_events WHERE stream = '{}'", log_b.stream())).await;
    assert_eq!(b_events, 40);
    let report = verify(a.store.pool(), &VerifyOptions::default()).await.unwrap();
    assert!(report.ok, "{:?}", report.problems);
    log_b.shutdown().await;
    a.log.shutdown().await;
    store_b.close().await;
}
