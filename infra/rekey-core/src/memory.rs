//! In-memory store and ledger: the reference behaviour of the ports.
//!
//! They hold everything in a mutex and behave as the real backends are
//! documented to: a version's value is written once, each stage is on at
//! most one version, claims and event ids are conditional writes. The
//! engine's tests run on them; adapters' tests compare against them through
//! [`crate::conformance`].

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::{
    Claim, Clock, Credential, CredentialId, Ledger, LedgerError, Provider, RotationToken,
    SecretStore, SecretValue, Stage, StoreError, Version, VersionId,
};

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

struct Entry {
    credential: Credential,
    values: HashMap<VersionId, SecretValue>,
}

/// A secret store in memory.
pub struct MemoryStore {
    provider: Provider,
    clock: Arc<dyn Clock>,
    entries: Mutex<BTreeMap<String, Entry>>,
}

impl MemoryStore {
    /// An empty store for `provider`, stamping versions with `clock`.
    pub fn new(provider: Provider, clock: Arc<dyn Clock>) -> Self {
        Self {
            provider,
            clock,
            entries: Mutex::new(BTreeMap::new()),
        }
    }

    /// Adds a credential with rotation enabled and, if `value` is given, a
    /// current version holding it.
    pub fn insert(
        &self,
        name: &str,
        tags: &[(&str, &str)],
        value: Option<SecretValue>,
    ) -> CredentialId {
        let id = CredentialId::new(self.provider, name);
        let mut credential = Credential {
            id: id.clone(),
            name: name.to_owned(),
            tags: tags
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            rotation_enabled: true,
            versions: Vec::new(),
        };
        let mut values = HashMap::new();
        if let Some(value) = value {
            let version = VersionId::generate();
            credential
                .versions
                .push(self.version(&version, vec![Stage::Current]));
            values.insert(version, value);
        }
        lock(&self.entries).insert(name.to_owned(), Entry { credential, values });
        id
    }

    /// Turns rotation on or off, as Secrets Manager's `RotationEnabled`.
    pub fn set_rotation_enabled(&self, id: &CredentialId, enabled: bool) {
        if let Some(entry) = lock(&self.entries).get_mut(&id.locator) {
            entry.credential.rotation_enabled = enabled;
        }
    }

    /// Adds an empty pending version, as Secrets Manager's `RotateSecret`
    /// does before it calls the rotation function with that version's id.
    pub fn start_native_rotation(&self, id: &CredentialId, version: &VersionId) {
        let stamped = self.version(version, vec![Stage::Pending]);
        if let Some(entry) = lock(&self.entries).get_mut(&id.locator) {
            take_stage(&mut entry.credential, Stage::Pending);
            entry.credential.versions.push(stamped);
        }
    }

    fn version(&self, id: &VersionId, stages: Vec<Stage>) -> Version {
        Version {
            id: id.clone(),
            stages,
            created_at: self.clock.now(),
            native_id: None,
        }
    }

    fn with_entry<T>(
        &self,
        id: &CredentialId,
        f: impl FnOnce(&mut Entry) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut entries = lock(&self.entries);
        let entry = entries
            .get_mut(&id.locator)
            .ok_or_else(|| StoreError::CredentialNotFound(id.clone()))?;
        f(entry)
    }
}

fn take_stage(credential: &mut Credential, stage: Stage) {
    for version in &mut credential.versions {
        version.stages.retain(|s| *s != stage);
    }
}

fn version_mut<'a>(
    credential: &'a mut Credential,
    version: &VersionId,
) -> Result<&'a mut Version, StoreError> {
    let id = credential.id.clone();
    credential
        .versions
        .iter_mut()
        .find(|v| &v.id == version)
        .ok_or(StoreError::VersionNotFound {
            id,
            version: version.clone(),
        })
}

#[async_trait]
impl SecretStore for MemoryStore {
    fn provider(&self) -> Provider {
        self.provider
    }

    async fn list(&self) -> Result<Vec<CredentialId>, StoreError> {
        let entries = lock(&self.entries);
        let managed = entries
            .values()
            .filter(|e| e.credential.tags.contains_key(crate::POLICY_TAG));
        Ok(managed.map(|e| e.credential.id.clone()).collect())
    }

    async fn describe(&self, id: &CredentialId) -> Result<Credential, StoreError> {
        self.with_entry(id, |entry| Ok(entry.credential.clone()))
    }

    async fn read(
        &self,
        id: &CredentialId,
        version: &VersionId,
    ) -> Result<SecretValue, StoreError> {
        self.with_entry(id, |entry| {
            let not_found = || StoreError::VersionNotFound {
                id: id.clone(),
                version: version.clone(),
            };
            entry.values.get(version).cloned().ok_or_else(not_found)
        })
    }

    async fn put_pending(
        &self,
        id: &CredentialId,
        version: &VersionId,
        value: &SecretValue,
        _token: Option<&RotationToken>,
    ) -> Result<(), StoreError> {
        let stamped = self.version(version, vec![Stage::Pending]);
        self.with_entry(id, |entry| {
            if entry.values.contains_key(version) {
                return Err(StoreError::VersionExists {
                    id: id.clone(),
                    version: version.clone(),
                });
            }
            take_stage(&mut entry.credential, Stage::Pending);
            match entry
                .credential
                .versions
                .iter_mut()
                .find(|v| &v.id == version)
            {
                Some(existing) => existing.stages.push(Stage::Pending),
                None => entry.credential.versions.push(stamped),
            }
            entry.values.insert(version.clone(), value.clone());
            Ok(())
        })
    }

    async fn promote(
        &self,
        id: &CredentialId,
        version: &VersionId,
        replacing: Option<&VersionId>,
    ) -> Result<(), StoreError> {
        self.with_entry(id, |entry| {
            let credential = &mut entry.credential;
            version_mut(credential, version)?;
            let current = credential.version_at(Stage::Current).map(|v| v.id.clone());
            if current.as_ref() != replacing {
                return Err(StoreError::Backend(format!(
                    "version {} is not current",
                    replacing.map_or("(none)", |v| v.as_str())
                )));
            }
            take_stage(credential, Stage::Previous);
            if let Some(old) = replacing {
                let old = version_mut(credential, old)?;
                old.stages.retain(|s| *s != Stage::Current);
                old.stages.push(Stage::Previous);
            }
            let new = version_mut(credential, version)?;
            new.stages.retain(|s| *s != Stage::Pending);
            new.stages.push(Stage::Current);
            Ok(())
        })
    }

    async fn retire(&self, id: &CredentialId, version: &VersionId) -> Result<(), StoreError> {
        self.with_entry(id, |entry| {
            version_mut(&mut entry.credential, version)?
                .stages
                .retain(|s| *s != Stage::Previous);
            Ok(())
        })
    }
}

struct Lease {
    rotation: VersionId,
    until: OffsetDateTime,
}

#[derive(Default)]
struct LedgerState {
    claims: HashMap<CredentialId, Lease>,
    events: HashMap<String, OffsetDateTime>,
    uses: HashMap<(CredentialId, VersionId), u64>,
}

/// A ledger in memory.
#[derive(Default)]
pub struct MemoryLedger(Mutex<LedgerState>);

#[async_trait]
impl Ledger for MemoryLedger {
    async fn claim(
        &self,
        id: &CredentialId,
        rotation: &VersionId,
        now: OffsetDateTime,
        lease: Duration,
    ) -> Result<Claim, LedgerError> {
        let mut state = lock(&self.0);
        let until = now + lease;
        let carried = match state.claims.get(id) {
            Some(held) if held.rotation != *rotation && held.until > now => {
                return Ok(Claim::Held {
                    rotation: held.rotation.clone(),
                    until: held.until,
                });
            }
            Some(expired) => expired.rotation.clone(),
            None => rotation.clone(),
        };
        state.claims.insert(
            id.clone(),
            Lease {
                rotation: carried.clone(),
                until,
            },
        );
        Ok(Claim::Acquired { rotation: carried })
    }

    async fn release(&self, id: &CredentialId, rotation: &VersionId) -> Result<(), LedgerError> {
        let mut state = lock(&self.0);
        if state
            .claims
            .get(id)
            .is_some_and(|held| &held.rotation == rotation)
        {
            state.claims.remove(id);
        }
        Ok(())
    }

    async fn first_sighting(
        &self,
        event_id: &str,
        now: OffsetDateTime,
        keep: Duration,
    ) -> Result<bool, LedgerError> {
        let mut state = lock(&self.0);
        match state.events.get(event_id) {
            Some(expires) if *expires > now => Ok(false),
            _ => {
                state.events.insert(event_id.to_owned(), now + keep);
                Ok(true)
            }
        }
    }

    async fn forget_sighting(&self, event_id: &str) -> Result<(), LedgerError> {
        lock(&self.0).events.remove(event_id);
        Ok(())
    }

    async fn count_uses(
        &self,
        id: &CredentialId,
        version: &VersionId,
        uses: u64,
    ) -> Result<u64, LedgerError> {
        let mut state = lock(&self.0);
        let count = state.uses.entry((id.clone(), version.clone())).or_insert(0);
        *count = count.saturating_add(uses);
        Ok(*count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SystemClock;
    use crate::conformance::{check_ledger, check_store};

    #[tokio::test]
    async fn the_memory_store_meets_the_store_contract() {
        let store = MemoryStore::new(Provider::Local, Arc::new(SystemClock));
        let id = store.insert(
            "db",
            &[("rekey:policy", "p")],
            Some(SecretValue::new("v".into())),
        );

        check_store(&store, &id).await;
    }

    #[tokio::test]
    async fn the_memory_ledger_meets_the_ledger_contract() {
        check_ledger(&MemoryLedger::default()).await;
    }
}
