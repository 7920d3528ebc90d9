//! The routes over real HTTP requests (`tower::ServiceExt::oneshot` on the
//! router), on in-memory GCP and Azure stores: one rotation per notice
//! however often or concurrently it is delivered, the handshakes,
//! authentication, limits, and no secret value in any answer.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use http::{Method, Request, StatusCode};
use rekey_app::triggers::{EventGrid, JwksLocation, SecretManagerNotifications};
use rekey_core::memory::{MemoryLedger, MemoryStore};
use rekey_core::{
    CredentialId, Engine, ManualClock, PolicySet, Provider, SecretStore as _, SecretValue, Stage,
};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::macros::datetime;
use tower::ServiceExt as _;

use crate::*;

/// When the credentials were made; the samples are published at 10:00.
const MADE: OffsetDateTime = datetime!(2026-12-01 09:00 UTC);
const GCP_SECRET: &str = "projects/rekey-demo/secrets/payments-db";
const AZURE_SECRET: &str = "https://rekey-demo-kv.vault.azure.net/secrets/payments-db";
const SUBSCRIPTION: &str = "projects/rekey-demo/subscriptions/rekey-rotate-push";
const TOPIC: &str = "/subscriptions/00000000-1111-2222-3333-444444444444/resourceGroups/rekey-demo/providers/Microsoft.KeyVault/vaults/rekey-demo-kv";
const GRID_SECRET: &str = "rekey-test-event-grid-secret";
const VALUE: &str = "the-current-value-never-shown";
const AUDIENCE: &str = "https://rekey-rotate.example.run.app/gcp/secret-manager";
const PUSHER: &str = "rekey-push@rekey-demo.iam.gserviceaccount.com";

struct Rig {
    clock: Arc<ManualClock>,
    gcp: Arc<MemoryStore>,
    azure: Arc<MemoryStore>,
    router: Router,
}

fn settings() -> RotateSettings {
    RotateSettings {
        notifications: Some(SecretManagerNotifications {
            subscriptions: vec![SUBSCRIPTION.into()],
            audience: None,
            service_account_email: None,
            jwks: JwksLocation::default(),
        }),
        event_grid: Some(EventGrid {
            topics: vec![TOPIC.into()],
        }),
        event_grid_secret: Some(SecretValue::new(GRID_SECRET.into())),
    }
}

fn rig_with(settings: RotateSettings) -> Rig {
    let clock = Arc::new(ManualClock::new(MADE));
    let gcp = Arc::new(MemoryStore::new(Provider::GcpSecretManager, clock.clone()));
    let azure = Arc::new(MemoryStore::new(Provider::AzureKeyVault, clock.clone()));
    let policy = [("rekey:policy", "demo")];
    gcp.insert(GCP_SECRET, &policy, Some(SecretValue::new(VALUE.into())));
    azure.insert(AZURE_SECRET, &policy, Some(SecretValue::new(VALUE.into())));
    gcp.insert("projects/rekey-demo/secrets/unmanaged", &[], None);

    let policies: PolicySet = toml::from_str("[demo]\nmax_age = \"90d\"").expect("policies");
    let engine = Engine::new(policies, Arc::new(MemoryLedger::default()))
        .with_store(gcp.clone())
        .with_store(azure.clone())
        .with_clock(clock.clone())
        .with_audit(Arc::new(rekey_core::audit::MemoryAudit::default()));
    let function = RotateFunction::new(Arc::new(engine), settings).expect("builds");
    Rig {
        clock,
        gcp,
        azure,
        router: rekey_http::router(&(Arc::new(function) as Arc<dyn rekey_http::Function>)),
    }
}

fn rig() -> Rig {
    rig_with(settings())
}

fn sample(name: &str) -> Value {
    let path = format!("{}/../../events/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).expect("sample is JSON")
}

/// The body and headers of a function URL sample, as an HTTP request.
fn unwrap_request(name: &str) -> Request<Body> {
    let sample = sample(name);
    let mut request = Request::builder()
        .method(Method::POST)
        .uri(sample["rawPath"].as_str().expect("path"));
    for (name, value) in sample["headers"].as_object().expect("headers") {
        request = request.header(name, value.as_str().expect("string header"));
    }
    let body = sample["body"].as_str().expect("body").to_owned();
    request.body(Body::from(body)).expect("request")
}

fn post(path: &str, headers: &[(&str, &str)], body: impl Into<Body>) -> Request<Body> {
    let mut request = Request::builder().method(Method::POST).uri(path);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.body(body.into()).expect("request")
}

fn push(body: &Value) -> Request<Body> {
    post(
        GCP_SECRET_MANAGER_PATH,
        &[("content-type", "application/json")],
        body.to_string(),
    )
}

fn grid(body: &Value) -> Request<Body> {
    let headers = [("x-rekey-event-grid-secret", GRID_SECRET)];
    post(AZURE_EVENT_GRID_PATH, &headers, body.to_string())
}

async fn send(router: &Router, request: Request<Body>) -> (StatusCode, http::HeaderMap, Value) {
    let response = router.clone().oneshot(request).await.expect("infallible");
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, 1 << 20).await.expect("body");
    let text = String::from_utf8_lossy(&bytes).into_owned();
    assert!(
        !text.contains(VALUE),
        "an answer holds a secret value: {text}"
    );
    assert!(
        !text.contains(GRID_SECRET),
        "an answer holds the delivery secret: {text}"
    );
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    (parts.status, parts.headers, body)
}

async fn versions(store: &MemoryStore, locator: &str) -> usize {
    let id = CredentialId::new(store.provider(), locator);
    store.describe(&id).await.expect("exists").versions.len()
}

/// The Pub/Sub sample with another message id.
fn push_with_id(id: &str) -> Value {
    let mut body = sample("gcp-secret-manager-rotate.json");
    body["message"]["messageId"] = json!(id);
    body
}

#[tokio::test]
async fn secret_rotate_delivered_twice_adds_one_version() {
    let rig = rig();
    let body = sample("gcp-secret-manager-rotate.json");

    let (status, _, first) = send(&rig.router, push(&body)).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(first["outcome"], "rotated");
    assert_eq!(first["event"], "SECRET_ROTATE");

    let (status, _, second) = send(&rig.router, push(&body)).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(second["outcome"], "duplicate");
    assert_eq!(versions(&rig.gcp, GCP_SECRET).await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_deliveries_add_one_version() {
    let rig = rig();
    rig.clock.advance(Duration::from_secs(2 * 3600));

    // Eight deliveries at once: four of one message, four of others (Pub/Sub
    // may publish the same notice twice).
    let mut deliveries = tokio::task::JoinSet::new();
    for n in 0..8 {
        let router = rig.router.clone();
        let id = if n % 2 == 0 {
            "same".to_owned()
        } else {
            format!("other-{n}")
        };
        deliveries.spawn(async move { send(&router, push(&push_with_id(&id))).await });
    }
    let mut outcomes = Vec::new();
    while let Some(done) = deliveries.join_next().await {
        let (status, _, answer) = done.expect("delivery ran");
        assert!(
            status.is_success() || status == StatusCode::SERVICE_UNAVAILABLE,
            "{answer}"
        );
        outcomes.push(answer["outcome"].as_str().unwrap_or("retry").to_owned());
    }

    let rotated = outcomes.iter().filter(|o| *o == "rotated").count();
    assert_eq!(rotated, 1, "{outcomes:?}");
    assert_eq!(versions(&rig.gcp, GCP_SECRET).await, 2);
}

#[tokio::test]
async fn a_notice_published_before_the_current_version_is_skipped() {
    let rig = rig();
    // Pub/Sub published two notices at 10:00; rekey acts on the first at 11:00.
    rig.clock.advance(Duration::from_secs(2 * 3600));
    let (_, _, first) = send(&rig.router, push(&push_with_id("1"))).await;
    assert_eq!(first["outcome"], "rotated");

    let (status, _, answer) = send(&rig.router, push(&push_with_id("2"))).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(answer["outcome"], "already-rotated");
    assert_eq!(versions(&rig.gcp, GCP_SECRET).await, 2);
}

#[tokio::test]
async fn version_add_and_unmanaged_secrets_change_nothing() {
    let rig = rig();
    let add = sample("gcp-secret-manager-version-add.json");
    let (status, _, answer) = send(&rig.router, push(&add)).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(answer["outcome"], "ignored");

    let mut unmanaged = push_with_id("u1");
    unmanaged["message"]["attributes"]["secretId"] = json!("projects/rekey-demo/secrets/unmanaged");
    let (_, _, answer) = send(&rig.router, push(&unmanaged)).await;
    assert_eq!(answer["outcome"], "not-managed");

    let mut missing = push_with_id("u2");
    missing["message"]["attributes"]["secretId"] = json!("projects/rekey-demo/secrets/none");
    let (status, _, answer) = send(&rig.router, push(&missing)).await;
    assert_eq!(
        (status, answer["outcome"].clone()),
        (StatusCode::ACCEPTED, json!("not-managed"))
    );
    assert_eq!(versions(&rig.gcp, GCP_SECRET).await, 1);
}

#[tokio::test]
async fn an_unlisted_subscription_is_forbidden() {
    let rig = rig();
    let mut body = sample("gcp-secret-manager-rotate.json");
    body["subscription"] = json!("projects/other/subscriptions/rekey-rotate-push");

    let (status, _, answer) = send(&rig.router, push(&body)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(answer["errorType"], "Rekey.Forbidden");
    assert_eq!(versions(&rig.gcp, GCP_SECRET).await, 1);
}

#[tokio::test]
async fn malformed_pushes_are_refused_and_change_nothing() {
    let rig = rig();
    let good = sample("gcp-secret-manager-rotate.json").to_string();
    let mut bad_base64 = sample("gcp-secret-manager-rotate.json");
    bad_base64["message"]["data"] = json!("not base64!");
    let mut no_id = sample("gcp-secret-manager-rotate.json");
    no_id["message"]
        .as_object_mut()
        .map(|m| m.remove("messageId"));

    let cases: Vec<(Body, StatusCode, &str)> = vec![
        (
            Body::from(good[..good.len() / 2].to_owned()),
            StatusCode::BAD_REQUEST,
            "not JSON",
        ),
        (
            Body::from(bad_base64.to_string()),
            StatusCode::BAD_REQUEST,
            "message.data",
        ),
        (
            Body::from(no_id.to_string()),
            StatusCode::BAD_REQUEST,
            "message.messageId",
        ),
        (Body::from("[]"), StatusCode::BAD_REQUEST, "push envelope"),
        (
            Body::from(vec![b' '; MAX_PUSH_BODY + 1]),
            StatusCode::PAYLOAD_TOO_LARGE,
            "limit",
        ),
    ];
    for (body, expected, names) in cases {
        let (status, _, answer) = send(&rig.router, post(GCP_SECRET_MANAGER_PATH, &[], body)).await;
        assert_eq!(status, expected, "{answer}");
        let message = answer["errorMessage"].as_str().unwrap_or_default();
        assert!(message.contains(names), "{message}");
    }

    let declared = [("content-length", "100000000")];
    let (status, _, _) = send(&rig.router, post(GCP_SECRET_MANAGER_PATH, &declared, "{}")).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(versions(&rig.gcp, GCP_SECRET).await, 1);
}

fn signed_push_token(email: &str) -> String {
    let pem = std::fs::read(fixture("test-oidc-key.pem")).expect("fixture key");
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(&pem).expect("RSA key");
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = Some("rekey-test-key-1".into());
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let claims = json!({
        "iss": "https://accounts.google.com", "aud": AUDIENCE, "email": email,
        "email_verified": true, "iat": now, "exp": now + 600, "sub": "1"
    });
    jsonwebtoken::encode(&header, &claims, &key).expect("signs")
}

fn fixture(name: &str) -> String {
    format!(
        "{}/../../infra/rekey-http/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

#[tokio::test]
async fn an_authenticated_subscription_needs_its_push_token() {
    let mut settings = settings();
    if let Some(n) = settings.notifications.as_mut() {
        n.audience = Some(AUDIENCE.into());
        n.service_account_email = Some(PUSHER.into());
        n.jwks = JwksLocation::File(fixture("test-jwks.json").into());
    }
    let rig = rig_with(settings);
    let body = sample("gcp-secret-manager-rotate.json").to_string();

    let (status, _, answer) = send(
        &rig.router,
        post(GCP_SECRET_MANAGER_PATH, &[], body.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{answer}");
    let stranger = format!(
        "Bearer {}",
        signed_push_token("someone@else.iam.gserviceaccount.com")
    );
    let wrong = [("authorization", stranger.as_str())];
    let (status, _, answer) = send(
        &rig.router,
        post(GCP_SECRET_MANAGER_PATH, &wrong, body.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        answer["errorMessage"]
            .as_str()
            .is_some_and(|m| m.contains("email"))
    );
    assert_eq!(versions(&rig.gcp, GCP_SECRET).await, 1);

    let bearer = format!("Bearer {}", signed_push_token(PUSHER));
    let good = [("authorization", bearer.as_str())];
    let (status, _, answer) = send(&rig.router, post(GCP_SECRET_MANAGER_PATH, &good, body)).await;
    assert_eq!(
        (status, answer["outcome"].clone()),
        (StatusCode::OK, json!("rotated"))
    );
}

#[tokio::test]
async fn both_event_grid_handshakes_succeed() {
    let rig = rig();
    let (status, _, answer) = send(
        &rig.router,
        unwrap_request("azure-event-grid-subscription-validation.json"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        answer,
        json!({"validationResponse": "512d38b6-c7b8-40c8-89fe-f46f9e9622b6"})
    );

    let options = Request::builder()
        .method(Method::OPTIONS)
        .uri(AZURE_EVENT_GRID_PATH)
        .header("webhook-request-origin", "eventgrid.azure.net")
        .header("x-rekey-event-grid-secret", GRID_SECRET)
        .body(Body::empty())
        .expect("request");
    let (status, headers, _) = send(&rig.router, options).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["webhook-allowed-origin"], "eventgrid.azure.net");
    assert!(headers.contains_key("webhook-allowed-rate"));
}

#[tokio::test]
async fn event_grid_without_its_secret_is_unauthorized_handshakes_included() {
    let rig = rig();
    let validation = sample("azure-event-grid-subscription-validation.json");
    let body = validation["body"].as_str().expect("body").to_owned();
    let wrong = [("x-rekey-event-grid-secret", "guess")];

    for headers in [&[][..], &wrong[..]] {
        let (status, _, _) = send(
            &rig.router,
            post(AZURE_EVENT_GRID_PATH, headers, body.clone()),
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let options = Request::builder()
        .method(Method::OPTIONS)
        .uri(AZURE_EVENT_GRID_PATH)
        .header("webhook-request-origin", "eventgrid.azure.net")
        .body(Body::empty())
        .expect("request");
    let (status, headers, _) = send(&rig.router, options).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(!headers.contains_key("webhook-allowed-origin"));
}

#[tokio::test]
async fn near_expiry_rotates_once_in_either_schema() {
    let rig = rig();
    let current = CredentialId::new(Provider::AzureKeyVault, AZURE_SECRET);
    let described = rig.azure.describe(&current).await.expect("exists");
    let version = described
        .version_at(Stage::Current)
        .expect("current")
        .id
        .clone();

    // The notice names the version that is current now.
    let mut events: Value = serde_json::from_str(
        sample("azure-event-grid-secret-near-expiry.json")["body"]
            .as_str()
            .expect("body"),
    )
    .expect("JSON");
    events[0]["data"]["Version"] = json!(version.as_str());
    events[0]["data"]["Id"] = json!(format!("{AZURE_SECRET}/{version}"));

    let (status, _, answer) = send(&rig.router, grid(&events)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["events"][0]["outcome"], "rotated");
    let (_, _, again) = send(&rig.router, grid(&events)).await;
    assert_eq!(again["events"][0]["outcome"], "duplicate");

    // The same notice in CloudEvents, another id: its version is no longer current.
    let cloud = unwrap_request("azure-cloudevents-secret-near-expiry.json");
    let (status, _, answer) = send(&rig.router, cloud).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["events"][0]["outcome"], "already-rotated");
    assert_eq!(versions(&rig.azure, AZURE_SECRET).await, 2);
}

#[tokio::test]
async fn event_grid_refuses_unlisted_topics_and_bad_bodies() {
    let rig = rig();
    let body = sample("azure-event-grid-secret-near-expiry.json")["body"]
        .as_str()
        .expect("body")
        .to_owned();
    let mut events: Value = serde_json::from_str(&body).expect("JSON");
    events[0]["topic"] = json!(TOPIC.replace("rekey-demo-kv", "other-kv"));
    let (status, _, _) = send(&rig.router, grid(&events)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let secret = [("x-rekey-event-grid-secret", GRID_SECRET)];
    for (bad, expected) in [
        (
            Body::from(body[..body.len() - 3].to_owned()),
            StatusCode::BAD_REQUEST,
        ),
        (Body::from("{\"id\": 1}"), StatusCode::BAD_REQUEST),
        (
            Body::from(vec![b'['; MAX_EVENT_GRID_BODY + 1]),
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
    ] {
        let (status, _, _) = send(&rig.router, post(AZURE_EVENT_GRID_PATH, &secret, bad)).await;
        assert_eq!(status, expected);
    }

    let mut other: Value = serde_json::from_str(&body).expect("JSON");
    other[0]["eventType"] = json!("Microsoft.KeyVault.SecretNewVersionCreated");
    let (status, _, answer) = send(&rig.router, grid(&other)).await;
    assert_eq!(
        (status, answer["events"][0]["outcome"].clone()),
        (StatusCode::OK, json!("ignored"))
    );
    assert_eq!(versions(&rig.azure, AZURE_SECRET).await, 1);
}

#[tokio::test]
async fn routes_left_unconfigured_are_not_found() {
    let rig = rig_with(RotateSettings::default());
    let body = sample("gcp-secret-manager-rotate.json");

    let (status, _, _) = send(&rig.router, push(&body)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) = send(&rig.router, grid(&json!([]))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_lambda_handler_takes_envelopes_and_function_url_requests() {
    let rig = rig();
    let function = {
        // The rig's router holds the function; build a second one on the same stores.
        let policies: PolicySet = toml::from_str("[demo]\nmax_age = \"90d\"").expect("policies");
        let engine = Engine::new(policies, Arc::new(MemoryLedger::default()))
            .with_store(rig.gcp.clone())
            .with_store(rig.azure.clone())
            .with_clock(rig.clock.clone())
            .with_audit(Arc::new(rekey_core::audit::MemoryAudit::default()));
        RotateFunction::new(Arc::new(engine), settings()).expect("builds")
    };
    use rekey_http::Function as _;

    let answer = function
        .invoke(sample("gcp-secret-manager-rotate.json"))
        .await;
    assert_eq!(answer.expect("rotates")["outcome"], "rotated");

    let response = function
        .invoke(sample("azure-event-grid-subscription-validation.json"))
        .await
        .expect("answers");
    assert_eq!(response["statusCode"], 200);
    assert!(
        response["body"]
            .as_str()
            .is_some_and(|b| b.contains("validationResponse"))
    );

    let bare: Value = serde_json::from_str(
        sample("azure-event-grid-secret-near-expiry.json")["body"]
            .as_str()
            .expect("body"),
    )
    .expect("JSON");
    let refused = function.invoke(bare).await.expect_err("no secret header");
    assert_eq!(refused.error_type, "Rekey.Unauthorized");
}
