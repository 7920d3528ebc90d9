//! The store contract, run through the official client against the fake.

mod common;

use common::{PROJECT, Rig};
use rekey_core::SecretStore as _;
use rekey_core::conformance::check_store;
use rekey_fake_gcp::VersionState;

#[tokio::test]
async fn the_store_passes_the_conformance_suite() {
    let rig = Rig::start().await;
    let id = rig.managed("conformance", "demo", "seeded-value");

    check_store(&rig.store(), &id).await;

    let versions = rig.fake.versions(PROJECT, "conformance");
    assert_eq!(
        versions.len(),
        3,
        "the seed and two pending values: {versions:?}"
    );
    assert_eq!(
        versions[0],
        (1, VersionState::Disabled),
        "the retired seed is disabled"
    );
    let aliases = rig.fake.aliases(PROJECT, "conformance");
    assert_eq!(aliases.get("current"), Some(&3));
    assert!(!aliases.contains_key("previous") && !aliases.contains_key("pending"));
}

#[tokio::test]
async fn labels_and_annotations_become_rekey_tags() {
    let rig = Rig::start().await;
    let labels = [
        ("rekey-policy", "db"),
        ("rekey-max-age", "30d"),
        ("team", "payments"),
    ];
    let annotations = [("rekey-environment", "prod"), ("owner", "ops@example.com")];
    let locator = rig
        .fake
        .create_secret(PROJECT, "tagged", &labels, &annotations, Some("v"));

    let id = rekey_core::CredentialId::new(rekey_core::Provider::GcpSecretManager, locator);
    let described = rig.store().describe(&id).await.expect("describe");

    let tag = |k: &str| described.tags.get(k).map(String::as_str);
    assert_eq!(tag("rekey:policy"), Some("db"));
    assert_eq!(tag("rekey:max-age"), Some("30d"));
    assert_eq!(tag("rekey:environment"), Some("prod"));
    assert_eq!(tag("team"), Some("payments"));
    assert_eq!(tag("owner"), Some("ops@example.com"));
    assert_eq!(described.name, "tagged");
    assert!(described.rotation_enabled);
}

#[tokio::test]
async fn list_follows_pages_and_keeps_only_labelled_secrets_of_the_projects() {
    let rig = Rig::start().await;
    rig.fake.set_default_page_size(1);
    for name in ["a", "b", "c"] {
        rig.managed(name, "demo", "v");
    }
    rig.fake
        .create_secret(PROJECT, "unmanaged", &[("team", "x")], &[], Some("v"));
    rig.fake.create_secret(
        "elsewhere",
        "d",
        &[("rekey-policy", "demo")],
        &[],
        Some("v"),
    );

    let mut listed: Vec<String> = rig
        .store()
        .list()
        .await
        .expect("list")
        .into_iter()
        .map(|id| id.locator)
        .collect();
    listed.sort();

    let expected: Vec<String> = ["a", "b", "c"]
        .iter()
        .map(|s| format!("projects/{PROJECT}/secrets/{s}"))
        .collect();
    assert_eq!(
        listed, expected,
        "project ids, not the numbers GCP answers with"
    );
    assert!(rig.fake.calls("ListSecrets") >= 3, "one call per page");
}

#[tokio::test]
async fn a_never_rotated_secret_adopts_its_newest_enabled_version() {
    let rig = Rig::start().await;
    let id = rig.managed("adopted", "demo", "first");
    rig.fake.add_version(PROJECT, "adopted", "second");
    rig.fake.add_version(PROJECT, "adopted", "third");
    let store = rig.store();
    let version = rekey_core::VersionId("3".into());
    store
        .put_pending(
            &id,
            &rekey_core::VersionId::generate(),
            &rekey_core::SecretValue::new("p".into()),
            None,
        )
        .await
        .expect("pending");
    let described = store.describe(&id).await.expect("describe");

    let current = described
        .version_at(rekey_core::Stage::Current)
        .expect("adopted");
    assert_eq!(current.id, version);
    assert_eq!(
        store.read(&id, &current.id).await.expect("read").expose(),
        "third"
    );
    assert_eq!(
        rig.fake.aliases(PROJECT, "adopted").get("current"),
        Some(&3),
        "the alias is pinned"
    );
}

#[tokio::test]
async fn adoption_skips_disabled_versions() {
    let rig = Rig::start().await;
    let id = rig.managed("skips", "demo", "first");
    rig.fake.add_version(PROJECT, "skips", "second");
    let store = rig.store().with_destroy_retired(false);
    store
        .retire(&id, &rekey_core::VersionId("2".into()))
        .await
        .expect("disable version 2");

    let described = store.describe(&id).await.expect("describe");

    let current = described
        .version_at(rekey_core::Stage::Current)
        .expect("adopted");
    assert_eq!(current.id.as_str(), "1");
    assert_eq!(
        rig.fake.version_state(PROJECT, "skips", 2),
        Some(VersionState::Disabled)
    );
    let read = store.read(&id, &rekey_core::VersionId("2".into())).await;
    assert!(
        matches!(read, Err(rekey_core::StoreError::VersionNotFound { .. })),
        "{read:?}"
    );
}

#[tokio::test]
async fn a_version_id_is_written_once_and_its_value_never_changes() {
    let rig = Rig::start().await;
    let id = rig.managed("once", "demo", "seed");
    let store = rig.store();
    let version = rekey_core::VersionId::generate();

    store
        .put_pending(
            &id,
            &version,
            &rekey_core::SecretValue::new("first".into()),
            None,
        )
        .await
        .expect("put");
    let again = store
        .put_pending(
            &id,
            &version,
            &rekey_core::SecretValue::new("second".into()),
            None,
        )
        .await;

    assert!(
        matches!(again, Err(rekey_core::StoreError::VersionExists { .. })),
        "{again:?}"
    );
    assert_eq!(
        store.read(&id, &version).await.expect("read").expose(),
        "first"
    );
    assert_eq!(
        rig.fake.versions(PROJECT, "once").len(),
        2,
        "no version added by the refused put"
    );
    let annotations = rig.fake.annotations(PROJECT, "once");
    assert_eq!(
        annotations.get("rekey-version-2").map(String::as_str),
        Some(version.as_str())
    );
}

#[tokio::test]
async fn throttling_and_outages_are_retryable_errors_without_the_payload() {
    let rig = Rig::start().await;
    let id = rig.managed("faulty", "demo", "seed-value-9f3");
    let store = rig.store();
    let seed = rekey_core::VersionId("1".into());

    rig.fake.fail_next("AccessSecretVersion", 1, 429);
    let throttled = store.read(&id, &seed).await.expect_err("429");
    assert!(throttled.is_retryable(), "{throttled:?}");
    assert!(throttled.to_string().contains("RESOURCE_EXHAUSTED"));

    rig.fake.fail_next("AddSecretVersion", 1, 503);
    let value = rekey_core::SecretValue::new("new-value-7c1".into());
    let unavailable = store
        .put_pending(&id, &rekey_core::VersionId::generate(), &value, None)
        .await
        .expect_err("503");
    assert!(unavailable.is_retryable(), "{unavailable:?}");
    assert!(!unavailable.to_string().contains("new-value-7c1"));
    assert_eq!(
        rig.fake.versions(PROJECT, "faulty").len(),
        1,
        "nothing was added"
    );

    rig.fake.fail_next("GetSecret", 1, 403);
    let denied = store.describe(&id).await.expect_err("403");
    assert!(
        matches!(denied, rekey_core::StoreError::AccessDenied(_)),
        "{denied:?}"
    );
}

#[tokio::test]
async fn the_client_retries_one_outage_of_an_idempotent_read_itself() {
    let rig = Rig::start().await;
    let id = rig.managed("retried", "demo", "seed");
    rig.fake.fail_next("AccessSecretVersion", 1, 503);

    let value = rig
        .store()
        .read(&id, &rekey_core::VersionId("1".into()))
        .await
        .expect("read after one retry");

    assert_eq!(value.expose(), "seed");
    assert_eq!(rig.fake.calls("AccessSecretVersion"), 2);
}

#[tokio::test]
async fn bad_input_gets_a_typed_error_and_writes_nothing() {
    let rig = Rig::start().await;
    let id = rig.managed("bad", "demo", "seed");
    let store = rig.store();

    let oversized = rekey_core::SecretValue::new("x".repeat(64 * 1024 + 1));
    let refused = store
        .put_pending(&id, &rekey_core::VersionId::generate(), &oversized, None)
        .await;
    assert!(
        matches!(refused, Err(rekey_core::StoreError::Backend(_))),
        "{refused:?}"
    );
    assert_eq!(rig.fake.calls("AddSecretVersion"), 0);

    let hostile = rekey_core::CredentialId::new(
        rekey_core::Provider::GcpSecretManager,
        "projects/x/secrets/a/../../b",
    );
    assert!(matches!(
        store.describe(&hostile).await,
        Err(rekey_core::StoreError::Backend(_))
    ));
    let missing = rekey_core::CredentialId::new(
        rekey_core::Provider::GcpSecretManager,
        format!("projects/{PROJECT}/secrets/none"),
    );
    assert!(matches!(
        store.describe(&missing).await,
        Err(rekey_core::StoreError::CredentialNotFound(_))
    ));
}

#[tokio::test]
async fn a_lost_etag_race_is_re_read_and_retried_within_a_bound() {
    let rig = Rig::start().await;
    let id = rig.managed("raced", "demo", "seed");
    let store = rig.store();
    let value = rekey_core::SecretValue::new("new".into());

    rig.fake.fail_next("UpdateSecret", 1, 409);
    rig.fake.fail_next("UpdateSecret", 1, 400);
    let version = rekey_core::VersionId::generate();
    store
        .put_pending(&id, &version, &value, None)
        .await
        .expect("retried past two conflicts");
    assert_eq!(
        store.read(&id, &version).await.expect("read").expose(),
        "new"
    );

    rig.fake.fail_next("UpdateSecret", 100, 409);
    let current = rekey_core::VersionId("1".into());
    let gave_up = store
        .promote(&id, &version, Some(&current))
        .await
        .expect_err("bounded");
    assert!(gave_up.is_retryable(), "{gave_up:?}");
    assert!(
        rig.fake.calls("UpdateSecret") < 20,
        "a bounded number of tries"
    );
}

#[tokio::test]
async fn a_precondition_that_persists_past_re_reads_is_a_backend_error() {
    let rig = Rig::start().await;
    let id = rig.managed("stuck", "demo", "seed");
    rig.fake.fail_next("UpdateSecret", 100, 400);

    let value = rekey_core::SecretValue::new("new".into());
    let version = rekey_core::VersionId::generate();
    let refused = rig.store().put_pending(&id, &version, &value, None).await;

    assert!(
        matches!(refused, Err(rekey_core::StoreError::Backend(ref m)) if m.contains("FAILED_PRECONDITION")),
        "{refused:?}"
    );
    assert_eq!(
        rig.fake.calls("AddSecretVersion"),
        0,
        "the pin failed before any write"
    );
}
