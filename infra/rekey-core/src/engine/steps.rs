//! The steps of a rotation, each idempotent and audited: create, apply,
//! test, promote (and demote the replaced value), retire.

use crate::audit::{Action, Outcome};
use crate::{
    Credential, Engine, EngineError, Policy, RotationToken, Stage, StepOutcome, StoreError,
    Trigger, VersionId,
};

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

impl Engine {
    /// Step 1: makes the new value and stores it as pending, once.
    pub(super) async fn create(
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
    pub(super) async fn apply(
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
    pub(super) async fn test(
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
    pub(super) async fn promote(
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
}
