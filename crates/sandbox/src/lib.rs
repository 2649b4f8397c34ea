//! Fake Entra ID and fake Azure Resource Manager for the demo and the tests, and
//! harnesses for the real third-party peers (Azurite, `oidc-provider`, the Python Azure
//! SDKs) the interop tests run against.
//!
//! This crate owns test doubles only: it must not know about the gateway's pipeline,
//! policies or audit. Everything starts on `127.0.0.1:0` in one call and stops on drop.
//!
//! - [`FakeEntra`]: OIDC discovery with Entra's real issuer strings (v1
//!   `https://sts.windows.net/{tid}/`, v2 `https://login.microsoftonline.com/{tid}/v2.0`)
//!   served on loopback, a JWKS with several RSA and P-256 keys and rotation, the token
//!   endpoint (client secret, certificate client assertion, on-behalf-of), App Service and
//!   IMDS managed-identity endpoints, and [`FakeEntra::mint`] for any token a test needs.
//! - [`FakeArm`]: ARM's contract over in-memory subscriptions, resource groups, storage
//!   accounts, deployments and role assignments; LROs, paging, `/batch`,
//!   `/metadata/endpoints`, optional RBAC; [`FakeArm::received`] lists what reached it.
//! - [`peers`]: [`peers::Azurite`], [`peers::OidcProvider`], [`peers::run_pytest`].
//!
//! ```no_run
//! # async fn demo() -> Result<(), portcullis_sandbox::SandboxError> {
//! use portcullis_sandbox::{Agent, FakeArm, FakeEntra, ARM_AUDIENCE};
//! let idp = FakeEntra::builder()
//!     .tenant("72f988bf-86f1-41af-91ab-2d7cd011db47")
//!     .agent(Agent::new("deployer").roles(["Deploy"]))
//!     .start()
//!     .await?;
//! let arm = FakeArm::builder(&idp).start().await?;
//! let token = idp.mint(&idp.agent_token("deployer", ARM_AUDIENCE)?)?;
//! println!("ARM at {} accepts {token}; {} requests so far", arm.url(), arm.received().len());
//! # Ok(()) }
//! ```

mod arm;
mod entra;
mod error;
mod keys;
pub mod peers;
mod server;
mod tls;

pub use arm::{BuiltInRole, FakeArm, FakeArmBuilder, ReceivedRequest, StorageAccount, ARM_AUDIENCE};
pub use entra::{
    issuer_for, Agent, ClientCertificate, FakeEntra, FakeEntraBuilder, Human, TokenSpec, TokenVersion,
};
pub use error::{Reason, Result, SandboxError};
pub use keys::Alg;
