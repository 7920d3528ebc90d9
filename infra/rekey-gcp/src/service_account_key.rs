//! GCP service-account keys as a credential kind. The managed credential
//! is a Secret Manager secret (policy `kind = "gcp-service-account-key"`)
//! whose annotation `rekey-service-account` names the service account and
//! whose value is the JSON key file consumers load.
//!
//! IAM makes the new key within its limit of ten user-managed keys per
//! account (at the limit, the previous value's key is deleted early and the
//! call tried once more); `GetServiceAccountKey` shows it enabled and valid
//! before it is promoted; the old key is disabled once the new one is
//! current and deleted when its grace period ends; a leaked key is
//! disabled at once.
//!
//! The secret's annotation `rekey-key-in-flight` records each key rekey
//! creates before `create` returns. A retry after a run that died before
//! the secret held the value finds that record and deletes the orphan,
//! unless it is the current or previous key. rekey never touches a key
//! its records do not name. Limit: a run that dies between
//! `CreateServiceAccountKey` and writing the record leaves a key nobody
//! names, which rekey never deletes (a person must).

use std::time::Duration;

use async_trait::async_trait;
use google_cloud_iam_admin_v1::client::Iam;
use google_cloud_iam_admin_v1::model::{ServiceAccountKey, ServiceAccountPrivateKeyType};
use rekey_core::{
    Credential, CredentialKind, KindError, Policy, Revocation, SecretValue, StoreError, Values,
};
use time::OffsetDateTime;

use crate::error::GcpError;
use crate::metadata::KEY_IN_FLIGHT_ANNOTATION;
use crate::{GcpClients, SecretManagerStore};

mod key_file;

pub use key_file::KeyFile;

/// The kind's name in policies (`kind = "gcp-service-account-key"`).
pub const GCP_SERVICE_ACCOUNT_KEY: &str = "gcp-service-account-key";

/// The tag (annotation `rekey-service-account`) naming the service account.
pub const SERVICE_ACCOUNT_TAG: &str = "rekey:service-account";

/// How many times a new key is looked at by default before its test fails.
pub const DEFAULT_TEST_ATTEMPTS: u32 = 10;

/// How long to wait between two looks by default.
pub const DEFAULT_TEST_DELAY: Duration = Duration::from_secs(1);

/// The [`CredentialKind`] of service-account keys held in a secret;
/// register it under [`GCP_SERVICE_ACCOUNT_KEY`].
#[derive(Clone, Debug)]
pub struct ServiceAccountKeys {
    iam: Iam,
    /// Where the in-flight record is kept.
    store: SecretManagerStore,
    test_attempts: u32,
    test_delay: Duration,
}

impl ServiceAccountKeys {
    /// The kind, looking at a new key [`DEFAULT_TEST_ATTEMPTS`] times,
    /// [`DEFAULT_TEST_DELAY`] apart.
    pub fn new(clients: &GcpClients) -> Self {
        Self {
            iam: clients.iam.clone(),
            store: SecretManagerStore::new(clients, Vec::new()),
            test_attempts: DEFAULT_TEST_ATTEMPTS,
            test_delay: DEFAULT_TEST_DELAY,
        }
    }

    /// Looks at a new key at most `attempts` times (at least once), `delay`
    /// apart, before its test fails.
    pub fn with_test_retries(mut self, attempts: u32, delay: Duration) -> Self {
        self.test_attempts = attempts.max(1);
        self.test_delay = delay;
        self
    }

    /// The key rekey last created for `credential`, if it recorded one.
    async fn in_flight(&self, credential: &Credential) -> Result<Option<String>, KindError> {
        let secret = self
            .store
            .get_secret(&credential.id)
            .await
            .map_err(store_error)?;
        Ok(secret.annotations.get(KEY_IN_FLIGHT_ANNOTATION).cloned())
    }

    async fn create_key(&self, account: &str) -> Result<KeyFile, GcpError> {
        let key = self
            .iam
            .create_service_account_key()
            .set_name(account_name(account))
            .set_private_key_type(ServiceAccountPrivateKeyType::TypeGoogleCredentialsFile)
            .send()
            .await
            .map_err(|e| GcpError::of(&format!("create a key for {account}"), &e))?;
        match KeyFile::from_private_key_data(&key.private_key_data) {
            Ok(file) => Ok(file),
            Err(error) => {
                // A key rekey cannot hold would sit unrecorded: take it back.
                let id = key.name.rsplit('/').next().unwrap_or_default();
                let deleted = self.delete_key(account, id).await;
                let cleanup = if deleted.is_ok() {
                    "deleted"
                } else {
                    "left: delete it by hand"
                };
                Err(GcpError::Other(format!(
                    "{error}; the new key {id} was {cleanup}"
                )))
            }
        }
    }

    /// Creates a key, deleting `previous` first when the account is at its limit.
    async fn create_making_room(
        &self,
        account: &str,
        previous: Option<&str>,
    ) -> Result<KeyFile, KindError> {
        match (self.create_key(account).await, previous) {
            (Ok(file), _) => Ok(file),
            (Err(error), Some(previous)) if is_key_limit(&error) => {
                tracing::debug!(
                    account,
                    key = previous,
                    "at the key limit, deleting the previous key early"
                );
                self.delete_key(account, previous).await?;
                self.create_key(account)
                    .await
                    .map_err(|e| limit_or(account, e))
            }
            (Err(error), _) => Err(limit_or(account, error)),
        }
    }

    async fn get_key(&self, account: &str, id: &str) -> Result<ServiceAccountKey, GcpError> {
        self.iam
            .get_service_account_key()
            .set_name(key_name(account, id))
            .send()
            .await
            .map_err(|e| GcpError::of(&format!("get key {id} of {account}"), &e))
    }

    /// Deletes key `id`; a key already gone is fine.
    async fn delete_key(&self, account: &str, id: &str) -> Result<(), KindError> {
        let result = self
            .iam
            .delete_service_account_key()
            .set_name(key_name(account, id))
            .send()
            .await;
        gone_is_fine(result.map(drop), &format!("delete key {id} of {account}"))?;
        tracing::debug!(account, key = id, "deleted a service-account key");
        Ok(())
    }

    /// Disables key `id`; a key already disabled or gone is fine.
    async fn disable_key(&self, account: &str, id: &str) -> Result<(), KindError> {
        let result = self
            .iam
            .disable_service_account_key()
            .set_name(key_name(account, id))
            .send()
            .await;
        gone_is_fine(result.map(drop), &format!("disable key {id} of {account}"))?;
        tracing::debug!(account, key = id, "disabled a service-account key");
        Ok(())
    }

    /// Records `id` as in flight; when that fails the new key is deleted
    /// again, so it never sits unrecorded.
    async fn record(
        &self,
        credential: &Credential,
        account: &str,
        id: &str,
    ) -> Result<(), KindError> {
        let recorded = self
            .store
            .annotate(&credential.id, KEY_IN_FLIGHT_ANNOTATION, Some(id))
            .await;
        let Err(error) = recorded else {
            return Ok(());
        };
        Err(match self.delete_key(account, id).await {
            Ok(()) => store_error(error),
            Err(undeleted) => KindError::Rejected(format!(
                "{error}; deleting the unrecorded key {id} failed too, so rekey will not \
                 manage it: delete it by hand ({undeleted})"
            )),
        })
    }
}

#[async_trait]
impl CredentialKind for ServiceAccountKeys {
    /// Deletes the orphan of a dead run, creates a key (making room within
    /// the limit) and records it as in flight.
    async fn create(
        &self,
        credential: &Credential,
        _policy: &Policy,
        values: &Values,
    ) -> Result<SecretValue, KindError> {
        let account = account_of(credential)?;
        let current = key_id_of(values.current.as_ref())?;
        let previous = key_id_of(values.previous.as_ref())?;
        let in_flight = self.in_flight(credential).await?;

        let held = [current.as_deref(), previous.as_deref()];
        if let Some(orphan) = in_flight.filter(|k| !held.contains(&Some(k.as_str()))) {
            tracing::debug!(account, key = %orphan, "deleting the key of a run that died");
            self.delete_key(account, &orphan).await?;
        }
        let file = self
            .create_making_room(account, previous.as_deref())
            .await?;
        self.record(credential, account, file.private_key_id())
            .await?;
        tracing::debug!(
            account,
            key = file.private_key_id(),
            "created a service-account key"
        );
        Ok(file.value().clone())
    }

    /// Checks the key file names the account, then that IAM shows the key
    /// enabled and valid now, looking again while it propagates.
    async fn test(
        &self,
        credential: &Credential,
        _policy: &Policy,
        pending: &SecretValue,
    ) -> Result<(), KindError> {
        let account = account_of(credential)?;
        let file = KeyFile::parse(pending)?;
        let id = file.private_key_id();
        if file.client_email() != account {
            return Err(KindError::TestFailed(format!(
                "key {id} belongs to {}, not to {account}",
                file.client_email()
            )));
        }

        let mut last = String::new();
        for attempt in 1..=self.test_attempts {
            match self.get_key(account, id).await {
                Ok(key) => match unusable(&key, id, OffsetDateTime::now_utc()) {
                    None => return Ok(()),
                    Some(reason) => last = reason.to_owned(),
                },
                Err(error) => last = error.to_string(),
            }
            if attempt < self.test_attempts {
                tokio::time::sleep(self.test_delay).await;
            }
        }
        Err(KindError::TestFailed(format!(
            "key {id} of {account} was not usable after {} looks: {last}",
            self.test_attempts
        )))
    }

    /// Disables the key that stopped being current.
    async fn demote(
        &self,
        credential: &Credential,
        _policy: &Policy,
        previous: &SecretValue,
    ) -> Result<(), KindError> {
        let account = account_of(credential)?;
        self.disable_key(account, KeyFile::parse(previous)?.private_key_id())
            .await
    }

    /// Deletes the previous key.
    async fn retire(
        &self,
        credential: &Credential,
        _policy: &Policy,
        previous: &SecretValue,
    ) -> Result<(), KindError> {
        let account = account_of(credential)?;
        self.delete_key(account, KeyFile::parse(previous)?.private_key_id())
            .await
    }

    /// Disables the key now.
    async fn revoke(
        &self,
        credential: &Credential,
        _policy: &Policy,
        value: &SecretValue,
    ) -> Result<Revocation, KindError> {
        let account = account_of(credential)?;
        self.disable_key(account, KeyFile::parse(value)?.private_key_id())
            .await?;
        Ok(Revocation::Unusable)
    }

    /// The key file's `private_key_id`.
    fn identifier(&self, value: &SecretValue) -> Option<String> {
        KeyFile::parse(value)
            .ok()
            .map(|f| f.private_key_id().to_owned())
    }
}

/// The service account named by the credential's [`SERVICE_ACCOUNT_TAG`].
fn account_of(credential: &Credential) -> Result<&str, KindError> {
    match credential.tags.get(SERVICE_ACCOUNT_TAG) {
        Some(account) if account.contains('@') => Ok(account),
        _ => Err(KindError::Misconfigured(format!(
            "{} has no annotation `rekey-service-account` naming the service account \
             whose key it holds",
            credential.id
        ))),
    }
}

fn account_name(account: &str) -> String {
    format!("projects/-/serviceAccounts/{account}")
}

fn key_name(account: &str, id: &str) -> String {
    format!("projects/-/serviceAccounts/{account}/keys/{id}")
}

/// The key id held by `value`, if there is a value.
fn key_id_of(value: Option<&SecretValue>) -> Result<Option<String>, KindError> {
    value
        .map(|v| KeyFile::parse(v).map(|f| f.private_key_id().to_owned()))
        .transpose()
}

/// Why `key` cannot sign now, or `None` when it can.
fn unusable(key: &ServiceAccountKey, id: &str, now: OffsetDateTime) -> Option<&'static str> {
    let seconds = now.unix_timestamp();
    if key.name.rsplit('/').next() != Some(id) {
        return Some("IAM answered a different key");
    }
    if key.disabled {
        return Some("the key is disabled");
    }
    if key
        .valid_after_time
        .as_ref()
        .is_some_and(|t| t.seconds() > seconds)
    {
        return Some("the key is not valid yet");
    }
    if key
        .valid_before_time
        .as_ref()
        .is_some_and(|t| t.seconds() <= seconds)
    {
        return Some("the key has expired");
    }
    None
}

/// Whether a failed create means the account holds all the keys IAM
/// allows: `FAILED_PRECONDITION` ("Precondition check failed."), or the
/// `RESOURCE_EXHAUSTED` "Maximum number of keys on account reached." that
/// IAM answered before.
fn is_key_limit(error: &GcpError) -> bool {
    match error {
        GcpError::Precondition(_) => true,
        GcpError::Unavailable(message) => message.contains("Maximum number of keys"),
        _ => false,
    }
}

/// A failed create: at the limit is `LimitReached`, the rest as sorted.
fn limit_or(account: &str, error: GcpError) -> KindError {
    if is_key_limit(&error) {
        return KindError::LimitReached(format!(
            "{account} already holds the most user-managed keys IAM allows (10), \
             none of them rekey's previous key"
        ));
    }
    error.into()
}

fn store_error(error: StoreError) -> KindError {
    match error {
        StoreError::Unavailable(description) => KindError::Unavailable(description),
        other => KindError::Rejected(other.to_string()),
    }
}

/// Success, or a failure because the key is already gone.
fn gone_is_fine(
    result: Result<(), google_cloud_gax::error::Error>,
    operation: &str,
) -> Result<(), KindError> {
    match result {
        Ok(()) => Ok(()),
        Err(error) => match GcpError::of(operation, &error) {
            GcpError::NotFound(_) => Ok(()),
            other => Err(other.into()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_answers_iam_gives_at_the_key_limit_are_the_limit() {
        let precondition =
            GcpError::Precondition("FAILED_PRECONDITION: Precondition check failed.".into());
        let exhausted = GcpError::Unavailable(
            "RESOURCE_EXHAUSTED: Maximum number of keys on account reached.".into(),
        );
        let throttled = GcpError::Unavailable("RESOURCE_EXHAUSTED: Quota exceeded".into());

        assert!(is_key_limit(&precondition) && is_key_limit(&exhausted));
        assert!(!is_key_limit(&throttled));
        assert!(matches!(
            limit_or("a@p", exhausted),
            KindError::LimitReached(_)
        ));
        assert!(matches!(
            limit_or("a@p", throttled),
            KindError::Unavailable(_)
        ));
    }

    #[test]
    fn the_service_account_tag_is_an_attribute_not_a_policy_override() {
        assert!(rekey_core::ATTRIBUTE_TAGS.contains(&SERVICE_ACCOUNT_TAG));
    }
}
