//! Finishing a JSON string: a key goes into the path and is matched against field rules; a
//! value is masked by its member's rule, as a nested JSON document, or by the detectors.

use std::sync::Arc;

use super::{escape, malformed, JsonCore, St, MAX_NESTED_DOCUMENTS};
use crate::config::Strategy;
use crate::detect::Survey;
use crate::masker::{Masker, Outcome};
use crate::profile::Compiled;
use crate::MaskError;

impl JsonCore {
    pub(super) fn finish_string(&mut self, m: &mut Masker, out: &mut Vec<u8>) -> Result<(), MaskError> {
        let raw = std::mem::take(&mut self.raw);
        let result = self.finish_string_in(m, &raw, out);
        self.raw = raw;
        self.raw.clear();
        result
    }

    pub(super) fn finish_string_in(
        &mut self,
        m: &mut Masker,
        raw: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), MaskError> {
        let result = if self.str_key { self.finish_key(raw, out) } else { self.finish_value(m, raw, out) };
        self.oversize = false;
        result
    }

    /// Finishes a string that opened at `str_start` in this `input` and closes at `j`, with
    /// nothing of it written yet (the profile cannot drop, so nothing was held either).
    pub(super) fn finish_deferred(
        &mut self,
        m: &mut Masker,
        input: &[u8],
        j: usize,
        out: &mut Vec<u8>,
    ) -> Result<(), MaskError> {
        let start = self.str_start;
        let raw = &input[start..j];
        let decoded: &[u8] = if self.str_esc {
            self.scratch.clear();
            escape::decode(raw, &mut self.scratch).map_err(|w| malformed(w, self.offset))?;
            &self.scratch
        } else {
            raw
        };
        if self.str_key {
            self.st = St::Colon;
            if self.track_path {
                self.path.push_key(decoded);
                // No `drop` rule exists on this path (`can_drop` is false): a match masks.
                self.member_rule = self.profile.rules.lookup(&self.path);
            }
            return Ok(());
        }
        let scanner = &self.profile.scanner;
        let survey = if self.str_esc { None } else { self.triggers.hint(start, j) }
            .map(|hint| scanner.survey(decoded, hint));
        let mut masked = std::mem::take(&mut self.masked);
        masked.clear();
        let outcome = match self.member_rule {
            Some(_) if decoded.is_empty() => Outcome::Unchanged,
            Some(hit) => {
                m.replace(hit, decoded, &mut masked);
                Outcome::Masked
            }
            // Most values: the survey proves there is nothing to find (and no nested JSON).
            None if survey.is_some_and(|s| scanner.finds_nothing(decoded, &s))
                && !matches!(decoded.trim_ascii_start().first(), Some(b'{' | b'[')) =>
            {
                Outcome::Unchanged
            }
            None => mask_string(m, &self.profile, decoded, self.level, survey, &mut masked),
        };
        let r = match outcome {
            Outcome::Unchanged => Ok(()),
            // `Drop` cannot come from a profile without drop strategies; redact if it did.
            Outcome::Masked | Outcome::Drop => self.cut(input, start, out).map(|()| {
                escape::encode(&masked, out);
                self.seg = j;
            }),
        };
        self.masked = masked;
        self.value_done();
        r
    }

    fn finish_key(&mut self, raw: &[u8], out: &mut Vec<u8>) -> Result<(), MaskError> {
        self.st = St::Colon;
        if self.track_path {
            let key = if memchr::memchr(b'\\', raw).is_some() {
                self.scratch.clear();
                escape::decode(raw, &mut self.scratch).map_err(|w| malformed(w, self.offset))?;
                &self.scratch[..]
            } else {
                raw
            };
            self.path.push_key(key);
            if !self.dropping {
                self.member_rule = self.profile.rules.lookup(&self.path);
                if self.member_rule.is_some_and(|r| r.strategy == Strategy::Drop) {
                    self.start_drop();
                    return Ok(());
                }
            }
        }
        self.emit(b"\"", out);
        self.emit(raw, out);
        self.emit(b"\"", out);
        Ok(())
    }

    fn finish_value(&mut self, m: &mut Masker, raw: &[u8], out: &mut Vec<u8>) -> Result<(), MaskError> {
        if self.dropping {
            self.value_done();
            return Ok(());
        }
        if self.oversize {
            self.commit_pending(out);
            out.push(b'"');
            m.replace(self.profile.oversize, b"", out);
            out.push(b'"');
            self.value_done();
            return Ok(());
        }
        let decoded: &[u8] = if memchr::memchr(b'\\', raw).is_some() {
            self.scratch.clear();
            escape::decode(raw, &mut self.scratch).map_err(|w| malformed(w, self.offset))?;
            &self.scratch
        } else {
            raw
        };
        let mut masked = Vec::new();
        let outcome = match self.member_rule {
            Some(_) if decoded.is_empty() => Outcome::Unchanged,
            Some(hit) => {
                m.replace(hit, decoded, &mut masked);
                Outcome::Masked
            }
            None => mask_string(m, &self.profile, decoded, self.level, None, &mut masked),
        };
        match outcome {
            Outcome::Drop => self.discard_pending(),
            Outcome::Unchanged => {
                self.commit_pending(out);
                out.push(b'"');
                out.extend_from_slice(raw);
                out.push(b'"');
            }
            Outcome::Masked => {
                self.commit_pending(out);
                out.push(b'"');
                escape::encode(&masked, out);
                out.push(b'"');
            }
        }
        self.value_done();
        Ok(())
    }
}

/// Masks one decoded string value: a JSON document inside it is masked as JSON; otherwise
/// (or if it does not parse) the detectors scan the text.
fn mask_string(
    m: &mut Masker,
    profile: &Arc<Compiled>,
    text: &[u8],
    level: u8,
    survey: Option<Survey>,
    out: &mut Vec<u8>,
) -> Outcome {
    let trimmed = text.trim_ascii_start();
    if profile.nested_json
        && level < MAX_NESTED_DOCUMENTS
        && matches!(trimmed.first(), Some(b'{' | b'['))
        && matches!(text.trim_ascii_end().last(), Some(b'}' | b']'))
    {
        let saved = m.counts.clone();
        let mut core = JsonCore::with_level(Arc::clone(profile), false, level + 1);
        let parsed = core.push(m, text, out).and_then(|()| core.finish(m, out));
        match parsed {
            Ok(()) if out.as_slice() == text => {
                out.clear();
                return Outcome::Unchanged;
            }
            Ok(()) => return Outcome::Masked,
            Err(_) => {
                m.counts = saved;
                out.clear();
            }
        }
    }
    m.mask_text_hinted(text, None, survey, out)
}
