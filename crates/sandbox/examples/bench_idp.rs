//! A fake Entra ID for `bench/run`: starts on a loopback port, prints one JSON line with
//! the issuer, the discovery URL and two tokens (an agent in group `agents`, an approver
//! in group `ops`), then serves until it is killed.
//!
//! `cargo run -p portcullis-sandbox --example bench_idp -- TENANT AUDIENCE`

use portcullis_sandbox::{FakeEntra, TokenSpec, TokenVersion};

/// Tokens live two hours: longer than any benchmark run.
const LIFETIME_SECS: i64 = 7200;

fn token(
    idp: &FakeEntra,
    tenant: &str,
    audience: &str,
    subject: &str,
    human: bool,
) -> anyhow::Result<String> {
    let mut spec = TokenSpec::new(tenant, audience, subject);
    spec.version = TokenVersion::V2;
    spec.expires_at = spec.issued_at + LIFETIME_SECS;
    spec.object_id = Some(format!("oid-{subject}"));
    spec.groups = vec![if human { "ops" } else { "agents" }.into()];
    spec.idtyp = Some(if human { "user" } else { "app" }.into());
    if human {
        spec.name = Some(subject.into());
    } else {
        spec.app_id = Some(format!("app-{subject}"));
    }
    Ok(idp.mint(&spec)?)
}

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(tenant), Some(audience)) = (args.next(), args.next()) else {
        anyhow::bail!("usage: bench_idp TENANT AUDIENCE");
    };
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build()?;
    rt.block_on(async move {
        let idp = FakeEntra::builder().tenant(tenant.clone()).start().await?;
        let line = serde_json::json!({
            "issuer": idp.issuer_v2(),
            "discovery_url": idp.discovery_url_v2(),
            "agent_token": token(&idp, &tenant, &audience, "bench-agent", false)?,
            "approver_token": token(&idp, &tenant, &audience, "bench-approver", true)?,
        });
        println!("{line}");
        std::future::pending::<()>().await;
        Ok::<(), anyhow::Error>(())
    })
}
