//! `portcullis`: parses arguments, loads config, and calls into the library crates.
//! No business logic lives here.

mod access;
mod audit;
mod auth;
mod connector;
mod env;
mod logging;
mod mask;
mod output;
mod policy;
mod reviews;
mod sessions;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

/// Portcullis: an access gateway for AI agents. Agents get just-in-time access, every
/// request is checked, secrets are masked, sessions are recorded.
#[derive(Parser)]
#[command(name = "portcullis", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gateway.
    Serve {
        /// The gateway's TOML config (see docs/config.md).
        #[arg(long, short, env = "PORTCULLIS_CONFIG", default_value = "portcullis.toml")]
        config: PathBuf,
    },
    /// Run a connector inside the target's network: it dials out to the gateway's tunnel
    /// listener, holds the credentials and injects them (see docs/connector.md).
    Connector {
        /// The connector's TOML config: `[gateway]` and `[[connections]]`.
        #[arg(long, short, env = "PORTCULLIS_CONNECTOR_CONFIG", default_value = "connector.toml")]
        config: PathBuf,
    },
    /// Play the whole product story on this machine, narrated (loopback only).
    Demo {
        /// Print one JSON object per step instead of narration.
        #[arg(long)]
        json: bool,
        /// Leave everything running afterwards and print commands to try.
        #[arg(long)]
        keep: bool,
    },
    /// Operator tools for tokens.
    Auth {
        #[command(subcommand)]
        command: auth::AuthCommand,
    },
    /// Just-in-time access: request, list, approve, deny, revoke (against a running gateway).
    Access {
        #[command(flatten)]
        remote: access::Remote,
        #[command(subcommand)]
        command: access::AccessCommand,
    },
    /// Per-request approvals: list, show, approve, deny (against a running gateway).
    Reviews {
        #[command(flatten)]
        remote: access::Remote,
        #[command(subcommand)]
        command: reviews::ReviewsCommand,
    },
    /// The tamper-evident audit log: verify it, export it.
    Audit {
        #[command(subcommand)]
        command: audit::AuditCommand,
    },
    /// Recorded sessions (the calls under each grant): list, show, replay.
    Sessions {
        #[command(subcommand)]
        command: sessions::SessionsCommand,
    },
    /// Mask a body from stdin to stdout exactly as the gateway would (test profiles).
    Mask(mask::MaskArgs),
    /// Guardrail rules, offline.
    Policy {
        #[command(subcommand)]
        command: policy::PolicyCommand,
    },
    /// Print the environment that sends an unchanged Azure client through the gateway
    /// (forward proxy, managed identity, CA): `eval "$(portcullis env --connection C)"`.
    Env(env::EnvArgs),
    /// Print shell completions.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Command::Connector { config } = &cli.command {
        // The connector sizes its own runtime from its config.
        return connector::main(config).unwrap_or_else(|e| {
            eprintln!("portcullis: {e:#}");
            ExitCode::FAILURE
        });
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("portcullis: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("portcullis: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Serve { config } => {
            let config = portcullis_gateway::Config::load(&config)?;
            logging::init(config.log.format, &config.log.level)?;
            let gateway = portcullis_gateway::start(config).await?;
            gateway.run_until_signal().await;
            Ok(ExitCode::SUCCESS)
        }
        Command::Connector { .. } => unreachable!("the connector runs on its own runtime"),
        Command::Demo { json, keep } => {
            logging::init_quiet()?;
            let format = if json { portcullis_demo::Format::Json } else { portcullis_demo::Format::Human };
            let mut reporter = portcullis_demo::Reporter::new(std::io::stdout(), format);
            let summary = portcullis_demo::run(portcullis_demo::DemoOptions { keep }, &mut reporter).await;
            Ok(if summary.failed.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
        }
        Command::Auth { command } => {
            logging::init_quiet()?;
            auth::run(command).await
        }
        Command::Access { remote, command } => {
            logging::init_quiet()?;
            access::run(remote, command).await
        }
        Command::Reviews { remote, command } => {
            logging::init_quiet()?;
            reviews::run(remote, command).await
        }
        Command::Audit { command } => {
            logging::init_quiet()?;
            audit::run(command).await
        }
        Command::Sessions { command } => {
            logging::init_quiet()?;
            sessions::run(command).await
        }
        Command::Mask(args) => {
            logging::init_quiet()?;
            mask::run(args)
        }
        Command::Policy { command } => {
            logging::init_quiet()?;
            policy::run(command)
        }
        Command::Env(args) => {
            logging::init_quiet()?;
            env::run(args).await
        }
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "portcullis", &mut std::io::stdout());
            Ok(ExitCode::SUCCESS)
        }
    }
}
