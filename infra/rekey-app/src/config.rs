//! The configuration file: where credentials live, where the ledger is,
//! the policies, and local mode's schedule and seed credentials.
//!
//! Every key is documented in `examples/README.md`; `examples/local.toml`
//! is the demo the README runs.

use std::path::Path;
use std::time::Duration;

use rekey_core::PolicySet;
use serde::Deserialize;

/// The shortest interval `rekey serve` sweeps at: shorter ones only
/// busy-loop the store.
pub const MIN_SWEEP_INTERVAL: Duration = Duration::from_secs(1);

/// The largest configuration file rekey reads.
pub const MAX_CONFIG_BYTES: u64 = 1024 * 1024;

/// Why a configuration file was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("failed to read config file {path}: {cause}")]
    Read {
        /// The file.
        path: String,
        /// The cause (part of this message, so not repeated as a source).
        cause: std::io::Error,
    },
    /// The file is larger than [`MAX_CONFIG_BYTES`].
    #[error("config file {path} is larger than {MAX_CONFIG_BYTES} bytes")]
    TooLarge {
        /// The file.
        path: String,
    },
    /// The file is not valid TOML or has unknown or mistyped keys.
    #[error("config file {path} is invalid: {message}")]
    Parse {
        /// The file.
        path: String,
        /// What the parser found, with line and column.
        message: String,
    },
    /// A policy is unusable.
    #[error("config file {path}: {problem}")]
    Policy {
        /// The file.
        path: String,
        /// What is wrong with the policy (part of this message, so not
        /// repeated as a source).
        problem: rekey_core::PolicyError,
    },
    /// A seed credential names a policy that is not defined.
    #[error("config file {path}: seed credential `{name}` names undefined policy `{policy}`")]
    SeedPolicy {
        /// The file.
        path: String,
        /// The seed's name.
        name: String,
        /// The policy it names.
        policy: String,
    },
    /// The settings contradict each other.
    #[error("config file {path}: {message}")]
    Inconsistent {
        /// The file.
        path: String,
        /// What contradicts what.
        message: String,
    },
}

/// A whole configuration file.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The environment this deployment serves; policies with an
    /// `environment` key act only where it matches.
    #[serde(default)]
    pub environment: Option<String>,
    /// Engine limits.
    #[serde(default)]
    pub engine: EngineSettings,
    /// Which stores hold managed credentials.
    #[serde(default)]
    pub stores: Stores,
    /// Where the ledger lives.
    #[serde(default)]
    pub ledger: LedgerSettings,
    /// Local mode's scheduler.
    #[serde(default)]
    pub schedule: ScheduleSettings,
    /// The named policies.
    #[serde(default)]
    pub policies: PolicySet,
    /// Credentials `rekey serve` creates in the local store when missing.
    #[serde(default)]
    pub seed: Vec<Seed>,
    /// Where rekey's own events go.
    #[serde(default)]
    pub events: EventSettings,
    /// `[gcp]`: GCP's native triggers (see [`crate::triggers`]).
    #[serde(default)]
    pub gcp: crate::triggers::GcpTriggers,
    /// `[azure]`: Azure's native triggers (see [`crate::triggers`]).
    #[serde(default)]
    pub azure: crate::triggers::AzureTriggers,
}

/// Where rekey's own events (rotation completed or failed, credential
/// revoked) are published.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventSettings {
    /// The EventBridge bus; none: not published. `REKEY_EVENT_BUS` overrides it.
    #[serde(default)]
    pub bus: Option<String>,
}

/// Engine limits.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EngineSettings {
    /// Credentials handled at once by a sweep.
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    /// How long a rotation claim holds before another worker may resume it.
    #[serde(with = "humantime_serde", default = "default_lease")]
    pub lease: Duration,
}

impl Default for EngineSettings {
    fn default() -> Self {
        Self {
            concurrency: default_concurrency(),
            lease: default_lease(),
        }
    }
}

fn default_concurrency() -> usize {
    rekey_core::DEFAULT_CONCURRENCY
}

fn default_lease() -> Duration {
    rekey_core::DEFAULT_LEASE
}

/// Which stores hold managed credentials.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stores {
    /// The embedded SQLite store in the data directory.
    #[serde(default = "default_true")]
    pub local: bool,
    /// AWS Secrets Manager, configured from the standard AWS environment.
    #[serde(default)]
    pub aws_secrets_manager: bool,
    /// `[stores.gcp_secret_manager]`: GCP Secret Manager secrets (and the
    /// service-account keys they hold) in these projects.
    #[serde(default)]
    pub gcp_secret_manager: Option<rekey_gcp::GcpSettings>,
    /// `[stores.azure_key_vault]`: Azure Key Vault secrets in these vaults.
    #[serde(default)]
    pub azure_key_vault: Option<rekey_azure::AzureSettings>,
}

impl Stores {
    /// Whether any store but the embedded one holds credentials.
    pub fn any_cloud(&self) -> bool {
        self.aws_secrets_manager
            || self.gcp_secret_manager.is_some()
            || self.azure_key_vault.is_some()
    }
}

impl Default for Stores {
    fn default() -> Self {
        Self {
            local: true,
            aws_secrets_manager: false,
            gcp_secret_manager: None,
            azure_key_vault: None,
        }
    }
}

fn default_true() -> bool {
    true
}

/// Where the ledger lives.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(tag = "backend", rename_all = "kebab-case", deny_unknown_fields)]
pub enum LedgerSettings {
    /// In the SQLite file of the data directory.
    #[default]
    Sqlite,
    /// In a DynamoDB table.
    Dynamodb {
        /// The table's name.
        table: String,
    },
}

/// Local mode's scheduler.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleSettings {
    /// How often `rekey serve` sweeps.
    #[serde(with = "humantime_serde", default = "default_every")]
    pub every: Duration,
}

impl Default for ScheduleSettings {
    fn default() -> Self {
        Self {
            every: default_every(),
        }
    }
}

fn default_every() -> Duration {
    Duration::from_secs(60)
}

/// A credential to create in the local store when it is missing.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Seed {
    /// The credential's name.
    pub name: String,
    /// The policy it is managed by (becomes its `rekey:policy` tag).
    pub policy: String,
    /// More tags, overrides included (`"rekey:max-age" = "2m"`).
    #[serde(default)]
    pub tags: std::collections::BTreeMap<String, String>,
}

impl Config {
    /// Reads and checks the file at `path`.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let shown = path.display().to_string();
        let read = |cause| ConfigError::Read {
            path: shown.clone(),
            cause,
        };
        let size = std::fs::metadata(path).map_err(read)?.len();
        if size > MAX_CONFIG_BYTES {
            return Err(ConfigError::TooLarge { path: shown });
        }
        let text = std::fs::read_to_string(path).map_err(read)?;
        Self::parse(&text, &shown)
    }

    /// Parses and checks configuration text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Self, ConfigError> {
        let config: Config = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: origin.into(),
            message: e.to_string(),
        })?;
        config.validate(origin)?;
        Ok(config)
    }

    /// Whether a store, the ledger or the event bus lives in AWS, or Azure
    /// is reached with the functions' AWS identity.
    pub fn needs_aws(&self) -> bool {
        let azure_from_aws = self
            .stores
            .azure_key_vault
            .as_ref()
            .is_some_and(|azure| azure.credential.web_identity_audience().is_some());
        self.stores.aws_secrets_manager
            || azure_from_aws
            || matches!(self.ledger, LedgerSettings::Dynamodb { .. })
            || self.events_bus().is_some()
    }

    /// The bus rekey's own events go to: `REKEY_EVENT_BUS`, else `[events] bus`.
    pub fn events_bus(&self) -> Option<String> {
        let from_env = std::env::var(crate::EVENT_BUS_ENV)
            .ok()
            .filter(|bus| !bus.is_empty());
        from_env.or_else(|| self.events.bus.clone())
    }

    fn validate(&self, origin: &str) -> Result<(), ConfigError> {
        self.policies
            .validate()
            .map_err(|problem| ConfigError::Policy {
                path: origin.into(),
                problem,
            })?;
        for seed in &self.seed {
            if self.policies.get(&seed.policy).is_none() {
                return Err(ConfigError::SeedPolicy {
                    path: origin.into(),
                    name: seed.name.clone(),
                    policy: seed.policy.clone(),
                });
            }
        }
        let inconsistent = |message: &str| {
            Err(ConfigError::Inconsistent {
                path: origin.into(),
                message: message.into(),
            })
        };
        if !self.stores.local && !self.stores.any_cloud() {
            return inconsistent("no store is enabled under [stores]");
        }
        if !self.seed.is_empty() && !self.stores.local {
            return inconsistent("[[seed]] credentials need the local store");
        }
        if self.engine.concurrency == 0 {
            return inconsistent("engine.concurrency must be at least 1");
        }
        if self.schedule.every < MIN_SWEEP_INTERVAL {
            return inconsistent("schedule.every must be at least 1s");
        }
        if let Err(message) = self.gcp.validate().and_then(|()| self.azure.validate()) {
            return inconsistent(&message);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_file_is_local_mode_with_defaults() {
        let config = Config::parse("", "test").expect("valid");

        assert!(config.stores.local && !config.stores.aws_secrets_manager);
        assert!(matches!(config.ledger, LedgerSettings::Sqlite));
        assert_eq!(config.schedule.every, Duration::from_secs(60));
    }

    #[test]
    fn the_shipped_examples_parse() {
        for example in ["local.toml", "aws.toml", "multi-cloud.toml"] {
            let path = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../examples")
                .join(example);
            Config::load(&path).unwrap_or_else(|e| panic!("{example}: {e}"));
        }
    }

    #[test]
    fn mistakes_are_refused_with_their_place() {
        let typo = Config::parse("[stores]\nlocall = true", "f.toml").expect_err("refused");
        assert!(typo.to_string().contains("locall"), "{typo}");

        let seed = "[[seed]]\nname = \"a\"\npolicy = \"missing\"";
        assert!(matches!(
            Config::parse(seed, "f"),
            Err(ConfigError::SeedPolicy { .. })
        ));

        let none = "[stores]\nlocal = false";
        assert!(matches!(
            Config::parse(none, "f"),
            Err(ConfigError::Inconsistent { .. })
        ));

        let dynamo = "[ledger]\nbackend = \"dynamodb\"";
        assert!(
            Config::parse(dynamo, "f").is_err(),
            "a DynamoDB ledger needs a table"
        );
    }

    #[test]
    fn oversized_files_are_refused_before_reading() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("big.toml");
        std::fs::write(&path, "#".repeat(MAX_CONFIG_BYTES as usize + 1)).expect("write");

        assert!(matches!(
            Config::load(&path),
            Err(ConfigError::TooLarge { .. })
        ));
    }
}
