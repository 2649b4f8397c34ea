//! Audit evidence: the event schema, the hash chain, signed checkpoints, the durable
//! group-commit writer, verification, sessions and replay, export and retention.
//!
//! The gateway appends every decision and every request through [`AuditLog::append`],
//! which returns only after the event is committed, and fails at once (fail closed) when
//! the store cannot take it. Each gateway writes one chain (its *stream*, named by its
//! gateway id); [`verify`] proves the chain and its Ed25519-signed checkpoints intact and
//! names the first broken event.
//!
//! This crate owns the audit tables (versioned as the `audit` component of the store's
//! migrations) and what they mean. It must not know about HTTP, tokens or policy
//! evaluation: the gateway, identity and access crates describe what happened with plain
//! values ([`EventDetail`]), and the CLI renders what this crate returns.
//!
//! Only the SQLite backend exists so far; PostgreSQL (several gateways, one stream each)
//! is designed for (streams, `(stream, seq)` keys) but not written.

mod chain;
mod error;
mod event;
mod export;
mod keys;
mod log;
pub mod render;
mod retention;
mod sessions;
mod verify;
mod writer;

pub use chain::{canonical_json, event_hash, GENESIS};
pub use error::{AuditError, AuditReason};
pub use event::{
    now_us, principal_key, sanitize_headers, AuditEvent, BodyRef, EventDetail, Header, Outcome,
    RequestRecord, ResponseRecord, EXCERPT_CHARS, REMOVED, SCHEMA_VERSION,
};
pub use export::{export, ExportFormat};
pub use keys::{read_public_key, PUBLIC_KEY_FILE, SIGNING_KEY_FILE};
pub use log::{AuditConfig, AuditLog, AuditStatus, EventId};
pub use retention::{RetentionPolicy, RetentionReport};
pub use sessions::{
    list_sessions, read_body, replay, show_session, ReplayCall, SessionFilter, SessionReplay, SessionSummary,
    SessionTimeline, TimelineEntry,
};
pub use verify::{verify, Break, Problem, StreamSummary, VerifyOptions, VerifyReport, MAX_PROBLEMS};

use portcullis_store::Migration;

/// The component name the audit tables are versioned under.
pub const COMPONENT: &str = "audit";

/// The audit tables' SQLite migrations (applied by [`AuditLog::open`]).
pub const SQLITE_MIGRATIONS: &[Migration] =
    &[Migration { version: 1, name: "audit", sql: include_str!("../migrations/sqlite/0001_audit.sql") }];
