//! Spawning a peer process and waiting, with a deadline, for the line that says it serves.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::error::{Result, SandboxError};

/// How long a peer may take to print its readiness line.
const START_DEADLINE: Duration = Duration::from_secs(30);

/// Spawns `cmd` (killed when the returned child is dropped) and returns the first stdout
/// line for which `ready` yields a value, together with that value.
pub(crate) async fn spawn_until<T>(
    what: &'static str,
    mut cmd: Command,
    ready: impl Fn(&str) -> Option<T>,
) -> Result<(Child, T)> {
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).kill_on_drop(true);
    let mut child = cmd
        .spawn()
        .map_err(|e| SandboxError::PeerFailed { what, detail: format!("could not start: {e}") })?;
    let stdout =
        child.stdout.take().ok_or_else(|| SandboxError::PeerFailed { what, detail: "no stdout".into() })?;
    let mut stderr = child.stderr.take();
    let mut lines = BufReader::new(stdout).lines();
    let mut seen = Vec::new();
    let wait = async {
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(v) = ready(&line) {
                return Some(v);
            }
            seen.push(line);
        }
        None
    };
    let outcome = tokio::time::timeout(START_DEADLINE, wait).await;
    match outcome {
        Ok(Some(value)) => {
            // Keep draining output so the peer never blocks on a full pipe.
            tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
            if let Some(err) = stderr.take() {
                tokio::spawn(async move {
                    let mut l = BufReader::new(err).lines();
                    while let Ok(Some(_)) = l.next_line().await {}
                });
            }
            Ok((child, value))
        }
        other => {
            let _ = child.start_kill();
            let mut err_text = String::new();
            if let Some(err) = stderr.take() {
                let mut l = BufReader::new(err).lines();
                let drain = async {
                    while let Ok(Some(line)) = l.next_line().await {
                        err_text.push_str(&line);
                        err_text.push('\n');
                    }
                };
                let _ = tokio::time::timeout(Duration::from_secs(2), drain).await;
            }
            let why = if other.is_err() {
                "did not become ready within 30 s"
            } else {
                "exited before it was ready"
            };
            Err(SandboxError::PeerFailed {
                what,
                detail: format!("{why}; stdout: {}; stderr: {}", seen.join(" | "), err_text.trim()),
            })
        }
    }
}

/// Polls `url` until the peer answers HTTP with a status `ready` accepts, within a
/// deadline (never a fixed sleep).
pub(crate) async fn wait_for_http(what: &'static str, url: &str, ready: fn(u16) -> bool) -> Result<()> {
    let client = reqwest::Client::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let outcome = client.get(url).send().await;
        match &outcome {
            Ok(r) if ready(r.status().as_u16()) => return Ok(()),
            _ if tokio::time::Instant::now() > deadline => {
                let detail = format!("{url} did not become ready within 20 s: {outcome:?}");
                return Err(SandboxError::PeerFailed { what, detail });
            }
            _ => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}
