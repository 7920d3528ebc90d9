//! rekey's own events on EventBridge, against a real moto server: the
//! publisher sends one event per relevant audit event, in batches, and a
//! function that collects its audit events publishes a rotation it caused.
//!
//! A rule on the bus with the pattern `{"source": ["rekey"]}` sends what
//! is published to an SQS queue the tests read.

use std::sync::Arc;
use std::time::Duration;

use rekey_aws::EventBridgePublisher;
use rekey_aws::events::{CREDENTIAL_REVOKED, ROTATION_COMPLETED, ROTATION_FAILED, SOURCE};
use rekey_core::audit::{Action, AuditEvent, Collector, MemoryAudit, Outcome, Tee};
use rekey_core::{CredentialId, Engine, PolicySet, Provider, VersionId};
use rekey_e2e::usage::secret_read;
use rekey_e2e::{BusTap, Moto};
use serde_json::{Value, json};
use time::OffsetDateTime;

const BUS: &str = "rekey-events";
const WAIT: Duration = Duration::from_secs(20);

fn audit_event(n: usize, action: Option<Action>, outcome: Outcome) -> AuditEvent {
    AuditEvent {
        time: OffsetDateTime::now_utc(),
        trigger: "schedule",
        credential: CredentialId::new(
            Provider::AwsSecretsManager,
            format!("arn:aws:secretsmanager:us-east-1:123456789012:secret:app/{n}-AbCdEf"),
        ),
        decision: action.is_none().then_some("rotate"),
        action,
        outcome,
        version: Some(VersionId(format!("version-{n}"))),
        previous_version: None,
        reason: (outcome == Outcome::Failed).then(|| "the new value failed its test".into()),
    }
}

async fn tap(moto: &Moto) -> BusTap {
    BusTap::create(moto, BUS, &json!({"source": [SOURCE]}))
        .await
        .expect("bus, queue and rule created")
}

#[tokio::test]
async fn relevant_audit_events_arrive_as_rekey_events_in_batches() {
    let moto = Moto::start().await.expect("moto starts");
    let tap = tap(&moto).await;
    let publisher = EventBridgePublisher::new(&moto.sdk_config(), BUS);
    let mut events = Vec::new();
    for n in 0..12 {
        let (action, outcome) = match n % 3 {
            0 => (Action::Promote, Outcome::Succeeded),
            1 => (Action::Test, Outcome::Failed),
            _ => (Action::Revoke, Outcome::Succeeded),
        };
        events.push(audit_event(n, Some(action), outcome));
        events.push(audit_event(100 + n, None, Outcome::Decided));
        events.push(audit_event(
            200 + n,
            Some(Action::Create),
            Outcome::Succeeded,
        ));
    }

    let published = publisher.publish(&events).await.expect("published");

    assert_eq!(published, 12, "only promotions, failures and revocations");
    let mut received = tap.receive(12, WAIT).await.expect("all arrived");
    received.sort_by_key(|e| e["detail"]["version"].as_str().map(str::to_owned));
    let mut versions: Vec<&str> = Vec::new();
    for event in &received {
        let detail = &event["detail"];
        let expected = match detail["action"].as_str() {
            Some("promote") => ROTATION_COMPLETED,
            Some("test") => ROTATION_FAILED,
            Some("revoke") => CREDENTIAL_REVOKED,
            other => panic!("unexpected action {other:?}: {event}"),
        };
        assert_eq!(event["source"], SOURCE);
        assert_eq!(event["detail-type"], expected, "{event}");
        assert_eq!(detail["class_uid"], 3001);
        assert_eq!(event["resources"], json!([detail["credential"]["locator"]]));
        versions.push(detail["version"].as_str().expect("a version"));
    }
    let failed = received
        .iter()
        .find(|e| e["detail-type"] == ROTATION_FAILED)
        .expect("a failure");
    assert_eq!(failed["detail"]["status_id"], 2);
    assert_eq!(failed["detail"]["reason"], "the new value failed its test");
    versions.dedup();
    assert_eq!(versions.len(), 12, "each event once: {versions:?}");
    assert!(
        tap.receive(1, Duration::from_secs(2)).await.is_err(),
        "nothing more"
    );
}

#[tokio::test]
async fn a_rotation_a_usage_event_causes_is_published_before_the_answer() {
    let moto = Moto::start().await.expect("moto starts");
    let tap = tap(&moto).await;
    let id = moto
        .create_secret("app/db", &[("rekey:policy", "limited")], "first-value")
        .await
        .expect("secret created");
    let collector = Arc::new(Collector::default());
    let audit = Tee(vec![Arc::new(MemoryAudit::default()), collector.clone()]);
    let policies: PolicySet =
        toml::from_str("[limited]\nmax_age = \"30d\"\nmax_uses = 1").expect("policies parse");
    let engine = Engine::new(policies, Arc::new(moto.ledger().await.expect("ledger")))
        .with_store(Arc::new(moto.store()))
        .with_audit(Arc::new(audit));
    let publisher = EventBridgePublisher::new(&moto.sdk_config(), BUS);

    let event = secret_read("the-use", &id.locator).expect("sample event");
    let answer = rekey_usage::handle(&engine, event).await.expect("handled");
    let published = publisher
        .publish(&collector.drain())
        .await
        .expect("published");

    assert!(answer.rotated, "{answer:?}");
    assert_eq!(published, 1);
    let received = tap.receive(1, WAIT).await.expect("arrived");
    let detail: &Value = &received[0]["detail"];
    assert_eq!(received[0]["detail-type"], ROTATION_COMPLETED);
    assert_eq!(detail["trigger"], "usage-threshold");
    assert_eq!(detail["credential"]["locator"], id.locator.as_str());
    assert_eq!(detail["activity_id"], 3);
    assert!(
        !received[0].to_string().contains("first-value"),
        "no value is published"
    );
    assert!(collector.drain().is_empty());
}
