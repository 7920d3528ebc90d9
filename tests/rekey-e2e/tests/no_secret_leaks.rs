//! One full integration run against moto with every log line captured, at
//! TRACE for every crate (rekey's, the AWS SDK's, hyper's), and every
//! audit line and function answer kept: then every secret value the run
//! created or handled is searched for in all of it, and none may be there.
//!
//! The run goes through each function's own entry point: the Secrets
//! Manager rotation contract (`rekey-rotate`), a sweep (`rekey-sweep`), an
//! IAM access key rotation, an AWS Health event and a GitHub delivery
//! (`rekey-anomaly`, revoke and rotate), and a usage threshold
//! (`rekey-usage`). The values are read back from moto afterwards: every
//! version of every secret, and each string field of a JSON value (an
//! access key pair's secret key).
//!
//! This file holds one test, since the log capture is the process's global
//! subscriber.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::{HeaderMap, HeaderValue};
use rekey_anomaly::{
    GITHUB_PATH, GitHubAlerts, WebhookConfig, WebhookSecrets, github_signature, handle_webhook,
};
use rekey_aws::{IAM_ACCESS_KEY, IamAccessKeys, IamRoleSessions};
use rekey_core::audit::JsonLines;
use rekey_core::{CredentialId, Engine, ManualClock, PolicySet, SecretValue, Trigger, VersionId};
use rekey_e2e::github::GITHUB_TOKEN;
use rekey_e2e::usage::secret_read;
use rekey_e2e::{FakeGitHub, Moto, sample, start_native_rotation};
use serde_json::{Value, json};
use time::OffsetDateTime;
use tracing_subscriber::fmt::MakeWriter;

const POLICIES: &str = r#"
[native]
max_age = "30d"

[hourly]
max_age = "1h"

[limited]
max_age = "30d"
max_uses = 3

[keys]
max_age = "30d"
grace_period = "1h"
kind = "iam-access-key"

[leakable]
max_age = "30d"
on_anomaly = "revoke-and-rotate"
"#;

const WEBHOOK_SECRET: &str = "rekey-leak-scan-webhook-secret";

/// A shared buffer that the log subscriber and the audit sink write to.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Capture {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("not poisoned")).into_owned()
    }
}

impl Write for Capture {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .expect("not poisoned")
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Capture {
    type Writer = Capture;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[tokio::test]
async fn a_full_run_logs_and_audits_no_secret_value() {
    let logs = Capture::default();
    tracing_subscriber::fmt()
        .json()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(logs.clone())
        .init();
    let audit = Capture::default();
    let mut answers = Vec::new();

    let moto = Moto::start().await.expect("moto must start");
    let engine = engine(&moto, &audit, OffsetDateTime::now_utc()).await;
    let tomorrow = OffsetDateTime::now_utc() + Duration::from_secs(24 * 60 * 60);
    let engine_tomorrow = engine_at(&moto, &audit, tomorrow).await;

    answers.push(native_rotation(&moto, &engine).await);
    answers.push(sweep(&moto, &engine_tomorrow).await);
    answers.extend(access_keys(&moto, &engine).await);
    answers.extend(usage(&moto, &engine).await);
    answers.push(github(&moto, &engine).await);

    let values = every_value(&moto).await;
    let everything = format!(
        "{}\n{}\n{}",
        logs.text(),
        audit.text(),
        serde_json::to_string(&answers).expect("answers serialise")
    );
    assert!(
        values.len() >= 15,
        "the run made too few values: {}",
        values.len()
    );
    assert!(audit.text().lines().count() >= 20, "{}", audit.text());
    assert!(
        logs.text().contains("aws_smithy"),
        "the SDK's logs are captured"
    );
    for value in &values {
        assert!(
            !everything.contains(value.as_str()),
            "a secret value of {} characters is in the logs, audit or answers",
            value.len()
        );
    }
}

async fn engine(moto: &Moto, audit: &Capture, now: OffsetDateTime) -> Engine {
    moto.create_ledger_table("rekey-ledger")
        .await
        .expect("ledger");
    engine_at(moto, audit, now).await
}

async fn engine_at(moto: &Moto, audit: &Capture, now: OffsetDateTime) -> Engine {
    let config = moto.sdk_config();
    let policies: PolicySet = toml::from_str(POLICIES).expect("the policies parse");
    let ledger = rekey_aws::DynamoDbLedger::new(&config, "rekey-ledger");
    Engine::new(policies, Arc::new(ledger))
        .with_store(Arc::new(moto.store()))
        .with_kind(IAM_ACCESS_KEY, Arc::new(IamAccessKeys::new(&config)))
        .with_sessions(Arc::new(IamRoleSessions::new(&config)))
        .with_clock(Arc::new(ManualClock::new(now)))
        .with_audit(Arc::new(JsonLines::new(audit.clone())))
}

async fn secret(moto: &Moto, name: &str, policy: &str, value: &str) -> CredentialId {
    moto.create_secret(name, &[("rekey:policy", policy)], value)
        .await
        .expect("create secret")
}

/// The four steps of a native rotation, with a rotation token.
async fn native_rotation(moto: &Moto, engine: &Engine) -> Value {
    let id = secret(moto, "native-db", "native", "native-first-Qx7rT2").await;
    let token = VersionId::generate();
    start_native_rotation(moto, &id, &token)
        .await
        .expect("starts");
    let mut answers = Vec::new();
    for step in ["createSecret", "setSecret", "testSecret", "finishSecret"] {
        let event = json!({
            "Step": step,
            "SecretId": id.locator,
            "ClientRequestToken": token.as_str(),
            "RotationToken": "rotation-token-secret-Mv2k9",
        });
        let answer = rekey_rotate::handle(engine, event)
            .await
            .expect("the step succeeds");
        answers.push(serde_json::to_value(answer).expect("serialises"));
    }
    Value::Array(answers)
}

/// A sweep a day ahead, which rotates the hourly secret.
async fn sweep(moto: &Moto, engine: &Engine) -> Value {
    secret(moto, "hourly-db", "hourly", "hourly-first-Jw3pL8").await;
    let event = sample("eventbridge-scheduled-rule.json").expect("sample");
    let summary = rekey_sweep::handle(engine, 4, event).await.expect("sweeps");
    assert!(!summary.rotated.is_empty(), "{summary:?}");
    serde_json::to_value(summary).expect("serialises")
}

/// An access key rotated, then reported exposed by AWS Health.
async fn access_keys(moto: &Moto, engine: &Engine) -> Vec<Value> {
    moto.create_user("deployer").await.expect("user");
    let key = moto.create_access_key("deployer").await.expect("key");
    let id = moto
        .create_access_key_secret("deployer-key", "keys", "deployer", &key)
        .await
        .expect("secret");
    let rotated = engine.rotate(&id, &Trigger::Manual).await.expect("rotates");

    let exposed = moto.current_pair(&id).await.expect("current pair");
    let mut event = sample("aws-health-credentials-exposed.json").expect("sample");
    event["detail"]["affectedEntities"][0]["entityValue"] = exposed.access_key_id().into();
    let webhooks = WebhookConfig::default();
    let answer = rekey_anomaly::handle(engine, &webhooks, event)
        .await
        .expect("responds");
    vec![
        json!({ "version": rotated.version, "replaced": rotated.replaced }),
        serde_json::to_value(answer).expect("serialises"),
    ]
}

/// Reads of a limited secret past its maximum uses.
async fn usage(moto: &Moto, engine: &Engine) -> Vec<Value> {
    let id = secret(moto, "limited-db", "limited", "limited-first-Zt4nB6").await;
    let mut answers = Vec::new();
    for n in 0..4 {
        let event = secret_read(&format!("read-{n}"), &id.locator).expect("event");
        let answer = rekey_usage::handle(engine, event).await.expect("counted");
        answers.push(serde_json::to_value(answer).expect("serialises"));
    }
    answers
}

/// A GitHub delivery about a leaked password.
async fn github(moto: &Moto, engine: &Engine) -> Value {
    let leaked = "leaked-password-Hh5wE1";
    secret(moto, "leakable-db", "leakable", leaked).await;
    let fake = FakeGitHub::start().await.expect("the fake GitHub starts");
    fake.add_alert("octo-org/payments", 42, "password", leaked);
    let token = SecretValue::new(GITHUB_TOKEN.into());
    let webhooks = WebhookConfig {
        secrets: WebhookSecrets {
            github: Some(SecretValue::new(WEBHOOK_SECRET.into())),
            ..WebhookSecrets::default()
        },
        github_alerts: Some(Arc::new(
            GitHubAlerts::new(fake.base(), token).expect("client"),
        )),
    };

    let delivery = sample("github-secret-scanning-alert.json").expect("sample");
    let body = delivery["body"].as_str().expect("a body");
    let secret = SecretValue::new(WEBHOOK_SECRET.into());
    let mut headers = HeaderMap::new();
    let signature = github_signature(&secret, body.as_bytes());
    headers.insert(
        "x-hub-signature-256",
        HeaderValue::from_str(&signature).expect("ascii"),
    );
    headers.insert(
        "x-github-event",
        HeaderValue::from_static("secret_scanning_alert"),
    );
    headers.insert("x-github-delivery", HeaderValue::from_static("leak-scan-1"));
    let now = engine.now();
    let reply = handle_webhook(
        engine,
        &webhooks,
        GITHUB_PATH,
        &headers,
        body.as_bytes(),
        now,
    )
    .await;
    assert_eq!(reply.body["outcome"], "responded", "{}", reply.body);
    reply.body
}

/// Every value of every secret in moto, deprecated versions too, with each
/// string field of a JSON value; plus the secrets the run was configured with.
async fn every_value(moto: &Moto) -> Vec<String> {
    let client = moto.secrets_manager();
    let mut values = vec![
        WEBHOOK_SECRET.to_owned(),
        GITHUB_TOKEN.to_owned(),
        "rotation-token-secret-Mv2k9".to_owned(),
    ];
    let listed = client.list_secrets().send().await.expect("secrets");
    for secret in listed.secret_list() {
        let name = secret.name().expect("a name");
        let versions = client
            .list_secret_version_ids()
            .secret_id(name)
            .include_deprecated(true)
            .send()
            .await
            .expect("versions");
        for version in versions.versions() {
            let value = client
                .get_secret_value()
                .secret_id(name)
                .version_id(version.version_id().expect("an id"))
                .send()
                .await
                .expect("value");
            if let Some(text) = value.secret_string() {
                values.extend(secrets_in(text));
            }
        }
    }
    values
}

/// A value, and its secret field when it is an access key pair (the key's
/// id is public; its secret key is not).
fn secrets_in(value: &str) -> Vec<String> {
    let mut secrets = vec![value.to_owned()];
    if let Ok(pair) = serde_json::from_str::<Value>(value)
        && let Some(secret) = pair["SecretAccessKey"].as_str()
    {
        secrets.push(secret.to_owned());
    }
    secrets
}
