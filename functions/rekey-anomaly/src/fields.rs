//! Checks the parsers share: identifier shapes, bounded echoes, and serde
//! errors described without the values that caused them.

/// Whether `text` is an AWS access key id: `AKIA` (an IAM user's key) or
/// `ASIA` (temporary credentials) and 16 more upper-case letters or digits.
pub(crate) fn is_access_key_id(text: &str) -> bool {
    let (prefix, rest) = text.split_at_checked(4).unwrap_or(("", ""));
    matches!(prefix, "AKIA" | "ASIA")
        && rest.len() == 16
        && rest
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

/// Whether `name` can be an IAM role name (1 to 64 of `[\w+=,.@-]`).
pub(crate) fn is_role_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b))
}

/// Whether `text` is 1 to `max` characters with no control characters:
/// ids and names that may be echoed and logged.
pub(crate) fn is_printable(text: &str, max: usize) -> bool {
    !text.is_empty() && text.chars().count() <= max && !text.chars().any(char::is_control)
}

/// `text` cut to 64 characters, control characters replaced: safe to put
/// in an answer or a log line.
pub(crate) fn bounded(text: &str) -> String {
    text.chars()
        .take(64)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// A JSON error's description without the offending value, which could be
/// a secret: where the syntax broke, which field is missing or unknown, or
/// else `expected`.
pub(crate) fn describe(error: &serde_json::Error, expected: &str) -> String {
    use serde_json::error::Category;

    let at = format!("line {} column {}", error.line(), error.column());
    match error.classify() {
        Category::Eof => format!("truncated JSON body (it ends at {at})"),
        Category::Syntax => format!("malformed JSON body at {at}"),
        Category::Io => "the body could not be read".into(),
        Category::Data => {
            let message = error.to_string();
            let names_field = [
                "missing field",
                "unknown field",
                "duplicate field",
                "unknown variant",
            ]
            .iter()
            .any(|p| message.starts_with(p));
            match names_field {
                true => bounded_message(&message),
                false => expected.into(),
            }
        }
    }
}

/// A serde message naming a field, cut after the field's name.
fn bounded_message(message: &str) -> String {
    let end = message.find(", expected").unwrap_or(message.len());
    message[..end]
        .chars()
        .take(128)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_key_ids_are_recognised_by_shape() {
        assert!(is_access_key_id("AKIAIOSFODNN7EXAMPLE"));
        assert!(is_access_key_id("ASIAY34FZKBOKMUTVV7A"));
        assert!(!is_access_key_id("AKIA-short"));
        assert!(!is_access_key_id("akiaiosfodnn7example"));
        assert!(!is_access_key_id("AROAIOSFODNN7EXAMPLE"));
        assert!(!is_access_key_id("ÄKIA"));
    }

    #[test]
    fn serde_errors_never_carry_values() {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code, reason = "parsed only to fail")]
        struct Body {
            id: u64,
        }
        let typed = serde_json::from_str::<Body>(r#"{"id": "hunter2-secret"}"#);
        let described = describe(&typed.expect_err("mistyped"), "expected an id");
        assert_eq!(described, "expected an id");

        let missing = serde_json::from_str::<Body>("{}").expect_err("missing");
        assert!(describe(&missing, "x").starts_with("missing field `id`"));

        let truncated = serde_json::from_str::<Body>(r#"{"id": 1"#).expect_err("eof");
        assert!(describe(&truncated, "x").starts_with("truncated JSON body"));
    }
}
