//! `rekey-anomaly` end to end against a real moto server: the sample
//! events in `events/`, pointed at keys and roles made in moto, go through
//! the function's own entry points ([`rekey_anomaly::handle`] and
//! [`rekey_anomaly::handle_webhook`]) and change what they name in one
//! invocation.
//!
//! Each test prints what its flow cost against moto (`--nocapture` shows
//! it): the time, and the AWS actions called with their counts.

use std::sync::Arc;
use std::time::Instant;

use http::{HeaderMap, HeaderValue};
use rekey_anomaly::{
    AnomalyAnswer, Answer, GITHUB_PATH, GitHubAlerts, WebhookConfig, WebhookSecrets,
    github_signature, handle, handle_webhook,
};
use rekey_aws::{
    AccessKeyPair, IAM_ACCESS_KEY, IamAccessKeys, IamRoleSessions, REVOKE_POLICY_NAME,
};
use rekey_core::audit::MemoryAudit;
use rekey_core::{CredentialId, Engine, PolicySet, SecretValue};
use rekey_e2e::github::GITHUB_TOKEN;
use rekey_e2e::iam::user_arn;
use rekey_e2e::{FakeGitHub, Moto, sample};
use serde_json::Value;

const POLICIES: &str = r#"
[keys]
max_age = "2h"
grace_period = "1h"
kind = "iam-access-key"
on_anomaly = "revoke"

[roles]
max_age = "12h"
"#;

const USER: &str = "ci-deployer";
const ROLE: &str = "app-server";
const WEBHOOK_SECRET: &str = "rekey-test-webhook-secret";

/// A moto server, an engine on it with a DynamoDB ledger, and the
/// webhooks' configuration.
struct Rig {
    moto: Moto,
    engine: Engine,
    webhooks: WebhookConfig,
    github: Arc<FakeGitHub>,
}

impl Rig {
    async fn start() -> Self {
        let moto = Moto::start().await.expect("moto must start");
        let github = FakeGitHub::start().await.expect("the fake GitHub starts");
        let config = moto.sdk_config();
        let policies: PolicySet = toml::from_str(POLICIES).expect("the policies parse");
        let ledger = moto.ledger().await.expect("the ledger table");
        let engine = Engine::new(policies, Arc::new(ledger))
            .with_store(Arc::new(moto.store()))
            .with_kind(IAM_ACCESS_KEY, Arc::new(IamAccessKeys::new(&config)))
            .with_sessions(Arc::new(IamRoleSessions::new(&config)))
            .with_audit(Arc::new(MemoryAudit::default()));
        let token = SecretValue::new(GITHUB_TOKEN.into());
        let alerts = GitHubAlerts::new(github.base(), token).expect("a GitHub client");
        let webhooks = WebhookConfig {
            secrets: WebhookSecrets {
                github: Some(SecretValue::new(WEBHOOK_SECRET.into())),
                ..WebhookSecrets::default()
            },
            github_alerts: Some(Arc::new(alerts)),
        };
        Self {
            moto,
            engine,
            webhooks,
            github,
        }
    }

    /// IAM user [`USER`] with one key, held by a secret under the `keys`
    /// policy; the calls that set it up are not counted.
    async fn managed_key(&self) -> (CredentialId, AccessKeyPair) {
        self.moto.create_user(USER).await.expect("user");
        let key = self.moto.create_access_key(USER).await.expect("key");
        let id = self
            .moto
            .create_access_key_secret("ci-deployer-key", "keys", USER, &key)
            .await
            .expect("secret");
        self.moto.take_calls().await.expect("calls");
        (id, key)
    }

    async fn key_status(&self, key: &AccessKeyPair) -> String {
        let keys = self.moto.access_keys(USER).await.expect("list keys");
        keys.get(key.access_key_id()).cloned().unwrap_or_default()
    }

    /// Posts a GitHub delivery as the function URL would.
    async fn post_github(&self, headers: &HeaderMap, body: &str) -> rekey_anomaly::WebhookReply {
        let now = self.engine.now();
        let body = body.as_bytes();
        handle_webhook(
            &self.engine,
            &self.webhooks,
            GITHUB_PATH,
            headers,
            body,
            now,
        )
        .await
    }

    /// Invokes the function on `event` and checks that it revoked `key`,
    /// the one credential it names, in that one invocation.
    async fn revokes_in_one_invocation(&self, flow: &str, event: Value, key: &AccessKeyPair) {
        let started = Instant::now();
        let answer = self.invoke(event).await;
        self.cost(flow, started).await;

        assert!(
            matches!(&answer, AnomalyAnswer::Responded { responses, .. } if responses.len() == 1),
            "{answer:?}"
        );
        assert_eq!(self.key_status(key).await, "Inactive");
    }

    async fn invoke(&self, event: Value) -> AnomalyAnswer {
        match handle(&self.engine, &self.webhooks, event).await {
            Ok(Answer::Event(answer)) => answer,
            other => panic!("expected an event answer, got {other:?}"),
        }
    }

    /// Prints what a flow cost: time and AWS actions.
    #[allow(
        clippy::print_stderr,
        reason = "costs for the reader of the test output"
    )]
    async fn cost(&self, flow: &str, started: Instant) {
        let elapsed = started.elapsed().as_millis();
        let calls = self.moto.take_calls().await.expect("calls");
        let total: u64 = calls.values().sum();
        eprintln!("{flow}: {elapsed} ms, {total} AWS calls {calls:?}");
    }
}

#[tokio::test]
async fn a_health_event_leaves_the_exposed_key_inactive_in_one_invocation() {
    let rig = Rig::start().await;
    let (_, key) = rig.managed_key().await;
    let mut event = sample("aws-health-credentials-exposed.json").expect("sample");
    event["detail"]["affectedEntities"][0]["entityValue"] = key.access_key_id().into();

    rig.revokes_in_one_invocation("AWS Health event (revoke)", event, &key)
        .await;
}

#[tokio::test]
async fn a_guardduty_finding_leaves_the_users_key_inactive_in_one_invocation() {
    let rig = Rig::start().await;
    let (_, key) = rig.managed_key().await;
    let mut event = sample("guardduty-iam-user-key.json").expect("sample");
    event["detail"]["resource"]["accessKeyDetails"]["accessKeyId"] = key.access_key_id().into();

    let started = Instant::now();
    let answer = rig.invoke(event).await;
    rig.cost("GuardDuty user key finding (revoke)", started)
        .await;

    assert!(
        matches!(&answer, AnomalyAnswer::Responded { responses, .. } if responses.len() == 1),
        "{answer:?}"
    );
    assert_eq!(rig.key_status(&key).await, "Inactive");
}

#[tokio::test]
async fn a_guardduty_finding_about_a_role_session_revokes_the_roles_sessions() {
    let rig = Rig::start().await;
    let admin = user_arn("rekey-admin");
    rig.moto
        .create_role(
            ROLE,
            &[("rekey:policy", "roles")],
            &admin,
            &["s3:ListBucket"],
        )
        .await
        .expect("role");
    rig.moto.take_calls().await.expect("calls");
    let event = sample("guardduty-assumed-role.json").expect("sample");

    let started = Instant::now();
    let answer = rig.invoke(event).await;
    rig.cost("GuardDuty role session finding (revoke sessions)", started)
        .await;

    assert!(
        matches!(&answer, AnomalyAnswer::RoleSessions { role, .. } if role == ROLE),
        "{answer:?}"
    );
    let policy = rig
        .moto
        .role_policy(ROLE, REVOKE_POLICY_NAME)
        .await
        .expect("read the role's policy")
        .expect("the deny policy is attached");
    assert_eq!(policy["Statement"][0]["Effect"], "Deny");
    let keys = rig.moto.iam().list_users().send().await.expect("users");
    assert!(keys.users().is_empty(), "no key was made or touched");
}

#[tokio::test]
async fn a_signed_github_delivery_revokes_the_leaked_key_once() {
    let rig = Rig::start().await;
    let (_, key) = rig.managed_key().await;
    let delivery = sample("github-secret-scanning-alert.json").expect("sample");
    let body = delivery["body"].as_str().expect("the sample has a body");
    let number = serde_json::from_str::<Value>(body).expect("JSON body")["alert"]["number"]
        .as_u64()
        .expect("an alert number");
    rig.github.add_alert(
        "octo-org/payments",
        number,
        "aws_access_key_id",
        key.access_key_id(),
    );
    let secret = SecretValue::new(WEBHOOK_SECRET.into());
    let headers = github_headers(&delivery, &github_signature(&secret, body.as_bytes()));

    let started = Instant::now();
    let first = rig.post_github(&headers, body).await;
    rig.cost("GitHub delivery (revoke)", started).await;
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(first.body["outcome"], "responded", "{}", first.body);
    assert_eq!(rig.key_status(&key).await, "Inactive");

    rig.moto.take_calls().await.expect("calls");
    let started = Instant::now();
    let again = rig.post_github(&headers, body).await;
    rig.cost("GitHub delivery again (duplicate)", started).await;
    assert_eq!(again.body["outcome"], "duplicate", "{}", again.body);
    assert_eq!(
        rig.github.lookups(),
        2,
        "the alert is read before the id is checked"
    );
    let keys = rig.moto.access_keys(USER).await.expect("keys");
    assert_eq!(keys.len(), 1, "acting once made no second key: {keys:?}");
}

#[tokio::test]
async fn a_github_delivery_with_a_wrong_signature_changes_nothing() {
    let rig = Rig::start().await;
    let (_, key) = rig.managed_key().await;
    let delivery = sample("github-secret-scanning-alert.json").expect("sample");
    let body = delivery["body"].as_str().expect("the sample has a body");
    rig.github.add_alert(
        "octo-org/payments",
        42,
        "aws_access_key_id",
        key.access_key_id(),
    );
    let wrong = SecretValue::new("not-the-webhook-secret".into());
    let headers = github_headers(&delivery, &github_signature(&wrong, body.as_bytes()));

    let reply = rig.post_github(&headers, body).await;

    assert_eq!(reply.status, 401, "{}", reply.body);
    assert_eq!(rig.key_status(&key).await, "Active");
    assert_eq!(rig.github.lookups(), 0, "refused before anything was read");
    let calls = rig.moto.take_calls().await.expect("calls");
    let writes: Vec<_> = calls.keys().filter(|a| !a.contains(".List")).collect();
    assert!(writes.is_empty(), "a refused delivery called {calls:?}");
}

/// The sample delivery's headers, with `signature` as `X-Hub-Signature-256`.
fn github_headers(delivery: &Value, signature: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    let sample = delivery["headers"]
        .as_object()
        .expect("the sample has headers");
    for (name, value) in sample {
        let name: http::HeaderName = name.parse().expect("a header name");
        let value = value.as_str().expect("a header value");
        headers.insert(name, HeaderValue::from_str(value).expect("ascii"));
    }
    headers.insert(
        "x-hub-signature-256",
        HeaderValue::from_str(signature).expect("ascii"),
    );
    headers
}
