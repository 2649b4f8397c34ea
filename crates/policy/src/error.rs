//! The crate's one error type and its small reason code.

use thiserror::Error;

/// Why loading rules or checking a URL failed. Rule files come from operators, URLs from
/// upstream responses: both are untrusted input, so every failure is an error, not a panic.
#[derive(Debug, Error)]
pub enum PolicyError {
    /// The rule file is not valid TOML or does not match the rule schema.
    #[error("rule file {origin}: {message}")]
    RulesSyntax {
        /// Where the text came from (a file name, or `azure-default`).
        origin: String,
        /// The parser's explanation, with line and column where it has them.
        message: String,
    },
    /// A rule parsed but one of its fields cannot be used.
    #[error("rule {rule_id}: field `{field}`: {reason}")]
    InvalidRule {
        /// The rule's `id` (or its position when the id itself is bad).
        rule_id: String,
        /// The offending field.
        field: &'static str,
        /// What is wrong and what a valid value looks like.
        reason: String,
    },
    /// Two rules share an id; ids must be unique because decisions and audit name them.
    #[error("rule id {0} is used more than once; rule ids must be unique")]
    DuplicateRuleId(String),
    /// A long-running-operation polling URL that the gateway must not follow.
    #[error("polling URL refused: {0}")]
    PollingUrlRefused(&'static str),
}

/// Small, stable reason code for logs, metrics and audit records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PolicyErrorCode {
    /// See [`PolicyError::RulesSyntax`].
    RulesSyntax,
    /// See [`PolicyError::InvalidRule`].
    InvalidRule,
    /// See [`PolicyError::DuplicateRuleId`].
    DuplicateRuleId,
    /// See [`PolicyError::PollingUrlRefused`].
    PollingUrlRefused,
}

impl PolicyError {
    /// The reason code of this error.
    pub fn code(&self) -> PolicyErrorCode {
        match self {
            PolicyError::RulesSyntax { .. } => PolicyErrorCode::RulesSyntax,
            PolicyError::InvalidRule { .. } => PolicyErrorCode::InvalidRule,
            PolicyError::DuplicateRuleId(_) => PolicyErrorCode::DuplicateRuleId,
            PolicyError::PollingUrlRefused(_) => PolicyErrorCode::PollingUrlRefused,
        }
    }
}

impl PolicyErrorCode {
    /// The code as a short snake_case string.
    pub fn as_str(self) -> &'static str {
        match self {
            PolicyErrorCode::RulesSyntax => "rules_syntax",
            PolicyErrorCode::InvalidRule => "invalid_rule",
            PolicyErrorCode::DuplicateRuleId => "duplicate_rule_id",
            PolicyErrorCode::PollingUrlRefused => "polling_url_refused",
        }
    }
}
