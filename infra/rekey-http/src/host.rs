//! What a function's routes share: the engine, and what to do before an
//! answer leaves.

use async_trait::async_trait;
use rekey_core::Engine;

/// The process a function runs in: its engine, its sweep concurrency, and
/// the work to finish before each answer (publishing rekey's own events,
/// since Lambda freezes the process once it has answered).
#[async_trait]
pub trait Host: Send + Sync + 'static {
    /// The engine.
    fn engine(&self) -> &Engine;

    /// Credentials a sweep handles at once.
    fn concurrency(&self) -> usize {
        rekey_core::DEFAULT_CONCURRENCY
    }

    /// Runs once an invocation's work is done, before it answers.
    async fn finish(&self) {}
}

/// A bare engine: tests and embedders that publish nothing.
impl Host for Engine {
    fn engine(&self) -> &Engine {
        self
    }
}

/// The configured application every function builds at cold start.
#[async_trait]
impl Host for rekey_app::App {
    fn engine(&self) -> &Engine {
        rekey_app::App::engine(self)
    }

    fn concurrency(&self) -> usize {
        self.config().engine.concurrency
    }

    async fn finish(&self) {
        self.publish_events().await;
    }
}
