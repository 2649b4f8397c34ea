//! `application/x-www-form-urlencoded` bodies: each `key=value` pair is a unit. Keys are
//! matched against field rules by name; values are percent-decoded before detection and
//! re-encoded when masked.

use crate::config::OnOversize;
use crate::masker::{Masker, Outcome};
use crate::MaskError;

/// Streaming form masker.
pub(crate) struct FormCore {
    pair: Vec<u8>,
    oversize: bool,
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).and_then(|d| u8::try_from(d).ok())
}

/// Percent-decodes (`+` is a space); malformed escapes stay as they are.
pub(crate) fn decode(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            b'+' => out.push(b' '),
            b'%' => match (s.get(i + 1).copied().and_then(hex), s.get(i + 2).copied().and_then(hex)) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    out
}

fn encode(s: &[u8], out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in s {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => out.push(b),
            b' ' => out.push(b'+'),
            _ => out.extend_from_slice(&[b'%', HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]),
        }
    }
}

impl FormCore {
    pub(crate) fn new() -> Self {
        Self { pair: Vec::new(), oversize: false }
    }

    pub(crate) fn push(&mut self, m: &mut Masker, input: &[u8], out: &mut Vec<u8>) -> Result<(), MaskError> {
        let mut rest = input;
        while let Some(k) = memchr::memchr(b'&', rest) {
            self.take(m, &rest[..k])?;
            self.flush(m, out);
            out.push(b'&');
            rest = &rest[k + 1..];
        }
        self.take(m, rest)
    }

    fn take(&mut self, m: &Masker, bytes: &[u8]) -> Result<(), MaskError> {
        let limit = m.profile.max_string;
        if self.pair.len() + bytes.len() > limit {
            if m.profile.on_oversize == OnOversize::Refuse {
                return Err(MaskError::TooLong { what: "form field", limit });
            }
            self.oversize = true;
            // Keep the key (up to the `=`) so the field stays recognizable.
            let keep = memchr::memchr(b'=', &self.pair).map_or(0, |e| e + 1);
            self.pair.truncate(keep.min(limit));
            return Ok(());
        }
        if !self.oversize {
            self.pair.extend_from_slice(bytes);
        }
        Ok(())
    }

    fn flush(&mut self, m: &mut Masker, out: &mut Vec<u8>) {
        let pair = std::mem::take(&mut self.pair);
        let (key, value) = match memchr::memchr(b'=', &pair) {
            Some(e) => (&pair[..e], Some(&pair[e + 1..])),
            None => (&pair[..], None),
        };
        out.extend_from_slice(key);
        if let Some(value) = value {
            out.push(b'=');
            let decoded = decode(value);
            let mut masked = Vec::new();
            let outcome = if self.oversize {
                m.replace(m.profile.oversize, b"", &mut masked);
                Outcome::Masked
            } else if let Some(hit) =
                m.profile.rules.lookup_name(&decode(key)).filter(|_| !decoded.is_empty())
            {
                m.replace(hit, &decoded, &mut masked);
                Outcome::Masked
            } else {
                m.mask_text(&decoded, None, &mut masked)
            };
            match outcome {
                Outcome::Unchanged => out.extend_from_slice(value),
                Outcome::Masked | Outcome::Drop => encode(&masked, out),
            }
        }
        self.oversize = false;
        self.pair = pair;
        self.pair.clear();
    }

    pub(crate) fn finish(&mut self, m: &mut Masker, out: &mut Vec<u8>) {
        if !self.pair.is_empty() || self.oversize {
            self.flush(m, out);
        }
    }
}
