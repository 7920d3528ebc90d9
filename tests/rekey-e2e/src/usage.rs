//! CloudTrail API-call events for `rekey-usage`, made from the samples in
//! `events/` with the fields a test varies replaced.

use anyhow::Context as _;
use serde_json::Value;

use crate::moto::repo_root;

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

/// A sample event from `events/`.
fn sample(name: &str) -> anyhow::Result<Value> {
    let path = repo_root().join("events").join(name);
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("failed to read the sample {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("the sample {name} is not JSON"))
}
