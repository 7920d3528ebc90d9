//! Role sessions: ending the temporary credentials of an IAM role.
//!
//! STS sessions cannot be deleted. [`IamRoleSessions`] does what the IAM
//! console's "Revoke active sessions" does: it puts an inline policy on the
//! role ([`REVOKE_POLICY_NAME`]) denying every action to sessions whose
//! token was issued before a cut-off (`aws:TokenIssueTime`). Only roles
//! tagged `rekey:policy` are touched. The cut-off only ever moves later, so
//! a replayed, older finding cannot give back what a newer one took.

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_iam::Client;
use rekey_core::{KindError, POLICY_TAG, SessionRevocation, SessionRevoker};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;

use crate::error::AwsError;

/// The name of the inline policy that denies older sessions.
pub const REVOKE_POLICY_NAME: &str = "rekey-revoke-older-sessions";

/// The condition key IAM sets to the time a session's token was issued.
const TOKEN_ISSUE_TIME: &str = "aws:TokenIssueTime";

/// The [`SessionRevoker`] of IAM roles.
#[derive(Clone, Debug)]
pub struct IamRoleSessions {
    iam: Client,
}

impl IamRoleSessions {
    /// Talks to IAM as `config` says (region, credentials, endpoint).
    pub fn new(config: &SdkConfig) -> Self {
        Self {
            iam: Client::new(config),
        }
    }

    /// Whether the role carries the `rekey:policy` tag.
    async fn is_managed(&self, role: &str) -> Result<bool, KindError> {
        let output = self
            .iam
            .get_role()
            .role_name(role)
            .send()
            .await
            .map_err(|e| KindError::from(AwsError::of(&format!("get role {role}"), &e)))?;
        let tags = output.role().map(|r| r.tags()).unwrap_or_default();
        Ok(tags.iter().any(|tag| tag.key() == POLICY_TAG))
    }

    /// The cut-off of the role's revocation policy, if it has one rekey can
    /// read.
    async fn cut_off(&self, role: &str) -> Result<Option<OffsetDateTime>, KindError> {
        let answer = self
            .iam
            .get_role_policy()
            .role_name(role)
            .policy_name(REVOKE_POLICY_NAME)
            .send()
            .await;
        let output = match answer {
            Ok(output) => output,
            Err(e) => {
                let operation = format!("get policy {REVOKE_POLICY_NAME} of role {role}");
                return match AwsError::of(&operation, &e) {
                    AwsError::NotFound(_) => Ok(None),
                    other => Err(other.into()),
                };
            }
        };
        Ok(read_cut_off(output.policy_document()))
    }

    /// Puts the revocation policy denying sessions issued before `cut_off`.
    async fn deny_before(&self, role: &str, cut_off: OffsetDateTime) -> Result<(), KindError> {
        let document = deny_document(cut_off)?;
        self.iam
            .put_role_policy()
            .role_name(role)
            .policy_name(REVOKE_POLICY_NAME)
            .policy_document(document)
            .send()
            .await
            .map_err(|e| {
                let operation = format!("put policy {REVOKE_POLICY_NAME} on role {role}");
                KindError::from(AwsError::of(&operation, &e))
            })?;
        Ok(())
    }
}

#[async_trait]
impl SessionRevoker for IamRoleSessions {
    /// `role` is a role name or a role ARN. Sessions issued in the second
    /// `before` falls in are denied too: the cut-off is rounded up to a
    /// whole second, the precision IAM's examples use.
    async fn revoke_sessions(
        &self,
        role: &str,
        before: OffsetDateTime,
    ) -> Result<SessionRevocation, KindError> {
        let name = role_name(role)?;
        if !self.is_managed(name).await? {
            tracing::debug!(role = name, "role is not managed; sessions left alone");
            return Ok(SessionRevocation::NotManaged);
        }

        let cut_off = whole_second_after(before);
        if let Some(existing) = self.cut_off(name).await?
            && existing >= cut_off
        {
            tracing::debug!(role = name, "older sessions are already denied");
            return Ok(SessionRevocation::Revoked);
        }
        self.deny_before(name, cut_off).await?;
        tracing::debug!(role = name, "denied sessions issued before the cut-off");
        Ok(SessionRevocation::Revoked)
    }
}

/// The role name in a role name or a role ARN (`arn:aws:iam::1:role/path/name`).
fn role_name(role: &str) -> Result<&str, KindError> {
    let invalid = || KindError::Misconfigured(format!("`{role}` is not an IAM role name or ARN"));
    let name = if role.starts_with("arn:") {
        let resource = role.splitn(6, ':').nth(5).ok_or_else(invalid)?;
        let path = resource.strip_prefix("role/").ok_or_else(invalid)?;
        path.rsplit('/').next().ok_or_else(invalid)?
    } else {
        role
    };
    if name.is_empty() || name.contains('/') || name.contains(':') {
        return Err(invalid());
    }
    Ok(name)
}

/// `at` in UTC, rounded up to a whole second.
fn whole_second_after(at: OffsetDateTime) -> OffsetDateTime {
    let at = at.to_offset(time::UtcOffset::UTC);
    let whole = at.replace_nanosecond(0).unwrap_or(at);
    if whole < at {
        whole + time::Duration::SECOND
    } else {
        whole
    }
}

/// The policy denying every action to sessions issued before `cut_off`.
fn deny_document(cut_off: OffsetDateTime) -> Result<String, KindError> {
    let format = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    let time = cut_off
        .to_offset(time::UtcOffset::UTC)
        .format(format)
        .map_err(|e| KindError::Rejected(format!("failed to format the cut-off: {e}")))?;
    let document = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Deny",
            "Action": ["*"],
            "Resource": ["*"],
            "Condition": { "DateLessThan": { TOKEN_ISSUE_TIME: time } }
        }]
    });
    Ok(document.to_string())
}

/// The cut-off of a revocation policy as `GetRolePolicy` answers it
/// (URL-encoded JSON); `None` if it does not read as one.
fn read_cut_off(document: &str) -> Option<OffsetDateTime> {
    let decoded = percent_decode(document)?;
    let policy: serde_json::Value = serde_json::from_str(&decoded).ok()?;
    let statements = match &policy["Statement"] {
        serde_json::Value::Array(list) => list.clone(),
        single => vec![single.clone()],
    };
    statements
        .iter()
        .filter(|s| s["Effect"] == "Deny")
        .filter_map(|s| s["Condition"]["DateLessThan"][TOKEN_ISSUE_TIME].as_str())
        .filter_map(|t| OffsetDateTime::parse(t, &Rfc3339).ok())
        .max()
}

/// Decodes `%XX` escapes (RFC 3986); `None` for a bad escape or bad UTF-8.
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            decoded.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            decoded.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(decoded).ok()
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    #[test]
    fn names_and_arns_both_name_the_role() {
        assert_eq!(role_name("app").ok(), Some("app"));
        assert_eq!(
            role_name("arn:aws:iam::123456789012:role/app").ok(),
            Some("app")
        );
        assert_eq!(
            role_name("arn:aws:iam::123456789012:role/team/app").ok(),
            Some("app")
        );
        assert!(role_name("arn:aws:iam::123456789012:user/app").is_err());
        assert!(role_name("").is_err());
        assert!(role_name("team/app").is_err());
    }

    #[test]
    fn the_cut_off_rounds_up_to_a_whole_second() {
        let exact = datetime!(2026-03-01 10:20:30 UTC);

        assert_eq!(whole_second_after(exact), exact);
        assert_eq!(
            whole_second_after(datetime!(2026-03-01 10:20:30.001 UTC)),
            datetime!(2026-03-01 10:20:31 UTC)
        );
        assert_eq!(whole_second_after(datetime!(2026-03-01 11:20:30 +1)), exact);
    }

    #[test]
    fn the_policy_denies_everything_to_sessions_issued_before_the_cut_off() {
        let document = deny_document(datetime!(2026-03-01 10:20:30 UTC)).expect("formats");

        let policy: serde_json::Value = serde_json::from_str(&document).expect("JSON");
        let statement = &policy["Statement"][0];
        assert_eq!(statement["Effect"], "Deny");
        assert_eq!(statement["Action"][0], "*");
        assert_eq!(statement["Resource"][0], "*");
        assert_eq!(
            statement["Condition"]["DateLessThan"]["aws:TokenIssueTime"],
            "2026-03-01T10:20:30Z"
        );
    }

    #[test]
    fn the_cut_off_reads_back_from_a_url_encoded_document() {
        let cut_off = datetime!(2026-03-01 10:20:30 UTC);
        let document = deny_document(cut_off).expect("formats");
        let encoded: String = document
            .bytes()
            .map(|b| match b {
                b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect();

        assert_eq!(read_cut_off(&encoded), Some(cut_off));
        assert_eq!(read_cut_off(&document), Some(cut_off));
        assert_eq!(read_cut_off("%7B%ZZ"), None);
        assert_eq!(read_cut_off(r#"{"Statement": []}"#), None);
    }
}
