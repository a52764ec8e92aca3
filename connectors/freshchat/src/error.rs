//! The one error type of the crate: every failed Freshchat call ends up as a [`FreshchatError`].
//!
//! Errors keep the HTTP status and Freshchat's `{code, status, message}` body where there is one (the
//! other shape seen in the wild, `{error, detail, code, more_info}`, is read too), and are classified
//! so callers can decide what to do: [`FreshchatError::is_transient`] is true only where retrying the
//! same request can help (rate limits, 5xx, transport failures). [`FreshchatError::class`] gives the
//! low-cardinality [`ErrorClass`] reported to a call observer. Nothing secret (the API key) ever
//! appears in `Display` or `Debug` output: bodies are scrubbed of the key before they are kept.

use std::time::Duration;

/// What kind of failure an error is: the outcome a call observer records (`ok` aside).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorClass {
    /// 401/403.
    Unauthorized,
    /// 404.
    NotFound,
    /// 400 "not the latest conversation".
    NotLatestConversation,
    /// Another 4xx.
    Invalid,
    /// 429.
    RateLimited,
    /// 5xx.
    Server,
    /// The request timed out.
    Timeout,
    /// The request did not complete (connect, TLS, reset).
    Transport,
    /// A redirect or an HTML page: not the API host.
    WrongHost,
    /// A 2xx answer that is not JSON or not of the expected shape.
    Decode,
    /// An answer over the size limit.
    TooLarge,
    /// Refused before sending (a bad URL or content type), or a download refused.
    Refused,
}

impl ErrorClass {
    /// A short label for metrics: `unauthorized`, `not_found`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unauthorized => "unauthorized",
            Self::NotFound => "not_found",
            Self::NotLatestConversation => "not_latest_conversation",
            Self::Invalid => "invalid",
            Self::RateLimited => "rate_limited",
            Self::Server => "server",
            Self::Timeout => "timeout",
            Self::Transport => "transport",
            Self::WrongHost => "wrong_host",
            Self::Decode => "decode",
            Self::TooLarge => "too_large",
            Self::Refused => "refused",
        }
    }
}

/// A failed Freshchat call, classified by what the caller can do about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FreshchatError {
    /// 401/403: the API key is missing, wrong, revoked or lacks a scope.
    #[error("Freshchat rejected the API key (HTTP {status}: {message}); generate a new token under Admin > API settings and give zfsync the new key (the pairing's Freshchat API key)")]
    Unauthorized {
        /// HTTP status (401 or 403).
        status: u16,
        /// Freshchat's message.
        message: String,
    },
    /// 404: the user, conversation or resource does not exist.
    #[error("Freshchat resource not found: {message}")]
    NotFound {
        /// Freshchat's machine-readable `status`, e.g. `USER_NOT_FOUND`.
        api_status: Option<String>,
        /// Freshchat's message.
        message: String,
    },
    /// 400 "not the latest conversation": re-read the user's conversations and post into the latest.
    #[error("Freshchat refused the message: {message} (re-read the user's conversations and use the latest)")]
    NotLatestConversation {
        /// Freshchat's message.
        message: String,
    },
    /// Any other 4xx (400, 409, 413, ...): the request itself is wrong and retrying will not help.
    /// A 400 on user creation (an unknown custom property, say) lands here with Freshchat's
    /// `status`/`message`, so a caller can retry without the properties.
    #[error("Freshchat rejected the request (HTTP {status}{}): {message}", api_status.as_deref().map(|s| format!(", {s}")).unwrap_or_default())]
    Invalid {
        /// HTTP status.
        status: u16,
        /// Freshchat's machine-readable `status` string, e.g. `INVALID_VALUE`.
        api_status: Option<String>,
        /// Freshchat's message.
        message: String,
    },
    /// 429: slow down; `retry_after` comes from `Retry-After`, else `X-RateLimit-Reset`, clamped to
    /// [`crate::client::MAX_RETRY_AFTER`].
    #[error("Freshchat rate limit reached{}", retry_after.map(|d| format!("; retry in {} s", d.as_secs_f64().ceil())).unwrap_or_default())]
    RateLimited {
        /// How long to wait before retrying, when the server said.
        retry_after: Option<Duration>,
    },
    /// 5xx: Freshchat failed; retry later.
    #[error("Freshchat server error (HTTP {status}): {message}")]
    Server {
        /// HTTP status.
        status: u16,
        /// Freshchat's message or the start of the body.
        message: String,
    },
    /// The request did not complete: DNS, connect, TLS, timeout, body read.
    #[error("cannot reach Freshchat{}: {detail}", if *timeout { " (timed out)" } else { "" })]
    Transport {
        /// What failed, with its causes.
        detail: String,
        /// Whether it was a timeout.
        timeout: bool,
    },
    /// The configured host is not the Freshchat API (a redirect, or an HTML success page).
    #[error("this is not the Freshchat API host ({detail}); set api_base to the chat API URL shown under Admin > API settings, e.g. https://<account>.freshchat.com")]
    WrongHost {
        /// What was seen.
        detail: String,
    },
    /// A 2xx answer that is not JSON at all.
    #[error("Freshchat answered {what} with something that is not JSON: {snippet}")]
    InvalidJson {
        /// Which call.
        what: &'static str,
        /// The start of the body.
        snippet: String,
    },
    /// A JSON answer did not have the expected shape.
    #[error("unexpected Freshchat answer for {what}: {detail}")]
    Decode {
        /// Which call.
        what: &'static str,
        /// The serde error or what was missing.
        detail: String,
    },
    /// A download exceeded the caller's size limit.
    #[error("the attachment is larger than the {limit}-byte limit")]
    TooLarge {
        /// The limit in bytes.
        limit: u64,
    },
    /// A URL given to the client (an attachment, a page cursor) cannot be used; nothing was sent.
    #[error("cannot use the URL {url:?}: {reason}")]
    BadUrl {
        /// The URL as given.
        url: String,
        /// Why it was refused.
        reason: String,
    },
    /// An attachment was not fetched, or not kept: a Freshchat API address that is not a file
    /// download (the key goes nowhere else), a place the caller's download guard refuses, or an
    /// answer of the API instead of a file. Permanent: nothing is retried.
    #[error("the attachment {url} was not fetched: {reason}")]
    DownloadRefused {
        /// The URL, without its query.
        url: String,
        /// Why, for people.
        reason: String,
    },
    /// An upload's content type is not a valid MIME type; nothing was sent.
    #[error("cannot upload with content type {content_type:?}: not a MIME type")]
    BadContentType {
        /// The content type as given.
        content_type: String,
    },
    /// A request body could not be encoded as JSON; nothing was sent.
    #[error("cannot encode the {what} request: {detail}")]
    Encode {
        /// Which call.
        what: &'static str,
        /// The serde error.
        detail: String,
    },
    /// `api_base` is not an http(s) URL with a host.
    #[error("invalid Freshchat api_base {url:?}: it must be an http(s) URL with a host, e.g. https://<account>.freshchat.com")]
    InvalidBase {
        /// The configured value.
        url: String,
    },
    /// The API key is empty, or has characters a header cannot carry.
    #[error("invalid Freshchat API key: {reason}; copy the token from Admin > API settings")]
    InvalidKey {
        /// What is wrong (never the key itself).
        reason: &'static str,
    },
    /// The HTTP client could not be built (TLS roots missing, say).
    #[error("cannot build the HTTP client for Freshchat: {detail}")]
    HttpClient {
        /// What failed.
        detail: String,
    },
}

impl FreshchatError {
    /// True only where retrying the same request later can help: rate limits, 5xx, transport failures.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::RateLimited { .. } | Self::Server { .. } | Self::Transport { .. }
        )
    }

    /// The HTTP status behind this error, when there was an HTTP answer.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Unauthorized { status, .. }
            | Self::Invalid { status, .. }
            | Self::Server { status, .. } => Some(*status),
            Self::NotFound { .. } => Some(404),
            Self::NotLatestConversation { .. } => Some(400),
            Self::RateLimited { .. } => Some(429),
            _ => None,
        }
    }

    /// Freshchat's machine-readable `status` (`INVALID_VALUE`, `USER_NOT_FOUND`, ...), when it sent one.
    pub fn api_status(&self) -> Option<&str> {
        match self {
            Self::Invalid { api_status, .. } | Self::NotFound { api_status, .. } => {
                api_status.as_deref()
            }
            _ => None,
        }
    }

    /// Freshchat's human-readable `message`, for errors that carry an answer from Freshchat.
    pub fn api_message(&self) -> Option<&str> {
        match self {
            Self::Unauthorized { message, .. }
            | Self::NotFound { message, .. }
            | Self::NotLatestConversation { message }
            | Self::Invalid { message, .. }
            | Self::Server { message, .. } => Some(message),
            _ => None,
        }
    }

    /// How long the server asked us to wait (429 only).
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::RateLimited { retry_after } => *retry_after,
            _ => None,
        }
    }

    /// The class of this failure, as reported to a call observer (low cardinality, no ids).
    pub fn class(&self) -> ErrorClass {
        match self {
            Self::Unauthorized { .. } => ErrorClass::Unauthorized,
            Self::NotFound { .. } => ErrorClass::NotFound,
            Self::NotLatestConversation { .. } => ErrorClass::NotLatestConversation,
            Self::Invalid { .. } => ErrorClass::Invalid,
            Self::RateLimited { .. } => ErrorClass::RateLimited,
            Self::Server { .. } => ErrorClass::Server,
            Self::Transport { timeout: true, .. } => ErrorClass::Timeout,
            Self::Transport { .. } => ErrorClass::Transport,
            Self::WrongHost { .. } => ErrorClass::WrongHost,
            Self::InvalidJson { .. } | Self::Decode { .. } => ErrorClass::Decode,
            Self::TooLarge { .. } => ErrorClass::TooLarge,
            Self::BadUrl { .. }
            | Self::DownloadRefused { .. }
            | Self::BadContentType { .. }
            | Self::Encode { .. }
            | Self::InvalidBase { .. }
            | Self::InvalidKey { .. }
            | Self::HttpClient { .. } => ErrorClass::Refused,
        }
    }

    /// Classifies a non-2xx answer from its status, Freshchat's body and the rate-limit hint. The
    /// body must already be scrubbed of the API key.
    pub(crate) fn from_status(status: u16, body: &[u8], retry_after: Option<Duration>) -> Self {
        let parsed = ApiErrorBody::read(body);
        let api_status = parsed.status.clone();
        let message = parsed
            .message()
            .or_else(|| api_status.clone())
            .unwrap_or_else(|| snippet(body));
        match status {
            401 | 403 => Self::Unauthorized { status, message },
            404 => Self::NotFound {
                api_status,
                message,
            },
            429 => Self::RateLimited { retry_after },
            400 if message
                .to_ascii_lowercase()
                .contains("not the latest conversation") =>
            {
                Self::NotLatestConversation { message }
            }
            400..=499 => Self::Invalid {
                status,
                api_status,
                message,
            },
            300..=399 => Self::WrongHost {
                detail: format!("the server answered with a redirect (HTTP {status})"),
            },
            _ => Self::Server { status, message },
        }
    }

    pub(crate) fn transport(err: &reqwest::Error) -> Self {
        let mut detail = error_chain(err);
        // A download link's query may be its credential (a signed storage URL): keep only origin
        // and path.
        if let Some(url) = err.url() {
            let bare = format!("{}{}", url.origin().ascii_serialization(), url.path());
            detail = detail.replace(url.as_str(), &bare);
        }
        Self::Transport {
            detail,
            timeout: err.is_timeout(),
        }
    }
}

/// Freshchat's error body: `{"code": 404, "status": "USER_NOT_FOUND", "message": "..."}`; also the
/// `{"error", "detail", "code", "more_info"}` shape some integrations document.
#[derive(Debug, Clone, Default, serde::Deserialize)]
struct ApiErrorBody {
    #[serde(default, deserialize_with = "crate::lenient::opt_string")]
    status: Option<String>,
    #[serde(default, deserialize_with = "crate::lenient::opt_string")]
    message: Option<String>,
    #[serde(default, deserialize_with = "crate::lenient::opt_string")]
    error: Option<String>,
    #[serde(default, deserialize_with = "crate::lenient::opt_string")]
    detail: Option<String>,
}

impl ApiErrorBody {
    fn read(body: &[u8]) -> Self {
        serde_json::from_slice(body).unwrap_or_default()
    }

    fn message(&self) -> Option<String> {
        let non_empty = |s: &Option<String>| s.clone().filter(|s| !s.trim().is_empty());
        non_empty(&self.message).or_else(|| {
            match (non_empty(&self.error), non_empty(&self.detail)) {
                (Some(e), Some(d)) => Some(format!("{e} ({d})")),
                (e, d) => e.or(d),
            }
        })
    }
}

/// The first 200 characters of a body, for messages when it is not Freshchat's error JSON.
pub(crate) fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        return "empty body".to_owned();
    }
    let mut out: String = text.chars().take(200).collect();
    if text.chars().count() > 200 {
        out.push('…');
    }
    out
}

/// An error and its causes on one line, each cause once (reqwest repeats none of them itself).
fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_statuses() {
        let body =
            br#"{"code":400,"status":"INVALID_VALUE","message":"not the latest conversation"}"#;
        assert!(matches!(
            FreshchatError::from_status(400, body, None),
            FreshchatError::NotLatestConversation { .. }
        ));
        let e = FreshchatError::from_status(
            400,
            br#"{"status":"INVALID_VALUE","message":"bad"}"#,
            None,
        );
        assert_eq!(e.status(), Some(400));
        assert_eq!(e.api_status(), Some("INVALID_VALUE"));
        assert_eq!(e.api_message(), Some("bad"));
        assert!(!e.is_transient());
        assert_eq!(e.class(), ErrorClass::Invalid);
        assert!(matches!(
            FreshchatError::from_status(403, b"", None),
            FreshchatError::Unauthorized { status: 403, .. }
        ));
        assert!(FreshchatError::from_status(503, b"<html>", None).is_transient());
        let rl = FreshchatError::from_status(429, b"", Some(Duration::from_secs(3)));
        assert_eq!(rl.retry_after(), Some(Duration::from_secs(3)));
        assert!(rl.to_string().contains("retry in 3 s"));
        let nf = FreshchatError::from_status(
            404,
            br#"{"code":404,"status":"USER_NOT_FOUND","message":"user not found"}"#,
            None,
        );
        assert_eq!(nf.api_status(), Some("USER_NOT_FOUND"));
        assert_eq!(nf.class().as_str(), "not_found");
    }

    #[test]
    fn reads_the_other_error_shape() {
        let e = FreshchatError::from_status(
            400,
            br#"{"error":"Something went wrong","detail":"Unknown","code":1234}"#,
            None,
        );
        assert_eq!(e.api_message(), Some("Something went wrong (Unknown)"));
        assert_eq!(e.api_status(), None);
    }

    #[test]
    fn local_refusals_have_no_status() {
        let e = FreshchatError::BadUrl {
            url: "ftp://x".into(),
            reason: "not http(s)".into(),
        };
        assert_eq!(e.status(), None);
        assert_eq!(e.class(), ErrorClass::Refused);
        assert!(!e.is_transient());
    }
}
