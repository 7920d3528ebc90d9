//! GCP adapters for the rekey engine: the Secret Manager store and the
//! service-account key kind, over the official Google Cloud Rust clients.
//!
//! Start with [`GcpSettings`] (the `[stores.gcp_secret_manager]` table of rekey's configuration)
//! and [`GcpClients::connect`], which builds the clients once with the
//! settings' endpoints and credentials. Then:
//!
//! - [`SecretManagerStore`] implements [`rekey_core::SecretStore`] for
//!   [`rekey_core::Provider::GcpSecretManager`]: secrets labelled
//!   `rekey-policy`, their versions and the version aliases `current`,
//!   `pending` and `previous` (the mapping is in [`secret_manager`] and
//!   [`metadata`]).
//! - [`ServiceAccountKeys`] implements [`rekey_core::CredentialKind`] for
//!   IAM service-account keys held in a secret annotated
//!   `rekey-service-account`; register it as [`GCP_SERVICE_ACCOUNT_KEY`]
//!   (details in [`service_account_key`]).
//!
//! Errors come back as the ports' own `StoreError` and `KindError` (or
//! [`ConnectError`] while connecting); no SDK type appears in this crate's
//! API except [`GcpClients`]' construction from settings, and no secret
//! value appears in an error or a log line.
//!
//! ```no_run
//! use std::sync::Arc;
//!
//! use rekey_core::{Engine, PolicySet, memory::MemoryLedger};
//! use rekey_gcp::{
//!     GCP_SERVICE_ACCOUNT_KEY, GcpClients, GcpSettings, SecretManagerStore, ServiceAccountKeys,
//! };
//!
//! # async fn demo(policies: PolicySet) -> Result<(), Box<dyn std::error::Error>> {
//! let settings: GcpSettings = toml::from_str(r#"
//!     projects = ["payments-prod"]
//!     credentials = "default"
//! "#)?;
//! let clients = GcpClients::connect(&settings).await?;
//! let engine = Engine::new(policies, Arc::new(MemoryLedger::default()))
//!     .with_store(Arc::new(SecretManagerStore::from_settings(&clients, &settings)))
//!     .with_kind(GCP_SERVICE_ACCOUNT_KEY, Arc::new(ServiceAccountKeys::new(&clients)));
//! # let _ = engine;
//! # Ok(())
//! # }
//! ```

mod clients;
mod error;
pub mod metadata;
pub mod secret_manager;
pub mod service_account_key;
mod settings;

pub use clients::{ConnectError, GcpClients};
pub use secret_manager::SecretManagerStore;
pub use service_account_key::{GCP_SERVICE_ACCOUNT_KEY, KeyFile, ServiceAccountKeys};
pub use settings::{GcpCredentials, GcpSettings};
