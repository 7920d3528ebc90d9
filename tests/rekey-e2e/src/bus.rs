//! A tap on an EventBridge bus in moto: a bus, an SQS queue and a rule on
//! the bus that sends what matches its pattern to the queue. The tests
//! publish to the bus and read what arrived from the queue.
//!
//! A queue is the target because moto answers `PutEvents` with a server
//! error when a matching rule targets a Lambda function it cannot invoke.

use std::time::{Duration, Instant};

use anyhow::{Context as _, ensure};
use aws_sdk_eventbridge::types::Target;
use aws_sdk_sqs::types::QueueAttributeName;
use serde_json::Value;

use crate::Moto;

/// A bus and the queue its rule fills.
#[derive(Clone, Debug)]
pub struct BusTap {
    /// The bus's name.
    pub bus: String,
    queue_url: String,
    sqs: aws_sdk_sqs::Client,
}

impl BusTap {
    /// Creates bus `bus`, a queue and a rule on the bus with `pattern`
    /// (an EventBridge event pattern) that targets the queue.
    pub async fn create(moto: &Moto, bus: &str, pattern: &Value) -> anyhow::Result<Self> {
        let config = moto.sdk_config();
        let events = aws_sdk_eventbridge::Client::new(&config);
        let sqs = aws_sdk_sqs::Client::new(&config);
        events
            .create_event_bus()
            .name(bus)
            .send()
            .await
            .with_context(|| format!("failed to create event bus {bus}"))?;

        let queue = sqs
            .create_queue()
            .queue_name(format!("{bus}-tap"))
            .send()
            .await
            .context("failed to create the tap queue")?;
        let queue_url = queue.queue_url().context("CreateQueue answered no URL")?;
        let attributes = sqs
            .get_queue_attributes()
            .queue_url(queue_url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .context("failed to read the tap queue's ARN")?;
        let queue_arn = attributes
            .attributes()
            .and_then(|a| a.get(&QueueAttributeName::QueueArn))
            .context("GetQueueAttributes answered no ARN")?;

        events
            .put_rule()
            .name(format!("{bus}-tap"))
            .event_bus_name(bus)
            .event_pattern(pattern.to_string())
            .send()
            .await
            .context("failed to create the tap rule")?;
        let target = Target::builder().id("tap").arn(queue_arn).build()?;
        events
            .put_targets()
            .rule(format!("{bus}-tap"))
            .event_bus_name(bus)
            .targets(target)
            .send()
            .await
            .context("failed to point the tap rule at its queue")?;
        Ok(Self {
            bus: bus.to_owned(),
            queue_url: queue_url.to_owned(),
            sqs,
        })
    }

    /// Receives EventBridge events from the queue until `count` arrived or
    /// `within` passed; answers them, parsed, in arrival order.
    pub async fn receive(&self, count: usize, within: Duration) -> anyhow::Result<Vec<Value>> {
        let deadline = Instant::now() + within;
        let mut received = Vec::new();
        while received.len() < count && Instant::now() < deadline {
            let output = self
                .sqs
                .receive_message()
                .queue_url(&self.queue_url)
                .max_number_of_messages(10)
                .wait_time_seconds(1)
                .send()
                .await
                .context("failed to receive from the tap queue")?;
            for message in output.messages() {
                let body = message.body().context("a message without a body")?;
                received.push(serde_json::from_str(body).context("a body that is not JSON")?);
                if let Some(handle) = message.receipt_handle() {
                    self.sqs
                        .delete_message()
                        .queue_url(&self.queue_url)
                        .receipt_handle(handle)
                        .send()
                        .await
                        .context("failed to delete a received message")?;
                }
            }
        }
        ensure!(
            received.len() >= count,
            "{} of {count} events arrived within {within:?}",
            received.len()
        );
        Ok(received)
    }
}
