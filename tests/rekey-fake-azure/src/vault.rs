//! The vaults' contents and the rules Key Vault applies to them: secrets
//! as lists of versions (newest last), each with its own value, content
//! type, tags and attributes; soft delete; names and sizes as the service
//! limits them.

use std::collections::BTreeMap;

use rand::Rng;
use time::OffsetDateTime;

use crate::error::KvError;

/// The most tags one version may carry.
const MAX_TAGS: usize = 15;
/// The largest value Key Vault stores (25 KiB).
const MAX_VALUE_BYTES: usize = 25 * 1024;

/// One version of a secret as the fake holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredVersion {
    /// Key Vault's version id: 32 lowercase hex digits.
    pub id: String,
    /// The value. The fake keeps it in plain text: it is a test double.
    pub value: String,
    /// The content type the writer gave.
    pub content_type: Option<String>,
    /// The version's tags.
    pub tags: BTreeMap<String, String>,
    /// Whether the version may be read.
    pub enabled: bool,
    /// `nbf`: not valid before, epoch seconds.
    pub not_before: Option<i64>,
    /// `exp`: expires, epoch seconds.
    pub expires: Option<i64>,
    /// `created`, epoch seconds.
    pub created: i64,
    /// `updated`, epoch seconds.
    pub updated: i64,
}

/// What a Set Secret call writes.
#[derive(Clone, Debug, Default)]
pub(crate) struct NewVersion {
    pub(crate) value: String,
    pub(crate) content_type: Option<String>,
    pub(crate) tags: BTreeMap<String, String>,
    pub(crate) attributes: Attributes,
}

/// The writable attributes of Set Secret and Update Secret.
#[derive(Clone, Debug, Default)]
pub(crate) struct Attributes {
    pub(crate) enabled: Option<bool>,
    pub(crate) not_before: Option<i64>,
    pub(crate) expires: Option<i64>,
}

/// What an Update Secret call changes; `None` leaves a field as it is.
#[derive(Clone, Debug, Default)]
pub(crate) struct Update {
    pub(crate) content_type: Option<String>,
    pub(crate) tags: Option<BTreeMap<String, String>>,
    pub(crate) attributes: Attributes,
}

/// One vault: live secrets and soft-deleted ones.
#[derive(Debug, Default)]
pub(crate) struct Vault {
    secrets: BTreeMap<String, Vec<StoredVersion>>,
    deleted: BTreeMap<String, Vec<StoredVersion>>,
}

impl Vault {
    /// Set Secret: adds a version, creating the secret if needed.
    pub(crate) fn set(&mut self, name: &str, new: NewVersion) -> Result<StoredVersion, KvError> {
        check_name(name)?;
        check_new(&new)?;
        if self.deleted.contains_key(name) {
            return Err(KvError::deleted_but_recoverable(name));
        }
        let now = OffsetDateTime::now_utc().unix_timestamp();
        let version = StoredVersion {
            id: version_id(),
            value: new.value,
            content_type: new.content_type,
            tags: new.tags,
            enabled: new.attributes.enabled.unwrap_or(true),
            not_before: new.attributes.not_before,
            expires: new.attributes.expires,
            created: now,
            updated: now,
        };
        self.secrets
            .entry(name.to_owned())
            .or_default()
            .push(version.clone());
        Ok(version)
    }

    /// Get Secret: the named version, or the newest when `version` is `None`.
    pub(crate) fn get(&self, name: &str, version: Option<&str>) -> Result<&StoredVersion, KvError> {
        let found = self.version(name, version)?;
        if !found.enabled {
            return Err(KvError::disabled());
        }
        Ok(found)
    }

    /// Update Secret: changes one version's attributes, tags or content type.
    pub(crate) fn update(
        &mut self,
        name: &str,
        version: Option<&str>,
        update: Update,
    ) -> Result<StoredVersion, KvError> {
        if let Some(tags) = &update.tags {
            check_tags(tags)?;
        }
        let found = self.version_mut(name, version)?;
        if let Some(content_type) = update.content_type {
            found.content_type = Some(content_type);
        }
        if let Some(tags) = update.tags {
            found.tags = tags;
        }
        let attributes = update.attributes;
        found.enabled = attributes.enabled.unwrap_or(found.enabled);
        found.not_before = attributes.not_before.or(found.not_before);
        found.expires = attributes.expires.or(found.expires);
        found.updated = OffsetDateTime::now_utc().unix_timestamp();
        Ok(found.clone())
    }

    /// Delete Secret: moves every version to the deleted secrets.
    pub(crate) fn delete(&mut self, name: &str) -> Result<StoredVersion, KvError> {
        let versions = self
            .secrets
            .remove(name)
            .ok_or_else(|| KvError::secret_not_found(name, None))?;
        let newest = versions.last().cloned();
        self.deleted.insert(name.to_owned(), versions);
        newest.ok_or_else(|| KvError::secret_not_found(name, None))
    }

    /// Get Secrets: each live secret's name with its newest version.
    pub(crate) fn list(&self) -> Vec<(&str, &StoredVersion)> {
        self.secrets
            .iter()
            .filter_map(|(name, versions)| Some((name.as_str(), versions.last()?)))
            .collect()
    }

    /// Get Secret Versions: every version of one secret, oldest first.
    pub(crate) fn versions(&self, name: &str) -> Result<&[StoredVersion], KvError> {
        self.secrets
            .get(name)
            .map(Vec::as_slice)
            .ok_or_else(|| KvError::secret_not_found(name, None))
    }

    fn version(&self, name: &str, version: Option<&str>) -> Result<&StoredVersion, KvError> {
        let versions = self.versions(name)?;
        match version {
            None => versions.last(),
            Some(id) => versions.iter().find(|v| v.id == id),
        }
        .ok_or_else(|| KvError::secret_not_found(name, version))
    }

    fn version_mut(
        &mut self,
        name: &str,
        version: Option<&str>,
    ) -> Result<&mut StoredVersion, KvError> {
        let versions = self
            .secrets
            .get_mut(name)
            .ok_or_else(|| KvError::secret_not_found(name, None))?;
        match version {
            None => versions.last_mut(),
            Some(id) => versions.iter_mut().find(|v| v.id == id),
        }
        .ok_or_else(|| KvError::secret_not_found(name, version))
    }
}

/// Secret names: 1 to 127 letters, digits and dashes.
fn check_name(name: &str) -> Result<(), KvError> {
    let valid = (1..=127).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if valid {
        Ok(())
    } else {
        Err(KvError::bad_parameter(
            "The request URI contains an invalid name: secret names are 1-127 letters, digits \
             and dashes",
        ))
    }
}

fn check_new(new: &NewVersion) -> Result<(), KvError> {
    if new.value.len() > MAX_VALUE_BYTES {
        return Err(KvError::bad_parameter(format!(
            "The secret value exceeds the maximum size of {MAX_VALUE_BYTES} bytes"
        )));
    }
    check_tags(&new.tags)
}

fn check_tags(tags: &BTreeMap<String, String>) -> Result<(), KvError> {
    if tags.len() > MAX_TAGS {
        return Err(KvError::bad_parameter(format!(
            "A secret version may carry at most {MAX_TAGS} tags"
        )));
    }
    let too_long = tags.iter().any(|(k, v)| k.len() > 512 || v.len() > 512);
    if too_long {
        return Err(KvError::bad_parameter(
            "Tag names and values are at most 512 characters",
        ));
    }
    Ok(())
}

/// A fresh version id: 32 lowercase hex digits, as Key Vault makes them.
fn version_id() -> String {
    let bytes: [u8; 16] = rand::rng().random();
    hex::encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new(value: &str) -> NewVersion {
        NewVersion {
            value: value.into(),
            ..NewVersion::default()
        }
    }

    #[test]
    fn newest_version_is_served_without_a_version() {
        let mut vault = Vault::default();
        let first = vault.set("db", new("one")).expect("set");
        let second = vault.set("db", new("two")).expect("set");

        assert_eq!(vault.get("db", None).expect("get").id, second.id);
        assert_eq!(vault.get("db", Some(&first.id)).expect("get").value, "one");
        assert_eq!(second.id.len(), 32);
    }

    #[test]
    fn disabled_versions_answer_secret_disabled() {
        let mut vault = Vault::default();
        let first = vault.set("db", new("one")).expect("set");
        let update = Update {
            attributes: Attributes {
                enabled: Some(false),
                ..Attributes::default()
            },
            ..Update::default()
        };
        vault.update("db", Some(&first.id), update).expect("update");

        assert_eq!(vault.get("db", None), Err(KvError::disabled()));
    }

    #[test]
    fn a_deleted_name_cannot_be_set() {
        let mut vault = Vault::default();
        vault.set("db", new("one")).expect("set");
        vault.delete("db").expect("delete");

        let again = vault.set("db", new("two")).expect_err("conflict");

        assert_eq!(again.status, axum::http::StatusCode::CONFLICT);
        assert!(vault.versions("db").is_err());
    }

    #[test]
    fn bad_names_and_oversized_values_are_rejected() {
        let mut vault = Vault::default();

        assert!(vault.set("no/slash", new("x")).is_err());
        assert!(
            vault
                .set("big", new(&"x".repeat(MAX_VALUE_BYTES + 1)))
                .is_err()
        );
        assert!(vault.versions("big").is_err(), "nothing was written");
    }
}
