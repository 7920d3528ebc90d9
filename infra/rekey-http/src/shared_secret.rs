//! Shared secrets sent in a header (Event Grid's delivery properties),
//! compared in constant time.
//!
//! Both sides are hashed with SHA-256 first, so the comparison takes the
//! same time whatever the presented value's length, and then compared with
//! [`subtle::ConstantTimeEq`].

use rekey_core::SecretValue;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Whether `presented` is `expected`; `None` (no header) never matches.
pub fn shared_secret_matches(expected: &SecretValue, presented: Option<&str>) -> bool {
    let Some(presented) = presented else {
        return false;
    };
    let expected = Sha256::digest(expected.expose().as_bytes());
    let presented = Sha256::digest(presented.as_bytes());
    expected.as_slice().ct_eq(presented.as_slice()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_same_secret_matches() {
        let secret = SecretValue::new("event-grid-delivery-secret".into());

        assert!(shared_secret_matches(
            &secret,
            Some("event-grid-delivery-secret")
        ));
        assert!(!shared_secret_matches(
            &secret,
            Some("event-grid-delivery-secreT")
        ));
        assert!(!shared_secret_matches(&secret, Some("")));
        assert!(!shared_secret_matches(&secret, None));
    }
}
