//! Decisions: what the engine concludes for one credential and one trigger.
//!
//! [`decide`] is pure: it reads the credential as its store describes it,
//! its effective policy and the time, and says rotate, retire or skip, with
//! the reason. Acting on the decision is [`crate::Engine`]'s job.

use std::fmt;
use std::time::Duration;

use serde::Serialize;
use time::OffsetDateTime;

use crate::{Credential, Policy, Stage, VersionId};

/// What to do with one credential.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "decision", rename_all = "kebab-case")]
pub enum Decision {
    /// Make a new value and promote it.
    Rotate {
        /// Why.
        reason: RotateReason,
    },
    /// Stop serving the previous value: its grace period is over.
    Retire {
        /// The previous version.
        version: VersionId,
    },
    /// Leave the credential as it is.
    Skip {
        /// Why.
        reason: SkipReason,
    },
}

impl Decision {
    /// The decision's name, as audit events give it.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Rotate { .. } => "rotate",
            Self::Retire { .. } => "retire",
            Self::Skip { .. } => "skip",
        }
    }
}

/// Why a credential is rotated.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RotateReason {
    /// The current value reached the policy's maximum age.
    MaxAgeReached,
    /// The credential has no current value yet.
    NoCurrentValue,
    /// A trigger asked for it: a rotation step, a person.
    Requested,
}

/// Why a credential is left alone.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SkipReason {
    /// The store has rotation turned off for it.
    RotationDisabled,
    /// Its policy or an override tag does not parse; the message says which.
    InvalidPolicy(String),
    /// Its policy is bound to another environment.
    OtherEnvironment(String),
    /// Nothing is due before this time.
    NotDue(#[serde(with = "time::serde::rfc3339")] OffsetDateTime),
    /// Another rotation holds it.
    RotationInProgress(VersionId),
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::RotationDisabled => f.write_str("rotation is disabled in the store"),
            Self::InvalidPolicy(why) => write!(f, "invalid policy: {why}"),
            Self::OtherEnvironment(env) => write!(f, "policy is bound to environment {env}"),
            Self::NotDue(at) => write!(f, "not due until {}", rfc3339(*at)),
            Self::RotationInProgress(v) => write!(f, "rotation {v} is in progress"),
        }
    }
}

impl fmt::Display for RotateReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::MaxAgeReached => "the current value reached its maximum age",
            Self::NoCurrentValue => "there is no current value",
            Self::Requested => "rotation was requested",
        })
    }
}

/// Formats a time as RFC 3339, the way every rekey output shows time.
pub fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| at.unix_timestamp().to_string())
}

/// `by` after `at`, or the last moment a date can hold when that is past
/// it: a due time never overflows, whatever a policy says.
fn later(at: OffsetDateTime, by: std::time::Duration) -> OffsetDateTime {
    time::Duration::try_from(by)
        .ok()
        .and_then(|by| at.checked_add(by))
        .unwrap_or_else(|| time::PrimitiveDateTime::MAX.assume_utc())
}

/// When the current value of `credential` falls due under `policy`.
/// `None` when there is no current value (it is due now).
pub fn rotation_due(credential: &Credential, policy: &Policy) -> Option<OffsetDateTime> {
    credential
        .version_at(Stage::Current)
        .map(|v| later(v.created_at, policy.max_age))
}

/// Decides what a timer should do with `credential`: rotate it when its
/// current value is too old, retire its previous value once the grace period
/// since the last promotion is over, and otherwise skip until the next due time.
pub fn decide(credential: &Credential, policy: &Policy, now: OffsetDateTime) -> Decision {
    if !credential.rotation_enabled {
        return Decision::Skip {
            reason: SkipReason::RotationDisabled,
        };
    }
    let Some(current) = credential.version_at(Stage::Current) else {
        return Decision::Rotate {
            reason: RotateReason::NoCurrentValue,
        };
    };

    let due = later(current.created_at, policy.max_age);
    if now >= due {
        return Decision::Rotate {
            reason: RotateReason::MaxAgeReached,
        };
    }

    // The current version was created moments before it was promoted, so its
    // creation time starts the previous value's grace period.
    let retire_at = later(current.created_at, policy.grace_period);
    if let Some(previous) = credential.version_at(Stage::Previous) {
        if now >= retire_at {
            return Decision::Retire {
                version: previous.id.clone(),
            };
        }
        return Decision::Skip {
            reason: SkipReason::NotDue(retire_at.min(due)),
        };
    }
    Decision::Skip {
        reason: SkipReason::NotDue(due),
    }
}

/// The age of `credential`'s current value at `now`, if it has one.
pub fn current_age(credential: &Credential, now: OffsetDateTime) -> Option<Duration> {
    let current = credential.version_at(Stage::Current)?;
    (now - current.created_at).try_into().ok()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use time::macros::datetime;

    use super::*;
    use crate::{CredentialId, Provider, Version};

    const T0: OffsetDateTime = datetime!(2026-01-01 00:00 UTC);

    fn policy() -> Policy {
        toml::from_str("max_age = \"1h\"\ngrace_period = \"10m\"").expect("parses")
    }

    fn credential(versions: &[(&str, &[Stage], OffsetDateTime)]) -> Credential {
        Credential {
            id: CredentialId::new(Provider::Local, "db"),
            name: "db".into(),
            tags: BTreeMap::new(),
            rotation_enabled: true,
            versions: versions
                .iter()
                .map(|(id, stages, at)| Version {
                    id: VersionId(id.to_string()),
                    stages: stages.to_vec(),
                    created_at: *at,
                    native_id: None,
                })
                .collect(),
        }
    }

    #[test]
    fn a_young_value_is_not_due() {
        let c = credential(&[("v1", &[Stage::Current], T0)]);

        let decision = decide(&c, &policy(), T0 + Duration::from_secs(59 * 60));

        let due = T0 + Duration::from_secs(3600);
        assert_eq!(
            decision,
            Decision::Skip {
                reason: SkipReason::NotDue(due)
            }
        );
    }

    #[test]
    fn an_old_value_is_rotated() {
        let c = credential(&[("v1", &[Stage::Current], T0)]);

        let decision = decide(&c, &policy(), T0 + Duration::from_secs(3600));

        assert_eq!(
            decision,
            Decision::Rotate {
                reason: RotateReason::MaxAgeReached
            }
        );
    }

    #[test]
    fn the_previous_value_is_retired_after_grace() {
        let now = T0 + Duration::from_secs(600);
        let c = credential(&[
            ("v1", &[Stage::Previous], T0),
            ("v2", &[Stage::Current], T0),
        ]);

        assert_eq!(
            decide(&c, &policy(), now),
            Decision::Retire {
                version: VersionId("v1".into())
            }
        );
        assert!(matches!(
            decide(&c, &policy(), now - Duration::from_secs(1)),
            Decision::Skip { reason: SkipReason::NotDue(at) } if at == now
        ));
    }

    #[test]
    fn disabled_and_empty_credentials() {
        let mut c = credential(&[]);
        assert_eq!(
            decide(&c, &policy(), T0),
            Decision::Rotate {
                reason: RotateReason::NoCurrentValue
            }
        );

        c.rotation_enabled = false;
        assert_eq!(
            decide(&c, &policy(), T0),
            Decision::Skip {
                reason: SkipReason::RotationDisabled
            }
        );
    }

    #[test]
    fn durations_past_what_a_date_holds_never_overflow() {
        let mut huge = policy();
        huge.max_age = Duration::from_secs(u64::MAX / 4);
        huge.grace_period = huge.max_age;
        let c = credential(&[
            ("v2", &[Stage::Current], T0),
            ("v1", &[Stage::Previous], T0),
        ]);

        assert!(matches!(
            decide(&c, &huge, T0),
            Decision::Skip {
                reason: SkipReason::NotDue(_)
            }
        ));
        assert_eq!(
            rotation_due(&c, &huge),
            Some(time::PrimitiveDateTime::MAX.assume_utc())
        );
    }
}
