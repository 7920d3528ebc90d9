//! Policies: what a credential may be, and how a policy file declares them.
//!
//! A policy file is TOML. Each `[policies.NAME]` table is one policy; a
//! credential names its policy in the tag `rekey:policy` and may override
//! single keys with tags (see [`TAG_PREFIX`] and [`Policy::with_overrides`]).
//!
//! ```toml
//! [policies.database]
//! max_age = "30d"          # rotate once the current value is this old
//! grace_period = "1h"      # keep the previous value working this long
//! max_uses = 10000         # rotate after this many uses (optional)
//! on_anomaly = "revoke-and-rotate"
//! stale_after = "90d"      # flag a credential unused this long (optional)
//! environment = "prod"     # only act where the environment matches (optional)
//! generator = { type = "password", length = 32, exclude_characters = "\"'\\" }
//! ```

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::Generator;

/// Tags that start with this prefix belong to rekey.
pub const TAG_PREFIX: &str = "rekey:";
/// The tag naming a credential's policy; credentials without it are not managed.
pub const POLICY_TAG: &str = "rekey:policy";

/// What an anomaly about a credential makes rekey do.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AnomalyAction {
    /// Make the credential unusable now; a person restores service.
    Revoke,
    /// Replace the value now and keep the old one through the grace period.
    Rotate,
    /// Make it unusable now, then rotate to restore service.
    #[default]
    RevokeAndRotate,
}

/// One policy: the limits a credential must stay within.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Rotate once the current value is this old (`"90d"`, `"12h"`, `"30s"`).
    #[serde(with = "humantime_serde")]
    pub max_age: Duration,
    /// How long the previous value keeps working after a rotation.
    #[serde(with = "humantime_serde", default)]
    pub grace_period: Duration,
    /// Rotate once the current value has been used this many times.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_uses: Option<u64>,
    /// What an anomaly about the credential makes rekey do.
    #[serde(default)]
    pub on_anomaly: AnomalyAction,
    /// Report a credential that has not been used for this long.
    #[serde(
        with = "humantime_serde",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub stale_after: Option<Duration>,
    /// The environment the credential must be bound to (tag `rekey:environment`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    /// How new values are made.
    #[serde(default)]
    pub generator: Generator,
    /// The credential's kind: `secret` (the default), `iam-access-key` or
    /// `gcp-service-account-key`.
    #[serde(default = "default_kind")]
    pub kind: String,
}

fn default_kind() -> String {
    crate::PLAIN_SECRET.to_owned()
}

/// Tags that describe a credential to its kind rather than override its
/// policy: `rekey:iam-user` names the IAM user whose access key a secret
/// holds, `rekey:service-account` the GCP service account whose key it holds.
pub const ATTRIBUTE_TAGS: &[&str] = &["rekey:iam-user", "rekey:service-account"];

/// Why a policy or one of its overrides was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum PolicyError {
    /// The credential names a policy the policy file does not define.
    #[error("policy `{0}` is not defined in the policy file")]
    UnknownPolicy(String),
    /// An override tag has a value that does not parse.
    #[error("tag `{tag}` has an invalid value: {reason}")]
    InvalidOverride {
        /// The tag's key.
        tag: String,
        /// What is wrong with it (never the secret value; tags hold none).
        reason: String,
    },
    /// A `rekey:` tag rekey does not know, most likely misspelt.
    #[error("tag `{0}` is not a rekey policy key")]
    UnknownOverride(String),
    /// A policy's maximum age is zero.
    #[error("policy `{0}` has a zero max_age")]
    ZeroMaxAge(String),
    /// A policy's duration is longer than [`MAX_DURATION`].
    #[error("policy `{name}` has a {key} longer than 100 years")]
    TooLong {
        /// The policy's name.
        name: String,
        /// The key (`max_age`, `grace_period`, `stale_after`).
        key: &'static str,
    },
    /// A policy's generator cannot make values.
    #[error("policy `{name}` has an unusable generator: {problem}")]
    Generator {
        /// The policy's name.
        name: String,
        /// What is wrong with the generator (part of this message, so not
        /// repeated as a source).
        problem: crate::GeneratorError,
    },
}

/// The longest duration a policy takes: a hundred years. Longer ones are a
/// typo, and past a few hundred thousand years a date cannot hold them.
pub const MAX_DURATION: Duration = Duration::from_secs(100 * 366 * 24 * 3600);

impl Policy {
    /// A copy of this policy with the `rekey:` tags of a credential applied.
    /// Tags `rekey:max-age`, `rekey:grace-period`, `rekey:max-uses`,
    /// `rekey:on-anomaly`, `rekey:stale-after` and `rekey:environment`
    /// override the key of the same name.
    pub fn with_overrides(&self, tags: &BTreeMap<String, String>) -> Result<Policy, PolicyError> {
        let mut policy = self.clone();
        for (tag, value) in tags.iter().filter(|(k, _)| k.starts_with(TAG_PREFIX)) {
            policy.apply_override(tag, value)?;
        }
        Ok(policy)
    }

    fn apply_override(&mut self, tag: &str, value: &str) -> Result<(), PolicyError> {
        let invalid = |reason: String| PolicyError::InvalidOverride {
            tag: tag.into(),
            reason,
        };
        let duration = |v: &str| {
            let parsed = humantime::parse_duration(v).map_err(|e| invalid(e.to_string()))?;
            match parsed > MAX_DURATION {
                true => Err(invalid("must be at most 100 years".into())),
                false => Ok(parsed),
            }
        };

        if ATTRIBUTE_TAGS.contains(&tag) {
            return Ok(());
        }
        match &tag[TAG_PREFIX.len()..] {
            "policy" => {}
            "max-age" => self.max_age = positive(duration(value)?).map_err(invalid)?,
            "grace-period" => self.grace_period = duration(value)?,
            "stale-after" => self.stale_after = Some(duration(value)?),
            "environment" => self.environment = Some(value.to_owned()),
            "max-uses" => {
                let uses = value.parse::<u64>().map_err(|e| invalid(e.to_string()))?;
                self.max_uses = Some(uses);
            }
            "on-anomaly" => {
                let quoted = serde_json::Value::String(value.to_owned());
                self.on_anomaly =
                    serde_json::from_value(quoted).map_err(|e| invalid(e.to_string()))?;
            }
            _ => return Err(PolicyError::UnknownOverride(tag.to_owned())),
        }
        Ok(())
    }
}

fn positive(duration: Duration) -> Result<Duration, String> {
    if duration.is_zero() {
        return Err("must be longer than zero".into());
    }
    Ok(duration)
}

/// The named policies of a policy file.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PolicySet(BTreeMap<String, Policy>);

impl PolicySet {
    /// A set holding `policies`, checked as a policy file is.
    pub fn new(policies: BTreeMap<String, Policy>) -> Result<Self, PolicyError> {
        let set = Self(policies);
        set.validate()?;
        Ok(set)
    }

    /// Checks every policy: a positive maximum age, durations of at most
    /// [`MAX_DURATION`] and a usable generator.
    pub fn validate(&self) -> Result<(), PolicyError> {
        for (name, policy) in &self.0 {
            if policy.max_age.is_zero() {
                return Err(PolicyError::ZeroMaxAge(name.clone()));
            }
            let durations = [
                ("max_age", Some(policy.max_age)),
                ("grace_period", Some(policy.grace_period)),
                ("stale_after", policy.stale_after),
            ];
            if let Some((key, _)) = durations
                .into_iter()
                .find(|(_, d)| d.is_some_and(|d| d > MAX_DURATION))
            {
                return Err(PolicyError::TooLong {
                    name: name.clone(),
                    key,
                });
            }
            policy
                .generator
                .validate()
                .map_err(|problem| PolicyError::Generator {
                    name: name.clone(),
                    problem,
                })?;
        }
        Ok(())
    }

    /// The policy named `name`.
    pub fn get(&self, name: &str) -> Option<&Policy> {
        self.0.get(name)
    }

    /// The effective policy of a credential with `tags`: the policy its
    /// `rekey:policy` tag names, with its override tags applied. `None`
    /// when the credential names no policy (rekey does not manage it).
    pub fn resolve(&self, tags: &BTreeMap<String, String>) -> Option<Result<Policy, PolicyError>> {
        let name = tags.get(POLICY_TAG)?;
        let resolved = match self.get(name) {
            Some(policy) => policy.with_overrides(tags),
            None => Err(PolicyError::UnknownPolicy(name.clone())),
        };
        Some(resolved)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set() -> PolicySet {
        let file = r#"
            [demo]
            max_age = "30s"
            grace_period = "15s"
            max_uses = 5
            generator = { type = "bytes", length = 16, encoding = "hex" }
        "#;
        toml::from_str(file).expect("the example parses")
    }

    fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_policy_file_table_parses_with_defaults() {
        let policy = set().get("demo").cloned().expect("defined");

        assert_eq!(policy.max_age, Duration::from_secs(30));
        assert_eq!(policy.grace_period, Duration::from_secs(15));
        assert_eq!(policy.on_anomaly, AnomalyAction::RevokeAndRotate);
        assert_eq!(policy.stale_after, None);
    }

    #[test]
    fn tags_override_single_keys() {
        let resolved = set()
            .resolve(&tags(&[
                ("rekey:policy", "demo"),
                ("rekey:max-age", "2h"),
                ("rekey:on-anomaly", "revoke"),
                ("team", "payments"),
            ]))
            .expect("managed")
            .expect("valid");

        assert_eq!(resolved.max_age, Duration::from_secs(7200));
        assert_eq!(resolved.on_anomaly, AnomalyAction::Revoke);
        assert_eq!(resolved.max_uses, Some(5));
    }

    #[test]
    fn bad_overrides_are_refused_by_name() {
        let policies = set();
        let resolve = |pairs: &[(&str, &str)]| policies.resolve(&tags(pairs)).expect("managed");

        assert!(matches!(
            resolve(&[("rekey:policy", "demo"), ("rekey:max-age", "soon")]),
            Err(PolicyError::InvalidOverride { tag, .. }) if tag == "rekey:max-age"
        ));
        assert!(matches!(
            resolve(&[("rekey:policy", "demo"), ("rekey:max-age", "0s")]),
            Err(PolicyError::InvalidOverride { .. })
        ));
        assert_eq!(
            resolve(&[("rekey:policy", "demo"), ("rekey:maxage", "1h")]),
            Err(PolicyError::UnknownOverride("rekey:maxage".into()))
        );
        assert_eq!(
            resolve(&[("rekey:policy", "nope")]),
            Err(PolicyError::UnknownPolicy("nope".into()))
        );
    }

    #[test]
    fn untagged_credentials_are_not_managed() {
        assert!(set().resolve(&tags(&[("team", "payments")])).is_none());
    }

    #[test]
    fn unknown_policy_keys_and_zero_ages_are_refused() {
        assert!(toml::from_str::<PolicySet>("[p]\nmax_age = \"1d\"\nmax_agee = \"2d\"").is_err());

        let zero: PolicySet = toml::from_str("[p]\nmax_age = \"0s\"").expect("parses");
        assert_eq!(zero.validate(), Err(PolicyError::ZeroMaxAge("p".into())));
    }

    #[test]
    fn durations_over_a_hundred_years_are_refused_in_files_and_tags() {
        for (key, file) in [
            ("max_age", "[p]\nmax_age = \"500000y\""),
            (
                "grace_period",
                "[p]\nmax_age = \"1d\"\ngrace_period = \"101y\"",
            ),
            (
                "stale_after",
                "[p]\nmax_age = \"1d\"\nstale_after = \"99999999999d\"",
            ),
        ] {
            let set: PolicySet = toml::from_str(file).expect("parses");
            assert_eq!(
                set.validate(),
                Err(PolicyError::TooLong {
                    name: "p".into(),
                    key
                }),
                "{file}"
            );
        }

        let tags = BTreeMap::from([
            (POLICY_TAG.to_owned(), "demo".to_owned()),
            ("rekey:max-age".to_owned(), "500000y".to_owned()),
        ]);
        let refused = set().resolve(&tags).expect("managed");
        assert!(
            matches!(&refused, Err(PolicyError::InvalidOverride { tag, .. }) if tag == "rekey:max-age"),
            "{refused:?}"
        );
    }
}
