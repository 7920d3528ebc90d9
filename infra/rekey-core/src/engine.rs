//! The rotation engine: the state machine that turns a decision into a new
//! current value without ever leaving a consumer without a working one.
//!
//! A rotation runs four steps, each idempotent and keyed by the new
//! version's id (the rotation id):
//!
//! 1. **create** the new value and store it as pending (a no-op when the
//!    pending version already holds a value);
//! 2. **apply** it where it is consumed;
//! 3. **test** it there;
//! 4. **promote** it to current; the old current becomes previous and keeps
//!    working through the policy's grace period, after which a later sweep
//!    **retires** it.
//!
//! The current value is untouched until step 4, so a failure anywhere
//! before leaves it working. A claim in the ledger keeps two triggers from
//! rotating the same credential at once; a claim whose lease ran out (its
//! worker died) is resumed with the same rotation id, so the retry finds the
//! value the dead worker made instead of making a second one.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use time::OffsetDateTime;

use crate::audit::{AuditEvent, AuditSink, JsonLines, Outcome};
use crate::{
    Clock, Credential, CredentialId, CredentialKind, EngineError, Ledger, PLAIN_SECRET,
    PlainSecret, Policy, PolicySet, Provider, SecretStore, SystemClock, Trigger, VersionId,
};

/// How long a rotation claim holds before another worker may resume it: the
/// longest a Lambda invocation can run.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(15 * 60);

/// How a step ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StepOutcome {
    /// The step changed something.
    Done,
    /// The step had already been done; nothing changed.
    AlreadyDone,
}

/// The result of a whole rotation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rotated {
    /// The new current version.
    pub version: VersionId,
    /// The version it replaced, now previous.
    pub replaced: Option<VersionId>,
}

/// The engine. Build it with [`Engine::new`] and the `with_*` methods, once
/// per process, and share it.
pub struct Engine {
    stores: BTreeMap<Provider, Arc<dyn SecretStore>>,
    ledger: Arc<dyn Ledger>,
    policies: PolicySet,
    clock: Arc<dyn Clock>,
    kinds: BTreeMap<String, Arc<dyn CredentialKind>>,
    audit: Arc<dyn AuditSink>,
    environment: Option<String>,
    lease: Duration,
    sessions: Option<Arc<dyn crate::SessionRevoker>>,
}

impl Engine {
    /// An engine with these policies and this ledger, the system clock, the
    /// plain secret kind and audit lines on stdout. Add stores with
    /// [`Engine::with_store`].
    pub fn new(policies: PolicySet, ledger: Arc<dyn Ledger>) -> Self {
        Self {
            stores: BTreeMap::new(),
            ledger,
            policies,
            clock: Arc::new(SystemClock),
            kinds: BTreeMap::from([(
                PLAIN_SECRET.to_owned(),
                Arc::new(PlainSecret) as Arc<dyn CredentialKind>,
            )]),
            audit: Arc::new(JsonLines::stdout()),
            environment: None,
            lease: DEFAULT_LEASE,
            sessions: None,
        }
    }

    /// Adds the store for its provider (replacing any earlier one).
    pub fn with_store(mut self, store: Arc<dyn SecretStore>) -> Self {
        self.stores.insert(store.provider(), store);
        self
    }

    /// Uses `clock` instead of the system clock.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Handles credentials whose policy names `name` as their kind with
    /// `kind` (replacing any earlier one, the plain secret kind included).
    pub fn with_kind(mut self, name: &str, kind: Arc<dyn CredentialKind>) -> Self {
        self.kinds.insert(name.to_owned(), kind);
        self
    }

    /// Sends audit events to `audit`.
    pub fn with_audit(mut self, audit: Arc<dyn AuditSink>) -> Self {
        self.audit = audit;
        self
    }

    /// The environment this deployment serves; policies bound to another
    /// environment are skipped.
    pub fn with_environment(mut self, environment: Option<String>) -> Self {
        self.environment = environment;
        self
    }

    /// How long a rotation claim holds.
    pub fn with_lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    /// Ends role sessions through `sessions` (the AWS adapter's IAM roles).
    pub fn with_sessions(mut self, sessions: Arc<dyn crate::SessionRevoker>) -> Self {
        self.sessions = Some(sessions);
        self
    }

    pub(crate) fn sessions(&self) -> Option<&Arc<dyn crate::SessionRevoker>> {
        self.sessions.as_ref()
    }

    /// The configured stores, by provider.
    pub fn stores(&self) -> impl Iterator<Item = &Arc<dyn SecretStore>> {
        self.stores.values()
    }

    /// The policies in force.
    pub fn policies(&self) -> &PolicySet {
        &self.policies
    }

    /// The engine's clock.
    pub fn now(&self) -> OffsetDateTime {
        self.clock.now()
    }

    pub(crate) fn environment(&self) -> Option<&str> {
        self.environment.as_deref()
    }

    pub(crate) fn store(&self, provider: Provider) -> Result<&Arc<dyn SecretStore>, EngineError> {
        self.stores
            .get(&provider)
            .ok_or(EngineError::NoStore(provider))
    }

    /// The credential as its store describes it, with its effective policy.
    pub async fn describe(&self, id: &CredentialId) -> Result<(Credential, Policy), EngineError> {
        let credential = self.store(id.provider)?.describe(id).await?;
        let policy = self.policy_of(&credential)?;
        Ok((credential, policy))
    }

    /// The kind that handles `credential` under `policy`.
    pub(crate) fn kind(
        &self,
        credential: &Credential,
        policy: &Policy,
    ) -> Result<&Arc<dyn CredentialKind>, EngineError> {
        self.kinds
            .get(&policy.kind)
            .ok_or_else(|| EngineError::UnknownKind {
                id: credential.id.clone(),
                kind: policy.kind.clone(),
            })
    }

    pub(crate) fn policy_of(&self, credential: &Credential) -> Result<Policy, EngineError> {
        match self.policies.resolve(&credential.tags) {
            None => Err(EngineError::NotManaged(credential.id.clone())),
            Some(Err(source)) => Err(EngineError::InvalidPolicy {
                id: credential.id.clone(),
                source,
            }),
            Some(Ok(policy)) => Ok(policy),
        }
    }

    pub(crate) fn event(
        &self,
        credential: &Credential,
        trigger: &Trigger,
        outcome: Outcome,
    ) -> AuditEvent {
        self.event_for(&credential.id, trigger, outcome)
    }

    pub(crate) fn event_for(
        &self,
        id: &CredentialId,
        trigger: &Trigger,
        outcome: Outcome,
    ) -> AuditEvent {
        AuditEvent {
            time: self.now(),
            trigger: trigger.kind(),
            credential: id.clone(),
            decision: None,
            action: None,
            outcome,
            version: None,
            previous_version: None,
            reason: None,
        }
    }

    pub(crate) fn ledger(&self) -> &Arc<dyn Ledger> {
        &self.ledger
    }

    pub(crate) fn record(&self, event: &AuditEvent) {
        self.audit.record(event);
    }
}

mod rotation;
mod steps;
#[cfg(test)]
mod tests;

pub(crate) use rotation::Recheck;
