//! azure-storage-blob (Python) against Azurite: create a container, upload, list,
//! download with the development key; a wrong key is refused (Azurite checks SharedKey).
//! Needs `tests/peers/install.sh`; fails (never skips) when the peers are missing.

use portcullis_sandbox::peers::{run_pytest, Azurite, AZURITE_KEY};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_blob_sdk_round_trips_through_azurite() -> anyhow::Result<()> {
    let azurite = Azurite::start().await?;
    let run = run_pytest(
        "test_blob.py",
        &[
            ("PORTCULLIS_AZURITE_ACCOUNT_URL", azurite.account_url()),
            ("PORTCULLIS_AZURITE_KEY", AZURITE_KEY.to_owned()),
        ],
    )
    .await?;
    assert!(run.passed, "{}", run.report());
    assert!(run.stdout.contains("2 passed"), "{}", run.report());
    Ok(())
}
