//! The built-in content detectors: names, default state, patterns, prefilter literals and
//! validators. Patterns are bounded (`{m,n}`), so the longest possible match is known and the
//! streaming hold-back window is exactly that long.

/// A check run on a regex match before it counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Check {
    None,
    AzureKey,
    SasSignature,
    Jwt,
    MixedClasses,
    Email,
    Ipv4,
    Ipv6,
    Luhn,
    Iban,
    Base64,
}

/// Where a match must not be glued to its neighbours.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Boundary {
    /// Bytes (besides ASCII alphanumerics) that may not precede the match.
    pub(crate) before: &'static [u8],
    /// Bytes (besides ASCII alphanumerics) that may not follow the match.
    pub(crate) after: &'static [u8],
    /// Whether alphanumerics are forbidden neighbours too.
    pub(crate) alnum: bool,
}

const ALNUM: Boundary = Boundary { before: b"", after: b"", alnum: true };
const NONE: Boundary = Boundary { before: b"", after: b"", alnum: false };

/// A built-in regex detector.
pub(crate) struct Spec {
    pub(crate) name: &'static str,
    pub(crate) default_on: bool,
    pub(crate) pattern: &'static str,
    /// Literals (case-sensitive), one of which must occur for the regex to run. A detector
    /// whose pattern is case-insensitive uses a trigger without letters (`=`).
    pub(crate) triggers: &'static [&'static str],
    pub(crate) check: Check,
    pub(crate) boundary: Boundary,
}

/// Names of the detectors implemented by the numeric scanner.
pub(crate) const NUMERIC: [&str; 4] = ["credit_card", "phone", "us_ssn", "iban"];

pub(crate) const SPECS: &[Spec] = &[
    // Before `azure_storage_key`: a Cosmos DB key has the same shape, and the label of the
    // earlier detector wins when two find the same span.
    Spec {
        name: "cosmos_db_key",
        default_on: true,
        pattern: r"(?i-u)AccountEndpoint=https://[a-z0-9\-]{3,50}\.documents\.azure\.com[:0-9/]{0,8};\s{0,4}AccountKey=([A-Za-z0-9+/]{86}==)",
        triggers: &["documents.azure.com"],
        check: Check::AzureKey,
        boundary: Boundary { before: b"", after: b"+/=", alnum: true },
    },
    Spec {
        name: "azure_storage_key",
        default_on: true,
        pattern: r"(?-u)[A-Za-z0-9+/]{86}==",
        triggers: &["=="],
        check: Check::AzureKey,
        boundary: Boundary { before: b"+/", after: b"+/=", alnum: true },
    },
    Spec {
        name: "azure_sas_token",
        default_on: true,
        pattern: r"(?-u)sig=([A-Za-z0-9%+/=]{16,256})",
        triggers: &["="],
        check: Check::SasSignature,
        boundary: Boundary { before: b"", after: b"%+/=", alnum: true },
    },
    Spec {
        name: "connection_string",
        default_on: true,
        pattern: r"(?i-u)(?:AccountKey|SharedAccessKey|Password|Pwd)=([^;\s&<>]{1,1024})",
        triggers: &["="],
        check: Check::None,
        boundary: Boundary { before: b"_", after: b"", alnum: true },
    },
    Spec {
        name: "entra_client_secret",
        default_on: true,
        pattern: r"(?-u)[A-Za-z0-9_~.\-]{3}[0-9]Q~[A-Za-z0-9_~.\-]{31,34}",
        triggers: &["Q~"],
        check: Check::None,
        boundary: Boundary { before: b"_~.-", after: b"_~.-", alnum: true },
    },
    Spec {
        name: "jwt",
        default_on: true,
        pattern: r"(?-u)eyJ[A-Za-z0-9_\-]{5,2048}\.[A-Za-z0-9_\-]{2,8192}\.[A-Za-z0-9_\-]{0,2048}",
        triggers: &["eyJ"],
        check: Check::Jwt,
        boundary: Boundary { before: b"_-.", after: b"_-", alnum: true },
    },
    Spec {
        name: "pem_private_key",
        default_on: true,
        pattern: r"(?s-u)-----BEGIN[ A-Z0-9]{0,32} PRIVATE KEY-----.{1,16384}?-----END[ A-Z0-9]{0,32} PRIVATE KEY-----",
        triggers: &["PRIVATE KEY-----"],
        check: Check::None,
        boundary: NONE,
    },
    Spec {
        name: "aws_access_key_id",
        default_on: true,
        pattern: r"(?-u)(?:AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16}",
        triggers: &["AKIA", "ASIA", "ABIA", "ACCA"],
        check: Check::None,
        boundary: ALNUM,
    },
    Spec {
        name: "aws_secret_access_key",
        default_on: true,
        pattern: r#"(?i-u)aws_?secret_?access_?key["'\s]{0,4}[:=]\s{0,4}["']?([A-Za-z0-9/+]{40})"#,
        triggers: &[
            "secret_access_key",
            "SECRET_ACCESS_KEY",
            "SecretAccessKey",
            "secretAccessKey",
            "secretaccesskey",
        ],
        check: Check::None,
        boundary: Boundary { before: b"", after: b"/+", alnum: true },
    },
    Spec {
        name: "gcp_api_key",
        default_on: true,
        pattern: r"(?-u)AIza[0-9A-Za-z_\-]{35}",
        triggers: &["AIza"],
        check: Check::None,
        boundary: Boundary { before: b"_-", after: b"_-", alnum: true },
    },
    Spec {
        name: "github_token",
        default_on: true,
        pattern: r"(?-u)gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255}",
        triggers: &["ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"],
        check: Check::None,
        boundary: Boundary { before: b"_", after: b"_", alnum: true },
    },
    Spec {
        name: "slack_token",
        default_on: true,
        pattern: r"(?-u)xox[abposr]-[A-Za-z0-9\-]{10,250}|https://hooks\.slack\.com/services/[A-Za-z0-9/]{20,200}",
        triggers: &["xox", "hooks.slack.com"],
        check: Check::None,
        boundary: Boundary { before: b"-", after: b"-", alnum: true },
    },
    Spec {
        name: "openai_api_key",
        default_on: true,
        pattern: r"(?-u)sk-(?:proj-|svcacct-|admin-|ant-)?[A-Za-z0-9_\-]{32,300}",
        triggers: &["sk-"],
        check: Check::MixedClasses,
        boundary: Boundary { before: b"_-", after: b"_-", alnum: true },
    },
    Spec {
        name: "email",
        default_on: true,
        pattern: r"(?-u)[A-Za-z0-9._%+\-]{1,64}@[A-Za-z0-9\-]{1,63}(?:\.[A-Za-z0-9\-]{1,63}){0,8}\.[A-Za-z]{2,24}",
        triggers: &["@"],
        check: Check::Email,
        boundary: Boundary { before: b"._%+-", after: b"-@", alnum: true },
    },
    Spec {
        name: "ipv4",
        default_on: false,
        pattern: r"(?-u)(?:(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])",
        triggers: &["."],
        check: Check::Ipv4,
        boundary: Boundary { before: b".", after: b"", alnum: true },
    },
    Spec {
        name: "ipv6",
        default_on: false,
        pattern: r"(?i-u)[0-9a-f]{0,4}(?::[0-9a-f]{0,4}){2,7}",
        triggers: &[":"],
        check: Check::Ipv6,
        boundary: Boundary { before: b":", after: b":", alnum: true },
    },
];

/// Whether a built-in detector is on when a profile does not mention it.
pub(crate) fn default_on(name: &str) -> bool {
    SPECS.iter().find(|s| s.name == name).map_or(NUMERIC.contains(&name), |s| s.default_on)
}

/// All built-in detector names.
pub(crate) fn builtin_names() -> impl Iterator<Item = &'static str> {
    SPECS.iter().map(|s| s.name).chain(NUMERIC)
}

/// Whether the byte `b` glues onto a match under `boundary`, on the side given by `set`.
pub(crate) fn glued(b: u8, alnum: bool, set: &[u8]) -> bool {
    (alnum && b.is_ascii_alphanumeric()) || set.contains(&b)
}

/// The ipv4 check: the regex is exact; only dotted quads glued to more dots are refused.
pub(crate) fn ipv4_ok(t: &[u8], end: usize) -> bool {
    !(t.get(end) == Some(&b'.') && t.get(end + 1).is_some_and(u8::is_ascii_digit))
}
