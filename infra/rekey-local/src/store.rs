//! The secret store of local mode: [`LocalStore`], a [`SecretStore`] on the
//! local database, named by credential name ([`Provider::Local`]).
//!
//! It behaves as [`rekey_core::memory::MemoryStore`] does, with two limits:
//! each credential keeps only its newest ten versions without a stage
//! (older ones and their values are deleted), and a version's stages are
//! listed in a fixed order rather than the order they were given.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use rekey_core::{
    Clock, Credential, CredentialId, Provider, RotationToken, SecretStore, SecretValue, Stage,
    StoreError, VersionId,
};
use time::OffsetDateTime;
use tracing::debug;

use crate::LocalError;
use crate::db::{LocalDb, immediate, to_nanos};
use crate::error::During;
use crate::tables::{self, require_credential, require_version};

/// Credentials and their versions in the local database.
pub struct LocalStore {
    db: LocalDb,
    clock: Arc<dyn Clock>,
}

impl LocalStore {
    /// A store on `db`, stamping new versions with `clock`.
    pub fn new(db: LocalDb, clock: Arc<dyn Clock>) -> Self {
        Self { db, clock }
    }

    /// Creates credential `name` if missing, with rotation enabled, `tags`,
    /// and a current version holding `initial` stamped `now`. For an
    /// existing credential only the tags are replaced; its value never is.
    pub async fn ensure_credential(
        &self,
        name: &str,
        tags: BTreeMap<String, String>,
        initial: Option<&SecretValue>,
        now: OffsetDateTime,
    ) -> Result<CredentialId, LocalError> {
        let op = "ensure_credential";
        let id = CredentialId::new(Provider::Local, name);
        let tags = tables::tags_json(&tags, op)?;
        let (name, initial) = (name.to_owned(), initial.cloned());

        let created = self
            .db
            .call(op, move |conn| {
                let tx = immediate(conn, op)?;
                let created = !tables::credential_exists(&tx, &name, op)?;
                tables::upsert_credential(&tx, &name, &tags, op)?;
                if let (true, Some(value)) = (created, initial) {
                    let version = VersionId::generate();
                    tables::insert_version(&tx, &name, &version, &value, to_nanos(now), op)?;
                    tables::set_stage(&tx, &name, Stage::Current, &version, op)?;
                }
                tx.commit().during(op)?;
                Ok::<_, LocalError>(created)
            })
            .await?;

        debug!(credential = %id, created, "credential ensured");
        Ok(id)
    }
}

#[async_trait]
impl SecretStore for LocalStore {
    fn provider(&self) -> Provider {
        Provider::Local
    }

    async fn list(&self) -> Result<Vec<CredentialId>, StoreError> {
        let op = "list";
        let all = self
            .db
            .call(op, move |conn| tables::all_tags(conn, op))
            .await?;

        let managed = all
            .into_iter()
            .filter(|(_, tags)| tags.contains_key(rekey_core::POLICY_TAG));
        Ok(managed
            .map(|(name, _)| CredentialId::new(Provider::Local, name))
            .collect())
    }

    async fn describe(&self, id: &CredentialId) -> Result<Credential, StoreError> {
        let op = "describe";
        let id = id.clone();
        self.db
            .call(op, move |conn| {
                let tx = conn.transaction().during(op)?;
                let Some(row) = tables::credential_row(&tx, &id.locator, op)? else {
                    return Err(StoreError::CredentialNotFound(id));
                };
                Ok(Credential {
                    id: CredentialId::new(Provider::Local, &id.locator),
                    name: id.locator.clone(),
                    tags: row.tags,
                    rotation_enabled: row.rotation_enabled,
                    versions: tables::versions(&tx, &id.locator, op)?,
                })
            })
            .await
    }

    async fn read(
        &self,
        id: &CredentialId,
        version: &VersionId,
    ) -> Result<SecretValue, StoreError> {
        let op = "read";
        let (id, version) = (id.clone(), version.clone());
        self.db
            .call(op, move |conn| {
                match tables::value(conn, &id.locator, &version, op)? {
                    None => Err(StoreError::CredentialNotFound(id)),
                    Some(None) => Err(StoreError::VersionNotFound { id, version }),
                    Some(Some(value)) => Ok(value),
                }
            })
            .await
    }

    async fn put_pending(
        &self,
        id: &CredentialId,
        version: &VersionId,
        value: &SecretValue,
        _token: Option<&RotationToken>,
    ) -> Result<(), StoreError> {
        let op = "put_pending";
        let created_at = to_nanos(self.clock.now());
        let (id, version, value) = (id.clone(), version.clone(), value.clone());
        let logged = (id.clone(), version.clone());

        self.db
            .call(op, move |conn| {
                let tx = immediate(conn, op)?;
                let name = id.locator.as_str();
                require_credential(&tx, &id, op)?;
                if tables::version_exists(&tx, name, &version, op)? {
                    return Err(StoreError::VersionExists { id, version });
                }

                tables::insert_version(&tx, name, &version, &value, created_at, op)?;
                tables::set_stage(&tx, name, Stage::Pending, &version, op)?;
                tables::prune(&tx, name, op)?;
                tx.commit().during(op).map_err(StoreError::from)
            })
            .await?;

        debug!(credential = %logged.0, version = %logged.1, "pending version stored");
        Ok(())
    }

    async fn promote(
        &self,
        id: &CredentialId,
        version: &VersionId,
        replacing: Option<&VersionId>,
    ) -> Result<(), StoreError> {
        let op = "promote";
        let (id, version) = (id.clone(), version.clone());
        let replacing = replacing.cloned();
        let logged = (id.clone(), version.clone());

        self.db
            .call(op, move |conn| {
                let tx = immediate(conn, op)?;
                promote_in(&tx, &id, &version, replacing.as_ref())?;
                tables::prune(&tx, &id.locator, op)?;
                tx.commit().during(op).map_err(StoreError::from)
            })
            .await?;

        debug!(credential = %logged.0, version = %logged.1, "version promoted");
        Ok(())
    }

    async fn retire(&self, id: &CredentialId, version: &VersionId) -> Result<(), StoreError> {
        let op = "retire";
        let (id, version) = (id.clone(), version.clone());
        let logged = (id.clone(), version.clone());

        self.db
            .call(op, move |conn| {
                let tx = immediate(conn, op)?;
                require_credential(&tx, &id, op)?;
                require_version(&tx, &id, &version, op)?;

                let name = id.locator.as_str();
                tables::clear_stage(&tx, name, Stage::Previous, Some(&version), op)?;
                tables::prune(&tx, name, op)?;
                tx.commit().during(op).map_err(StoreError::from)
            })
            .await?;

        debug!(credential = %logged.0, version = %logged.1, "version retired");
        Ok(())
    }
}

/// Moves current to `version` and previous to `replacing`, inside the
/// caller's transaction; refuses when `replacing` is not what is current.
fn promote_in(
    conn: &rusqlite::Connection,
    id: &CredentialId,
    version: &VersionId,
    replacing: Option<&VersionId>,
) -> Result<(), StoreError> {
    let (op, name) = ("promote", id.locator.as_str());
    require_credential(conn, id, op)?;
    require_version(conn, id, version, op)?;
    let current = tables::stage_holder(conn, name, Stage::Current, op)?;
    if current.as_ref() != replacing {
        let named = replacing.map_or("(none)", VersionId::as_str);
        return Err(StoreError::Backend(format!(
            "version {named} is not current"
        )));
    }

    tables::clear_stage(conn, name, Stage::Previous, None, op)?;
    if let Some(old) = replacing {
        tables::set_stage(conn, name, Stage::Previous, old, op)?;
    }
    tables::clear_stage(conn, name, Stage::Pending, Some(version), op)?;
    tables::set_stage(conn, name, Stage::Current, version, op)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::time::Duration;

    use rekey_core::memory::MemoryStore;
    use rekey_core::{ManualClock, POLICY_TAG, SystemClock};
    use time::macros::datetime;

    use super::*;

    const START: OffsetDateTime = datetime!(2025-01-01 00:00 UTC);

    type Outcome = Result<String, StoreError>;

    fn open(dir: &Path, clock: Arc<dyn Clock>) -> LocalStore {
        LocalStore::new(LocalDb::open(dir).expect("open"), clock)
    }

    fn managed() -> BTreeMap<String, String> {
        BTreeMap::from([(POLICY_TAG.to_owned(), "demo".to_owned())])
    }

    fn secret(value: &str) -> SecretValue {
        SecretValue::new(value.to_owned())
    }

    fn v(id: &str) -> VersionId {
        VersionId(id.to_owned())
    }

    async fn seeded(store: &LocalStore, name: &str, value: &str) -> CredentialId {
        let value = secret(value);
        store
            .ensure_credential(name, managed(), Some(&value), START)
            .await
            .expect("ensure credential")
    }

    async fn current(store: &dyn SecretStore, id: &CredentialId) -> VersionId {
        let credential = store.describe(id).await.expect("describe");
        let current = credential.version_at(Stage::Current).expect("current");
        current.id.clone()
    }

    /// The same calls, good and bad, for any store; every outcome recorded.
    async fn scenario(
        store: &dyn SecretStore,
        id: &CredentialId,
        clock: &ManualClock,
    ) -> Vec<Outcome> {
        let done = |r: Result<(), StoreError>| r.map(|()| String::new());
        let initial = current(store, id).await;
        let missing = CredentialId::new(Provider::Local, "missing");
        let mut out = Vec::new();

        clock.advance(Duration::from_secs(60));
        out.push(done(
            store.put_pending(id, &v("v1"), &secret("one"), None).await,
        ));
        out.push(done(
            store.put_pending(id, &v("v1"), &secret("uno"), None).await,
        ));
        out.push(done(store.promote(id, &v("v1"), Some(&v("v9"))).await));
        out.push(done(store.promote(id, &v("v9"), Some(&initial)).await));
        out.push(done(store.promote(id, &v("v1"), Some(&initial)).await));
        out.push(done(store.retire(id, &v("v9")).await));

        clock.advance(Duration::from_secs(60));
        out.push(done(
            store.put_pending(id, &v("v2"), &secret("two"), None).await,
        ));
        out.push(done(
            store
                .put_pending(id, &v("v3"), &secret("three"), None)
                .await,
        ));
        out.push(done(store.promote(id, &v("v3"), Some(&v("v1"))).await));
        out.push(done(store.retire(id, &v("v1")).await));
        out.push(done(store.promote(id, &v("v2"), None).await));
        out.push(done(
            store
                .put_pending(&missing, &v("v4"), &secret("x"), None)
                .await,
        ));
        out.push(done(store.retire(&missing, &v("v1")).await));

        for version in [&initial, &v("v1"), &v("v2"), &v("v3"), &v("v9")] {
            out.push(store.read(id, version).await.map(|s| s.expose().to_owned()));
        }
        out.push(
            store
                .read(&missing, &v("v1"))
                .await
                .map(|s| s.expose().to_owned()),
        );
        out
    }

    /// The credential with its generated first version id replaced by a fixed one.
    async fn normalized(
        store: &dyn SecretStore,
        id: &CredentialId,
        initial: &VersionId,
    ) -> Credential {
        let mut credential = store.describe(id).await.expect("describe");
        for version in &mut credential.versions {
            if &version.id == initial {
                version.id = v("initial");
            }
        }
        credential
    }

    #[tokio::test]
    async fn store_passes_the_conformance_check() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = open(dir.path(), Arc::new(SystemClock));
        let id = seeded(&store, "conformance", "first").await;

        rekey_core::conformance::check_store(&store, &id).await;
    }

    #[tokio::test]
    async fn calls_match_the_memory_store_step_for_step() {
        let memory_clock = Arc::new(ManualClock::new(START));
        let memory = MemoryStore::new(Provider::Local, memory_clock.clone());
        let memory_id = memory.insert("db", &[(POLICY_TAG, "demo")], Some(secret("zero")));
        let dir = tempfile::tempdir().expect("tempdir");
        let local_clock = Arc::new(ManualClock::new(START));
        let local = open(dir.path(), local_clock.clone());
        let local_id = seeded(&local, "db", "zero").await;
        let initials = (
            current(&memory, &memory_id).await,
            current(&local, &local_id).await,
        );

        let expected = scenario(&memory, &memory_id, &memory_clock).await;
        let actual = scenario(&local, &local_id, &local_clock).await;

        assert_eq!(actual, expected);
        assert_eq!(
            normalized(&local, &local_id, &initials.1).await,
            normalized(&memory, &memory_id, &initials.0).await
        );
        assert_eq!(local.list().await, memory.list().await);
    }

    #[tokio::test]
    async fn value_read_back_equals_value_written() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = open(dir.path(), Arc::new(SystemClock));
        let id = seeded(&store, "db", "first").await;
        let written = secret(&format!(
            "{{\"password\": \"p'a\\\"ss\\n\"}} \u{e9}\u{1f511}{}",
            "x".repeat(64 * 1024)
        ));
        let version = VersionId::generate();

        store
            .put_pending(&id, &version, &written, None)
            .await
            .expect("put");

        assert_eq!(store.read(&id, &version).await.expect("read"), written);
    }

    #[tokio::test]
    async fn reopened_database_sees_the_same_data() {
        let dir = tempfile::tempdir().expect("tempdir");
        let clock = Arc::new(ManualClock::new(START));
        let store = open(dir.path(), clock.clone());
        let id = seeded(&store, "db", "first").await;
        let next = VersionId::generate();
        store
            .put_pending(&id, &next, &secret("second"), None)
            .await
            .expect("put");
        let before = store.describe(&id).await.expect("describe");
        drop(store);

        let reopened = open(dir.path(), clock);

        assert_eq!(reopened.describe(&id).await.expect("describe"), before);
        assert_eq!(
            reopened.read(&id, &next).await.expect("read"),
            secret("second")
        );
        assert_eq!(reopened.list().await.expect("list"), vec![id]);
    }

    #[tokio::test]
    async fn ensure_credential_updates_tags_but_never_the_value() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = open(dir.path(), Arc::new(SystemClock));
        let id = seeded(&store, "db", "original").await;
        let tags = BTreeMap::from([("team".to_owned(), "payments".to_owned())]);

        let again = store
            .ensure_credential("db", tags.clone(), Some(&secret("replacement")), START)
            .await
            .expect("ensure again");

        assert_eq!(again, id);
        let credential = store.describe(&id).await.expect("describe");
        assert_eq!(credential.tags, tags);
        assert_eq!(credential.versions.len(), 1);
        assert_eq!(credential.versions[0].created_at, START);
        let value = store
            .read(&id, &credential.versions[0].id)
            .await
            .expect("read");
        assert_eq!(value, secret("original"));
    }

    #[tokio::test]
    async fn credential_without_initial_value_has_no_versions() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = open(dir.path(), Arc::new(SystemClock));

        let id = store
            .ensure_credential("empty", managed(), None, START)
            .await
            .expect("ensure");

        let credential = store.describe(&id).await.expect("describe");
        assert!(credential.versions.is_empty());
        assert!(credential.rotation_enabled);
    }

    #[tokio::test]
    async fn list_returns_only_credentials_with_a_policy_tag() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = open(dir.path(), Arc::new(SystemClock));
        let b = seeded(&store, "b-managed", "x").await;
        let a = seeded(&store, "a-managed", "x").await;
        store
            .ensure_credential("unmanaged", BTreeMap::new(), Some(&secret("x")), START)
            .await
            .expect("ensure");

        assert_eq!(store.list().await.expect("list"), vec![a, b]);
    }

    #[tokio::test]
    async fn only_the_newest_ten_deprecated_versions_are_kept() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = open(dir.path(), Arc::new(SystemClock));
        let id = seeded(&store, "db", "v0").await;
        let mut versions = vec![current(&store, &id).await];

        for n in 1..=13 {
            let next = v(&format!("v{n}"));
            let old = versions.last().expect("a version").clone();
            store
                .put_pending(&id, &next, &secret("x"), None)
                .await
                .expect("put");
            store
                .promote(&id, &next, Some(&old))
                .await
                .expect("promote");
            store.retire(&id, &old).await.expect("retire");
            versions.push(next);
        }

        let described = store.describe(&id).await.expect("describe");
        assert_eq!(described.versions.len(), 11, "current plus ten deprecated");
        let gone = store.read(&id, &versions[2]).await;
        assert!(
            matches!(gone, Err(StoreError::VersionNotFound { .. })),
            "{gone:?}"
        );
        assert!(store.read(&id, &versions[3]).await.is_ok());
    }
}
