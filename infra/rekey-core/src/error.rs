//! The engine's error type.

use crate::{
    CredentialId, GeneratorError, KindError, LedgerError, PolicyError, Provider, StoreError,
    VersionId,
};

/// Why the engine could not carry out a request. Never holds a secret value.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// No store is configured for the credential's provider.
    #[error("no store is configured for provider {0}")]
    NoStore(Provider),
    /// The credential has no `rekey:policy` tag.
    #[error("credential {0} is not managed by rekey (it has no rekey:policy tag)")]
    NotManaged(CredentialId),
    /// The credential's policy does not resolve.
    #[error("credential {id} has an invalid policy: {source}")]
    InvalidPolicy {
        /// The credential.
        id: CredentialId,
        /// What is wrong.
        source: PolicyError,
    },
    /// The store has rotation turned off for the credential.
    #[error("rotation is not enabled for {0}")]
    RotationDisabled(CredentialId),
    /// A rotation step named a version the credential does not have.
    #[error("version {version} is not a version of {id}")]
    UnknownVersion {
        /// The credential.
        id: CredentialId,
        /// The version named.
        version: VersionId,
    },
    /// A rotation step named a version that is neither pending nor current.
    #[error("version {version} of {id} is not pending rotation")]
    NotPending {
        /// The credential.
        id: CredentialId,
        /// The version named.
        version: VersionId,
    },
    /// Another rotation of the credential is under way.
    #[error("rotation {rotation} of {id} is already in progress")]
    RotationInProgress {
        /// The credential.
        id: CredentialId,
        /// The rotation that holds it.
        rotation: VersionId,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The ledger failed.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// The credential's kind failed to make, set, test or revoke a value.
    #[error(transparent)]
    Kind(#[from] KindError),
    /// The policy names a kind this deployment does not know.
    #[error("credential {id} has kind `{kind}`, which this deployment does not know")]
    UnknownKind {
        /// The credential.
        id: CredentialId,
        /// The kind its policy names.
        kind: String,
    },
    /// The policy's generator could not make a value.
    #[error("failed to generate a value: {0}")]
    Generator(#[from] GeneratorError),
}

/// Coarse classes of [`EngineError`], stable enough for alarms to match.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorClass {
    /// The request or the configuration is wrong; repeating it will not help.
    Validation,
    /// The credential or version does not exist.
    NotFound,
    /// Something else holds the credential; try again later.
    Conflict,
    /// A dependency is unavailable; try again later.
    Retryable,
    /// The rotation ran and failed (a test, a kind, a store).
    Failed,
}

impl ErrorClass {
    /// The class's name, used as a Lambda `errorType` suffix.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Validation => "Validation",
            Self::NotFound => "NotFound",
            Self::Conflict => "Conflict",
            Self::Retryable => "Retryable",
            Self::Failed => "Failed",
        }
    }
}

impl EngineError {
    /// The error's class.
    pub fn class(&self) -> ErrorClass {
        match self {
            Self::NoStore(_)
            | Self::NotManaged(_)
            | Self::InvalidPolicy { .. }
            | Self::RotationDisabled(_)
            | Self::NotPending { .. }
            | Self::UnknownKind { .. }
            | Self::Kind(KindError::Misconfigured(_))
            | Self::Generator(_) => ErrorClass::Validation,
            Self::UnknownVersion { .. }
            | Self::Store(StoreError::CredentialNotFound(_) | StoreError::VersionNotFound { .. }) => {
                ErrorClass::NotFound
            }
            Self::RotationInProgress { .. } => ErrorClass::Conflict,
            Self::Store(e) if e.is_retryable() => ErrorClass::Retryable,
            Self::Ledger(LedgerError::Unavailable(_)) | Self::Kind(KindError::Unavailable(_)) => {
                ErrorClass::Retryable
            }
            Self::Store(_) | Self::Ledger(_) | Self::Kind(_) => ErrorClass::Failed,
        }
    }
}
