//! `rekey-usage` as a [`rekey_http::Function`]: its Lambda handler, and
//! over HTTP only `POST /` (the CloudTrail event as JSON): it has no
//! routes of its own.

use std::sync::Arc;

use async_trait::async_trait;
use axum::Router;
use rekey_http::{FunctionError, Host};
use serde_json::Value;

use crate::{Settings, handle_with};

/// The function: its engine and its [`Settings`].
#[derive(Clone)]
pub struct UsageFunction {
    inner: Arc<Inner>,
}

struct Inner {
    host: Arc<dyn Host>,
    settings: Settings,
}

impl UsageFunction {
    /// The function on `host` with `settings`.
    pub fn new(host: Arc<dyn Host>, settings: Settings) -> Self {
        Self {
            inner: Arc::new(Inner { host, settings }),
        }
    }
}

#[async_trait]
impl rekey_http::Function for UsageFunction {
    /// [`handle_with`] on one CloudTrail event.
    async fn invoke(&self, payload: Value) -> Result<Value, FunctionError> {
        let engine = self.inner.host.engine();
        let answer = match handle_with(engine, &self.inner.settings, payload).await {
            Ok(answer) => {
                serde_json::to_value(&answer).map_err(|e| FunctionError::new("Rekey.Internal", &e))
            }
            Err(error) => Err(FunctionError::new(error.error_type(), &error)),
        };
        self.inner.host.finish().await;
        answer
    }

    fn routes(&self) -> Router {
        Router::new()
    }
}
