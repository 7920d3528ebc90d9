//! Usage thresholds: count each use of a credential's current value and
//! rotate once the policy's maximum is reached.
//!
//! Counts are kept per credential and per version in the ledger with atomic
//! adds, so a new version starts at zero. When many uses cross the maximum
//! at once, every one of them may try to rotate, but the claim and the
//! recheck under it (is the *current* version still at or over the
//! maximum?) let exactly one rotation through.

use std::time::Duration;

use serde::Serialize;

use crate::audit::Outcome;
use crate::engine::Recheck;
use crate::{CredentialId, Engine, EngineError, Rotated, Stage, Trigger, VersionId};

/// How long processed event ids are remembered, to drop redeliveries.
pub const EVENT_MEMORY: Duration = Duration::from_secs(24 * 60 * 60);

/// What recording uses did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum UsageOutcome {
    /// Counted; no rotation (below the maximum, no maximum, or another
    /// worker rotates).
    Counted {
        /// The version counted.
        version: VersionId,
        /// Its total so far.
        total: u64,
        /// The policy's maximum, if any.
        max_uses: Option<u64>,
    },
    /// Counted, and the count reached the maximum: rotated.
    Rotated {
        /// The total that reached the maximum.
        total: u64,
        /// The new current version.
        version: VersionId,
    },
    /// The credential has no current value to count against.
    NoCurrentValue,
}

impl Engine {
    /// Adds `uses` to the count of `id`'s current value and rotates once
    /// the count reaches the policy's `max_uses`.
    pub async fn record_uses(
        &self,
        id: &CredentialId,
        uses: u64,
    ) -> Result<UsageOutcome, EngineError> {
        let (credential, policy) = self.describe(id).await?;
        let Some(current) = credential.version_at(Stage::Current) else {
            return Ok(UsageOutcome::NoCurrentValue);
        };
        let total = self.ledger().count_uses(id, &current.id, uses).await?;
        let counted = UsageOutcome::Counted {
            version: current.id.clone(),
            total,
            max_uses: policy.max_uses,
        };
        let Some(max) = policy.max_uses.filter(|max| total >= *max) else {
            return Ok(counted);
        };

        let trigger = Trigger::UsageThreshold { uses: total };
        let mut event = self.event(&credential, &trigger, Outcome::Decided);
        event.decision = Some("rotate");
        event.version = Some(current.id.clone());
        event.reason = Some(format!("{total} uses reached the maximum of {max}"));
        self.record(&event);

        match self
            .rotate_when(id, &trigger, Recheck::UsesAtLeast(max))
            .await
        {
            Ok(Some(Rotated { version, .. })) => Ok(UsageOutcome::Rotated { total, version }),
            Ok(None) | Err(EngineError::RotationInProgress { .. }) => Ok(counted),
            Err(error) => Err(error),
        }
    }

    /// Records that event `event_id` was processed; false for a redelivery.
    pub async fn first_sighting(&self, event_id: &str) -> Result<bool, EngineError> {
        Ok(self
            .ledger()
            .first_sighting(event_id, self.now(), EVENT_MEMORY)
            .await?)
    }
}
