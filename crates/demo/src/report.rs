//! Printing the story: narrated lines for a person, or one JSON object per step.

use std::io::Write;

use crate::steps::{Step, StepOutcome};

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Narrated, for a person.
    Human,
    /// One JSON object per line: `{"step": …, "ok": …, "detail": {…}}`.
    Json,
}

/// Writes step outcomes as they happen.
pub struct Reporter<W: Write> {
    out: W,
    format: Format,
    index: usize,
}

impl<W: Write> Reporter<W> {
    /// A reporter writing to `out`.
    pub fn new(out: W, format: Format) -> Self {
        Reporter { out, format, index: 0 }
    }

    pub(crate) fn intro(&mut self) {
        if self.format == Format::Human {
            let _ = writeln!(
                self.out,
                "Portcullis demo: an AI agent operates Azure through the gateway.\n\
                 Everything runs on this machine (loopback only): a fake Entra ID, a fake Azure Resource\n\
                 Manager, and the gateway with its store in a temporary folder.\n"
            );
        }
    }

    pub(crate) fn step(&mut self, step: &Step, outcome: &StepOutcome) {
        self.index += 1;
        match self.format {
            Format::Json => {
                let line = serde_json::to_string(outcome).unwrap_or_default();
                let _ = writeln!(self.out, "{line}");
            }
            Format::Human => {
                let mark = if outcome.ok {
                    "ok"
                } else if outcome.is_pending() {
                    "pending"
                } else {
                    "FAILED"
                };
                let _ = writeln!(self.out, "{:>2}. {:<24} [{mark}] {}", self.index, step.name, step.title);
                if let Some(says) = outcome.detail.get("narration").and_then(|v| v.as_array()) {
                    for line in says.iter().filter_map(|l| l.as_str()) {
                        let _ = writeln!(self.out, "      {line}");
                    }
                }
                if outcome.is_pending() {
                    if let Some(r) = outcome.detail.get("reason").and_then(|v| v.as_str()) {
                        let _ = writeln!(self.out, "      {r}");
                    }
                }
                if !outcome.ok && !outcome.is_pending() {
                    if let Some(e) = outcome.detail.get("error").and_then(|v| v.as_str()) {
                        let _ = writeln!(self.out, "      error: {e}");
                    }
                }
            }
        }
        let _ = self.out.flush();
    }

    pub(crate) fn outro(&mut self, lines: &[String]) {
        if self.format == Format::Human {
            let _ = writeln!(self.out);
            for l in lines {
                let _ = writeln!(self.out, "{l}");
            }
        }
    }
}
