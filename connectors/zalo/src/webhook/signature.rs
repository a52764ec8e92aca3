//! `X-ZEvent-Signature`: `mac=<hex sha256(app_id + raw_body + timestamp + oa_secret_key)>`.
//!
//! `app_id` is the configured app id (not the body's copy), `timestamp` the body's own field as sent,
//! and the key the OA Secret Key (not the App Secret). [`verify`] checks that over the raw bytes in
//! constant time and says precisely what was wrong ([`SignatureError`]); it never panics.

use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::types::str_of;

/// Prefix of the signature header value.
pub const MAC_PREFIX: &str = "mac=";

/// Why a signature was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// No `X-ZEvent-Signature` header.
    #[error("webhook has no X-ZEvent-Signature header")]
    MissingHeader,
    /// The header is not `mac=` followed by 64 hex digits.
    #[error("X-ZEvent-Signature is not of the form mac=<64 hex digits>")]
    MalformedHeader,
    /// The body is not JSON, so its timestamp cannot be read.
    #[error("webhook body is not JSON")]
    NotJson,
    /// The body has no `timestamp` field.
    #[error("webhook body has no timestamp field")]
    MissingTimestamp,
    /// The MAC does not match: wrong OA Secret Key or app id, or a modified body.
    #[error("webhook signature does not match; check the OA Secret Key (Webhook page, not the App Secret) and the app id")]
    Mismatch,
}

fn mac(app_id: &str, raw_body: &[u8], timestamp: &str, key: &SecretString) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(app_id.as_bytes());
    h.update(raw_body);
    h.update(timestamp.as_bytes());
    h.update(key.expose_secret().as_bytes());
    h.finalize().into()
}

/// The header value Zalo would send: `mac=<lowercase hex>`.
pub fn signature(
    app_id: &str,
    raw_body: &[u8],
    timestamp: &str,
    oa_secret_key: &SecretString,
) -> String {
    format!(
        "{MAC_PREFIX}{}",
        hex::encode(mac(app_id, raw_body, timestamp, oa_secret_key))
    )
}

/// Reads the body's `timestamp` as Zalo signed it (string, or a number's text).
pub fn body_timestamp(raw_body: &[u8]) -> Result<String, SignatureError> {
    let v: Value = serde_json::from_slice(raw_body).map_err(|_| SignatureError::NotJson)?;
    str_of(v.get("timestamp")).ok_or(SignatureError::MissingTimestamp)
}

/// Checks `X-ZEvent-Signature` against the raw body in constant time. `app_id` is the configured app
/// id: Zalo signs with it whatever the body's `app_id` says.
pub fn verify(
    app_id: &str,
    oa_secret_key: &SecretString,
    raw_body: &[u8],
    header: Option<&str>,
) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::MissingHeader)?.trim();
    let hex_part = header
        .get(..MAC_PREFIX.len())
        .filter(|p| p.eq_ignore_ascii_case(MAC_PREFIX))
        .and_then(|_| header.get(MAC_PREFIX.len()..))
        .ok_or(SignatureError::MalformedHeader)?;
    if hex_part.len() != 64 {
        return Err(SignatureError::MalformedHeader);
    }
    let mut given = [0u8; 32];
    hex::decode_to_slice(hex_part, &mut given).map_err(|_| SignatureError::MalformedHeader)?;
    let ts = body_timestamp(raw_body)?;
    let expected = mac(app_id, raw_body, &ts, oa_secret_key);
    if bool::from(expected.ct_eq(&given)) {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn key() -> SecretString {
        SecretString::from("oa-secret")
    }

    #[test]
    fn signature_known_answer() {
        let body = br#"{"timestamp":"1700000000000","event_name":"user_send_text"}"#;
        // sha256("123" + body + "1700000000000" + "oa-secret"), computed independently with sha256sum.
        let mut concat = b"123".to_vec();
        concat.extend_from_slice(body);
        concat.extend_from_slice(b"1700000000000oa-secret");
        let expected = format!("mac={}", hex::encode(Sha256::digest(&concat)));
        assert_eq!(signature("123", body, "1700000000000", &key()), expected);
        assert_eq!(
            signature("a", b"b", "c", &SecretString::from("d")),
            "mac=88d4266fd4e6338d13b845fcf289579d209c897823b9217da3e161936f031589"
        );
    }

    #[test]
    fn verify_accepts_and_rejects() {
        let body = br#"{"app_id":"123","timestamp":"1700000000000","event_name":"user_send_text"}"#;
        let sig = signature("123", body, "1700000000000", &key());
        assert_eq!(verify("123", &key(), body, Some(&sig)), Ok(()));
        assert_eq!(
            verify(
                "123",
                &key(),
                body,
                Some(&sig.to_uppercase().replace("MAC=", "mac="))
            ),
            Ok(())
        );
        assert_eq!(
            verify("123", &key(), body, None),
            Err(SignatureError::MissingHeader)
        );
        assert_eq!(
            verify("123", &key(), body, Some("sha256=00")),
            Err(SignatureError::MalformedHeader)
        );
        assert_eq!(
            verify("123", &key(), body, Some(&sig[4..])),
            Err(SignatureError::MalformedHeader)
        );
        assert_eq!(
            verify("123", &key(), body, Some("mac=zz")),
            Err(SignatureError::MalformedHeader)
        );
        assert_eq!(
            verify("123", &key(), b"not json", Some(&sig)),
            Err(SignatureError::NotJson)
        );
        assert_eq!(
            verify("123", &key(), br#"{"a":1}"#, Some(&sig)),
            Err(SignatureError::MissingTimestamp)
        );
        // Tampering: body, app id, key.
        let mut tampered = body.to_vec();
        tampered[11] ^= 1; // "123" -> "023": still JSON, different body
        assert_eq!(
            verify("123", &key(), &tampered, Some(&sig)),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify("124", &key(), body, Some(&sig)),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify("123", &SecretString::from("x"), body, Some(&sig)),
            Err(SignatureError::Mismatch)
        );
        // Re-serialised JSON (whitespace) is a different body.
        let spaced =
            br#"{"app_id": "123","timestamp":"1700000000000","event_name":"user_send_text"}"#;
        assert_eq!(
            verify("123", &key(), spaced, Some(&sig)),
            Err(SignatureError::Mismatch)
        );
    }

    proptest::proptest! {
        #[test]
        fn verify_never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..512), header in ".{0,80}") {
            let _ = verify("1", &key(), &bytes, Some(&header));
            let _ = verify("1", &key(), &bytes, Some("mac=00"));
        }
    }
}
