//! `rekey-sweep`: the timer function. Woken by an EventBridge schedule, it
//! lists the managed credentials, decides what is due by policy and
//! rotates it with bounded concurrency.
//!
//! [`handle`] parses the event ([`parse`]), runs [`rekey_core::Engine::sweep`]
//! and answers with a [`SweepSummary`]: how many credentials it examined,
//! which it rotated and retired, which it skipped and why, which failed.

mod event;

use rekey_core::{Engine, SweepSummary};

pub use event::{EventError, ScheduleEvent, parse};

/// Why an invocation failed. A sweep that ran answers with its summary,
/// failures included; only a refused event is an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SweepError {
    /// The event was refused before anything was touched.
    #[error(transparent)]
    InvalidEvent(#[from] EventError),
}

impl SweepError {
    /// A stable error type for alarms.
    pub fn error_type(&self) -> String {
        match self {
            Self::InvalidEvent(_) => "Rekey.InvalidEvent".into(),
        }
    }
}

impl From<SweepError> for lambda_runtime::Diagnostic {
    fn from(error: SweepError) -> Self {
        Self {
            error_type: error.error_type(),
            error_message: error.to_string(),
        }
    }
}

/// Sweeps once for the timer event `payload`, with at most `concurrency`
/// credentials in flight.
pub async fn handle(
    engine: &Engine,
    concurrency: usize,
    payload: serde_json::Value,
) -> Result<SweepSummary, SweepError> {
    let event = parse(payload)?;
    let summary = engine.sweep(&event.trigger(), concurrency).await;

    tracing::info!(
        source = event.source,
        schedule = event.schedule.as_deref().unwrap_or("-"),
        execution = event.execution.as_deref().unwrap_or("-"),
        examined = summary.examined,
        rotated = summary.rotated.len(),
        retired = summary.retired.len(),
        skipped = summary.skipped.len(),
        failed = summary.failed.len(),
        "sweep finished"
    );
    Ok(summary)
}
