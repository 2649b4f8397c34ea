//! Running the Python interop tests (`tests/peers/python/…`) with the venv's pytest.

use std::time::Duration;

use tokio::process::Command;

use crate::error::{Result, SandboxError};

/// What a pytest run printed and whether it passed.
#[derive(Debug, Clone)]
pub struct PytestRun {
    /// Exit code 0 and at least one test ran.
    pub passed: bool,
    /// pytest's exit code (`None` if killed by a signal).
    pub code: Option<i32>,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl PytestRun {
    /// A readable report for assertion messages.
    pub fn report(&self) -> String {
        format!(
            "pytest exit code {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// Runs `python -m pytest tests/peers/python/FILE` from the repository root with a clean
/// environment (only `PATH`, `HOME` and `env`), so no ambient Azure setting (and no
/// metadata-address fallback) can leak in, and with a proxy setting that sends anything
/// not addressed to loopback to a closed loopback port. Fails with [`SandboxError::PeerMissing`] when
/// the venv is not installed.
pub async fn run_pytest(file: &str, env: &[(&str, String)]) -> Result<PytestRun> {
    let python = super::python()?;
    let mut cmd = Command::new(python);
    cmd.current_dir(super::repo_root())
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider", "-rA"])
        .arg(format!("tests/peers/python/{file}"))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", std::env::var_os("HOME").unwrap_or_else(|| "/tmp".into()))
        .env("PYTHONDONTWRITEBYTECODE", "1")
        // Safety net: anything not addressed to loopback goes to a closed loopback port
        // instead of the network (requests honours these variables).
        .env("HTTP_PROXY", "http://127.0.0.1:9")
        .env("HTTPS_PROXY", "http://127.0.0.1:9")
        .env("NO_PROXY", "127.0.0.1,localhost")
        .kill_on_drop(true);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let run = tokio::time::timeout(Duration::from_secs(300), cmd.output()).await;
    let output = match run {
        Ok(Ok(o)) => o,
        Ok(Err(e)) => {
            return Err(SandboxError::PeerFailed { what: "pytest", detail: format!("could not run: {e}") })
        }
        Err(_) => {
            return Err(SandboxError::PeerFailed {
                what: "pytest",
                detail: "did not finish within 300 s".into(),
            })
        }
    };
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let ran_something = stdout.contains(" passed");
    Ok(PytestRun {
        passed: output.status.success() && ran_something,
        code: output.status.code(),
        stdout,
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    })
}
