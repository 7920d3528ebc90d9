//! Whole rotations by the engine, through the store, the official client
//! and the fake.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{PROJECT, Rig};
use rekey_core::memory::MemoryLedger;
use rekey_core::{CredentialId, Engine, ManualClock, PolicySet, SecretStore as _, Stage, Trigger};
use rekey_fake_gcp::VersionState;
use time::OffsetDateTime;

const POLICIES: &str = "[db]\nmax_age = \"1d\"\ngrace_period = \"1h\"\n";

fn engine(rig: &Rig, ledger: Arc<MemoryLedger>, clock: Arc<ManualClock>) -> Engine {
    let policies: PolicySet = toml::from_str(POLICIES).expect("policies");
    Engine::new(policies, ledger)
        .with_store(Arc::new(rig.store()))
        .with_clock(clock)
        .with_audit(Arc::new(rekey_core::audit::MemoryAudit::default()))
}

/// A managed secret whose only version is two days old: due.
fn due(rig: &Rig, name: &str) -> CredentialId {
    let id = rig.managed(name, "db", "old-value");
    rig.fake
        .backdate(PROJECT, name, 1, Duration::from_secs(2 * 86_400));
    id
}

#[tokio::test]
async fn a_rotation_promotes_the_new_version_and_retires_the_old_after_grace() {
    let rig = Rig::start().await;
    let id = due(&rig, "db");
    let clock = Arc::new(ManualClock::new(OffsetDateTime::now_utc()));
    let engine = engine(&rig, Arc::default(), clock.clone());

    let first = engine.sweep(&Trigger::Manual, 2).await;
    assert_eq!(first.rotated, vec![id.clone()]);
    let aliases = rig.fake.aliases(PROJECT, "db");
    assert_eq!(
        (aliases.get("current"), aliases.get("previous")),
        (Some(&2), Some(&1))
    );
    assert_eq!(
        rig.fake.version_state(PROJECT, "db", 1),
        Some(VersionState::Enabled),
        "old value works through grace"
    );
    assert_ne!(
        rig.fake.version_value(PROJECT, "db", 2).as_deref(),
        Some("old-value")
    );

    assert!(
        engine.sweep(&Trigger::Manual, 2).await.retired.is_empty(),
        "within grace"
    );
    clock.advance(Duration::from_secs(3601));
    let later = engine.sweep(&Trigger::Manual, 2).await;

    assert_eq!(later.retired, vec![id.clone()]);
    assert_eq!(
        rig.fake.version_state(PROJECT, "db", 1),
        Some(VersionState::Disabled)
    );
    let aliases = rig.fake.aliases(PROJECT, "db");
    assert_eq!(aliases.get("current"), Some(&2));
    assert!(!aliases.contains_key("previous"));
    let annotations = rig.fake.annotations(PROJECT, "db");
    assert_eq!(
        annotations
            .keys()
            .filter(|k| k.starts_with("rekey-version-"))
            .count(),
        1,
        "{annotations:?}"
    );
}

#[tokio::test]
async fn destroy_retired_destroys_the_old_version() {
    let rig = Rig::with(|s| s.destroy_retired = true).await;
    let id = due(&rig, "db");
    let clock = Arc::new(ManualClock::new(OffsetDateTime::now_utc()));
    let engine = engine(&rig, Arc::default(), clock.clone());

    engine.sweep(&Trigger::Manual, 2).await;
    clock.advance(Duration::from_secs(3601));
    let later = engine.sweep(&Trigger::Manual, 2).await;

    assert_eq!(later.retired, vec![id]);
    assert_eq!(
        rig.fake.version_state(PROJECT, "db", 1),
        Some(VersionState::Destroyed)
    );
    assert_eq!(rig.fake.version_value(PROJECT, "db", 1), None);
}

#[tokio::test]
async fn a_failed_rotation_leaves_the_current_version_serving() {
    let rig = Rig::start().await;
    let id = due(&rig, "db");
    let clock = Arc::new(ManualClock::new(OffsetDateTime::now_utc()));
    let engine = engine(&rig, Arc::default(), clock.clone());
    let store = rig.store();
    // A first rotation pins `current`; the second fails at staging.
    engine
        .rotate(&id, &Trigger::Manual)
        .await
        .expect("first rotation");
    rig.fake.fail_next("UpdateSecret", 1, 503);

    let failed = engine.rotate(&id, &Trigger::Manual).await;

    assert!(failed.is_err(), "{failed:?}");
    let aliases = rig.fake.aliases(PROJECT, "db");
    assert_eq!(aliases.get("current"), Some(&2), "current unchanged");
    assert!(!aliases.contains_key("pending"));
    assert_eq!(
        rig.fake.version_state(PROJECT, "db", 2),
        Some(VersionState::Enabled)
    );
    assert_eq!(
        rig.fake.version_state(PROJECT, "db", 3),
        Some(VersionState::Disabled),
        "the unstaged value is disabled"
    );
    let described = store.describe(&id).await.expect("describe");
    let current = described.version_at(Stage::Current).expect("current");
    assert!(store.read(&id, &current.id).await.is_ok());
}

#[tokio::test]
async fn two_engines_rotating_at_once_add_exactly_one_version() {
    let rig = Rig::start().await;
    let id = due(&rig, "db");
    let ledger = Arc::new(MemoryLedger::default());
    let clock = Arc::new(ManualClock::new(OffsetDateTime::now_utc()));
    let (a, b) = (
        engine(&rig, ledger.clone(), clock.clone()),
        engine(&rig, ledger, clock),
    );

    let (first, second) = tokio::join!(a.sweep(&Trigger::Manual, 2), b.sweep(&Trigger::Manual, 2));

    let rotated: Vec<_> = first.rotated.iter().chain(&second.rotated).collect();
    assert_eq!(rotated, vec![&id], "{first:?} {second:?}");
    assert_eq!(rig.fake.versions(PROJECT, "db").len(), 2, "one new version");
    assert_eq!(rig.fake.calls("AddSecretVersion"), 1);
    assert_eq!(rig.fake.aliases(PROJECT, "db").get("current"), Some(&2));
}

#[tokio::test]
async fn a_leaked_value_is_replaced_and_its_version_disabled_at_once() {
    let rig = Rig::start().await;
    let id = rig.managed("leaky", "demo", "leaked-value-0001");
    let clock = Arc::new(ManualClock::new(OffsetDateTime::now_utc()));
    // A week of grace that a leak must not wait for.
    let policies: PolicySet =
        toml::from_str("[demo]\nmax_age = \"30d\"\ngrace_period = \"7d\"").expect("policies");
    let engine = Engine::new(policies, Arc::new(MemoryLedger::default()))
        .with_clock(clock)
        .with_store(Arc::new(rig.store()))
        .with_audit(Arc::new(rekey_core::audit::MemoryAudit::default()));
    let finding = rekey_core::anomaly::Finding {
        source: "log-scanner".into(),
        id: "scan-0001".into(),
        subject: rekey_core::anomaly::Subject::Value(rekey_core::SecretValue::new(
            "leaked-value-0001".into(),
        )),
    };

    let responses = engine.respond(&finding).await.expect("respond");

    assert_eq!(responses.len(), 1, "{responses:?}");
    assert_eq!(responses[0].credential, id);
    assert!(responses[0].rotated.is_some(), "{responses:?}");
    assert_eq!(
        rig.fake.versions(PROJECT, "leaky"),
        vec![(1, VersionState::Disabled), (2, VersionState::Enabled)],
        "the leaked version is disabled now, not after its grace period"
    );
    let aliases = rig.fake.aliases(PROJECT, "leaky");
    assert_eq!(aliases.get("current"), Some(&2), "{aliases:?}");
    assert_eq!(aliases.get("previous"), None, "{aliases:?}");
}
