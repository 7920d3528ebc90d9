//! The tags rekey keeps on Key Vault secret versions, and how a version
//! listing reads as rekey versions and stages.
//!
//! - `rekey-version`: the engine's version id (a UUID), on versions rekey
//!   wrote; other versions are known by Key Vault's 32-hex version id.
//! - `rekey-stage`: `current` or `previous`.
//! - `rekey-pending-for`: on companion versions, the secret they are for.

use std::collections::{BTreeMap, HashMap};

use azure_security_keyvault_secrets::models::SecretProperties;
use rekey_core::{Stage, Version, VersionId};
use time::OffsetDateTime;

/// The engine's version id of a version.
pub const VERSION_TAG: &str = "rekey-version";
/// The stage a version carries (`current`, `previous`).
pub const STAGE_TAG: &str = "rekey-stage";
/// On a companion version: the name of the secret it is pending for.
pub const PENDING_FOR_TAG: &str = "rekey-pending-for";

/// One listed version with what rekey reads from it.
#[derive(Clone, Debug)]
pub(crate) struct Listed {
    /// Key Vault's version id.
    pub(crate) key_vault_id: String,
    /// The engine's id: the `rekey-version` tag, else Key Vault's id.
    pub(crate) id: VersionId,
    /// Whether the `rekey-version` tag is present.
    pub(crate) tagged: bool,
    pub(crate) stage: Option<Stage>,
    pub(crate) enabled: bool,
    pub(crate) created: OffsetDateTime,
    pub(crate) tags: BTreeMap<String, String>,
    pub(crate) content_type: Option<String>,
}

impl Listed {
    /// Reads one item of Get Secret Versions; `None` if it has no id.
    pub(crate) fn from_properties(properties: SecretProperties) -> Option<Self> {
        let key_vault_id = properties.id.as_deref()?.rsplit('/').next()?.to_owned();
        let tags: BTreeMap<String, String> =
            properties.tags.unwrap_or_default().into_iter().collect();
        let attributes = properties.attributes.unwrap_or_default();
        let tagged = tags.get(VERSION_TAG).cloned();
        let stage = tags.get(STAGE_TAG).and_then(|s| stage_named(s));
        Some(Self {
            id: VersionId(tagged.clone().unwrap_or_else(|| key_vault_id.clone())),
            tagged: tagged.is_some(),
            key_vault_id,
            stage,
            enabled: attributes.enabled.unwrap_or(true),
            created: attributes.created.unwrap_or(OffsetDateTime::UNIX_EPOCH),
            tags,
            content_type: properties.content_type,
        })
    }

    /// Whether this version is `version`, by tag or by Key Vault id.
    pub(crate) fn is(&self, version: &VersionId) -> bool {
        &self.id == version || self.key_vault_id == version.as_str()
    }

    /// The tags that belong to the user (policy tags and the like).
    pub(crate) fn user_tags(&self) -> BTreeMap<String, String> {
        user_tags(&self.tags)
    }

    /// The tags to write back with `stage` (or none).
    pub(crate) fn tags_with_stage(&self, stage: Option<Stage>) -> HashMap<String, String> {
        let mut tags: HashMap<String, String> = self.tags.clone().into_iter().collect();
        tags.remove(STAGE_TAG);
        if let Some(stage) = stage {
            tags.insert(STAGE_TAG.to_owned(), stage_name(stage).to_owned());
        }
        tags
    }
}

/// `tags` without rekey's own version tags.
pub(crate) fn user_tags(tags: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    tags.iter()
        .filter(|(k, _)| ![VERSION_TAG, STAGE_TAG, PENDING_FOR_TAG].contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// The listing's versions as the port describes them: stages from the
/// tags, or, for a secret rekey never rotated, current on the newest
/// enabled version. Versions are sorted oldest first.
pub(crate) fn versions(listed: &[Listed]) -> Vec<Version> {
    let staged = listed.iter().any(|v| v.stage.is_some());
    let newest = newest_enabled(listed).map(|v| v.key_vault_id.clone());
    listed
        .iter()
        .map(|v| {
            let stage = if staged {
                v.stage.filter(|_| v.enabled)
            } else {
                (Some(&v.key_vault_id) == newest.as_ref()).then_some(Stage::Current)
            };
            Version {
                id: v.id.clone(),
                stages: stage.into_iter().collect(),
                created_at: v.created,
                native_id: (v.id.as_str() != v.key_vault_id).then(|| v.key_vault_id.clone()),
            }
        })
        .collect()
}

/// The version described as current.
pub(crate) fn current(listed: &[Listed]) -> Option<&Listed> {
    let staged: Vec<&Listed> = listed
        .iter()
        .filter(|v| v.enabled && v.stage == Some(Stage::Current))
        .collect();
    if listed.iter().any(|v| v.stage.is_some()) {
        staged.last().copied()
    } else {
        newest_enabled(listed)
    }
}

/// The newest enabled version; among versions created in the same second
/// the one listed last.
pub(crate) fn newest_enabled(listed: &[Listed]) -> Option<&Listed> {
    listed
        .iter()
        .filter(|v| v.enabled)
        .max_by_key(|v| v.created)
        .and_then(|newest| {
            listed
                .iter()
                .rfind(|v| v.enabled && v.created == newest.created)
        })
}

/// Sorts a listing oldest first, keeping the service's order within a second.
pub(crate) fn sort(listed: &mut [Listed]) {
    listed.sort_by_key(|v| v.created);
}

fn stage_named(name: &str) -> Option<Stage> {
    match name {
        "current" => Some(Stage::Current),
        "previous" => Some(Stage::Previous),
        _ => None,
    }
}

fn stage_name(stage: Stage) -> &'static str {
    match stage {
        Stage::Current => "current",
        Stage::Previous => "previous",
        Stage::Pending => "pending",
    }
}
