//! Streaming redaction of secrets and personal data in response bodies.
//!
//! This crate owns the masking step of the data path: given a response body as it arrives
//! (JSON, NDJSON, XML, `text/*`, form-encoded; optionally gzip/deflate/br/zstd-encoded),
//! it finds secrets and personal data — by field path rules and by content detectors with
//! validators — and replaces them (`redact`, `partial`, `hash`, `drop`) while holding back
//! only a bounded window. Bytes that are not secret come out byte for byte identical. It
//! reports counts by detector, never values, and its errors never carry body bytes.
//!
//! It must not know about HTTP servers, connections, grants or the audit store: the gateway
//! decides which profile applies and what to do with a [`MaskError`] (abort the response:
//! masking fails closed) and the [`MaskReport`].
//!
//! ```
//! use portcullis_mask::{ContentKind, MaskConfig, MaskEngine, SessionContext};
//! let engine = MaskEngine::new(&MaskConfig::default(), "azure").unwrap();
//! let session = SessionContext::new(b"per-session secret key material");
//! let mut stream = engine.stream(ContentKind::from_content_type(Some("application/json")), &session).unwrap();
//! let mut out = Vec::new();
//! stream.push(br#"{"keys":[{"keyName":"key1","value":"abc"#, &mut out).unwrap();
//! stream.push(br#"def"}]}"#, &mut out).unwrap();
//! stream.finish(&mut out).unwrap();
//! assert_eq!(out, br#"{"keys":[{"keyName":"key1","value":"[REDACTED:azure_storage_key]"}]}"#);
//! assert_eq!(stream.report().count("azure_storage_key"), 1);
//! ```

mod config;
mod detect;
mod encoding;
mod engine;
mod error;
mod form;
mod json;
mod masker;
mod path;
mod profile;
mod report;
mod stream;
mod text;
mod xml;

pub use config::{
    CustomDetector, DetectorSetting, FieldRule, MaskConfig, OnOversize, OnUnknown, ProfileConfig, Strategy,
    Validator,
};
pub use engine::{ContentKind, MaskEngine, MaskProfiles, SessionContext};
pub use error::{MaskError, MaskErrorCode};
pub use report::MaskReport;
pub use stream::MaskStream;

/// Names of the built-in content detectors (for docs and `portcullis mask --list`).
pub fn builtin_detectors() -> Vec<&'static str> {
    detect::builtin_names().collect()
}

/// Whether a built-in detector is on unless a profile turns it off.
pub fn detector_default_on(name: &str) -> bool {
    detect::default_on(name)
}
