//! The two functions against a real moto server: `rekey-rotate` follows
//! the Secrets Manager rotation contract step by step, `rekey-sweep`
//! rotates what its policies say is due, and neither leaves a secret
//! without a working value nor writes one into the audit trail.
//!
//! moto cannot invoke a rotation function (see [`start_native_rotation`]),
//! so the tests play Secrets Manager's part: they start the rotation, then
//! invoke the handler once per step with the event Secrets Manager sends.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_secretsmanager::error::ProvideErrorMetadata as _;
use rekey_app::{App, Config};
use rekey_aws::DynamoDbLedger;
use rekey_core::audit::MemoryAudit;
use rekey_core::{
    Claim, CredentialId, DEFAULT_LEASE, Engine, Ledger, LedgerError, ManualClock, SweepSummary,
    VersionId,
};
use rekey_e2e::moto::repo_root;
use rekey_e2e::{Moto, start_native_rotation};
use serde_json::{Value, json};
use tempfile::TempDir;
use time::OffsetDateTime;
use tokio::sync::watch;
use tokio::task::JoinSet;

const LEDGER_TABLE: &str = "rekey-ledger";
const PASSWORD_LENGTH: usize = 24;

/// The deployment under test, as the functions read it from `REKEY_CONFIG`.
const CONFIG: &str = r#"
[stores]
local = false
aws_secrets_manager = true

[ledger]
backend = "dynamodb"
table = "rekey-ledger"

[policies.native]
max_age = "30d"
generator = { type = "password", length = 24, exclude_punctuation = true }

[policies.hourly]
max_age = "1h"
generator = { type = "password", length = 24, exclude_punctuation = true }

[policies.monthly]
max_age = "30d"
generator = { type = "password", length = 24, exclude_punctuation = true }
"#;

const CREATE: &str = "createSecret";
const SET: &str = "setSecret";
const TEST: &str = "testSecret";
const FINISH: &str = "finishSecret";

/// One moto server, its ledger table, and the engine the functions build
/// from [`CONFIG`] (system clock, audit kept in memory).
struct Rig {
    moto: Moto,
    audit: Arc<MemoryAudit>,
    app: App,
    _data_dir: TempDir,
}

impl Rig {
    async fn start() -> Self {
        let moto = Moto::start().await.expect("moto must start");
        moto.create_ledger_table(LEDGER_TABLE)
            .await
            .expect("ledger table");
        let config = Config::parse(CONFIG, "rotate_and_sweep.rs").expect("valid config");
        let data_dir = tempfile::tempdir().expect("tempdir");
        let audit = Arc::new(MemoryAudit::default());

        let app = App::build_with_aws(
            config,
            data_dir.path(),
            audit.clone(),
            Some(moto.sdk_config()),
        )
        .await
        .expect("the app builds");
        Self {
            moto,
            audit,
            app,
            _data_dir: data_dir,
        }
    }

    fn engine(&self) -> &Engine {
        self.app.engine()
    }

    /// Another engine on the same moto and ledger table (another Lambda
    /// instance), whose clock runs a day ahead: moto dates every version at
    /// the time it is listed, so only a clock ahead makes one look old.
    fn engine_a_day_ahead(&self) -> Engine {
        let ledger = DynamoDbLedger::new(&self.moto.sdk_config(), LEDGER_TABLE);
        self.engine_a_day_ahead_on(Arc::new(ledger))
    }

    fn engine_a_day_ahead_on(&self, ledger: Arc<dyn Ledger>) -> Engine {
        let tomorrow = OffsetDateTime::now_utc() + Duration::from_secs(24 * 60 * 60);
        Engine::new(self.app.config().policies.clone(), ledger)
            .with_store(Arc::new(self.moto.store()))
            .with_clock(Arc::new(ManualClock::new(tomorrow)))
            .with_audit(self.audit.clone())
    }

    /// A secret under `policy` holding `value`, rotation enabled.
    async fn secret(&self, name: &str, policy: &str, value: &str) -> CredentialId {
        self.moto
            .create_secret(name, &[("rekey:policy", policy)], value)
            .await
            .expect("create secret")
    }

    /// Starts a native rotation of `id` and answers its token.
    async fn start_rotation(&self, id: &CredentialId) -> VersionId {
        let token = VersionId::generate();
        start_native_rotation(&self.moto, id, &token)
            .await
            .expect("the rotation starts");
        token
    }

    /// Invokes `rekey-rotate` for `step` of the rotation `token` of `id`:
    /// its JSON answer, or its error type.
    async fn step(
        &self,
        step: &str,
        id: &CredentialId,
        token: &VersionId,
    ) -> Result<Value, String> {
        self.invoke(rotation_event(step, id, token)).await
    }

    async fn invoke(&self, event: Value) -> Result<Value, String> {
        match rekey_rotate::handle(self.engine(), event).await {
            Ok(answer) => Ok(serde_json::to_value(answer).expect("the answer serialises")),
            Err(error) => Err(error.error_type()),
        }
    }

    /// Staging labels by version id, unlabelled versions included.
    async fn stages(&self, id: &CredentialId) -> BTreeMap<String, BTreeSet<String>> {
        let described = self
            .moto
            .secrets_manager()
            .describe_secret()
            .secret_id(&id.locator)
            .send()
            .await
            .expect("describe secret");
        let versions = described
            .version_ids_to_stages()
            .cloned()
            .unwrap_or_default();
        versions
            .into_iter()
            .map(|(version, labels)| (version, labels.into_iter().collect()))
            .collect()
    }

    /// Every version id of `id`, as `ListSecretVersionIds` reports them.
    async fn version_ids(&self, id: &CredentialId) -> BTreeSet<String> {
        let listed = self
            .moto
            .secrets_manager()
            .list_secret_version_ids()
            .secret_id(&id.locator)
            .include_deprecated(true)
            .send()
            .await
            .expect("list secret versions");
        let ids = listed.versions().iter().filter_map(|v| v.version_id());
        ids.map(str::to_owned).collect()
    }

    /// The version carrying `label`.
    async fn holder(&self, id: &CredentialId, label: &str) -> Option<String> {
        let stages = self.stages(id).await;
        holder(&stages, label)
    }

    /// `GetSecretValue` of the version carrying `label`.
    async fn value_at(&self, id: &CredentialId, label: &str) -> String {
        let answer = self
            .moto
            .secrets_manager()
            .get_secret_value()
            .secret_id(&id.locator)
            .version_stage(label)
            .send()
            .await
            .unwrap_or_else(|e| panic!("get {label} of {id}: {e:?}"));
        answer.secret_string().expect("a string value").to_owned()
    }

    /// `GetSecretValue` of version `version`; `None` when it holds no value.
    async fn value_of(&self, id: &CredentialId, version: &str) -> Option<String> {
        let answer = self
            .moto
            .secrets_manager()
            .get_secret_value()
            .secret_id(&id.locator)
            .version_id(version)
            .send()
            .await;
        match answer {
            Ok(answer) => Some(answer.secret_string().expect("a string value").to_owned()),
            Err(e) if e.code() == Some("ResourceNotFoundException") => None,
            Err(e) => panic!("get version {version} of {id}: {e:?}"),
        }
    }

    /// Puts `value` as version `token` with `AWSPENDING`, as a earlier
    /// attempt or another writer would have.
    async fn put_pending(&self, id: &CredentialId, token: &VersionId, value: &str) {
        self.moto
            .secrets_manager()
            .put_secret_value()
            .secret_id(&id.locator)
            .client_request_token(token.as_str())
            .secret_string(value)
            .version_stages("AWSPENDING")
            .send()
            .await
            .expect("put secret value");
    }
}

fn rotation_event(step: &str, id: &CredentialId, token: &VersionId) -> Value {
    json!({
        "Step": step,
        "SecretId": id.locator,
        "ClientRequestToken": token.as_str(),
    })
}

fn outcome(answer: &Result<Value, String>) -> &str {
    match answer {
        Ok(answer) => answer["outcome"].as_str().expect("an outcome field"),
        Err(error_type) => panic!("the step failed with {error_type}"),
    }
}

fn holder(stages: &BTreeMap<String, BTreeSet<String>>, label: &str) -> Option<String> {
    let mut holders = stages.iter().filter(|(_, labels)| labels.contains(label));
    let (version, _) = holders.next()?;
    assert!(
        holders.next().is_none(),
        "two versions carry {label}: {stages:?}"
    );
    Some(version.clone())
}

/// The shape the policies' generator promises: 24 letters and digits, at
/// least one of each class.
fn assert_generated(value: &str) {
    assert_eq!(value.chars().count(), PASSWORD_LENGTH, "{value:?}");
    assert!(
        value.chars().all(|c| c.is_ascii_alphanumeric()),
        "{value:?}"
    );
    let classes = [
        char::is_ascii_lowercase,
        char::is_ascii_uppercase,
        char::is_ascii_digit,
    ];
    for class in classes {
        assert!(value.chars().any(|c| class(&c)), "{value:?}");
    }
}

fn schedule_event() -> Value {
    let path = repo_root().join("events/eventbridge-scheduled-rule.json");
    let text = std::fs::read_to_string(&path).expect("the sample event exists");
    serde_json::from_str(&text).expect("the sample event is JSON")
}

#[tokio::test]
async fn a_native_rotation_promotes_a_new_value_and_keeps_the_old_one_as_previous() {
    let rig = Rig::start().await;
    let id = rig.secret("orders-db", "native", "old-orders-value").await;
    let old = rig
        .holder(&id, "AWSCURRENT")
        .await
        .expect("a current version");
    let token = rig.start_rotation(&id).await;

    for step in [CREATE, SET, TEST, FINISH] {
        let answer = rig
            .step(step, &id, &token)
            .await
            .expect("the step succeeds");
        assert_eq!(
            answer,
            json!({"step": step, "secretId": id.locator, "version": token.as_str(), "outcome": "done"})
        );
    }

    let stages = rig.stages(&id).await;
    assert_eq!(
        holder(&stages, "AWSCURRENT"),
        Some(token.as_str().to_owned())
    );
    assert_eq!(holder(&stages, "AWSPREVIOUS"), Some(old.clone()));
    assert_eq!(holder(&stages, "AWSPENDING"), None);
    let new = rig.value_at(&id, "AWSCURRENT").await;
    assert_ne!(new, "old-orders-value");
    assert_generated(&new);
    assert_eq!(rig.value_at(&id, "AWSPREVIOUS").await, "old-orders-value");
    assert_eq!(
        rig.value_of(&id, &old).await.as_deref(),
        Some("old-orders-value")
    );
}

#[tokio::test]
async fn every_step_can_be_repeated_without_a_second_value() {
    let rig = Rig::start().await;
    let id = rig.secret("orders-db", "native", "old-orders-value").await;
    let old = rig
        .holder(&id, "AWSCURRENT")
        .await
        .expect("a current version");
    let token = rig.start_rotation(&id).await;

    assert_eq!(outcome(&rig.step(CREATE, &id, &token).await), "done");
    let created = rig
        .value_of(&id, token.as_str())
        .await
        .expect("a pending value");
    let versions = rig.version_ids(&id).await;
    assert_eq!(
        outcome(&rig.step(CREATE, &id, &token).await),
        "already-done"
    );
    assert_eq!(
        rig.value_of(&id, token.as_str()).await,
        Some(created.clone())
    );
    assert_eq!(rig.version_ids(&id).await, versions);

    // Setting and testing change nothing in the store, so a repeat simply
    // runs again.
    for step in [SET, SET, TEST, TEST] {
        assert_eq!(
            outcome(&rig.step(step, &id, &token).await),
            "done",
            "{step}"
        );
    }
    assert_eq!(rig.holder(&id, "AWSCURRENT").await, Some(old.clone()));
    assert_eq!(
        rig.holder(&id, "AWSPENDING").await,
        Some(token.as_str().to_owned())
    );

    assert_eq!(outcome(&rig.step(FINISH, &id, &token).await), "done");
    let finished = rig.stages(&id).await;
    assert_eq!(
        outcome(&rig.step(FINISH, &id, &token).await),
        "already-done"
    );
    assert_eq!(rig.stages(&id).await, finished);
    assert_eq!(
        holder(&finished, "AWSCURRENT"),
        Some(token.as_str().to_owned())
    );
    assert_eq!(holder(&finished, "AWSPREVIOUS"), Some(old));

    // A late retry of any step, once the token is current, is done already.
    for step in [CREATE, SET, TEST] {
        assert_eq!(
            outcome(&rig.step(step, &id, &token).await),
            "already-done",
            "{step}"
        );
    }
    assert_eq!(rig.stages(&id).await, finished);
    assert_eq!(rig.value_at(&id, "AWSCURRENT").await, created);
    assert_eq!(rig.version_ids(&id).await, versions);
}

#[tokio::test]
async fn create_keeps_a_value_already_written_for_the_token() {
    let rig = Rig::start().await;
    let id = rig.secret("orders-db", "native", "old-orders-value").await;
    let token = rig.start_rotation(&id).await;
    // An earlier createSecret that timed out after writing its value.
    let written = "Written1ByAnEarlierTry4u";
    rig.put_pending(&id, &token, written).await;
    let stages = rig.stages(&id).await;

    let answer = rig.step(CREATE, &id, &token).await;

    assert_eq!(outcome(&answer), "already-done");
    assert_eq!(
        rig.value_of(&id, token.as_str()).await.as_deref(),
        Some(written)
    );
    assert_eq!(rig.stages(&id).await, stages);
    assert_eq!(rig.value_at(&id, "AWSCURRENT").await, "old-orders-value");
}

/// A ledger that holds the winner's release until every worker has made
/// its claim, so each trigger arrives while the rotation is in flight.
///
/// Without it, a worker that reached its claim after the winner released
/// would rotate again here: moto dates every version at the time of the
/// call, so with the clock a day ahead the new version looks a day old
/// too. In AWS it is brand new, and the re-check after the claim skips it.
struct HeldOpen {
    inner: DynamoDbLedger,
    claims: Arc<watch::Sender<usize>>,
    workers: usize,
}

#[async_trait]
impl Ledger for HeldOpen {
    async fn claim(
        &self,
        id: &CredentialId,
        rotation: &VersionId,
        now: OffsetDateTime,
        lease: Duration,
    ) -> Result<Claim, LedgerError> {
        let claim = self.inner.claim(id, rotation, now, lease).await;
        self.claims.send_modify(|claims| *claims += 1);
        claim
    }

    async fn release(&self, id: &CredentialId, rotation: &VersionId) -> Result<(), LedgerError> {
        let mut claims = self.claims.subscribe();
        let all_claimed = async { claims.wait_for(|n| *n >= self.workers).await.is_ok() };
        if !tokio::time::timeout(Duration::from_secs(30), all_claimed)
            .await
            .unwrap_or(false)
        {
            return Err(LedgerError::Backend(
                "not every worker claimed in 30s".into(),
            ));
        }
        self.inner.release(id, rotation).await
    }

    async fn first_sighting(
        &self,
        event_id: &str,
        now: OffsetDateTime,
        keep: Duration,
    ) -> Result<bool, LedgerError> {
        self.inner.first_sighting(event_id, now, keep).await
    }

    async fn forget_sighting(&self, event_id: &str) -> Result<(), LedgerError> {
        self.inner.forget_sighting(event_id).await
    }

    async fn count_uses(
        &self,
        id: &CredentialId,
        version: &VersionId,
        uses: u64,
    ) -> Result<u64, LedgerError> {
        self.inner.count_uses(id, version, uses).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_sweeps_rotate_a_due_secret_exactly_once() {
    const WORKERS: usize = 6;
    let rig = Rig::start().await;
    let id = rig.secret("orders-db", "hourly", "old-orders-value").await;
    let old = rig
        .holder(&id, "AWSCURRENT")
        .await
        .expect("a current version");
    let before = rig.version_ids(&id).await;

    // Six Lambda instances woken at once, sharing moto and the ledger table.
    let claims = Arc::new(watch::Sender::new(0));
    let mut sweeps = JoinSet::new();
    for _ in 0..WORKERS {
        let ledger = HeldOpen {
            inner: DynamoDbLedger::new(&rig.moto.sdk_config(), LEDGER_TABLE),
            claims: Arc::clone(&claims),
            workers: WORKERS,
        };
        let engine = rig.engine_a_day_ahead_on(Arc::new(ledger));
        sweeps.spawn(async move {
            let summary = rekey_sweep::handle(&engine, 8, schedule_event()).await;
            summary.expect("the sweep runs")
        });
    }
    let summaries: Vec<SweepSummary> = sweeps.join_all().await;

    let after = rig.version_ids(&id).await;
    let new: Vec<_> = after.difference(&before).cloned().collect();
    assert_eq!(new.len(), 1, "{new:?}");
    let rotated: usize = summaries.iter().map(|s| s.rotated.len()).sum();
    assert_eq!(rotated, 1, "{summaries:#?}");
    for summary in &summaries {
        assert!(summary.failed.is_empty(), "{summaries:#?}");
        let skipped = summary.skipped.iter().map(|s| (&s.credential, &s.reason));
        for (credential, reason) in skipped {
            assert_eq!(credential, &id);
            assert_eq!(reason, &format!("rotation {} is in progress", new[0]));
        }
        assert_eq!(
            summary.rotated.len() + summary.skipped.len(),
            1,
            "{summary:?}"
        );
    }

    let stages = rig.stages(&id).await;
    assert_eq!(holder(&stages, "AWSCURRENT"), Some(new[0].clone()));
    assert_eq!(holder(&stages, "AWSPREVIOUS"), Some(old));
    assert_eq!(holder(&stages, "AWSPENDING"), None);
    assert_generated(&rig.value_at(&id, "AWSCURRENT").await);
}

#[tokio::test]
async fn a_native_step_is_refused_while_a_sweep_holds_the_rotation() {
    let rig = Rig::start().await;
    let id = rig.secret("orders-db", "native", "old-orders-value").await;
    let ledger = DynamoDbLedger::new(&rig.moto.sdk_config(), LEDGER_TABLE);
    let sweeping = VersionId::generate();
    let now = OffsetDateTime::now_utc();
    // What a sweep's worker holds from its claim until it releases.
    let claim = ledger.claim(&id, &sweeping, now, DEFAULT_LEASE).await;
    assert_eq!(
        claim,
        Ok(Claim::Acquired {
            rotation: sweeping.clone()
        })
    );
    let token = rig.start_rotation(&id).await;
    let stages = rig.stages(&id).await;

    let refused = rig.step(CREATE, &id, &token).await;

    assert_eq!(refused, Err("Rekey.Conflict".to_owned()));
    assert_eq!(rig.stages(&id).await, stages);
    assert_eq!(rig.value_of(&id, token.as_str()).await, None);
    assert_eq!(rig.value_at(&id, "AWSCURRENT").await, "old-orders-value");

    // Secrets Manager retries; once the sweep is done, the step goes ahead.
    ledger.release(&id, &sweeping).await.expect("release");
    assert_eq!(outcome(&rig.step(CREATE, &id, &token).await), "done");
    let created = rig
        .value_of(&id, token.as_str())
        .await
        .expect("a pending value");
    assert_generated(&created);
}

#[tokio::test]
async fn a_failing_test_leaves_the_current_value_in_place() {
    let rig = Rig::start().await;
    let id = rig.secret("orders-db", "native", "old-orders-value").await;
    let old = rig
        .holder(&id, "AWSCURRENT")
        .await
        .expect("a current version");
    let token = rig.start_rotation(&id).await;
    // Not what the policy's generator makes: 5 characters, not 24.
    rig.put_pending(&id, &token, "short").await;

    let tested = rig.step(TEST, &id, &token).await;

    assert_eq!(tested, Err("Rekey.Failed".to_owned()));
    let stages = rig.stages(&id).await;
    assert_eq!(holder(&stages, "AWSCURRENT"), Some(old.clone()));
    assert_eq!(
        holder(&stages, "AWSPENDING"),
        Some(token.as_str().to_owned())
    );
    assert_eq!(rig.value_at(&id, "AWSCURRENT").await, "old-orders-value");
    assert_eq!(
        rig.value_of(&id, &old).await.as_deref(),
        Some("old-orders-value")
    );
}

#[tokio::test]
async fn the_sweep_rotates_only_what_is_due() {
    let rig = Rig::start().await;
    let hourly = rig.secret("hourly-db", "hourly", "old-hourly-value").await;
    let monthly = rig
        .secret("monthly-db", "monthly", "old-monthly-value")
        .await;
    let unmanaged = rig
        .moto
        .create_secret("unmanaged-db", &[("team", "orders")], "old-unmanaged-value")
        .await
        .expect("create secret");
    let old_hourly = rig.stages(&hourly).await;
    let old_monthly = rig.stages(&monthly).await;
    let old_unmanaged = rig.stages(&unmanaged).await;

    let engine = rig.engine_a_day_ahead();
    let summary = rekey_sweep::handle(&engine, 8, schedule_event()).await;

    let summary = summary.expect("the sweep runs");
    assert_eq!(summary.examined, 2, "{summary:?}");
    assert_eq!(summary.rotated, vec![hourly.clone()]);
    let skipped: Vec<_> = summary.skipped.iter().map(|s| &s.credential).collect();
    assert_eq!(skipped, vec![&monthly]);
    assert!(
        summary.skipped[0].reason.starts_with("not due until"),
        "{summary:?}"
    );
    assert!(
        summary.failed.is_empty() && summary.retired.is_empty(),
        "{summary:?}"
    );

    let stages = rig.stages(&hourly).await;
    let first = holder(&old_hourly, "AWSCURRENT");
    assert_eq!(holder(&stages, "AWSPREVIOUS"), first);
    assert_ne!(holder(&stages, "AWSCURRENT"), first);
    assert_generated(&rig.value_at(&hourly, "AWSCURRENT").await);
    assert_eq!(rig.stages(&monthly).await, old_monthly);
    assert_eq!(
        rig.value_at(&monthly, "AWSCURRENT").await,
        "old-monthly-value"
    );
    assert_eq!(rig.stages(&unmanaged).await, old_unmanaged);
    assert_eq!(
        rig.value_at(&unmanaged, "AWSCURRENT").await,
        "old-unmanaged-value"
    );
}

#[tokio::test]
async fn bad_events_change_nothing() {
    let rig = Rig::start().await;
    let id = rig.secret("orders-db", "native", "old-orders-value").await;
    let token = rig.start_rotation(&id).await;
    let unrotated = rig
        .moto
        .create_secret_without_rotation("legacy-db", &[("rekey:policy", "native")], "legacy")
        .await
        .expect("create secret");
    let before = (rig.stages(&id).await, rig.stages(&unrotated).await);

    let cases = [
        (
            "no ClientRequestToken",
            json!({"Step": CREATE, "SecretId": id.locator}),
            "Rekey.InvalidEvent",
        ),
        (
            "an unknown step",
            rotation_event("dropSecret", &id, &token),
            "Rekey.InvalidEvent",
        ),
        (
            "a token that is no version of the secret",
            rotation_event(CREATE, &id, &VersionId::generate()),
            "Rekey.NotFound",
        ),
        (
            "a secret that does not exist",
            json!({"Step": CREATE, "SecretId": "no-such-secret", "ClientRequestToken": token.as_str()}),
            "Rekey.NotFound",
        ),
        (
            "a secret without rotation enabled",
            rotation_event(CREATE, &unrotated, &VersionId::generate()),
            "Rekey.Validation",
        ),
    ];
    for (case, event, error_type) in cases {
        let answer = rig.invoke(event).await;

        assert_eq!(answer, Err(error_type.to_owned()), "{case}");
        let after = (rig.stages(&id).await, rig.stages(&unrotated).await);
        assert_eq!(after, before, "{case}");
    }
    assert_eq!(rig.value_of(&id, token.as_str()).await, None);
    assert_eq!(rig.value_at(&id, "AWSCURRENT").await, "old-orders-value");
    assert_eq!(rig.value_at(&unrotated, "AWSCURRENT").await, "legacy");
}

#[tokio::test]
async fn the_audit_trail_holds_no_secret_value() {
    let rig = Rig::start().await;
    let native = rig
        .secret("native-db", "native", "old-native-value-Qx7")
        .await;
    let swept = rig
        .secret("swept-db", "hourly", "old-swept-value-Jw3")
        .await;
    let failing = rig
        .secret("failing-db", "native", "old-failing-value-Kp9")
        .await;
    let rejected = "rejected-pending-value-Zt4";
    let rotation_token = "rotation-token-value-Mv2";

    let token = rig.start_rotation(&native).await;
    for step in [CREATE, SET, TEST, FINISH] {
        let mut event = rotation_event(step, &native, &token);
        event["RotationToken"] = json!(rotation_token);
        assert_eq!(outcome(&rig.invoke(event).await), "done", "{step}");
    }
    let summary = rekey_sweep::handle(&rig.engine_a_day_ahead(), 8, schedule_event()).await;
    assert_eq!(
        summary.expect("the sweep runs").rotated,
        vec![swept.clone()]
    );
    let failing_token = rig.start_rotation(&failing).await;
    rig.put_pending(&failing, &failing_token, rejected).await;
    let tested = rig.step(TEST, &failing, &failing_token).await;
    assert_eq!(tested, Err("Rekey.Failed".to_owned()));

    let events = rig.audit.events();
    let trail = serde_json::to_string(&events).expect("the trail serialises");
    let promoted = events
        .iter()
        .filter(|e| trail_has(e, "promote", "succeeded"));
    assert_eq!(promoted.count(), 2, "{trail}");
    assert!(
        events.iter().any(|e| trail_has(e, "test", "failed")),
        "{trail}"
    );
    let values = [
        "old-native-value-Qx7".to_owned(),
        "old-swept-value-Jw3".to_owned(),
        "old-failing-value-Kp9".to_owned(),
        rejected.to_owned(),
        rotation_token.to_owned(),
        rig.value_at(&native, "AWSCURRENT").await,
        rig.value_at(&swept, "AWSCURRENT").await,
    ];
    for value in &values {
        assert!(
            !trail.contains(value.as_str()),
            "{value:?} is in the trail: {trail}"
        );
    }
}

/// Whether audit event `event` is `action` ending in `outcome`.
fn trail_has(event: &rekey_core::audit::AuditEvent, action: &str, outcome: &str) -> bool {
    let event = serde_json::to_value(event).expect("the event serialises");
    event["action"] == action && event["outcome"] == outcome
}
