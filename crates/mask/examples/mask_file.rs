//! Masks a file with a profile, as the gateway would (64 KiB chunks), and measures it.
//!
//! `cargo run --release -p portcullis-mask --example mask_file -- IN OUT [PROFILE] [CONTENT_TYPE] [RUNS]`
//!
//! Writes the masked body to OUT and prints one JSON line on stdout: size, median and best
//! wall-clock MB/s over RUNS runs, MB/s per on-CPU second (this thread's run time over all
//! runs, Linux `schedstat`), and the counts by label (never values). `bench/presidio/run` uses
//! it for the Portcullis side of the Presidio comparison.

use std::time::Instant;

use anyhow::Context;
use portcullis_mask::{ContentKind, MaskConfig, MaskEngine, MaskReport, SessionContext};

fn mask_once(
    engine: &MaskEngine,
    content_type: &str,
    body: &[u8],
    out: &mut Vec<u8>,
) -> anyhow::Result<MaskReport> {
    let session = SessionContext::new(b"mask_file example session key...");
    out.clear();
    let mut stream = engine.stream(ContentKind::from_content_type(Some(content_type)), &session)?;
    for chunk in body.chunks(64 * 1024) {
        stream.push(chunk, out)?;
    }
    stream.finish(out)?;
    Ok(stream.report())
}

/// Nanoseconds this thread has run on a CPU (Linux `schedstat`), if available.
fn thread_cpu_ns() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    text.split_whitespace().next()?.parse().ok()
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [input, output, rest @ ..] = args.as_slice() else {
        anyhow::bail!("usage: mask_file IN OUT [PROFILE] [CONTENT_TYPE] [RUNS]");
    };
    let profile = rest.first().map_or("azure", String::as_str);
    let content_type = rest.get(1).map_or("application/json", String::as_str);
    let runs: usize = rest.get(2).map_or(Ok(21), |r| r.parse()).context("RUNS must be a number")?;
    let body = std::fs::read(input).with_context(|| format!("reading {input}"))?;
    let engine = MaskEngine::new(&MaskConfig::default(), profile)?;
    let mut out = Vec::with_capacity(body.len());
    let report = mask_once(&engine, content_type, &body, &mut out)?;
    std::fs::write(output, &out).with_context(|| format!("writing {output}"))?;
    // On a shared machine wall time includes waiting for a core; on-CPU time (this thread's
    // run time) does not. The kernel updates `schedstat` lazily (up to a scheduler tick late),
    // so on-CPU time is taken over all runs together, not per run.
    let mut seconds = Vec::with_capacity(runs);
    let cpu_before = thread_cpu_ns();
    for _ in 0..runs.max(1) {
        let started = Instant::now();
        mask_once(&engine, content_type, &body, &mut out)?;
        seconds.push(started.elapsed().as_secs_f64());
    }
    let cpu_seconds = thread_cpu_ns().zip(cpu_before).map(|(after, before)| (after - before) as f64 / 1e9);
    let mb_per_s = |s: f64| body.len() as f64 / s / 1e6;
    seconds.sort_by(f64::total_cmp);
    let (median, best) = (seconds[seconds.len() / 2], seconds[0]);
    let summary = serde_json::json!({
        "bytes": body.len(),
        "runs": seconds.len(),
        "median_seconds": median,
        "mb_per_s": mb_per_s(median),
        "best_mb_per_s": mb_per_s(best),
        "on_cpu_mb_per_s": cpu_seconds.map(|c| mb_per_s(c / seconds.len() as f64)),
        "counts": report.counts,
    });
    println!("{summary}");
    Ok(())
}
