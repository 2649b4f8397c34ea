//! Plain-English summaries for approvers. Names come from the request, so every summary
//! is neutralised: bidirectional overrides, zero-width and control characters are shown
//! as `<U+XXXX>` so an approver cannot be shown text that reads differently than it is.

use crate::azure::{Access, AzureRequest};

/// Longest summary handed out, in characters.
const MAX_SUMMARY: usize = 1000;

fn is_deceptive(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{00AD}' | '\u{061C}' | '\u{180E}' | '\u{200B}'..='\u{200F}' | '\u{2028}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{206F}' | '\u{FEFF}' | '\u{FFF9}'..='\u{FFFB}')
}

/// Replace bidi, zero-width and control characters with a visible `<U+XXXX>`, and cut
/// overlong text with `…`.
pub fn neutralise(text: &str) -> String {
    // Fast path: printable ASCII needs no change (the common case for ARM names).
    if text.len() <= MAX_SUMMARY && text.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    for (count, c) in text.chars().enumerate() {
        if count >= MAX_SUMMARY {
            out.push('…');
            break;
        }
        if is_deceptive(c) {
            out.push_str(&format!("<U+{:04X}>", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// `storageAccounts` → `storage accounts`, `publicIPAddresses` → `public IP addresses`:
/// camel case split into words, lowercased except acronyms.
pub(crate) fn humanize_type(kind: &str) -> String {
    let chars: Vec<char> = kind.chars().collect();
    let mut out = String::with_capacity(kind.len() + 4);
    let mut word_start = 0;
    let flush = |out: &mut String, word: &[char]| {
        if word.is_empty() {
            return;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        let acronym = word.len() > 1 && word.iter().all(|c| c.is_uppercase());
        for c in word {
            if acronym {
                out.push(*c);
            } else {
                out.extend(c.to_lowercase());
            }
        }
    };
    for i in 1..chars.len() {
        let c = chars[i];
        let prev = chars[i - 1];
        let next_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
        if c.is_uppercase() && (prev.is_lowercase() || (prev.is_uppercase() && next_lower)) {
            flush(&mut out, &chars[word_start..i]);
            word_start = i;
        }
    }
    flush(&mut out, &chars[word_start..]);
    out
}

/// `storage accounts` → `storage account`.
pub(crate) fn singular(words: &str) -> String {
    if let Some(stem) = words.strip_suffix("ies") {
        format!("{stem}y")
    } else if let Some(stem) = words.strip_suffix("sses") {
        format!("{stem}ss")
    } else if let Some(stem) = words.strip_suffix("ses") {
        format!("{stem}s")
    } else if words.ends_with("ss") {
        words.to_owned()
    } else if let Some(stem) = words.strip_suffix('s') {
        stem.to_owned()
    } else {
        words.to_owned()
    }
}

/// The summary of one classified Azure request, e.g. `delete resource group prod-rg in
/// subscription 0000-…`.
pub(crate) fn azure(req: &AzureRequest, path: &str) -> String {
    let Some(resource) = &req.resource else {
        return neutralise(&format!(
            "{} {path} (a request shape the Azure classifier does not know)",
            req.method
        ));
    };
    if req.access == Access::Unknown {
        return neutralise(&format!(
            "{} {} (a request shape the Azure classifier does not know)",
            req.method, resource.id
        ));
    }
    let types = &resource.types;
    let names = &resource.names;
    let collection = names.len() < types.len() && matches!(req.method.as_str(), "GET" | "HEAD");
    let object = if let Some(op) = &req.operation {
        // `POST …/storageAccounts/sa/listKeys`: the action is the last type.
        let target = describe(types, names, types.len().saturating_sub(1));
        if target.is_empty() {
            format!("run {op} on {}", resource.namespace)
        } else {
            format!("run {op} on {target}")
        }
    } else if types.is_empty() {
        format!("read the registration of provider {}", resource.namespace)
    } else if collection {
        let listed = types.last().map(|t| humanize_type(t)).unwrap_or_default();
        let within = describe(types, names, types.len() - 1);
        if within.is_empty() {
            format!("list {listed}")
        } else {
            format!("list {listed} in {within}")
        }
    } else {
        let verb = match req.method.as_str() {
            "GET" | "HEAD" => "read",
            "PUT" => "create or update",
            "PATCH" => "update",
            "DELETE" => "delete",
            _ => "change",
        };
        format!("{verb} {}", describe(types, names, types.len()))
    };
    let mut text = object;
    let is_sub_or_rg = resource.namespace.eq_ignore_ascii_case("Microsoft.Resources")
        && types.first().is_some_and(|t| t.eq_ignore_ascii_case("subscriptions"));
    if let Some(scope) = &resource.scope {
        if scope.to_ascii_lowercase().contains("/providers/") {
            text.push_str(&format!(" on {scope}"));
        }
    }
    if !is_sub_or_rg {
        if let Some(rg) = &resource.resource_group {
            text.push_str(&format!(" in resource group {rg}"));
        }
        if let Some(sub) = &resource.subscription {
            text.push_str(&format!(" in subscription {sub}"));
        }
    }
    neutralise(&text)
}

/// `storage account sa` for the first `upto` types, innermost last
/// (`container c of blob service default of storage account sa`). Subscriptions and
/// resource groups read `resource group rg in subscription s`.
fn describe(types: &[String], names: &[String], upto: usize) -> String {
    let mut parts: Vec<String> = Vec::new();
    for (i, kind) in types.iter().take(upto).enumerate() {
        let human = singular(&humanize_type(kind));
        match names.get(i) {
            Some(name) => parts.push(format!("{human} {name}")),
            None => parts.push(human),
        }
    }
    parts.reverse();
    let joiner =
        if types.first().is_some_and(|t| t.eq_ignore_ascii_case("subscriptions")) { " in " } else { " of " };
    parts.join(joiner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_names_read_as_english() {
        assert_eq!(singular(&humanize_type("storageAccounts")), "storage account");
        assert_eq!(singular(&humanize_type("publicIPAddresses")), "public IP address");
        assert_eq!(singular(&humanize_type("policies")), "policy");
        assert_eq!(singular(&humanize_type("vaults")), "vault");
    }

    #[test]
    fn bidi_and_control_characters_are_made_visible() {
        let shown = neutralise("delete rg\u{202E}gr-dorp\u{0007}");
        assert_eq!(shown, "delete rg<U+202E>gr-dorp<U+0007>");
        assert!(!shown.chars().any(is_deceptive));
    }
}
