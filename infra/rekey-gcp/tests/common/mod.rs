//! A fake GCP and the official clients pointed at it, as the adapter's
//! public settings point them.

#![allow(dead_code)]

use rekey_core::{CredentialId, Provider};
use rekey_fake_gcp::FakeGcp;
use rekey_gcp::{GcpClients, GcpCredentials, GcpSettings, SecretManagerStore};

/// The project every test seeds.
pub const PROJECT: &str = "rekey-test";

pub struct Rig {
    pub fake: FakeGcp,
    pub clients: GcpClients,
    pub settings: GcpSettings,
}

impl Rig {
    pub async fn start() -> Self {
        Self::with(|_| {}).await
    }

    pub async fn with(adjust: impl FnOnce(&mut GcpSettings)) -> Self {
        let fake = FakeGcp::start().await;
        let mut settings = GcpSettings {
            projects: vec![PROJECT.to_owned()],
            secret_manager_endpoint: Some(fake.url()),
            iam_endpoint: Some(fake.url()),
            credentials: GcpCredentials::Anonymous,
            destroy_retired: false,
        };
        adjust(&mut settings);
        let clients = GcpClients::connect(&settings)
            .await
            .expect("connect to the fake");
        Self {
            fake,
            clients,
            settings,
        }
    }

    pub fn store(&self) -> SecretManagerStore {
        SecretManagerStore::from_settings(&self.clients, &self.settings)
    }

    /// Seeds a secret under policy `policy` with one version; its id.
    pub fn managed(&self, secret: &str, policy: &str, value: &str) -> CredentialId {
        let locator = self.fake.create_secret(
            PROJECT,
            secret,
            &[("rekey-policy", policy)],
            &[],
            Some(value),
        );
        CredentialId::new(Provider::GcpSecretManager, locator)
    }
}
