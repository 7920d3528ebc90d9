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

use std::collections::HashMap;

use async_trait::async_trait;
use google_cloud_gax::paginator::Paginator as _;
use google_cloud_secretmanager_v1::client::SecretManagerService;
use google_cloud_secretmanager_v1::model::secret_version::State;
use google_cloud_secretmanager_v1::model::{Secret, SecretPayload, SecretVersion};
use google_cloud_wkt::FieldMask;
use rekey_core::{
    Credential, CredentialId, Provider, RotationToken, SecretStore, SecretValue, Stage, StoreError,
    Version, VersionId,
};
use time::OffsetDateTime;

use crate::error::GcpError;
use crate::metadata::{self, STAGES, alias_of};
use crate::{GcpClients, GcpSettings};

/// The largest payload a version may hold.
pub const MAX_PAYLOAD_BYTES: usize = 64 * 1024;

/// How many times an etag-conditional update is tried before giving up.
const UPDATE_ATTEMPTS: u32 = 5;

/// New aliases and annotations for a secret, or `None` when nothing changes.
type Change = Option<(HashMap<String, i64>, HashMap<String, String>)>;

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

    pub(crate) async fn get_secret(&self, id: &CredentialId) -> Result<Secret, StoreError> {
        let name = secret_name(id)?;
        self.client
            .get_secret()
            .set_name(name)
            .send()
            .await
            .map_err(|e| GcpError::of(&format!("get secret {name}"), &e).into_store(gone(id)))
    }

    async fn list_versions(&self, id: &CredentialId) -> Result<Vec<SecretVersion>, StoreError> {
        let name = secret_name(id)?;
        let mut pages = self
            .client
            .list_secret_versions()
            .set_parent(name)
            .by_page();
        let mut versions = Vec::new();
        while let Some(page) = pages.next().await {
            let operation = format!("list versions of secret {name}");
            let page = page.map_err(|e| GcpError::of(&operation, &e).into_store(gone(id)))?;
            versions.extend(page.versions);
        }
        Ok(versions)
    }

    /// One etag-conditional `UpdateSecret` of aliases and annotations.
    async fn update(
        &self,
        id: &CredentialId,
        etag: &str,
        (aliases, annotations): (HashMap<String, i64>, HashMap<String, String>),
    ) -> Result<(), GcpError> {
        let name = secret_name(id).map_err(|e| GcpError::Other(e.to_string()))?;
        let secret = Secret::new()
            .set_name(name)
            .set_etag(etag)
            .set_version_aliases(aliases)
            .set_annotations(annotations);
        let mask = FieldMask::default().set_paths(["version_aliases", "annotations"]);
        tracing::debug!(secret = %id, "updating version aliases and annotations");
        self.client
            .update_secret()
            .set_secret(secret)
            .set_update_mask(mask)
            .send()
            .await
            .map_err(|e| GcpError::of(&format!("update secret {name}"), &e))?;
        Ok(())
    }

    /// Reads the secret, asks `change` what to write and writes it under the
    /// etag read, again from a fresh read when another writer came first.
    async fn update_with_retry(
        &self,
        id: &CredentialId,
        change: impl Fn(&Secret) -> Result<Change, StoreError>,
    ) -> Result<(), StoreError> {
        for attempt in 1..=UPDATE_ATTEMPTS {
            let secret = self.get_secret(id).await?;
            let Some(update) = change(&secret)? else {
                return Ok(());
            };
            match self.update(id, &secret.etag, update).await {
                Ok(()) => return Ok(()),
                Err(GcpError::Conflict(_)) if attempt < UPDATE_ATTEMPTS => {
                    tracing::debug!(secret = %id, attempt, "etag conflict, re-reading");
                }
                Err(error) => return Err(error.into_store(gone(id))),
            }
        }
        Err(StoreError::Unavailable(format!(
            "{id} kept changing under rekey for {UPDATE_ATTEMPTS} attempts"
        )))
    }

    /// Sets annotation `key` to `value` (or removes it), conditional on the etag.
    pub(crate) async fn annotate(
        &self,
        id: &CredentialId,
        key: &str,
        value: Option<&str>,
    ) -> Result<(), StoreError> {
        self.update_with_retry(id, |secret| {
            let mut annotations = secret.annotations.clone();
            match value {
                Some(value) => annotations.insert(key.to_owned(), value.to_owned()),
                None => annotations.remove(key),
            };
            if annotations == secret.annotations {
                return Ok(None);
            }
            Ok(Some((secret.version_aliases.clone(), annotations)))
        })
        .await
    }

    /// Pins `current` on the adopted version of a never-rotated secret, so
    /// a version added next never counts as current by being newest.
    async fn pin_adopted(&self, id: &CredentialId, secret: &Secret) -> Result<(), StoreError> {
        if secret
            .version_aliases
            .contains_key(alias_of(Stage::Current))
        {
            return Ok(());
        }
        let versions = self.list_versions(id).await?;
        let Some(adopted) = adopted(&secret.version_aliases, &versions) else {
            return Ok(());
        };
        self.update_with_retry(id, |secret| {
            let mut aliases = secret.version_aliases.clone();
            if aliases.contains_key(alias_of(Stage::Current)) {
                return Ok(None);
            }
            aliases.insert(alias_of(Stage::Current).to_owned(), adopted);
            Ok(Some((aliases, secret.annotations.clone())))
        })
        .await
    }

    async fn add_version(&self, id: &CredentialId, value: &SecretValue) -> Result<i64, StoreError> {
        let name = secret_name(id)?;
        let data = value.expose().as_bytes().to_vec();
        let checksum = i64::from(crc32c::crc32c(&data));
        let payload = SecretPayload::new()
            .set_data(bytes::Bytes::from(data))
            .set_data_crc32c(checksum);
        let added = self
            .client
            .add_secret_version()
            .set_parent(name)
            .set_payload(payload)
            .send()
            .await
            .map_err(|e| {
                GcpError::of(&format!("add a version to {name}"), &e).into_store(gone(id))
            })?;
        number_in(&added.name).ok_or_else(|| {
            StoreError::Backend(format!(
                "AddSecretVersion answered an unnumbered version for {id}"
            ))
        })
    }

    /// Disables, or destroys, version `number`; one already so is fine.
    async fn take_out_of_service(&self, id: &CredentialId, number: i64) -> Result<(), StoreError> {
        let name = format!("{}/versions/{number}", secret_name(id)?);
        let version = match self
            .client
            .get_secret_version()
            .set_name(&name)
            .send()
            .await
        {
            Ok(version) => version,
            Err(e) => match GcpError::of(&format!("get secret version {name}"), &e) {
                GcpError::NotFound(_) => return Ok(()),
                other => return Err(other.into_store(gone(id))),
            },
        };

        let result = if self.destroy_retired && version.state != State::Destroyed {
            let call = self
                .client
                .destroy_secret_version()
                .set_name(&name)
                .set_etag(&version.etag);
            call.send().await.map(drop)
        } else if !self.destroy_retired && version.state == State::Enabled {
            let call = self
                .client
                .disable_secret_version()
                .set_name(&name)
                .set_etag(&version.etag);
            call.send().await.map(drop)
        } else {
            Ok(())
        };
        let verb = if self.destroy_retired {
            "destroy"
        } else {
            "disable"
        };
        result.map_err(|e| {
            GcpError::of(&format!("{verb} secret version {name}"), &e).into_store(gone(id))
        })
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
            Some(Version {
                id: metadata::id_of(&secret.annotations, number),
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
            .update_with_retry(id, |secret| {
                if metadata::is_mapped(&secret.annotations, version) {
                    return Err(exists());
                }
                let mut aliases = secret.version_aliases.clone();
                aliases.insert(alias_of(Stage::Pending).to_owned(), number);
                let annotations =
                    metadata::with_mapping(secret.annotations.clone(), number, version);
                Ok(Some((
                    aliases.clone(),
                    metadata::pruned(annotations, &aliases),
                )))
            })
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

impl SecretManagerStore {
    /// Disables a version whose staging failed, so no reader of
    /// `versions/latest` is served it; a failure here is only logged.
    async fn abandon(&self, id: &CredentialId, number: i64) {
        let Ok(name) = secret_name(id) else { return };
        let name = format!("{name}/versions/{number}");
        if let Err(error) = self
            .client
            .disable_secret_version()
            .set_name(&name)
            .send()
            .await
        {
            let error = GcpError::of(&format!("disable abandoned version {name}"), &error);
            tracing::warn!(secret = %id, version = number, %error, "an unstaged version stays enabled");
        }
    }
}

/// The aliases and annotations after promoting `version` over `replacing`.
fn promotion(
    id: &CredentialId,
    secret: &Secret,
    version: &VersionId,
    replacing: Option<&VersionId>,
) -> Result<Change, StoreError> {
    let resolve = |v: &VersionId| {
        metadata::number_of(&secret.annotations, v).ok_or_else(|| StoreError::VersionNotFound {
            id: id.clone(),
            version: v.clone(),
        })
    };
    let new = resolve(version)?;
    let aliases = &secret.version_aliases;
    let (current, pending) = (alias_of(Stage::Current), alias_of(Stage::Pending));
    if aliases.get(current) == Some(&new) && aliases.get(pending) != Some(&new) {
        return Ok(None);
    }

    let old = replacing.map(resolve).transpose()?;
    if let (Some(holder), Some(old)) = (aliases.get(current), old)
        && *holder != old
    {
        return Err(StoreError::Backend(format!(
            "{id}: version {} is not current, so it cannot be replaced",
            replacing.map_or("(none)", VersionId::as_str)
        )));
    }
    let mut aliases = aliases.clone();
    aliases.insert(current.to_owned(), new);
    match old {
        Some(old) => aliases.insert(alias_of(Stage::Previous).to_owned(), old),
        None => aliases.remove(alias_of(Stage::Previous)),
    };
    if aliases.get(pending) == Some(&new) {
        aliases.remove(pending);
    }
    let annotations = metadata::pruned(secret.annotations.clone(), &aliases);
    Ok(Some((aliases, annotations)))
}

/// The full resource name a credential's locator must be.
fn secret_name(id: &CredentialId) -> Result<&str, StoreError> {
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
fn gone(id: &CredentialId) -> impl FnOnce(String) -> StoreError + '_ {
    |_| StoreError::CredentialNotFound(id.clone())
}

/// The version number at the end of a version's resource name.
fn number_in(name: &str) -> Option<i64> {
    name.rsplit('/').next()?.parse().ok()
}

fn to_time(timestamp: &google_cloud_wkt::Timestamp) -> Option<OffsetDateTime> {
    let nanos = i128::from(timestamp.seconds()) * 1_000_000_000 + i128::from(timestamp.nanos());
    OffsetDateTime::from_unix_timestamp_nanos(nanos).ok()
}

/// The newest enabled version no alias names: current by adoption.
fn adopted(aliases: &HashMap<String, i64>, versions: &[SecretVersion]) -> Option<i64> {
    let aliased: Vec<i64> = aliases.values().copied().collect();
    versions
        .iter()
        .filter(|v| v.state == State::Enabled)
        .filter_map(|v| number_in(&v.name))
        .filter(|n| !aliased.contains(n))
        .max()
}

/// The stages of each version number: the aliases, and adoption when
/// there is no `current` alias.
fn stages_of(
    aliases: &HashMap<String, i64>,
    versions: &[SecretVersion],
) -> HashMap<i64, Vec<Stage>> {
    let mut stages: HashMap<i64, Vec<Stage>> = HashMap::new();
    for stage in STAGES {
        if let Some(number) = aliases.get(alias_of(stage)) {
            stages.entry(*number).or_default().push(stage);
        }
    }
    if !aliases.contains_key(alias_of(Stage::Current))
        && let Some(number) = adopted(aliases, versions)
    {
        stages.entry(number).or_default().push(Stage::Current);
    }
    stages
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
