//! `rekey serve`: local mode. A scheduler wakes the sweep; an HTTP listener
//! on loopback accepts events for any function; the engine writes one
//! audit line per decision and action on stdout.
//!
//! Routes:
//! - `POST /2015-03-31/functions/{name}/invocations`: the Lambda Invoke
//!   API's path, so `aws lambda invoke --endpoint-url` works against it;
//! - `POST /events`: any supported event, routed to its function by shape;
//! - every function's own routes, mounted from the function crates so local
//!   mode runs the code a deployment runs: `POST /webhooks/github`,
//!   `POST /webhooks/signed` (`rekey-anomaly`, bodies up to 64 KiB),
//!   `POST /gcp/secret-manager`, `POST`/`OPTIONS /azure/event-grid`
//!   (`rekey-rotate`) and `POST /gcp/scheduler` (`rekey-sweep`);
//! - `GET /inventory`: the inventory as JSON;
//! - `GET /healthz`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderName, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use bytes::Bytes;
use rekey_core::Trigger;
use serde_json::{Value, json};

use crate::functions::{Function, Functions};

/// The largest event body accepted, Lambda's asynchronous payload limit.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// Options of `rekey serve`.
#[derive(clap::Args)]
pub struct ServeArgs {
    /// Where to listen; local mode accepts loopback addresses only.
    #[arg(long, default_value = "127.0.0.1:8720")]
    listen: SocketAddr,
    /// Sweep this often, overriding `[schedule] every` (e.g. "10s").
    #[arg(long, value_parser = humantime::parse_duration)]
    every: Option<Duration>,
}

/// Seeds the local store, then serves until Ctrl-C.
pub async fn run(functions: Functions, args: ServeArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.listen.ip().is_loopback(),
        "local mode listens on loopback only; {} is not a loopback address",
        args.listen
    );
    let every = args
        .every
        .unwrap_or(functions.app().config().schedule.every);
    anyhow::ensure!(
        every >= rekey_app::MIN_SWEEP_INTERVAL,
        "--every must be at least 1s, not {}",
        humantime::format_duration(every)
    );
    for created in functions.app().seed().await? {
        tracing::info!(credential = %created, "seeded credential");
    }

    let functions = Arc::new(functions);
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("failed to listen on {}", args.listen))?;
    let listen = listener
        .local_addr()
        .context("failed to read the listening address")?;
    tracing::info!(%listen, every = %humantime::format_duration(every), "rekey serving locally");

    let scheduler = tokio::spawn(schedule(functions.clone(), every));
    let served = axum::serve(listener, router(functions))
        .with_graceful_shutdown(shutdown())
        .await;
    scheduler.abort();
    served.context("the HTTP listener failed")
}

async fn shutdown() {
    if let Err(error) = tokio::signal::ctrl_c().await {
        tracing::error!(%error, "failed to wait for Ctrl-C");
        std::future::pending::<()>().await;
    }
    tracing::info!("shutting down");
}

/// Sweeps now and then every `every`, as an EventBridge schedule would.
async fn schedule(functions: Arc<Functions>, every: Duration) {
    let app = functions.app();
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let trigger = Trigger::Schedule {
        source: "local".into(),
    };
    loop {
        ticks.tick().await;
        let summary = app
            .engine()
            .sweep(&trigger, app.config().engine.concurrency)
            .await;
        tracing::info!(
            examined = summary.examined,
            rotated = summary.rotated.len(),
            retired = summary.retired.len(),
            failed = summary.failed.len(),
            "sweep finished"
        );
        for failed in &summary.failed {
            tracing::warn!(credential = %failed.credential, error = %failed.error, "sweep failure");
        }
    }
}

fn router(functions: Arc<Functions>) -> Router {
    let routes = functions.routes();
    Router::new()
        .route(
            "/2015-03-31/functions/{name}/invocations",
            post(invoke_named),
        )
        .route("/events", post(invoke_detected))
        .route("/inventory", get(inventory))
        .route("/healthz", get(|| async { "ok" }))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(functions)
        .merge(routes)
}

async fn invoke_named(
    State(functions): State<Arc<Functions>>,
    Path(name): Path<String>,
    body: Bytes,
) -> Response {
    let Some(function) = Function::from_name(&name) else {
        let known = crate::functions::NAMES.join(", ");
        return refuse(
            StatusCode::NOT_FOUND,
            &format!("unknown function; the functions are {known}"),
        );
    };
    // The Invoke API's payload is optional; the AWS CLI sends none without
    // --payload, and Lambda hands the function `{}` then.
    let event = match body.is_empty() {
        true => Ok(json!({})),
        false => parse_body(&body),
    };
    match event {
        Ok(event) => invoke(&functions, function, event).await,
        Err(message) => refuse(StatusCode::BAD_REQUEST, &message),
    }
}

async fn invoke_detected(State(functions): State<Arc<Functions>>, body: Bytes) -> Response {
    let event = match parse_body(&body) {
        Ok(event) => event,
        Err(message) => return refuse(StatusCode::BAD_REQUEST, &message),
    };
    match Function::for_event(&event) {
        Some(function) => invoke(&functions, function, event).await,
        None => refuse(
            StatusCode::BAD_REQUEST,
            "unrecognised event: no rekey function takes this shape",
        ),
    }
}

async fn inventory(State(functions): State<Arc<Functions>>) -> Response {
    match functions.app().engine().inventory().await {
        Ok(entries) => Json(entries).into_response(),
        Err(error) => refuse(StatusCode::SERVICE_UNAVAILABLE, &error.to_string()),
    }
}

/// Runs a function the way Lambda's Invoke API answers: 200 with the
/// answer, or 200 with `X-Amz-Function-Error` and the error document.
async fn invoke(functions: &Functions, function: Function, event: Value) -> Response {
    tracing::debug!(function = function.name(), "event received");
    match functions.invoke(function, event).await {
        Ok(answer) => Json(answer).into_response(),
        Err(error) => {
            let header = (HeaderName::from_static("x-amz-function-error"), "Unhandled");
            ([header], Json(error)).into_response()
        }
    }
}

/// Parses a request body; the error names the place, never the content.
fn parse_body(body: &[u8]) -> Result<Value, String> {
    serde_json::from_slice(body).map_err(|error| {
        format!(
            "malformed JSON at line {}, column {}",
            error.line(),
            error.column()
        )
    })
}

fn refuse(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}
