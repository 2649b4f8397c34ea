//! The approval rules through the real control API.

mod common;

use common::*;
use serde_json::json;

#[tokio::test]
async fn requests_are_validated_and_policy_decides_who_may_ask() {
    let h = start(config(&[("prod", connection(&["read", "admin"], 1))]), POLICIES).await;
    h.add("bot", agent("bot", &["agents"]));
    h.add("stranger", agent("stranger", &[]));
    assert_eq!(h.request("bot", "prod", "write", "15m").await.code(), "unknown_level");
    assert_eq!(h.request("bot", "nope", "read", "15m").await.code(), "unknown_connection");
    assert_eq!(h.request("bot", "prod", "read", "5h").await.code(), "duration_too_long");
    let no_reason = json!({"connection": "prod", "level": "read", "duration": "15m", "reason": "  "});
    assert_eq!(
        h.call(Some("bot"), "POST", "/api/v1/access-requests", Some(no_reason)).await.code(),
        "reason_required"
    );
    let r = h.request("stranger", "prod", "read", "15m").await;
    assert_eq!((r.status, r.code()), (403, "not_allowed"));
    let r = h.call(None, "GET", "/api/v1/access-requests", None).await;
    assert_eq!((r.status, r.code()), (401, "unauthenticated"));
    let r = h.request("bot", "prod", "read", "15m").await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.body["state"], "pending");
    assert_eq!(r.body["ticket"], "INC-1");
}

#[tokio::test]
async fn nobody_approves_their_own_request_in_any_form() {
    let h = start(config(&[("prod", connection(&["read"], 1))]), POLICIES).await;
    let alice = person("alice", &["ops"]);
    h.add("alice", alice.clone());
    // The same person with a token from another issuer (same directory object).
    let mut alice2 = person("alice", &["ops"]);
    alice2.issuer = "https://other-idp.test".into();
    alice2.subject = "alice-other-subject".into();
    h.add("alice-other-token", alice2);
    // An agent acting on behalf of alice (act chain names her).
    h.add("alice-agent", acting_for(agent("helper", &["ops", "agents"]), &alice));
    h.add("bob", person("bob", &["ops"]));

    // 1. alice asks, alice approves: same key.
    let id = h.request("alice", "prod", "read", "15m").await.body["id"].as_str().unwrap().to_string();
    let r = h.approve("alice", &id, json!({})).await;
    assert_eq!((r.status, r.code()), (403, "self_approval"));
    // 2. another token of the same person.
    assert_eq!(h.approve("alice-other-token", &id, json!({})).await.code(), "self_approval");
    // 3. an agent acting for the requester (its owner).
    assert_eq!(h.approve("alice-agent", &id, json!({})).await.code(), "self_approval");
    // 4. the owner approving a request her agent made on her behalf.
    let id2 = h.request("alice-agent", "prod", "read", "15m").await.body["id"].as_str().unwrap().to_string();
    assert_eq!(h.approve("alice", &id2, json!({})).await.code(), "self_approval");
    // Nothing was granted; another person can approve.
    assert_eq!(
        h.call(Some("bob"), "GET", &format!("/api/v1/access-requests/{id}"), None).await.body["state"],
        "pending"
    );
    let r = h.approve("bob", &id, json!({"comment": "ok for the incident"})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["state"], "approved");
    assert_eq!(r.body["decision"]["by"]["key"], format!("{ISS}#sub-bob"));
    assert_eq!(r.body["decision"]["reason"], "ok for the incident");
    assert_eq!(r.body["decision"]["policies"], json!(["ops-approve"]));
}

#[tokio::test]
async fn one_person_counts_once_towards_n() {
    let h = start(config(&[("prod", connection(&["read"], 2))]), POLICIES).await;
    h.add("bot", agent("bot", &["agents"]));
    h.add("bob", person("bob", &["ops"]));
    let mut bob2 = person("bob", &["ops"]);
    bob2.subject = "bob-second-token".into();
    h.add("bob-again", bob2);
    h.add("carol", person("carol", &["security"]));
    let id = h.request("bot", "prod", "read", "15m").await.body["id"].as_str().unwrap().to_string();
    let r = h.approve("bob", &id, json!({})).await;
    assert_eq!(r.body["state"], "pending", "one of two approvals");
    assert_eq!(h.approve("bob", &id, json!({})).await.code(), "already_approved");
    assert_eq!(h.approve("bob-again", &id, json!({})).await.code(), "already_approved");
    assert!(h.service.active(&format!("{ISS}#sub-bot"), "prod").is_none());
    let r = h.approve("carol", &id, json!({})).await;
    assert_eq!(r.body["state"], "approved");
    assert_eq!(r.body["approvals"].as_array().unwrap().len(), 2);
    assert!(h.service.active(&format!("{ISS}#sub-bot"), "prod").is_some());
}

#[tokio::test]
async fn approvals_from_distinct_groups() {
    let mut conn = connection(&["admin"], 2);
    conn.distinct_groups = vec!["ops".into(), "security".into()];
    let h = start(config(&[("prod", conn)]), POLICIES).await;
    h.add("bot", agent("bot", &["agents"]));
    h.add("bob", person("bob", &["ops"]));
    h.add("dave", person("dave", &["ops"]));
    h.add("carol", person("carol", &["security"]));
    let id = h.request("bot", "prod", "admin", "15m").await.body["id"].as_str().unwrap().to_string();
    assert_eq!(h.approve("bob", &id, json!({})).await.body["state"], "pending");
    assert_eq!(
        h.approve("dave", &id, json!({})).await.body["state"],
        "pending",
        "two from ops are one group"
    );
    assert_eq!(h.approve("carol", &id, json!({})).await.body["state"], "approved");
}

#[tokio::test]
async fn policy_decides_who_may_approve_and_expired_tokens_cannot() {
    let h = start(config(&[("prod", connection(&["read"], 1))]), POLICIES).await;
    h.add("bot", agent("bot", &["agents"]));
    h.add("eve", person("eve", &["marketing"]));
    let mut late = person("late", &["ops"]);
    late.expires_at = now() - 1;
    h.add("late", late);
    let id = h.request("bot", "prod", "read", "15m").await.body["id"].as_str().unwrap().to_string();
    assert_eq!(h.approve("eve", &id, json!({})).await.code(), "not_allowed");
    let r = h.approve("late", &id, json!({})).await;
    assert_eq!((r.status, r.code()), (401, "token_expired"));
    assert_eq!(h.service.get(&id).await.unwrap().approvals.len(), 0);
}

#[tokio::test]
async fn approving_a_changed_request_fails() {
    let h = start(config(&[("prod", connection(&["read"], 2))]), POLICIES).await;
    h.add("bot", agent("bot", &["agents"]));
    h.add("bob", person("bob", &["ops"]));
    h.add("carol", person("carol", &["security"]));
    let r = h.request("bot", "prod", "read", "15m").await;
    let id = r.body["id"].as_str().unwrap().to_string();
    let seen = r.body["version"].as_i64().unwrap();
    assert_eq!(h.approve("bob", &id, json!({"version": seen})).await.body["state"], "pending");
    let r = h.approve("carol", &id, json!({"version": seen})).await;
    assert_eq!((r.status, r.code()), (409, "request_changed"));
    assert_eq!(h.approve("carol", &id, json!({})).await.body["state"], "approved");
}

#[tokio::test]
async fn approving_an_expired_request_fails() {
    let mut cfg = config(&[("prod", connection(&["read"], 1))]);
    // Expired the moment it is filed, however slow the machine is.
    cfg.pending_ttl = std::time::Duration::from_millis(1);
    let h = start(cfg, POLICIES).await;
    h.add("bot", agent("bot", &["agents"]));
    h.add("carol", person("carol", &["security"]));
    let id = h.request("bot", "prod", "read", "15m").await.body["id"].as_str().unwrap().to_string();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let r = h.approve("carol", &id, json!({})).await;
    assert_eq!((r.status, r.code()), (409, "request_expired"));
    assert_eq!(h.service.get(&id).await.unwrap().state, portcullis_access::RequestState::Expired);
    assert_eq!(h.approve("carol", &id, json!({})).await.code(), "already_decided");
}

#[tokio::test]
async fn concurrent_approvals_produce_exactly_one_grant() {
    let h = start(config(&[("prod", connection(&["read"], 1))]), POLICIES).await;
    h.add("bot", agent("bot", &["agents"]));
    let names: Vec<String> = (0..8).map(|i| format!("approver{i}")).collect();
    for n in &names {
        h.add(n, person(n, &["ops"]));
    }
    let id = h.request("bot", "prod", "read", "15m").await.body["id"].as_str().unwrap().to_string();
    let h = std::sync::Arc::new(h);
    let mut tasks = Vec::new();
    for n in names {
        let (h, id) = (h.clone(), id.clone());
        tasks.push(tokio::spawn(async move { h.approve(&n, &id, json!({})).await }));
    }
    let mut ok = 0;
    for t in tasks {
        let r = t.await.unwrap();
        match r.status {
            200 => ok += 1,
            _ => assert_eq!(r.code(), "already_decided", "{:?}", r.body),
        }
    }
    assert_eq!(ok, 1);
    let grants = h.service.grants(None, None).await.unwrap();
    assert_eq!(grants.len(), 1);
    assert_eq!(h.service.get(&id).await.unwrap().approvals.len(), 1);
}

#[tokio::test]
async fn deny_needs_a_reason_and_cancel_only_the_requester() {
    let h = start(config(&[("prod", connection(&["read"], 1))]), POLICIES).await;
    h.add("bot", agent("bot", &["agents"]));
    h.add("bob", person("bob", &["ops"]));
    let id = h.request("bot", "prod", "read", "15m").await.body["id"].as_str().unwrap().to_string();
    let deny_path = format!("/api/v1/access-requests/{id}/deny");
    let deny = |body| h.call(Some("bob"), "POST", &deny_path, Some(body));
    assert_eq!(deny(json!({})).await.code(), "reason_required");
    assert_eq!(
        h.call(Some("bob"), "POST", &format!("/api/v1/access-requests/{id}/cancel"), None).await.code(),
        "not_allowed"
    );
    let r = deny(json!({"comment": "not during the freeze"})).await;
    assert_eq!(r.body["state"], "denied");
    assert_eq!(r.body["decision"]["reason"], "not during the freeze");
    let id2 = h.request("bot", "prod", "read", "15m").await.body["id"].as_str().unwrap().to_string();
    let r = h.call(Some("bot"), "POST", &format!("/api/v1/access-requests/{id2}/cancel"), None).await;
    assert_eq!(r.body["state"], "cancelled");
    let list = h.call(Some("bob"), "GET", "/api/v1/access-requests?state=cancelled", None).await;
    assert_eq!(list.body["items"].as_array().unwrap().len(), 1);
    let list = h
        .call(
            Some("bob"),
            "GET",
            &format!("/api/v1/access-requests?principal={ISS}%23sub-bot&connection=prod"),
            None,
        )
        .await;
    assert_eq!(list.body["items"].as_array().unwrap().len(), 2);
    let kinds: Vec<String> = sqlx::query_scalar("SELECT kind FROM access_events ORDER BY seq")
        .fetch_all(
            &sqlx::SqlitePool::connect(&format!("sqlite://{}", h.path.join("portcullis.db").display()))
                .await
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(kinds, ["request_created", "request_denied", "request_created", "request_cancelled"]);
}

#[tokio::test]
async fn requests_are_visible_to_their_requester_approvers_and_admins_only() {
    let mut cfg = config(&[("prod", connection(&["read"], 1))]);
    cfg.admin_groups = vec!["auditors".into()];
    let h = start(cfg, POLICIES).await;
    h.add("bot", agent("bot", &["agents"]));
    h.add("other-bot", agent("other-bot", &["agents"]));
    h.add("bob", person("bob", &["ops"]));
    h.add("auditor", person("auditor", &["auditors"]));
    let id = h.request("bot", "prod", "read", "15m").await.body["id"].as_str().unwrap().to_string();
    let path = format!("/api/v1/access-requests/{id}");
    for who in ["bot", "bob", "auditor"] {
        assert_eq!(h.call(Some(who), "GET", &path, None).await.status, 200, "{who} sees it");
    }
    let r = h.call(Some("other-bot"), "GET", &path, None).await;
    assert_eq!((r.status, r.code()), (404, "not_found"));
    let r = h.call(Some("other-bot"), "GET", &format!("{path}?wait=5s"), None).await;
    assert_eq!(r.code(), "not_found", "no long-poll on others' requests");
    let list = h.call(Some("other-bot"), "GET", "/api/v1/access-requests", None).await;
    assert_eq!(list.body["items"], json!([]));
    let grant = h.approve("bob", &id, json!({})).await.body["grant_id"].as_str().unwrap().to_string();
    assert_eq!(
        h.call(Some("other-bot"), "GET", &format!("/api/v1/grants/{grant}"), None).await.code(),
        "not_found"
    );
    assert_eq!(h.call(Some("other-bot"), "GET", "/api/v1/grants", None).await.body["items"], json!([]));
    assert_eq!(h.call(Some("bot"), "GET", &format!("/api/v1/grants/{grant}"), None).await.status, 200);
    assert_eq!(
        h.call(Some("auditor"), "GET", "/api/v1/grants", None).await.body["items"].as_array().unwrap().len(),
        1
    );
}
