//! Assembles a rekey [`Engine`] from a configuration file: the stores it
//! names, the ledger, the policies. Every function and the `rekey` command
//! build their engine here, so local mode and a deployment share one path.
//!
//! Entry points: [`Config::load`] reads a file, [`App::build`] turns it into
//! a running engine, [`App::from_env`] does both from the environment the
//! Lambda functions run in (`REKEY_CONFIG`, `REKEY_DATA_DIR`, and the
//! standard AWS variables, `AWS_ENDPOINT_URL` included).

mod aws_web_identity;
mod config;
mod env_secret;
pub mod triggers;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use rekey_core::audit::{Collector, Tee};
use rekey_core::{
    AuditSink, Clock, CredentialId, Engine, POLICY_TAG, SecretStore as _, SystemClock,
};
use rekey_local::{LocalDb, LocalLedger, LocalStore};

pub use config::{
    Config, ConfigError, EngineSettings, LedgerSettings, MAX_CONFIG_BYTES, MIN_SWEEP_INTERVAL,
    ScheduleSettings, Seed, Stores,
};
pub use env_secret::ARN_SUFFIX;

/// The environment variable naming the configuration file.
pub const CONFIG_ENV: &str = "REKEY_CONFIG";
/// The environment variable naming the data directory (the embedded store).
pub const DATA_DIR_ENV: &str = "REKEY_DATA_DIR";
/// The environment variable naming the EventBridge bus for rekey's own
/// events; overrides `[events] bus`.
pub const EVENT_BUS_ENV: &str = "REKEY_EVENT_BUS";
/// The data directory when none is given.
pub const DEFAULT_DATA_DIR: &str = ".rekey";

/// A configured engine and what it was built from.
pub struct App {
    engine: Engine,
    config: Config,
    local: Option<Arc<LocalStore>>,
    clock: Arc<dyn Clock>,
    collector: Arc<Collector>,
    publisher: Option<rekey_aws::EventBridgePublisher>,
    aws: Option<aws_config::SdkConfig>,
}

impl App {
    /// Builds the engine `config` describes, keeping local state in
    /// `data_dir` and sending audit events to `audit`.
    pub async fn build(
        config: Config,
        data_dir: &Path,
        audit: Arc<dyn AuditSink>,
    ) -> anyhow::Result<Self> {
        let aws = match config.needs_aws() {
            true => Some(aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await),
            false => None,
        };
        Self::build_with_aws(config, data_dir, audit, aws).await
    }

    /// As [`App::build`], with the AWS configuration given rather than
    /// loaded from the environment (for tests that run several emulators).
    pub async fn build_with_aws(
        config: Config,
        data_dir: &Path,
        audit: Arc<dyn AuditSink>,
        aws: Option<aws_config::SdkConfig>,
    ) -> anyhow::Result<Self> {
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let needs_local = config.stores.local || matches!(config.ledger, LedgerSettings::Sqlite);
        let db = match needs_local {
            true => Some(LocalDb::open(data_dir).with_context(|| {
                format!("failed to open the local store in {}", data_dir.display())
            })?),
            false => None,
        };
        anyhow::ensure!(
            aws.is_some() || !config.needs_aws(),
            "the configuration uses AWS but no AWS configuration was given"
        );

        let ledger: Arc<dyn rekey_core::Ledger> = match (&config.ledger, &db, &aws) {
            (LedgerSettings::Sqlite, Some(db), _) => Arc::new(LocalLedger::new(db.clone())),
            (LedgerSettings::Dynamodb { table }, _, Some(aws)) => {
                Arc::new(rekey_aws::DynamoDbLedger::new(aws, table))
            }
            _ => anyhow::bail!("the ledger's backend is not available"),
        };

        let collector = Arc::new(Collector::default());
        let audit: Arc<dyn AuditSink> = Arc::new(Tee(vec![audit, collector.clone()]));
        let mut engine = Engine::new(config.policies.clone(), ledger)
            .with_clock(clock.clone())
            .with_audit(audit)
            .with_environment(config.environment.clone())
            .with_lease(config.engine.lease);
        let mut local = None;
        if let (true, Some(db)) = (config.stores.local, &db) {
            let store = Arc::new(LocalStore::new(db.clone(), clock.clone()));
            engine = engine.with_store(store.clone());
            local = Some(store);
        }
        if let (true, Some(aws)) = (config.stores.aws_secrets_manager, &aws) {
            engine = engine
                .with_store(Arc::new(rekey_aws::SecretsManagerStore::new(aws)))
                .with_kind(
                    rekey_aws::IAM_ACCESS_KEY,
                    Arc::new(rekey_aws::IamAccessKeys::new(aws)),
                )
                .with_sessions(Arc::new(rekey_aws::IamRoleSessions::new(aws)));
        }
        engine = with_gcp(engine, &config).await?;
        engine = with_azure(engine, &config, clock.clone(), aws.as_ref())?;
        let publisher = match (config.events_bus(), &aws) {
            (Some(bus), Some(aws)) => Some(rekey_aws::EventBridgePublisher::new(aws, bus)),
            (Some(_), None) => anyhow::bail!("publishing to an EventBridge bus needs AWS"),
            (None, _) => None,
        };
        Ok(Self {
            engine,
            config,
            local,
            clock,
            collector,
            publisher,
            aws,
        })
    }

    /// Builds the engine from the environment: the file named by
    /// `REKEY_CONFIG`, local state in `REKEY_DATA_DIR` (or `/tmp/rekey`,
    /// the one writable place in Lambda), audit lines on stdout.
    pub async fn from_env() -> anyhow::Result<Self> {
        let path = std::env::var_os(CONFIG_ENV)
            .map(PathBuf::from)
            .with_context(|| format!("{CONFIG_ENV} must name the configuration file"))?;
        let config = Config::load(&path)?;
        let data_dir = std::env::var_os(DATA_DIR_ENV).map_or("/tmp/rekey".into(), PathBuf::from);
        let audit = Arc::new(rekey_core::audit::JsonLines::stdout());
        Self::build(config, &data_dir, audit).await
    }

    /// Publishes the audit events of the invocation that just ended to the
    /// configured EventBridge bus (rotation completed or failed, credential
    /// revoked), and forgets them. A function calls this before answering,
    /// since Lambda freezes it afterwards; without a bus it only forgets.
    /// A failure is logged, never raised: the invocation's work is done.
    pub async fn publish_events(&self) {
        let events = self.collector.drain();
        let Some(publisher) = &self.publisher else {
            return;
        };
        if let Err(error) = publisher.publish(&events).await {
            tracing::error!(%error, "failed to publish rekey events");
        }
    }

    /// A secret the function needs for itself, from the environment:
    /// `name` holds the value, or `name_ARN` names the Secrets Manager
    /// secret holding it, read now. `None` when neither is set; an ARN that
    /// cannot be read is an error, so a deployment never starts with a
    /// webhook silently disabled.
    pub async fn env_secret(&self, name: &str) -> anyhow::Result<Option<rekey_core::SecretValue>> {
        env_secret::resolve(name, self.aws.as_ref()).await
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The configuration it was built from.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Creates the configuration's `[[seed]]` credentials that the local
    /// store lacks, each with a first value from its policy's generator.
    /// Existing credentials keep their values. Returns the seeds created.
    pub async fn seed(&self) -> anyhow::Result<Vec<CredentialId>> {
        let Some(store) = &self.local else {
            return Ok(Vec::new());
        };
        let mut created = Vec::new();
        for seed in &self.config.seed {
            let id = CredentialId::new(rekey_core::Provider::Local, seed.name.clone());
            if store.describe(&id).await.is_ok() {
                continue;
            }
            let policy = self
                .config
                .policies
                .get(&seed.policy)
                .context("seed policy is checked")?;
            let mut tags = seed.tags.clone();
            tags.insert(POLICY_TAG.into(), seed.policy.clone());
            let value = policy.generator.generate(None)?;
            let made = store
                .ensure_credential(&seed.name, tags, Some(&value), self.clock.now())
                .await
                .with_context(|| format!("failed to seed credential {}", seed.name))?;
            created.push(made);
        }
        Ok(created)
    }
}

/// Adds the GCP Secret Manager store and the service-account key kind when
/// the configuration names `[stores.gcp_secret_manager]`.
async fn with_gcp(engine: Engine, config: &Config) -> anyhow::Result<Engine> {
    let Some(settings) = &config.stores.gcp_secret_manager else {
        return Ok(engine);
    };
    let clients = rekey_gcp::GcpClients::connect(settings)
        .await
        .context("failed to set up the GCP clients of [stores.gcp_secret_manager]")?;
    Ok(engine
        .with_store(Arc::new(rekey_gcp::SecretManagerStore::from_settings(
            &clients, settings,
        )))
        .with_kind(
            rekey_gcp::GCP_SERVICE_ACCOUNT_KEY,
            Arc::new(rekey_gcp::ServiceAccountKeys::new(&clients)),
        ))
}

/// Adds the Azure Key Vault store when the configuration names
/// `[stores.azure_key_vault]`; its `aws-web-identity` credential asks STS,
/// as `aws` says, for the federated tokens Entra takes.
fn with_azure(
    engine: Engine,
    config: &Config,
    clock: Arc<dyn Clock>,
    aws: Option<&aws_config::SdkConfig>,
) -> anyhow::Result<Engine> {
    let Some(settings) = &config.stores.azure_key_vault else {
        return Ok(engine);
    };
    let clients = match (settings.credential.web_identity_audience(), aws) {
        (Some(audience), Some(aws)) => {
            let tokens = aws_web_identity::StsWebIdentity::new(aws, audience);
            rekey_azure::AzureClients::connect_with_assertion(settings, Arc::new(tokens))
        }
        _ => rekey_azure::AzureClients::connect(settings),
    };
    let clients =
        clients.context("failed to set up the Key Vault clients of [stores.azure_key_vault]")?;
    let store = rekey_azure::KeyVaultStore::new(Arc::new(clients))
        .with_policies(config.policies.clone())
        .with_clock(clock);
    Ok(engine.with_store(Arc::new(store)))
}
