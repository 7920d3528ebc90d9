//! The consumer port: where a new value is set and tested before promotion.
//!
//! A database password is set on the database, an access key is created in
//! IAM. For a plain secret the store itself is what consumers read, so
//! [`StoreOnly`] sets nothing and tests that the pending value has the shape
//! its generator promises.

use async_trait::async_trait;

use crate::{Credential, Policy, SecretValue};

/// Why the new value could not be set or did not pass its test.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConsumerError {
    /// The consumer refused the new value.
    #[error("the consumer refused the new value: {0}")]
    Rejected(String),
    /// The new value did not pass its test.
    #[error("the new value failed its test: {0}")]
    TestFailed(String),
    /// The consumer could not be reached; the step may succeed later.
    #[error("the consumer is unavailable: {0}")]
    Unavailable(String),
}

/// Sets and tests new values where they are consumed.
#[async_trait]
pub trait Consumer: Send + Sync {
    /// Makes the consumer accept `pending` alongside the current value.
    async fn apply(
        &self,
        credential: &Credential,
        policy: &Policy,
        pending: &SecretValue,
    ) -> Result<(), ConsumerError>;

    /// Checks that `pending` works where it is consumed.
    async fn test(
        &self,
        credential: &Credential,
        policy: &Policy,
        pending: &SecretValue,
    ) -> Result<(), ConsumerError>;
}

/// The consumer of a plain secret: the store is where it is read from.
#[derive(Clone, Copy, Debug, Default)]
pub struct StoreOnly;

#[async_trait]
impl Consumer for StoreOnly {
    async fn apply(
        &self,
        _: &Credential,
        _: &Policy,
        _: &SecretValue,
    ) -> Result<(), ConsumerError> {
        Ok(())
    }

    async fn test(
        &self,
        _: &Credential,
        policy: &Policy,
        pending: &SecretValue,
    ) -> Result<(), ConsumerError> {
        policy
            .generator
            .check(pending)
            .map_err(|e| ConsumerError::TestFailed(e.to_string()))
    }
}
