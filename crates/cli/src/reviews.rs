//! `portcullis reviews list|show|approve|deny`: per-request approvals (a guardrail held an
//! agent's request, e.g. a resource group delete; a person approves that exact request).

use std::process::ExitCode;
use std::time::Duration;

use clap::Subcommand;
use portcullis_access::{DecisionBody, Review, ReviewFilter, ReviewState};
use portcullis_audit::render::safe;

use crate::access::{client, Remote};

#[derive(Subcommand)]
pub(crate) enum ReviewsCommand {
    /// List reviews you may see (your own, and those you may decide).
    List {
        /// Only reviews waiting for a decision.
        #[arg(long)]
        pending: bool,
        /// Only reviews for this connection.
        #[arg(long)]
        connection: Option<String>,
    },
    /// Show one review; with --wait, until it is decided.
    Show {
        /// The review id.
        id: String,
        /// Wait for the decision, at most this long (e.g. 60s).
        #[arg(long)]
        wait: Option<String>,
    },
    /// Approve the exact request under review (never your own): it passes once.
    Approve {
        /// The review id.
        id: String,
        /// A comment kept with the decision.
        #[arg(long)]
        comment: Option<String>,
    },
    /// Deny the exact request under review.
    Deny {
        /// The review id.
        id: String,
        /// Why (required).
        #[arg(long)]
        reason: String,
    },
}

fn describe(r: &Review) -> String {
    let mut s = format!(
        "{}  {:<8} {}  by {}  {} {}  rule {}",
        r.id,
        r.state.as_str(),
        safe(&r.summary),
        safe(r.principal.display_name.as_deref().unwrap_or(&r.principal.key)),
        safe(&r.method),
        safe(&r.target),
        safe(r.rule.as_deref().unwrap_or("(default)")),
    );
    if let Some(d) = &r.decision {
        s.push_str(&format!("  decided by {}", safe(d.by.display_name.as_deref().unwrap_or(&d.by.key))));
    }
    s
}

fn show(remote_json: bool, r: &Review) -> anyhow::Result<()> {
    if remote_json {
        crate::output::json(r)
    } else {
        crate::output::line(&describe(r))
    }
}

pub(crate) async fn run(remote: Remote, command: ReviewsCommand) -> anyhow::Result<ExitCode> {
    let c = client(&remote)?;
    let json = remote.json();
    match command {
        ReviewsCommand::List { pending, connection } => {
            let filter =
                ReviewFilter { state: pending.then_some(ReviewState::Pending), connection, principal: None };
            let list = c.reviews(&filter).await?;
            if json {
                crate::output::json(&list)?;
            } else if list.is_empty() {
                crate::output::line("no reviews")?;
            } else {
                for r in &list {
                    crate::output::line(&describe(r))?;
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        ReviewsCommand::Show { id, wait } => {
            let wait: Option<Duration> = wait.as_deref().map(humantime::parse_duration).transpose()?;
            let r = c.review(&id, wait).await?;
            show(json, &r)?;
            Ok(ExitCode::SUCCESS)
        }
        ReviewsCommand::Approve { id, comment } => {
            let r = c.approve_review(&id, &DecisionBody { comment, version: None }).await?;
            show(json, &r)?;
            Ok(ExitCode::SUCCESS)
        }
        ReviewsCommand::Deny { id, reason } => {
            let r = c.deny_review(&id, &DecisionBody { comment: Some(reason), version: None }).await?;
            show(json, &r)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}
