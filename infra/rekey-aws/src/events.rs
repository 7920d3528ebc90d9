//! rekey's own events on EventBridge: what other systems may react to.
//!
//! [`EventBridgePublisher::publish`] turns the audit events of one
//! invocation into EventBridge events with the source [`SOURCE`] (`rekey`)
//! and one of three detail types, and sends them with `PutEvents`, ten
//! entries per call. The detail is the audit event's JSON line (an OCSF
//! Account Change event with rekey's fields; it never holds a secret):
//!
//! | detail-type | audit event |
//! |---|---|
//! | [`ROTATION_COMPLETED`] `Rotation Completed` | action `promote`, outcome `succeeded` |
//! | [`ROTATION_FAILED`] `Rotation Failed` | action `create`, `apply`, `test` or `promote`, outcome `failed` |
//! | [`CREDENTIAL_REVOKED`] `Credential Revoked` | action `revoke`, outcome `succeeded` |
//!
//! Every other audit event (decisions, `demote`, `retire`, repeats that
//! changed nothing) is not published. A credential whose locator is an
//! ARN is the event's `resources`, so rules can match on it. Entries
//! EventBridge refuses (throttling, an internal failure) are sent again
//! twice before [`publish`](EventBridgePublisher::publish) reports them.
//! A rule such as `{"source": ["rekey"], "detail-type": ["Rotation
//! Failed"]}` on the bus routes them. How a function collects one
//! invocation's events is told in `rekey_core::audit`.

use std::time::Duration;

use aws_sdk_eventbridge::Client;
use aws_sdk_eventbridge::primitives::DateTime;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use rekey_core::audit::{Action, AuditEvent, Outcome};

use crate::error::AwsError;

/// The source of every event rekey publishes.
pub const SOURCE: &str = "rekey";
/// A rotation promoted its new value.
pub const ROTATION_COMPLETED: &str = "Rotation Completed";
/// A step of a rotation failed; the current value is untouched.
pub const ROTATION_FAILED: &str = "Rotation Failed";
/// A value was made unusable after an anomaly.
pub const CREDENTIAL_REVOKED: &str = "Credential Revoked";

/// The most entries one `PutEvents` call takes.
const BATCH: usize = 10;
/// How many times entries EventBridge refused are sent again.
const RETRIES: u32 = 2;
/// The pause before the first retry; doubled for the next.
const BACKOFF: Duration = Duration::from_millis(100);

/// Why events could not be published.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PublishError {
    /// EventBridge was unreachable, throttled or failing; retry later.
    #[error("event bus unavailable, retry later: {0}")]
    Unavailable(String),
    /// EventBridge refused the call (permissions, no such bus).
    #[error("failed to publish events: {0}")]
    Rejected(String),
    /// Some entries were still refused after the retries.
    #[error("{failed} of {total} events were not published; the first refusal: {code}")]
    Refused {
        /// Entries not published.
        failed: usize,
        /// Entries meant to be published.
        total: usize,
        /// The first refused entry's error code and message.
        code: String,
    },
}

impl From<AwsError> for PublishError {
    fn from(error: AwsError) -> Self {
        match error {
            AwsError::Unavailable(description) => Self::Unavailable(description),
            other => Self::Rejected(other.to_string()),
        }
    }
}

/// The EventBridge detail type of an audit event, if it is published.
pub fn detail_type(event: &AuditEvent) -> Option<&'static str> {
    match (event.action?, event.outcome) {
        (Action::Promote, Outcome::Succeeded) => Some(ROTATION_COMPLETED),
        (Action::Revoke, Outcome::Succeeded) => Some(CREDENTIAL_REVOKED),
        (action, Outcome::Failed) if action.is_rotation_step() => Some(ROTATION_FAILED),
        _ => None,
    }
}

/// Publishes rekey's events on one EventBridge bus.
#[derive(Clone, Debug)]
pub struct EventBridgePublisher {
    client: Client,
    bus: String,
}

impl EventBridgePublisher {
    /// A publisher to the bus named (or with the ARN) `bus`, reached as
    /// `config` says.
    pub fn new(config: &aws_config::SdkConfig, bus: impl Into<String>) -> Self {
        Self {
            client: Client::new(config),
            bus: bus.into(),
        }
    }

    /// Publishes one EventBridge event per audit event that has a detail
    /// type ([`detail_type`]); answers how many it published.
    pub async fn publish(&self, events: &[AuditEvent]) -> Result<usize, PublishError> {
        let entries = events
            .iter()
            .filter_map(|event| Some(self.entry(event, detail_type(event)?)))
            .collect::<Result<Vec<_>, _>>()?;
        let total = entries.len();

        let mut refused = Vec::new();
        for batch in entries.chunks(BATCH) {
            refused.extend(self.put_with_retries(batch.to_vec()).await?);
        }
        if let Some(code) = refused.first() {
            return Err(PublishError::Refused {
                failed: refused.len(),
                total,
                code: code.clone(),
            });
        }
        tracing::debug!(bus = %self.bus, published = total, "published events");
        Ok(total)
    }

    fn entry(
        &self,
        event: &AuditEvent,
        detail_type: &str,
    ) -> Result<PutEventsRequestEntry, PublishError> {
        let detail = serde_json::to_string(event)
            .map_err(|e| PublishError::Rejected(format!("failed to serialise an event: {e}")))?;
        let time =
            DateTime::from_secs_and_nanos(event.time.unix_timestamp(), event.time.nanosecond());
        let resources = event
            .credential
            .locator
            .starts_with("arn:")
            .then(|| vec![event.credential.locator.clone()]);
        Ok(PutEventsRequestEntry::builder()
            .event_bus_name(&self.bus)
            .source(SOURCE)
            .detail_type(detail_type)
            .detail(detail)
            .time(time)
            .set_resources(resources)
            .build())
    }

    /// Sends `batch` and again the entries refused, up to [`RETRIES`]
    /// times; answers the refusals left.
    async fn put_with_retries(
        &self,
        mut batch: Vec<PutEventsRequestEntry>,
    ) -> Result<Vec<String>, PublishError> {
        let mut pause = BACKOFF;
        for attempt in 0..=RETRIES {
            let refused = self.put(&batch).await?;
            if refused.is_empty() || attempt == RETRIES {
                return Ok(refused.into_iter().map(|(_, code)| code).collect());
            }
            tracing::warn!(
                refused = refused.len(),
                attempt,
                "EventBridge refused entries; retrying"
            );
            batch = refused.into_iter().map(|(entry, _)| entry).collect();
            tokio::time::sleep(pause).await;
            pause *= 2;
        }
        Ok(Vec::new())
    }

    /// One `PutEvents` call; answers the entries refused with their codes.
    async fn put(
        &self,
        batch: &[PutEventsRequestEntry],
    ) -> Result<Vec<(PutEventsRequestEntry, String)>, PublishError> {
        let output = self
            .client
            .put_events()
            .set_entries(Some(batch.to_vec()))
            .send()
            .await
            .map_err(|e| PublishError::from(AwsError::of("put events", &e)))?;
        if output.failed_entry_count() == 0 {
            return Ok(Vec::new());
        }

        // Results come in request order; a refused entry has an error code.
        let refused = batch
            .iter()
            .zip(output.entries())
            .filter_map(|(entry, result)| {
                let code = result.error_code()?;
                let message = result.error_message().unwrap_or("no message");
                Some((entry.clone(), format!("{code}: {message}")))
            })
            .collect();
        Ok(refused)
    }
}

#[cfg(test)]
mod tests {
    use rekey_core::{CredentialId, Provider, VersionId};
    use time::OffsetDateTime;

    use super::*;

    fn event(action: Option<Action>, outcome: Outcome) -> AuditEvent {
        AuditEvent {
            time: OffsetDateTime::UNIX_EPOCH,
            trigger: "schedule",
            credential: CredentialId::new(Provider::AwsSecretsManager, "arn:aws:secretsmanager:x"),
            decision: None,
            action,
            outcome,
            version: Some(VersionId("v2".into())),
            previous_version: None,
            reason: None,
        }
    }

    #[test]
    fn promotions_failures_and_revocations_are_published() {
        let published = [
            (
                Some(Action::Promote),
                Outcome::Succeeded,
                Some(ROTATION_COMPLETED),
            ),
            (
                Some(Action::Revoke),
                Outcome::Succeeded,
                Some(CREDENTIAL_REVOKED),
            ),
            (Some(Action::Create), Outcome::Failed, Some(ROTATION_FAILED)),
            (Some(Action::Test), Outcome::Failed, Some(ROTATION_FAILED)),
            (
                Some(Action::Promote),
                Outcome::Failed,
                Some(ROTATION_FAILED),
            ),
        ];
        let quiet = [
            (Some(Action::Promote), Outcome::AlreadyDone, None),
            (Some(Action::Create), Outcome::Succeeded, None),
            (Some(Action::Retire), Outcome::Succeeded, None),
            (Some(Action::Demote), Outcome::Failed, None),
            (None, Outcome::Decided, None),
        ];

        for (action, outcome, expected) in published.into_iter().chain(quiet) {
            assert_eq!(
                detail_type(&event(action, outcome)),
                expected,
                "{action:?} {outcome:?}"
            );
        }
    }
}
