//! Masking configuration as operators write it (TOML under `[mask]`, or any serde format).
//!
//! Every field is documented here; docs/config.md copies these comments.

use std::collections::BTreeMap;

use serde::Deserialize;

/// The `[mask]` section: named profiles. `azure` and `strict` are shipped; a configured
/// profile with one of those names replaces the shipped one.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaskConfig {
    /// Profiles by name (`[mask.profiles.NAME]`). A connection names its profile; a guardrail
    /// rule may name a stricter one (`mask = "strict"`) for the requests it matches.
    #[serde(default)]
    pub profiles: BTreeMap<String, ProfileConfig>,
}

/// One masking profile. Unset fields take the value of the profile named in `extends`,
/// or the built-in defaults.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileConfig {
    /// Start from this profile (shipped or configured) and add to it: `fields` and `custom`
    /// are appended, `detectors` entries override one by one, other settings replace.
    #[serde(default)]
    pub extends: Option<String>,
    /// Field rules: values found at these JSON paths / XML elements / form keys / header
    /// names are masked whatever they contain.
    #[serde(default)]
    pub fields: Vec<FieldRule>,
    /// Built-in or custom detectors by name, each `"off"` or the strategy to apply when it
    /// finds something (`"redact"`, `"partial"`, `"hash"`, `"drop"`). Detectors not listed
    /// keep their default (on with `redact`, except `ipv4`/`ipv6` which are off).
    #[serde(default)]
    pub detectors: BTreeMap<String, DetectorSetting>,
    /// Custom content detectors (regex + optional validator).
    #[serde(default)]
    pub custom: Vec<CustomDetector>,
    /// What to do with a body whose content type (or content encoding) cannot be inspected:
    /// `"refuse"` (default, fail closed) or `"pass"` (forward it unmasked).
    #[serde(default)]
    pub on_unknown: Option<OnUnknown>,
    /// Decode base64 runs found inside values and mask the whole run when the decoded text
    /// contains a secret (e.g. cloud-init `customData`). Default: true.
    #[serde(default)]
    pub decode_base64: Option<bool>,
    /// Parse JSON documents found inside JSON string values and mask them by the same rules
    /// (e.g. ARM deployment `parameters` passed as a string). Default: true.
    #[serde(default)]
    pub inspect_nested_json: Option<bool>,
    /// Longest single JSON string, XML text node or form value that is inspected as one unit,
    /// in bytes. A longer one is handled by `on_oversize`. Default: 1048576 (1 MiB).
    #[serde(default)]
    pub max_string_bytes: Option<usize>,
    /// What to do with a unit longer than `max_string_bytes`: `"redact"` (default: replace it
    /// whole with `[REDACTED:oversized_value]`) or `"refuse"` (fail the response).
    #[serde(default)]
    pub on_oversize: Option<OnOversize>,
    /// Deepest JSON/XML nesting accepted; deeper bodies fail with a clear error. Default: 128.
    #[serde(default)]
    pub max_depth: Option<usize>,
    /// Largest decoded size of a compressed body, in bytes (compression-bomb guard).
    /// Default: 268435456 (256 MiB).
    #[serde(default)]
    pub max_decoded_bytes: Option<u64>,
}

/// A field rule: a path glob and what to do with the value found there.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldRule {
    /// Path glob, case-insensitive: segments separated by `.`, `*` matches one key (or part
    /// of one: `*Key`), `**` any number of segments, `[*]` any array index, `[3]` one index.
    /// Examples: `**.primaryKey`, `**.connectionString`, `keys[*].value`, `**.clientSecret`.
    /// In XML the segments are element names; in forms and headers, the field name alone.
    pub path: String,
    /// Strategy for values matched by this rule. Default: `redact`. Objects and arrays under
    /// a matched key are masked leaf by leaf (except with `drop`, which removes the member).
    #[serde(default)]
    pub strategy: Option<Strategy>,
    /// Name reported in the replacement and in the counts, e.g. `azure_storage_key`.
    /// Default: `secret_field`.
    #[serde(default)]
    pub label: Option<String>,
}

/// A custom content detector.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomDetector {
    /// Name used in replacements, counts and the `detectors` table (`[a-z0-9_]+`).
    pub name: String,
    /// Regular expression (Rust `regex` syntax, linear time). It must have a bounded match
    /// length (`{m,n}` rather than `+`), so the streaming hold-back window stays bounded.
    /// If it has a capture group, only the first group is masked.
    pub regex: String,
    /// Optional check on the matched text: `luhn`, `iban`, `base64` (decodes as base64).
    #[serde(default)]
    pub validator: Option<Validator>,
    /// Strategy when it matches. Default: `redact`.
    #[serde(default)]
    pub strategy: Option<Strategy>,
}

/// How a found value is replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// `[REDACTED:label]`.
    Redact,
    /// Keep the last 4 characters: `[REDACTED:label:…1234]`. Values shorter than 12
    /// characters are redacted whole.
    Partial,
    /// Keyed HMAC-SHA256 pseudonym, stable within a session: `[HASH:label:0123456789ab]`.
    /// Two equal values give the same pseudonym, so the agent can still tell values apart.
    Hash,
    /// Remove the JSON member or array element that holds the value (the document stays
    /// valid). Outside JSON (XML, text, forms, headers) this acts as `redact`.
    Drop,
}

/// A detector's setting in a profile: off, or on with a strategy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DetectorSetting {
    /// The detector does not run.
    Off,
    /// On, with [`Strategy::Redact`].
    Redact,
    /// On, with [`Strategy::Partial`].
    Partial,
    /// On, with [`Strategy::Hash`].
    Hash,
    /// On, with [`Strategy::Drop`].
    Drop,
}

impl DetectorSetting {
    /// The strategy, or `None` when off.
    pub fn strategy(self) -> Option<Strategy> {
        match self {
            Self::Off => None,
            Self::Redact => Some(Strategy::Redact),
            Self::Partial => Some(Strategy::Partial),
            Self::Hash => Some(Strategy::Hash),
            Self::Drop => Some(Strategy::Drop),
        }
    }
}

/// A validator for custom detectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Validator {
    /// The digits of the match pass the Luhn checksum (card numbers, some ids).
    Luhn,
    /// The match is an IBAN with a valid mod-97 check.
    Iban,
    /// The match decodes as standard or URL-safe base64.
    Base64,
}

/// Policy for bodies that cannot be inspected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnUnknown {
    /// Refuse the response (fail closed).
    Refuse,
    /// Forward it unmasked.
    Pass,
}

/// Policy for a single value longer than `max_string_bytes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnOversize {
    /// Replace the whole value with `[REDACTED:oversized_value]`.
    Redact,
    /// Fail the response.
    Refuse,
}
