//! `rekey-anomaly` as a [`rekey_http::Function`]: its webhook routes over
//! HTTP, and its Lambda handler for EventBridge events and function URL
//! requests, around one engine.

use std::sync::Arc;

use async_trait::async_trait;
use axum::Router;
use axum::extract::{Request, State};
use axum::routing::post;
use rekey_http::{FunctionError, Host, Reply, read_body};
use serde_json::Value;

use crate::{GITHUB_PATH, MAX_WEBHOOK_BODY, SIGNED_PATH, WebhookConfig, handle_webhook};

/// The function: its engine, its webhooks' configuration, its Lambda handler.
#[derive(Clone)]
pub struct AnomalyFunction {
    inner: Arc<Inner>,
}

struct Inner {
    host: Arc<dyn Host>,
    webhooks: WebhookConfig,
}

impl AnomalyFunction {
    /// The function on `host` with `webhooks`.
    pub fn new(host: Arc<dyn Host>, webhooks: WebhookConfig) -> Self {
        Self {
            inner: Arc::new(Inner { host, webhooks }),
        }
    }

    /// The webhook routes ([`GITHUB_PATH`], [`SIGNED_PATH`]), bodies up to
    /// [`MAX_WEBHOOK_BODY`].
    pub fn routes(&self) -> Router {
        Router::new()
            .route(GITHUB_PATH, post(webhook_route))
            .route(SIGNED_PATH, post(webhook_route))
            .with_state(self.clone())
    }
}

async fn webhook_route(State(function): State<AnomalyFunction>, request: Request) -> Reply {
    let path = request.uri().path().to_owned();
    let reply = match read_body(request, MAX_WEBHOOK_BODY).await {
        Ok((parts, body)) => {
            let engine = function.inner.host.engine();
            let webhooks = &function.inner.webhooks;
            let now = engine.now();
            let reply = handle_webhook(engine, webhooks, &path, &parts.headers, &body, now).await;
            Reply::json(reply.status, reply.body)
        }
        Err(reply) => reply,
    };
    function.inner.host.finish().await;
    reply
}

#[async_trait]
impl rekey_http::Function for AnomalyFunction {
    /// [`crate::handle`]: a function URL request or an EventBridge event.
    async fn invoke(&self, payload: Value) -> Result<Value, FunctionError> {
        let engine = self.inner.host.engine();
        let answer = match crate::handle(engine, &self.inner.webhooks, payload).await {
            Ok(answer) => {
                serde_json::to_value(&answer).map_err(|e| FunctionError::new("Rekey.Internal", &e))
            }
            Err(error) => Err(FunctionError::new(error.error_type(), &error)),
        };
        self.inner.host.finish().await;
        answer
    }

    fn routes(&self) -> Router {
        AnomalyFunction::routes(self)
    }
}
