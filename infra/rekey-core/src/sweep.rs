//! The sweep: decide for every managed credential, act on what is due.
//!
//! One sweep lists each store, describes every credential, decides by its
//! policy and rotates or retires what is due, with bounded concurrency. It
//! never stops at the first failure: the summary lists what failed and why.

use futures::StreamExt as _;
use serde::Serialize;

use crate::audit::Outcome;
use crate::decision::{self, Decision, SkipReason};
use crate::{Credential, CredentialId, Engine, EngineError, Policy, Trigger};

/// The default number of credentials handled at once.
pub const DEFAULT_CONCURRENCY: usize = 8;

/// What a sweep did: the function's JSON answer.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SweepSummary {
    /// Credentials looked at.
    pub examined: usize,
    /// Credentials given a new current value.
    pub rotated: Vec<CredentialId>,
    /// Credentials whose previous value was retired.
    pub retired: Vec<CredentialId>,
    /// Credentials left alone, with the reason.
    pub skipped: Vec<Skipped>,
    /// Credentials whose handling failed, with the error.
    pub failed: Vec<Failed>,
}

/// A credential the sweep left alone.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Skipped {
    /// The credential.
    pub credential: CredentialId,
    /// Why.
    pub reason: String,
}

/// A credential (or a whole store) the sweep could not handle.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Failed {
    /// The credential; for a store that could not be listed, its provider
    /// with an empty locator.
    pub credential: CredentialId,
    /// The error, naming the failure (never a secret value).
    pub error: String,
    /// The error's class (`Validation`, `Retryable`, …).
    pub class: &'static str,
}

enum Handled {
    Rotated,
    Retired,
    Skipped(String),
}

impl Engine {
    /// Sweeps every store: rotates what is due, retires previous values
    /// past their grace period, with at most `concurrency` credentials in
    /// flight at once.
    pub async fn sweep(&self, trigger: &Trigger, concurrency: usize) -> SweepSummary {
        let mut summary = SweepSummary::default();
        let mut ids = Vec::new();
        for store in self.stores() {
            match store.list().await {
                Ok(listed) => ids.extend(listed),
                Err(error) => summary.failed.push(Failed {
                    credential: CredentialId::new(store.provider(), ""),
                    class: EngineError::from(error.clone()).class().as_str(),
                    error: format!("failed to list credentials: {error}"),
                }),
            }
        }

        summary.examined = ids.len();
        let mut results = futures::stream::iter(ids)
            .map(|id| async move {
                let handled = self.handle(&id, trigger).await;
                (id, handled)
            })
            .buffer_unordered(concurrency.max(1));
        while let Some((credential, handled)) = results.next().await {
            match handled {
                Ok(Handled::Rotated) => summary.rotated.push(credential),
                Ok(Handled::Retired) => summary.retired.push(credential),
                Ok(Handled::Skipped(reason)) => {
                    summary.skipped.push(Skipped { credential, reason });
                }
                Err(error) => summary.failed.push(Failed {
                    credential,
                    class: error.class().as_str(),
                    error: error.to_string(),
                }),
            }
        }
        drop(results);

        summary.rotated.sort();
        summary.retired.sort();
        summary
    }

    async fn handle(&self, id: &CredentialId, trigger: &Trigger) -> Result<Handled, EngineError> {
        let credential = self.store(id.provider)?.describe(id).await?;
        let (decision, policy) = match self.policy_of(&credential) {
            Ok(policy) => (self.decide(&credential, &policy), Some(policy)),
            Err(EngineError::InvalidPolicy { source, .. }) => {
                let reason = SkipReason::InvalidPolicy(source.to_string());
                (Decision::Skip { reason }, None)
            }
            Err(other) => return Err(other),
        };
        self.record_decision(&credential, trigger, &decision);

        match (decision, policy) {
            (Decision::Rotate { .. }, _) => self.rotate_if_due(id, trigger).await,
            (Decision::Retire { version }, Some(policy)) => {
                self.retire(&credential, &policy, &version, trigger).await?;
                Ok(Handled::Retired)
            }
            (Decision::Skip { reason }, _) => Ok(Handled::Skipped(reason.to_string())),
            (Decision::Retire { .. }, None) => Ok(Handled::Skipped("no valid policy".into())),
        }
    }

    async fn rotate_if_due(
        &self,
        id: &CredentialId,
        trigger: &Trigger,
    ) -> Result<Handled, EngineError> {
        match self
            .rotate_when(id, trigger, crate::engine::Recheck::Due)
            .await
        {
            Ok(Some(_)) => Ok(Handled::Rotated),
            Ok(None) => Ok(Handled::Skipped(
                "rotated by another worker meanwhile".into(),
            )),
            Err(EngineError::RotationInProgress { rotation, .. }) => Ok(Handled::Skipped(
                SkipReason::RotationInProgress(rotation).to_string(),
            )),
            Err(error) => Err(error),
        }
    }

    /// The engine's decision for `credential` under `policy` now, with the
    /// environment binding applied.
    pub fn decide(&self, credential: &Credential, policy: &Policy) -> Decision {
        if let Some(bound) = &policy.environment
            && self.environment() != Some(bound.as_str())
        {
            return Decision::Skip {
                reason: SkipReason::OtherEnvironment(bound.clone()),
            };
        }
        decision::decide(credential, policy, self.now())
    }

    fn record_decision(&self, credential: &Credential, trigger: &Trigger, decision: &Decision) {
        let mut event = self.event(credential, trigger, Outcome::Decided);
        event.decision = Some(decision.name());
        event.reason = Some(match decision {
            Decision::Rotate { reason } => reason.to_string(),
            Decision::Retire { version } => format!("grace period of version {version} is over"),
            Decision::Skip { reason } => reason.to_string(),
        });
        self.record(&event);
    }
}
