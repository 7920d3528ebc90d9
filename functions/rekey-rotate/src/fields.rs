//! Reading fields of untrusted JSON, with errors that name the field and
//! never repeat its value.

use serde_json::Value;

/// Why a notification's body was refused; names the field at fault.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Malformed(pub String);

/// Parses `body` as JSON; the error gives the place, not the content.
pub(crate) fn json(body: &[u8]) -> Result<Value, Malformed> {
    serde_json::from_slice(body).map_err(|e| {
        Malformed(format!(
            "the body is not JSON (line {}, column {})",
            e.line(),
            e.column()
        ))
    })
}

/// The string at `pointer` of `value`, 1 to `max` printable characters;
/// `name` is how errors call it.
pub(crate) fn text<'a>(
    value: &'a Value,
    pointer: &str,
    name: &str,
    max: usize,
) -> Result<&'a str, Malformed> {
    match value.pointer(pointer) {
        None | Some(Value::Null) => Err(Malformed(format!("{name} is missing"))),
        Some(Value::String(text)) if is_printable(text, max) => Ok(text),
        Some(_) => Err(Malformed(format!(
            "{name} must be a string of 1 to {max} printable characters"
        ))),
    }
}

/// As [`text`], `None` when the field is absent or null.
pub(crate) fn optional_text<'a>(
    value: &'a Value,
    pointer: &str,
    name: &str,
    max: usize,
) -> Result<Option<&'a str>, Malformed> {
    match value.pointer(pointer) {
        None | Some(Value::Null) => Ok(None),
        Some(_) => text(value, pointer, name, max).map(Some),
    }
}

/// Whether `text` is 1 to `max` characters with no control characters.
pub(crate) fn is_printable(text: &str, max: usize) -> bool {
    !text.is_empty() && text.chars().count() <= max && !text.chars().any(char::is_control)
}

/// `text` cut to 64 characters, for a reason that quotes an event type.
pub(crate) fn bounded(text: &str) -> String {
    text.chars().take(64).collect()
}
