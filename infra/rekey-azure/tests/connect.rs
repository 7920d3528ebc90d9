//! Building the clients from settings: the credentials other than a client
//! secret, and settings that must be refused before anything is sent.

mod rig;

use std::io::Write;
use std::sync::Arc;

use rekey_azure::{AzureClients, AzureSettings, ConnectError, CredentialSettings, KeyVaultStore};
use rekey_core::SecretStore;
use rekey_fake_azure::FakeKeyVault;
use rig::{CLIENT_ID, FIRST_VALUE, SECRET, VAULT};

async fn fake() -> FakeKeyVault {
    let fake = FakeKeyVault::start().await.expect("the fake starts");
    fake.create_vault(VAULT);
    fake.seed(VAULT, SECRET, FIRST_VALUE, &[("rekey:policy", "demo")]);
    fake
}

fn store(settings: &AzureSettings) -> KeyVaultStore {
    KeyVaultStore::new(Arc::new(AzureClients::connect(settings).expect("connect")))
}

fn token_file(contents: &str) -> tempfile::NamedTempFile {
    let mut file = tempfile::NamedTempFile::new().expect("temp file");
    file.write_all(contents.as_bytes()).expect("write");
    file
}

#[tokio::test]
async fn workload_identity_exchanges_the_federated_token() {
    let fake = fake().await;
    fake.register_federated_token(CLIENT_ID, "federated-token-from-aws-9c1d");
    let file = token_file("federated-token-from-aws-9c1d");
    let mut settings = rig::settings(&fake, 0);
    settings.credential = CredentialSettings::WorkloadIdentity {
        token_file: file.path().to_owned(),
    };

    let described = store(&settings).list().await.expect("list");

    assert_eq!(described.len(), 1);
    assert_eq!(
        fake.tokens_issued(),
        1,
        "the assertion grant issued a token"
    );
    assert_eq!(fake.challenges(), 1);
}

#[tokio::test]
async fn a_wrong_federated_token_is_access_denied() {
    let fake = fake().await;
    fake.register_federated_token(CLIENT_ID, "the-expected-token");
    let file = token_file("some-other-token");
    let mut settings = rig::settings(&fake, 0);
    settings.credential = CredentialSettings::WorkloadIdentity {
        token_file: file.path().to_owned(),
    };

    let refused = store(&settings).list().await;

    assert!(
        matches!(refused, Err(rekey_core::StoreError::AccessDenied(_))),
        "{refused:?}"
    );
}

#[tokio::test]
async fn without_the_ca_file_the_fake_is_not_trusted() {
    let fake = fake().await;
    fake.register_client_secret(CLIENT_ID, &rig::client_secret());
    let mut settings = rig::settings(&fake, 0);
    settings.ca_file = None;

    let refused = store(&settings).list().await;

    assert!(refused.is_err(), "{refused:?}");
    assert_eq!(
        fake.challenges(),
        0,
        "no request got through the TLS handshake"
    );
}

#[tokio::test]
async fn settings_that_cannot_work_are_refused_at_connect() {
    let fake = fake().await;
    let base = rig::settings(&fake, 0);

    let mut no_env = base.clone();
    no_env.credential = CredentialSettings::ClientSecret {
        secret_env: Some("REKEY_AZURE_TEST_UNSET_VARIABLE".into()),
    };
    let mut no_tenant = base.clone();
    no_tenant.tenant_id = None;
    let mut plain_http = base.clone();
    plain_http.vaults = vec!["http://payments.vault.azure.net/".into()];
    let mut http_authority = base.clone();
    http_authority.authority_host = Some("http://127.0.0.1:1/".into());
    let not_pem = token_file("not a certificate");
    let mut bad_ca = base;
    bad_ca.ca_file = Some(not_pem.path().to_owned());

    let refused = |settings: &AzureSettings| AzureClients::connect(settings).expect_err("refused");
    assert!(
        matches!(refused(&no_env), ConnectError::MissingClientSecret(v) if v.contains("UNSET"))
    );
    assert!(matches!(
        refused(&no_tenant),
        ConnectError::MissingSetting {
            setting: "tenant_id",
            ..
        }
    ));
    assert!(matches!(
        refused(&plain_http),
        ConnectError::InvalidVaultUrl { .. }
    ));
    assert!(matches!(refused(&http_authority), ConnectError::Sdk { .. }));
    assert!(matches!(refused(&bad_ca), ConnectError::CaFile { .. }));
}
