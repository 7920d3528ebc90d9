//! The secret store port: where credential values and their versions live.
//!
//! The shape follows Secrets Manager, the richest of the stores: versions,
//! each carrying stages. Other stores map onto it (Secret Manager versions
//! with labels, Key Vault versions with tags, the embedded SQLite store).

use async_trait::async_trait;

use crate::{Credential, CredentialId, Provider, RotationToken, SecretValue, VersionId};

/// Why a store call failed. Never holds a secret value.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreError {
    /// The credential does not exist (or is scheduled for deletion).
    #[error("credential {0} not found")]
    CredentialNotFound(CredentialId),
    /// The version does not exist, or holds no value yet.
    #[error("version {version} of {id} not found")]
    VersionNotFound {
        /// The credential.
        id: CredentialId,
        /// The version asked for.
        version: VersionId,
    },
    /// A version with this id already holds a value.
    #[error("version {version} of {id} already exists")]
    VersionExists {
        /// The credential.
        id: CredentialId,
        /// The version that exists.
        version: VersionId,
    },
    /// The store refused the caller's identity or permissions.
    #[error("access denied by the store: {0}")]
    AccessDenied(String),
    /// The store is throttling or briefly unavailable; the call may succeed later.
    #[error("store unavailable, retry later: {0}")]
    Unavailable(String),
    /// Any other failure the store reported.
    #[error("store error: {0}")]
    Backend(String),
}

impl StoreError {
    /// Whether the same call may succeed if repeated later.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }
}

/// A store of versioned credentials, one per provider.
///
/// Every method is safe to repeat: a retry after a timeout never leaves a
/// second new version or drops a stage.
#[async_trait]
pub trait SecretStore: Send + Sync {
    /// The provider this store serves.
    fn provider(&self) -> Provider;

    /// The credentials this store holds that carry a `rekey:policy` tag.
    async fn list(&self) -> Result<Vec<CredentialId>, StoreError>;

    /// Metadata and versions of one credential; never its value.
    async fn describe(&self, id: &CredentialId) -> Result<Credential, StoreError>;

    /// The value of one version. `VersionNotFound` when the version does not
    /// exist or has no value yet (a rotation that has not made it).
    async fn read(&self, id: &CredentialId, version: &VersionId)
    -> Result<SecretValue, StoreError>;

    /// Stores `value` as version `version` and gives it the pending stage,
    /// taking that stage from any other version. `VersionExists` if the
    /// version already holds a value: a value, once written, never changes.
    async fn put_pending(
        &self,
        id: &CredentialId,
        version: &VersionId,
        value: &SecretValue,
        token: Option<&RotationToken>,
    ) -> Result<(), StoreError>;

    /// Makes `version` current and the version that was current
    /// (`replacing`) previous, then takes the pending stage off `version`.
    /// `replacing` is `None` only for a credential that had no current value.
    async fn promote(
        &self,
        id: &CredentialId,
        version: &VersionId,
        replacing: Option<&VersionId>,
    ) -> Result<(), StoreError>;

    /// Takes the previous stage off `version`, so the old value stops being
    /// served once its grace period is over.
    async fn retire(&self, id: &CredentialId, version: &VersionId) -> Result<(), StoreError>;
}
