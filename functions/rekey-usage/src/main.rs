//! Lambda entry point of `rekey-usage`: build the engine once, then count
//! each event's uses, publishing rekey's own events before each answer.
//!
//! `REKEY_IGNORED_PRINCIPALS` is a comma-separated list of ARN prefixes
//! whose calls are not uses (rekey's own roles).

use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let app = &rekey_app::App::from_env().await?;
    let settings = &rekey_usage::Settings::from_env();

    lambda_runtime::run(service_fn(
        |event: LambdaEvent<serde_json::Value>| async move {
            let answer = rekey_usage::handle_with(app.engine(), settings, event.payload).await;
            app.publish_events().await;
            answer
        },
    ))
    .await
}
