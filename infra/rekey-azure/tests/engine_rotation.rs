//! Whole engine rotations of a Key Vault secret: the newest version does
//! not change before the new value passed its test, carries it with `exp`
//! after promotion, and the old version is disabled once its grace is over.

mod rig;

use std::sync::Arc;

use async_trait::async_trait;
use rekey_core::audit::MemoryAudit;
use rekey_core::memory::MemoryLedger;
use rekey_core::{
    Credential, CredentialKind, Engine, EngineError, KindError, Policy, SecretStore, SecretValue,
    Trigger,
};
use rekey_fake_azure::FakeKeyVault;
use rig::{FIRST_VALUE, Rig, SECRET, VAULT, rig};
use time::OffsetDateTime;

/// A plain secret whose test step looks at what Key Vault serves while the
/// new value is pending, and fails if told to.
struct Observing {
    fake: Arc<FakeKeyVault>,
    fail: bool,
}

#[async_trait]
impl CredentialKind for Observing {
    async fn test(
        &self,
        _credential: &Credential,
        _policy: &Policy,
        pending: &SecretValue,
    ) -> Result<(), KindError> {
        let versions = self.fake.versions(VAULT, SECRET);
        let newest = versions.last().map(|v| v.value.clone());
        if newest.as_deref() != Some(FIRST_VALUE) || versions.len() != 1 {
            return Err(KindError::TestFailed(
                "the newest version changed before promotion".into(),
            ));
        }
        if newest.as_deref() == Some(pending.expose()) {
            return Err(KindError::TestFailed(
                "the pending value is already served".into(),
            ));
        }
        if self.fail {
            return Err(KindError::TestFailed(
                "the consumer refused the new value".into(),
            ));
        }
        Ok(())
    }
}

fn engine(rig: &Rig, ledger: Arc<MemoryLedger>, fail: bool) -> Engine {
    let kind = Observing {
        fake: rig.fake.clone(),
        fail,
    };
    let policies = rig.policies.clone();
    Engine::new(policies, ledger)
        .with_store(rig.store.clone())
        .with_kind(rekey_core::PLAIN_SECRET, Arc::new(kind))
        .with_audit(Arc::new(MemoryAudit::default()))
}

#[tokio::test]
async fn a_rotation_changes_the_newest_version_only_at_promotion() {
    let rig = rig().await;
    let engine = engine(&rig, Arc::new(MemoryLedger::default()), false);
    let before = OffsetDateTime::now_utc();

    let rotated = engine
        .rotate(&rig.id, &Trigger::Manual)
        .await
        .expect("rotate");

    let versions = rig.fake.versions(VAULT, SECRET);
    assert_eq!(versions.len(), 2);
    let (old, new) = (&versions[0], &versions[1]);
    let served = rig
        .store
        .read(&rig.id, &rotated.version)
        .await
        .expect("read");
    assert_eq!(
        new.value,
        served.expose(),
        "the newest version holds the new value"
    );
    assert_ne!(new.value, FIRST_VALUE);
    assert_eq!(
        new.tags.get("rekey-version"),
        Some(&rotated.version.to_string())
    );
    assert_eq!(
        new.tags.get("rekey:policy").map(String::as_str),
        Some("demo")
    );
    assert_eq!(
        new.tags.get("team").map(String::as_str),
        Some("payments"),
        "user tags carried"
    );
    let expires = new.expires.expect("exp is set");
    let hour = before.unix_timestamp() + 3600;
    assert!(
        (hour - 5..=hour + 60).contains(&expires),
        "exp = now + max_age, got {expires}"
    );
    assert_eq!(
        old.tags.get("rekey-stage").map(String::as_str),
        Some("previous")
    );
    assert!(
        old.enabled,
        "the previous value keeps working through its grace period"
    );
    let companion = rig.fake.versions(VAULT, "db-password-rekey-pending");
    assert_eq!(companion.len(), 1);
    assert!(
        !companion[0].enabled,
        "the promoted pending version is disabled"
    );
}

#[tokio::test]
async fn a_sweep_after_the_grace_period_disables_the_old_version() {
    let rig = rig().await;
    let engine = engine(&rig, Arc::new(MemoryLedger::default()), false);
    engine
        .rotate(&rig.id, &Trigger::Manual)
        .await
        .expect("rotate");

    let trigger = Trigger::Schedule {
        source: "test".into(),
    };
    let summary = engine.sweep(&trigger, 2).await;

    assert_eq!(summary.retired, vec![rig.id.clone()], "{summary:?}");
    let versions = rig.fake.versions(VAULT, SECRET);
    assert!(!versions[0].enabled, "the old version is disabled");
    assert!(!versions[0].tags.contains_key("rekey-stage"));
    assert!(versions[1].enabled);
    let described = rig.store.describe(&rig.id).await.expect("describe");
    assert!(described.version_at(rekey_core::Stage::Previous).is_none());
}

#[tokio::test]
async fn a_failed_test_leaves_the_current_version_newest_and_enabled() {
    let rig = rig().await;
    let engine = engine(&rig, Arc::new(MemoryLedger::default()), true);

    let failed = engine.rotate(&rig.id, &Trigger::Manual).await;

    assert!(
        matches!(failed, Err(EngineError::Kind(KindError::TestFailed(_)))),
        "{failed:?}"
    );
    let versions = rig.fake.versions(VAULT, SECRET);
    assert_eq!(versions.len(), 1, "no version was added to the secret");
    assert!(versions[0].enabled);
    assert_eq!(versions[0].value, FIRST_VALUE);
}

#[tokio::test]
async fn an_outage_mid_rotation_leaves_the_current_version_served() {
    let rig = rig().await;
    let engine = engine(&rig, Arc::new(MemoryLedger::default()), false);
    rig.store
        .describe(&rig.id)
        .await
        .expect("warm up the token");
    rig.fake.fail_next(50, 503, None);

    let failed = engine.rotate(&rig.id, &Trigger::Manual).await;

    assert!(failed.is_err());
    let versions = rig.fake.versions(VAULT, SECRET);
    assert_eq!(versions.len(), 1);
    assert!(versions[0].enabled);
    assert_eq!(versions[0].value, FIRST_VALUE);
}

#[tokio::test]
async fn two_engines_rotating_at_once_make_exactly_one_version() {
    let rig = rig().await;
    let ledger = Arc::new(MemoryLedger::default());
    let (a, b) = (
        engine(&rig, ledger.clone(), false),
        engine(&rig, ledger, false),
    );

    let (first, second) = tokio::join!(
        a.rotate(&rig.id, &Trigger::Manual),
        b.rotate(&rig.id, &Trigger::Manual)
    );

    let outcomes = [&first, &second];
    let succeeded = outcomes.iter().filter(|r| r.is_ok()).count();
    let held_off = outcomes
        .iter()
        .filter(|r| matches!(r, Err(EngineError::RotationInProgress { .. })))
        .count();
    assert_eq!((succeeded, held_off), (1, 1), "{first:?} {second:?}");
    let versions = rig.fake.versions(VAULT, SECRET);
    assert_eq!(versions.len(), 2, "exactly one new version");
    let current: Vec<_> = versions
        .iter()
        .filter(|v| v.tags.get("rekey-stage").map(String::as_str) == Some("current"))
        .collect();
    assert_eq!(current.len(), 1);
}

#[tokio::test]
async fn a_leaked_value_is_replaced_and_its_version_disabled_at_once() {
    // A week of grace that a leak must not wait for.
    let rig = rig::rig_with(&rig::client_secret(), 0, "7d").await;
    let engine = Engine::new(rig.policies.clone(), Arc::new(MemoryLedger::default()))
        .with_store(rig.store.clone())
        .with_audit(Arc::new(MemoryAudit::default()));
    let leaked = rig.fake.versions(VAULT, SECRET)[0].clone();
    let finding = rekey_core::anomaly::Finding {
        source: "log-scanner".into(),
        id: "scan-0001".into(),
        subject: rekey_core::anomaly::Subject::Value(SecretValue::new(FIRST_VALUE.into())),
    };

    let responses = engine.respond(&finding).await.expect("respond");

    assert_eq!(responses.len(), 1, "{responses:?}");
    assert_eq!(responses[0].credential, rig.id);
    assert!(responses[0].rotated.is_some(), "{responses:?}");
    let versions = rig.fake.versions(VAULT, SECRET);
    assert_eq!(versions.len(), 2, "one replacement: {versions:?}");
    let (old, new) = (&versions[0], &versions[1]);
    assert_eq!(old.id, leaked.id);
    assert!(
        !old.enabled,
        "the leaked version is disabled now, not after grace"
    );
    assert!(new.enabled);
    assert_ne!(new.value, FIRST_VALUE);
    assert_eq!(
        new.tags.get("rekey-stage").map(String::as_str),
        Some("current")
    );
}
