//! The one error type of the crate: every failed Freshchat call ends up as a [`FreshchatError`].
//!
//! Errors keep the HTTP status and Freshchat's `{code, status, message}` body where there is one, and
//! are classified so callers can decide what to do: [`FreshchatError::is_transient`] is true only where
//! retrying the same request can help (rate limits, 5xx, transport failures). Nothing secret (the API
//! key) ever appears in `Display` or `Debug` output.

use std::time::Duration;

/// A failed Freshchat call, classified by what the caller can do about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FreshchatError {
    /// 401/403: the API key is missing, wrong, revoked or lacks a scope.
    #[error("Freshchat rejected the API key (HTTP {status}: {message}); generate a new token under Admin > API settings and update the configuration")]
    Unauthorized {
        /// HTTP status (401 or 403).
        status: u16,
        /// Freshchat's message.
        message: String,
    },
    /// 404: the user, conversation or resource does not exist.
    #[error("Freshchat resource not found: {message}")]
    NotFound {
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
    #[error("Freshchat rejected the request (HTTP {status}{}): {message}", api_status.as_deref().map(|s| format!(", {s}")).unwrap_or_default())]
    Invalid {
        /// HTTP status.
        status: u16,
        /// Freshchat's machine-readable `status` string, e.g. `INVALID_VALUE`.
        api_status: Option<String>,
        /// Freshchat's message.
        message: String,
    },
    /// 429: slow down; `retry_after` comes from `Retry-After`, else `X-RateLimit-Reset`.
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
        /// What failed.
        detail: String,
        /// Whether it was a timeout.
        timeout: bool,
    },
    /// The configured host is not the Freshchat API (a redirect, or an HTML / non-JSON success body).
    #[error("this is not the Freshchat API host ({detail}); set api_base to the chat API URL shown under Admin > API settings, e.g. https://<account>.freshchat.com")]
    WrongHost {
        /// What was seen.
        detail: String,
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
    /// The client configuration is unusable.
    #[error("invalid Freshchat configuration: {0}")]
    Config(String),
}

impl FreshchatError {
    /// True only where retrying the same request later can help: rate limits, 5xx, transport failures.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::RateLimited { .. } | Self::Server { .. } | Self::Transport { .. }
        )
    }

    /// The HTTP status behind this error, when there was one.
    pub fn status(&self) -> Option<u16> {
        // Local refusals (a bad attachment URL, say) carry status 0: no HTTP answer behind them.
        let status = match self {
            Self::Unauthorized { status, .. }
            | Self::Invalid { status, .. }
            | Self::Server { status, .. } => Some(*status),
            Self::NotFound { .. } => Some(404),
            Self::NotLatestConversation { .. } => Some(400),
            Self::RateLimited { .. } => Some(429),
            _ => None,
        };
        status.filter(|s| *s != 0)
    }

    /// How long the server asked us to wait (429 only).
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::RateLimited { retry_after } => *retry_after,
            _ => None,
        }
    }

    /// Classifies a non-2xx answer from its status, Freshchat's body and the rate-limit hint.
    pub(crate) fn from_status(status: u16, body: &[u8], retry_after: Option<Duration>) -> Self {
        let parsed: Option<ApiErrorBody> = serde_json::from_slice(body).ok();
        let api_status = parsed.as_ref().and_then(|b| b.status.clone());
        let message = parsed
            .as_ref()
            .and_then(|b| b.message.clone())
            .or_else(|| api_status.clone())
            .unwrap_or_else(|| snippet(body));
        match status {
            401 | 403 => Self::Unauthorized { status, message },
            404 => Self::NotFound { message },
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
        Self::Transport {
            detail: error_chain(err),
            timeout: err.is_timeout(),
        }
    }
}

/// Freshchat's error body: `{"code": 404, "status": "USER_NOT_FOUND", "message": "..."}`.
#[derive(Debug, Clone, Default, serde::Deserialize)]
struct ApiErrorBody {
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    message: Option<String>,
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

fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
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
        assert!(!e.is_transient());
        assert!(matches!(
            FreshchatError::from_status(403, b"", None),
            FreshchatError::Unauthorized { status: 403, .. }
        ));
        assert!(FreshchatError::from_status(503, b"<html>", None).is_transient());
        let rl = FreshchatError::from_status(429, b"", Some(Duration::from_secs(3)));
        assert_eq!(rl.retry_after(), Some(Duration::from_secs(3)));
        assert!(rl.to_string().contains("retry in 3 s"));
    }
}
