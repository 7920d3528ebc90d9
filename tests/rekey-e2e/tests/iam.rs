//! IAM access keys and role sessions against a real moto server: rotation
//! inside IAM's two-key limit, the new key's test with moto enforcing
//! authentication, recovery from a run that died after creating a key,
//! anomaly responses, and revoking a role's sessions.
//!
//! The engine is built directly: Secrets Manager store and IAM adapters on
//! moto, an in-memory ledger, and a manual clock, since moto dates every
//! secret version at the time it is listed (only a clock ahead makes a
//! version look old).

use std::sync::Arc;
use std::time::{Duration, Instant};

use rekey_aws::{
    AccessKeyPair, IAM_ACCESS_KEY, IamAccessKeys, IamRoleSessions, REVOKE_POLICY_NAME,
};
use rekey_core::anomaly::{Finding, Subject};
use rekey_core::audit::{Action, MemoryAudit, Outcome};
use rekey_core::memory::MemoryLedger;
use rekey_core::{
    AnomalyAction, Clock as _, CredentialId, CredentialKind as _, Engine, EngineError, KindError,
    ManualClock, PolicySet, SecretStore as _, SecretValue, SessionRevocation, SessionRevoker as _,
    Stage, Trigger, Values,
};
use rekey_e2e::Moto;
use rekey_e2e::iam::{ADMIN_USER, error_code, user_arn};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// `max_age` is longer than `grace_period`, so a sweep between the two
/// retires the previous key instead of rotating again.
const POLICIES: &str = r#"
[keys]
max_age = "2h"
grace_period = "1h"
kind = "iam-access-key"

[keys-revoke-only]
max_age = "2h"
grace_period = "1h"
kind = "iam-access-key"
on_anomaly = "revoke"
"#;

const USER: &str = "app";

/// Past the grace period, before the maximum age.
const PAST_GRACE: Duration = Duration::from_secs(90 * 60);

/// One moto server and an engine on it.
struct Rig {
    moto: Moto,
    engine: Engine,
    kind: IamAccessKeys,
    clock: Arc<ManualClock>,
    audit: Arc<MemoryAudit>,
}

impl Rig {
    async fn start() -> Self {
        Self::on(Moto::start().await.expect("moto must start"))
    }

    async fn start_enforcing_iam() -> Self {
        let moto = Moto::start_enforcing_iam()
            .await
            .expect("moto must start enforcing IAM");
        Self::on(moto)
    }

    fn on(moto: Moto) -> Self {
        let config = moto.sdk_config();
        let policies: PolicySet = toml::from_str(POLICIES).expect("the policies parse");
        let kind = IamAccessKeys::new(&config).with_test_retries(5, Duration::from_millis(200));
        let clock = Arc::new(ManualClock::new(OffsetDateTime::now_utc()));
        let audit = Arc::new(MemoryAudit::default());
        let engine = Engine::new(policies, Arc::new(MemoryLedger::default()))
            .with_store(Arc::new(moto.store()))
            .with_kind(IAM_ACCESS_KEY, Arc::new(kind.clone()))
            .with_sessions(Arc::new(IamRoleSessions::new(&config)))
            .with_clock(clock.clone())
            .with_audit(audit.clone());
        Self {
            moto,
            engine,
            kind,
            clock,
            audit,
        }
    }

    /// IAM user [`USER`] with one key, held by a secret under `policy`.
    async fn user_with_key(&self, policy: &str) -> (CredentialId, AccessKeyPair) {
        self.moto.create_user(USER).await.expect("user");
        let key = self.moto.create_access_key(USER).await.expect("key");
        let id = self
            .moto
            .create_access_key_secret("app-access-key", policy, USER, &key)
            .await
            .expect("secret");
        (id, key)
    }

    async fn keys(&self) -> Vec<(String, String)> {
        let keys = self.moto.access_keys(USER).await.expect("list keys");
        keys.into_iter().collect()
    }

    async fn current(&self, id: &CredentialId) -> AccessKeyPair {
        self.moto.current_pair(id).await.expect("current value")
    }

    /// The keys rekey marked on the user as its own.
    async fn marks(&self) -> Vec<String> {
        let tags = self.moto.user_tags(USER).await.expect("tags");
        tags.into_iter()
            .filter(|(_, value)| value == "rekey")
            .map(|(key, _)| key)
            .collect()
    }

    async fn rotate(&self, id: &CredentialId, flow: &str) -> AccessKeyPair {
        self.moto.take_calls().await.expect("calls");
        let started = Instant::now();
        self.engine
            .rotate(id, &Trigger::Manual)
            .await
            .expect("the rotation succeeds");
        self.took(flow, started).await;
        self.current(id).await
    }

    async fn sweep(&self, flow: &str) -> rekey_core::SweepSummary {
        let trigger = Trigger::Schedule {
            source: "test".into(),
        };
        self.moto.take_calls().await.expect("calls");
        let started = Instant::now();
        let summary = self.engine.sweep(&trigger, 1).await;
        self.took(flow, started).await;
        summary
    }

    /// Prints what a flow cost against moto (`--nocapture` shows it): its
    /// time and the AWS actions it called, with the setup's calls before
    /// `started` counted too when the flow did not take them first.
    #[allow(
        clippy::print_stderr,
        reason = "costs for the reader of the test output"
    )]
    async fn took(&self, flow: &str, started: Instant) {
        let elapsed = started.elapsed().as_millis();
        let calls = self.moto.take_calls().await.expect("calls");
        let total: u64 = calls.values().sum();
        eprintln!("{flow}: {elapsed} ms, {total} AWS calls {calls:?}");
    }

    /// Whether the audit trail holds `action` ending in `outcome`.
    fn audited(&self, action: Action, outcome: Outcome) -> bool {
        self.audit
            .events()
            .iter()
            .any(|e| e.action == Some(action) && e.outcome == outcome)
    }
}

fn pair(id: &str, status: &str) -> (String, String) {
    (id.to_owned(), status.to_owned())
}

fn sorted(mut list: Vec<(String, String)>) -> Vec<(String, String)> {
    list.sort();
    list
}

#[tokio::test]
async fn rotation_stays_within_two_keys_and_retires_the_old_key_after_grace() {
    let rig = Rig::start().await;
    let (id, first) = rig.user_with_key("keys").await;
    let k1 = first.access_key_id().to_owned();

    let second = rig.rotate(&id, "rotate (free slot)").await;
    let k2 = second.access_key_id().to_owned();
    assert_ne!(k2, k1);
    assert_eq!(
        rig.keys().await,
        sorted(vec![pair(&k1, "Inactive"), pair(&k2, "Active")])
    );
    assert_eq!(rig.marks().await, vec![k2.clone()]);

    rig.clock.advance(PAST_GRACE);
    let summary = rig.sweep("sweep that retires").await;
    assert_eq!(summary.retired, vec![id.clone()], "{summary:?}");
    assert_eq!(rig.keys().await, vec![pair(&k2, "Active")]);
    let described = rig.moto.store().describe(&id).await.expect("describe");
    assert!(described.version_at(Stage::Previous).is_none());

    let third = rig.rotate(&id, "rotate (after retire)").await;
    let k3 = third.access_key_id().to_owned();
    assert_eq!(
        rig.keys().await,
        sorted(vec![pair(&k2, "Inactive"), pair(&k3, "Active")])
    );

    // Within the grace period both slots are taken: the previous key goes
    // early to make room, never the current one.
    let fourth = rig.rotate(&id, "rotate (previous makes room)").await;
    let k4 = fourth.access_key_id().to_owned();
    assert_eq!(
        rig.keys().await,
        sorted(vec![pair(&k3, "Inactive"), pair(&k4, "Active")])
    );
    assert_eq!(rig.marks().await, sorted_ids(&[&k3, &k4]));
}

fn sorted_ids(ids: &[&str]) -> Vec<String> {
    let mut ids: Vec<String> = ids.iter().map(|s| s.to_string()).collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn an_unmanaged_second_key_stops_rotation_and_changes_nothing() {
    let rig = Rig::start().await;
    let (id, first) = rig.user_with_key("keys").await;
    let other = rig
        .moto
        .create_access_key(USER)
        .await
        .expect("a person's key");
    let before = rig.keys().await;

    let error = rig
        .engine
        .rotate(&id, &Trigger::Manual)
        .await
        .expect_err("no room for a third key");

    let EngineError::Kind(KindError::LimitReached(message)) = &error else {
        panic!("expected LimitReached, got {error:?}");
    };
    assert!(message.contains(other.access_key_id()), "{message}");
    assert!(
        !message.contains(other.secret_access_key().expose()),
        "{message}"
    );
    assert!(
        !message.contains(first.secret_access_key().expose()),
        "{message}"
    );
    assert_eq!(rig.keys().await, before);
    assert!(before.iter().all(|(_, status)| status == "Active"));
    assert_eq!(rig.current(&id).await, first);
    assert!(rig.marks().await.is_empty());
    let described = rig.moto.store().describe(&id).await.expect("describe");
    assert!(described.version_at(Stage::Pending).is_none());
}

#[tokio::test]
async fn with_authentication_enforced_the_new_key_works_and_a_deleted_key_is_refused() {
    let rig = Rig::start_enforcing_iam().await;
    // Enforcement is on: the static test credentials are unknown to moto.
    let testing = SecretValue::new("testing".into());
    let anonymous =
        aws_sdk_iam::Client::new(&rig.moto.sdk_config_signing_with("testing", &testing, None));
    let refused = anonymous.list_users().send().await.expect_err("refused");
    assert_eq!(
        error_code(&refused).as_deref(),
        Some("InvalidClientTokenId")
    );

    let (id, first) = rig.user_with_key("keys").await;
    let second = rig.rotate(&id, "rotate (auth enforced)").await;
    assert!(rig.audited(Action::Test, Outcome::Succeeded));
    let (_, sts) = rig.moto.signing_with(&second);
    let identity = sts
        .get_caller_identity()
        .send()
        .await
        .expect("the new key signs");
    assert_eq!(identity.arn(), Some(user_arn(USER).as_str()));
    // moto accepts an inactive key, so deactivation shows in its status only.
    assert_eq!(
        rig.keys().await,
        sorted(vec![
            pair(first.access_key_id(), "Inactive"),
            pair(second.access_key_id(), "Active")
        ])
    );

    rig.clock.advance(PAST_GRACE);
    let summary = rig.sweep("sweep that retires (auth enforced)").await;
    assert_eq!(summary.retired, vec![id.clone()], "{summary:?}");

    let (iam, sts) = rig.moto.signing_with(&first);
    let sts_error = sts.get_caller_identity().send().await.expect_err("deleted");
    assert_eq!(
        error_code(&sts_error).as_deref(),
        Some("InvalidClientTokenId")
    );
    let iam_error = iam.list_access_keys().send().await.expect_err("deleted");
    assert_eq!(
        error_code(&iam_error).as_deref(),
        Some("InvalidClientTokenId")
    );

    let kind = rig
        .kind
        .clone()
        .with_test_retries(2, Duration::from_millis(10));
    let (credential, policy) = rig.engine.describe(&id).await.expect("describe");
    let failed = kind
        .test(&credential, &policy, &first.to_value())
        .await
        .expect_err("a deleted key fails its test");
    let KindError::TestFailed(message) = &failed else {
        panic!("expected TestFailed, got {failed:?}");
    };
    assert!(message.contains(first.access_key_id()), "{message}");
    assert!(
        !message.contains(first.secret_access_key().expose()),
        "{message}"
    );
}

#[tokio::test]
async fn a_key_left_by_a_run_that_died_is_deleted_on_retry() {
    let rig = Rig::start().await;
    let (id, first) = rig.user_with_key("keys").await;

    // The run dies after CreateAccessKey: its value never reaches the store.
    let (credential, policy) = rig.engine.describe(&id).await.expect("describe");
    let values = Values {
        current: Some(first.to_value()),
        previous: None,
    };
    let lost = rig
        .kind
        .create(&credential, &policy, &values)
        .await
        .expect("the first run creates a key");
    let orphan = AccessKeyPair::parse(&lost).expect("a key pair");
    drop(lost);
    assert_eq!(rig.keys().await.len(), 2);
    assert_eq!(rig.marks().await, vec![orphan.access_key_id().to_owned()]);

    let new = rig.rotate(&id, "rotate (orphan deleted)").await;

    assert_ne!(new.access_key_id(), orphan.access_key_id());
    assert_eq!(
        rig.keys().await,
        sorted(vec![
            pair(first.access_key_id(), "Inactive"),
            pair(new.access_key_id(), "Active")
        ])
    );
    assert_eq!(rig.marks().await, vec![new.access_key_id().to_owned()]);
}

fn finding(key: &AccessKeyPair) -> Finding {
    Finding {
        source: "aws.health".into(),
        id: format!("exposed-{}", key.access_key_id()),
        subject: Subject::Identifier(key.access_key_id().to_owned()),
    }
}

#[tokio::test]
async fn a_leaked_key_is_deactivated_by_one_response() {
    let rig = Rig::start().await;
    let (id, first) = rig.user_with_key("keys-revoke-only").await;

    rig.moto.take_calls().await.expect("calls");
    let started = Instant::now();
    let responses = rig
        .engine
        .respond(&finding(&first))
        .await
        .expect("responds");
    rig.took("respond (revoke)", started).await;

    assert_eq!(responses.len(), 1, "{responses:?}");
    assert_eq!(responses[0].action, AnomalyAction::Revoke);
    assert!(responses[0].revoked);
    assert_eq!(responses[0].rotated, None);
    assert_eq!(
        rig.keys().await,
        vec![pair(first.access_key_id(), "Inactive")]
    );
    assert_eq!(rig.current(&id).await, first);
}

#[tokio::test]
async fn revoke_and_rotate_replaces_the_leaked_key_and_deletes_it() {
    let rig = Rig::start().await;
    let (id, first) = rig.user_with_key("keys").await;

    rig.moto.take_calls().await.expect("calls");
    let started = Instant::now();
    let responses = rig
        .engine
        .respond(&finding(&first))
        .await
        .expect("responds");
    rig.took("respond (revoke-and-rotate)", started).await;

    assert_eq!(responses.len(), 1, "{responses:?}");
    let response = &responses[0];
    assert_eq!(response.action, AnomalyAction::RevokeAndRotate);
    assert!(response.revoked && response.retired, "{response:?}");
    assert!(response.rotated.is_some(), "{response:?}");
    let new = rig.current(&id).await;
    assert_ne!(new.access_key_id(), first.access_key_id());
    assert_eq!(rig.keys().await, vec![pair(new.access_key_id(), "Active")]);
    assert!(rig.audited(Action::Revoke, Outcome::Succeeded));
}

/// moto does not evaluate `DateLessThan` (its condition check knows only
/// `StringEquals` and treats other operators as met), so the deny applies
/// to every session of the role, also those issued after the cut-off,
/// where AWS would spare them. This test therefore shows that a session
/// issued before the cut-off is denied, not that later ones still work.
#[tokio::test]
async fn revoking_a_managed_roles_sessions_denies_a_session_issued_before() {
    let rig = Rig::start_enforcing_iam().await;
    let admin = user_arn(ADMIN_USER);
    let managed = rig
        .moto
        .create_role(
            "worker",
            &[("rekey:policy", "keys")],
            &admin,
            &["iam:ListRoles"],
        )
        .await
        .expect("role");
    let session = rig
        .moto
        .assume_role(&managed, "before")
        .await
        .expect("session");
    let (iam, _) = rig.moto.signing_as(&session);
    iam.list_roles()
        .send()
        .await
        .expect("the session works before");

    rig.clock.advance(Duration::from_secs(5));
    rig.moto.take_calls().await.expect("calls");
    let started = Instant::now();
    let revoked = rig
        .engine
        .revoke_sessions(&managed, &Trigger::Manual)
        .await
        .expect("revokes");
    rig.took("revoke sessions", started).await;

    assert_eq!(revoked, SessionRevocation::Revoked);
    let policy = rig
        .moto
        .role_policy("worker", REVOKE_POLICY_NAME)
        .await
        .expect("read policy")
        .expect("the deny policy is there");
    let statement = &policy["Statement"][0];
    assert_eq!(statement["Effect"], "Deny");
    assert_eq!(statement["Action"], serde_json::json!(["*"]));
    assert_eq!(statement["Resource"], serde_json::json!(["*"]));
    let cut_off = statement["Condition"]["DateLessThan"]["aws:TokenIssueTime"]
        .as_str()
        .expect("a cut-off");
    let cut_off = OffsetDateTime::parse(cut_off, &Rfc3339).expect("RFC 3339");
    let now = rig.clock.now();
    assert!(
        cut_off >= now && cut_off - now < time::Duration::SECOND,
        "{cut_off} vs {now}"
    );

    let denied = iam.list_roles().send().await.expect_err("denied after");
    assert_eq!(error_code(&denied).as_deref(), Some("AccessDenied"));
}

#[tokio::test]
async fn an_untagged_role_is_left_alone() {
    let rig = Rig::start().await;
    let role = rig
        .moto
        .create_role(
            "unmanaged",
            &[("team", "payments")],
            &user_arn("x"),
            &["iam:ListRoles"],
        )
        .await
        .expect("role");

    let outcome = rig
        .engine
        .revoke_sessions(&role, &Trigger::Manual)
        .await
        .expect("answers");

    assert_eq!(outcome, SessionRevocation::NotManaged);
    assert_eq!(
        rig.moto
            .role_policy_names("unmanaged")
            .await
            .expect("policies"),
        vec!["work".to_owned()]
    );
}

#[tokio::test]
async fn the_cut_off_only_moves_later() {
    let rig = Rig::start().await;
    rig.moto
        .create_role(
            "worker",
            &[("rekey:policy", "keys")],
            &user_arn("x"),
            &["iam:ListRoles"],
        )
        .await
        .expect("role");
    let sessions = IamRoleSessions::new(&rig.moto.sdk_config());
    let at = |text: &str| OffsetDateTime::parse(text, &Rfc3339).expect("RFC 3339");
    let cut_off = || async {
        let policy = rig
            .moto
            .role_policy("worker", REVOKE_POLICY_NAME)
            .await
            .expect("read policy")
            .expect("the deny policy is there");
        policy["Statement"][0]["Condition"]["DateLessThan"]["aws:TokenIssueTime"]
            .as_str()
            .expect("a cut-off")
            .to_owned()
    };

    let first = sessions
        .revoke_sessions("worker", at("2026-03-01T10:00:00.250Z"))
        .await;
    assert_eq!(first, Ok(SessionRevocation::Revoked));
    assert_eq!(cut_off().await, "2026-03-01T10:00:01Z");

    let earlier = sessions
        .revoke_sessions("worker", at("2026-03-01T09:00:00Z"))
        .await;
    assert_eq!(earlier, Ok(SessionRevocation::Revoked));
    assert_eq!(cut_off().await, "2026-03-01T10:00:01Z");

    let later = sessions
        .revoke_sessions("worker", at("2026-03-01T11:00:00Z"))
        .await;
    assert_eq!(later, Ok(SessionRevocation::Revoked));
    assert_eq!(cut_off().await, "2026-03-01T11:00:00Z");
    let mut names = rig
        .moto
        .role_policy_names("worker")
        .await
        .expect("policies");
    names.sort();
    assert_eq!(
        names,
        vec![REVOKE_POLICY_NAME.to_owned(), "work".to_owned()]
    );
}
