//! `portcullis env --connection C`: the environment that makes an unchanged Azure client
//! (az, the SDKs, Terraform, the Azure MCP server) go through the gateway — the forward
//! proxy, the managed-identity endpoint and the gateway's interception CA.
//!
//! It asks the running gateway's control API (`GET /api/v1/agent-environment`) for the
//! URLs and the CA certificate, writes the certificate to a file, and prints variables for
//! a shell: `eval "$(portcullis env --connection azure)"`. The agent's own token becomes
//! `IDENTITY_HEADER`; nothing else secret is printed.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, ValueEnum};

/// Which syntax to print.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub(crate) enum Shell {
    /// `export K='v'` (bash, zsh, sh).
    Bash,
    /// `set -gx K 'v'`.
    Fish,
    /// `$env:K = 'v'` (PowerShell).
    Pwsh,
    /// `K='v'` lines (a .env file, `docker run --env-file`).
    Dotenv,
}

#[derive(Args)]
pub(crate) struct EnvArgs {
    /// The connection the agent works on (it must claim the hosts the agent calls).
    #[arg(long)]
    connection: String,
    /// The gateway's control API, e.g. `https://portcullis.example.com:8081`.
    #[arg(long, alias = "url", env = "PORTCULLIS_URL")]
    gateway: String,
    /// The caller's OIDC access token (for the control API).
    #[arg(long, env = "PORTCULLIS_TOKEN", hide_env_values = true)]
    token: String,
    /// The token the agent presents as `IDENTITY_HEADER`: its grant token
    /// (`portcullis access token GRANT`). Default: `--token` (then the agent needs an
    /// active grant for the connection, and the gateway must accept OIDC tokens on the data path).
    #[arg(long, env = "PORTCULLIS_GRANT_TOKEN", hide_env_values = true)]
    identity_header: Option<String>,
    /// The shell syntax.
    #[arg(long, value_enum, default_value = "bash")]
    shell: Shell,
    /// Where to write the gateway's CA certificate. Default:
    /// `$XDG_CONFIG_HOME/portcullis/proxy-ca.pem` (or `~/.config/portcullis/proxy-ca.pem`).
    #[arg(long)]
    ca_file: Option<PathBuf>,
}

/// What the control API answers.
#[derive(serde::Deserialize)]
struct AgentEnvironment {
    proxy_url: String,
    identity_endpoint: String,
    no_proxy: String,
    ca_pem: String,
    hosts: Vec<String>,
}

pub(crate) async fn run(args: EnvArgs) -> anyhow::Result<ExitCode> {
    let env = fetch(&args).await?;
    let ca_file = match &args.ca_file {
        Some(p) => p.clone(),
        None => default_ca_file()?,
    };
    write_ca(&ca_file, &env.ca_pem)?;
    let ca = ca_file.display().to_string();
    let identity = args.identity_header.as_deref().unwrap_or(&args.token);
    let vars: Vec<(&str, &str)> = vec![
        ("HTTPS_PROXY", &env.proxy_url),
        ("NO_PROXY", &env.no_proxy),
        ("IDENTITY_ENDPOINT", &env.identity_endpoint),
        ("IDENTITY_HEADER", identity),
        ("REQUESTS_CA_BUNDLE", &ca),
        ("SSL_CERT_FILE", &ca),
        ("NODE_EXTRA_CA_CERTS", &ca),
        ("AZURE_CORE_COLLECT_TELEMETRY", "false"),
    ];
    if env.hosts.is_empty() {
        eprintln!(
            "portcullis env: connection `{}` claims no hosts, so the proxy intercepts nothing for it; \
             use its path-prefix URL instead",
            args.connection
        );
    }
    eprintln!("portcullis env: wrote the gateway's CA to {ca}; intercepted hosts: {}", env.hosts.join(", "));
    print!("{}", render(args.shell, &vars));
    Ok(ExitCode::SUCCESS)
}

async fn fetch(args: &EnvArgs) -> anyhow::Result<AgentEnvironment> {
    let mut url =
        url::Url::parse(&format!("{}/api/v1/agent-environment", args.gateway.trim_end_matches('/')))
            .map_err(|e| anyhow::anyhow!("--gateway {}: {e}", args.gateway))?;
    url.query_pairs_mut().append_pair("connection", &args.connection);
    let resp =
        reqwest::Client::new().get(url).bearer_auth(&args.token).send().await.map_err(|e| {
            anyhow::anyhow!("cannot reach the gateway's control API at {}: {e}", args.gateway)
        })?;
    let status = resp.status();
    let body: serde_json::Value = resp.json().await.unwrap_or_default();
    if !status.is_success() {
        let message = body["error"]["message"].as_str().unwrap_or("no message");
        anyhow::bail!("the gateway answered {status}: {message}");
    }
    Ok(serde_json::from_value(body)?)
}

fn default_ca_file() -> anyhow::Result<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))
        .ok_or_else(|| anyhow::anyhow!("neither XDG_CONFIG_HOME nor HOME is set: pass --ca-file"))?;
    Ok(base.join("portcullis/proxy-ca.pem"))
}

fn write_ca(path: &Path, pem: &str) -> anyhow::Result<()> {
    if !pem.starts_with("-----BEGIN CERTIFICATE-----") {
        anyhow::bail!("the gateway sent no PEM certificate");
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))?;
    }
    std::fs::write(path, pem).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

/// The lines for `shell`, values single-quoted so nothing in them is expanded.
fn render(shell: Shell, vars: &[(&str, &str)]) -> String {
    let mut out = String::new();
    for (k, v) in vars {
        let line = match shell {
            Shell::Bash => format!("export {k}='{}'", v.replace('\'', r"'\''")),
            Shell::Fish => format!("set -gx {k} '{}'", v.replace('\\', r"\\").replace('\'', r"\'")),
            Shell::Pwsh => format!("$env:{k} = '{}'", v.replace('\'', "''")),
            Shell::Dotenv => format!("{k}='{}'", v.replace('\'', "")),
        };
        out.push_str(&line);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_quoted_for_each_shell() {
        let vars = [("A", "x'y"), ("B", "plain")];
        assert_eq!(render(Shell::Bash, &vars), "export A='x'\\''y'\nexport B='plain'\n");
        assert_eq!(render(Shell::Fish, &vars), "set -gx A 'x\\'y'\nset -gx B 'plain'\n");
        assert_eq!(render(Shell::Pwsh, &vars), "$env:A = 'x''y'\n$env:B = 'plain'\n");
        assert_eq!(render(Shell::Dotenv, &vars[1..]), "B='plain'\n");
    }
}
