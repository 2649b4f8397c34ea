//! Harnesses for the real third-party peers that `tests/peers/install.sh` installs into
//! git-ignored folders: the Python venv (Azure SDKs, pytest), Azurite and `oidc-provider`.
//!
//! Nothing here installs anything: when a peer is missing, the error says to run the
//! install script, and tests that need the peer fail rather than pass silently.

mod azurite;
mod oidc;
mod process;
mod pytest;

use std::path::PathBuf;

pub use azurite::{Azurite, AZURITE_ACCOUNT, AZURITE_KEY};
pub use oidc::{OidcProvider, OidcProviderBuilder};
pub use pytest::{run_pytest, PytestRun};

use crate::error::{Result, SandboxError};

/// `tests/peers` of this repository.
pub fn dir() -> PathBuf {
    repo_root().join("tests/peers")
}

/// The repository root (where the README's test command runs).
pub fn repo_root() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    root.canonicalize().unwrap_or(root)
}

/// The venv's Python interpreter, with the Azure SDKs and pytest installed.
pub fn python() -> Result<PathBuf> {
    let path = dir().join(".venv/bin/python");
    let stamp = dir().join(".venv/.portcullis-stamp");
    if path.is_file() && stamp.is_file() {
        Ok(path)
    } else {
        Err(SandboxError::PeerMissing { what: "the Python peer venv (tests/peers/.venv)", path })
    }
}

/// `tests/peers/node_modules`, with azurite and oidc-provider installed.
pub fn node_modules() -> Result<PathBuf> {
    let path = dir().join("node_modules");
    if path.join(".portcullis-stamp").is_file() {
        Ok(path)
    } else {
        Err(SandboxError::PeerMissing { what: "the node peers (tests/peers/node_modules)", path })
    }
}

/// The `node` executable on `PATH`.
pub fn node() -> Result<PathBuf> {
    let found = std::env::var_os("PATH")
        .and_then(|paths| std::env::split_paths(&paths).map(|p| p.join("node")).find(|p| p.is_file()));
    found.ok_or_else(|| SandboxError::PeerMissing {
        what: "node (Node.js 20 or newer)",
        path: PathBuf::from("node"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_peer_names_the_install_script() {
        let err =
            SandboxError::PeerMissing { what: "the Python peer venv", path: dir().join(".venv/bin/python") };
        assert_eq!(err.reason(), crate::Reason::PeerMissing);
        let text = err.to_string();
        assert!(text.contains("run tests/peers/install.sh"), "{text}");
        assert!(text.contains("tests/peers/.venv/bin/python"), "{text}");
    }

    #[test]
    fn peer_paths_are_inside_the_repository() {
        assert!(dir().ends_with("tests/peers"));
        assert!(dir().join("install.sh").is_file(), "{}", dir().display());
    }
}
