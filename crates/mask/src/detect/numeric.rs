//! Hand-written scanner for number-shaped personal data: card numbers, phone numbers,
//! US social security numbers and IBANs. One pass over the text; a candidate must stand
//! alone (not inside a GUID, hash, resource id, version or larger number) and pass its
//! validator, which is what keeps GUIDs, hashes and ordinary numbers unmasked.

use super::checks::{iban_mod97, luhn};
use super::{Finding, Hit};

/// Longest text any numeric detector can match (an IBAN with spaces), plus lookahead.
pub(crate) const MAX_NUMERIC_MATCH: usize = 48;

/// Shortest text a numeric detector can match (`+` and eight digits).
pub(crate) const MIN_NUMERIC_MATCH: usize = 9;

/// The enabled numeric detectors.
#[derive(Default)]
pub(crate) struct Numeric {
    pub(crate) card: Option<Hit>,
    pub(crate) phone: Option<Hit>,
    pub(crate) ssn: Option<Hit>,
    pub(crate) iban: Option<Hit>,
}

/// Bytes that make a neighbouring digit part of a larger token.
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"_-/\\+=@#%&$~".contains(&b)
}

fn prev_ok(prev: Option<u8>) -> bool {
    prev.is_none_or(|b| !is_token_byte(b) && b != b'.')
}

fn next_ok(t: &[u8], end: usize) -> bool {
    match t.get(end) {
        None => true,
        Some(&b) if b == b'.' || b == b':' || b == b',' => {
            t.get(end + 1).is_none_or(|n| !n.is_ascii_alphanumeric())
        }
        Some(&b) => !is_token_byte(b),
    }
}

struct Run {
    end: usize,
    plus: bool,
    paren: bool,
    groups: [u8; 8],
    ngroups: usize,
    seps: [u8; 8],
    digits: [u8; 24],
    ndigits: usize,
    overflow: bool,
}

impl Run {
    fn groups(&self) -> &[u8] {
        &self.groups[..self.ngroups.min(8)]
    }
    fn digits(&self) -> &[u8] {
        &self.digits[..self.ndigits.min(24)]
    }
    fn seps_uniform(&self, allowed: &[u8]) -> bool {
        let seps = &self.seps[..self.ngroups.saturating_sub(1).min(8)];
        seps.first().is_none_or(|f| allowed.contains(f) && seps.iter().all(|s| s == f))
    }
}

fn parse_run(t: &[u8], start: usize) -> Run {
    let mut r = Run {
        end: start,
        plus: false,
        paren: false,
        groups: [0; 8],
        ngroups: 0,
        seps: [0; 8],
        digits: [0; 24],
        ndigits: 0,
        overflow: false,
    };
    let mut j = start;
    match t[j] {
        b'+' => {
            r.plus = true;
            j += 1;
        }
        b'(' => {
            r.paren = true;
            j += 1;
        }
        _ => {}
    }
    loop {
        let g = j;
        while j < t.len() && t[j].is_ascii_digit() {
            if r.ndigits < 24 {
                r.digits[r.ndigits] = t[j];
            }
            r.ndigits += 1;
            j += 1;
        }
        if j == g {
            break;
        }
        if r.ngroups < 8 {
            r.groups[r.ngroups] = u8::try_from(j - g).unwrap_or(u8::MAX);
        } else {
            r.overflow = true;
        }
        r.ngroups += 1;
        r.end = j;
        let digit_at = |k: usize| t.get(k).is_some_and(u8::is_ascii_digit);
        let sep = if r.paren && r.ngroups == 1 && t.get(j) == Some(&b')') {
            if t.get(j + 1) == Some(&b' ') && digit_at(j + 2) {
                j += 2;
            } else {
                j += 1;
            }
            b')'
        } else if matches!(t.get(j), Some(b' ' | b'-' | b'.')) && digit_at(j + 1) {
            j += 1;
            t[j - 1]
        } else {
            break;
        };
        if !digit_at(j) {
            break;
        }
        if r.ngroups <= 8 {
            r.seps[r.ngroups - 1] = sep;
        }
    }
    if r.ndigits > 24 {
        r.overflow = true;
    }
    r
}

fn is_ssn(r: &Run) -> bool {
    if r.plus || r.paren || r.groups() != [3, 2, 4] || !r.seps_uniform(b"- ") {
        return false;
    }
    let d = r.digits();
    let area = &d[..3];
    area != b"000" && area != b"666" && area[0] != b'9' && &d[3..5] != b"00" && &d[5..9] != b"0000"
}

fn is_card(r: &Run) -> bool {
    if r.plus || r.paren || !(13..=19).contains(&r.ndigits) {
        return false;
    }
    let g = r.groups();
    let shape_ok = match g.len() {
        1 => true,
        _ => {
            r.seps_uniform(b" -")
                && g[0] == 4
                && (g == [4, 6, 5]
                    || g == [4, 6, 4]
                    || g[1..g.len() - 1].iter().all(|&x| x == 4) && g[g.len() - 1] <= 4)
        }
    };
    let d = r.digits();
    let iin_ok = match d[0] {
        b'3'..=b'6' => true,
        b'2' => (&b"2221"[..]..=&b"2720"[..]).contains(&&d[..4]),
        _ => false,
    };
    shape_ok && iin_ok && !d.iter().all(|&x| x == d[0]) && luhn(d)
}

fn is_phone(r: &Run) -> bool {
    if r.plus {
        return (8..=15).contains(&r.ndigits) && r.digits()[0] != b'0' && r.seps_uniform(b" -.");
    }
    let d = r.digits();
    if r.groups() != [3, 3, 4] || d[0] < b'2' {
        return false;
    }
    if r.paren {
        return r.seps[0] == b')' && matches!(r.seps[1], b'-' | b' ' | b'.');
    }
    r.seps_uniform(b"-.")
}

/// IBAN lengths by country code (the registry's fixed lengths).
fn iban_len(cc: &[u8]) -> Option<usize> {
    const TABLE: &[(&[u8; 2], u8)] = &[
        (b"AD", 24),
        (b"AE", 23),
        (b"AL", 28),
        (b"AT", 20),
        (b"AZ", 28),
        (b"BA", 20),
        (b"BE", 16),
        (b"BG", 22),
        (b"BH", 22),
        (b"BR", 29),
        (b"BY", 28),
        (b"CH", 21),
        (b"CR", 22),
        (b"CY", 28),
        (b"CZ", 24),
        (b"DE", 22),
        (b"DK", 18),
        (b"DO", 28),
        (b"EE", 20),
        (b"EG", 29),
        (b"ES", 24),
        (b"FI", 18),
        (b"FO", 18),
        (b"FR", 27),
        (b"GB", 22),
        (b"GE", 22),
        (b"GI", 23),
        (b"GL", 18),
        (b"GR", 27),
        (b"GT", 28),
        (b"HR", 21),
        (b"HU", 28),
        (b"IE", 22),
        (b"IL", 23),
        (b"IQ", 23),
        (b"IS", 26),
        (b"IT", 27),
        (b"JO", 30),
        (b"KW", 30),
        (b"KZ", 20),
        (b"LB", 28),
        (b"LC", 32),
        (b"LI", 21),
        (b"LT", 20),
        (b"LU", 20),
        (b"LV", 21),
        (b"MC", 27),
        (b"MD", 24),
        (b"ME", 22),
        (b"MK", 19),
        (b"MR", 27),
        (b"MT", 31),
        (b"MU", 30),
        (b"NL", 18),
        (b"NO", 15),
        (b"PK", 24),
        (b"PL", 28),
        (b"PS", 29),
        (b"PT", 25),
        (b"QA", 29),
        (b"RO", 24),
        (b"RS", 22),
        (b"SA", 24),
        (b"SC", 31),
        (b"SE", 24),
        (b"SI", 19),
        (b"SK", 24),
        (b"SM", 27),
        (b"ST", 25),
        (b"SV", 28),
        (b"TL", 23),
        (b"TN", 24),
        (b"TR", 26),
        (b"UA", 29),
        (b"VA", 22),
        (b"VG", 24),
        (b"XK", 20),
    ];
    TABLE.iter().find(|(c, _)| c.as_slice() == cc).map(|&(_, n)| usize::from(n))
}

/// An IBAN starting at `i` (compact, or printed in groups of four): returns its end.
fn iban_at(t: &[u8], i: usize) -> Option<usize> {
    let head = t.get(i..i + 4)?;
    if !(head[0].is_ascii_uppercase()
        && head[1].is_ascii_uppercase()
        && head[2].is_ascii_digit()
        && head[3].is_ascii_digit())
    {
        return None;
    }
    let want = iban_len(&head[..2])?;
    let mut compact = [0u8; 34];
    let mut n = 0;
    let mut j = i;
    while n < want && j < t.len() {
        let b = t[j];
        if b.is_ascii_uppercase() || b.is_ascii_digit() {
            compact[n] = b;
            n += 1;
            j += 1;
        } else if b == b' ' && n % 4 == 0 && t.get(j + 1).is_some_and(u8::is_ascii_alphanumeric) {
            j += 1;
        } else {
            break;
        }
    }
    (n == want && next_ok(t, j) && iban_mod97(&compact[..n])).then_some(j)
}

impl Numeric {
    pub(crate) fn any(&self) -> bool {
        self.card.is_some() || self.phone.is_some() || self.ssn.is_some() || self.iban.is_some()
    }

    /// Appends findings in `t`; `before` is the byte preceding `t` in the stream, if any.
    pub(crate) fn scan(&self, t: &[u8], before: Option<u8>, out: &mut Vec<Finding>) {
        let mut i = 0;
        let want_upper = self.iban.is_some();
        while i < t.len() {
            let b = t[i];
            let interesting =
                b.is_ascii_digit() || b == b'+' || b == b'(' || (want_upper && b.is_ascii_uppercase());
            if !interesting {
                i += 1;
                continue;
            }
            let prev = if i == 0 { before } else { Some(t[i - 1]) };
            if prev_ok(prev) {
                if let Some(end) = self.candidate(t, i, out) {
                    i = end.max(i + 1);
                    continue;
                }
            }
            // Nothing can start inside an alphanumeric token: skip to its end.
            i += 1;
            while i < t.len() && t[i].is_ascii_alphanumeric() {
                i += 1;
            }
        }
    }

    fn candidate(&self, t: &[u8], i: usize, out: &mut Vec<Finding>) -> Option<usize> {
        if t[i].is_ascii_uppercase() {
            let hit = self.iban?;
            let end = iban_at(t, i)?;
            out.push(hit.at(i, end));
            return Some(end);
        }
        let run = parse_run(t, i);
        if run.ngroups == 0 || run.overflow || !next_ok(t, run.end) {
            return None;
        }
        let hit = if self.ssn.is_some() && is_ssn(&run) {
            self.ssn
        } else if self.card.is_some() && is_card(&run) {
            self.card
        } else if self.phone.is_some() && is_phone(&run) {
            self.phone
        } else {
            None
        };
        if let Some(hit) = hit {
            out.push(hit.at(i, run.end));
        }
        Some(run.end)
    }
}
