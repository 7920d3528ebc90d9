//! Credential kinds: how a value of one kind is made, set where it is
//! consumed, tested, and taken out of service.
//!
//! A plain secret ([`PlainSecret`]) is made by the policy's generator and
//! consumed straight from its store, so setting it is a no-op and its test
//! checks the value's shape. An IAM access key is made by IAM, tested by
//! calling AWS with it, deactivated after the switch and deleted after the
//! grace period: its kind lives in the AWS adapter crate. The policy's
//! `kind` key picks the kind; the engine holds one implementation per name.

use async_trait::async_trait;

use crate::{Credential, Policy, SecretValue};

/// The name of the plain secret kind, the default.
pub const PLAIN_SECRET: &str = "secret";

/// Why a kind could not make, set, test or revoke a value.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum KindError {
    /// The consumer or issuer refused the request.
    #[error("the consumer refused the new value: {0}")]
    Rejected(String),
    /// The new value did not pass its test.
    #[error("the new value failed its test: {0}")]
    TestFailed(String),
    /// A limit leaves no room for a new value (two keys per IAM user).
    #[error("no room for a new value: {0}")]
    LimitReached(String),
    /// The credential lacks what the kind needs (a tag, a field).
    #[error("the credential is not set up for its kind: {0}")]
    Misconfigured(String),
    /// The issuer or consumer could not be reached; the step may succeed later.
    #[error("the consumer is unavailable: {0}")]
    Unavailable(String),
}

/// The values a credential holds when a new one is made.
#[derive(Clone, Debug, Default)]
pub struct Values {
    /// The current value, which the new one replaces.
    pub current: Option<SecretValue>,
    /// The previous value, still served until its grace period ends.
    pub previous: Option<SecretValue>,
}

/// What revoking a value in place achieved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Revocation {
    /// The value no longer works (a key was deactivated).
    Unusable,
    /// The value cannot be disabled in place; only replacing it and
    /// dropping the old one ends it (a plain secret).
    NeedsReplacement,
}

/// How one kind of credential is made, set, tested and taken out of service.
/// Every method must be safe to repeat.
#[async_trait]
pub trait CredentialKind: Send + Sync {
    /// Makes a new value. `values` holds the current value it replaces and
    /// the previous one still in its grace period, if any.
    async fn create(
        &self,
        credential: &Credential,
        policy: &Policy,
        values: &Values,
    ) -> Result<SecretValue, KindError> {
        let _ = credential;
        let current = values.current.as_ref();
        policy
            .generator
            .generate(current)
            .map_err(|e| KindError::Rejected(e.to_string()))
    }

    /// Sets `pending` where it is consumed, alongside the current value.
    async fn apply(
        &self,
        credential: &Credential,
        policy: &Policy,
        pending: &SecretValue,
    ) -> Result<(), KindError> {
        let _ = (credential, policy, pending);
        Ok(())
    }

    /// Checks that `pending` works where it is consumed.
    async fn test(
        &self,
        credential: &Credential,
        policy: &Policy,
        pending: &SecretValue,
    ) -> Result<(), KindError> {
        let _ = credential;
        policy
            .generator
            .check(pending)
            .map_err(|e| KindError::TestFailed(e.to_string()))
    }

    /// Called once `previous` stopped being current.
    async fn demote(
        &self,
        credential: &Credential,
        policy: &Policy,
        previous: &SecretValue,
    ) -> Result<(), KindError> {
        let _ = (credential, policy, previous);
        Ok(())
    }

    /// Called when `previous` is retired, after the grace period or at once
    /// after a leak.
    async fn retire(
        &self,
        credential: &Credential,
        policy: &Policy,
        previous: &SecretValue,
    ) -> Result<(), KindError> {
        let _ = (credential, policy, previous);
        Ok(())
    }

    /// Makes `value` unusable now, if the kind can.
    async fn revoke(
        &self,
        credential: &Credential,
        policy: &Policy,
        value: &SecretValue,
    ) -> Result<Revocation, KindError> {
        let _ = (credential, policy, value);
        Ok(Revocation::NeedsReplacement)
    }

    /// A public identifier of `value` that findings may name (an access key
    /// id), if the kind has one.
    fn identifier(&self, value: &SecretValue) -> Option<String> {
        let _ = value;
        None
    }
}

/// A secret made by a generator and read from its store by consumers.
#[derive(Clone, Copy, Debug, Default)]
pub struct PlainSecret;

impl CredentialKind for PlainSecret {}
