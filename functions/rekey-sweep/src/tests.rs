//! The Cloud Scheduler route over real HTTP requests, with ID tokens
//! signed by the test key pair committed under
//! `infra/rekey-http/tests/fixtures` (a key made for these tests only).

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use http::{Method, Request, StatusCode};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rekey_app::triggers::{CloudScheduler, JwksLocation};
use rekey_core::memory::{MemoryLedger, MemoryStore};
use rekey_core::{
    CredentialId, Engine, ManualClock, PolicySet, Provider, SecretStore as _, SecretValue,
};
use serde_json::{Value, json};
use time::OffsetDateTime;
use tower::ServiceExt as _;

use crate::*;

const AUDIENCE: &str = "https://rekey-sweep.example.run.app/gcp/scheduler";
const EMAIL: &str = "rekey-scheduler@rekey-demo.iam.gserviceaccount.com";
const KID: &str = "rekey-test-key-1";

fn fixture(name: &str) -> String {
    format!(
        "{}/../../infra/rekey-http/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

struct Rig {
    store: Arc<MemoryStore>,
    id: CredentialId,
    function: SweepFunction,
    router: Router,
}

fn rig() -> Rig {
    let clock = Arc::new(ManualClock::new(OffsetDateTime::now_utc()));
    let store = Arc::new(MemoryStore::new(Provider::GcpSecretManager, clock.clone()));
    let id = store.insert(
        "projects/p/secrets/db",
        &[("rekey:policy", "hourly")],
        Some(SecretValue::new("old".into())),
    );
    clock.advance(Duration::from_secs(2 * 3600));
    let policies: PolicySet = toml::from_str("[hourly]\nmax_age = \"1h\"").expect("policies");
    let engine = Engine::new(policies, Arc::new(MemoryLedger::default()))
        .with_store(store.clone())
        .with_clock(clock)
        .with_audit(Arc::new(rekey_core::audit::MemoryAudit::default()));

    let scheduler = CloudScheduler {
        audience: AUDIENCE.into(),
        service_account_email: EMAIL.into(),
        jwks: JwksLocation::File(fixture("test-jwks.json").into()),
    };
    let function = SweepFunction::new(Arc::new(engine), Some(&scheduler)).expect("builds");
    let router = function.routes();
    Rig {
        store,
        id,
        function,
        router,
    }
}

fn claims() -> Value {
    let now = OffsetDateTime::now_utc().unix_timestamp();
    json!({
        "iss": "https://accounts.google.com", "aud": AUDIENCE, "azp": "1", "sub": "1",
        "email": EMAIL, "email_verified": true, "iat": now, "exp": now + 3600
    })
}

fn token(claims: &Value, key: &str, kid: &str) -> String {
    let pem = std::fs::read(fixture(key)).expect("fixture key");
    let key = EncodingKey::from_rsa_pem(&pem).expect("RSA key");
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(kid.into());
    jsonwebtoken::encode(&header, claims, &key).expect("signs")
}

fn with(change: &[(&str, Value)]) -> String {
    let mut claims = claims();
    for (name, value) in change {
        claims[*name] = value.clone();
    }
    token(&claims, "test-oidc-key.pem", KID)
}

async fn call(router: &Router, authorization: Option<&str>) -> (StatusCode, Value) {
    let mut request = Request::builder()
        .method(Method::POST)
        .uri(GCP_SCHEDULER_PATH);
    if let Some(value) = authorization {
        request = request.header("authorization", value);
    }
    let request = request.body(Body::from("{}")).expect("request");
    let response = router.clone().oneshot(request).await.expect("infallible");
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .expect("body");
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

async fn versions(rig: &Rig) -> usize {
    rig.store
        .describe(&rig.id)
        .await
        .expect("exists")
        .versions
        .len()
}

#[tokio::test]
async fn a_valid_scheduler_token_sweeps() {
    let rig = rig();
    let bearer = format!("Bearer {}", with(&[]));

    let (status, summary) = call(&rig.router, Some(&bearer)).await;
    assert_eq!(status, StatusCode::OK, "{summary}");
    assert_eq!(summary["examined"], 1);
    assert_eq!(summary["rotated"].as_array().map(Vec::len), Some(1));
    assert_eq!(versions(&rig).await, 2);

    let bare = format!("Bearer {}", with(&[("iss", json!("accounts.google.com"))]));
    assert_eq!(call(&rig.router, Some(&bare)).await.0, StatusCode::OK);
}

#[tokio::test]
async fn bad_scheduler_tokens_are_unauthorized_and_sweep_nothing() {
    let rig = rig();
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let cases: Vec<(Option<String>, &str)> = vec![
        (None, "no Authorization"),
        (Some("Basic dXNlcjpwYXNz".into()), "no Authorization"),
        (Some("Bearer not.a.jwt".into()), "well-formed"),
        (
            Some(format!("Bearer {}", token(&claims(), "other-key.pem", KID))),
            "signature",
        ),
        (
            Some(format!(
                "Bearer {}",
                token(&claims(), "test-oidc-key.pem", "gone")
            )),
            "kid",
        ),
        (
            Some(format!("Bearer {}", with(&[("exp", json!(now - 3600))]))),
            "expired",
        ),
        (
            Some(format!("Bearer {}", with(&[("iat", json!(now + 3600))]))),
            "future",
        ),
        (
            Some(format!(
                "Bearer {}",
                with(&[("aud", json!("https://elsewhere"))])
            )),
            "audience",
        ),
        (
            Some(format!(
                "Bearer {}",
                with(&[("iss", json!("https://evil.example"))])
            )),
            "issuer",
        ),
        (
            Some(format!(
                "Bearer {}",
                with(&[("email", json!("x@p.iam.gserviceaccount.com"))])
            )),
            "email",
        ),
        (
            Some(format!(
                "Bearer {}",
                with(&[("email_verified", json!(false))])
            )),
            "verified",
        ),
    ];

    for (authorization, names) in cases {
        let (status, answer) = call(&rig.router, authorization.as_deref()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{names}: {answer}");
        let message = answer["errorMessage"].as_str().unwrap_or_default();
        assert!(message.contains(names), "{names}: {message}");
        if let Some(authorization) = &authorization {
            let token = authorization.split(' ').nth(1).unwrap_or_default();
            assert!(!message.contains(token), "the answer repeats the token");
        }
    }
    assert_eq!(versions(&rig).await, 1);
}

#[tokio::test]
async fn the_route_is_off_without_its_section() {
    let engine = Engine::new(PolicySet::default(), Arc::new(MemoryLedger::default()));
    let function = SweepFunction::new(Arc::new(engine), None).expect("builds");
    let bearer = format!("Bearer {}", with(&[]));

    assert_eq!(
        call(&function.routes(), Some(&bearer)).await.0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn the_lambda_handler_answers_the_scheduler_sample_and_timer_events() {
    use rekey_http::Function as _;
    let rig = rig();

    // The sample's token expired on 2026-12-01: refused, as a function URL answer.
    let path = format!(
        "{}/../../events/gcp-cloud-scheduler.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let sample: Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("sample")).expect("JSON");
    let response = rig.function.invoke(sample.clone()).await.expect("answers");
    assert_eq!(response["statusCode"], 401, "{response}");

    let mut fresh = sample;
    fresh["headers"]["authorization"] = json!(format!("Bearer {}", with(&[])));
    let response = rig.function.invoke(fresh).await.expect("answers");
    assert_eq!(response["statusCode"], 200, "{response}");

    let summary = rig.function.invoke(json!({})).await.expect("sweeps");
    assert_eq!(summary["examined"], 1);
}

#[tokio::test]
async fn post_root_takes_the_timer_event_and_answers_its_errors() {
    let rig = rig();
    let function: Arc<dyn rekey_http::Function> = Arc::new(rig.function.clone());
    let router = rekey_http::router(&function);
    let post = |body: &str| {
        Request::builder()
            .method(Method::POST)
            .uri("/")
            .body(Body::from(body.to_owned()))
            .expect("request")
    };
    let answer = |request: Request<Body>| async {
        let response = router.clone().oneshot(request).await.expect("infallible");
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .expect("body");
        (
            status,
            serde_json::from_slice::<Value>(&bytes).unwrap_or(Value::Null),
        )
    };

    let rule = std::fs::read_to_string(format!(
        "{}/../../events/eventbridge-scheduled-rule.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("sample");
    let (status, summary) = answer(post(&rule)).await;
    assert_eq!(
        (status, summary["examined"].clone()),
        (StatusCode::OK, json!(1))
    );

    let (status, error) = answer(post("{\"hello\": 1}")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error["errorType"], "Rekey.InvalidEvent");
    let (status, _) = answer(post("{\"source\": ")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let huge = " ".repeat(rekey_http::MAX_EVENT_BODY + 1);
    assert_eq!(answer(post(&huge)).await.0, StatusCode::PAYLOAD_TOO_LARGE);
}
