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

    /// The provider namespace this pattern is confined to (`microsoft.storage`), if its
    /// literal prefix spells a whole namespace; `None` when it starts with a wildcard.
    pub(crate) fn namespace(&self) -> Option<&str> {
        let literal_prefix = self.lower.split('*').next().unwrap_or("");
        literal_prefix.split_once('/').map(|(ns, _)| ns)
    }
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
}

impl PathPattern {
    pub(crate) fn new(pattern: &str) -> Self {
        let lower = pattern.to_ascii_lowercase();
        let segments: Vec<Segment> = split_path(&lower)
            .map(|s| if s == "**" { Segment::Any } else { Segment::Glob(s.to_owned()) })
            .collect();
        let literals = lower.bytes().filter(|b| *b != b'*').count();
        PathPattern { segments, literals }
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
fn split_path(path: &str) -> impl Iterator<Item = &str> {
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
        assert_eq!(p.namespace(), Some("microsoft.authorization"));
        assert_eq!(ActionPattern::new("*").namespace(), None);
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
