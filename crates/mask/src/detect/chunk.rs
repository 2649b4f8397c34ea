//! One trigger search per chunk instead of one per value: the SIMD literal search and the
//! trigger-byte search run once over the chunk a streaming parser received, and each value
//! found inside that chunk (without escapes) then asks "which triggers occur in my span?"
//! with two cursors. Most JSON values are short, and a SIMD search is much faster over 64 KiB
//! at once than over a dozen bytes at a time.

use super::Scanner;

/// What the chunk search knows about one value before it is scanned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Hint {
    /// Whether a prefilter literal (three bytes or more) starts inside the value.
    pub(crate) literal: bool,
    /// Which trigger bytes occur in the value, one bit per byte of `SURVEY_BYTES`.
    pub(crate) bytes: u8,
}

/// At most this many positions of each kind are recorded per chunk (memory stays bounded
/// when a caller pushes a huge chunk full of `=`); past that, values are scanned unhinted.
const MAX_POSITIONS: usize = 16 * 1024;

/// Trigger positions in the current chunk, consumed in increasing order.
#[derive(Debug, Default)]
pub(crate) struct ChunkTriggers {
    literals: Vec<usize>,
    bytes: Vec<(usize, u8)>,
    next_literal: usize,
    next_byte: usize,
    /// The index is complete for values that end at or before this position.
    covered: usize,
}

impl ChunkTriggers {
    /// Indexes `chunk` for `scanner`; afterwards [`hint`](Self::hint) answers for spans of it.
    pub(crate) fn index(&mut self, scanner: &Scanner, chunk: &[u8]) {
        self.literals.clear();
        self.bytes.clear();
        self.next_literal = 0;
        self.next_byte = 0;
        self.covered = 0;
        if !scanner.chunk_indexable {
            return;
        }
        let mut covered = chunk.len();
        if let Some(packed) = &scanner.packed {
            for m in packed.find_iter(chunk) {
                if self.literals.len() == MAX_POSITIONS {
                    covered = m.start();
                    break;
                }
                self.literals.push(m.start());
            }
        }
        for at in memchr::memchr3_iter(b'=', b'~', b'@', chunk) {
            if at >= covered || self.bytes.len() == MAX_POSITIONS {
                covered = covered.min(at);
                break;
            }
            let bit = match chunk[at] {
                b'=' => 1,
                b'~' => 2,
                _ => 4,
            };
            self.bytes.push((at, bit));
        }
        self.covered = covered;
    }

    /// The triggers inside `chunk[start..end]`. Spans must be asked in increasing order;
    /// `None` when the index does not cover the span (scan it without a hint).
    pub(crate) fn hint(&mut self, start: usize, end: usize) -> Option<Hint> {
        if end > self.covered {
            return None;
        }
        while self.literals.get(self.next_literal).is_some_and(|&p| p < start) {
            self.next_literal += 1;
        }
        let literal = self.literals.get(self.next_literal).is_some_and(|&p| p < end);
        while self.bytes.get(self.next_byte).is_some_and(|&(p, _)| p < start) {
            self.next_byte += 1;
        }
        let mut bytes = 0;
        let mut k = self.next_byte;
        while let Some(&(p, bit)) = self.bytes.get(k) {
            if p >= end {
                break;
            }
            bytes |= bit;
            k += 1;
        }
        Some(Hint { literal, bytes })
    }
}
