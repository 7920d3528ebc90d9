//! GCP Secret Manager event notifications, pushed by a Pub/Sub push
//! subscription to [`crate::GCP_SECRET_MANAGER_PATH`].
//!
//! A push delivery is `{"message": {"attributes", "data", "messageId",
//! "publishTime"}, "subscription": "projects/P/subscriptions/S"}` (Pub/Sub
//! docs, "Push subscriptions"). Secret Manager sets the attributes
//! `eventType`, `secretId` (the secret's resource name), `dataFormat`,
//! `timestamp` and, for version events, `versionName`; `data` is the
//! base64 of the Secret resource as JSON (Secret Manager docs, "Event
//! notifications"). `SECRET_ROTATE` rotates the secret; every other type
//! (`SECRET_VERSION_ADD`, which rekey's own rotation causes, among them) is
//! acknowledged and ignored. Pub/Sub redelivers until acknowledged, so the
//! `messageId` is the dedupe key and `publishTime` tells a stale notice.

use base64::Engine as _;
use rekey_core::{CredentialId, Provider};
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::fields::{Malformed, bounded, json, optional_text, text};
use crate::notice::{Freshness, Notice};

/// The source expiry notices from Secret Manager are recorded under.
pub const SOURCE: &str = "gcp.secretmanager";
/// The event type that asks for a rotation.
pub const SECRET_ROTATE: &str = "SECRET_ROTATE";

/// What a push delivery asks for, once parsed.
#[derive(Debug)]
pub(crate) enum Push {
    /// Rotate, once.
    Rotate(Notice),
    /// Acknowledge and do nothing; the reason says why.
    Ignore(String),
}

/// A parsed push delivery and the subscription that sent it.
#[derive(Debug)]
pub(crate) struct Delivery {
    /// `projects/P/subscriptions/S`.
    pub subscription: String,
    /// What it asks for.
    pub push: Push,
}

/// Parses a push delivery's body.
pub(crate) fn parse(body: &[u8]) -> Result<Delivery, Malformed> {
    let envelope = json(body)?;
    if !envelope.is_object() || !envelope.get("message").is_some_and(Value::is_object) {
        return Err(Malformed(
            "expected a Pub/Sub push envelope {\"message\": {…}, \"subscription\"}".into(),
        ));
    }
    let subscription = text(&envelope, "/subscription", "subscription", 255)?.to_owned();
    let message_id = text(&envelope, "/message/messageId", "message.messageId", 128)?;
    let published = text(&envelope, "/message/publishTime", "message.publishTime", 64)?;
    let published = OffsetDateTime::parse(published, &Rfc3339)
        .map_err(|_| Malformed("message.publishTime must be an RFC 3339 time".into()))?;

    let push = parse_message(&envelope, message_id, published)?;
    Ok(Delivery { subscription, push })
}

fn parse_message(
    envelope: &Value,
    message_id: &str,
    published: OffsetDateTime,
) -> Result<Push, Malformed> {
    let attribute = |name: &str| format!("message.attributes.{name}");
    let event = text(
        envelope,
        "/message/attributes/eventType",
        &attribute("eventType"),
        64,
    )?;
    let secret = text(
        envelope,
        "/message/attributes/secretId",
        &attribute("secretId"),
        512,
    )?;
    if !is_secret_name(secret) {
        return Err(Malformed(
            "message.attributes.secretId must be projects/PROJECT/secrets/SECRET".into(),
        ));
    }
    optional_text(
        envelope,
        "/message/attributes/versionName",
        &attribute("versionName"),
        600,
    )?;
    let data = decode_data(envelope)?;

    if event != SECRET_ROTATE {
        let reason = format!("{} notifications are not acted on", bounded(event));
        return Ok(Push::Ignore(reason));
    }
    check_secret_resource(data.as_deref())?;
    Ok(Push::Rotate(Notice {
        source: SOURCE,
        event: SECRET_ROTATE.into(),
        delivery: format!("{SOURCE}:{message_id}"),
        credential: CredentialId::new(Provider::GcpSecretManager, secret),
        freshness: Freshness::PublishedAt(published),
    }))
}

/// `message.data` decoded from base64; `None` when absent or empty.
fn decode_data(envelope: &Value) -> Result<Option<Vec<u8>>, Malformed> {
    let Some(data) = optional_text(envelope, "/message/data", "message.data", usize::MAX)? else {
        return Ok(None);
    };
    base64::engine::general_purpose::STANDARD
        .decode(data)
        .map(Some)
        .map_err(|_| Malformed("message.data is not valid base64".into()))
}

/// `SECRET_ROTATE` carries the Secret resource: a JSON object with a name.
fn check_secret_resource(data: Option<&[u8]>) -> Result<(), Malformed> {
    let data = data.ok_or_else(|| Malformed("message.data is missing".into()))?;
    let secret: Value = serde_json::from_slice(data)
        .map_err(|_| Malformed("message.data is not a Secret resource in JSON".into()))?;
    match secret.get("name").and_then(Value::as_str) {
        Some(name) if is_secret_name(name) => Ok(()),
        _ => Err(Malformed(
            "message.data must be a Secret resource with a name".into(),
        )),
    }
}

/// Whether `name` is `projects/PROJECT/secrets/SECRET`.
fn is_secret_name(name: &str) -> bool {
    let parts: Vec<&str> = name.split('/').collect();
    let is_segment = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
    };
    matches!(parts.as_slice(), ["projects", project, "secrets", secret] if is_segment(project) && is_segment(secret))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn push(event: &str, data: &str) -> Vec<u8> {
        json!({
            "message": {
                "attributes": {
                    "eventType": event,
                    "secretId": "projects/p/secrets/db",
                    "dataFormat": "JSON",
                    "timestamp": "2026-12-01T10:00:00Z"
                },
                "data": data,
                "messageId": "1001",
                "publishTime": "2026-12-01T10:00:01.123Z"
            },
            "subscription": "projects/p/subscriptions/rekey"
        })
        .to_string()
        .into_bytes()
    }

    fn secret_data() -> String {
        base64::engine::general_purpose::STANDARD.encode(br#"{"name":"projects/p/secrets/db"}"#)
    }

    #[test]
    fn secret_rotate_asks_for_a_rotation_of_the_secret() {
        let delivery = parse(&push("SECRET_ROTATE", &secret_data())).expect("parses");

        assert_eq!(delivery.subscription, "projects/p/subscriptions/rekey");
        let Push::Rotate(notice) = delivery.push else {
            panic!("not a rotation");
        };
        assert_eq!(notice.credential.locator, "projects/p/secrets/db");
        assert_eq!(notice.delivery, "gcp.secretmanager:1001");
    }

    #[test]
    fn other_event_types_are_ignored() {
        let delivery = parse(&push("SECRET_VERSION_ADD", &secret_data())).expect("parses");
        assert!(matches!(delivery.push, Push::Ignore(r) if r.contains("SECRET_VERSION_ADD")));
    }

    #[test]
    fn bad_deliveries_name_the_field() {
        let cases: [(Vec<u8>, &str); 5] = [
            (
                push("SECRET_ROTATE", "%%%"),
                "message.data is not valid base64",
            ),
            (
                push(
                    "SECRET_ROTATE",
                    &base64::engine::general_purpose::STANDARD.encode("{\"na"),
                ),
                "message.data is not a Secret resource",
            ),
            (b"{\"message\": {\"attributes\"".to_vec(), "not JSON"),
            (
                br#"{"message": {}, "subscription": "s"}"#.to_vec(),
                "message.messageId",
            ),
            (br#"[1]"#.to_vec(), "push envelope"),
        ];
        for (body, expected) in cases {
            let error = parse(&body).expect_err(expected).to_string();
            assert!(error.contains(expected), "{error}");
        }
    }
}
