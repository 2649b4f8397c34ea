//! Sessions list/show/replay, export and retention, as the CLI and control API use them.

mod common;

use std::time::Duration;

use common::{with_pool, Backend};
use portcullis_audit::{
    export, list_sessions, read_body, replay, show_session, verify, AuditConfig, AuditEvent, EventDetail,
    ExportFormat, RetentionPolicy, SessionFilter, VerifyOptions,
};
use serde_json::Value;

const T0: i64 = 1_780_000_000_000_000; // µs

/// Two sessions: g1 (agent-7, three calls with bodies, one denied by a guardrail) and g2.
async fn recorded(backend: Backend) -> common::Env {
    let env = common::open_on(backend, AuditConfig::default()).await;
    let log = &env.log;
    log.append(AuditEvent::at(
        T0,
        EventDetail::GrantIssued {
            grant_id: "g1".into(),
            access_request_id: Some("ar-1".into()),
            principal: common::principal("agent-7"),
            connection: "arm".into(),
            level: "reader".into(),
            expires_at_us: T0 + 3_600_000_000,
        },
    ))
    .await
    .unwrap();
    let offsets = [1_000_000i64, 1_250_000, 4_000_000];
    for (n, off) in offsets.iter().enumerate() {
        let req_body = format!("{{\"tags\":{{\"n\":\"{n}\"}}}}").into_bytes();
        let resp_body = format!("{{\"id\":\"rg-{n}\",\"key\":\"[MASKED]\"}}").into_bytes();
        log.append_with_bodies(
            common::request("g1", "agent-7", n, T0 + off, Some(&req_body)),
            vec![req_body],
        )
        .await
        .unwrap();
        log.append(AuditEvent::at(
            T0 + off + 10,
            EventDetail::Guardrail {
                request_id: format!("g1-req-{n}"),
                grant_id: Some("g1".into()),
                connection: "arm".into(),
                rule: if n == 2 { "no-deletes".into() } else { "default".into() },
                action: if n == 2 { "deny".into() } else { "allow".into() },
                operation: Some("Microsoft.Resources/subscriptions/resourceGroups/write".into()),
                resource: Some(format!("/subscriptions/0000/resourceGroups/rg-{n}")),
            },
        ))
        .await
        .unwrap();
        let status = if n == 2 { 403 } else { 200 };
        log.append_with_bodies(
            common::response("g1", n, T0 + off + 20_000, status, &resp_body),
            vec![resp_body],
        )
        .await
        .unwrap();
    }
    log.append(common::request("g2", "agent-9", 0, T0 + 10_000_000, None)).await.unwrap();
    log.append(common::auth("agent-9", false)).await.unwrap();
    env
}

#[tokio::test]
async fn sessions_are_listed_and_filtered() {
    for backend in common::backends() {
        let env = recorded(backend).await;
        let pool = env.store.pool();
        let all = list_sessions(pool, &SessionFilter::default()).await.unwrap();
        assert_eq!(all.iter().map(|s| s.grant_id.as_str()).collect::<Vec<_>>(), ["g1", "g2"]);
        assert_eq!((all[0].requests, all[0].errors, all[0].events), (3, 1, 10));
        assert_eq!(all[0].principal.as_deref(), Some("agent-7"));
        let by_principal = list_sessions(
            pool,
            &SessionFilter { principal: Some("agent-9".into()), ..SessionFilter::default() },
        )
        .await
        .unwrap();
        assert_eq!(by_principal.len(), 1);
        assert_eq!(by_principal[0].grant_id, "g2");
        let by_connection = list_sessions(
            pool,
            &SessionFilter { connection: Some("sql".into()), ..SessionFilter::default() },
        )
        .await
        .unwrap();
        assert!(by_connection.is_empty());
        let since = list_sessions(
            pool,
            &SessionFilter { since_us: Some(T0 + 5_000_000), ..SessionFilter::default() },
        )
        .await
        .unwrap();
        assert_eq!(since.iter().map(|s| s.grant_id.as_str()).collect::<Vec<_>>(), ["g2"]);
        let json = serde_json::to_value(&all).unwrap();
        assert_eq!(json[0]["grant_id"], "g1");
    }
}

#[tokio::test]
async fn show_gives_the_timeline_with_decisions_statuses_and_excerpts() {
    for backend in common::backends() {
        let env = recorded(backend).await;
        let timeline = show_session(env.store.pool(), "g1").await.unwrap().unwrap();
        let kinds: Vec<&str> = timeline.entries.iter().map(|e| e.kind.as_str()).collect();
        assert_eq!(kinds[..4], ["grant_issued", "request", "guardrail", "response"]);
        assert_eq!(timeline.entries.len(), 10);
        let denied = &timeline.entries[8];
        assert!(denied.summary.contains("guardrail deny by rule no-deletes"), "{}", denied.summary);
        let last = &timeline.entries[9];
        assert!(last.summary.starts_with("403 "), "{}", last.summary);
        assert!(last.summary.contains("[MASKED]"), "the masked excerpt is shown: {}", last.summary);
        assert!(show_session(env.store.pool(), "nope").await.unwrap().is_none());
    }
}

#[tokio::test]
async fn replay_reproduces_order_content_and_timing() {
    for backend in common::backends() {
        let env = recorded(backend).await;
        let pool = env.store.pool();
        let session = replay(pool, "g1").await.unwrap().unwrap();
        assert_eq!(session.calls.len(), 3);
        for (n, call) in session.calls.iter().enumerate() {
            assert_eq!(call.request_id, format!("g1-req-{n}"));
            assert_eq!(call.method, "PUT");
            assert_eq!(
                call.target,
                format!("/subscriptions/0000/resourceGroups/rg-{n}?api-version=2022-09-01")
            );
            let sent = read_body(pool, &call.request_body.as_ref().unwrap().sha256).await.unwrap().unwrap();
            assert_eq!(sent, format!("{{\"tags\":{{\"n\":\"{n}\"}}}}").into_bytes());
            let got = read_body(pool, &call.response_body.as_ref().unwrap().sha256).await.unwrap().unwrap();
            assert_eq!(got, format!("{{\"id\":\"rg-{n}\",\"key\":\"[MASKED]\"}}").into_bytes());
        }
        assert_eq!(session.calls.iter().map(|c| c.offset_us).collect::<Vec<_>>(), [0, 250_000, 3_000_000]);
        assert_eq!(
            session.calls.iter().map(|c| c.status).collect::<Vec<_>>(),
            [Some(200), Some(200), Some(403)]
        );
        assert_eq!(session.calls[2].decision.as_deref(), Some("deny"));
        assert_eq!(
            session.pauses(2.0),
            [Duration::ZERO, Duration::from_millis(125), Duration::from_millis(1375)],
            "--speed 2 halves the original gaps"
        );
    }
}

#[tokio::test]
async fn export_streams_jsonl_and_ocsf() {
    for backend in common::backends() {
        let env = recorded(backend).await;
        let pool = env.store.pool();
        let mut jsonl = Vec::new();
        let n = export(pool, ExportFormat::Jsonl, None, &mut jsonl).await.unwrap();
        let lines: Vec<Value> =
            String::from_utf8(jsonl).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!((n, lines.len()), (12, 12));
        assert_eq!(lines[0]["seq"], 1);
        assert_eq!(lines[0]["event"]["type"], "grant_issued");
        assert_eq!(lines[1]["prev_hash"], lines[0]["hash"]);

        let mut ocsf = Vec::new();
        export(pool, ExportFormat::Ocsf, None, &mut ocsf).await.unwrap();
        let records: Vec<Value> =
            String::from_utf8(ocsf).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        let request = &records[1];
        assert_eq!((request["class_uid"].as_u64(), request["activity_id"].as_u64()), (Some(6003), Some(3)));
        assert_eq!(request["type_uid"], 600303);
        assert_eq!(request["http_request"]["http_method"], "PUT");
        assert_eq!(request["actor"]["user"]["uid"], "agent-7");
        assert_eq!(request["actor"]["session"]["uid"], "g1");
        let denied_response = &records[9];
        assert_eq!(denied_response["http_response"]["code"], 403);
        assert_eq!(denied_response["status_id"], 2);
        assert_eq!(denied_response["activity_id"], 3, "the response carries its request's activity");
        let auth = records.last().unwrap();
        assert_eq!((auth["class_uid"].as_u64(), auth["category_uid"].as_u64()), (Some(3002), Some(3)));
        assert_eq!(auth["type_uid"], 300201);
        assert_eq!(auth["status_id"], 2);
        assert_eq!(auth["status_detail"], "token_expired");
        assert!(records.iter().all(|r| r["metadata"]["version"] == "1.1.0" && r["time"].is_i64()));

        let mut since = Vec::new();
        let n = export(pool, ExportFormat::Jsonl, Some(T0 + 5_000_000), &mut since).await.unwrap();
        assert_eq!(n, 2, "the g2 request and the (current) authentication");
    }
}

#[tokio::test]
async fn retention_by_age_is_audited_and_verifies() {
    for backend in common::backends() {
        let env = recorded(backend).await; // 11 events at T0.. (2026), one authentication now
        let pool = env.store.pool();
        let old_blobs = env.count("SELECT COUNT(*) FROM audit_blobs").await;
        assert_eq!(old_blobs, 6);
        // Everything before "now minus one day" goes: the 11 events stamped at T0 + a few seconds.
        let age = Duration::from_micros(u64::try_from(portcullis_audit::now_us() - T0 - 60_000_000).unwrap());
        let report =
            env.log.apply_retention(RetentionPolicy { max_age: Some(age), max_bytes: None }).await.unwrap();
        assert_eq!(report.events_removed, 11);
        assert_eq!(report.blobs_removed, 6);
        assert_eq!(report.pruned_through_seq, Some(11));
        assert_eq!(report.recorded_as, Some(13));
        let verified = verify(pool, &VerifyOptions::default()).await.unwrap();
        assert!(verified.ok, "{:?}", verified.problems);
        assert_eq!(verified.streams[0].first_seq, 12);
        let kinds: Vec<String> =
            with_pool!(pool, |p| sqlx::query_scalar("SELECT kind FROM audit_events ORDER BY seq")
                .fetch_all(p)
                .await
                .unwrap());
        assert_eq!(kinds, ["authentication", "retention"]);
        // Nothing more is due: nothing is removed and nothing recorded.
        let again =
            env.log.apply_retention(RetentionPolicy { max_age: Some(age), max_bytes: None }).await.unwrap();
        assert_eq!(again.events_removed, 0);
        assert_eq!(again.recorded_as, None);
        // The chain goes on.
        env.log.append(common::auth("agent-7", true)).await.unwrap();
        assert!(verify(pool, &VerifyOptions::default()).await.unwrap().ok);
    }
}

#[tokio::test]
async fn retention_by_size_keeps_the_newest() {
    for backend in common::backends() {
        let env = common::open_on(backend, AuditConfig::default()).await;
        common::fill(&env.log, "g1", 50).await;
        let pool = env.store.pool();
        let report =
            env.log.apply_retention(RetentionPolicy { max_age: None, max_bytes: Some(8_000) }).await.unwrap();
        assert!(report.events_removed > 0 && report.events_removed < 50, "{report:?}");
        let kept = env
        .count("SELECT CAST(SUM(LENGTH(body) + blob_bytes) AS BIGINT) FROM audit_events WHERE kind = 'request'")
        .await;
        assert!(kept <= 8_000, "{kept}");
        let newest = env.count("SELECT MAX(seq) FROM audit_events WHERE kind = 'request'").await;
        assert_eq!(newest, 50, "the newest events are kept");
        let verified = verify(pool, &VerifyOptions::default()).await.unwrap();
        assert!(verified.ok, "{:?}", verified.problems);
    }
}

/// An agent's values are stored exactly as sent, and every rendered line is still safe.
#[tokio::test]
async fn hostile_values_are_kept_as_sent_and_rendered_safely() {
    for backend in common::backends() {
        let env = common::open_on(backend, AuditConfig::default()).await;
        let hostile = "/x\n2026-01-01T00:00:00Z INFO audit verify: ok\u{1b}[2J\u{202e}gpj.exe";
        let mut event = common::request("g-evil", "agent\u{1b}[31m", 0, portcullis_audit::now_us(), None);
        if let EventDetail::Request(r) = &mut event.detail {
            r.target = hostile.to_owned();
        }
        env.log.append(event).await.unwrap();
        let timeline = show_session(env.store.pool(), "g-evil").await.unwrap().unwrap();
        let entry = &timeline.entries[0];
        match &entry.event.detail {
            EventDetail::Request(r) => assert_eq!(r.target, hostile, "evidence is not rewritten"),
            other => panic!("unexpected {other:?}"),
        }
        assert!(
            !entry
                .summary
                .chars()
                .any(|c| c.is_control() || ('\u{2066}'..='\u{2069}').contains(&c) || c == '\u{202e}'),
            "{:?}",
            entry.summary
        );
        assert!(entry.summary.contains("\\n2026-01-01"), "{}", entry.summary);
    }
}
