//! The gateway: the only place agents' traffic is inspected, decided and logged.
//!
//! It owns the listeners (data, control), the ordered request pipeline (`pipeline.rs`
//! reads top to bottom like DESIGN.md's request flow), routing to connections,
//! forwarding, URL rewriting and the control API. Identity, access, guardrails, masking
//! and audit live in their own crates and are called from the pipeline as named steps;
//! this crate must not grow their logic.

mod access_audit;
mod agent_env;
mod auth_events;
mod body;
pub mod config;
mod control;
mod error;
mod forward;
mod grant_body;
mod guard_step;
pub mod guardrails;
mod headers;
mod listener;
mod mask_body;
mod masking;
mod metadata;
mod metrics;
mod msi;
mod pipeline;
mod proxy;
mod proxy_ca;
mod record;
mod rewrite;
mod route;
mod server;
mod sessions_api;
mod tls;
mod tunnel_link;

pub use config::Config;
pub use error::{GatewayError, Reason};
pub use proxy_ca::PROXY_CA_FILE;
pub use server::{start, RunningGateway, StartError};
pub use tunnel_link::TUNNEL_CA_FILE;
