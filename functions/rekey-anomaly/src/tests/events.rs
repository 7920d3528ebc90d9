//! EventBridge events: AWS Health and GuardDuty findings, and others.

use super::*;

#[tokio::test]
async fn a_health_event_acts_only_on_managed_keys() {
    let f = fixture();
    let unmanaged = f
        .invoke(sample("aws-health-credentials-exposed.json"))
        .await;
    assert_eq!(unmanaged["outcome"], "unmatched");
    assert!(f.audit.events().is_empty(), "nothing was touched");

    let f = fixture();
    let id = f.key("ci/deployer-key", "AKIAIOSFODNN7EXAMPLE");
    let answer = f
        .invoke(sample("aws-health-credentials-exposed.json"))
        .await;

    assert_eq!(answer["outcome"], "responded", "{answer}");
    assert_eq!(answer["source"], "aws.health");
    assert!(!f.current_value(&id).await.contains("AKIAIOSFODNN7EXAMPLE"));
    let again = f
        .invoke(sample("aws-health-credentials-exposed.json"))
        .await;
    assert_eq!(again["outcome"], "duplicate");
}

#[tokio::test]
async fn guardduty_findings_rotate_user_keys_and_revoke_role_sessions() {
    let f = fixture();
    let id = f.key("ci/deployer-key", "AKIAIOSFODNN7EXAMPLE");

    let user = f.invoke(sample("guardduty-iam-user-key.json")).await;
    assert_eq!(user["outcome"], "responded", "{user}");
    assert!(!f.current_value(&id).await.contains("AKIAIOSFODNN7EXAMPLE"));

    let role = f.invoke(sample("guardduty-assumed-role.json")).await;
    assert_eq!(role["outcome"], "role-sessions", "{role}");
    assert_eq!(role["role"], "app-server");
    assert_eq!(role["revocation"], "revoked");
    assert_eq!(*f.sessions.0.lock().expect("not poisoned"), ["app-server"]);
}

#[tokio::test]
async fn other_events_are_ignored_and_other_payloads_refused() {
    let f = fixture();
    let scheduled = f.invoke(sample("eventbridge-scheduled-rule.json")).await;
    assert_eq!(scheduled["outcome"], "ignored");

    let error = handle(
        &f.engine,
        &f.config,
        sample("secretsmanager-rotation-create.json"),
    )
    .await
    .expect_err("not an anomaly event");
    assert_eq!(error.error_type(), "Rekey.InvalidEvent");
}
