//! The GitHub webhook: signatures, events and actions, redeliveries.

use super::*;

#[tokio::test]
async fn a_github_alert_retires_the_leaked_value_once() {
    let f = fixture();
    let id = f.leaky("payments/db-password", LEAKED);
    let leaked = f.described(&id).await.versions[0].id.clone();

    let first = f.invoke(sample("github-secret-scanning-alert.json")).await;
    assert_eq!(first["statusCode"], 200);
    let body = response_body(&first);
    assert_eq!(body["outcome"], "responded");
    assert_eq!(body["finding"], "octo-org/payments#42");
    assert_eq!(body["responses"][0]["leaked"], leaked.as_str());

    let after = f.described(&id).await;
    let old = after.version(&leaked).expect("the leaked version is kept");
    assert!(
        old.stages.is_empty(),
        "the leaked value is retired: {old:?}"
    );
    assert_ne!(f.current_value(&id).await, LEAKED);

    let second = f.invoke(sample("github-secret-scanning-alert.json")).await;
    assert_eq!(second["statusCode"], 200);
    assert_eq!(response_body(&second)["outcome"], "duplicate");
    assert_eq!(
        f.described(&id).await,
        after,
        "a redelivery changes nothing"
    );

    for text in [first.to_string(), second.to_string(), f.audit_text()] {
        assert!(!text.contains(LEAKED), "{text}");
    }
}

#[tokio::test]
async fn without_github_api_access_an_alert_is_acknowledged_not_acted_on() {
    let mut f = fixture();
    let id = f.leaky("payments/db-password", LEAKED);
    f.config.github_alerts = None;
    let before = f.described(&id).await;

    let answer = f.invoke(sample("github-secret-scanning-alert.json")).await;

    assert_eq!(answer["statusCode"], 202);
    let body = response_body(&answer);
    assert_eq!(body["outcome"], "ignored");
    assert!(
        body["reason"]
            .as_str()
            .is_some_and(|r| r.contains("leaked value"))
    );
    assert_eq!(f.described(&id).await, before);
}

#[tokio::test]
async fn bad_github_signatures_are_401_and_change_nothing() {
    let f = fixture();
    let id = f.leaky("payments/db-password", LEAKED);
    let before = f.described(&id).await;
    let (path, good, body) = request("github-secret-scanning-alert.json");
    let signature = good["x-hub-signature-256"]
        .to_str()
        .expect("ascii")
        .to_owned();

    let mut missing = good.clone();
    missing.remove("x-hub-signature-256");
    let malformed = |value: &str| {
        let mut headers = good.clone();
        headers.insert(
            "x-hub-signature-256",
            HeaderValue::from_str(value).expect("ascii"),
        );
        headers
    };
    let other_body = github_signature(&SecretValue::new(TEST_SECRET.into()), b"{}");
    let other_secret = github_signature(&SecretValue::new("not-it".into()), body.as_bytes());
    let last = if signature.ends_with('0') { '1' } else { '0' };
    let one_digit_off = format!("{}{last}", &signature[..signature.len() - 1]);
    let cases = [
        missing,
        malformed("sha1=abc"),
        malformed(&signature.replace("sha256=", "")),
        malformed(&format!("{signature}00")),
        malformed(&other_body),
        malformed(&other_secret),
        malformed(&one_digit_off),
    ];

    for headers in cases {
        let reply = f.webhook(&path, &headers, body.as_bytes()).await;
        assert_eq!(reply.status, 401, "{headers:?}: {:?}", reply.body);
        assert_eq!(reply.body["errorType"], "Rekey.Unauthorized");
    }
    let tampered = body.replace("\"number\":42", "\"number\":43");
    let reply = f.webhook(&path, &good, tampered.as_bytes()).await;
    assert_eq!(reply.status, 401);

    assert_eq!(f.described(&id).await, before);
    let delivery = "github:3f6c2a10-e7d1-11f0-8a4b-0c5e2d7f9a31";
    assert!(
        f.engine.first_sighting(delivery).await.expect("ledger"),
        "no sighting was recorded"
    );
}

#[tokio::test]
async fn pings_other_events_and_other_actions_are_acknowledged() {
    let f = fixture();
    let path = GITHUB_PATH;

    let ping = br#"{"zen":"Keep it logically awesome.","hook_id":1}"#;
    let reply = f
        .webhook(path, &github_headers("ping", "d1", ping), ping)
        .await;
    assert_eq!(
        (reply.status, reply.body["outcome"].as_str()),
        (200, Some("pong"))
    );

    let push = br#"{"ref":"refs/heads/main"}"#;
    let reply = f
        .webhook(path, &github_headers("push", "d2", push), push)
        .await;
    assert_eq!(
        (reply.status, reply.body["outcome"].as_str()),
        (202, Some("ignored"))
    );

    let resolved = br#"{"action":"resolved","alert":{"number":42},"repository":{"full_name":"octo-org/payments"}}"#;
    let headers = github_headers("secret_scanning_alert", "d3", resolved);
    let reply = f.webhook(path, &headers, resolved).await;
    assert_eq!(reply.status, 202);
    assert!(
        reply.body["reason"]
            .as_str()
            .is_some_and(|r| r.contains("resolved"))
    );

    let mut no_event = headers.clone();
    no_event.remove("x-github-event");
    assert_eq!(f.webhook(path, &no_event, resolved).await.status, 400);
}

#[tokio::test]
async fn a_github_api_failure_is_503_and_can_be_retried() {
    let f = fixture();
    let body =
        br#"{"action":"created","alert":{"number":1},"repository":{"full_name":"octo-org/down"}}"#;
    let headers = github_headers("secret_scanning_alert", "d-down", body);

    let reply = f.webhook(GITHUB_PATH, &headers, body).await;

    assert_eq!(reply.status, 503, "{:?}", reply.body);
    assert!(
        f.engine
            .first_sighting("github:d-down")
            .await
            .expect("ledger")
    );
}

#[tokio::test]
async fn a_permanent_github_api_refusal_is_502_and_changes_nothing() {
    let f = fixture();
    let id = f.leaky("payments/db-password", LEAKED);
    let before = f.described(&id).await;
    let body =
        br#"{"action":"created","alert":{"number":1},"repository":{"full_name":"octo-org/locked"}}"#;
    let headers = github_headers("secret_scanning_alert", "d-locked", body);

    let reply = f.webhook(GITHUB_PATH, &headers, body).await;

    assert_eq!(reply.status, 502, "{:?}", reply.body);
    assert_eq!(reply.body["errorType"], "Rekey.UpstreamRefused");
    assert_eq!(f.described(&id).await, before);
    assert!(
        f.engine
            .first_sighting("github:d-locked")
            .await
            .expect("ledger"),
        "a refused delivery is not remembered"
    );
}
