//! The signed webhook and what every route shares: size limits, malformed
//! bodies, the replay window, routes.

use super::*;

#[tokio::test]
async fn oversized_bodies_are_413_before_signature_or_parse() {
    let f = fixture();
    let huge = vec![b'{'; MAX_WEBHOOK_BODY + 1];

    for path in [GITHUB_PATH, SIGNED_PATH] {
        let reply = f.webhook(path, &HeaderMap::new(), &huge).await;
        assert_eq!(reply.status, 413, "{path}");
        assert_eq!(reply.body["errorType"], "Rekey.PayloadTooLarge");
    }

    let declared = headers(&[("content-length", "70000")]);
    assert_eq!(f.webhook(SIGNED_PATH, &declared, b"{}").await.status, 413);

    let at_limit = vec![b' '; MAX_WEBHOOK_BODY];
    assert_eq!(
        f.webhook(SIGNED_PATH, &HeaderMap::new(), &at_limit)
            .await
            .status,
        401
    );

    let mut encoded = sample("signed-webhook.json");
    encoded["isBase64Encoded"] = json!(true);
    encoded["body"] = json!("A".repeat(MAX_WEBHOOK_BODY * 2));
    encoded["headers"] = json!({});
    let answer = f.invoke(encoded).await;
    assert_eq!(answer["statusCode"], 413);
}

#[tokio::test]
async fn malformed_json_is_400_with_a_clear_message() {
    let f = fixture();
    let now = SAMPLE_TIME.unix_timestamp();

    let truncated = br#"{"id": "x", "value": "hunter2-lea"#;
    let reply = f
        .webhook(SIGNED_PATH, &signed_headers(now, truncated), truncated)
        .await;
    assert_eq!(reply.status, 400);
    let message = reply.body["errorMessage"].as_str().expect("a message");
    assert!(message.starts_with("truncated JSON body"), "{message}");
    assert!(!message.contains("hunter2"), "{message}");

    let garbage = b"not json at all";
    let headers = github_headers("secret_scanning_alert", "d4", garbage);
    let reply = f.webhook(GITHUB_PATH, &headers, garbage).await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.body["errorType"], "Rekey.InvalidEvent");
}

#[tokio::test]
async fn signed_requests_outside_the_replay_window_are_401() {
    let f = &fixture();
    let body = br#"{"id":"w1","identifier":"AKIAIOSFODNN7EXAMPLE"}"#;
    let now = SAMPLE_TIME;
    let at = |offset: i64| signed_headers(now.unix_timestamp() + offset, body);
    let send = |headers: HeaderMap| async move {
        handle_webhook(&f.engine, &f.config, SIGNED_PATH, &headers, body, now).await
    };

    for offset in [-301, 301, -86_400] {
        let reply = send(at(offset)).await;
        assert_eq!(reply.status, 401, "{offset}");
        let message = reply.body["errorMessage"].as_str().expect("a message");
        assert!(message.contains("300 s"), "{message}");
    }
    assert_eq!(send(at(-299)).await.status, 200);
    assert_eq!(
        send(at(299)).await.status,
        200,
        "a new timestamp, the same id"
    );

    let mut unsigned = at(0);
    unsigned.remove("x-rekey-signature");
    let mut no_time = at(0);
    no_time.remove("x-rekey-timestamp");
    let mut odd_time = at(0);
    odd_time.insert("x-rekey-timestamp", HeaderValue::from_static("-5"));
    for headers in [unsigned, no_time, odd_time] {
        assert_eq!(send(headers).await.status, 401);
    }
}

#[tokio::test]
async fn signed_webhooks_name_a_credential_an_identifier_or_a_value() {
    let f = &fixture();
    let id = f.leaky("payments/db-password", LEAKED);
    f.key("ci/deployer-key", "AKIAIOSFODNN7EXAMPLE");
    let now = SAMPLE_TIME.unix_timestamp();
    let send = |body: Value| {
        let body = body.to_string();
        let headers = signed_headers(now, body.as_bytes());
        async move { f.webhook(SIGNED_PATH, &headers, body.as_bytes()).await }
    };

    let by_value = send(json!({"id": "v1", "detector": "canary", "value": LEAKED})).await;
    assert_eq!(by_value.status, 200, "{:?}", by_value.body);
    assert_eq!(by_value.body["outcome"], "responded");
    assert_eq!(by_value.body["source"], "webhook:canary");
    assert_ne!(f.current_value(&id).await, LEAKED);

    let again = send(json!({"id": "v1", "detector": "canary", "value": LEAKED})).await;
    assert_eq!(again.body["outcome"], "duplicate");

    let by_key = send(json!({"id": "k1", "identifier": "AKIAIOSFODNN7EXAMPLE"})).await;
    assert_eq!(
        by_key.body["responses"][0]["credential"]["locator"],
        "ci/deployer-key"
    );

    let credential = json!({"provider": "local", "locator": "payments/db-password"});
    let by_id = send(json!({"id": "c1", "credential": credential})).await;
    assert_eq!(by_id.body["outcome"], "responded");

    let nothing = send(json!({"id": "n1", "value": "never-managed"})).await;
    assert_eq!(nothing.body["outcome"], "unmatched");

    let refused = [
        json!({"id": "x", "value": LEAKED, "identifier": "AKIAIOSFODNN7EXAMPLE"}),
        json!({"id": "x"}),
        json!({"id": "", "value": LEAKED}),
        json!({"id": 7, "value": LEAKED}),
        json!({"id": "x", "value": 7, "note": LEAKED}),
        json!({"id": "x", "secret": LEAKED}),
        json!({"id": "x", "detector": "no spaces", "value": LEAKED}),
        json!({"id": "x", "credential": {"provider": "vault", "locator": LEAKED}}),
        json!({"id": "x", "credential": {"provider": "aws-iam-role", "locator": "app"}}),
    ];
    for body in refused {
        let reply = send(body.clone()).await;
        assert_eq!(reply.status, 400, "{body}: {:?}", reply.body);
        assert!(!reply.body.to_string().contains(LEAKED), "{:?}", reply.body);
    }
    assert!(!f.audit_text().contains(LEAKED));
}

#[tokio::test]
async fn unknown_and_disabled_routes_are_404_and_only_post_is_taken() {
    let mut f = fixture();
    let reply = f.webhook("/webhooks/other", &HeaderMap::new(), b"{}").await;
    assert_eq!(reply.status, 404);

    f.config.secrets.signed = None;
    let reply = f.webhook(SIGNED_PATH, &HeaderMap::new(), b"{}").await;
    assert_eq!(reply.status, 404);
    let message = reply.body["errorMessage"].as_str().expect("a message");
    assert!(message.contains(SIGNED_SECRET_ENV), "{message}");

    let mut get = sample("github-secret-scanning-alert.json");
    get["requestContext"]["http"]["method"] = json!("GET");
    assert_eq!(f.invoke(get).await["statusCode"], 405);
}
