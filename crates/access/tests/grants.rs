//! Grants, grant tokens, revocation, long-poll and policy auto-approval through the real API.

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::json;

async fn approved(h: &Harness, duration: &str) -> (String, String) {
    h.add("bot", agent("bot", &["agents"]));
    h.add("bob", person("bob", &["ops"]));
    let id = h.request("bot", "prod", "read", duration).await.body["id"].as_str().unwrap().to_string();
    let r = h.approve("bob", &id, json!({})).await;
    assert_eq!(r.body["state"], "approved", "{:?}", r.body);
    (id, r.body["grant_id"].as_str().unwrap().to_string())
}

#[tokio::test]
async fn revoke_fails_the_next_check_and_ends_in_flight_streams() {
    let h = start(config(&[("prod", connection(&["read"], 1))]), POLICIES).await;
    let (id, grant) = approved(&h, "15m").await;
    let key = format!("{ISS}#sub-bot");
    let active = h.service.active(&key, "prod").expect("an active grant after approval");
    assert_eq!(active.grant_id(), grant);
    assert_eq!(active.level(), "read");
    // A "stream" that runs until the grant ends.
    let stream = tokio::spawn(async move {
        active.ended().await;
        Instant::now()
    });
    h.add("mallory", person("mallory", &["marketing"]));
    let r = h.call(Some("mallory"), "POST", &format!("/api/v1/grants/{grant}/revoke"), Some(json!({}))).await;
    assert_eq!(r.code(), "not_allowed", "a stranger cannot revoke");
    let revoked_at = Instant::now();
    let r = h
        .call(
            Some("bob"),
            "POST",
            &format!("/api/v1/grants/{grant}/revoke"),
            Some(json!({"comment": "done"})),
        )
        .await;
    assert_eq!(r.body["state"], "revoked", "{:?}", r.body);
    assert_eq!(r.body["revoked"]["reason"], "done");
    let ended = tokio::time::timeout(Duration::from_secs(1), stream)
        .await
        .expect("the stream ended within a second")
        .unwrap();
    assert!(ended.duration_since(revoked_at) < Duration::from_secs(1));
    assert!(h.service.active(&key, "prod").is_none(), "the next request finds no grant");
    let r = h.call(Some("bot"), "POST", &format!("/api/v1/grants/{grant}/token"), None).await;
    assert_eq!((r.status, r.code()), (409, "grant_inactive"));
    assert_eq!(h.service.get(&id).await.unwrap().state, portcullis_access::RequestState::Revoked);
    let r = h.call(Some("bob"), "POST", &format!("/api/v1/grants/{grant}/revoke"), Some(json!({}))).await;
    assert_eq!(r.code(), "grant_inactive");
}

#[tokio::test]
async fn grant_tokens_go_to_the_holder_and_never_outlive_the_grant() {
    let h = start(config(&[("prod", connection(&["read"], 1))]), POLICIES).await;
    let (id, grant) = approved(&h, "3s").await;
    let r = h.call(Some("bob"), "POST", &format!("/api/v1/grants/{grant}/token"), None).await;
    assert_eq!(r.code(), "not_allowed", "an approver does not get the holder's token");
    let r = h.call(Some("bot"), "POST", &format!("/api/v1/grants/{grant}/token"), None).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let token = r.body["token"].as_str().unwrap();
    // The gateway's authenticator accepts it as a grant token of this holder and grant.
    let keys = std::sync::Arc::new(portcullis_identity::GrantKeys::load_or_create(&h.path).unwrap());
    let auth = portcullis_identity::Authenticator::new(vec![], Some(keys)).unwrap();
    let holder = auth.authenticate(token).await.unwrap();
    assert_eq!(holder.key(), format!("{ISS}#sub-bot"));
    let claims = holder.grant.expect("grant claims");
    assert_eq!(
        (claims.grant_id.as_str(), claims.connection.as_str(), claims.level.as_str()),
        (grant.as_str(), "prod", "read")
    );
    let grant_body = h.call(Some("bot"), "GET", &format!("/api/v1/grants/{grant}"), None).await.body;
    let exp = time::OffsetDateTime::parse(
        r.body["expires_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let gexp = time::OffsetDateTime::parse(
        grant_body["expires_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    assert!(exp <= gexp, "token {exp} outlives grant {gexp}");
    assert_eq!(
        h.service.get(&id).await.unwrap().state,
        portcullis_access::RequestState::Active,
        "first use activates"
    );
    // Expiry: the sweeper ends the grant and its handle.
    let _sweeper = h.service.start_sweeper();
    let active = h.service.active(&format!("{ISS}#sub-bot"), "prod").unwrap();
    tokio::time::timeout(Duration::from_secs(5), active.ended()).await.expect("ends at expiry");
    let deadline = Instant::now() + Duration::from_secs(3);
    while h.service.grant(&grant).await.unwrap().state != portcullis_access::GrantState::Expired {
        assert!(Instant::now() < deadline, "the sweeper marks the grant expired");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(h.service.active(&format!("{ISS}#sub-bot"), "prod").is_none());
    assert_eq!(h.service.get(&id).await.unwrap().state, portcullis_access::RequestState::Expired);
    let r = h.call(Some("bot"), "POST", &format!("/api/v1/grants/{grant}/token"), None).await;
    assert_eq!(r.code(), "grant_inactive");
}

#[tokio::test]
async fn long_poll_wakes_on_decision() {
    let h = start(config(&[("prod", connection(&["read"], 1))]), POLICIES).await;
    h.add("bot", agent("bot", &["agents"]));
    h.add("bob", person("bob", &["ops"]));
    let id = h.request("bot", "prod", "read", "15m").await.body["id"].as_str().unwrap().to_string();
    let url = format!("{}/api/v1/access-requests/{id}?wait=30s", h.base);
    let http = h.http.clone();
    let poll = tokio::spawn(async move {
        let body: serde_json::Value =
            http.get(url).header("x-test-as", "bot").send().await.unwrap().json().await.unwrap();
        (Instant::now(), body)
    });
    // The poll is parked (no answer while pending).
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!poll.is_finished(), "the long-poll returned while nothing changed");
    let asked_at = Instant::now();
    h.approve("bob", &id, json!({})).await;
    let approved_at = Instant::now();
    // The poll asked to wait 30 s: an answer well inside that came from the decision.
    let (woke, body) = tokio::time::timeout(Duration::from_secs(15), poll).await.unwrap().unwrap();
    assert_eq!(body["state"], "approved");
    eprintln!(
        "long-poll answered {:?} after the approve call started ({:?} after it returned)",
        woke.saturating_duration_since(asked_at),
        woke.saturating_duration_since(approved_at)
    );
    // A version other than the current one answers at once instead of waiting out 60 s.
    let t = Instant::now();
    let r =
        h.call(Some("bot"), "GET", &format!("/api/v1/access-requests/{id}?wait=60s&version=999"), None).await;
    assert_eq!(r.body["state"], "approved");
    assert!(t.elapsed() < Duration::from_secs(30), "a different version answers at once");
}

#[tokio::test]
async fn cedar_policy_approves_read_during_working_hours() {
    let hour = time::OffsetDateTime::now_utc().hour();
    let window = |from: u8, to: u8| {
        format!(
            r#"@id("auto-read")
permit (principal in Portcullis::Group::"agents", action == Portcullis::Action::"auto_approve", resource)
when {{ context.level == "read" && context.hour >= {from} && context.hour < {to} }};"#
        )
    };
    let inside = format!("{POLICIES}\n{}", window(hour, hour + 1));
    let h = start(config(&[("prod", connection(&["read", "admin"], 1))]), &inside).await;
    h.add("bot", agent("bot", &["agents"]));
    let r = h.request("bot", "prod", "read", "15m").await;
    assert_eq!(r.body["state"], "approved", "{:?}", r.body);
    assert_eq!(r.body["decision"]["by"]["key"], "policy");
    assert_eq!(r.body["decision"]["policies"], json!(["auto-read"]));
    assert!(h.service.active(&format!("{ISS}#sub-bot"), "prod").is_some());
    let r = h.request("bot", "prod", "admin", "15m").await;
    assert_eq!(r.body["state"], "pending", "admin is not auto-approved");

    let outside = format!("{POLICIES}\n{}", window((hour + 1) % 24, (hour + 1) % 24 + 1));
    let h = start(config(&[("prod", connection(&["read"], 1))]), &outside).await;
    h.add("bot", agent("bot", &["agents"]));
    assert_eq!(h.request("bot", "prod", "read", "15m").await.body["state"], "pending", "outside the hours");
}

#[tokio::test]
async fn active_grants_are_reloaded_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let h = start_in(dir, config(&[("prod", connection(&["read"], 1))]), POLICIES).await;
    let (_, grant) = approved(&h, "15m").await;
    let dir = h.take_dir();
    let h = start_in(dir, config(&[("prod", connection(&["read"], 1))]), POLICIES).await;
    assert_eq!(h.service.active(&format!("{ISS}#sub-bot"), "prod").unwrap().grant_id(), grant);
    assert!(h.service.active(&format!("{ISS}#sub-bot"), "other").is_none());
    assert!(h.service.active(&format!("{ISS}#sub-bob"), "prod").is_none());
}

#[tokio::test]
async fn openapi_and_access_required() {
    let h = start(config(&[("prod", connection(&["read"], 1))]), POLICIES).await;
    let doc: serde_json::Value =
        h.http.get(format!("{}/api/v1/openapi.json", h.base)).send().await.unwrap().json().await.unwrap();
    assert!(doc["paths"]["/api/v1/access-requests/{id}/approve"]["post"].is_object());
    assert!(doc["paths"]["/api/v1/grants/{id}/token"]["post"].is_object());
    let body = portcullis_access::access_required(&h.base, "prod", &["read".into(), "operate".into()]);
    assert_eq!(body["error"]["code"], "access_required");
    assert_eq!(body["error"]["levels"], json!(["read", "operate"]));
    assert_eq!(body["error"]["request_url"], format!("{}/api/v1/access-requests", h.base));
    let from_service = h.service.access_required("prod").unwrap();
    assert_eq!(from_service["error"]["levels"], json!(["read"]));
    assert!(h.service.access_required("unknown").is_none());
}

#[tokio::test]
async fn the_holder_and_admins_may_revoke() {
    let mut cfg = config(&[("prod", connection(&["read"], 1))]);
    cfg.admin_groups = vec!["security-admins".into()];
    let h = start(cfg, POLICIES).await;
    let (_, first) = approved(&h, "15m").await;
    let r = h.call(Some("bot"), "POST", &format!("/api/v1/grants/{first}/revoke"), Some(json!({}))).await;
    assert_eq!(r.body["state"], "revoked", "the holder gives its grant up: {:?}", r.body);
    assert_eq!(r.body["revoked"]["by"]["key"], format!("{ISS}#sub-bot"));
    let (_, second) = approved(&h, "15m").await;
    h.add("admin", person("admin", &["security-admins"]));
    let r = h
        .call(
            Some("admin"),
            "POST",
            &format!("/api/v1/grants/{second}/revoke"),
            Some(json!({"comment": "offboarding"})),
        )
        .await;
    assert_eq!(r.body["state"], "revoked", "{:?}", r.body);
    let list = h.call(Some("admin"), "GET", "/api/v1/grants?state=revoked", None).await;
    assert_eq!(list.body["items"].as_array().unwrap().len(), 2);
}
