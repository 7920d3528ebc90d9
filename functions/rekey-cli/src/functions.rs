//! The functions `rekey` can run, by their crate names, so local mode and
//! `rekey invoke` go through the same handlers and routes as the deployed
//! functions.

use std::sync::Arc;

use anyhow::Context as _;
use axum::Router;
use rekey_anomaly::{AnomalyFunction, WebhookConfig};
use rekey_app::App;
use rekey_http::{Function as _, FunctionError, Host};
use rekey_rotate::RotateFunction;
use rekey_sweep::SweepFunction;
use rekey_usage::UsageFunction;
use serde_json::Value;

/// A deployable function.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Function {
    /// `rekey-rotate`: the Secrets Manager rotation contract, Secret
    /// Manager notifications, Key Vault events.
    Rotate,
    /// `rekey-sweep`: the timer, EventBridge or Cloud Scheduler.
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

    /// The function an event is for, recognised by its shape; a function
    /// URL request by its path.
    pub fn for_event(event: &Value) -> Option<Self> {
        if let Some(path) = rekey_http::function_url_path(event) {
            return Some(Self::for_path(path));
        }
        let source = event.get("source").and_then(Value::as_str);
        let detail_type = event.get("detail-type").and_then(Value::as_str);
        if event.get("Step").is_some()
            || rekey_rotate::is_push_envelope(event)
            || rekey_rotate::is_event_grid_delivery(event)
        {
            return Some(Self::Rotate);
        }
        if matches!(source, Some("aws.health" | "aws.guardduty")) {
            return Some(Self::Anomaly);
        }
        if detail_type == Some(rekey_usage::DETAIL_TYPE) {
            return Some(Self::Usage);
        }
        rekey_sweep::parse(event.clone())
            .is_ok()
            .then_some(Self::Sweep)
    }

    /// The function whose routes serve `path`.
    fn for_path(path: &str) -> Self {
        match path {
            rekey_rotate::GCP_SECRET_MANAGER_PATH | rekey_rotate::AZURE_EVENT_GRID_PATH => {
                Self::Rotate
            }
            rekey_sweep::GCP_SCHEDULER_PATH => Self::Sweep,
            _ => Self::Anomaly,
        }
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

/// The functions, built once around one application, with the settings
/// each reads from its configuration and environment as it does when
/// deployed (webhook and Event Grid secrets, ignored principals, the GCP
/// and Azure trigger sections).
pub struct Functions {
    app: Arc<App>,
    rotate: RotateFunction,
    sweep: SweepFunction,
    anomaly: AnomalyFunction,
    usage: UsageFunction,
}

impl Functions {
    /// The functions of `app`, with the webhook secrets resolved as the
    /// deployed rekey-anomaly resolves them.
    pub async fn new(app: App) -> anyhow::Result<Self> {
        let webhooks = WebhookConfig::resolve(&app).await?;
        let app = Arc::new(app);
        let host: Arc<dyn Host> = app.clone();
        Ok(Self {
            rotate: RotateFunction::from_app(app.clone())
                .context("failed to set up rekey-rotate's routes")?,
            sweep: SweepFunction::from_app(app.clone())
                .context("failed to set up rekey-sweep's routes")?,
            anomaly: AnomalyFunction::new(host.clone(), webhooks),
            usage: UsageFunction::new(host, rekey_usage::Settings::from_env()),
            app,
        })
    }

    /// The application they share.
    pub fn app(&self) -> &App {
        &self.app
    }

    /// Runs `function` once on `payload` and returns its JSON answer; the
    /// function publishes rekey's own events as the deployed one does.
    pub async fn invoke(&self, function: Function, payload: Value) -> Result<Value, FunctionError> {
        match function {
            Function::Rotate => self.rotate.invoke(payload).await,
            Function::Sweep => self.sweep.invoke(payload).await,
            Function::Anomaly => self.anomaly.invoke(payload).await,
            Function::Usage => self.usage.invoke(payload).await,
        }
    }

    /// Every function's own HTTP routes (webhooks, native triggers), as
    /// each function serves them when deployed.
    pub fn routes(&self) -> Router {
        self.anomaly
            .routes()
            .merge(self.rotate.routes())
            .merge(self.sweep.routes())
    }
}
