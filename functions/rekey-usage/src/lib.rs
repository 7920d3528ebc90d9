//! `rekey-usage`: the usage function. It counts each use of a managed
//! credential, as CloudTrail reports it through EventBridge, and rotates
//! the credential once its policy's `max_uses` is reached.
//!
//! [`handle`] parses the event strictly ([`parse`]), drops a redelivery of
//! a CloudTrail record it already saw (by `eventID`, through
//! [`rekey_core::Engine::first_sighting`]), finds the managed credential
//! each use names and counts it with [`rekey_core::Engine::record_uses`],
//! which rotates exactly once at the maximum. It answers with a
//! [`UsageAnswer`]: what was counted, what was not and why, and whether a
//! rotation happened. An event about nothing rekey manages is acknowledged
//! and changes nothing.
//!
//! What counts (see [`parse`] for the details):
//!
//! - a successful `GetSecretValue` of a secret's current version counts
//!   against that secret. A name is resolved to the managed secret's ARN,
//!   so reads by name and by ARN share one counter and one rotation claim;
//! - any call signed with a long-term access key (`AKIA…`) counts against
//!   the managed secret whose current value holds that key, found with
//!   [`rekey_core::Engine::locate`]. A call with the previous key, still
//!   valid through its grace period, is not a use of the current value.
//!
//! Counting is at most once per record: the sighting is written before the
//! count, so a failure after it loses that record's use rather than
//! risking counting it twice.
//!
//! # Wiring
//!
//! Two EventBridge rules on the default bus target the function. Secret
//! reads are read-only management events, which EventBridge delivers only
//! to rules in the state `ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS`:
//!
//! ```json
//! {"source": ["aws.secretsmanager"], "detail-type": ["AWS API Call via CloudTrail"],
//!  "detail": {"eventSource": ["secretsmanager.amazonaws.com"], "eventName": ["GetSecretValue"]}}
//! {"detail-type": ["AWS API Call via CloudTrail"],
//!  "detail": {"userIdentity": {"accessKeyId": [{"prefix": "AKIA"}]}}}
//! ```
//!
//! rekey's own functions read secrets while they rotate them; those reads
//! must not count, or a fresh value would start near its maximum. Give
//! [`handle_with`] their role ARNs in [`Settings::ignored_principals`]
//! ([`Settings::from_env`] reads them from `REKEY_IGNORED_PRINCIPALS`), or exclude them
//! in the rules with `anything-but` on `detail.userIdentity.arn`.
//!
//! [`UsageFunction`] wraps [`handle_with`] as a [`rekey_http::Function`], so
//! `main.rs` serves it on Lambda or over HTTP (`POST /`).

mod event;
mod routes;

use rekey_core::anomaly::Subject;
use rekey_core::{
    CredentialId, Engine, EngineError, Provider, Stage, StoreError, UsageOutcome, VersionId,
};
use serde::Serialize;

pub use event::{ApiCall, DETAIL_TYPE, EventError, SECRETS_MANAGER, Use, parse};
pub use routes::UsageFunction;

/// What the function needs besides the engine.
#[derive(Clone, Debug, Default)]
pub struct Settings {
    /// ARNs, or ARN prefixes, of principals whose calls are not uses:
    /// rekey's own roles. Matched against the caller's ARN and its role
    /// session's role ARN.
    pub ignored_principals: Vec<String>,
}

/// The environment variable listing ignored principals, comma-separated.
pub const IGNORED_PRINCIPALS_ENV: &str = "REKEY_IGNORED_PRINCIPALS";

impl Settings {
    /// Settings from the environment: [`IGNORED_PRINCIPALS_ENV`].
    pub fn from_env() -> Self {
        let list = std::env::var(IGNORED_PRINCIPALS_ENV).unwrap_or_default();
        Self::from_list(&list)
    }

    /// Settings ignoring the comma-separated ARN prefixes in `list`;
    /// blank entries are dropped (an empty prefix would match everyone).
    pub fn from_list(list: &str) -> Self {
        let prefixes = list.split(',').map(str::trim).filter(|p| !p.is_empty());
        Self {
            ignored_principals: prefixes.map(str::to_owned).collect(),
        }
    }
}

/// What the function did with one event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// At least one use was counted.
    Counted,
    /// The record was seen before; nothing was counted again.
    Duplicate,
    /// Nothing in the event is a use of a managed credential.
    Ignored,
}

/// How a use was made.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Via {
    /// A `GetSecretValue` of the secret.
    SecretRead,
    /// A call signed with an access key the secret holds.
    AccessKey,
}

/// One use counted against a managed credential.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Counted {
    /// The credential.
    pub credential: CredentialId,
    /// How it was used.
    pub via: Via,
    /// The count and whether it rotated.
    pub usage: UsageOutcome,
}

/// One use that was not counted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NotCounted {
    /// How it was made.
    pub via: Via,
    /// The secret id or access key id the event names (public identifiers).
    pub subject: String,
    /// Why it was not counted.
    pub reason: String,
}

/// What the function answers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UsageAnswer {
    /// CloudTrail's `eventID`.
    pub event_id: String,
    /// The API call (`GetSecretValue`).
    pub event_name: String,
    /// Counted, duplicate or ignored.
    pub status: Status,
    /// The uses counted.
    pub counted: Vec<Counted>,
    /// The uses not counted, and why.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub not_counted: Vec<NotCounted>,
    /// Why the event as a whole was ignored, when it was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
    /// Whether a count reached its maximum and rotated the credential.
    pub rotated: bool,
}

impl UsageAnswer {
    fn of(call: &ApiCall, status: Status, reason: Option<&'static str>) -> Self {
        Self {
            event_id: call.event_id.clone(),
            event_name: call.event_name.clone(),
            status,
            counted: Vec::new(),
            not_counted: Vec::new(),
            reason,
            rotated: false,
        }
    }
}

/// Why an invocation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UsageError {
    /// The event was refused before anything was touched.
    #[error(transparent)]
    InvalidEvent(#[from] EventError),
    /// The engine, the store or the ledger failed.
    #[error(transparent)]
    Engine(#[from] EngineError),
}

impl UsageError {
    /// A stable error type for alarms: `Rekey.InvalidEvent` or
    /// `Rekey.<class>` of the engine's error.
    pub fn error_type(&self) -> String {
        match self {
            Self::InvalidEvent(_) => "Rekey.InvalidEvent".into(),
            Self::Engine(error) => format!("Rekey.{}", error.class().as_str()),
        }
    }
}

impl From<UsageError> for lambda_runtime::Diagnostic {
    fn from(error: UsageError) -> Self {
        Self {
            error_type: error.error_type(),
            error_message: error.to_string(),
        }
    }
}

/// Counts the uses in the CloudTrail event `payload`, with no principal
/// ignored.
pub async fn handle(
    engine: &Engine,
    payload: serde_json::Value,
) -> Result<UsageAnswer, UsageError> {
    handle_with(engine, &Settings::default(), payload).await
}

/// Counts the uses in the CloudTrail event `payload` as `settings` say.
pub async fn handle_with(
    engine: &Engine,
    settings: &Settings,
    payload: serde_json::Value,
) -> Result<UsageAnswer, UsageError> {
    let call = parse(payload)?;
    if let Some(answer) = ignored(&call, settings) {
        tracing::info!(event = %call.event_id, reason = answer.reason, "usage event ignored");
        return Ok(answer);
    }
    if !engine
        .first_sighting(&format!("cloudtrail:{}", call.event_id))
        .await?
    {
        tracing::info!(event = %call.event_id, "usage event already counted");
        return Ok(UsageAnswer::of(&call, Status::Duplicate, None));
    }

    let mut answer = UsageAnswer::of(&call, Status::Ignored, None);
    let mut targets: Vec<(CredentialId, Via)> = Vec::new();
    for used in &call.uses {
        match resolve(engine, used).await? {
            Ok(found) => {
                for id in found {
                    if !targets.iter().any(|(known, _)| known == &id) {
                        targets.push((id, via(used)));
                    }
                }
            }
            Err(reason) => answer.not_counted.push(NotCounted {
                via: via(used),
                subject: subject(used).to_owned(),
                reason,
            }),
        }
    }

    for (credential, via) in targets {
        count(engine, credential, via, &mut answer).await?;
    }
    finish(&mut answer);
    Ok(answer)
}

/// The answer for an event with nothing to count, if it is one.
fn ignored(call: &ApiCall, settings: &Settings) -> Option<UsageAnswer> {
    let reason = if call.uses.is_empty() {
        call.not_counted
            .unwrap_or("the call neither read a secret nor used a long-term access key")
    } else if call.principals.iter().any(|p| {
        settings
            .ignored_principals
            .iter()
            .any(|ignored| !ignored.is_empty() && p.starts_with(ignored.as_str()))
    }) {
        "the caller is an ignored principal"
    } else {
        return None;
    };
    Some(UsageAnswer::of(call, Status::Ignored, Some(reason)))
}

/// Counts one use of `credential`; a credential rekey does not manage is
/// noted, not counted.
async fn count(
    engine: &Engine,
    credential: CredentialId,
    via: Via,
    answer: &mut UsageAnswer,
) -> Result<(), EngineError> {
    match engine.record_uses(&credential, 1).await {
        Ok(usage) => answer.counted.push(Counted {
            credential,
            via,
            usage,
        }),
        Err(error @ (EngineError::NotManaged(_) | EngineError::InvalidPolicy { .. })) => {
            answer.not_counted.push(NotCounted {
                via,
                subject: credential.locator,
                reason: error.to_string(),
            });
        }
        Err(EngineError::Store(StoreError::CredentialNotFound(_))) => {
            answer.not_counted.push(NotCounted {
                via,
                subject: credential.locator,
                reason: "no such secret".into(),
            });
        }
        Err(error) => return Err(error),
    }
    Ok(())
}

fn finish(answer: &mut UsageAnswer) {
    answer.rotated = answer
        .counted
        .iter()
        .any(|c| matches!(c.usage, UsageOutcome::Rotated { .. }));
    if !answer.counted.is_empty() {
        answer.status = Status::Counted;
    }
    tracing::info!(
        event = %answer.event_id,
        name = %answer.event_name,
        status = ?answer.status,
        counted = answer.counted.len(),
        not_counted = answer.not_counted.len(),
        rotated = answer.rotated,
        "usage event handled"
    );
}

fn via(used: &Use) -> Via {
    match used {
        Use::SecretRead { .. } => Via::SecretRead,
        Use::AccessKey(_) => Via::AccessKey,
    }
}

fn subject(used: &Use) -> &str {
    match used {
        Use::SecretRead { secret_id, .. } => secret_id,
        Use::AccessKey(key) => key,
    }
}

/// The managed credentials `used` is a use of the current value of, or
/// why there are none.
async fn resolve(
    engine: &Engine,
    used: &Use,
) -> Result<Result<Vec<CredentialId>, String>, EngineError> {
    match used {
        Use::SecretRead { secret_id, version } => {
            let Some(id) = secret_arn(engine, secret_id).await? else {
                return Ok(Err("no managed secret has this name".into()));
            };
            if let Some(version) = version
                && !is_current(engine, &id, version).await?
            {
                return Ok(Err("the call read a version that is not current".into()));
            }
            Ok(Ok(vec![id]))
        }
        Use::AccessKey(key) => {
            let mut current = Vec::new();
            for located in engine.locate(&Subject::Identifier(key.clone())).await? {
                if is_current(engine, &located.credential, &located.version).await? {
                    current.push(located.credential);
                }
            }
            match current.is_empty() {
                true => Ok(Err(
                    "no managed credential's current value holds this key".into()
                )),
                false => Ok(Ok(current)),
            }
        }
    }
}

/// The credential id of `secret_id`: an ARN as it is; a name resolved to
/// the ARN of the managed secret of that name, the form the store lists,
/// so every spelling shares one counter. `None` when no managed secret has
/// the name.
async fn secret_arn(engine: &Engine, secret_id: &str) -> Result<Option<CredentialId>, EngineError> {
    if secret_id.starts_with("arn:") {
        return Ok(Some(CredentialId::new(
            Provider::AwsSecretsManager,
            secret_id,
        )));
    }
    let Some(store) = engine
        .stores()
        .find(|s| s.provider() == Provider::AwsSecretsManager)
    else {
        return Err(EngineError::NoStore(Provider::AwsSecretsManager));
    };
    let managed = store.list().await?;
    Ok(managed
        .into_iter()
        .find(|id| arn_names(&id.locator, secret_id)))
}

/// Whether `arn` is the ARN of the secret named `name`: Secrets Manager
/// ARNs end in `:secret:<name>-<six characters>`.
fn arn_names(arn: &str, name: &str) -> bool {
    let Some((_, resource)) = arn.rsplit_once(":secret:") else {
        return false;
    };
    resource.len() == name.len() + 7
        && resource.starts_with(name)
        && resource.as_bytes().get(name.len()) == Some(&b'-')
}

async fn is_current(
    engine: &Engine,
    id: &CredentialId,
    version: &VersionId,
) -> Result<bool, EngineError> {
    let credential = match engine.describe(id).await {
        Ok((credential, _)) => credential,
        Err(EngineError::NotManaged(_) | EngineError::InvalidPolicy { .. }) => return Ok(false),
        Err(EngineError::Store(StoreError::CredentialNotFound(_))) => return Ok(false),
        Err(error) => return Err(error),
    };
    Ok(credential
        .version(version)
        .is_some_and(|v| v.has(Stage::Current)))
}

#[cfg(test)]
mod tests;
