//! The crate's one error type. Messages name the format, the limit or the position, never
//! the bytes that were being inspected: a secret must not leak through an error or a log.

/// Why masking failed. The gateway turns any of these into a refused (or aborted) response:
/// masking fails closed.
#[derive(Debug, thiserror::Error)]
pub enum MaskError {
    /// The masking configuration is invalid (bad glob, bad regex, unknown detector, ...).
    #[error("invalid masking configuration: {0}")]
    Config(String),
    /// The requested profile is neither shipped nor configured.
    #[error(
        "masking profile `{0}` is not defined; define it under [mask.profiles] or use `azure` or `strict`"
    )]
    UnknownProfile(String),
    /// The body's content type cannot be inspected and the profile refuses unknown content.
    #[error("content type `{content_type}` cannot be inspected by masking profile `{profile}`, which refuses unknown content (on_unknown = \"refuse\")")]
    UnsupportedContent {
        /// The content type as received (a media type, never body bytes).
        content_type: String,
        /// The profile that refused it.
        profile: String,
    },
    /// The body's `Content-Encoding` is not one this crate can decode.
    #[error(
        "content encoding `{0}` cannot be decoded for masking (supported: gzip, deflate, br, zstd, identity)"
    )]
    UnsupportedEncoding(String),
    /// The body is not valid in the format its content type announced.
    #[error("response body is not valid {format}: {what} at byte {offset}")]
    Malformed {
        /// The format being parsed (`JSON`, `XML`, ...).
        format: &'static str,
        /// What was wrong, as a fixed phrase.
        what: &'static str,
        /// Offset of the offending byte in the (decoded) body.
        offset: u64,
    },
    /// JSON or XML nesting exceeded the profile's depth limit.
    #[error("response body nests deeper than {limit} levels (max_depth)")]
    TooDeep {
        /// The configured limit.
        limit: usize,
    },
    /// A single unit (string, tag, header, pending whitespace) exceeded its limit and the
    /// profile does not allow masking it wholesale.
    #[error("{what} is longer than {limit} bytes")]
    TooLong {
        /// Which unit.
        what: &'static str,
        /// The configured limit.
        limit: usize,
    },
    /// The decoded body grew past `max_decoded_bytes` (a compression bomb, or simply too big).
    #[error("decoded response body is larger than {limit} bytes (max_decoded_bytes)")]
    DecodedTooLarge {
        /// The configured limit.
        limit: u64,
    },
    /// The compressed body could not be decoded.
    #[error("response body could not be decoded as {encoding}")]
    Decode {
        /// The content encoding.
        encoding: &'static str,
    },
    /// The body ended in the middle of a value.
    #[error("response body ended inside an unfinished {format} value")]
    Truncated {
        /// The format being parsed.
        format: &'static str,
    },
    /// The stream already failed once; the response must be aborted.
    #[error("masking already failed for this response; it must be aborted")]
    Failed,
}

/// A small, stable reason code for logs, metrics and the agent-facing error body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MaskErrorCode {
    /// See [`MaskError::Config`].
    Config,
    /// See [`MaskError::UnknownProfile`].
    UnknownProfile,
    /// See [`MaskError::UnsupportedContent`].
    UnsupportedContent,
    /// See [`MaskError::UnsupportedEncoding`].
    UnsupportedEncoding,
    /// See [`MaskError::Malformed`].
    Malformed,
    /// See [`MaskError::TooDeep`].
    TooDeep,
    /// See [`MaskError::TooLong`].
    TooLong,
    /// See [`MaskError::DecodedTooLarge`].
    DecodedTooLarge,
    /// See [`MaskError::Decode`].
    Decode,
    /// See [`MaskError::Truncated`].
    Truncated,
    /// See [`MaskError::Failed`].
    Failed,
}

impl MaskErrorCode {
    /// The code as a snake_case string, stable for metrics and the agent-facing body.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Config => "mask_config",
            Self::UnknownProfile => "mask_unknown_profile",
            Self::UnsupportedContent => "mask_unsupported_content",
            Self::UnsupportedEncoding => "mask_unsupported_encoding",
            Self::Malformed => "mask_malformed_body",
            Self::TooDeep => "mask_too_deep",
            Self::TooLong => "mask_too_long",
            Self::DecodedTooLarge => "mask_decoded_too_large",
            Self::Decode => "mask_decode_failed",
            Self::Truncated => "mask_truncated_body",
            Self::Failed => "mask_failed",
        }
    }
}

impl MaskError {
    /// The reason code of this error.
    pub fn code(&self) -> MaskErrorCode {
        match self {
            Self::Config(_) => MaskErrorCode::Config,
            Self::UnknownProfile(_) => MaskErrorCode::UnknownProfile,
            Self::UnsupportedContent { .. } => MaskErrorCode::UnsupportedContent,
            Self::UnsupportedEncoding(_) => MaskErrorCode::UnsupportedEncoding,
            Self::Malformed { .. } => MaskErrorCode::Malformed,
            Self::TooDeep { .. } => MaskErrorCode::TooDeep,
            Self::TooLong { .. } => MaskErrorCode::TooLong,
            Self::DecodedTooLarge { .. } => MaskErrorCode::DecodedTooLarge,
            Self::Decode { .. } => MaskErrorCode::Decode,
            Self::Truncated { .. } => MaskErrorCode::Truncated,
            Self::Failed => MaskErrorCode::Failed,
        }
    }
}
