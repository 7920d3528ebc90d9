//! The Secret Manager store: a credential is a secret
//! (`projects/{project}/secrets/{secret}`), its versions are the secret's
//! versions and its stages the version aliases `current`, `pending` and
//! `previous`.
//!
//! GCP numbers versions itself; the engine names them by UUID. The secret's
//! annotation `rekey-version-N` holds the engine's id of version `N`
//! ([`crate::metadata`]). A secret rekey never rotated has no `current`
//! alias: its newest enabled version is current, and rekey pins the alias
//! on it before it adds the first new version. Consumers read
//! `versions/current`; `versions/latest` serves a pending version as soon
//! as it is added. Every alias change is one etag-conditional
//! `UpdateSecret`, re-read and retried when another writer won the race.

mod calls;
mod stages;

use async_trait::async_trait;
use google_cloud_gax::paginator::Paginator as _;
use google_cloud_secretmanager_v1::client::SecretManagerService;
use google_cloud_secretmanager_v1::model::SecretPayload;
use google_cloud_secretmanager_v1::model::secret_version::State;
use rekey_core::{
    Credential, CredentialId, Provider, RotationToken, SecretStore, SecretValue, Stage, StoreError,
    Version, VersionId,
};
use time::OffsetDateTime;

use crate::error::GcpError;
use crate::metadata::{self, alias_of};
use crate::{GcpClients, GcpSettings};
use stages::{promotion, stages_of, staging};

/// The largest payload a version may hold.
pub const MAX_PAYLOAD_BYTES: usize = 64 * 1024;

/// The [`SecretStore`] of GCP Secret Manager.
#[derive(Clone, Debug)]
pub struct SecretManagerStore {
    client: SecretManagerService,
    projects: Vec<String>,
    destroy_retired: bool,
}

impl SecretManagerStore {
    /// A store listing the secrets of `projects`, disabling retired versions.
    pub fn new(clients: &GcpClients, projects: Vec<String>) -> Self {
        Self {
            client: clients.secret_manager.clone(),
            projects,
            destroy_retired: false,
        }
    }

    /// A store for the settings' projects and `destroy_retired` choice.
    pub fn from_settings(clients: &GcpClients, settings: &GcpSettings) -> Self {
        Self::new(clients, settings.projects.clone()).with_destroy_retired(settings.destroy_retired)
    }

    /// Destroys retired versions instead of disabling them.
    pub fn with_destroy_retired(mut self, destroy: bool) -> Self {
        self.destroy_retired = destroy;
        self
    }
}

#[async_trait]
impl SecretStore for SecretManagerStore {
    fn provider(&self) -> Provider {
        Provider::GcpSecretManager
    }

    async fn list(&self) -> Result<Vec<CredentialId>, StoreError> {
        let filter = format!("labels.{}policy:*", metadata::KEY_PREFIX);
        let mut managed = Vec::new();
        for project in &self.projects {
            let parent = format!("projects/{project}");
            let mut pages = self
                .client
                .list_secrets()
                .set_parent(&parent)
                .set_filter(&filter)
                .by_page();
            while let Some(page) = pages.next().await {
                let operation = format!("list the secrets of {parent}");
                let page =
                    page.map_err(|e| GcpError::of(&operation, &e).into_store(StoreError::Backend))?;
                let ids = page
                    .secrets
                    .iter()
                    .filter_map(|s| s.name.rsplit('/').next());
                managed.extend(ids.map(|secret| {
                    CredentialId::new(
                        Provider::GcpSecretManager,
                        format!("{parent}/secrets/{secret}"),
                    )
                }));
            }
        }
        Ok(managed)
    }

    async fn describe(&self, id: &CredentialId) -> Result<Credential, StoreError> {
        let secret = self.get_secret(id).await?;
        let versions = self.list_versions(id).await?;
        let stages = stages_of(&secret.version_aliases, &versions);

        let described = versions.iter().filter_map(|v| {
            let number = number_in(&v.name)?;
            let stages = stages.get(&number).cloned().unwrap_or_default();
            if v.state == State::Destroyed && stages.is_empty() {
                return None;
            }
            let id = metadata::id_of(&secret.annotations, number);
            let native_id = (id.as_str() != number.to_string()).then(|| number.to_string());
            Some(Version {
                id,
                native_id,
                stages,
                created_at: v
                    .create_time
                    .as_ref()
                    .and_then(to_time)
                    .unwrap_or_else(OffsetDateTime::now_utc),
            })
        });
        Ok(Credential {
            id: id.clone(),
            name: secret
                .name
                .rsplit('/')
                .next()
                .unwrap_or_default()
                .to_owned(),
            tags: metadata::tags(&secret.labels, &secret.annotations),
            rotation_enabled: true,
            versions: described.collect(),
        })
    }

    async fn read(
        &self,
        id: &CredentialId,
        version: &VersionId,
    ) -> Result<SecretValue, StoreError> {
        let secret = self.get_secret(id).await?;
        let missing = || StoreError::VersionNotFound {
            id: id.clone(),
            version: version.clone(),
        };
        let number = metadata::number_of(&secret.annotations, version).ok_or_else(missing)?;

        let name = format!("{}/versions/{number}", secret_name(id)?);
        let answer = self
            .client
            .access_secret_version()
            .set_name(&name)
            .send()
            .await;
        let payload = match answer {
            Ok(answer) => answer.payload.unwrap_or_default(),
            Err(e) => {
                return Err(
                    match GcpError::of(&format!("access secret version {name}"), &e) {
                        GcpError::NotFound(_) | GcpError::Precondition(_) => missing(),
                        other => other.into_store(gone(id)),
                    },
                );
            }
        };
        value_of(id, version, &payload)
    }

    async fn put_pending(
        &self,
        id: &CredentialId,
        version: &VersionId,
        value: &SecretValue,
        _token: Option<&RotationToken>,
    ) -> Result<(), StoreError> {
        let size = value.expose().len();
        if size > MAX_PAYLOAD_BYTES {
            return Err(StoreError::Backend(format!(
                "the new value of {id} is {size} bytes; Secret Manager holds at most {MAX_PAYLOAD_BYTES}"
            )));
        }
        let exists = || StoreError::VersionExists {
            id: id.clone(),
            version: version.clone(),
        };
        let secret = self.get_secret(id).await?;
        if metadata::is_mapped(&secret.annotations, version) {
            return Err(exists());
        }
        self.pin_adopted(id, &secret).await?;

        let number = self.add_version(id, value).await?;
        let staged = self
            .update_with_retry(id, |secret| staging(id, secret, number, version))
            .await;
        if let Err(error) = staged {
            self.abandon(id, number).await;
            return Err(error);
        }
        Ok(())
    }

    async fn promote(
        &self,
        id: &CredentialId,
        version: &VersionId,
        replacing: Option<&VersionId>,
    ) -> Result<(), StoreError> {
        self.update_with_retry(id, |secret| promotion(id, secret, version, replacing))
            .await
    }

    /// Takes the `previous` alias and the mapping off `version`, then
    /// disables it (or destroys it with `destroy_retired`). A version no
    /// longer mapped was retired already.
    async fn retire(&self, id: &CredentialId, version: &VersionId) -> Result<(), StoreError> {
        let secret = self.get_secret(id).await?;
        let Some(number) = metadata::number_of(&secret.annotations, version) else {
            return Ok(());
        };
        for stage in [Stage::Current, Stage::Pending] {
            if secret.version_aliases.get(alias_of(stage)) == Some(&number) {
                return Err(StoreError::Backend(format!(
                    "version {version} of {id} is {}; rekey retires only a previous version",
                    alias_of(stage)
                )));
            }
        }

        self.update_with_retry(id, |secret| {
            let mut aliases = secret.version_aliases.clone();
            if aliases.get(alias_of(Stage::Previous)) == Some(&number) {
                aliases.remove(alias_of(Stage::Previous));
            }
            let annotations = metadata::pruned(secret.annotations.clone(), &aliases);
            let unchanged = aliases == secret.version_aliases && annotations == secret.annotations;
            Ok((!unchanged).then_some((aliases, annotations)))
        })
        .await?;
        self.take_out_of_service(id, number).await
    }
}

/// The full resource name a credential's locator must be.
pub(super) fn secret_name(id: &CredentialId) -> Result<&str, StoreError> {
    let parts: Vec<&str> = id.locator.split('/').collect();
    match parts.as_slice() {
        ["projects", project, "secrets", secret] if !project.is_empty() && !secret.is_empty() => {
            Ok(&id.locator)
        }
        _ => Err(StoreError::Backend(format!(
            "{id} is not a Secret Manager secret name (projects/PROJECT/secrets/SECRET)"
        ))),
    }
}

/// What a "not found" means for a call naming secret `id`.
pub(super) fn gone(id: &CredentialId) -> impl FnOnce(String) -> StoreError + '_ {
    |_| StoreError::CredentialNotFound(id.clone())
}

/// The version number at the end of a version's resource name.
pub(super) fn number_in(name: &str) -> Option<i64> {
    name.rsplit('/').next()?.parse().ok()
}

fn to_time(timestamp: &google_cloud_wkt::Timestamp) -> Option<OffsetDateTime> {
    let nanos = i128::from(timestamp.seconds()) * 1_000_000_000 + i128::from(timestamp.nanos());
    OffsetDateTime::from_unix_timestamp_nanos(nanos).ok()
}

/// The text of an accessed payload, its checksum verified.
fn value_of(
    id: &CredentialId,
    version: &VersionId,
    payload: &SecretPayload,
) -> Result<SecretValue, StoreError> {
    let computed = i64::from(crc32c::crc32c(&payload.data));
    if payload.data_crc32c.is_some_and(|sent| sent != computed) {
        return Err(StoreError::Backend(format!(
            "version {version} of {id} arrived with a wrong CRC32C checksum"
        )));
    }
    let text = String::from_utf8(payload.data.to_vec()).map_err(|_| {
        StoreError::Backend(format!(
            "version {version} of {id} is not UTF-8 text; rekey manages text values only"
        ))
    })?;
    Ok(SecretValue::new(text))
}
