//! EventBridge events: the envelope, and which parser reads its detail.
//!
//! Every EventBridge event has `source`, `detail-type`, `detail` and an
//! `id` that a redelivery repeats. AWS Health and GuardDuty events go to
//! their parsers; events of any other source are ignored, not refused, so
//! a broad rule never makes the function fail.

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use serde_json::Value;

use crate::EventError;
use crate::act::Parsed;
use crate::fields::{bounded, is_printable};
use crate::{guardduty, health};

/// Parses an EventBridge event into what it asks for.
pub(crate) fn parse(payload: Value) -> Result<Parsed, EventError> {
    let is_event = payload.get("detail-type").is_some() && payload.get("source").is_some();
    if !is_event {
        return Err(EventError::Unrecognised);
    }
    let event: EventBridgeEvent = serde_json::from_value(payload).map_err(|_| malformed())?;
    let id = event.id.as_deref();

    match event.source.as_str() {
        health::SOURCE => health::parse(&event.detail_type, &event.detail, id),
        guardduty::SOURCE => guardduty::parse(&event.detail_type, &event.detail, id),
        other => Ok(Parsed::Ignore(format!(
            "events from `{}` are not anomaly findings",
            bounded(other)
        ))),
    }
}

/// The dedupe key of an event from `source` with EventBridge id `id`.
pub(crate) fn delivery(source: &'static str, id: Option<&str>) -> Result<String, EventError> {
    match id {
        Some(id) if is_printable(id, 128) => Ok(format!("{source}:{id}")),
        _ => Err(EventError::Malformed {
            event_source: source,
            reason: "the event needs an id of 1 to 128 characters".into(),
        }),
    }
}

fn malformed() -> EventError {
    EventError::Malformed {
        event_source: "EventBridge",
        reason: "an event needs string source, detail-type and id, and a detail".into(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn other_sources_are_ignored_and_other_payloads_refused() {
        let scheduled = json!({
            "id": "1", "source": "aws.events", "detail-type": "Scheduled Event", "detail": {}
        });
        assert!(matches!(parse(scheduled), Ok(Parsed::Ignore(r)) if r.contains("aws.events")));

        assert_eq!(
            parse(json!({"Step": "createSecret"})).map(|_| ()),
            Err(EventError::Unrecognised)
        );
        assert!(matches!(
            parse(json!({"source": 1, "detail-type": "x", "detail": {}})),
            Err(EventError::Malformed { .. })
        ));
    }
}
