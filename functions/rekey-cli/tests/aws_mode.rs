//! `rekey` pointed at AWS, as the README shows it: the binary, a
//! configuration with Secrets Manager and a DynamoDB ledger, and the
//! standard AWS environment variables aimed at a moto server.
//!
//! moto cannot invoke a rotation function, so each test starts the
//! rotation in moto and then replays Secrets Manager's four step events
//! with `rekey invoke`, as an operator would.

use std::ffi::OsStr;
use std::fmt::Debug;
use std::process::Output;

use rekey_core::{CredentialId, VersionId};
use rekey_e2e::moto::repo_root;
use rekey_e2e::{Moto, start_native_rotation};
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::process::Command;

const LEDGER_TABLE: &str = "rekey-ledger";

const CONFIG: &str = r#"
[stores]
local = false
aws_secrets_manager = true

[ledger]
backend = "dynamodb"
table = "rekey-ledger"

[policies.native]
max_age = "30d"
generator = { type = "password", length = 24, exclude_punctuation = true }
"#;

/// The sample step events, in the order Secrets Manager sends them.
const STEPS: [(&str, &str); 4] = [
    ("createSecret", "events/secretsmanager-rotation-create.json"),
    ("setSecret", "events/secretsmanager-rotation-set.json"),
    ("testSecret", "events/secretsmanager-rotation-test.json"),
    ("finishSecret", "events/secretsmanager-rotation-finish.json"),
];

/// A moto server with the ledger table, and a directory holding the
/// configuration file and the data directory.
struct AwsWorkspace {
    moto: Moto,
    dir: TempDir,
}

impl AwsWorkspace {
    async fn start() -> Self {
        let moto = Moto::start().await.expect("moto must start");
        moto.create_ledger_table(LEDGER_TABLE)
            .await
            .expect("ledger table");
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("rekey.toml"), CONFIG).expect("write config");
        Self { moto, dir }
    }

    /// `rekey ARGS` run from the repository's root with only the AWS
    /// environment the README names: nothing from the host's profile,
    /// credentials files or instance metadata.
    fn command(&self, args: &[impl AsRef<OsStr>]) -> Command {
        let home = self.dir.path().join("home");
        let mut command = Command::new(env!("CARGO_BIN_EXE_rekey"));
        command
            .args(args)
            .arg("--config")
            .arg(self.dir.path().join("rekey.toml"))
            .arg("--data-dir")
            .arg(self.dir.path().join("data"))
            .current_dir(repo_root())
            .env_clear()
            .env("HOME", &home)
            .env("AWS_CONFIG_FILE", home.join("aws-config"))
            .env("AWS_SHARED_CREDENTIALS_FILE", home.join("aws-credentials"))
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_ENDPOINT_URL", self.moto.endpoint())
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing");
        command
    }

    async fn run(&self, args: &[impl AsRef<OsStr>]) -> Output {
        self.command(args).output().await.expect("rekey runs")
    }

    /// Runs `rekey ARGS`, expects success and answers its stdout as JSON.
    async fn json(&self, args: &[impl AsRef<OsStr> + Debug]) -> Value {
        let output = self.run(args).await;
        assert!(
            output.status.success(),
            "rekey {args:?}: {}",
            report(&output)
        );
        serde_json::from_slice(&output.stdout)
            .unwrap_or_else(|e| panic!("rekey {args:?} printed no JSON ({e}): {}", report(&output)))
    }

    async fn secret(&self, name: &str, value: &str) -> CredentialId {
        self.moto
            .create_secret(name, &[("rekey:policy", "native")], value)
            .await
            .expect("create secret")
    }

    /// Staging labels by version id.
    async fn stages(&self, id: &CredentialId) -> Value {
        let described = self
            .moto
            .secrets_manager()
            .describe_secret()
            .secret_id(&id.locator)
            .send()
            .await
            .expect("describe secret");
        let versions = described
            .version_ids_to_stages()
            .cloned()
            .unwrap_or_default();
        let labelled = versions
            .into_iter()
            .filter(|(_, labels)| !labels.is_empty());
        labelled.map(|(v, labels)| (v, json!(labels))).collect()
    }

    /// `GetSecretValue` of version `version`.
    async fn value_of(&self, id: &CredentialId, version: &str) -> String {
        let answer = self
            .moto
            .secrets_manager()
            .get_secret_value()
            .secret_id(&id.locator)
            .version_id(version)
            .send()
            .await
            .unwrap_or_else(|e| panic!("get version {version} of {id}: {e:?}"));
        answer.secret_string().expect("a string value").to_owned()
    }
}

fn report(output: &Output) -> String {
    format!(
        "{}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// `rekey invoke rekey-rotate` on sample event `file`, aimed at `secret`
/// and the rotation `token`.
fn invoke_args(file: &str, secret: &str, token: &str) -> Vec<String> {
    vec![
        "invoke".into(),
        "rekey-rotate".into(),
        "--event".into(),
        file.into(),
        "--set".into(),
        format!("SecretId={secret}"),
        "--set".into(),
        format!("ClientRequestToken={token}"),
    ]
}

fn current_of(stages: &Value) -> Option<&str> {
    let object = stages.as_object()?;
    let mut current = object.iter().filter(|(_, labels)| {
        labels
            .as_array()
            .is_some_and(|l| l.contains(&json!("AWSCURRENT")))
    });
    current.next().map(|(version, _)| version.as_str())
}

#[tokio::test]
async fn invoke_replays_the_four_sample_steps_and_inventory_shows_the_new_version() {
    let workspace = AwsWorkspace::start().await;
    let id = workspace.secret("orders-db", "old-orders-value").await;
    let old = current_of(&workspace.stages(&id).await)
        .expect("a current version")
        .to_owned();
    let token = VersionId::generate();
    start_native_rotation(&workspace.moto, &id, &token)
        .await
        .expect("the rotation starts");

    let (create, file) = STEPS[0];
    let args = invoke_args(file, &id.locator, token.as_str());
    let answer = workspace.json(&args).await;
    assert_eq!(
        answer,
        json!({"step": create, "secretId": id.locator, "version": token.as_str(), "outcome": "done"})
    );
    let created = workspace.value_of(&id, token.as_str()).await;
    assert_eq!(created.chars().count(), 24);
    assert!(
        created.chars().all(|c| c.is_ascii_alphanumeric()),
        "{created:?}"
    );
    assert_eq!(
        workspace.stages(&id).await,
        json!({old.as_str(): ["AWSCURRENT"], token.as_str(): ["AWSPENDING"]})
    );

    for (step, file) in &STEPS[1..] {
        let args = invoke_args(file, &id.locator, token.as_str());
        let answer = workspace.json(&args).await;
        assert_eq!(answer["step"], *step);
        assert_eq!(answer["outcome"], "done", "{step}: {answer}");
    }
    assert_eq!(
        workspace.stages(&id).await,
        json!({old.as_str(): ["AWSPREVIOUS"], token.as_str(): ["AWSCURRENT"]})
    );
    assert_eq!(workspace.value_of(&id, token.as_str()).await, created);
    assert_eq!(workspace.value_of(&id, &old).await, "old-orders-value");

    let inventory = workspace.json(&["inventory", "--json"]).await;
    let entries = inventory.as_array().expect("a JSON array");
    assert_eq!(entries.len(), 1, "{inventory}");
    let entry = &entries[0];
    assert_eq!(entry["credential"]["locator"], id.locator.as_str());
    assert_eq!(entry["name"], "orders-db");
    assert_eq!(entry["policy"], "native");
    assert_eq!(entry["current_version"], token.as_str());
    assert_eq!(entry["previous_version"], old.as_str());
    assert_eq!(entry["pending_version"], Value::Null);
    assert_eq!(entry["problem"], Value::Null);
}

#[tokio::test]
async fn invoke_with_a_token_that_is_no_version_exits_1_with_a_typed_error() {
    let workspace = AwsWorkspace::start().await;
    let id = workspace.secret("orders-db", "old-orders-value").await;
    let stages = workspace.stages(&id).await;
    let stranger = VersionId::generate();

    let args = invoke_args(STEPS[0].1, &id.locator, stranger.as_str());
    let output = workspace.run(&args).await;

    assert_eq!(output.status.code(), Some(1), "{}", report(&output));
    let answer: Value = serde_json::from_slice(&output.stdout).expect("a JSON error");
    assert_eq!(answer["errorType"], "Rekey.NotFound", "{answer}");
    let message = answer["errorMessage"].as_str().expect("a message");
    assert!(message.contains(stranger.as_str()), "{message}");
    assert_eq!(workspace.stages(&id).await, stages);
}

/// `rekey invoke rekey-anomaly` on a signed-webhook request whose body
/// names access key `key_id`, signed with `secret` now.
fn signed_webhook_request(dir: &std::path::Path, secret: &str, key_id: &str) -> std::path::PathBuf {
    let body = json!({"id": format!("scan-{key_id}"), "identifier": key_id}).to_string();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let signature = rekey_anomaly::signed_webhook_signature(
        &rekey_core::SecretValue::new(secret.into()),
        now,
        body.as_bytes(),
    );
    let request = json!({
        "version": "2.0",
        "rawPath": rekey_anomaly::SIGNED_PATH,
        "headers": {
            "content-type": "application/json",
            "x-rekey-timestamp": now.to_string(),
            "x-rekey-signature": signature,
        },
        "requestContext": {"http": {"method": "POST", "path": rekey_anomaly::SIGNED_PATH}},
        "body": body,
        "isBase64Encoded": false,
    });
    let path = dir.join(format!("signed-{key_id}.json"));
    std::fs::write(&path, request.to_string()).expect("write the request");
    path
}

#[tokio::test]
async fn webhook_secrets_are_read_from_the_secrets_their_arn_variables_name() {
    let workspace = AwsWorkspace::start().await;
    let created = workspace
        .moto
        .secrets_manager()
        .create_secret()
        .name("rekey/signed-webhook-key")
        .secret_string("hook-key-from-secrets-manager")
        .send()
        .await
        .expect("create the webhook's secret");
    let arn = created.arn().expect("an ARN").to_owned();
    let dir = workspace.dir.path();
    let invoke_with = |request: &std::path::Path, arn: &str| {
        let args = [
            OsStr::new("invoke"),
            OsStr::new("rekey-anomaly"),
            OsStr::new("--event"),
        ];
        let mut command = workspace.command(&[&args[..], &[request.as_os_str()]].concat());
        command.env("REKEY_SIGNED_WEBHOOK_SECRET_ARN", arn);
        command
    };
    let invoke = |request: &std::path::Path| invoke_with(request, &arn);

    let good = signed_webhook_request(dir, "hook-key-from-secrets-manager", "AKIAIOSFODNN7EXAMPLE");
    let output = invoke(&good).output().await.expect("rekey runs");
    assert!(output.status.success(), "{}", report(&output));
    let answer: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(answer["statusCode"], 200, "{answer}");
    let body: Value = serde_json::from_str(answer["body"].as_str().expect("a body")).expect("JSON");
    assert_eq!(body["outcome"], "unmatched", "{body}");

    let forged = signed_webhook_request(dir, "some-other-key", "AKIAI44QH8DHBEXAMPLE");
    let output = invoke(&forged).output().await.expect("rekey runs");
    let answer: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(answer["statusCode"], 401, "{answer}");

    let output = invoke_with(&good, &format!("{arn}-missing"))
        .output()
        .await
        .expect("rekey runs");
    assert!(!output.status.success(), "{}", report(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("REKEY_SIGNED_WEBHOOK_SECRET_ARN"),
        "the error names the variable: {stderr}"
    );
    assert!(
        !stderr.contains("hook-key-from-secrets-manager"),
        "{stderr}"
    );
}
