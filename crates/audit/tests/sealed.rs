//! Unmasked bodies sealed to an auditor's age key: unreadable to the gateway, covered by
//! the chain, readable with the auditor's identity.

mod common;

use portcullis_audit::{
    generate_auditor_key, read_body, show_session, verify, AuditConfig, AuditReason, AuditorKey, Problem,
    VerifyOptions,
};

#[tokio::test]
async fn unmasked_bodies_are_sealed_to_the_auditor() {
    for backend in common::backends() {
        let (identity, recipient) = generate_auditor_key();
        let config = AuditConfig { auditor_recipient: Some(recipient.clone()), ..AuditConfig::default() };
        let env = common::open_on(backend, config).await;
        let masked = br#"{"keys":[{"value":"[MASKED]"}]}"#.to_vec();
        let unmasked = br#"{"keys":[{"value":"c2VjcmV0LXN0b3JhZ2Uta2V5"}]}"#.to_vec();
        let event = common::response("g1", 0, portcullis_audit::now_us(), 200, &masked);
        env.log.append_sealed(event, vec![masked.clone()], vec![unmasked.clone()]).await.unwrap();

        let timeline = show_session(env.store.pool(), "g1").await.unwrap().unwrap();
        let sealed = &timeline.entries[0].event.sealed;
        assert_eq!(sealed.len(), 1, "{backend:?}");
        assert_eq!(sealed[0].recipient, recipient);
        let ciphertext = read_body(env.store.pool(), &sealed[0].sha256).await.unwrap().unwrap();
        assert!(
            !ciphertext.windows(16).any(|w| unmasked.windows(16).any(|u| u == w)),
            "no part of the unmasked body is stored in the clear"
        );
        let key = AuditorKey::parse(&identity).unwrap();
        assert_eq!(key.open(&ciphertext).unwrap(), unmasked);
        let (stranger, _) = generate_auditor_key();
        assert_eq!(
            AuditorKey::parse(&stranger).unwrap().open(&ciphertext).unwrap_err().reason,
            AuditReason::Key
        );
        let report = verify(env.store.pool(), &VerifyOptions::default()).await.unwrap();
        assert!(report.ok, "{:?}", report.problems);
        assert_eq!(report.blobs, 2, "the masked body and the sealed one");

        // Replacing the sealed body is found like any body edit.
        env.exec(&format!("DELETE FROM audit_blobs WHERE hash = '{}'", sealed[0].sha256)).await;
        let report = verify(env.store.pool(), &VerifyOptions::default()).await.unwrap();
        assert_eq!(report.first_break().map(|b| (b.problem, b.seq)), Some((Problem::BodyMissing, 1)));
    }
}

#[tokio::test]
async fn without_a_recipient_unmasked_bodies_are_never_stored() {
    for backend in common::backends() {
        let env = common::open_on(backend, AuditConfig::default()).await;
        let masked = b"[MASKED]".to_vec();
        let event = common::response("g1", 0, portcullis_audit::now_us(), 200, &masked);
        env.log.append_sealed(event, vec![masked], vec![b"secret".to_vec()]).await.unwrap();
        assert_eq!(env.count("SELECT COUNT(*) FROM audit_blobs").await, 1, "{backend:?}");
        let timeline = show_session(env.store.pool(), "g1").await.unwrap().unwrap();
        assert!(timeline.entries[0].event.sealed.is_empty());
    }
}

#[tokio::test]
async fn a_bad_recipient_is_refused_at_open() {
    for backend in common::backends() {
        let dir = tempfile::tempdir().unwrap();
        let schema = match backend {
            common::Backend::Sqlite => None,
            common::Backend::Postgres => Some(common::Schema::create().await),
        };
        let store = common::open_store(backend, dir.path(), schema.as_ref()).await;
        let config = AuditConfig { auditor_recipient: Some("age1notakey".into()), ..AuditConfig::default() };
        let err = portcullis_audit::AuditLog::open(&store, config).await.unwrap_err();
        assert_eq!(err.reason, AuditReason::Key, "{backend:?}");
    }
}
