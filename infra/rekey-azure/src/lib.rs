//! Azure adapters for the rekey engine: Key Vault secrets as a
//! [`rekey_core::SecretStore`], reached with Microsoft's official GA crates
//! (`azure_security_keyvault_secrets`, `azure_identity`, `azure_core`).
//!
//! Start at [`AzureSettings`] (TOML, every key documented), build the
//! clients with [`AzureClients::connect`] and wrap them in a
//! [`KeyVaultStore`]:
//!
//! - [`AzureSettings`] names the vaults, the tenant and client ids, the
//!   [`CredentialSettings`] (client secret from `AZURE_CLIENT_SECRET`,
//!   workload identity from a token file, the AWS identity rekey's
//!   functions run as, managed identity, or the developer's CLI sign-in),
//!   the authority host, an extra CA file and pinned host names;
//! - [`AzureClients`] holds one `SecretClient` per vault, sharing one
//!   credential and one `reqwest` transport;
//! - [`KeyVaultStore`] implements the store port for
//!   [`rekey_core::Provider::AzureKeyVault`]: pending values wait in a
//!   companion secret `{name}-rekey-pending` until promotion, and version
//!   tags ([`tags`]) carry rekey's ids and stages. The crate README tells
//!   the whole mapping.
//!
//! Errors come back as the port's `StoreError` and as [`ConnectError`];
//! no SDK type appears in this crate's API, and no secret value appears in
//! an error or a log line.
//!
//! ```no_run
//! use std::sync::Arc;
//!
//! use rekey_azure::{AzureClients, AzureSettings, KeyVaultStore};
//! use rekey_core::{Engine, PolicySet, SecretStore as _};
//!
//! # async fn demo(policies: PolicySet, ledger: Arc<dyn rekey_core::Ledger>) -> Result<(), Box<dyn std::error::Error>> {
//! let settings: AzureSettings = toml::from_str(r#"
//!     vaults = ["https://payments.vault.azure.net/"]
//!     tenant_id = "00000000-0000-0000-0000-000000000000"
//!     client_id = "11111111-1111-1111-1111-111111111111"
//!     credential = { type = "workload-identity", token_file = "/var/run/azure/token" }
//! "#)?;
//! let clients = Arc::new(AzureClients::connect(&settings)?);
//! let store = Arc::new(KeyVaultStore::new(clients).with_policies(policies.clone()));
//!
//! let managed = store.list().await?;
//! let engine = Engine::new(policies, ledger).with_store(store);
//! # let _ = (managed, engine);
//! # Ok(())
//! # }
//! ```

mod clients;
mod connect_error;
mod credential;
mod error;
mod locator;
mod settings;
mod store;
pub mod tags;
mod transport;
mod vault_calls;

pub use azure_identity::ClientAssertion;
pub use clients::AzureClients;
pub use connect_error::ConnectError;
pub use locator::COMPANION_SUFFIX;
pub use settings::{
    AzureSettings, CLIENT_SECRET_ENV, CredentialSettings, FEDERATION_AUDIENCE,
    PUBLIC_AUTHORITY_HOST,
};
pub use store::KeyVaultStore;
