//! Streaming JSON masking with a tokenizer of our own: no DOM, no recursion, bounded memory.
//!
//! Bytes outside strings are copied through as they arrive. A string is the unit of
//! inspection: its raw bytes are held until the closing quote (at most `max_string_bytes`),
//! then decoded, matched against field rules (by path) and scanned by the detectors. An
//! unmasked string is written back byte for byte; a masked one is re-encoded with minimal
//! escapes. When the profile can `drop`, the separator and key of each member are held
//! until its value is decided, so that removing a member keeps the document valid.
//!
//! The hot path (a string that opens and closes inside one chunk, on a profile that cannot
//! `drop`) writes nothing for the string: it is inspected in place and, if unchanged, copied
//! together with the structural bytes around it in one slice. Trigger literals and bytes are
//! searched once per chunk ([`ChunkTriggers`]), not once per value.

mod escape;
mod strings;

use std::sync::Arc;

use crate::config::{OnOversize, Strategy};
use crate::detect::{ChunkTriggers, Hit};
use crate::masker::Masker;
use crate::path::Path;
use crate::profile::Compiled;
use crate::MaskError;

/// How many JSON documents nested in JSON strings are opened, one inside the other.
const MAX_NESTED_DOCUMENTS: u8 = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum St {
    /// A value is expected (after `:`, `,` in an array, at the top).
    Value,
    /// After `[`: a value or `]`.
    ArrFirst,
    /// After `{`: a key or `}`.
    ObjFirst,
    /// After `,` in an object: a key.
    ObjKey,
    /// After a key: `:`.
    Colon,
    /// After a value inside a container: `,` or the closer.
    After,
    Str,
    Num,
    Lit,
    /// The top-level value is complete.
    Done,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dest {
    Out,
    Pending,
    Discard,
    Num,
}

#[derive(Debug, Clone, Copy)]
struct Frame {
    obj: bool,
    emitted: bool,
    index: u64,
    mask: Option<Hit>,
}

/// One JSON (or NDJSON) document stream.
pub(crate) struct JsonCore {
    profile: Arc<Compiled>,
    st: St,
    ndjson: bool,
    level: u8,
    can_drop: bool,
    track_path: bool,
    frames: Vec<Frame>,
    path: Path,
    dest: Dest,
    pending: Vec<u8>,
    pending_comma: bool,
    dropping: bool,
    drop_depth: usize,
    member_rule: Option<Hit>,
    str_key: bool,
    esc: bool,
    oversize: bool,
    raw: Vec<u8>,
    scratch: Vec<u8>,
    num: Vec<u8>,
    lit: &'static [u8],
    lit_pos: usize,
    seg: usize,
    offset: u64,
    seen_value: bool,
    /// Trigger positions of the chunk being pushed.
    triggers: ChunkTriggers,
    /// The open string started in this chunk (at `str_start`, after its quote) and nothing of
    /// it has been written: unchanged, it goes out with the bytes around it.
    deferred: bool,
    str_start: usize,
    /// Whether the open string holds a backslash escape.
    str_esc: bool,
    /// Reused buffer for masked string values.
    masked: Vec<u8>,
}

/// Chunks shorter than this are not indexed for triggers (values are searched one by one).
const INDEX_MIN_CHUNK: usize = 32;

fn malformed(what: &'static str, offset: u64) -> MaskError {
    MaskError::Malformed { format: "JSON", what, offset }
}

fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

impl JsonCore {
    pub(crate) fn new(profile: Arc<Compiled>, ndjson: bool) -> Self {
        Self::with_level(profile, ndjson, 0)
    }

    fn with_level(profile: Arc<Compiled>, ndjson: bool, level: u8) -> Self {
        let can_drop = profile.can_drop();
        let track_path = !profile.rules.is_empty();
        Self {
            profile,
            st: St::Value,
            ndjson,
            level,
            can_drop,
            track_path,
            frames: Vec::new(),
            path: Path::default(),
            dest: Dest::Out,
            pending: Vec::new(),
            pending_comma: false,
            dropping: false,
            drop_depth: 0,
            member_rule: None,
            str_key: false,
            esc: false,
            oversize: false,
            raw: Vec::new(),
            scratch: Vec::new(),
            num: Vec::new(),
            lit: b"",
            lit_pos: 0,
            seg: 0,
            offset: 0,
            seen_value: false,
            triggers: ChunkTriggers::default(),
            deferred: false,
            str_start: 0,
            str_esc: false,
            masked: Vec::new(),
        }
    }

    /// Routes `input[seg..at]` to the current destination.
    fn cut(&mut self, input: &[u8], at: usize, out: &mut Vec<u8>) -> Result<(), MaskError> {
        let bytes = &input[self.seg..at];
        self.seg = at;
        match self.dest {
            Dest::Out => out.extend_from_slice(bytes),
            Dest::Discard => {}
            Dest::Num => {
                self.num.extend_from_slice(bytes);
                if self.num.len() > self.profile.max_string {
                    return Err(MaskError::TooLong { what: "JSON number", limit: self.profile.max_string });
                }
            }
            Dest::Pending => {
                self.pending.extend_from_slice(bytes);
                let limit = self.profile.max_string.saturating_mul(2) + 65536;
                if self.pending.len() > limit {
                    return Err(MaskError::TooLong { what: "JSON member key and whitespace", limit });
                }
            }
        }
        Ok(())
    }

    fn emit(&mut self, bytes: &[u8], out: &mut Vec<u8>) {
        match self.dest {
            Dest::Out => out.extend_from_slice(bytes),
            Dest::Pending => self.pending.extend_from_slice(bytes),
            Dest::Discard | Dest::Num => {}
        }
    }

    /// The held separator/key of the current member go out: the member is kept.
    fn commit_pending(&mut self, out: &mut Vec<u8>) {
        if self.dropping {
            return;
        }
        let Some(frame) = self.frames.last_mut() else { return };
        let skip = usize::from(self.pending_comma && !frame.emitted);
        out.extend_from_slice(&self.pending[skip.min(self.pending.len())..]);
        self.pending.clear();
        self.pending_comma = false;
        frame.emitted = true;
        self.dest = Dest::Out;
    }

    /// The held separator/key of the current member are dropped with it.
    fn discard_pending(&mut self) {
        self.pending.clear();
        self.pending_comma = false;
    }

    fn start_drop(&mut self) {
        self.discard_pending();
        self.dropping = true;
        self.drop_depth = self.frames.len();
        self.dest = Dest::Discard;
    }

    fn value_done(&mut self) {
        if let Some(f) = self.frames.last_mut() {
            if !f.obj {
                f.index += 1;
            }
            if self.track_path {
                self.path.pop();
            }
        }
        self.member_rule = None;
        if self.dropping && self.frames.len() == self.drop_depth {
            self.dropping = false;
        }
        if !self.dropping {
            self.dest = Dest::Out;
        }
        self.st = if self.frames.is_empty() { St::Done } else { St::After };
    }

    fn begin_value(&mut self, input: &[u8], i: usize, out: &mut Vec<u8>) -> Result<usize, MaskError> {
        let b = input[i];
        let at = self.offset + i as u64;
        if let Some(f) = self.frames.last() {
            if !f.obj {
                let idx = f.index;
                if self.track_path {
                    self.path.push_index(idx);
                    if !self.dropping && self.profile.rules.index_tail() {
                        self.member_rule = self.profile.rules.lookup(&self.path);
                    }
                }
            }
        }
        let inherited = self.frames.last().and_then(|f| f.mask);
        let rule = self.member_rule.or(inherited);
        if !self.dropping && rule.is_some_and(|r| r.strategy == Strategy::Drop) {
            self.cut(input, i, out)?;
            self.start_drop();
        }
        self.member_rule = rule;
        self.seen_value = true;
        match b {
            b'"' => {
                self.open_string(input, i, false, out)?;
            }
            b'{' | b'[' => {
                self.cut(input, i, out)?;
                self.commit_pending(out);
                self.open(b == b'{', rule, out)?;
                self.seg = i + 1;
            }
            b'-' | b'0'..=b'9' => {
                self.cut(input, i, out)?;
                self.commit_pending(out);
                if rule.is_some() && !self.dropping {
                    self.dest = Dest::Num;
                }
                self.st = St::Num;
                return Ok(i);
            }
            b't' | b'f' | b'n' => {
                self.cut(input, i, out)?;
                self.commit_pending(out);
                self.lit = match b {
                    b't' => b"true",
                    b'f' => b"false",
                    _ => b"null",
                };
                self.lit_pos = 0;
                self.st = St::Lit;
                return Ok(i);
            }
            _ => return Err(malformed("unexpected character where a value was expected", at)),
        }
        Ok(i + 1)
    }

    fn open(&mut self, obj: bool, rule: Option<Hit>, out: &mut Vec<u8>) -> Result<(), MaskError> {
        if self.frames.len() >= self.profile.max_depth {
            return Err(MaskError::TooDeep { limit: self.profile.max_depth });
        }
        if !self.dropping {
            out.push(if obj { b'{' } else { b'[' });
        }
        let mask = rule.filter(|r| r.strategy != Strategy::Drop);
        self.frames.push(Frame { obj, emitted: false, index: 0, mask });
        self.member_rule = None;
        self.st = if obj { St::ObjFirst } else { St::ArrFirst };
        if self.can_drop && !self.dropping {
            self.dest = Dest::Pending;
            self.pending_comma = false;
        }
        Ok(())
    }

    fn close(&mut self, input: &[u8], i: usize, out: &mut Vec<u8>) -> Result<(), MaskError> {
        self.cut(input, i, out)?;
        let obj = input[i] == b'}';
        if !self.dropping {
            out.extend_from_slice(&self.pending);
            self.discard_pending();
            self.dest = Dest::Out;
            out.push(input[i]);
        }
        self.seg = i + 1;
        self.frames.pop();
        let _ = obj;
        self.value_done();
        Ok(())
    }

    fn separator(&mut self, input: &[u8], i: usize, out: &mut Vec<u8>) -> Result<(), MaskError> {
        let obj = self.frames.last().is_some_and(|f| f.obj);
        if self.can_drop && !self.dropping {
            self.cut(input, i, out)?;
            self.dest = Dest::Pending;
            self.pending_comma = true;
        }
        self.st = if obj { St::ObjKey } else { St::Value };
        Ok(())
    }

    fn take_raw(&mut self, bytes: &[u8]) -> Result<(), MaskError> {
        if self.oversize {
            return Ok(());
        }
        if self.raw.len() + bytes.len() > self.profile.max_string {
            if self.str_key || self.profile.on_oversize == OnOversize::Refuse {
                let what = if self.str_key { "JSON key" } else { "JSON string" };
                return Err(MaskError::TooLong { what, limit: self.profile.max_string });
            }
            self.oversize = true;
            self.raw.clear();
            return Ok(());
        }
        self.raw.extend_from_slice(bytes);
        Ok(())
    }

    /// A string opens at `input[i]` (its quote). On the hot path nothing is written yet.
    fn open_string(&mut self, input: &[u8], i: usize, key: bool, out: &mut Vec<u8>) -> Result<(), MaskError> {
        self.st = St::Str;
        self.str_key = key;
        self.str_start = i + 1;
        self.str_esc = false;
        self.deferred = self.dest == Dest::Out && !self.can_drop;
        if !self.deferred {
            self.cut(input, i, out)?;
            self.seg = i + 1;
        }
        Ok(())
    }

    /// Leaves the hot path for the open string: what precedes its quote goes out, and the
    /// string continues as a held one (its quotes are written when it is finished).
    fn undefer(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<(), MaskError> {
        if self.deferred {
            self.deferred = false;
            self.cut(input, self.str_start - 1, out)?;
            self.seg = self.str_start;
        }
        Ok(())
    }

    /// Feeds `input`; masked output is appended to `out`.
    pub(crate) fn push(&mut self, m: &mut Masker, input: &[u8], out: &mut Vec<u8>) -> Result<(), MaskError> {
        let mut i = 0;
        self.seg = 0;
        self.deferred = false;
        let n = input.len();
        let indexed = if n >= INDEX_MIN_CHUNK { input } else { &[] };
        self.triggers.index(&self.profile.scanner, indexed);
        while i < n {
            if self.st == St::Str {
                if self.esc {
                    self.esc = false;
                    i += 1;
                    continue;
                }
                match memchr::memchr2(b'"', b'\\', &input[i..]) {
                    None => i = n,
                    Some(k) if input[i + k] == b'\\' => {
                        self.esc = true;
                        self.str_esc = true;
                        i += k + 1;
                    }
                    Some(k) => {
                        let j = i + k;
                        if self.deferred && j - self.str_start <= self.profile.max_string {
                            i = j + 1;
                            self.deferred = false;
                            self.finish_deferred(m, input, j, out)?;
                            continue;
                        }
                        self.undefer(input, out)?;
                        if self.raw.is_empty() && !self.oversize && j - self.seg <= self.profile.max_string {
                            // The whole string is in this chunk: inspect it in place.
                            let start = self.seg;
                            i = j + 1;
                            self.seg = i;
                            self.finish_string_in(m, &input[start..j], out)?;
                        } else {
                            self.take_raw(&input[self.seg..j])?;
                            i = j + 1;
                            self.seg = i;
                            self.finish_string(m, out)?;
                        }
                    }
                }
                continue;
            }
            let b = input[i];
            let at = self.offset + i as u64;
            match self.st {
                St::Num => {
                    if b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.' | b'e' | b'E') {
                        i += 1;
                    } else {
                        self.end_number(m, input, i, out)?;
                    }
                    continue;
                }
                St::Lit => {
                    if self.lit.get(self.lit_pos) != Some(&b) {
                        return Err(malformed("invalid literal", at));
                    }
                    self.lit_pos += 1;
                    i += 1;
                    if self.lit_pos == self.lit.len() {
                        self.value_done();
                    }
                    continue;
                }
                _ => {}
            }
            // A UTF-8 byte order mark before the document counts as whitespace.
            let bom = self.offset + (i as u64) < 3 && !self.seen_value && matches!(b, 0xEF | 0xBB | 0xBF);
            if is_ws(b) || bom {
                i += 1;
                continue;
            }
            match (self.st, b) {
                (St::Value | St::ArrFirst, _) if !(self.st == St::ArrFirst && b == b']') => {
                    i = self.begin_value(input, i, out)?;
                }
                (St::Done, _) if self.ndjson => {
                    i = self.begin_value(input, i, out)?;
                }
                (St::ObjFirst | St::ObjKey, b'"') => {
                    self.open_string(input, i, true, out)?;
                    i += 1;
                }
                (St::Colon, b':') => {
                    self.st = St::Value;
                    i += 1;
                }
                (St::After, b',') => {
                    self.separator(input, i, out)?;
                    i += 1;
                }
                (St::After | St::ObjFirst, b'}') | (St::After | St::ArrFirst, b']')
                    if self.frames.last().is_some_and(|f| f.obj == (b == b'}')) =>
                {
                    self.close(input, i, out)?;
                    i += 1;
                }
                (St::Done, _) => return Err(malformed("unexpected data after the JSON document", at)),
                _ => return Err(malformed("unexpected character", at)),
            }
        }
        if self.st == St::Str {
            self.undefer(input, out)?;
            self.take_raw(&input[self.seg..n])?;
        } else {
            self.cut(input, n, out)?;
        }
        self.offset += n as u64;
        Ok(())
    }

    fn end_number(
        &mut self,
        m: &mut Masker,
        input: &[u8],
        i: usize,
        out: &mut Vec<u8>,
    ) -> Result<(), MaskError> {
        self.cut(input, i, out)?;
        if self.dest == Dest::Num {
            let num = std::mem::take(&mut self.num);
            if let Some(hit) = self.member_rule {
                out.push(b'"');
                m.replace(hit, &num, out);
                out.push(b'"');
            }
            self.num = num;
            self.num.clear();
        }
        self.value_done();
        Ok(())
    }

    /// Ends the stream: the document must be complete (or absent).
    pub(crate) fn finish(&mut self, m: &mut Masker, out: &mut Vec<u8>) -> Result<(), MaskError> {
        self.seg = 0;
        match self.st {
            St::Done => Ok(()),
            St::Value if self.frames.is_empty() && !self.seen_value => Ok(()),
            St::Num if self.frames.is_empty() => self.end_number(m, &[], 0, out),
            _ => Err(MaskError::Truncated { format: "JSON" }),
        }
    }
}
