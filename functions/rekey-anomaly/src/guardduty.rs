//! GuardDuty findings about access keys.
//!
//! GuardDuty publishes each finding to EventBridge as `"detail-type":
//! "GuardDuty Finding"`, the finding itself as `detail` (GuardDuty API
//! Reference, `Finding`). IAM findings have `resource.resourceType`
//! `AccessKey` and `resource.accessKeyDetails` { `accessKeyId`,
//! `principalId`, `userName`, `userType` }:
//!
//! - `IAMUser` with an `AKIA…` key: the user's long-term key, located by
//!   its id and revoked and rotated as its policy says;
//! - `AssumedRole` with an `ASIA…` key: a role session. `userName` is then
//!   the role's name and `principalId` `<role id>:<session name>`. A
//!   session cannot be rotated; every session of the role issued before now
//!   is revoked, and no key is ever deleted.
//!
//! Sample findings (`service.additionalInfo.sample`), other resource types
//! and other user types are ignored.

use serde::Deserialize;
use serde_json::Value;

use crate::EventError;
use crate::act::{Action, Parsed, Target};
use crate::event::delivery;
use crate::fields::{bounded, describe, is_access_key_id, is_printable, is_role_name};
use rekey_core::anomaly::Subject;

/// The EventBridge source of GuardDuty events.
pub(crate) const SOURCE: &str = "aws.guardduty";

const DETAIL_TYPE: &str = "GuardDuty Finding";

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Detail {
    id: String,
    #[serde(rename = "type")]
    finding_type: String,
    resource: Resource,
    #[serde(default)]
    service: Option<Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Resource {
    resource_type: String,
    #[serde(default)]
    access_key_details: Option<AccessKeyDetails>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AccessKeyDetails {
    #[serde(default)]
    access_key_id: Option<String>,
    #[serde(default)]
    user_name: Option<String>,
    #[serde(default)]
    user_type: Option<String>,
}

/// Parses the detail of a GuardDuty event with EventBridge id `id`.
pub(crate) fn parse(
    detail_type: &str,
    detail: &Value,
    id: Option<&str>,
) -> Result<Parsed, EventError> {
    if detail_type != DETAIL_TYPE {
        return Ok(Parsed::Ignore(format!(
            "GuardDuty `{}` events are not findings",
            bounded(detail_type)
        )));
    }
    let detail = Detail::deserialize(detail).map_err(|e| malformed(&e))?;
    if is_sample(detail.service.as_ref()) {
        return Ok(Parsed::Ignore("GuardDuty sample finding".into()));
    }
    if detail.resource.resource_type != "AccessKey" {
        return Ok(Parsed::Ignore(format!(
            "GuardDuty finding about a `{}`, not an access key",
            bounded(&detail.resource.resource_type)
        )));
    }
    if !is_printable(&detail.id, 300) {
        return Err(malformed_field("id must be 1 to 300 characters"));
    }

    let details = detail
        .resource
        .access_key_details
        .ok_or_else(|| malformed_field("an AccessKey finding needs resource.accessKeyDetails"))?;
    let target = match target(details) {
        Ok(target) => target,
        Err(reason) => return Ok(Parsed::Ignore(reason)),
    };
    tracing::debug!(finding = %detail.id, kind = %bounded(&detail.finding_type), "guardduty finding");

    Ok(Parsed::Act(Action {
        source: SOURCE.into(),
        finding: detail.id,
        delivery: delivery(SOURCE, id)?,
        target,
    }))
}

/// What the finding's access key names, or why rekey leaves it alone.
fn target(details: AccessKeyDetails) -> Result<Target, String> {
    let key = details.access_key_id.unwrap_or_default();
    match details.user_type.as_deref() {
        Some("IAMUser") if key.starts_with("AKIA") && is_access_key_id(&key) => {
            Ok(Target::Subjects(vec![Subject::Identifier(key)]))
        }
        Some("IAMUser") => Err("the finding names no long-term access key of an IAM user".into()),
        Some("AssumedRole") => match details.user_name {
            Some(role) if is_role_name(&role) => Ok(Target::RoleSessions(role)),
            _ => Err("the assumed-role finding names no role (userName)".into()),
        },
        Some(other) => Err(format!(
            "user type `{}` is neither an IAM user nor an assumed role",
            bounded(other)
        )),
        None => Err("the finding names no user type".into()),
    }
}

fn is_sample(service: Option<&Value>) -> bool {
    service
        .and_then(|s| s.pointer("/additionalInfo/sample"))
        .is_some_and(|sample| sample == &Value::Bool(true) || sample == "true")
}

fn malformed(error: &serde_json::Error) -> EventError {
    malformed_field(&describe(
        error,
        "the finding needs string id and type and a resource with a resourceType",
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

    fn finding(details: &Value) -> Value {
        json!({
            "schemaVersion": "2.0",
            "id": "f1",
            "type": "UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS",
            "resource": {"resourceType": "AccessKey", "accessKeyDetails": details},
            "service": {"additionalInfo": {"value": "{}", "type": "default"}}
        })
    }

    fn parsed(details: &Value) -> Parsed {
        parse(DETAIL_TYPE, &finding(details), Some("e1")).expect("parses")
    }

    #[test]
    fn an_iam_user_key_is_located_by_its_id() {
        let parsed = parsed(&json!({
            "accessKeyId": "AKIAIOSFODNN7EXAMPLE", "principalId": "AIDAEXAMPLE",
            "userName": "ci-bot", "userType": "IAMUser"
        }));
        assert!(matches!(
            parsed,
            Parsed::Act(Action { target: Target::Subjects(ref s), .. })
                if matches!(s.as_slice(), [Subject::Identifier(id)] if id == "AKIAIOSFODNN7EXAMPLE")
        ));
    }

    #[test]
    fn an_assumed_role_session_revokes_the_roles_sessions_never_a_key() {
        let parsed = parsed(&json!({
            "accessKeyId": "ASIAY34FZKBOKMUTVV7A", "principalId": "AROAEXAMPLE:i-0abc",
            "userName": "app-server", "userType": "AssumedRole"
        }));
        assert!(matches!(
            parsed,
            Parsed::Act(Action { target: Target::RoleSessions(ref role), .. }) if role == "app-server"
        ));
    }

    #[test]
    fn other_findings_are_ignored() {
        let root = parsed(&json!({"accessKeyId": "AKIAIOSFODNN7EXAMPLE", "userType": "Root"}));
        assert!(matches!(root, Parsed::Ignore(r) if r.contains("Root")));

        let temporary =
            parsed(&json!({"accessKeyId": "ASIAY34FZKBOKMUTVV7A", "userType": "IAMUser"}));
        assert!(matches!(temporary, Parsed::Ignore(_)));

        let mut sample = finding(&json!({"userName": "r", "userType": "AssumedRole"}));
        sample["service"]["additionalInfo"]["sample"] = json!(true);
        assert!(
            matches!(parse(DETAIL_TYPE, &sample, Some("e1")), Ok(Parsed::Ignore(r)) if r.contains("sample"))
        );

        let mut instance = finding(&json!({}));
        instance["resource"] = json!({"resourceType": "Instance"});
        assert!(matches!(
            parse(DETAIL_TYPE, &instance, Some("e1")),
            Ok(Parsed::Ignore(_))
        ));

        let health = parse(
            "GuardDuty Runtime Protection Healthy",
            &json!({}),
            Some("e1"),
        );
        assert!(matches!(health, Ok(Parsed::Ignore(_))));
    }
}
