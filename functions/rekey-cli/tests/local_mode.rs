//! `rekey` as a user meets it: the binary, a configuration file and the
//! embedded store in a temporary directory.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

const FAST: &str = r#"
[schedule]
every = "1s"

[policies.fast]
max_age = "2s"
grace_period = "1s"
generator = { type = "bytes", length = 16, encoding = "hex" }

[policies.slow]
max_age = "1d"

[[seed]]
name = "app/token"
policy = "fast"

[[seed]]
name = "app/steady"
policy = "slow"
"#;

struct Workspace {
    dir: tempfile::TempDir,
}

impl Workspace {
    fn new(config: &str) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("rekey.toml"), config).expect("write config");
        Self { dir }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_rekey"));
        command
            .args(args)
            .arg("--config")
            .arg(self.dir.path().join("rekey.toml"))
            .arg("--data-dir")
            .arg(self.data_dir())
            .env_remove("RUST_LOG");
        command
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("rekey runs")
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn serve(&self) -> Server {
        self.serve_with(&[])
    }

    fn serve_with(&self, env: &[(&str, &str)]) -> Server {
        let mut child = self
            .command(&["serve", "--listen", "127.0.0.1:0"])
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("rekey serve starts");
        let (lines, received) = mpsc::channel();
        forward(child.stdout.take().expect("stdout"), "out", lines.clone());
        forward(child.stderr.take().expect("stderr"), "err", lines);
        let mut server = Server {
            child,
            received,
            audit: Vec::new(),
            address: String::new(),
        };
        let line = server.wait_for("err", |l| l.contains("rekey serving locally"));
        let address = line.split("listen=").nth(1).expect("address logged");
        server.address = address
            .split_whitespace()
            .next()
            .expect("address")
            .to_owned();
        server
    }
}

fn forward(
    stream: impl Read + Send + 'static,
    name: &'static str,
    lines: mpsc::Sender<(&'static str, String)>,
) {
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            if lines.send((name, line)).is_err() {
                break;
            }
        }
    });
}

struct Server {
    child: Child,
    received: mpsc::Receiver<(&'static str, String)>,
    audit: Vec<Value>,
    address: String,
}

impl Server {
    /// Waits (at most 30 s) for a line on `stream` that satisfies `test`,
    /// keeping every audit line seen on the way.
    fn wait_for(&mut self, stream: &str, test: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            let Ok((name, line)) = self.received.recv_timeout(left) else {
                break;
            };
            if name == "out" {
                self.audit
                    .push(serde_json::from_str(&line).expect("stdout holds only JSON audit lines"));
            }
            if name == stream && test(&line) {
                return line;
            }
        }
        panic!(
            "no matching line on {stream} within 30 s; audit so far: {:?}",
            self.audit
        );
    }

    /// Keeps reading lines for `period`, recording audit lines.
    fn drain(&mut self, period: Duration) {
        let deadline = Instant::now() + period;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            let Ok((name, line)) = self.received.recv_timeout(left) else {
                break;
            };
            if name == "out" {
                self.audit
                    .push(serde_json::from_str(&line).expect("stdout holds only JSON audit lines"));
            }
        }
    }

    fn request(&self, method: &str, path: &str, body: &[u8]) -> (u16, String) {
        self.request_with(method, path, &[], body)
    }

    fn request_with(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, String)],
        body: &[u8],
    ) -> (u16, String) {
        let mut stream = TcpStream::connect(&self.address).expect("connect");
        let extra: String = headers
            .iter()
            .map(|(k, v)| format!("{k}: {v}\r\n"))
            .collect();
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{extra}Connection: close\r\n\r\n",
            self.address,
            body.len()
        );
        stream.write_all(head.as_bytes()).expect("send head");
        let _ = stream.write_all(body);
        let mut response = String::new();
        let _ = stream.read_to_string(&mut response);
        let status = response
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let body = response
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_owned())
            .unwrap_or_default();
        (status, body)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn sample(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../events")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn json(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}",
            String::from_utf8_lossy(&output.stdout)
        )
    })
}

#[test]
fn serve_rotates_a_due_credential_and_inventory_shows_it() {
    let workspace = Workspace::new(FAST);
    let mut server = workspace.serve();

    server.wait_for("out", |l| {
        l.contains("\"action\":\"promote\"") && l.contains("succeeded")
    });
    let promoted = server
        .audit
        .iter()
        .rev()
        .find(|e| e["action"] == "promote")
        .expect("promotion")
        .clone();
    drop(server);

    assert_eq!(promoted["credential"]["locator"], "app/token");
    let inventory = json(&workspace.run(&["inventory", "--json"]));
    let token = inventory
        .as_array()
        .expect("list")
        .iter()
        .find(|e| e["name"] == "app/token")
        .expect("listed");
    assert_eq!(token["current_version"], promoted["version"]);
    assert_eq!(token["previous_version"], promoted["previous_version"]);
    let steady = inventory
        .as_array()
        .expect("list")
        .iter()
        .find(|e| e["name"] == "app/steady")
        .expect("listed");
    assert!(
        steady["previous_version"].is_null(),
        "the 1-day policy was not rotated"
    );
}

#[test]
fn the_data_directory_is_private_to_its_owner() {
    use std::os::unix::fs::PermissionsExt as _;

    let workspace = Workspace::new(FAST);
    assert!(workspace.run(&["inventory"]).status.success());

    let mode = |p: &Path| std::fs::metadata(p).expect("exists").permissions().mode() & 0o777;
    assert_eq!(mode(&workspace.data_dir()), 0o700);
    assert_eq!(mode(&workspace.data_dir().join("rekey.db")), 0o600);
}

#[test]
fn invoke_runs_the_sweep_on_each_schedule_sample() {
    let workspace = Workspace::new(FAST);

    for event in [
        "eventbridge-scheduled-rule.json",
        "eventbridge-scheduler.json",
    ] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../events")
            .join(event);
        let output = workspace.run(&[
            "invoke",
            "rekey-sweep",
            "--event",
            path.to_str().expect("utf-8"),
        ]);

        assert!(
            output.status.success(),
            "{event}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let answer = json(&output);
        assert!(
            answer["examined"].is_u64() && answer["failed"].as_array().is_some_and(Vec::is_empty),
            "{answer}"
        );
    }
}

#[test]
fn invoke_refuses_bad_input_with_a_typed_error() {
    let workspace = Workspace::new(FAST);
    let bad = workspace.dir.path().join("bad.json");

    std::fs::write(&bad, br#"{"Step": "createSecret", "SecretId": "x""#).expect("write");
    let truncated = workspace.run(&[
        "invoke",
        "rekey-rotate",
        "--event",
        bad.to_str().expect("utf-8"),
    ]);
    assert!(!truncated.status.success());
    assert!(String::from_utf8_lossy(&truncated.stderr).contains("not valid JSON"));

    std::fs::write(&bad, br#"{"Step": "eraseSecret", "SecretId": "x", "ClientRequestToken": "c2f1a7d0-8d4e-4b7a-9a57-2f3e6b1d9c10"}"#).expect("write");
    let unknown = workspace.run(&[
        "invoke",
        "rekey-rotate",
        "--event",
        bad.to_str().expect("utf-8"),
    ]);
    assert_eq!(unknown.status.code(), Some(1));
    assert_eq!(json(&unknown)["errorType"], "Rekey.InvalidEvent");

    let nowhere = workspace.run(&[
        "invoke",
        "rekey-nothing",
        "--event",
        bad.to_str().expect("utf-8"),
    ]);
    assert!(String::from_utf8_lossy(&nowhere.stderr).contains("rekey-rotate, rekey-sweep"));

    let create = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../events/secretsmanager-rotation-create.json"
    );
    let misspelt = workspace.run(&[
        "invoke",
        "rekey-rotate",
        "--event",
        create,
        "--set",
        "SecretID=my-secret",
    ]);
    assert!(!misspelt.status.success());
    let stderr = String::from_utf8_lossy(&misspelt.stderr);
    assert!(
        stderr.contains("no top-level field `SecretID`") && stderr.contains("SecretId"),
        "{stderr}"
    );
    assert!(misspelt.stdout.is_empty(), "nothing was invoked");
}

#[test]
fn the_http_listener_routes_events_and_refuses_bad_requests() {
    let workspace = Workspace::new(FAST);
    let server = workspace.serve();

    let (status, body) = server.request(
        "POST",
        "/events",
        &sample("eventbridge-scheduled-rule.json"),
    );
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"examined\":2"), "{body}");

    let path = "/2015-03-31/functions/rekey-sweep/invocations";
    assert_eq!(
        server
            .request("POST", path, &sample("eventbridge-scheduler.json"))
            .0,
        200
    );
    let (status, body) = server.request("POST", path, b"");
    assert_eq!(
        status, 200,
        "no payload is `{{}}`, as Lambda's Invoke takes it: {body}"
    );
    assert!(body.contains("\"examined\":2"), "{body}");
    assert_eq!(
        server
            .request("POST", "/2015-03-31/functions/nope/invocations", b"{}")
            .0,
        404
    );
    assert_eq!(server.request("POST", "/events", b"{\"Step\": ").0, 400);
    assert_eq!(server.request("POST", "/events", b"{\"what\": 1}").0, 400);
    assert_eq!(
        server.request("POST", "/events", &vec![b' '; 300 * 1024]).0,
        413
    );
    assert_eq!(server.request("GET", "/healthz", b"").0, 200);
}

#[test]
fn serve_refuses_a_sweep_interval_under_a_second_before_touching_anything() {
    let workspace = Workspace::new(FAST);

    let output = workspace.run(&["serve", "--every", "0s"]);

    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("at least 1s"), "{stderr}");
    let inventory = workspace.run(&["inventory", "--json"]);
    assert_eq!(
        String::from_utf8_lossy(&inventory.stdout).trim(),
        "[]",
        "nothing was seeded"
    );
}

#[test]
fn serve_refuses_to_listen_beyond_loopback() {
    let workspace = Workspace::new(FAST);

    let output = workspace.run(&["serve", "--listen", "0.0.0.0:0"]);

    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("loopback only"));
}

#[test]
fn a_signed_webhook_revokes_a_local_credential_once() {
    let workspace = Workspace::new(FAST);
    let mut server = workspace.serve_with(&[("REKEY_SIGNED_WEBHOOK_SECRET", "local-test-secret")]);
    let secret = rekey_core::SecretValue::new("local-test-secret".into());
    let body =
        br#"{"id": "finding-7", "credential": {"provider": "local", "locator": "app/steady"}}"#;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let signed = |signature: String| {
        vec![
            ("X-Rekey-Timestamp", now.to_string()),
            ("X-Rekey-Signature", signature),
        ]
    };
    let good = signed(rekey_anomaly::signed_webhook_signature(&secret, now, body));

    let forged = server.request_with("POST", "/webhooks/signed", &signed("v1=00".into()), body);
    assert_eq!(forged.0, 401, "{}", forged.1);
    let (status, answer) = server.request_with("POST", "/webhooks/signed", &good, body);
    assert_eq!(status, 200, "{answer}");
    assert!(answer.contains("\"responded\""), "{answer}");
    let (status, again) = server.request_with("POST", "/webhooks/signed", &good, body);
    assert_eq!(status, 200, "{again}");
    assert!(again.contains("\"duplicate\""), "{again}");
    let oversized = vec![b' '; rekey_anomaly::MAX_WEBHOOK_BODY + 1];
    assert_eq!(
        server
            .request_with("POST", "/webhooks/signed", &good, &oversized)
            .0,
        413
    );
    server.wait_for("out", |l| {
        l.contains("\"promote\"") && l.contains("app/steady")
    });
    server.drain(Duration::from_millis(500));
    let promotions = server
        .audit
        .iter()
        .filter(|e| e["action"] == "promote" && e["credential"]["locator"] == "app/steady");
    assert_eq!(promotions.count(), 1, "the delivery acted once");
    drop(server);

    let inventory = json(&workspace.run(&["inventory", "--json"]));
    let steady = inventory
        .as_array()
        .expect("list")
        .iter()
        .find(|e| e["name"] == "app/steady")
        .expect("listed");
    assert!(
        steady["previous_version"].is_null(),
        "the leaked value was retired at once: {steady}"
    );
}
