//! The one path every HTTP call of [`ZaloClient`] takes: send, read the body within a size limit, turn
//! the answer into a value or a [`ZaloError`], and report the call to the configured observer.
//!
//! The readers are plain functions over (status, bytes), so the same rules hold for every endpoint:
//! OpenAPI answers are checked for a non-2xx status, a body that is not JSON and a non-zero `error`
//! (Zalo's application errors come with HTTP 200); token answers never quote their body (it may hold
//! tokens); downloads keep their `Content-Type` and file name.

use std::time::Instant;

use bytes::{Bytes, BytesMut};
use serde_json::Value;

use super::config::{CallOutcome, Op};
use super::ZaloClient;
use crate::error::{truncate, ZaloError};
use crate::oauth::{parse_token_response, TokenPair};
use crate::types::{i64_of, str_of};

/// Largest OpenAPI or token answer read (Zalo's answers are a few kilobytes).
pub const MAX_API_BODY: u64 = 8 * 1024 * 1024;
/// How much of an error answer is read to quote its start.
const MAX_ERROR_BODY: usize = 64 * 1024;

/// Status and the headers the readers use.
#[derive(Debug, Clone)]
pub(crate) struct Head {
    pub(crate) status: u16,
    pub(crate) content_type: Option<String>,
    pub(crate) disposition: Option<String>,
}

impl ZaloClient {
    /// Sends `req`, reads at most `max_body` bytes of a successful answer, hands status and body to
    /// `decode`, and reports the call (`op`, outcome, duration) to the observer.
    pub(crate) async fn execute<T>(
        &self,
        op: Op,
        req: reqwest::RequestBuilder,
        max_body: u64,
        decode: impl FnOnce(&Head, Bytes) -> Result<T, ZaloError>,
    ) -> Result<T, ZaloError> {
        let started = Instant::now();
        let result = match exchange(req, max_body).await {
            Ok((head, body)) => decode(&head, body),
            Err(e) => Err(e),
        };
        if let Some(observer) = &self.config().observer {
            observer.observe(op, CallOutcome::of(&result), started.elapsed());
        }
        result
    }
}

async fn exchange(req: reqwest::RequestBuilder, max_body: u64) -> Result<(Head, Bytes), ZaloError> {
    let mut resp = req.send().await.map_err(|e| ZaloError::from_reqwest(&e))?;
    let header = |name: reqwest::header::HeaderName| {
        resp.headers()
            .get(name)
            // Some servers send raw UTF-8 (a file name) where HTTP wants ASCII: read it as text.
            .and_then(|v| std::str::from_utf8(v.as_bytes()).ok())
            .map(str::to_owned)
    };
    let head = Head {
        status: resp.status().as_u16(),
        content_type: header(reqwest::header::CONTENT_TYPE),
        disposition: header(reqwest::header::CONTENT_DISPOSITION),
    };
    let success = resp.status().is_success();
    if success && resp.content_length().is_some_and(|l| l > max_body) {
        return Err(ZaloError::TooLarge { limit: max_body });
    }
    let mut buf = BytesMut::new();
    loop {
        match resp.chunk().await {
            Ok(Some(chunk)) if success => {
                if (buf.len() + chunk.len()) as u64 > max_body {
                    return Err(ZaloError::TooLarge { limit: max_body });
                }
                buf.extend_from_slice(&chunk);
            }
            Ok(Some(chunk)) => {
                // An error answer: its start is enough to quote.
                let room = MAX_ERROR_BODY.saturating_sub(buf.len());
                buf.extend_from_slice(&chunk[..chunk.len().min(room)]);
                if buf.len() >= MAX_ERROR_BODY {
                    break;
                }
            }
            Ok(None) => break,
            Err(e) if success => return Err(ZaloError::from_reqwest(&e)),
            // The status already says what went wrong; a cut error body changes nothing.
            Err(_) => break,
        }
    }
    Ok((head, buf.freeze()))
}

/// Reads an OpenAPI answer: a non-2xx status is [`ZaloError::Http`] (with the body's start), a body
/// that is not a JSON object is [`ZaloError::Decode`], an `error` other than 0 (a number, or a numeric
/// string such as `"404"`) is [`ZaloError::Api`]; otherwise `data` (Null when absent).
pub fn read_envelope(op: Op, status: u16, body: &[u8]) -> Result<Value, ZaloError> {
    let what = op.what();
    if !(200..300).contains(&status) {
        return Err(http_error(status, body));
    }
    let v: Value = serde_json::from_slice(body).map_err(|e| ZaloError::Decode {
        what,
        detail: format!(
            "not JSON ({e}): {}",
            truncate(&String::from_utf8_lossy(body), 120)
        ),
    })?;
    let Value::Object(mut obj) = v else {
        return Err(ZaloError::Decode {
            what,
            detail: "the answer is not a JSON object".into(),
        });
    };
    let code = match obj.get("error") {
        None | Some(Value::Null) => 0,
        Some(e) => i64_of(Some(e)).ok_or(ZaloError::Decode {
            what,
            detail: "`error` is not a number".into(),
        })?,
    };
    if code != 0 {
        let message = str_of(obj.get("message")).unwrap_or_default();
        return Err(ZaloError::Api { code, message });
    }
    Ok(obj.remove("data").unwrap_or(Value::Null))
}

/// Reads a token-endpoint answer. 5xx and 429 are [`ZaloError::Http`] (transient) whatever the body
/// says; a body without `access_token` is [`ZaloError::OAuth`] (redacted); an unreadable body is
/// [`ZaloError::Decode`] (transient) on 2xx and [`ZaloError::Http`] otherwise. No body text is kept.
pub fn read_token(status: u16, body: &[u8]) -> Result<TokenPair, ZaloError> {
    let success = (200..300).contains(&status);
    let bare = || ZaloError::Http {
        status,
        body: String::new(),
    };
    if status == 429 || status >= 500 {
        return Err(bare());
    }
    match parse_token_response(body) {
        Ok(pair) if success => Ok(pair),
        Ok(_) => Err(bare()),
        Err(e @ ZaloError::OAuth { .. }) => Err(e),
        Err(_) if !success => Err(bare()),
        Err(e) => Err(e),
    }
}

pub(crate) fn http_error(status: u16, body: &[u8]) -> ZaloError {
    ZaloError::Http {
        status,
        body: truncate(&String::from_utf8_lossy(body), 200),
    }
}

pub(crate) fn filename_from_disposition(v: &str) -> Option<String> {
    for part in v.split(';').map(str::trim) {
        if let Some(rest) = part.strip_prefix("filename*=") {
            let enc = rest.split_once("''").map_or(rest, |(_, e)| e);
            return Some(
                percent_encoding::percent_decode_str(enc.trim_matches('"'))
                    .decode_utf8_lossy()
                    .into_owned(),
            )
            .filter(|f| !f.is_empty());
        }
    }
    v.split(';')
        .map(str::trim)
        .find_map(|p| p.strip_prefix("filename="))
        .map(|f| f.trim_matches('"').to_owned())
        .filter(|f| !f.is_empty())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn env(v: Value) -> Result<Value, ZaloError> {
        read_envelope(Op::GetOa, 200, v.to_string().as_bytes())
    }

    #[test]
    fn envelope_checks_error() {
        assert_eq!(
            env(json!({"data": {"a": 1}, "error": 0, "message": "Success"})).unwrap(),
            json!({"a": 1})
        );
        assert_eq!(
            env(json!({"error": -216, "message": "Access token is invalid"})).unwrap_err(),
            ZaloError::Api {
                code: -216,
                message: "Access token is invalid".into()
            }
        );
        assert_eq!(env(json!({"error": "404"})).unwrap_err().code(), Some(404));
        assert!(env(json!([1])).is_err());
        assert!(env(json!({"error": "x"})).is_err());
        assert!(matches!(
            read_envelope(Op::Send, 502, b"<html>bad gateway</html>"),
            Err(ZaloError::Http { status: 502, body }) if body.contains("bad gateway")
        ));
        assert!(matches!(
            read_envelope(Op::Send, 200, b"<html>"),
            Err(ZaloError::Decode {
                what: "send message",
                ..
            })
        ));
    }

    #[test]
    fn token_answers_never_quote_the_body() {
        let secret = "RfBh5NdqsWzhcX8bDDe_1A463Z34Fhy1GVi63AoTU1InwujqF";
        let body =
            format!(r#"{{"access_token":"{secret}","refresh_token":"{secret}","expires_in":"1"}}"#);
        for status in [400, 401, 429, 500, 503] {
            let e = read_token(status, body.as_bytes()).unwrap_err();
            assert!(!format!("{e} {e:?}").contains(secret), "{status}");
        }
        assert!(read_token(503, b"{}").unwrap_err().is_transient());
        assert!(read_token(429, b"{\"error\":-14014}")
            .unwrap_err()
            .is_transient());
        assert!(read_token(200, b"<html>").unwrap_err().is_transient());
        assert!(read_token(400, b"{\"error\":-14014}")
            .unwrap_err()
            .needs_reauthorization());
        assert!(read_token(200, body.as_bytes()).is_ok());
    }

    #[test]
    fn disposition_parsing() {
        assert_eq!(
            filename_from_disposition("attachment; filename=\"a b.pdf\""),
            Some("a b.pdf".into())
        );
        assert_eq!(
            filename_from_disposition("inline; filename*=UTF-8''%C3%A9.txt"),
            Some("é.txt".into())
        );
        assert_eq!(filename_from_disposition("inline"), None);
    }
}
