//! `GitHubAlerts` against a fake of GitHub's REST API on loopback, then a
//! GitHub webhook delivery end to end: signature, alert lookup over HTTP,
//! revoke and rotate, redelivery.
//!
//! The fake follows GitHub's public reference ("Get a secret scanning
//! alert", "Rate limits for the REST API", "Troubleshooting the REST API",
//! "API versions"): GitHub's headers, its error body `{"message",
//! "documentation_url", "status"}`, 401 for a missing or wrong token, 403
//! without a `User-Agent`, 400 for an unsupported `X-GitHub-Api-Version`,
//! 404 for an unknown alert, 403 and 429 rate limits, 503, and a 301 for a
//! renamed repository.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::Response;
use axum::routing::get;
use rekey_anomaly::{
    AlertLookupError, GITHUB_PATH, GitHubAlerts, SecretScanningAlerts, WebhookConfig, WebhookReply,
    WebhookSecrets, github_signature, handle_webhook,
};
use rekey_core::audit::MemoryAudit;
use rekey_core::memory::{MemoryLedger, MemoryStore};
use rekey_core::{
    Credential, CredentialId, Engine, ManualClock, PolicySet, Provider, SecretStore as _,
    SecretValue, Stage,
};
use serde_json::{Value, json};
use time::macros::datetime;
use tokio::net::TcpListener;

/// The token the fake accepts.
const TOKEN: &str = "ghp_rekeyFakeToken000000000000000000000";
/// A token it refuses.
const WRONG_TOKEN: &str = "ghp_rekeyWrongToken00000000000000000000";
/// The value alert 42 of octo-org/payments found.
const LEAKED: &str = "hunter2-leaked-db-password";
/// The secret the webhook deliveries are signed with.
const WEBHOOK_SECRET: &str = "rekey-test-webhook-secret";
/// The API version every request must pin.
const API_VERSION: &str = "2022-11-28";
/// octo-org/payments' repository id, where its renamed name redirects.
const REPOSITORY_ID: u64 = 186_853_002;

const DOCS: &str =
    "https://docs.github.com/rest/secret-scanning/secret-scanning#get-a-secret-scanning-alert";

/// One request the fake received, as GitHub would see it.
#[derive(Clone, Debug)]
struct Received {
    path: String,
    authorization: Option<String>,
    accept: Option<String>,
    api_version: Option<String>,
    user_agent: Option<String>,
}

/// A fake of GitHub's REST API for secret scanning alerts.
struct FakeGitHub {
    base: String,
    received: Mutex<Vec<Received>>,
    /// Alerts by `(owner, repo, number)`, as GitHub's API returns them.
    alerts: HashMap<(String, String, u64), Value>,
}

impl FakeGitHub {
    async fn start() -> Arc<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr: SocketAddr = listener.local_addr().expect("address");
        let fake = Arc::new(Self {
            base: format!("http://{addr}"),
            received: Mutex::new(Vec::new()),
            alerts: alerts(),
        });

        let app = Router::new()
            .route(
                "/repos/{owner}/{repo}/secret-scanning/alerts/{number}",
                get(get_alert),
            )
            .route(
                "/repositories/{id}/secret-scanning/alerts/{number}",
                get(get_alert_by_repository_id),
            )
            .fallback(not_found)
            .with_state(fake.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        fake
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().expect("not poisoned").clone()
    }

    fn client(&self, token: &str) -> GitHubAlerts {
        GitHubAlerts::new(&self.base, SecretValue::new(token.into())).expect("a client")
    }

    /// Records the request, then checks what GitHub checks before routing:
    /// the `User-Agent`, the API version and the token. `Some` is the
    /// refusal.
    fn authenticate(&self, uri: &Uri, headers: &HeaderMap) -> Option<Response> {
        let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        self.received.lock().expect("not poisoned").push(Received {
            path: uri.path().to_owned(),
            authorization: text("authorization").map(str::to_owned),
            accept: text("accept").map(str::to_owned),
            api_version: text("x-github-api-version").map(str::to_owned),
            user_agent: text("user-agent").map(str::to_owned),
        });

        if text("user-agent").is_none_or(str::is_empty) {
            let message = "Request forbidden by administrative rules. Please make sure your request has a User-Agent header (https://docs.github.com/en/rest/overview/resources-in-the-rest-api#user-agent-required). Check https://developer.github.com for other possible causes.";
            return Some(error(StatusCode::FORBIDDEN, message, &[]));
        }
        if let Some(version) = text("x-github-api-version")
            && version != API_VERSION
        {
            let message = format!("Unsupported 'X-GitHub-Api-Version': '{version}'");
            return Some(error(StatusCode::BAD_REQUEST, &message, &[]));
        }
        let Some(authorization) = text("authorization") else {
            return Some(error(
                StatusCode::UNAUTHORIZED,
                "Requires authentication",
                &[],
            ));
        };
        let token = authorization
            .strip_prefix("Bearer ")
            .or_else(|| authorization.strip_prefix("token "));
        if token != Some(TOKEN) {
            return Some(error(StatusCode::UNAUTHORIZED, "Bad credentials", &[]));
        }
        None
    }

    fn alert(&self, owner: &str, repo: &str, number: &str, uri: &Uri) -> Response {
        let remaining = [("x-ratelimit-remaining", "4999".to_owned())];
        match (owner, repo) {
            ("octo-org", "rate-limited") => return primary_rate_limit(),
            ("octo-org", "busy") => return secondary_rate_limit(),
            ("octo-org", "outage") => return service_unavailable(),
            ("octo-org", "locked") => {
                let message = "Resource not accessible by personal access token";
                return error(StatusCode::FORBIDDEN, message, &remaining);
            }
            ("octo-org", "old-payments") => {
                let location = format!(
                    "{}/repositories/{REPOSITORY_ID}/secret-scanning/alerts/{number}",
                    self.base
                );
                return error(
                    StatusCode::MOVED_PERMANENTLY,
                    "Moved Permanently",
                    &[("location", location)],
                );
            }
            ("octo-org", "moved-away") => {
                let location = "http://127.0.0.1:9/steal".to_owned();
                return error(
                    StatusCode::MOVED_PERMANENTLY,
                    "Moved Permanently",
                    &[("location", location)],
                );
            }
            _ => {}
        }

        let found = number
            .parse::<u64>()
            .ok()
            .and_then(|n| self.alerts.get(&(owner.to_owned(), repo.to_owned(), n)));
        let Some(alert) = found else {
            return error(StatusCode::NOT_FOUND, "Not Found", &remaining);
        };
        let mut alert = alert.clone();
        if uri.query().is_some_and(|q| q.contains("hide_secret=true"))
            && let Some(fields) = alert.as_object_mut()
        {
            fields.remove("secret");
        }
        json_response(StatusCode::OK, &alert, &remaining)
    }
}

async fn get_alert(
    State(fake): State<Arc<FakeGitHub>>,
    Path((owner, repo, number)): Path<(String, String, String)>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    if let Some(refused) = fake.authenticate(&uri, &headers) {
        return refused;
    }
    fake.alert(&owner, &repo, &number, &uri)
}

async fn get_alert_by_repository_id(
    State(fake): State<Arc<FakeGitHub>>,
    Path((id, number)): Path<(u64, String)>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    if let Some(refused) = fake.authenticate(&uri, &headers) {
        return refused;
    }
    match id {
        REPOSITORY_ID => fake.alert("octo-org", "payments", &number, &uri),
        _ => error(StatusCode::NOT_FOUND, "Not Found", &[]),
    }
}

async fn not_found(State(fake): State<Arc<FakeGitHub>>, uri: Uri, headers: HeaderMap) -> Response {
    if let Some(refused) = fake.authenticate(&uri, &headers) {
        return refused;
    }
    error(StatusCode::NOT_FOUND, "Not Found", &[])
}

/// The alerts the fake holds, shaped as the reference's example response.
fn alerts() -> HashMap<(String, String, u64), Value> {
    let alert = |repo: &str, number: u64, secret: Option<&str>| {
        let api =
            format!("https://api.github.com/repos/octo-org/{repo}/secret-scanning/alerts/{number}");
        let mut alert = json!({
            "number": number,
            "created_at": "2026-01-01T00:00:00Z",
            "updated_at": "2026-01-01T00:00:00Z",
            "url": api,
            "html_url": format!("https://github.com/octo-org/{repo}/security/secret-scanning/{number}"),
            "locations_url": format!("{api}/locations"),
            "state": "open",
            "resolution": null,
            "resolved_at": null,
            "resolved_by": null,
            "resolution_comment": null,
            "secret_type": "password",
            "secret_type_display_name": "Password",
            "validity": "unknown",
            "publicly_leaked": false,
            "multi_repo": false,
            "push_protection_bypassed": false,
            "push_protection_bypassed_by": null,
            "push_protection_bypassed_at": null
        });
        if let Some(secret) = secret {
            alert["secret"] = json!(secret);
        }
        (("octo-org".to_owned(), repo.to_owned(), number), alert)
    };
    HashMap::from([
        alert("payments", 42, Some(LEAKED)),
        alert("payments", 7, None),
    ])
}

/// A JSON answer with the headers GitHub puts on every one.
fn json_response(status: StatusCode, body: &Value, extra: &[(&'static str, String)]) -> Response {
    let mut response = Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json; charset=utf-8")
        .header("x-github-media-type", "github.v3; format=json")
        .header("x-github-api-version-selected", API_VERSION)
        .header("x-ratelimit-limit", "5000")
        .header("x-ratelimit-resource", "core");
    for (name, value) in extra {
        response = response.header(*name, value);
    }
    response
        .body(Body::from(body.to_string()))
        .expect("a response")
}

/// GitHub's error body: `{"message", "documentation_url", "status"}`.
fn error(status: StatusCode, message: &str, extra: &[(&'static str, String)]) -> Response {
    let body = json!({
        "message": message,
        "documentation_url": DOCS,
        "status": status.as_u16().to_string(),
    });
    json_response(status, &body, extra)
}

/// The primary rate limit: 403 and `x-ratelimit-remaining: 0`.
fn primary_rate_limit() -> Response {
    let reset = time::OffsetDateTime::now_utc().unix_timestamp() + 45;
    let message = "API rate limit exceeded for user ID 1. If you reach out to GitHub Support for help, please include the request ID.";
    let headers = [
        ("x-ratelimit-remaining", "0".to_owned()),
        ("x-ratelimit-used", "5000".to_owned()),
        ("x-ratelimit-reset", reset.to_string()),
    ];
    error(StatusCode::FORBIDDEN, message, &headers)
}

/// A secondary rate limit: 429 and `retry-after`.
fn secondary_rate_limit() -> Response {
    let message =
        "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.";
    let headers = [
        ("retry-after", "30".to_owned()),
        ("x-ratelimit-remaining", "4990".to_owned()),
    ];
    error(StatusCode::TOO_MANY_REQUESTS, message, &headers)
}

/// 503, with the reference's body for it: `{"code", "message", "documentation_url"}`.
fn service_unavailable() -> Response {
    let body = json!({
        "code": "unavailable",
        "message": "Service unavailable",
        "documentation_url": DOCS,
    });
    json_response(StatusCode::SERVICE_UNAVAILABLE, &body, &[])
}

#[tokio::test]
async fn the_alerts_secret_comes_back() {
    let github = FakeGitHub::start().await;

    let secret = github
        .client(TOKEN)
        .leaked_secret("octo-org/payments", 42)
        .await
        .expect("read")
        .expect("the alert has its secret");

    assert_eq!(secret.expose(), LEAKED);
    let received = github.received();
    assert_eq!(received.len(), 1);
    let request = &received[0];
    assert_eq!(
        request.path,
        "/repos/octo-org/payments/secret-scanning/alerts/42"
    );
    let bearer = format!("Bearer {TOKEN}");
    assert_eq!(request.authorization.as_deref(), Some(bearer.as_str()));
    assert_eq!(
        request.accept.as_deref(),
        Some("application/vnd.github+json")
    );
    assert_eq!(request.api_version.as_deref(), Some(API_VERSION));
    assert_eq!(request.user_agent.as_deref(), Some("rekey"));
}

#[tokio::test]
async fn a_wrong_token_is_an_auth_error_that_does_not_name_it() {
    let github = FakeGitHub::start().await;
    let alerts = github.client(WRONG_TOKEN);

    let error = alerts
        .leaked_secret("octo-org/payments", 42)
        .await
        .expect_err("refused");

    assert!(
        matches!(&error, AlertLookupError::TokenRejected(m) if m == "Bad credentials"),
        "{error:?}"
    );
    assert!(!error.is_retryable());
    for text in [
        error.to_string(),
        format!("{error:?}"),
        format!("{alerts:?}"),
    ] {
        assert!(!text.contains(WRONG_TOKEN), "{text}");
        assert!(!text.contains("rekeyWrongToken"), "{text}");
    }
    assert!(error.to_string().contains("401"), "{error}");
}

#[tokio::test]
async fn a_missing_alert_is_not_found() {
    let github = FakeGitHub::start().await;
    let alerts = github.client(TOKEN);

    for (repository, number) in [("octo-org/payments", 43), ("octo-org/nothing-here", 42)] {
        let error = alerts
            .leaked_secret(repository, number)
            .await
            .expect_err("missing");
        assert!(
            matches!(&error, AlertLookupError::AlertNotFound { repository: r, number: n }
                if r == repository && *n == number),
            "{error:?}"
        );
        assert!(!error.is_retryable());
        assert!(error.to_string().contains("not found"), "{error}");
    }
}

#[tokio::test]
async fn an_alert_without_its_secret_is_none() {
    let github = FakeGitHub::start().await;

    let secret = github
        .client(TOKEN)
        .leaked_secret("octo-org/payments", 7)
        .await
        .expect("read");

    assert!(secret.is_none());
}

#[tokio::test]
async fn rate_limits_and_outages_are_retryable() {
    let github = FakeGitHub::start().await;
    let alerts = github.client(TOKEN);

    let primary = alerts
        .leaked_secret("octo-org/rate-limited", 1)
        .await
        .expect_err("limited");
    match primary {
        AlertLookupError::RateLimited { retry_after } => {
            assert!(retry_after <= Duration::from_secs(45), "{retry_after:?}");
            assert!(retry_after >= Duration::from_secs(30), "{retry_after:?}");
        }
        other => panic!("not a rate limit: {other:?}"),
    }
    let secondary = alerts
        .leaked_secret("octo-org/busy", 1)
        .await
        .expect_err("limited");
    assert!(
        matches!(secondary, AlertLookupError::RateLimited { retry_after } if retry_after == Duration::from_secs(30)),
        "{secondary:?}"
    );
    let outage = alerts
        .leaked_secret("octo-org/outage", 1)
        .await
        .expect_err("down");
    assert!(
        matches!(&outage, AlertLookupError::Unavailable(m) if m.contains("503")),
        "{outage:?}"
    );

    for error in [&primary, &secondary, &outage] {
        assert!(error.is_retryable(), "{error:?}");
    }
}

#[tokio::test]
async fn a_permission_refusal_is_not_a_rate_limit() {
    let github = FakeGitHub::start().await;

    let error = github
        .client(TOKEN)
        .leaked_secret("octo-org/locked", 1)
        .await
        .expect_err("refused");

    assert!(
        matches!(&error, AlertLookupError::AccessDenied(m) if m.contains("not accessible")),
        "{error:?}"
    );
    assert!(!error.is_retryable());
}

#[tokio::test]
async fn hostile_repositories_are_refused_before_any_request() {
    let github = FakeGitHub::start().await;
    let alerts = github.client(TOKEN);

    for hostile in [
        "../x",
        "octo-org/..",
        "octo org/payments",
        "octo-org/pay ments",
        "octo-org/payments/extra",
        "octo-org/payments?hide_secret=true",
        "octo-org/payments#x",
        "octo-org/%2e%2e",
        "octo-org",
        "",
    ] {
        let error = alerts.leaked_secret(hostile, 42).await.expect_err(hostile);
        assert!(
            matches!(error, AlertLookupError::InvalidRepository),
            "{hostile:?}: {error:?}"
        );
    }
    assert!(github.received().is_empty(), "{:?}", github.received());
}

#[tokio::test]
async fn a_renamed_repository_is_followed_within_the_api_only() {
    let github = FakeGitHub::start().await;
    let alerts = github.client(TOKEN);

    let secret = alerts
        .leaked_secret("octo-org/old-payments", 42)
        .await
        .expect("followed");
    assert_eq!(secret.expect("a secret").expose(), LEAKED);
    let paths: Vec<_> = github.received().into_iter().map(|r| r.path).collect();
    let followed = format!("/repositories/{REPOSITORY_ID}/secret-scanning/alerts/42");
    assert_eq!(paths.last(), Some(&followed));

    let error = alerts
        .leaked_secret("octo-org/moved-away", 42)
        .await
        .expect_err("not followed");
    assert!(
        matches!(error, AlertLookupError::UnexpectedStatus(301)),
        "{error:?}"
    );
}

#[tokio::test]
async fn an_unreachable_api_is_retryable() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    drop(listener);
    let alerts = GitHubAlerts::new(&format!("http://{addr}"), SecretValue::new(TOKEN.into()))
        .expect("a client");

    let error = alerts
        .leaked_secret("octo-org/payments", 42)
        .await
        .expect_err("nothing listens");

    assert!(
        matches!(error, AlertLookupError::Unavailable(_)),
        "{error:?}"
    );
    assert!(error.is_retryable());
}

// The whole path: a signed delivery, the alert read over HTTP, the engine.

const POLICIES: &str = r#"
[leaky]
max_age = "90d"
grace_period = "1h"
on_anomaly = "revoke-and-rotate"
generator = { type = "password", length = 24 }
"#;

/// A `secret_scanning_alert` delivery, shaped as GitHub's webhook payload.
fn delivery(number: u64) -> Vec<u8> {
    json!({
        "action": "created",
        "alert": {
            "number": number,
            "created_at": "2026-01-01T00:00:00Z",
            "updated_at": "2026-01-01T00:00:00Z",
            "url": format!("https://api.github.com/repos/octo-org/payments/secret-scanning/alerts/{number}"),
            "html_url": format!("https://github.com/octo-org/payments/security/secret-scanning/{number}"),
            "locations_url": format!("https://api.github.com/repos/octo-org/payments/secret-scanning/alerts/{number}/locations"),
            "resolution": null,
            "resolved_at": null,
            "resolved_by": null,
            "secret_type": "password",
            "secret_type_display_name": "Password",
            "validity": "unknown",
            "push_protection_bypassed": false,
            "publicly_leaked": false,
            "multi_repo": false
        },
        "repository": {
            "id": REPOSITORY_ID,
            "name": "payments",
            "full_name": "octo-org/payments",
            "private": true,
            "owner": {"login": "octo-org", "id": 6_811_672, "type": "Organization"}
        },
        "organization": {"login": "octo-org", "id": 6_811_672},
        "sender": {"login": "github", "id": 9919, "type": "Organization"}
    })
    .to_string()
    .into_bytes()
}

fn webhook_headers(delivery_id: &str, signature: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    let mut set = |name: &'static str, value: &str| {
        headers.insert(name, HeaderValue::from_str(value).expect("ascii"));
    };
    set("content-type", "application/json");
    set("user-agent", "GitHub-Hookshot/4a1b2c3");
    set("x-github-event", "secret_scanning_alert");
    set("x-github-delivery", delivery_id);
    set("x-github-hook-id", "512345678");
    set("x-hub-signature-256", signature);
    headers
}

struct Deployment {
    engine: Engine,
    store: Arc<MemoryStore>,
    audit: Arc<MemoryAudit>,
    config: WebhookConfig,
}

impl Deployment {
    fn new(github: &FakeGitHub) -> Self {
        let clock = Arc::new(ManualClock::new(datetime!(2026-01-01 00:00 UTC)));
        let store = Arc::new(MemoryStore::new(Provider::Local, clock.clone()));
        let audit = Arc::new(MemoryAudit::default());
        let policies: PolicySet = toml::from_str(POLICIES).expect("policies parse");
        let engine = Engine::new(policies, Arc::new(MemoryLedger::default()))
            .with_store(store.clone())
            .with_clock(clock)
            .with_audit(audit.clone());
        let config = WebhookConfig {
            secrets: WebhookSecrets {
                github: Some(SecretValue::new(WEBHOOK_SECRET.into())),
                ..WebhookSecrets::default()
            },
            github_alerts: Some(Arc::new(github.client(TOKEN))),
        };
        Self {
            engine,
            store,
            audit,
            config,
        }
    }

    async fn post(&self, headers: &HeaderMap, body: &[u8]) -> WebhookReply {
        let now = self.engine.now();
        handle_webhook(&self.engine, &self.config, GITHUB_PATH, headers, body, now).await
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
}

#[tokio::test]
async fn a_signed_delivery_reads_the_alert_from_github_and_retires_the_leaked_value() {
    let github = FakeGitHub::start().await;
    let deployment = Deployment::new(&github);
    let tags = [("rekey:policy", "leaky")];
    let leaked_value = Some(SecretValue::new(LEAKED.into()));
    let id = deployment
        .store
        .insert("payments/db-password", &tags, leaked_value);
    let leaked = deployment.described(&id).await.versions[0].id.clone();
    let before = deployment.described(&id).await;
    let body = delivery(42);
    let delivery_id = "3f6c2a10-e7d1-11f0-8a4b-0c5e2d7f9a31";

    let forged = github_signature(&SecretValue::new("not-the-secret".into()), &body);
    let refused = deployment
        .post(&webhook_headers(delivery_id, &forged), &body)
        .await;
    assert_eq!(refused.status, 401, "{:?}", refused.body);
    assert!(
        github.received().is_empty(),
        "GitHub was asked: {:?}",
        github.received()
    );
    assert_eq!(deployment.described(&id).await, before);

    let signature = github_signature(&SecretValue::new(WEBHOOK_SECRET.into()), &body);
    let headers = webhook_headers(delivery_id, &signature);
    let first = deployment.post(&headers, &body).await;
    assert_eq!(first.status, 200, "{:?}", first.body);
    assert_eq!(first.body["outcome"], "responded");
    assert_eq!(first.body["source"], "github");
    assert_eq!(first.body["finding"], "octo-org/payments#42");
    assert_eq!(first.body["responses"][0]["leaked"], leaked.as_str());
    assert_eq!(github.received().len(), 1);

    let after = deployment.described(&id).await;
    let old = after.version(&leaked).expect("the leaked version is kept");
    assert!(
        old.stages.is_empty(),
        "the leaked value is retired: {old:?}"
    );
    let current = after.version_at(Stage::Current).expect("a new current");
    assert_ne!(current.id, leaked);
    assert_ne!(deployment.current_value(&id).await, LEAKED);

    let again = deployment.post(&headers, &body).await;
    assert_eq!(again.status, 200, "{:?}", again.body);
    assert_eq!(again.body["outcome"], "duplicate");
    assert_eq!(
        deployment.described(&id).await,
        after,
        "a redelivery changes nothing"
    );

    let audit = serde_json::to_string(&deployment.audit.events()).expect("JSON");
    for text in [
        refused.body.to_string(),
        first.body.to_string(),
        again.body.to_string(),
        audit,
    ] {
        assert!(!text.contains(LEAKED), "{text}");
        assert!(!text.contains(TOKEN), "{text}");
    }
}
