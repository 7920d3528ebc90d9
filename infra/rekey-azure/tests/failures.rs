//! Failures as the store reports them: throttling and outages are
//! retryable, a refused credential is access denied, and no message holds
//! a secret.

mod rig;

use rekey_core::{SecretStore, StoreError, VersionId};
use rig::{client_secret, rig, rig_with};

#[tokio::test]
async fn throttling_and_outages_are_retryable() {
    let rig = rig().await;
    rig.store
        .describe(&rig.id)
        .await
        .expect("warm up the token");

    rig.fake.fail_next(1, 429, Some(1));
    let throttled = rig.store.describe(&rig.id).await;
    rig.fake.fail_next(1, 503, None);
    let unavailable = rig.store.read(&rig.id, &VersionId::generate()).await;

    assert!(
        matches!(&throttled, Err(StoreError::Unavailable(m)) if m.contains("429")),
        "{throttled:?}"
    );
    assert!(
        matches!(&unavailable, Err(StoreError::Unavailable(m)) if m.contains("503")),
        "{unavailable:?}"
    );
    assert!(throttled.expect_err("throttled").is_retryable());
    rig.store
        .describe(&rig.id)
        .await
        .expect("the vault answers again");
}

#[tokio::test]
async fn the_sdk_retries_a_throttled_call_within_its_budget() {
    let rig = rig_with(&client_secret(), 2, "0s").await;
    rig.store
        .describe(&rig.id)
        .await
        .expect("warm up the token");
    let before = rig.fake.vault_requests();

    rig.fake.fail_next(1, 429, Some(0));
    let described = rig.store.describe(&rig.id).await;

    assert!(described.is_ok(), "{described:?}");
    assert!(
        rig.fake.vault_requests() >= before + 3,
        "one throttled answer, then the retry"
    );
}

#[tokio::test]
async fn a_wrong_client_secret_is_access_denied_without_the_secret() {
    let rig = rig_with("the-secret-entra-expects", 0, "0s").await;

    let refused = rig.store.describe(&rig.id).await;

    let Err(StoreError::AccessDenied(message)) = &refused else {
        panic!("expected AccessDenied, got {refused:?}");
    };
    let printed = format!("{message} {refused:?}");
    assert!(!printed.contains(&client_secret()), "{printed}");
    assert!(!printed.contains("the-secret-entra-expects"), "{printed}");
    assert!(
        printed.contains("7000215"),
        "names Entra's reason: {printed}"
    );
    assert_eq!(rig.fake.tokens_issued(), 0);
}

#[tokio::test]
async fn unknown_credentials_and_versions_are_not_found() {
    let rig = rig().await;
    let elsewhere = rekey_core::CredentialId::new(
        rekey_core::Provider::AzureKeyVault,
        "https://other.vault.azure.net/secrets/db-password",
    );
    let hostile = rekey_core::CredentialId::new(
        rekey_core::Provider::AzureKeyVault,
        format!("{}/secrets/../keys/x", rig.vault_url.trim_end_matches('/')),
    );

    for id in [elsewhere, hostile] {
        let described = rig.store.describe(&id).await;
        assert!(
            matches!(described, Err(StoreError::CredentialNotFound(_))),
            "{described:?}"
        );
    }
    let missing = rig.store.retire(&rig.id, &VersionId::generate()).await;
    assert!(
        matches!(missing, Err(StoreError::VersionNotFound { .. })),
        "{missing:?}"
    );
    let promote = rig
        .store
        .promote(&rig.id, &VersionId::generate(), None)
        .await;
    assert!(
        matches!(promote, Err(StoreError::VersionNotFound { .. })),
        "{promote:?}"
    );
}

#[tokio::test]
async fn an_oversized_value_is_refused_and_nothing_is_written() {
    let rig = rig().await;
    let huge = rekey_core::SecretValue::new(format!("s3cr3t-{}", "x".repeat(30 * 1024)));

    let refused = rig
        .store
        .put_pending(&rig.id, &VersionId::generate(), &huge, None)
        .await;

    let Err(StoreError::Backend(message)) = &refused else {
        panic!("expected a backend error, got {refused:?}");
    };
    assert!(message.contains("400"), "{message}");
    assert!(!message.contains("s3cr3t"), "{message}");
    assert!(
        rig.fake
            .versions(rig::VAULT, "db-password-rekey-pending")
            .is_empty()
    );
}
