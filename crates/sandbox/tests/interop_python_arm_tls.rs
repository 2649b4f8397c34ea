//! The Python Azure SDK against the fake ARM over HTTPS, trusting only the fake's CA
//! (`REQUESTS_CA_BUNDLE`), as it will trust a gateway's CA.
//! Needs `tests/peers/install.sh`; fails (never skips) when the peers are missing.

use std::io::Write as _;

use portcullis_sandbox::peers::run_pytest;
use portcullis_sandbox::{FakeArm, FakeEntra, StorageAccount};

const SUB: &str = "4c1d2e3f-5a6b-4c7d-8e9f-0a1b2c3d4e5f";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_sdk_works_against_fake_arm_over_https() -> anyhow::Result<()> {
    let idp = FakeEntra::builder().start().await?;
    let arm = FakeArm::builder(&idp)
        .subscription(SUB, "Interop TLS")
        .storage_account(StorageAccount::new("rg-storage", "sttls"))
        .page_size(2)
        .retry_after_secs(0)
        .tls()
        .start()
        .await?;
    let mut ca = tempfile::NamedTempFile::new()?;
    ca.write_all(arm.ca_pem().unwrap_or_default().as_bytes())?;
    let key1 = arm.storage_keys(SUB, "rg-storage", "sttls").map(|k| k[0].clone()).unwrap_or_default();
    let run = run_pytest(
        "test_arm.py",
        &[
            ("IDENTITY_ENDPOINT", idp.identity_endpoint()),
            ("IDENTITY_HEADER", idp.identity_header().to_owned()),
            ("PORTCULLIS_ARM_URL", arm.url().to_owned()),
            ("REQUESTS_CA_BUNDLE", ca.path().display().to_string()),
            ("PORTCULLIS_SUBSCRIPTION", SUB.to_owned()),
            ("PORTCULLIS_STORAGE_RG", "rg-storage".to_owned()),
            ("PORTCULLIS_STORAGE_ACCOUNT", "sttls".to_owned()),
            ("PORTCULLIS_EXPECTED_KEY1", key1),
        ],
    )
    .await?;
    assert!(run.passed, "{}", run.report());
    assert!(run.stdout.contains("6 passed"), "{}", run.report());
    assert!(arm.url().starts_with("https://"));
    assert!(arm.received().iter().any(|r| r.query.as_deref().is_some_and(|q| q.contains("skiptoken"))));
    Ok(())
}
