//! [`KeyVaultStore`]: Key Vault secrets as rekey credentials.
//!
//! Key Vault serves a secret's newest version to every reader that names
//! none, so a pending value must not be a version of the secret: it lives
//! in the companion secret `{name}-rekey-pending` and becomes a version of
//! the secret only at promotion, with `exp` set from the policy's
//! `max_age` so Key Vault's `SecretNearExpiry` event starts the next
//! cycle. Version tags carry rekey's ids and stages (see [`crate::tags`]).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use async_trait::async_trait;
use azure_security_keyvault_secrets::SecretClient;
use rekey_core::{
    Clock, Credential, CredentialId, POLICY_TAG, PolicySet, Provider, RotationToken, SecretStore,
    SecretValue, Stage, StoreError, SystemClock, VersionId,
};
use time::OffsetDateTime;

use crate::AzureClients;
use crate::error::AzureError;
use crate::locator::{COMPANION_SUFFIX, SecretRef};
use crate::tags::{self, Listed, PENDING_FOR_TAG, STAGE_TAG, VERSION_TAG};
use crate::vault_calls::{self, NewVersion};

/// The Key Vault secrets of the configured vaults, as a [`SecretStore`]
/// for [`Provider::AzureKeyVault`].
pub struct KeyVaultStore {
    clients: Arc<AzureClients>,
    policies: Option<PolicySet>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for KeyVaultStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyVaultStore")
            .field("clients", &self.clients)
            .field("policies", &self.policies.is_some())
            .finish_non_exhaustive()
    }
}

impl KeyVaultStore {
    /// A store over `clients`. Without [`Self::with_policies`] promoted
    /// versions get no expiry date.
    pub fn new(clients: Arc<AzureClients>) -> Self {
        Self {
            clients,
            policies: None,
            clock: Arc::new(SystemClock),
        }
    }

    /// Resolves each credential's policy from its tags at promotion, to set
    /// the new version's `exp` to now + `max_age`.
    pub fn with_policies(mut self, policies: PolicySet) -> Self {
        self.policies = Some(policies);
        self
    }

    /// The clock promotion reads "now" from (the system's by default).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    fn target(&self, id: &CredentialId) -> Result<(&SecretClient, SecretRef), StoreError> {
        let not_found = || StoreError::CredentialNotFound(id.clone());
        let secret = SecretRef::parse(&id.locator).ok_or_else(not_found)?;
        let client = self.clients.client(&secret.vault).ok_or_else(not_found)?;
        Ok((client, secret))
    }

    /// The secret's versions; `CredentialNotFound` if it has none.
    async fn secret_versions(
        &self,
        id: &CredentialId,
        client: &SecretClient,
        name: &str,
    ) -> Result<Vec<Listed>, StoreError> {
        let not_found = || StoreError::CredentialNotFound(id.clone());
        let listed = vault_calls::versions(client, name)
            .await
            .map_err(|e| e.into_store(not_found))?;
        listed.filter(|l| !l.is_empty()).ok_or_else(not_found)
    }

    /// The companion's versions (none if it does not exist yet).
    async fn companion_versions(
        &self,
        id: &CredentialId,
        client: &SecretClient,
        secret: &SecretRef,
    ) -> Result<Vec<Listed>, StoreError> {
        let listed = vault_calls::versions(client, &secret.companion())
            .await
            .map_err(|e| e.into_store(|| StoreError::CredentialNotFound(id.clone())))?;
        Ok(listed.unwrap_or_default())
    }

    /// When a version promoted now expires: now + the policy's `max_age`.
    fn expiry(&self, user_tags: &BTreeMap<String, String>) -> Option<OffsetDateTime> {
        let policy = self.policies.as_ref()?.resolve(user_tags)?.ok()?;
        expires_after(self.clock.now(), policy.max_age)
    }
}

/// `now + max_age`; `None` past the calendar's end (a hostile
/// `rekey:max-age` tag), which leaves the version without `exp`.
fn expires_after(now: OffsetDateTime, max_age: std::time::Duration) -> Option<OffsetDateTime> {
    now.checked_add(time::Duration::try_from(max_age).ok()?)
}

fn version_missing(id: &CredentialId, version: &VersionId) -> StoreError {
    StoreError::VersionNotFound {
        id: id.clone(),
        version: version.clone(),
    }
}

/// The pending version: the newest enabled companion version whose
/// `rekey-version` the secret does not have yet.
fn pending<'a>(secret: &[Listed], companion: &'a [Listed]) -> Option<&'a Listed> {
    companion
        .iter()
        .rfind(|c| c.enabled && c.tagged && !secret.iter().any(|s| s.id == c.id))
}

#[async_trait]
impl SecretStore for KeyVaultStore {
    fn provider(&self) -> Provider {
        Provider::AzureKeyVault
    }

    async fn list(&self) -> Result<Vec<CredentialId>, StoreError> {
        let mut ids = Vec::new();
        for (vault, client) in self.clients.clients() {
            let names = vault_calls::names_tagged(client, POLICY_TAG)
                .await
                .map_err(|e| {
                    e.into_store(|| StoreError::Backend(format!("vault {vault} not found")))
                })?;
            let managed = names.iter().filter(|n| !n.ends_with(COMPANION_SUFFIX));
            ids.extend(managed.map(|name| SecretRef::credential(vault, name)));
        }
        Ok(ids)
    }

    async fn describe(&self, id: &CredentialId) -> Result<Credential, StoreError> {
        let (client, secret) = self.target(id)?;
        let listed = self.secret_versions(id, client, &secret.name).await?;
        let companion = self.companion_versions(id, client, &secret).await?;

        let mut versions = tags::versions(&listed);
        if let Some(pending) = pending(&listed, &companion) {
            versions.push(rekey_core::Version {
                id: pending.id.clone(),
                stages: vec![Stage::Pending],
                created_at: pending.created,
                native_id: None,
            });
        }
        let tags = tags::current(&listed)
            .or(listed.last())
            .map(Listed::user_tags)
            .unwrap_or_default();
        Ok(Credential {
            id: id.clone(),
            name: secret.name.clone(),
            tags,
            rotation_enabled: true,
            versions,
        })
    }

    async fn read(
        &self,
        id: &CredentialId,
        version: &VersionId,
    ) -> Result<SecretValue, StoreError> {
        let (client, secret) = self.target(id)?;
        let listed = self.secret_versions(id, client, &secret.name).await?;
        let (name, found) = match listed.iter().find(|v| v.is(version)) {
            Some(found) => (secret.name.clone(), found.clone()),
            None => {
                let companion = self.companion_versions(id, client, &secret).await?;
                let found = companion.into_iter().find(|v| v.tagged && &v.id == version);
                (
                    secret.companion(),
                    found.ok_or_else(|| version_missing(id, version))?,
                )
            }
        };
        vault_calls::value(client, &name, &found.key_vault_id)
            .await
            .map_err(|e| e.into_store(|| version_missing(id, version)))
    }

    async fn put_pending(
        &self,
        id: &CredentialId,
        version: &VersionId,
        value: &SecretValue,
        _token: Option<&RotationToken>,
    ) -> Result<(), StoreError> {
        let (client, secret) = self.target(id)?;
        let listed = self.secret_versions(id, client, &secret.name).await?;
        let companion = self.companion_versions(id, client, &secret).await?;
        let taken = listed
            .iter()
            .chain(&companion)
            .any(|v| v.tagged && &v.id == version);
        if taken {
            return Err(StoreError::VersionExists {
                id: id.clone(),
                version: version.clone(),
            });
        }

        let tags = HashMap::from([
            (VERSION_TAG.to_owned(), version.to_string()),
            (PENDING_FOR_TAG.to_owned(), secret.name.clone()),
        ]);
        let new = NewVersion {
            value,
            tags,
            content_type: tags::current(&listed).and_then(|v| v.content_type.clone()),
            expires: None,
        };
        let companion_name = secret.companion();
        let failed = |e: AzureError| e.into_store(|| StoreError::CredentialNotFound(id.clone()));
        vault_calls::set(client, &companion_name, new)
            .await
            .map_err(failed)?;
        tracing::debug!(secret = %id, %version, "pending value set in the companion secret");

        // The pending stage is on one version only: disable the older ones.
        for older in companion.iter().filter(|v| v.enabled) {
            disable(client, &companion_name, older)
                .await
                .map_err(failed)?;
        }
        Ok(())
    }

    async fn promote(
        &self,
        id: &CredentialId,
        version: &VersionId,
        replacing: Option<&VersionId>,
    ) -> Result<(), StoreError> {
        let (client, secret) = self.target(id)?;
        let mut listed = self.secret_versions(id, client, &secret.name).await?;
        let companion = self.companion_versions(id, client, &secret).await?;
        let failed = |e: AzureError| e.into_store(|| version_missing(id, version));

        if !listed.iter().any(|v| v.tagged && &v.id == version) {
            let source = companion
                .iter()
                .rfind(|v| v.tagged && &v.id == version)
                .ok_or_else(|| version_missing(id, version))?;
            let user_tags = tags::current(&listed)
                .or(listed.last())
                .map(Listed::user_tags)
                .unwrap_or_default();
            let expires = self.expiry(&user_tags);
            write_promoted(client, &secret, source, user_tags, expires)
                .await
                .map_err(failed)?;
            tracing::debug!(secret = %id, %version, "pending value written as the newest version");
            listed = self.secret_versions(id, client, &secret.name).await?;
        }

        settle_stages(client, &secret.name, &listed, version, replacing)
            .await
            .map_err(failed)?;
        for done in companion.iter().filter(|v| v.enabled && &v.id == version) {
            disable(client, &secret.companion(), done)
                .await
                .map_err(failed)?;
        }
        Ok(())
    }

    async fn retire(&self, id: &CredentialId, version: &VersionId) -> Result<(), StoreError> {
        let (client, secret) = self.target(id)?;
        let listed = self.secret_versions(id, client, &secret.name).await?;
        let found = listed
            .iter()
            .find(|v| v.is(version))
            .ok_or_else(|| version_missing(id, version))?;
        disable(client, &secret.name, found)
            .await
            .map_err(|e| e.into_store(|| version_missing(id, version)))?;
        tracing::debug!(secret = %id, %version, "version disabled");
        Ok(())
    }
}

/// Writes the companion version `source` as the secret's newest version:
/// its value and content type, the user's tags, `rekey-version`,
/// `rekey-stage = current`, and `exp`.
async fn write_promoted(
    client: &SecretClient,
    secret: &SecretRef,
    source: &Listed,
    user_tags: BTreeMap<String, String>,
    expires: Option<OffsetDateTime>,
) -> Result<(), AzureError> {
    let value = vault_calls::value(client, &secret.companion(), &source.key_vault_id).await?;

    let mut tags: HashMap<String, String> = user_tags.into_iter().collect();
    tags.insert(VERSION_TAG.to_owned(), source.id.to_string());
    tags.insert(STAGE_TAG.to_owned(), "current".to_owned());
    let new = NewVersion {
        value: &value,
        tags,
        content_type: source.content_type.clone(),
        expires,
    };
    vault_calls::set(client, &secret.name, new).await
}

/// Makes the stage tags agree with a promotion of `version` over
/// `replacing`: `version` current, `replacing` previous, and any other
/// version that still carries a stage retired (disabled, stage removed),
/// since each stage is on one version only.
async fn settle_stages(
    client: &SecretClient,
    name: &str,
    listed: &[Listed],
    version: &VersionId,
    replacing: Option<&VersionId>,
) -> Result<(), AzureError> {
    for listed_version in listed {
        let wanted = if &listed_version.id == version {
            Some(Stage::Current)
        } else if replacing.is_some_and(|r| listed_version.is(r)) {
            Some(Stage::Previous)
        } else {
            None
        };
        let staged_elsewhere = wanted.is_none() && listed_version.stage.is_some();
        if staged_elsewhere && listed_version.enabled {
            disable(client, name, listed_version).await?;
        } else if wanted.is_some() && listed_version.stage != wanted {
            let tags = listed_version.tags_with_stage(wanted);
            vault_calls::update(client, name, &listed_version.key_vault_id, tags, None).await?;
        }
    }
    Ok(())
}

/// Disables one version and takes its stage tag off.
async fn disable(client: &SecretClient, name: &str, version: &Listed) -> Result<(), AzureError> {
    let tags = version.tags_with_stage(None);
    vault_calls::update(client, name, &version.key_vault_id, tags, Some(false)).await
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn expiry_is_now_plus_max_age_and_never_overflows() {
        let now = OffsetDateTime::UNIX_EPOCH;

        assert_eq!(
            expires_after(now, Duration::from_secs(3600)),
            Some(now + Duration::from_secs(3600))
        );
        assert_eq!(expires_after(now, Duration::from_secs(u64::MAX)), None);
    }
}
