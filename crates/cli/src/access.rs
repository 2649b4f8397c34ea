//! `portcullis access request|list|approve|deny|revoke|token`: just-in-time access from
//! the command line, against a running gateway's control API.

use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Subcommand};
use portcullis_access::client::AccessClient;
use portcullis_access::{AccessRequest, DecisionBody, NewRequest, RequestFilter, RequestState};
use portcullis_audit::render::safe;

/// Where the gateway is and who is calling.
#[derive(Args)]
pub(crate) struct Remote {
    /// The gateway's control API, e.g. `https://portcullis.example.com:8081`.
    #[arg(long, env = "PORTCULLIS_URL", global = true)]
    url: Option<String>,
    /// The caller's bearer token (an OIDC access token).
    #[arg(long, env = "PORTCULLIS_TOKEN", global = true, hide_env_values = true)]
    token: Option<String>,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
}

impl Remote {
    /// Whether to print JSON.
    pub(crate) fn json(&self) -> bool {
        self.json
    }
}

#[derive(Subcommand)]
pub(crate) enum AccessCommand {
    /// Ask for access to a connection.
    Request {
        /// The connection.
        #[arg(long)]
        connection: String,
        /// The access level, one the connection defines (e.g. read, operate).
        #[arg(long)]
        level: String,
        /// How long, e.g. 15m (bounded by the connection's maximum).
        #[arg(long)]
        duration: String,
        /// Why: shown to approvers and kept as evidence.
        #[arg(long)]
        reason: String,
        /// A ticket or change reference.
        #[arg(long)]
        ticket: Option<String>,
        /// Wait for the decision (long-poll), at most this long; default 10m.
        #[arg(long, num_args = 0..=1, default_missing_value = "10m")]
        wait: Option<String>,
    },
    /// List access requests you may see.
    List {
        /// Only pending requests.
        #[arg(long)]
        pending: bool,
        /// Only requests for this connection.
        #[arg(long)]
        connection: Option<String>,
    },
    /// Approve a request (never your own).
    Approve {
        /// The request id.
        id: String,
        /// A comment kept with the decision.
        #[arg(long)]
        comment: Option<String>,
    },
    /// Deny a request.
    Deny {
        /// The request id.
        id: String,
        /// Why (required).
        #[arg(long)]
        reason: String,
    },
    /// Revoke a grant at once; its in-flight streams end.
    Revoke {
        /// The grant id.
        grant: String,
        /// Why.
        #[arg(long)]
        reason: Option<String>,
    },
    /// Print a short-lived grant token for a grant you hold.
    Token {
        /// The grant id.
        grant: String,
    },
}

pub(crate) fn client(remote: &Remote) -> anyhow::Result<AccessClient> {
    let url = remote
        .url
        .as_deref()
        .ok_or_else(|| anyhow::anyhow!("say where the gateway is: --url or PORTCULLIS_URL"))?;
    let token = remote.token.as_deref().ok_or_else(|| {
        anyhow::anyhow!("say who you are: --token or PORTCULLIS_TOKEN (an OIDC access token)")
    })?;
    Ok(AccessClient::new(url, token)?)
}

fn describe(r: &AccessRequest) -> String {
    let mut s = format!(
        "{}  {:<9} {}  {} for {}s  by {}  reason: {}",
        r.id,
        r.state.as_str(),
        safe(&r.connection),
        safe(&r.level),
        r.duration_secs,
        safe(r.principal.display_name.as_deref().unwrap_or(&r.principal.key)),
        safe(&r.reason)
    );
    if let Some(g) = &r.grant_id {
        s.push_str(&format!("  grant: {g}"));
    }
    s
}

fn show(remote: &Remote, r: &AccessRequest) -> anyhow::Result<()> {
    if remote.json {
        crate::output::json(r)
    } else {
        crate::output::line(&describe(r))
    }
}

pub(crate) async fn run(remote: Remote, command: AccessCommand) -> anyhow::Result<ExitCode> {
    let c = client(&remote)?;
    match command {
        AccessCommand::Request { connection, level, duration, reason, ticket, wait } => {
            let new = NewRequest { connection, level, duration, reason, ticket };
            let mut r = c.create(&new).await?;
            if let Some(wait) = wait {
                let limit = humantime::parse_duration(&wait)?;
                let deadline = tokio::time::Instant::now() + limit;
                while r.state == RequestState::Pending && tokio::time::Instant::now() < deadline {
                    let left = deadline.saturating_duration_since(tokio::time::Instant::now());
                    r = c.get(&r.id, Some(left.min(Duration::from_secs(60))), Some(r.version)).await?;
                }
            }
            show(&remote, &r)?;
            Ok(match r.state {
                RequestState::Denied | RequestState::Expired | RequestState::Cancelled => ExitCode::FAILURE,
                _ => ExitCode::SUCCESS,
            })
        }
        AccessCommand::List { pending, connection } => {
            let filter = RequestFilter {
                state: pending.then_some(RequestState::Pending),
                connection,
                ..Default::default()
            };
            let list = c.list(&filter).await?;
            if remote.json {
                crate::output::json(&list)?;
            } else if list.is_empty() {
                crate::output::line("no access requests")?;
            } else {
                for r in &list {
                    crate::output::line(&describe(r))?;
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        AccessCommand::Approve { id, comment } => {
            let r = c.approve(&id, &DecisionBody { comment, version: None }).await?;
            show(&remote, &r)?;
            Ok(ExitCode::SUCCESS)
        }
        AccessCommand::Deny { id, reason } => {
            let r = c.deny(&id, &DecisionBody { comment: Some(reason), version: None }).await?;
            show(&remote, &r)?;
            Ok(ExitCode::SUCCESS)
        }
        AccessCommand::Revoke { grant, reason } => {
            let g = c.revoke(&grant, &DecisionBody { comment: reason, version: None }).await?;
            if remote.json {
                crate::output::json(&g)?;
            } else {
                crate::output::line(&format!("grant {} {}", g.id, g.state.as_str()))?;
            }
            Ok(ExitCode::SUCCESS)
        }
        AccessCommand::Token { grant } => {
            let t = c.token(&grant).await?;
            if remote.json {
                crate::output::json(&t)?;
            } else {
                crate::output::line(&t.token)?;
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
