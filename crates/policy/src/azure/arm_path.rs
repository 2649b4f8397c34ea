//! Parsing an ARM path into its resource id: the built-in `Microsoft.Resources` chain
//! (`subscriptions/{id}/resourceGroups/{name}`) followed by zero or more provider blocks
//! (`providers/{namespace}/{type}/{name}/{type}/{name}…`). A provider block after another
//! is an extension resource at that scope (role assignments, locks, diagnostic settings).

/// One `type/name` pair; the name is absent for a trailing collection or action segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pair<'a> {
    pub(crate) kind: &'a str,
    pub(crate) name: Option<&'a str>,
}

/// One `providers/{namespace}/…` block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Block<'a> {
    pub(crate) namespace: &'a str,
    pub(crate) pairs: Vec<Pair<'a>>,
    /// Index (in segments) of this block's `providers` segment.
    pub(crate) start: usize,
}

/// A parsed ARM path. Borrowed from the request path; nothing is allocated per segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ArmPath<'a> {
    pub(crate) segments: Vec<&'a str>,
    /// The built-in `Microsoft.Resources` pairs before the first provider block.
    pub(crate) chain: Vec<Pair<'a>>,
    pub(crate) blocks: Vec<Block<'a>>,
}

fn is(segment: &str, word: &str) -> bool {
    segment.eq_ignore_ascii_case(word)
}

impl<'a> ArmPath<'a> {
    /// Parse; `None` for shapes that are not ARM paths (empty segments, a provider block
    /// without a namespace in the middle, a collection followed by more segments).
    pub(crate) fn parse(path: &'a str) -> Option<Self> {
        let rest = path.strip_prefix('/')?;
        let mut segments: Vec<&str> = rest.split('/').collect();
        if segments.last() == Some(&"") {
            segments.pop();
        }
        if segments.is_empty() || segments.iter().any(|s| s.is_empty()) {
            return None;
        }
        let mut chain = Vec::new();
        let mut i = 0;
        while i < segments.len() && !is(segments[i], "providers") {
            chain.push(Pair { kind: segments[i], name: segments.get(i + 1).copied() });
            i += 2;
        }
        let mut blocks: Vec<Block<'a>> = Vec::new();
        while i < segments.len() {
            let start = i;
            let Some(namespace) = segments.get(i + 1).copied() else {
                // `/subscriptions/{id}/providers`: the provider list itself.
                if !blocks.is_empty() {
                    return None;
                }
                chain.push(Pair { kind: segments[i], name: None });
                break;
            };
            i += 2;
            let mut pairs = Vec::new();
            while i < segments.len() && !is(segments[i], "providers") {
                pairs.push(Pair { kind: segments[i], name: segments.get(i + 1).copied() });
                i += 2;
            }
            if i < segments.len() && pairs.last().is_none_or(|p| p.name.is_none()) {
                // Another block follows an empty block: not a resource id.
                return None;
            }
            blocks.push(Block { namespace, pairs, start });
        }
        if chain.len() > 1 && chain[..chain.len() - 1].iter().any(|p| p.name.is_none()) {
            return None;
        }
        Some(ArmPath { segments, chain, blocks })
    }

    /// The subscription id, when the path starts with `/subscriptions/{id}`.
    pub(crate) fn subscription(&self) -> Option<&'a str> {
        let first = self.chain.first()?;
        is(first.kind, "subscriptions").then_some(first.name).flatten()
    }

    /// The resource group, when the path continues with `/resourceGroups/{name}`.
    pub(crate) fn resource_group(&self) -> Option<&'a str> {
        self.subscription()?;
        let second = self.chain.get(1)?;
        is(second.kind, "resourceGroups").then_some(second.name).flatten()
    }

    /// The pairs that decide the action: the last provider block's, or the chain's.
    pub(crate) fn final_pairs(&self) -> &[Pair<'a>] {
        match self.blocks.last() {
            Some(block) => &block.pairs,
            None => &self.chain,
        }
    }

    /// `/`-joined segments `[0, end)`, spelled as in the request.
    pub(crate) fn prefix(&self, end: usize) -> String {
        let mut out = String::new();
        for segment in &self.segments[..end.min(self.segments.len())] {
            out.push('/');
            out.push_str(segment);
        }
        if out.is_empty() {
            out.push('/');
        }
        out
    }
}
