//! OAuth v4 for an Official Account: PKCE pairs, random `state`, and the token response.
//!
//! Zalo's token endpoint answers failures with HTTP 200 and a body that has no `access_token` (instead
//! `error`, `error_name`, `error_description`); [`parse_token_response`] turns any such body into
//! [`ZaloError::OAuth`], so a failed exchange can never overwrite a working token. `expires_in` arrives
//! as a string (`"90000"`) or a number; both are accepted.

use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use secrecy::SecretString;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::error::ZaloError;
use crate::types::{i64_of, str_of};

/// Access token lifetime assumed when Zalo omits `expires_in` (25 h, Zalo's documented value).
pub const DEFAULT_ACCESS_TTL: Duration = Duration::from_secs(90_000);

/// An access/refresh token pair. The refresh token is single use: store the new pair before using it.
#[derive(Debug, Clone)]
pub struct TokenPair {
    /// Goes in the `access_token` header of OpenAPI calls.
    pub access_token: SecretString,
    /// Exchanged once for a new pair.
    pub refresh_token: SecretString,
    /// Lifetime of the access token from the moment it was issued.
    pub expires_in: Duration,
}

/// A PKCE verifier and its S256 challenge.
#[derive(Debug, Clone)]
pub struct Pkce {
    /// 43 URL-safe characters; stays on the server until the code exchange.
    pub verifier: SecretString,
    /// `base64url_nopad(sha256(verifier))`, goes in the permission URL.
    pub challenge: String,
}

impl Pkce {
    /// A fresh pair from 32 random bytes.
    pub fn generate() -> Pkce {
        let verifier = URL_SAFE_NO_PAD.encode(random_bytes::<32>());
        let challenge = Pkce::challenge_for(&verifier);
        Pkce {
            verifier: SecretString::from(verifier),
            challenge,
        }
    }

    /// The S256 challenge of a verifier: base64url without padding over the raw SHA-256 digest.
    pub fn challenge_for(verifier: &str) -> String {
        URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
    }
}

/// A random URL-safe `state` of 256 bits (43 characters).
pub fn random_state() -> String {
    URL_SAFE_NO_PAD.encode(random_bytes::<32>())
}

/// Random bytes from the system CSPRNG.
pub(crate) fn random_bytes<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    if aws_lc_rs::rand::fill(&mut buf).is_err() {
        // The system generator does not fail on supported platforms; should it ever, fall back to a
        // seeded generator rather than abort, mixing in the clock.
        let mut rng = fastrand::Rng::new();
        for b in buf.iter_mut() {
            *b = rng.u8(..);
        }
    }
    buf
}

/// Turns the token endpoint's JSON body into a [`TokenPair`], or [`ZaloError::OAuth`] when the body has
/// no `access_token` (whatever the HTTP status was).
pub fn parse_token_response(body: &[u8]) -> Result<TokenPair, ZaloError> {
    let v: Value = serde_json::from_slice(body).map_err(|e| ZaloError::Decode {
        what: "OAuth token response",
        detail: format!("not JSON: {e}"),
    })?;
    let access = str_of(v.get("access_token")).filter(|s| !s.is_empty());
    let Some(access) = access else {
        return Err(ZaloError::OAuth {
            code: i64_of(v.get("error")),
            name: str_of(v.get("error_name")).filter(|s| !s.is_empty()),
            description: str_of(v.get("error_description"))
                .filter(|s| !s.is_empty())
                .or_else(|| str_of(v.get("error_reason")).filter(|s| !s.is_empty())),
        });
    };
    let refresh = str_of(v.get("refresh_token"))
        .filter(|s| !s.is_empty())
        .ok_or(ZaloError::Decode {
            what: "OAuth token response",
            detail: "access_token without refresh_token".into(),
        })?;
    let expires_in = match v.get("expires_in") {
        None | Some(Value::Null) => DEFAULT_ACCESS_TTL,
        Some(e) => {
            let secs = i64_of(Some(e)).ok_or(ZaloError::Decode {
                what: "OAuth token response",
                detail: "expires_in is neither a number nor a numeric string".into(),
            })?;
            Duration::from_secs(u64::try_from(secs).unwrap_or(0))
        }
    };
    Ok(TokenPair {
        access_token: SecretString::from(access),
        refresh_token: SecretString::from(refresh),
        expires_in,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    #[test]
    fn pkce_known_answer() {
        // RFC 7636 appendix B.
        assert_eq!(
            Pkce::challenge_for("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn pkce_shape() {
        let p = Pkce::generate();
        assert_eq!(p.verifier.expose_secret().len(), 43);
        assert_eq!(p.challenge, Pkce::challenge_for(p.verifier.expose_secret()));
        assert!(p
            .verifier
            .expose_secret()
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
        assert_ne!(random_state(), random_state());
        assert!(random_state().len() >= 22);
        assert!(!format!("{p:?}").contains(p.verifier.expose_secret()));
    }

    #[test]
    fn token_response_forms() {
        let t = parse_token_response(
            br#"{"access_token":"a","refresh_token":"r","expires_in":"90000"}"#,
        )
        .unwrap();
        assert_eq!(t.expires_in, Duration::from_secs(90000));
        assert_eq!(t.access_token.expose_secret(), "a");
        let t =
            parse_token_response(br#"{"access_token":"a","refresh_token":"r","expires_in":3600}"#)
                .unwrap();
        assert_eq!(t.expires_in, Duration::from_secs(3600));
        let e = parse_token_response(
            br#"{"error":-14014,"error_name":"Invalid refresh token","error_description":"used"}"#,
        )
        .unwrap_err();
        assert_eq!(
            e,
            ZaloError::OAuth {
                code: Some(-14014),
                name: Some("Invalid refresh token".into()),
                description: Some("used".into())
            }
        );
        let e = parse_token_response(br#"{"error_name":"x","error_reason":"r"}"#).unwrap_err();
        assert_eq!(e.code(), None);
        assert!(matches!(
            parse_token_response(b"<html>"),
            Err(ZaloError::Decode { .. })
        ));
        assert!(matches!(
            parse_token_response(br#"{"access_token":"a"}"#),
            Err(ZaloError::Decode { .. })
        ));
    }
}
