//! Just-in-time access. This crate owns access requests and their state machine,
//! approvals by people or by Cedar policy (and the rules no policy can weaken), grants
//! with their expiry and revocation, grant-token issuance, the in-memory index of active
//! grants the data path checks, long-polling, webhook notifications, access audit events,
//! the control API's `/api/v1/access-requests` and `/api/v1/grants`, and a typed client
//! for the CLI. It must not know about authenticating HTTP requests (the gateway inserts
//! the caller's `Principal`), routing, targets or traffic.
//!
//! Wiring: [`AccessService::open`] with the store, [`AccessConfig`], an [`AccessPolicy`]
//! and the identity crate's `GrantKeys`; mount [`router`]; start
//! [`AccessService::start_sweeper`]; on the data path call [`AccessService::active`] and,
//! when it is `None`, answer 403 with [`access_required`]. For a request a guardrail
//! decided `review`, call [`AccessService::check_review`] and, unless it says approved,
//! answer 403 with [`review_required`].

mod api;
pub mod client;
mod config;
mod db;
mod error;
mod events;
mod grants;
mod index;
mod model;
mod policy;
mod requests;
mod review;
mod reviews;
mod reviews_api;
mod rules;
mod service;
pub mod webhook;

pub use api::{access_required, router, Caller, OPENAPI};
pub use config::{AccessConfig, ConnectionAccess, WebhookConfig, WebhookFormat};
pub use db::MIGRATIONS;
pub use error::{AccessError, AccessReason};
pub use events::{AccessEvent, EventSink, SinkFuture, SqliteEventSink};
pub use index::{ActiveGrant, GrantIndex};
pub use model::{
    AccessRequest, Actor, Approval, Decision, DecisionBody, Grant, GrantState, GrantToken, NewRequest,
    RequestFilter, RequestState,
};
pub use policy::{AccessAction, AccessPolicy, PolicyDecision, PolicyInput, EXAMPLE_POLICIES, SCHEMA};
pub use review::{HeldRequest, Review, ReviewCheck, ReviewFilter, ReviewState};
pub use reviews_api::review_required;
pub use service::AccessService;
