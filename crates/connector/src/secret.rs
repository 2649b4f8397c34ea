//! Secrets: read from a file or an environment variable named in config, never written
//! inline, never printed.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

/// A secret value. `Debug` and `Display` print `[redacted]`; only [`Secret::expose`]
/// gives the value, at the one place it is used.
#[derive(Clone)]
pub struct Secret(Arc<str>);

impl Secret {
    /// Wraps a value.
    pub fn new(value: impl Into<Arc<str>>) -> Self {
        Secret(value.into())
    }

    /// The value, for the one place that sends or signs with it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Reads a secret from exactly one of `file` or `env`. A file's trailing newline is not
/// part of the secret. `what` names the config keys for error messages.
pub(crate) fn read_secret(file: Option<&Path>, env: Option<&str>, what: &str) -> Result<Secret, String> {
    let value = match (file, env) {
        (Some(path), None) => std::fs::read_to_string(path)
            .map_err(|e| format!("{what}_file {}: {e}", path.display()))?
            .trim_end_matches(['\r', '\n'])
            .to_owned(),
        (None, Some(var)) => std::env::var(var)
            .map_err(|_| format!("{what}_env: environment variable `{var}` is not set (or not UTF-8)"))?,
        (Some(_), Some(_)) => return Err(format!("set one of {what}_file and {what}_env, not both")),
        (None, None) => {
            return Err(format!("set {what}_file (a file holding the secret) or {what}_env (a variable)"))
        }
    };
    if value.is_empty() {
        return Err(format!("the {what} is empty"));
    }
    Ok(Secret::new(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?} {s}"), "[redacted] [redacted]");
        assert_eq!(s.expose(), "hunter2");
    }

    #[test]
    fn exactly_one_source() {
        assert!(read_secret(None, None, "secret").is_err());
        assert!(read_secret(Some(Path::new("/nonexistent")), Some("X"), "secret").is_err());
        let dir = std::env::temp_dir().join(format!("pc-secret-{}", uuid::Uuid::new_v4()));
        std::fs::write(&dir, "value\n").ok();
        assert_eq!(
            read_secret(Some(&dir), None, "secret").map(|s| s.expose().to_owned()),
            Ok("value".into())
        );
        std::fs::remove_file(&dir).ok();
    }
}
