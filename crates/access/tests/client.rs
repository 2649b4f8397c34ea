//! The typed client the CLI uses, against the real router; and expiry of pending requests.

mod common;

use std::time::{Duration, Instant};

use common::*;
use portcullis_access::client::{AccessClient, ClientError};
use portcullis_access::{DecisionBody, NewRequest, RequestFilter, RequestState};

fn new_request() -> NewRequest {
    NewRequest {
        connection: "prod".into(),
        level: "read".into(),
        duration: "15m".into(),
        reason: "deploy hotfix".into(),
        ticket: Some("CHG-7".into()),
    }
}

#[tokio::test]
async fn the_cli_flow_request_wait_approve_token_revoke() {
    let h = start(config(&[("prod", connection(&["read"], 1))]), POLICIES).await;
    h.add("bot-token", agent("bot", &["agents"]));
    h.add("bob-token", person("bob", &["ops"]));
    let bot = AccessClient::new(&h.base, "bot-token").unwrap();
    let bob = AccessClient::new(&h.base, "bob-token").unwrap();

    let r = bot.create(&new_request()).await.unwrap();
    assert_eq!(r.state, RequestState::Pending);
    match bot.approve(&r.id, &DecisionBody::default()).await {
        Err(ClientError::Api { status: 403, code, .. }) => assert_eq!(code, "self_approval"),
        other => panic!("self-approval accepted: {other:?}"),
    }
    let pending =
        bob.list(&RequestFilter { state: Some(RequestState::Pending), ..Default::default() }).await.unwrap();
    assert_eq!(pending.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(), [r.id.as_str()]);

    let id = r.id.clone();
    let waiter = tokio::spawn(async move { bot.get(&id, Some(Duration::from_secs(20)), None).await });
    let approved = bob
        .approve(&r.id, &DecisionBody { comment: Some("go".into()), version: Some(r.version) })
        .await
        .unwrap();
    assert_eq!(approved.state, RequestState::Approved);
    let seen = waiter.await.unwrap().unwrap();
    assert_eq!(seen.state, RequestState::Approved);

    let bot = AccessClient::new(&h.base, "bot-token").unwrap();
    let grant = seen.grant_id.unwrap();
    let token = bot.token(&grant).await.unwrap();
    assert_eq!(token.grant_id, grant);
    assert_eq!(bob.grants(Some("active")).await.unwrap().len(), 1);
    bob.revoke(&grant, &DecisionBody { comment: Some("done".into()), version: None }).await.unwrap();
    assert!(bob.grants(Some("active")).await.unwrap().is_empty());
    match bot.token(&grant).await {
        Err(ClientError::Api { code, .. }) => assert_eq!(code, "grant_inactive"),
        other => panic!("token after revoke: {other:?}"),
    }
    let unauth = AccessClient::new(&h.base, "nobody").unwrap();
    match unauth.list(&RequestFilter::default()).await {
        Err(ClientError::Api { status: 401, .. }) => {}
        other => panic!("unauthenticated list: {other:?}"),
    }
}

#[tokio::test]
async fn pending_requests_expire_and_wake_their_waiters() {
    let mut cfg = config(&[("prod", connection(&["read"], 1))]);
    cfg.pending_ttl = Duration::from_millis(500);
    let h = start(cfg, POLICIES).await;
    let _sweeper = h.service.start_sweeper();
    h.add("bot-token", agent("bot", &["agents"]));
    let bot = AccessClient::new(&h.base, "bot-token").unwrap();
    let r = bot.create(&new_request()).await.unwrap();
    let t = Instant::now();
    let seen = bot.get(&r.id, Some(Duration::from_secs(60)), None).await.unwrap();
    assert_eq!(seen.state, RequestState::Expired);
    // Answered by the expiry, not by the end of the 60 s wait.
    assert!(t.elapsed() < Duration::from_secs(30), "woke {:?} after asking", t.elapsed());
    assert_eq!(seen.decision.unwrap().reason.as_deref(), Some("pending too long"));
}
