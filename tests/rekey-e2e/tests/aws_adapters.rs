//! The AWS adapters against a real moto server: the ports' contracts, and
//! the races the ledger's conditional writes must settle.

use std::sync::Arc;
use std::time::Duration;

use rekey_core::conformance::{check_ledger, check_store};
use rekey_core::{
    Claim, CredentialId, Ledger, Provider, SecretStore, SecretValue, Stage, StoreError, VersionId,
};
use rekey_e2e::Moto;
use time::OffsetDateTime;
use tokio::task::JoinSet;

const POLICY: (&str, &str) = ("rekey:policy", "demo");

async fn moto() -> Moto {
    Moto::start().await.expect("moto must start")
}

#[tokio::test]
async fn secrets_manager_store_keeps_the_store_contract() {
    let moto = moto().await;
    let id = moto
        .create_secret("conformance-db", &[POLICY], "initial-value")
        .await
        .expect("create secret");

    // moto overwrites a pending version when its ClientRequestToken is
    // reused with another value (AWS refuses); the contract's "never
    // overwritten" rule holds here through the adapter's own check.
    check_store(&moto.store(), &id).await;
}

#[tokio::test]
async fn describe_keeps_the_callers_id_and_reads_name_tags_and_rotation() {
    let moto = moto().await;
    let arn = moto
        .create_secret("billing-db", &[POLICY, ("team", "billing")], "v1")
        .await
        .expect("create secret");
    let by_name = CredentialId::new(Provider::AwsSecretsManager, "billing-db");

    let described = moto.store().describe(&by_name).await.expect("describe");

    assert_eq!(described.id, by_name);
    assert_eq!(described.name, "billing-db");
    assert_eq!(
        described.tags.get("team").map(String::as_str),
        Some("billing")
    );
    assert!(described.rotation_enabled);
    let current = described
        .version_at(Stage::Current)
        .expect("a current version");
    assert_eq!(described.versions.len(), 1, "{:?}", described.versions);
    let value = moto.store().read(&arn, &current.id).await.expect("read");
    assert_eq!(value.expose(), "v1");
}

#[tokio::test]
async fn list_returns_only_secrets_tagged_with_a_policy() {
    let moto = moto().await;
    let mut tagged = Vec::new();
    for name in ["tagged-a", "tagged-b"] {
        let id = moto
            .create_secret(name, &[POLICY], "x")
            .await
            .expect("create");
        tagged.push(id);
    }
    moto.create_secret("untagged", &[("team", "x")], "x")
        .await
        .expect("create");
    // ListSecrets' tag-key filter matches prefixes; this one must not pass.
    moto.create_secret("prefixed", &[("rekey:policy-draft", "demo")], "x")
        .await
        .expect("create");

    let listed = moto.store().list().await.expect("list");

    tagged.sort();
    assert_eq!(listed, tagged);
}

#[tokio::test]
async fn reading_an_absent_version_is_version_not_found() {
    let moto = moto().await;
    let id = moto
        .create_secret("db", &[POLICY], "x")
        .await
        .expect("create");
    let absent = VersionId::generate();

    let read = moto.store().read(&id, &absent).await;

    assert!(
        matches!(read, Err(StoreError::VersionNotFound { ref version, .. }) if version == &absent),
        "{read:?}"
    );
}

#[tokio::test]
async fn reading_from_a_missing_secret_is_credential_not_found() {
    let moto = moto().await;
    let missing = CredentialId::new(Provider::AwsSecretsManager, "no-such-secret");

    let read = moto.store().read(&missing, &VersionId::generate()).await;

    assert_eq!(read, Err(StoreError::CredentialNotFound(missing)));
}

#[tokio::test]
async fn promote_and_retire_can_be_repeated() {
    let moto = moto().await;
    let store = moto.store();
    let id = moto
        .create_secret("db", &[POLICY], "old")
        .await
        .expect("create");
    let old = current_of(&store, &id).await;
    let new = VersionId::generate();
    store
        .put_pending(&id, &new, &SecretValue::new("new".into()), None)
        .await
        .expect("put pending");

    for _ in 0..2 {
        store.promote(&id, &new, Some(&old)).await.expect("promote");
    }
    let described = store.describe(&id).await.expect("describe");
    assert_eq!(
        described.version_at(Stage::Current).map(|v| &v.id),
        Some(&new)
    );
    assert_eq!(
        described.version_at(Stage::Previous).map(|v| &v.id),
        Some(&old)
    );
    assert!(described.version_at(Stage::Pending).is_none());

    for _ in 0..2 {
        store.retire(&id, &old).await.expect("retire");
    }
    let described = store.describe(&id).await.expect("describe");
    assert!(described.version_at(Stage::Previous).is_none());
    assert!(matches!(
        store.retire(&id, &VersionId::generate()).await,
        Err(StoreError::VersionNotFound { .. })
    ));
}

#[tokio::test]
async fn dynamodb_ledger_keeps_the_ledger_contract() {
    let moto = moto().await;
    let ledger = moto.ledger().await.expect("ledger table");

    check_ledger(&ledger).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_claims_have_exactly_one_winner() {
    let moto = moto().await;
    let ledger = Arc::new(moto.ledger().await.expect("ledger table"));
    let id = CredentialId::new(
        Provider::AwsSecretsManager,
        "arn:aws:secretsmanager:contended",
    );
    let now = OffsetDateTime::now_utc();

    let mut tasks = JoinSet::new();
    for _ in 0..16 {
        let (ledger, id) = (Arc::clone(&ledger), id.clone());
        tasks.spawn(async move {
            let rotation = VersionId::generate();
            let claim = ledger
                .claim(&id, &rotation, now, Duration::from_secs(60))
                .await;
            (rotation, claim.expect("claim"))
        });
    }
    let claims = tasks.join_all().await;

    let winners: Vec<_> = claims
        .iter()
        .filter(|(_, claim)| matches!(claim, Claim::Acquired { .. }))
        .collect();
    assert_eq!(winners.len(), 1, "{claims:?}");
    let (winner, _) = winners[0];
    for (_, claim) in &claims {
        match claim {
            Claim::Acquired { rotation } | Claim::Held { rotation, .. } => {
                assert_eq!(rotation, winner);
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_of_many_racing_workers_resumes_an_expired_claim() {
    let moto = moto().await;
    let ledger = Arc::new(moto.ledger().await.expect("ledger table"));
    let id = CredentialId::new(Provider::AwsSecretsManager, "arn:aws:secretsmanager:stale");
    let (dead, lease) = (VersionId::generate(), Duration::from_secs(60));
    let start = OffsetDateTime::now_utc();
    ledger.claim(&id, &dead, start, lease).await.expect("claim");
    let later = start + lease * 2;

    let mut tasks = JoinSet::new();
    for _ in 0..8 {
        let (ledger, id) = (Arc::clone(&ledger), id.clone());
        tasks.spawn(async move {
            let claim = ledger
                .claim(&id, &VersionId::generate(), later, lease)
                .await;
            claim.expect("claim")
        });
    }
    let claims = tasks.join_all().await;

    let resumed = Claim::Acquired {
        rotation: dead.clone(),
    };
    assert_eq!(
        claims.iter().filter(|c| **c == resumed).count(),
        1,
        "{claims:?}"
    );
    let held = Claim::Held {
        rotation: dead,
        until: later + lease,
    };
    assert!(
        claims.iter().all(|c| *c == resumed || *c == held),
        "{claims:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_use_counts_add_up() {
    let moto = moto().await;
    let ledger = Arc::new(moto.ledger().await.expect("ledger table"));
    let id = CredentialId::new(Provider::AwsSecretsManager, "arn:aws:secretsmanager:busy");
    let version = VersionId::generate();

    let mut tasks = JoinSet::new();
    for _ in 0..50 {
        let (ledger, id, version) = (Arc::clone(&ledger), id.clone(), version.clone());
        tasks.spawn(async move { ledger.count_uses(&id, &version, 1).await.expect("count") });
    }
    let mut totals = tasks.join_all().await;

    totals.sort_unstable();
    assert_eq!(
        totals,
        (1..=50).collect::<Vec<u64>>(),
        "each add saw its own total"
    );
    assert_eq!(
        ledger.count_uses(&id, &version, 0).await.expect("count"),
        50
    );
}

#[tokio::test]
async fn an_event_is_new_again_once_its_keep_ran_out() {
    let moto = moto().await;
    let ledger = moto.ledger().await.expect("ledger table");
    let now = OffsetDateTime::now_utc();
    let keep = Duration::from_secs(60);

    assert!(
        ledger
            .first_sighting("evt#1", now, keep)
            .await
            .expect("sighting")
    );
    assert!(
        !ledger
            .first_sighting("evt#1", now + keep / 2, keep)
            .await
            .expect("sighting")
    );
    assert!(
        ledger
            .first_sighting("evt#1", now + keep, keep)
            .await
            .expect("sighting")
    );
}

async fn current_of(store: &dyn SecretStore, id: &CredentialId) -> VersionId {
    let described = store.describe(id).await.expect("describe");
    described
        .version_at(Stage::Current)
        .expect("current")
        .id
        .clone()
}
