//! `rekey invoke` and `rekey serve` on the GCP and Azure samples: each is
//! routed to its function and answered by the same routes a deployment
//! runs. Local mode has no GCP or Azure store, so the notices are
//! acknowledged as not managed here; the engine's side is tested in
//! `rekey-rotate` and `rekey-sweep` on in-memory stores.

mod samples;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use samples::{GRID_SECRET, sample, sample_path};
use serde_json::{Value, json};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../infra/rekey-http/tests/fixtures")
        .join(name)
}

struct Workspace {
    dir: tempfile::TempDir,
}

impl Workspace {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = format!(
            r#"
[gcp.notifications]
subscriptions = ["projects/rekey-demo/subscriptions/rekey-rotate-push"]

[gcp.scheduler]
audience = "https://rekey-sweep.example.run.app/gcp/scheduler"
service_account_email = "rekey-scheduler@rekey-demo.iam.gserviceaccount.com"
jwks = "{}"

[azure.event_grid]
topics = ["/subscriptions/00000000-1111-2222-3333-444444444444/resourceGroups/rekey-demo/providers/Microsoft.KeyVault/vaults/rekey-demo-kv"]
"#,
            fixture("test-jwks.json").display()
        );
        std::fs::write(dir.path().join("rekey.toml"), config).expect("config");
        Self { dir }
    }

    fn invoke(&self, function: &str, event: &Path) -> Output {
        Command::new(env!("CARGO_BIN_EXE_rekey"))
            .args(["invoke", function, "--event"])
            .arg(event)
            .arg("--config")
            .arg(self.dir.path().join("rekey.toml"))
            .arg("--data-dir")
            .arg(self.dir.path().join("data"))
            .env(rekey_rotate::EVENT_GRID_SECRET_ENV, GRID_SECRET)
            .env_remove("RUST_LOG")
            .output()
            .expect("rekey runs")
    }

    fn invoke_json(&self, function: &str, event: &Path) -> Value {
        let output = self.invoke(function, event);
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(!stdout.contains(GRID_SECRET), "the answer holds the secret");
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"))
    }
}

#[test]
fn invoke_routes_secret_manager_pushes_to_rekey_rotate() {
    let workspace = Workspace::new();

    let rotate = workspace.invoke_json(
        "rekey-rotate",
        &sample_path("gcp-secret-manager-rotate.json"),
    );
    assert_eq!(rotate["outcome"], "not-managed", "{rotate}");
    let add = workspace.invoke_json(
        "rekey-rotate",
        &sample_path("gcp-secret-manager-version-add.json"),
    );
    assert_eq!(add["outcome"], "ignored", "{add}");
}

#[test]
fn invoke_answers_the_event_grid_samples_as_function_url_requests() {
    let workspace = Workspace::new();

    for name in [
        "azure-event-grid-secret-near-expiry.json",
        "azure-cloudevents-secret-near-expiry.json",
    ] {
        let response = workspace.invoke_json("rekey-rotate", &sample_path(name));
        assert_eq!(response["statusCode"], 200, "{name}: {response}");
        let body: Value =
            serde_json::from_str(response["body"].as_str().expect("body")).expect("JSON");
        assert_eq!(
            body["events"][0]["outcome"], "not-managed",
            "{name}: {body}"
        );
    }

    let validation = workspace.invoke_json(
        "rekey-rotate",
        &sample_path("azure-event-grid-subscription-validation.json"),
    );
    let body: Value =
        serde_json::from_str(validation["body"].as_str().expect("body")).expect("JSON");
    assert_eq!(
        body["validationResponse"],
        "512d38b6-c7b8-40c8-89fe-f46f9e9622b6"
    );
}

fn fresh_scheduler_token() -> String {
    let pem = std::fs::read(fixture("test-oidc-key.pem")).expect("key");
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(&pem).expect("RSA key");
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = Some("rekey-test-key-1".into());
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let claims = json!({
        "iss": "https://accounts.google.com",
        "aud": "https://rekey-sweep.example.run.app/gcp/scheduler",
        "email": "rekey-scheduler@rekey-demo.iam.gserviceaccount.com",
        "email_verified": true, "iat": now, "exp": now + 600
    });
    jsonwebtoken::encode(&header, &claims, &key).expect("signs")
}

#[test]
fn invoke_routes_cloud_scheduler_calls_to_rekey_sweep() {
    let workspace = Workspace::new();

    // The sample's token has expired: the call is refused, naming why.
    let stale = workspace.invoke_json("rekey-sweep", &sample_path("gcp-cloud-scheduler.json"));
    assert_eq!(stale["statusCode"], 401, "{stale}");
    assert!(
        stale["body"]
            .as_str()
            .is_some_and(|b| b.contains("expired")),
        "{stale}"
    );

    let mut call = sample("gcp-cloud-scheduler.json");
    call["headers"]["authorization"] = json!(format!("Bearer {}", fresh_scheduler_token()));
    let path = workspace.dir.path().join("scheduler.json");
    std::fs::write(&path, call.to_string()).expect("write");
    let fresh = workspace.invoke_json("rekey-sweep", &path);
    assert_eq!(fresh["statusCode"], 200, "{fresh}");
    let summary: Value = serde_json::from_str(fresh["body"].as_str().expect("body")).expect("JSON");
    assert!(summary["examined"].is_u64(), "{summary}");
}

#[test]
fn serve_mounts_the_native_trigger_routes() {
    use std::io::{BufRead, BufReader, Read, Write};

    let workspace = Workspace::new();
    let mut child = Command::new(env!("CARGO_BIN_EXE_rekey"))
        .args(["serve", "--listen", "127.0.0.1:0", "--every", "1h"])
        .arg("--config")
        .arg(workspace.dir.path().join("rekey.toml"))
        .arg("--data-dir")
        .arg(workspace.dir.path().join("data"))
        .env(rekey_rotate::EVENT_GRID_SECRET_ENV, GRID_SECRET)
        .env("RUST_LOG", "info")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("serve starts");
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = BufReader::new(stderr).lines().map_while(Result::ok);
    let line = lines
        .find(|l| l.contains("rekey serving locally"))
        .expect("serving");
    let address = line
        .split("listen=")
        .nth(1)
        .and_then(|a| a.split_whitespace().next())
        .expect("address")
        .to_owned();
    std::thread::spawn(move || lines.for_each(drop));

    let request = |method: &str, path: &str, headers: &str, body: &str| {
        let mut stream = std::net::TcpStream::connect(&address).expect("connect");
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n{headers}Connection: close\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(head.as_bytes()).expect("send");
        let mut response = String::new();
        let _ = stream.read_to_string(&mut response);
        response
    };

    let push = sample("gcp-secret-manager-rotate.json").to_string();
    let answer = request("POST", "/gcp/secret-manager", "", &push);
    assert!(answer.starts_with("HTTP/1.1 202"), "{answer}");
    assert!(answer.contains("not-managed"), "{answer}");
    // The same delivery through /events, detected by shape: one ledger, a duplicate.
    let detected = request("POST", "/events", "", &push);
    assert!(
        detected.starts_with("HTTP/1.1 200") && detected.contains("duplicate"),
        "{detected}"
    );

    let secret = format!(
        "x-rekey-event-grid-secret: {GRID_SECRET}\r\nWebHook-Request-Origin: eventgrid.azure.net\r\n"
    );
    let handshake = request("OPTIONS", "/azure/event-grid", &secret, "");
    assert!(handshake.starts_with("HTTP/1.1 200"), "{handshake}");
    assert!(
        handshake
            .to_ascii_lowercase()
            .contains("webhook-allowed-origin: eventgrid.azure.net")
    );
    let unsigned = request(
        "OPTIONS",
        "/azure/event-grid",
        "WebHook-Request-Origin: x\r\n",
        "",
    );
    assert!(unsigned.starts_with("HTTP/1.1 401"), "{unsigned}");
    let scheduler = request("POST", "/gcp/scheduler", "", "{}");
    assert!(scheduler.starts_with("HTTP/1.1 401"), "{scheduler}");

    let _ = child.kill();
    let _ = child.wait();
}
