//! Values that must never be printed: secret values and rotation tokens.
//!
//! Both types hold their bytes in memory that is zeroed on drop, and both
//! print a fixed placeholder through `Debug` and `Display`, so neither can
//! reach a log line, an error message or an audit event by accident.

use std::fmt;

use zeroize::Zeroizing;

/// The placeholder every secret type prints instead of its contents.
pub const REDACTED: &str = "[redacted]";

/// A secret value: a password, a key, a JSON document holding either.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretValue(Zeroizing<String>);

impl SecretValue {
    /// Wraps a value; the caller's `String` moves in and is zeroed on drop.
    pub fn new(value: String) -> Self {
        Self(Zeroizing::new(value))
    }

    /// The value itself. Call this only to hand it to a store or a consumer.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretValue({REDACTED})")
    }
}

impl fmt::Display for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

/// The `RotationToken` Secrets Manager hands a rotation function, which the
/// function passes back on `PutSecretValue`. AWS marks it sensitive.
#[derive(Clone, PartialEq, Eq)]
pub struct RotationToken(Zeroizing<String>);

impl RotationToken {
    /// Wraps a token received in a rotation event.
    pub fn new(token: String) -> Self {
        Self(Zeroizing::new(token))
    }

    /// The token itself, for the `PutSecretValue` call only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for RotationToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RotationToken({REDACTED})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_hide_the_value() {
        let value = SecretValue::new("hunter2-s3cr3t".into());
        let token = RotationToken::new("tok-s3cr3t".into());

        let printed = format!("{value:?} {value} {token:?}");

        assert!(!printed.contains("s3cr3t"), "{printed}");
        assert_eq!(value.expose(), "hunter2-s3cr3t");
    }
}
