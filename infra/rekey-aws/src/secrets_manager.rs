//! The Secrets Manager store: a credential is a secret, its versions are
//! the secret's versions and its stages the staging labels `AWSCURRENT`,
//! `AWSPENDING` and `AWSPREVIOUS`.
//!
//! A credential's locator is the secret's ARN (a name works too); `list`
//! answers ARNs. Limits: custom staging labels are ignored, binary secrets
//! cannot be read, and `describe` lists only versions that carry a label.

use std::collections::{BTreeMap, HashMap};

use async_trait::async_trait;
use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::error::ProvideErrorMetadata as _;
use aws_sdk_secretsmanager::primitives::DateTime;
use aws_sdk_secretsmanager::types::{Filter, FilterNameStringType, SecretVersionsListEntry};
use rekey_core::{
    Credential, CredentialId, POLICY_TAG, Provider, RotationToken, SecretStore, SecretValue, Stage,
    StoreError, Version, VersionId,
};
use time::OffsetDateTime;

use crate::error::AwsError;

const CURRENT: &str = "AWSCURRENT";
const PENDING: &str = "AWSPENDING";
const PREVIOUS: &str = "AWSPREVIOUS";

/// The stage a staging label stands for; custom labels stand for none.
fn stage_of(label: &str) -> Option<Stage> {
    match label {
        CURRENT => Some(Stage::Current),
        PENDING => Some(Stage::Pending),
        PREVIOUS => Some(Stage::Previous),
        _ => None,
    }
}

/// What a "resource not found" means for a call naming secret `id`.
fn gone(id: &CredentialId) -> impl FnOnce(String) -> StoreError + '_ {
    |_| StoreError::CredentialNotFound(id.clone())
}

/// A Secrets Manager timestamp as a `time` one.
fn to_time(date: &DateTime) -> Option<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp_nanos(date.as_nanos()).ok()
}

/// One secret as `DescribeSecret` tells it.
struct Described {
    name: String,
    tags: BTreeMap<String, String>,
    rotation_enabled: bool,
    /// Version id to its staging labels.
    labels: HashMap<String, Vec<String>>,
    /// When the secret last changed; the date of a version whose own date
    /// is unknown.
    changed: OffsetDateTime,
}

impl Described {
    /// The version carrying `label`, if any.
    fn holder(&self, label: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(_, labels)| labels.iter().any(|l| l == label))
            .map(|(version, _)| version.as_str())
    }

    /// Whether `version` carries `label`.
    fn has(&self, version: &VersionId, label: &str) -> bool {
        self.labels
            .get(version.as_str())
            .is_some_and(|labels| labels.iter().any(|l| l == label))
    }
}

/// The [`SecretStore`] of AWS Secrets Manager.
#[derive(Clone, Debug)]
pub struct SecretsManagerStore {
    client: Client,
}

impl SecretsManagerStore {
    /// A store that talks to Secrets Manager as `config` says (region,
    /// credentials, endpoint).
    pub fn new(config: &aws_config::SdkConfig) -> Self {
        Self {
            client: Client::new(config),
        }
    }

    /// The current value (`AWSCURRENT`) of `secret_id`, a name or an ARN,
    /// managed by rekey or not: how a function reads its own settings'
    /// secrets (webhook keys, API tokens) at cold start.
    pub async fn read_current(&self, secret_id: &str) -> Result<SecretValue, StoreError> {
        let id = CredentialId::new(Provider::AwsSecretsManager, secret_id);
        let output = self
            .client
            .get_secret_value()
            .secret_id(secret_id)
            .send()
            .await
            .map_err(|e| AwsError::of("get secret value", &e).into_store(gone(&id)))?;
        output
            .secret_string()
            .map(|value| SecretValue::new(value.to_owned()))
            .ok_or_else(|| StoreError::Backend(format!("secret {secret_id} holds no string")))
    }

    async fn describe_secret(&self, id: &CredentialId) -> Result<Described, StoreError> {
        let output = self
            .client
            .describe_secret()
            .secret_id(&id.locator)
            .send()
            .await
            .map_err(|e| AwsError::of("describe secret", &e).into_store(gone(id)))?;
        if output.deleted_date().is_some() {
            return Err(StoreError::CredentialNotFound(id.clone()));
        }

        let changed = output
            .last_changed_date()
            .or(output.created_date())
            .and_then(to_time)
            .unwrap_or_else(OffsetDateTime::now_utc);
        let tags = output.tags().iter().filter_map(|tag| {
            let key = tag.key()?.to_owned();
            Some((key, tag.value().unwrap_or_default().to_owned()))
        });
        Ok(Described {
            name: output.name().unwrap_or(&id.locator).to_owned(),
            tags: tags.collect(),
            rotation_enabled: output.rotation_enabled().unwrap_or(false),
            labels: output.version_ids_to_stages().cloned().unwrap_or_default(),
            changed,
        })
    }

    /// Every version `ListSecretVersionIds` reports, all pages.
    async fn list_versions(
        &self,
        id: &CredentialId,
        include_deprecated: bool,
    ) -> Result<Vec<SecretVersionsListEntry>, StoreError> {
        let mut pages = self
            .client
            .list_secret_version_ids()
            .secret_id(&id.locator)
            .include_deprecated(include_deprecated)
            .into_paginator()
            .send();
        let mut versions = Vec::new();
        while let Some(page) = pages.next().await {
            let page =
                page.map_err(|e| AwsError::of("list secret versions", &e).into_store(gone(id)))?;
            versions.extend(page.versions.unwrap_or_default());
        }
        Ok(versions)
    }

    /// The value of `version`, or `None` when Secrets Manager has none
    /// (no such version, a version without a value, or no such secret).
    async fn value(
        &self,
        id: &CredentialId,
        version: &VersionId,
    ) -> Result<Option<SecretValue>, StoreError> {
        let answer = self
            .client
            .get_secret_value()
            .secret_id(&id.locator)
            .version_id(version.as_str())
            .send()
            .await;
        let mut output = match answer {
            Ok(output) => output,
            Err(e) if e.code() == Some("ResourceNotFoundException") => return Ok(None),
            Err(e) => {
                let error = AwsError::of("get secret value", &e);
                return Err(error.into_store(gone(id)));
            }
        };

        let value = output.secret_string.take().ok_or_else(|| {
            StoreError::Backend(format!(
                "version {version} of {id} holds a binary value; rekey manages string values only"
            ))
        })?;
        Ok(Some(SecretValue::new(value)))
    }

    /// Moves `label` to `move_to` and off `remove_from`.
    async fn update_stage(
        &self,
        id: &CredentialId,
        label: &str,
        move_to: Option<&str>,
        remove_from: Option<&str>,
    ) -> Result<(), StoreError> {
        tracing::debug!(secret = %id, label, ?move_to, ?remove_from, "moving a staging label");
        self.client
            .update_secret_version_stage()
            .secret_id(&id.locator)
            .version_stage(label)
            .set_move_to_version_id(move_to.map(str::to_owned))
            .set_remove_from_version_id(remove_from.map(str::to_owned))
            .send()
            .await
            .map_err(|e| AwsError::of("update secret version stage", &e).into_store(gone(id)))?;
        Ok(())
    }

    /// Fails with `VersionNotFound` unless the secret has `version`,
    /// labelled or not.
    async fn require(
        &self,
        id: &CredentialId,
        described: &Described,
        version: &VersionId,
    ) -> Result<(), StoreError> {
        if described.labels.contains_key(version.as_str()) {
            return Ok(());
        }

        let all = self.list_versions(id, true).await?;
        if all.iter().any(|v| v.version_id() == Some(version.as_str())) {
            return Ok(());
        }
        Err(StoreError::VersionNotFound {
            id: id.clone(),
            version: version.clone(),
        })
    }

    /// Moves `AWSCURRENT` from `replacing` to `version`. Secrets Manager
    /// moves `AWSPREVIOUS` to `replacing` itself; with nothing replaced, the
    /// old `AWSPREVIOUS` is taken off, as the reference store does.
    async fn make_current(
        &self,
        id: &CredentialId,
        described: &Described,
        version: &VersionId,
        replacing: Option<&VersionId>,
    ) -> Result<(), StoreError> {
        if let (None, Some(previous)) = (replacing, described.holder(PREVIOUS)) {
            self.update_stage(id, PREVIOUS, None, Some(previous))
                .await?;
        }
        self.update_stage(
            id,
            CURRENT,
            Some(version.as_str()),
            replacing.map(VersionId::as_str),
        )
        .await
    }
}

#[async_trait]
impl SecretStore for SecretsManagerStore {
    fn provider(&self) -> Provider {
        Provider::AwsSecretsManager
    }

    async fn list(&self) -> Result<Vec<CredentialId>, StoreError> {
        let filter = Filter::builder()
            .key(FilterNameStringType::TagKey)
            .values(POLICY_TAG)
            .build();
        let mut pages = self
            .client
            .list_secrets()
            .filters(filter)
            .into_paginator()
            .send();

        // The tag-key filter matches key prefixes: keep exact matches only.
        let mut ids = Vec::new();
        while let Some(page) = pages.next().await {
            let page =
                page.map_err(|e| AwsError::of("list secrets", &e).into_store(StoreError::Backend))?;
            let tagged = page
                .secret_list()
                .iter()
                .filter(|s| s.tags().iter().any(|t| t.key() == Some(POLICY_TAG)));
            ids.extend(
                tagged
                    .filter_map(|s| s.arn())
                    .map(|arn| CredentialId::new(Provider::AwsSecretsManager, arn)),
            );
        }
        ids.sort();
        tracing::debug!(count = ids.len(), "listed managed secrets");
        Ok(ids)
    }

    async fn describe(&self, id: &CredentialId) -> Result<Credential, StoreError> {
        let described = self.describe_secret(id).await?;
        let created: HashMap<String, OffsetDateTime> = self
            .list_versions(id, false)
            .await?
            .iter()
            .filter_map(|v| Some((v.version_id()?.to_owned(), to_time(v.created_date()?)?)))
            .collect();

        // Unlabelled versions are deprecated: AWS leaves them out, moto not.
        let mut versions: Vec<Version> = described
            .labels
            .iter()
            .filter(|(_, labels)| !labels.is_empty())
            .map(|(version, labels)| Version {
                id: VersionId(version.clone()),
                stages: labels.iter().filter_map(|l| stage_of(l)).collect(),
                created_at: created.get(version).copied().unwrap_or(described.changed),
                native_id: None,
            })
            .collect();
        versions.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));

        tracing::debug!(secret = %id, versions = versions.len(), "described a secret");
        Ok(Credential {
            id: id.clone(),
            name: described.name,
            tags: described.tags,
            rotation_enabled: described.rotation_enabled,
            versions,
        })
    }

    async fn read(
        &self,
        id: &CredentialId,
        version: &VersionId,
    ) -> Result<SecretValue, StoreError> {
        tracing::debug!(secret = %id, %version, "reading a version");
        if let Some(value) = self.value(id, version).await? {
            return Ok(value);
        }

        // Not found: the version, or the whole secret?
        self.describe_secret(id).await?;
        Err(StoreError::VersionNotFound {
            id: id.clone(),
            version: version.clone(),
        })
    }

    async fn put_pending(
        &self,
        id: &CredentialId,
        version: &VersionId,
        value: &SecretValue,
        token: Option<&RotationToken>,
    ) -> Result<(), StoreError> {
        // Secrets Manager refuses to reuse a ClientRequestToken for another
        // value, but accepts the same value again; moto overwrites a pending
        // version. Checking first makes a written value final everywhere.
        let exists = || StoreError::VersionExists {
            id: id.clone(),
            version: version.clone(),
        };
        if self.value(id, version).await?.is_some() {
            return Err(exists());
        }

        tracing::debug!(secret = %id, %version, "putting a pending version");
        self.client
            .put_secret_value()
            .secret_id(&id.locator)
            .client_request_token(version.as_str())
            .secret_string(value.expose())
            .version_stages(PENDING)
            .set_rotation_token(token.map(|t| t.expose().to_owned()))
            .send()
            .await
            .map_err(|e| match e.code() {
                Some("ResourceExistsException") => exists(),
                _ => AwsError::of("put secret value", &e).into_store(gone(id)),
            })?;
        Ok(())
    }

    async fn promote(
        &self,
        id: &CredentialId,
        version: &VersionId,
        replacing: Option<&VersionId>,
    ) -> Result<(), StoreError> {
        let described = self.describe_secret(id).await?;
        self.require(id, &described, version).await?;

        // A retry finds the label already moved and only finishes the job.
        let current = described.holder(CURRENT);
        if current != Some(version.as_str()) {
            if current != replacing.map(VersionId::as_str) {
                return Err(StoreError::Backend(format!(
                    "version {} of {id} is not current",
                    replacing.map_or("(none)", |v| v.as_str())
                )));
            }
            self.make_current(id, &described, version, replacing)
                .await?;
        }

        if described.has(version, PENDING) {
            self.update_stage(id, PENDING, None, Some(version.as_str()))
                .await?;
        }
        tracing::debug!(secret = %id, %version, "promoted a version");
        Ok(())
    }

    async fn retire(&self, id: &CredentialId, version: &VersionId) -> Result<(), StoreError> {
        let described = self.describe_secret(id).await?;
        self.require(id, &described, version).await?;

        if described.has(version, PREVIOUS) {
            self.update_stage(id, PREVIOUS, None, Some(version.as_str()))
                .await?;
        }
        tracing::debug!(secret = %id, %version, "retired a version");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aws_labels_map_to_stages_and_custom_labels_to_none() {
        assert_eq!(stage_of("AWSCURRENT"), Some(Stage::Current));
        assert_eq!(stage_of("AWSPENDING"), Some(Stage::Pending));
        assert_eq!(stage_of("AWSPREVIOUS"), Some(Stage::Previous));
        assert_eq!(stage_of("blue"), None);
    }

    #[test]
    fn timestamps_keep_their_nanoseconds() {
        let date = DateTime::from_secs_and_nanos(1_764_790_200, 123_456_789);

        let converted = to_time(&date).expect("in range");

        assert_eq!(converted.unix_timestamp(), 1_764_790_200);
        assert_eq!(converted.nanosecond(), 123_456_789);
    }

    #[test]
    fn a_label_has_one_holder() {
        let described = Described {
            name: "db".into(),
            tags: BTreeMap::new(),
            rotation_enabled: true,
            labels: HashMap::from([
                ("v1".to_owned(), vec![PREVIOUS.to_owned()]),
                ("v2".to_owned(), vec![CURRENT.to_owned(), "blue".to_owned()]),
            ]),
            changed: OffsetDateTime::UNIX_EPOCH,
        };

        assert_eq!(described.holder(CURRENT), Some("v2"));
        assert_eq!(described.holder(PENDING), None);
        assert!(described.has(&VersionId("v1".into()), PREVIOUS));
        assert!(!described.has(&VersionId("v3".into()), PREVIOUS));
    }
}
