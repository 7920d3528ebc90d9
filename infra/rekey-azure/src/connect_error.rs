//! Why [`crate::AzureClients::connect`] could not build the clients. None
//! of these holds a secret: a missing client secret is named by its
//! environment variable, never shown.

use std::path::PathBuf;

/// Why the Azure clients could not be built from the settings.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// A vault URL does not parse or is not HTTPS.
    #[error("vault url `{url}` is not valid: {reason}")]
    InvalidVaultUrl {
        /// The URL as configured.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The credential needs a setting that is absent.
    #[error("the {credential} credential needs `{setting}` to be set")]
    MissingSetting {
        /// The credential type.
        credential: &'static str,
        /// The setting it needs.
        setting: &'static str,
    },
    /// The `aws-web-identity` credential was asked for without a source of
    /// AWS web identity tokens.
    #[error(
        "the aws-web-identity credential needs the function's AWS configuration to ask STS for tokens; build the clients through rekey's configuration"
    )]
    NoAssertionSource,
    /// The client secret's environment variable is unset or empty.
    #[error("the client-secret credential reads its secret from {0}, which is not set")]
    MissingClientSecret(String),
    /// The extra CA file could not be read or holds no certificate.
    #[error("failed to load the CA file {path}: {reason}")]
    CaFile {
        /// The file as configured.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// The HTTP client could not be built.
    #[error("failed to build the https client: {0}")]
    Transport(String),
    /// The SDK refused the credential or client options.
    #[error("failed to build the {what}: {reason}")]
    Sdk {
        /// What was being built.
        what: &'static str,
        /// The SDK's reason.
        reason: String,
    },
}
