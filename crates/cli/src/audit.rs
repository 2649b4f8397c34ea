//! `portcullis audit verify|export`: the evidence, checked and handed over.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use portcullis_audit::{
    export, read_public_key, read_public_key_file, verify, ExportFormat, PoolRef, VerifyOptions,
};
use portcullis_store::SqliteStore;

/// Where the audit log is.
#[derive(Args)]
pub(crate) struct Location {
    /// The gateway's data directory (SQLite store).
    #[arg(long, conflicts_with_all = ["config", "database"])]
    data_dir: Option<PathBuf>,
    /// The gateway's config file (its `data_dir` is used).
    #[arg(long, short, conflicts_with = "database")]
    config: Option<PathBuf>,
    /// A PostgreSQL database shared by several gateways (`postgres://…`); every
    /// gateway's stream in it is read. Opened read-only: no migration is applied.
    #[arg(long)]
    database: Option<String>,
}

/// An opened audit store: the SQLite file of a data_dir, or a PostgreSQL pool.
pub(crate) enum Opened {
    Sqlite(SqliteStore),
    Postgres(portcullis_store::PgPool),
}

impl Opened {
    pub(crate) fn pool(&self) -> PoolRef<'_> {
        match self {
            Opened::Sqlite(s) => PoolRef::Sqlite(s.pool()),
            Opened::Postgres(p) => PoolRef::Postgres(p),
        }
    }
}

impl Location {
    /// The data directory, when the log is in one (not with `--database`).
    pub(crate) fn data_dir(&self) -> anyhow::Result<Option<PathBuf>> {
        match (&self.data_dir, &self.config, &self.database) {
            (Some(d), _, _) => Ok(Some(d.clone())),
            (None, Some(c), _) => Ok(Some(portcullis_gateway::Config::load(c)?.data_dir)),
            (None, None, Some(_)) => Ok(None),
            (None, None, None) => {
                anyhow::bail!("say where the audit log is: --data-dir DIR, --config FILE or --database URL")
            }
        }
    }

    /// Opens the store the log is in.
    pub(crate) async fn open(&self) -> anyhow::Result<Opened> {
        if let Some(url) = &self.database {
            if !portcullis_store::is_postgres_url(url) {
                anyhow::bail!("--database takes a postgres:// URL (for SQLite, use --data-dir)");
            }
            let pool = portcullis_store::pg_pool(portcullis_store::pg_options(url)?).await?;
            return Ok(Opened::Postgres(pool));
        }
        match self.data_dir()? {
            Some(dir) => Ok(Opened::Sqlite(open_store(&dir).await?)),
            None => {
                anyhow::bail!("say where the audit log is: --data-dir DIR, --config FILE or --database URL")
            }
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum Format {
    /// One stored event per line, with its hash-chain fields.
    Jsonl,
    /// OCSF 1.1.0 API Activity (6003) and Authentication (3002) records, one per line.
    Ocsf,
}

#[derive(Subcommand)]
pub(crate) enum AuditCommand {
    /// Check the hash chain and every signed checkpoint; exit 1 and name the first broken
    /// event on any break.
    Verify {
        #[command(flatten)]
        location: Location,
        /// Trust this public key file instead of `data_dir/audit-signing.pub` (repeatable,
        /// e.g. a copy kept off the gateway host).
        #[arg(long = "trusted-key")]
        trusted_keys: Vec<PathBuf>,
        /// Print the full report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Export events, one JSON object per line, to stdout or a file.
    Export {
        #[command(flatten)]
        location: Location,
        /// Output format.
        #[arg(long, value_enum, default_value = "jsonl")]
        format: Format,
        /// Only events at or after this time: RFC 3339 (`2026-11-30T09:00:00Z`) or an age
        /// (`24h`).
        #[arg(long)]
        since: Option<String>,
        /// Write to this file instead of stdout.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Create an auditor's age key pair: the identity goes to FILE (mode 0600, kept by the
    /// auditor, never on the gateway); the recipient printed goes into the gateway's
    /// config, so unmasked bodies are stored encrypted to it.
    AuditorKey {
        /// Where to write the identity (must not exist).
        #[arg(long)]
        out: PathBuf,
    },
}

pub(crate) async fn open_store(dir: &Path) -> anyhow::Result<SqliteStore> {
    if !dir.join(portcullis_store::DB_FILE).exists() {
        anyhow::bail!("{}: no Portcullis store here (no {})", dir.display(), portcullis_store::DB_FILE);
    }
    Ok(SqliteStore::open(dir).await?)
}

pub(crate) fn since_us(since: &str) -> anyhow::Result<i64> {
    if let Ok(t) = time::OffsetDateTime::parse(since, &time::format_description::well_known::Rfc3339) {
        return Ok((t.unix_timestamp_nanos() / 1000) as i64);
    }
    let age = humantime::parse_duration(since)
        .with_context(|| format!("--since `{since}` is neither an RFC 3339 time nor an age such as 24h"))?;
    let now = time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1000;
    Ok((now - age.as_micros() as i128) as i64)
}

pub(crate) async fn run(command: AuditCommand) -> anyhow::Result<ExitCode> {
    match command {
        AuditCommand::Verify { location, trusted_keys, json } => {
            let store = location.open().await?;
            let keys = if trusted_keys.is_empty() {
                match location.data_dir()? {
                    Some(dir) => vec![read_public_key(&dir)?],
                    None => {
                        eprintln!(
                            "note: trusting the signing keys recorded in the database; pass --trusted-key \
                             (each gateway's audit-signing.pub) to also refuse a database rewritten with a new key"
                        );
                        Vec::new()
                    }
                }
            } else {
                trusted_keys
                    .iter()
                    .map(PathBuf::as_path)
                    .map(read_public_key_file)
                    .collect::<Result<Vec<_>, _>>()?
            };
            let report = verify(store.pool(), &VerifyOptions { trusted_keys: keys }).await?;
            if json {
                crate::output::json(&report)?;
            } else if let Some(b) = report.first_break() {
                crate::output::line(&format!(
                    "audit log BROKEN: first broken event is seq {} (id {}) in stream {}: {}",
                    b.seq,
                    b.event_id.as_deref().unwrap_or("missing"),
                    b.stream,
                    portcullis_audit::render::safe(&b.detail)
                ))?;
            } else {
                let events: u64 = report.streams.iter().map(|s| s.events).sum();
                let checkpoints: u64 = report.streams.iter().map(|s| s.checkpoints).sum();
                crate::output::line(&format!(
                    "audit log intact: {events} events in {} stream(s), {checkpoints} signed checkpoint(s), {} \
                     bodies",
                    report.streams.len(),
                    report.blobs
                ))?;
            }
            Ok(if report.ok { ExitCode::SUCCESS } else { ExitCode::FAILURE })
        }
        AuditCommand::Export { location, format, since, output } => {
            let store = location.open().await?;
            let since = since.as_deref().map(since_us).transpose()?;
            let format = match format {
                Format::Jsonl => ExportFormat::Jsonl,
                Format::Ocsf => ExportFormat::Ocsf,
            };
            let written = match output {
                Some(path) => {
                    let mut file = tokio::fs::File::create(&path)
                        .await
                        .with_context(|| format!("creating {}", path.display()))?;
                    let n = export(store.pool(), format, since, &mut file).await?;
                    tokio::io::AsyncWriteExt::flush(&mut file).await?;
                    n
                }
                None => export(store.pool(), format, since, &mut tokio::io::stdout()).await?,
            };
            eprintln!("exported {written} events");
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::AuditorKey { out } => {
            let (identity, recipient) = portcullis_audit::generate_auditor_key();
            write_private(&out, identity.as_bytes())?;
            crate::output::line(&recipient)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Creates `path` (which must not exist) readable by its owner only.
fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).with_context(|| format!("creating {}", path.display()))?;
    file.write_all(bytes).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}
