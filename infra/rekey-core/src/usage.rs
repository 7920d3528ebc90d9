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

    /// Forgets event `event_id` after acting on it failed, so its
    /// redelivery is acted on.
    pub async fn forget_sighting(&self, event_id: &str) -> Result<(), EngineError> {
        Ok(self.ledger().forget_sighting(event_id).await?)
    }

    /// Records that event `event_id` was processed; false for a redelivery.
    pub async fn first_sighting(&self, event_id: &str) -> Result<bool, EngineError> {
        Ok(self
            .ledger()
            .first_sighting(event_id, self.now(), EVENT_MEMORY)
            .await?)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::audit::MemoryAudit;
    use crate::memory::{MemoryLedger, MemoryStore};
    use crate::{PolicySet, Provider, SecretStore as _, SecretValue, SystemClock};

    fn engine(policy: &str) -> (Engine, Arc<MemoryStore>, CredentialId) {
        let policies: PolicySet = toml::from_str(policy).expect("policy parses");
        let store = Arc::new(MemoryStore::new(Provider::Local, Arc::new(SystemClock)));
        let value = SecretValue::new("a".repeat(32));
        let id = store.insert("api", &[("rekey:policy", "p")], Some(value));
        let engine = Engine::new(policies, Arc::new(MemoryLedger::default()))
            .with_store(store.clone())
            .with_audit(Arc::new(MemoryAudit::default()));
        (engine, store, id)
    }

    async fn versions(store: &MemoryStore, id: &CredentialId) -> usize {
        store.describe(id).await.expect("describe").versions.len()
    }

    #[tokio::test]
    async fn the_maximum_rotates_once_and_the_new_version_counts_from_zero() {
        let (engine, store, id) = engine("[p]\nmax_age = \"1d\"\nmax_uses = 5");

        for expected in 1..=4 {
            let outcome = engine.record_uses(&id, 1).await.expect("counted");
            assert!(matches!(outcome, UsageOutcome::Counted { total, .. } if total == expected));
        }
        let fifth = engine.record_uses(&id, 1).await.expect("rotates");
        assert!(
            matches!(fifth, UsageOutcome::Rotated { total: 5, .. }),
            "{fifth:?}"
        );

        let after = engine.record_uses(&id, 1).await.expect("counted");
        assert!(
            matches!(after, UsageOutcome::Counted { total: 1, .. }),
            "{after:?}"
        );
        assert_eq!(versions(&store, &id).await, 2);
    }

    /// A ledger that yields before each count, so concurrent uses all
    /// count against the same version before any of them rotates: the race
    /// at the moment the maximum is crossed.
    struct Racing(MemoryLedger);

    #[async_trait::async_trait]
    impl crate::Ledger for Racing {
        async fn claim(
            &self,
            id: &CredentialId,
            rotation: &VersionId,
            now: time::OffsetDateTime,
            lease: Duration,
        ) -> Result<crate::Claim, crate::LedgerError> {
            self.0.claim(id, rotation, now, lease).await
        }

        async fn release(
            &self,
            id: &CredentialId,
            rotation: &VersionId,
        ) -> Result<(), crate::LedgerError> {
            self.0.release(id, rotation).await
        }

        async fn first_sighting(
            &self,
            event_id: &str,
            now: time::OffsetDateTime,
            keep: Duration,
        ) -> Result<bool, crate::LedgerError> {
            self.0.first_sighting(event_id, now, keep).await
        }

        async fn forget_sighting(&self, event_id: &str) -> Result<(), crate::LedgerError> {
            self.0.forget_sighting(event_id).await
        }

        async fn count_uses(
            &self,
            id: &CredentialId,
            version: &VersionId,
            uses: u64,
        ) -> Result<u64, crate::LedgerError> {
            tokio::task::yield_now().await;
            self.0.count_uses(id, version, uses).await
        }
    }

    #[tokio::test]
    async fn uses_that_cross_the_maximum_together_rotate_exactly_once() {
        let policies: PolicySet =
            toml::from_str("[p]\nmax_age = \"1d\"\nmax_uses = 5").expect("parses");
        let store = Arc::new(MemoryStore::new(Provider::Local, Arc::new(SystemClock)));
        let id = store.insert(
            "api",
            &[("rekey:policy", "p")],
            Some(SecretValue::new("a".repeat(32))),
        );
        let engine = Engine::new(policies, Arc::new(Racing(MemoryLedger::default())))
            .with_store(store.clone())
            .with_audit(Arc::new(MemoryAudit::default()));

        let uses = (0..40).map(|_| engine.record_uses(&id, 1));
        let outcomes = futures::future::join_all(uses).await;

        let rotated = outcomes
            .iter()
            .filter(|o| matches!(o, Ok(UsageOutcome::Rotated { .. })))
            .count();
        assert_eq!(rotated, 1, "{outcomes:?}");
        assert_eq!(versions(&store, &id).await, 2, "one new version");
    }

    #[tokio::test]
    async fn a_policy_without_a_maximum_never_rotates_on_use() {
        let (engine, store, id) = engine("[p]\nmax_age = \"1d\"");

        let outcome = engine.record_uses(&id, 1_000_000).await.expect("counted");

        assert!(matches!(
            outcome,
            UsageOutcome::Counted { max_uses: None, .. }
        ));
        assert_eq!(versions(&store, &id).await, 1);
    }

    #[tokio::test]
    async fn a_redelivered_event_is_seen_once() {
        let (engine, _, _) = engine("[p]\nmax_age = \"1d\"");

        assert!(engine.first_sighting("event-1").await.expect("ledger"));
        assert!(!engine.first_sighting("event-1").await.expect("ledger"));
    }
}
