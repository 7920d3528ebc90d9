//! The shapes Secret Manager accepts for ids, labels, annotations and
//! aliases (ASCII only: the references also allow other lowercase letters).

use std::collections::BTreeMap;

use crate::errors::ApiError;

/// The most labels a secret may carry.
const MAX_LABELS: usize = 64;
/// The most bytes a secret's annotation keys and values may take together.
const MAX_ANNOTATION_BYTES: usize = 16 * 1024;
/// The largest payload a version may hold.
pub const MAX_PAYLOAD_BYTES: usize = 64 * 1024;

fn is_lower_start(key: &str) -> bool {
    key.chars().next().is_some_and(|c| c.is_ascii_lowercase())
}

fn all(text: &str, allowed: impl Fn(char) -> bool) -> bool {
    text.chars().all(allowed)
}

fn label_char(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-'
}

/// A secret id: 1 to 255 letters, digits, `-` and `_`.
pub fn secret_id(id: &str) -> Result<(), ApiError> {
    let ok = (1..=255).contains(&id.len())
        && all(id, |c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        return Ok(());
    }
    Err(ApiError::invalid(format!("invalid secret id `{id}`")))
}

/// Labels: at most 64; keys start with a lowercase letter, keys and values
/// up to 63 lowercase letters, digits, `-` and `_`.
pub fn labels(labels: &BTreeMap<String, String>) -> Result<(), ApiError> {
    if labels.len() > MAX_LABELS {
        return Err(ApiError::invalid("a secret may have at most 64 labels"));
    }
    for (key, value) in labels {
        let key_ok = is_lower_start(key) && key.len() <= 63 && all(key, label_char);
        if !key_ok {
            return Err(ApiError::invalid(format!("invalid label key `{key}`")));
        }
        if value.len() > 63 || !all(value, label_char) {
            return Err(ApiError::invalid(format!("invalid value of label `{key}`")));
        }
    }
    Ok(())
}

/// Annotations: keys of up to 63 letters, digits, `.`, `-` and `_`,
/// starting and ending with a letter or digit; 16 KiB in all.
pub fn annotations(annotations: &BTreeMap<String, String>) -> Result<(), ApiError> {
    let mut size = 0;
    for (key, value) in annotations {
        let edges = key.starts_with(|c: char| c.is_ascii_alphanumeric())
            && key.ends_with(|c: char| c.is_ascii_alphanumeric());
        let inner = all(key, |c| c.is_ascii_alphanumeric() || "._-".contains(c));
        if !(edges && inner && key.len() <= 63) {
            return Err(ApiError::invalid(format!("invalid annotation key `{key}`")));
        }
        size += key.len() + value.len();
    }
    if size > MAX_ANNOTATION_BYTES {
        return Err(ApiError::invalid("annotations may take at most 16 KiB"));
    }
    Ok(())
}

/// An alias name: starts with a lowercase letter, then up to 62 lowercase
/// letters, digits, `-` and `_`; `latest` is reserved.
pub fn alias(alias: &str) -> Result<(), ApiError> {
    let ok = is_lower_start(alias) && alias.len() <= 63 && all(alias, label_char);
    if ok && alias != "latest" {
        return Ok(());
    }
    Err(ApiError::invalid(format!(
        "invalid version alias `{alias}`"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect()
    }

    #[test]
    fn labels_refuse_what_gcp_refuses() {
        assert!(labels(&map(&[("rekey-policy", "db_1")])).is_ok());
        assert!(
            labels(&map(&[("rekey:policy", "db")])).is_err(),
            "no colon in keys"
        );
        assert!(labels(&map(&[("Team", "x")])).is_err(), "lowercase keys");
        assert!(
            labels(&map(&[("owner", "a@b.com")])).is_err(),
            "no @ or . in values"
        );
        assert!(
            labels(&map(&[("k", &"x".repeat(64))])).is_err(),
            "values up to 63"
        );
    }

    #[test]
    fn annotations_take_emails_but_not_bad_keys_or_too_much() {
        assert!(
            annotations(&map(&[(
                "rekey-service-account",
                "a@p.iam.gserviceaccount.com"
            )]))
            .is_ok()
        );
        assert!(annotations(&map(&[("-bad", "x")])).is_err());
        assert!(annotations(&map(&[("big", &"x".repeat(17 * 1024))])).is_err());
    }

    #[test]
    fn aliases_and_ids_follow_their_patterns() {
        assert!(alias("current").is_ok());
        assert!(alias("latest").is_err(), "reserved");
        assert!(alias("1st").is_err());
        assert!(secret_id("db-password_2").is_ok());
        assert!(secret_id("a/b").is_err());
        assert!(secret_id("").is_err());
    }
}
