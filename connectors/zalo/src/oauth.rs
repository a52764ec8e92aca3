//! OAuth v4 for an Official Account: PKCE pairs, random `state`, and the token response.
//!
//! Randomness comes only from the system's cryptographic generator (aws-lc-rs `SystemRandom`); when it
//! fails, [`Pkce::generate`] and [`random_state`] return [`RandomError`] rather than anything weaker.
//!
//! Zalo's token endpoint answers failures with HTTP 200 and a body that has no `access_token` (instead
//! `error`, `error_name`, `error_description`, or the `{error, message}` envelope); [`parse_token_response`]
//! turns any such body into [`ZaloError::OAuth`] with redacted texts, so a failed exchange can never
//! overwrite a working token and a body that holds tokens never reaches an error. `expires_in` arrives as
//! a string (`"90000"`) or a number; both are accepted.

use std::fmt;
use std::time::Duration;

use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use secrecy::SecretString;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::error::{redact, ZaloError};
use crate::types::{i64_of, str_of};

/// Access token lifetime assumed when Zalo omits `expires_in` (25 h, Zalo's documented value).
pub const DEFAULT_ACCESS_TTL: Duration = Duration::from_secs(90_000);

/// What the `Debug` output of a type shows in place of a secret.
pub const REDACTED: &str = "[redacted]";

/// An access/refresh token pair. The refresh token is single use: store the new pair before using it.
/// `Debug` shows neither token.
#[derive(Clone)]
pub struct TokenPair {
    /// Goes in the `access_token` header of OpenAPI calls.
    pub access_token: SecretString,
    /// Exchanged once for a new pair.
    pub refresh_token: SecretString,
    /// Lifetime of the access token from the moment it was issued.
    pub expires_in: Duration,
}

impl fmt::Debug for TokenPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenPair")
            .field("access_token", &REDACTED)
            .field("refresh_token", &REDACTED)
            .field("expires_in", &self.expires_in)
            .finish()
    }
}

/// The system's secure random generator failed; nothing secret can be made without it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the system's secure random generator failed; cannot create a PKCE verifier or OAuth state safely (check /dev/urandom and the process's sandbox)")]
pub struct RandomError;

/// A PKCE verifier and its S256 challenge. `Debug` shows the challenge only.
#[derive(Clone)]
pub struct Pkce {
    /// 43 URL-safe characters; stays on the server until the code exchange.
    pub verifier: SecretString,
    /// `base64url_nopad(sha256(verifier))`, goes in the permission URL.
    pub challenge: String,
}

impl fmt::Debug for Pkce {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pkce")
            .field("verifier", &REDACTED)
            .field("challenge", &self.challenge)
            .finish()
    }
}

impl Pkce {
    /// A fresh pair from 32 bytes of the system's secure random generator.
    pub fn generate() -> Result<Pkce, RandomError> {
        let verifier = URL_SAFE_NO_PAD.encode(try_random_bytes::<32>()?);
        let challenge = Pkce::challenge_for(&verifier);
        Ok(Pkce {
            verifier: SecretString::from(verifier),
            challenge,
        })
    }

    /// The S256 challenge of a verifier: base64url without padding over the raw SHA-256 digest.
    pub fn challenge_for(verifier: &str) -> String {
        URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
    }
}

/// A random URL-safe `state` of 256 bits (43 characters) from the system's secure generator.
pub fn random_state() -> Result<String, RandomError> {
    Ok(URL_SAFE_NO_PAD.encode(try_random_bytes::<32>()?))
}

/// `N` bytes from the system's secure random generator.
pub fn try_random_bytes<const N: usize>() -> Result<[u8; N], RandomError> {
    let mut buf = [0u8; N];
    SystemRandom::new()
        .fill(&mut buf)
        .map_err(|_| RandomError)?;
    Ok(buf)
}

/// Turns the token endpoint's JSON body into a [`TokenPair`], or [`ZaloError::OAuth`] (redacted) when
/// the body has no `access_token`, whatever the HTTP status was. A body that is not a JSON object is
/// [`ZaloError::Decode`], which quotes nothing of it.
pub fn parse_token_response(body: &[u8]) -> Result<TokenPair, ZaloError> {
    const WHAT: &str = "OAuth token response";
    let v: Value = serde_json::from_slice(body).map_err(|e| ZaloError::Decode {
        what: WHAT,
        detail: format!(
            "not JSON (syntax error at line {}, column {})",
            e.line(),
            e.column()
        ),
    })?;
    if !v.is_object() {
        return Err(ZaloError::Decode {
            what: WHAT,
            detail: "not a JSON object".into(),
        });
    }
    let text = |k: &str| {
        str_of(v.get(k))
            .filter(|s| !s.trim().is_empty())
            .map(|s| redact(&s))
    };
    let Some(access) = str_of(v.get("access_token")).filter(|s| !s.is_empty()) else {
        return Err(ZaloError::OAuth {
            code: i64_of(v.get("error")),
            name: text("error_name"),
            description: text("error_description")
                .or_else(|| text("error_reason"))
                .or_else(|| text("message")),
        });
    };
    let refresh = str_of(v.get("refresh_token"))
        .filter(|s| !s.is_empty())
        .ok_or(ZaloError::Decode {
            what: WHAT,
            detail: "access_token without refresh_token".into(),
        })?;
    let expires_in = match v.get("expires_in") {
        None | Some(Value::Null) => DEFAULT_ACCESS_TTL,
        Some(e) => {
            let secs = i64_of(Some(e)).ok_or(ZaloError::Decode {
                what: WHAT,
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
        let p = Pkce::generate().unwrap();
        assert_eq!(p.verifier.expose_secret().len(), 43);
        assert_eq!(p.challenge, Pkce::challenge_for(p.verifier.expose_secret()));
        assert!(p
            .verifier
            .expose_secret()
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
        assert_ne!(random_state().unwrap(), random_state().unwrap());
        assert_eq!(random_state().unwrap().len(), 43);
        assert_ne!(
            Pkce::generate().unwrap().verifier.expose_secret(),
            p.verifier.expose_secret()
        );
    }

    #[test]
    fn debug_output_redacts_secrets() {
        let p = Pkce::generate().unwrap();
        let shown = format!("{p:?}");
        assert!(!shown.contains(p.verifier.expose_secret()), "{shown}");
        assert!(shown.contains(&p.challenge) && shown.contains(REDACTED));
        let t = parse_token_response(
            br#"{"access_token":"ACCESS-abc","refresh_token":"REFRESH-xyz","expires_in":"90000"}"#,
        )
        .unwrap();
        let shown = format!("{t:?} {t:#?}");
        assert!(
            !shown.contains("ACCESS-abc") && !shown.contains("REFRESH-xyz"),
            "{shown}"
        );
        assert!(shown.contains("90000"));
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
        assert!(e.needs_reauthorization());
        let e = parse_token_response(br#"{"error_name":"x","error_reason":"r"}"#).unwrap_err();
        assert_eq!(e.code(), None);
        assert!(!e.needs_reauthorization());
        let e = parse_token_response(br#"{"error":-123,"message":"invalid_code","data":null}"#)
            .unwrap_err();
        assert_eq!(
            (e.code(), e.to_string().contains("invalid_code")),
            (Some(-123), true)
        );
        assert!(matches!(
            parse_token_response(b"<html>"),
            Err(ZaloError::Decode { .. })
        ));
        assert!(matches!(
            parse_token_response(br#"{"access_token":"a"}"#),
            Err(ZaloError::Decode { .. })
        ));
        assert!(matches!(
            parse_token_response(b"[1]"),
            Err(ZaloError::Decode { .. })
        ));
    }

    #[test]
    fn a_token_in_an_error_body_never_reaches_the_error() {
        let secret = "L2Y2BO9Prn_I1SkM08T4J99bZQYVbOBPfTVeRgrLdPK4ZqGX9G";
        let body = format!(
            r#"{{"error":-14014,"error_name":"Invalid refresh token {secret}","error_description":"token {secret} was used","refresh_token":"{secret}"}}"#
        );
        let e = parse_token_response(body.as_bytes()).unwrap_err();
        let shown = format!("{e} {e:?}");
        assert!(!shown.contains(secret), "{shown}");
        assert!(shown.contains("Invalid refresh token"));
        // Nor a body that is not JSON.
        let e = parse_token_response(format!("oops {secret}").as_bytes()).unwrap_err();
        assert!(!format!("{e} {e:?}").contains(secret));
    }
}
