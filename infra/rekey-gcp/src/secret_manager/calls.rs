//! The store's calls to Secret Manager, one method each: reads, the
//! etag-conditional update and its retry loop, adding, disabling and
//! destroying versions.

use std::collections::HashMap;

use google_cloud_gax::paginator::Paginator as _;
use google_cloud_secretmanager_v1::model::secret_version::State;
use google_cloud_secretmanager_v1::model::{Secret, SecretPayload, SecretVersion};
use google_cloud_wkt::FieldMask;
use rekey_core::{CredentialId, SecretValue, Stage, StoreError};

use super::stages::{Change, adopted};
use super::{SecretManagerStore, gone, number_in, secret_name};
use crate::error::GcpError;
use crate::metadata::alias_of;

/// How many times an etag-conditional update is tried before giving up.
const UPDATE_ATTEMPTS: u32 = 5;

impl SecretManagerStore {
    pub(crate) async fn get_secret(&self, id: &CredentialId) -> Result<Secret, StoreError> {
        let name = secret_name(id)?;
        self.client
            .get_secret()
            .set_name(name)
            .send()
            .await
            .map_err(|e| GcpError::of(&format!("get secret {name}"), &e).into_store(gone(id)))
    }

    pub(super) async fn list_versions(
        &self,
        id: &CredentialId,
    ) -> Result<Vec<SecretVersion>, StoreError> {
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
    pub(super) async fn update(
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
    ///
    /// GCP documents a stale etag as `FAILED_PRECONDITION` (400); `ABORTED`
    /// (409) is taken the same way. After the bound a persistent
    /// precondition failure is a `Backend` error, a persistent race
    /// `Unavailable`.
    pub(super) async fn update_with_retry(
        &self,
        id: &CredentialId,
        change: impl Fn(&Secret) -> Result<Change, StoreError>,
    ) -> Result<(), StoreError> {
        let mut last = None;
        for attempt in 1..=UPDATE_ATTEMPTS {
            let secret = self.get_secret(id).await?;
            let Some(update) = change(&secret)? else {
                return Ok(());
            };
            match self.update(id, &secret.etag, update).await {
                Ok(()) => return Ok(()),
                Err(error @ (GcpError::Conflict(_) | GcpError::Precondition(_))) => {
                    tracing::debug!(secret = %id, attempt, "etag no longer current, re-reading");
                    last = Some(error);
                }
                Err(error) => return Err(error.into_store(gone(id))),
            }
        }
        Err(match last {
            Some(GcpError::Precondition(description)) => StoreError::Backend(description),
            _ => StoreError::Unavailable(format!(
                "{id} kept changing under rekey for {UPDATE_ATTEMPTS} attempts"
            )),
        })
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
    pub(super) async fn pin_adopted(
        &self,
        id: &CredentialId,
        secret: &Secret,
    ) -> Result<(), StoreError> {
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

    pub(super) async fn add_version(
        &self,
        id: &CredentialId,
        value: &SecretValue,
    ) -> Result<i64, StoreError> {
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
    pub(super) async fn take_out_of_service(
        &self,
        id: &CredentialId,
        number: i64,
    ) -> Result<(), StoreError> {
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
    /// Disables a version whose staging failed, so no reader of
    /// `versions/latest` is served it; a failure here is only logged.
    pub(super) async fn abandon(&self, id: &CredentialId, number: i64) {
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
            tracing::warn!(secret = %id, version = number, %error, "unstaged version left enabled");
        }
    }
}
