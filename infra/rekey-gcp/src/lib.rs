//! x
mod clients;
mod error;
pub mod metadata;
pub mod secret_manager;
mod settings;
pub use clients::{ConnectError, GcpClients};
pub use secret_manager::SecretManagerStore;
pub use settings::{GcpCredentials, GcpSettings};
