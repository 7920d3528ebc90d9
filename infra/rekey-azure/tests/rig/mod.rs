//! What every test starts from: the fake (HTTPS, 401 challenge, Entra),
//! one vault with one managed secret, and a `KeyVaultStore` built from
//! settings only, so the official client and a real
//! `ClientSecretCredential` do the talking.

#![allow(dead_code)]

use std::sync::Arc;

use rekey_azure::{AzureClients, AzureSettings, KeyVaultStore};
use rekey_core::{CredentialId, PolicySet, Provider};
use rekey_fake_azure::FakeKeyVault;

/// The vault every test uses.
pub const VAULT: &str = "payments";
/// The managed secret every test starts with.
pub const SECRET: &str = "db-password";
/// Its value before any rotation.
pub const FIRST_VALUE: &str = "first-value-0f3a";
/// The app the store authenticates as.
pub const CLIENT_ID: &str = "5d0c1b6e-0000-4000-8000-00000000c11e";
/// The variable `.cargo/config.toml` sets for the tests.
pub const SECRET_ENV: &str = "REKEY_AZURE_TEST_CLIENT_SECRET";

pub struct Rig {
    pub fake: Arc<FakeKeyVault>,
    pub policies: PolicySet,
    pub store: Arc<KeyVaultStore>,
    pub id: CredentialId,
    pub vault_url: String,
}

/// The client secret the tests' settings point at.
pub fn client_secret() -> String {
    std::env::var(SECRET_ENV).expect("REKEY_AZURE_TEST_CLIENT_SECRET is set by .cargo/config.toml")
}

pub fn policies(grace: &str) -> PolicySet {
    toml::from_str(&format!(
        "[demo]\nmax_age = \"1h\"\ngrace_period = \"{grace}\"\n"
    ))
    .expect("policies")
}

/// The settings a deployment would write, pointed at the fake.
pub fn settings(fake: &FakeKeyVault, max_retries: u32) -> AzureSettings {
    let text = format!(
        r#"
        vaults = ["{vault}"]
        tenant_id = "{tenant}"
        client_id = "{CLIENT_ID}"
        credential = {{ type = "client-secret", secret_env = "{SECRET_ENV}" }}
        authority_host = "{authority}"
        ca_file = "{ca}"
        resolve = {{ "{host}" = "127.0.0.1" }}
        max_retries = {max_retries}
        "#,
        vault = fake.vault_url(VAULT),
        tenant = fake.tenant_id(),
        authority = fake.authority_host(),
        ca = fake.ca_file().display(),
        host = fake.vault_host(VAULT),
    );
    toml::from_str(&text).expect("settings")
}

/// A rig whose app is registered with `registered_secret`.
pub async fn rig_with(registered_secret: &str, max_retries: u32, grace: &str) -> Rig {
    let fake = Arc::new(FakeKeyVault::start().await.expect("the fake starts"));
    let vault_url = fake.create_vault(VAULT);
    fake.register_client_secret(CLIENT_ID, registered_secret);
    fake.seed(
        VAULT,
        SECRET,
        FIRST_VALUE,
        &[("rekey:policy", "demo"), ("team", "payments")],
    );

    let policies = policies(grace);
    let clients = AzureClients::connect(&settings(&fake, max_retries)).expect("connect");
    let store = KeyVaultStore::new(Arc::new(clients)).with_policies(policies.clone());
    let locator = format!("{}/secrets/{SECRET}", vault_url.trim_end_matches('/'));
    Rig {
        fake,
        policies,
        store: Arc::new(store),
        id: CredentialId::new(Provider::AzureKeyVault, locator),
        vault_url,
    }
}

/// The usual rig: the right secret, no SDK retries, no grace period.
pub async fn rig() -> Rig {
    rig_with(&client_secret(), 0, "0s").await
}
