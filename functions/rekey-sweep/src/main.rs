//! Lambda entry point of `rekey-sweep`: build the engine once, then sweep on
//! every timer event, publishing rekey's own events before each answer.

use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let app = &rekey_app::App::from_env().await?;
    let concurrency = app.config().engine.concurrency;

    lambda_runtime::run(service_fn(
        |event: LambdaEvent<serde_json::Value>| async move {
            let answer = rekey_sweep::handle(app.engine(), concurrency, event.payload).await;
            app.publish_events().await;
            answer
        },
    ))
    .await
}
