//! Webhook signatures: Freshchat signs the exact raw body with RSASSA-PKCS1-v1_5 / SHA-256 and
//! sends the standard-base64 signature in `X-Freshchat-Signature` ([`SIGNATURE_HEADER`]).
//!
//! The public key shown in the admin UI is SPKI DER in an `RSA PUBLIC KEY` armour and is often
//! pasted on one line; [`WebhookKey::parse`] accepts every form (either armour, SPKI or PKCS#1
//! content, any whitespace, bare base64) and rejects a bad key at start-up with a [`KeyError`].
//! Verification failures are a [`SignatureError`].

use std::fmt;
use std::sync::Arc;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::signature::{ParsedPublicKey, RSA_PKCS1_2048_8192_SHA256};
use base64::Engine as _;

/// Header carrying the base64 signature.
pub const SIGNATURE_HEADER: &str = "x-freshchat-signature";

/// Lenient base64: standard alphabet, padding optional.
const B64: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    base64::engine::GeneralPurposeConfig::new()
        .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
);

/// The configured webhook public key could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// Nothing but armour and whitespace.
    #[error("the Freshchat webhook public key is empty; paste the RSA public key shown in Admin > Webhooks")]
    Empty,
    /// The key body is not base64.
    #[error("the Freshchat webhook public key is not base64 (copy the whole key, armour lines included)")]
    NotBase64,
    /// The bytes are not a usable RSA public key (SPKI or PKCS#1); the text says why, in words.
    #[error("the Freshchat webhook public key is not a usable RSA public key: {0}; copy the whole key again from Freshchat Admin > Webhooks (from -----BEGIN to -----END)")]
    NotRsaKey(String),
}

/// A webhook did not carry a valid signature.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// No `X-Freshchat-Signature` header.
    #[error("the webhook has no X-Freshchat-Signature header")]
    MissingHeader,
    /// The header is not base64.
    #[error("the X-Freshchat-Signature header is not base64")]
    NotBase64,
    /// The signature does not match the body and the configured key.
    #[error(
        "the webhook signature does not match the body (wrong public key, or the body was altered)"
    )]
    Mismatch,
}

/// A parsed RSA public key for webhook verification. Cheap to clone.
#[derive(Clone)]
pub struct WebhookKey {
    /// Parsed once: the key's Montgomery constants are computed on the first verification and
    /// kept, instead of once per webhook.
    parsed: Arc<ParsedPublicKey>,
    fingerprint: String,
}

impl fmt::Debug for WebhookKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookKey")
            .field("sha256", &self.fingerprint)
            .finish()
    }
}

impl WebhookKey {
    /// Parses a key as PEM (`RSA PUBLIC KEY` or `PUBLIC KEY` armour, SPKI or PKCS#1 content, with or
    /// without newlines, one line with spaces, literal `\n` escapes) or as bare base64 DER.
    pub fn parse(text: &str) -> Result<WebhookKey, KeyError> {
        let body = strip_armour(text.trim().replace("\\n", "\n").replace("\\r", ""));
        let compact: String = body.chars().filter(|c| !c.is_whitespace()).collect();
        if compact.is_empty() {
            return Err(KeyError::Empty);
        }
        let der = B64
            .decode(compact.as_bytes())
            .map_err(|_| KeyError::NotBase64)?;
        Self::from_der(&der)
    }

    /// Reads SPKI or PKCS#1 DER.
    pub fn from_der(der: &[u8]) -> Result<WebhookKey, KeyError> {
        // The library's own reason ("InvalidEncoding") tells an operator nothing.
        let key = aws_lc_rs::rsa::PublicKey::from_der(der).map_err(|_| {
            KeyError::NotRsaKey(format!(
                "its {} bytes do not read as an RSA public key (a key cut short, a private key, a certificate or another kind of key)",
                der.len()
            ))
        })?;
        let bits = key.modulus_len() * 8;
        if !(2048..=8192).contains(&bits) {
            return Err(KeyError::NotRsaKey(format!(
                "{bits}-bit keys are not accepted (2048 to 8192)"
            )));
        }
        let spki = key
            .as_der()
            .map_err(|_| KeyError::NotRsaKey("cannot encode the key".into()))?;
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, spki.as_ref());
        let fingerprint = to_hex(&digest.as_ref()[..8]);
        let parsed = ParsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, key.as_ref())
            .map_err(|_| KeyError::NotRsaKey("it cannot verify RSA-SHA256 signatures".into()))?;
        Ok(WebhookKey {
            parsed: Arc::new(parsed),
            fingerprint,
        })
    }

    /// A short SHA-256 fingerprint of the SPKI form, for logs.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// Verifies `signature_header` (base64) over the exact raw body.
    pub fn verify(
        &self,
        raw_body: &[u8],
        signature_header: Option<&str>,
    ) -> Result<(), SignatureError> {
        let header = signature_header.map(str::trim).filter(|h| !h.is_empty());
        let header = header.ok_or(SignatureError::MissingHeader)?;
        let compact: String = header.chars().filter(|c| !c.is_whitespace()).collect();
        let sig = B64
            .decode(compact.as_bytes())
            .map_err(|_| SignatureError::NotBase64)?;
        self.parsed
            .verify_sig(raw_body, &sig)
            .map_err(|_| SignatureError::Mismatch)
    }
}

/// Removes every `-----BEGIN ...-----` / `-----END ...-----` marker wherever it sits.
fn strip_armour(mut s: String) -> String {
    while let Some(start) = s.find("-----") {
        let after = start + 5;
        match s[after..].find("-----") {
            Some(rel) => s.replace_range(start..after + rel + 5, " "),
            None => s.replace_range(start..after, " "),
        }
    }
    s
}

/// Lowercase hex of `bytes` (fingerprints, derived dedupe keys).
pub(crate) fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) mod tests {
    use super::*;

    /// Known-answer vector from the reference (§7.3), verified with OpenSSL.
    pub(crate) const KAT_SPKI_B64: &str = "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAuGJLF4hTTtxWogT6dNkGf3CEgLAR2mGJzlds5cNbrHFoJNFnmVhkRYGzLYxx4EtDiezNCZVHfyMI2AKuNSQW2fEdDatVIG+q3Zr/X9eeDl8kQOGy804J/fgCYDrN8RQu0n5Dh1inv4puca0wb29SCvoAwrWb33ehDBIvv6+rUKBdjtv2xTV65kNiVDo5VRCaYRVeE10osxeONgw55HVY4nczuxnR+dmc2282de6WHe5LXtr0ZBdJ8yttFOLIluZ/sNM5DIWZBkIWQhyT581tbA7bTpsIbrT/IMBlmioIILw8WGtI7zcmNkjU5dnq5HnlVKEDhj/Ug/dLiyno8+Vp7QIDAQAB";
    pub(crate) const KAT_BODY: &str = r#"{"actor":{"actor_type":"user","actor_id":"882f3926-b292-414b-a411-96380db373cd"},"action":"message_create","action_time":"2019-06-21T17:43:20.875Z","data":{"message":{"message_parts":[{"text":{"content":"Test 2"}}],"app_id":"55b190fa-5d3c-45c4-bc49-74ddcfcf53d7","actor_id":"882f3926-b292-414b-a411-96380db373cd","id":"7a454fde-c720-4c97-a61d-0ffe70449eb6","channel_id":"c8fddfaf-622a-4a0e-b060-4f3ccbeab606","conversation_id":"c327498e-f713-481e-8d83-0603e03d2521","message_type":"normal","actor_type":"user","created_time":"2019-06-21T17:43:20.866Z"}}}"#;
    pub(crate) const KAT_SIG: &str = "AhrmypOSWoewHG6LmIRuWjxyokuMDmPklrSU9p0gpUNjdSRCJzvpL6rjuTi5poV/ZLzWRWNM7X9yWjT5m9YFPshYrvigcd1ph4Ot2xmaJGYoUNJHijQccE6oDtDIp6i/8oLRafHgObQnGukZWPbP9OE5EiKz/VcsMP0Wv7hawI/sfIviM0w+6fNOKXWi0jDBH9ap1mj5CqOUOojni7OD5iYmIrjV/h33dyNmbvAta9E+trzcEhYqxfHIN4Z8R2FsatfRHWicoQ4PE5cQ8+UONVya8qr85nQ9w8N7Ql7yNg9fEViYG4/W/JnGEbPPEf8WrYtKzoVyuupDz4mVHdfKWg==";

    fn chunk64(s: &str) -> String {
        s.as_bytes()
            .chunks(64)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn pkcs1_b64() -> String {
        let der = B64.decode(KAT_SPKI_B64).unwrap();
        let key = aws_lc_rs::rsa::PublicKey::from_der(&der).unwrap();
        base64::engine::general_purpose::STANDARD.encode(key.as_ref())
    }

    fn all_key_forms() -> Vec<String> {
        let spki = KAT_SPKI_B64.to_owned();
        let pkcs1 = pkcs1_b64();
        let mut forms = Vec::new();
        for body in [&spki, &pkcs1] {
            for label in ["RSA PUBLIC KEY", "PUBLIC KEY"] {
                forms.push(format!(
                    "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
                    chunk64(body)
                ));
                forms.push(format!(
                    "-----BEGIN {label}-----\r\n{}\r\n-----END {label}-----",
                    chunk64(body).replace('\n', "\r\n")
                ));
                forms.push(format!(
                    "-----BEGIN {label}-----{body}-----END {label}-----"
                ));
                forms.push(format!(
                    "-----BEGIN {label}----- {} -----END {label}-----",
                    chunk64(body).replace('\n', " ")
                ));
                forms.push(format!(
                    "  -----BEGIN {label}-----\\n{}\\n-----END {label}-----  ",
                    chunk64(body).replace('\n', "\\n")
                ));
            }
            forms.push(body.clone());
            forms.push(chunk64(body));
            forms.push(body.trim_end_matches('=').to_owned());
        }
        forms
    }

    #[test]
    fn known_answer_verifies_with_every_key_form() {
        for form in all_key_forms() {
            let key = WebhookKey::parse(&form).unwrap_or_else(|e| panic!("{form:?}: {e}"));
            key.verify(KAT_BODY.as_bytes(), Some(KAT_SIG))
                .unwrap_or_else(|e| panic!("{form:?}: {e}"));
            assert_eq!(KAT_BODY.len(), 554);
            assert!(!format!("{key:?}").contains(&KAT_SPKI_B64[40..80]));
        }
    }

    #[test]
    fn tampering_is_detected() {
        let key = WebhookKey::parse(KAT_SPKI_B64).unwrap();
        let tampered_body = KAT_BODY.replace("Test 2", "Test 3");
        assert_eq!(
            key.verify(tampered_body.as_bytes(), Some(KAT_SIG)),
            Err(SignatureError::Mismatch)
        );
        let mut with_newline = KAT_BODY.as_bytes().to_vec();
        with_newline.push(b'\n');
        assert_eq!(
            key.verify(&with_newline, Some(KAT_SIG)),
            Err(SignatureError::Mismatch)
        );
        let mut sig = B64.decode(KAT_SIG).unwrap();
        sig[10] ^= 1;
        let flipped = base64::engine::general_purpose::STANDARD.encode(&sig);
        assert_eq!(
            key.verify(KAT_BODY.as_bytes(), Some(&flipped)),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            key.verify(KAT_BODY.as_bytes(), None),
            Err(SignatureError::MissingHeader)
        );
        assert_eq!(
            key.verify(KAT_BODY.as_bytes(), Some("  ")),
            Err(SignatureError::MissingHeader)
        );
        assert_eq!(
            key.verify(KAT_BODY.as_bytes(), Some("not*base64")),
            Err(SignatureError::NotBase64)
        );
        assert_eq!(
            key.verify(KAT_BODY.as_bytes(), Some("AAAA")),
            Err(SignatureError::Mismatch)
        );
        // A different (valid) key must not verify.
        let mut der = B64.decode(KAT_SPKI_B64).unwrap();
        let n = der.len();
        der[n - 10] ^= 2; // flip a modulus bit
        if let Ok(other) = WebhookKey::from_der(&der) {
            assert_eq!(
                other.verify(KAT_BODY.as_bytes(), Some(KAT_SIG)),
                Err(SignatureError::Mismatch)
            );
        }
    }

    #[test]
    fn bad_keys_are_rejected() {
        assert_eq!(WebhookKey::parse("").unwrap_err(), KeyError::Empty);
        assert_eq!(
            WebhookKey::parse("-----BEGIN RSA PUBLIC KEY----- -----END RSA PUBLIC KEY-----")
                .unwrap_err(),
            KeyError::Empty
        );
        assert_eq!(WebhookKey::parse("%%%").unwrap_err(), KeyError::NotBase64);
        let e = WebhookKey::parse("aGVsbG8gd29ybGQ=").unwrap_err();
        assert!(matches!(e, KeyError::NotRsaKey(_)));
        // Words an operator can act on, not the library's reason.
        let said = e.to_string();
        assert!(!said.contains("InvalidEncoding"), "{said}");
        assert!(
            said.contains("11 bytes do not read as an RSA public key"),
            "{said}"
        );
        assert!(said.contains("copy the whole key again"), "{said}");
    }

    mod props {
        use super::super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn key_parse_never_panics(s in ".{0,300}") {
                let _ = WebhookKey::parse(&s);
            }
        }
    }
}
