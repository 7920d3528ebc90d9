//! Service-account key rotation by the engine, through the official
//! Secret Manager and IAM clients against the fake.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{PROJECT, Rig};
use rekey_core::memory::MemoryLedger;
use rekey_core::{
    CredentialId, CredentialKind as _, Engine, EngineError, KindError, ManualClock, PolicySet,
    Revocation, SecretStore as _, Stage, Trigger, Values,
};
use rekey_fake_gcp::{KeyType, MAX_USER_MANAGED_KEYS, VersionState};
use rekey_gcp::{GCP_SERVICE_ACCOUNT_KEY, KeyFile, ServiceAccountKeys};
use time::OffsetDateTime;

const POLICIES: &str =
    "[sa]\nmax_age = \"1d\"\ngrace_period = \"1h\"\nkind = \"gcp-service-account-key\"\n";

struct Keys {
    rig: Rig,
    email: String,
    /// The key the secret holds at first.
    seed: String,
    id: CredentialId,
    clock: Arc<ManualClock>,
    engine: Engine,
}

fn kind(rig: &Rig) -> ServiceAccountKeys {
    ServiceAccountKeys::new(&rig.clients).with_test_retries(3, Duration::from_millis(10))
}

async fn keys() -> Keys {
    let rig = Rig::start().await;
    let email = rig.fake.create_service_account(PROJECT, "app");
    let (seed, file) = rig.fake.add_key(&email);
    let labels = [("rekey-policy", "sa")];
    let annotations = [("rekey-service-account", email.as_str())];
    let locator = rig
        .fake
        .create_secret(PROJECT, "app-key", &labels, &annotations, Some(&file));
    rig.fake
        .backdate(PROJECT, "app-key", 1, Duration::from_secs(2 * 86_400));

    let clock = Arc::new(ManualClock::new(OffsetDateTime::now_utc()));
    let policies: PolicySet = toml::from_str(POLICIES).expect("policies");
    let engine = Engine::new(policies, Arc::new(MemoryLedger::default()))
        .with_store(Arc::new(rig.store()))
        .with_kind(GCP_SERVICE_ACCOUNT_KEY, Arc::new(kind(&rig)))
        .with_clock(clock.clone());
    let id = CredentialId::new(rekey_core::Provider::GcpSecretManager, locator);
    Keys {
        rig,
        email,
        seed,
        id,
        clock,
        engine,
    }
}

impl Keys {
    /// The key id the secret's current version holds.
    async fn current_key(&self) -> String {
        let store = self.rig.store();
        let described = store.describe(&self.id).await.expect("describe");
        let current = described.version_at(Stage::Current).expect("current");
        let value = store.read(&self.id, &current.id).await.expect("read");
        KeyFile::parse(&value)
            .expect("a key file")
            .private_key_id()
            .to_owned()
    }

    fn key(&self, id: &str) -> Option<rekey_fake_gcp::KeyInfo> {
        self.rig
            .fake
            .keys(&self.email)
            .into_iter()
            .find(|k| k.id == id)
    }

    fn user_keys(&self) -> Vec<String> {
        let keys = self.rig.fake.keys(&self.email).into_iter();
        keys.filter(|k| k.key_type == KeyType::UserManaged)
            .map(|k| k.id)
            .collect()
    }
}

#[tokio::test]
async fn the_old_key_is_disabled_after_the_switch_and_deleted_after_grace() {
    let k = keys().await;
    let (unmanaged, _) = k.rig.fake.add_key(&k.email);

    let first = k.engine.sweep(&Trigger::Manual, 2).await;

    assert_eq!(first.rotated, vec![k.id.clone()], "{first:?}");
    let new = k.current_key().await;
    assert_ne!(new, k.seed);
    assert_eq!(k.key(&new).map(|key| key.disabled), Some(false));
    assert_eq!(
        k.key(&k.seed).map(|key| key.disabled),
        Some(true),
        "demoted"
    );

    k.clock.advance(Duration::from_secs(3601));
    let later = k.engine.sweep(&Trigger::Manual, 2).await;

    assert_eq!(later.retired, vec![k.id.clone()]);
    assert_eq!(k.key(&k.seed), None, "deleted after grace");
    assert_eq!(
        k.rig.fake.version_state(PROJECT, "app-key", 1),
        Some(VersionState::Disabled)
    );
    assert_eq!(
        k.key(&unmanaged).map(|key| key.disabled),
        Some(false),
        "a key rekey does not manage is untouched"
    );
    let system = k
        .rig
        .fake
        .keys(&k.email)
        .into_iter()
        .filter(|key| key.key_type == KeyType::SystemManaged)
        .count();
    assert_eq!(system, 1);
}

#[tokio::test]
async fn at_the_ten_key_limit_the_previous_key_makes_room() {
    let k = keys().await;
    let others: Vec<String> = (0..MAX_USER_MANAGED_KEYS - 2)
        .map(|_| k.rig.fake.add_key(&k.email).0)
        .collect();
    k.engine
        .rotate(&k.id, &Trigger::Manual)
        .await
        .expect("first rotation fills the tenth slot");
    let second = k.current_key().await;
    assert_eq!(k.user_keys().len(), MAX_USER_MANAGED_KEYS);

    k.engine
        .rotate(&k.id, &Trigger::Manual)
        .await
        .expect("second rotation at the limit");

    assert_eq!(k.key(&k.seed), None, "the previous key was deleted early");
    let third = k.current_key().await;
    assert_ne!(third, second);
    assert_eq!(k.key(&second).map(|key| key.disabled), Some(true));
    for other in &others {
        assert_eq!(
            k.key(other).map(|key| key.disabled),
            Some(false),
            "unmanaged key {other} untouched"
        );
    }
}

#[tokio::test]
async fn a_full_account_without_a_previous_key_is_a_limit_reached() {
    let k = keys().await;
    let others: Vec<String> = (0..MAX_USER_MANAGED_KEYS - 1)
        .map(|_| k.rig.fake.add_key(&k.email).0)
        .collect();

    let refused = k.engine.rotate(&k.id, &Trigger::Manual).await;

    assert!(
        matches!(refused, Err(EngineError::Kind(KindError::LimitReached(_)))),
        "{refused:?}"
    );
    assert_eq!(
        k.user_keys().len(),
        MAX_USER_MANAGED_KEYS,
        "nothing deleted"
    );
    assert_eq!(k.current_key().await, k.seed);
    assert!(
        others
            .iter()
            .all(|o| k.key(o).is_some_and(|key| !key.disabled))
    );
}

#[tokio::test]
async fn revocation_disables_the_key_at_once() {
    let k = keys().await;
    let store = k.rig.store();
    let credential = store.describe(&k.id).await.expect("describe");
    let policy = k.engine.policies().get("sa").cloned().expect("policy");
    let value = store
        .read(
            &k.id,
            &credential.version_at(Stage::Current).expect("current").id,
        )
        .await
        .expect("read");

    let revoked = kind(&k.rig)
        .revoke(&credential, &policy, &value)
        .await
        .expect("revoke");

    assert_eq!(revoked, Revocation::Unusable);
    assert_eq!(k.key(&k.seed).map(|key| key.disabled), Some(true));
    assert_eq!(
        kind(&k.rig).identifier(&value).as_deref(),
        Some(k.seed.as_str())
    );
}

#[tokio::test]
async fn a_retry_after_a_dead_run_deletes_only_its_orphan_key() {
    let k = keys().await;
    let (unmanaged, _) = k.rig.fake.add_key(&k.email);
    let store = k.rig.store();
    let credential = store.describe(&k.id).await.expect("describe");
    let policy = k.engine.policies().get("sa").cloned().expect("policy");
    let current = store
        .read(
            &k.id,
            &credential.version_at(Stage::Current).expect("current").id,
        )
        .await
        .expect("read");
    // A run that created a key and died before the secret held it.
    let values = Values {
        current: Some(current),
        previous: None,
    };
    let orphan = kind(&k.rig)
        .create(&credential, &policy, &values)
        .await
        .expect("create");
    let orphan = KeyFile::parse(&orphan)
        .expect("key file")
        .private_key_id()
        .to_owned();

    k.engine
        .rotate(&k.id, &Trigger::Manual)
        .await
        .expect("the retry");

    assert_eq!(k.key(&orphan), None, "the orphan is deleted");
    let new = k.current_key().await;
    let mut expected = vec![k.seed.clone(), unmanaged, new];
    expected.sort();
    let mut held = k.user_keys();
    held.sort();
    assert_eq!(held, expected);
}

#[tokio::test]
async fn a_key_that_fails_its_test_is_not_promoted() {
    let k = keys().await;
    k.rig.fake.fail_next("GetServiceAccountKey", 3, 429);

    let failed = k.engine.rotate(&k.id, &Trigger::Manual).await;

    assert!(
        matches!(failed, Err(EngineError::Kind(KindError::TestFailed(_)))),
        "{failed:?}"
    );
    assert_eq!(
        k.current_key().await,
        k.seed,
        "the current key still serves"
    );
    assert_eq!(k.key(&k.seed).map(|key| key.disabled), Some(false));
    assert_eq!(
        k.rig.fake.aliases(PROJECT, "app-key").get("current"),
        Some(&1)
    );
}

#[tokio::test]
async fn a_finding_naming_the_key_id_revokes_it_and_rotates_in_one_response() {
    let k = keys().await;
    let finding = rekey_core::anomaly::Finding {
        source: "github".into(),
        id: "alert-1".into(),
        subject: rekey_core::anomaly::Subject::Identifier(k.seed.clone()),
    };

    let responses = k.engine.respond(&finding).await.expect("respond");

    assert_eq!(responses.len(), 1, "{responses:?}");
    let response = &responses[0];
    assert_eq!(response.credential, k.id);
    assert!(
        response.revoked && response.rotated.is_some(),
        "{response:?}"
    );
    assert!(
        k.key(&k.seed).is_none_or(|key| key.disabled),
        "the leaked key no longer works"
    );
    let new = k.current_key().await;
    assert_eq!(k.key(&new).map(|key| key.disabled), Some(false));
    assert_eq!(
        k.rig.fake.aliases(PROJECT, "app-key").get("current"),
        Some(&2)
    );
}
