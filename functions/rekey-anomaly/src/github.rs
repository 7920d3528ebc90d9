//! GitHub secret scanning alerts, delivered by webhook.
//!
//! GitHub signs each delivery with the webhook's secret:
//! `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(secret, body)>`; it names
//! the event in `X-GitHub-Event` and the delivery in `X-GitHub-Delivery`,
//! which a redelivery repeats (GitHub Docs, "Validating webhook
//! deliveries" and "Webhook events and payloads", `secret_scanning_alert`).
//!
//! The actions `created`, `reopened` and `publicly_leaked` are acted on;
//! `resolved`, `validated`, `assigned` and `unassigned` are acknowledged.
//! The delivery's `alert` names the alert (`number`, `secret_type`) but not
//! the leaked value: GitHub's webhook schema has no `secret` field, only
//! the REST API's "Get a secret scanning alert" returns it. That read is
//! the [`SecretScanningAlerts`] port; without it, alerts are acknowledged
//! and not acted on.

use async_trait::async_trait;
use http::HeaderMap;
use rekey_core::anomaly::Subject;
use rekey_core::{Engine, SecretValue};
use serde::Deserialize;

use crate::AnomalyAnswer;
use crate::act::{Action, Parsed, Target, act};
use crate::fields::{bounded, describe, is_access_key_id, is_printable};
use crate::signature::{parse_tag, verify};
use crate::webhook::{Rejection, WebhookConfig, header};

/// The source findings from GitHub are recorded under.
const SOURCE: &str = "github";

/// The alert actions that mean a value is exposed.
const EXPOSING_ACTIONS: &[&str] = &["created", "reopened", "publicly_leaked"];

/// GitHub's secret types whose value is an AWS access key id.
const KEY_ID_TYPES: &[&str] = &["aws_access_key_id"];

/// Reads the leaked value of a secret scanning alert.
#[async_trait]
pub trait SecretScanningAlerts: Send + Sync {
    /// The value alert `number` of `repository` (`owner/name`) found, as
    /// GitHub's REST API returns it in the alert's `secret`; `None` if the
    /// alert has none.
    async fn leaked_secret(
        &self,
        repository: &str,
        number: u64,
    ) -> Result<Option<SecretValue>, AlertLookupError>;
}

/// Why an alert's value could not be read. No message holds a token or a
/// leaked value.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AlertLookupError {
    /// GitHub could not be reached or failed (a 5xx answer, a timeout); the
    /// delivery may be retried.
    #[error("failed to read the secret scanning alert: {0}")]
    Unavailable(String),
    /// GitHub's rate limit is exceeded (403 or 429 with
    /// `x-ratelimit-remaining: 0`, `retry-after` or a rate limit message);
    /// the delivery may be retried after `retry_after`.
    #[error("the GitHub API rate limit is exceeded; retry in {}s", retry_after.as_secs())]
    RateLimited {
        /// How long GitHub asks to wait: `retry-after`, else until
        /// `x-ratelimit-reset`, else a minute.
        retry_after: std::time::Duration,
    },
    /// The repository is not `owner/name` in GitHub's characters; nothing
    /// was requested.
    #[error("the repository must be owner/name of letters, digits, `-`, `_` and `.`")]
    InvalidRepository,
    /// GitHub has no such alert, secret scanning is disabled for the
    /// repository, or the token cannot see it (404).
    #[error(
        "secret scanning alert {repository}#{number} was not found (or secret scanning is off, or the token cannot see the repository)"
    )]
    AlertNotFound {
        /// The repository, `owner/name`.
        repository: String,
        /// The alert's number.
        number: u64,
    },
    /// GitHub refused the token (401): wrong, expired or revoked. The
    /// message is GitHub's, bounded.
    #[error("the GitHub token was refused (401): {0}")]
    TokenRejected(String),
    /// The token may not read the alert (403): it lacks the `repo` or
    /// `security_events` scope, the `secret_scanning_alerts` read
    /// permission, or admin rights on the repository.
    #[error("the GitHub token may not read secret scanning alerts (403): {0}")]
    AccessDenied(String),
    /// GitHub answered a status this client does not expect.
    #[error("unexpected answer from GitHub: HTTP {0}")]
    UnexpectedStatus(u16),
    /// GitHub answered 200 with a body that is not a secret scanning alert.
    #[error("the GitHub API answer is not a secret scanning alert: {0}")]
    MalformedAlert(String),
}

impl AlertLookupError {
    /// Whether trying again later may succeed: GitHub was unavailable or
    /// rate limited. The others need a fix first (token, permission,
    /// repository) or will not change.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Unavailable(_) | Self::RateLimited { .. })
    }
}

#[derive(Deserialize)]
struct Delivery {
    action: String,
    alert: Alert,
    repository: Repository,
}

#[derive(Deserialize)]
struct Alert {
    number: u64,
    #[serde(default)]
    secret_type: Option<String>,
}

#[derive(Deserialize)]
struct Repository {
    full_name: String,
}

/// Answers a GitHub delivery signed with `secret`.
pub(crate) async fn handle(
    engine: &Engine,
    config: &WebhookConfig,
    secret: &SecretValue,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<AnomalyAnswer, Rejection> {
    authenticate(secret, headers, body)?;
    let event = header(headers, "x-github-event")
        .ok_or_else(|| Rejection::Invalid("missing X-GitHub-Event header".into()))?;
    match event {
        "ping" => return Ok(AnomalyAnswer::Pong),
        "secret_scanning_alert" => {}
        other => {
            let reason = format!(
                "GitHub `{}` events are not secret scanning alerts",
                bounded(other)
            );
            return Ok(AnomalyAnswer::Ignored { reason });
        }
    }
    let delivery = header(headers, "x-github-delivery")
        .filter(|id| is_printable(id, 128))
        .ok_or_else(|| {
            Rejection::Invalid("missing or malformed X-GitHub-Delivery header".into())
        })?;

    let parsed = parse(config, body, delivery).await?;
    act(engine, parsed).await.map_err(Rejection::Engine)
}

/// Checks `X-Hub-Signature-256` against the raw body.
fn authenticate(secret: &SecretValue, headers: &HeaderMap, body: &[u8]) -> Result<(), Rejection> {
    let header = header(headers, "x-hub-signature-256").ok_or(Rejection::Unauthorized(
        "missing X-Hub-Signature-256 header",
    ))?;
    let tag = parse_tag(header, "sha256").ok_or(Rejection::Unauthorized(
        "X-Hub-Signature-256 must be sha256=<64 hex digits>",
    ))?;
    match verify(secret, &[body], &tag) {
        true => Ok(()),
        false => Err(Rejection::Unauthorized(
            "X-Hub-Signature-256 does not match the body",
        )),
    }
}

async fn parse(config: &WebhookConfig, body: &[u8], delivery: &str) -> Result<Parsed, Rejection> {
    let expected =
        "a secret_scanning_alert delivery needs action, alert.number and repository.full_name";
    let delivered: Delivery =
        serde_json::from_slice(body).map_err(|e| Rejection::Invalid(describe(&e, expected)))?;
    if !EXPOSING_ACTIONS.contains(&delivered.action.as_str()) {
        let reason = format!(
            "alert action `{}` exposes nothing new",
            bounded(&delivered.action)
        );
        return Ok(Parsed::Ignore(reason));
    }
    let repository = delivered.repository.full_name;
    if !is_printable(&repository, 256) {
        return Err(Rejection::Invalid(
            "repository.full_name must be 1 to 256 characters".into(),
        ));
    }

    let Some(alerts) = &config.github_alerts else {
        let reason = "GitHub's delivery does not carry the leaked value and no GitHub API access is configured to read it";
        return Ok(Parsed::Ignore(reason.into()));
    };
    let number = delivered.alert.number;
    let leaked = alerts
        .leaked_secret(&repository, number)
        .await
        .map_err(|e| match e.is_retryable() {
            true => Rejection::Unavailable(e.to_string()),
            false => Rejection::Upstream(e.to_string()),
        })?;
    let Some(leaked) = leaked else {
        return Ok(Parsed::Ignore("GitHub holds no value for the alert".into()));
    };

    Ok(Parsed::Act(Action {
        source: SOURCE.into(),
        finding: format!("{repository}#{number}"),
        delivery: format!("{SOURCE}:{delivery}"),
        target: Target::Subjects(vec![subject(
            delivered.alert.secret_type.as_deref(),
            leaked,
        )]),
    }))
}

/// What a leaked value names: an access key by its id when the value is
/// one, the value itself otherwise.
fn subject(secret_type: Option<&str>, leaked: SecretValue) -> Subject {
    let is_key_id =
        secret_type.is_some_and(|t| KEY_ID_TYPES.contains(&t)) || is_access_key_id(leaked.expose());
    match is_key_id {
        true => Subject::Identifier(leaked.expose().to_owned()),
        false => Subject::Value(leaked),
    }
}
