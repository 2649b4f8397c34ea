//! Plain text (`text/*`) masking with a bounded hold-back window: the tail of the buffer that
//! a pattern starting there could still need is held until more bytes (or the end) arrive.
//! The window is exactly the longest match any enabled detector can produce, so a secret
//! split across chunk boundaries is still found.

use crate::masker::{Masker, Outcome};

/// Streaming text masker.
pub(crate) struct TextCore {
    buf: Vec<u8>,
    before: Option<u8>,
    window: usize,
    step: usize,
}

impl TextCore {
    pub(crate) fn new(window: usize) -> Self {
        Self { buf: Vec::new(), before: None, window, step: (3 * window).max(64 * 1024) }
    }

    pub(crate) fn push(&mut self, m: &mut Masker, input: &[u8], out: &mut Vec<u8>) {
        let mut rest = input;
        while !rest.is_empty() {
            let room = (self.window + self.step).saturating_sub(self.buf.len()).max(1);
            let take = room.min(rest.len());
            self.buf.extend_from_slice(&rest[..take]);
            rest = &rest[take..];
            if self.buf.len() >= self.window + self.step {
                self.drain(m, out, false);
            }
        }
    }

    pub(crate) fn finish(&mut self, m: &mut Masker, out: &mut Vec<u8>) {
        self.drain(m, out, true);
    }

    /// Emits everything that can no longer be part of an unseen match.
    fn drain(&mut self, m: &mut Masker, out: &mut Vec<u8>, last: bool) {
        let mut findings = m.find(&self.buf, self.before);
        let mut limit = if last { self.buf.len() } else { self.buf.len().saturating_sub(self.window) };
        let keep = findings.iter().take_while(|f| f.start < limit).count();
        findings.truncate(keep);
        if let Some(f) = findings.last() {
            limit = limit.max(f.end);
        }
        if limit == 0 {
            m.recycle(findings);
            return;
        }
        if m.apply(&self.buf[..limit], &findings, out) == Outcome::Unchanged {
            out.extend_from_slice(&self.buf[..limit]);
        }
        m.recycle(findings);
        self.before = Some(self.buf[limit - 1]);
        self.buf.drain(..limit);
    }
}
