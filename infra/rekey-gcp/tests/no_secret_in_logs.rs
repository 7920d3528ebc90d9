//! A whole service-account key rotation, logged at the most verbose level
//! by rekey and by the clients, writes no secret value and no private key.

mod common;

use std::io::Write;

use base64::Engine as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{PROJECT, Rig};
use rekey_core::memory::MemoryLedger;
use rekey_core::{Engine, PolicySet, SecretStore as _, Stage, Trigger};
use rekey_gcp::{GCP_SERVICE_ACCOUNT_KEY, KeyFile, ServiceAccountKeys};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let mut held = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        held.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn a_rotation_logs_no_key_material() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let rig = Rig::start().await;
    let email = rig.fake.create_service_account(PROJECT, "logged");
    let (_, file) = rig.fake.add_key(&email);
    let labels = [("rekey-policy", "sa")];
    let annotations = [("rekey-service-account", email.as_str())];
    rig.fake
        .create_secret(PROJECT, "logged", &labels, &annotations, Some(&file));
    let policies: PolicySet =
        toml::from_str("[sa]\nmax_age = \"1d\"\nkind = \"gcp-service-account-key\"")
            .expect("policy");
    let kind = ServiceAccountKeys::new(&rig.clients).with_test_retries(2, Duration::ZERO);
    let engine = Engine::new(policies, Arc::new(MemoryLedger::default()))
        .with_store(Arc::new(rig.store()))
        .with_kind(GCP_SERVICE_ACCOUNT_KEY, Arc::new(kind));
    let id = rig.store().list().await.expect("list").remove(0);

    engine.rotate(&id, &Trigger::Manual).await.expect("rotate");

    let store = rig.store();
    let described = store.describe(&id).await.expect("describe");
    let current = described.version_at(Stage::Current).expect("current");
    let new = store.read(&id, &current.id).await.expect("read");
    KeyFile::parse(&new).expect("a key file");
    let logs = String::from_utf8_lossy(&captured.0.lock().expect("logs")).into_owned();
    assert!(
        logs.contains("created a service-account key"),
        "the capture works"
    );
    for secret in [file.as_str(), new.expose()] {
        let private_key =
            serde_json::from_str::<serde_json::Value>(secret).expect("json")["private_key"]
                .as_str()
                .expect("a private key")
                .lines()
                .nth(1)
                .expect("a PEM body line")
                .to_owned();
        assert!(
            !logs.contains(&private_key),
            "a private key reached the logs"
        );
        let encoded = base64::engine::general_purpose::STANDARD.encode(secret);
        assert!(
            !logs.contains(&encoded[..40]),
            "an encoded key file reached the logs"
        );
    }
}
