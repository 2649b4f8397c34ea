//! The real Python Azure SDKs (azure-mgmt-resource 26, azure-identity) against the fake
//! ARM and the fake Entra ID's App Service managed-identity endpoint.
//! Needs `tests/peers/install.sh`; fails (never skips) when the peers are missing.

use portcullis_sandbox::peers::run_pytest;
use portcullis_sandbox::{FakeArm, FakeEntra, StorageAccount};

const SUB: &str = "9b2a3c4d-5e6f-4a1b-8c2d-3e4f5a6b7c8d";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_sdk_lists_creates_and_deletes_resource_groups_against_fake_arm() -> anyhow::Result<()> {
    let idp = FakeEntra::builder().start().await?;
    let arm = FakeArm::builder(&idp)
        .subscription(SUB, "Interop")
        .storage_account(StorageAccount::new("rg-storage", "stinterop"))
        .page_size(2)
        .polls_before_done(2)
        .retry_after_secs(0)
        .start()
        .await?;
    let key1 = arm.storage_keys(SUB, "rg-storage", "stinterop").map(|k| k[0].clone()).unwrap_or_default();

    let run = run_pytest(
        "test_arm.py",
        &[
            ("IDENTITY_ENDPOINT", idp.identity_endpoint()),
            ("IDENTITY_HEADER", idp.identity_header().to_owned()),
            ("PORTCULLIS_ARM_URL", arm.url().to_owned()),
            ("PORTCULLIS_SUBSCRIPTION", SUB.to_owned()),
            ("PORTCULLIS_STORAGE_RG", "rg-storage".to_owned()),
            ("PORTCULLIS_STORAGE_ACCOUNT", "stinterop".to_owned()),
            ("PORTCULLIS_EXPECTED_KEY1", key1),
        ],
    )
    .await?;
    assert!(run.passed, "{}", run.report());
    assert!(run.stdout.contains("6 passed"), "{}", run.report());

    // The SDK followed absolute nextLinks and polled the LRO until it succeeded.
    let received = arm.received();
    let followed_next_link = received
        .iter()
        .any(|r| r.method == "GET" && r.query.as_deref().is_some_and(|q| q.contains("skiptoken")));
    assert!(followed_next_link, "no request followed a nextLink");
    let polls =
        received.iter().filter(|r| r.path.to_ascii_lowercase().contains("/operationstatuses/")).count();
    assert!(polls >= 6, "expected 3 status polls for the delete and 3 for the deployment, saw {polls}");
    // The deployment LRO ended with the SDK's final GET of the deployment itself.
    let final_get = received
        .iter()
        .any(|r| r.method == "GET" && r.path.to_ascii_lowercase().ends_with("/deployments/dep-interop"));
    assert!(final_get, "the SDK did not fetch the finished deployment");
    // Every ARM request carried a bearer token from the fake's managed-identity endpoint.
    assert!(received.iter().all(|r| r.header("authorization").is_some_and(|a| a.starts_with("Bearer "))));
    assert!(!arm.resource_group_names(SUB).iter().any(|n| n == "rg-interop-0"));
    Ok(())
}
