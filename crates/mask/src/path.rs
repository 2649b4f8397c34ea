//! Field rules: case-insensitive path globs over JSON keys and indices (XML element names,
//! form keys and header names use the same matcher with one segment per name).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// FNV-1a: keys are short and not attacker-chosen in a way that matters here (a lookup
/// table of a few dozen rule names), so a fast hash beats SipHash on the hot path.
#[derive(Default)]
struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 { 0xcbf2_9ce4_8422_2325 } else { self.0 };
        for &b in bytes {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
}

use crate::detect::Hit;
use crate::MaskError;

/// One segment of the path of the value being read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Seg {
    /// A key, as a range of the lowercased key arena.
    Key(u32, u32),
    Index(u64),
}

/// The path of the current value: keys are stored lowercased in one arena.
#[derive(Debug, Default)]
pub(crate) struct Path {
    arena: Vec<u8>,
    segs: Vec<Seg>,
}

impl Path {
    pub(crate) fn push_key(&mut self, key: &[u8]) {
        let start = self.arena.len();
        self.arena.extend(key.iter().map(u8::to_ascii_lowercase));
        self.segs.push(Seg::Key(start as u32, self.arena.len() as u32));
    }
    pub(crate) fn push_index(&mut self, i: u64) {
        self.segs.push(Seg::Index(i));
    }
    pub(crate) fn pop(&mut self) {
        if let Some(Seg::Key(start, _)) = self.segs.pop() {
            self.arena.truncate(start as usize);
        }
    }
    pub(crate) fn len(&self) -> usize {
        self.segs.len()
    }
    fn key(&self, s: Seg) -> Option<&[u8]> {
        match s {
            Seg::Key(a, b) => Some(&self.arena[a as usize..b as usize]),
            Seg::Index(_) => None,
        }
    }
}

#[derive(Debug, Clone)]
enum Pat {
    AnyDeep,
    AnyIndex,
    Index(u64),
    /// Lowercased glob with `*` wildcards within one key.
    Key(Vec<u8>),
}

#[derive(Debug)]
struct Rule {
    pats: Vec<Pat>,
    /// The last segment when it is a literal key: a cheap first check.
    last_key: Option<Vec<u8>>,
    hit: Hit,
}

/// The compiled field rules of a profile.
#[derive(Debug, Default)]
pub(crate) struct Rules {
    /// `**.name` rules (the common case), by lowercased name.
    by_last_key: HashMap<Box<[u8]>, Hit, BuildHasherDefault<Fnv>>,
    /// Lengths (capped at 63) of the `by_last_key` names, as a bit set.
    key_lengths: u64,
    /// First bytes of the `by_last_key` names, as a 256-bit set.
    key_firsts: [u64; 4],
    general: Vec<Rule>,
    /// Lengths (capped at 63) of the literal last keys of `general` rules, as a bit set.
    general_lengths: u64,
    /// Whether some `general` rule ends in a wildcard or index: it is always tried.
    general_always: bool,
    /// Whether any rule can match an array index as last segment.
    index_tail: bool,
}

fn parse(glob: &str) -> Result<Vec<Pat>, MaskError> {
    let bad = || MaskError::Config(format!("field rule path `{glob}` is not a valid path glob"));
    let mut pats = Vec::new();
    for part in glob.split('.') {
        let (name, mut rest) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        match name {
            "" if rest.is_empty() => return Err(bad()),
            "" => {}
            "**" => pats.push(Pat::AnyDeep),
            n => pats.push(Pat::Key(n.to_ascii_lowercase().into_bytes())),
        }
        while !rest.is_empty() {
            let close = rest.find(']').ok_or_else(bad)?;
            let inner = rest.get(1..close).ok_or_else(bad)?;
            pats.push(match inner {
                "*" => Pat::AnyIndex,
                n => Pat::Index(n.parse().map_err(|_| bad())?),
            });
            rest = &rest[close + 1..];
            if !rest.is_empty() && !rest.starts_with('[') {
                return Err(bad());
            }
        }
    }
    if pats.is_empty() {
        return Err(bad());
    }
    Ok(pats)
}

/// `*` in a key glob matches any run of bytes.
fn glob_match(pat: &[u8], s: &[u8]) -> bool {
    let (mut p, mut i) = (0, 0);
    let (mut star, mut mark) = (usize::MAX, 0);
    while i < s.len() {
        if p < pat.len() && pat[p] != b'*' && pat[p] == s[i] {
            p += 1;
            i += 1;
        } else if p < pat.len() && pat[p] == b'*' {
            star = p;
            p += 1;
            mark = i;
        } else if star != usize::MAX {
            p = star + 1;
            mark += 1;
            i = mark;
        } else {
            return false;
        }
    }
    pat[p..].iter().all(|&c| c == b'*')
}

fn seg_match(p: &Pat, path: &Path, s: Seg) -> bool {
    match (p, s) {
        (Pat::AnyIndex, Seg::Index(_)) => true,
        (Pat::Index(n), Seg::Index(i)) => *n == i,
        (Pat::Key(g), Seg::Key(..)) => path.key(s).is_some_and(|k| glob_match(g, k)),
        _ => false,
    }
}

/// Whole-path match with `**` spanning any number of segments (iterative, no recursion).
fn path_match(pats: &[Pat], path: &Path) -> bool {
    let segs = &path.segs;
    let (mut p, mut i) = (0, 0);
    let (mut star, mut mark) = (usize::MAX, 0);
    while i < segs.len() {
        if p < pats.len() && !matches!(pats[p], Pat::AnyDeep) && seg_match(&pats[p], path, segs[i]) {
            p += 1;
            i += 1;
        } else if p < pats.len() && matches!(pats[p], Pat::AnyDeep) {
            star = p;
            p += 1;
            mark = i;
        } else if star != usize::MAX {
            p = star + 1;
            mark += 1;
            i = mark;
        } else {
            return false;
        }
    }
    pats[p..].iter().all(|x| matches!(x, Pat::AnyDeep))
}

impl Rules {
    pub(crate) fn add(&mut self, glob: &str, hit: Hit) -> Result<(), MaskError> {
        let pats = parse(glob)?;
        if let [Pat::AnyDeep, Pat::Key(k)] = pats.as_slice() {
            if !k.contains(&b'*') {
                self.key_lengths |= 1 << k.len().min(63);
                if let Some(&f) = k.first() {
                    self.key_firsts[usize::from(f >> 6)] |= 1 << (f & 63);
                }
                self.by_last_key.entry(k.clone().into_boxed_slice()).or_insert(hit);
                return Ok(());
            }
        }
        self.index_tail |= matches!(pats.last(), Some(Pat::AnyIndex | Pat::Index(_) | Pat::AnyDeep));
        let last_key = match pats.last() {
            Some(Pat::Key(k)) if !k.contains(&b'*') => Some(k.clone()),
            _ => None,
        };
        match &last_key {
            Some(k) => self.general_lengths |= 1 << k.len().min(63),
            None => self.general_always = true,
        }
        self.general.push(Rule { pats, last_key, hit });
        Ok(())
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.by_last_key.is_empty() && self.general.is_empty()
    }

    /// Whether array elements need a rule lookup at all.
    pub(crate) fn index_tail(&self) -> bool {
        self.index_tail
    }

    /// The first rule matching the full path, if any.
    pub(crate) fn lookup(&self, path: &Path) -> Option<Hit> {
        let last = *path.segs.last()?;
        let key = path.key(last);
        if let Some(k) = key {
            let first = k.first().map_or(0, |&f| self.key_firsts[usize::from(f >> 6)] & (1 << (f & 63)));
            if self.key_lengths & (1 << k.len().min(63)) != 0 && first != 0 {
                if let Some(hit) = self.by_last_key.get(k) {
                    return Some(*hit);
                }
            }
        }
        // Cheap exit for the common key that no general rule can end in.
        if !self.general_always && key.is_none_or(|k| self.general_lengths & (1 << k.len().min(63)) == 0) {
            return None;
        }
        self.general
            .iter()
            .filter(|r| r.last_key.as_deref().is_none_or(|l| key == Some(l)))
            .find(|r| path_match(&r.pats, path))
            .map(|r| r.hit)
    }

    /// Rule for a single name (a form key or header name).
    pub(crate) fn lookup_name(&self, name: &[u8]) -> Option<Hit> {
        let mut p = Path::default();
        p.push_key(name);
        self.lookup(&p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Strategy;

    fn hit() -> Hit {
        Hit { label: 0, strategy: Strategy::Redact }
    }

    fn path(segs: &[&str]) -> Path {
        let mut p = Path::default();
        for s in segs {
            match s.parse::<u64>() {
                Ok(i) => p.push_index(i),
                Err(_) => p.push_key(s.as_bytes()),
            }
        }
        p
    }

    #[test]
    fn globs_match_case_insensitively() {
        let mut r = Rules::default();
        r.add("**.primaryKey", hit()).unwrap();
        r.add("keys[*].value", hit()).unwrap();
        r.add("properties.*.Secret*", hit()).unwrap();
        assert!(r.lookup(&path(&["a", "b", "PRIMARYKEY"])).is_some());
        assert!(r.lookup(&path(&["primarykey"])).is_some());
        assert!(r.lookup(&path(&["keys", "0", "Value"])).is_some());
        assert!(r.lookup(&path(&["x", "keys", "0", "value"])).is_none());
        assert!(r.lookup(&path(&["keys", "value"])).is_none());
        assert!(r.lookup(&path(&["properties", "x", "secretText"])).is_some());
        assert!(r.lookup(&path(&["properties", "secretText"])).is_none());
        assert!(r.lookup(&path(&["primaryKeyName"])).is_none());
    }

    #[test]
    fn bad_globs_are_config_errors() {
        let mut r = Rules::default();
        assert!(r.add("a..b", hit()).is_err());
        assert!(r.add("a[x]", hit()).is_err());
        assert!(r.add("a[1", hit()).is_err());
    }
}
