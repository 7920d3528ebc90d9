//! The store contract, run through the official client against the fake.

mod common;

use common::{PROJECT, Rig};
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
