//! The function on in-memory ports: every sample, both webhooks'
//! authentication and limits, redeliveries, and that no answer, error or
//! audit event names a leaked value.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use aws_lambda_events::apigw::ApiGatewayV2httpRequest;
use http::{HeaderMap, HeaderValue};
use rekey_core::audit::MemoryAudit;
use rekey_core::memory::{MemoryLedger, MemoryStore};
use rekey_core::{
    Credential, CredentialId, CredentialKind, Engine, KindError, ManualClock, PLAIN_SECRET, Policy,
    PolicySet, Provider, SecretStore as _, SecretValue, SessionRevocation, SessionRevoker, Stage,
    Values,
};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::macros::datetime;

use crate::*;

mod events;
mod github;
mod signed;

/// The value the GitHub sample's alert found.
const LEAKED: &str = "hunter2-leaked-db-password";
/// The secret the samples are signed with.
const TEST_SECRET: &str = "rekey-test-webhook-secret";
/// The signed webhook sample's timestamp, 2026-01-01T00:00:00Z.
const SAMPLE_TIME: OffsetDateTime = datetime!(2026-01-01 00:00 UTC);

const POLICIES: &str = r#"
[leaky]
max_age = "90d"
grace_period = "1h"
on_anomaly = "revoke-and-rotate"
generator = { type = "password", length = 24 }

[keys]
max_age = "90d"
kind = "test-key"
on_anomaly = "revoke-and-rotate"
"#;

struct Fixture {
    store: Arc<MemoryStore>,
    sessions: Arc<FakeSessions>,
    audit: Arc<MemoryAudit>,
    engine: Engine,
    config: WebhookConfig,
}

fn fixture() -> Fixture {
    let clock = Arc::new(ManualClock::new(SAMPLE_TIME));
    let store = Arc::new(MemoryStore::new(Provider::Local, clock.clone()));
    let sessions = Arc::new(FakeSessions::default());
    let audit = Arc::new(MemoryAudit::default());
    let policies: PolicySet = toml::from_str(POLICIES).expect("policies parse");
    let engine = Engine::new(policies, Arc::new(MemoryLedger::default()))
        .with_store(store.clone())
        .with_clock(clock)
        .with_kind(PLAIN_SECRET, Arc::new(rekey_core::PlainSecret))
        .with_kind("test-key", Arc::new(TestKeys::default()))
        .with_sessions(sessions.clone())
        .with_audit(audit.clone());
    let secret = || Some(SecretValue::new(TEST_SECRET.into()));
    let config = WebhookConfig {
        secrets: WebhookSecrets {
            github: secret(),
            signed: secret(),
        },
        github_alerts: Some(Arc::new(FakeAlerts)),
    };
    Fixture {
        store,
        sessions,
        audit,
        engine,
        config,
    }
}

impl Fixture {
    fn leaky(&self, name: &str, value: &str) -> CredentialId {
        let tags = [("rekey:policy", "leaky")];
        self.store
            .insert(name, &tags, Some(SecretValue::new(value.into())))
    }

    fn key(&self, name: &str, key_id: &str) -> CredentialId {
        let value = json!({"AccessKeyId": key_id, "SecretAccessKey": "s3cr3t-key"}).to_string();
        let tags = [("rekey:policy", "keys")];
        self.store
            .insert(name, &tags, Some(SecretValue::new(value)))
    }

    async fn described(&self, id: &CredentialId) -> Credential {
        self.store.describe(id).await.expect("describe")
    }

    async fn current_value(&self, id: &CredentialId) -> String {
        let credential = self.described(id).await;
        let current = credential
            .version_at(Stage::Current)
            .expect("a current version");
        let value = self.store.read(id, &current.id).await.expect("read");
        value.expose().to_owned()
    }

    async fn invoke(&self, payload: Value) -> Value {
        let answer = handle(&self.engine, &self.config, payload)
            .await
            .expect("handled");
        serde_json::to_value(answer).expect("answers are JSON")
    }

    async fn webhook(&self, path: &str, headers: &HeaderMap, body: &[u8]) -> WebhookReply {
        let now = SAMPLE_TIME;
        handle_webhook(&self.engine, &self.config, path, headers, body, now).await
    }

    /// Every audit event, as JSON text.
    fn audit_text(&self) -> String {
        let events = self.audit.events();
        serde_json::to_string(&events).expect("audit events are JSON")
    }
}

/// Issues access keys as `{"AccessKeyId", "SecretAccessKey"}` documents.
#[derive(Default)]
struct TestKeys(AtomicU32);

#[async_trait]
impl CredentialKind for TestKeys {
    async fn create(
        &self,
        _: &Credential,
        _: &Policy,
        _: &Values,
    ) -> Result<SecretValue, KindError> {
        let n = self.0.fetch_add(1, Ordering::SeqCst);
        let value =
            json!({"AccessKeyId": format!("AKIANEWKEY{n:010}"), "SecretAccessKey": "fresh"});
        Ok(SecretValue::new(value.to_string()))
    }

    async fn test(&self, _: &Credential, _: &Policy, _: &SecretValue) -> Result<(), KindError> {
        Ok(())
    }

    fn identifier(&self, value: &SecretValue) -> Option<String> {
        let document: Value = serde_json::from_str(value.expose()).ok()?;
        document.get("AccessKeyId")?.as_str().map(str::to_owned)
    }
}

/// Revokes the sessions of `app-server` only; records every request.
#[derive(Default)]
struct FakeSessions(Mutex<Vec<String>>);

#[async_trait]
impl SessionRevoker for FakeSessions {
    async fn revoke_sessions(
        &self,
        role: &str,
        _before: OffsetDateTime,
    ) -> Result<SessionRevocation, KindError> {
        self.0.lock().expect("not poisoned").push(role.to_owned());
        Ok(match role {
            "app-server" => SessionRevocation::Revoked,
            _ => SessionRevocation::NotManaged,
        })
    }
}

/// GitHub's REST API, holding the value of alert 42 of octo-org/payments.
struct FakeAlerts;

#[async_trait]
impl SecretScanningAlerts for FakeAlerts {
    async fn leaked_secret(
        &self,
        repository: &str,
        number: u64,
    ) -> Result<Option<SecretValue>, AlertLookupError> {
        match (repository, number) {
            ("octo-org/payments", 42) => Ok(Some(SecretValue::new(LEAKED.into()))),
            ("octo-org/down", _) => Err(AlertLookupError::Unavailable("503 from GitHub".into())),
            ("octo-org/locked", _) => {
                Err(AlertLookupError::TokenRejected("bad credentials".into()))
            }
            _ => Ok(None),
        }
    }
}

fn sample(name: &str) -> Value {
    let path = format!("{}/../../events/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).expect("sample is JSON")
}

/// A function URL sample's path, headers and body.
fn request(name: &str) -> (String, HeaderMap, String) {
    let request: ApiGatewayV2httpRequest =
        serde_json::from_value(sample(name)).expect("a function URL request");
    let path = request.raw_path.expect("a path");
    (path, request.headers, request.body.expect("a body"))
}

fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for (name, value) in pairs {
        headers.insert(*name, HeaderValue::from_str(value).expect("a header value"));
    }
    headers
}

fn github_headers(event: &str, delivery: &str, body: &[u8]) -> HeaderMap {
    let secret = SecretValue::new(TEST_SECRET.into());
    let signature = github_signature(&secret, body);
    headers(&[
        ("x-github-event", event),
        ("x-github-delivery", delivery),
        ("x-hub-signature-256", &signature),
    ])
}

fn signed_headers(timestamp: i64, body: &[u8]) -> HeaderMap {
    let secret = SecretValue::new(TEST_SECRET.into());
    let signature = signed_webhook_signature(&secret, timestamp, body);
    headers(&[
        ("x-rekey-timestamp", &timestamp.to_string()),
        ("x-rekey-signature", &signature),
    ])
}

fn response_body(answer: &Value) -> Value {
    let body = answer["body"].as_str().expect("a text body");
    serde_json::from_str(body).expect("the body is JSON")
}

#[tokio::test]
async fn every_sample_is_answered() {
    let f = fixture();
    f.leaky("payments/db-password", LEAKED);

    for name in [
        "aws-health-credentials-exposed.json",
        "guardduty-iam-user-key.json",
        "guardduty-assumed-role.json",
    ] {
        let answer = f.invoke(sample(name)).await;
        assert!(answer["outcome"].is_string(), "{name}: {answer}");
    }
    for name in ["github-secret-scanning-alert.json", "signed-webhook.json"] {
        let answer = f.invoke(sample(name)).await;
        assert_eq!(answer["statusCode"], 200, "{name}: {answer}");
        assert_eq!(response_body(&answer)["outcome"], "responded", "{name}");
    }
}
