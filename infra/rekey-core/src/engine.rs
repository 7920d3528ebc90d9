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

use crate::audit::{Action, AuditEvent, AuditSink, JsonLines, Outcome};
use crate::{
    Claim, Clock, Credential, CredentialId, CredentialKind, EngineError, Ledger, PLAIN_SECRET,
    PlainSecret, Policy, PolicySet, Provider, RotationToken, SecretStore, Stage, StoreError,
    SystemClock, Trigger, VersionId,
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

/// What must still hold, once a credential is claimed, for a rotation to go on.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Recheck {
    /// Nothing: rotate (a person or an anomaly asked).
    Always,
    /// The policy still finds it due (another worker may have rotated it).
    Due,
    /// The current version's use count is still at or over the maximum.
    UsesAtLeast(u64),
}

/// One action on one version, as the audit trail names it.
struct Act<'a> {
    credential: &'a Credential,
    trigger: &'a Trigger,
    action: Action,
    version: &'a VersionId,
    replacing: Option<&'a VersionId>,
}

impl<'a> Act<'a> {
    fn new(
        credential: &'a Credential,
        trigger: &'a Trigger,
        action: Action,
        version: &'a VersionId,
    ) -> Self {
        Self {
            credential,
            trigger,
            action,
            version,
            replacing: None,
        }
    }
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

    /// Rotates `id` now, start to finish: claim, create, apply, test,
    /// promote, release. A rotation left behind by a worker whose lease ran
    /// out is resumed rather than started again.
    pub async fn rotate(
        &self,
        id: &CredentialId,
        trigger: &Trigger,
    ) -> Result<Rotated, EngineError> {
        let rotated = self.rotate_when(id, trigger, Recheck::Always).await?;
        rotated.ok_or_else(|| EngineError::NotManaged(id.clone()))
    }

    /// Rotates `id` if `recheck` still holds for the credential as it is
    /// once claimed; `None` if it no longer does (another worker rotated it
    /// while this one decided).
    pub(crate) async fn rotate_when(
        &self,
        id: &CredentialId,
        trigger: &Trigger,
        recheck: Recheck,
    ) -> Result<Option<Rotated>, EngineError> {
        let rotation = self.claim(id, &VersionId::generate()).await?;
        let result = async {
            let (credential, policy) = self.describe(id).await?;
            if !credential.rotation_enabled {
                return Err(EngineError::RotationDisabled(id.clone()));
            }
            if !self.still_due(&credential, &policy, recheck).await? {
                return Ok(None);
            }
            self.run_rotation(&credential, &policy, &rotation, trigger)
                .await
                .map(Some)
        }
        .await;

        // A failed rotation gives up its claim too, so the next trigger
        // starts afresh instead of resuming a value that did not pass.
        self.ledger.release(id, &rotation).await?;
        result
    }

    async fn still_due(
        &self,
        credential: &Credential,
        policy: &Policy,
        recheck: Recheck,
    ) -> Result<bool, EngineError> {
        Ok(match recheck {
            Recheck::Always => true,
            Recheck::Due => matches!(
                self.decide(credential, policy),
                crate::Decision::Rotate { .. }
            ),
            Recheck::UsesAtLeast(max) => match credential.version_at(Stage::Current) {
                Some(current) => {
                    self.ledger
                        .count_uses(&credential.id, &current.id, 0)
                        .await?
                        >= max
                }
                None => false,
            },
        })
    }

    async fn run_rotation(
        &self,
        credential: &Credential,
        policy: &Policy,
        rotation: &VersionId,
        trigger: &Trigger,
    ) -> Result<Rotated, EngineError> {
        // A resumed rotation whose worker died after promoting is done.
        if credential
            .version(rotation)
            .is_some_and(|v| v.has(Stage::Current))
        {
            let replaced = credential.version_at(Stage::Previous).map(|v| v.id.clone());
            return Ok(Rotated {
                version: rotation.clone(),
                replaced,
            });
        }

        let replaced = credential.version_at(Stage::Current).map(|v| v.id.clone());
        self.create(credential, policy, rotation, None, trigger)
            .await?;
        self.apply(credential, policy, rotation, trigger).await?;
        self.test(credential, policy, rotation, trigger).await?;
        self.promote(credential, policy, rotation, replaced.as_ref(), trigger)
            .await?;
        Ok(Rotated {
            version: rotation.clone(),
            replaced,
        })
    }

    /// Claims `id` for `proposed`; returns the rotation to carry on, which
    /// is an earlier one when its worker's lease ran out.
    async fn claim(
        &self,
        id: &CredentialId,
        proposed: &VersionId,
    ) -> Result<VersionId, EngineError> {
        match self
            .ledger
            .claim(id, proposed, self.now(), self.lease)
            .await?
        {
            Claim::Acquired { rotation } => Ok(rotation),
            Claim::Held { rotation, .. } => Err(EngineError::RotationInProgress {
                id: id.clone(),
                rotation,
            }),
        }
    }

    /// Claims `id` for exactly `token`, the version a native rotation
    /// contract dictates; an expired claim of another rotation is ended.
    async fn claim_exact(&self, id: &CredentialId, token: &VersionId) -> Result<(), EngineError> {
        let held = self.claim(id, token).await?;
        if &held != token {
            self.ledger.release(id, &held).await?;
            self.claim(id, token).await?;
        }
        Ok(())
    }

    /// Runs one step of a store's native rotation contract (the Secrets
    /// Manager `Step` / `ClientRequestToken` contract): rotation must be
    /// enabled, `token` must be a version of the credential, and a token
    /// that is already current means the rotation is done.
    pub async fn step(
        &self,
        id: &CredentialId,
        step: crate::Step,
        token: &VersionId,
        rotation_token: Option<&RotationToken>,
    ) -> Result<StepOutcome, EngineError> {
        let trigger = Trigger::NativeRotation { step };
        let (credential, policy) = self.describe(id).await?;
        if !credential.rotation_enabled {
            return Err(EngineError::RotationDisabled(id.clone()));
        }
        let Some(version) = credential.version(token) else {
            return Err(EngineError::UnknownVersion {
                id: id.clone(),
                version: token.clone(),
            });
        };
        if version.has(Stage::Current) {
            return Ok(StepOutcome::AlreadyDone);
        }
        if !version.has(Stage::Pending) {
            return Err(EngineError::NotPending {
                id: id.clone(),
                version: token.clone(),
            });
        }

        self.claim_exact(id, token).await?;
        match step {
            crate::Step::CreateSecret => {
                self.create(&credential, &policy, token, rotation_token, &trigger)
                    .await
            }
            crate::Step::SetSecret => self.apply(&credential, &policy, token, &trigger).await,
            crate::Step::TestSecret => self.test(&credential, &policy, token, &trigger).await,
            crate::Step::FinishSecret => {
                let current = credential.version_at(Stage::Current).map(|v| v.id.clone());
                let outcome = self
                    .promote(&credential, &policy, token, current.as_ref(), &trigger)
                    .await?;
                self.ledger.release(id, token).await?;
                Ok(outcome)
            }
        }
    }

    /// Step 1: makes the new value and stores it as pending, once.
    async fn create(
        &self,
        credential: &Credential,
        policy: &Policy,
        version: &VersionId,
        rotation_token: Option<&RotationToken>,
        trigger: &Trigger,
    ) -> Result<StepOutcome, EngineError> {
        let result = self
            .create_once(credential, policy, version, rotation_token)
            .await;
        self.audited(
            &Act::new(credential, trigger, Action::Create, version),
            result,
        )
    }

    async fn create_once(
        &self,
        credential: &Credential,
        policy: &Policy,
        version: &VersionId,
        rotation_token: Option<&RotationToken>,
    ) -> Result<StepOutcome, EngineError> {
        let store = self.store(credential.id.provider)?;
        match store.read(&credential.id, version).await {
            Ok(_) => return Ok(StepOutcome::AlreadyDone),
            Err(StoreError::VersionNotFound { .. }) => {}
            Err(error) => return Err(error.into()),
        }

        let values = self.values(credential).await?;
        let kind = self.kind(credential, policy)?;
        let value = kind.create(credential, policy, &values).await?;
        store
            .put_pending(&credential.id, version, &value, rotation_token)
            .await?;
        Ok(StepOutcome::Done)
    }

    async fn values(&self, credential: &Credential) -> Result<crate::Values, EngineError> {
        let store = self.store(credential.id.provider)?;
        let mut values = crate::Values::default();
        if let Some(current) = credential.version_at(Stage::Current) {
            values.current = Some(store.read(&credential.id, &current.id).await?);
        }
        if let Some(previous) = credential.version_at(Stage::Previous) {
            values.previous = Some(store.read(&credential.id, &previous.id).await?);
        }
        Ok(values)
    }

    /// Step 2: sets the pending value where it is consumed.
    async fn apply(
        &self,
        credential: &Credential,
        policy: &Policy,
        version: &VersionId,
        trigger: &Trigger,
    ) -> Result<StepOutcome, EngineError> {
        let result = async {
            let pending = self
                .store(credential.id.provider)?
                .read(&credential.id, version)
                .await?;
            self.kind(credential, policy)?
                .apply(credential, policy, &pending)
                .await?;
            Ok(StepOutcome::Done)
        }
        .await;
        self.audited(
            &Act::new(credential, trigger, Action::Apply, version),
            result,
        )
    }

    /// Step 3: tests the pending value where it is consumed.
    async fn test(
        &self,
        credential: &Credential,
        policy: &Policy,
        version: &VersionId,
        trigger: &Trigger,
    ) -> Result<StepOutcome, EngineError> {
        let result = async {
            let pending = self
                .store(credential.id.provider)?
                .read(&credential.id, version)
                .await?;
            self.kind(credential, policy)?
                .test(credential, policy, &pending)
                .await?;
            Ok(StepOutcome::Done)
        }
        .await;
        self.audited(
            &Act::new(credential, trigger, Action::Test, version),
            result,
        )
    }

    /// Step 4: makes the pending value current; the old current becomes
    /// previous and its kind is told (an access key is deactivated).
    async fn promote(
        &self,
        credential: &Credential,
        policy: &Policy,
        version: &VersionId,
        replacing: Option<&VersionId>,
        trigger: &Trigger,
    ) -> Result<StepOutcome, EngineError> {
        let result = async {
            let store = self.store(credential.id.provider)?;
            store.promote(&credential.id, version, replacing).await?;
            Ok(StepOutcome::Done)
        }
        .await;
        let mut act = Act::new(credential, trigger, Action::Promote, version);
        act.replacing = replacing;
        let outcome = self.audited(&act, result)?;

        if let Some(old) = replacing {
            self.demote(credential, policy, old, trigger).await;
        }
        Ok(outcome)
    }

    /// Tells the kind that `old` stopped being current. A failure is audited
    /// but does not undo the promotion: retiring `old` repeats the work.
    async fn demote(
        &self,
        credential: &Credential,
        policy: &Policy,
        old: &VersionId,
        trigger: &Trigger,
    ) {
        let result = async {
            let value = self
                .store(credential.id.provider)?
                .read(&credential.id, old)
                .await?;
            self.kind(credential, policy)?
                .demote(credential, policy, &value)
                .await?;
            Ok(StepOutcome::Done)
        }
        .await;
        if let Err(error) =
            self.audited(&Act::new(credential, trigger, Action::Demote, old), result)
        {
            tracing::warn!(credential = %credential.id, version = %old, %error, "demotion failed");
        }
    }

    /// Takes `version`, the previous value of `credential`, out of service:
    /// its kind retires it (an access key is deleted), then the store stops
    /// serving it.
    pub async fn retire(
        &self,
        credential: &Credential,
        policy: &Policy,
        version: &VersionId,
        trigger: &Trigger,
    ) -> Result<StepOutcome, EngineError> {
        let result = async {
            let store = self.store(credential.id.provider)?;
            let value = store.read(&credential.id, version).await?;
            self.kind(credential, policy)?
                .retire(credential, policy, &value)
                .await?;
            store.retire(&credential.id, version).await?;
            Ok(StepOutcome::Done)
        }
        .await;
        self.audited(
            &Act::new(credential, trigger, Action::Retire, version),
            result,
        )
    }

    /// Records one action line for `result` and hands the result back.
    fn audited(
        &self,
        act: &Act<'_>,
        result: Result<StepOutcome, EngineError>,
    ) -> Result<StepOutcome, EngineError> {
        let outcome = match &result {
            Ok(StepOutcome::Done) => Outcome::Succeeded,
            Ok(StepOutcome::AlreadyDone) => Outcome::AlreadyDone,
            Err(_) => Outcome::Failed,
        };
        let mut event = self.event(act.credential, act.trigger, outcome);
        event.action = Some(act.action);
        event.version = Some(act.version.clone());
        event.previous_version = act.replacing.cloned();
        event.reason = result.as_ref().err().map(ToString::to_string);
        self.audit.record(&event);
        result
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

#[cfg(test)]
mod tests;
