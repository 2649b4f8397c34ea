//! `portcullis sessions list|show|replay`: the calls made under each grant, from the
//! audit log. Everything agent-provided is rendered through `render::safe`.

use std::process::ExitCode;

use clap::Subcommand;
use portcullis_audit::render::safe;
use portcullis_audit::{list_sessions, replay, show_session, SessionFilter};

use crate::audit::{open_store, since_us, Location};

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
            let store = open_store(&location.data_dir()?).await?;
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
        SessionsCommand::Show { location, id, json } => {
            let store = open_store(&location.data_dir()?).await?;
            let timeline = show_session(store.pool(), &id).await?.ok_or_else(|| not_found(&id))?;
            if json {
                crate::output::json(&timeline)?;
            } else {
                for e in &timeline.entries {
                    crate::output::line(&format!("{:>6}  {:<14} {}", e.seq, e.kind, e.summary))?;
                }
            }
        }
        SessionsCommand::Replay { location, id, speed, json } => {
            let store = open_store(&location.data_dir()?).await?;
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
