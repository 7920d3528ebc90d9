//! Triggers: the normalized events that wake the engine.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

/// One step of the Secrets Manager rotation contract.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum Step {
    /// Make the new value and store it as pending.
    #[serde(rename = "createSecret")]
    CreateSecret,
    /// Set the pending value where it is consumed.
    #[serde(rename = "setSecret")]
    SetSecret,
    /// Test the pending value where it is consumed.
    #[serde(rename = "testSecret")]
    TestSecret,
    /// Promote the pending value to current.
    #[serde(rename = "finishSecret")]
    FinishSecret,
}

impl Step {
    /// The step's name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CreateSecret => "createSecret",
            Self::SetSecret => "setSecret",
            Self::TestSecret => "testSecret",
            Self::FinishSecret => "finishSecret",
        }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A step name that is not part of the contract.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("unknown rotation step `{0}`")]
pub struct UnknownStep(pub String);

impl FromStr for Step {
    type Err = UnknownStep;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        match name {
            "createSecret" => Ok(Self::CreateSecret),
            "setSecret" => Ok(Self::SetSecret),
            "testSecret" => Ok(Self::TestSecret),
            "finishSecret" => Ok(Self::FinishSecret),
            // Bounded, so a hostile event cannot put a long string in a log.
            other => Err(UnknownStep(other.chars().take(64).collect())),
        }
    }
}

/// What woke the engine.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Trigger {
    /// A timer: EventBridge, Cloud Scheduler, or local mode's scheduler.
    Schedule {
        /// Who fired it (`aws.events`, `aws.scheduler`, `local`).
        source: String,
    },
    /// One step of a store's native rotation contract.
    NativeRotation {
        /// The step asked for.
        step: Step,
    },
    /// A person asked for it (`rekey rotate`).
    Manual,
    /// A finding that a credential leaked or is misused.
    Anomaly {
        /// Who reported it (`aws.health`, `aws.guardduty`, `github`, a detector's name).
        source: String,
        /// The finding's or delivery's id.
        finding: String,
    },
    /// A credential's use count crossed its policy's maximum.
    UsageThreshold {
        /// The count that crossed it.
        uses: u64,
    },
    /// A store's own notice that a credential is due: GCP Secret Manager's
    /// `SECRET_ROTATE`, Azure Key Vault's `SecretNearExpiry` or
    /// `SecretExpired`.
    ExpiryNotice {
        /// Who sent it (`gcp.secretmanager`, `azure.keyvault`).
        source: String,
        /// The notice's event type as the store names it.
        event: String,
    },
}

impl Trigger {
    /// The trigger's kind, as audit events name it.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Schedule { .. } => "schedule",
            Self::NativeRotation { .. } => "native-rotation",
            Self::Manual => "manual",
            Self::Anomaly { .. } => "anomaly",
            Self::UsageThreshold { .. } => "usage-threshold",
            Self::ExpiryNotice { .. } => "expiry-notice",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_round_trip_their_wire_names() {
        for step in [
            Step::CreateSecret,
            Step::SetSecret,
            Step::TestSecret,
            Step::FinishSecret,
        ] {
            assert_eq!(step.as_str().parse::<Step>(), Ok(step));
        }
        assert_eq!(
            "deleteSecret".parse::<Step>(),
            Err(UnknownStep("deleteSecret".into()))
        );
        assert_eq!(
            "x".repeat(1000).parse::<Step>().map_err(|e| e.0.len()),
            Err(64)
        );
    }
}
