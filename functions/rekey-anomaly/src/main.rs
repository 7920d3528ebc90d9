//! Entry point of `rekey-anomaly`: build the engine and resolve the webhook
//! secrets (from Secrets Manager in a deployment) once, then answer
//! findings and webhook requests, on Lambda or over HTTP
//! ([`rekey_http::run`]), publishing rekey's own events before each answer.

use std::sync::Arc;

use rekey_anomaly::{AnomalyFunction, WebhookConfig};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let app = Arc::new(rekey_app::App::from_env().await?);
    let webhooks = WebhookConfig::resolve(&app).await?;
    let function = AnomalyFunction::new(app, webhooks);

    rekey_http::run(Arc::new(function)).await
}
