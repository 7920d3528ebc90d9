//! Lambda entry point of `rekey-anomaly`: build the engine and resolve the
//! webhook secrets (from Secrets Manager in a deployment) once, then answer
//! findings and webhook requests, publishing rekey's own events before each
//! answer.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use rekey_anomaly::WebhookConfig;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let app = &rekey_app::App::from_env().await?;
    let webhooks = &WebhookConfig::resolve(app).await?;

    lambda_runtime::run(service_fn(
        |event: LambdaEvent<serde_json::Value>| async move {
            let answer = rekey_anomaly::handle(app.engine(), webhooks, event.payload).await;
            app.publish_events().await;
            answer
        },
    ))
    .await
}
