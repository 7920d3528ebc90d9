//! The handler on in-memory ports.

use std::sync::Arc;

use async_trait::async_trait;
use rekey_core::memory::{MemoryLedger, MemoryStore};
use rekey_core::{
    Credential, CredentialKind, KindError, Policy, PolicySet, SecretValue, SystemClock, Values,
};
use serde_json::{Value, json};

use super::*;

const ARN: &str = "arn:aws:secretsmanager:us-east-1:123456789012:secret:app/db-AbCdEf";
const KEY_ARN: &str = "arn:aws:secretsmanager:us-east-1:123456789012:secret:ci/key-XyZ123";
const KEY: &str = "AKIAIOSFODNN7EXAMPLE";

/// A kind whose values are `{"AccessKeyId", "SecretAccessKey"}` objects,
/// identified by the key id; each new value has a new key id.
struct Keys;

#[async_trait]
impl CredentialKind for Keys {
    async fn create(
        &self,
        _: &Credential,
        _: &Policy,
        _: &Values,
    ) -> Result<SecretValue, KindError> {
        let id = uuid_like();
        Ok(SecretValue::new(
            json!({"AccessKeyId": format!("AKIA{id}"), "SecretAccessKey": "s"}).to_string(),
        ))
    }

    async fn test(&self, _: &Credential, _: &Policy, _: &SecretValue) -> Result<(), KindError> {
        Ok(())
    }

    fn identifier(&self, value: &SecretValue) -> Option<String> {
        let value: Value = serde_json::from_str(value.expose()).ok()?;
        Some(value["AccessKeyId"].as_str()?.to_owned())
    }
}

fn uuid_like() -> String {
    VersionId::generate()
        .as_str()
        .replace('-', "")
        .to_uppercase()[..16]
        .to_owned()
}

struct Fixture {
    engine: Engine,
    store: Arc<MemoryStore>,
}

fn fixture() -> Fixture {
    let policies: PolicySet = toml::from_str(
        "[limited]\nmax_age = \"30d\"\nmax_uses = 5\n\
         [unlimited]\nmax_age = \"30d\"\n\
         [key]\nmax_age = \"30d\"\nmax_uses = 3\ngrace_period = \"1h\"\nkind = \"key\"",
    )
    .expect("policies parse");
    let store = Arc::new(MemoryStore::new(
        Provider::AwsSecretsManager,
        Arc::new(SystemClock),
    ));
    let engine = Engine::new(policies, Arc::new(MemoryLedger::default()))
        .with_store(store.clone())
        .with_kind("key", Arc::new(Keys))
        .with_audit(Arc::new(rekey_core::audit::MemoryAudit::default()));
    Fixture { engine, store }
}

impl Fixture {
    fn secret(&self, arn: &str, policy: &str) -> CredentialId {
        self.store.insert(
            arn,
            &[("rekey:policy", policy)],
            Some(SecretValue::new("first-value".into())),
        )
    }

    async fn current(&self, id: &CredentialId) -> VersionId {
        let (credential, _) = self.engine.describe(id).await.expect("described");
        credential
            .version_at(Stage::Current)
            .expect("current")
            .id
            .clone()
    }
}

fn read(event_id: &str, secret_id: &str) -> Value {
    json!({
        "version": "0", "id": "0d1e2f3a-4b5c-6d7e-8f90-a1b2c3d4e5f6",
        "detail-type": DETAIL_TYPE, "source": "aws.secretsmanager",
        "account": "123456789012", "time": "2025-03-01T12:00:00Z", "region": "us-east-1",
        "resources": [],
        "detail": {
            "eventID": event_id, "eventSource": SECRETS_MANAGER, "eventName": "GetSecretValue",
            "userIdentity": {
                "type": "AssumedRole",
                "arn": "arn:aws:sts::123456789012:assumed-role/app/i-0abc",
                "accessKeyId": "ASIAEXAMPLE000000000",
                "sessionContext": {"sessionIssuer": {"arn": "arn:aws:iam::123456789012:role/app"}}
            },
            "requestParameters": {"secretId": secret_id}
        }
    })
}

fn key_call(event_id: &str, key: &str) -> Value {
    json!({
        "version": "0", "id": "0d1e2f3a-4b5c-6d7e-8f90-a1b2c3d4e5f7",
        "detail-type": DETAIL_TYPE, "source": "aws.s3",
        "account": "123456789012", "time": "2025-03-01T12:00:00Z", "region": "us-east-1",
        "resources": [],
        "detail": {
            "eventID": event_id, "eventSource": "s3.amazonaws.com", "eventName": "ListBuckets",
            "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::123456789012:user/ci",
                             "accessKeyId": key}
        }
    })
}

fn total(answer: &UsageAnswer) -> Option<u64> {
    match answer.counted.first()?.usage {
        UsageOutcome::Counted { total, .. } | UsageOutcome::Rotated { total, .. } => Some(total),
        UsageOutcome::NoCurrentValue => None,
    }
}

#[tokio::test]
async fn reads_by_name_and_by_arn_share_one_counter() {
    let f = fixture();
    let id = f.secret(ARN, "limited");

    let by_arn = handle(&f.engine, read("e1", ARN)).await.expect("handled");
    let by_name = handle(&f.engine, read("e2", "app/db"))
        .await
        .expect("handled");

    assert_eq!(by_arn.status, Status::Counted);
    assert_eq!(by_name.counted[0].credential, id);
    assert_eq!(total(&by_name), Some(2));
    assert_eq!(by_name.counted[0].via, Via::SecretRead);
}

#[tokio::test]
async fn a_redelivered_record_is_counted_once() {
    let f = fixture();
    f.secret(ARN, "limited");

    handle(&f.engine, read("same", ARN)).await.expect("handled");
    let again = handle(&f.engine, read("same", ARN)).await.expect("handled");
    let next = handle(&f.engine, read("other", ARN))
        .await
        .expect("handled");

    assert_eq!(again.status, Status::Duplicate);
    assert!(again.counted.is_empty());
    assert_eq!(total(&next), Some(2));
}

#[tokio::test]
async fn the_maximum_rotates_once_and_the_new_version_starts_at_zero() {
    let f = fixture();
    let id = f.secret(ARN, "limited");
    let first = f.current(&id).await;

    let mut answers = Vec::new();
    for n in 0..6 {
        answers.push(
            handle(&f.engine, read(&format!("e{n}"), ARN))
                .await
                .expect("handled"),
        );
    }

    let rotated: Vec<_> = answers.iter().filter(|a| a.rotated).collect();
    assert_eq!(rotated.len(), 1, "{answers:?}");
    assert!(answers[4].rotated, "the fifth use reaches the maximum");
    assert_ne!(f.current(&id).await, first);
    assert_eq!(total(&answers[5]), Some(1), "{:?}", answers[5]);
}

#[tokio::test]
async fn a_policy_without_max_uses_never_rotates() {
    let f = fixture();
    let id = f.secret(ARN, "unlimited");
    let first = f.current(&id).await;

    for n in 0..20 {
        let answer = handle(&f.engine, read(&format!("e{n}"), ARN))
            .await
            .expect("handled");
        assert!(!answer.rotated);
    }

    assert_eq!(f.current(&id).await, first);
}

#[tokio::test]
async fn unmanaged_and_unknown_secrets_are_acknowledged_uncounted() {
    let f = fixture();
    f.store.insert(ARN, &[], Some(SecretValue::new("v".into())));

    let unmanaged = handle(&f.engine, read("e1", ARN)).await.expect("handled");
    let unknown_name = handle(&f.engine, read("e2", "nobody"))
        .await
        .expect("handled");
    let unknown_arn = handle(&f.engine, read("e3", KEY_ARN))
        .await
        .expect("handled");

    for answer in [unmanaged, unknown_name, unknown_arn] {
        assert_eq!(answer.status, Status::Ignored, "{answer:?}");
        assert_eq!(answer.not_counted.len(), 1, "{answer:?}");
    }
}

#[tokio::test]
async fn a_call_with_a_managed_key_counts_against_its_secret_until_replaced() {
    let f = fixture();
    let id = f.store.insert(
        KEY_ARN,
        &[("rekey:policy", "key")],
        Some(SecretValue::new(
            json!({"AccessKeyId": KEY, "SecretAccessKey": "s"}).to_string(),
        )),
    );

    let answers = [
        handle(&f.engine, key_call("k1", KEY))
            .await
            .expect("handled"),
        handle(&f.engine, key_call("k2", KEY))
            .await
            .expect("handled"),
        handle(&f.engine, key_call("k3", KEY))
            .await
            .expect("handled"),
    ];
    let after = handle(&f.engine, key_call("k4", KEY))
        .await
        .expect("handled");

    assert_eq!(answers[0].counted[0].credential, id);
    assert_eq!(answers[0].counted[0].via, Via::AccessKey);
    assert!(answers[2].rotated, "{:?}", answers[2]);
    assert_eq!(after.status, Status::Ignored, "the old key is previous now");
    assert_eq!(after.not_counted.len(), 1);
}

#[tokio::test]
async fn calls_by_ignored_principals_are_not_counted() {
    let f = fixture();
    f.secret(ARN, "limited");
    let settings = Settings {
        ignored_principals: vec!["arn:aws:iam::123456789012:role/app".into()],
    };

    let answer = handle_with(&f.engine, &settings, read("e1", ARN))
        .await
        .expect("handled");
    let counted = handle(&f.engine, read("e1", ARN)).await.expect("handled");

    assert_eq!(answer.status, Status::Ignored);
    assert!(answer.reason.is_some());
    assert_eq!(
        total(&counted),
        Some(1),
        "an ignored event leaves no sighting"
    );
}

#[tokio::test]
async fn the_answer_says_what_was_counted() {
    let f = fixture();
    f.secret(ARN, "limited");

    let answer = handle(&f.engine, read("e1", ARN)).await.expect("handled");

    let json = serde_json::to_value(&answer).expect("serialises");
    assert_eq!(json["eventId"], "e1");
    assert_eq!(json["status"], "counted");
    assert_eq!(json["rotated"], false);
    assert_eq!(json["counted"][0]["via"], "secret-read");
    assert_eq!(json["counted"][0]["usage"]["outcome"], "counted");
    assert_eq!(json["counted"][0]["usage"]["total"], 1);
    assert_eq!(json["counted"][0]["usage"]["max_uses"], 5);
}

#[tokio::test]
async fn invalid_events_are_refused_before_anything_is_touched() {
    let f = fixture();

    let error = handle(&f.engine, json!({"hello": "world"}))
        .await
        .expect_err("refused");

    assert_eq!(error.error_type(), "Rekey.InvalidEvent");
}

#[test]
fn blank_entries_in_the_ignored_list_are_dropped() {
    let settings = Settings::from_list(" arn:aws:iam::1:role/rekey , ,");

    assert_eq!(settings.ignored_principals, ["arn:aws:iam::1:role/rekey"]);
    assert!(Settings::from_list("").ignored_principals.is_empty());
}
