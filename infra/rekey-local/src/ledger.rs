//! The ledger of local mode: [`LocalLedger`], a [`Ledger`] on the tables
//! `claims`, `events` and `uses` of the local database.
//!
//! It behaves as [`rekey_core::memory::MemoryLedger`] does. Each
//! read-then-write runs in one `BEGIN IMMEDIATE` transaction, which takes
//! the file's write lock first, so processes sharing the file never both
//! win a claim or both see an event first. Counts stop at `i64::MAX`.

use std::time::Duration;

use async_trait::async_trait;
use rekey_core::{Claim, CredentialId, Ledger, LedgerError, VersionId};
use rusqlite::{Connection, OptionalExtension, params};
use time::OffsetDateTime;
use tracing::debug;

use crate::LocalError;
use crate::db::{LocalDb, from_nanos, immediate, nanos_after, to_nanos};
use crate::error::During;

/// Claims, processed event ids and usage counts in the local database.
#[derive(Clone, Debug)]
pub struct LocalLedger {
    db: LocalDb,
}

impl LocalLedger {
    /// A ledger on `db`.
    pub fn new(db: LocalDb) -> Self {
        Self { db }
    }
}

/// The ledger's key for a credential: `provider:locator`, unambiguous
/// because no provider name holds a colon.
fn key(id: &CredentialId) -> String {
    id.to_string()
}

#[async_trait]
impl Ledger for LocalLedger {
    async fn claim(
        &self,
        id: &CredentialId,
        rotation: &VersionId,
        now: OffsetDateTime,
        lease: Duration,
    ) -> Result<Claim, LedgerError> {
        let (credential, rotation) = (key(id), rotation.clone());
        let (now, until) = (to_nanos(now), nanos_after(now, lease));

        let claim = self
            .db
            .call("claim", move |conn| {
                claim_in(conn, &credential, rotation, now, until)
            })
            .await?;

        let acquired = matches!(claim, Claim::Acquired { .. });
        debug!(credential = %id, acquired, "rotation claim");
        Ok(claim)
    }

    async fn release(&self, id: &CredentialId, rotation: &VersionId) -> Result<(), LedgerError> {
        let op = "release";
        let (credential, rotation) = (key(id), rotation.clone());

        let released = self
            .db
            .call(op, move |conn| {
                let sql = "DELETE FROM claims WHERE credential = ?1 AND rotation = ?2";
                conn.execute(sql, params![credential, rotation.as_str()])
                    .during(op)
            })
            .await?;

        debug!(credential = %id, released = released > 0, "rotation claim release");
        Ok(())
    }

    async fn first_sighting(
        &self,
        event_id: &str,
        now: OffsetDateTime,
        keep: Duration,
    ) -> Result<bool, LedgerError> {
        let event = event_id.to_owned();
        let (now, expires) = (to_nanos(now), nanos_after(now, keep));

        let first = self
            .db
            .call("first_sighting", move |conn| {
                sight_in(conn, &event, now, expires)
            })
            .await?;

        debug!(event_id, first, "event sighting");
        Ok(first)
    }

    async fn forget_sighting(&self, event_id: &str) -> Result<(), LedgerError> {
        let event = event_id.to_owned();
        self.db
            .call("forget_sighting", move |conn| {
                let sql = "DELETE FROM events WHERE event_id = ?1";
                conn.execute(sql, [&event]).during("forget_sighting")?;
                Ok::<(), LocalError>(())
            })
            .await?;
        debug!(event_id, "event sighting forgotten");
        Ok(())
    }

    async fn count_uses(
        &self,
        id: &CredentialId,
        version: &VersionId,
        uses: u64,
    ) -> Result<u64, LedgerError> {
        let (credential, version_id) = (key(id), version.clone());
        let uses = i64::try_from(uses).unwrap_or(i64::MAX);

        let total = self
            .db
            .call("count_uses", move |conn| {
                count_in(conn, &credential, &version_id, uses)
            })
            .await?;

        debug!(credential = %id, version = %version, total, "uses counted");
        Ok(total)
    }
}

/// Claims `credential` for `rotation` until `until` unless another rotation
/// holds it past `now`; an expired holder's rotation is carried on.
fn claim_in(
    conn: &mut Connection,
    credential: &str,
    rotation: VersionId,
    now: i64,
    until: i64,
) -> Result<Claim, LocalError> {
    let op = "claim";
    let tx = immediate(conn, op)?;
    let sql = "SELECT rotation, until FROM claims WHERE credential = ?1";
    let held: Option<(String, i64)> = tx
        .query_row(sql, [credential], |row| Ok((row.get(0)?, row.get(1)?)))
        .optional()
        .during(op)?;

    let carried = match held {
        Some((holder, held_until)) if holder != rotation.0 && held_until > now => {
            let until = from_nanos(held_until, op)?;
            let rotation = VersionId(holder);
            return Ok(Claim::Held { rotation, until });
        }
        Some((expired, _)) => VersionId(expired),
        None => rotation,
    };

    let sql = "INSERT OR REPLACE INTO claims (credential, rotation, until) VALUES (?1, ?2, ?3)";
    tx.execute(sql, params![credential, carried.as_str(), until])
        .during(op)?;
    tx.commit().during(op)?;
    Ok(Claim::Acquired { rotation: carried })
}

/// Records `event` until `expires`; true unless it was recorded past `now`.
fn sight_in(
    conn: &mut Connection,
    event: &str,
    now: i64,
    expires: i64,
) -> Result<bool, LocalError> {
    let op = "first_sighting";
    let tx = immediate(conn, op)?;
    let sql = "SELECT expires FROM events WHERE event_id = ?1";
    let seen: Option<i64> = tx
        .query_row(sql, [event], |row| row.get(0))
        .optional()
        .during(op)?;
    if seen.is_some_and(|until| until > now) {
        return Ok(false);
    }

    // TODO: expired event ids are overwritten, never deleted; delete them
    // once the ledger gets a maintenance hook that runs on a schedule.
    let sql = "INSERT OR REPLACE INTO events (event_id, expires) VALUES (?1, ?2)";
    tx.execute(sql, params![event, expires]).during(op)?;
    tx.commit().during(op)?;
    Ok(true)
}

/// Adds `uses` to the count of (`credential`, `version`); returns the total.
fn count_in(
    conn: &mut Connection,
    credential: &str,
    version: &VersionId,
    uses: i64,
) -> Result<u64, LocalError> {
    let op = "count_uses";
    let tx = immediate(conn, op)?;
    let sql = "SELECT count FROM uses WHERE credential = ?1 AND version = ?2";
    let before: Option<i64> = tx
        .query_row(sql, params![credential, version.as_str()], |row| row.get(0))
        .optional()
        .during(op)?;
    let total = before.unwrap_or(0).saturating_add(uses);

    let sql = "INSERT OR REPLACE INTO uses (credential, version, count) VALUES (?1, ?2, ?3)";
    tx.execute(sql, params![credential, version.as_str(), total])
        .during(op)?;
    tx.commit().during(op)?;
    u64::try_from(total).map_err(|_| LocalError::InvalidData {
        op,
        detail: "negative use count".to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use rekey_core::Provider;

    use super::*;

    fn open(dir: &Path) -> LocalLedger {
        LocalLedger::new(LocalDb::open(dir).expect("open"))
    }

    fn credential() -> CredentialId {
        CredentialId::new(Provider::Local, "db")
    }

    const LEASE: Duration = Duration::from_secs(60);

    #[tokio::test]
    async fn ledger_passes_the_conformance_check() {
        let dir = tempfile::tempdir().expect("tempdir");

        rekey_core::conformance::check_ledger(&open(dir.path())).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_claims_from_two_connections_have_one_winner() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ledgers = [open(dir.path()), open(dir.path())];
        let now = OffsetDateTime::now_utc();

        let tasks: Vec<_> = (0..16)
            .map(|n| {
                let ledger = ledgers[n % 2].clone();
                tokio::spawn(async move {
                    let rotation = VersionId::generate();
                    let claim = ledger.claim(&credential(), &rotation, now, LEASE).await;
                    (rotation, claim.expect("claim"))
                })
            })
            .collect();
        let mut claims = Vec::new();
        for task in tasks {
            claims.push(task.await.expect("task"));
        }

        let winners: Vec<_> = claims
            .iter()
            .filter(|(_, claim)| matches!(claim, Claim::Acquired { .. }))
            .collect();
        assert_eq!(winners.len(), 1, "{claims:?}");
        let winner = &winners[0].0;
        assert_eq!(
            winners[0].1,
            Claim::Acquired {
                rotation: winner.clone()
            }
        );
        for (_, claim) in &claims {
            match claim {
                Claim::Held { rotation, .. } => assert_eq!(rotation, winner),
                Claim::Acquired { rotation } => assert_eq!(rotation, winner),
            }
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_counts_from_two_connections_lose_no_use() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ledgers = [open(dir.path()), open(dir.path())];
        let version = VersionId::generate();

        let tasks: Vec<_> = (0..32)
            .map(|n| {
                let (ledger, version) = (ledgers[n % 2].clone(), version.clone());
                tokio::spawn(async move { ledger.count_uses(&credential(), &version, 1).await })
            })
            .collect();
        for task in tasks {
            task.await.expect("task").expect("count");
        }

        let total = ledgers[0].count_uses(&credential(), &version, 0).await;
        assert_eq!(total.expect("count"), 32);
    }

    #[tokio::test]
    async fn reopened_ledger_keeps_claims_events_and_counts() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (holder, other) = (VersionId::generate(), VersionId::generate());
        let now = OffsetDateTime::now_utc();
        let ledger = open(dir.path());
        ledger
            .claim(&credential(), &holder, now, LEASE)
            .await
            .expect("claim");
        assert!(
            ledger
                .first_sighting("evt-1", now, LEASE)
                .await
                .expect("sighting")
        );
        ledger
            .count_uses(&credential(), &holder, 5)
            .await
            .expect("count");
        drop(ledger);

        let ledger = open(dir.path());

        let claim = ledger.claim(&credential(), &other, now, LEASE).await;
        let until = now + LEASE;
        assert_eq!(
            claim.expect("claim"),
            Claim::Held {
                rotation: holder.clone(),
                until
            }
        );
        assert!(
            !ledger
                .first_sighting("evt-1", now, LEASE)
                .await
                .expect("sighting")
        );
        let total = ledger.count_uses(&credential(), &holder, 1).await;
        assert_eq!(total.expect("count"), 6);
    }

    #[tokio::test]
    async fn event_is_first_again_once_it_expires() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ledger = open(dir.path());
        let now = OffsetDateTime::now_utc();

        assert!(
            ledger
                .first_sighting("evt", now, LEASE)
                .await
                .expect("first")
        );
        let at_expiry = now + LEASE;
        assert!(
            ledger
                .first_sighting("evt", at_expiry, LEASE)
                .await
                .expect("again")
        );
        assert!(
            !ledger
                .first_sighting("evt", at_expiry, LEASE)
                .await
                .expect("duplicate")
        );
    }

    #[tokio::test]
    async fn use_counts_saturate_instead_of_overflowing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ledger = open(dir.path());
        let version = VersionId::generate();

        ledger
            .count_uses(&credential(), &version, u64::MAX)
            .await
            .expect("count");
        let total = ledger.count_uses(&credential(), &version, 1).await;

        assert_eq!(total.expect("count"), i64::MAX.unsigned_abs());
    }

    #[tokio::test]
    async fn huge_lease_does_not_overflow() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ledger = open(dir.path());
        let now = OffsetDateTime::now_utc();

        let claim = ledger
            .claim(&credential(), &VersionId::generate(), now, Duration::MAX)
            .await;

        assert!(matches!(claim, Ok(Claim::Acquired { .. })), "{claim:?}");
    }
}
