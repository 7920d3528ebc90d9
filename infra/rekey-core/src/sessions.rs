//! Session revocation: ending temporary credentials that cannot be rotated.
//!
//! Role sessions are issued by STS and expire on their own; nothing can
//! delete one. What can be done is to deny every session of the role issued
//! before now (AWS's "revoke active sessions"), which a finding about a
//! stolen session asks for. The AWS adapter implements the port.

use async_trait::async_trait;
use serde::Serialize;
use time::OffsetDateTime;

use crate::audit::{Action, Outcome};
use crate::{CredentialId, Engine, EngineError, KindError, Provider, Trigger};

/// What revoking a role's sessions did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SessionRevocation {
    /// Sessions issued before the cut-off no longer work.
    Revoked,
    /// The role is not managed by rekey (no `rekey:policy` tag): untouched.
    NotManaged,
}

/// Ends the sessions of a role.
#[async_trait]
pub trait SessionRevoker: Send + Sync {
    /// Denies every session of `role` issued before `before`, if rekey
    /// manages the role. Safe to repeat.
    async fn revoke_sessions(
        &self,
        role: &str,
        before: OffsetDateTime,
    ) -> Result<SessionRevocation, KindError>;
}

impl Engine {
    /// Ends every session of `role` issued before now.
    pub async fn revoke_sessions(
        &self,
        role: &str,
        trigger: &Trigger,
    ) -> Result<SessionRevocation, EngineError> {
        let id = CredentialId::new(Provider::AwsIamRole, role);
        let revoker = self
            .sessions()
            .ok_or(EngineError::NoStore(Provider::AwsIamRole))?;
        let now = self.now();
        let result = revoker.revoke_sessions(role, now).await;

        let mut event = self.event_for(&id, trigger, Outcome::Succeeded);
        event.action = Some(Action::Revoke);
        match &result {
            Ok(SessionRevocation::Revoked) => {
                event.reason = Some("sessions issued before now are denied".into());
            }
            Ok(SessionRevocation::NotManaged) => {
                event.outcome = Outcome::AlreadyDone;
                event.reason = Some("role is not managed by rekey; left alone".into());
            }
            Err(error) => {
                event.outcome = Outcome::Failed;
                event.reason = Some(error.to_string());
            }
        }
        self.record(&event);
        Ok(result?)
    }
}
