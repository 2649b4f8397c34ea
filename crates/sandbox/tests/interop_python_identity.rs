//! azure-identity's MSAL-based credentials against the fake Entra ID over HTTPS: client
//! secret and certificate (client assertion), and Entra's error for a wrong secret.
//! Needs `tests/peers/install.sh`; fails (never skips) when the peers are missing.

use std::io::Write as _;

use portcullis_sandbox::peers::run_pytest;
use portcullis_sandbox::{Agent, ClientCertificate, FakeEntra};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn msal_credentials_obtain_tokens_from_fake_entra() -> anyhow::Result<()> {
    let secret_agent = Agent::new("secret-agent");
    let cert = ClientCertificate::generate("cert-agent")?;
    let cert_agent = Agent::new("cert-agent").secret(None).certificate(cert.clone());
    let idp =
        FakeEntra::builder().agent(secret_agent.clone()).agent(cert_agent.clone()).tls().start().await?;

    let mut ca = tempfile::NamedTempFile::new()?;
    ca.write_all(idp.ca_pem().unwrap_or_default().as_bytes())?;
    let mut pem = tempfile::NamedTempFile::new()?;
    pem.write_all(cert.combined_pem().as_bytes())?;
    let run = run_pytest(
        "test_identity.py",
        &[
            ("PORTCULLIS_AUTHORITY", idp.url().to_owned()),
            ("REQUESTS_CA_BUNDLE", ca.path().display().to_string()),
            ("PORTCULLIS_TENANT", idp.tenant().to_owned()),
            ("PORTCULLIS_CLIENT_ID", secret_agent.client_id.clone()),
            ("PORTCULLIS_CLIENT_SECRET", secret_agent.secret.clone().unwrap_or_default()),
            ("PORTCULLIS_CERT_CLIENT_ID", cert_agent.client_id.clone()),
            ("PORTCULLIS_CERT_PATH", pem.path().display().to_string()),
        ],
    )
    .await?;
    assert!(run.passed, "{}", run.report());
    assert!(run.stdout.contains("3 passed"), "{}", run.report());
    Ok(())
}
