//! HMAC-SHA256 webhook signatures: made, parsed and checked.
//!
//! Checking goes through [`Mac::verify_slice`], which compares the
//! expected tag with the received one in constant time, so a caller cannot
//! learn a valid signature byte by byte from response times.

use hmac::{Hmac, KeyInit as _, Mac};
use rekey_core::SecretValue;
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// The length of a SHA-256 tag in bytes.
const TAG_LEN: usize = 32;

/// Whether `tag` is HMAC-SHA256 under `secret` of the concatenated `parts`.
pub(crate) fn verify(secret: &SecretValue, parts: &[&[u8]], tag: &[u8]) -> bool {
    mac(secret, parts).verify_slice(tag).is_ok()
}

/// The tag in a header of the form `<scheme>=<64 hex digits>`, or `None`
/// when the header has another form.
pub(crate) fn parse_tag(header: &str, scheme: &str) -> Option<[u8; TAG_LEN]> {
    let hex_tag = header.strip_prefix(scheme)?.strip_prefix('=')?;
    let mut tag = [0; TAG_LEN];
    hex::decode_to_slice(hex_tag, &mut tag).ok()?;
    Some(tag)
}

/// The `X-Hub-Signature-256` header GitHub sends with `body` when the
/// webhook's secret is `secret`: `sha256=<hex>`.
pub fn github_signature(secret: &SecretValue, body: &[u8]) -> String {
    format!("sha256={}", hex_tag(secret, &[body]))
}

/// The `X-Rekey-Signature` header of a signed webhook with body `body`
/// sent at `timestamp` (unix seconds): `v1=<hex HMAC-SHA256(secret,
/// "<timestamp>.<body>")>`.
pub fn signed_webhook_signature(secret: &SecretValue, timestamp: i64, body: &[u8]) -> String {
    let timestamp = timestamp.to_string();
    format!(
        "v1={}",
        hex_tag(secret, &[timestamp.as_bytes(), b".", body])
    )
}

fn hex_tag(secret: &SecretValue, parts: &[&[u8]]) -> String {
    hex::encode(mac(secret, parts).finalize().into_bytes())
}

fn mac(secret: &SecretValue, parts: &[&[u8]]) -> HmacSha256 {
    // HMAC takes a key of any length, so this cannot fail.
    let mut mac = HmacSha256::new_from_slice(secret.expose().as_bytes())
        .expect("HMAC accepts keys of any length");
    for part in parts {
        mac.update(part);
    }
    mac
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret() -> SecretValue {
        SecretValue::new("rekey-test-webhook-secret".into())
    }

    #[test]
    fn a_signature_checks_only_with_its_secret_and_body() {
        let header = github_signature(&secret(), b"{}");
        let tag = parse_tag(&header, "sha256").expect("well formed");

        assert!(verify(&secret(), &[b"{}"], &tag));
        assert!(!verify(&secret(), &[b"{ }"], &tag));
        assert!(!verify(&SecretValue::new("other".into()), &[b"{}"], &tag));
    }

    #[test]
    fn a_tag_differing_in_one_byte_or_in_length_fails() {
        let header = github_signature(&secret(), b"body");
        let mut tag = parse_tag(&header, "sha256").expect("well formed");
        tag[TAG_LEN - 1] ^= 1;
        assert!(!verify(&secret(), &[b"body"], &tag));

        let good = parse_tag(&header, "sha256").expect("well formed");
        assert!(!verify(&secret(), &[b"body"], &good[..TAG_LEN - 1]));
        assert!(!verify(&secret(), &[b"body"], &[]));
    }

    #[test]
    fn malformed_headers_have_no_tag() {
        let header = github_signature(&secret(), b"body");
        assert!(parse_tag(&header, "v1").is_none());
        assert!(parse_tag("sha256=", "sha256").is_none());
        assert!(parse_tag("sha256=zz", "sha256").is_none());
        assert!(parse_tag(&header[..header.len() - 2], "sha256").is_none());
        assert!(parse_tag(&format!("{header}00"), "sha256").is_none());
        assert!(parse_tag(&header.replace('=', ":"), "sha256").is_none());
    }

    #[test]
    fn the_signed_format_covers_timestamp_and_body() {
        let header = signed_webhook_signature(&secret(), 1_767_225_600, b"{}");
        let tag = parse_tag(&header, "v1").expect("well formed");

        assert!(verify(&secret(), &[b"1767225600", b".", b"{}"], &tag));
        assert!(!verify(&secret(), &[b"1767225601", b".", b"{}"], &tag));
    }
}
