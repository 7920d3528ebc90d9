//! `rekey-sweep`: the timer function. Woken by an EventBridge schedule, it
//! lists the managed credentials, decides what is due by policy and
//! rotates it with bounded concurrency.
//!
//! [`handle`] parses the event ([`parse`]), runs [`rekey_core::Engine::sweep`]
//! and answers with a [`SweepSummary`]: how many credentials it examined,
//! which it rotated and retired, which it skipped and why, which failed.
//!
//! GCP Cloud Scheduler jobs reach it over HTTP at `POST`
//! [`GCP_SCHEDULER_PATH`] with a Google-signed OIDC token. [`SweepFunction`]
//! holds the engine's [`rekey_http::Host`] and that route; it is a
//! [`rekey_http::Function`], so `main.rs` serves it on Lambda or over HTTP
//! and `rekey serve` mounts its [`SweepFunction::routes`].

mod event;
mod routes;
#[cfg(test)]
mod tests;

use rekey_core::{Engine, SweepSummary};

pub use event::{EventError, ScheduleEvent, parse};
pub use routes::{GCP_SCHEDULER_PATH, MAX_SCHEDULER_BODY, SCHEDULER_SOURCE, SweepFunction};

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

    let schedule = event.schedule.as_deref();
    log_summary(event.source, schedule, event.execution.as_deref(), &summary);
    Ok(summary)
}

/// Logs a finished sweep: one info line with counts.
fn log_summary(
    source: &str,
    schedule: Option<&str>,
    execution: Option<&str>,
    summary: &SweepSummary,
) {
    tracing::info!(
        source,
        schedule = schedule.unwrap_or("-"),
        execution = execution.unwrap_or("-"),
        examined = summary.examined,
        rotated = summary.rotated.len(),
        retired = summary.retired.len(),
        skipped = summary.skipped.len(),
        failed = summary.failed.len(),
        "sweep finished"
    );
}
