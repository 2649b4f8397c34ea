use std::fmt;

/// Why a request was refused as ambiguous or oversized. Stable and `Copy`: used in the
/// agent-facing error body, in metrics labels and in the audit record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    /// A `%` not followed by two hex digits.
    MalformedPercentEncoding,
    /// `%2F` or `%5C` (or a raw `\`) inside a path segment.
    EncodedSeparator,
    /// A `.` or `..` segment, raw or encoded.
    DotSegment,
    /// An empty segment inside the path (`//`).
    EmptySegment,
    /// Decoding once still leaves a percent-escape (`%252F`).
    DoubleEncoding,
    /// NUL, other control bytes, or DEL, raw or encoded.
    ControlCharacter,
    /// The decoded bytes are not UTF-8.
    InvalidUtf8,
    /// Asterisk-form, authority-form or a path that does not start with `/`.
    UnsupportedTarget,
    /// An absolute-form target or `:authority` naming another host than `Host`.
    ForeignAuthority,
    /// More than one `Host` header.
    DuplicateHost,
    /// `X-HTTP-Method-Override` and its siblings.
    MethodOverride,
    /// More than one `Content-Length`, or one that is not a plain number.
    DuplicateContentLength,
    /// `Transfer-Encoding` together with `Content-Length`.
    TransferEncodingWithContentLength,
    /// The same single-valued query parameter (`api-version`) twice.
    DuplicateParameter,
    /// The request target is longer than the configured limit (414).
    UriTooLong,
}

impl Reason {
    /// The stable machine-readable code for this reason.
    pub fn code(self) -> &'static str {
        match self {
            Reason::MalformedPercentEncoding => "malformed_percent_encoding",
            Reason::EncodedSeparator => "encoded_separator",
            Reason::DotSegment => "dot_segment",
            Reason::EmptySegment => "empty_segment",
            Reason::DoubleEncoding => "double_encoding",
            Reason::ControlCharacter => "control_character",
            Reason::InvalidUtf8 => "invalid_utf8",
            Reason::UnsupportedTarget => "unsupported_target",
            Reason::ForeignAuthority => "foreign_authority",
            Reason::DuplicateHost => "duplicate_host",
            Reason::MethodOverride => "method_override",
            Reason::DuplicateContentLength => "duplicate_content_length",
            Reason::TransferEncodingWithContentLength => "transfer_encoding_with_content_length",
            Reason::DuplicateParameter => "duplicate_parameter",
            Reason::UriTooLong => "uri_too_long",
        }
    }

    /// The HTTP status the gateway answers with.
    pub fn status(self) -> u16 {
        match self {
            Reason::UriTooLong => 414,
            _ => 400,
        }
    }
}

/// A request the canonicalizer refused. The message is safe to show the agent: it
/// describes the rule, never echoes the offending bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct CanonError {
    /// The stable reason.
    pub reason: Reason,
    /// A plain description of the rule that was broken.
    pub message: &'static str,
}

impl CanonError {
    pub(crate) fn new(reason: Reason, message: &'static str) -> Self {
        CanonError { reason, message }
    }
}

impl fmt::Display for CanonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.message, self.reason.code())
    }
}
