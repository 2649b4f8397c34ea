//! Fake Entra ID and fake Azure Resource Manager for the demo and the tests, and
//! harnesses for the real third-party peers (Azurite, `oidc-provider`, the Python Azure
//! SDKs) the interop tests run against.
//!
//! This crate owns test doubles only: it must not know about the gateway's pipeline,
//! policies or audit. Everything starts on `127.0.0.1:0` in one call and stops on drop:
//!
//! ```no_run
//! # async fn demo() -> Result<(), portcullis_sandbox::SandboxError> {
//! use portcullis_sandbox::{FakeArm, FakeEntra};
//! let idp = FakeEntra::builder().tenant("72f988bf-86f1-41af-91ab-2d7cd011db47").start().await?;
//! let arm = FakeArm::builder(&idp).start().await?;
//! println!("ARM at {}, {} requests so far", arm.url(), arm.received().len());
//! # Ok(()) }
//! ```

mod arm;
mod entra;
mod error;
mod keys;
pub mod peers;
mod server;

pub use arm::{BuiltInRole, FakeArm, FakeArmBuilder, ReceivedRequest, StorageAccount, ARM_AUDIENCE};
pub use entra::{
    issuer_for, Agent, ClientCertificate, FakeEntra, FakeEntraBuilder, Human, TokenSpec, TokenVersion,
};
pub use error::{Reason, Result, SandboxError};
pub use keys::Alg;
