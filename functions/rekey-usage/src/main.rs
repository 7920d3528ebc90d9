//! Entry point of `rekey-usage`: build the engine once, then count each
//! event's uses, on Lambda or over HTTP ([`rekey_http::run`]), publishing
//! rekey's own events before each answer.
//!
//! `REKEY_IGNORED_PRINCIPALS` is a comma-separated list of ARN prefixes
//! whose calls are not uses (rekey's own roles).

use std::sync::Arc;

use rekey_usage::{Settings, UsageFunction};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let app = Arc::new(rekey_app::App::from_env().await?);
    let function = UsageFunction::new(app, Settings::from_env());

    rekey_http::run(Arc::new(function)).await
}
