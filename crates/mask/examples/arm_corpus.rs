//! Writes the ARM-shaped JSON corpus of `benches/throughput.rs` (storage accounts, about 5 %
//! sensitive values) to a file, so `mask_file` can measure on-CPU throughput on the same bytes.
//!
//! `cargo run --release -p portcullis-mask --example arm_corpus -- OUT [BYTES]` (default 4 MiB)

use anyhow::Context;

#[path = "../benches/support/arm_corpus.rs"]
mod arm_corpus;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [output, rest @ ..] = args.as_slice() else {
        anyhow::bail!("usage: arm_corpus OUT [BYTES]");
    };
    let bytes: usize = rest.first().map_or(Ok(4 << 20), |b| b.parse()).context("BYTES must be a number")?;
    let body = arm_corpus::arm_list(bytes);
    std::fs::write(output, &body).with_context(|| format!("writing {output}"))?;
    println!("{} bytes written to {output}", body.len());
    Ok(())
}
