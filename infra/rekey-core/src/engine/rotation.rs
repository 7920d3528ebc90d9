//! Whole rotations and the native rotation contract: claiming a
//! credential, rechecking under the claim, and running the steps in order.

use crate::{
    Claim, Credential, CredentialId, Engine, EngineError, Policy, Rotated, RotationToken, Stage,
    StepOutcome, Trigger, VersionId,
};

/// What must still hold, once a credential is claimed, for a rotation to go on.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Recheck<'a> {
    /// Nothing: rotate (a person or an anomaly asked).
    Always,
    /// The current version is still this one (a store's notice about it).
    CurrentIs(Option<&'a VersionId>),
    /// The policy still finds it due (another worker may have rotated it).
    Due,
    /// The current version's use count is still at or over the maximum.
    UsesAtLeast(u64),
}

impl Engine {
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

    /// Rotates `id` if, once the credential is claimed, its current
    /// version is still `current`: a store's notice about that version is
    /// acted on at most once however many workers race on it. `None` when
    /// the current version changed (another worker rotated it meanwhile).
    pub async fn rotate_if_current(
        &self,
        id: &CredentialId,
        trigger: &Trigger,
        current: Option<&VersionId>,
    ) -> Result<Option<Rotated>, EngineError> {
        self.rotate_when(id, trigger, Recheck::CurrentIs(current))
            .await
    }

    /// Rotates `id` if `recheck` still holds for the credential as it is
    /// once claimed; `None` if it no longer does (another worker rotated it
    /// while this one decided).
    pub(crate) async fn rotate_when(
        &self,
        id: &CredentialId,
        trigger: &Trigger,
        recheck: Recheck<'_>,
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
        recheck: Recheck<'_>,
    ) -> Result<bool, EngineError> {
        Ok(match recheck {
            Recheck::Always => true,
            Recheck::CurrentIs(expected) => {
                credential.version_at(Stage::Current).map(|v| &v.id) == expected
            }
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
}
