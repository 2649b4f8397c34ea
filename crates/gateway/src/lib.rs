//! The gateway: the only place agents' traffic is inspected, decided and logged.
//!
//! It owns the listeners (data, control), the ordered request pipeline (`pipeline.rs`
//! reads top to bottom like DESIGN.md's request flow), routing to connections,
//! forwarding, URL rewriting and the control API. Identity, access, guardrails, masking
//! and audit live in their own crates and are called from the pipeline as named steps;
//! this crate must not grow their logic.

mod access_audit;
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
mod metrics;
mod pipeline;
mod record;
mod rewrite;
mod route;
mod server;
mod tls;
mod tunnel_link;

pub use config::Config;
pub use error::{GatewayError, Reason};
pub use server::{start, RunningGateway, StartError};
pub use tunnel_link::TUNNEL_CA_FILE;
