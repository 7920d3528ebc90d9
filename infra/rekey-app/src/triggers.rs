//! The native triggers' settings: which GCP Pub/Sub subscriptions, Cloud
//! Scheduler jobs and Azure Event Grid topics may call the functions, and
//! how their calls are authenticated.
//!
//! These are the non-secret settings, under `[gcp.notifications]`,
//! `[gcp.scheduler]` and `[azure.event_grid]`; the one secret (Event Grid's
//! delivery secret) comes from the environment. A section left out
//! disables its route.

use std::path::PathBuf;

use serde::Deserialize;

/// Google's key set for the ID tokens it signs.
pub const GOOGLE_JWKS_URL: &str = "https://www.googleapis.com/oauth2/v3/certs";

/// `[gcp]`: how GCP reaches the functions.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GcpTriggers {
    /// `[gcp.notifications]`: Secret Manager event notifications pushed by
    /// Pub/Sub to `rekey-rotate`.
    #[serde(default)]
    pub notifications: Option<SecretManagerNotifications>,
    /// `[gcp.scheduler]`: Cloud Scheduler jobs calling `rekey-sweep`.
    #[serde(default)]
    pub scheduler: Option<CloudScheduler>,
}

/// `[azure]`: how Azure reaches the functions.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AzureTriggers {
    /// `[azure.event_grid]`: Key Vault events delivered by Event Grid to
    /// `rekey-rotate`.
    #[serde(default)]
    pub event_grid: Option<EventGrid>,
}

/// Secret Manager notifications, delivered by Pub/Sub push subscriptions.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretManagerNotifications {
    /// The push subscriptions accepted, as `projects/P/subscriptions/S`.
    pub subscriptions: Vec<String>,
    /// The push subscription's OIDC audience; with
    /// `service_account_email`, every push must carry a Google-signed ID
    /// token for it.
    #[serde(default)]
    pub audience: Option<String>,
    /// The service account the push subscription signs its tokens as.
    #[serde(default)]
    pub service_account_email: Option<String>,
    /// Where the token-signing keys are read.
    #[serde(default)]
    pub jwks: JwksLocation,
}

impl SecretManagerNotifications {
    /// The ID token pushes must carry, if the subscription is set to send one.
    pub fn push_token(&self) -> Option<IdToken> {
        match (&self.audience, &self.service_account_email) {
            (Some(audience), Some(email)) => Some(IdToken {
                audience: audience.clone(),
                service_account_email: email.clone(),
                jwks: self.jwks.clone(),
            }),
            _ => None,
        }
    }
}

/// Cloud Scheduler jobs with an HTTP target and an OIDC token.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CloudScheduler {
    /// The job's OIDC audience (by default the target URL).
    pub audience: String,
    /// The service account the job signs its tokens as.
    pub service_account_email: String,
    /// Where the token-signing keys are read.
    #[serde(default)]
    pub jwks: JwksLocation,
}

impl CloudScheduler {
    /// The ID token every call must carry.
    pub fn token(&self) -> IdToken {
        IdToken {
            audience: self.audience.clone(),
            service_account_email: self.service_account_email.clone(),
            jwks: self.jwks.clone(),
        }
    }
}

/// What a Google-signed ID token must say to be accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdToken {
    /// The `aud` claim.
    pub audience: String,
    /// The `email` claim (verified).
    pub service_account_email: String,
    /// Where the signing keys are.
    pub jwks: JwksLocation,
}

/// Event Grid subscriptions on Key Vault events.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventGrid {
    /// The topics accepted: each vault's resource id,
    /// `/subscriptions/…/resourceGroups/…/providers/Microsoft.KeyVault/vaults/NAME`.
    pub topics: Vec<String>,
}

/// Where a JSON Web Key Set is read: an `https://` (or `http://`) URL,
/// fetched and cached, or a file path.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(from = "String")]
pub enum JwksLocation {
    /// Fetched over HTTP(S).
    Url(String),
    /// Read from a file.
    File(PathBuf),
}

impl Default for JwksLocation {
    fn default() -> Self {
        Self::Url(GOOGLE_JWKS_URL.into())
    }
}

impl From<String> for JwksLocation {
    fn from(text: String) -> Self {
        if text.starts_with("https://") || text.starts_with("http://") {
            return Self::Url(text);
        }
        Self::File(PathBuf::from(text))
    }
}

impl GcpTriggers {
    /// Checks the settings; the error says which key is wrong.
    pub fn validate(&self) -> Result<(), String> {
        if let Some(notifications) = &self.notifications {
            check_subscriptions(&notifications.subscriptions)?;
            if notifications.audience.is_some() != notifications.service_account_email.is_some() {
                return Err("gcp.notifications: set audience and service_account_email \
                            together, or neither"
                    .into());
            }
        }
        if let Some(scheduler) = &self.scheduler
            && (scheduler.audience.is_empty() || !scheduler.service_account_email.contains('@'))
        {
            return Err(
                "gcp.scheduler: audience must be set and service_account_email \
                        must be an email address"
                    .into(),
            );
        }
        Ok(())
    }
}

impl AzureTriggers {
    /// Checks the settings; the error says which key is wrong.
    pub fn validate(&self) -> Result<(), String> {
        let Some(event_grid) = &self.event_grid else {
            return Ok(());
        };
        let is_vault = |topic: &String| {
            topic.starts_with("/subscriptions/")
                && topic
                    .to_ascii_lowercase()
                    .contains("/providers/microsoft.keyvault/vaults/")
        };
        if event_grid.topics.is_empty() || !event_grid.topics.iter().all(is_vault) {
            return Err("azure.event_grid.topics must list vault resource ids, \
                        /subscriptions/…/providers/Microsoft.KeyVault/vaults/NAME"
                .into());
        }
        Ok(())
    }
}

fn check_subscriptions(subscriptions: &[String]) -> Result<(), String> {
    let is_subscription = |name: &String| {
        let parts: Vec<&str> = name.split('/').collect();
        matches!(parts.as_slice(), ["projects", p, "subscriptions", s] if !p.is_empty() && !s.is_empty())
    };
    if subscriptions.is_empty() || !subscriptions.iter().all(is_subscription) {
        return Err("gcp.notifications.subscriptions must list \
                    projects/PROJECT/subscriptions/SUBSCRIPTION names"
            .into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::Config;

    #[test]
    fn the_trigger_sections_parse() {
        let text = r#"
            [gcp.notifications]
            subscriptions = ["projects/p/subscriptions/rekey"]
            audience = "https://rotate.example"
            service_account_email = "push@p.iam.gserviceaccount.com"
            jwks = "/etc/rekey/jwks.json"

            [gcp.scheduler]
            audience = "https://sweep.example"
            service_account_email = "scheduler@p.iam.gserviceaccount.com"

            [azure.event_grid]
            topics = ["/subscriptions/s/resourceGroups/g/providers/Microsoft.KeyVault/vaults/v"]
        "#;
        let config = Config::parse(text, "t").expect("valid");

        let push = config.gcp.notifications.and_then(|n| n.push_token());
        assert!(push.is_some_and(|t| t.jwks == super::JwksLocation::File("/etc/rekey/jwks.json".into())));
        let scheduler = config.gcp.scheduler.expect("set").token();
        assert_eq!(
            scheduler.jwks,
            super::JwksLocation::Url(super::GOOGLE_JWKS_URL.into())
        );
        assert!(config.azure.event_grid.is_some());
    }

    #[test]
    fn the_shipped_example_parses() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../examples/multi-cloud.toml");
        let config = Config::load(&path).unwrap_or_else(|e| panic!("{e}"));

        assert!(
            config
                .gcp
                .notifications
                .and_then(|n| n.push_token())
                .is_some()
        );
        assert!(config.gcp.scheduler.is_some() && config.azure.event_grid.is_some());
    }

    #[test]
    fn bad_trigger_settings_are_refused_by_key() {
        for (text, key) in [
            (
                "[gcp.notifications]\nsubscriptions = [\"rekey\"]",
                "subscriptions",
            ),
            (
                "[gcp.notifications]\nsubscriptions = [\"projects/p/subscriptions/s\"]\naudience = \"a\"",
                "service_account_email",
            ),
            (
                "[gcp.scheduler]\naudience = \"a\"\nservice_account_email = \"x\"",
                "gcp.scheduler",
            ),
            ("[azure.event_grid]\ntopics = [\"vault\"]", "topics"),
        ] {
            let error = Config::parse(text, "t").expect_err(text).to_string();
            assert!(error.contains(key), "{error}");
        }
    }
}
