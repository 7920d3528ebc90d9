//! Entry point of `rekey-anomaly`: build the engine and read the webhook
//! secrets once, then answer findings and webhook requests, on Lambda or
//! over HTTP ([`rekey_http::run`]), publishing rekey's own events before
//! each answer.

use std::sync::Arc;

use rekey_anomaly::{AnomalyFunction, WebhookConfig};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let app = Arc::new(rekey_app::App::from_env().await?);
    let function = AnomalyFunction::new(app, WebhookConfig::from_env());

    rekey_http::run(Arc::new(function)).await
}
