//! CloudTrail API-call events, as EventBridge delivers them, parsed
//! strictly into the uses rekey counts.
//!
//! EventBridge wraps each CloudTrail record in an event with an `aws.*`
//! `source` and the `detail-type` `AWS API Call via CloudTrail`; the record
//! is the `detail`. Two things in a record are uses:
//!
//! - a successful `GetSecretValue` (`eventSource`
//!   `secretsmanager.amazonaws.com`) of the current version: a read of the
//!   secret named by `requestParameters.secretId`. `BatchGetSecretValue` is
//!   not counted: Secrets Manager logs a `GetSecretValue` entry for each
//!   secret it returns, and that entry is counted.
//! - any call signed with a long-term access key (`userIdentity.accessKeyId`
//!   starting `AKIA`), failed or not: a use of that key. Temporary keys
//!   (`ASIA…`) belong to role sessions, which rekey does not count.
//!
//! Errors name the field at fault, never its value.

use rekey_core::VersionId;
use serde_json::{Map, Value};

/// The `detail-type` of every CloudTrail event on EventBridge.
pub const DETAIL_TYPE: &str = "AWS API Call via CloudTrail";
/// The `eventSource` of Secrets Manager calls.
pub const SECRETS_MANAGER: &str = "secretsmanager.amazonaws.com";

/// The longest `secretId` Secrets Manager accepts (a full ARN fits).
const MAX_SECRET_ID: usize = 2048;
/// A generous bound for CloudTrail's `eventID` (a UUID).
const MAX_EVENT_ID: usize = 128;
/// A generous bound for `eventSource` and `eventName`.
const MAX_NAME: usize = 128;
/// Access key ids are 16 to 128 characters (IAM's `AccessKeyId` type).
const ACCESS_KEY_LENGTH: std::ops::RangeInclusive<usize> = 16..=128;

/// One use an API call made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Use {
    /// The value of a Secrets Manager secret was read.
    SecretRead {
        /// The secret's ARN or name, as the caller gave it.
        secret_id: String,
        /// The version asked for by id, if any; `None` means the current one.
        version: Option<VersionId>,
    },
    /// The call was signed with this long-term access key.
    AccessKey(String),
}

/// One CloudTrail API call, reduced to what rekey counts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiCall {
    /// CloudTrail's `eventID`: the same for every delivery of the record.
    pub event_id: String,
    /// The service called (`secretsmanager.amazonaws.com`).
    pub event_source: String,
    /// The operation (`GetSecretValue`).
    pub event_name: String,
    /// The caller's ARN and, for a role session, the role's ARN.
    pub principals: Vec<String>,
    /// The uses to count; empty when the call is none.
    pub uses: Vec<Use>,
    /// Why a secret-related part of the call is not counted, if it is not.
    pub not_counted: Option<&'static str>,
}

/// Why a payload was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum EventError {
    /// The payload is not a JSON object.
    #[error("malformed usage event: expected a JSON object")]
    NotAnObject,
    /// An event that is not a CloudTrail API call on EventBridge.
    #[error(
        "not a CloudTrail API call event: expected an `aws.*` source and the detail-type `AWS API Call via CloudTrail`"
    )]
    NotCloudTrail,
    /// A required field is missing or of the wrong type.
    #[error("malformed CloudTrail event: `{0}` is missing or of the wrong type")]
    Missing(&'static str),
    /// A field is out of its documented bounds.
    #[error("invalid CloudTrail event: {0}")]
    Invalid(&'static str),
}

/// Parses a CloudTrail API-call event delivered by EventBridge.
pub fn parse(payload: Value) -> Result<ApiCall, EventError> {
    let Value::Object(envelope) = payload else {
        return Err(EventError::NotAnObject);
    };
    let source = envelope.get("source").and_then(Value::as_str);
    let detail_type = envelope.get("detail-type").and_then(Value::as_str);
    if !source.is_some_and(|s| s.starts_with("aws.")) || detail_type != Some(DETAIL_TYPE) {
        return Err(EventError::NotCloudTrail);
    }
    let Some(Value::Object(detail)) = envelope.get("detail") else {
        return Err(EventError::Missing("detail"));
    };

    let event_id = string(detail, "eventID", "detail.eventID")?;
    if event_id.is_empty()
        || event_id.len() > MAX_EVENT_ID
        || !event_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-')
    {
        return Err(EventError::Invalid(
            "detail.eventID must be 1 to 128 letters, digits or dashes",
        ));
    }
    let event_source = bounded_name(detail, "eventSource", "detail.eventSource")?;
    let event_name = bounded_name(detail, "eventName", "detail.eventName")?;
    let identity = match detail.get("userIdentity") {
        None | Some(Value::Null) => None,
        Some(Value::Object(identity)) => Some(identity),
        Some(_) => return Err(EventError::Missing("detail.userIdentity")),
    };

    let mut uses = Vec::new();
    let not_counted = match secret_read(detail, &event_source, &event_name)? {
        Read::Counted(read) => {
            uses.push(read);
            None
        }
        Read::NotCounted(why) => Some(why),
        Read::Unrelated => None,
    };
    if let Some(key) = identity.map(access_key).transpose()?.flatten() {
        uses.push(Use::AccessKey(key));
    }
    Ok(ApiCall {
        event_id: event_id.to_owned(),
        event_source,
        event_name,
        principals: identity.map(principals).unwrap_or_default(),
        uses,
        not_counted,
    })
}

/// What a call did with a secret.
enum Read {
    Counted(Use),
    NotCounted(&'static str),
    Unrelated,
}

fn secret_read(
    detail: &Map<String, Value>,
    event_source: &str,
    event_name: &str,
) -> Result<Read, EventError> {
    if event_source != SECRETS_MANAGER {
        return Ok(Read::Unrelated);
    }
    match event_name {
        "GetSecretValue" => {}
        "BatchGetSecretValue" => {
            return Ok(Read::NotCounted(
                "BatchGetSecretValue is counted through the GetSecretValue entry logged for each secret",
            ));
        }
        _ => return Ok(Read::Unrelated),
    }
    let Some(Value::Object(request)) = detail.get("requestParameters") else {
        return Err(EventError::Missing("detail.requestParameters"));
    };
    let secret_id = string(request, "secretId", "detail.requestParameters.secretId")?;
    if secret_id.is_empty() || secret_id.len() > MAX_SECRET_ID {
        return Err(EventError::Invalid(
            "detail.requestParameters.secretId must be 1 to 2048 characters",
        ));
    }
    let stage = optional_string(
        request,
        "versionStage",
        "detail.requestParameters.versionStage",
    )?;
    let version = optional_string(request, "versionId", "detail.requestParameters.versionId")?;

    if !matches!(detail.get("errorCode"), None | Some(Value::Null)) {
        return Ok(Read::NotCounted("the call failed, so no value was read"));
    }
    if stage.is_some_and(|stage| stage != "AWSCURRENT") {
        return Ok(Read::NotCounted(
            "the call read a version that is not current",
        ));
    }
    Ok(Read::Counted(Use::SecretRead {
        secret_id: secret_id.to_owned(),
        version: version.map(|v| VersionId(v.to_owned())),
    }))
}

/// The long-term access key that signed the call, if one did.
fn access_key(identity: &Map<String, Value>) -> Result<Option<String>, EventError> {
    let Some(key) = optional_string(identity, "accessKeyId", "detail.userIdentity.accessKeyId")?
    else {
        return Ok(None);
    };
    if !key.starts_with("AKIA") {
        return Ok(None);
    }
    if !ACCESS_KEY_LENGTH.contains(&key.len()) || !key.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(EventError::Invalid(
            "detail.userIdentity.accessKeyId must be 16 to 128 letters or digits",
        ));
    }
    Ok(Some(key.to_owned()))
}

/// The caller's ARN and its session's role ARN, where given.
fn principals(identity: &Map<String, Value>) -> Vec<String> {
    let role = identity
        .get("sessionContext")
        .and_then(|c| c.get("sessionIssuer"))
        .and_then(|i| i.get("arn"));
    [identity.get("arn"), role]
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect()
}

fn string<'a>(
    object: &'a Map<String, Value>,
    key: &str,
    path: &'static str,
) -> Result<&'a str, EventError> {
    object
        .get(key)
        .and_then(Value::as_str)
        .ok_or(EventError::Missing(path))
}

fn optional_string<'a>(
    object: &'a Map<String, Value>,
    key: &str,
    path: &'static str,
) -> Result<Option<&'a str>, EventError> {
    match object.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text)),
        Some(_) => Err(EventError::Missing(path)),
    }
}

fn bounded_name(
    object: &Map<String, Value>,
    key: &str,
    path: &'static str,
) -> Result<String, EventError> {
    let name = string(object, key, path)?;
    if name.is_empty() || name.len() > MAX_NAME {
        return Err(EventError::Invalid(
            "detail.eventSource and detail.eventName must be 1 to 128 characters",
        ));
    }
    Ok(name.to_owned())
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

    fn call(detail: &Value) -> Value {
        json!({
            "version": "0", "id": "6f7e3b1c-1d2a-4c3b-9e8f-0a1b2c3d4e5f",
            "detail-type": DETAIL_TYPE, "source": "aws.secretsmanager",
            "account": "123456789012", "time": "2025-03-01T12:00:00Z",
            "region": "us-east-1", "resources": [], "detail": detail
        })
    }

    fn get_secret_value(request: &Value) -> Value {
        call(&json!({
            "eventID": "3c1e8a52-7d4b-4f0e-9a6c-2b5d8e1f0a93",
            "eventSource": SECRETS_MANAGER, "eventName": "GetSecretValue",
            "userIdentity": {"type": "AssumedRole", "accessKeyId": "ASIAEXAMPLE1234567890"},
            "requestParameters": request
        }))
    }

    #[test]
    fn the_secret_read_sample_is_one_read_of_the_current_version() {
        let call = parse(sample("cloudtrail-secretsmanager-getsecretvalue.json")).expect("parses");

        assert_eq!(call.event_name, "GetSecretValue");
        assert!(matches!(
            call.uses.as_slice(),
            [Use::SecretRead { secret_id, version: None }] if secret_id.contains(":secret:")
        ));
        assert_eq!(call.principals.len(), 2, "{:?}", call.principals);
    }

    #[test]
    fn the_access_key_sample_is_one_use_of_the_key() {
        let call = parse(sample("cloudtrail-access-key-call.json")).expect("parses");

        assert_eq!(call.event_source, "s3.amazonaws.com");
        assert_eq!(call.event_name, "CreateBucket");
        assert!(matches!(
            call.uses.as_slice(),
            [Use::AccessKey(key)] if key.starts_with("AKIA")
        ));
    }

    #[test]
    fn reads_of_other_versions_and_failed_reads_are_not_counted() {
        let previous = parse(get_secret_value(
            &json!({"secretId": "db", "versionStage": "AWSPREVIOUS"}),
        ))
        .expect("parses");
        assert!(previous.uses.is_empty() && previous.not_counted.is_some());

        let mut failed = get_secret_value(&json!({"secretId": "db"}));
        failed["detail"]["errorCode"] = json!("AccessDenied");
        let failed = parse(failed).expect("parses");
        assert!(failed.uses.is_empty() && failed.not_counted.is_some());

        let by_id = parse(get_secret_value(
            &json!({"secretId": "db", "versionId": "v1"}),
        ))
        .expect("parses");
        assert_eq!(
            by_id.uses,
            [Use::SecretRead {
                secret_id: "db".into(),
                version: Some(VersionId("v1".into()))
            }]
        );
    }

    #[test]
    fn batch_reads_and_other_services_are_acknowledged_without_uses() {
        let mut batch = get_secret_value(&json!({"secretIdList": ["a", "b"]}));
        batch["detail"]["eventName"] = json!("BatchGetSecretValue");
        let batch = parse(batch).expect("parses");
        assert!(batch.uses.is_empty() && batch.not_counted.is_some());

        let other = parse(call(&json!({
            "eventID": "e1", "eventSource": "ec2.amazonaws.com", "eventName": "RunInstances",
            "userIdentity": {"type": "AssumedRole", "accessKeyId": "ASIAEXAMPLE1234567890"}
        })))
        .expect("parses");
        assert!(other.uses.is_empty() && other.not_counted.is_none());
    }

    #[test]
    fn malformed_events_are_refused_by_field() {
        assert_eq!(parse(json!([1])), Err(EventError::NotAnObject));
        assert_eq!(
            parse(json!({"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}})),
            Err(EventError::NotCloudTrail)
        );
        let mut forged = get_secret_value(&json!({"secretId": "db"}));
        forged["source"] = json!("my.app");
        assert_eq!(parse(forged), Err(EventError::NotCloudTrail));

        let mut no_id = get_secret_value(&json!({"secretId": "db"}));
        no_id["detail"]
            .as_object_mut()
            .expect("object")
            .remove("eventID");
        assert_eq!(parse(no_id), Err(EventError::Missing("detail.eventID")));

        assert_eq!(
            parse(get_secret_value(&json!({"secretId": 7}))),
            Err(EventError::Missing("detail.requestParameters.secretId"))
        );
        assert!(matches!(
            parse(get_secret_value(&json!({"secretId": ""}))),
            Err(EventError::Invalid(_))
        ));
    }

    #[test]
    fn errors_never_echo_field_values() {
        let mut bad_id = get_secret_value(&json!({"secretId": "db"}));
        bad_id["detail"]["eventID"] = json!("sensitive value with spaces");
        let mut bad_key = get_secret_value(&json!({"secretId": "db"}));
        bad_key["detail"]["userIdentity"]["accessKeyId"] = json!("AKIA sensitive value");
        let bad_stage =
            get_secret_value(&json!({"secretId": "db", "versionStage": {"x": "sensitive value"}}));

        for event in [bad_id, bad_key, bad_stage] {
            let error = parse(event).expect_err("refused").to_string();
            assert!(!error.contains("sensitive"), "{error}");
        }
    }
}
