//! Safe rendering of values that came from agents.
//!
//! Events store what the agent sent as-is (evidence must not be rewritten). Every place
//! that *renders* a value for a person (CLI text, log lines) passes it through [`safe`],
//! so a value cannot start a new log line, recolour or clear a terminal (ANSI escapes),
//! or reorder what is displayed (Unicode bidi controls, "Trojan Source").

use std::borrow::Cow;
use std::fmt::Write;

use crate::{EventDetail, Outcome};

/// True for characters [`safe`] escapes: backslash (so the escaping is unambiguous), C0
/// and C1 controls (newlines, ESC, DEL, NEL), line/paragraph separators, bidi
/// embedding/override/isolate marks, and zero-width or invisible format characters.
fn needs_escape(c: char) -> bool {
    matches!(c,
        '\\'
        | '\u{0}'..='\u{1f}'
        | '\u{7f}'..='\u{9f}'
        | '\u{061c}'
        | '\u{200b}'..='\u{200f}'
        | '\u{2028}'..='\u{202e}'
        | '\u{2060}'..='\u{2069}'
        | '\u{feff}')
}

/// Returns `value` with every dangerous character written as a visible escape
/// (`\n`, `\r`, `\t`, `\\`, otherwise `\u{…}`). Borrowed when nothing needed escaping.
pub fn safe(value: &str) -> Cow<'_, str> {
    if !value.chars().any(needs_escape) {
        return Cow::Borrowed(value);
    }
    let mut out = String::with_capacity(value.len() + 8);
    for c in value.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\\' => out.push_str("\\\\"),
            c if needs_escape(c) => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// [`safe`], cut to at most `max` characters (an ellipsis marks the cut).
pub fn safe_excerpt(value: &str, max: usize) -> String {
    let escaped = safe(value);
    if escaped.chars().count() <= max {
        return escaped.into_owned();
    }
    let mut cut: String = escaped.chars().take(max).collect();
    cut.push('…');
    cut
}

/// Characters of a body excerpt shown in a one-line summary.
const SUMMARY_EXCERPT: usize = 80;

fn principal_label(p: &serde_json::Value) -> String {
    safe(&crate::principal_key(p)).into_owned()
}

fn opt(v: &Option<String>) -> String {
    v.as_deref().map(|s| safe(s).into_owned()).unwrap_or_else(|| "-".to_owned())
}

/// A one-line, terminal-safe description of an event (every agent value escaped).
pub fn summarize(detail: &EventDetail) -> String {
    match detail {
        EventDetail::Authentication { outcome, method, principal, reason, .. } => format!(
            "authentication {} via {} for {}{}",
            outcome_word(*outcome),
            safe(method),
            principal.as_ref().map(principal_label).unwrap_or_else(|| "unknown".into()),
            reason.as_deref().map(|r| format!(" ({})", safe(r))).unwrap_or_default()
        ),
        EventDetail::AccessRequested { principal, connection, level, duration_s, reason, .. } => format!(
            "{} asked for {} on {} for {duration_s}s: {}",
            principal_label(principal),
            safe(level),
            safe(connection),
            safe_excerpt(reason, SUMMARY_EXCERPT)
        ),
        EventDetail::AccessDecided { access_request_id, outcome, decided_by, policies, .. } => format!(
            "access request {} {} by {} (policies: {})",
            safe(access_request_id),
            if *outcome == Outcome::Success { "approved" } else { "denied" },
            decided_by.as_ref().map(principal_label).unwrap_or_else(|| "policy".into()),
            safe(&policies.join(", "))
        ),
        EventDetail::GrantIssued { grant_id, principal, connection, level, .. } => format!(
            "grant {} issued to {} for {} on {}",
            safe(grant_id),
            principal_label(principal),
            safe(level),
            safe(connection)
        ),
        EventDetail::GrantEnded { grant_id, how, .. } => format!("grant {} {}", safe(grant_id), safe(how)),
        EventDetail::Review { review_id, state, by, .. } => format!(
            "review {} {}{}",
            safe(review_id),
            safe(state),
            by.as_ref().map(|b| format!(" by {}", principal_label(b))).unwrap_or_default()
        ),
        EventDetail::Guardrail { rule, action, operation, resource, .. } => {
            format!(
                "guardrail {} by rule {} ({} on {})",
                safe(action),
                safe(rule),
                opt(operation),
                opt(resource)
            )
        }
        EventDetail::Request(r) => format!(
            "{} {}{}",
            safe(&r.method),
            safe(&r.target),
            r.body
                .as_ref()
                .map(|b| format!(" [{} B] {}", b.size, safe_excerpt(&b.excerpt, SUMMARY_EXCERPT)))
                .unwrap_or_default()
        ),
        EventDetail::Response(r) => {
            let masked: u64 = r.mask_counts.values().sum();
            format!(
                "{} {} B in {} ms{}{}",
                r.status,
                r.bytes,
                r.duration_us / 1000,
                if masked > 0 { format!(", {masked} masked") } else { String::new() },
                r.body
                    .as_ref()
                    .map(|b| format!(": {}", safe_excerpt(&b.excerpt, SUMMARY_EXCERPT)))
                    .unwrap_or_default()
            )
        }
        EventDetail::ConnectorLink { connector_id, state, connections, .. } => {
            format!("connector {} {} ({})", safe(connector_id), safe(state), safe(&connections.join(", ")))
        }
        EventDetail::ConfigReload { what, outcome, detail, .. } => format!(
            "{} reload {}{}",
            safe(what),
            outcome_word(*outcome),
            detail.as_deref().map(|d| format!(": {}", safe(d))).unwrap_or_default()
        ),
        EventDetail::Retention { pruned_through_seq, events_removed, rule, .. } => {
            format!("retention ({rule}) removed {events_removed} events up to seq {pruned_through_seq}")
        }
    }
}

fn outcome_word(o: Outcome) -> &'static str {
    match o {
        Outcome::Success => "succeeded",
        Outcome::Failure => "failed",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_borrowed_unchanged() {
        assert!(matches!(safe("GET /subscriptions/x ok é 日本"), Cow::Borrowed(_)));
    }

    #[test]
    fn newlines_cannot_forge_a_log_line() {
        let forged = "ok\n2026-01-01 INFO audit verify passed\r";
        let out = safe(forged);
        assert!(!out.contains('\n') && !out.contains('\r'));
        assert_eq!(out, "ok\\n2026-01-01 INFO audit verify passed\\r");
    }

    #[test]
    fn ansi_escapes_are_neutralised() {
        let out = safe("\u{1b}[2J\u{1b}[31mred\u{9b}0m");
        assert!(!out.chars().any(|c| c == '\u{1b}' || c == '\u{9b}'));
        assert_eq!(out, "\\u{1b}[2J\\u{1b}[31mred\\u{9b}0m");
    }

    #[test]
    fn bidi_controls_are_neutralised() {
        for c in ['\u{202e}', '\u{2066}', '\u{2067}', '\u{2068}', '\u{2069}', '\u{200f}', '\u{061c}'] {
            let input = format!("admin{c}txt.exe");
            let out = safe(&input);
            assert!(!out.contains(c), "{c:?} survived");
            assert!(out.contains("\\u{"), "{out}");
        }
    }

    #[test]
    fn escaping_is_unambiguous() {
        // A literal backslash-n in the input must not render like an escaped newline.
        assert_ne!(safe("a\\nb"), safe("a\nb"));
        assert_eq!(safe("a\\nb"), "a\\\\nb");
    }

    #[test]
    fn excerpt_cuts_after_escaping() {
        assert_eq!(safe_excerpt("abcdef", 3), "abc…");
        assert_eq!(safe_excerpt("a\nb", 10), "a\\nb");
    }

    #[test]
    fn summaries_escape_agent_values() {
        let detail = EventDetail::Request(crate::RequestRecord {
            request_id: "r".into(),
            principal: serde_json::json!({"subject": "agent\u{1b}[31m"}),
            delegation: vec![],
            grant_id: None,
            review_id: None,
            connection: "arm".into(),
            method: "GET".into(),
            target: "/x\nINFO forged\u{202e}".into(),
            headers: vec![],
            body: Some(crate::BodyRef::of(b"line1\nline2\x1b[2J")),
        });
        let line = summarize(&detail);
        assert!(!line.chars().any(|c| c.is_control() || c == '\u{202e}'), "{line:?}");
        assert!(line.starts_with("GET /x\\nINFO forged"), "{line}");
    }

    proptest::proptest! {
        /// Whatever an agent sends, the rendering is one line with no terminal controls
        /// and no bidi marks, and distinct inputs stay distinct.
        #[test]
        fn rendering_is_always_one_safe_line(a in "\\PC*|[\\x00-\\x1f\\x7f-\\u{9f}\\u{200b}-\\u{206f}\\\\a]*", b in ".*") {
            let out = safe(&a);
            proptest::prop_assert!(!out.chars().any(needs_escape_except_backslash), "{out:?}");
            proptest::prop_assert!(!out.contains('\n'));
            if a != b {
                proptest::prop_assert_ne!(safe(&a), safe(&b));
            }
        }
    }

    fn needs_escape_except_backslash(c: char) -> bool {
        c != '\\' && needs_escape(c)
    }
}
