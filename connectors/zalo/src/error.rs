//! The one error type of this crate and its classification.
//!
//! Zalo reports application errors with HTTP 200 and a negative `error` code in the body; the token
//! endpoint reports failures as a body without `access_token`. Both are kept here with Zalo's own code and
//! text, and [`ZaloError::class`] sorts them into the handful of cases a caller acts on (refresh the token,
//! back off, give up on this recipient, ...). No variant ever carries a secret: bodies quoted in
//! [`ZaloError::Http`] come from non-2xx responses of the API, never from requests.

/// Everything that can go wrong when talking to Zalo.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ZaloError {
    /// The OpenAPI envelope carried `error != 0` (Zalo sends these with HTTP 200).
    #[error("Zalo API refused the call: {message} (error {code})")]
    Api {
        /// Zalo's numeric code, e.g. -216.
        code: i64,
        /// Zalo's message text.
        message: String,
    },
    /// The OAuth token endpoint answered without an `access_token`.
    #[error(
        "Zalo OAuth failed: {} ({}){}; the OA admin may need to authorise the app again",
        name.as_deref().unwrap_or("no access_token in the response"),
        code.map_or_else(|| "no code".to_owned(), |c| format!("error {c}")),
        description.as_deref().filter(|d| !d.is_empty()).map(|d| format!(": {d}")).unwrap_or_default()
    )]
    OAuth {
        /// Zalo's `error` field, when present.
        code: Option<i64>,
        /// Zalo's `error_name`, when present.
        name: Option<String>,
        /// Zalo's `error_description` (or `error_reason`), when present.
        description: Option<String>,
    },
    /// A non-2xx HTTP status.
    #[error("Zalo answered HTTP {status}: {body}")]
    Http {
        /// HTTP status code.
        status: u16,
        /// Start of the response body (about 200 characters).
        body: String,
    },
    /// The request did not complete: DNS, connect, TLS, reset or timeout.
    #[error("cannot reach Zalo ({}): {detail}; check the network and the configured base URLs", if *timeout { "timed out" } else { "transport error" })]
    Transport {
        /// What failed, without URLs' query strings.
        detail: String,
        /// True when the request timed out.
        timeout: bool,
    },
    /// The response was not JSON or lacked an expected field.
    #[error("unexpected response from Zalo for {what}: {detail}")]
    Decode {
        /// Which call or field.
        what: &'static str,
        /// What was wrong.
        detail: String,
    },
    /// A download exceeded the caller's size limit.
    #[error("the file is larger than the limit of {limit} bytes")]
    TooLarge {
        /// The limit in bytes.
        limit: u64,
    },
    /// The client configuration is unusable.
    #[error("invalid Zalo client configuration: {0}")]
    Config(String),
}

/// What kind of failure an error is, for deciding what to do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorClass {
    /// Access token invalid or expired (-216, -220, -124): refresh, then retry once.
    TokenInvalid,
    /// Rate limited (-32, HTTP 429): back off and retry.
    RateLimited,
    /// A quota is exhausted (-211, -218).
    Quota,
    /// The user cannot be messaged (-213, -217, -227, -230, -232, -244).
    UserUnreachable,
    /// A paid package or Zalo Cloud Account is needed (-224, -320, -321).
    PaidFeature,
    /// The request itself is wrong (-201, -210, -233).
    BadRequest,
    /// An uploaded asset expired (-100): upload again.
    AssetExpired,
    /// Network trouble, timeouts, 5xx or a body that is not JSON.
    Transport,
    /// The OAuth token endpoint refused (bad code, used refresh token, ...).
    OAuth,
    /// Anything else.
    Other,
}

impl ErrorClass {
    /// Classifies a Zalo OpenAPI error code.
    pub fn from_code(code: i64) -> ErrorClass {
        match code {
            -216 | -220 | -124 => ErrorClass::TokenInvalid,
            -32 => ErrorClass::RateLimited,
            -211 | -218 => ErrorClass::Quota,
            -213 | -217 | -227 | -230 | -232 | -244 => ErrorClass::UserUnreachable,
            -224 | -320 | -321 => ErrorClass::PaidFeature,
            -201 | -210 | -233 => ErrorClass::BadRequest,
            -100 => ErrorClass::AssetExpired,
            _ => ErrorClass::Other,
        }
    }
}

impl ZaloError {
    /// Sorts the error into an [`ErrorClass`].
    pub fn class(&self) -> ErrorClass {
        match self {
            ZaloError::Api { code, .. } => ErrorClass::from_code(*code),
            ZaloError::OAuth { .. } => ErrorClass::OAuth,
            ZaloError::Http { status, .. } if *status == 429 => ErrorClass::RateLimited,
            ZaloError::Http { status, .. } if *status >= 500 => ErrorClass::Transport,
            ZaloError::Http { .. } => ErrorClass::Other,
            ZaloError::Transport { .. } | ZaloError::Decode { .. } => ErrorClass::Transport,
            ZaloError::TooLarge { .. } | ZaloError::Config(_) => ErrorClass::Other,
        }
    }

    /// Zalo's numeric code, for API and OAuth errors.
    pub fn code(&self) -> Option<i64> {
        match self {
            ZaloError::Api { code, .. } => Some(*code),
            ZaloError::OAuth { code, .. } => *code,
            _ => None,
        }
    }

    /// True only where repeating the same call later can succeed: rate limits and transport trouble
    /// (including 5xx). Token errors are not transient by this definition: refresh first.
    pub fn is_transient(&self) -> bool {
        matches!(
            self.class(),
            ErrorClass::RateLimited | ErrorClass::Transport
        )
    }

    /// True when the access token is invalid or expired: the caller refreshes, then retries once.
    pub fn is_token_error(&self) -> bool {
        self.class() == ErrorClass::TokenInvalid
    }

    pub(crate) fn from_reqwest(err: &reqwest::Error) -> ZaloError {
        // `without_url` keeps query strings (which may hold a code or data) out of the message.
        let timeout = err.is_timeout();
        let mut detail = String::new();
        let mut source: Option<&dyn std::error::Error> = Some(err);
        while let Some(e) = source {
            if !detail.is_empty() {
                detail.push_str(": ");
            }
            detail.push_str(&e.to_string());
            source = e.source();
        }
        if let Some(url) = err.url() {
            let full = url.as_str();
            let bare = format!("{}{}", url.origin().ascii_serialization(), url.path());
            detail = detail.replace(full, &bare);
        }
        ZaloError::Transport { detail, timeout }
    }
}

/// Cuts a body to about `max` characters on a char boundary.
pub(crate) fn truncate(body: &str, max: usize) -> String {
    match body.char_indices().nth(max) {
        Some((idx, _)) => format!("{}…", &body[..idx]),
        None => body.to_owned(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn api(code: i64) -> ZaloError {
        ZaloError::Api {
            code,
            message: "x".into(),
        }
    }

    #[test]
    fn classes_follow_the_table() {
        for c in [-216, -220, -124] {
            assert!(api(c).is_token_error());
            assert!(!api(c).is_transient());
        }
        assert_eq!(api(-32).class(), ErrorClass::RateLimited);
        assert!(api(-32).is_transient());
        for c in [-211, -218] {
            assert_eq!(api(c).class(), ErrorClass::Quota);
        }
        for c in [-213, -217, -227, -230, -232, -244] {
            assert_eq!(api(c).class(), ErrorClass::UserUnreachable);
        }
        for c in [-224, -320, -321] {
            assert_eq!(api(c).class(), ErrorClass::PaidFeature);
        }
        for c in [-201, -210, -233] {
            assert_eq!(api(c).class(), ErrorClass::BadRequest);
        }
        assert_eq!(api(-100).class(), ErrorClass::AssetExpired);
        assert_eq!(api(-200).class(), ErrorClass::Other);
        let h = |status| ZaloError::Http {
            status,
            body: String::new(),
        };
        assert!(h(429).is_transient());
        assert!(h(503).is_transient());
        assert!(!h(404).is_transient());
        assert!(ZaloError::Transport {
            detail: "x".into(),
            timeout: true
        }
        .is_transient());
        assert!(ZaloError::Decode {
            what: "x",
            detail: "y".into()
        }
        .is_transient());
        let o = ZaloError::OAuth {
            code: Some(-14014),
            name: Some("Invalid refresh token".into()),
            description: None,
        };
        assert_eq!(o.class(), ErrorClass::OAuth);
        assert_eq!(o.code(), Some(-14014));
        assert!(o.to_string().contains("-14014"));
    }

    #[test]
    fn truncate_respects_char_boundaries() {
        assert_eq!(truncate("abc", 5), "abc");
        assert_eq!(truncate("ééééé", 2), "éé…");
    }
}
