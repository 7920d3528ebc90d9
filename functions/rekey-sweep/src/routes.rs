//! `rekey-sweep`'s HTTP route: Cloud Scheduler jobs at [`GCP_SCHEDULER_PATH`].
//!
//! A Cloud Scheduler job with an HTTP target and an OIDC token calls the
//! route with `Authorization: Bearer <Google-signed ID token>`; the token
//! is checked ([`rekey_http::OidcVerifier`]) before anything else, and the
//! body (the job's own, often empty) is never parsed. A good call sweeps
//! with `Trigger::Schedule { source: "gcp.scheduler" }` and answers the
//! summary.

use std::sync::Arc;

use async_trait::async_trait;
use axum::Router;
use axum::extract::{Request, State};
use axum::routing::post;
use http::HeaderMap;
use rekey_app::triggers::CloudScheduler;
use rekey_core::Trigger;
use rekey_http::{
    FunctionError, Host, OidcError, OidcVerifier, Reply, answer_function_url,
    is_function_url_request, read_body,
};
use serde_json::Value;

/// The route Cloud Scheduler jobs call.
pub const GCP_SCHEDULER_PATH: &str = "/gcp/scheduler";
/// The source a Cloud Scheduler sweep is recorded under.
pub const SCHEDULER_SOURCE: &str = "gcp.scheduler";
/// The largest job body accepted (64 KiB); it is read but never parsed.
pub const MAX_SCHEDULER_BODY: usize = 64 * 1024;

/// The function: its engine, its Cloud Scheduler route, its Lambda handler.
#[derive(Clone)]
pub struct SweepFunction {
    inner: Arc<Inner>,
}

struct Inner {
    host: Arc<dyn Host>,
    scheduler: Option<OidcVerifier>,
}

impl SweepFunction {
    /// The function on `host`; `scheduler` (`[gcp.scheduler]`) enables the
    /// Cloud Scheduler route.
    pub fn new(host: Arc<dyn Host>, scheduler: Option<&CloudScheduler>) -> Result<Self, OidcError> {
        let scheduler = scheduler
            .map(|s| OidcVerifier::new(&s.token()))
            .transpose()?;
        Ok(Self {
            inner: Arc::new(Inner { host, scheduler }),
        })
    }

    /// The function on `app`, configured from its file.
    pub fn from_app(app: Arc<rekey_app::App>) -> Result<Self, OidcError> {
        let scheduler = app.config().gcp.scheduler.clone();
        Self::new(app, scheduler.as_ref())
    }

    /// The host it runs on.
    pub fn host(&self) -> &Arc<dyn Host> {
        &self.inner.host
    }

    /// Answers a Cloud Scheduler call: 401 unless its ID token checks, else
    /// the sweep's summary.
    pub async fn scheduler_call(&self, headers: &HeaderMap) -> Reply {
        let Some(verifier) = &self.inner.scheduler else {
            let message =
                format!("{GCP_SCHEDULER_PATH} is not enabled: [gcp.scheduler] is not configured");
            return Reply::error(404, "Rekey.NotFound", message);
        };
        if let Err(error) = verifier.verify(headers).await {
            tracing::warn!(%error, "cloud scheduler call refused");
            return Reply::error(error.status(), "Rekey.Unauthorized", error.to_string());
        }

        let trigger = Trigger::Schedule {
            source: SCHEDULER_SOURCE.into(),
        };
        let host = &self.inner.host;
        let summary = host.engine().sweep(&trigger, host.concurrency()).await;
        crate::log_summary(SCHEDULER_SOURCE, None, None, &summary);
        Reply::answer(200, &summary)
    }

    /// The routes, around this function.
    pub fn routes(&self) -> Router {
        Router::new()
            .route(GCP_SCHEDULER_PATH, post(scheduler_route))
            .with_state(self.clone())
    }
}

async fn scheduler_route(State(function): State<SweepFunction>, request: Request) -> Reply {
    let reply = match read_body(request, MAX_SCHEDULER_BODY).await {
        Ok((parts, _body)) => function.scheduler_call(&parts.headers).await,
        Err(reply) => reply,
    };
    function.inner.host.finish().await;
    reply
}

#[async_trait]
impl rekey_http::Function for SweepFunction {
    /// A function URL request goes to [`SweepFunction::routes`]; anything
    /// else is a timer event for [`crate::handle`].
    async fn invoke(&self, payload: Value) -> Result<Value, FunctionError> {
        let answer = match is_function_url_request(&payload) {
            true => answer_function_url(self.routes(), payload)
                .await
                .and_then(|response| to_json(&response)),
            false => {
                let host = &self.inner.host;
                match crate::handle(host.engine(), host.concurrency(), payload).await {
                    Ok(summary) => to_json(&summary),
                    Err(error) => Err(FunctionError::new(error.error_type(), &error)),
                }
            }
        };
        self.inner.host.finish().await;
        answer
    }

    fn routes(&self) -> Router {
        SweepFunction::routes(self)
    }
}

fn to_json(answer: &impl serde::Serialize) -> Result<Value, FunctionError> {
    serde_json::to_value(answer).map_err(|e| FunctionError::new("Rekey.Internal", &e))
}
