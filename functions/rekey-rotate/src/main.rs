//! Entry point of `rekey-rotate`: build the engine and the routes once,
//! then answer Secrets Manager steps, Secret Manager notifications and
//! Event Grid deliveries, on Lambda or over HTTP ([`rekey_http::run`]),
//! publishing rekey's own events before each answer.

use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let app = Arc::new(rekey_app::App::from_env().await?);
    let function = rekey_rotate::RotateFunction::from_app(app)?;

    rekey_http::run(Arc::new(function)).await
}
