//! Credentials and their versions, in words every store shares.
//!
//! A credential is identified by its provider and a locator (an ARN, a
//! resource name, a vault URL and name). It has versions, and at most one
//! version carries each [`Stage`]: the value consumers use now (`Current`),
//! the one being rotated in (`Pending`), and the one just replaced
//! (`Previous`), kept working through the grace period.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// Where a credential lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Provider {
    /// The embedded SQLite store of local mode.
    Local,
    /// AWS Secrets Manager.
    AwsSecretsManager,
    /// The sessions of an AWS IAM role (temporary credentials).
    AwsIamRole,
    /// GCP Secret Manager.
    GcpSecretManager,
    /// Azure Key Vault secrets.
    AzureKeyVault,
}

impl Provider {
    /// The provider's name in configuration files and audit events.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Local => "local",
            Self::AwsSecretsManager => "aws-secrets-manager",
            Self::AwsIamRole => "aws-iam-role",
            Self::GcpSecretManager => "gcp-secret-manager",
            Self::AzureKeyVault => "azure-key-vault",
        }
    }

    /// The provider named `name` in a configuration file or on the command
    /// line, the inverse of [`Provider::as_str`].
    pub fn from_name(name: &str) -> Option<Self> {
        [
            Self::Local,
            Self::AwsSecretsManager,
            Self::AwsIamRole,
            Self::GcpSecretManager,
            Self::AzureKeyVault,
        ]
        .into_iter()
        .find(|provider| provider.as_str() == name)
    }

    /// The cloud the provider belongs to, as OCSF names it (`AWS`, `GCP`,
    /// `Azure`); `None` for the embedded store.
    pub fn cloud(self) -> Option<&'static str> {
        match self {
            Self::Local => None,
            Self::AwsSecretsManager | Self::AwsIamRole => Some("AWS"),
            Self::GcpSecretManager => Some("GCP"),
            Self::AzureKeyVault => Some("Azure"),
        }
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One managed credential: provider plus locator.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct CredentialId {
    /// Where it lives.
    pub provider: Provider,
    /// How the provider names it (ARN, resource name, local name).
    pub locator: String,
}

impl CredentialId {
    /// A credential of `provider` named by `locator`.
    pub fn new(provider: Provider, locator: impl Into<String>) -> Self {
        Self {
            provider,
            locator: locator.into(),
        }
    }
}

impl fmt::Display for CredentialId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.provider, self.locator)
    }
}

/// The identifier of one version of a credential. A rotation is keyed by
/// the version it creates, so this is also the rotation id (the Secrets
/// Manager `ClientRequestToken`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct VersionId(pub String);

impl VersionId {
    /// A fresh random version id (a UUID, as Secrets Manager uses).
    pub fn generate() -> Self {
        Self(uuid::Uuid::new_v4().to_string())
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for VersionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The role a version plays. Each stage is on at most one version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    /// What consumers use now.
    Current,
    /// The new value, created but not yet promoted.
    Pending,
    /// The value replaced by the last promotion, kept through the grace period.
    Previous,
}

/// One version as a store describes it; never the value itself.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Version {
    /// The version's id.
    pub id: VersionId,
    /// The stages it carries (none for a deprecated version).
    pub stages: Vec<Stage>,
    /// When the version was created.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// The store's own name for the version where it is not `id`: Key
    /// Vault's version id or Secret Manager's version number of a version
    /// rekey made (whose `id` is rekey's rotation id). A store's
    /// notifications name versions this way.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub native_id: Option<String>,
}

impl Version {
    /// Whether the version carries `stage`.
    pub fn has(&self, stage: Stage) -> bool {
        self.stages.contains(&stage)
    }
}

/// A managed credential as its store describes it: metadata and versions.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Credential {
    /// Provider and locator.
    pub id: CredentialId,
    /// A short human name (the secret's name).
    pub name: String,
    /// Tags or labels; policy overrides live here (see [`crate::policy`]).
    pub tags: BTreeMap<String, String>,
    /// Whether the store allows rotation (Secrets Manager's `RotationEnabled`).
    pub rotation_enabled: bool,
    /// The versions that carry a stage, or all versions the store reports.
    pub versions: Vec<Version>,
}

impl Credential {
    /// The version carrying `stage`, if any.
    pub fn version_at(&self, stage: Stage) -> Option<&Version> {
        self.versions.iter().find(|v| v.has(stage))
    }

    /// Whether the version is the one a store's notification calls `name`:
    /// its id or its store's own name.
    pub fn version_named(&self, name: &str) -> Option<&Version> {
        self.versions
            .iter()
            .find(|v| v.id.as_str() == name || v.native_id.as_deref() == Some(name))
    }

    /// The version with id `id`, if the store knows it.
    pub fn version(&self, id: &VersionId) -> Option<&Version> {
        self.versions.iter().find(|v| &v.id == id)
    }
}
