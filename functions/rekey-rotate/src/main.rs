//! Lambda entry point of `rekey-rotate`: build the engine once, then serve
//! rotation steps.

use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let app = rekey_app::App::from_env().await?;
    let engine = app.engine();

    lambda_runtime::run(service_fn(
        |event: LambdaEvent<serde_json::Value>| async move {
            rekey_rotate::handle(engine, event.payload).await
        },
    ))
    .await
}
