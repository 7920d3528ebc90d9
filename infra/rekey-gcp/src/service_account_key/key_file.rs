//! The JSON key file a service-account key's `privateKeyData` decodes to,
//! and the two fields rekey checks in it.

use rekey_core::{KindError, SecretValue};
use serde::Deserialize;

/// A parsed key file: its public fields, and the whole file as a secret.
#[derive(Clone, Debug)]
pub struct KeyFile {
    private_key_id: String,
    client_email: String,
    value: SecretValue,
}

#[derive(Deserialize)]
struct Fields {
    #[serde(rename = "type")]
    kind: String,
    private_key_id: String,
    client_email: String,
    private_key: String,
}

impl KeyFile {
    /// Parses a key file of type `service_account`. The error names the
    /// problem, never the content.
    pub fn parse(value: &SecretValue) -> Result<Self, KindError> {
        let fields: Fields = serde_json::from_str(value.expose()).map_err(|_| {
            KindError::Misconfigured(
                "the value is not a service-account key file (JSON with type, private_key_id, \
                 private_key and client_email)"
                    .into(),
            )
        })?;
        if fields.kind != "service_account" || fields.private_key.is_empty() {
            return Err(KindError::Misconfigured(format!(
                "the key file has type `{}` or no private key; expected a service_account key",
                fields.kind
            )));
        }
        Ok(Self {
            private_key_id: fields.private_key_id,
            client_email: fields.client_email,
            value: value.clone(),
        })
    }

    /// Parses the `privateKeyData` IAM answered for a new key.
    pub(crate) fn from_private_key_data(data: &[u8]) -> Result<Self, KindError> {
        let text = String::from_utf8(data.to_vec()).map_err(|_| {
            KindError::Rejected("IAM answered a private key that is not a JSON key file".into())
        })?;
        Self::parse(&SecretValue::new(text))
    }

    /// The key's id, as IAM and secret-scanning findings name it.
    pub fn private_key_id(&self) -> &str {
        &self.private_key_id
    }

    /// The service account the key belongs to.
    pub fn client_email(&self) -> &str {
        &self.client_email
    }

    /// The whole file, as consumers read it.
    pub fn value(&self) -> &SecretValue {
        &self.value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_file_reads_and_anything_else_is_refused_without_echo() {
        let file = r#"{"type":"service_account","private_key_id":"abc","private_key":"-----BEGIN PRIVATE KEY-----\nsecret\n-----END PRIVATE KEY-----\n","client_email":"a@p.iam.gserviceaccount.com"}"#;

        let parsed = KeyFile::parse(&SecretValue::new(file.into())).expect("a key file");
        assert_eq!(parsed.private_key_id(), "abc");
        assert_eq!(parsed.client_email(), "a@p.iam.gserviceaccount.com");

        let error = KeyFile::parse(&SecretValue::new("hunter2-not-json".into()))
            .expect_err("not a key file");
        assert!(!error.to_string().contains("hunter2"));
        let user = r#"{"type":"authorized_user","private_key_id":"x","private_key":"k","client_email":"e"}"#;
        assert!(KeyFile::parse(&SecretValue::new(user.into())).is_err());
    }
}
