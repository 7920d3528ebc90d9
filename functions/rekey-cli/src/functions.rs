//! The functions `rekey` can run, by their crate names, so local mode and
//! `rekey invoke` go through the same handlers as the deployed Lambdas.

use rekey_anomaly::{WebhookConfig, WebhookReply};
use rekey_app::App;
use serde::Serialize;
use serde_json::Value;

/// A deployable function.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Function {
    /// `rekey-rotate`: the Secrets Manager rotation contract.
    Rotate,
    /// `rekey-sweep`: the timer.
    Sweep,
    /// `rekey-anomaly`: findings and webhooks.
    Anomaly,
    /// `rekey-usage`: CloudTrail API calls counted as uses.
    Usage,
}

/// Every function, for help texts and errors.
pub const NAMES: &[&str] = &[
    "rekey-rotate",
    "rekey-sweep",
    "rekey-anomaly",
    "rekey-usage",
];

/// A function's error, shaped like a Lambda error response.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FunctionError {
    /// A stable type, `Rekey.<Class>`.
    pub error_type: String,
    /// What failed; never a secret value.
    pub error_message: String,
}

impl FunctionError {
    fn new(error_type: String, error: &dyn std::error::Error) -> Self {
        Self {
            error_type,
            error_message: error.to_string(),
        }
    }
}

impl Function {
    /// The function named `name` (its crate name).
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "rekey-rotate" => Some(Self::Rotate),
            "rekey-sweep" => Some(Self::Sweep),
            "rekey-anomaly" => Some(Self::Anomaly),
            "rekey-usage" => Some(Self::Usage),
            _ => None,
        }
    }

    /// The function an event is for, recognised by its shape.
    pub fn for_event(event: &Value) -> Option<Self> {
        let source = event.get("source").and_then(Value::as_str);
        let detail_type = event.get("detail-type").and_then(Value::as_str);
        if event.get("Step").is_some() {
            return Some(Self::Rotate);
        }
        if event.pointer("/requestContext/http").is_some()
            || matches!(source, Some("aws.health" | "aws.guardduty"))
        {
            return Some(Self::Anomaly);
        }
        if detail_type == Some(rekey_usage::DETAIL_TYPE) {
            return Some(Self::Usage);
        }
        rekey_sweep::parse(event.clone())
            .is_ok()
            .then_some(Self::Sweep)
    }

    /// The function's crate name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Rotate => "rekey-rotate",
            Self::Sweep => "rekey-sweep",
            Self::Anomaly => "rekey-anomaly",
            Self::Usage => "rekey-usage",
        }
    }
}

/// The functions, built once around one engine, with the settings each
/// reads from the environment in Lambda (webhook secrets, ignored
/// principals).
pub struct Functions {
    app: App,
    webhooks: WebhookConfig,
    usage: rekey_usage::Settings,
}

impl Functions {
    /// The functions of `app`, with the webhook secrets resolved as the
    /// deployed rekey-anomaly resolves them.
    pub async fn new(app: App) -> anyhow::Result<Self> {
        Ok(Self {
            webhooks: WebhookConfig::resolve(&app).await?,
            usage: rekey_usage::Settings::from_env(),
            app,
        })
    }

    /// The application they share.
    pub fn app(&self) -> &App {
        &self.app
    }

    /// Runs `function` once on `payload` and returns its JSON answer, then
    /// publishes rekey's own events as the deployed function would.
    pub async fn invoke(&self, function: Function, payload: Value) -> Result<Value, FunctionError> {
        let answer = self.run(function, payload).await;
        self.app.publish_events().await;
        answer
    }

    async fn run(&self, function: Function, payload: Value) -> Result<Value, FunctionError> {
        let engine = self.app.engine();
        match function {
            Function::Rotate => match rekey_rotate::handle(engine, payload).await {
                Ok(answer) => to_json(&answer),
                Err(error) => Err(FunctionError::new(error.error_type(), &error)),
            },
            Function::Sweep => {
                let concurrency = self.app.config().engine.concurrency;
                match rekey_sweep::handle(engine, concurrency, payload).await {
                    Ok(summary) => to_json(&summary),
                    Err(error) => Err(FunctionError::new(error.error_type(), &error)),
                }
            }
            Function::Anomaly => match rekey_anomaly::handle(engine, &self.webhooks, payload).await
            {
                Ok(answer) => to_json(&answer),
                Err(error) => Err(FunctionError::new(error.error_type(), &error)),
            },
            Function::Usage => match rekey_usage::handle_with(engine, &self.usage, payload).await {
                Ok(answer) => to_json(&answer),
                Err(error) => Err(FunctionError::new(error.error_type(), &error)),
            },
        }
    }

    /// Answers a webhook request to `path` as `rekey-anomaly`'s function
    /// URL does.
    pub async fn webhook(
        &self,
        path: &str,
        headers: &http::HeaderMap,
        body: &[u8],
    ) -> WebhookReply {
        let now = self.app.engine().now();
        let reply = rekey_anomaly::handle_webhook(
            self.app.engine(),
            &self.webhooks,
            path,
            headers,
            body,
            now,
        )
        .await;
        self.app.publish_events().await;
        reply
    }
}

fn to_json(answer: &impl Serialize) -> Result<Value, FunctionError> {
    serde_json::to_value(answer).map_err(|e| FunctionError::new("Rekey.Internal".into(), &e))
}
