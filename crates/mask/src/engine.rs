//! The public entry points: compile profiles once, then open a [`MaskStream`] per response.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;

use aws_lc_rs::hmac;

use crate::config::MaskConfig;
use crate::encoding::{self, Decoder};
use crate::form::FormCore;
use crate::json::JsonCore;
use crate::masker::Masker;
use crate::profile::{self, Compiled};
use crate::stream::{mask_header, Format, MaskStream};
use crate::text::TextCore;
use crate::xml::XmlCore;
use crate::MaskError;

/// What a body is, from its `Content-Type`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContentKind {
    /// `application/json`, `*/*+json`, `text/json`.
    Json,
    /// `application/x-ndjson`, `application/ndjson`, `application/jsonl`, `application/x-jsonlines`.
    Ndjson,
    /// `application/xml`, `text/xml`, `*/*+xml`.
    Xml,
    /// Any other `text/*`.
    Text,
    /// `application/x-www-form-urlencoded`.
    Form,
    /// Anything else, or no content type: the media type, for the error message.
    Other(String),
}

impl ContentKind {
    /// Classifies a `Content-Type` header value (parameters such as `charset` are ignored).
    pub fn from_content_type(content_type: Option<&str>) -> Self {
        let Some(ct) = content_type else { return Self::Other("(none)".into()) };
        let media = ct.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
        let (top, sub) = media.split_once('/').unwrap_or((media.as_str(), ""));
        match (top, sub) {
            ("application", "json") | ("text", "json") => Self::Json,
            (_, s) if s.ends_with("+json") => Self::Json,
            ("application", "x-ndjson" | "ndjson" | "jsonl" | "x-jsonlines" | "jsonlines") => Self::Ndjson,
            ("application" | "text", "xml") => Self::Xml,
            (_, s) if s.ends_with("+xml") => Self::Xml,
            ("text", _) => Self::Text,
            ("application", "x-www-form-urlencoded") => Self::Form,
            _ => Self::Other(media.chars().take(100).collect()),
        }
    }
}

/// Per-session masking context: the key of the `hash` strategy's pseudonyms. One per
/// session (grant), so pseudonyms are stable within it and unlinkable across sessions.
#[derive(Clone)]
pub struct SessionContext {
    key: hmac::Key,
}

impl SessionContext {
    /// A context keyed by `secret` (at least 32 random bytes, e.g. derived per session).
    pub fn new(secret: &[u8]) -> Self {
        Self { key: hmac::Key::new(hmac::HMAC_SHA256, secret) }
    }

    /// A context with a fresh random key.
    pub fn random() -> Result<Self, MaskError> {
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let key = hmac::Key::generate(hmac::HMAC_SHA256, &rng)
            .map_err(|_| MaskError::Config("no randomness for the session key".into()))?;
        Ok(Self { key })
    }
}

impl std::fmt::Debug for SessionContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionContext { key: <hidden> }")
    }
}

/// All profiles of a configuration, compiled once at start (a bad profile fails there).
pub struct MaskProfiles {
    engines: BTreeMap<String, MaskEngine>,
}

impl MaskProfiles {
    /// Compiles the shipped profiles and every configured one.
    pub fn new(config: &MaskConfig) -> Result<Self, MaskError> {
        let mut engines = BTreeMap::new();
        let names = ["azure", "strict"].into_iter().map(String::from).chain(config.profiles.keys().cloned());
        for name in names {
            let compiled = profile::compile(config, &name)?;
            engines.insert(name, MaskEngine { profile: Arc::new(compiled) });
        }
        Ok(Self { engines })
    }

    /// The engine of a profile by name.
    pub fn engine(&self, name: &str) -> Result<MaskEngine, MaskError> {
        self.engines.get(name).cloned().ok_or_else(|| MaskError::UnknownProfile(name.to_string()))
    }

    /// Names of all profiles.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.engines.keys().map(String::as_str)
    }
}

/// One compiled profile. Cheap to clone; share it across requests.
#[derive(Clone)]
pub struct MaskEngine {
    profile: Arc<Compiled>,
}

impl std::fmt::Debug for MaskEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MaskEngine").field("profile", &self.profile.name).finish_non_exhaustive()
    }
}

impl std::fmt::Debug for MaskProfiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.engines.keys()).finish()
    }
}

impl MaskEngine {
    /// Compiles one profile of `config` (shipped or configured).
    pub fn new(config: &MaskConfig, profile_name: &str) -> Result<Self, MaskError> {
        Ok(Self { profile: Arc::new(profile::compile(config, profile_name)?) })
    }

    /// The profile's name.
    pub fn profile_name(&self) -> &str {
        &self.profile.name
    }

    /// Opens a stream for an identity-encoded body. For [`ContentKind::Other`] the stream
    /// refuses the first non-empty chunk (an empty body is fine) unless the profile says
    /// `on_unknown = "pass"`.
    pub fn stream(&self, kind: ContentKind, session: &SessionContext) -> Result<MaskStream, MaskError> {
        self.stream_encoded(kind, None, session)
    }

    /// Opens a stream for a body with the given `Content-Encoding` (gzip, deflate, br, zstd
    /// or identity). The output is identity-encoded; see [`MaskStream::output_is_decoded`].
    pub fn stream_encoded(
        &self,
        kind: ContentKind,
        content_encoding: Option<&str>,
        session: &SessionContext,
    ) -> Result<MaskStream, MaskError> {
        let p = &self.profile;
        let format = match kind {
            ContentKind::Json => Format::Json(Box::new(JsonCore::new(Arc::clone(p), false))),
            ContentKind::Ndjson => Format::Json(Box::new(JsonCore::new(Arc::clone(p), true))),
            ContentKind::Xml => Format::Xml(XmlCore::new()),
            ContentKind::Text => Format::Text(TextCore::new(p.scanner.window())),
            ContentKind::Form => Format::Form(FormCore::new()),
            ContentKind::Other(ct) => Format::Unknown(ct),
        };
        let masker = Masker::new(Arc::clone(p), session.key.clone());
        let mut stream = MaskStream::new(masker, format, None);
        let name = match content_encoding.map(encoding::parse).transpose() {
            Ok(name) => name.flatten(),
            Err(_) if stream.is_passthrough() => None,
            Err(other) => return Err(MaskError::UnsupportedEncoding(other)),
        };
        if let Some(name) = name.filter(|_| !stream.is_passthrough()) {
            stream.decoder = Some(Decoder::new(name, p.max_decoded)?);
        }
        Ok(stream)
    }

    /// Masks one response header value (field rules match the header name, detectors the
    /// value). Use [`MaskStream::mask_header_value`] to count it in the response's report.
    pub fn mask_header_value<'a>(
        &self,
        name: &str,
        value: &'a str,
        session: &SessionContext,
    ) -> Cow<'a, str> {
        let mut m = Masker::new(Arc::clone(&self.profile), session.key.clone());
        mask_header(&mut m, name, value)
    }

    /// Masks a whole in-memory body (tests, the CLI on small inputs). Same engine as streaming.
    pub fn mask_bytes(
        &self,
        kind: ContentKind,
        body: &[u8],
        session: &SessionContext,
    ) -> Result<(Vec<u8>, crate::MaskReport), MaskError> {
        let mut s = self.stream(kind, session)?;
        let mut out = Vec::with_capacity(body.len());
        s.push(body, &mut out)?;
        s.finish(&mut out)?;
        Ok((out, s.report()))
    }
}
