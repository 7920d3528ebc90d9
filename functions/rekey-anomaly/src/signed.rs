//! rekey's own signed webhook, for detectors of your own.
//!
//! A detector sends `X-Rekey-Timestamp: <unix seconds>` and
//! `X-Rekey-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`
//! with a JSON body naming one finding (the crate's README has the format).
//! The timestamp must be within [`REPLAY_WINDOW`] of now either way, and
//! the body's `id` is remembered, so a captured request cannot be replayed.

use std::time::Duration;

use http::HeaderMap;
use rekey_core::anomaly::Subject;
use rekey_core::{CredentialId, Engine, Provider, SecretValue};
use serde::Deserialize;
use time::OffsetDateTime;

use crate::AnomalyAnswer;
use crate::act::{Action, Parsed, Target, act};
use crate::fields::{describe, is_printable};
use crate::signature::{parse_tag, verify};
use crate::webhook::{Rejection, header};

/// How far a signed request's timestamp may be from now, into the past or
/// the future.
pub const REPLAY_WINDOW: Duration = Duration::from_secs(300);

/// The source findings are recorded under when the body names no detector.
const SOURCE: &str = "webhook";

/// The body of a signed webhook.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Body {
    id: String,
    #[serde(default)]
    detector: Option<String>,
    #[serde(default)]
    credential: Option<CredentialId>,
    #[serde(default)]
    identifier: Option<String>,
    #[serde(default)]
    value: Option<String>,
}

/// Answers a signed webhook request.
pub(crate) async fn handle(
    engine: &Engine,
    secret: &SecretValue,
    headers: &HeaderMap,
    body: &[u8],
    now: OffsetDateTime,
) -> Result<AnomalyAnswer, Rejection> {
    authenticate(secret, headers, body, now)?;
    let parsed = parse(body)?;

    act(engine, parsed).await.map_err(Rejection::Engine)
}

fn authenticate(
    secret: &SecretValue,
    headers: &HeaderMap,
    body: &[u8],
    now: OffsetDateTime,
) -> Result<(), Rejection> {
    let timestamp = header(headers, "x-rekey-timestamp")
        .ok_or(Rejection::Unauthorized("missing X-Rekey-Timestamp header"))?;
    let seconds = parse_timestamp(timestamp).ok_or(Rejection::Unauthorized(
        "X-Rekey-Timestamp must be unix seconds",
    ))?;
    let signature = header(headers, "x-rekey-signature")
        .ok_or(Rejection::Unauthorized("missing X-Rekey-Signature header"))?;
    let tag = parse_tag(signature, "v1").ok_or(Rejection::Unauthorized(
        "X-Rekey-Signature must be v1=<64 hex digits>",
    ))?;

    if !verify(secret, &[timestamp.as_bytes(), b".", body], &tag) {
        return Err(Rejection::Unauthorized(
            "X-Rekey-Signature does not match the timestamp and body",
        ));
    }
    let skew = now.unix_timestamp().abs_diff(seconds);
    if skew > REPLAY_WINDOW.as_secs() {
        return Err(Rejection::Unauthorized(
            "X-Rekey-Timestamp is more than 300 s from now; sign the request again",
        ));
    }
    Ok(())
}

/// Unix seconds written as 1 to 12 ASCII digits.
fn parse_timestamp(text: &str) -> Option<i64> {
    let digits = (1..=12).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_digit());
    digits.then(|| text.parse().ok()).flatten()
}

fn parse(body: &[u8]) -> Result<Parsed, Rejection> {
    let expected = "expected {\"id\", and one of \"credential\", \"identifier\" or \"value\"}";
    let body: Body =
        serde_json::from_slice(body).map_err(|e| Rejection::Invalid(describe(&e, expected)))?;
    if !is_printable(&body.id, 128) {
        return Err(invalid("id must be 1 to 128 characters"));
    }
    let source = match &body.detector {
        None => SOURCE.to_owned(),
        Some(name) if is_detector_name(name) => format!("{SOURCE}:{name}"),
        Some(_) => return Err(invalid("detector must be 1 to 64 of [A-Za-z0-9._-]")),
    };

    let subject = match (body.credential, body.identifier, body.value) {
        (Some(credential), None, None) if credential.provider == Provider::AwsIamRole => {
            return Err(invalid(
                "provider aws-iam-role names role sessions, which are not stored credentials",
            ));
        }
        (Some(credential), None, None) if is_printable(&credential.locator, 2048) => {
            Subject::Credential(credential)
        }
        (None, Some(identifier), None) if is_printable(&identifier, 256) => {
            Subject::Identifier(identifier)
        }
        (None, None, Some(value)) if !value.is_empty() => Subject::Value(SecretValue::new(value)),
        _ => {
            return Err(invalid(
                "give exactly one of credential {provider, locator}, identifier or value, non-empty",
            ));
        }
    };

    Ok(Parsed::Act(Action {
        delivery: format!("signed:{}", body.id),
        source,
        finding: body.id,
        target: Target::Subjects(vec![subject]),
    }))
}

fn is_detector_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

fn invalid(reason: &str) -> Rejection {
    Rejection::Invalid(reason.into())
}
