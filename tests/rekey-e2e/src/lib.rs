//! End-to-end tests of rekey across crates, against a real AWS emulator.
//!
//! The library is the test harness: [`Moto`] starts one moto server (the
//! AWS emulator, installed by `scripts/setup-moto`) per test, gives SDK
//! clients and rekey's AWS adapters configured for it, and creates the
//! secrets and ledger tables a test needs; [`start_native_rotation`] puts
//! a secret in the state Secrets Manager leaves it in when it starts a
//! rotation. [`iam`] adds IAM users, access keys, roles and sessions, and
//! a server that enforces IAM authentication; [`FakeGitHub`] serves the
//! secret scanning alerts GitHub deliveries name. [`Moto::take_calls`] tells
//! what a flow cost in API calls. The tests live in `tests/`.
//!
//! ```no_run
//! use rekey_core::SecretStore as _;
//!
//! # async fn demo() -> anyhow::Result<()> {
//! let moto = rekey_e2e::Moto::start().await?;
//! let id = moto.create_secret("db", &[("rekey:policy", "demo")], "hunter2").await?;
//! let credential = moto.store().describe(&id).await?;
//! let ledger = moto.ledger().await?;
//! # let _ = (credential, ledger);
//! # Ok(())
//! # }
//! ```

pub mod bus;
pub mod github;
pub mod iam;
pub mod moto;
pub mod rotation;
mod samples;
pub mod usage;

pub use bus::BusTap;
pub use github::FakeGitHub;
pub use moto::Moto;
pub use rotation::start_native_rotation;
pub use samples::sample;
