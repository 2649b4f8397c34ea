//! Content detectors: find secrets and personal data inside one decoded value (or a window
//! of a text stream). An Aho-Corasick prefilter over literals decides which regexes run at
//! all; the regex crate is linear time; numeric data goes through a hand-written scanner.

mod checks;
mod chunk;
mod numeric;
mod patterns;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use regex::bytes::Regex;

use crate::config::{CustomDetector, Strategy, Validator};
use crate::MaskError;
pub(crate) use chunk::{ChunkTriggers, Hint};
use numeric::{Numeric, MAX_NUMERIC_MATCH};
pub(crate) use patterns::{builtin_names, default_on};
use patterns::{glued, Boundary, Check, NUMERIC, SPECS};

/// Index of a label (detector or field-rule name) in a compiled profile.
pub(crate) type LabelId = u16;

/// A detector's identity in a finding: what to call it and what to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Hit {
    pub(crate) label: LabelId,
    pub(crate) strategy: Strategy,
}

impl Hit {
    pub(crate) fn at(self, start: usize, end: usize) -> Finding {
        Finding { start, end, hit: self }
    }
}

/// A span of the scanned text to replace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Finding {
    pub(crate) start: usize,
    pub(crate) end: usize,
    pub(crate) hit: Hit,
}

struct RegexDetector {
    regex: Regex,
    group: bool,
    check: Check,
    boundary: Boundary,
    hit: Hit,
}

/// Byte classes for base64 runs: 1 alphanumeric, 2 standard symbol, 4 URL-safe symbol.
const B64_CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = if c.is_ascii_alphanumeric() {
            1
        } else if c == b'+' || c == b'/' {
            2
        } else if c == b'-' || c == b'_' {
            4
        } else {
            0
        };
        b += 1;
    }
    t
};

/// What one cheap pass over a value tells the scanner: which one-byte triggers occur, how
/// many digits there are, and whether any run could be a base64 blob worth decoding.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Survey {
    /// Bit per byte for `=`, `~`, `@`, `.`, `:` (see [`SURVEY_BYTES`]).
    bytes: u8,
    /// Digits, counted only in values long enough for a numeric detector (else 0).
    digits: usize,
    base64_candidate: bool,
    /// Whether a prefilter literal occurs, when a chunk search already knows.
    literal: Option<bool>,
}

const SURVEY_BYTES: &[u8; 5] = b"=~@.:";

impl Survey {
    /// The survey of a value whose triggers the chunk search already knows: digits are
    /// counted (a loop that vectorizes) and base64 runs looked for only in values long
    /// enough for them to matter.
    fn hinted(text: &[u8], hint: Hint, base64: bool) -> Self {
        let digits = if text.len() >= numeric::MIN_NUMERIC_MATCH { count_digits(text) } else { 0 };
        let base64_candidate = base64 && text.len() >= MIN_BASE64_RUN && has_base64_run(text);
        Self { bytes: hint.bytes, digits, base64_candidate, literal: Some(hint.literal) }
    }

    fn of(text: &[u8]) -> Self {
        let (mut bytes, mut digits) = (0u8, 0usize);
        let (mut run_len, mut run_classes, mut candidate) = (0usize, 0u8, false);
        for &b in text {
            digits += usize::from(b.is_ascii_digit());
            let c = B64_CLASS[usize::from(b)];
            if c == 0 {
                candidate |= run_len >= MIN_BASE64_RUN && run_classes & 6 != 6;
                run_len = 0;
                run_classes = 0;
                if let Some(k) = SURVEY_BYTES.iter().position(|&x| x == b) {
                    bytes |= 1 << k;
                }
            } else {
                run_len += 1;
                run_classes |= c;
            }
        }
        candidate |= run_len >= MIN_BASE64_RUN && run_classes & 6 != 6;
        Self { bytes, digits, base64_candidate: candidate, literal: None }
    }

    /// Whether a one- or two-byte trigger occurs; the survey answers "no" without a search
    /// when the trigger's last byte is absent.
    fn has_short(&self, text: &[u8], needle: &[u8]) -> bool {
        let Some(&last) = needle.last() else { return false };
        if let Some(k) = SURVEY_BYTES.iter().position(|&x| x == last) {
            if self.bytes & (1 << k) == 0 {
                return false;
            }
            if needle.len() == 1 {
                return true;
            }
        }
        contains_short(text, needle)
    }
}

/// Whether `text` holds a run of base64 characters long enough to be decoded and inspected
/// (one alphabet only: `/` and `-` together, as in resource ids, is not base64). It probes
/// the byte where a run from `start` would reach the minimum length and looks back from
/// there for a separator, so separator-rich text is skipped in strides.
fn has_base64_run(t: &[u8]) -> bool {
    let class = |b: &u8| B64_CLASS[usize::from(*b)];
    let mut start = 0;
    while start + MIN_BASE64_RUN <= t.len() {
        let probe = start + MIN_BASE64_RUN;
        match t[start..probe].iter().rposition(|b| class(b) == 0) {
            Some(q) => start += q + 1,
            None => {
                let end = t[probe..].iter().position(|b| class(b) == 0).map_or(t.len(), |k| probe + k);
                if t[start..end].iter().fold(0, |a, b| a | class(b)) & 6 != 6 {
                    return true;
                }
                start = end + 1;
            }
        }
    }
    false
}

/// Number of ASCII digits in `t`, 32 bytes at a time (a loop that vectorizes).
fn count_digits(t: &[u8]) -> usize {
    let mut chunks = t.chunks_exact(32);
    let mut n = 0;
    for c in &mut chunks {
        n += usize::from(c.iter().map(|&b| u8::from(b.wrapping_sub(b'0') < 10)).sum::<u8>());
    }
    n + chunks.remainder().iter().filter(|b| b.is_ascii_digit()).count()
}

/// Longest base64 run that is decoded and inspected.
const MAX_BASE64_RUN: usize = 8192;
const MIN_BASE64_RUN: usize = 24;

/// The compiled detectors of one profile.
pub(crate) struct Scanner {
    prefilter: Option<AhoCorasick>,
    /// SIMD (Teddy) search for the same literals: answers "any trigger here?" quickly.
    packed: Option<aho_corasick::packed::Searcher>,
    /// Triggers of one or two bytes (`@`, `==`, `q~`, `.`, `:`): a memchr/memmem check each is
    /// faster than making every pattern of the automaton's prefilter that short.
    short_triggers: Vec<(&'static str, u64)>,
    /// Per prefilter pattern: bitmask of the regex detectors it enables.
    enables: Vec<u64>,
    /// Regex detectors that run without a prefilter (custom ones).
    always: u64,
    regexes: Vec<RegexDetector>,
    numeric: Numeric,
    base64: bool,
    max_match: usize,
    /// Shortest text any enabled detector can match: shorter values are not scanned.
    min_match: usize,
    /// Whether [`ChunkTriggers`] can answer for this scanner: the literals have a SIMD
    /// searcher and every one-byte trigger is `=`, `~` or `@`.
    pub(crate) chunk_indexable: bool,
    /// Survey bits of the last bytes of the short triggers: if none occurs, none matches.
    short_bytes: u8,
}

/// What the profile turned on: a strategy per enabled detector name, plus a label id.
pub(crate) trait DetectorChoice {
    /// `Some(hit)` if the named detector is on.
    fn choose(&self, name: &str) -> Option<Hit>;
}

/// The (minimum, maximum) length in bytes of what `pattern` can match.
fn match_len(pattern: &str) -> Result<(usize, Option<usize>), MaskError> {
    let hir = regex_syntax::ParserBuilder::new()
        .utf8(false)
        .build()
        .parse(pattern)
        .map_err(|e| MaskError::Config(format!("regex does not parse: {e}")))?;
    let p = hir.properties();
    Ok((p.minimum_len().unwrap_or(0), p.maximum_len()))
}

impl Scanner {
    pub(crate) fn build(
        choice: &dyn DetectorChoice,
        custom: &[(CustomDetector, Hit)],
        base64: bool,
    ) -> Result<Self, MaskError> {
        let mut regexes = Vec::new();
        let mut literals: Vec<&'static str> = Vec::new();
        let mut short_triggers: Vec<(&'static str, u64)> = Vec::new();
        let mut enables: Vec<u64> = Vec::new();
        let mut max_match = MAX_NUMERIC_MATCH;
        let mut min_match = numeric::MIN_NUMERIC_MATCH;
        for spec in SPECS {
            let Some(hit) = choice.choose(spec.name) else { continue };
            let bit = 1u64 << regexes.len();
            for t in spec.triggers {
                if let Some(short) = short_triggers.iter_mut().find(|(l, _)| l == t) {
                    short.1 |= bit;
                    continue;
                }
                if t.len() < 3 {
                    short_triggers.push((t, bit));
                    continue;
                }
                match literals.iter().position(|l| l == t) {
                    Some(p) => enables[p] |= bit,
                    None => {
                        literals.push(t);
                        enables.push(bit);
                    }
                }
            }
            let regex = Regex::new(spec.pattern)
                .map_err(|e| MaskError::Config(format!("built-in detector {}: {e}", spec.name)))?;
            let (min, max) = match_len(spec.pattern)?;
            max_match = max_match.max(max.unwrap_or(0));
            min_match = min_match.min(min);
            regexes.push(RegexDetector {
                group: regex.captures_len() > 1,
                regex,
                check: spec.check,
                boundary: spec.boundary,
                hit,
            });
        }
        let mut always = 0u64;
        for (c, hit) in custom {
            if regexes.len() >= 64 {
                return Err(MaskError::Config("at most 40 custom detectors".into()));
            }
            let (min, max) = match_len(&c.regex)?;
            min_match = min_match.min(min);
            let len = max.ok_or_else(|| {
                MaskError::Config(format!(
                    "custom detector `{}`: the regex has no maximum length; use bounded repetition such as {{1,200}} instead of + or *",
                    c.name
                ))
            })?;
            max_match = max_match.max(len);
            let regex = Regex::new(&c.regex)
                .map_err(|e| MaskError::Config(format!("custom detector `{}`: {e}", c.name)))?;
            always |= 1u64 << regexes.len();
            regexes.push(RegexDetector {
                group: regex.captures_len() > 1,
                regex,
                check: match c.validator {
                    None => Check::None,
                    Some(Validator::Luhn) => Check::Luhn,
                    Some(Validator::Iban) => Check::Iban,
                    Some(Validator::Base64) => Check::Base64,
                },
                boundary: Boundary { before: b"", after: b"", alnum: false },
                hit: *hit,
            });
        }
        let prefilter = if literals.is_empty() {
            None
        } else {
            Some(
                AhoCorasickBuilder::new()
                    .ascii_case_insensitive(false)
                    .match_kind(MatchKind::Standard)
                    .build(&literals)
                    .map_err(|e| MaskError::Config(format!("prefilter: {e}")))?,
            )
        };
        let packed = if literals.is_empty() {
            None
        } else {
            let mut b = aho_corasick::packed::Config::new().builder();
            for l in &literals {
                b.add(l);
            }
            b.build()
        };
        let numeric = Numeric {
            card: choice.choose(NUMERIC[0]),
            phone: choice.choose(NUMERIC[1]),
            ssn: choice.choose(NUMERIC[2]),
            iban: choice.choose(NUMERIC[3]),
        };
        if base64 {
            max_match = max_match.max(MAX_BASE64_RUN + 2);
        }
        let short_bytes = short_triggers
            .iter()
            .filter_map(|(t, _)| t.as_bytes().last())
            .filter_map(|b| SURVEY_BYTES.iter().position(|x| x == b))
            .fold(0u8, |acc, k| acc | 1 << k);
        let chunk_indexable = packed.is_some() == prefilter.is_some()
            && short_triggers.iter().all(|(t, _)| matches!(t.as_bytes().last(), Some(b'=' | b'~' | b'@')));
        Ok(Self {
            prefilter,
            packed,
            short_triggers,
            enables,
            always,
            regexes,
            numeric,
            base64,
            max_match,
            min_match: min_match.max(1),
            chunk_indexable,
            short_bytes,
        })
    }

    /// The longest span any enabled detector can match, plus the lookahead its boundary
    /// check needs: the hold-back window of a text stream.
    pub(crate) fn window(&self) -> usize {
        self.max_match + 2
    }

    /// Appends the non-overlapping findings in `text` to `out`, sorted by position.
    /// `before` is the byte preceding `text` in the stream (for boundary checks).
    /// Returns the work done: bytes handed to detectors (each regex, the numeric scanner
    /// and decoded base64 count separately), which grows linearly with `text`.
    pub(crate) fn scan(&self, text: &[u8], before: Option<u8>, out: &mut Vec<Finding>) -> u64 {
        self.scan_hinted(text, before, out, None)
    }

    /// Surveys a value whose triggers a chunk search already found.
    pub(crate) fn survey(&self, text: &[u8], hint: Hint) -> Survey {
        Survey::hinted(text, hint, self.base64)
    }

    /// Whether the survey proves that no detector can find anything in `text`: too short,
    /// or no trigger, too few digits and no base64 run (and no custom detector to run).
    pub(crate) fn finds_nothing(&self, text: &[u8], s: &Survey) -> bool {
        text.len() < self.min_match
            || (self.always == 0
                && s.literal == Some(false)
                && s.bytes & self.short_bytes == 0
                && !(self.numeric.any() && s.digits >= 8)
                && !(self.base64 && s.base64_candidate))
    }

    /// [`scan`](Self::scan) with a survey made beforehand (from a chunk search).
    pub(crate) fn scan_hinted(
        &self,
        text: &[u8],
        before: Option<u8>,
        out: &mut Vec<Finding>,
        survey: Option<Survey>,
    ) -> u64 {
        let first = out.len();
        let work = self.scan_raw(text, before, out, true, survey);
        resolve_overlaps(out, first);
        work
    }

    fn scan_raw(
        &self,
        text: &[u8],
        before: Option<u8>,
        out: &mut Vec<Finding>,
        nested: bool,
        survey: Option<Survey>,
    ) -> u64 {
        let mut run = self.always;
        if text.len() < self.min_match {
            return 0;
        }
        let len = text.len() as u64;
        let mut work = len;
        let survey = survey.unwrap_or_else(|| Survey::of(text));
        for (t, bits) in &self.short_triggers {
            if run & bits != *bits && survey.has_short(text, t.as_bytes()) {
                run |= bits;
            }
        }
        if let Some(ac) = &self.prefilter {
            // Most values hold no trigger at all: one fast (SIMD-prefiltered) check first.
            let any = match (survey.literal, &self.packed) {
                (Some(l), _) => l,
                (None, Some(p)) => p.find(text).is_some(),
                (None, None) => ac.is_match(text),
            };
            if any {
                work += len;
                for m in ac.find_overlapping_iter(text) {
                    run |= self.enables[m.pattern().as_usize()];
                }
            }
        }
        while run != 0 {
            let idx = run.trailing_zeros() as usize;
            run &= run - 1;
            self.run_regex(&self.regexes[idx], text, before, out);
            work += len;
        }
        // Every numeric detector needs at least eight digits (a counting loop vectorizes).
        if self.numeric.any() && survey.digits >= 8 {
            self.numeric.scan(text, before, out);
            work += len;
        }
        if self.base64 && nested && survey.base64_candidate {
            work += self.scan_base64(text, before, out);
        }
        work
    }

    fn run_regex(&self, d: &RegexDetector, t: &[u8], before: Option<u8>, out: &mut Vec<Finding>) {
        let b = d.boundary;
        let prev = |s: usize| if s == 0 { before } else { Some(t[s - 1]) };
        let ok = |whole: (usize, usize), secret: (usize, usize)| {
            let before_ok = prev(whole.0).is_none_or(|p| !glued(p, b.alnum, b.before));
            let after_ok = t.get(whole.1).is_none_or(|&n| !glued(n, b.alnum, b.after));
            before_ok && after_ok && check(d.check, t, secret.0, secret.1)
        };
        if d.group {
            for caps in d.regex.captures_iter(t) {
                let (Some(w), Some(g)) = (caps.get(0), caps.get(1)) else { continue };
                if ok((w.start(), w.end()), (g.start(), g.end())) {
                    out.push(d.hit.at(g.start(), g.end()));
                }
            }
        } else {
            for m in d.regex.find_iter(t) {
                if ok((m.start(), m.end()), (m.start(), m.end())) {
                    out.push(d.hit.at(m.start(), m.end()));
                }
            }
        }
    }

    /// Base64 runs that decode to text containing a secret are masked whole, under the
    /// label of what was found inside.
    fn scan_base64(&self, t: &[u8], before: Option<u8>, out: &mut Vec<Finding>) -> u64 {
        let mut work = t.len() as u64;
        let mut i = 0;
        let mut inner = Vec::new();
        while i < t.len() {
            if B64_CLASS[usize::from(t[i])] == 0 {
                i += 1;
                continue;
            }
            let start = i;
            let mut classes = 0u8;
            while i < t.len() {
                let c = B64_CLASS[usize::from(t[i])];
                if c == 0 {
                    break;
                }
                classes |= c;
                i += 1;
            }
            // Both alphabets mixed (`/` and `-`, as in resource ids) is not base64.
            if classes & 6 == 6 || i - start < MIN_BASE64_RUN {
                continue;
            }
            while i < t.len() && t[i] == b'=' && i - start < MAX_BASE64_RUN + 2 {
                i += 1;
            }
            let len = i - start;
            let prev = if start == 0 { before } else { Some(t[start - 1]) };
            if !(MIN_BASE64_RUN..=MAX_BASE64_RUN + 2).contains(&len) || prev == Some(b'=') {
                continue;
            }
            let Some(decoded) = checks::base64_decode(&t[start..i]) else { continue };
            let printable = decoded
                .iter()
                .filter(|&&c| (0x20..0x7f).contains(&c) || matches!(c, b'\n' | b'\r' | b'\t'))
                .count();
            if decoded.len() < 12 || printable * 10 < decoded.len() * 9 {
                continue;
            }
            inner.clear();
            work += self.scan_raw(&decoded, None, &mut inner, false, None);
            if let Some(f) = inner.first() {
                out.push(f.hit.at(start, i));
            }
        }
        work
    }
}

/// Whether `text` contains `needle` (one or two bytes).
fn contains_short(text: &[u8], needle: &[u8]) -> bool {
    match *needle {
        [a] => memchr::memchr(a, text).is_some(),
        // Rarer second byte (`=`, `~`) first: cheaper than memmem's setup on short values.
        [a, b] => {
            let mut at = 0;
            while let Some(k) = memchr::memchr(b, &text[at..]) {
                let i = at + k;
                if i > 0 && text[i - 1] == a {
                    return true;
                }
                at = i + 1;
            }
            false
        }
        _ => memchr::memmem::find(text, needle).is_some(),
    }
}

fn check(c: Check, t: &[u8], s: usize, e: usize) -> bool {
    let m = &t[s..e];
    match c {
        Check::None => true,
        Check::AzureKey => checks::azure_key(m),
        Check::SasSignature => checks::sas_signature(m),
        Check::Jwt => checks::jwt(m),
        Check::MixedClasses => checks::has_mixed_classes(m),
        Check::Email => checks::email(m),
        Check::Ipv4 => patterns::ipv4_ok(t, e),
        Check::Ipv6 => checks::ipv6(m),
        Check::Luhn => checks::luhn(m),
        Check::Iban => checks::iban_mod97(m),
        Check::Base64 => checks::base64_decode(m).is_some(),
    }
}

/// Sorts `out[first..]` and keeps the earliest (then longest) of overlapping findings.
fn resolve_overlaps(out: &mut Vec<Finding>, first: usize) {
    let tail = &mut out[first..];
    if tail.len() < 2 {
        return;
    }
    tail.sort_unstable_by(|a, b| {
        a.start.cmp(&b.start).then(b.end.cmp(&a.end)).then(a.hit.label.cmp(&b.hit.label))
    });
    let mut keep = first;
    let mut last_end = 0;
    for i in first..out.len() {
        let f = out[i];
        if i == first || f.start >= last_end {
            out[keep] = f;
            keep += 1;
            last_end = f.end;
        }
    }
    out.truncate(keep);
}

#[cfg(test)]
mod tests;
