//! `portcullis sessions list|show|replay`: the calls made under each grant, from the
//! audit log. Everything agent-provided is rendered through `render::safe`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;
use portcullis_audit::render::safe;
use portcullis_audit::{
    list_sessions, read_body, replay, show_session, AuditorKey, PoolRef, SessionFilter, SessionTimeline,
};

use crate::audit::{since_us, Location};

#[derive(Subcommand)]
pub(crate) enum SessionsCommand {
    /// Sessions (one per grant), newest first.
    List {
        #[command(flatten)]
        location: Location,
        /// Only this principal (its key, `issuer#subject`).
        #[arg(long)]
        principal: Option<String>,
        /// Only this connection.
        #[arg(long)]
        connection: Option<String>,
        /// Only sessions active since: RFC 3339 or an age such as `24h`.
        #[arg(long)]
        since: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// The timeline of one session: each call, decision and status.
    Show {
        #[command(flatten)]
        location: Location,
        /// The grant id.
        id: String,
        /// Also show the unmasked bodies sealed to the auditor, decrypted with this age
        /// identity file (`AGE-SECRET-KEY-1…`).
        #[arg(long, value_name = "KEYFILE")]
        decrypt: Option<PathBuf>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Play a session's calls back in order, with their original timing.
    Replay {
        #[command(flatten)]
        location: Location,
        /// The grant id.
        id: String,
        /// Speed factor (2 = twice as fast).
        #[arg(long, default_value_t = 1.0)]
        speed: f64,
        /// Print JSON (no pauses).
        #[arg(long)]
        json: bool,
    },
}

fn not_found(id: &str) -> anyhow::Error {
    anyhow::anyhow!("no session for grant {id} in the audit log")
}

pub(crate) async fn run(command: SessionsCommand) -> anyhow::Result<ExitCode> {
    match command {
        SessionsCommand::List { location, principal, connection, since, json } => {
            let store = location.open().await?;
            let filter = SessionFilter {
                principal,
                connection,
                since_us: since.as_deref().map(since_us).transpose()?,
            };
            let sessions = list_sessions(store.pool(), &filter).await?;
            if json {
                crate::output::json(&sessions)?;
            } else if sessions.is_empty() {
                crate::output::line("no sessions")?;
            } else {
                for s in &sessions {
                    crate::output::line(&format!(
                        "{}  {}  {}  {} request(s), {} error(s)",
                        s.grant_id,
                        safe(s.connection.as_deref().unwrap_or("-")),
                        safe(s.principal.as_deref().unwrap_or("-")),
                        s.requests,
                        s.errors
                    ))?;
                }
            }
        }
        SessionsCommand::Show { location, id, decrypt, json } => {
            let store = location.open().await?;
            let timeline = show_session(store.pool(), &id).await?.ok_or_else(|| not_found(&id))?;
            let unsealed = match decrypt {
                Some(path) => unseal(store.pool(), &timeline, &path).await?,
                None => Vec::new(),
            };
            if json {
                let unsealed: Vec<_> = unsealed
                    .iter()
                    .map(|u| serde_json::json!({"seq": u.seq, "sha256": u.sha256, "body": u.body}))
                    .collect();
                crate::output::json(&serde_json::json!({"timeline": timeline, "decrypted": unsealed}))?;
            } else {
                for e in &timeline.entries {
                    crate::output::line(&format!("{:>6}  {:<14} {}", e.seq, e.kind, e.summary))?;
                    for u in unsealed.iter().filter(|u| u.seq == e.seq) {
                        crate::output::line(&format!("{:>6}  {:<14} {}", "", "unmasked", safe(&u.body)))?;
                    }
                }
            }
        }
        SessionsCommand::Replay { location, id, speed, json } => {
            let store = location.open().await?;
            let session = replay(store.pool(), &id).await?.ok_or_else(|| not_found(&id))?;
            if json {
                crate::output::json(&session)?;
            } else {
                for (call, pause) in session.calls.iter().zip(session.pauses(speed)) {
                    tokio::time::sleep(pause).await;
                    crate::output::line(&format!(
                        "+{:>8.1} ms  {} {} → {}",
                        call.offset_us as f64 / 1000.0,
                        safe(&call.method),
                        safe(&call.target),
                        call.status.map(|s| s.to_string()).unwrap_or_else(|| "no response".into())
                    ))?;
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A sealed body, decrypted.
struct Unsealed {
    seq: i64,
    sha256: String,
    body: String,
}

async fn unseal(
    pool: PoolRef<'_>,
    timeline: &SessionTimeline,
    key_file: &std::path::Path,
) -> anyhow::Result<Vec<Unsealed>> {
    let text =
        std::fs::read_to_string(key_file).with_context(|| format!("reading {}", key_file.display()))?;
    let key = AuditorKey::parse(&text)?;
    let mut out = Vec::new();
    for e in &timeline.entries {
        for sealed in &e.event.sealed {
            let ciphertext = read_body(pool, &sealed.sha256).await?.ok_or_else(|| {
                anyhow::anyhow!("sealed body {} of event {} is not stored", sealed.sha256, e.seq)
            })?;
            let plain = key.open(&ciphertext)?;
            out.push(Unsealed {
                seq: e.seq,
                sha256: sealed.sha256.clone(),
                body: String::from_utf8_lossy(&plain).into_owned(),
            });
        }
    }
    Ok(out)
}
