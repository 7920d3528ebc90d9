//! Lambda entry point of `rekey-rotate`: build the engine once, then serve
//! rotation steps, publishing rekey's own events before each answer.

use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let app = &rekey_app::App::from_env().await?;

    lambda_runtime::run(service_fn(
        |event: LambdaEvent<serde_json::Value>| async move {
            let answer = rekey_rotate::handle(app.engine(), event.payload).await;
            app.publish_events().await;
            answer
        },
    ))
    .await
}
