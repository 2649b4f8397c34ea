//! `portcullis mask`: runs the masking engine on a file or stream exactly as the gateway
//! would, so operators can test profiles (and we can benchmark them).

use std::io::{ErrorKind, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use portcullis_mask::{ContentKind, MaskConfig, MaskEngine, SessionContext};

#[derive(Args)]
pub(crate) struct MaskArgs {
    /// The profile: `azure`, `strict`, or one from the config's `[mask.profiles]`.
    #[arg(long, default_value = "azure")]
    profile: String,
    /// A gateway config whose `[mask]` section defines profiles.
    #[arg(long, short)]
    config: Option<PathBuf>,
    /// The body's content type (JSON, NDJSON, XML, text/*, form).
    #[arg(long, default_value = "application/json")]
    content_type: String,
    /// The body's `Content-Encoding` (gzip, deflate, br, zstd); output is decoded.
    #[arg(long)]
    content_encoding: Option<String>,
    /// Print what was masked, by detector, as JSON on stderr (never the values).
    #[arg(long)]
    report: bool,
}

pub(crate) fn run(args: MaskArgs) -> anyhow::Result<ExitCode> {
    let config = match &args.config {
        Some(path) => portcullis_gateway::Config::load(path)?.mask,
        None => MaskConfig::default(),
    };
    let engine = MaskEngine::new(&config, &args.profile)?;
    let session = SessionContext::random()?;
    let kind = ContentKind::from_content_type(Some(&args.content_type));
    let mut stream = engine.stream_encoded(kind, args.content_encoding.as_deref(), &session)?;
    let mut input = std::io::stdin().lock();
    let mut output = std::io::stdout().lock();
    let mut buf = vec![0u8; 64 * 1024];
    let mut out = Vec::with_capacity(buf.len() * 2);
    let mut write = |out: &mut Vec<u8>| -> anyhow::Result<bool> {
        let r = output.write_all(out);
        out.clear();
        match r {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == ErrorKind::BrokenPipe => Ok(false),
            Err(e) => Err(e.into()),
        }
    };
    loop {
        let n = input.read(&mut buf).context("reading standard input")?;
        if n == 0 {
            break;
        }
        stream.push(&buf[..n], &mut out)?;
        if !write(&mut out)? {
            return Ok(ExitCode::SUCCESS);
        }
    }
    stream.finish(&mut out)?;
    write(&mut out)?;
    let _ = output.flush();
    if args.report {
        eprintln!("{}", serde_json::to_string(&stream.report())?);
    }
    Ok(ExitCode::SUCCESS)
}
