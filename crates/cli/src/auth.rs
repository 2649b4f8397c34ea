//! `portcullis auth check`: validates a token exactly as the gateway would.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;
use portcullis_identity::{check_token, CheckError, IssuerConfig};
use serde_json::json;

#[derive(Subcommand)]
pub(crate) enum AuthCommand {
    /// Validate a token as the gateway would; print the principal as JSON (exit 0) or the
    /// precise reason it is refused (exit 1).
    Check {
        /// The gateway config whose `[[identity.issuers]]` to use.
        #[arg(long, short, conflicts_with = "issuer")]
        config: Option<PathBuf>,
        /// Describe a single issuer instead of a config file (exact `iss`).
        #[arg(long, requires = "audience")]
        issuer: Option<String>,
        /// Accepted audience(s) for `--issuer` (repeatable).
        #[arg(long)]
        audience: Vec<String>,
        /// Entra ID tenant id for `--issuer` (turns on Entra's rules).
        #[arg(long, requires = "issuer")]
        tenant: Option<String>,
        /// A local JWKS file to use instead of fetching keys (offline checks).
        #[arg(long)]
        jwks: Option<PathBuf>,
        /// The token; read from standard input when absent or `-`.
        token: Option<String>,
    },
}

pub(crate) async fn run(command: AuthCommand) -> anyhow::Result<ExitCode> {
    let AuthCommand::Check { config, issuer, audience, tenant, jwks, token } = command;
    let issuers = match (config, issuer) {
        (Some(path), _) => portcullis_gateway::Config::load(&path)?.identity.issuers,
        (None, Some(iss)) => vec![IssuerConfig::single(&iss, audience, tenant.as_deref())],
        (None, None) => {
            anyhow::bail!("say which issuer to trust: --config FILE, or --issuer ISS --audience AUD")
        }
    };
    let local_jwks = match &jwks {
        Some(path) => Some(std::fs::read(path).with_context(|| format!("reading {}", path.display()))?),
        None => None,
    };
    let token = match token.as_deref() {
        Some(t) if t != "-" => t.to_owned(),
        _ => {
            let mut s = String::new();
            std::io::stdin().read_to_string(&mut s).context("reading the token from standard input")?;
            s
        }
    };
    match check_token(issuers, local_jwks.as_deref(), token.trim()).await {
        Ok(principal) => {
            crate::output::json(&principal)?;
            Ok(ExitCode::SUCCESS)
        }
        Err(CheckError::Refused(e)) => {
            let out = json!({ "valid": false, "reason": e.reason().code(), "detail": e.detail() });
            crate::output::json(&out)?;
            Ok(ExitCode::FAILURE)
        }
        Err(e @ CheckError::Config(_)) => Err(e.into()),
    }
}
