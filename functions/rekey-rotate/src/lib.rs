//! `rekey-rotate`: the rotation function, backed by the rekey engine. The
//! stores' own rotation signals reach it:
//!
//! - **AWS Secrets Manager** invokes it once per step (`createSecret`,
//!   `setSecret`, `testSecret`, `finishSecret`) with the secret and the
//!   version being rotated in. [`handle`] parses the event strictly
//!   ([`parse`]), runs the step through [`rekey_core::Engine::step`] and
//!   answers with what it did.
//! - **GCP Secret Manager** `SECRET_ROTATE` notifications, pushed by a
//!   Pub/Sub subscription to `POST` [`GCP_SECRET_MANAGER_PATH`].
//! - **Azure Key Vault** `SecretNearExpiry` / `SecretExpired` events,
//!   delivered by Event Grid to `POST` [`AZURE_EVENT_GRID_PATH`] (and its
//!   `OPTIONS` handshake), in the Event Grid or the CloudEvents schema.
//!
//! [`RotateFunction`] holds the engine's [`rekey_http::Host`] and the
//! routes' settings ([`RotateSettings`]); it is a [`rekey_http::Function`],
//! so `main.rs` serves it on Lambda or over HTTP, and `rekey serve` mounts
//! its [`RotateFunction::routes`]. A notice is acted on once per delivery
//! and only while it is news ([`NoticeAnswer`] says what was done).

mod event;
mod event_grid;
mod fields;
mod notice;
mod pubsub;
mod routes;
#[cfg(test)]
mod tests;

use async_trait::async_trait;
use http::HeaderMap;
use rekey_core::{CredentialId, Engine, EngineError, Provider, Step, StepOutcome, VersionId};
use rekey_http::{FunctionError, Reply, answer_function_url, is_function_url_request};
use serde::Serialize;
use serde_json::Value;

pub use event::{EventError, RotationRequest, parse};
pub use event_grid::{EXPIRY_EVENTS, VALIDATION_EVENT};
pub use fields::Malformed;
pub use notice::NoticeAnswer;
pub use pubsub::SECRET_ROTATE;
pub use routes::{
    AZURE_EVENT_GRID_PATH, EVENT_GRID_SECRET_ENV, EVENT_GRID_SECRET_HEADER,
    GCP_SECRET_MANAGER_PATH, MAX_EVENT_GRID_BODY, MAX_PUSH_BODY, RotateFunction, RotateSettings,
};

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

#[async_trait]
impl rekey_http::Function for RotateFunction {
    /// A function URL request goes to [`RotateFunction::routes`]; a bare
    /// Pub/Sub push envelope or Event Grid delivery (no headers) to its
    /// route's handler; anything else is a Secrets Manager step.
    async fn invoke(&self, payload: Value) -> Result<Value, FunctionError> {
        let answer = self.dispatch(payload).await;
        self.host().finish().await;
        answer
    }

    fn routes(&self) -> axum::Router {
        RotateFunction::routes(self)
    }
}

impl RotateFunction {
    async fn dispatch(&self, payload: Value) -> Result<Value, FunctionError> {
        if is_function_url_request(&payload) {
            let response = answer_function_url(self.routes(), payload).await?;
            return to_json(&response);
        }
        let headers = HeaderMap::new();
        if is_push_envelope(&payload) {
            let body = payload.to_string();
            return reply_result(self.secret_manager_push(&headers, body.as_bytes()).await);
        }
        if is_event_grid_delivery(&payload) {
            let body = payload.to_string();
            return reply_result(self.event_grid(&headers, body.as_bytes()).await);
        }
        match handle(self.host().engine(), payload).await {
            Ok(answer) => to_json(&answer),
            Err(error) => Err(FunctionError::new(error.error_type(), &error)),
        }
    }
}

/// Whether `payload` is a Pub/Sub push envelope.
pub fn is_push_envelope(payload: &Value) -> bool {
    payload.get("message").is_some() && payload.get("subscription").is_some()
}

/// Whether `payload` is an Event Grid delivery: an array of events, or
/// one CloudEvent.
pub fn is_event_grid_delivery(payload: &Value) -> bool {
    payload.is_array() || payload.get("specversion").is_some()
}

fn reply_result(reply: Reply) -> Result<Value, FunctionError> {
    match reply.is_success() {
        true => Ok(reply.body),
        false => Err(FunctionError::from_reply(&reply)),
    }
}

fn to_json(answer: &impl Serialize) -> Result<Value, FunctionError> {
    serde_json::to_value(answer).map_err(|e| FunctionError::new("Rekey.Internal", &e))
}
