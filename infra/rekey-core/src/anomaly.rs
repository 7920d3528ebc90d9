//! Anomalies: findings that a credential leaked or is being misused.
//!
//! A finding names its subject in one of three ways: the credential itself
//! (a detector that knows rekey's ids), a public identifier of a value (an
//! access key id in an AWS Health event or a GuardDuty finding), or the
//! leaked value (secret scanning). [`Engine::locate`] finds the managed
//! credential versions it names; [`Engine::respond`] acts on each as its
//! policy's `on_anomaly` says. A finding about nothing rekey manages is
//! acknowledged and changes nothing.

use serde::Serialize;
use subtle::ConstantTimeEq as _;

use crate::audit::{Action, Outcome};
use crate::engine::Recheck;
use crate::{
    AnomalyAction, Credential, CredentialId, Engine, EngineError, Policy, Revocation, SecretValue,
    Stage, StepOutcome, Trigger, VersionId,
};

/// What a finding names.
#[derive(Clone, Debug)]
pub enum Subject {
    /// A credential, by provider and locator.
    Credential(CredentialId),
    /// A public identifier of a value, such as an access key id.
    Identifier(String),
    /// The leaked value itself.
    Value(SecretValue),
}

/// A finding, normalized.
#[derive(Clone, Debug)]
pub struct Finding {
    /// Who reported it (`aws.health`, `aws.guardduty`, `github`, …).
    pub source: String,
    /// The finding's id, used to drop redeliveries.
    pub id: String,
    /// What it names.
    pub subject: Subject,
}

/// One managed credential version a finding names.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Located {
    /// The credential.
    pub credential: CredentialId,
    /// The version the finding names.
    pub version: VersionId,
}

/// What rekey did about one located credential.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Response {
    /// The credential.
    pub credential: CredentialId,
    /// The version that leaked.
    pub leaked: VersionId,
    /// The policy's answer: `revoke`, `rotate` or `revoke-and-rotate`.
    pub action: AnomalyAction,
    /// Whether the leaked value was made unusable in place.
    pub revoked: bool,
    /// The new current version, if the credential was rotated.
    pub rotated: Option<VersionId>,
    /// Whether the leaked value was retired (no longer served at all).
    pub retired: bool,
}

impl Engine {
    /// The managed credential versions `subject` names: for an identifier
    /// or a value, the current, pending and previous versions of every
    /// managed credential are compared (values in constant time, and
    /// inside JSON objects field by field).
    pub async fn locate(&self, subject: &Subject) -> Result<Vec<Located>, EngineError> {
        if let Subject::Credential(id) = subject {
            return self.locate_credential(id).await;
        }
        let mut found = Vec::new();
        for store in self.stores() {
            for id in store.list().await? {
                let credential = store.describe(&id).await?;
                let Ok(policy) = self.policy_of(&credential) else {
                    continue;
                };
                for version in self
                    .matching_versions(&credential, &policy, subject)
                    .await?
                {
                    found.push(Located {
                        credential: id.clone(),
                        version,
                    });
                }
            }
        }
        Ok(found)
    }

    async fn locate_credential(&self, id: &CredentialId) -> Result<Vec<Located>, EngineError> {
        let credential = match self.store(id.provider)?.describe(id).await {
            Ok(credential) => credential,
            Err(crate::StoreError::CredentialNotFound(_)) => return Ok(Vec::new()),
            Err(error) => return Err(error.into()),
        };
        if self.policy_of(&credential).is_err() {
            return Ok(Vec::new());
        }
        let current = credential.version_at(Stage::Current);
        Ok(current
            .map(|v| Located {
                credential: id.clone(),
                version: v.id.clone(),
            })
            .into_iter()
            .collect())
    }

    async fn matching_versions(
        &self,
        credential: &Credential,
        policy: &Policy,
        subject: &Subject,
    ) -> Result<Vec<VersionId>, EngineError> {
        let store = self.store(credential.id.provider)?;
        let kind = self.kind(credential, policy)?;
        let mut matching = Vec::new();
        for stage in [Stage::Current, Stage::Pending, Stage::Previous] {
            let Some(version) = credential.version_at(stage) else {
                continue;
            };
            let Ok(value) = store.read(&credential.id, &version.id).await else {
                continue;
            };
            let hit = match subject {
                Subject::Identifier(wanted) => {
                    kind.identifier(&value).is_some_and(|i| &i == wanted)
                }
                Subject::Value(leaked) => holds(&value, leaked),
                Subject::Credential(_) => false,
            };
            if hit {
                matching.push(version.id.clone());
            }
        }
        Ok(matching)
    }

    /// Acts on `finding`: for each managed credential version it names,
    /// revokes, rotates or both, as the credential's policy says.
    pub async fn respond(&self, finding: &Finding) -> Result<Vec<Response>, EngineError> {
        let trigger = Trigger::Anomaly {
            source: finding.source.clone(),
            finding: finding.id.clone(),
        };
        let mut responses = Vec::new();
        for located in self.locate(&finding.subject).await? {
            responses.push(self.respond_to(&located, &trigger).await?);
        }
        Ok(responses)
    }

    async fn respond_to(
        &self,
        located: &Located,
        trigger: &Trigger,
    ) -> Result<Response, EngineError> {
        let (credential, policy) = self.describe(&located.credential).await?;
        let action = policy.on_anomaly;
        self.record_anomaly_decision(&credential, trigger, &located.version, action);
        let mut response = Response {
            credential: credential.id.clone(),
            leaked: located.version.clone(),
            action,
            revoked: false,
            rotated: None,
            retired: false,
        };

        if action != AnomalyAction::Rotate {
            response.revoked = self
                .revoke_in_place(&credential, &policy, &located.version, trigger)
                .await?;
        }
        let replace = action != AnomalyAction::Revoke || !response.revoked;
        let leaked_is_current = credential
            .version(&located.version)
            .is_some_and(|v| v.has(Stage::Current));
        if replace && leaked_is_current {
            let rotated = self
                .rotate_when(&credential.id, trigger, Recheck::Always)
                .await?;
            response.rotated = rotated.map(|r| r.version);
        }
        if action != AnomalyAction::Rotate {
            response.retired = self
                .retire_leaked(&located.credential, &policy, &located.version, trigger)
                .await?;
        }
        Ok(response)
    }

    async fn revoke_in_place(
        &self,
        credential: &Credential,
        policy: &Policy,
        version: &VersionId,
        trigger: &Trigger,
    ) -> Result<bool, EngineError> {
        let result = async {
            let value = self
                .store(credential.id.provider)?
                .read(&credential.id, version)
                .await?;
            Ok(self
                .kind(credential, policy)?
                .revoke(credential, policy, &value)
                .await?)
        }
        .await;
        let revocation: Result<Revocation, EngineError> = result;
        let audited = revocation.as_ref().map(|r| match r {
            Revocation::Unusable => StepOutcome::Done,
            Revocation::NeedsReplacement => StepOutcome::AlreadyDone,
        });
        let mut event = self.event(credential, trigger, Outcome::Succeeded);
        event.action = Some(Action::Revoke);
        event.version = Some(version.clone());
        match &audited {
            Ok(StepOutcome::Done) => {}
            Ok(StepOutcome::AlreadyDone) => {
                event.outcome = Outcome::AlreadyDone;
                event.reason = Some("cannot be disabled in place; replacing it instead".into());
            }
            Err(error) => {
                event.outcome = Outcome::Failed;
                event.reason = Some(error.to_string());
            }
        }
        self.record(&event);
        Ok(revocation? == Revocation::Unusable)
    }

    /// Retires the leaked version at once if it is no longer current.
    async fn retire_leaked(
        &self,
        id: &CredentialId,
        policy: &Policy,
        version: &VersionId,
        trigger: &Trigger,
    ) -> Result<bool, EngineError> {
        let credential = self.store(id.provider)?.describe(id).await?;
        let Some(leaked) = credential.version(version) else {
            return Ok(false);
        };
        if !leaked.has(Stage::Previous) && !leaked.has(Stage::Pending) {
            return Ok(false);
        }
        self.retire(&credential, policy, version, trigger).await?;
        Ok(true)
    }

    fn record_anomaly_decision(
        &self,
        credential: &Credential,
        trigger: &Trigger,
        version: &VersionId,
        action: AnomalyAction,
    ) {
        let mut event = self.event(credential, trigger, Outcome::Decided);
        event.decision = Some(match action {
            AnomalyAction::Revoke => "revoke",
            AnomalyAction::Rotate => "rotate",
            AnomalyAction::RevokeAndRotate => "revoke-and-rotate",
        });
        event.version = Some(version.clone());
        event.reason = Some("an anomaly names this version".into());
        self.record(&event);
    }
}

/// Whether `value` is `leaked`, or holds it as a top-level string field of
/// a JSON object. Compares in constant time for equal lengths.
fn holds(value: &SecretValue, leaked: &SecretValue) -> bool {
    let wanted = leaked.expose().as_bytes();
    if bool::from(value.expose().as_bytes().ct_eq(wanted)) {
        return true;
    }
    let Ok(serde_json::Value::Object(fields)) = serde_json::from_str(value.expose()) else {
        return false;
    };
    fields
        .values()
        .filter_map(serde_json::Value::as_str)
        .any(|field| bool::from(field.as_bytes().ct_eq(wanted)))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use async_trait::async_trait;

    use super::*;
    use crate::audit::MemoryAudit;
    use crate::memory::{MemoryLedger, MemoryStore};
    use crate::{CredentialKind, KindError, PolicySet, Provider, SecretStore as _, SystemClock};

    const LEAKED: &str = "leaked-value-0123456789abcdef012";

    /// A kind with public identifiers that can be disabled in place, like
    /// an access key: the identifier is the value's first eight characters.
    #[derive(Default)]
    struct Keys(std::sync::Mutex<Vec<String>>);

    #[async_trait]
    impl CredentialKind for Keys {
        async fn revoke(
            &self,
            _: &Credential,
            _: &Policy,
            value: &SecretValue,
        ) -> Result<Revocation, KindError> {
            self.0
                .lock()
                .expect("lock")
                .push(value.expose()[..8].to_owned());
            Ok(Revocation::Unusable)
        }

        fn identifier(&self, value: &SecretValue) -> Option<String> {
            Some(value.expose()[..8].to_owned())
        }
    }

    struct Fixture {
        engine: Engine,
        store: Arc<MemoryStore>,
        keys: Arc<Keys>,
        audit: Arc<MemoryAudit>,
    }

    fn fixture(on_anomaly: &str) -> Fixture {
        let policies = format!(
            "[secret]\nmax_age = \"1d\"\ngrace_period = \"1h\"\non_anomaly = \"{on_anomaly}\"\n\
             [key]\nmax_age = \"1d\"\ngrace_period = \"1h\"\nkind = \"key\"\non_anomaly = \"{on_anomaly}\""
        );
        let policies: PolicySet = toml::from_str(&policies).expect("policies parse");
        let store = Arc::new(MemoryStore::new(Provider::Local, Arc::new(SystemClock)));
        let keys = Arc::new(Keys::default());
        let audit = Arc::new(MemoryAudit::default());
        let engine = Engine::new(policies, Arc::new(MemoryLedger::default()))
            .with_store(store.clone())
            .with_kind("key", keys.clone())
            .with_audit(audit.clone());
        Fixture {
            engine,
            store,
            keys,
            audit,
        }
    }

    fn finding(subject: Subject) -> Finding {
        Finding {
            source: "test".into(),
            id: "finding-1".into(),
            subject,
        }
    }

    async fn stage(store: &MemoryStore, id: &CredentialId, version: &VersionId) -> Vec<Stage> {
        let credential = store.describe(id).await.expect("describe");
        credential
            .version(version)
            .map(|v| v.stages.clone())
            .unwrap_or_default()
    }

    #[tokio::test]
    async fn a_leaked_plain_secret_is_replaced_and_dropped_at_once() {
        let f = fixture("revoke-and-rotate");
        let id = f.store.insert(
            "db",
            &[("rekey:policy", "secret")],
            Some(SecretValue::new(LEAKED.into())),
        );

        let responses = f
            .engine
            .respond(&finding(Subject::Value(SecretValue::new(LEAKED.into()))))
            .await
            .expect("responds");

        assert_eq!(responses.len(), 1);
        let response = &responses[0];
        assert!(
            !response.revoked,
            "a plain secret cannot be disabled in place"
        );
        assert!(response.rotated.is_some() && response.retired);
        assert!(
            stage(&f.store, &id, &response.leaked).await.is_empty(),
            "the leaked value is served no more"
        );
    }

    #[tokio::test]
    async fn a_leaked_value_inside_a_json_secret_is_found() {
        let f = fixture("rotate");
        let json = format!(r#"{{"username":"app","password":"{LEAKED}"}}"#);
        let id = f.store.insert(
            "db",
            &[("rekey:policy", "secret")],
            Some(SecretValue::new(json)),
        );

        let located = f
            .engine
            .locate(&Subject::Value(SecretValue::new(LEAKED.into())))
            .await
            .expect("locates");

        assert_eq!(
            located.iter().map(|l| &l.credential).collect::<Vec<_>>(),
            vec![&id]
        );
    }

    #[tokio::test]
    async fn revoke_only_disables_a_key_in_place_and_rotates_nothing() {
        let f = fixture("revoke");
        let id = f.store.insert(
            "ci",
            &[("rekey:policy", "key")],
            Some(SecretValue::new(LEAKED.into())),
        );

        let responses = f
            .engine
            .respond(&finding(Subject::Identifier(LEAKED[..8].into())))
            .await
            .expect("responds");

        assert_eq!(responses.len(), 1);
        assert!(responses[0].revoked && responses[0].rotated.is_none());
        assert_eq!(
            f.keys.0.lock().expect("lock").as_slice(),
            [LEAKED[..8].to_owned()]
        );
        assert_eq!(
            stage(&f.store, &id, &responses[0].leaked).await,
            vec![Stage::Current]
        );
    }

    #[tokio::test]
    async fn rotate_only_keeps_the_old_value_through_its_grace_period() {
        let f = fixture("rotate");
        let id = f.store.insert(
            "ci",
            &[("rekey:policy", "key")],
            Some(SecretValue::new(LEAKED.into())),
        );

        let responses = f
            .engine
            .respond(&finding(Subject::Identifier(LEAKED[..8].into())))
            .await
            .expect("responds");

        assert!(!responses[0].revoked && responses[0].rotated.is_some() && !responses[0].retired);
        assert!(f.keys.0.lock().expect("lock").is_empty());
        assert_eq!(
            stage(&f.store, &id, &responses[0].leaked).await,
            vec![Stage::Previous]
        );
    }

    #[tokio::test]
    async fn findings_about_unmanaged_credentials_change_nothing() {
        let f = fixture("revoke-and-rotate");
        let id = f
            .store
            .insert("plain", &[], Some(SecretValue::new(LEAKED.into())));

        let by_value = f
            .engine
            .respond(&finding(Subject::Value(SecretValue::new(LEAKED.into()))))
            .await;
        let by_id = f
            .engine
            .respond(&finding(Subject::Credential(id.clone())))
            .await;
        let missing = CredentialId::new(Provider::Local, "nowhere");
        let by_missing = f
            .engine
            .respond(&finding(Subject::Credential(missing)))
            .await;

        for responses in [by_value, by_id, by_missing] {
            assert!(responses.expect("acknowledged").is_empty());
        }
        assert_eq!(
            f.store
                .describe(&id)
                .await
                .expect("describe")
                .versions
                .len(),
            1
        );
        assert!(f.audit.events().is_empty());
    }

    #[tokio::test]
    async fn anomaly_audit_lines_hold_no_secret() {
        let f = fixture("revoke-and-rotate");
        f.store.insert(
            "db",
            &[("rekey:policy", "secret")],
            Some(SecretValue::new(LEAKED.into())),
        );

        f.engine
            .respond(&finding(Subject::Value(SecretValue::new(LEAKED.into()))))
            .await
            .expect("responds");

        let lines = serde_json::to_string(&f.audit.events()).expect("json");
        assert!(
            lines.contains("revoke-and-rotate") && !lines.contains(LEAKED),
            "{lines}"
        );
    }
}
