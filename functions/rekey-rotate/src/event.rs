//! The Secrets Manager rotation event, parsed strictly.
//!
//! Secrets Manager invokes a rotation function once per step with
//! `{"Step", "SecretId", "ClientRequestToken"}` and, in newer deliveries, a
//! `RotationToken` the function must pass back on `PutSecretValue`. Errors
//! name the field at fault, never its value: the token is sensitive.

use aws_lambda_events::event::secretsmanager::SecretsManagerSecretRotationEvent;
use rekey_core::{RotationToken, Step, UnknownStep, VersionId};
use serde_json::Value;

/// The longest `SecretId` Secrets Manager accepts (a full ARN fits).
const MAX_SECRET_ID: usize = 2048;
/// `ClientRequestToken` bounds from the Secrets Manager API reference.
const TOKEN_LENGTH: std::ops::RangeInclusive<usize> = 32..=64;
/// A generous bound for the opaque `RotationToken`.
const MAX_ROTATION_TOKEN: usize = 4096;

/// One step of a rotation, as asked for by Secrets Manager.
#[derive(Debug)]
pub struct RotationRequest {
    /// The step to run.
    pub step: Step,
    /// The secret's ARN or name.
    pub secret_id: String,
    /// The version being rotated in (`ClientRequestToken`).
    pub token: VersionId,
    /// The sensitive `RotationToken`, when Secrets Manager sent one.
    pub rotation_token: Option<RotationToken>,
}

/// Why an event was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum EventError {
    /// The payload is not a JSON object with the three string fields.
    #[error("malformed rotation event: {0}")]
    Malformed(String),
    /// `Step` is not one of the four contract steps.
    #[error(transparent)]
    UnknownStep(#[from] UnknownStep),
    /// A field is empty or out of its documented bounds.
    #[error("invalid rotation event: {0}")]
    Invalid(&'static str),
}

/// Parses a rotation event.
pub fn parse(payload: Value) -> Result<RotationRequest, EventError> {
    let event: SecretsManagerSecretRotationEvent =
        serde_json::from_value(payload).map_err(|e| EventError::Malformed(redacted(&e)))?;

    let step = event.step.parse::<Step>()?;
    if event.secret_id.is_empty() || event.secret_id.len() > MAX_SECRET_ID {
        return Err(EventError::Invalid("SecretId must be 1 to 2048 characters"));
    }
    if !TOKEN_LENGTH.contains(&event.client_request_token.len()) {
        return Err(EventError::Invalid(
            "ClientRequestToken must be 32 to 64 characters",
        ));
    }
    let rotation_token = match event.other.get("RotationToken") {
        None | Some(Value::Null) => None,
        Some(Value::String(token)) if !token.is_empty() && token.len() <= MAX_ROTATION_TOKEN => {
            Some(RotationToken::new(token.clone()))
        }
        Some(_) => {
            return Err(EventError::Invalid(
                "RotationToken must be a non-empty string",
            ));
        }
    };

    Ok(RotationRequest {
        step,
        secret_id: event.secret_id,
        token: VersionId(event.client_request_token),
        rotation_token,
    })
}

/// A serde error's message without the offending value, which could be a
/// token: missing fields are named, anything else is described by kind.
fn redacted(error: &serde_json::Error) -> String {
    let message = error.to_string();
    if message.starts_with("missing field") {
        return message;
    }
    "expected an object with string fields Step, SecretId and ClientRequestToken".into()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const TOKEN: &str = "c2f1a7d0-8d4e-4b7a-9a57-2f3e6b1d9c10";

    #[test]
    fn a_full_event_parses_with_its_rotation_token() {
        let request = parse(json!({
            "Step": "createSecret",
            "SecretId": "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf",
            "ClientRequestToken": TOKEN,
            "RotationToken": "opaque-rotation-token"
        }))
        .expect("parses");

        assert_eq!(request.step, Step::CreateSecret);
        assert_eq!(request.token.as_str(), TOKEN);
        assert_eq!(
            request
                .rotation_token
                .map(|t| t.expose().to_owned())
                .as_deref(),
            Some("opaque-rotation-token")
        );
    }

    #[test]
    fn bad_events_are_refused_by_field() {
        let missing = parse(json!({"Step": "createSecret", "SecretId": "s"}));
        assert!(
            matches!(missing, Err(EventError::Malformed(ref m)) if m.contains("ClientRequestToken"))
        );

        let step =
            parse(json!({"Step": "dropSecret", "SecretId": "s", "ClientRequestToken": TOKEN}));
        assert!(matches!(step, Err(EventError::UnknownStep(_))));

        let short = parse(json!({"Step": "setSecret", "SecretId": "s", "ClientRequestToken": "x"}));
        assert!(matches!(short, Err(EventError::Invalid(_))));

        let empty =
            parse(json!({"Step": "setSecret", "SecretId": "", "ClientRequestToken": TOKEN}));
        assert!(matches!(empty, Err(EventError::Invalid(_))));

        assert!(matches!(
            parse(json!([1, 2])),
            Err(EventError::Malformed(_))
        ));
    }

    #[test]
    fn errors_never_echo_field_values() {
        let wrong_type = json!({
            "Step": "createSecret", "SecretId": "s", "ClientRequestToken": TOKEN,
            "RotationToken": {"leak": "sensitive-token-value"}
        });
        let typed = json!({"Step": "createSecret", "SecretId": 7, "ClientRequestToken": "sensitive-token-value"});

        for event in [wrong_type, typed] {
            let error = parse(event).expect_err("refused").to_string();
            assert!(!error.contains("sensitive-token-value"), "{error}");
        }
    }
}
