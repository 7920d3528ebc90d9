//! The store port's contract and Key Vault's authentication, through the
//! official client against the fake.

mod rig;

use rekey_core::{SecretStore, Stage, VersionId};
use rig::{FIRST_VALUE, SECRET, VAULT, rig};

#[tokio::test]
async fn passes_the_store_conformance_suite() {
    let rig = rig().await;

    rekey_core::conformance::check_store(rig.store.as_ref(), &rig.id).await;

    let versions = rig.fake.versions(VAULT, SECRET);
    assert_eq!(versions.len(), 2, "promotion wrote exactly one version");
    assert!(!versions[0].enabled, "the retired version is disabled");
    assert_eq!(versions[1].value, "conformance-second-value");
    assert_eq!(
        versions[1].tags.get("rekey-stage").map(String::as_str),
        Some("current")
    );
    let companion = rig.fake.versions(VAULT, "db-password-rekey-pending");
    assert!(
        companion.iter().all(|v| !v.enabled),
        "no pending value stays enabled"
    );
}

#[tokio::test]
async fn the_first_call_meets_the_bearer_challenge_once() {
    let rig = rig().await;

    let first = rig.store.describe(&rig.id).await.expect("describe");
    let challenges = rig.fake.challenges();
    rig.store.describe(&rig.id).await.expect("describe again");

    assert_eq!(challenges, 1, "the unauthenticated first request got a 401");
    assert_eq!(rig.fake.challenges(), 1, "the token is reused");
    assert_eq!(rig.fake.tokens_issued(), 1);
    let current = first.version_at(Stage::Current).expect("current");
    assert_eq!(current.id.as_str(), rig.fake.versions(VAULT, SECRET)[0].id);
}

#[tokio::test]
async fn lists_managed_secrets_but_not_companions_or_unmanaged_ones() {
    let rig = rig().await;
    rig.fake.seed(VAULT, "unmanaged", "x", &[]);
    rig.store
        .put_pending(
            &rig.id,
            &VersionId::generate(),
            &"p".to_owned().into_value(),
            None,
        )
        .await
        .expect("put pending");

    let listed = rig.store.list().await.expect("list");

    assert_eq!(listed, vec![rig.id.clone()]);
}

#[tokio::test]
async fn lists_across_pages() {
    let rig = rig().await;
    for n in 0..30 {
        rig.fake.seed(
            VAULT,
            &format!("extra-{n:02}"),
            "x",
            &[("rekey:policy", "demo")],
        );
    }

    let listed = rig.store.list().await.expect("list");

    assert_eq!(listed.len(), 31, "more than one page of 25 was followed");
}

#[tokio::test]
async fn reads_by_key_vault_version_id_and_not_disabled_versions() {
    let rig = rig().await;
    let raw = VersionId(rig.fake.versions(VAULT, SECRET)[0].id.clone());

    let value = rig.store.read(&rig.id, &raw).await.expect("read by raw id");
    rig.store.retire(&rig.id, &raw).await.expect("retire");
    let after = rig.store.read(&rig.id, &raw).await;

    assert_eq!(value.expose(), FIRST_VALUE);
    assert!(
        matches!(after, Err(rekey_core::StoreError::VersionNotFound { .. })),
        "a disabled version reads as not found, got {after:?}"
    );
}

trait IntoValue {
    fn into_value(self) -> rekey_core::SecretValue;
}

impl IntoValue for String {
    fn into_value(self) -> rekey_core::SecretValue {
        rekey_core::SecretValue::new(self)
    }
}

#[tokio::test]
async fn promoting_twice_writes_one_version() {
    let rig = rig().await;
    let current = VersionId(rig.fake.versions(VAULT, SECRET)[0].id.clone());
    let new = VersionId::generate();
    let value = "second-value-77".to_owned().into_value();
    rig.store
        .put_pending(&rig.id, &new, &value, None)
        .await
        .expect("put");

    rig.store
        .promote(&rig.id, &new, Some(&current))
        .await
        .expect("promote");
    rig.store
        .promote(&rig.id, &new, Some(&current))
        .await
        .expect("promote again");

    let versions = rig.fake.versions(VAULT, SECRET);
    assert_eq!(versions.len(), 2);
    assert_eq!(versions[1].value, "second-value-77");
    let described = rig.store.describe(&rig.id).await.expect("describe");
    assert_eq!(
        described.version_at(Stage::Current).map(|v| &v.id),
        Some(&new)
    );
    assert_eq!(
        described.version_at(Stage::Previous).map(|v| &v.id),
        Some(&current)
    );
}

#[tokio::test]
async fn a_promotion_cut_short_after_the_write_is_finished_without_a_second_write() {
    let rig = rig().await;
    let current = VersionId(rig.fake.versions(VAULT, SECRET)[0].id.clone());
    let new = VersionId::generate();
    let value = "second-value-88".to_owned().into_value();
    rig.store
        .put_pending(&rig.id, &new, &value, None)
        .await
        .expect("put");
    // The worker wrote the version, then died before restaging the old one.
    let tag = new.to_string();
    let written = [
        ("rekey:policy", "demo"),
        ("rekey-version", tag.as_str()),
        ("rekey-stage", "current"),
    ];
    rig.fake.seed(VAULT, SECRET, "second-value-88", &written);

    rig.store
        .promote(&rig.id, &new, Some(&current))
        .await
        .expect("resume");

    let versions = rig.fake.versions(VAULT, SECRET);
    assert_eq!(versions.len(), 2, "the resumed promotion wrote nothing new");
    assert_eq!(
        versions[0].tags.get("rekey-stage").map(String::as_str),
        Some("previous")
    );
    let companion = rig.fake.versions(VAULT, "db-password-rekey-pending");
    assert!(companion.iter().all(|v| !v.enabled));
    let described = rig.store.describe(&rig.id).await.expect("describe");
    assert!(described.version_at(Stage::Pending).is_none());
}

#[tokio::test]
async fn a_pending_value_is_readable_but_not_served() {
    let rig = rig().await;
    let pending = VersionId::generate();
    let value = "pending-value-99".to_owned().into_value();

    rig.store
        .put_pending(&rig.id, &pending, &value, None)
        .await
        .expect("put");

    assert_eq!(
        rig.store.read(&rig.id, &pending).await.expect("read"),
        value
    );
    let versions = rig.fake.versions(VAULT, SECRET);
    assert_eq!(versions.len(), 1, "the secret itself is untouched");
    assert_eq!(versions[0].value, FIRST_VALUE);
    let companion = rig.fake.versions(VAULT, "db-password-rekey-pending");
    assert_eq!(
        companion[0]
            .tags
            .get("rekey-pending-for")
            .map(String::as_str),
        Some(SECRET)
    );
}
