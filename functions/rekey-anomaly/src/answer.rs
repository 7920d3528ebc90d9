//! What the function answers, and why it refuses.

use rekey_core::anomaly::Response;
use rekey_core::{EngineError, ErrorClass, SessionRevocation};
use serde::Serialize;

/// What the function did about one event or delivery. Never holds a
/// secret value: credentials are named by id and versions by version id.
#[derive(Debug, Serialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum AnomalyAnswer {
    /// The engine revoked, rotated or retired the credentials the finding
    /// names, as their policies say.
    Responded {
        /// Who reported the finding.
        source: String,
        /// The finding's id.
        finding: String,
        /// One entry per credential version the finding names.
        responses: Vec<Response>,
    },
    /// The finding names nothing rekey manages: acknowledged, nothing changed.
    Unmatched {
        /// Who reported the finding.
        source: String,
        /// The finding's id.
        finding: String,
    },
    /// The finding is about a role's temporary credentials: sessions issued
    /// before now were revoked, or left alone if rekey does not manage the role.
    RoleSessions {
        /// Who reported the finding.
        source: String,
        /// The finding's id.
        finding: String,
        /// The IAM role's name.
        role: String,
        /// `revoked` or `not-managed`.
        revocation: SessionRevocation,
    },
    /// A delivery already handled: nothing was done again.
    Duplicate {
        /// Who reported the finding.
        source: String,
        /// The finding's id.
        finding: String,
    },
    /// Not something rekey acts on; acknowledged so it is not retried.
    Ignored {
        /// Why.
        reason: String,
    },
    /// A GitHub `ping`: the webhook reaches rekey and its signature checks.
    Pong,
}

impl AnomalyAnswer {
    /// The HTTP status a webhook answers with: 202 for an ignored delivery,
    /// 200 otherwise.
    pub fn status(&self) -> u16 {
        match self {
            Self::Ignored { .. } => 202,
            _ => 200,
        }
    }

    /// Logs the outcome: one info line, with ids and counts only.
    pub(crate) fn log(&self) {
        match self {
            Self::Responded {
                source,
                finding,
                responses,
            } => {
                let rotated = responses.iter().filter(|r| r.rotated.is_some()).count();
                tracing::info!(%source, %finding, credentials = responses.len(), rotated, "anomaly responded");
            }
            Self::Unmatched { source, finding } => {
                tracing::info!(%source, %finding, "anomaly names no managed credential");
            }
            Self::RoleSessions {
                source,
                finding,
                role,
                revocation,
            } => {
                tracing::info!(%source, %finding, %role, ?revocation, "role sessions revoked");
            }
            Self::Duplicate { source, finding } => {
                tracing::info!(%source, %finding, "duplicate delivery dropped");
            }
            Self::Ignored { reason } => tracing::info!(%reason, "event ignored"),
            Self::Pong => tracing::info!("webhook ping"),
        }
    }
}

/// Why an EventBridge event or a function URL request was refused before
/// anything was touched. Names fields, never their values.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum EventError {
    /// The payload is neither an EventBridge event nor a function URL request.
    #[error("unrecognised payload: expected an EventBridge event or a Lambda function URL request")]
    Unrecognised,
    /// An event of a known source whose fields are missing or mistyped.
    #[error("malformed {event_source} event: {reason}")]
    Malformed {
        /// The event's source (`aws.health`, `aws.guardduty`, …).
        event_source: &'static str,
        /// What is wrong.
        reason: String,
    },
}

/// Why an invocation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AnomalyError {
    /// The event was refused before anything was touched.
    #[error(transparent)]
    InvalidEvent(#[from] EventError),
    /// The engine failed while acting on the finding.
    #[error(transparent)]
    Engine(#[from] EngineError),
}

impl AnomalyError {
    /// A stable error type for alarms: `Rekey.InvalidEvent`, or
    /// `Rekey.<class>` from [`EngineError::class`].
    pub fn error_type(&self) -> String {
        match self {
            Self::InvalidEvent(_) => "Rekey.InvalidEvent".into(),
            Self::Engine(error) => engine_error_type(error),
        }
    }
}

/// `Rekey.<class>` for an engine error.
pub(crate) fn engine_error_type(error: &EngineError) -> String {
    format!("Rekey.{}", error.class().as_str())
}

/// The HTTP status for an engine error: 503 when trying again may help,
/// 500 otherwise.
pub(crate) fn engine_error_status(error: &EngineError) -> u16 {
    match error.class() {
        ErrorClass::Retryable | ErrorClass::Conflict => 503,
        _ => 500,
    }
}
