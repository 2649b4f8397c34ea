//! Azurite (Microsoft's storage emulator) blob service on a free loopback port. It really
//! verifies SharedKey signatures, which makes it the credential-injection check for
//! Azure Storage.

use tokio::process::{Child, Command};

use super::process::{spawn_until, wait_for_http};
use crate::error::Result;

/// Azurite's well-known development account name.
pub const AZURITE_ACCOUNT: &str = "devstoreaccount1";

/// Azurite's well-known development account key (public, documented by Microsoft).
pub const AZURITE_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/// A running Azurite blob service; killed when dropped.
#[derive(Debug)]
pub struct Azurite {
    url: String,
    _child: Child,
}

impl Azurite {
    /// Starts `azurite` blob on `127.0.0.1:0` in memory, without telemetry.
    pub async fn start() -> Result<Self> {
        let main = super::node_modules()?.join("azurite/dist/src/blob/main.js");
        let mut cmd = Command::new(super::node()?);
        cmd.arg(main)
            .args(["--blobHost", "127.0.0.1", "--blobPort", "0"])
            .args(["--inMemoryPersistence", "--disableTelemetry", "--skipApiVersionCheck", "--loose"])
            .current_dir(super::dir());
        let (child, url) = spawn_until("azurite", cmd, |line| {
            line.split("successfully listens on ").nth(1).map(|u| u.trim().to_owned())
        })
        .await?;
        // Any HTTP answer (403 without a signature) means the blob service is serving.
        let probe = format!("{url}/{AZURITE_ACCOUNT}?comp=list");
        wait_for_http("azurite", &probe, |status| status < 500).await?;
        Ok(Self { url, _child: child })
    }

    /// `http://127.0.0.1:PORT` of the blob service.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The account URL the SDK takes: `http://127.0.0.1:PORT/devstoreaccount1`.
    pub fn account_url(&self) -> String {
        format!("{}/{AZURITE_ACCOUNT}", self.url)
    }

    /// A connection string for the development account on this instance.
    pub fn connection_string(&self) -> String {
        format!(
            "DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};AccountKey={AZURITE_KEY};BlobEndpoint={}",
            self.account_url()
        )
    }
}
