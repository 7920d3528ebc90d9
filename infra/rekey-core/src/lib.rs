//! The rekey engine: decides when a credential must change and changes it
//! without leaving its consumers without a working value.
//!
//! Start with [`Engine`]: it holds the ports ([`SecretStore`] per provider,
//! [`Ledger`], [`Clock`], [`CredentialKind`], [`AuditSink`]) and the
//! [`PolicySet`], and offers three entry points:
//!
//! - [`Engine::sweep`] decides for every managed credential and rotates or
//!   retires what is due (a timer's work);
//! - [`Engine::step`] runs one step of a store's native rotation contract;
//! - [`Engine::rotate`] rotates one credential now.
//!
//! This crate depends on no cloud SDK: adapters implement the ports in
//! their own crates (`rekey-local`, `rekey-aws`).
//!
//! ```
//! use std::sync::Arc;
//! use rekey_core::memory::{MemoryLedger, MemoryStore};
//! use rekey_core::{Engine, PolicySet, Provider, SecretValue, SystemClock, Trigger};
//!
//! # tokio_test();
//! # fn tokio_test() {
//! # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
//! # rt.block_on(async {
//! let policies: PolicySet = toml::from_str("[demo]\nmax_age = \"1h\"").unwrap();
//! let store = Arc::new(MemoryStore::new(Provider::Local, Arc::new(SystemClock)));
//! let id = store.insert("db", &[("rekey:policy", "demo")], Some(SecretValue::new("old".into())));
//! let engine = Engine::new(policies, Arc::new(MemoryLedger::default()))
//!     .with_store(store)
//!     .with_audit(Arc::new(rekey_core::audit::MemoryAudit::default()));
//!
//! let rotated = engine.rotate(&id, &Trigger::Manual).await.unwrap();
//! assert!(rotated.replaced.is_some());
//! # });
//! # }
//! ```

pub mod anomaly;
pub mod audit;
mod clock;
pub mod conformance;
mod credential;
pub mod decision;
mod engine;
mod error;
mod generator;
mod inventory;
mod kind;
mod ledger;
pub mod memory;
mod policy;
mod secret;
mod sessions;
mod store;
mod sweep;
mod trigger;
mod usage;

pub use audit::AuditSink;
pub use clock::{Clock, ManualClock, SystemClock};
pub use credential::{Credential, CredentialId, Provider, Stage, Version, VersionId};
pub use decision::Decision;
pub use engine::{DEFAULT_LEASE, Engine, Rotated, StepOutcome};
pub use error::{EngineError, ErrorClass};
pub use generator::{Encoding, Generator, GeneratorError};
pub use inventory::InventoryEntry;
pub use kind::{CredentialKind, KindError, PLAIN_SECRET, PlainSecret, Revocation, Values};
pub use ledger::{Claim, Ledger, LedgerError};
pub use policy::{
    ATTRIBUTE_TAGS, AnomalyAction, POLICY_TAG, Policy, PolicyError, PolicySet, TAG_PREFIX,
};
pub use secret::{REDACTED, RotationToken, SecretValue};
pub use sessions::{SessionRevocation, SessionRevoker};
pub use store::{SecretStore, StoreError};
pub use sweep::{DEFAULT_CONCURRENCY, Failed, Skipped, SweepSummary};
pub use trigger::{Step, Trigger, UnknownStep};
pub use usage::{EVENT_MEMORY, UsageOutcome};
