//! Wildcard patterns: Azure action patterns (`*` spans anything, as in custom roles) and
//! path/scope patterns (`*` within one segment, `**` across segments). All matching is
//! ASCII case-insensitive: patterns are lowercased at load, inputs before matching.

/// A compiled Azure action pattern such as `*/listKeys/action`.
#[derive(Debug, Clone)]
pub(crate) struct ActionPattern {
    lower: String,
    /// Count of non-wildcard characters: the pattern's specificity.
    pub(crate) literals: usize,
}

impl ActionPattern {
    pub(crate) fn new(pattern: &str) -> Self {
        let lower = pattern.to_ascii_lowercase();
        let literals = lower.bytes().filter(|b| *b != b'*').count();
        ActionPattern { lower, literals }
    }

    /// Does the lowercased `action` match?
    pub(crate) fn matches(&self, action_lower: &str) -> bool {
        wildcard(self.lower.as_bytes(), action_lower.as_bytes())
    }

    /// The index key that every action this pattern matches must have: the whole action
    /// (no wildcard), its first two or first segment (literal prefix), or its last two or
    /// last segment (literal suffix). `None` when no whole segment is literal (`*`).
    pub(crate) fn index_key(&self) -> Option<(Dim, &str)> {
        let p = self.lower.as_str();
        let Some(first_star) = p.find('*') else {
            return Some((Dim::Exact, p));
        };
        let prefix = &p[..first_star];
        let full_prefix_segments = prefix.matches('/').count();
        if full_prefix_segments >= 2 {
            let end = nth_slash(prefix, 2).unwrap_or(prefix.len());
            return Some((Dim::Prefix2, &p[..end]));
        }
        if full_prefix_segments == 1 {
            let end = prefix.find('/').unwrap_or(prefix.len());
            return Some((Dim::Prefix1, &p[..end]));
        }
        let last_star = p.rfind('*').unwrap_or(0);
        let tail = &p[last_star + 1..];
        match tail.matches('/').count() {
            0 => None,
            1 => Some((Dim::Tail1, &tail[tail.rfind('/').map_or(0, |i| i + 1)..])),
            _ => Some((Dim::Tail2, last_segments(tail, 2))),
        }
    }
}

/// Byte offset of the `n`-th `/` (1-based).
fn nth_slash(text: &str, n: usize) -> Option<usize> {
    text.match_indices('/').nth(n - 1).map(|(i, _)| i)
}

/// The last `n` `/`-separated segments of `text` (all of it when it has fewer).
pub(crate) fn last_segments(text: &str, n: usize) -> &str {
    let mut end_count = 0;
    for (i, b) in text.bytes().enumerate().rev() {
        if b == b'/' {
            end_count += 1;
            if end_count == n {
                return &text[i + 1..];
            }
        }
    }
    text
}

/// The kinds of index key, see [`ActionPattern::index_key`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Dim {
    Exact = 0,
    Prefix2 = 1,
    Prefix1 = 2,
    Tail2 = 3,
    Tail1 = 4,
    Group = 5,
    PathFirst = 6,
}

/// `*` matches any run of bytes (including `/`). Linear-time greedy matching with one
/// backtrack point, so hostile patterns or inputs cannot blow up.
pub(crate) fn wildcard(pattern: &[u8], input: &[u8]) -> bool {
    let (mut p, mut s) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while s < input.len() {
        if p < pattern.len() && pattern[p] == b'*' {
            star = Some((p, s));
            p += 1;
        } else if p < pattern.len() && pattern[p] == input[s] {
            p += 1;
            s += 1;
        } else if let Some((sp, ss)) = star {
            p = sp + 1;
            s = ss + 1;
            star = Some((sp, ss + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|b| *b == b'*')
}

/// One segment of a path pattern.
#[derive(Debug, Clone)]
enum Segment {
    /// `**`: any number of segments, including none.
    Any,
    /// A segment, possibly with `*` wildcards that stay inside the segment.
    Glob(String),
}

/// A compiled path or scope pattern such as `/v1/users/*/delete` or
/// `/subscriptions/*/resourceGroups/prod-*`.
#[derive(Debug, Clone)]
pub(crate) struct PathPattern {
    segments: Vec<Segment>,
    pub(crate) literals: usize,
    /// Segments other than `**`: how deep the pattern pins a scope.
    pub(crate) depth: usize,
}

impl PathPattern {
    pub(crate) fn new(pattern: &str) -> Self {
        let lower = pattern.to_ascii_lowercase();
        let segments: Vec<Segment> = split_path(&lower)
            .map(|s| if s == "**" { Segment::Any } else { Segment::Glob(s.to_owned()) })
            .collect();
        let literals = lower.bytes().filter(|b| *b != b'*').count();
        let depth = segments.iter().filter(|s| matches!(s, Segment::Glob(_))).count();
        PathPattern { segments, literals, depth }
    }

    /// The first segment when it is literal (`v1` in `/v1/users/*`): every path this
    /// pattern matches starts with it.
    pub(crate) fn literal_first_segment(&self) -> Option<&str> {
        match self.segments.first() {
            Some(Segment::Glob(g)) if !g.contains('*') => Some(g),
            _ => None,
        }
    }

    /// Does the whole lowercased path match?
    pub(crate) fn matches(&self, path_lower: &str) -> bool {
        self.match_segments(path_lower, false)
    }

    /// Does the lowercased resource id lie within this scope (match the whole id or a
    /// prefix of it that ends at a segment boundary)?
    pub(crate) fn contains(&self, resource_lower: &str) -> bool {
        self.match_segments(resource_lower, true)
    }

    fn match_segments(&self, path_lower: &str, prefix: bool) -> bool {
        let input: Vec<&str> = split_path(path_lower).collect();
        let pat = &self.segments;
        let (mut p, mut s) = (0usize, 0usize);
        let mut star: Option<(usize, usize)> = None;
        while s < input.len() {
            match pat.get(p) {
                Some(Segment::Any) => {
                    star = Some((p, s));
                    p += 1;
                    continue;
                }
                Some(Segment::Glob(g)) if wildcard(g.as_bytes(), input[s].as_bytes()) => {
                    p += 1;
                    s += 1;
                    continue;
                }
                None if prefix => return true,
                _ => {}
            }
            match star {
                Some((sp, ss)) => {
                    p = sp + 1;
                    s = ss + 1;
                    star = Some((sp, ss + 1));
                }
                None => return false,
            }
        }
        pat[p..].iter().all(|seg| matches!(seg, Segment::Any))
    }
}

/// Path segments after the leading `/`; `/` alone has no segments.
pub(crate) fn split_path(path: &str) -> impl Iterator<Item = &str> {
    let trimmed = path.strip_prefix('/').unwrap_or(path);
    trimmed.split('/').filter({
        let empty_root = trimmed.is_empty();
        move |_| !empty_root
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn action_wildcards_span_slashes_like_custom_roles() {
        let p = ActionPattern::new("*/listKeys/action");
        assert!(p.matches("microsoft.storage/storageaccounts/listkeys/action"));
        assert!(!p.matches("microsoft.storage/storageaccounts/listkeys/read"));
        let p = ActionPattern::new("Microsoft.Authorization/*/write");
        assert!(p.matches("microsoft.authorization/roleassignments/write"));
        assert!(!p.matches("microsoft.authorization/roleassignments/delete"));
        assert_eq!(p.index_key(), Some((Dim::Prefix1, "microsoft.authorization")));
        assert_eq!(ActionPattern::new("*").index_key(), None);
        assert_eq!(ActionPattern::new("a*b*c").index_key(), None);
        let key = |p: &str| {
            let pattern = ActionPattern::new(p);
            pattern.index_key().map(|(d, k)| format!("{d:?}:{k}"))
        };
        assert_eq!(
            key("Microsoft.Compute/virtualMachines/*"),
            Some("Prefix2:microsoft.compute/virtualmachines".to_owned())
        );
        assert_eq!(key("Microsoft.Compute/virtual*"), Some("Prefix1:microsoft.compute".to_owned()));
        assert_eq!(key("*/listKeys/action"), Some("Tail2:listkeys/action".to_owned()));
        assert_eq!(key("*Keys/action"), Some("Tail1:action".to_owned()));
        assert_eq!(key("*/delete"), Some("Tail1:delete".to_owned()));
        assert_eq!(key("A/b/c"), Some("Exact:a/b/c".to_owned()));
        assert_eq!(last_segments("a/b/c/d", 2), "c/d");
        assert!(ActionPattern::new("*").matches("anything/at/all"));
        assert!(!wildcard(b"a*b*c", b"aXXbYY"));
        assert!(wildcard(b"a*b*c", b"aXXbYYc"));
    }

    #[test]
    fn path_patterns_keep_single_star_inside_a_segment() {
        let p = PathPattern::new("/v1/users/*/delete");
        assert!(p.matches("/v1/users/42/delete"));
        assert!(!p.matches("/v1/users/42/x/delete"));
        assert!(!p.matches("/v1/users/42/delete/more"));
        let p = PathPattern::new("/v1/**/delete");
        assert!(p.matches("/v1/delete"));
        assert!(p.matches("/v1/a/b/c/delete"));
        assert!(PathPattern::new("**").matches("/anything/here"));
        assert!(PathPattern::new("/").matches("/"));
        assert!(!PathPattern::new("/").matches("/x"));
    }

    #[test]
    fn scopes_contain_everything_below_them() {
        let p = PathPattern::new("/subscriptions/*/resourceGroups/prod-*");
        assert!(p.contains("/subscriptions/s1/resourcegroups/prod-rg"));
        assert!(p.contains("/subscriptions/s1/resourcegroups/prod-rg/providers/x/y/z"));
        assert!(!p.contains("/subscriptions/s1/resourcegroups/dev-rg"));
        assert!(!p.contains("/subscriptions/s1"));
    }
}
