//! [`MaskStream`]: one response body going through masking, chunk by chunk.

use std::borrow::Cow;

use crate::config::OnUnknown;
use crate::encoding::{Decoder, SLICE};
use crate::form::FormCore;
use crate::json::JsonCore;
use crate::masker::{Masker, Outcome};
use crate::text::TextCore;
use crate::xml::XmlCore;
use crate::{MaskError, MaskReport};

pub(crate) enum Format {
    Json(Box<JsonCore>),
    Text(TextCore),
    Xml(XmlCore),
    Form(FormCore),
    /// Content that cannot be inspected: refused on the first byte, or passed (by profile).
    Unknown(String),
}

/// Masks one response body. Feed it with [`push`](Self::push), end it with
/// [`finish`](Self::finish), then read [`report`](Self::report). It holds back at most a
/// bounded window (one JSON string / XML text node / form pair up to `max_string_bytes`, or
/// the text detectors' longest match), never the whole body.
///
/// After an error the stream is poisoned: the response must be aborted, not completed.
pub struct MaskStream {
    pub(crate) masker: Masker,
    pub(crate) format: Format,
    pub(crate) decoder: Option<Decoder>,
    pub(crate) failed: bool,
    decoded: Vec<u8>,
}

impl std::fmt::Debug for MaskStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MaskStream")
            .field("profile", &self.masker.profile.name)
            .field("decoding", &self.decoder.is_some())
            .field("failed", &self.failed)
            .finish_non_exhaustive()
    }
}

impl MaskStream {
    pub(crate) fn new(masker: Masker, format: Format, decoder: Option<Decoder>) -> Self {
        Self { masker, format, decoder, failed: false, decoded: Vec::new() }
    }

    /// Whether the body passes through unmasked and undecoded (unknown content on a profile
    /// with `on_unknown = "pass"`): the response keeps its `Content-Encoding`.
    pub fn is_passthrough(&self) -> bool {
        matches!(self.format, Format::Unknown(_)) && self.masker.profile.on_unknown == OnUnknown::Pass
    }

    /// Whether the output is decoded (identity) while the input was compressed: the gateway
    /// must drop `Content-Encoding` and `Content-Length` from the response it forwards.
    pub fn output_is_decoded(&self) -> bool {
        self.decoder.is_some() && !self.is_passthrough()
    }

    /// Feeds one chunk of the body (as received, possibly compressed) and appends the masked
    /// bytes that are ready to `out`.
    pub fn push(&mut self, chunk: &[u8], out: &mut Vec<u8>) -> Result<(), MaskError> {
        if self.failed {
            return Err(MaskError::Failed);
        }
        let r = self.push_inner(chunk, out);
        self.failed = r.is_err();
        r
    }

    fn push_inner(&mut self, chunk: &[u8], out: &mut Vec<u8>) -> Result<(), MaskError> {
        if self.is_passthrough() {
            out.extend_from_slice(chunk);
            return Ok(());
        }
        if self.decoder.is_none() {
            return self.feed(chunk, out);
        }
        for slice in chunk.chunks(SLICE) {
            let mut decoded = std::mem::take(&mut self.decoded);
            if let Some(d) = self.decoder.as_mut() {
                d.write(slice)?;
                d.take(&mut decoded);
            }
            let r = self.feed(&decoded, out);
            decoded.clear();
            self.decoded = decoded;
            r?;
        }
        Ok(())
    }

    fn feed(&mut self, data: &[u8], out: &mut Vec<u8>) -> Result<(), MaskError> {
        let m = &mut self.masker;
        match &mut self.format {
            Format::Json(c) => c.push(m, data, out),
            Format::Text(c) => {
                c.push(m, data, out);
                Ok(())
            }
            Format::Xml(c) => c.push(m, data, out),
            Format::Form(c) => c.push(m, data, out),
            Format::Unknown(ct) if data.is_empty() => {
                let _ = ct;
                Ok(())
            }
            Format::Unknown(ct) => Err(MaskError::UnsupportedContent {
                content_type: ct.clone(),
                profile: m.profile.name.clone(),
            }),
        }
    }

    /// Ends the body: flushes what was held back. Fails if the body was truncated or
    /// malformed at its end.
    pub fn finish(&mut self, out: &mut Vec<u8>) -> Result<(), MaskError> {
        if self.failed {
            return Err(MaskError::Failed);
        }
        let r = self.finish_inner(out);
        self.failed = r.is_err();
        r
    }

    fn finish_inner(&mut self, out: &mut Vec<u8>) -> Result<(), MaskError> {
        if self.is_passthrough() {
            return Ok(());
        }
        if let Some(d) = self.decoder.as_mut() {
            d.finish()?;
            let mut decoded = Vec::new();
            d.take(&mut decoded);
            self.feed(&decoded, out)?;
        }
        let m = &mut self.masker;
        match &mut self.format {
            Format::Json(c) => c.finish(m, out),
            Format::Text(c) => {
                c.finish(m, out);
                Ok(())
            }
            Format::Xml(c) => c.finish(m, out),
            Format::Form(c) => {
                c.finish(m, out);
                Ok(())
            }
            Format::Unknown(_) => Ok(()),
        }
    }

    /// Counts of what was masked so far (body and headers), by label. Never values.
    pub fn report(&self) -> MaskReport {
        MaskReport { counts: self.masker.counts().map(|(l, c)| (l.to_string(), c)).collect() }
    }

    /// Bytes the detectors have examined so far (a value counts once per detector that ran
    /// over it). A work measure for tests and metrics: it grows linearly with the body, which
    /// together with bounded patterns and the regex crate's linear-time search keeps masking
    /// linear on any input.
    pub fn scanned_bytes(&self) -> u64 {
        self.masker.work
    }

    /// Masks one response header value by the same rules (field rules match the header
    /// name); counted in this stream's report.
    pub fn mask_header_value<'a>(&mut self, name: &str, value: &'a str) -> Cow<'a, str> {
        mask_header(&mut self.masker, name, value)
    }
}

pub(crate) fn mask_header<'a>(m: &mut Masker, name: &str, value: &'a str) -> Cow<'a, str> {
    let mut masked = Vec::new();
    let outcome = match m.profile.rules.lookup_name(name.as_bytes()) {
        Some(hit) if !value.is_empty() => {
            m.replace(hit, value.as_bytes(), &mut masked);
            Outcome::Masked
        }
        _ => m.mask_text(value.as_bytes(), None, &mut masked),
    };
    match outcome {
        Outcome::Unchanged => Cow::Borrowed(value),
        Outcome::Masked | Outcome::Drop => Cow::Owned(String::from_utf8_lossy(&masked).into_owned()),
    }
}
