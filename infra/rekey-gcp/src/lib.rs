//! x
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
