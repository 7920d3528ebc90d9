//! `rekey-rotate`: the rotation function Secrets Manager calls, backed by
//! the rekey engine.
//!
//! Secrets Manager invokes it once per step (`createSecret`, `setSecret`,
//! `testSecret`, `finishSecret`) with the secret and the version being
//! rotated in. [`handle`] parses the event strictly ([`parse`]), runs the
//! step through [`rekey_core::Engine::step`] and answers with what it did.
//! The Lambda entry point is `main.rs`; `rekey invoke rekey-rotate` calls
//! [`handle`] directly.

mod event;

use rekey_core::{CredentialId, Engine, EngineError, Provider, Step, StepOutcome, VersionId};
use serde::Serialize;

pub use event::{EventError, RotationRequest, parse};

/// What the function answers after a step.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StepAnswer {
    /// The step that ran.
    pub step: Step,
    /// The secret.
    pub secret_id: String,
    /// The version being rotated in.
    pub version: VersionId,
    /// `done`, or `already-done` when a repeat changed nothing.
    pub outcome: &'static str,
}

/// Why an invocation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RotateError {
    /// The event was refused before anything was touched.
    #[error(transparent)]
    InvalidEvent(#[from] EventError),
    /// The engine refused or failed the step.
    #[error(transparent)]
    Engine(#[from] EngineError),
}

impl RotateError {
    /// A stable error type for alarms: `Rekey.InvalidEvent`,
    /// `Rekey.Validation`, `Rekey.NotFound`, `Rekey.Conflict`,
    /// `Rekey.Retryable` or `Rekey.Failed`.
    pub fn error_type(&self) -> String {
        match self {
            Self::InvalidEvent(_) => "Rekey.InvalidEvent".into(),
            Self::Engine(error) => format!("Rekey.{}", error.class().as_str()),
        }
    }
}

impl From<RotateError> for lambda_runtime::Diagnostic {
    fn from(error: RotateError) -> Self {
        Self {
            error_type: error.error_type(),
            error_message: error.to_string(),
        }
    }
}

/// Runs the rotation step `payload` asks for.
pub async fn handle(
    engine: &Engine,
    payload: serde_json::Value,
) -> Result<StepAnswer, RotateError> {
    let request = parse(payload)?;
    let id = CredentialId::new(Provider::AwsSecretsManager, request.secret_id.clone());

    let outcome = engine
        .step(
            &id,
            request.step,
            &request.token,
            request.rotation_token.as_ref(),
        )
        .await?;

    tracing::info!(step = %request.step, secret = %id, version = %request.token, ?outcome, "rotation step");
    Ok(StepAnswer {
        step: request.step,
        secret_id: request.secret_id,
        version: request.token,
        outcome: match outcome {
            StepOutcome::Done => "done",
            StepOutcome::AlreadyDone => "already-done",
        },
    })
}
