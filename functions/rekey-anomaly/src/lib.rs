//! `rekey-anomaly`: the anomaly function. A finding that a credential
//! leaked or is misused wakes it; it revokes and rotates what the finding
//! names, as the credential's policy says (`on_anomaly`).
//!
//! Two kinds of input reach it:
//!
//! - EventBridge events: AWS Health `AWS_RISK_*` credential events and
//!   GuardDuty `AccessKey` findings ([`handle_event`]);
//! - webhooks, through a Lambda function URL or `rekey serve`: GitHub
//!   secret scanning alerts at [`GITHUB_PATH`] and rekey's own signed format
//!   at [`SIGNED_PATH`] ([`handle_webhook`]). Each is authenticated before
//!   its body is parsed.
//!
//! [`handle`] takes either (the Lambda entry point and `rekey invoke` call
//! it); [`handle_webhook`] is transport-neutral, for any HTTP server.
//! [`AnomalyFunction`] wraps both as a [`rekey_http::Function`]: `main.rs`
//! serves it on Lambda or over HTTP (Cloud Run, Azure Functions), and
//! `rekey serve` mounts its [`AnomalyFunction::routes`]. A
//! redelivery is dropped through [`rekey_core::Engine::first_sighting`], and
//! nothing answered or logged ever holds a secret value.
//!
//! ```no_run
//! # async fn run(app: &rekey_app::App) -> anyhow::Result<()> {
//! use rekey_anomaly::{WebhookConfig, handle_webhook};
//!
//! let engine = app.engine();
//! let config = WebhookConfig::resolve(app).await?;
//! let reply = handle_webhook(
//!     engine, &config, "/webhooks/signed", &http::HeaderMap::new(), b"{}", engine.now(),
//! )
//! .await;
//! assert!(reply.status >= 400); // unsigned, or the route is not configured
//! # Ok(())
//! # }
//! ```

mod act;
mod answer;
mod event;
mod fields;
mod function_url;
mod github;
mod github_api;
mod guardduty;
mod health;
mod routes;
mod signature;
mod signed;
#[cfg(test)]
mod tests;
mod webhook;

use rekey_core::Engine;
use serde::Serialize;
use serde_json::Value;

pub use answer::{AnomalyAnswer, AnomalyError, EventError};
pub use aws_lambda_events::apigw::ApiGatewayV2httpResponse;
pub use github::{AlertLookupError, SecretScanningAlerts};
pub use github_api::{
    DEFAULT_GITHUB_API_URL, GITHUB_API_URL_ENV, GITHUB_REQUEST_TIMEOUT, GITHUB_TOKEN_ENV,
    GitHubAlerts, GitHubSetupError,
};
pub use health::RISK_EVENT_TYPES;
pub use routes::AnomalyFunction;
pub use signature::{github_signature, signed_webhook_signature};
pub use signed::REPLAY_WINDOW;
pub use webhook::{
    GITHUB_PATH, GITHUB_SECRET_ENV, MAX_WEBHOOK_BODY, SIGNED_PATH, SIGNED_SECRET_ENV,
    WebhookConfig, WebhookReply, WebhookSecrets, handle_webhook,
};

/// What the function answers: an EventBridge event gets an
/// [`AnomalyAnswer`], a function URL request an HTTP response.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Answer {
    /// The answer to an EventBridge event.
    Event(AnomalyAnswer),
    /// The response to a function URL request (payload format 2.0).
    FunctionUrl(Box<ApiGatewayV2httpResponse>),
}

impl From<AnomalyError> for lambda_runtime::Diagnostic {
    fn from(error: AnomalyError) -> Self {
        Self {
            error_type: error.error_type(),
            error_message: error.to_string(),
        }
    }
}

/// Handles one invocation: a function URL request (it has
/// `requestContext.http`) goes to [`handle_webhook`] and is answered with
/// an HTTP response, errors included (only a request that does not parse
/// as one is refused); anything else goes to [`handle_event`].
pub async fn handle(
    engine: &Engine,
    config: &WebhookConfig,
    payload: Value,
) -> Result<Answer, AnomalyError> {
    if function_url::is_request(&payload) {
        let response = function_url::handle(engine, config, payload).await?;
        return Ok(Answer::FunctionUrl(Box::new(response)));
    }
    Ok(Answer::Event(handle_event(engine, payload).await?))
}

/// Handles one EventBridge event: an AWS Health credential risk event or a
/// GuardDuty access key finding. Other events are answered
/// [`AnomalyAnswer::Ignored`] with the reason; a payload that is not an
/// EventBridge event at all is refused.
pub async fn handle_event(engine: &Engine, payload: Value) -> Result<AnomalyAnswer, AnomalyError> {
    let parsed = event::parse(payload)?;
    let answer = act::act(engine, parsed).await?;

    answer.log();
    Ok(answer)
}
