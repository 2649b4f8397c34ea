//! Reading a config file, applying `PORTCULLIS_*` environment overrides, and reporting
//! errors with their origin (file or variable), key and reason.

use std::fmt;
use std::path::{Path, PathBuf};

use super::Config;

/// Environment variables that belong to the CLI, not to the config file, and so are
/// never read as overrides. `PORTCULLIS_TEST_*` variables (test settings) are skipped too.
pub const CLI_ENV_VARS: &[&str] = &[
    "PORTCULLIS_URL",
    "PORTCULLIS_TOKEN",
    "PORTCULLIS_CONFIG",
    "PORTCULLIS_CONNECTOR_CONFIG",
    "PORTCULLIS_LOG",
];

const PREFIX: &str = "PORTCULLIS_";

/// Where a config value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigSource {
    /// The config file.
    File(PathBuf),
    /// An environment variable.
    Env(String),
}

impl fmt::Display for ConfigSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigSource::File(p) => write!(f, "{}", p.display()),
            ConfigSource::Env(v) => write!(f, "environment variable {v}"),
        }
    }
}

/// One thing wrong with a config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The file or variable the value came from.
    pub source: ConfigSource,
    /// The dotted key, e.g. `listeners.data.addr` or `connections[0].upstream`.
    pub key: String,
    /// What is wrong and what to do.
    pub reason: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() {
            write!(f, "{}: {}", self.source, self.reason)
        } else {
            write!(f, "{}: key `{}`: {}", self.source, self.key, self.reason)
        }
    }
}

/// Why a config could not be loaded. Every variant names the file or variable.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{}: cannot read the config file: {source}", file.display())]
    Read {
        /// The file.
        file: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid TOML.
    #[error("{}: not valid TOML: {message}", file.display())]
    Syntax {
        /// The file.
        file: PathBuf,
        /// The parser's message, with line and column.
        message: String,
    },
    /// One or more values are wrong.
    #[error("{}", problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Invalid {
        /// Every problem found.
        problems: Vec<Problem>,
    },
}

impl Config {
    /// Loads `file`, applies `PORTCULLIS_*` overrides from the process environment,
    /// resolves relative paths against the file's folder and validates the result.
    pub fn load(file: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(file)
            .map_err(|source| ConfigError::Read { file: file.to_owned(), source })?;
        Config::from_toml(&text, file, std::env::vars())
    }

    /// Like [`Config::load`], from text and an explicit environment (for tests and for
    /// callers that build configs in memory, such as the demo).
    pub fn from_toml(
        text: &str,
        file: &Path,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let mut table: toml::Table = toml::from_str(text).map_err(|e| ConfigError::Syntax {
            file: file.to_owned(),
            message: e.to_string().trim().to_owned(),
        })?;
        let overrides = apply_env(&mut table, env)?;
        let origin = |key: &str| -> ConfigSource {
            overrides
                .iter()
                .find(|(k, _)| key == k.as_str() || key.starts_with(&format!("{k}.")))
                .map(|(_, var)| ConfigSource::Env(var.clone()))
                .unwrap_or_else(|| ConfigSource::File(file.to_owned()))
        };
        let mut config: Config =
            serde_path_to_error::deserialize(toml::Value::Table(table)).map_err(|e| {
                let key = e.path().to_string();
                let key = if key == "." { String::new() } else { key };
                ConfigError::Invalid {
                    problems: vec![Problem {
                        source: origin(&key),
                        key,
                        reason: e.into_inner().message().to_owned(),
                    }],
                }
            })?;
        let base = file.parent().map(Path::to_path_buf).unwrap_or_default();
        config.resolve_paths(&base);
        let problems: Vec<Problem> = config
            .validate()
            .into_iter()
            .map(|(key, reason)| Problem { source: origin(&key), key, reason })
            .collect();
        if problems.is_empty() {
            Ok(config)
        } else {
            Err(ConfigError::Invalid { problems })
        }
    }

    fn resolve_paths(&mut self, base: &Path) {
        let fix = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        fix(&mut self.data_dir);
        let listeners = [
            Some(&mut self.listeners.data),
            Some(&mut self.listeners.control),
            self.listeners.tunnel.as_mut(),
        ];
        for tls in listeners.into_iter().flatten().filter_map(|l| l.tls.as_mut()) {
            fix(&mut tls.cert);
            fix(&mut tls.key);
        }
        if let Some(p) = self.tunnel.enrollment_tokens_file.as_mut() {
            fix(p);
        }
        for c in &mut self.connections {
            if let Some(ca) = c.upstream_ca.as_mut() {
                fix(ca);
            }
            if let Some(credential) = c.credential.as_mut() {
                credential.resolve_paths(base);
            }
            for r in c.rules.iter_mut().flatten().filter(|r| r.as_str() != crate::guardrails::AZURE_DEFAULT) {
                let mut p = PathBuf::from(r.as_str());
                fix(&mut p);
                *r = p.display().to_string();
            }
        }
        if let Some(access) = self.access.as_mut() {
            access.policy_files.iter_mut().for_each(fix);
            if let Some(schema) = access.schema_file.as_mut() {
                fix(schema);
            }
        }
    }
}

/// Applies overrides; returns (dotted key, variable) for each, to attribute errors.
fn apply_env(
    table: &mut toml::Table,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<Vec<(String, String)>, ConfigError> {
    let mut applied = Vec::new();
    let mut vars: Vec<(String, String)> = env
        .into_iter()
        .filter(|(k, _)| {
            k.starts_with(PREFIX) && !CLI_ENV_VARS.contains(&k.as_str()) && !k.starts_with("PORTCULLIS_TEST_")
        })
        .collect();
    vars.sort();
    for (var, raw) in vars {
        let path: Vec<String> = var[PREFIX.len()..].split("__").map(|s| s.to_ascii_lowercase()).collect();
        let bad = |reason: String| ConfigError::Invalid {
            problems: vec![Problem { source: ConfigSource::Env(var.clone()), key: path.join("."), reason }],
        };
        if path.iter().any(String::is_empty) {
            return Err(bad("empty key segment: separate levels with a double underscore, e.g. \
                            PORTCULLIS_LISTENERS__DATA__ADDR"
                .into()));
        }
        set_path(table, &path, &raw).map_err(bad)?;
        let dotted = dotted_key(&path);
        applied.push((dotted, var));
    }
    Ok(applied)
}

/// `["connections","0","upstream"]` → `connections[0].upstream`, the form
/// serde_path_to_error prints.
fn dotted_key(path: &[String]) -> String {
    let mut out = String::new();
    for seg in path {
        if seg.parse::<usize>().is_ok() {
            out.push_str(&format!("[{seg}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(seg);
        }
    }
    out
}

fn parse_scalar(raw: &str, existing: Option<&toml::Value>) -> toml::Value {
    if matches!(existing, Some(toml::Value::String(_))) {
        return toml::Value::String(raw.to_owned());
    }
    match toml::from_str::<toml::Table>(&format!("v = {raw}")) {
        Ok(mut t) => t.remove("v").unwrap_or_else(|| toml::Value::String(raw.to_owned())),
        Err(_) => toml::Value::String(raw.to_owned()),
    }
}

fn fresh(index_next: bool) -> toml::Value {
    if index_next {
        toml::Value::Array(Vec::new())
    } else {
        toml::Value::Table(toml::Table::new())
    }
}

fn is_index(seg: &str) -> bool {
    seg.parse::<usize>().is_ok()
}

fn set_path(table: &mut toml::Table, path: &[String], raw: &str) -> Result<(), String> {
    let (first, rest) = path.split_first().ok_or("empty key")?;
    match rest.first() {
        None => {
            let value = parse_scalar(raw, table.get(first.as_str()));
            table.insert(first.clone(), value);
            Ok(())
        }
        Some(next) => {
            let node = table.entry(first.clone()).or_insert_with(|| fresh(is_index(next)));
            set_in(node, rest, raw)
        }
    }
}

fn set_in(node: &mut toml::Value, path: &[String], raw: &str) -> Result<(), String> {
    let (seg, rest) = path.split_first().ok_or("empty key")?;
    match node {
        toml::Value::Table(t) => set_path(t, path, raw),
        toml::Value::Array(a) => {
            let idx: usize = seg.parse().map_err(|_| format!("`{seg}` is not an index into a list"))?;
            if idx > a.len() {
                return Err(format!("index {idx} skips entries (the list has {})", a.len()));
            }
            match rest.first() {
                None => {
                    let value = parse_scalar(raw, a.get(idx));
                    if idx == a.len() {
                        a.push(value);
                    } else {
                        a[idx] = value;
                    }
                    Ok(())
                }
                Some(next) => {
                    if idx == a.len() {
                        a.push(fresh(is_index(next)));
                    }
                    set_in(&mut a[idx], rest, raw)
                }
            }
        }
        _ => Err(format!("`{seg}` is inside a value that is not a table or list")),
    }
}
