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
//! Both backends run the same code: SQLite (one gateway, one stream) and PostgreSQL
//! (several gateways, one stream each, in one database). [`AuditLog::open`] takes any
//! store; the read side ([`verify`], sessions, [`export`]) takes any [`PoolRef`].
//! Unmasked bodies can be sealed to an auditor's age key ([`AuditLog::append_sealed`]),
//! and committed events streamed to a webhook ([`WebhookConfig`]).

mod chain;
mod db;
mod error;
mod event;
mod export;
mod keys;
mod log;
pub mod render;
mod retention;
mod seal;
mod sessions;
mod sql;
mod verify;
mod webhook;
mod writer;

pub use chain::{canonical_json, event_hash, GENESIS};
pub use error::{AuditError, AuditReason};
pub use event::{
    now_us, principal_key, sanitize_headers, AuditEvent, BodyRef, EventDetail, Header, Outcome,
    RequestRecord, ResponseRecord, EXCERPT_CHARS, REMOVED, SCHEMA_VERSION,
};
pub use export::{export, ExportFormat};
pub use keys::{read_public_key, read_public_key_file, PUBLIC_KEY_FILE, SIGNING_KEY_FILE};
pub use log::{AuditConfig, AuditLog, AuditStatus, EventId};
pub use portcullis_store::PoolRef;
pub use retention::{RetentionPolicy, RetentionReport};
pub use seal::{generate_auditor_key, AuditorKey, SealedRef};
pub use sessions::{
    list_sessions, read_body, replay, show_session, ReplayCall, SessionFilter, SessionReplay, SessionSummary,
    SessionTimeline, TimelineEntry,
};
pub use verify::{verify, Break, Problem, StreamSummary, VerifyOptions, VerifyReport, MAX_PROBLEMS};
pub use webhook::{sign_body, signature_valid, WebhookConfig, WebhookStats, SIGNATURE_HEADER};

use portcullis_store::Migration;

/// The component name the audit tables are versioned under.
pub const COMPONENT: &str = "audit";

/// The audit tables' SQLite migrations (applied by [`AuditLog::open`]).
pub const SQLITE_MIGRATIONS: &[Migration] = &[
    Migration { version: 1, name: "audit", sql: include_str!("../migrations/sqlite/0001_audit.sql") },
    Migration {
        version: 2,
        name: "blob_streams",
        sql: include_str!("../migrations/sqlite/0002_blob_streams.sql"),
    },
];

/// The audit tables' PostgreSQL migrations (applied by [`AuditLog::open`]).
pub const PG_MIGRATIONS: &[Migration] =
    &[Migration { version: 1, name: "audit", sql: include_str!("../migrations/postgres/0001_audit.sql") }];
