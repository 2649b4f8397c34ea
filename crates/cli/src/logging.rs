//! Log output: JSON lines (default) or text, filtered by level; `PORTCULLIS_LOG`
//! overrides the configured filter.

use portcullis_gateway::config::LogFormat;
use tracing_subscriber::EnvFilter;

pub(crate) fn init(format: LogFormat, level: &str) -> anyhow::Result<()> {
    let filter = match std::env::var("PORTCULLIS_LOG") {
        Ok(f) => EnvFilter::try_new(&f).map_err(|e| anyhow::anyhow!("PORTCULLIS_LOG `{f}`: {e}"))?,
        Err(_) => {
            EnvFilter::try_new(level).map_err(|e| anyhow::anyhow!("config key `log.level` `{level}`: {e}"))?
        }
    };
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let result = match format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Text => builder.try_init(),
    };
    result.map_err(|e| anyhow::anyhow!("initialising logs: {e}"))
}

/// For commands whose stdout is for a person or a program: warnings only, on stderr.
pub(crate) fn init_quiet() -> anyhow::Result<()> {
    init(LogFormat::Text, "warn")
}
