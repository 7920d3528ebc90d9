//! The functions `rekey` can run, by their crate names, so local mode and
//! `rekey invoke` go through the same handlers as the deployed Lambdas.

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
}

/// Every function, for help texts and errors.
pub const NAMES: &[&str] = &["rekey-rotate", "rekey-sweep"];

/// A function's error, shaped like a Lambda error response.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FunctionError {
    /// A stable type, `Rekey.<Class>`.
    pub error_type: String,
    /// What failed; never a secret value.
    pub error_message: String,
}

impl Function {
    /// The function named `name` (its crate name).
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "rekey-rotate" => Some(Self::Rotate),
            "rekey-sweep" => Some(Self::Sweep),
            _ => None,
        }
    }

    /// The function an event is for, recognised by its shape.
    pub fn for_event(event: &Value) -> Option<Self> {
        if event.get("Step").is_some() {
            return Some(Self::Rotate);
        }
        if rekey_sweep::parse(event.clone()).is_ok() {
            return Some(Self::Sweep);
        }
        None
    }

    /// The function's crate name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Rotate => "rekey-rotate",
            Self::Sweep => "rekey-sweep",
        }
    }

    /// Runs the function once on `payload` and returns its JSON answer.
    pub async fn invoke(self, app: &App, payload: Value) -> Result<Value, FunctionError> {
        let engine = app.engine();
        match self {
            Self::Rotate => match rekey_rotate::handle(engine, payload).await {
                Ok(answer) => to_json(&answer),
                Err(error) => Err(FunctionError::new(error.error_type(), &error)),
            },
            Self::Sweep => {
                let concurrency = app.config().engine.concurrency;
                match rekey_sweep::handle(engine, concurrency, payload).await {
                    Ok(summary) => to_json(&summary),
                    Err(error) => Err(FunctionError::new(error.error_type(), &error)),
                }
            }
        }
    }
}

impl FunctionError {
    fn new(error_type: String, error: &dyn std::error::Error) -> Self {
        Self {
            error_type,
            error_message: error.to_string(),
        }
    }
}

fn to_json(answer: &impl Serialize) -> Result<Value, FunctionError> {
    serde_json::to_value(answer).map_err(|e| FunctionError::new("Rekey.Internal".into(), &e))
}
