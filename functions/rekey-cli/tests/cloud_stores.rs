//! `rekey invoke` on the GCP and Azure sample notices, with a configuration
//! that puts the credentials in GCP Secret Manager and Azure Key Vault: the
//! official clients talk over HTTP(S) to the wire-level fakes in `tests/`
//! (no emulator of either API can be installed here), and the notice
//! changes what it asks for, once.

mod samples;

use std::path::{Path, PathBuf};
use std::process::Output;

use rekey_fake_azure::{FakeKeyVault, StoredVersion};
use rekey_fake_gcp::{FakeGcp, VersionState};
use samples::{GRID_SECRET, sample, sample_path};
use serde_json::Value;
use tokio::process::Command;

const POLICY: &str = r#"
[policies.demo]
max_age = "30d"
grace_period = "1h"
generator = { type = "password", length = 24, exclude_punctuation = true }
"#;

const GRID_TOPIC: &str = "/subscriptions/00000000-1111-2222-3333-444444444444/resourceGroups/rekey-demo/providers/Microsoft.KeyVault/vaults/rekey-demo-kv";
const AZURE_CLIENT: &str = "11111111-2222-3333-4444-555555555555";
const AZURE_SECRET: &str = "fake-entra-client-secret-for-rekey-invoke";

/// A directory holding the configuration file and the data directory.
struct Workspace {
    dir: tempfile::TempDir,
}

impl Workspace {
    fn new(config: &str) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("rekey.toml"), config).expect("config");
        Self { dir }
    }

    /// `rekey invoke rekey-rotate --event EVENT`, with nothing from the
    /// host's environment but what the test gives.
    fn command(&self, event: &Path) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_rekey"));
        command
            .args(["invoke", "rekey-rotate", "--event"])
            .arg(event)
            .arg("--config")
            .arg(self.dir.path().join("rekey.toml"))
            .arg("--data-dir")
            .arg(self.dir.path().join("data"))
            .env_clear()
            .env("HOME", self.dir.path())
            .env(rekey_rotate::EVENT_GRID_SECRET_ENV, GRID_SECRET)
            .env(rekey_azure::CLIENT_SECRET_ENV, AZURE_SECRET);
        command
    }

    async fn answer(&self, event: &Path) -> Value {
        Self::parse(&self.command(event).output().await.expect("rekey runs"))
    }

    /// The JSON answer of a successful run, checked to hold no secret.
    fn parse(output: &Output) -> Value {
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "{}\nstdout:\n{stdout}\nstderr:\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        for secret in [GRID_SECRET, AZURE_SECRET] {
            assert!(!stdout.contains(secret), "the answer holds a secret");
        }
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"))
    }
}

/// A GCP fake holding the managed secret the Secret Manager sample names,
/// its value older than the sample's publish time, and a workspace whose
/// configuration puts credentials in that GCP.
async fn gcp_workspace() -> (FakeGcp, Workspace) {
    let gcp = FakeGcp::start().await;
    gcp.create_secret(
        "rekey-demo",
        "payments-db",
        &[("rekey-policy", "demo")],
        &[],
        Some("old-payments-value"),
    );
    // The sample was published on 2026-12-01: make the value older than that.
    let three_years = std::time::Duration::from_secs(3 * 365 * 24 * 3600);
    gcp.backdate("rekey-demo", "payments-db", 1, three_years);
    let workspace = Workspace::new(&format!(
        r#"
[stores]
local = false

[stores.gcp_secret_manager]
projects = ["rekey-demo"]
secret_manager_endpoint = "{url}"
iam_endpoint = "{url}"
credentials = "anonymous"

[gcp.notifications]
subscriptions = ["projects/rekey-demo/subscriptions/rekey-rotate-push"]
{POLICY}"#,
        url = gcp.url()
    ));
    (gcp, workspace)
}

/// A Key Vault fake holding the managed secret the Event Grid sample
/// names (its seeded version answered too), and a workspace reaching it
/// with the Entra `credential`.
async fn azure_workspace(credential: &str) -> (FakeKeyVault, StoredVersion, Workspace) {
    let azure = FakeKeyVault::start()
        .await
        .expect("the Key Vault fake starts");
    let vault = azure.create_vault("rekey-demo-kv");
    let old = azure.seed(
        "rekey-demo-kv",
        "payments-db",
        "old-payments-value",
        &[("rekey:policy", "demo")],
    );
    let workspace = Workspace::new(&format!(
        r#"
[stores]
local = false

[stores.azure_key_vault]
vaults = ["{vault}"]
tenant_id = "{tenant}"
client_id = "{AZURE_CLIENT}"
credential = {credential}
authority_host = "{authority}"
ca_file = "{ca}"
resolve = {{ "{host}" = "127.0.0.1" }}
max_retries = 0

[azure.event_grid]
topics = ["{GRID_TOPIC}"]
{POLICY}"#,
        tenant = azure.tenant_id(),
        authority = azure.authority_host(),
        ca = azure.ca_file().display(),
        host = azure.vault_host("rekey-demo-kv"),
    ));
    (azure, old, workspace)
}

#[tokio::test]
async fn a_secret_manager_rotate_notice_adds_one_version_in_gcp() {
    let (gcp, workspace) = gcp_workspace().await;
    let notice = sample_path("gcp-secret-manager-rotate.json");

    let first = workspace.answer(&notice).await;
    assert_eq!(first["outcome"], "rotated", "{first}");
    let versions = gcp.versions("rekey-demo", "payments-db");
    assert_eq!(
        versions,
        vec![(1, VersionState::Enabled), (2, VersionState::Enabled)],
        "one new version; the old one keeps working through its grace period"
    );
    let aliases = gcp.aliases("rekey-demo", "payments-db");
    assert_eq!(aliases.get("current"), Some(&2), "{aliases:?}");
    assert_eq!(aliases.get("previous"), Some(&1), "{aliases:?}");
    let new = gcp
        .version_value("rekey-demo", "payments-db", 2)
        .expect("the new value");
    assert_eq!(new.chars().count(), 24);
    assert!(
        !first.to_string().contains(&new),
        "the answer holds the value"
    );

    let again = workspace.answer(&notice).await;
    assert_eq!(again["outcome"], "duplicate", "{again}");
    let version_add = workspace
        .answer(&sample_path("gcp-secret-manager-version-add.json"))
        .await;
    assert_eq!(version_add["outcome"], "ignored", "{version_add}");
    assert_eq!(gcp.versions("rekey-demo", "payments-db").len(), 2);
}

/// The Event Grid sample, naming `version` of the seeded secret rather
/// than the version id the sample was written with.
fn near_expiry_about(dir: &Path, vault_host: &str, version: &str) -> PathBuf {
    let mut request = sample("azure-event-grid-secret-near-expiry.json");
    let body = request["body"].as_str().expect("a body");
    let mut events: Value = serde_json::from_str(body).expect("JSON events");
    let data = &mut events[0]["data"];
    data["Version"] = version.into();
    data["Id"] = format!("https://{vault_host}/secrets/payments-db/{version}").into();
    request["body"] = events.to_string().into();
    let path = dir.join("near-expiry.json");
    std::fs::write(&path, request.to_string()).expect("write the event");
    path
}

#[tokio::test]
async fn a_key_vault_near_expiry_event_sets_one_new_version_in_azure() {
    let (azure, old, workspace) = azure_workspace(r#"{ type = "client-secret" }"#).await;
    azure.register_client_secret(AZURE_CLIENT, AZURE_SECRET);
    let host = azure.vault_host("rekey-demo-kv");
    let notice = near_expiry_about(workspace.dir.path(), &host, &old.id);

    let first = workspace.answer(&notice).await;
    assert_eq!(first["statusCode"], 200, "{first}");
    let body: Value = serde_json::from_str(first["body"].as_str().expect("body")).expect("JSON");
    assert_eq!(body["events"][0]["outcome"], "rotated", "{body}");

    let versions = azure.versions("rekey-demo-kv", "payments-db");
    assert_eq!(versions.len(), 2, "one new version: {versions:?}");
    let (before, newest) = (&versions[0], &versions[1]);
    assert_eq!(before.id, old.id);
    assert!(
        before.enabled,
        "the old value works through its grace period"
    );
    assert_eq!(before.value, "old-payments-value");
    assert_eq!(
        before.tags.get("rekey-stage").map(String::as_str),
        Some("previous")
    );
    assert_eq!(
        newest.tags.get("rekey-stage").map(String::as_str),
        Some("current")
    );
    assert_eq!(
        newest.tags.get("rekey:policy").map(String::as_str),
        Some("demo")
    );
    assert_eq!(newest.value.chars().count(), 24);
    assert!(
        newest.expires.is_some(),
        "the new version expires, so the next notice comes"
    );
    assert!(!first.to_string().contains(&newest.value));

    let again = workspace.answer(&notice).await;
    let body: Value = serde_json::from_str(again["body"].as_str().expect("body")).expect("JSON");
    assert_eq!(body["events"][0]["outcome"], "duplicate", "{body}");
    assert_eq!(azure.versions("rekey-demo-kv", "payments-db").len(), 2);
}

#[tokio::test]
async fn key_vault_is_reached_with_the_functions_aws_identity() {
    // The token STS issues for the function's role; the app registration's
    // federated credential trusts it. It is a test value, not a signed JWT:
    // the fake Entra endpoint compares it, as Entra checks its signature.
    let token = "eyJhbGciOiJSUzI1NiJ9.rekey-test-aws-web-identity.c2lnbmF0dXJl";
    let moto = rekey_e2e::Moto::start_with_env(&[("REKEY_TEST_WEB_IDENTITY_TOKEN", token)])
        .await
        .expect("moto must start");
    let (azure, old, workspace) = azure_workspace(r#"{ type = "aws-web-identity" }"#).await;
    azure.register_federated_token(AZURE_CLIENT, token);
    let host = azure.vault_host("rekey-demo-kv");
    let notice = near_expiry_about(workspace.dir.path(), &host, &old.id);
    moto.take_calls().await.expect("reset the call counts");

    let mut command = workspace.command(&notice);
    command
        .env("AWS_ENDPOINT_URL", moto.endpoint())
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove(rekey_azure::CLIENT_SECRET_ENV);
    let answer = Workspace::parse(&command.output().await.expect("rekey runs"));

    let body: Value = serde_json::from_str(answer["body"].as_str().expect("body")).expect("JSON");
    assert_eq!(body["events"][0]["outcome"], "rotated", "{body}");
    assert_eq!(azure.versions("rekey-demo-kv", "payments-db").len(), 2);
    let calls = moto.take_calls().await.expect("call counts");
    assert!(
        calls
            .get("sts.GetWebIdentityToken")
            .is_some_and(|n| *n >= 1),
        "the Entra token came from an AWS web identity token: {calls:?}"
    );
    assert!(azure.tokens_issued() >= 1);
}

#[tokio::test]
async fn concurrent_deliveries_of_a_rotate_notice_add_exactly_one_version() {
    let (gcp, workspace) = gcp_workspace().await;
    // Pub/Sub redelivers the same message, and a second rotation notice
    // may come with its own id: two of each, all at once.
    let redelivered = sample_path("gcp-secret-manager-rotate.json");
    let mut other = sample("gcp-secret-manager-rotate.json");
    other["message"]["messageId"] = "9876543210999999".into();
    other["message"]["message_id"] = "9876543210999999".into();
    let other_path = workspace.dir.path().join("other-notice.json");
    std::fs::write(&other_path, other.to_string()).expect("write the notice");

    let runs = [&redelivered, &redelivered, &other_path, &other_path]
        .map(|path| workspace.command(path).output());
    let outputs = futures::future::join_all(runs).await;

    let mut rotated = 0;
    for output in outputs {
        let output = output.expect("rekey runs");
        let answer: Value = serde_json::from_slice(&output.stdout).expect("a JSON answer");
        match answer["outcome"].as_str() {
            Some("rotated") => rotated += 1,
            Some("duplicate" | "already-rotated") => {}
            // A delivery that met another's rotation claim is refused as
            // retryable; Pub/Sub delivers it again later.
            _ => assert!(
                !output.status.success()
                    && matches!(
                        answer["errorType"].as_str(),
                        Some("Rekey.Conflict" | "Rekey.Retryable")
                    ),
                "{answer}"
            ),
        }
    }
    assert_eq!(rotated, 1, "exactly one delivery rotates");
    assert_eq!(
        gcp.versions("rekey-demo", "payments-db").len(),
        2,
        "exactly one new version"
    );
}
