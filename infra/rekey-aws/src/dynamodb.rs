//! The DynamoDB ledger: claims, event ids and usage counters in one table
//! whose only key is the string partition key `pk`.
//!
//! Every write is a conditional write or an atomic counter, so racing
//! workers never both win. The table holds three shapes of item (times in
//! Unix nanoseconds, exact, so answers match the reference ledger):
//!
//! | item | `pk` | other attributes |
//! |---|---|---|
//! | rotation claim | `claim#<provider>#<locator>` | `rotation` (S), `until_ns` (N), `credential` (S) |
//! | event seen | `event#<event id>` | `expires_ns` (N), `ttl` (N, Unix seconds) |
//! | usage counter | `uses#<provider>#<locator>#<version>` | `uses` (N) |
//!
//! `%` and `#` inside a key's parts are written `%25` and `%23`, so keys
//! never collide. Enable DynamoDB TTL on `ttl` to drop old event ids;
//! claims carry no `ttl`, because an expired claim names the rotation the
//! next worker resumes. [`DynamoDbLedger::create_table`] makes such a table.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::ProvideErrorMetadata as _;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType, ReturnValue,
    ReturnValuesOnConditionCheckFailure, ScalarAttributeType, TableStatus, TimeToLiveSpecification,
};
use rekey_core::{Claim, CredentialId, Ledger, LedgerError, VersionId};
use time::OffsetDateTime;

use crate::error::AwsError;

/// How many times a claim is tried while other workers keep changing it.
const CLAIM_ATTEMPTS: usize = 5;

/// How long [`DynamoDbLedger::create_table`] waits for the table.
const TABLE_WAIT: Duration = Duration::from_secs(120);

type Item = HashMap<String, AttributeValue>;

/// The [`Ledger`] in one DynamoDB table.
#[derive(Clone, Debug)]
pub struct DynamoDbLedger {
    client: Client,
    table: String,
}

/// A claim as the table holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Lease {
    rotation: VersionId,
    until: OffsetDateTime,
}

/// What a conditional claim write requires of the item it replaces.
enum Guard<'a> {
    /// No claim, or one by the same rotation.
    FreeOrOwn(&'a VersionId),
    /// Exactly the (expired) claim seen before.
    Holder(&'a Lease),
}

/// How a conditional claim write ended.
enum Written {
    /// The claim is ours.
    Yes,
    /// The condition failed; the claim there, if any.
    No(Option<Lease>),
}

impl DynamoDbLedger {
    /// A ledger in `table`, reached as `config` says (region, credentials,
    /// endpoint).
    pub fn new(config: &aws_config::SdkConfig, table: impl Into<String>) -> Self {
        Self {
            client: Client::new(config),
            table: table.into(),
        }
    }

    /// The table's name.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// Creates the table (on-demand capacity, TTL on `ttl`) and waits until
    /// it is active; for local demos and tests. An existing table is left
    /// as it is.
    pub async fn create_table(&self) -> Result<(), LedgerError> {
        let created = self
            .client
            .create_table()
            .table_name(&self.table)
            .attribute_definitions(key_definition()?)
            .key_schema(key_schema()?)
            .billing_mode(BillingMode::PayPerRequest)
            .send()
            .await;
        match created {
            Ok(_) => {}
            Err(e) if e.code() == Some("ResourceInUseException") => {
                return self.wait_until_active().await;
            }
            Err(e) => return Err(AwsError::of("create table", &e).into()),
        }

        self.wait_until_active().await?;
        let ttl = TimeToLiveSpecification::builder()
            .enabled(true)
            .attribute_name("ttl")
            .build()
            .map_err(|e| LedgerError::Backend(format!("failed to build a TTL spec: {e}")))?;
        self.client
            .update_time_to_live()
            .table_name(&self.table)
            .time_to_live_specification(ttl)
            .send()
            .await
            .map_err(|e| AwsError::of("update time to live", &e))?;
        tracing::debug!(table = %self.table, "created the ledger table");
        Ok(())
    }

    async fn wait_until_active(&self) -> Result<(), LedgerError> {
        let started = std::time::Instant::now();
        loop {
            let output = self
                .client
                .describe_table()
                .table_name(&self.table)
                .send()
                .await
                .map_err(|e| AwsError::of("describe table", &e))?;
            let status = output.table().and_then(|t| t.table_status());
            if status == Some(&TableStatus::Active) {
                return Ok(());
            }

            if started.elapsed() > TABLE_WAIT {
                return Err(LedgerError::Backend(format!(
                    "table {} is still not active after {TABLE_WAIT:?}",
                    self.table
                )));
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }

    /// One attempt at a claim; `None` when another worker changed the
    /// claim between our read and our write.
    async fn try_claim(
        &self,
        id: &CredentialId,
        rotation: &VersionId,
        now: OffsetDateTime,
        until: OffsetDateTime,
    ) -> Result<Option<Claim>, LedgerError> {
        let held = match self
            .put_claim(id, rotation, until, Guard::FreeOrOwn(rotation))
            .await?
        {
            Written::Yes => {
                tracing::debug!(credential = %id, %rotation, "claimed");
                let rotation = rotation.clone();
                return Ok(Some(Claim::Acquired { rotation }));
            }
            Written::No(None) => return Ok(None),
            Written::No(Some(held)) => held,
        };
        if held.until > now {
            tracing::debug!(credential = %id, holder = %held.rotation, "held by another rotation");
            let Lease { rotation, until } = held;
            return Ok(Some(Claim::Held { rotation, until }));
        }

        // Expired: take it over and carry on with the holder's rotation.
        match self
            .put_claim(id, &held.rotation, until, Guard::Holder(&held))
            .await?
        {
            Written::Yes => {
                tracing::debug!(credential = %id, rotation = %held.rotation, "resumed an expired claim");
                Ok(Some(Claim::Acquired {
                    rotation: held.rotation,
                }))
            }
            Written::No(_) => Ok(None),
        }
    }

    /// Writes the claim of `rotation` until `until`, if `guard` holds.
    async fn put_claim(
        &self,
        id: &CredentialId,
        rotation: &VersionId,
        until: OffsetDateTime,
        guard: Guard<'_>,
    ) -> Result<Written, LedgerError> {
        let request = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(claim_key(id)))
            .item("rotation", s(rotation.as_str()))
            .item("until_ns", nanos(until))
            .item("credential", s(id.to_string()))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        let request = match guard {
            Guard::FreeOrOwn(own) => request
                .condition_expression("attribute_not_exists(pk) OR rotation = :own")
                .expression_attribute_values(":own", s(own.as_str())),
            Guard::Holder(held) => request
                .condition_expression("rotation = :held AND until_ns = :held_until")
                .expression_attribute_values(":held", s(held.rotation.as_str()))
                .expression_attribute_values(":held_until", nanos(held.until)),
        };

        match request.send().await {
            Ok(_) => Ok(Written::Yes),
            Err(e) => match e.as_service_error() {
                Some(PutItemError::ConditionalCheckFailedException(failed)) => {
                    let held = failed.item().map(lease_of).transpose()?;
                    Ok(Written::No(held))
                }
                _ => Err(AwsError::of("put claim", &e).into()),
            },
        }
    }
}

#[async_trait]
impl Ledger for DynamoDbLedger {
    async fn claim(
        &self,
        id: &CredentialId,
        rotation: &VersionId,
        now: OffsetDateTime,
        lease: Duration,
    ) -> Result<Claim, LedgerError> {
        let until = now + lease;
        for _ in 0..CLAIM_ATTEMPTS {
            if let Some(claim) = self.try_claim(id, rotation, now, until).await? {
                return Ok(claim);
            }
        }
        Err(LedgerError::Unavailable(format!(
            "the claim on {id} changed under each of {CLAIM_ATTEMPTS} attempts"
        )))
    }

    async fn release(&self, id: &CredentialId, rotation: &VersionId) -> Result<(), LedgerError> {
        let deleted = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(claim_key(id)))
            .condition_expression("rotation = :own")
            .expression_attribute_values(":own", s(rotation.as_str()))
            .send()
            .await;
        match deleted {
            Ok(_) => tracing::debug!(credential = %id, %rotation, "released"),
            Err(e) if e.code() == Some("ConditionalCheckFailedException") => {
                tracing::debug!(credential = %id, %rotation, "not the holder; nothing released");
            }
            Err(e) => return Err(AwsError::of("delete claim", &e).into()),
        }
        Ok(())
    }

    async fn first_sighting(
        &self,
        event_id: &str,
        now: OffsetDateTime,
        keep: Duration,
    ) -> Result<bool, LedgerError> {
        let expires = now + keep;
        let written = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(format!("event#{}", escape(event_id))))
            .item("expires_ns", nanos(expires))
            .item("ttl", n(ttl_of(expires).into()))
            .condition_expression("attribute_not_exists(pk) OR expires_ns <= :now")
            .expression_attribute_values(":now", nanos(now))
            .send()
            .await;
        match written {
            Ok(_) => Ok(true),
            Err(e) if e.code() == Some("ConditionalCheckFailedException") => Ok(false),
            Err(e) => Err(AwsError::of("put event", &e).into()),
        }
    }

    async fn forget_sighting(&self, event_id: &str) -> Result<(), LedgerError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(format!("event#{}", escape(event_id))))
            .send()
            .await
            .map_err(|e| AwsError::of("delete event", &e))?;
        Ok(())
    }

    async fn count_uses(
        &self,
        id: &CredentialId,
        version: &VersionId,
        uses: u64,
    ) -> Result<u64, LedgerError> {
        let output = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(uses_key(id, version)))
            .update_expression("ADD #uses :n")
            .expression_attribute_names("#uses", "uses")
            .expression_attribute_values(":n", n(uses.into()))
            .return_values(ReturnValue::AllNew)
            .send()
            .await
            .map_err(|e| AwsError::of("count uses", &e))?;

        let total = output
            .attributes()
            .and_then(|a| a.get("uses"))
            .and_then(|v| v.as_n().ok())
            .ok_or_else(|| LedgerError::Backend("the counter update returned no count".into()))?;
        let total: u128 = total
            .parse()
            .map_err(|_| LedgerError::Backend(format!("the counter holds {total}, not a count")))?;
        Ok(u64::try_from(total).unwrap_or(u64::MAX))
    }
}

fn key_definition() -> Result<AttributeDefinition, LedgerError> {
    AttributeDefinition::builder()
        .attribute_name("pk")
        .attribute_type(ScalarAttributeType::S)
        .build()
        .map_err(|e| LedgerError::Backend(format!("failed to build the key definition: {e}")))
}

fn key_schema() -> Result<KeySchemaElement, LedgerError> {
    KeySchemaElement::builder()
        .attribute_name("pk")
        .key_type(KeyType::Hash)
        .build()
        .map_err(|e| LedgerError::Backend(format!("failed to build the key schema: {e}")))
}

/// A key part with `%` and `#` escaped, so `#` only ever separates parts.
fn escape(part: &str) -> String {
    part.replace('%', "%25").replace('#', "%23")
}

fn claim_key(id: &CredentialId) -> String {
    format!("claim#{}#{}", id.provider, escape(&id.locator))
}

fn uses_key(id: &CredentialId, version: &VersionId) -> String {
    format!(
        "uses#{}#{}#{}",
        id.provider,
        escape(&id.locator),
        escape(version.as_str())
    )
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn n(value: i128) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn nanos(time: OffsetDateTime) -> AttributeValue {
    n(time.unix_timestamp_nanos())
}

/// DynamoDB TTL's Unix seconds, rounded up so nothing goes early.
fn ttl_of(expires: OffsetDateTime) -> i64 {
    let whole = expires.unix_timestamp();
    if expires.nanosecond() > 0 {
        whole + 1
    } else {
        whole
    }
}

/// The claim an item holds.
fn lease_of(item: &Item) -> Result<Lease, LedgerError> {
    let broken = |what: &str| LedgerError::Backend(format!("a claim item has {what}"));
    let rotation = item
        .get("rotation")
        .and_then(|v| v.as_s().ok())
        .ok_or_else(|| broken("no rotation"))?;
    let until = item
        .get("until_ns")
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse::<i128>().ok())
        .and_then(|v| OffsetDateTime::from_unix_timestamp_nanos(v).ok())
        .ok_or_else(|| broken("no valid until_ns"))?;
    Ok(Lease {
        rotation: VersionId(rotation.clone()),
        until,
    })
}

#[cfg(test)]
mod tests {
    use rekey_core::Provider;

    use super::*;

    #[test]
    fn keys_of_different_parts_never_collide() {
        let a = CredentialId::new(Provider::Local, "a#b");
        let b = CredentialId::new(Provider::Local, "a");

        let first = uses_key(&a, &VersionId("c".into()));
        let second = uses_key(&b, &VersionId("b#c".into()));

        assert_ne!(first, second);
        assert_eq!(first, "uses#local#a%23b#c");
        assert_eq!(escape("50%#"), "50%25%23");
    }

    #[test]
    fn claims_round_trip_to_the_nanosecond() {
        let until =
            OffsetDateTime::from_unix_timestamp_nanos(1_764_790_200_123_456_789).expect("in range");
        let item = Item::from([
            ("rotation".to_owned(), s("r1")),
            ("until_ns".to_owned(), nanos(until)),
        ]);

        let lease = lease_of(&item).expect("a claim");

        assert_eq!(
            lease,
            Lease {
                rotation: VersionId("r1".into()),
                until
            }
        );
    }

    #[test]
    fn a_broken_claim_item_is_a_backend_error() {
        let item = Item::from([("rotation".to_owned(), s("r1"))]);

        assert!(matches!(lease_of(&item), Err(LedgerError::Backend(_))));
    }

    #[test]
    fn ttl_rounds_up_to_the_next_second() {
        let exact = OffsetDateTime::from_unix_timestamp(100).expect("in range");

        assert_eq!(ttl_of(exact), 100);
        assert_eq!(ttl_of(exact + Duration::from_nanos(1)), 101);
    }
}
