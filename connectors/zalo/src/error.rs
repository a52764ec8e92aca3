//! The one error type of this crate and its classification.
//!
//! Zalo reports application errors with HTTP 200 and an `error` code in the body (negative for the
//! OpenAPI table, `404` or `"404"` for unknown paths); the token endpoint reports failures as a body
//! without `access_token`. Both are kept here with Zalo's own code, and [`ZaloError::class`] sorts every
//! error into the handful of cases a caller acts on (refresh the token, back off, ask for a new
//! authorization, give up on this recipient, ...).
//!
//! No variant ever carries a secret: bodies quoted in [`ZaloError::Http`] come from the OpenAPI's
//! non-2xx responses (never from the token endpoint, whose bodies may hold tokens), and the token
//! endpoint's error texts pass through [`redact`] before they are kept.

/// Everything that can go wrong when talking to Zalo.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ZaloError {
    /// The OpenAPI envelope carried `error != 0` (Zalo sends these with HTTP 200).
    #[error("Zalo API refused the call: {message} (error {code})")]
    Api {
        /// Zalo's code, e.g. -216; `404` for an unknown path.
        code: i64,
        /// Zalo's message text.
        message: String,
    },
    /// The OAuth token endpoint answered without an `access_token`. The texts are redacted (see
    /// [`redact`]); whether an OA admin must authorize again is [`ZaloError::needs_reauthorization`].
    #[error("{}", oauth_text(*code, name.as_deref(), description.as_deref()))]
    OAuth {
        /// Zalo's `error` field, when present (a number, or a numeric string such as `"404"`).
        code: Option<i64>,
        /// Zalo's `error_name`, redacted.
        name: Option<String>,
        /// Zalo's `error_description`, `error_reason` or `message`, redacted.
        description: Option<String>,
    },
    /// A non-2xx HTTP status.
    #[error("Zalo answered HTTP {status}{}", if body.is_empty() { String::new() } else { format!(": {body}") })]
    Http {
        /// HTTP status code.
        status: u16,
        /// Start of the response body (about 200 characters); empty for the token endpoint.
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
    /// A response or download exceeded the size limit.
    #[error("the response is larger than the limit of {limit} bytes")]
    TooLarge {
        /// The limit in bytes.
        limit: u64,
    },
    /// A base URL of the configuration cannot carry API paths.
    #[error("{field} must be an http(s) URL that can carry a path, got {url:?}")]
    BaseUrl {
        /// `api_base` or `oauth_base`.
        field: &'static str,
        /// The configured value.
        url: String,
    },
    /// The configuration has no app id.
    #[error("app_id is empty; copy it from the app's page on developers.zalo.me")]
    EmptyAppId,
    /// The HTTP stack could not start (usually the TLS roots of the machine).
    #[error("cannot start the HTTP client: {detail}; check that the machine has CA certificates")]
    HttpClient {
        /// What the HTTP stack said.
        detail: String,
    },
    /// An upload's file name cannot be sent: Zalo decides the type by the extension.
    #[error("upload file name {filename:?} {problem}")]
    UploadName {
        /// The file name given.
        filename: String,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// A media URL to download is not an http(s) URL.
    #[error("the media URL cannot be downloaded: {detail}")]
    DownloadUrl {
        /// What is wrong with it.
        detail: String,
    },
}

/// The token endpoint's refusals that the reference lists, each meaning the grant is gone: -14002
/// invalid app id, -14003 invalid redirect URI, -14014 invalid or already-used refresh token, -118
/// invalid grant.
pub const LISTED_OAUTH_REFUSALS: &[i64] = &[-14002, -14003, -14014, -118];

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
    /// The request itself is wrong (-201, -210, -233, or refused before sending).
    BadRequest,
    /// An uploaded asset expired (-100): upload again.
    AssetExpired,
    /// The endpoint does not exist (`"error": 404` or `"404"`, HTTP 404): a wrong base URL or path.
    NotFound,
    /// Network trouble, timeouts, 5xx or a body that cannot be read: retry with backoff.
    Transport,
    /// The token endpoint refused the grant with one of the OAuth codes the reference lists (-14002
    /// app id, -14003 redirect URI, -14014 invalid or used refresh token, -118 invalid grant): an OA
    /// admin must authorize the app again.
    OAuth,
    /// The token endpoint answered without `access_token` and with a code the reference does not
    /// list (or none at all): it may pass, or it may never pass. A caller retries with backoff for a
    /// bounded time and then asks for a new authorization.
    OAuthUnlisted,
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
            404 => ErrorClass::NotFound,
            _ => ErrorClass::Other,
        }
    }

    /// Classifies the `error` of a token-endpoint body that has no `access_token`. Only the OAuth
    /// refusals the reference lists ([`LISTED_OAUTH_REFUSALS`]) mean a new authorization; -32 is a
    /// rate limit and `404` a wrong path; anything else (no code, a code nobody documented, even one
    /// in the -14xxx range) is [`ErrorClass::OAuthUnlisted`].
    pub fn from_oauth_code(code: Option<i64>) -> ErrorClass {
        match code {
            Some(c) if LISTED_OAUTH_REFUSALS.contains(&c) => ErrorClass::OAuth,
            Some(-32) => ErrorClass::RateLimited,
            Some(404) => ErrorClass::NotFound,
            _ => ErrorClass::OAuthUnlisted,
        }
    }

    /// A short, stable name (`token_invalid`, `rate_limited`, ...) for metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorClass::TokenInvalid => "token_invalid",
            ErrorClass::RateLimited => "rate_limited",
            ErrorClass::Quota => "quota",
            ErrorClass::UserUnreachable => "user_unreachable",
            ErrorClass::PaidFeature => "paid_feature",
            ErrorClass::BadRequest => "bad_request",
            ErrorClass::AssetExpired => "asset_expired",
            ErrorClass::NotFound => "not_found",
            ErrorClass::Transport => "transport",
            ErrorClass::OAuth => "oauth",
            ErrorClass::OAuthUnlisted => "oauth_unlisted",
            ErrorClass::Other => "other",
        }
    }
}

impl ZaloError {
    /// Sorts the error into an [`ErrorClass`].
    pub fn class(&self) -> ErrorClass {
        match self {
            ZaloError::Api { code, .. } => ErrorClass::from_code(*code),
            ZaloError::OAuth { code, .. } => ErrorClass::from_oauth_code(*code),
            ZaloError::Http { status: 429, .. } => ErrorClass::RateLimited,
            ZaloError::Http { status: 404, .. } => ErrorClass::NotFound,
            ZaloError::Http { status, .. } if *status >= 500 => ErrorClass::Transport,
            ZaloError::Http { .. } => ErrorClass::Other,
            ZaloError::Transport { .. } | ZaloError::Decode { .. } => ErrorClass::Transport,
            ZaloError::UploadName { .. } | ZaloError::DownloadUrl { .. } => ErrorClass::BadRequest,
            ZaloError::TooLarge { .. }
            | ZaloError::BaseUrl { .. }
            | ZaloError::EmptyAppId
            | ZaloError::HttpClient { .. } => ErrorClass::Other,
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
    /// (timeouts, connection errors, 5xx, unreadable bodies), also from the token endpoint. Token errors
    /// are not transient by this definition: refresh first.
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

    /// True when Zalo refused the grant itself (used or invalid refresh token, bad code, wrong app
    /// id or redirect URI): retrying cannot help; an OA admin must authorize the app again.
    pub fn needs_reauthorization(&self) -> bool {
        self.class() == ErrorClass::OAuth
    }

    /// True when the token endpoint refused with a code the reference does not list (or with no
    /// code): neither known to pass nor known to be final. Retry with backoff for a bounded time,
    /// then ask for a new authorization.
    pub fn is_unlisted_refusal(&self) -> bool {
        self.class() == ErrorClass::OAuthUnlisted
    }

    pub(crate) fn from_reqwest(err: &reqwest::Error) -> ZaloError {
        let timeout = err.is_timeout();
        // Each cause once: hyper and reqwest sometimes repeat their source's text in their own.
        let mut detail = String::new();
        let mut source: Option<&dyn std::error::Error> = Some(err);
        while let Some(e) = source {
            let text = e.to_string();
            if !text.is_empty() && !detail.contains(&text) {
                if !detail.is_empty() {
                    detail.push_str(": ");
                }
                detail.push_str(&text);
            }
            source = e.source();
        }
        // Query strings may hold a code or data: keep only origin and path.
        if let Some(url) = err.url() {
            let full = url.as_str();
            let bare = format!("{}{}", url.origin().ascii_serialization(), url.path());
            detail = detail.replace(full, &bare);
        }
        ZaloError::Transport { detail, timeout }
    }
}

fn oauth_text(code: Option<i64>, name: Option<&str>, description: Option<&str>) -> String {
    let class = ErrorClass::from_oauth_code(code);
    let what = name.unwrap_or("no access_token in the response");
    let code = code.map_or_else(|| "no code".to_owned(), |c| format!("error {c}"));
    let description = description
        .filter(|d| !d.is_empty())
        .map(|d| format!(": {d}"))
        .unwrap_or_default();
    let advice = match class {
        ErrorClass::OAuth => {
            "; an OA admin must authorize the app again (check app_id, the App Secret and the callback URL first)"
        }
        ErrorClass::RateLimited => "; Zalo's rate limit: try again later",
        ErrorClass::NotFound => "; the token endpoint path is wrong: check oauth_base",
        ErrorClass::OAuthUnlisted => {
            "; Zalo does not document this answer: it may pass, so try again later; if it persists, authorize the app again"
        }
        _ => "",
    };
    format!("Zalo's token endpoint refused: {what} ({code}){description}{advice}")
}

/// Cuts a body to about `max` characters on a char boundary.
pub(crate) fn truncate(body: &str, max: usize) -> String {
    match body.char_indices().nth(max) {
        Some((idx, _)) => format!("{}…", &body[..idx]),
        None => body.to_owned(),
    }
}

/// Shortest run of token-like characters that is hidden by [`redact`]. Zalo's access and refresh
/// tokens, codes and verifiers are far longer; ids (≤ 20 characters) and words stay readable.
pub const REDACT_MIN_RUN: usize = 24;

/// Makes a text from the token endpoint safe to keep in an error or a log: every run of at least
/// [`REDACT_MIN_RUN`] token-like characters (letters, digits, `-_.~+/=`) becomes `[redacted]`, and the
/// result is cut to about 160 characters.
pub fn redact(text: &str) -> String {
    fn tokenish(c: char) -> bool {
        c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '~' | '+' | '/' | '=')
    }
    let mut out = String::with_capacity(text.len().min(200));
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        if run.chars().count() >= REDACT_MIN_RUN {
            out.push_str("[redacted]");
        } else {
            out.push_str(run);
        }
        run.clear();
    };
    for c in text.chars() {
        if tokenish(c) {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(if c.is_control() { ' ' } else { c });
        }
    }
    flush(&mut run, &mut out);
    truncate(out.trim(), 160)
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

    fn oauth(code: Option<i64>) -> ZaloError {
        ZaloError::OAuth {
            code,
            name: Some("n".into()),
            description: None,
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
        assert_eq!(api(404).class(), ErrorClass::NotFound);
        assert_eq!(api(-200).class(), ErrorClass::Other);
        let h = |status| ZaloError::Http {
            status,
            body: String::new(),
        };
        assert!(h(429).is_transient());
        assert!(h(503).is_transient());
        assert!(!h(404).is_transient());
        assert_eq!(h(404).class(), ErrorClass::NotFound);
        assert_eq!(h(400).class(), ErrorClass::Other);
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
    }

    #[test]
    fn only_documented_oauth_refusals_need_a_new_authorization() {
        for c in [-14014, -14002, -14003, -118] {
            assert!(oauth(Some(c)).needs_reauthorization(), "{c}");
            assert!(!oauth(Some(c)).is_transient());
            assert!(oauth(Some(c))
                .to_string()
                .contains("authorize the app again"));
        }
        assert!(oauth(Some(-32)).is_transient());
        assert_eq!(oauth(Some(404)).class(), ErrorClass::NotFound);
        for c in [None, Some(-123), Some(-216), Some(0), Some(-14099)] {
            assert!(!oauth(c).needs_reauthorization(), "{c:?}");
        }
        assert_eq!(oauth(Some(-14014)).code(), Some(-14014));
        assert!(oauth(Some(-14014)).to_string().contains("-14014"));
    }

    #[test]
    fn unlisted_token_endpoint_answers_are_their_own_class() {
        // Codes the reference does not list, in and out of the -14xxx range, and a body with no
        // code at all: neither "authorize again" at once nor a plain failure.
        for c in [
            Some(-14099),
            Some(-14001),
            Some(-14019),
            Some(-123),
            Some(0),
            None,
        ] {
            let e = oauth(c);
            assert_eq!(e.class(), ErrorClass::OAuthUnlisted, "{c:?}");
            assert!(e.is_unlisted_refusal(), "{c:?}");
            assert!(!e.needs_reauthorization() && !e.is_transient(), "{c:?}");
            assert!(e.to_string().contains("try again later"), "{e}");
        }
        assert_eq!(oauth(Some(-14099)).code(), Some(-14099));
        assert!(oauth(Some(-14099)).to_string().contains("-14099"));
        // The listed ones, the rate limit and an unknown path keep their classes.
        for c in LISTED_OAUTH_REFUSALS {
            assert!(!oauth(Some(*c)).is_unlisted_refusal(), "{c}");
        }
        assert!(!oauth(Some(-32)).is_unlisted_refusal());
        assert!(!oauth(Some(404)).is_unlisted_refusal());
        // An OpenAPI code is never an OAuth refusal.
        assert!(!api(-14099).is_unlisted_refusal());
    }

    #[test]
    fn class_names_are_stable_and_distinct() {
        let all = [
            ErrorClass::TokenInvalid,
            ErrorClass::RateLimited,
            ErrorClass::Quota,
            ErrorClass::UserUnreachable,
            ErrorClass::PaidFeature,
            ErrorClass::BadRequest,
            ErrorClass::AssetExpired,
            ErrorClass::NotFound,
            ErrorClass::Transport,
            ErrorClass::OAuth,
            ErrorClass::OAuthUnlisted,
            ErrorClass::Other,
        ];
        let names: std::collections::BTreeSet<_> = all.iter().map(|c| c.as_str()).collect();
        assert_eq!(names.len(), all.len());
        assert_eq!(ErrorClass::TokenInvalid.as_str(), "token_invalid");
    }

    #[test]
    fn redaction_hides_tokens_and_keeps_words() {
        let token = "RfBh5NdqsWzhcX8bDDe_1A463Z34Fhy1GVi63AoTU1InwujqF";
        let r = redact(&format!("Invalid refresh token {token} (used)"));
        assert!(!r.contains(token), "{r}");
        assert_eq!(r, "Invalid refresh token [redacted] (used)");
        assert_eq!(
            redact("app 4462152339089565647 ok"),
            "app 4462152339089565647 ok"
        );
        assert!(redact(&"é".repeat(500)).chars().count() <= 161);
        assert_eq!(redact("a\nb"), "a b");
    }

    #[test]
    fn truncate_respects_char_boundaries() {
        assert_eq!(truncate("abc", 5), "abc");
        assert_eq!(truncate("ééééé", 2), "éé…");
    }
}
