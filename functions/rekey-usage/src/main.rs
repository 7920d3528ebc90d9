//! Lambda entry point of `rekey-usage`: build the engine once with a
//! collector beside the stdout audit lines, then count each event's uses
//! and publish the invocation's audit events before answering.
//!
//! `REKEY_CONFIG` and `REKEY_DATA_DIR` as for every function;
//! `REKEY_EVENT_BUS` names the bus rekey's own events go to (none: not
//! published); `REKEY_IGNORED_PRINCIPALS` is a comma-separated list of ARN
//! prefixes whose calls are not uses (rekey's own roles).

use std::path::PathBuf;
use std::sync::Arc;

use lambda_runtime::{Error, LambdaEvent, service_fn};
use rekey_core::audit::{Collector, JsonLines, Tee};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let config = std::env::var_os(rekey_app::CONFIG_ENV).expect("REKEY_CONFIG must be set");
    let config = rekey_app::Config::load(&PathBuf::from(config))?;
    let data_dir =
        std::env::var_os(rekey_app::DATA_DIR_ENV).map_or("/tmp/rekey".into(), PathBuf::from);

    let collector = Arc::new(Collector::default());
    let audit = Arc::new(Tee(vec![Arc::new(JsonLines::stdout()), collector.clone()]));
    let app = rekey_app::App::build(config, &data_dir, audit).await?;
    let publisher = match std::env::var("REKEY_EVENT_BUS") {
        Ok(bus) => {
            let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
            Some(rekey_aws::EventBridgePublisher::new(&aws, bus))
        }
        Err(_) => None,
    };
    let settings = rekey_usage::Settings::from_env();

    let (engine, collector, publisher, settings) =
        (app.engine(), &collector, &publisher, &settings);
    lambda_runtime::run(service_fn(
        |event: LambdaEvent<serde_json::Value>| async move {
            let answer = rekey_usage::handle_with(engine, settings, event.payload).await;
            let events = collector.drain();
            if let Some(publisher) = publisher
                && let Err(error) = publisher.publish(&events).await
            {
                tracing::error!(%error, "failed to publish audit events");
            }
            answer
        },
    ))
    .await
}
