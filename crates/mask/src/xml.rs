//! XML bodies (Azure Storage list APIs answer XML). Text nodes are the unit: entities are
//! decoded before detection, the element path is matched against field rules (element
//! names, case-insensitive, namespace prefixes ignored), and masked text is re-escaped.
//! Markup (tags with their attributes, comments, CDATA sections) is scanned by the content
//! detectors as one unit each; replacement tokens contain no XML metacharacters, so the
//! document stays well-formed.

use crate::config::OnOversize;
use crate::masker::{Masker, Outcome};
use crate::path::Path;
use crate::MaskError;

/// Longest markup unit (tag, comment, CDATA section) accepted.
const MAX_MARKUP: usize = 1 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Tag,
    Comment,
    CData,
    Pi,
    Decl,
}

/// Streaming XML masker.
pub(crate) struct XmlCore {
    in_markup: bool,
    unit: Vec<u8>,
    kind: Option<Kind>,
    quote: Option<u8>,
    text: Vec<u8>,
    oversize: bool,
    path: Path,
    offset: u64,
}

fn decode_entities(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        if s[i] == b'&' {
            if let Some(len) = memchr::memchr(b';', &s[i..(i + 12).min(s.len())]) {
                let name = &s[i + 1..i + len];
                let c = match name {
                    b"lt" => Some('<'),
                    b"gt" => Some('>'),
                    b"amp" => Some('&'),
                    b"quot" => Some('"'),
                    b"apos" => Some('\''),
                    [b'#', b'x' | b'X', hex @ ..] => std::str::from_utf8(hex)
                        .ok()
                        .and_then(|h| u32::from_str_radix(h, 16).ok())
                        .and_then(char::from_u32),
                    [b'#', dec @ ..] => {
                        std::str::from_utf8(dec).ok().and_then(|d| d.parse().ok()).and_then(char::from_u32)
                    }
                    _ => None,
                };
                if let Some(c) = c {
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                    i += len + 1;
                    continue;
                }
            }
        }
        out.push(s[i]);
        i += 1;
    }
    out
}

fn escape(s: &[u8], out: &mut Vec<u8>) {
    for &b in s {
        match b {
            b'&' => out.extend_from_slice(b"&amp;"),
            b'<' => out.extend_from_slice(b"&lt;"),
            b'>' => out.extend_from_slice(b"&gt;"),
            _ => out.push(b),
        }
    }
}

fn kind_of(u: &[u8]) -> Option<Kind> {
    const CDATA: &[u8] = b"<![CDATA[";
    match u.get(1)? {
        b'?' => Some(Kind::Pi),
        b'!' if u.len() < 4 => None,
        b'!' if u.starts_with(b"<!--") => Some(Kind::Comment),
        b'!' if u.len() < CDATA.len() && CDATA.starts_with(u) => None,
        b'!' if u.starts_with(CDATA) => Some(Kind::CData),
        b'!' => Some(Kind::Decl),
        _ => Some(Kind::Tag),
    }
}

/// The local name of the element a start or end tag names.
fn tag_name(unit: &[u8]) -> &[u8] {
    let body = unit.strip_prefix(b"</").or_else(|| unit.strip_prefix(b"<")).unwrap_or(unit);
    let end =
        body.iter().position(|&b| b.is_ascii_whitespace() || b == b'/' || b == b'>').unwrap_or(body.len());
    let name = &body[..end];
    match memchr::memrchr(b':', name) {
        Some(c) => &name[c + 1..],
        None => name,
    }
}

impl XmlCore {
    pub(crate) fn new() -> Self {
        Self {
            in_markup: false,
            unit: Vec::new(),
            kind: None,
            quote: None,
            text: Vec::new(),
            oversize: false,
            path: Path::default(),
            offset: 0,
        }
    }

    pub(crate) fn push(&mut self, m: &mut Masker, input: &[u8], out: &mut Vec<u8>) -> Result<(), MaskError> {
        let mut i = 0;
        while i < input.len() {
            if !self.in_markup {
                let k = memchr::memchr(b'<', &input[i..]).unwrap_or(input.len() - i);
                self.take_text(m, &input[i..i + k])?;
                i += k;
                if i < input.len() {
                    self.flush_text(m, out);
                    self.in_markup = true;
                    self.kind = None;
                    self.quote = None;
                }
                continue;
            }
            let b = input[i];
            i += 1;
            self.unit.push(b);
            if self.unit.len() > MAX_MARKUP {
                return Err(MaskError::TooLong { what: "XML markup", limit: MAX_MARKUP });
            }
            if self.kind.is_none() {
                self.kind = kind_of(&self.unit);
            }
            let done = match self.kind {
                None => false,
                Some(Kind::Tag | Kind::Decl) => {
                    match (self.quote, b) {
                        (None, b'"' | b'\'') if self.unit.len() > 1 => self.quote = Some(b),
                        (Some(q), _) if q == b => self.quote = None,
                        _ => {}
                    }
                    self.quote.is_none() && b == b'>'
                }
                Some(Kind::Comment) => self.unit.len() >= 7 && self.unit.ends_with(b"-->"),
                Some(Kind::CData) => self.unit.len() >= 12 && self.unit.ends_with(b"]]>"),
                Some(Kind::Pi) => self.unit.ends_with(b"?>"),
            };
            if done {
                self.end_markup(m, out)?;
            }
        }
        self.offset += input.len() as u64;
        Ok(())
    }

    fn take_text(&mut self, m: &Masker, bytes: &[u8]) -> Result<(), MaskError> {
        let limit = m.profile.max_string;
        if self.text.len() + bytes.len() > limit {
            if m.profile.on_oversize == OnOversize::Refuse {
                return Err(MaskError::TooLong { what: "XML text node", limit });
            }
            self.oversize = true;
            self.text.clear();
        }
        if !self.oversize {
            self.text.extend_from_slice(bytes);
        }
        Ok(())
    }

    fn flush_text(&mut self, m: &mut Masker, out: &mut Vec<u8>) {
        if self.oversize {
            m.replace(m.profile.oversize, b"", out);
            self.oversize = false;
            return;
        }
        let text = std::mem::take(&mut self.text);
        if !text.iter().all(u8::is_ascii_whitespace) {
            let decoded =
                if memchr::memchr(b'&', &text).is_some() { decode_entities(&text) } else { text.clone() };
            let mut masked = Vec::new();
            let rule = if self.path.len() > 0 { m.profile.rules.lookup(&self.path) } else { None };
            let outcome = match rule {
                Some(hit) => {
                    m.replace(hit, decoded.trim_ascii(), &mut masked);
                    Outcome::Masked
                }
                None => m.mask_text(&decoded, None, &mut masked),
            };
            if outcome == Outcome::Unchanged {
                out.extend_from_slice(&text);
            } else {
                escape(&masked, out);
            }
        } else {
            out.extend_from_slice(&text);
        }
        self.text = text;
        self.text.clear();
    }

    fn end_markup(&mut self, m: &mut Masker, out: &mut Vec<u8>) -> Result<(), MaskError> {
        let unit = std::mem::take(&mut self.unit);
        if self.kind == Some(Kind::Tag) {
            let closing = unit.starts_with(b"</");
            let self_closing = unit.ends_with(b"/>");
            if closing {
                if self.path.len() == 0 {
                    return Err(MaskError::Malformed {
                        format: "XML",
                        what: "end tag without start tag",
                        offset: self.offset,
                    });
                }
                self.path.pop();
            } else if !self_closing {
                if self.path.len() >= m.profile.max_depth {
                    return Err(MaskError::TooDeep { limit: m.profile.max_depth });
                }
                self.path.push_key(tag_name(&unit));
            }
        }
        if m.mask_text(&unit, None, out) == Outcome::Unchanged {
            out.extend_from_slice(&unit);
        }
        self.unit = unit;
        self.unit.clear();
        self.in_markup = false;
        Ok(())
    }

    pub(crate) fn finish(&mut self, m: &mut Masker, out: &mut Vec<u8>) -> Result<(), MaskError> {
        if self.in_markup {
            return Err(MaskError::Truncated { format: "XML" });
        }
        self.flush_text(m, out);
        Ok(())
    }
}
