//! IAM access keys as a credential kind. The managed credential is a
//! Secrets Manager secret whose value is the key pair
//! (`{"AccessKeyId": "…", "SecretAccessKey": "…"}`), read by the
//! applications that sign with it, and whose tag `rekey:iam-user` names
//! the IAM user the key belongs to.
//!
//! IAM makes the new key, inside its limit of two keys per user; STS tests
//! it (`GetCallerIdentity` signed with the new key must name the user); the
//! old key is deactivated once the new one is current and deleted when its
//! grace period ends; a leaked key is deactivated at once.
//!
//! Every key rekey creates is marked with a tag on its user whose key is
//! the access key id and whose value is `rekey` (the IAM console keeps
//! access key descriptions the same way). The mark lets a retry recognise a
//! key made by a run that died before the secret held it, and delete it.
//! Limits: one secret per IAM user (two would take each other's slots),
//! and a run that dies between `CreateAccessKey` and `TagUser` leaves an
//! unmarked key that rekey never touches: the next rotation then fails
//! with `LimitReached` naming it, for a person to delete.

use std::collections::BTreeSet;
use std::time::Duration;

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_iam::Client;
use aws_sdk_iam::error::{ProvideErrorMetadata as _, SdkError};
use aws_sdk_iam::types::{StatusType, Tag};
use aws_sdk_sts::config::Credentials;
use rekey_core::{Credential, CredentialKind, KindError, Policy, Revocation, SecretValue, Values};

use crate::error::AwsError;

mod pair;
mod room;

pub use pair::AccessKeyPair;
use room::{Held, is_access_key_id, make_room};

/// The kind's name in policies (`kind = "iam-access-key"`).
pub const IAM_ACCESS_KEY: &str = "iam-access-key";

/// The secret's tag naming the IAM user whose access key it holds.
pub const IAM_USER_TAG: &str = "rekey:iam-user";

/// The value of the user tag that marks a key rekey created; the tag's key
/// is the access key id.
pub const CREATED_BY_REKEY: &str = "rekey";

/// How many times [`IamAccessKeys`] tries a new key by default: a new key
/// can take seconds to work everywhere.
pub const DEFAULT_TEST_ATTEMPTS: u32 = 10;

/// How long [`IamAccessKeys`] waits between two tries by default.
pub const DEFAULT_TEST_DELAY: Duration = Duration::from_secs(1);

/// The [`CredentialKind`] of IAM access keys held in a secret; register it
/// under [`IAM_ACCESS_KEY`].
#[derive(Clone, Debug)]
pub struct IamAccessKeys {
    iam: Client,
    /// STS clients signing with a new key are built from it.
    config: SdkConfig,
    test_attempts: u32,
    test_delay: Duration,
}

impl IamAccessKeys {
    /// The kind, talking to IAM and STS as `config` says (region,
    /// credentials, endpoint), trying a new key [`DEFAULT_TEST_ATTEMPTS`]
    /// times, [`DEFAULT_TEST_DELAY`] apart.
    pub fn new(config: &SdkConfig) -> Self {
        Self {
            iam: Client::new(config),
            config: config.clone(),
            test_attempts: DEFAULT_TEST_ATTEMPTS,
            test_delay: DEFAULT_TEST_DELAY,
        }
    }

    /// Tries a new key at most `attempts` times (at least once), `delay`
    /// apart, before its test fails.
    pub fn with_test_retries(mut self, attempts: u32, delay: Duration) -> Self {
        self.test_attempts = attempts.max(1);
        self.test_delay = delay;
        self
    }

    /// The user's access key ids, all pages.
    async fn list_keys(&self, user: &str) -> Result<Vec<String>, KindError> {
        let mut pages = self
            .iam
            .list_access_keys()
            .user_name(user)
            .into_paginator()
            .send();
        let mut keys = Vec::new();
        while let Some(page) = pages.next().await {
            let page =
                page.map_err(|e| iam_error(&format!("list access keys of IAM user {user}"), &e))?;
            let ids = page.access_key_metadata().iter();
            keys.extend(ids.filter_map(|k| k.access_key_id().map(str::to_owned)));
        }
        Ok(keys)
    }

    /// The ids of the keys rekey marked as its own on `user`.
    async fn marked_keys(&self, user: &str) -> Result<BTreeSet<String>, KindError> {
        let mut pages = self
            .iam
            .list_user_tags()
            .user_name(user)
            .into_paginator()
            .send();
        let mut marked = BTreeSet::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| iam_error(&format!("list tags of IAM user {user}"), &e))?;
            let marks = page
                .tags()
                .iter()
                .filter(|t| t.value() == CREATED_BY_REKEY && is_access_key_id(t.key()));
            marked.extend(marks.map(|t| t.key().to_owned()));
        }
        Ok(marked)
    }

    /// Creates a key for `user` and marks it as rekey's. A key that cannot
    /// be marked is deleted again, so it never sits unmarked.
    async fn create_key(&self, user: &str) -> Result<AccessKeyPair, KindError> {
        let created = self
            .iam
            .create_access_key()
            .user_name(user)
            .send()
            .await
            .map_err(|e| match e.code() {
                Some("LimitExceeded") => {
                    KindError::LimitReached(format!("IAM user {user} already has two access keys"))
                }
                _ => iam_error(&format!("create an access key for IAM user {user}"), &e),
            })?;
        let key = created.access_key.ok_or_else(|| {
            KindError::Rejected(format!(
                "CreateAccessKey for IAM user {user} answered no key"
            ))
        })?;
        let pair = AccessKeyPair::new(key.access_key_id, SecretValue::new(key.secret_access_key));

        if let Err(error) = self.mark(user, pair.access_key_id()).await {
            let id = pair.access_key_id();
            return Err(match self.delete_key(user, id).await {
                Ok(()) => error,
                Err(undeleted) => KindError::Rejected(format!(
                    "{error}; deleting the unmarked key {id} failed too, so rekey will not \
                     manage it: delete it by hand ({undeleted})"
                )),
            });
        }
        tracing::debug!(user, key = pair.access_key_id(), "created an access key");
        Ok(pair)
    }

    /// Tags `user` with the mark of key `id`.
    async fn mark(&self, user: &str, id: &str) -> Result<(), KindError> {
        let tag = Tag::builder()
            .key(id)
            .value(CREATED_BY_REKEY)
            .build()
            .map_err(|e| KindError::Rejected(format!("failed to build the mark of {id}: {e}")))?;
        self.iam
            .tag_user()
            .user_name(user)
            .tags(tag)
            .send()
            .await
            .map_err(|e| iam_error(&format!("mark access key {id} of IAM user {user}"), &e))?;
        Ok(())
    }

    /// Removes the marks of `ids` from `user`.
    async fn unmark(&self, user: &str, ids: &[String]) -> Result<(), KindError> {
        if ids.is_empty() {
            return Ok(());
        }
        self.iam
            .untag_user()
            .user_name(user)
            .set_tag_keys(Some(ids.to_vec()))
            .send()
            .await
            .map_err(|e| iam_error(&format!("remove access key marks from IAM user {user}"), &e))?;
        Ok(())
    }

    /// Deletes key `id` of `user`; a key already gone is fine.
    async fn delete_key(&self, user: &str, id: &str) -> Result<(), KindError> {
        let result = self
            .iam
            .delete_access_key()
            .user_name(user)
            .access_key_id(id)
            .send()
            .await;
        gone_is_fine(
            result,
            &format!("delete access key {id} of IAM user {user}"),
        )?;
        tracing::debug!(user, key = id, "deleted an access key");
        Ok(())
    }

    /// Deactivates key `id` of `user`; a key already inactive or gone is fine.
    async fn deactivate(&self, user: &str, id: &str) -> Result<(), KindError> {
        let result = self
            .iam
            .update_access_key()
            .user_name(user)
            .access_key_id(id)
            .status(StatusType::Inactive)
            .send()
            .await;
        gone_is_fine(
            result,
            &format!("deactivate access key {id} of IAM user {user}"),
        )?;
        tracing::debug!(user, key = id, "deactivated an access key");
        Ok(())
    }

    /// An STS client that signs with `pair`, otherwise configured as IAM is.
    fn sts_signing_with(&self, pair: &AccessKeyPair) -> aws_sdk_sts::Client {
        let credentials = Credentials::new(
            pair.access_key_id(),
            pair.secret_access_key().expose(),
            None,
            None,
            "rekey-new-access-key",
        );
        let config = aws_sdk_sts::config::Builder::from(&self.config)
            .credentials_provider(credentials)
            .build();
        aws_sdk_sts::Client::from_conf(config)
    }
}

#[async_trait]
impl CredentialKind for IamAccessKeys {
    /// Makes room within IAM's two keys (deleting keys of dead runs, then
    /// the previous key if needed), creates a key and marks it as rekey's.
    async fn create(
        &self,
        credential: &Credential,
        _policy: &Policy,
        values: &Values,
    ) -> Result<SecretValue, KindError> {
        let user = user_of(credential)?;
        let current = key_id_of(values.current.as_ref())?;
        let previous = key_id_of(values.previous.as_ref())?;
        let keys = self.list_keys(user).await?;
        let marked = self.marked_keys(user).await?;

        let held = Held {
            current: current.as_deref(),
            previous: previous.as_deref(),
        };
        let room = make_room(user, &keys, &marked, held)?;
        for id in &room.delete {
            self.delete_key(user, id).await?;
        }
        self.unmark(user, &room.unmark).await?;

        Ok(self.create_key(user).await?.to_value())
    }

    /// Signs `GetCallerIdentity` with the new key until STS names the user,
    /// at most the configured number of times.
    async fn test(
        &self,
        credential: &Credential,
        _policy: &Policy,
        pending: &SecretValue,
    ) -> Result<(), KindError> {
        let user = user_of(credential)?;
        let pair = AccessKeyPair::parse(pending)?;
        let id = pair.access_key_id();
        let sts = self.sts_signing_with(&pair);

        let mut last_error = String::new();
        for attempt in 1..=self.test_attempts {
            match sts.get_caller_identity().send().await {
                Ok(identity) => {
                    let arn = identity.arn().unwrap_or_default();
                    if !names_user(arn, user) {
                        return Err(KindError::TestFailed(format!(
                            "access key {id} signs as {arn}, not as IAM user {user}"
                        )));
                    }
                    tracing::debug!(user, key = id, attempt, "the new access key works");
                    return Ok(());
                }
                Err(e) => {
                    let operation = format!("get the caller identity of access key {id}");
                    last_error = AwsError::of(&operation, &e).to_string();
                }
            }
            if attempt < self.test_attempts {
                tokio::time::sleep(self.test_delay).await;
            }
        }
        Err(KindError::TestFailed(format!(
            "access key {id} of IAM user {user} did not work after {} attempts: {last_error}",
            self.test_attempts
        )))
    }

    /// Deactivates the key that stopped being current.
    async fn demote(
        &self,
        credential: &Credential,
        _policy: &Policy,
        previous: &SecretValue,
    ) -> Result<(), KindError> {
        let user = user_of(credential)?;
        let pair = AccessKeyPair::parse(previous)?;
        self.deactivate(user, pair.access_key_id()).await
    }

    /// Deletes the previous key and its mark.
    async fn retire(
        &self,
        credential: &Credential,
        _policy: &Policy,
        previous: &SecretValue,
    ) -> Result<(), KindError> {
        let user = user_of(credential)?;
        let id = AccessKeyPair::parse(previous)?.access_key_id().to_owned();
        self.delete_key(user, &id).await?;
        self.unmark(user, &[id]).await
    }

    /// Deactivates the key now.
    async fn revoke(
        &self,
        credential: &Credential,
        _policy: &Policy,
        value: &SecretValue,
    ) -> Result<Revocation, KindError> {
        let user = user_of(credential)?;
        let pair = AccessKeyPair::parse(value)?;
        self.deactivate(user, pair.access_key_id()).await?;
        Ok(Revocation::Unusable)
    }

    /// The access key id.
    fn identifier(&self, value: &SecretValue) -> Option<String> {
        AccessKeyPair::parse(value)
            .ok()
            .map(|pair| pair.access_key_id().to_owned())
    }
}

/// The IAM user named by the credential's [`IAM_USER_TAG`].
fn user_of(credential: &Credential) -> Result<&str, KindError> {
    match credential.tags.get(IAM_USER_TAG) {
        Some(user) if !user.is_empty() => Ok(user),
        _ => Err(KindError::Misconfigured(format!(
            "{} has no `{IAM_USER_TAG}` tag naming the IAM user whose access key it holds",
            credential.id
        ))),
    }
}

/// The access key id held by `value`, if there is a value.
fn key_id_of(value: Option<&SecretValue>) -> Result<Option<String>, KindError> {
    value
        .map(|v| AccessKeyPair::parse(v).map(|pair| pair.access_key_id().to_owned()))
        .transpose()
}

/// Whether `arn` is the ARN of IAM user `user` (any path).
fn names_user(arn: &str, user: &str) -> bool {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [_, _, service, _, _, resource] = parts.as_slice() else {
        return false;
    };
    *service == "iam" && resource.starts_with("user/") && resource.rsplit('/').next() == Some(user)
}

/// Sorts an IAM failure into the kind's error.
fn iam_error<E, R>(operation: &str, error: &SdkError<E, R>) -> KindError
where
    E: aws_sdk_iam::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    AwsError::of(operation, error).into()
}

/// Success, or a failure because the key (or its user) is already gone.
fn gone_is_fine<T, E, R>(
    result: Result<T, SdkError<E, R>>,
    operation: &str,
) -> Result<(), KindError>
where
    E: aws_sdk_iam::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match result {
        Ok(_) => Ok(()),
        Err(error) => match AwsError::of(operation, &error) {
            AwsError::NotFound(_) => Ok(()),
            other => Err(other.into()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(json: &str) -> SecretValue {
        SecretValue::new(json.to_owned())
    }

    #[test]
    fn the_identifier_is_the_access_key_id() {
        let kind = IamAccessKeys::new(&SdkConfig::builder().build());
        let pair = AccessKeyPair::new("AKIAEXAMPLE000000000", value("s3cr3t"));

        assert_eq!(
            kind.identifier(&pair.to_value()).as_deref(),
            Some("AKIAEXAMPLE000000000")
        );
        assert_eq!(kind.identifier(&value("hunter2")), None);
    }

    #[test]
    fn the_user_tag_is_an_attribute_not_a_policy_override() {
        assert!(rekey_core::ATTRIBUTE_TAGS.contains(&IAM_USER_TAG));
    }
    #[test]
    fn only_the_users_own_arn_names_the_user() {
        assert!(names_user("arn:aws:iam::123456789012:user/app", "app"));
        assert!(names_user("arn:aws:iam::123456789012:user/team/app", "app"));
        assert!(!names_user("arn:aws:iam::123456789012:user/app2", "app"));
        assert!(!names_user("arn:aws:sts::123456789012:user/moto", "app"));
        assert!(!names_user(
            "arn:aws:sts::123456789012:assumed-role/app/s",
            "app"
        ));
        assert!(!names_user("app", "app"));
    }
}
