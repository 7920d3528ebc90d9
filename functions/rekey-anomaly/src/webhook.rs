//! Webhooks over any HTTP transport: routing, size limits, replies.
//!
//! [`handle_webhook`] takes what every server has (path, headers, body
//! bytes, the time) and answers a status and a JSON body. Each request is
//! checked in this order, and the first failure answers: the route exists
//! and has a secret (404), the body is within [`MAX_WEBHOOK_BODY`] by its
//! declared and actual length (413), its signature checks (401), then its
//! headers and JSON (400). A refused request changes nothing and its reply
//! never repeats the body.

use std::sync::Arc;

use http::HeaderMap;
use rekey_core::{Engine, SecretValue};
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::answer::{engine_error_status, engine_error_type};
use crate::github::{self, SecretScanningAlerts};
use crate::{AnomalyAnswer, signed};

/// The largest webhook body accepted, in bytes (64 KiB). A GitHub secret
/// scanning delivery is a few KiB. `rekey serve` enforces it at the HTTP
/// layer too.
pub const MAX_WEBHOOK_BODY: usize = 64 * 1024;

/// The path of the GitHub secret scanning webhook.
pub const GITHUB_PATH: &str = "/webhooks/github";
/// The path of rekey's own signed webhook.
pub const SIGNED_PATH: &str = "/webhooks/signed";

/// The environment variable holding the GitHub webhook's secret.
pub const GITHUB_SECRET_ENV: &str = "REKEY_GITHUB_WEBHOOK_SECRET";
/// The environment variable holding the signed webhook's secret.
pub const SIGNED_SECRET_ENV: &str = "REKEY_SIGNED_WEBHOOK_SECRET";

/// The shared secrets webhooks are signed with. A route whose secret is
/// unset is disabled.
#[derive(Clone, Debug, Default)]
pub struct WebhookSecrets {
    /// The secret set on the GitHub webhook.
    pub github: Option<SecretValue>,
    /// The secret shared with your own detectors.
    pub signed: Option<SecretValue>,
}

/// What the webhook routes need from configuration.
#[derive(Clone, Default)]
pub struct WebhookConfig {
    /// The routes' secrets.
    pub secrets: WebhookSecrets,
    /// Where GitHub alerts' leaked values are read from. GitHub's delivery
    /// does not carry the value; without this, alerts are acknowledged
    /// and not acted on.
    pub github_alerts: Option<Arc<dyn SecretScanningAlerts>>,
}

impl WebhookConfig {
    /// The webhook secrets and GitHub token from the environment, each as
    /// its value or, in a deployment, as the ARN of the Secrets Manager
    /// secret holding it (`REKEY_GITHUB_WEBHOOK_SECRET_ARN`, …), read now
    /// through `app` ([`rekey_app::App::env_secret`]).
    pub async fn resolve(app: &rekey_app::App) -> anyhow::Result<Self> {
        let secrets = WebhookSecrets {
            github: app.env_secret(GITHUB_SECRET_ENV).await?,
            signed: app.env_secret(SIGNED_SECRET_ENV).await?,
        };
        let token = app.env_secret(crate::GITHUB_TOKEN_ENV).await?;
        Ok(Self::with_github_token(secrets, token)?)
    }

    /// The routes' `secrets` and, with a GitHub `token`, API access to read
    /// alerts' values from the API at `REKEY_GITHUB_API_URL` (github.com by
    /// default). A deployment resolves the three from Secrets Manager at
    /// cold start (`rekey_app::App::env_secret`).
    pub fn with_github_token(
        secrets: WebhookSecrets,
        token: Option<SecretValue>,
    ) -> Result<Self, crate::GitHubSetupError> {
        let Some(token) = token else {
            return Ok(secrets.into());
        };
        let alerts = crate::GitHubAlerts::at_env_api_url(&token)?;
        Ok(Self {
            secrets,
            github_alerts: Some(Arc::new(alerts)),
        })
    }
}

impl From<WebhookSecrets> for WebhookConfig {
    fn from(secrets: WebhookSecrets) -> Self {
        Self {
            secrets,
            github_alerts: None,
        }
    }
}

impl std::fmt::Debug for WebhookConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookConfig")
            .field("secrets", &self.secrets)
            .field("github_alerts", &self.github_alerts.is_some())
            .finish()
    }
}

/// An HTTP answer: a status and a JSON body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookReply {
    /// The HTTP status.
    pub status: u16,
    /// The JSON body: an [`AnomalyAnswer`], or `{"errorType", "errorMessage"}`.
    pub body: Value,
}

impl WebhookReply {
    /// An error reply; `message` must not hold a secret value.
    pub fn error(status: u16, error_type: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        Self {
            status,
            body: json!({"errorType": error_type, "errorMessage": message}),
        }
    }

    fn answer(answer: &AnomalyAnswer) -> Self {
        match serde_json::to_value(answer) {
            Ok(body) => Self {
                status: answer.status(),
                body,
            },
            Err(_) => Self::error(500, "Rekey.Internal", "failed to encode the answer"),
        }
    }
}

/// Why a webhook request was refused or failed.
#[derive(Debug)]
pub(crate) enum Rejection {
    /// The signature or timestamp does not check (401).
    Unauthorized(&'static str),
    /// A header or the body is malformed (400).
    Invalid(String),
    /// A dependency failed; trying again may help (503).
    Unavailable(String),
    /// A dependency refused for good (a rejected token, an unknown alert):
    /// retrying the same delivery cannot help until it is fixed (502).
    Upstream(String),
    /// The engine failed while acting.
    Engine(rekey_core::EngineError),
}

impl Rejection {
    fn reply(&self) -> WebhookReply {
        match self {
            Self::Unauthorized(why) => WebhookReply::error(401, "Rekey.Unauthorized", *why),
            Self::Invalid(why) => WebhookReply::error(400, "Rekey.InvalidEvent", why.clone()),
            Self::Unavailable(why) => WebhookReply::error(503, "Rekey.Retryable", why.clone()),
            Self::Upstream(why) => WebhookReply::error(502, "Rekey.UpstreamRefused", why.clone()),
            Self::Engine(error) => WebhookReply::error(
                engine_error_status(error),
                &engine_error_type(error),
                error.to_string(),
            ),
        }
    }
}

/// Answers one webhook request to `path` with `headers` and the raw
/// `body`, at time `now` (for the signed webhook's replay window).
pub async fn handle_webhook(
    engine: &Engine,
    config: &WebhookConfig,
    path: &str,
    headers: &HeaderMap,
    body: &[u8],
    now: OffsetDateTime,
) -> WebhookReply {
    let (secret, variable) = match path {
        GITHUB_PATH => (config.secrets.github.as_ref(), GITHUB_SECRET_ENV),
        SIGNED_PATH => (config.secrets.signed.as_ref(), SIGNED_SECRET_ENV),
        _ => {
            let message =
                format!("no webhook here; the routes are {GITHUB_PATH} and {SIGNED_PATH}");
            return WebhookReply::error(404, "Rekey.NotFound", message);
        }
    };
    let Some(secret) = secret else {
        let message = format!("the webhook {path} is not enabled: {variable} is not set");
        return WebhookReply::error(404, "Rekey.NotFound", message);
    };
    if let Some(reply) = too_large(headers, body.len()) {
        return reply;
    }

    let result = match path {
        GITHUB_PATH => github::handle(engine, config, secret, headers, body).await,
        _ => signed::handle(engine, secret, headers, body, now).await,
    };
    match result {
        Ok(answer) => {
            answer.log();
            WebhookReply::answer(&answer)
        }
        Err(rejection) => {
            tracing::warn!(%path, ?rejection, "webhook refused");
            rejection.reply()
        }
    }
}

/// A 413 reply when the declared `Content-Length` or the body's actual
/// length is over [`MAX_WEBHOOK_BODY`].
pub(crate) fn too_large(headers: &HeaderMap, actual: usize) -> Option<WebhookReply> {
    let declared = headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let over = |n: u64| n > MAX_WEBHOOK_BODY as u64;
    if declared.is_some_and(over) || over(actual as u64) {
        let message = format!("the body is over the {MAX_WEBHOOK_BODY}-byte limit");
        return Some(WebhookReply::error(413, "Rekey.PayloadTooLarge", message));
    }
    None
}

/// The value of header `name` as text, if present and visible ASCII.
pub(crate) fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}
