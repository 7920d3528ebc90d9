//! Azure Key Vault events delivered by Event Grid to
//! [`crate::AZURE_EVENT_GRID_PATH`], in either delivery schema.
//!
//! - **Event Grid schema**: a JSON array of `{id, topic, subject,
//!   eventType, eventTime, data, dataVersion, metadataVersion}`. A new
//!   subscription first sends `Microsoft.EventGrid.SubscriptionValidationEvent`,
//!   answered with `{"validationResponse": data.validationCode}` (Event
//!   Grid docs, "Event Grid event schema" and "Endpoint validation with
//!   Event Grid events").
//! - **CloudEvents 1.0**: `{specversion, type, source, subject, id, time,
//!   data}`, one (`application/cloudevents+json`) or an array
//!   (`application/cloudevents-batch+json`); the handshake is the
//!   `OPTIONS` abuse-protection request (see `routes.rs`).
//!
//! `Microsoft.KeyVault.SecretNearExpiry` and `SecretExpired` rotate the
//! secret; their `data` is PascalCase on the wire: `Id`, `VaultName`,
//! `ObjectType`, `ObjectName`, `Version`, `NBF`, `EXP` (Key Vault docs,
//! "Azure Key Vault as Event Grid source"). Other event types are ignored.

use rekey_core::{CredentialId, Provider};
use serde_json::Value;

use crate::fields::{Malformed, bounded, json, optional_text, text};
use crate::notice::{Freshness, Notice};

/// The source expiry notices from Key Vault are recorded under.
pub const SOURCE: &str = "azure.keyvault";
/// The validation handshake of an Event Grid schema subscription.
pub const VALIDATION_EVENT: &str = "Microsoft.EventGrid.SubscriptionValidationEvent";
/// The Key Vault events that ask for a rotation.
pub const EXPIRY_EVENTS: [&str; 2] = [
    "Microsoft.KeyVault.SecretNearExpiry",
    "Microsoft.KeyVault.SecretExpired",
];
/// The most events one delivery may hold (Event Grid's batch limit).
const MAX_EVENTS: usize = 5000;

/// One event of a delivery, once parsed.
#[derive(Debug)]
pub(crate) struct GridEvent {
    /// The topic (Event Grid schema) or source (CloudEvents): the vault's
    /// resource id.
    pub topic: String,
    /// What it asks for.
    pub kind: GridKind,
}

/// What an event asks for.
#[derive(Debug)]
pub(crate) enum GridKind {
    /// Answer the subscription validation handshake with this code.
    Validation(String),
    /// Rotate, once.
    Rotate(Notice),
    /// Acknowledge and do nothing.
    Ignore(String),
}

/// Parses a delivery in either schema.
pub(crate) fn parse(body: &[u8]) -> Result<Vec<GridEvent>, Malformed> {
    let events = match json(body)? {
        Value::Array(events) => events,
        event @ Value::Object(_) if event.get("specversion").is_some() => vec![event],
        _ => {
            return Err(Malformed(
                "expected an array of Event Grid events or CloudEvents".into(),
            ));
        }
    };
    if events.is_empty() || events.len() > MAX_EVENTS {
        return Err(Malformed(format!(
            "a delivery holds 1 to {MAX_EVENTS} events"
        )));
    }
    events
        .iter()
        .enumerate()
        .map(|(index, event)| parse_event(event, index))
        .collect()
}

fn parse_event(event: &Value, index: usize) -> Result<GridEvent, Malformed> {
    let at = |field: &str| format!("event {index}: {field}");
    let cloud = event.get("specversion").is_some();
    let (topic, kind) = match cloud {
        true => ("/source", "/type"),
        false => ("/topic", "/eventType"),
    };
    if cloud && event.get("specversion").and_then(Value::as_str) != Some("1.0") {
        return Err(Malformed(at("specversion must be \"1.0\"")));
    }
    let id = text(event, "/id", &at("id"), 128)?;
    let topic = text(event, topic, &at(&topic[1..]), 1024)?.to_owned();
    let kind = text(event, kind, &at(&kind[1..]), 256)?;

    let kind = match kind {
        VALIDATION_EVENT if !cloud => {
            let code = text(
                event,
                "/data/validationCode",
                &at("data.validationCode"),
                256,
            )?;
            GridKind::Validation(code.to_owned())
        }
        expiry if EXPIRY_EVENTS.contains(&expiry) => GridKind::Rotate(Notice {
            source: SOURCE,
            event: expiry.to_owned(),
            delivery: format!("azure.eventgrid:{id}"),
            credential: secret_of(event, &at)?,
            freshness: Freshness::AboutVersion(version_of(event, &at)?),
        }),
        other => GridKind::Ignore(format!("{} events are not acted on", bounded(other))),
    };
    Ok(GridEvent { topic, kind })
}

/// The secret a Key Vault event names, as `https://{vault host}/secrets/{name}`:
/// from `data.Id` when present, else from `data.VaultName` and `data.ObjectName`.
fn secret_of(event: &Value, at: &dyn Fn(&str) -> String) -> Result<CredentialId, Malformed> {
    let object_type = optional_text(event, "/data/ObjectType", &at("data.ObjectType"), 64)?;
    if object_type.is_some_and(|t| t != "Secret") {
        return Err(Malformed(at("data.ObjectType must be \"Secret\"")));
    }
    let name = text(event, "/data/ObjectName", &at("data.ObjectName"), 127)?;
    if !is_object_name(name) {
        return Err(Malformed(at(
            "data.ObjectName must be 1 to 127 of [A-Za-z0-9-]",
        )));
    }

    let host = match optional_text(event, "/data/Id", &at("data.Id"), 2048)? {
        Some(id) => host_of_id(id, name).ok_or_else(|| {
            Malformed(at(
                "data.Id must be https://{vault host}/secrets/{ObjectName}[/{version}]",
            ))
        })?,
        None => {
            let vault = text(event, "/data/VaultName", &at("data.VaultName"), 24)?;
            if !is_vault_name(vault) {
                return Err(Malformed(at(
                    "data.VaultName must be 3 to 24 of [A-Za-z0-9-]",
                )));
            }
            format!("{}.vault.azure.net", vault.to_ascii_lowercase())
        }
    };
    let locator = format!("https://{host}/secrets/{name}");
    Ok(CredentialId::new(Provider::AzureKeyVault, locator))
}

fn version_of(event: &Value, at: &dyn Fn(&str) -> String) -> Result<Option<String>, Malformed> {
    let version = optional_text(event, "/data/Version", &at("data.Version"), 64)?;
    match version {
        Some(v) if !v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') => Err(Malformed(
            at("data.Version must be letters, digits and `-`"),
        )),
        _ => Ok(version.map(str::to_owned)),
    }
}

/// The lowercased vault host of a secret id
/// `https://{host}/secrets/{name}[/{version}]` naming secret `name`.
fn host_of_id(id: &str, name: &str) -> Option<String> {
    let rest = id.strip_prefix("https://")?;
    let (host, path) = rest.split_once('/')?;
    let parts: Vec<&str> = path.split('/').collect();
    let named = match parts.as_slice() {
        ["secrets", secret] | ["secrets", secret, _] => *secret == name,
        _ => false,
    };
    let is_host = !host.is_empty()
        && host.len() <= 253
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
    (named && is_host).then(|| host.to_ascii_lowercase())
}

fn is_object_name(name: &str) -> bool {
    (1..=127).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

fn is_vault_name(name: &str) -> bool {
    (3..=24).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const TOPIC: &str =
        "/subscriptions/s/resourceGroups/g/providers/Microsoft.KeyVault/vaults/sample-kv";

    fn data() -> Value {
        json!({
            "Id": "https://sample-kv.vault.azure.net/secrets/db/0123456789abcdef0123456789abcdef",
            "VaultName": "sample-kv", "ObjectType": "Secret", "ObjectName": "db",
            "Version": "0123456789abcdef0123456789abcdef", "NBF": null, "EXP": 1_767_225_600
        })
    }

    fn rotation(events: Vec<GridEvent>) -> Notice {
        match events.into_iter().next().map(|e| e.kind) {
            Some(GridKind::Rotate(notice)) => notice,
            other => panic!("not a rotation: {other:?}"),
        }
    }

    #[test]
    fn near_expiry_names_the_secret_in_both_schemas() {
        let grid = json!([{
            "id": "e1", "topic": TOPIC, "subject": "db",
            "eventType": "Microsoft.KeyVault.SecretNearExpiry",
            "eventTime": "2026-12-01T10:00:00Z", "data": data(),
            "dataVersion": "1", "metadataVersion": "1"
        }]);
        let cloud = json!({
            "specversion": "1.0", "id": "e1", "source": TOPIC, "subject": "db",
            "type": "Microsoft.KeyVault.SecretNearExpiry", "time": "2026-12-01T10:00:00Z",
            "data": data()
        });

        for body in [grid, cloud] {
            let notice = rotation(parse(body.to_string().as_bytes()).expect("parses"));
            assert_eq!(
                notice.credential.locator,
                "https://sample-kv.vault.azure.net/secrets/db"
            );
            assert_eq!(notice.delivery, "azure.eventgrid:e1");
        }
    }

    #[test]
    fn a_cloudevents_batch_is_read_event_by_event() {
        let one = |id: &str, kind: &str| json!({"specversion": "1.0", "id": id, "source": TOPIC, "type": kind, "data": data()});
        let batch = json!([
            one("a", EXPIRY_EVENTS[1]),
            one("b", "Microsoft.KeyVault.SecretNewVersionCreated")
        ]);

        let events = parse(batch.to_string().as_bytes()).expect("parses");
        assert!(matches!(&events[0].kind, GridKind::Rotate(n) if n.event == EXPIRY_EVENTS[1]));
        assert!(matches!(&events[1].kind, GridKind::Ignore(_)));
    }

    #[test]
    fn without_an_id_the_vault_name_makes_the_url() {
        let mut data = data();
        data.as_object_mut().map(|d| d.remove("Id"));
        let event =
            json!([{"id": "e2", "topic": TOPIC, "eventType": EXPIRY_EVENTS[1], "data": data}]);

        let notice = rotation(parse(event.to_string().as_bytes()).expect("parses"));
        assert_eq!(
            notice.credential.locator,
            "https://sample-kv.vault.azure.net/secrets/db"
        );
    }

    #[test]
    fn the_validation_event_carries_its_code() {
        let event = json!([{"id": "v", "topic": TOPIC, "eventType": VALIDATION_EVENT,
            "data": {"validationCode": "512d38b6-c7b8-40c8-89fe-f46f9e9622b6"}}]);
        let parsed = parse(event.to_string().as_bytes()).expect("parses");
        assert!(matches!(&parsed[0].kind, GridKind::Validation(c) if c.starts_with("512d")));
    }

    #[test]
    fn bad_events_name_the_field() {
        let mut wrong_id = data();
        wrong_id["Id"] = json!("https://sample-kv.vault.azure.net/keys/db");
        let cases = [
            (json!({"id": "x"}), "expected an array"),
            (json!([]), "1 to 5000 events"),
            (
                json!([{"topic": TOPIC, "eventType": "x"}]),
                "event 0: id is missing",
            ),
            (
                json!([{"id": "e", "topic": TOPIC, "eventType": EXPIRY_EVENTS[0], "data": wrong_id}]),
                "data.Id",
            ),
            (
                json!([{"id": "e", "topic": TOPIC, "eventType": EXPIRY_EVENTS[0], "data": {"ObjectName": "a/b"}}]),
                "data.ObjectName",
            ),
            (
                json!({"specversion": "0.3", "id": "e", "source": TOPIC, "type": "x"}),
                "specversion",
            ),
        ];
        for (body, expected) in cases {
            let error = parse(body.to_string().as_bytes())
                .expect_err(expected)
                .to_string();
            assert!(error.contains(expected), "{error}");
        }
    }
}
