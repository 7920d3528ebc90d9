//! AWS Health events about exposed or compromised credentials.
//!
//! AWS Health tells an account when one of its access keys was found in
//! public (`AWS_RISK_CREDENTIALS_EXPOSED`) or is suspected compromised, and
//! when it attached its quarantine policy to a user. The event's `detail`
//! carries `eventArn`, `eventTypeCode` and `affectedEntities`, whose
//! `entityValue` is the access key id (AWS Health User Guide, "Reference:
//! AWS Health events Amazon EventBridge schema"). Each key id becomes one
//! finding; entities that are not key ids are skipped, and other event
//! types are ignored.

use serde::Deserialize;
use serde_json::Value;

use crate::EventError;
use crate::act::{Action, Parsed, Target};
use crate::event::delivery;
use crate::fields::{bounded, describe, is_access_key_id, is_printable};
use rekey_core::anomaly::Subject;

/// The EventBridge source of AWS Health events.
pub(crate) const SOURCE: &str = "aws.health";

/// The AWS Health event types rekey acts on: each names access keys that
/// leaked or may have.
pub const RISK_EVENT_TYPES: &[&str] = &[
    "AWS_RISK_CREDENTIALS_EXPOSED",
    "AWS_RISK_CREDENTIALS_EXPOSURE_SUSPECTED",
    "AWS_RISK_CREDENTIALS_COMPROMISED",
    "AWS_RISK_CREDENTIALS_COMPROMISE_SUSPECTED",
    "AWS_RISK_IAM_QUARANTINE",
];

/// The detail types AWS Health sends.
const DETAIL_TYPES: &[&str] = &["AWS Health Event", "AWS Health Abuse Event"];

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Detail {
    event_arn: String,
    event_type_code: String,
    #[serde(default)]
    affected_entities: Vec<Entity>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Entity {
    #[serde(default)]
    entity_value: Option<String>,
}

/// Parses the detail of an AWS Health event with EventBridge id `id`.
pub(crate) fn parse(
    detail_type: &str,
    detail: &Value,
    id: Option<&str>,
) -> Result<Parsed, EventError> {
    if !DETAIL_TYPES.contains(&detail_type) {
        return Ok(Parsed::Ignore(format!(
            "AWS Health detail type `{}` is not a Health event",
            bounded(detail_type)
        )));
    }
    let detail = Detail::deserialize(detail).map_err(|e| malformed(&e))?;
    if !RISK_EVENT_TYPES.contains(&detail.event_type_code.as_str()) {
        return Ok(Parsed::Ignore(format!(
            "AWS Health event type `{}` is not about credentials",
            bounded(&detail.event_type_code)
        )));
    }

    let mut keys: Vec<String> = detail
        .affected_entities
        .into_iter()
        .filter_map(|entity| entity.entity_value)
        .filter(|value| is_access_key_id(value))
        .collect();
    keys.sort();
    keys.dedup();
    if keys.is_empty() {
        return Ok(Parsed::Ignore(
            "the AWS Health event names no access key id".into(),
        ));
    }
    if !is_printable(&detail.event_arn, 1600) {
        return Err(malformed_field("eventArn must be 1 to 1600 characters"));
    }

    Ok(Parsed::Act(Action {
        source: SOURCE.into(),
        finding: detail.event_arn,
        delivery: delivery(SOURCE, id)?,
        target: Target::Subjects(keys.into_iter().map(Subject::Identifier).collect()),
    }))
}

fn malformed(error: &serde_json::Error) -> EventError {
    malformed_field(&describe(
        error,
        "the detail needs string eventArn and eventTypeCode and an affectedEntities list",
    ))
}

fn malformed_field(reason: &str) -> EventError {
    EventError::Malformed {
        event_source: SOURCE,
        reason: reason.into(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn detail(code: &str, entities: &Value) -> Value {
        json!({
            "eventArn": "arn:aws:health:global::event/RISK/AWS_RISK_CREDENTIALS_EXPOSED/E1",
            "service": "RISK",
            "eventTypeCode": code,
            "eventTypeCategory": "issue",
            "affectedEntities": entities
        })
    }

    fn subjects(parsed: Parsed) -> Vec<String> {
        let Parsed::Act(Action {
            target: Target::Subjects(subjects),
            ..
        }) = parsed
        else {
            panic!("expected an action, got {parsed:?}");
        };
        subjects
            .into_iter()
            .map(|s| match s {
                Subject::Identifier(id) => id,
                other => panic!("expected an identifier, got {other:?}"),
            })
            .collect()
    }

    #[test]
    fn every_key_id_becomes_a_subject_once() {
        let entities = json!([
            {"entityValue": "AKIAIOSFODNN7EXAMPLE"},
            {"entityValue": "AKIAIOSFODNN7EXAMPLE"},
            {"entityValue": "some-user"},
            {}
        ]);
        for code in RISK_EVENT_TYPES {
            let parsed = parse("AWS Health Event", &detail(code, &entities), Some("e1"));
            assert_eq!(subjects(parsed.expect("parses")), ["AKIAIOSFODNN7EXAMPLE"]);
        }
    }

    #[test]
    fn other_health_events_are_ignored() {
        let scheduled = detail("AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED", &json!([]));
        let parsed = parse("AWS Health Event", &scheduled, Some("e1"));
        assert!(matches!(parsed, Ok(Parsed::Ignore(r)) if r.contains("RETIREMENT")));

        let no_keys = detail(
            "AWS_RISK_CREDENTIALS_EXPOSED",
            &json!([{"entityValue": "bob"}]),
        );
        let parsed = parse("AWS Health Event", &no_keys, Some("e1"));
        assert!(matches!(parsed, Ok(Parsed::Ignore(r)) if r.contains("no access key")));
    }

    #[test]
    fn a_malformed_detail_or_missing_id_is_refused() {
        let parsed = parse("AWS Health Event", &json!({"eventArn": 7}), Some("e1"));
        assert!(matches!(parsed, Err(EventError::Malformed { .. })));

        let entities = json!([{"entityValue": "AKIAIOSFODNN7EXAMPLE"}]);
        let parsed = parse(
            "AWS Health Event",
            &detail("AWS_RISK_CREDENTIALS_EXPOSED", &entities),
            None,
        );
        assert!(matches!(parsed, Err(EventError::Malformed { .. })));
    }
}
