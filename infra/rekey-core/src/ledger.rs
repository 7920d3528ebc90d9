//! The ledger port: rotations in progress, processed event ids, usage counters.
//!
//! Every write is conditional, so two workers that race for the same
//! credential or the same event never both win. DynamoDB holds it in AWS,
//! SQLite in local mode.

use std::time::Duration;

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::{CredentialId, VersionId};

/// Why a ledger call failed.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LedgerError {
    /// The ledger is throttling or briefly unavailable.
    #[error("ledger unavailable, retry later: {0}")]
    Unavailable(String),
    /// Any other failure the ledger reported.
    #[error("ledger error: {0}")]
    Backend(String),
}

/// The answer to a claim on a credential's rotation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Claim {
    /// The caller holds the rotation lease until it releases it or the
    /// lease runs out, and carries on with `rotation`: the one it proposed,
    /// or an earlier one whose lease ran out (its worker died), so that the
    /// retry resumes it instead of making a second new value.
    Acquired {
        /// The rotation to carry on.
        rotation: VersionId,
    },
    /// Another rotation holds the credential.
    Held {
        /// The rotation that holds it.
        rotation: VersionId,
        /// When its lease runs out.
        until: OffsetDateTime,
    },
}

/// Rotations in progress, processed events and usage counts.
#[async_trait]
pub trait Ledger: Send + Sync {
    /// Claims the rotation of `id` for `rotation` until `now + lease`.
    /// Succeeds when nothing holds the credential, when `rotation` itself
    /// holds it (a retry renews it), or when the holder's lease has run out
    /// (the answer then names the holder's rotation, to be resumed).
    async fn claim(
        &self,
        id: &CredentialId,
        rotation: &VersionId,
        now: OffsetDateTime,
        lease: Duration,
    ) -> Result<Claim, LedgerError>;

    /// Ends the claim of `rotation` on `id`; a claim by another rotation is
    /// left alone.
    async fn release(&self, id: &CredentialId, rotation: &VersionId) -> Result<(), LedgerError>;

    /// Records that event `event_id` was seen. True the first time, false
    /// for every duplicate until `now + keep`.
    async fn first_sighting(
        &self,
        event_id: &str,
        now: OffsetDateTime,
        keep: Duration,
    ) -> Result<bool, LedgerError>;

    /// Forgets event `event_id`, so that a redelivery after a failed
    /// attempt is acted on instead of dropped as a duplicate.
    async fn forget_sighting(&self, event_id: &str) -> Result<(), LedgerError>;

    /// Adds `uses` to the count of `version` of `id` and returns the new total.
    async fn count_uses(
        &self,
        id: &CredentialId,
        version: &VersionId,
        uses: u64,
    ) -> Result<u64, LedgerError>;
}
