//! `rekey-usage` against a real moto server: uses counted in the DynamoDB
//! ledger, a rotation in Secrets Manager exactly once at the policy's
//! maximum, however many events arrive at once and however many function
//! instances take them.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use rekey_core::audit::MemoryAudit;
use rekey_core::{
    Claim, Credential, CredentialId, Engine, Ledger, LedgerError, PolicySet, Provider,
    RotationToken, SecretStore, SecretValue, StoreError, VersionId,
};
use rekey_e2e::Moto;
use rekey_e2e::usage::secret_read;
use rekey_usage::{Status, UsageAnswer};
use serde_json::Value;
use time::OffsetDateTime;
use tokio::task::JoinSet;

const POLICIES: &str = r#"
[limited]
max_age = "30d"
max_uses = 5
generator = { type = "password", length = 24, exclude_punctuation = true }

[unlimited]
max_age = "30d"
generator = { type = "password", length = 24, exclude_punctuation = true }
"#;

/// Concurrent events in the burst tests.
const BURST: usize = 40;

fn engine(moto: &Moto, ledger: impl Ledger + 'static) -> Engine {
    let policies: PolicySet = toml::from_str(POLICIES).expect("policies parse");
    Engine::new(policies, Arc::new(ledger))
        .with_store(Arc::new(moto.store()))
        .with_audit(Arc::new(MemoryAudit::default()))
}

/// Every version id Secrets Manager holds for `id`, labelled or not.
async fn versions(moto: &Moto, id: &CredentialId) -> Vec<String> {
    let listed = moto
        .secrets_manager()
        .list_secret_version_ids()
        .secret_id(&id.locator)
        .include_deprecated(true)
        .send()
        .await
        .expect("versions listed");
    listed
        .versions()
        .iter()
        .filter_map(|v| v.version_id().map(str::to_owned))
        .collect()
}

async fn current(moto: &Moto, id: &CredentialId) -> String {
    let described = moto
        .secrets_manager()
        .describe_secret()
        .secret_id(&id.locator)
        .send()
        .await
        .expect("described");
    let stages = described.version_ids_to_stages().expect("stages");
    stages
        .iter()
        .find(|(_, labels)| labels.iter().any(|l| l == "AWSCURRENT"))
        .map(|(version, _)| version.clone())
        .expect("a current version")
}

async fn read(engine: &Engine, event_id: &str, secret_id: &str) -> UsageAnswer {
    let event = secret_read(event_id, secret_id).expect("sample event");
    rekey_usage::handle(engine, event).await.expect("handled")
}

fn total(answer: &UsageAnswer) -> u64 {
    let usage = serde_json::to_value(&answer.counted[0].usage).expect("serialises");
    usage["total"].as_u64().expect("a total")
}

/// `BURST` reads of `id` at once, with distinct record ids, spread over
/// `engines` in turn; answers every answer.
async fn burst(engines: &[Arc<Engine>], id: &CredentialId) -> Vec<UsageAnswer> {
    let mut tasks = JoinSet::new();
    for n in 0..BURST {
        let engine = Arc::clone(&engines[n % engines.len()]);
        let event = secret_read(&format!("burst-{n:04}"), &id.locator).expect("sample event");
        tasks.spawn(async move { rekey_usage::handle(&engine, event).await });
    }
    tasks
        .join_all()
        .await
        .into_iter()
        .map(|answer| answer.expect("handled"))
        .collect()
}

#[tokio::test]
async fn a_burst_of_reads_rotates_exactly_once_and_the_new_version_starts_at_zero() {
    let moto = Moto::start().await.expect("moto starts");
    let id = moto
        .create_secret("app/db", &[("rekey:policy", "limited")], "first-value")
        .await
        .expect("secret created");
    let engine = Arc::new(engine(&moto, moto.ledger().await.expect("ledger")));
    let before = versions(&moto, &id).await;
    let first = current(&moto, &id).await;

    let answers = burst(&[Arc::clone(&engine)], &id).await;

    let rotations = answers.iter().filter(|a| a.rotated).count();
    assert_eq!(rotations, 1, "{answers:#?}");
    assert!(answers.iter().all(|a| a.status == Status::Counted));
    assert_eq!(versions(&moto, &id).await.len(), before.len() + 1);
    let second = current(&moto, &id).await;
    assert_ne!(second, first);

    for n in 1..=4 {
        let answer = read(&engine, &format!("after-{n}"), &id.locator).await;
        assert!(!answer.rotated, "use {n} of the new version: {answer:?}");
        assert_eq!(total(&answer), n, "the new version's count starts at zero");
    }
    let fifth = read(&engine, "after-5", &id.locator).await;
    assert!(fifth.rotated, "{fifth:?}");
    assert_ne!(current(&moto, &id).await, second);
}

#[tokio::test]
async fn two_instances_sharing_the_ledger_rotate_exactly_once() {
    let moto = Moto::start().await.expect("moto starts");
    let id = moto
        .create_secret("app/shared", &[("rekey:policy", "limited")], "first-value")
        .await
        .expect("secret created");
    let table = "rekey-ledger-shared";
    let one = moto.create_ledger_table(table).await.expect("ledger");
    let two = moto.create_ledger_table(table).await.expect("same ledger");
    let engines = [Arc::new(engine(&moto, one)), Arc::new(engine(&moto, two))];
    let before = versions(&moto, &id).await;

    let answers = burst(&engines, &id).await;

    assert_eq!(
        answers.iter().filter(|a| a.rotated).count(),
        1,
        "{answers:#?}"
    );
    assert_eq!(versions(&moto, &id).await.len(), before.len() + 1);
}

#[tokio::test]
async fn a_redelivered_record_is_counted_once() {
    let moto = Moto::start().await.expect("moto starts");
    let id = moto
        .create_secret("app/once", &[("rekey:policy", "limited")], "first-value")
        .await
        .expect("secret created");
    let engine = engine(&moto, moto.ledger().await.expect("ledger"));

    let (a, b) = tokio::join!(
        read(&engine, "the-record", &id.locator),
        read(&engine, "the-record", &id.locator),
    );
    let next = read(&engine, "another-record", &id.locator).await;

    let mut statuses = [a.status, b.status];
    statuses.sort_by_key(|s| format!("{s:?}"));
    assert_eq!(statuses, [Status::Counted, Status::Duplicate]);
    assert_eq!(total(&next), 2);
}

#[tokio::test]
async fn a_read_by_name_counts_against_the_secret_by_arn() {
    let moto = Moto::start().await.expect("moto starts");
    let id = moto
        .create_secret("app/named", &[("rekey:policy", "limited")], "first-value")
        .await
        .expect("secret created");
    let engine = engine(&moto, moto.ledger().await.expect("ledger"));

    read(&engine, "by-arn", &id.locator).await;
    let by_name = read(&engine, "by-name", "app/named").await;

    assert_eq!(by_name.counted[0].credential, id);
    assert_eq!(total(&by_name), 2);
}

#[tokio::test]
async fn a_policy_without_max_uses_never_rotates() {
    let moto = Moto::start().await.expect("moto starts");
    let id = moto
        .create_secret("app/free", &[("rekey:policy", "unlimited")], "first-value")
        .await
        .expect("secret created");
    let engine = Arc::new(engine(&moto, moto.ledger().await.expect("ledger")));
    let first = current(&moto, &id).await;

    let answers = burst(&[engine], &id).await;

    assert!(
        answers
            .iter()
            .all(|a| !a.rotated && a.status == Status::Counted)
    );
    assert_eq!(current(&moto, &id).await, first);
}

#[tokio::test]
async fn reads_of_unmanaged_secrets_are_acknowledged_and_change_nothing() {
    let moto = Moto::start().await.expect("moto starts");
    let id = moto
        .create_secret("app/untagged", &[], "first-value")
        .await
        .expect("secret created");
    let engine = engine(&moto, moto.ledger().await.expect("ledger"));
    let before = versions(&moto, &id).await;

    let by_arn = read(&engine, "u1", &id.locator).await;
    let by_name = read(&engine, "u2", "app/untagged").await;

    for answer in [by_arn, by_name] {
        assert_eq!(answer.status, Status::Ignored, "{answer:?}");
        assert!(answer.counted.is_empty());
    }
    assert_eq!(versions(&moto, &id).await, before);
}

/// Port calls made, by kind: the AWS calls behind each are listed in
/// `usage_event_cost`.
#[derive(Default)]
struct Calls {
    list: AtomicUsize,
    describe: AtomicUsize,
    read: AtomicUsize,
    write: AtomicUsize,
    ledger: AtomicUsize,
}

impl Calls {
    fn take(&self) -> [usize; 5] {
        [
            &self.list,
            &self.describe,
            &self.read,
            &self.write,
            &self.ledger,
        ]
        .map(|c| c.swap(0, Ordering::SeqCst))
    }
}

struct CountingStore<S>(S, Arc<Calls>);

#[async_trait]
impl<S: SecretStore> SecretStore for CountingStore<S> {
    fn provider(&self) -> Provider {
        self.0.provider()
    }
    async fn list(&self) -> Result<Vec<CredentialId>, StoreError> {
        self.1.list.fetch_add(1, Ordering::SeqCst);
        self.0.list().await
    }
    async fn describe(&self, id: &CredentialId) -> Result<Credential, StoreError> {
        self.1.describe.fetch_add(1, Ordering::SeqCst);
        self.0.describe(id).await
    }
    async fn read(&self, id: &CredentialId, v: &VersionId) -> Result<SecretValue, StoreError> {
        self.1.read.fetch_add(1, Ordering::SeqCst);
        self.0.read(id, v).await
    }
    async fn put_pending(
        &self,
        id: &CredentialId,
        v: &VersionId,
        value: &SecretValue,
        token: Option<&RotationToken>,
    ) -> Result<(), StoreError> {
        self.1.write.fetch_add(1, Ordering::SeqCst);
        self.0.put_pending(id, v, value, token).await
    }
    async fn promote(
        &self,
        id: &CredentialId,
        v: &VersionId,
        replacing: Option<&VersionId>,
    ) -> Result<(), StoreError> {
        self.1.write.fetch_add(1, Ordering::SeqCst);
        self.0.promote(id, v, replacing).await
    }
    async fn retire(&self, id: &CredentialId, v: &VersionId) -> Result<(), StoreError> {
        self.1.write.fetch_add(1, Ordering::SeqCst);
        self.0.retire(id, v).await
    }
}

struct CountingLedger<L>(L, Arc<Calls>);

#[async_trait]
impl<L: Ledger> Ledger for CountingLedger<L> {
    async fn claim(
        &self,
        id: &CredentialId,
        rotation: &VersionId,
        now: OffsetDateTime,
        lease: Duration,
    ) -> Result<Claim, LedgerError> {
        self.1.ledger.fetch_add(1, Ordering::SeqCst);
        self.0.claim(id, rotation, now, lease).await
    }
    async fn release(&self, id: &CredentialId, rotation: &VersionId) -> Result<(), LedgerError> {
        self.1.ledger.fetch_add(1, Ordering::SeqCst);
        self.0.release(id, rotation).await
    }
    async fn first_sighting(
        &self,
        event_id: &str,
        now: OffsetDateTime,
        keep: Duration,
    ) -> Result<bool, LedgerError> {
        self.1.ledger.fetch_add(1, Ordering::SeqCst);
        self.0.first_sighting(event_id, now, keep).await
    }

    async fn forget_sighting(&self, event_id: &str) -> Result<(), LedgerError> {
        self.1.ledger.fetch_add(1, Ordering::SeqCst);
        self.0.forget_sighting(event_id).await
    }
    async fn count_uses(
        &self,
        id: &CredentialId,
        version: &VersionId,
        uses: u64,
    ) -> Result<u64, LedgerError> {
        self.1.ledger.fetch_add(1, Ordering::SeqCst);
        self.0.count_uses(id, version, uses).await
    }
}

/// What one usage event costs against moto, sequentially: port calls
/// (Secrets Manager `describe` is `DescribeSecret` plus
/// `ListSecretVersionIds`, `list` one `ListSecrets` page, `read` one
/// `GetSecretValue`; each ledger call one DynamoDB request) and wall time.
#[tokio::test]
#[allow(clippy::print_stderr, reason = "the test reports what it measured")]
async fn usage_event_cost() {
    let moto = Moto::start().await.expect("moto starts");
    let id = moto
        .create_secret("app/cost", &[("rekey:policy", "limited")], "first-value")
        .await
        .expect("secret created");
    let calls = Arc::new(Calls::default());
    let policies: PolicySet = toml::from_str(POLICIES).expect("policies parse");
    let ledger = CountingLedger(moto.ledger().await.expect("ledger"), Arc::clone(&calls));
    let engine = Engine::new(policies, Arc::new(ledger))
        .with_store(Arc::new(CountingStore(moto.store(), Arc::clone(&calls))))
        .with_audit(Arc::new(MemoryAudit::default()));

    let mut report = Vec::new();
    let cases: [(&str, &str, Value); 4] = [
        (
            "read by ARN",
            "c1",
            secret_read("c1", &id.locator).expect("event"),
        ),
        (
            "read by name",
            "c2",
            secret_read("c2", "app/cost").expect("event"),
        ),
        (
            "duplicate",
            "c2",
            secret_read("c2", "app/cost").expect("event"),
        ),
        (
            "unmanaged name",
            "c3",
            secret_read("c3", "nobody").expect("event"),
        ),
    ];
    for (case, _, event) in cases {
        let started = Instant::now();
        rekey_usage::handle(&engine, event).await.expect("handled");
        report.push((case, calls.take(), started.elapsed()));
    }
    for n in 3..=4 {
        let event = secret_read(&format!("c{}", n + 1), &id.locator).expect("event");
        rekey_usage::handle(&engine, event).await.expect("handled");
    }
    calls.take();
    let started = Instant::now();
    let rotated = rekey_usage::handle(&engine, secret_read("c6", &id.locator).expect("event"))
        .await
        .expect("handled");
    assert!(rotated.rotated, "{rotated:?}");
    report.push(("read that rotates", calls.take(), started.elapsed()));

    for (case, [list, describe, read, write, ledger], took) in &report {
        eprintln!(
            "{case:>18}: list {list}, describe {describe}, read {read}, write {write}, ledger {ledger}; {took:?}"
        );
    }
    assert_eq!(report[0].1, [0, 1, 0, 0, 2], "read by ARN");
    assert_eq!(report[1].1, [1, 1, 0, 0, 2], "read by name");
    assert_eq!(report[2].1, [0, 0, 0, 0, 1], "duplicate");
    assert_eq!(report[3].1, [1, 0, 0, 0, 1], "unmanaged name");
}
