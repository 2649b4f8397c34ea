//! The masking core shared by every format: run the detectors over one decoded value,
//! replace what they find by the strategy's token, and count by label (never values).

use std::sync::Arc;

use aws_lc_rs::hmac;

use crate::config::Strategy;
use crate::detect::{Finding, Hit, Survey};
use crate::profile::Compiled;

/// Masking state of one response: the profile, the session's pseudonym key, the counts.
pub(crate) struct Masker {
    pub(crate) profile: Arc<Compiled>,
    key: hmac::Key,
    pub(crate) counts: Vec<u64>,
    findings: Vec<Finding>,
    /// Bytes handed to detectors so far: a work measure that must grow linearly with input.
    pub(crate) work: u64,
}

/// What happened to a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Nothing found: the original bytes stand.
    Unchanged,
    /// Something was replaced; the masked text was written.
    Masked,
    /// A finding asked for `drop`: the enclosing JSON member goes (elsewhere: redacted).
    Drop,
}

impl Masker {
    pub(crate) fn new(profile: Arc<Compiled>, key: hmac::Key) -> Self {
        let counts = vec![0; profile.labels.len()];
        Self { profile, key, counts, findings: Vec::new(), work: 0 }
    }

    /// Writes the replacement token for `value` found by `hit`, and counts it.
    pub(crate) fn replace(&mut self, hit: Hit, value: &[u8], out: &mut Vec<u8>) {
        if let Some(c) = self.counts.get_mut(usize::from(hit.label)) {
            *c += 1;
        }
        let label = self.profile.labels.get(usize::from(hit.label)).map_or("secret", String::as_str);
        match hit.strategy {
            Strategy::Redact | Strategy::Drop => {
                out.extend_from_slice(b"[REDACTED:");
                out.extend_from_slice(label.as_bytes());
                out.push(b']');
            }
            Strategy::Partial => {
                let text = String::from_utf8_lossy(value);
                let chars = text.chars().count();
                out.extend_from_slice(b"[REDACTED:");
                out.extend_from_slice(label.as_bytes());
                if chars >= 12 {
                    let tail: String = text.chars().skip(chars - 4).collect();
                    out.extend_from_slice(b":last4=");
                    out.extend_from_slice(tail.as_bytes());
                }
                out.push(b']');
            }
            Strategy::Hash => {
                let tag = hmac::sign(&self.key, value);
                out.extend_from_slice(b"[HASH:");
                out.extend_from_slice(label.as_bytes());
                out.push(b':');
                out.extend_from_slice(hex::encode(&tag.as_ref()[..6]).as_bytes());
                out.push(b']');
            }
        }
    }

    /// Scans `text` and, if anything is found, writes the masked text to `out`.
    /// `before` is the byte preceding `text` in the stream, for boundary checks.
    pub(crate) fn mask_text(&mut self, text: &[u8], before: Option<u8>, out: &mut Vec<u8>) -> Outcome {
        self.mask_text_hinted(text, before, None, out)
    }

    /// [`mask_text`](Self::mask_text) with a survey of `text` made beforehand.
    pub(crate) fn mask_text_hinted(
        &mut self,
        text: &[u8],
        before: Option<u8>,
        survey: Option<Survey>,
        out: &mut Vec<u8>,
    ) -> Outcome {
        let mut findings = std::mem::take(&mut self.findings);
        findings.clear();
        self.work += self.profile.scanner.scan_hinted(text, before, &mut findings, survey);
        let outcome = self.apply(text, &findings, out);
        self.findings = findings;
        outcome
    }

    /// Writes `text` with `findings` (sorted, non-overlapping) replaced.
    pub(crate) fn apply(&mut self, text: &[u8], findings: &[Finding], out: &mut Vec<u8>) -> Outcome {
        if findings.is_empty() {
            return Outcome::Unchanged;
        }
        let mut drop = false;
        let mut at = 0;
        for f in findings {
            out.extend_from_slice(&text[at..f.start]);
            self.replace(f.hit, &text[f.start..f.end], out);
            drop |= f.hit.strategy == Strategy::Drop;
            at = f.end;
        }
        out.extend_from_slice(&text[at..]);
        if drop {
            Outcome::Drop
        } else {
            Outcome::Masked
        }
    }

    /// Scans without writing: the findings of `text`, for streaming callers that cut.
    pub(crate) fn find(&mut self, text: &[u8], before: Option<u8>) -> Vec<Finding> {
        let mut findings = std::mem::take(&mut self.findings);
        findings.clear();
        self.work += self.profile.scanner.scan(text, before, &mut findings);
        findings
    }

    /// Gives a findings buffer back for reuse.
    pub(crate) fn recycle(&mut self, findings: Vec<Finding>) {
        self.findings = findings;
    }

    /// The counts so far, by label name, leaving out zeros.
    pub(crate) fn counts(&self) -> impl Iterator<Item = (&str, u64)> + '_ {
        self.profile.labels.iter().zip(&self.counts).filter(|(_, &c)| c > 0).map(|(l, &c)| (l.as_str(), c))
    }
}
