//! Checks any store or ledger against the behaviour the engine relies on.
//!
//! Adapters call these from their own tests against their real backend (an
//! SQLite file, a moto server, a wire-level fake), so every backend is held
//! to the same contract as [`crate::memory`]. They panic with a message
//! naming the broken rule, as test helpers do.

use std::time::Duration;

use time::OffsetDateTime;

use crate::{Claim, CredentialId, Ledger, SecretStore, SecretValue, Stage, StoreError, VersionId};

/// Runs the store contract on `id`, a credential of `store` with rotation
/// enabled and a current value. Leaves it rotated once, with its old value
/// retired.
pub async fn check_store(store: &dyn SecretStore, id: &CredentialId) {
    let before = store
        .describe(id)
        .await
        .expect("describe a known credential");
    let current = before
        .version_at(Stage::Current)
        .expect("a current version")
        .id
        .clone();
    let unknown = VersionId::generate();
    assert!(
        matches!(
            store.read(id, &unknown).await,
            Err(StoreError::VersionNotFound { .. })
        ),
        "reading an unknown version must be VersionNotFound"
    );
    let missing = CredentialId::new(id.provider, format!("{}-missing", id.locator));
    assert!(
        matches!(
            store.describe(&missing).await,
            Err(StoreError::CredentialNotFound(_))
        ),
        "describing an unknown credential must be CredentialNotFound"
    );

    let first = VersionId::generate();
    let value = SecretValue::new("conformance-first-value".into());
    store
        .put_pending(id, &first, &value, None)
        .await
        .expect("put a pending version");
    assert_eq!(store.read(id, &first).await.expect("read it back"), value);
    let again = store
        .put_pending(id, &first, &SecretValue::new("other".into()), None)
        .await;
    assert!(
        matches!(again, Err(StoreError::VersionExists { .. })),
        "a written version must never be overwritten, got {again:?}"
    );
    assert_eq!(
        store.read(id, &first).await.expect("read"),
        value,
        "value unchanged"
    );

    let second = VersionId::generate();
    let value = SecretValue::new("conformance-second-value".into());
    store
        .put_pending(id, &second, &value, None)
        .await
        .expect("put a second pending");
    let described = store.describe(id).await.expect("describe");
    assert_eq!(
        described.version_at(Stage::Pending).map(|v| &v.id),
        Some(&second)
    );
    assert!(
        !described
            .version(&first)
            .is_some_and(|v| v.has(Stage::Pending))
    );
    assert_eq!(
        described.version_at(Stage::Current).map(|v| &v.id),
        Some(&current)
    );

    store
        .promote(id, &second, Some(&current))
        .await
        .expect("promote");
    let described = store.describe(id).await.expect("describe");
    assert_eq!(
        described.version_at(Stage::Current).map(|v| &v.id),
        Some(&second)
    );
    assert_eq!(
        described.version_at(Stage::Previous).map(|v| &v.id),
        Some(&current)
    );
    assert!(
        described.version_at(Stage::Pending).is_none(),
        "pending is gone after promotion"
    );
    assert!(
        store.read(id, &current).await.is_ok(),
        "previous still readable"
    );

    store.retire(id, &current).await.expect("retire");
    let described = store.describe(id).await.expect("describe");
    assert!(
        described.version_at(Stage::Previous).is_none(),
        "previous is gone after retire"
    );
    assert_eq!(
        described.version_at(Stage::Current).map(|v| &v.id),
        Some(&second)
    );
}

/// Runs the ledger contract: claims, leases, event ids and counters.
pub async fn check_ledger(ledger: &dyn Ledger) {
    let id = CredentialId::new(
        crate::Provider::Local,
        format!("conformance-{}", VersionId::generate()),
    );
    let (a, b) = (VersionId::generate(), VersionId::generate());
    let now = OffsetDateTime::now_utc();
    let lease = Duration::from_secs(60);

    let claim = ledger.claim(&id, &a, now, lease).await.expect("claim");
    assert_eq!(
        claim,
        Claim::Acquired {
            rotation: a.clone()
        }
    );
    let held = ledger.claim(&id, &b, now, lease).await.expect("claim");
    assert!(
        matches!(held, Claim::Held { ref rotation, .. } if rotation == &a),
        "{held:?}"
    );
    let renewed = ledger.claim(&id, &a, now, lease).await.expect("claim");
    assert_eq!(
        renewed,
        Claim::Acquired {
            rotation: a.clone()
        },
        "the holder may renew"
    );

    let later = now + lease + Duration::from_secs(1);
    let resumed = ledger.claim(&id, &b, later, lease).await.expect("claim");
    assert_eq!(
        resumed,
        Claim::Acquired {
            rotation: a.clone()
        },
        "an expired claim is resumed"
    );

    ledger.release(&id, &b).await.expect("release");
    let still = ledger.claim(&id, &b, later, lease).await.expect("claim");
    assert!(
        matches!(still, Claim::Held { .. }),
        "release by a non-holder changes nothing"
    );
    ledger.release(&id, &a).await.expect("release");
    let free = ledger.claim(&id, &b, later, lease).await.expect("claim");
    assert_eq!(
        free,
        Claim::Acquired {
            rotation: b.clone()
        }
    );

    let event = format!("event-{}", VersionId::generate());
    assert!(
        ledger
            .first_sighting(&event, now, lease)
            .await
            .expect("sighting")
    );
    assert!(
        !ledger
            .first_sighting(&event, now, lease)
            .await
            .expect("sighting")
    );
    ledger.forget_sighting(&event).await.expect("forget");
    let again = ledger.first_sighting(&event, now, lease).await;
    assert!(again.expect("sighting"), "a forgotten event is new again");

    assert_eq!(ledger.count_uses(&id, &a, 3).await.expect("count"), 3);
    assert_eq!(ledger.count_uses(&id, &a, 4).await.expect("count"), 7);
    assert_eq!(
        ledger.count_uses(&id, &b, 1).await.expect("count"),
        1,
        "per version"
    );
}
