//! CloudTrail API-call events for `rekey-usage`, made from the samples in
//! `events/` with the fields a test varies replaced.

use serde_json::Value;

use crate::sample;

/// The sample GetSecretValue event, reading `secret_id`, as record `event_id`.
pub fn secret_read(event_id: &str, secret_id: &str) -> anyhow::Result<Value> {
    let mut event = sample("cloudtrail-secretsmanager-getsecretvalue.json")?;
    event["detail"]["eventID"] = event_id.into();
    event["detail"]["requestParameters"]["secretId"] = secret_id.into();
    Ok(event)
}

/// The sample call signed with an access key, with key `key`, as record
/// `event_id`.
pub fn access_key_call(event_id: &str, key: &str) -> anyhow::Result<Value> {
    let mut event = sample("cloudtrail-access-key-call.json")?;
    event["detail"]["eventID"] = event_id.into();
    event["detail"]["userIdentity"]["accessKeyId"] = key.into();
    Ok(event)
}
