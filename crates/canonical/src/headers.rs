//! Header checks that decide how a request is framed or interpreted.

use http::header::{CONTENT_LENGTH, HOST, TRANSFER_ENCODING};
use http::HeaderMap;

use crate::{CanonError, Reason};

/// Headers that ask a server to treat the request as another method. A gateway that
/// evaluated `POST` must never forward something the target runs as `DELETE`.
const METHOD_OVERRIDE_HEADERS: &[&str] =
    &["x-http-method-override", "x-http-method", "x-method-override", "x-original-method"];

/// Refuses headers that make the request ambiguous.
pub fn check_headers(headers: &HeaderMap) -> Result<(), CanonError> {
    for name in METHOD_OVERRIDE_HEADERS {
        if headers.contains_key(*name) {
            return Err(CanonError::new(
                Reason::MethodOverride,
                "method-override headers are refused: send the real method",
            ));
        }
    }
    let lengths: Vec<_> = headers.get_all(CONTENT_LENGTH).iter().collect();
    if lengths.len() > 1 {
        return Err(CanonError::new(Reason::DuplicateContentLength, "more than one Content-Length header"));
    }
    if let Some(value) = lengths.first() {
        let plain = value.as_bytes();
        if plain.is_empty() || !plain.iter().all(u8::is_ascii_digit) {
            return Err(CanonError::new(
                Reason::DuplicateContentLength,
                "Content-Length is not a single number",
            ));
        }
        if headers.contains_key(TRANSFER_ENCODING) {
            return Err(CanonError::new(
                Reason::TransferEncodingWithContentLength,
                "Transfer-Encoding and Content-Length together are refused",
            ));
        }
    }
    Ok(())
}

/// The single `Host` header value, if any. Two `Host` headers are refused.
pub(crate) fn single_host(headers: &HeaderMap) -> Result<Option<&str>, CanonError> {
    let mut hosts = headers.get_all(HOST).iter();
    let first = hosts.next();
    if hosts.next().is_some() {
        return Err(CanonError::new(Reason::DuplicateHost, "more than one Host header"));
    }
    match first {
        None => Ok(None),
        Some(v) => v
            .to_str()
            .map(Some)
            .map_err(|_| CanonError::new(Reason::ControlCharacter, "Host header is not visible ASCII")),
    }
}
