//! A deployable function: its Lambda handler and its HTTP routes, served
//! from the same binary.

use std::sync::Arc;

use async_trait::async_trait;
use axum::Router;
use axum::extract::{Request, State};
use axum::routing::post;
use serde::Serialize;
use serde_json::Value;

use crate::{Reply, read_body};

/// The largest event `POST /` accepts, Lambda's asynchronous payload limit.
pub const MAX_EVENT_BODY: usize = 256 * 1024;

/// A function's error, shaped like a Lambda error response.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(rename_all = "camelCase")]
#[error("{error_type}: {error_message}")]
pub struct FunctionError {
    /// A stable type, `Rekey.<Class>`.
    pub error_type: String,
    /// What failed; never a secret value.
    pub error_message: String,
}

impl FunctionError {
    /// An error of `error_type` with `error`'s message.
    pub fn new(error_type: impl Into<String>, error: &dyn std::error::Error) -> Self {
        Self {
            error_type: error_type.into(),
            error_message: error.to_string(),
        }
    }

    /// The HTTP status `POST /` answers it with.
    pub fn status(&self) -> u16 {
        match self.error_type.as_str() {
            "Rekey.InvalidEvent" | "Rekey.Validation" => 400,
            "Rekey.Unauthorized" => 401,
            "Rekey.Forbidden" => 403,
            "Rekey.NotFound" => 404,
            "Rekey.PayloadTooLarge" => 413,
            "Rekey.Conflict" | "Rekey.Retryable" => 503,
            _ => 500,
        }
    }

    /// The HTTP reply for it.
    pub fn reply(&self) -> Reply {
        Reply::error(self.status(), &self.error_type, self.error_message.clone())
    }

    /// The error a refused HTTP reply stands for, for callers that answer
    /// Lambda-style (`rekey invoke`).
    pub fn from_reply(reply: &Reply) -> Self {
        let text = |key: &str| {
            reply
                .body
                .get(key)
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        Self {
            error_type: text("errorType").unwrap_or_else(|| "Rekey.Failed".into()),
            error_message: text("errorMessage")
                .unwrap_or_else(|| format!("the request was refused with {}", reply.status)),
        }
    }
}

impl From<FunctionError> for lambda_runtime::Diagnostic {
    fn from(error: FunctionError) -> Self {
        Self {
            error_type: error.error_type,
            error_message: error.error_message,
        }
    }
}

/// One of rekey's functions.
#[async_trait]
pub trait Function: Send + Sync + 'static {
    /// Answers one Lambda invocation with `payload`.
    async fn invoke(&self, payload: Value) -> Result<Value, FunctionError>;

    /// The function's own HTTP routes (webhooks, native triggers); `POST /`
    /// is added by [`router`].
    fn routes(&self) -> Router;
}

/// The function's whole HTTP interface: its [`Function::routes`], and
/// `POST /` taking its normal event as JSON and answering what
/// [`Function::invoke`] answers (an error as its error document, with a
/// 4xx or 5xx status).
pub fn router(function: &Arc<dyn Function>) -> Router {
    let event = Router::new()
        .route("/", post(invoke))
        .with_state(function.clone());
    function.routes().merge(event)
}

async fn invoke(State(function): State<Arc<dyn Function>>, request: Request) -> Reply {
    let body = match read_body(request, MAX_EVENT_BODY).await {
        Ok((_, body)) => body,
        Err(reply) => return reply,
    };
    let payload: Value = match serde_json::from_slice(&body) {
        Ok(payload) => payload,
        Err(e) => {
            let message = format!("malformed JSON at line {}, column {}", e.line(), e.column());
            return Reply::error(400, "Rekey.InvalidEvent", message);
        }
    };

    match function.invoke(payload).await {
        Ok(answer) => Reply::json(200, answer),
        Err(error) => error.reply(),
    }
}
