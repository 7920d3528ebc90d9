//! The inventory: every managed credential, its age and when it is next due.

use serde::Serialize;
use time::OffsetDateTime;

use crate::decision::{self, rotation_due};
use crate::{CredentialId, Engine, EngineError, Stage, VersionId};

/// One managed credential, as `rekey inventory` shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct InventoryEntry {
    /// The credential.
    pub credential: CredentialId,
    /// Its name in the store.
    pub name: String,
    /// The policy its `rekey:policy` tag names.
    pub policy: Option<String>,
    /// The current version.
    pub current_version: Option<VersionId>,
    /// The previous version, while it is still served.
    pub previous_version: Option<VersionId>,
    /// A pending version: a rotation in progress or one that failed.
    pub pending_version: Option<VersionId>,
    /// Age of the current value in whole seconds.
    pub age_seconds: Option<u64>,
    /// When the next rotation is due under the effective policy.
    #[serde(with = "time::serde::rfc3339::option")]
    pub next_rotation: Option<OffsetDateTime>,
    /// A problem with the credential's policy, if any.
    pub problem: Option<String>,
}

impl Engine {
    /// Every managed credential in every store, sorted by credential.
    pub async fn inventory(&self) -> Result<Vec<InventoryEntry>, EngineError> {
        let now = self.now();
        let mut entries = Vec::new();
        for store in self.stores() {
            for id in store.list().await? {
                let credential = store.describe(&id).await?;
                let policy = self.policy_of(&credential);
                let version = |stage| credential.version_at(stage).map(|v| v.id.clone());
                entries.push(InventoryEntry {
                    policy: credential.tags.get(crate::POLICY_TAG).cloned(),
                    current_version: version(Stage::Current),
                    previous_version: version(Stage::Previous),
                    pending_version: version(Stage::Pending),
                    age_seconds: decision::current_age(&credential, now).map(|d| d.as_secs()),
                    next_rotation: policy
                        .as_ref()
                        .ok()
                        .map(|p| rotation_due(&credential, p).unwrap_or(now)),
                    problem: policy.err().map(|e| e.to_string()),
                    name: credential.name.clone(),
                    credential: id,
                });
            }
        }
        entries.sort_by(|a, b| a.credential.cmp(&b.credential));
        Ok(entries)
    }
}
