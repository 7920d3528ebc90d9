//! IAM and STS on moto: users, access keys, roles and sessions for the
//! tests of the access key kind and of role session revocation.
//!
//! [`Moto::start_enforcing_iam`] starts a server that authenticates and
//! authorizes every request after the few that create an administrator,
//! and signs this value's clients as that administrator. moto then refuses
//! unknown and deleted keys, but still accepts an inactive one, and it
//! ignores IAM condition operators other than `StringEquals`.

use std::collections::BTreeMap;

use anyhow::Context as _;
use aws_config::SdkConfig;
use aws_sdk_iam::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_secretsmanager::config::{Credentials, SharedCredentialsProvider};
use rekey_aws::AccessKeyPair;
use rekey_core::{CredentialId, POLICY_TAG, SecretValue};
use serde_json::json;

use crate::Moto;

/// The administrator [`Moto::start_enforcing_iam`] creates.
pub const ADMIN_USER: &str = "rekey-admin";

/// The requests that create the administrator (`CreateUser`,
/// `PutUserPolicy`, `CreateAccessKey`): moto lets exactly these through
/// unauthenticated.
pub const ADMIN_SETUP_REQUESTS: usize = 3;

/// The account moto puts everything in.
pub const ACCOUNT: &str = "123456789012";

/// The temporary credentials of a role session.
#[derive(Clone, Debug)]
pub struct Session {
    /// The session's access key id (`ASIA…`).
    pub access_key_id: String,
    /// Its secret access key.
    pub secret_access_key: SecretValue,
    /// Its session token.
    pub session_token: String,
}

impl Moto {
    /// Starts a moto server that enforces IAM authentication after
    /// creating [`ADMIN_USER`] with every permission, and signs this
    /// value's clients and adapters with the administrator's key.
    pub async fn start_enforcing_iam() -> anyhow::Result<Self> {
        let count = ADMIN_SETUP_REQUESTS.to_string();
        let mut moto = Self::start_with_env(&[("INITIAL_NO_AUTH_ACTION_COUNT", &count)]).await?;

        moto.create_user(ADMIN_USER).await?;
        let allow_all = json!({
            "Version": "2012-10-17",
            "Statement": [{ "Effect": "Allow", "Action": "*", "Resource": "*" }]
        });
        moto.iam()
            .put_user_policy()
            .user_name(ADMIN_USER)
            .policy_name("everything")
            .policy_document(allow_all.to_string())
            .send()
            .await
            .context("failed to give the administrator every permission")?;
        let admin = moto.create_access_key(ADMIN_USER).await?;

        moto.sign_with(admin.access_key_id(), admin.secret_access_key().expose());
        Ok(moto)
    }

    /// An IAM client for this server.
    pub fn iam(&self) -> aws_sdk_iam::Client {
        aws_sdk_iam::Client::new(&self.sdk_config())
    }

    /// An STS client for this server.
    pub fn sts(&self) -> aws_sdk_sts::Client {
        aws_sdk_sts::Client::new(&self.sdk_config())
    }

    /// This server's SDK configuration, signing with these credentials.
    pub fn sdk_config_signing_with(
        &self,
        access_key_id: &str,
        secret_access_key: &SecretValue,
        session_token: Option<&str>,
    ) -> SdkConfig {
        let credentials = Credentials::new(
            access_key_id,
            secret_access_key.expose(),
            session_token.map(str::to_owned),
            None,
            "rekey-e2e-caller",
        );
        self.sdk_config()
            .to_builder()
            .credentials_provider(SharedCredentialsProvider::new(credentials))
            .build()
    }

    /// Clients of this server signing with `pair`.
    pub fn signing_with(&self, pair: &AccessKeyPair) -> (aws_sdk_iam::Client, aws_sdk_sts::Client) {
        let config =
            self.sdk_config_signing_with(pair.access_key_id(), pair.secret_access_key(), None);
        (
            aws_sdk_iam::Client::new(&config),
            aws_sdk_sts::Client::new(&config),
        )
    }

    /// Clients of this server signing as `session`.
    pub fn signing_as(&self, session: &Session) -> (aws_sdk_iam::Client, aws_sdk_sts::Client) {
        let config = self.sdk_config_signing_with(
            &session.access_key_id,
            &session.secret_access_key,
            Some(&session.session_token),
        );
        (
            aws_sdk_iam::Client::new(&config),
            aws_sdk_sts::Client::new(&config),
        )
    }

    /// Creates IAM user `name`.
    pub async fn create_user(&self, name: &str) -> anyhow::Result<()> {
        self.iam()
            .create_user()
            .user_name(name)
            .send()
            .await
            .with_context(|| format!("failed to create IAM user {name}"))?;
        Ok(())
    }

    /// Creates an access key for `user`, as a person would (no rekey mark).
    pub async fn create_access_key(&self, user: &str) -> anyhow::Result<AccessKeyPair> {
        let created = self
            .iam()
            .create_access_key()
            .user_name(user)
            .send()
            .await
            .with_context(|| format!("failed to create an access key for {user}"))?;
        let key = created
            .access_key
            .context("CreateAccessKey answered no key")?;
        Ok(AccessKeyPair::new(
            key.access_key_id,
            SecretValue::new(key.secret_access_key),
        ))
    }

    /// The access keys of `user`: id to status (`Active`, `Inactive`).
    pub async fn access_keys(&self, user: &str) -> anyhow::Result<BTreeMap<String, String>> {
        let listed = self
            .iam()
            .list_access_keys()
            .user_name(user)
            .send()
            .await
            .with_context(|| format!("failed to list the access keys of {user}"))?;
        Ok(listed
            .access_key_metadata()
            .iter()
            .filter_map(|k| {
                let status = k.status()?.as_str().to_owned();
                Some((k.access_key_id()?.to_owned(), status))
            })
            .collect())
    }

    /// The tags of IAM user `user`: key to value.
    pub async fn user_tags(&self, user: &str) -> anyhow::Result<BTreeMap<String, String>> {
        let listed = self
            .iam()
            .list_user_tags()
            .user_name(user)
            .send()
            .await
            .with_context(|| format!("failed to list the tags of {user}"))?;
        Ok(listed
            .tags()
            .iter()
            .map(|t| (t.key().to_owned(), t.value().to_owned()))
            .collect())
    }

    /// Creates secret `name` under `policy` holding `pair` for IAM user
    /// `user` (tags `rekey:policy` and `rekey:iam-user`), rotation enabled.
    pub async fn create_access_key_secret(
        &self,
        name: &str,
        policy: &str,
        user: &str,
        pair: &AccessKeyPair,
    ) -> anyhow::Result<CredentialId> {
        let tags = [
            (POLICY_TAG, policy),
            (rekey_aws::iam_access_key::IAM_USER_TAG, user),
        ];
        self.create_secret(name, &tags, pair.to_value().expose())
            .await
    }

    /// The access key pair secret `id` holds as current. Asks for the
    /// `AWSCURRENT` stage by name: moto does not move the version a plain
    /// `GetSecretValue` answers when `UpdateSecretVersionStage` moves
    /// `AWSCURRENT`, so without it moto keeps answering the first value.
    pub async fn current_pair(&self, id: &CredentialId) -> anyhow::Result<AccessKeyPair> {
        let value = self
            .secrets_manager()
            .get_secret_value()
            .secret_id(&id.locator)
            .version_stage("AWSCURRENT")
            .send()
            .await
            .with_context(|| format!("failed to read the current value of {id}"))?
            .secret_string
            .context("the secret holds no string")?;
        Ok(AccessKeyPair::parse(&SecretValue::new(value))?)
    }

    /// Creates role `name` with `tags`, which `trusted` (a principal ARN)
    /// may assume and whose sessions may call `allowed` (IAM actions).
    /// Answers its ARN.
    pub async fn create_role(
        &self,
        name: &str,
        tags: &[(&str, &str)],
        trusted: &str,
        allowed: &[&str],
    ) -> anyhow::Result<String> {
        let trust = json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Effect": "Allow",
                "Principal": { "AWS": trusted },
                "Action": "sts:AssumeRole"
            }]
        });
        let tags = tags.iter().map(|(k, v)| {
            aws_sdk_iam::types::Tag::builder()
                .key(*k)
                .value(*v)
                .build()
                .context("a tag has a key and a value")
        });
        let created = self
            .iam()
            .create_role()
            .role_name(name)
            .assume_role_policy_document(trust.to_string())
            .set_tags(Some(tags.collect::<anyhow::Result<_>>()?))
            .send()
            .await
            .with_context(|| format!("failed to create role {name}"))?;

        let permissions = json!({
            "Version": "2012-10-17",
            "Statement": [{ "Effect": "Allow", "Action": allowed, "Resource": "*" }]
        });
        self.iam()
            .put_role_policy()
            .role_name(name)
            .policy_name("work")
            .policy_document(permissions.to_string())
            .send()
            .await
            .with_context(|| format!("failed to give role {name} its permissions"))?;
        Ok(created
            .role()
            .context("CreateRole answered no role")?
            .arn()
            .to_owned())
    }

    /// Assumes role `arn` with this value's credentials.
    pub async fn assume_role(&self, arn: &str, session: &str) -> anyhow::Result<Session> {
        let assumed = self
            .sts()
            .assume_role()
            .role_arn(arn)
            .role_session_name(session)
            .send()
            .await
            .with_context(|| format!("failed to assume role {arn}"))?;
        let credentials = assumed
            .credentials
            .context("AssumeRole answered no credentials")?;
        Ok(Session {
            access_key_id: credentials.access_key_id,
            secret_access_key: SecretValue::new(credentials.secret_access_key),
            session_token: credentials.session_token,
        })
    }

    /// The inline policy `policy` of role `role`, decoded, or `None`.
    pub async fn role_policy(
        &self,
        role: &str,
        policy: &str,
    ) -> anyhow::Result<Option<serde_json::Value>> {
        let answer = self
            .iam()
            .get_role_policy()
            .role_name(role)
            .policy_name(policy)
            .send()
            .await;
        let output = match answer {
            Ok(output) => output,
            Err(e) if e.code() == Some("NoSuchEntity") => return Ok(None),
            Err(e) => return Err(e).with_context(|| format!("failed to get {policy} of {role}")),
        };
        let document = url_decode(output.policy_document())?;
        Ok(Some(serde_json::from_str(&document)?))
    }

    /// The names of the inline policies of role `role`.
    pub async fn role_policy_names(&self, role: &str) -> anyhow::Result<Vec<String>> {
        let listed = self
            .iam()
            .list_role_policies()
            .role_name(role)
            .send()
            .await
            .with_context(|| format!("failed to list the policies of {role}"))?;
        Ok(listed.policy_names().to_vec())
    }
}

/// The error code of a failed call. moto words its authentication and
/// authorization refusals as `<ErrorResponse><Errors><Error>`, one level
/// deeper than IAM and STS do, so the SDK finds no code in them; the code
/// is then read from the body.
pub fn error_code<E: ProvideErrorMetadata>(error: &SdkError<E>) -> Option<String> {
    if let Some(code) = error.code() {
        return Some(code.to_owned());
    }
    let body = error.raw_response()?.body().bytes()?;
    let body = std::str::from_utf8(body).ok()?;
    let (_, rest) = body.split_once("<Code>")?;
    let (code, _) = rest.split_once("</Code>")?;
    Some(code.to_owned())
}

/// The ARN of IAM user `name` in moto's account.
pub fn user_arn(name: &str) -> String {
    format!("arn:aws:iam::{ACCOUNT}:user/{name}")
}

/// Decodes the `%XX` escapes IAM puts in policy documents.
fn url_decode(text: &str) -> anyhow::Result<String> {
    let mut bytes = Vec::with_capacity(text.len());
    let mut rest = text.as_bytes();
    while let Some((&byte, tail)) = rest.split_first() {
        if byte == b'%' {
            let hex = tail.get(..2).context("a cut-off escape")?;
            bytes.push(u8::from_str_radix(std::str::from_utf8(hex)?, 16)?);
            rest = &tail[2..];
        } else {
            bytes.push(byte);
            rest = tail;
        }
    }
    Ok(String::from_utf8(bytes)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_decode_and_plain_text_stays() {
        assert_eq!(
            url_decode("%7B%22a%22%3A1%7D").expect("decodes"),
            r#"{"a":1}"#
        );
        assert_eq!(url_decode("plain").expect("decodes"), "plain");
        assert!(url_decode("%7").is_err());
    }
}
