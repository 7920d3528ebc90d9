//! The engine on in-memory ports: the rotation contract, its safety rules
//! and the sweep.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use time::macros::datetime;

use crate::audit::MemoryAudit;
use crate::memory::{MemoryLedger, MemoryStore};
use crate::*;

struct Fixture {
    clock: Arc<ManualClock>,
    store: Arc<MemoryStore>,
    ledger: Arc<MemoryLedger>,
    audit: Arc<MemoryAudit>,
    engine: Engine,
}

const POLICIES: &str = r#"
[short]
max_age = "1h"
grace_period = "10m"
generator = { type = "password", length = 24 }
"#;

fn fixture() -> Fixture {
    fixture_with(Arc::new(PlainSecret))
}

fn fixture_with(kind: Arc<dyn CredentialKind>) -> Fixture {
    let clock = Arc::new(ManualClock::new(datetime!(2026-01-01 00:00 UTC)));
    let store = Arc::new(MemoryStore::new(Provider::Local, clock.clone()));
    let ledger = Arc::new(MemoryLedger::default());
    let audit = Arc::new(MemoryAudit::default());
    let policies: PolicySet = toml::from_str(POLICIES).expect("policies parse");
    let engine = Engine::new(policies, ledger.clone())
        .with_store(store.clone())
        .with_clock(clock.clone())
        .with_kind(PLAIN_SECRET, kind)
        .with_audit(audit.clone());
    Fixture {
        clock,
        store,
        ledger,
        audit,
        engine,
    }
}

impl Fixture {
    fn credential(&self, name: &str, value: &str) -> CredentialId {
        self.store.insert(
            name,
            &[("rekey:policy", "short")],
            Some(SecretValue::new(value.into())),
        )
    }

    async fn described(&self, id: &CredentialId) -> Credential {
        self.store.describe(id).await.expect("describe")
    }

    async fn at(&self, id: &CredentialId, stage: Stage) -> Option<VersionId> {
        self.described(id)
            .await
            .version_at(stage)
            .map(|v| v.id.clone())
    }

    async fn value(&self, id: &CredentialId, version: &VersionId) -> SecretValue {
        self.store.read(id, version).await.expect("read")
    }

    async fn run_contract(&self, id: &CredentialId, token: &VersionId) {
        for step in [
            Step::CreateSecret,
            Step::SetSecret,
            Step::TestSecret,
            Step::FinishSecret,
        ] {
            self.engine
                .step(id, step, token, None)
                .await
                .expect("step succeeds");
        }
    }
}

#[tokio::test]
async fn rotation_promotes_a_new_value_and_keeps_the_old_as_previous() {
    let f = fixture();
    let id = f.credential("db", "old-value");
    let old = f.at(&id, Stage::Current).await.expect("current");

    let rotated = f
        .engine
        .rotate(&id, &Trigger::Manual)
        .await
        .expect("rotates");

    assert_eq!(rotated.replaced.as_ref(), Some(&old));
    assert_eq!(
        f.at(&id, Stage::Current).await,
        Some(rotated.version.clone())
    );
    assert_eq!(f.at(&id, Stage::Previous).await, Some(old.clone()));
    assert_eq!(f.at(&id, Stage::Pending).await, None);
    assert_eq!(
        f.value(&id, &old).await.expose(),
        "old-value",
        "previous still works"
    );
    assert_ne!(f.value(&id, &rotated.version).await.expose(), "old-value");
}

#[tokio::test]
async fn the_native_contract_runs_on_a_fresh_secret() {
    let f = fixture();
    let id = f.credential("db", "old-value");
    let old = f.at(&id, Stage::Current).await.expect("current");
    let token = VersionId::generate();
    f.store.start_native_rotation(&id, &token);

    f.run_contract(&id, &token).await;

    assert_eq!(f.at(&id, Stage::Current).await, Some(token.clone()));
    assert_eq!(f.at(&id, Stage::Previous).await, Some(old));
    assert_eq!(f.at(&id, Stage::Pending).await, None);
}

#[tokio::test]
async fn every_step_can_be_repeated() {
    let f = fixture();
    let id = f.credential("db", "old-value");
    let token = VersionId::generate();
    f.store.start_native_rotation(&id, &token);

    let first = f
        .engine
        .step(&id, Step::CreateSecret, &token, None)
        .await
        .expect("create");
    let made = f.value(&id, &token).await;
    let again = f
        .engine
        .step(&id, Step::CreateSecret, &token, None)
        .await
        .expect("create again");
    assert_eq!(
        (first, again),
        (StepOutcome::Done, StepOutcome::AlreadyDone)
    );
    assert_eq!(
        f.value(&id, &token).await,
        made,
        "a repeated create keeps the value"
    );

    for step in [
        Step::SetSecret,
        Step::SetSecret,
        Step::TestSecret,
        Step::TestSecret,
    ] {
        f.engine
            .step(&id, step, &token, None)
            .await
            .expect("repeatable");
    }
    f.engine
        .step(&id, Step::FinishSecret, &token, None)
        .await
        .expect("finish");
    let repeated = f
        .engine
        .step(&id, Step::FinishSecret, &token, None)
        .await
        .expect("finish again");

    assert_eq!(repeated, StepOutcome::AlreadyDone);
    assert_eq!(f.value(&id, &token).await, made);
    assert_eq!(f.at(&id, Stage::Current).await, Some(token));
}

#[tokio::test]
async fn create_keeps_a_pending_value_that_already_exists() {
    let f = fixture();
    let id = f.credential("db", "old-value");
    let token = VersionId::generate();
    let existing = SecretValue::new("pending-made-earlier".into());
    f.store
        .put_pending(&id, &token, &existing, None)
        .await
        .expect("pending");

    let outcome = f
        .engine
        .step(&id, Step::CreateSecret, &token, None)
        .await
        .expect("create");

    assert_eq!(outcome, StepOutcome::AlreadyDone);
    assert_eq!(f.value(&id, &token).await, existing);
}

#[tokio::test]
async fn a_token_already_current_is_done_for_every_step() {
    let f = fixture();
    let id = f.credential("db", "old-value");
    let current = f.at(&id, Stage::Current).await.expect("current");

    for step in [
        Step::CreateSecret,
        Step::SetSecret,
        Step::TestSecret,
        Step::FinishSecret,
    ] {
        let outcome = f
            .engine
            .step(&id, step, &current, None)
            .await
            .expect("no-op");
        assert_eq!(outcome, StepOutcome::AlreadyDone);
    }
    assert_eq!(
        f.described(&id).await.versions.len(),
        1,
        "nothing was created"
    );
}

#[tokio::test]
async fn bad_steps_are_refused_and_change_nothing() {
    let f = fixture();
    let id = f.credential("db", "old-value");
    let before = f.described(&id).await;
    let stranger = VersionId::generate();

    let unknown = f
        .engine
        .step(&id, Step::CreateSecret, &stranger, None)
        .await;
    assert!(
        matches!(unknown, Err(EngineError::UnknownVersion { .. })),
        "{unknown:?}"
    );

    let deprecated = VersionId::generate();
    f.store.start_native_rotation(&id, &deprecated);
    f.store.start_native_rotation(&id, &VersionId::generate());
    let stale = f
        .engine
        .step(&id, Step::FinishSecret, &deprecated, None)
        .await;
    assert!(
        matches!(stale, Err(EngineError::NotPending { .. })),
        "{stale:?}"
    );

    f.store.set_rotation_enabled(&id, false);
    let disabled = f
        .engine
        .step(&id, Step::CreateSecret, &deprecated, None)
        .await;
    assert!(
        matches!(disabled, Err(EngineError::RotationDisabled(_))),
        "{disabled:?}"
    );

    let untagged = f
        .store
        .insert("plain", &[], Some(SecretValue::new("x".into())));
    let unmanaged = f.engine.rotate(&untagged, &Trigger::Manual).await;
    assert!(
        matches!(unmanaged, Err(EngineError::NotManaged(_))),
        "{unmanaged:?}"
    );

    let after = f.described(&id).await;
    assert_eq!(
        after.version_at(Stage::Current),
        before.version_at(Stage::Current)
    );
}

struct FailingTest;

#[async_trait]
impl CredentialKind for FailingTest {
    async fn test(&self, _: &Credential, _: &Policy, _: &SecretValue) -> Result<(), KindError> {
        Err(KindError::TestFailed("login refused".into()))
    }
}

#[tokio::test]
async fn a_failing_test_leaves_the_current_value_working() {
    let f = fixture_with(Arc::new(FailingTest));
    let id = f.credential("db", "old-value");
    let old = f.at(&id, Stage::Current).await.expect("current");

    let failed = f.engine.rotate(&id, &Trigger::Manual).await;

    assert!(matches!(
        failed,
        Err(EngineError::Kind(KindError::TestFailed(_)))
    ));
    assert_eq!(f.at(&id, Stage::Current).await, Some(old.clone()));
    assert_eq!(f.value(&id, &old).await.expose(), "old-value");
    let claim = f
        .ledger
        .claim(&id, &VersionId::generate(), f.engine.now(), DEFAULT_LEASE)
        .await;
    assert!(
        matches!(claim, Ok(Claim::Acquired { .. })),
        "the failed rotation released its claim"
    );
}

#[tokio::test]
async fn a_second_trigger_while_one_is_in_flight_is_refused() {
    let f = fixture();
    let id = f.credential("db", "old-value");
    let in_flight = VersionId::generate();
    f.ledger
        .claim(&id, &in_flight, f.engine.now(), DEFAULT_LEASE)
        .await
        .expect("claim");

    let second = f.engine.rotate(&id, &Trigger::Manual).await;

    assert!(
        matches!(second, Err(EngineError::RotationInProgress { ref rotation, .. }) if rotation == &in_flight)
    );
    assert_eq!(f.described(&id).await.versions.len(), 1);
}

#[tokio::test]
async fn concurrent_sweeps_rotate_a_due_credential_exactly_once() {
    let f = fixture();
    let id = f.credential("db", "old-value");
    f.clock.advance(Duration::from_secs(3600));

    let sweeps = (0..8).map(|_| f.engine.sweep(&Trigger::Manual, 4));
    let summaries = futures::future::join_all(sweeps).await;

    let rotations: usize = summaries.iter().map(|s| s.rotated.len()).sum();
    assert_eq!(rotations, 1, "{summaries:?}");
    assert!(summaries.iter().all(|s| s.failed.is_empty()));
    assert_eq!(f.described(&id).await.versions.len(), 2, "one new version");
}

#[tokio::test]
async fn an_abandoned_rotation_is_resumed_not_repeated() {
    let f = fixture();
    let id = f.credential("db", "old-value");
    let abandoned = VersionId::generate();
    let made = SecretValue::new("made-before-the-crash-ab".into());
    f.ledger
        .claim(&id, &abandoned, f.engine.now(), DEFAULT_LEASE)
        .await
        .expect("claim");
    f.store
        .put_pending(&id, &abandoned, &made, None)
        .await
        .expect("pending");
    f.clock.advance(DEFAULT_LEASE + Duration::from_secs(1));

    let rotated = f
        .engine
        .rotate(&id, &Trigger::Manual)
        .await
        .expect("resumes");

    assert_eq!(rotated.version, abandoned);
    assert_eq!(f.value(&id, &abandoned).await, made);
    assert_eq!(
        f.described(&id).await.versions.len(),
        2,
        "no second new value"
    );
}

#[tokio::test]
async fn the_sweep_rotates_only_what_is_due_and_retires_after_grace() {
    let f = fixture();
    let due = f.credential("due", "due-old");
    f.clock.advance(Duration::from_secs(3000));
    let fresh = f.credential("fresh", "fresh-old");
    f.store
        .insert("unmanaged", &[], Some(SecretValue::new("u".into())));
    f.clock.advance(Duration::from_secs(600));

    let first = f.engine.sweep(&Trigger::Manual, 2).await;
    assert_eq!(first.examined, 2);
    assert_eq!(first.rotated, vec![due.clone()]);
    assert_eq!(
        first
            .skipped
            .iter()
            .map(|s| &s.credential)
            .collect::<Vec<_>>(),
        vec![&fresh]
    );

    f.clock.advance(Duration::from_secs(599));
    assert!(
        f.engine.sweep(&Trigger::Manual, 2).await.retired.is_empty(),
        "within grace"
    );
    f.clock.advance(Duration::from_secs(1));
    let later = f.engine.sweep(&Trigger::Manual, 2).await;
    assert_eq!(later.retired, vec![due.clone()]);
    assert_eq!(f.at(&due, Stage::Previous).await, None);
}

#[tokio::test]
async fn an_invalid_override_is_skipped_with_its_reason() {
    let f = fixture();
    let tags = [("rekey:policy", "short"), ("rekey:max-age", "whenever")];
    f.store
        .insert("typo", &tags, Some(SecretValue::new("v".into())));

    let summary = f.engine.sweep(&Trigger::Manual, 1).await;

    assert_eq!(summary.skipped.len(), 1);
    assert!(
        summary.skipped[0].reason.contains("rekey:max-age"),
        "{summary:?}"
    );
}

#[tokio::test]
async fn audit_events_never_hold_a_secret_value() {
    let f = fixture();
    let id = f.credential("db", "old-value-xyzzy");
    f.engine
        .rotate(&id, &Trigger::Manual)
        .await
        .expect("rotates");
    let new = f.at(&id, Stage::Current).await.expect("current");
    let new_value = f.value(&id, &new).await;

    let lines: Vec<String> = f
        .audit
        .events()
        .iter()
        .map(|e| serde_json::to_string(e).expect("json"))
        .collect();

    assert!(lines.len() >= 4, "one line per action: {lines:?}");
    for line in &lines {
        assert!(
            !line.contains("old-value-xyzzy") && !line.contains(new_value.expose()),
            "{line}"
        );
    }
}

#[tokio::test]
async fn rotate_if_current_acts_only_while_the_version_is_current() {
    let f = fixture();
    let id = f.credential("db", "old");
    let before = f.store.describe(&id).await.expect("describe");
    let current = before.version_at(Stage::Current).map(|v| v.id.clone());
    let trigger = Trigger::ExpiryNotice {
        source: "gcp.secretmanager".into(),
        event: "SECRET_ROTATE".into(),
    };

    let first = f
        .engine
        .rotate_if_current(&id, &trigger, current.as_ref())
        .await;
    assert!(first.expect("rotates").is_some());
    let again = f
        .engine
        .rotate_if_current(&id, &trigger, current.as_ref())
        .await;
    assert_eq!(
        again.expect("answers"),
        None,
        "the notice's version is no longer current"
    );

    let after = f.store.describe(&id).await.expect("describe");
    assert_eq!(after.versions.len(), 2);
}
