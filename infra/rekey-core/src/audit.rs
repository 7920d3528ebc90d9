//! Audit events: one JSON line per decision and per action.
//!
//! An audit event names the credential, the trigger, the decision or the
//! action, its outcome and the versions involved. It has no field that could
//! hold a secret value: values are never passed to it.

use std::io::Write;
use std::sync::Mutex;

use serde::Serialize;
use time::OffsetDateTime;

use crate::{CredentialId, VersionId};

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

/// One audit line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AuditEvent {
    /// When it happened.
    #[serde(with = "time::serde::rfc3339")]
    pub time: OffsetDateTime,
    /// What woke the engine (`schedule`, `native-rotation`, `manual`).
    pub trigger: &'static str,
    /// The credential.
    pub credential: CredentialId,
    /// The decision, on decision lines: `rotate`, `retire`, `skip`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decision: Option<&'static str>,
    /// The action, on action lines.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<Action>,
    /// How it ended.
    pub outcome: Outcome,
    /// The version acted on (the new one, in a rotation).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<VersionId>,
    /// The version it replaces, in a rotation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_version: Option<VersionId>,
    /// Why: the decision's reason or the failure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
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

/// Sends each event to several sinks.
pub struct Tee(pub Vec<std::sync::Arc<dyn AuditSink>>);

impl AuditSink for Tee {
    fn record(&self, event: &AuditEvent) {
        for sink in &self.0 {
            sink.record(event);
        }
    }
}
