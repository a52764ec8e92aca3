//! The one path every HTTP call of the client takes: decide whether the API key goes with the
//! request, send it, read the answer within a size limit, map a failure to a [`FreshchatError`],
//! decode, and report the call to the configured [`CallObserver`](super::CallObserver).
//!
//! The key is sent only to the configured API origin (scheme, host and port); a keyed request never
//! follows a redirect (a keyed download that is redirected to storage is followed by a fresh request
//! without the key, to a target the caller's download guard allows). Bodies kept in errors are
//! scrubbed of the key. Failures: transport errors,
//! non-2xx answers (classified), oversized bodies ([`FreshchatError::TooLarge`]), and 2xx bodies
//! that are HTML ([`FreshchatError::WrongHost`]), not JSON or of the wrong shape.

use std::time::{Duration, Instant};

use bytes::Bytes;
use reqwest::header::{HeaderMap, AUTHORIZATION, CONTENT_TYPE, LOCATION};
use reqwest::{Method, StatusCode};
use secrecy::ExposeSecret;
use serde::de::DeserializeOwned;
use serde_json::Value;
use url::Url;

use super::config::{CallOutcome, Op};
use super::FreshchatClient;
use crate::error::{snippet, FreshchatError};

/// The longest wait a 429 can ask of a caller; a far `Retry-After` date is cut to this.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(600);

/// Largest API answer read into memory (downloads have their own, caller-given limit).
pub(crate) const API_BODY_LIMIT: u64 = 32 * 1024 * 1024;
/// How much of an error body is kept.
const ERROR_BODY_LIMIT: u64 = 64 * 1024;

/// Header: seconds (or an HTTP date) to wait after a 429.
pub const RETRY_AFTER_HEADER: &str = "retry-after";
/// Header: Unix time at which the rate-limit window resets.
pub const RATE_LIMIT_RESET_HEADER: &str = "x-ratelimit-reset";
/// Header: requests allowed per window.
pub const RATE_LIMIT_LIMIT_HEADER: &str = "x-ratelimit-limit";
/// Header: requests left in the window.
pub const RATE_LIMIT_REMAINING_HEADER: &str = "x-ratelimit-remaining";

/// A request body.
pub(crate) enum Body {
    Json(Value),
    Multipart(reqwest::multipart::Form),
}

/// One call: what to send and how much of the answer to accept.
pub(crate) struct Request {
    pub(crate) op: Op,
    pub(crate) method: Method,
    pub(crate) url: Url,
    pub(crate) body: Option<Body>,
    pub(crate) limit: u64,
}

impl Request {
    pub(crate) fn get(op: Op, url: Url) -> Self {
        Self {
            op,
            method: Method::GET,
            url,
            body: None,
            limit: API_BODY_LIMIT,
        }
    }

    pub(crate) fn with_body(op: Op, method: Method, url: Url, body: Body) -> Self {
        Self {
            op,
            method,
            url,
            body: Some(body),
            limit: API_BODY_LIMIT,
        }
    }
}

/// A successful (2xx) answer.
pub(crate) struct Answer {
    /// Where the answer came from (after any redirect).
    pub(crate) url: Url,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

impl FreshchatClient {
    /// Sends `req`, reads the answer, turns it into a value with `read`, and reports the call.
    pub(crate) async fn exchange<T>(
        &self,
        req: Request,
        read: impl FnOnce(Answer) -> Result<T, FreshchatError>,
    ) -> Result<T, FreshchatError> {
        let op = req.op;
        let started = Instant::now();
        let result = match self.send_and_read(req).await {
            Ok(answer) => read(answer),
            Err(e) => Err(e),
        };
        if let Some(observer) = &self.inner.observer {
            observer.observe(op, CallOutcome::of(&result), started.elapsed());
        }
        if let Err(e) = &result {
            tracing::debug!(op = op.as_str(), error = %e, "freshchat call failed");
        }
        result
    }

    /// True when `url` has the configured API origin: only then may the key go with it.
    pub(crate) fn is_api_origin(&self, url: &Url) -> bool {
        url.origin() == self.inner.base.origin()
    }

    async fn send_and_read(&self, req: Request) -> Result<Answer, FreshchatError> {
        let keyed = self.is_api_origin(&req.url);
        let client = if keyed {
            &self.inner.http
        } else {
            &self.inner.anon
        };
        let mut builder = client.request(req.method.clone(), req.url.clone());
        if keyed {
            builder = builder.header(AUTHORIZATION, self.inner.auth.clone());
        }
        builder = match req.body {
            Some(Body::Json(v)) => builder.json(&v),
            Some(Body::Multipart(form)) => builder.multipart(form),
            None => builder,
        };
        let mut resp = builder
            .send()
            .await
            .map_err(|e| self.send_error(&e, &req.url))?;
        if resp.status().is_redirection() {
            let location = resp
                .headers()
                .get(LOCATION)
                .and_then(|v| v.to_str().ok())
                .map(|l| self.scrub_text(l));
            if !(keyed && req.op == Op::Download) {
                return Err(FreshchatError::WrongHost {
                    detail: format!(
                        "HTTP {} redirect to {}",
                        resp.status().as_u16(),
                        location.as_deref().unwrap_or("?")
                    ),
                });
            }
            // A file on the API host redirected to storage: fetch it without the key.
            let to = location
                .and_then(|l| req.url.join(&l).ok())
                .filter(|u| matches!(u.scheme(), "http" | "https"))
                .ok_or_else(|| FreshchatError::WrongHost {
                    detail: "a redirect without a usable Location".into(),
                })?;
            // The hop after the keyed answer goes only where the caller's guard allows.
            self.check_redirect_target(&to)?;
            resp = self
                .inner
                .anon
                .get(to.clone())
                .send()
                .await
                .map_err(|e| self.send_error(&e, &to))?;
        }
        let status = resp.status();
        let headers = resp.headers().clone();
        if status.is_redirection() {
            return Err(FreshchatError::WrongHost {
                detail: format!("HTTP {} redirect", status.as_u16()),
            });
        }
        if !status.is_success() {
            let body = read_limited(&mut resp, ERROR_BODY_LIMIT, false).await?;
            let retry = if status == StatusCode::TOO_MANY_REQUESTS {
                retry_after(&headers, chrono::Utc::now())
            } else {
                None
            };
            let body = self.scrub_text(&String::from_utf8_lossy(&body));
            return Err(FreshchatError::from_status(
                status.as_u16(),
                body.as_bytes(),
                retry,
            ));
        }
        if resp.content_length().is_some_and(|n| n > req.limit) {
            return Err(FreshchatError::TooLarge { limit: req.limit });
        }
        let url = resp.url().clone();
        let body = read_limited(&mut resp, req.limit, true).await?;
        Ok(Answer { url, headers, body })
    }

    /// `text` with the API key (if it appears at all) replaced.
    pub(crate) fn scrub_text(&self, text: &str) -> String {
        let token = self.inner.token.expose_secret();
        if token.len() >= 4 && text.contains(token) {
            text.replace(token, "[redacted]")
        } else {
            text.to_owned()
        }
    }
}

/// Reads a body chunk by chunk; past `limit` it fails with `TooLarge` (`strict`) or stops reading.
async fn read_limited(
    resp: &mut reqwest::Response,
    limit: u64,
    strict: bool,
) -> Result<Bytes, FreshchatError> {
    let mut buf = Vec::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| FreshchatError::transport(&e))?
    {
        if (buf.len() + chunk.len()) as u64 > limit {
            if strict {
                return Err(FreshchatError::TooLarge { limit });
            }
            let room = (limit as usize).saturating_sub(buf.len());
            buf.extend_from_slice(&chunk[..room.min(chunk.len())]);
            break;
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(Bytes::from(buf))
}

/// Decodes a 2xx body; HTML means we are not talking to the API.
pub(crate) fn decode<T: DeserializeOwned>(
    ans: &Answer,
    what: &'static str,
) -> Result<T, FreshchatError> {
    let v = json_of(ans, what)?;
    serde_json::from_value(v).map_err(|e| decode_err(what, &e))
}

/// The JSON of a 2xx body, refusing HTML (wrong host) and anything that is not JSON.
pub(crate) fn json_of(ans: &Answer, what: &'static str) -> Result<Value, FreshchatError> {
    let ctype = header_str(&ans.headers, CONTENT_TYPE.as_str())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let first = ans.body.iter().find(|b| !b.is_ascii_whitespace()).copied();
    if ctype.contains("html") || first == Some(b'<') {
        return Err(FreshchatError::WrongHost {
            detail: format!("a 2xx answer with an HTML page ({})", snippet(&ans.body)),
        });
    }
    serde_json::from_slice(&ans.body).map_err(|_| FreshchatError::InvalidJson {
        what,
        snippet: snippet(&ans.body),
    })
}

pub(crate) fn decode_err(what: &'static str, e: &serde_json::Error) -> FreshchatError {
    FreshchatError::Decode {
        what,
        detail: e.to_string(),
    }
}

pub(crate) fn header_str(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
}

/// How long a 429 asks us to wait, at most [`MAX_RETRY_AFTER`]: `Retry-After` as seconds or as an
/// HTTP date, else `X-RateLimit-Reset` (Unix time, or seconds when small). `now` is passed in so
/// the result is a function of its inputs.
pub fn retry_after(headers: &HeaderMap, now: chrono::DateTime<chrono::Utc>) -> Option<Duration> {
    let max = MAX_RETRY_AFTER.as_secs_f64();
    let clamp = |secs: f64| Duration::from_secs_f64(secs.clamp(0.0, max));
    if let Some(v) = header_str(headers, RETRY_AFTER_HEADER) {
        if let Ok(secs) = v.parse::<f64>() {
            if secs.is_finite() && secs >= 0.0 {
                return Some(clamp(secs));
            }
        }
        if let Ok(at) = chrono::DateTime::parse_from_rfc2822(&v) {
            let ms = (at.with_timezone(&chrono::Utc) - now).num_milliseconds();
            return Some(clamp(ms as f64 / 1000.0));
        }
    }
    let reset = header_str(headers, RATE_LIMIT_RESET_HEADER)?
        .parse::<f64>()
        .ok()?;
    if !reset.is_finite() || reset < 0.0 {
        return None;
    }
    if reset < 1_000_000_000.0 {
        return Some(clamp(reset));
    }
    Some(clamp(reset - now.timestamp_millis() as f64 / 1000.0))
}

/// The file name in a `Content-Disposition` header (`filename*=` preferred).
pub(crate) fn disposition_filename(d: &str) -> Option<String> {
    for part in d.split(';').map(str::trim) {
        if let Some(v) = part.strip_prefix("filename*=") {
            let v = v.rsplit("''").next().unwrap_or(v);
            return Some(
                percent_encoding::percent_decode_str(v)
                    .decode_utf8_lossy()
                    .into_owned(),
            );
        }
    }
    d.split(';')
        .map(str::trim)
        .find_map(|p| p.strip_prefix("filename="))
        .map(|v| v.trim_matches('"').to_owned())
        .filter(|v| !v.is_empty())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn at(s: &str) -> chrono::DateTime<chrono::Utc> {
        chrono::DateTime::parse_from_rfc3339(s)
            .unwrap()
            .with_timezone(&chrono::Utc)
    }

    #[test]
    fn retry_after_forms_and_clamp() {
        let now = at("2025-01-01T00:00:00Z");
        let with = |name: &'static str, v: &str| {
            let mut h = HeaderMap::new();
            h.insert(name, HeaderValue::from_str(v).unwrap());
            retry_after(&h, now)
        };
        assert_eq!(with("retry-after", "7"), Some(Duration::from_secs(7)));
        assert_eq!(
            with("retry-after", "Wed, 01 Jan 2025 00:00:30 GMT"),
            Some(Duration::from_secs(30))
        );
        // A date in the past means "now"; a far one is clamped.
        assert_eq!(
            with("retry-after", "Tue, 31 Dec 2024 23:00:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(
            with("retry-after", "Fri, 01 Jan 2100 00:00:00 GMT"),
            Some(MAX_RETRY_AFTER)
        );
        assert_eq!(with("retry-after", "99999999"), Some(MAX_RETRY_AFTER));
        let reset = (now.timestamp() + 30).to_string();
        assert_eq!(
            with("x-ratelimit-reset", &reset),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            with("x-ratelimit-reset", "12"),
            Some(Duration::from_secs(12))
        );
        assert_eq!(with("retry-after", "soon"), None);
        assert_eq!(retry_after(&HeaderMap::new(), now), None);
    }

    #[test]
    fn disposition_names() {
        assert_eq!(
            disposition_filename("attachment; filename=\"a b.pdf\"").as_deref(),
            Some("a b.pdf")
        );
        assert_eq!(
            disposition_filename("attachment; filename*=UTF-8''%C3%A1.txt").as_deref(),
            Some("á.txt")
        );
        assert_eq!(disposition_filename("inline"), None);
    }
}
