//! One moto server per test: the AWS emulator the adapters are tested on.
//!
//! [`Moto::start`] runs `tests/rekey-e2e/moto_server.py` with the
//! repository's `.venv` (made by `scripts/setup-moto`) and waits for the
//! port it prints. The server lives as long as the [`Moto`] value: dropping
//! it, by a test ending or panicking, closes the server's stdin and kills
//! it. A missing venv or a server that does not start is an error naming
//! the fix; nothing is skipped.

use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context as _, bail, ensure};
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_secretsmanager::config::{Credentials, SharedCredentialsProvider};
use aws_sdk_secretsmanager::types::{RotationRulesType, Tag};
use rekey_aws::{DynamoDbLedger, SecretsManagerStore};
use rekey_core::{CredentialId, Provider};
use tokio::io::{AsyncBufReadExt as _, AsyncRead, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::time::timeout;

/// How long moto may take to print its port.
pub const START_TIMEOUT: Duration = Duration::from_secs(30);

/// How many lines of moto's stderr a start failure quotes.
const TAIL_LINES: usize = 40;

type Tail = Arc<Mutex<VecDeque<String>>>;

/// A running moto server, and clients configured for it.
#[derive(Debug)]
pub struct Moto {
    child: Child,
    /// Held open: the server exits when it closes.
    stdin: Option<ChildStdin>,
    port: u16,
    config: SdkConfig,
    tables: AtomicUsize,
}

/// The repository's root, two levels above this crate.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

impl Moto {
    /// Starts a moto server on a free loopback port and waits (at most
    /// [`START_TIMEOUT`]) until it accepts requests.
    pub async fn start() -> anyhow::Result<Self> {
        Self::start_with_env(&[]).await
    }

    /// Starts a moto server as [`Moto::start`] does, with `env` added to
    /// its environment: `INITIAL_NO_AUTH_ACTION_COUNT = "N"` makes it
    /// authenticate and authorize every request after the first N.
    pub async fn start_with_env(env: &[(&str, &str)]) -> anyhow::Result<Self> {
        let root = repo_root();
        let python = root.join(".venv/bin/python");
        ensure!(
            python.exists(),
            "moto is not installed: {} is missing; run scripts/setup-moto",
            python.display()
        );

        let mut child = Command::new(&python)
            .arg(root.join("tests/rekey-e2e/moto_server.py"))
            .current_dir(&root)
            .envs(env.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("failed to start moto with {}", python.display()))?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().context("moto's stdout is not piped")?;
        let stderr = child.stderr.take().context("moto's stderr is not piped")?;

        let tail = Tail::default();
        let stderr_drain = tokio::spawn(keep_tail(stderr, Arc::clone(&tail)));
        let port = match timeout(START_TIMEOUT, read_port(stdout)).await {
            Ok(Ok(port)) => port,
            Ok(Err(error)) => return Err(start_failed(child, stderr_drain, &tail, error).await),
            Err(_) => {
                let error = anyhow::anyhow!("it printed no port within {START_TIMEOUT:?}");
                return Err(start_failed(child, stderr_drain, &tail, error).await);
            }
        };

        let config = sdk_config(port).await;
        Ok(Self {
            child,
            stdin,
            port,
            config,
            tables: AtomicUsize::new(0),
        })
    }

    /// The loopback port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server's URL: `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        endpoint(self.port)
    }

    /// The AWS actions called on this server since the last call of this
    /// method (or its start), with how often each was called: what a flow
    /// cost in API calls.
    pub async fn take_calls(&self) -> anyhow::Result<BTreeMap<String, u64>> {
        let url = format!("{}/rekey-test/calls", self.endpoint());
        let body = reqwest::get(&url)
            .await
            .and_then(reqwest::Response::error_for_status)
            .context("failed to ask moto for its call counts")?
            .text()
            .await
            .context("failed to read moto's call counts")?;
        serde_json::from_str(&body).context("moto's call counts are not JSON")
    }

    /// An SDK configuration for this server: its endpoint, `us-east-1`,
    /// static test credentials, and nothing from the host's environment.
    pub fn sdk_config(&self) -> SdkConfig {
        self.config.clone()
    }

    /// From now on, this value's clients and adapters sign with this access
    /// key instead of the static test credentials: for a server that
    /// enforces IAM authentication (see [`Moto::start_with_env`]).
    pub fn sign_with(&mut self, access_key_id: &str, secret_access_key: &str) {
        let credentials = Credentials::new(
            access_key_id,
            secret_access_key,
            None,
            None,
            "rekey-e2e-signer",
        );
        self.config = self
            .config
            .to_builder()
            .credentials_provider(SharedCredentialsProvider::new(credentials))
            .build();
    }

    /// A Secrets Manager client for this server.
    pub fn secrets_manager(&self) -> aws_sdk_secretsmanager::Client {
        aws_sdk_secretsmanager::Client::new(&self.config)
    }

    /// A DynamoDB client for this server.
    pub fn dynamodb(&self) -> aws_sdk_dynamodb::Client {
        aws_sdk_dynamodb::Client::new(&self.config)
    }

    /// The Secrets Manager store, talking to this server.
    pub fn store(&self) -> SecretsManagerStore {
        SecretsManagerStore::new(&self.config)
    }

    /// Creates secret `name` with `tags` and one current version holding
    /// `value`, with rotation enabled. Answers its id (the ARN as locator).
    pub async fn create_secret(
        &self,
        name: &str,
        tags: &[(&str, &str)],
        value: &str,
    ) -> anyhow::Result<CredentialId> {
        let (id, first) = self.create_plain_secret(name, tags, value).await?;
        self.enable_rotation(&id, &first).await?;
        Ok(id)
    }

    /// Creates secret `name` as [`Moto::create_secret`] does, with rotation
    /// left disabled.
    pub async fn create_secret_without_rotation(
        &self,
        name: &str,
        tags: &[(&str, &str)],
        value: &str,
    ) -> anyhow::Result<CredentialId> {
        Ok(self.create_plain_secret(name, tags, value).await?.0)
    }

    /// Creates a ledger table with a fresh name (`rekey-ledger-N`) and
    /// answers the ledger on it.
    pub async fn ledger(&self) -> anyhow::Result<DynamoDbLedger> {
        let number = self.tables.fetch_add(1, Ordering::Relaxed) + 1;
        self.create_ledger_table(&format!("rekey-ledger-{number}"))
            .await
    }

    /// Creates the ledger table `table` (if missing) and answers the
    /// ledger on it.
    pub async fn create_ledger_table(&self, table: &str) -> anyhow::Result<DynamoDbLedger> {
        let ledger = DynamoDbLedger::new(&self.config, table);
        ledger
            .create_table()
            .await
            .with_context(|| format!("failed to create ledger table {table}"))?;
        Ok(ledger)
    }

    /// Creates the secret; answers its id and its first version's id.
    async fn create_plain_secret(
        &self,
        name: &str,
        tags: &[(&str, &str)],
        value: &str,
    ) -> anyhow::Result<(CredentialId, String)> {
        let tags = tags
            .iter()
            .map(|(k, v)| Tag::builder().key(*k).value(*v).build());
        let created = self
            .secrets_manager()
            .create_secret()
            .name(name)
            .secret_string(value)
            .set_tags(Some(tags.collect()))
            .send()
            .await
            .with_context(|| format!("failed to create secret {name}"))?;

        let arn = created.arn().context("CreateSecret answered no ARN")?;
        let version = created
            .version_id()
            .context("CreateSecret answered no version")?;
        let id = CredentialId::new(Provider::AwsSecretsManager, arn);
        Ok((id, version.to_owned()))
    }

    /// Turns rotation on. AWS needs a rotation Lambda for that; moto takes
    /// rotation rules alone, but then moves `AWSCURRENT` to a copy of the
    /// value and `AWSPREVIOUS` to `first`, which is taken off again so the
    /// secret looks freshly created.
    async fn enable_rotation(&self, id: &CredentialId, first: &str) -> anyhow::Result<()> {
        let client = self.secrets_manager();
        let rules = RotationRulesType::builder()
            .automatically_after_days(30)
            .build();
        client
            .rotate_secret()
            .secret_id(&id.locator)
            .rotation_rules(rules)
            .rotate_immediately(false)
            .send()
            .await
            .with_context(|| format!("failed to enable rotation of {id}"))?;

        client
            .update_secret_version_stage()
            .secret_id(&id.locator)
            .version_stage("AWSPREVIOUS")
            .remove_from_version_id(first)
            .send()
            .await
            .with_context(|| format!("failed to clear AWSPREVIOUS of {id}"))?;
        Ok(())
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        // Closing stdin asks the server to stop; the kill makes sure.
        drop(self.stdin.take());
        if let Err(error) = self.child.start_kill() {
            tracing::debug!(%error, "moto had already exited");
        }
    }
}

fn endpoint(port: u16) -> String {
    format!("http://127.0.0.1:{port}")
}

async fn sdk_config(port: u16) -> SdkConfig {
    let credentials = Credentials::new("testing", "testing", None, None, "rekey-e2e");
    aws_config::defaults(BehaviorVersion::latest())
        .empty_test_environment()
        .endpoint_url(endpoint(port))
        .region(Region::new("us-east-1"))
        .credentials_provider(credentials)
        .load()
        .await
}

/// Reads stdout until the `PORT <n>` line.
async fn read_port(stdout: impl AsyncRead + Unpin) -> anyhow::Result<u16> {
    let mut lines = BufReader::new(stdout).lines();
    while let Some(line) = lines.next_line().await? {
        if let Some(port) = line.strip_prefix("PORT ") {
            return port
                .trim()
                .parse()
                .with_context(|| format!("it printed a bad port line: {line}"));
        }
    }
    bail!("it exited before printing its port")
}

/// Keeps the last [`TAIL_LINES`] lines of `stream` in `tail` until it ends.
async fn keep_tail(stream: impl AsyncRead + Unpin, tail: Tail) {
    let mut lines = BufReader::new(stream).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let mut kept = tail.lock().unwrap_or_else(|p| p.into_inner());
        if kept.len() == TAIL_LINES {
            kept.pop_front();
        }
        kept.push_back(line);
    }
}

/// The error for a server that did not start, quoting its last output.
async fn start_failed(
    mut child: Child,
    stderr_drain: tokio::task::JoinHandle<()>,
    tail: &Tail,
    error: anyhow::Error,
) -> anyhow::Error {
    if let Err(kill) = child.start_kill() {
        tracing::debug!(error = %kill, "moto had already exited");
    }
    let status = timeout(Duration::from_secs(5), child.wait()).await;
    let _drained = timeout(Duration::from_secs(5), stderr_drain).await;

    let kept = tail.lock().unwrap_or_else(|p| p.into_inner());
    let output = kept.iter().cloned().collect::<Vec<_>>().join("\n");
    let status = match status {
        Ok(Ok(status)) => status.to_string(),
        _ => "unknown".to_owned(),
    };
    anyhow::anyhow!(
        "moto did not start: {error:#} (exit status {status}; was scripts/setup-moto run?)\n\
         its last output:\n{output}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_port_line_is_found_among_other_output() {
        let output: &[u8] = b"starting\nPORT 41234\n";

        assert_eq!(read_port(output).await.expect("a port"), 41234);
    }

    #[tokio::test]
    async fn output_without_a_port_line_is_an_error() {
        let output: &[u8] = b"Traceback: ModuleNotFoundError: moto\n";

        let error = read_port(output).await.expect_err("no port");

        assert!(error.to_string().contains("exited before"), "{error}");
    }
}
