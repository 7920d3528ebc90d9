//! The access key pair a secret holds: `{"AccessKeyId": "…",
//! "SecretAccessKey": "…"}`. Reading it never quotes the value in an error.

use rekey_core::{KindError, SecretValue};
use serde::Serialize;

const ID_FIELD: &str = "AccessKeyId";
const SECRET_FIELD: &str = "SecretAccessKey";

/// An access key pair, as the secret holds it. `Debug` shows the access
/// key id and hides the secret access key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessKeyPair {
    access_key_id: String,
    secret_access_key: SecretValue,
}

/// The secret's JSON shape.
#[derive(Serialize)]
struct Wire<'a> {
    #[serde(rename = "AccessKeyId")]
    access_key_id: &'a str,
    #[serde(rename = "SecretAccessKey")]
    secret_access_key: &'a str,
}

impl AccessKeyPair {
    /// A pair from its two halves.
    pub fn new(access_key_id: impl Into<String>, secret_access_key: SecretValue) -> Self {
        Self {
            access_key_id: access_key_id.into(),
            secret_access_key,
        }
    }

    /// Reads a secret's value. A value that is not a JSON object holding
    /// both fields as non-empty strings is `Misconfigured`; the error names
    /// the field, never the value.
    pub fn parse(value: &SecretValue) -> Result<Self, KindError> {
        let not_a_pair = |why: &str| {
            KindError::Misconfigured(format!(
                "the secret does not hold an access key pair: {why}"
            ))
        };
        let Ok(serde_json::Value::Object(mut fields)) = serde_json::from_str(value.expose()) else {
            return Err(not_a_pair("its value is not a JSON object"));
        };

        let mut take = |name: &str| match fields.remove(name) {
            Some(serde_json::Value::String(text)) if !text.is_empty() => Ok(text),
            _ => Err(not_a_pair(&format!(
                "field `{name}` is missing or not a non-empty string"
            ))),
        };
        let secret_access_key = SecretValue::new(take(SECRET_FIELD)?);
        let access_key_id = take(ID_FIELD)?;
        Ok(Self {
            access_key_id,
            secret_access_key,
        })
    }

    /// The value the secret holds: the pair as a JSON object.
    pub fn to_value(&self) -> SecretValue {
        let wire = Wire {
            access_key_id: &self.access_key_id,
            secret_access_key: self.secret_access_key.expose(),
        };
        let json = serde_json::to_string(&wire).expect("two strings always serialize as JSON");
        SecretValue::new(json)
    }

    /// The access key id (public: findings and IAM name keys by it).
    pub fn access_key_id(&self) -> &str {
        &self.access_key_id
    }

    /// The secret access key.
    pub fn secret_access_key(&self) -> &SecretValue {
        &self.secret_access_key
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY";

    fn value(json: &str) -> SecretValue {
        SecretValue::new(json.to_owned())
    }

    fn misconfigured(result: Result<AccessKeyPair, KindError>) -> String {
        match result {
            Err(KindError::Misconfigured(message)) => message,
            other => panic!("expected Misconfigured, got {other:?}"),
        }
    }

    #[test]
    fn a_pair_round_trips_through_the_secret_value() {
        let pair = AccessKeyPair::new("AKIAEXAMPLE000000000", value(SECRET));

        let parsed = AccessKeyPair::parse(&pair.to_value()).expect("parses");

        assert_eq!(parsed, pair);
        assert_eq!(parsed.access_key_id(), "AKIAEXAMPLE000000000");
        assert_eq!(parsed.secret_access_key().expose(), SECRET);
        let shape: serde_json::Value =
            serde_json::from_str(pair.to_value().expose()).expect("JSON");
        assert_eq!(shape["AccessKeyId"], "AKIAEXAMPLE000000000");
        assert_eq!(shape["SecretAccessKey"], SECRET);
    }

    #[test]
    fn a_missing_or_empty_field_is_named_without_the_secret() {
        let no_id = value(&format!(r#"{{"SecretAccessKey": "{SECRET}"}}"#));
        let no_secret = value(r#"{"AccessKeyId": "AKIAEXAMPLE000000000"}"#);
        let empty_id = value(&format!(
            r#"{{"AccessKeyId": "", "SecretAccessKey": "{SECRET}"}}"#
        ));
        let numeric_secret = value(r#"{"AccessKeyId": "AKIAX", "SecretAccessKey": 12345678}"#);

        let messages = [
            misconfigured(AccessKeyPair::parse(&no_id)),
            misconfigured(AccessKeyPair::parse(&no_secret)),
            misconfigured(AccessKeyPair::parse(&empty_id)),
            misconfigured(AccessKeyPair::parse(&numeric_secret)),
        ];

        assert!(messages[0].contains("`AccessKeyId`"), "{}", messages[0]);
        assert!(messages[1].contains("`SecretAccessKey`"), "{}", messages[1]);
        assert!(messages[2].contains("`AccessKeyId`"), "{}", messages[2]);
        assert!(messages[3].contains("`SecretAccessKey`"), "{}", messages[3]);
        for message in &messages {
            assert!(!message.contains("wJalr"), "{message}");
            assert!(!message.contains("12345678"), "{message}");
        }
    }

    #[test]
    fn a_value_that_is_not_a_json_object_is_refused_without_quoting_it() {
        for text in [SECRET, "[1, 2]", r#""AKIA""#, "{broken"] {
            let message = misconfigured(AccessKeyPair::parse(&value(text)));

            assert!(message.contains("not a JSON object"), "{message}");
            assert!(!message.contains("wJalr"), "{message}");
        }
    }

    #[test]
    fn debug_shows_the_key_id_and_hides_the_secret() {
        let pair = AccessKeyPair::new("AKIAEXAMPLE000000000", value(SECRET));

        let printed = format!("{pair:?}");

        assert!(printed.contains("AKIAEXAMPLE000000000"), "{printed}");
        assert!(!printed.contains("wJalr"), "{printed}");
    }
}
