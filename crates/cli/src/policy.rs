//! `portcullis policy check`: evaluates one request against guardrail rules, offline,
//! through the same canonicalizer and decision function as the gateway.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Subcommand, ValueEnum};
use portcullis_canonical::{CanonicalRequest, Limits};
use portcullis_gateway::guardrails::{decide, Kind};
use portcullis_policy::{parse_file, RuleSet};
use serde_json::json;

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum TargetKind {
    /// Azure Resource Manager (RBAC actions, $batch and deployments unpacked).
    Azure,
    /// Any HTTP API (method, path, query and body rules).
    Http,
}

#[derive(Subcommand)]
pub(crate) enum PolicyCommand {
    /// Print the decision for one request as JSON:
    /// {"decision","action","resource","rule","summary","inner":[…]}. A request the
    /// canonicalizer refuses prints {"decision":"reject",…}. Exits 0 either way.
    Check {
        /// A rules file (TOML). With --default-azure too, both are loaded.
        #[arg(long)]
        rules: Vec<PathBuf>,
        /// Use the shipped Azure default rule pack.
        #[arg(long)]
        default_azure: bool,
        /// What kind of target the request is for.
        #[arg(long, value_enum, default_value = "azure")]
        kind: TargetKind,
        /// HTTP method.
        #[arg(long)]
        method: String,
        /// The request URL (absolute, or a path with query).
        #[arg(long)]
        url: String,
        /// Extra request headers, `Name: value` (repeatable).
        #[arg(long = "header")]
        headers: Vec<String>,
        /// A file holding the request body (JSON).
        #[arg(long)]
        body: Option<PathBuf>,
        /// The principal's groups, comma-separated.
        #[arg(long, value_delimiter = ',')]
        groups: Vec<String>,
        /// The grant's access level.
        #[arg(long, default_value = "operate")]
        level: String,
    },
}

fn load_rules(files: &[PathBuf], default_azure: bool) -> anyhow::Result<RuleSet> {
    let mut parsed = Vec::new();
    if default_azure {
        parsed.push(parse_file("azure-default", portcullis_policy::AZURE_DEFAULT_RULES)?);
    }
    for f in files {
        let text = std::fs::read_to_string(f).with_context(|| format!("reading {}", f.display()))?;
        parsed.push(parse_file(&f.display().to_string(), &text)?);
    }
    if parsed.is_empty() {
        anyhow::bail!("say which rules to use: --rules FILE and/or --default-azure");
    }
    Ok(RuleSet::compile(parsed)?)
}

pub(crate) fn run(command: PolicyCommand) -> anyhow::Result<ExitCode> {
    let PolicyCommand::Check { rules, default_azure, kind, method, url, headers, body, groups, level } =
        command;
    let rules = load_rules(&rules, default_azure)?;
    let body = match &body {
        Some(path) => Some(std::fs::read(path).with_context(|| format!("reading {}", path.display()))?),
        None => None,
    };
    let mut req = http::Request::builder().method(method.as_str()).uri(url.as_str());
    let uri: http::Uri = url.parse().with_context(|| format!("--url `{url}` is not a URL"))?;
    if let Some(authority) = uri.authority() {
        req = req.header(http::header::HOST, authority.as_str());
    }
    for h in &headers {
        let (name, value) =
            h.split_once(':').with_context(|| format!("--header `{h}` must look like `Name: value`"))?;
        req = req.header(name.trim(), value.trim());
    }
    let (parts, ()) = req.body(()).context("building the request")?.into_parts();
    let out = match CanonicalRequest::from_parts(&parts, Limits::default()) {
        Err(e) => json!({ "decision": "reject", "reason": e.reason.code(), "message": e.message }),
        Ok(canonical) => {
            let kind = match kind {
                TargetKind::Http => Kind::Http,
                TargetKind::Azure => Kind::Azure {
                    arm_origins: match (uri.scheme_str(), uri.authority()) {
                        (Some(scheme), Some(authority)) => vec![format!("{scheme}://{authority}")],
                        _ => Vec::new(),
                    },
                },
            };
            let decision = decide(
                &rules,
                &kind,
                canonical.method.as_str(),
                &canonical.target,
                body.as_deref(),
                &groups,
                &level,
            );
            decision.to_check_json()
        }
    };
    crate::output::json(&out)?;
    Ok(ExitCode::SUCCESS)
}
