//! Audit events: one JSON line per decision and per action, in OCSF.
//!
//! An audit event names the credential, the trigger, the decision or the
//! action, its outcome and the versions involved. It has no field that could
//! hold a secret value: values are never passed to it.
//!
//! # The line is an OCSF event
//!
//! Each event serialises to one JSON object that is an [OCSF] 1.3.0
//! *Account Change* event (`class_uid` 3001, category 3 *Identity & Access
//! Management*), so a SIEM that reads OCSF takes the line as it is. The
//! credential is the account that changed: `user.uid` is
//! `<provider>:<locator>`, `user.name` the locator, `user.credential_uid`
//! the version acted on.
//!
//! | rekey line | `activity_id` (`activity_name`) | `status_id` (`status`) |
//! |---|---|---|
//! | action `create`, `apply`, `test`, `promote` | 3 (Password Change): each is a step of one change of the credential's value | 1 Success, 2 Failure |
//! | action `revoke` | 5 (Disable): the value is made unusable now | 1 Success, 2 Failure |
//! | action `demote`, `retire` | 99 (`Demote`, `Retire`): bookkeeping whose effect depends on the kind (an access key is deactivated, then deleted; a plain secret only loses a label), kept out of Disable and Delete so routine rotations do not look like accounts being disabled or deleted | 1 Success, 2 Failure |
//! | decision (`rotate`, `retire`, `skip`, `revoke`, …) | 99 (`Decision`) | 99 (`Decided`) |
//!
//! `already-done` outcomes are Success with `status_detail` saying nothing
//! changed. `type_uid` is `300100 + activity_id`. `severity_id` is 1
//! (Informational), 3 (Medium) for anything an anomaly triggered, 4 (High)
//! for a failure and 5 (Critical) for a failure while answering an
//! anomaly. `time` is Unix epoch milliseconds as OCSF requires; `time_dt`
//! (the `datetime` profile) holds the same instant in RFC 3339. `message`
//! is a one-line summary; `status_detail` holds the reason. `metadata`
//! names the product (`rekey`), its version and the OCSF version
//! ([`OCSF_VERSION`]); AWS credentials add `cloud.provider` (`AWS`, the
//! `cloud` profile).
//!
//! rekey's own fields stay at the top level with their names and meanings
//! (`trigger`, `credential`, `decision`, `action`, `outcome`, `version`,
//! `previous_version`, `reason`), so tools that read them keep working;
//! only `time` changed, from RFC 3339 text to epoch milliseconds. OCSF has
//! no place for custom top-level attributes and a strict consumer may drop
//! them, so the ones no OCSF attribute carries exactly (`trigger`,
//! `decision`, `action`, `previous_version`) are repeated under
//! `unmapped`. rekey does not apply OCSF's `security_control` profile:
//! its `action` attribute is rekey's step, not an allow/deny verdict.
//!
//! # Collecting one invocation's events
//!
//! A function that publishes its events (see `rekey_aws::events`) gives the
//! engine a [`Tee`] of the stdout lines and a [`Collector`], and drains the
//! collector before it answers, because Lambda freezes the sandbox once the
//! answer is sent:
//!
//! ```
//! use std::sync::Arc;
//! use rekey_core::audit::{AuditSink, Collector, JsonLines, Tee};
//!
//! let collector = Arc::new(Collector::default());
//! let audit = Tee(vec![Arc::new(JsonLines::stdout()), collector.clone()]);
//! // Engine::new(..).with_audit(Arc::new(audit)); then, per invocation:
//! // let answer = handle(&engine, payload).await;
//! let events = collector.drain();
//! // publisher.publish(&events).await; then return the answer.
//! # let _ = (audit, events);
//! ```
//!
//! A collector holds whatever the engine recorded since the last drain: in
//! Lambda one sandbox runs one invocation at a time, so that is exactly
//! the invocation's events. A process that serves invocations concurrently
//! with one engine (`rekey serve`) drains a mix; give it one engine per
//! invocation, or publish from the drained mix as a whole.
//!
//! [OCSF]: https://schema.ocsf.io/1.3.0/classes/account_change

use std::collections::VecDeque;
use std::io::Write;
use std::sync::Mutex;

use serde::{Serialize, Serializer};
use time::OffsetDateTime;

use crate::{CredentialId, VersionId};

/// The OCSF schema version audit lines follow.
pub const OCSF_VERSION: &str = "1.3.0";

/// OCSF *Account Change*.
const CLASS_UID: u32 = 3001;
/// OCSF *Identity & Access Management*.
const CATEGORY_UID: u32 = 3;

/// How many events a [`Collector`] keeps by default before it drops the
/// oldest: far more than one invocation records.
pub const COLLECTOR_CAPACITY: usize = 10_000;

/// One step the engine takes on a credential.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// Made the new value and stored it as pending.
    Create,
    /// Set the pending value where it is consumed.
    Apply,
    /// Tested the pending value.
    Test,
    /// Promoted the pending value to current.
    Promote,
    /// Told the kind the replaced value is no longer current (an access
    /// key is deactivated).
    Demote,
    /// Made a value unusable at once, after an anomaly.
    Revoke,
    /// Stopped serving the previous value.
    Retire,
}

impl Action {
    /// The action's name, as audit lines give it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Create => "create",
            Self::Apply => "apply",
            Self::Test => "test",
            Self::Promote => "promote",
            Self::Demote => "demote",
            Self::Revoke => "revoke",
            Self::Retire => "retire",
        }
    }

    /// Whether the action is one of the four steps of a rotation.
    pub fn is_rotation_step(self) -> bool {
        matches!(
            self,
            Self::Create | Self::Apply | Self::Test | Self::Promote
        )
    }
}

/// How a decision or an action ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// A decision was taken (decision lines only).
    Decided,
    /// The action changed something and succeeded.
    Succeeded,
    /// The action had already been done; nothing changed.
    AlreadyDone,
    /// The action failed; the reason says why.
    Failed,
}

impl Outcome {
    /// The outcome's name, as audit lines give it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Decided => "decided",
            Self::Succeeded => "succeeded",
            Self::AlreadyDone => "already-done",
            Self::Failed => "failed",
        }
    }
}

/// One audit line. It serialises as an OCSF Account Change event that
/// keeps rekey's own fields (see the [module documentation](self)).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditEvent {
    /// When it happened.
    pub time: OffsetDateTime,
    /// What woke the engine (`schedule`, `native-rotation`, `manual`).
    pub trigger: &'static str,
    /// The credential.
    pub credential: CredentialId,
    /// The decision, on decision lines: `rotate`, `retire`, `skip`.
    pub decision: Option<&'static str>,
    /// The action, on action lines.
    pub action: Option<Action>,
    /// How it ended.
    pub outcome: Outcome,
    /// The version acted on (the new one, in a rotation).
    pub version: Option<VersionId>,
    /// The version it replaces, in a rotation.
    pub previous_version: Option<VersionId>,
    /// Why: the decision's reason or the failure.
    pub reason: Option<String>,
}

impl Serialize for AuditEvent {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        Line::of(self).serialize(serializer)
    }
}

/// The serialised shape of an [`AuditEvent`]: rekey's fields, then OCSF's.
#[derive(Serialize)]
struct Line<'a> {
    time: i64,
    #[serde(with = "time::serde::rfc3339")]
    time_dt: OffsetDateTime,
    trigger: &'static str,
    credential: &'a CredentialId,
    #[serde(skip_serializing_if = "Option::is_none")]
    decision: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    action: Option<Action>,
    outcome: Outcome,
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<&'a VersionId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    previous_version: Option<&'a VersionId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,

    class_uid: u32,
    class_name: &'static str,
    category_uid: u32,
    category_name: &'static str,
    activity_id: u32,
    activity_name: &'static str,
    type_uid: u32,
    type_name: String,
    severity_id: u32,
    severity: &'static str,
    status_id: u32,
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    status_detail: Option<&'a str>,
    message: String,
    user: User<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cloud: Option<Cloud>,
    metadata: Metadata,
    unmapped: Unmapped<'a>,
}

#[derive(Serialize)]
struct User<'a> {
    uid: String,
    name: &'a str,
    type_id: u32,
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    credential_uid: Option<&'a VersionId>,
}

#[derive(Serialize)]
struct Cloud {
    provider: &'static str,
}

#[derive(Serialize)]
struct Metadata {
    version: &'static str,
    product: Product,
    profiles: Vec<&'static str>,
}

#[derive(Serialize)]
struct Product {
    name: &'static str,
    vendor_name: &'static str,
    version: &'static str,
}

#[derive(Serialize)]
struct Unmapped<'a> {
    trigger: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    decision: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    action: Option<Action>,
    #[serde(skip_serializing_if = "Option::is_none")]
    previous_version: Option<&'a VersionId>,
}

impl<'a> Line<'a> {
    fn of(event: &'a AuditEvent) -> Self {
        let (activity_id, activity_name) = activity(event.action);
        let (status_id, status) = status(event.outcome);
        let (severity_id, severity) = severity(event);
        let status_detail = match (event.reason.as_deref(), event.outcome) {
            (Some(reason), _) => Some(reason),
            (None, Outcome::AlreadyDone) => Some("already done; nothing changed"),
            (None, _) => None,
        };
        let cloud = event
            .credential
            .provider
            .cloud()
            .map(|provider| Cloud { provider });
        let profiles = match cloud {
            Some(_) => vec!["datetime", "cloud"],
            None => vec!["datetime"],
        };

        Self {
            time: epoch_millis(event.time),
            time_dt: event.time,
            trigger: event.trigger,
            credential: &event.credential,
            decision: event.decision,
            action: event.action,
            outcome: event.outcome,
            version: event.version.as_ref(),
            previous_version: event.previous_version.as_ref(),
            reason: event.reason.as_deref(),
            class_uid: CLASS_UID,
            class_name: "Account Change",
            category_uid: CATEGORY_UID,
            category_name: "Identity & Access Management",
            activity_id,
            activity_name,
            type_uid: CLASS_UID * 100 + activity_id,
            type_name: format!("Account Change: {activity_name}"),
            severity_id,
            severity,
            status_id,
            status,
            status_detail,
            message: message(event),
            user: User {
                uid: event.credential.to_string(),
                name: &event.credential.locator,
                type_id: 99,
                kind: "Machine Credential",
                credential_uid: event.version.as_ref(),
            },
            cloud,
            metadata: Metadata {
                version: OCSF_VERSION,
                product: Product {
                    name: "rekey",
                    vendor_name: "rekey",
                    version: env!("CARGO_PKG_VERSION"),
                },
                profiles,
            },
            unmapped: Unmapped {
                trigger: event.trigger,
                decision: event.decision,
                action: event.action,
                previous_version: event.previous_version.as_ref(),
            },
        }
    }
}

/// OCSF Account Change `activity_id` and `activity_name` of a line.
fn activity(action: Option<Action>) -> (u32, &'static str) {
    match action {
        Some(Action::Create | Action::Apply | Action::Test | Action::Promote) => {
            (3, "Password Change")
        }
        Some(Action::Revoke) => (5, "Disable"),
        Some(Action::Demote) => (99, "Demote"),
        Some(Action::Retire) => (99, "Retire"),
        None => (99, "Decision"),
    }
}

/// OCSF `status_id` and `status`.
fn status(outcome: Outcome) -> (u32, &'static str) {
    match outcome {
        Outcome::Succeeded | Outcome::AlreadyDone => (1, "Success"),
        Outcome::Failed => (2, "Failure"),
        Outcome::Decided => (99, "Decided"),
    }
}

/// OCSF `severity_id` and `severity`.
fn severity(event: &AuditEvent) -> (u32, &'static str) {
    let anomaly = event.trigger == "anomaly";
    match (event.outcome, anomaly) {
        (Outcome::Failed, true) => (5, "Critical"),
        (Outcome::Failed, false) => (4, "High"),
        (_, true) => (3, "Medium"),
        (_, false) => (1, "Informational"),
    }
}

fn epoch_millis(time: OffsetDateTime) -> i64 {
    let millis = time.unix_timestamp_nanos() / 1_000_000;
    i64::try_from(millis).unwrap_or(i64::MAX)
}

/// A one-line summary; holds no value, only names and versions.
fn message(event: &AuditEvent) -> String {
    let credential = &event.credential;
    let mut message = match (event.action, event.decision, &event.version) {
        (Some(action), _, Some(version)) => format!(
            "{} of version {version} of {credential} {}",
            action.as_str(),
            event.outcome.as_str()
        ),
        (Some(action), _, None) => {
            format!(
                "{} of {credential} {}",
                action.as_str(),
                event.outcome.as_str()
            )
        }
        (None, Some(decision), _) => format!("decided to {decision} {credential}"),
        (None, None, _) => format!("{credential}: {}", event.outcome.as_str()),
    };
    if let Some(reason) = &event.reason {
        message.push_str(": ");
        message.push_str(reason);
    }
    message
}

/// Where audit events go.
pub trait AuditSink: Send + Sync {
    /// Records one event. Must not fail the caller: a sink that cannot write
    /// reports that through `tracing` and carries on.
    fn record(&self, event: &AuditEvent);
}

/// Writes each event as one JSON line to a writer (stdout in the functions,
/// where CloudWatch Logs picks it up).
pub struct JsonLines<W>(Mutex<W>);

impl<W: Write + Send> JsonLines<W> {
    /// Audit lines to `writer`.
    pub fn new(writer: W) -> Self {
        Self(Mutex::new(writer))
    }
}

impl JsonLines<std::io::Stdout> {
    /// Audit lines to standard output.
    pub fn stdout() -> Self {
        Self::new(std::io::stdout())
    }
}

impl<W: Write + Send> AuditSink for JsonLines<W> {
    fn record(&self, event: &AuditEvent) {
        let mut writer = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let written = serde_json::to_writer(&mut *writer, event)
            .map_err(std::io::Error::other)
            .and_then(|()| writer.write_all(b"\n"))
            .and_then(|()| writer.flush());
        if let Err(error) = written {
            tracing::error!(%error, "failed to write an audit event");
        }
    }
}

/// Keeps events in memory; for tests and for answers that list them.
#[derive(Debug, Default)]
pub struct MemoryAudit(Mutex<Vec<AuditEvent>>);

impl MemoryAudit {
    /// Every event recorded so far.
    pub fn events(&self) -> Vec<AuditEvent> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }
}

impl AuditSink for MemoryAudit {
    fn record(&self, event: &AuditEvent) {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(event.clone());
    }
}

/// Keeps the events recorded since the last [`Collector::drain`], so a
/// function can publish one invocation's events before it answers. Holds
/// at most its capacity ([`COLLECTOR_CAPACITY`] by default), dropping the
/// oldest past it, so a collector nobody drains cannot grow without bound.
#[derive(Debug)]
pub struct Collector {
    events: Mutex<VecDeque<AuditEvent>>,
    capacity: usize,
}

impl Default for Collector {
    fn default() -> Self {
        Self::with_capacity(COLLECTOR_CAPACITY)
    }
}

impl Collector {
    /// A collector that keeps at most `capacity` events (at least one).
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            events: Mutex::new(VecDeque::new()),
            capacity: capacity.max(1),
        }
    }

    /// Takes every event recorded since the last drain, oldest first.
    pub fn drain(&self) -> Vec<AuditEvent> {
        let mut events = self
            .events
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        events.drain(..).collect()
    }
}

impl AuditSink for Collector {
    fn record(&self, event: &AuditEvent) {
        let mut events = self
            .events
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if events.len() == self.capacity {
            events.pop_front();
            tracing::warn!(
                capacity = self.capacity,
                "audit collector full; dropped its oldest event"
            );
        }
        events.push_back(event.clone());
    }
}

/// Sends each event to several sinks.
pub struct Tee(pub Vec<std::sync::Arc<dyn AuditSink>>);

impl AuditSink for Tee {
    fn record(&self, event: &AuditEvent) {
        for sink in &self.0 {
            sink.record(event);
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};
    use time::macros::datetime;

    use super::*;
    use crate::Provider;

    fn promote() -> AuditEvent {
        AuditEvent {
            time: datetime!(2025-03-01 12:00:00.250 UTC),
            trigger: "schedule",
            credential: CredentialId::new(Provider::AwsSecretsManager, "arn:db"),
            decision: None,
            action: Some(Action::Promote),
            outcome: Outcome::Succeeded,
            version: Some(VersionId("v2".into())),
            previous_version: Some(VersionId("v1".into())),
            reason: None,
        }
    }

    fn line(event: &AuditEvent) -> Value {
        let text = serde_json::to_string(event).expect("serialises");
        assert!(!text.contains('\n'), "one line: {text}");
        serde_json::from_str(&text).expect("one JSON object")
    }

    #[test]
    fn a_promotion_is_a_successful_password_change() {
        let line = line(&promote());

        assert_eq!(line["class_uid"], 3001);
        assert_eq!(line["category_uid"], 3);
        assert_eq!(line["activity_id"], 3);
        assert_eq!(line["type_uid"], 300_103);
        assert_eq!(line["status_id"], 1);
        assert_eq!(line["severity_id"], 1);
        assert_eq!(line["time"], 1_740_830_400_250_i64);
        assert_eq!(line["time_dt"], "2025-03-01T12:00:00.25Z");
        assert_eq!(line["metadata"]["version"], OCSF_VERSION);
        assert_eq!(line["metadata"]["product"]["name"], "rekey");
        assert_eq!(line["metadata"]["product"]["vendor_name"], "rekey");
        assert_eq!(line["cloud"]["provider"], "AWS");
        assert_eq!(
            line["user"],
            json!({"uid": "aws-secrets-manager:arn:db", "name": "arn:db", "type_id": 99,
                   "type": "Machine Credential", "credential_uid": "v2"})
        );
        assert_eq!(
            line["message"],
            "promote of version v2 of aws-secrets-manager:arn:db succeeded"
        );
    }

    #[test]
    fn rekeys_own_fields_stay_at_the_top_level() {
        let line = line(&promote());

        assert_eq!(line["action"], "promote");
        assert_eq!(line["outcome"], "succeeded");
        assert_eq!(line["trigger"], "schedule");
        assert_eq!(line["credential"]["locator"], "arn:db");
        assert_eq!(line["credential"]["provider"], "aws-secrets-manager");
        assert_eq!(line["version"], "v2");
        assert_eq!(line["previous_version"], "v1");
        assert_eq!(
            line["unmapped"],
            json!({"trigger": "schedule", "action": "promote", "previous_version": "v1"})
        );
        assert!(line.get("decision").is_none() && line.get("reason").is_none());
    }

    #[test]
    fn each_action_and_outcome_maps_to_its_activity_and_status() {
        let cases = [
            (Some(Action::Create), Outcome::Failed, 3, 2, 4),
            (Some(Action::Test), Outcome::AlreadyDone, 3, 1, 1),
            (Some(Action::Revoke), Outcome::Succeeded, 5, 1, 1),
            (Some(Action::Demote), Outcome::Succeeded, 99, 1, 1),
            (Some(Action::Retire), Outcome::Succeeded, 99, 1, 1),
            (None, Outcome::Decided, 99, 99, 1),
        ];
        for (action, outcome, activity_id, status_id, severity_id) in cases {
            let mut event = promote();
            event.action = action;
            event.outcome = outcome;

            let line = line(&event);

            assert_eq!(line["activity_id"], activity_id, "{action:?}");
            assert_eq!(line["type_uid"], 300_100 + activity_id, "{action:?}");
            assert_eq!(line["status_id"], status_id, "{action:?} {outcome:?}");
            assert_eq!(line["severity_id"], severity_id, "{action:?} {outcome:?}");
        }
    }

    #[test]
    fn anomalies_raise_the_severity() {
        let mut event = promote();
        event.trigger = "anomaly";
        event.action = Some(Action::Revoke);
        assert_eq!(line(&event)["severity_id"], 3);

        event.outcome = Outcome::Failed;
        event.reason = Some("access denied".into());
        let failed = line(&event);
        assert_eq!(failed["severity_id"], 5);
        assert_eq!(failed["status_detail"], "access denied");
        assert!(
            failed["message"]
                .as_str()
                .is_some_and(|m| m.ends_with("failed: access denied"))
        );
    }

    #[test]
    fn a_decision_line_is_an_other_activity_with_its_reason() {
        let event = AuditEvent {
            decision: Some("rotate"),
            action: None,
            outcome: Outcome::Decided,
            previous_version: None,
            reason: Some("the current value reached its maximum age".into()),
            credential: CredentialId::new(Provider::Local, "payments/db"),
            ..promote()
        };

        let line = line(&event);

        assert_eq!(line["activity_name"], "Decision");
        assert_eq!(line["status"], "Decided");
        assert_eq!(line["decision"], "rotate");
        assert_eq!(line["unmapped"]["decision"], "rotate");
        assert_eq!(
            line["message"],
            "decided to rotate local:payments/db: the current value reached its maximum age"
        );
        assert!(line.get("cloud").is_none());
        assert_eq!(line["metadata"]["profiles"], json!(["datetime"]));
    }

    #[test]
    fn a_collector_hands_over_each_event_once() {
        let collector = Collector::with_capacity(2);
        for version in ["v1", "v2", "v3"] {
            let mut event = promote();
            event.version = Some(VersionId(version.into()));
            collector.record(&event);
        }

        let drained = collector.drain();

        let versions: Vec<_> = drained.iter().filter_map(|e| e.version.clone()).collect();
        assert_eq!(versions, [VersionId("v2".into()), VersionId("v3".into())]);
        assert!(collector.drain().is_empty());
    }
}
