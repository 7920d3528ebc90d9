//! GitHub's "Get a secret scanning alert" endpoint on loopback, for the
//! end-to-end tests of GitHub deliveries: the delivery names an alert, and
//! `rekey-anomaly` reads the leaked value from here.
//!
//! Only what a delivery's lookup needs: `GET
//! /repos/{owner}/{repo}/secret-scanning/alerts/{number}` with a bearer
//! token, answering the alert with its `secret`, GitHub's 401 for a wrong
//! token and 404 for an unknown alert. `rekey-anomaly`'s own tests cover
//! GitHub's rate limits, redirects and outages.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use anyhow::Context as _;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

/// The token the fake accepts.
pub const GITHUB_TOKEN: &str = "ghp_rekeyE2eToken00000000000000000000000";

/// A fake GitHub REST API holding secret scanning alerts.
#[derive(Debug)]
pub struct FakeGitHub {
    base: String,
    alerts: Mutex<HashMap<(String, u64), Value>>,
    lookups: Mutex<usize>,
}

impl FakeGitHub {
    /// Serves the fake on a free loopback port until the test ends.
    pub async fn start() -> anyhow::Result<Arc<Self>> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("failed to bind the fake GitHub")?;
        let address = listener.local_addr().context("no local address")?;
        let fake = Arc::new(Self {
            base: format!("http://{address}"),
            alerts: Mutex::default(),
            lookups: Mutex::default(),
        });
        let app = Router::new()
            .route(
                "/repos/{owner}/{repo}/secret-scanning/alerts/{number}",
                get(alert),
            )
            .with_state(Arc::clone(&fake));
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(fake)
    }

    /// The API's base URL, for `GitHubAlerts::new`.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Publishes alert `number` of `repository` (`owner/name`), which found
    /// `secret` of GitHub's type `secret_type`.
    pub fn add_alert(&self, repository: &str, number: u64, secret_type: &str, secret: &str) {
        let alert = json!({
            "number": number,
            "state": "open",
            "secret_type": secret_type,
            "secret": secret,
            "url": format!("{}/repos/{repository}/secret-scanning/alerts/{number}", self.base),
        });
        let mut alerts = self.alerts.lock().expect("not poisoned");
        alerts.insert((repository.to_owned(), number), alert);
    }

    /// How many alert lookups were answered with an alert.
    pub fn lookups(&self) -> usize {
        *self.lookups.lock().expect("not poisoned")
    }
}

async fn alert(
    State(fake): State<Arc<FakeGitHub>>,
    Path((owner, repo, number)): Path<(String, String, u64)>,
    headers: HeaderMap,
) -> Response {
    let authorization = headers.get("authorization").and_then(|v| v.to_str().ok());
    if authorization != Some(&format!("Bearer {GITHUB_TOKEN}")) {
        return error(StatusCode::UNAUTHORIZED, "Bad credentials");
    }

    let key = (format!("{owner}/{repo}"), number);
    let found = fake.alerts.lock().expect("not poisoned").get(&key).cloned();
    match found {
        Some(alert) => {
            *fake.lookups.lock().expect("not poisoned") += 1;
            axum::Json(alert).into_response()
        }
        None => error(StatusCode::NOT_FOUND, "Not Found"),
    }
}

/// GitHub's error body.
fn error(status: StatusCode, message: &str) -> Response {
    let body = json!({
        "message": message,
        "documentation_url": "https://docs.github.com/rest/secret-scanning/secret-scanning#get-a-secret-scanning-alert",
        "status": status.as_u16().to_string(),
    });
    (status, axum::Json(body)).into_response()
}
