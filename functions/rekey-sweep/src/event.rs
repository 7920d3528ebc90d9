//! Timer events: what wakes the sweep.
//!
//! Two AWS shapes reach it. An EventBridge scheduled rule delivers the
//! classic event (`"source": "aws.events"`, `"detail-type": "Scheduled
//! Event"`). EventBridge Scheduler delivers the schedule's input: rekey's
//! Terraform sets it to `{"source": "aws.scheduler", "schedule_arn": …,
//! "scheduled_time": …, "execution_id": …, "attempt_number": …}` from the
//! Scheduler's context attributes; a schedule without input delivers `{}`.

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use rekey_core::Trigger;
use serde::Deserialize;
use serde_json::Value;

/// A timer event that woke the sweep.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScheduleEvent {
    /// `aws.events` or `aws.scheduler`.
    pub source: &'static str,
    /// The rule's or schedule's ARN, when the event names it.
    pub schedule: Option<String>,
    /// The event's id or the Scheduler's execution id, when given.
    pub execution: Option<String>,
}

impl ScheduleEvent {
    /// The engine trigger for this event.
    pub fn trigger(&self) -> Trigger {
        Trigger::Schedule {
            source: self.source.to_owned(),
        }
    }
}

/// Why a payload is not a timer event.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum EventError {
    /// The payload is not a JSON object.
    #[error("malformed schedule event: expected a JSON object")]
    NotAnObject,
    /// An EventBridge event that is not a scheduled-rule event.
    #[error("not a schedule event: source `{event_source}`, detail-type `{detail_type}`")]
    NotASchedule {
        /// The event's source (bounded).
        event_source: String,
        /// The event's detail type (bounded).
        detail_type: String,
    },
    /// A Scheduler payload with missing or mistyped fields.
    #[error("malformed EventBridge Scheduler payload: {0}")]
    MalformedScheduler(String),
    /// Any other object.
    #[error(
        "unrecognised schedule event: expected an EventBridge scheduled event or an EventBridge Scheduler payload"
    )]
    Unrecognised,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(
    dead_code,
    reason = "the fields are parsed to check the payload's shape"
)]
struct SchedulerInput {
    source: String,
    schedule_arn: String,
    scheduled_time: String,
    execution_id: String,
    #[serde(default)]
    attempt_number: Option<Value>,
}

/// Parses a timer event.
pub fn parse(payload: Value) -> Result<ScheduleEvent, EventError> {
    let Value::Object(object) = &payload else {
        return Err(EventError::NotAnObject);
    };
    if object.is_empty() {
        return Ok(ScheduleEvent {
            source: "aws.scheduler",
            schedule: None,
            execution: None,
        });
    }
    if object.contains_key("detail-type") {
        return parse_rule_event(payload);
    }
    if object.get("source").and_then(Value::as_str) == Some("aws.scheduler") {
        return parse_scheduler_input(payload);
    }
    Err(EventError::Unrecognised)
}

fn parse_rule_event(payload: Value) -> Result<ScheduleEvent, EventError> {
    let event: EventBridgeEvent = serde_json::from_value(payload).map_err(|_| {
        EventError::MalformedScheduler(
            "an EventBridge event needs string source and detail-type and a detail".into(),
        )
    })?;
    if event.source != "aws.events" || event.detail_type != "Scheduled Event" {
        return Err(EventError::NotASchedule {
            event_source: bounded(&event.source),
            detail_type: bounded(&event.detail_type),
        });
    }
    let schedule = event.resources.and_then(|r| r.into_iter().next());
    Ok(ScheduleEvent {
        source: "aws.events",
        schedule,
        execution: event.id,
    })
}

fn parse_scheduler_input(payload: Value) -> Result<ScheduleEvent, EventError> {
    let input: SchedulerInput = serde_json::from_value(payload).map_err(|e| {
        let message = e.to_string();
        EventError::MalformedScheduler(bounded(&message))
    })?;
    Ok(ScheduleEvent {
        source: "aws.scheduler",
        schedule: Some(input.schedule_arn),
        execution: Some(input.execution_id),
    })
}

fn bounded(text: &str) -> String {
    text.chars().take(128).collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn sample(name: &str) -> Value {
        let path = format!("{}/../../events/{name}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        serde_json::from_str(&text).expect("sample is JSON")
    }

    #[test]
    fn the_classic_scheduled_rule_event_parses() {
        let event = parse(sample("eventbridge-scheduled-rule.json")).expect("parses");

        assert_eq!(event.source, "aws.events");
        assert!(event.schedule.is_some_and(|arn| arn.contains(":rule/")));
    }

    #[test]
    fn scheduler_payloads_parse() {
        let event = parse(sample("eventbridge-scheduler.json")).expect("parses");
        assert_eq!(event.source, "aws.scheduler");
        assert!(event.schedule.is_some_and(|arn| arn.contains(":schedule/")));

        assert_eq!(parse(json!({})).expect("parses").schedule, None);
    }

    #[test]
    fn other_events_are_refused() {
        let health =
            json!({"source": "aws.health", "detail-type": "AWS Health Event", "detail": {}});
        assert!(matches!(
            parse(health),
            Err(EventError::NotASchedule { .. })
        ));

        let partial = json!({"source": "aws.scheduler", "schedule_arn": "arn"});
        assert!(matches!(
            parse(partial),
            Err(EventError::MalformedScheduler(_))
        ));

        assert_eq!(parse(json!({"hello": 1})), Err(EventError::Unrecognised));
        assert_eq!(parse(json!("text")), Err(EventError::NotAnObject));
    }
}
